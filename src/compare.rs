//! Baseline comparison: two sides of one or more runs each, per job and operation, throughput
//! and latency percentiles side by side, with a noise-aware verdict per metric.
//!
//! The verdict rests on the per-interval values of every run: a bootstrap confidence interval
//! of the difference in medians (seeded, a fixed number of resamples, so the same files always
//! give the same answer). With several runs on a side the bootstrap is two-level: it resamples
//! the runs, then the intervals within each run drawn, so the spread from run to run (often
//! larger than within one run) widens the interval as it should. A metric changed only when
//! that interval excludes zero and the change of the whole-side figure is beyond the minimum
//! effect. A side's whole figure pools its runs: operations over measured time for
//! throughput, merged histograms for percentiles. This module computes and renders the
//! comparison; it does not read files or choose exit codes (`main` does), and CI formats live
//! in [`crate::ci`].

use std::fmt::Write as _;

use crate::ci::TestCase;
use crate::report::format;
use crate::results::{IntervalOpResults, IntervalResults, JobResults, OpResults, RunResults};

/// Resamples per bootstrap; enough for a stable 95 % interval, cheap for a few dozen intervals.
const RESAMPLES: usize = 2000;
/// Fixed so the same two files always give the same intervals and verdicts.
const SEED: u64 = 0x706c_696d_736f_6c6c;
/// An interval shorter than this share of the run's interval (the last one, cut short) is left
/// out: its rate and percentiles rest on too few operations.
const FULL_SHARE: f64 = 0.5;

/// What the user allows: the smallest change that counts, and per metric the regression that
/// may pass without failing the comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// In percent: changes at or below it are no significant change.
    pub min_effect_pct: f64,
    pub budgets: Vec<Budget>,
}

/// A regression allowed, in percent, for one metric or (without one) all of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub metric: Option<Metric>,
    pub pct: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Throughput,
    P50,
    P99,
    P99_9,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Regression,
    Improvement,
    NoChange,
}

/// One metric of one operation in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricComparison {
    /// `job.op`.
    pub scope: String,
    pub metric: Metric,
    pub baseline: Option<f64>,
    pub candidate: Option<f64>,
    /// Candidate against baseline in percent; absent when either side has no value.
    pub change_pct: Option<f64>,
    /// 95 % bootstrap interval of the candidate's median minus the baseline's, per interval,
    /// in the metric's unit; absent with fewer than two intervals on a side.
    pub interval: Option<(f64, f64)>,
    pub verdict: Verdict,
    /// A regression beyond the budget: this fails the comparison.
    pub failed: bool,
}

/// The whole comparison: each metric, and what differs between the runs besides the figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub metrics: Vec<MetricComparison>,
    pub warnings: Vec<String>,
    /// Runs on each side: (baseline, candidate).
    pub runs: (usize, usize),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("`{0}` is not a percentage; write it like `5%`")]
    BadPercent(String),
    /// A bare number: `4` may be meant as 4 % or, as shares in a workload may be written, as a
    /// fraction (400 %), so the unit is required rather than guessed.
    #[error(
        "`{written}` needs its unit; write {meant} (a bare number is refused, as it could be \
         a percentage or a fraction)"
    )]
    NoPercentSign { written: String, meant: String },
    #[error("unknown metric `{0}` in a budget; use throughput, p50, p99 or p99.9")]
    UnknownMetric(String),
}

impl Default for Options {
    fn default() -> Self {
        Options {
            min_effect_pct: 5.0,
            budgets: Vec::new(),
        }
    }
}

