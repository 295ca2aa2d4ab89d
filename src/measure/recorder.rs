//! The per-worker half of the recording path: lock-free, allocation-free per operation.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
    /// Intended start to the end of operations that failed, for drivers that time their
    /// failures; never mixed into `latency`.
    pub failed: LatencyHistogram,
    pub count: u64,
    pub bytes: u64,
    pub errors: ErrorTally,
    /// Operations that started in warmup and ended after it: warmup's, whenever they end, so
    /// the measured figures (and a measured operation count) start clean.
    pub warmup_tail: u64,
    pub warmup_tail_bytes: u64,
}

impl OpStats {
    fn clear(&mut self) {
        self.latency.reset();
        self.service.reset();
        self.failed.reset();
        self.count = 0;
        self.bytes = 0;
        self.errors.clear();
        self.warmup_tail = 0;
        self.warmup_tail_bytes = 0;
    }

    fn is_idle(&self) -> bool {
        self.count == 0 && self.errors.total() == 0 && self.warmup_tail == 0
    }
}

/// How many named counters a job may keep (GET hits, reconnects...); a fixed array, so
/// counting allocates nothing.
pub const MAX_COUNTERS: usize = 8;

/// Index of one of a job's named counters; the job says what each index means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CounterId(pub u8);

/// How far behind its schedule an open-model worker sent operations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScheduleStats {
    /// Operations sent at their slot or later (late or not): the base for the mean lag.
    pub sent: u64,
    /// Operations sent more than [`LATE_AFTER`] after their slot.
    pub late: u64,
    /// Slots passed over without sending, under a skip-if-late policy.
    pub skipped: u64,
    /// Slots that came due while every in-flight slot was busy, under a drop policy.
    pub dropped: u64,
    /// Sum and largest of (actual send - scheduled slot), in nanoseconds.
    pub lag_sum_ns: u64,
    pub lag_max_ns: u64,
}

/// A send this far after its slot counts as late. tokio's timers fire on a 1 ms wheel and
/// round a deadline up to the next tick, so a punctual wake-up can already be a millisecond
/// behind; the second millisecond leaves room for the wake-up itself.
pub const LATE_AFTER: Duration = Duration::from_millis(2);

impl ScheduleStats {
    pub fn add(&mut self, other: &ScheduleStats) {
        self.sent += other.sent;
        self.late += other.late;
        self.skipped += other.skipped;
        self.dropped += other.dropped;
        self.lag_sum_ns += other.lag_sum_ns;
        self.lag_max_ns = self.lag_max_ns.max(other.lag_max_ns);
    }

    fn is_idle(&self) -> bool {
        self.sent == 0 && self.skipped == 0 && self.dropped == 0
    }
}

/// One worker's figures for one interval, one entry per operation kind.
#[derive(Debug, Clone)]
pub struct WorkerStats {
    pub ops: Vec<OpStats>,
    /// Open model only: lateness against the schedule.
    pub schedule: ScheduleStats,
    /// The job's named counters, by [`CounterId`].
    pub counters: [u64; MAX_COUNTERS],
}

impl WorkerStats {
    pub fn new(op_count: usize) -> Self {
        WorkerStats {
            ops: (0..op_count).map(|_| OpStats::default()).collect(),
            schedule: ScheduleStats::default(),
            counters: [0; MAX_COUNTERS],
        }
    }

    /// What an idle worker hands over: nothing, only that it has moved on.
    fn empty() -> Self {
        WorkerStats {
            ops: Vec::new(),
            schedule: ScheduleStats::default(),
            counters: [0; MAX_COUNTERS],
        }
    }

    pub fn clear(&mut self) {
        self.ops.iter_mut().for_each(OpStats::clear);
        self.schedule = ScheduleStats::default();
        self.counters = [0; MAX_COUNTERS];
    }

    fn is_idle(&self) -> bool {
        self.ops.iter().all(OpStats::is_idle)
            && self.schedule.is_idle()
            && self.counters.iter().all(|&n| n == 0)
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

/// What a run's recorders share: how many workers still have requests out, and when the
/// latest to stop did. That moment, not when the workers' threads end, closes the measured
/// window: a thread notices its last request's end on its supervisor's next tick, and may
/// then wait for other threads before it ends.
#[derive(Debug, Default)]
pub struct Issuing {
    workers: AtomicUsize,
    /// From the start of measurement to the latest stop so far, in nanoseconds, plus one.
    last_stop_ns: AtomicU64,
}

impl Issuing {
    /// Whether every worker has stopped issuing (or ended).
    pub fn quiet(&self) -> bool {
        self.workers.load(Ordering::Acquire) == 0
    }

    /// From the start of measurement to the moment the last worker stopped issuing; `None`
    /// while one still issues, or if none ever did.
    pub fn measured(&self) -> Option<Duration> {
        let registered = self.last_stop_ns.load(Ordering::Acquire);
        (self.quiet() && registered > 0).then(|| Duration::from_nanos(registered - 1))
    }
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
    /// The run's workers that still have requests out, this one included while `issuing`.
    run: Arc<Issuing>,
    issuing: bool,
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
            run: Arc::new(Issuing {
                workers: AtomicUsize::new(1),
                last_stop_ns: AtomicU64::new(0),
            }),
            issuing: true,
        }
    }

