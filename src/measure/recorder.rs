//! The per-worker half of the recording path: lock-free, allocation-free per operation.

use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use super::{ErrorKind, ErrorTally, LatencyHistogram};

/// Index of an operation kind within its job (read, write, fsync for disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpId(pub u8);

/// The run's phase boundaries, shared by every worker of every job.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// When measurement starts; operations ending before it are warmup.
    pub measure_start: Instant,
    /// When workers stop issuing. Operations already in flight still end and are recorded.
    pub measure_end: Instant,
    pub interval: Duration,
}

impl Clock {
    pub fn new(start: Instant, warmup: Duration, duration: Duration, interval: Duration) -> Self {
        let measure_start = start + warmup;
        Clock {
            measure_start,
            measure_end: measure_start + duration,
            interval,
        }
    }

    /// The phase and interval number an instant falls in.
    pub fn locate(&self, at: Instant) -> (Phase, u64) {
        match at.checked_duration_since(self.measure_start) {
            Some(since) => (
                Phase::Measured,
                (since.as_nanos() / self.interval.as_nanos()) as u64,
            ),
            None => (Phase::Warmup, 0),
        }
    }

    /// The first instant after `at` that belongs to another interval (or to measurement).
    fn next_boundary(&self, at: Instant) -> Instant {
        match self.locate(at) {
            (Phase::Warmup, _) => self.measure_start.min(at + self.interval),
            (Phase::Measured, k) => self.measure_start + self.interval * (k as u32 + 1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Warmup,
    Measured,
}

/// What one operation kind did in one interval.
#[derive(Debug, Clone, Default)]
pub struct OpStats {
    /// Intended start to completion.
    pub latency: LatencyHistogram,
    /// Actual send to completion; recorded only for open-model jobs, where it differs.
    pub service: LatencyHistogram,
    pub count: u64,
    pub bytes: u64,
    pub errors: ErrorTally,
}

impl OpStats {
    fn clear(&mut self) {
        self.latency.reset();
        self.service.reset();
        self.count = 0;
        self.bytes = 0;
        self.errors.clear();
    }

    fn is_idle(&self) -> bool {
        self.count == 0 && self.errors.total() == 0
    }
}

/// One worker's figures for one interval, one entry per operation kind.
#[derive(Debug, Clone)]
pub struct WorkerStats {
    pub ops: Vec<OpStats>,
}

impl WorkerStats {
    pub fn new(op_count: usize) -> Self {
        WorkerStats {
            ops: (0..op_count).map(|_| OpStats::default()).collect(),
        }
    }

    pub fn clear(&mut self) {
        self.ops.iter_mut().for_each(OpStats::clear);
    }
}

/// What a recorder hands the collector at an interval boundary.
#[derive(Debug)]
pub struct Snapshot {
    pub job: usize,
    pub worker: usize,
    pub phase: Phase,
    pub interval: u64,
    /// Empty when the worker was idle: it then reports only that it has moved on.
    pub stats: WorkerStats,
    /// The measured interval the worker is in now; it will report nothing earlier. `None` once
    /// the worker has stopped.
    pub now_in: Option<u64>,
}

/// A worker's recorder. Create one per worker thread or task; it is not shared.
pub struct Recorder {
    job: usize,
    worker: usize,
    clock: Clock,
    current: WorkerStats,
    phase: Phase,
    interval: u64,
    next_boundary: Instant,
    sink: Sender<Snapshot>,
    spares: Receiver<WorkerStats>,
}

impl Recorder {
    pub fn new(
        job: usize,
        worker: usize,
        op_count: usize,
        clock: Clock,
        sink: Sender<Snapshot>,
        spares: Receiver<WorkerStats>,
    ) -> Self {
        let now = Instant::now();
        let (phase, interval) = clock.locate(now);
        Recorder {
            job,
            worker,
            clock,
            current: WorkerStats::new(op_count),
            phase,
            interval,
            next_boundary: clock.next_boundary(now),
            sink,
            spares,
        }
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// A completed operation, closed model: it was sent when it was meant to start.
    #[inline]
    pub fn record(&mut self, op: OpId, start: Instant, end: Instant, bytes: u64) {
        let stats = self.stats_at(op, end);
        stats.latency.record(nanos_between(start, end));
        stats.count += 1;
        stats.bytes += bytes;
    }

    /// A completed operation, open model: latency from the scheduled slot, service time from
    /// the actual send.
    #[inline]
    pub fn record_open(
        &mut self,
        op: OpId,
        intended: Instant,
        sent: Instant,
        end: Instant,
        bytes: u64,
    ) {
        let stats = self.stats_at(op, end);
        stats.latency.record(nanos_between(intended, end));
        stats.service.record(nanos_between(sent, end));
        stats.count += 1;
        stats.bytes += bytes;
    }

    /// A failed operation: counted by kind, kept out of the latency histograms.
    #[inline]
    pub fn record_error(&mut self, op: OpId, end: Instant, kind: ErrorKind) {
        self.stats_at(op, end).errors.add(kind, 1);
    }

    /// Lets an idle worker hand over a finished interval without recording anything.
    #[inline]
    pub fn tick(&mut self, now: Instant) {
        if now >= self.next_boundary {
            self.roll(now);
        }
    }

    /// Hands over what is left. Call once, when the worker stops.
    pub fn finish(mut self) {
        let stats = std::mem::replace(&mut self.current, WorkerStats { ops: Vec::new() });
        self.send(stats, None);
    }

    #[inline]
    fn stats_at(&mut self, op: OpId, end: Instant) -> &mut OpStats {
        if end >= self.next_boundary {
            self.roll(end);
        }
        &mut self.current.ops[op.0 as usize]
    }

    #[cold]
    fn roll(&mut self, now: Instant) {
        let finished = if self.current.ops.iter().all(OpStats::is_idle) {
            // An idle worker still says it has moved on, or its silence would hold the
            // interval open for every other worker.
            WorkerStats { ops: Vec::new() }
        } else {
            let fresh = match self.spares.try_recv() {
                Ok(mut spare) => {
                    spare.clear();
                    spare
                }
                Err(_) => WorkerStats::new(self.current.ops.len()),
            };
            std::mem::replace(&mut self.current, fresh)
        };
        let (phase, interval) = self.clock.locate(now);
        self.send(finished, Some(interval));
        (self.phase, self.interval) = (phase, interval);
        self.next_boundary = self.clock.next_boundary(now);
    }

    fn send(&mut self, stats: WorkerStats, now_in: Option<u64>) {
        let snapshot = Snapshot {
            job: self.job,
            worker: self.worker,
            phase: self.phase,
            interval: self.interval,
            stats,
            now_in,
        };
        // The collector outlives every worker; if it is gone the run is being torn down and the
        // figures have nowhere to go.
        let _ = self.sink.send(snapshot);
    }
}

#[inline]
fn nanos_between(start: Instant, end: Instant) -> u64 {
    end.saturating_duration_since(start).as_nanos() as u64
}