impl Metric {
    pub const ALL: [Metric; 4] = [Metric::Throughput, Metric::P50, Metric::P99, Metric::P99_9];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Throughput => "throughput",
            Metric::P50 => "p50",
            Metric::P99 => "p99",
            Metric::P99_9 => "p99.9",
        }
    }

    fn higher_is_better(self) -> bool {
        self == Metric::Throughput
    }

    fn whole_run(self, op: &OpResults) -> Option<f64> {
        let l = &op.latency_ns;
        match self {
            Metric::Throughput => Some(op.ops_per_s),
            Metric::P50 => l.p50.map(|v| v as f64),
            Metric::P99 => l.p99.map(|v| v as f64),
            Metric::P99_9 => l.p99_9.map(|v| v as f64),
        }
    }

    fn per_interval(self, interval: &IntervalResults, op: &IntervalOpResults) -> Option<f64> {
        let l = &op.latency_ns;
        match self {
            Metric::Throughput if interval.duration_ns > 0 => {
                Some(op.count as f64 * 1e9 / interval.duration_ns as f64)
            }
            Metric::Throughput => None,
            Metric::P50 => l.p50.map(|v| v as f64),
            Metric::P99 => l.p99.map(|v| v as f64),
            Metric::P99_9 => l.p99_9.map(|v| v as f64),
        }
    }

    /// The value as people read it.
    pub fn show(self, value: Option<f64>) -> String {
        match (self, value) {
            (_, None) => "-".to_owned(),
            (Metric::Throughput, Some(v)) => format!("{}/s", format::count(v)),
            (_, Some(v)) => format::latency(Some(v.round() as u64)),
        }
    }

    fn show_delta(self, delta: f64) -> String {
        let sign = if delta < 0.0 { "-" } else { "+" };
        format!("{sign}{}", self.show(Some(delta.abs())))
    }
}

impl std::str::FromStr for Metric {
    type Err = OptionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let name = text.trim();
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == name || (name == "iops" && *m == Metric::Throughput))
            .ok_or_else(|| OptionError::UnknownMetric(name.to_owned()))
    }
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Regression => "regression",
            Verdict::Improvement => "improvement",
            Verdict::NoChange => "no significant change",
        }
    }
}

/// `5%` or `0.5 %`: a non-negative percentage, with its `%`.
pub fn parse_percent(text: &str) -> Result<f64, OptionError> {
    let written = text.trim();
    let number = written.strip_suffix('%').map(str::trim);
    let value = number.unwrap_or(written).parse::<f64>();
    match (number, value) {
        (Some(_), Ok(v)) if v.is_finite() && v >= 0.0 => Ok(v),
        (None, Ok(v)) if v.is_finite() && v > 0.0 && v < 1.0 => Err(OptionError::NoPercentSign {
            written: written.to_owned(),
            meant: format!(
                "`{}%` for the fraction {written}, or `{written}%`",
                tidy(v * 100.0)
            ),
        }),
        (None, Ok(v)) if v.is_finite() && v >= 0.0 => Err(OptionError::NoPercentSign {
            written: written.to_owned(),
            meant: format!("`{written}%`"),
        }),
        _ => Err(OptionError::BadPercent(text.to_owned())),
    }
}

/// A number without the float noise of a product: `4`, not `4.000000000000001`.
fn tidy(value: f64) -> String {
    let text = format!("{value:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

impl std::str::FromStr for Budget {
    type Err = OptionError;

    /// `10%` for every metric, or `p99=10%` for one.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once('=') {
            Some((metric, pct)) => Ok(Budget {
                metric: Some(metric.parse()?),
                pct: parse_percent(pct)?,
            }),
            None => Ok(Budget {
                metric: None,
                pct: parse_percent(text)?,
            }),
        }
    }
}

impl Options {
    /// The regression allowed for `metric`: its own budget, else the general one, else none.
    fn budget(&self, metric: Metric) -> f64 {
        let own = self.budgets.iter().rev().find(|b| b.metric == Some(metric));
        let general = self.budgets.iter().rev().find(|b| b.metric.is_none());
        own.or(general).map_or(0.0, |b| b.pct)
    }
}

/// Compares every operation the two runs share, metric by metric.
pub fn compare(baseline: &RunResults, candidate: &RunResults, options: &Options) -> Comparison {
    compare_runs(
        std::slice::from_ref(baseline),
        std::slice::from_ref(candidate),
        options,
    )
}

/// Compares two sides of one or more runs each (repeated runs of one workload), metric by
/// metric, over the jobs and operations of each side's first run.
///
/// # Panics
/// When a side holds no run.
pub fn compare_runs(
    baseline: &[RunResults],
    candidate: &[RunResults],
    options: &Options,
) -> Comparison {
    assert!(
        !baseline.is_empty() && !candidate.is_empty(),
        "a side of a comparison holds at least one run"
    );
    let mut warnings = differences(&baseline[0], &candidate[0]);
    warnings.extend(side_warnings("baseline", baseline));
    warnings.extend(side_warnings("candidate", candidate));
    let mut metrics = Vec::new();
    for job in &baseline[0].jobs {
        if !has_job(&candidate[0], &job.name) {
            warnings.push(format!("job `{}` is only in the baseline", job.name));
            continue;
        }
        metrics.extend(compare_job(
            &job.name,
            (baseline, candidate),
            options,
            &mut warnings,
        ));
    }
    for job in candidate[0]
        .jobs
        .iter()
        .filter(|j| !has_job(&baseline[0], &j.name))
    {
        warnings.push(format!("job `{}` is only in the candidate", job.name));
    }
    Comparison {
        metrics,
        warnings,
        runs: (baseline.len(), candidate.len()),
    }
}

