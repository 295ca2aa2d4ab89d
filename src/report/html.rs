//! The report page: a view of the results (header, host, per-job tables, charts) rendered
//! through the bundled template with HTML auto-escaping, so whatever a user typed (workload and
//! job names, paths, error texts) reaches the page as text, never as markup. Charts arrive as
//! finished SVG documents; this module does not draw, write files or redact (the caller hands
//! it results that are already redacted).

use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use super::format;
use crate::results::{JobResults, OpResults, RunResults, RunStatus};

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
    jobs: Vec<JobView>,
    workload_file: Option<String>,
    workload: String,
}

#[derive(Serialize)]
struct JobView {
    name: String,
    kind: String,
    load_model: String,
    workers: usize,
    ops: Vec<OpRow>,
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
pub fn render(results: &RunResults, extras: Vec<JobExtras>) -> Result<String, PageError> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.add_template("report.html", TEMPLATE)?;
    let page = page(results, extras);
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
        jobs,
        workload_file: results.workload_file.clone(),
        workload: pretty(&results.workload),
    }
}

fn status(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Complete => "complete",
        RunStatus::Interrupted => "interrupted",
        RunStatus::Failed => "failed",
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

fn job_view(job: &JobResults, extras: JobExtras) -> JobView {
    JobView {
        name: job.name.clone(),
        kind: job.kind.clone(),
        load_model: job.load_model.clone(),
        workers: job.workers,
        ops: job.operations.iter().map(op_row).collect(),
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
    let l = &op.latency_ns;
    let above = l.above_range_count > 0;
    let pct = |v: Option<u64>| match v {
        None if above => ">1h".to_owned(),
        v => format::latency(v),
    };
    OpRow {
        op: op.op.clone(),
        count: grouped(op.count),
        ops_per_s: format::count(op.ops_per_s),
        bandwidth: if op.bytes > 0 {
            format!("{}/s", format::bytes(op.bytes_per_s))
        } else {
            "-".to_owned()
        },
        errors: op.error_count,
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
