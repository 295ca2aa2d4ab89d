//! The report page: a view of the results (header, host, per-job tables, charts) rendered
//! through the bundled template with HTML auto-escaping, so whatever a user typed (workload and
//! job names, paths, error texts) reaches the page as text, never as markup. Charts arrive as
//! finished SVG documents; this module does not draw, write files or redact (the caller hands
//! it results that are already redacted).

use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use super::format;
use crate::measure::LatencySummary;
use crate::monitor::checks::CheckStatus;
use crate::results::{JobResults, LoadResults, OpResults, RunResults, RunStatus};

const TEMPLATE: &str = include_str!("../../templates/report.html");

/// A chart as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ChartView {
    pub id: String,
    pub title: String,
    /// The SVG document, inlined as it is: plotters escapes the text it draws.
    pub svg: minijinja::Value,
    /// Relative to the page.
    pub png: String,
    pub note: Option<String>,
}

/// An interval log as the page links it.
#[derive(Debug, Clone, Serialize)]
pub struct HlogLink {
    pub op: String,
    pub path: String,
}

/// What the page shows beside each job's tables.
#[derive(Debug, Clone, Default)]
pub struct JobExtras {
    pub charts: Vec<ChartView>,
    pub hlogs: Vec<HlogLink>,
}

#[derive(Serialize)]
struct Page {
    name: String,
    status: &'static str,
    failure: Option<String>,
    started_at: String,
    measured: String,
    warmup: String,
    requested: String,
    interval: String,
    run_version: String,
    report_version: &'static str,
    warnings: Vec<String>,
    host: Vec<(&'static str, String)>,
    thresholds: Vec<ThresholdRow>,
    /// How many thresholds failed, for the section's heading line.
    thresholds_failed: usize,
    checks: Vec<CheckRow>,
    resources: Option<ResourcesView>,
    capacity: Option<CapacityView>,
    jobs: Vec<JobView>,
    workload_file: Option<String>,
    workload: String,
}

#[derive(Serialize)]
struct CheckRow {
    name: String,
    subject: Option<String>,
    status: &'static str,
    explanation: String,
}

/// A capacity search: its answer in sentences, a row per step, and its charts.
#[derive(Serialize)]
struct CapacityView {
    heading: String,
    answer: Vec<String>,
    knob: String,
    steps: Vec<CapacityRow>,
    charts: Vec<ChartView>,
}

#[derive(Serialize)]
struct CapacityRow {
    index: usize,
    phase: String,
    load: String,
    throughput: String,
    p50: String,
    p99: String,
    p99_9: String,
    errors: u64,
    verdict: String,
    mark: &'static str,
    note: String,
}

#[derive(Serialize)]
struct ThresholdRow {
    scope: String,
    expression: String,
    measured: String,
    /// `passed` or `failed`, also the row's style.
    verdict: &'static str,
}

#[derive(Serialize)]
struct ResourcesView {
    summary: String,
    charts: Vec<ChartView>,
}

#[derive(Serialize)]
struct JobView {
    name: String,
    kind: String,
    load_model: String,
    /// `4 workers`, or `4 threads` for a network job: the job's own key.
    workers: String,
    /// Open model: target and achieved rate, schedule lag, verdict.
    load: Vec<String>,
    counters: Vec<(String, u64)>,
    ops: Vec<OpRow>,
    /// Open model: send to completion, per operation.
    service: Vec<OpRow>,
    errors: Vec<ErrorRow>,
    warmup: Vec<WarmupRow>,
    charts: Vec<ChartView>,
    hlogs: Vec<HlogLink>,
    target: String,
}

#[derive(Serialize)]
struct OpRow {
    op: String,
    count: String,
    ops_per_s: String,
    bandwidth: String,
    errors: u64,
    mean: String,
    p50: String,
    p90: String,
    p99: String,
    p99_9: String,
    p99_99: String,
    max: String,
}

#[derive(Serialize)]
struct ErrorRow {
    op: String,
    kind: String,
    count: u64,
}

#[derive(Serialize)]
struct WarmupRow {
    op: String,
    count: String,
    errors: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot render the report page: {0}")]
pub struct PageError(#[from] minijinja::Error);

/// The whole page. `extras` has one entry per job, in order.
/// `resource_charts` are the run's resource charts, shown when the results hold resources;
/// `capacity_charts` a capacity search's, shown when the results hold one.
pub fn render(
    results: &RunResults,
    extras: Vec<JobExtras>,
    resource_charts: Vec<ChartView>,
    capacity_charts: Vec<ChartView>,
) -> Result<String, PageError> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.add_template("report.html", TEMPLATE)?;
    let mut page = page(results, extras);
    if let Some(r) = &results.resources {
        page.resources = Some(ResourcesView {
            summary: crate::monitor::summary_line(r),
            charts: resource_charts,
        });
    }
    page.capacity = capacity_view(results, capacity_charts);
    Ok(env
        .get_template("report.html")?
        .render(minijinja::Value::from(minijinja::value::Serde(&page)))?)
}

/// The workload's own name, as the run was given it.
pub fn workload_name(results: &RunResults) -> String {
    let name = results.workload.get("name").and_then(|n| n.as_str());
    name.unwrap_or("workload").to_owned()
}

fn page(results: &RunResults, extras: Vec<JobExtras>) -> Page {
    let jobs = results
        .jobs
        .iter()
        .zip(extras)
        .map(|(j, e)| job_view(j, e))
        .collect();
    Page {
        name: workload_name(results),
        status: status(results.status),
        failure: results.failure.clone(),
        started_at: results.started_at.clone(),
        measured: seconds(results.measured_ns),
        warmup: seconds(results.warmup_ns),
        requested: seconds(results.duration_requested_ns),
        interval: seconds(results.interval_ns),
        run_version: results.plimsoll_version.clone(),
        report_version: env!("CARGO_PKG_VERSION"),
        warnings: warnings(results),
        host: host_facts(results),
        thresholds: results.thresholds.iter().map(threshold_row).collect(),
        thresholds_failed: results.thresholds.iter().filter(|t| !t.passed).count(),
        checks: results.checks.iter().map(check_row).collect(),
        resources: None,
        capacity: None,
        jobs,
        workload_file: results.workload_file.clone(),
        workload: pretty(&results.workload),
    }
}

fn capacity_view(results: &RunResults, charts: Vec<ChartView>) -> Option<CapacityView> {
    let c = results.capacity.as_deref()?;
    let summary = super::capacity::summary(results);
    // The answer lines follow the table, after its blank line.
    let answer = summary
        .split("\n\n")
        .nth(1)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    let steps = c
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| CapacityRow {
            index: i,
            phase: s.phase.clone(),
            load: super::capacity::show_load(&c.knob, s.load),
            throughput: format!("{}/s", format::count(s.throughput_ops_per_s)),
            p50: format::latency(s.p50_ns),
            p99: format::latency(s.p99_ns),
            p99_9: format::latency(s.p99_9_ns),
            errors: s.errors,
            verdict: s.verdict.replace('_', " "),
            mark: match (Some(i) == c.best_step, Some(i) == c.first_failing_step) {
                (true, _) => "highest passing",
                (_, true) => "first failing",
                _ => "",
            },
            note: s.note.clone().unwrap_or_default(),
        })
        .collect();
    Some(CapacityView {
        heading: format!(
            "Capacity of job {} ({} model, varying {}){}; objectives: {}",
            c.job,
            c.load_model,
            c.knob,
            super::capacity::whose(results, c),
            c.objectives.join(", ")
        ),
        answer,
        knob: c.knob.clone(),
        steps,
        charts,
    })
}

fn status(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Complete => "complete",
        RunStatus::Interrupted => "interrupted",
        RunStatus::Failed => "failed",
        RunStatus::Aborted => "aborted",
    }
}