/// What makes the runs of one side doubtful: a run that did not complete, and runs that
/// differ from the side's first in anything but their figures.
fn side_warnings(side: &str, runs: &[RunResults]) -> Vec<String> {
    let label = |i: usize| match runs.len() {
        1 => format!("the {side}"),
        _ => format!("{side} run {}", i + 1),
    };
    let mut out = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        if run.status != crate::results::RunStatus::Complete {
            let status = serde_json::to_value(run.status).unwrap_or_default();
            let status = status.as_str().unwrap_or("incomplete").to_owned();
            out.push(format!(
                "{} is {status}: its figures cover only what was measured",
                label(i)
            ));
        }
        if i > 0 {
            let differ = differences(&runs[0], run);
            out.extend(
                differ
                    .into_iter()
                    .map(|d| format!("{} against run 1: {d}", label(i))),
            );
        }
    }
    out
}

fn has_job(results: &RunResults, name: &str) -> bool {
    results.jobs.iter().any(|j| j.name == name)
}

fn compare_job(
    job: &str,
    (baseline, candidate): (&[RunResults], &[RunResults]),
    options: &Options,
    warnings: &mut Vec<String>,
) -> Vec<MetricComparison> {
    let first = |runs: &[RunResults]| runs[0].jobs.iter().position(|j| j.name == job);
    let (Some(b), Some(c)) = (first(baseline), first(candidate)) else {
        return Vec::new();
    };
    let (base, cand) = (&baseline[0].jobs[b], &candidate[0].jobs[c]);
    let mut out = Vec::new();
    for op in &base.operations {
        if !has_op(cand, &op.op) {
            warnings.push(format!(
                "operation `{job}.{}` is only in the baseline",
                op.op
            ));
            continue;
        }
        let sides = (
            Side::new("baseline", baseline, job, &op.op, warnings),
            Side::new("candidate", candidate, job, &op.op, warnings),
        );
        out.extend(Metric::ALL.map(|m| compare_metric(m, &sides, options)));
    }
    let only_candidate = cand.operations.iter().filter(|o| !has_op(base, &o.op));
    for op in only_candidate {
        warnings.push(format!(
            "operation `{job}.{}` is only in the candidate",
            op.op
        ));
    }
    out
}

fn has_op(job: &JobResults, op: &str) -> bool {
    job.operations.iter().any(|o| o.op == op)
}

/// One operation on one side: each run that holds it, with the intervals kept.
struct Side<'a> {
    job: &'a str,
    op: &'a str,
    runs: Vec<RunOp<'a>>,
    /// The side's runs' histograms merged, for pooled percentiles; `None` with one run, or
    /// when a histogram would not decode.
    merged: Option<crate::measure::LatencySummary>,
}

/// One operation in one run: the whole-run figures and its intervals.
struct RunOp<'a> {
    measured_ns: u64,
    op: &'a OpResults,
    intervals: Vec<(&'a IntervalResults, &'a IntervalOpResults)>,
}

impl<'a> Side<'a> {
    fn new(
        side: &str,
        runs: &'a [RunResults],
        job: &'a str,
        op: &'a str,
        warnings: &mut Vec<String>,
    ) -> Self {
        let mut held = Vec::new();
        for (i, run) in runs.iter().enumerate() {
            let found = run.jobs.iter().find(|j| j.name == job);
            match found.and_then(|j| Some((j, j.operations.iter().find(|o| o.op == op)?))) {
                Some((j, o)) => held.push(RunOp::new(run, j, o)),
                None => warnings.push(format!(
                    "{side} run {} has no `{job}.{op}`; compared without it",
                    i + 1
                )),
            }
        }
        let merged = (held.len() > 1)
            .then(|| merge(&held))
            .and_then(|m| m.map_err(|e| warnings.push(e)).ok());
        Side {
            job,
            op,
            runs: held,
            merged,
        }
    }

