//! The results model: the one document every renderer, comparison and merge reads.
//!
//! A results file carries the histograms themselves (HdrHistogram V2, deflate, base64) beside
//! the percentiles derived from them, so a later tool can merge shards exactly or derive other
//! percentiles. Units are in field names. This module builds the document from collector totals
//! and reads it back; it does not render it.

mod capacity;
mod load;
mod merge;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::host::HostFacts;
use crate::measure::{
    ErrorTally, IntervalTotals, JobTotals, LatencyHistogram, LatencySummary, OpTotals,
};
use crate::monitor::ResourceSeries;
use crate::monitor::checks::Check;

pub use capacity::{CapacityResults, CapacityStep, UslFit};
pub use load::{LoadFacts, LoadResults, SUSTAINED_SHARE};
pub use merge::{MergeError, merge};

/// Bumped whenever a field changes meaning or is removed.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Ran its full duration.
    Complete,
    /// Stopped early by a signal; the figures cover the measured part.
    Interrupted,
    /// Stopped by a failure after load started; the figures cover what was measured.
    Failed,
    /// Stopped under abort-early once a threshold was certainly broken (see `aborted`); the
    /// figures cover what was measured until then.
    Aborted,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResults {
    pub schema_version: u32,
    pub plimsoll_version: String,
    pub status: RunStatus,
    /// What went wrong, when `status` is `failed` (or a job's workers failed).
    pub failure: Option<String>,
    pub workload_file: Option<String>,
    /// The workload as loaded, defaults filled in.
    pub workload: serde_json::Value,
    pub host: HostFacts,
    /// Wall-clock start of the run (warmup included), RFC 3339 UTC.
    pub started_at: String,
    /// The warmup as it ran: shorter than the workload's when the run was stopped during it.
    pub warmup_ns: u64,
    pub duration_requested_ns: u64,
    /// The measured window as it actually ran: from the end of warmup until the last worker
    /// stopped (in-flight operations drained), or until an interruption.
    pub measured_ns: u64,
    pub interval_ns: u64,
    pub jobs: Vec<JobResults>,
    /// What the machine did beside the load, aligned with the jobs' intervals by `start_ns`.
    /// Absent when sampling was off, and from older results files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceSeries>,
    /// The run's checks of its own figures. Empty in older results files.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// Each threshold of the workload and the command line, checked where it applies.
    /// Empty when none was set, and in older results files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<crate::gate::ThresholdResult>,
    /// Which shard of a sharded run this is. Absent from unsharded runs, merged results and
    /// older results files; `workload` is then still the whole workload, not the shard's part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardFacts>,
    /// When measurement began by this host's wall clock, and what is known of that clock.
    /// Absent from older results files and merged results (each shard keeps its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockFacts>,
    /// Merged results only: each shard's own facts, resources and checks, by shard index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<MergedShard>,
    /// Under abort-early, the threshold that stopped the run and why it could not pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<crate::gate::Breach>,
    /// A capacity search's steps and answer (`plimsoll capacity`). Absent from other runs.
    /// In merged results, the shards' searches added up step by step, when that is exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Box<CapacityResults>>,
    /// Merged results of capacity searches only: why the shards' searches could not be added
    /// up into `capacity`. Each shard's own search is still in `shards`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_not_combined: Option<String>,
}

/// Which shard of a sharded run a results file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardFacts {
    /// 1-based: shard 2 of 3 is `index` 2.
    pub index: u32,
    pub count: u32,
    /// Where the shard was named: `--shard`, `PLIMSOLL_SHARD`, or `JOB_COMPLETION_INDEX and
    /// PLIMSOLL_SHARDS`.
    pub source: String,
}

/// The wall-clock facts of one run: enough to line its intervals up with other shards', and
/// a plain statement of what cannot be known from one host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClockFacts {
    /// The wall clock (CLOCK_REALTIME) at the start of measurement, the end of warmup, in
    /// nanoseconds since the Unix epoch: read beside the monotonic clock the run times with.
    pub measure_start_unix_ns: u64,
    /// The same instant, RFC 3339 UTC with nanoseconds.
    pub measure_started_at: String,
    /// `--start-at`, as asked (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    /// How long after `start_at` the run's clock started: 0 when setup was done in time and
    /// the run waited; more when setup ran past it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_lag_ns: Option<u64>,
    /// The kernel's view of its own clock; absent where it could not be read.
    pub kernel: Option<crate::host::ClockSync>,
    /// What these facts cannot say.
    pub not_known: String,
}

