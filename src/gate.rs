//! Thresholds: the short expressions a run is judged by (`p99 < 5ms`, `error_rate < 0.1%`),
//! parsed from text and evaluated against finished results into a pass or a fail each.
//!
//! This module owns the syntax, the units each metric takes and the rule that a metric with
//! no samples fails. It does not know where a threshold was written (the workload loader
//! locates its errors, `main` reports command-line ones), and it does not choose exit codes.

mod abort;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::measure::LatencySummary;
use crate::report::format;
use crate::results::{JobResults, OpResults, RunResults};
use crate::workload::units::{ByteSize, HumanDuration, Rate, Share};
use crate::workload::{Job, Workload};

pub use abort::{Breach, LiveJob, first_breach};

/// The metric names a threshold takes, for messages and suggestions.
pub const METRICS: &[&str] = &[
    "min",
    "mean",
    "p50",
    "p90",
    "p99",
    "p99.9",
    "p99.99",
    "p99.999",
    "max",
    "error_rate",
    "errors",
    "iops",
    "throughput",
    "bandwidth",
    "skipped",
    "dropped",
];

/// Why a threshold's text was refused; each names the part at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    #[error("`{0}` has no comparison; write it like `p99 < 5ms` (operators: < <= > >= ==)")]
    NoOperator(String),
    #[error("`{written}` is not an operator; write `{meant}`")]
    BadOperator {
        written: String,
        meant: &'static str,
    },
    #[error(
        "`{written}` in `{threshold}` is not an operator; a threshold reads like `p99 < 5ms` \
         (operators: < <= > >= ==)"
    )]
    UnknownOperator { written: String, threshold: String },
    #[error("unknown metric `{written}`; did you mean `{meant}`?")]
    UnknownMetricNear {
        written: String,
        meant: &'static str,
    },
    #[error("unknown metric `{written}`; use one of {}", METRICS.join(", "))]
    UnknownMetric { written: String },
    #[error("missing value after `{0}`; write it like `p99 < 5ms`")]
    NoValue(String),
    #[error("missing unit in `{value}` for a latency: write `{value}ms`")]
    NoLatencyUnit { value: String },
    #[error("bad value for `{metric}`: {reason}")]
    BadValue { metric: String, reason: String },
    #[error("empty scope before `:`; write `job.op: {0}`, `job: {0}`, or leave out the `:`")]
    EmptyScope(String),
    #[error("`{metric}` is counted per job, not per operation; drop `.{op}` from the scope")]
    JobOnlyMetric { metric: String, op: String },
}

/// How a measured value is compared with the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Equal,
}

/// What a threshold measures. Latencies are in nanoseconds, rates per second, error rate a
/// fraction, the rest counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Latency(LatencyStat),
    ErrorRate,
    Errors,
    Throughput,
    Bandwidth,
    /// Open model: slots passed over under `skip_late`.
    Skipped,
    /// Open model: slots never sent: skipped, dropped or left unsent at the end.
    Dropped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyStat {
    Min,
    Mean,
    P50,
    P90,
    P99,
    P99_9,
    P99_99,
    P99_999,
    Max,
}

/// One threshold as written, with an optional scope before a `:` (`randread.read: p99 < 5ms`).
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The text as written, for results and messages.
    pub text: String,
    /// What came before `:`, trimmed; resolved against jobs by [`Scope::resolve`].
    pub scope: Option<String>,
    pub metric: Metric,
    pub compare: Compare,
    /// In the metric's base unit (see [`Metric`]).
    pub bound: f64,
}

/// Where a threshold applies: a job, an operation of it, or every operation of every job.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope {
    pub job: Option<String>,
    pub op: Option<String>,
}

/// A threshold with its scope resolved, ready to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub threshold: Threshold,
    pub scope: Scope,
}