    /// The side's figure: the run's own with one run; with several, operations over measured
    /// time, or the percentile of the merged histograms.
    fn whole(&self, metric: Metric) -> Option<f64> {
        if let [one] = self.runs.as_slice() {
            return metric.whole_run(one.op);
        }
        let l = self.merged.as_ref();
        match metric {
            Metric::Throughput => {
                let count: u64 = self.runs.iter().map(|r| r.op.count).sum();
                let ns: u64 = self.runs.iter().map(|r| r.measured_ns).sum();
                (ns > 0).then(|| count as f64 * 1e9 / ns as f64)
            }
            Metric::P50 => l?.p50.map(|v| v as f64),
            Metric::P99 => l?.p99.map(|v| v as f64),
            Metric::P99_9 => l?.p99_9.map(|v| v as f64),
        }
    }

    /// Per run, the metric in each of its full intervals.
    fn series(&self, metric: Metric) -> Vec<Vec<f64>> {
        self.runs.iter().map(|r| r.series(metric)).collect()
    }
}

/// The runs' latency histograms added together, exactly.
fn merge(runs: &[RunOp]) -> Result<crate::measure::LatencySummary, String> {
    let mut all = crate::measure::LatencyHistogram::new();
    for run in runs {
        let hist = run.op.latency_histogram.decode().map_err(|e| {
            format!(
                "a histogram of `{}` does not decode ({e}); its percentiles are left out",
                run.op.op
            )
        })?;
        all.add(&hist);
    }
    Ok(all.summary())
}

impl<'a> RunOp<'a> {
    fn new(run: &RunResults, job: &'a JobResults, op: &'a OpResults) -> Self {
        let shortest = run.interval_ns as f64 * FULL_SHARE;
        let intervals = job
            .intervals
            .iter()
            .filter(|i| i.duration_ns as f64 >= shortest)
            .filter_map(|i| i.ops.iter().find(|o| o.op == op.op).map(|o| (i, o)))
            .collect();
        RunOp {
            measured_ns: run.measured_ns,
            op,
            intervals,
        }
    }

    fn series(&self, metric: Metric) -> Vec<f64> {
        let values = self.intervals.iter();
        values
            .filter_map(|(i, o)| metric.per_interval(i, o))
            .collect()
    }
}

fn compare_metric(metric: Metric, sides: &(Side, Side), options: &Options) -> MetricComparison {
    let (baseline, candidate) = (sides.0.whole(metric), sides.1.whole(metric));
    let change_pct = match (baseline, candidate) {
        (Some(b), Some(c)) if b == c => Some(0.0),
        (Some(b), Some(c)) if b != 0.0 => Some((c - b) / b * 100.0),
        _ => None,
    };
    let interval = bootstrap(&sides.0.series(metric), &sides.1.series(metric));
    let verdict = verdict(metric, change_pct, interval, options.min_effect_pct);
    let beyond_budget = change_pct.is_some_and(|c| c.abs() > options.budget(metric));
    MetricComparison {
        scope: format!("{}.{}", sides.0.job, sides.0.op),
        metric,
        baseline,
        candidate,
        change_pct,
        interval,
        verdict,
        failed: verdict == Verdict::Regression && beyond_budget,
    }
}

fn verdict(
    metric: Metric,
    change_pct: Option<f64>,
    interval: Option<(f64, f64)>,
    min_effect_pct: f64,
) -> Verdict {
    let (Some(change), Some((low, high))) = (change_pct, interval) else {
        return Verdict::NoChange;
    };
    let excludes_zero = low > 0.0 || high < 0.0;
    // The interval and the whole-run change must agree in direction, or the runs disagree
    // with themselves and nothing can be said.
    let agrees = (low > 0.0) == (change > 0.0);
    if !excludes_zero || !agrees || change.abs() <= min_effect_pct {
        return Verdict::NoChange;
    }
    if (change > 0.0) == metric.higher_is_better() {
        Verdict::Improvement
    } else {
        Verdict::Regression
    }
}

