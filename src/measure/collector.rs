//! The merging half of the recording path. Runs on the runner's thread, never on a worker's.

use std::collections::BTreeMap;
use std::sync::mpsc::Sender;

use super::recorder::{MAX_COUNTERS, OpStats, Phase, ScheduleStats, Snapshot, WorkerStats};
use super::{ErrorTally, LatencyHistogram, LatencySummary, Quantile};

/// Totals of one operation kind over the measured window (or over warmup).
#[derive(Debug, Clone, Default)]
pub struct OpTotals {
    pub latency: LatencyHistogram,
    pub service: LatencyHistogram,
    /// Failed operations' latency, for drivers that time their failures.
    pub failed: LatencyHistogram,
    pub count: u64,
    pub bytes: u64,
    pub errors: ErrorTally,
}

impl OpTotals {
    fn absorb(&mut self, stats: &OpStats) {
        self.latency.add(&stats.latency);
        self.service.add(&stats.service);
        // Most operations never fail: an empty histogram is not worth a pass over its counts.
        if stats.failed.count() > 0 {
            self.failed.add(&stats.failed);
        }
        self.count += stats.count;
        self.bytes += stats.bytes;
        self.errors.merge(&stats.errors);
    }
}

/// One interval of one job, once every worker has moved past it.
#[derive(Debug, Clone)]
pub struct IntervalTotals {
    pub index: u64,
    /// Per operation kind, in the job's order.
    pub ops: Vec<IntervalOp>,
    /// Open model: lateness against the schedule in this interval.
    pub schedule: ScheduleStats,
    pub counters: [u64; MAX_COUNTERS],
}

#[derive(Debug, Clone)]
pub struct IntervalOp {
    pub count: u64,
    pub bytes: u64,
    pub errors: ErrorTally,
    pub latency: LatencySummary,
    /// Send to completion; empty for closed-model jobs.
    pub service: LatencySummary,
    /// The interval's latency histogram, encoded as [`LatencyHistogram::encode`] does: kept
    /// encoded because a live histogram is hundreds of KiB and a run has thousands of intervals.
    pub latency_encoded: String,
}

/// Everything measured for one job.
#[derive(Debug, Clone)]
pub struct JobTotals {
    pub op_names: Vec<&'static str>,
    pub measured: Vec<OpTotals>,
    pub warmup: Vec<OpTotals>,
    pub intervals: Vec<IntervalTotals>,
    /// Measured window only, like `measured`.
    pub schedule: ScheduleStats,
    pub counters: [u64; MAX_COUNTERS],
}

/// What the live progress line shows: the latest closed interval of every job.
#[derive(Debug, Clone, Default)]
pub struct LiveView {
    pub ops: u64,
    pub bytes: u64,
    pub errors: u64,
    pub p99_ns: Option<u64>,
}

struct JobState {
    totals: JobTotals,
    /// Intervals still open: some worker may yet report into them.
    open: BTreeMap<u64, OpenInterval>,
    /// Per worker, the interval it is in now, or `None` once it has finished.
    progress: Vec<Option<u64>>,
    spares: Vec<Sender<WorkerStats>>,
    live: LiveView,
}

/// What an interval still open has gathered so far.
struct OpenInterval {
    ops: Vec<OpTotals>,
    schedule: ScheduleStats,
    counters: [u64; MAX_COUNTERS],
}

/// Merges snapshots from every worker of every job into totals and interval series.
pub struct Collector {
    jobs: Vec<JobState>,
}