/// One threshold checked at one place, as the results carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub expression: String,
    /// `job.op`, `job`, or `run` when no job had operations to check.
    pub scope: String,
    /// In `unit`; absent when there was nothing to measure (which fails).
    pub measured: Option<f64>,
    /// `ns`, `fraction`, `ops_per_s`, `bytes_per_s` or `count`.
    pub unit: String,
    /// The measured value as people read it, or why there is none.
    pub measured_text: String,
    pub passed: bool,
}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (scope, body) = match text.split_once(':') {
            Some((scope, body)) if scope.trim().is_empty() => {
                return Err(ThresholdError::EmptyScope(body.trim().to_owned()));
            }
            Some((scope, body)) => (Some(scope.trim().to_owned()), body.trim()),
            None => (None, text.trim()),
        };
        let (metric_text, compare, value) = split_comparison(body)?;
        let metric = parse_metric(metric_text)?;
        let bound = parse_bound(metric, metric_text, value)?;
        Ok(Threshold {
            text: text.trim().to_owned(),
            scope,
            metric,
            compare,
            bound,
        })
    }
}

/// Splits `p99 < 5ms` at its operator.
fn split_comparison(body: &str) -> Result<(&str, Compare, &str), ThresholdError> {
    let start = body
        .find(['<', '>', '=', '!'])
        .ok_or_else(|| ThresholdError::NoOperator(body.to_owned()))?;
    let rest = &body[start..];
    let end = rest
        .find(|c| !matches!(c, '<' | '>' | '=' | '!'))
        .unwrap_or(rest.len());
    let compare = parse_operator(&rest[..end], body)?;
    let value = rest[end..].trim();
    if value.is_empty() {
        return Err(ThresholdError::NoValue(body.trim().to_owned()));
    }
    Ok((body[..start].trim(), compare, value))
}

/// `body` is the whole threshold, to show an unknown operator in place.
fn parse_operator(written: &str, body: &str) -> Result<Compare, ThresholdError> {
    let bad = |meant| ThresholdError::BadOperator {
        written: written.to_owned(),
        meant,
    };
    match written {
        "<" => Ok(Compare::Less),
        "<=" => Ok(Compare::LessOrEqual),
        ">" => Ok(Compare::Greater),
        ">=" => Ok(Compare::GreaterOrEqual),
        "==" => Ok(Compare::Equal),
        "=" => Err(bad("==")),
        "=<" => Err(bad("<=")),
        "=>" => Err(bad(">=")),
        _ => Err(ThresholdError::UnknownOperator {
            written: written.to_owned(),
            threshold: body.trim().to_owned(),
        }),
    }
}

fn parse_metric(written: &str) -> Result<Metric, ThresholdError> {
    use LatencyStat::*;
    let metric = match written {
        "min" => Metric::Latency(Min),
        "mean" => Metric::Latency(Mean),
        "p50" | "median" => Metric::Latency(P50),
        "p90" => Metric::Latency(P90),
        "p99" => Metric::Latency(P99),
        "p99.9" => Metric::Latency(P99_9),
        "p99.99" => Metric::Latency(P99_99),
        "p99.999" => Metric::Latency(P99_999),
        "max" => Metric::Latency(Max),
        "error_rate" => Metric::ErrorRate,
        "errors" => Metric::Errors,
        "iops" | "throughput" => Metric::Throughput,
        "bandwidth" => Metric::Bandwidth,
        "skipped" => Metric::Skipped,
        "dropped" => Metric::Dropped,
        _ => return Err(unknown_metric(written)),
    };
    Ok(metric)
}

fn unknown_metric(written: &str) -> ThresholdError {
    // `p999` is `p99.9` without its dot: the edit distance misses what a reader sees.
    let undotted = METRICS.iter().find(|m| m.replace('.', "") == written);
    let meant = undotted
        .copied()
        .or_else(|| crate::workload::suggest_name(written, METRICS));
    match meant {
        Some(meant) => ThresholdError::UnknownMetricNear {
            written: written.to_owned(),
            meant,
        },
        None => ThresholdError::UnknownMetric {
            written: written.to_owned(),
        },
    }
}