/// The 95 % bootstrap interval of median(candidate) − median(baseline), each side given as
/// its runs' interval values.
fn bootstrap(baseline: &[Vec<f64>], candidate: &[Vec<f64>]) -> Option<(f64, f64)> {
    let kept = |runs: &[Vec<f64>]| -> Vec<Vec<f64>> {
        runs.iter().filter(|r| !r.is_empty()).cloned().collect()
    };
    let (baseline, candidate) = (kept(baseline), kept(candidate));
    let values = |runs: &[Vec<f64>]| runs.iter().map(Vec::len).sum::<usize>();
    if values(&baseline) < 2 || values(&candidate) < 2 {
        return None;
    }
    let mut rng = SplitMix(SEED);
    let mut diffs: Vec<f64> = (0..RESAMPLES)
        .map(|_| resampled_median(&candidate, &mut rng) - resampled_median(&baseline, &mut rng))
        .collect();
    diffs.sort_by(f64::total_cmp);
    let at = |q: f64| diffs[((RESAMPLES - 1) as f64 * q).round() as usize];
    Some((at(0.025), at(0.975)))
}

/// One bootstrap draw of a side's median: with one run, its intervals resampled; with
/// several, as many runs drawn with replacement, then each drawn run's intervals resampled.
fn resampled_median(runs: &[Vec<f64>], rng: &mut SplitMix) -> f64 {
    let mut sample = Vec::new();
    for k in 0..runs.len() {
        let run = match runs.len() {
            1 => &runs[k],
            n => &runs[rng.below(n)],
        };
        sample.extend((0..run.len()).map(|_| run[rng.below(run.len())]));
    }
    median(&mut sample)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// SplitMix64: a small, fixed generator, so verdicts never change with a dependency's version.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        // The bias of a modulo over 2^64 is far below anything a bootstrap can show.
        (self.next() % n as u64) as usize
    }
}

/// What differs between the runs beyond their figures: each a reason to doubt the comparison.
fn differences(baseline: &RunResults, candidate: &RunResults) -> Vec<String> {
    let mut warnings = Vec::new();
    if baseline.plimsoll_version != candidate.plimsoll_version {
        warnings.push(format!(
            "plimsoll versions differ: {} (baseline) and {} (candidate)",
            baseline.plimsoll_version, candidate.plimsoll_version
        ));
    }
    let (b, c) = (&baseline.host, &candidate.host);
    let facts = [
        ("host name", b.hostname == c.hostname),
        ("kernel", b.kernel_release == c.kernel_release),
        ("OS", b.os_name == c.os_name),
        ("CPU model", b.cpu_model == c.cpu_model),
        ("logical cores", b.logical_cores == c.logical_cores),
        ("memory", b.memory_bytes == c.memory_bytes),
    ];
    let differ: Vec<&str> = facts
        .iter()
        .filter(|(_, same)| !same)
        .map(|(n, _)| *n)
        .collect();
    if !differ.is_empty() {
        warnings.push(format!("host facts differ: {}", differ.join(", ")));
    }
    if baseline.workload != candidate.workload {
        warnings.push("the workloads differ".to_owned());
    }
    warnings
}

impl Comparison {
    /// Whether any metric regressed beyond its budget.
    pub fn failed(&self) -> bool {
        self.metrics.iter().any(|m| m.failed)
    }

    /// The terminal table. Its warnings are the caller's to show, on stderr, once.
    pub fn table(&self) -> String {
        let mut out = String::new();
        if let Some(line) = self.runs_line() {
            let _ = writeln!(out, "{line}");
        }
        let rows: Vec<[String; 7]> = self.metrics.iter().map(MetricComparison::row).collect();
        let widths = column_widths(&rows);
        let _ = writeln!(out, "{}", padded(&HEADERS.map(str::to_owned), &widths));
        for row in &rows {
            let _ = writeln!(out, "{}", padded(row, &widths));
        }
        let _ = writeln!(out, "{}", self.verdict_line());
        out
    }

    /// How many runs each side pooled, when either holds more than one.
    fn runs_line(&self) -> Option<String> {
        let (b, c) = self.runs;
        (b > 1 || c > 1).then(|| {
            format!(
                "baseline: {b} run(s), candidate: {c} run(s); intervals bootstrapped within \
                 runs drawn with replacement"
            )
        })
    }

    fn verdict_line(&self) -> String {
        let count = |v: Verdict| self.metrics.iter().filter(|m| m.verdict == v).count();
        let regressions = count(Verdict::Regression);
        let allowed = regressions - self.metrics.iter().filter(|m| m.failed).count();
        let regressions = match allowed {
            0 => format!("{regressions} regression(s)"),
            n => format!("{regressions} regression(s) ({n} within budget)"),
        };
        format!(
            "{regressions}, {} improvement(s), {} without significant change{}",
            count(Verdict::Improvement),
            count(Verdict::NoChange),
            if self.failed() { ": FAILED" } else { "" }
        )
    }