impl Collector {
    /// `jobs` gives, per job, its operation names and a spare-return channel per worker.
    pub fn new(jobs: Vec<(Vec<&'static str>, Vec<Sender<WorkerStats>>)>) -> Self {
        let jobs = jobs
            .into_iter()
            .map(|(op_names, spares)| {
                let n = op_names.len();
                JobState {
                    totals: JobTotals {
                        op_names,
                        measured: vec![OpTotals::default(); n],
                        warmup: vec![OpTotals::default(); n],
                        intervals: Vec::new(),
                        schedule: ScheduleStats::default(),
                        counters: [0; MAX_COUNTERS],
                    },
                    open: BTreeMap::new(),
                    progress: vec![Some(0); spares.len()],
                    spares,
                    live: LiveView::default(),
                }
            })
            .collect();
        Collector { jobs }
    }

    pub fn absorb(&mut self, snapshot: Snapshot) {
        let job = &mut self.jobs[snapshot.job];
        // An idle worker's snapshot is empty: it only says the worker has moved on.
        match snapshot.phase {
            Phase::Warmup => job.absorb_warmup(&snapshot.stats),
            Phase::Measured if !snapshot.stats.ops.is_empty() => {
                job.absorb_measured(snapshot.interval, &snapshot.stats)
            }
            Phase::Measured => {}
        }
        job.progress[snapshot.worker] = snapshot.now_in;
        if snapshot.now_in.is_some() && !snapshot.stats.ops.is_empty() {
            let _ = job.spares[snapshot.worker].send(snapshot.stats);
        }
        if let Some(closed) = job.close_passed() {
            job.live = closed;
        }
    }

    /// The newest closed interval of every job, added up; p99 is the worst job's.
    pub fn live(&self) -> LiveView {
        self.jobs
            .iter()
            .fold(LiveView::default(), |sum, job| LiveView {
                ops: sum.ops + job.live.ops,
                bytes: sum.bytes + job.live.bytes,
                errors: sum.errors + job.live.errors,
                p99_ns: sum.p99_ns.max(job.live.p99_ns),
            })
    }

    /// Every job's measured totals so far, intervals still open included.
    pub fn totals(&self) -> Vec<&JobTotals> {
        self.jobs.iter().map(|j| &j.totals).collect()
    }

    /// Closes what is still open and returns every job's totals.
    pub fn finish(mut self) -> Vec<JobTotals> {
        for job in &mut self.jobs {
            job.progress.iter_mut().for_each(|p| *p = None);
            job.close_passed();
        }
        self.jobs.into_iter().map(|j| j.totals).collect()
    }
}

impl JobState {
    fn absorb_warmup(&mut self, stats: &WorkerStats) {
        for (total, stats) in self.totals.warmup.iter_mut().zip(&stats.ops) {
            total.absorb(stats);
        }
    }

    fn absorb_measured(&mut self, interval: u64, stats: &WorkerStats) {
        let n = self.totals.op_names.len();
        let open = self.open.entry(interval).or_insert_with(|| OpenInterval {
            ops: vec![OpTotals::default(); n],
            schedule: ScheduleStats::default(),
            counters: [0; MAX_COUNTERS],
        });
        let totals = self.totals.measured.iter_mut();
        for ((open, total), stats) in open.ops.iter_mut().zip(totals).zip(&stats.ops) {
            open.absorb(stats);
            total.absorb(stats);
        }
        for (warmup, stats) in self.totals.warmup.iter_mut().zip(&stats.ops) {
            warmup.count += stats.warmup_tail;
            warmup.bytes += stats.warmup_tail_bytes;
        }
        open.schedule.add(&stats.schedule);
        self.totals.schedule.add(&stats.schedule);
        for (i, n) in stats.counters.iter().enumerate() {
            open.counters[i] += n;
            self.totals.counters[i] += n;
        }
    }