fn parse_bound(metric: Metric, name: &str, value: &str) -> Result<f64, ThresholdError> {
    let bad = |reason: String| ThresholdError::BadValue {
        metric: name.to_owned(),
        reason,
    };
    match metric {
        Metric::Latency(_) => parse_latency(value).map_err(|e| match e {
            None => ThresholdError::NoLatencyUnit {
                value: value.to_owned(),
            },
            Some(reason) => bad(reason),
        }),
        Metric::ErrorRate => Share::parse(value).map(|s| s.0).map_err(bad),
        Metric::Throughput => parse_rate(value).map_err(bad),
        Metric::Bandwidth => parse_bandwidth(value).map_err(bad),
        Metric::Errors | Metric::Skipped | Metric::Dropped => parse_count(value).map_err(bad),
    }
}

/// Nanoseconds; `Err(None)` for a bare number, whose unit is missing.
fn parse_latency(value: &str) -> Result<f64, Option<String>> {
    if value.parse::<f64>().is_ok() {
        return Err(None);
    }
    let duration = HumanDuration::parse(value).map_err(Some)?;
    Ok(duration.0.as_nanos() as f64)
}

/// Operations per second; `0` is allowed, which a configured rate never is.
fn parse_rate(value: &str) -> Result<f64, String> {
    if value.trim_end_matches("/s").trim().parse::<f64>() == Ok(0.0) {
        return Ok(0.0);
    }
    Rate::parse(value).map(|r| r.0)
}

/// Bytes per second, binary units; `/s` is optional but a unit is not.
fn parse_bandwidth(value: &str) -> Result<f64, String> {
    let size = value.strip_suffix("/s").unwrap_or(value);
    ByteSize::parse(size).map(|b| b.0 as f64)
}

fn parse_count(value: &str) -> Result<f64, String> {
    let n: u64 = value
        .replace('_', "")
        .parse()
        .map_err(|_| format!("`{value}` is not a whole number of 0 or more"))?;
    Ok(n as f64)
}

impl Metric {
    /// Counted once per job, from its schedule, rather than per operation.
    pub fn per_job(self) -> bool {
        matches!(self, Metric::Skipped | Metric::Dropped)
    }

    fn unit(self) -> &'static str {
        match self {
            Metric::Latency(_) => "ns",
            Metric::ErrorRate => "fraction",
            Metric::Throughput => "ops_per_s",
            Metric::Bandwidth => "bytes_per_s",
            Metric::Errors | Metric::Skipped | Metric::Dropped => "count",
        }
    }

    fn show(self, value: f64) -> String {
        match self {
            Metric::Latency(_) => format::latency(Some(value.round() as u64)),
            Metric::ErrorRate => format!("{:.3}%", value * 100.0),
            Metric::Throughput => format!("{}/s", format::count(value)),
            Metric::Bandwidth => format!("{}/s", format::bytes(value)),
            Metric::Errors | Metric::Skipped | Metric::Dropped => format!("{value:.0}"),
        }
    }
}

impl LatencyStat {
    /// As a threshold writes it: `p99.9`, `mean`.
    pub fn name(self) -> &'static str {
        use LatencyStat::*;
        match self {
            Min => "min",
            Mean => "mean",
            P50 => "p50",
            P90 => "p90",
            P99 => "p99",
            P99_9 => "p99.9",
            P99_99 => "p99.99",
            P99_999 => "p99.999",
            Max => "max",
        }
    }

    /// This statistic of a summary, in nanoseconds; `None` without samples in range.
    pub fn read(self, s: &LatencySummary) -> Option<f64> {
        use LatencyStat::*;
        match self {
            Min => s.min.map(|v| v as f64),
            Mean => s.mean,
            P50 => s.p50.map(|v| v as f64),
            P90 => s.p90.map(|v| v as f64),
            P99 => s.p99.map(|v| v as f64),
            P99_9 => s.p99_9.map(|v| v as f64),
            P99_99 => s.p99_99.map(|v| v as f64),
            P99_999 => s.p99_999.map(|v| v as f64),
            Max => s.max.map(|v| v as f64),
        }
    }
}

impl Compare {
    fn holds(self, measured: f64, bound: f64) -> bool {
        match self {
            Compare::Less => measured < bound,
            Compare::LessOrEqual => measured <= bound,
            Compare::Greater => measured > bound,
            Compare::GreaterOrEqual => measured >= bound,
            Compare::Equal => measured == bound,
        }
    }
}