    /// A Markdown summary: warnings, then one table row per metric.
    pub fn markdown(&self) -> String {
        let mut out = String::from("## plimsoll compare\n\n");
        for warning in &self.warnings {
            let _ = writeln!(out, "> warning: {warning}");
        }
        if !self.warnings.is_empty() {
            out.push('\n');
        }
        if let Some(line) = self.runs_line() {
            let _ = writeln!(out, "{line}\n");
        }
        let rows: Vec<Vec<String>> = self.metrics.iter().map(|m| m.row().to_vec()).collect();
        out.push_str(&crate::ci::markdown_table(&HEADERS, &rows));
        let _ = writeln!(out, "\n{}", self.verdict_line());
        out
    }

    /// One JUnit case per metric; a regression beyond its budget is a failure.
    pub fn test_cases(&self) -> Vec<TestCase> {
        self.metrics
            .iter()
            .map(MetricComparison::test_case)
            .collect()
    }
}

const HEADERS: [&str; 7] = [
    "operation",
    "metric",
    "baseline",
    "candidate",
    "change",
    "95% CI",
    "verdict",
];

impl MetricComparison {
    fn row(&self) -> [String; 7] {
        let interval = self.interval.map_or("-".to_owned(), |(low, high)| {
            format!(
                "{} .. {}",
                self.metric.show_delta(low),
                self.metric.show_delta(high)
            )
        });
        [
            self.scope.clone(),
            self.metric.name().to_owned(),
            self.metric.show(self.baseline),
            self.metric.show(self.candidate),
            self.change_pct
                .map_or("-".to_owned(), |c| format!("{c:+.1}%")),
            interval,
            self.verdict_text().to_owned(),
        ]
    }

    /// The verdict as the table shows it: a regression the budget allows says so, since it
    /// does not fail the comparison.
    fn verdict_text(&self) -> &'static str {
        if self.verdict == Verdict::Regression && !self.failed {
            "regression, within budget"
        } else {
            self.verdict.name()
        }
    }

    fn test_case(&self) -> TestCase {
        let row = self.row();
        let failure = self.failed.then(|| {
            format!(
                "{} {} regressed: {} -> {} ({})",
                self.scope, row[1], row[2], row[3], row[4]
            )
        });
        TestCase {
            classname: self.scope.clone(),
            name: self.metric.name().to_owned(),
            failure,
        }
    }
}

fn column_widths(rows: &[[String; 7]]) -> [usize; 7] {
    let mut widths = HEADERS.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    widths
}