    /// This recorder, counted among `run`'s workers instead of alone.
    pub fn among(mut self, run: Arc<Issuing>) -> Self {
        run.workers.fetch_add(1, Ordering::Relaxed);
        self.run = run;
        self
    }

    /// The worker has no more requests out, as of `at`. Once every worker of the run has
    /// said so, nothing a worker tears down can slow another's last request.
    pub fn stop_issuing_at(&mut self, at: Instant) {
        if std::mem::replace(&mut self.issuing, false) {
            // One more than the time, so that 0 still means no stop.
            let at = nanos_between(self.clock.measure_start, at) + 1;
            self.run.last_stop_ns.fetch_max(at, Ordering::AcqRel);
            self.run.workers.fetch_sub(1, Ordering::Release);
        }
    }

    /// Whether every worker of the run has stopped issuing (or ended).
    pub fn run_quiet(&self) -> bool {
        self.run.quiet()
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// A completed operation, closed model: it was sent when it was meant to start.
    #[inline]
    pub fn record(&mut self, op: OpId, start: Instant, end: Instant, bytes: u64) {
        if start < self.clock.measure_start && end >= self.clock.measure_start {
            return self.record_warmup_tail(op, end, bytes);
        }
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
        if intended < self.clock.measure_start && end >= self.clock.measure_start {
            return self.record_warmup_tail(op, end, bytes);
        }
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

    /// A failed operation whose time is known: counted by kind like [`Self::record_error`],
    /// and its latency (from `start`, the intended start) kept in the failed histogram.
    #[inline]
    pub fn record_failed(&mut self, op: OpId, start: Instant, end: Instant, kind: ErrorKind) {
        let stats = self.stats_at(op, end);
        stats.errors.add(kind, 1);
        stats.failed.record(nanos_between(start, end));
    }

    /// An open-model send: how far after its scheduled slot it went out.
    #[inline]
    pub fn record_lag(&mut self, intended: Instant, sent: Instant) {
        let lag = nanos_between(intended, sent);
        let schedule = &mut self.current_at(sent).schedule;
        schedule.sent += 1;
        schedule.late += u64::from(lag > LATE_AFTER.as_nanos() as u64);
        schedule.lag_sum_ns += lag;
        schedule.lag_max_ns = schedule.lag_max_ns.max(lag);
    }

    /// A slot passed over without sending, under a skip-if-late policy.
    #[inline]
    pub fn record_skip(&mut self, now: Instant) {
        self.current_at(now).schedule.skipped += 1;
    }

    /// A slot that found every in-flight slot busy and was dropped, not sent.
    #[inline]
    pub fn record_drop(&mut self, now: Instant) {
        self.current_at(now).schedule.dropped += 1;
    }

    /// Adds `n` to one of the job's named counters.
    #[inline]
    pub fn count(&mut self, counter: CounterId, n: u64, now: Instant) {
        self.current_at(now).counters[counter.0 as usize] += n;
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
        self.stop_issuing_at(Instant::now());
        let stats = std::mem::replace(&mut self.current, WorkerStats::empty());
        self.send(stats, None);
    }

    #[inline]
    #[cold]
    fn record_warmup_tail(&mut self, op: OpId, end: Instant, bytes: u64) {
        let stats = self.stats_at(op, end);
        stats.warmup_tail += 1;
        stats.warmup_tail_bytes += bytes;
    }

    fn stats_at(&mut self, op: OpId, end: Instant) -> &mut OpStats {
        &mut self.current_at(end).ops[op.0 as usize]
    }

    #[inline]
    fn current_at(&mut self, at: Instant) -> &mut WorkerStats {
        if at >= self.next_boundary {
            self.roll(at);
        }
        &mut self.current
    }

    #[cold]
    fn roll(&mut self, now: Instant) {
        let finished = if self.current.is_idle() {
            // An idle worker still says it has moved on, or its silence would hold the
            // interval open for every other worker.
            WorkerStats::empty()
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

impl Drop for Recorder {
    /// A worker that fails leaves the count too, so that no other waits on it.
    fn drop(&mut self) {
        self.stop_issuing_at(Instant::now());
    }
}

#[inline]
fn nanos_between(start: Instant, end: Instant) -> u64 {
    end.saturating_duration_since(start).as_nanos() as u64
}