impl Scope {
    /// A scope written at the top level or on the command line: a job's name, or `job.op`.
    /// A name that is a job's own wins, so job names with dots still work.
    pub fn resolve(written: Option<&str>, jobs: &[&str]) -> Result<Scope, String> {
        let Some(written) = written else {
            return Ok(Scope::default());
        };
        // An HTTP journey's operations have dots of their own (`place.create`), so the job is
        // the longest job name the scope starts with, not what comes before the last dot.
        let prefix = jobs
            .iter()
            .filter(|job| {
                let rest = written.strip_prefix(**job);
                rest.is_some_and(|rest| rest.len() > 1 && rest.starts_with('.'))
            })
            .max_by_key(|job| job.len());
        let (job, op) = match (prefix, written.rsplit_once('.')) {
            _ if jobs.contains(&written) => (written, None),
            (Some(job), _) => (*job, Some(written[job.len() + 1..].to_owned())),
            (None, Some((job, op))) => (job, Some(op.to_owned())),
            (None, None) => (written, None),
        };
        if jobs.contains(&job) {
            return Ok(Scope {
                job: Some(job.to_owned()),
                op,
            });
        }
        let hint = crate::workload::suggest_name(job, jobs)
            .map_or(String::new(), |m| format!("; did you mean `{m}`?"));
        Err(format!(
            "no job named `{job}` in the workload (jobs: {}){hint}",
            jobs.join(", ")
        ))
    }
}

impl Gate {
    /// A threshold with its scope resolved; refuses a per-job metric given an operation.
    pub fn new(threshold: Threshold, scope: Scope) -> Result<Gate, ThresholdError> {
        if let (true, Some(op)) = (threshold.metric.per_job(), &scope.op) {
            return Err(ThresholdError::JobOnlyMetric {
                metric: metric_name(&threshold),
                op: op.clone(),
            });
        }
        Ok(Gate { threshold, scope })
    }

    /// This threshold checked at each place it applies: every operation of each job in scope,
    /// or each job for per-job metrics. A place with nothing to measure fails.
    pub fn evaluate(&self, results: &RunResults) -> Vec<ThresholdResult> {
        self.evaluate_jobs(&results.jobs)
    }

    /// As [`evaluate`](Self::evaluate), on jobs' results held outside a run's top level,
    /// such as a capacity step's.
    pub fn evaluate_jobs(&self, jobs: &[JobResults]) -> Vec<ThresholdResult> {
        let jobs: Vec<&JobResults> = jobs
            .iter()
            .filter(|j| self.scope.job.as_ref().is_none_or(|name| *name == j.name))
            .collect();
        let mut checked: Vec<ThresholdResult> = jobs.iter().flat_map(|j| self.on_job(j)).collect();
        if checked.is_empty() {
            let place = self.scope.job.clone().unwrap_or_else(|| "run".to_owned());
            checked.push(self.verdict(place, Err("no samples".to_owned())));
        }
        checked
    }

    fn on_job(&self, job: &JobResults) -> Vec<ThresholdResult> {
        if self.threshold.metric.per_job() {
            return vec![self.verdict(job.name.clone(), job_value(self.threshold.metric, job))];
        }
        let ops = job
            .operations
            .iter()
            .filter(|o| self.scope.op.as_ref().is_none_or(|name| *name == o.op));
        let mut checked: Vec<ThresholdResult> = ops
            .map(|o| {
                let place = format!("{}.{}", job.name, o.op);
                self.verdict(place, op_value(self.threshold.metric, o))
            })
            .collect();
        if checked.is_empty() {
            let measured: Vec<&str> = job.operations.iter().map(|o| o.op.as_str()).collect();
            let (place, why) = match &self.scope.op {
                Some(op) => (
                    format!("{}.{op}", job.name),
                    format!("no samples; the job measured {}", measured.join(", ")),
                ),
                None => (job.name.clone(), "no samples".to_owned()),
            };
            checked.push(self.verdict(place, Err(why)));
        }
        checked
    }