fn padded(cells: &[String; 7], widths: &[usize; 7]) -> String {
    let cells = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}"));
    cells.collect::<Vec<_>>().join("  ").trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percentage_needs_its_unit() {
        assert_eq!(parse_percent("4%").unwrap(), 4.0);
        assert_eq!(parse_percent(" 0.5 % ").unwrap(), 0.5);
        assert_eq!(
            parse_percent("4").unwrap_err().to_string(),
            "`4` needs its unit; write `4%` (a bare number is refused, as it could be a \
             percentage or a fraction)"
        );
        let fraction = parse_percent("0.04").unwrap_err().to_string();
        assert!(
            fraction.starts_with(
                "`0.04` needs its unit; write `4%` for the fraction 0.04, or \
                 `0.04%`"
            ),
            "{fraction}"
        );
        assert!(matches!(
            parse_percent("-3%"),
            Err(OptionError::BadPercent(_))
        ));
    }

    #[test]
    fn identical_series_give_an_interval_around_zero() {
        let values = [vec![1.0, 2.0, 3.0, 4.0, 5.0]];
        let (low, high) = bootstrap(&values, &values).expect("enough intervals");
        assert!(low <= 0.0 && high >= 0.0, "{low} {high}");
    }

    #[test]
    fn a_clear_shift_gives_an_interval_excluding_zero() {
        let base = [1.0, 1.1, 0.9, 1.0, 1.05, 0.95];
        let cand = base.map(|v| v + 1.0);
        let (low, high) = bootstrap(&[base.to_vec()], &[cand.to_vec()]).expect("intervals");
        assert!(low > 0.5 && high < 1.5, "{low} {high}");
    }

    #[test]
    fn the_spread_between_runs_widens_the_interval() {
        // Within each run the values are tight, but the runs sit apart: pooled as one run
        // the shift looks certain; resampled by run it does not.
        let tight = |at: f64| {
            (0..50)
                .map(|i| at + i as f64 * 0.0001)
                .collect::<Vec<f64>>()
        };
        let base = [tight(1.0), tight(1.4), tight(0.8)];
        let cand = [tight(1.1), tight(1.5), tight(0.9)];
        let pooled = |runs: &[Vec<f64>]| vec![runs.concat()];
        let (low, high) = bootstrap(&pooled(&base), &pooled(&cand)).expect("intervals");
        assert!(low > 0.0, "pooled: {low} {high}");
        let (low, high) = bootstrap(&base, &cand).expect("intervals");
        assert!(low < 0.0 && high > 0.0, "by run: {low} {high}");
    }

    #[test]
    fn several_runs_per_side_pool_their_figures() {
        let one = fixture();
        let mut two = fixture();
        two.started_at = "later".to_owned();
        let alone = compare(&one, &one, &Options::default());
        let pooled = compare_runs(
            &[one.clone(), two.clone()],
            &[one, two],
            &Options::default(),
        );
        assert_eq!(pooled.runs, (2, 2));
        assert_eq!(pooled.metrics.len(), alone.metrics.len());
        for (p, a) in pooled.metrics.iter().zip(&alone.metrics) {
            assert_eq!(p.change_pct, Some(0.0), "{p:?}");
            // The same runs twice: pooled percentiles are the run's own, throughput too.
            let close = |x: Option<f64>, y: Option<f64>| match (x, y) {
                (Some(x), Some(y)) => (x - y).abs() <= y.abs() * 1e-9,
                (x, y) => x == y,
            };
            assert!(close(p.baseline, a.baseline), "{p:?} {a:?}");
        }
        assert!(pooled.warnings.is_empty(), "{:?}", pooled.warnings);
    }

    #[test]
    fn latency_up_is_a_regression_and_throughput_up_an_improvement() {
        let shift = Some((1.0, 2.0));
        assert_eq!(
            verdict(Metric::P99, Some(50.0), shift, 5.0),
            Verdict::Regression
        );
        assert_eq!(
            verdict(Metric::Throughput, Some(50.0), shift, 5.0),
            Verdict::Improvement
        );
        assert_eq!(
            verdict(Metric::P99, Some(3.0), shift, 5.0),
            Verdict::NoChange
        );
        assert_eq!(
            verdict(Metric::P99, Some(50.0), Some((-1.0, 2.0)), 5.0),
            Verdict::NoChange
        );
    }

    fn fixture() -> RunResults {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/small-results.json"
        );
        RunResults::read(std::path::Path::new(path)).expect("the fixture reads")
    }

    #[test]
    fn runs_that_differ_besides_their_figures_are_warned_about() {
        let baseline = fixture();
        let mut candidate = fixture();
        assert!(
            compare(&baseline, &candidate, &Options::default())
                .warnings
                .is_empty()
        );
        candidate.plimsoll_version = "9.9.9".to_owned();
        candidate.host.kernel_release = Some("other".to_owned());
        candidate.workload = serde_json::json!({ "name": "other" });
        candidate.jobs[0].operations[0].op = "renamed".to_owned();
        let warnings = compare(&baseline, &candidate, &Options::default()).warnings;
        let expected = [
            "plimsoll versions",
            "host facts differ: kernel",
            "workloads differ",
        ];
        for part in expected
            .iter()
            .chain(&["only in the baseline", "only in the candidate"])
        {
            assert!(
                warnings.iter().any(|w| w.contains(part)),
                "{part}: {warnings:?}"
            );
        }
    }

    #[test]
    fn budgets_parse_for_one_metric_or_all() {
        let b: Budget = "p99.9=10%".parse().expect("budget");
        assert_eq!((b.metric, b.pct), (Some(Metric::P99_9), 10.0));
        let all: Budget = "2.5%".parse().expect("budget");
        assert_eq!((all.metric, all.pct), (None, 2.5));
        assert!("p98=1%".parse::<Budget>().is_err());
        assert!("-1%".parse::<Budget>().is_err());
    }
}