/// What one shard adds to merged results beside its figures, which are summed into the jobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MergedShard {
    pub index: u32,
    pub source_file: Option<String>,
    pub status: RunStatus,
    pub failure: Option<String>,
    pub host: HostFacts,
    pub started_at: String,
    pub clock: Option<ClockFacts>,
    /// This shard's start of measurement after the earliest shard's, by their wall clocks.
    pub offset_ns: u64,
    /// Intervals this shard's series was moved by to line up with the merged series.
    pub interval_shift: u64,
    pub measured_ns: u64,
    /// What this shard's machine did; resources are not summed across machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceSeries>,
    #[serde(default)]
    pub checks: Vec<Check>,
    /// This shard's capacity search, whole, when it ran one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Box<CapacityResults>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobResults {
    pub name: String,
    pub kind: String,
    /// `closed`: each worker issues its next operation when the previous one completes.
    /// `open`: operations start on a schedule for the whole job (see `load`).
    pub load_model: String,
    /// How the load was offered and, for the open model, whether its target rate was kept.
    /// Absent from older results files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadResults>,
    /// The job's named counts over the measured window (`get_hits`, `reconnects`...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counters: BTreeMap<String, u64>,
    pub workers: usize,
    /// What the driver reports about its target (path, engine, alignment...).
    pub target: serde_json::Value,
    pub operations: Vec<OpResults>,
    /// Counts from warmup, kept apart from the measured figures.
    pub warmup: Vec<WarmupOp>,
    pub intervals: Vec<IntervalResults>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpResults {
    pub op: String,
    pub count: u64,
    pub bytes: u64,
    pub ops_per_s: f64,
    pub bytes_per_s: f64,
    pub latency_ns: LatencySummary,
    pub latency_histogram: EncodedHistogram,
    /// Open model: actual send to completion, beside latency (which starts at the slot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_time_ns: Option<LatencySummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_time_histogram: Option<EncodedHistogram>,
    pub errors: Vec<ErrorCount>,
    pub error_count: u64,
    /// Operations that ended, successful or failed, per second (`ops_per_s` counts only the
    /// successful ones). Absent from older results files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_ops_per_s: Option<f64>,
    /// Intended start to the end of failed operations, for drivers that time failures (HTTP):
    /// kept apart so failures never flatter or spoil the successful latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_latency_ns: Option<LatencySummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_latency_histogram: Option<EncodedHistogram>,
    /// The operations this one is timed inside (a statement's transaction): its count is
    /// part of theirs, not beside it. Empty for an operation of its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub within: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WarmupOp {
    pub op: String,
    pub count: u64,
    pub bytes: u64,
    pub error_count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorCount {
    /// `ENOSPC`, `timeout`, `status 503`...
    pub kind: String,
    pub errno: Option<i32>,
    pub count: u64,
}

/// One histogram as stored: enough to rebuild it exactly.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EncodedHistogram {
    /// Always `hdrhistogram-v2-deflate-base64`.
    pub encoding: String,
    pub data: String,
    pub lowest_trackable_ns: u64,
    pub highest_trackable_ns: u64,
    pub significant_digits: u8,
    /// Samples above `highest_trackable_ns`: not in `data`, counted here.
    pub above_range_count: u64,
    pub above_range_max_ns: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntervalResults {
    /// From the start of measurement.
    pub start_ns: u64,
    pub duration_ns: u64,
    pub ops: Vec<IntervalOpResults>,
    /// Open model: how far behind the schedule sends were in this interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<IntervalSchedule>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counters: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct IntervalSchedule {
    pub sent_ops: u64,
    pub late_ops: u64,
    pub skipped_ops: u64,
    #[serde(default)]
    pub dropped_ops: u64,
    pub lag_mean_ns: Option<u64>,
    pub lag_max_ns: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntervalOpResults {
    pub op: String,
    pub count: u64,
    pub bytes: u64,
    pub error_count: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorCount>,
    pub latency_ns: IntervalLatency,
    /// Open model: send to completion in this interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_time_ns: Option<IntervalLatency>,
    /// This interval's latencies as an HdrHistogram (V2, deflate, base64; the bounds of the
    /// operation's `latency_histogram`), for interval logs and exact windowed percentiles.
    /// Samples above the trackable range are not in it. Absent from older results files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_histogram: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct IntervalLatency {
    pub p50: Option<u64>,
    pub p99: Option<u64>,
    pub p99_9: Option<u64>,
    pub max: Option<u64>,
}

impl EncodedHistogram {
    pub fn encode(hist: &LatencyHistogram) -> Self {
        EncodedHistogram {
            encoding: "hdrhistogram-v2-deflate-base64".to_owned(),
            data: hist.encode(),
            lowest_trackable_ns: crate::measure::LOWEST_NS,
            highest_trackable_ns: crate::measure::HIGHEST_NS,
            significant_digits: crate::measure::SIGFIGS,
            above_range_count: hist.above_range(),
            above_range_max_ns: hist.max().filter(|_| hist.above_range() > 0).unwrap_or(0),
        }
    }

    pub fn decode(&self) -> Result<LatencyHistogram, String> {
        LatencyHistogram::decode(&self.data, self.above_range_count, self.above_range_max_ns)
    }
}

/// What a job's driver adds to its results.
pub struct JobFacts {
    pub name: String,
    pub kind: &'static str,
    pub workers: usize,
    pub target: serde_json::Value,
    pub load: LoadFacts,
    /// Names of the job's counters, by counter index.
    pub counter_names: Vec<&'static str>,
    /// By operation index, the indices of the operations it is timed inside.
    pub timed_within: Vec<Vec<usize>>,
}

impl JobResults {
    pub fn build(
        facts: JobFacts,
        totals: &JobTotals,
        measured: Duration,
        interval: Duration,
    ) -> Self {
        let seconds = measured.as_secs_f64();
        let names = &totals.op_names;
        let within = |op: usize| -> Vec<String> {
            facts.timed_within.get(op).map_or_else(Vec::new, |outer| {
                outer.iter().map(|&o| names[o].to_owned()).collect()
            })
        };
        let operations = names
            .iter()
            .zip(&totals.measured)
            .enumerate()
            .filter(|(_, (_, t))| t.count > 0 || t.errors.total() > 0)
            .map(|(i, (name, t))| OpResults {
                within: within(i),
                ..OpResults::build(name, t, seconds)
            })
            .collect();
        let warmup = names
            .iter()
            .zip(&totals.warmup)
            .filter(|(_, t)| t.count > 0 || t.errors.total() > 0)
            .map(|(name, t)| WarmupOp {
                op: name.to_string(),
                count: t.count,
                bytes: t.bytes,
                error_count: t.errors.total(),
            })
            .collect();
        let intervals = totals
            .intervals
            .iter()
            .map(|i| IntervalResults {
                start_ns: i.index * interval.as_nanos() as u64,
                // The last interval ends with the measured window, not a full interval later,
                // so rates re-derived from it are true.
                duration_ns: (interval.as_nanos() as u64).min(
                    (measured.as_nanos() as u64)
                        .saturating_sub(i.index * interval.as_nanos() as u64),
                ),
                schedule: interval_schedule(i, facts.load.profile.is_some()),
                counters: named(&facts.counter_names, &i.counters),
                ops: names
                    .iter()
                    .zip(&i.ops)
                    .filter(|(_, o)| o.count > 0 || o.errors.total() > 0)
                    .map(|(name, o)| IntervalOpResults {
                        op: name.to_string(),
                        count: o.count,
                        bytes: o.bytes,
                        error_count: o.errors.total(),
                        errors: error_counts(&o.errors),
                        latency_ns: IntervalLatency {
                            p50: o.latency.p50,
                            p99: o.latency.p99,
                            p99_9: o.latency.p99_9,
                            max: o.latency.max,
                        },
                        service_time_ns: (o.service.p50.is_some()).then_some(IntervalLatency {
                            p50: o.service.p50,
                            p99: o.service.p99,
                            p99_9: o.service.p99_9,
                            max: o.service.max,
                        }),
                        latency_histogram: Some(o.latency_encoded.clone()),
                    })
                    .collect(),
            })
            .collect();
        JobResults {
            name: facts.name,
            kind: facts.kind.to_owned(),
            load_model: facts.load.model.to_owned(),
            load: Some(LoadResults::build(
                &facts.load,
                totals,
                &facts.timed_within,
                measured,
            )),
            counters: named(&facts.counter_names, &totals.counters),
            workers: facts.workers,
            target: facts.target,
            operations,
            warmup,
            intervals,
        }
    }

    pub fn total_errors(&self) -> u64 {
        self.operations.iter().map(|o| o.error_count).sum()
    }

    /// The operations the job's load is made of: one timed inside another (a transaction's
    /// statement) is part of that one, not a request of its own.
    pub fn outer_ops(&self) -> impl Iterator<Item = &OpResults> {
        self.operations.iter().filter(|o| o.within.is_empty())
    }

    /// Why this job measured nothing but failures, if so: operations were attempted in the
    /// measured window and not one succeeded. Statements inside a transaction are left out;
    /// their transaction stands for them.
    pub fn nothing_succeeded(&self) -> Option<String> {
        let outer = || self.outer_ops();
        let errors: u64 = outer().map(|o| o.error_count).sum();
        if errors == 0 || outer().any(|o| o.count > 0) {
            return None;
        }
        let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
        for e in outer().flat_map(|o| &o.errors) {
            *kinds.entry(e.kind.as_str()).or_default() += e.count;
        }
        let mut kinds: Vec<(&str, u64)> = kinds.into_iter().collect();
        kinds.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        let shown: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} × {k}")).collect();
        Some(format!(
            "job `{}`: every operation failed ({}); nothing was measured",
            self.name,
            shown.join(", ")
        ))
    }
}

impl OpResults {
    fn build(name: &str, totals: &OpTotals, seconds: f64) -> Self {
        let per_second = |n: u64| {
            if seconds > 0.0 {
                n as f64 / seconds
            } else {
                0.0
            }
        };
        OpResults {
            op: name.to_owned(),
            count: totals.count,
            bytes: totals.bytes,
            ops_per_s: per_second(totals.count),
            bytes_per_s: per_second(totals.bytes),
            latency_ns: totals.latency.summary(),
            latency_histogram: EncodedHistogram::encode(&totals.latency),
            service_time_ns: (totals.service.count() > 0).then(|| totals.service.summary()),
            service_time_histogram: (totals.service.count() > 0)
                .then(|| EncodedHistogram::encode(&totals.service)),
            errors: error_counts(&totals.errors),
            error_count: totals.errors.total(),
            completed_ops_per_s: Some(per_second(totals.count + totals.errors.total())),
            failed_latency_ns: (totals.failed.count() > 0).then(|| totals.failed.summary()),
            failed_latency_histogram: (totals.failed.count() > 0)
                .then(|| EncodedHistogram::encode(&totals.failed)),
            within: Vec::new(),
        }
    }
}

/// The results files of a run folder, or of the `run-N` folders of a repeated run, by N.
fn run_files(dir: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    use anyhow::Context as _;
    let single = dir.join("results.json");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut runs: Vec<(u32, std::path::PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n: u32 = name.strip_prefix("run-")?.parse().ok()?;
            let file = e.path().join("results.json");
            file.is_file().then_some((n, file))
        })
        .collect();
    runs.sort();
    anyhow::ensure!(
        !runs.is_empty(),
        "{} holds no results.json and no run-N/results.json; give a results file or a folder \
         that `plimsoll run` wrote",
        dir.display()
    );
    Ok(runs.into_iter().map(|(_, file)| file).collect())
}