    fn verdict(&self, scope: String, measured: Result<f64, String>) -> ThresholdResult {
        let t = &self.threshold;
        let passed = measured
            .as_ref()
            .is_ok_and(|&value| t.compare.holds(value, t.bound));
        let measured_text = match &measured {
            Ok(value) if value.is_infinite() => "above the histogram's range".to_owned(),
            Ok(value) => t.metric.show(*value),
            Err(why) => why.clone(),
        };
        ThresholdResult {
            expression: t.text.clone(),
            scope,
            measured: measured.ok().filter(|v| v.is_finite()),
            unit: t.metric.unit().to_owned(),
            measured_text,
            passed,
        }
    }
}

fn metric_name(threshold: &Threshold) -> String {
    let body = threshold.text.rsplit(':').next().unwrap_or_default();
    let end = body.find(['<', '>', '=', '!']).unwrap_or(body.len());
    body[..end].trim().to_owned()
}

/// An operation's value for `metric`; infinite for a percentile beyond the histogram.
fn op_value(metric: Metric, op: &OpResults) -> Result<f64, String> {
    let attempts = op.count + op.error_count;
    match metric {
        Metric::Latency(stat) => latency_value(stat, op),
        Metric::ErrorRate if attempts == 0 => Err("no samples".to_owned()),
        Metric::ErrorRate => Ok(op.error_count as f64 / attempts as f64),
        Metric::Errors => Ok(op.error_count as f64),
        Metric::Throughput => Ok(op.ops_per_s),
        Metric::Bandwidth => Ok(op.bytes_per_s),
        Metric::Skipped | Metric::Dropped => Err("counted per job".to_owned()),
    }
}

fn latency_value(stat: LatencyStat, op: &OpResults) -> Result<f64, String> {
    let s = &op.latency_ns;
    if op.count == 0 {
        return Err("no samples (every operation failed)".to_owned());
    }
    let value = stat.read(s);
    // A percentile past the histogram's top is above every bound a threshold can name.
    match value {
        Some(v) => Ok(v),
        None if s.above_range_count > 0 => Ok(f64::INFINITY),
        None => Err("no samples".to_owned()),
    }
}

fn job_value(metric: Metric, job: &JobResults) -> Result<f64, String> {
    let load = job
        .load
        .as_ref()
        .filter(|l| l.model == "open")
        .ok_or_else(|| "not an open-model job: it keeps no schedule".to_owned())?;
    let value = match metric {
        Metric::Skipped => load.skipped_ops,
        _ => load.skipped_ops + load.dropped_ops + load.unsent_ops.unwrap_or(0),
    };
    Ok(value as f64)
}

/// A threshold written in a job: its scope, if any, is one of the job's operations.
pub fn job_gate(job: &str, threshold: &Threshold) -> Result<Gate, String> {
    if let Some(scope) = threshold.scope.as_deref().filter(|s| s.contains('.')) {
        return Err(format!(
            "`{scope}` names more than an operation; in a job, write `op: ...` (like \
             `read: p99 < 5ms`), and put `job.op: ...` in the top-level `thresholds`"
        ));
    }
    let scope = Scope {
        job: Some(job.to_owned()),
        op: threshold.scope.clone(),
    };
    Gate::new(threshold.clone(), scope).map_err(|e| e.to_string())
}

/// A threshold written for the whole run (top level or command line): its scope, if any, is
/// `job` or `job.op`.
pub fn run_gate(threshold: &Threshold, jobs: &[&str]) -> Result<Gate, String> {
    let scope = Scope::resolve(threshold.scope.as_deref(), jobs)?;
    Gate::new(threshold.clone(), scope).map_err(|e| e.to_string())
}

/// The workload's own thresholds, top level first, then each job's. Ones that do not
/// resolve are left out: loading the workload already refused them.
pub fn workload_gates(workload: &Workload) -> Vec<Gate> {
    let names: Vec<&str> = workload.jobs.iter().map(Job::name).collect();
    let top = workload.thresholds.iter().map(|t| run_gate(t, &names));
    let per_job = workload
        .jobs
        .iter()
        .flat_map(|j| j.thresholds().iter().map(|t| job_gate(j.name(), t)));
    top.chain(per_job).filter_map(Result::ok).collect()
}

