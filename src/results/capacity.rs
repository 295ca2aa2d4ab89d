//! The `capacity` section of a results file: every step of a capacity search with its own job
//! results, the answer it reached, why it stopped, and the scalability fit of closed-model
//! steps.
//!
//! A capacity run's top-level `jobs` are the results of its best step (or of its first
//! measured one when none passed), so `report` and `compare` read the file as any run; the
//! steps here are the whole story. This module owns the schema; the search that fills it is
//! `crate::capacity`.

use serde::{Deserialize, Serialize};

use super::JobResults;
use crate::gate::ThresholdResult;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapacityResults {
    /// The job whose load was varied.
    pub job: String,
    /// What was varied: `rate` (open model, operations per second for the whole job),
    /// `queue_depth`, `connections` or `workers` (closed model).
    pub knob: String,
    /// `open` or `closed`.
    pub load_model: String,
    /// Every objective a step had to meet, as written.
    pub objectives: Vec<String>,
    /// The bracket's width, as a fraction of its lower end, at which the search stops.
    pub tolerance: f64,
    /// Each growth step's load is the previous one's times this.
    pub factor: f64,
    pub step_duration_ns: u64,
    /// Run before each step's measurement and excluded from it.
    pub step_warmup_ns: u64,
    /// In the order run; the first is the unjudged warm step.
    pub steps: Vec<CapacityStep>,
    /// Index into `steps` of the highest load that met every objective and still raised
    /// throughput. Absent when no load did.
    pub best_step: Option<usize>,
    /// Index into `steps` of the lowest load above `best_step` that did not.
    pub first_failing_step: Option<usize>,
    /// `converged`, `knob_limit`, `nothing_passed`, `generator_limit`, `max_steps`,
    /// `max_time`, `interrupted` or `run_failed`.
    pub stop_reason: String,
    /// Why the search stopped, as a sentence.
    pub stop_text: String,
    /// The load the user runs at today, in operations per second (`--current`).
    pub current_ops_per_s: Option<f64>,
    /// The best step's throughput over `current_ops_per_s`.
    pub headroom: Option<f64>,
    /// The Universal Scalability Law fitted to the closed-model steps; absent for the open
    /// model.
    pub usl: Option<UslFit>,
    /// Wall time of the whole search, setup of every step included.
    pub elapsed_ns: u64,
    /// Merged results only: how many shards' searches this one adds up, step by step (each
    /// shard's own is in the merged file's `shards`). Absent from one search's results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_shards: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapacityStep {
    /// `warm`, `grow`, `down` (below a failing start), `bisect`, or `retry` (the load before
    /// it again, which did not pass; the better of the two counts).
    pub phase: String,
    /// The knob's value (see [`CapacityResults::knob`]).
    pub load: f64,
    /// Open model: the target rate offered, operations per second.
    pub offered_ops_per_s: Option<f64>,
    /// Operations in flight at most for the job: the concurrency of a closed-model step.
    pub in_flight_limit: u64,
    /// Completed operations per second, every operation kind together, over the step's
    /// requested window: each operation that started in it counts wherever it ended, so the
    /// drain after the window does not dilute the rate (the job's own `ops_per_s` divides by
    /// the drain too).
    pub throughput_ops_per_s: f64,
    /// Latency over every operation kind together.
    pub p50_ns: Option<u64>,
    pub p99_ns: Option<u64>,
    pub p99_9_ns: Option<u64>,
    pub errors: u64,
    /// Whether every objective held (the warm step is not judged: false).
    pub passed: bool,
    /// `warm`, `pass`, `fail` (an objective broke), `no_gain` (throughput rose by less than
    /// half as much, proportionally, as the load), `generator_limit` (the open-model rate was
    /// not sustained and the generator, not the target, was the limit) or `run_failed`.
    pub verdict: String,
    /// Why the step was judged as it was, when it was not a plain pass.
    pub note: Option<String>,
    /// Each objective checked on this step.
    pub thresholds: Vec<ThresholdResult>,
    pub measured_ns: u64,
    /// The wall clock at the start of the step's measurement, in nanoseconds since the Unix
    /// epoch, by which a merge lines the steps of shards up. Absent from older results files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure_start_unix_ns: Option<u64>,
    /// Merged results only: how far apart, by their wall clocks, the first and the last
    /// shard began measuring this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_spread_ns: Option<u64>,
    /// The step's own results for the job, histograms and intervals included.
    pub job: JobResults,
}

/// X(N) = λN / (1 + σ(N − 1) + κN(N − 1)), fitted by least squares to the closed-model steps'
/// concurrency N and throughput X.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UslFit {
    /// Distinct concurrencies the fit used.
    pub points: usize,
    /// Throughput of one unit of concurrency without contention, operations per second.
    pub lambda: f64,
    /// Contention (serialization), 0 to 1.
    pub sigma: f64,
    /// Coherency (crosstalk), 0 or more.
    pub kappa: f64,
    /// 1 − residual / total sum of squares of throughput.
    pub r_squared: f64,
    /// The largest |measured − fitted| / measured over the points.
    pub max_relative_residual: f64,
    /// Where the fitted curve peaks: √((1 − σ) / κ). Absent when κ is 0 (no peak).
    pub peak_concurrency: Option<f64>,
    pub peak_ops_per_s: Option<f64>,
    /// Whether the curve fits the points well enough to project from.
    pub good: bool,
    /// The fit in a sentence, saying plainly when it is poor.
    pub statement: String,
}