    /// Moves every interval that all workers have left into the series. Returns the live view
    /// of the newest one closed, if any.
    fn close_passed(&mut self) -> Option<LiveView> {
        let horizon = self
            .progress
            .iter()
            .map(|p| p.unwrap_or(u64::MAX))
            .min()
            .unwrap_or(u64::MAX);
        let mut live = None;
        while let Some(entry) = self.open.first_entry() {
            if *entry.key() >= horizon {
                break;
            }
            let (index, open) = entry.remove_entry();
            let ops = open.ops;
            let interval = IntervalTotals {
                index,
                schedule: open.schedule,
                counters: open.counters,
                ops: ops
                    .iter()
                    .map(|op| IntervalOp {
                        count: op.count,
                        bytes: op.bytes,
                        errors: op.errors.clone(),
                        latency: op.latency.summary(),
                        service: op.service.summary(),
                        latency_encoded: op.latency.encode(),
                    })
                    .collect(),
            };
            let mut merged = LatencyHistogram::new();
            ops.iter().for_each(|op| merged.add(&op.latency));
            live = Some(LiveView {
                ops: interval.ops.iter().map(|o| o.count).sum(),
                bytes: interval.ops.iter().map(|o| o.bytes).sum(),
                errors: interval.ops.iter().map(|o| o.errors.total()).sum(),
                p99_ns: merged.percentile(Quantile::P99).ns(),
            });
            self.totals.intervals.push(interval);
        }
        live
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::measure::{Clock, ErrorKind, OpId, Recorder};

    const READ: OpId = OpId(0);
    const WRITE: OpId = OpId(1);

    /// Two workers of one job, recording at chosen instants, merged by a collector.
    fn run_two_workers(events: &[(usize, OpId, f64)]) -> JobTotals {
        let start = Instant::now();
        let secs = Duration::from_secs_f64;
        let clock = Clock::new(start, secs(1.0), secs(3.0), secs(1.0));
        let (sink, snapshots) = mpsc::channel();
        let mut spares = Vec::new();
        let mut recorders: Vec<Recorder> = (0..2)
            .map(|w| {
                let (tx, rx) = mpsc::channel();
                spares.push(tx);
                Recorder::new(0, w, 2, clock, sink.clone(), rx)
            })
            .collect();
        drop(sink);
        let mut collector = Collector::new(vec![(vec!["read", "write"], spares)]);
        for &(worker, op, at) in events {
            let end = start + secs(at);
            recorders[worker].record(op, end - secs(0.001), end, 4096);
            while let Ok(s) = snapshots.try_recv() {
                collector.absorb(s);
            }
        }
        recorders[1].record_error(WRITE, start + secs(3.95), ErrorKind::Errno(libc::ENOSPC));
        recorders.into_iter().for_each(Recorder::finish);
        snapshots.iter().for_each(|s| collector.absorb(s));
        collector.finish().remove(0)
    }

    #[test]
    fn warmup_is_kept_apart_and_intervals_split_by_completion_time() {
        let totals = run_two_workers(&[
            (0, READ, 0.2),
            (1, READ, 0.7),
            // Started 1 ms before measurement, ended just after: warmup's.
            (1, READ, 1.0005),
            (0, READ, 1.1),
            (1, WRITE, 1.5),
            (0, READ, 2.2),
            (1, READ, 3.9),
        ]);
        assert_eq!(totals.warmup[0].count, 3);
        assert_eq!(totals.warmup[0].bytes, 3 * 4096);
        assert_eq!(totals.measured[0].count, 3);
        assert_eq!(totals.measured[1].count, 1);
        assert_eq!(
            totals.measured[0].latency.count(),
            3,
            "warmup kept out of histograms"
        );
        let per_interval: Vec<(u64, u64)> = totals
            .intervals
            .iter()
            .map(|i| (i.index, i.ops[0].count + i.ops[1].count))
            .collect();
        assert_eq!(per_interval, vec![(0, 2), (1, 1), (2, 1)]);
        assert_eq!(totals.measured[1].errors.total(), 1);
        assert_eq!(
            totals.intervals[2].ops[1].errors.total(),
            1,
            "error lands in its interval"
        );
    }

    #[test]
    fn each_interval_carries_its_own_histogram() {
        let totals = run_two_workers(&[(0, READ, 1.1), (1, READ, 1.5), (0, READ, 2.2)]);
        let decoded: Vec<LatencyHistogram> = totals
            .intervals
            .iter()
            .map(|i| LatencyHistogram::decode(&i.ops[0].latency_encoded, 0, 0).unwrap())
            .collect();
        let counts: Vec<u64> = decoded.iter().map(LatencyHistogram::count).collect();
        assert_eq!(
            counts,
            vec![2, 1, 0],
            "the last interval holds only an error"
        );
        let p50 = decoded[0].percentile(Quantile::P50).ns().unwrap();
        assert!(p50.abs_diff(1_000_000) < 2_000, "1 ms latency kept: {p50}");
    }

    #[test]
    fn an_interval_stays_open_until_every_worker_has_left_it() {
        let start = Instant::now();
        let clock = Clock::new(
            start,
            Duration::ZERO,
            Duration::from_secs(5),
            Duration::from_secs(1),
        );
        let (sink, snapshots) = mpsc::channel();
        let (tx0, rx0) = mpsc::channel();
        let (tx1, rx1) = mpsc::channel();
        let mut fast = Recorder::new(0, 0, 1, clock, sink.clone(), rx0);
        let mut slow = Recorder::new(0, 1, 1, clock, sink, rx1);
        let mut collector = Collector::new(vec![(vec!["read"], vec![tx0, tx1])]);
        let at = |s: f64| start + Duration::from_secs_f64(s);
        slow.record(READ, at(0.1), at(0.2), 1);
        fast.record(READ, at(0.1), at(0.3), 1);
        fast.record(READ, at(1.1), at(1.2), 1);
        fast.record(READ, at(2.1), at(2.2), 1);
        snapshots.try_iter().for_each(|s| collector.absorb(s));
        assert_eq!(
            collector.live().ops,
            0,
            "slow worker has not reported interval 0 yet"
        );
        slow.record(READ, at(0.5), at(2.5), 1);
        snapshots.try_iter().for_each(|s| collector.absorb(s));
        assert_eq!(
            collector.live().ops,
            1,
            "interval 1 closed, holding the fast worker's op"
        );
        fast.finish();
        slow.finish();
        snapshots.try_iter().for_each(|s| collector.absorb(s));
        let totals = collector.finish().remove(0);
        let counts: Vec<u64> = totals.intervals.iter().map(|i| i.ops[0].count).collect();
        assert_eq!(counts, vec![2, 1, 2]);
    }
}