/// Every threshold checked against the results, in the order given.
pub fn evaluate(gates: &[Gate], results: &RunResults) -> Vec<ThresholdResult> {
    gates.iter().flat_map(|g| g.evaluate(results)).collect()
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Threshold {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Threshold {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn error(text: &str) -> String {
        text.parse::<Threshold>().unwrap_err().to_string()
    }

    #[test]
    fn each_operator_compares_as_written() {
        let cases = [
            ("p99 < 5ms", [true, false, false]),
            ("p99 <= 5ms", [true, true, false]),
            ("p99 > 5ms", [false, false, true]),
            ("p99 >= 5ms", [false, true, true]),
            ("p99 == 5ms", [false, true, false]),
        ];
        for (text, expected) in cases {
            let t = parse(text);
            let got = [4e6, 5e6, 6e6].map(|v| t.compare.holds(v, t.bound));
            assert_eq!(got, expected, "{text}");
        }
    }

    #[test]
    fn each_unit_reaches_the_base_unit() {
        assert_eq!(parse("p99.9 < 20ms").bound, 20e6);
        assert_eq!(parse("p50 <= 1ms").bound, 1e6);
        assert_eq!(parse("max < 1s").bound, 1e9);
        assert_eq!(parse("mean < 250us").bound, 250e3);
        assert_eq!(parse("error_rate < 0.1%").bound, 0.001);
        assert_eq!(parse("errors == 0").bound, 0.0);
        assert_eq!(parse("iops > 80k").bound, 80e3);
        assert_eq!(parse("throughput > 2k/s").bound, 2e3);
        assert_eq!(parse("bandwidth > 100MiB/s").bound, 100.0 * 1024.0 * 1024.0);
        assert_eq!(parse("dropped == 0").metric, Metric::Dropped);
        assert_eq!(parse("skipped <= 10").bound, 10.0);
    }

    #[test]
    fn a_scope_comes_before_the_colon() {
        let t = parse("randread.read: p99 < 5ms");
        assert_eq!(t.scope.as_deref(), Some("randread.read"));
        let jobs = ["randread", "a.b"];
        let scope = Scope::resolve(t.scope.as_deref(), &jobs).unwrap();
        assert_eq!(scope.job.as_deref(), Some("randread"));
        assert_eq!(scope.op.as_deref(), Some("read"));
        let journey = Scope::resolve(Some("randread.place.create"), &jobs).unwrap();
        assert_eq!(journey.op.as_deref(), Some("place.create"));
        let dotted = Scope::resolve(Some("a.b"), &jobs).unwrap();
        assert_eq!((dotted.job.as_deref(), dotted.op), (Some("a.b"), None));
        let wrong = Scope::resolve(Some("randreed.read"), &jobs).unwrap_err();
        assert!(wrong.contains("did you mean `randread`"), "{wrong}");
    }

    #[test]
    fn malformed_thresholds_say_which_part_is_wrong() {
        assert_eq!(
            error("p999 < 5ms"),
            "unknown metric `p999`; did you mean `p99.9`?"
        );
        assert_eq!(
            error("p99 < 5"),
            "missing unit in `5` for a latency: write `5ms`"
        );
        assert_eq!(error("p99 = 5ms"), "`=` is not an operator; write `==`");
        assert_eq!(
            error("p99 << 5ms"),
            "`<<` in `p99 << 5ms` is not an operator; a threshold reads like `p99 < 5ms` \
             (operators: < <= > >= ==)"
        );
        assert!(error("p99 5ms").contains("no comparison"));
        assert!(error("p99 <").contains("missing value"));
        assert!(error("iops > lots").starts_with("bad value for `iops`"));
        assert!(error("bandwidth > 100").contains("no unit"));
        assert!(error("errors < 1.5").contains("whole number"));
        assert!(error("latency < 1ms").starts_with("unknown metric `latency`"));
        assert!(error(": p99 < 1ms").contains("empty scope"));
    }

    #[test]
    fn per_job_counters_refuse_an_operation() {
        let scope = Scope {
            job: Some("j".into()),
            op: Some("get".into()),
        };
        let refused = Gate::new(parse("dropped == 0"), scope).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "`dropped` is counted per job, not per operation; drop `.get` from the scope"
        );
    }

    fn fixture() -> RunResults {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/small-results.json"
        );
        RunResults::read(std::path::Path::new(path)).expect("the fixture reads")
    }

    fn checked(results: &RunResults, text: &str) -> ThresholdResult {
        let names: Vec<&str> = results.jobs.iter().map(|j| j.name.as_str()).collect();
        let gate = run_gate(&parse(text), &names).expect("resolves");
        let mut all = gate.evaluate(results);
        assert_eq!(all.len(), 1, "{text}: {all:?}");
        all.remove(0)
    }

    #[test]
    fn each_metric_is_read_from_the_figures_it_names() {
        let results = fixture();
        let read = &results.jobs[0].operations[0];
        let l = &read.latency_ns;
        let ns = |v: Option<u64>| v.expect("a value") as f64;
        let cases = [
            ("min > 1ns", ns(l.min)),
            ("mean > 1ns", l.mean.expect("a mean")),
            ("p50 > 1ns", ns(l.p50)),
            ("p90 > 1ns", ns(l.p90)),
            ("p99 > 1ns", ns(l.p99)),
            ("p99.9 > 1ns", ns(l.p99_9)),
            ("p99.99 > 1ns", ns(l.p99_99)),
            ("p99.999 > 1ns", ns(l.p99_999)),
            ("max > 1ns", ns(l.max)),
            ("iops > 1", read.ops_per_s),
            ("throughput > 1/s", read.ops_per_s),
            ("bandwidth > 1KiB/s", read.bytes_per_s),
            ("errors == 0", 0.0),
            ("error_rate == 0%", 0.0),
        ];
        for (text, expected) in cases {
            let t = checked(&results, &format!("{}.{}: {text}", "mixed", read.op));
            assert_eq!(t.measured, Some(expected), "{text}");
            assert!(t.passed, "{text}: {t:?}");
        }
        let below = checked(&results, &format!("mixed.read: p50 < {}ns", ns(l.p50)));
        assert!(!below.passed, "a bound equal to the value is not below it");
        let load = results.jobs[1].load.as_ref().expect("open-model facts");
        let dropped = (load.skipped_ops + load.unsent_ops.unwrap_or(0)) as f64;
        assert_eq!(
            checked(&results, "cache: dropped >= 0").measured,
            Some(dropped)
        );
        assert_eq!(
            checked(&results, "cache: skipped >= 0").measured,
            Some(load.skipped_ops as f64)
        );
        let closed = checked(&results, "mixed: dropped == 0");
        assert!(!closed.passed && closed.measured.is_none(), "{closed:?}");
        assert!(closed.measured_text.contains("not an open-model job"));
    }

    #[test]
    fn a_percentile_above_the_range_is_above_any_bound() {
        let mut op: OpResults = serde_json::from_value(serde_json::json!({
            "op": "read", "count": 5, "bytes": 0, "ops_per_s": 5.0, "bytes_per_s": 0.0,
            "latency_ns": { "min": 1, "mean": null, "p50": null, "p90": null, "p99": null,
                "p99_9": null, "p99_99": null, "p99_999": null, "max": null,
                "above_range_count": 5 },
            "latency_histogram": { "encoding": "", "data": "", "lowest_trackable_ns": 1,
                "highest_trackable_ns": 2, "significant_digits": 3, "above_range_count": 5,
                "above_range_max_ns": 0 },
            "errors": [], "error_count": 0
        }))
        .unwrap();
        assert_eq!(latency_value(LatencyStat::P99, &op), Ok(f64::INFINITY));
        op.count = 0;
        assert!(latency_value(LatencyStat::P99, &op).is_err());
    }
}