fn seconds(ns: u64) -> String {
    format!("{:.1} s", ns as f64 / 1e9)
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// What a reader should know before trusting the figures.
fn warnings(results: &RunResults) -> Vec<String> {
    let mut out = Vec::new();
    if results.status == RunStatus::Interrupted {
        out.push("The run was interrupted: figures cover the part that was measured.".into());
    }
    if let Some(breach) = &results.aborted {
        let early = breach.after_ns < results.duration_requested_ns;
        out.push(format!(
            "The run was aborted{} after {}: threshold `{}` at {} could no longer pass ({}). \
             Figures cover the part that was measured.",
            if early { " early" } else { "" },
            seconds(breach.after_ns),
            breach.expression,
            breach.scope,
            breach.reason
        ));
    }
    if let Some(why) = &results.capacity_not_combined {
        out.push(format!(
            "The shards' capacity searches are not added up ({why}); each shard's own search \
             is in results.json under shards."
        ));
    }
    for job in &results.jobs {
        for op in &job.operations {
            let above = op.latency_ns.above_range_count;
            if above > 0 {
                out.push(format!(
                    "Job {}, {}: {above} operations took longer than the histogram's 1 h \
                     range; percentiles among them are shown as >1h.",
                    job.name, op.op
                ));
            }
        }
        let errors = job.total_errors();
        if errors > 0 {
            out.push(format!("Job {}: {errors} operations failed.", job.name));
        }
    }
    out
}

fn host_facts(results: &RunResults) -> Vec<(&'static str, String)> {
    let h = &results.host;
    let facts = [
        ("host name", h.hostname.clone()),
        ("kernel", h.kernel_release.clone()),
        ("system", h.os_name.clone()),
        ("CPU", h.cpu_model.clone()),
        ("logical cores", h.logical_cores.map(|n| n.to_string())),
        ("memory", h.memory_bytes.map(|b| format::bytes(b as f64))),
    ];
    facts
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_else(|| "unknown".to_owned())))
        .collect()
}

