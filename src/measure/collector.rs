//! The merging half of the recording path. Runs on the runner's thread, never on a worker's.

use std::collections::BTreeMap;
use std::sync::mpsc::Sender;

use super::recorder::{OpStats, Phase, Snapshot, WorkerStats};
use super::{ErrorTally, LatencyHistogram, LatencySummary, Quantile};

/// Totals of one operation kind over the measured window (or over warmup).
#[derive(Debug, Clone, Default)]
pub struct OpTotals {
    pub latency: LatencyHistogram,
    pub service: LatencyHistogram,
    pub count: u64,
    pub bytes: u64,
    pub errors: ErrorTally,
}

impl OpTotals {
    fn absorb(&mut self, stats: &OpStats) {
        self.latency.add(&stats.latency);
        self.service.add(&stats.service);
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
}

#[derive(Debug, Clone)]
pub struct IntervalOp {
    pub count: u64,
    pub bytes: u64,
    pub errors: ErrorTally,
    pub latency: LatencySummary,
}

/// Everything measured for one job.
#[derive(Debug, Clone)]
pub struct JobTotals {
    pub op_names: Vec<&'static str>,
    pub measured: Vec<OpTotals>,
    pub warmup: Vec<OpTotals>,
    pub intervals: Vec<IntervalTotals>,
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
    open: BTreeMap<u64, Vec<OpTotals>>,
    /// Per worker, the last interval it reported, or `None` once it has finished.
    progress: Vec<Option<u64>>,
    spares: Vec<Sender<WorkerStats>>,
    live: LiveView,
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
        match snapshot.phase {
            Phase::Warmup => {
                for (total, stats) in job.totals.warmup.iter_mut().zip(&snapshot.stats.ops) {
                    total.absorb(stats);
                }
            }
            Phase::Measured => {
                let n = job.totals.op_names.len();
                let open = job
                    .open
                    .entry(snapshot.interval)
                    .or_insert_with(|| vec![OpTotals::default(); n]);
                for ((open, total), stats) in open
                    .iter_mut()
                    .zip(job.totals.measured.iter_mut())
                    .zip(&snapshot.stats.ops)
                {
                    open.absorb(stats);
                    total.absorb(stats);
                }
            }
        }
        job.progress[snapshot.worker] = if snapshot.last {
            None
        } else {
            Some(snapshot.interval)
        };
        if !snapshot.last {
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
            let (index, ops) = entry.remove_entry();
            let interval = IntervalTotals {
                index,
                ops: ops
                    .iter()
                    .map(|op| IntervalOp {
                        count: op.count,
                        bytes: op.bytes,
                        errors: op.errors.clone(),
                        latency: op.latency.summary(),
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