/// Counter values under their names; counters the job did not name are left out.
fn named(names: &[&'static str], values: &[u64]) -> BTreeMap<String, u64> {
    names
        .iter()
        .zip(values)
        .map(|(name, &n)| (name.to_string(), n))
        .collect()
}

fn interval_schedule(interval: &IntervalTotals, open: bool) -> Option<IntervalSchedule> {
    let s = &interval.schedule;
    open.then(|| IntervalSchedule {
        sent_ops: s.sent,
        late_ops: s.late,
        skipped_ops: s.skipped,
        dropped_ops: s.dropped,
        lag_mean_ns: (s.sent > 0).then(|| s.lag_sum_ns / s.sent),
        lag_max_ns: (s.sent > 0).then_some(s.lag_max_ns),
    })
}

fn error_counts(tally: &ErrorTally) -> Vec<ErrorCount> {
    let mut counts: Vec<ErrorCount> = tally
        .iter()
        .map(|(kind, count)| ErrorCount {
            kind: kind.to_string(),
            errno: kind.errno(),
            count,
        })
        .collect();
    counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.kind.cmp(&b.kind)));
    counts
}

impl RunResults {
    /// Writes the document atomically: a reader never sees half a file, and a failed write
    /// leaves any earlier file in place. Secrets the workload holds (passwords, header
    /// tokens) are masked first: results files get attached to CI runs and tickets.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let partial = path.with_extension("json.partial");
        let shown = crate::redact::results(self);
        let mut text = serde_json::to_string_pretty(&shown).map_err(std::io::Error::other)?;
        text.push('\n');
        std::fs::write(&partial, text)?;
        std::fs::rename(&partial, path)
    }

    /// The runs at `path`: a results file, a run folder holding `results.json`, or a folder
    /// of repeated runs (`run-1/results.json` ... as `plimsoll run --repeat` writes them), in
    /// run order.
    pub fn read_runs(path: &Path) -> anyhow::Result<Vec<(std::path::PathBuf, Self)>> {
        let files = if path.is_dir() {
            run_files(path)?
        } else {
            vec![path.to_owned()]
        };
        files
            .into_iter()
            .map(|file| Ok((file.clone(), Self::read(&file)?)))
            .collect()
    }

    pub fn read(path: &Path) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read results file {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a plimsoll results file", path.display()))
    }
}