fn threshold_row(t: &crate::gate::ThresholdResult) -> ThresholdRow {
    ThresholdRow {
        scope: t.scope.clone(),
        expression: t.expression.clone(),
        measured: t.measured_text.clone(),
        verdict: if t.passed { "passed" } else { "failed" },
    }
}

fn check_row(check: &crate::monitor::checks::Check) -> CheckRow {
    CheckRow {
        name: check.name.clone(),
        subject: check.subject.clone(),
        status: match check.status {
            CheckStatus::Passed => "passed",
            CheckStatus::Warned => "warning",
            CheckStatus::Failed => "failed",
        },
        explanation: check.explanation.clone(),
    }
}

/// The open model's figures as sentences; nothing for a closed model.
fn load_lines(load: Option<&LoadResults>) -> Vec<String> {
    let Some(load) = load.filter(|l| l.target_ops_per_s.is_some()) else {
        return Vec::new();
    };
    let rate = |r: Option<f64>| format::count(r.unwrap_or(0.0));
    let mut lines = vec![
        format!(
            "Target {} op/s for the whole job, {} arrivals; achieved {} op/s ({}).",
            rate(load.target_ops_per_s),
            load.arrival.as_deref().unwrap_or("uniform"),
            rate(load.achieved_ops_per_s),
            match load.sustained {
                Some(true) => "sustained",
                Some(false) => "NOT sustained",
                None => "not judged",
            }
        ),
        format!(
            "Schedule: {} of {} sends late (more than {} after their slot), lag mean {} and \
             max {}; {} skipped, {} unsent.",
            grouped(load.late_ops),
            grouped(load.sent_ops),
            format::latency(Some(load.late_after_ns)),
            format::latency(load.schedule_lag_mean_ns),
            format::latency(load.schedule_lag_max_ns),
            grouped(load.skipped_ops),
            grouped(load.unsent_ops.unwrap_or(0)),
        ),
    ];
    lines.extend(load.verdict.clone());
    lines
}

fn job_view(job: &JobResults, extras: JobExtras) -> JobView {
    JobView {
        name: job.name.clone(),
        kind: job.kind.clone(),
        load_model: job.load_model.clone(),
        workers: super::format::workers(&job.kind, job.workers),
        load: load_lines(job.load.as_ref()),
        counters: job.counters.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        ops: job.operations.iter().map(op_row).collect(),
        service: job
            .operations
            .iter()
            .filter_map(|o| Some(latency_row(&o.op, o.service_time_ns.as_ref()?)))
            .collect(),
        errors: job
            .operations
            .iter()
            .flat_map(|o| o.errors.iter().map(move |e| (o, e)))
            .map(|(o, e)| ErrorRow {
                op: o.op.clone(),
                kind: e.kind.clone(),
                count: e.count,
            })
            .collect(),
        warmup: job
            .warmup
            .iter()
            .map(|w| WarmupRow {
                op: w.op.clone(),
                count: grouped(w.count),
                errors: w.error_count,
            })
            .collect(),
        charts: extras.charts,
        hlogs: extras.hlogs,
        target: pretty(&job.target),
    }
}

fn op_row(op: &OpResults) -> OpRow {
    OpRow {
        count: grouped(op.count),
        ops_per_s: format::count(op.ops_per_s),
        bandwidth: if op.bytes > 0 {
            format!("{}/s", format::bytes(op.bytes_per_s))
        } else {
            "-".to_owned()
        },
        errors: op.error_count,
        ..latency_row(&op.op, &op.latency_ns)
    }
}

/// The latency columns of a row; the counting columns left as `-`.
fn latency_row(op: &str, l: &LatencySummary) -> OpRow {
    let above = l.above_range_count > 0;
    let pct = |v: Option<u64>| match v {
        None if above => ">1h".to_owned(),
        v => format::latency(v),
    };
    OpRow {
        op: op.to_owned(),
        count: "-".to_owned(),
        ops_per_s: "-".to_owned(),
        bandwidth: "-".to_owned(),
        errors: 0,
        mean: format::latency(l.mean.map(|m| m.round() as u64)),
        p50: pct(l.p50),
        p90: pct(l.p90),
        p99: pct(l.p99),
        p99_9: pct(l.p99_9),
        p99_99: pct(l.p99_99),
        max: format::latency(l.max),
    }
}

/// `1234567` as `1,234,567`: exact counts, readable.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
