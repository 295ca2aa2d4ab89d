//! The summary a person reads at a glance after a run: one table per job.

use std::fmt::Write as _;

use super::format;
use crate::monitor::checks::{Check, CheckStatus};
use crate::results::{JobResults, LoadResults, OpResults, RunResults, RunStatus};

pub fn summary(results: &RunResults) -> String {
    let mut out = String::new();
    let status = match results.status {
        RunStatus::Complete => "complete",
        RunStatus::Interrupted => "INTERRUPTED",
        RunStatus::Failed => "FAILED",
        RunStatus::Aborted => "ABORTED",
    };
    let _ = writeln!(
        out,
        "{}: {status}{}, measured {:.1} s (warmup {:.1} s)",
        results
            .workload
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or("workload"),
        shard_note(results),
        results.measured_ns as f64 / 1e9,
        results.warmup_ns as f64 / 1e9,
    );
    if let Some(failure) = &results.failure {
        let _ = writeln!(out, "  failure: {failure}");
    }
    if let Some(breach) = &results.aborted {
        let _ = writeln!(
            out,
            "  aborted after {:.1} s: `{}` at {} can no longer pass ({})",
            breach.after_ns as f64 / 1e9,
            breach.expression,
            breach.scope,
            breach.reason
        );
    }
    for job in &results.jobs {
        out.push('\n');
        job_table(&mut out, job);
    }
    resources_and_checks(&mut out, results);
    thresholds(&mut out, results);
    out
}

/// ` (shard 2 of 4)`, or ` (4 shards merged)`: the figures are a part, or a sum.
fn shard_note(results: &RunResults) -> String {
    match (&results.shard, results.shards.len()) {
        (Some(shard), _) => format!(" (shard {} of {})", shard.index, shard.count),
        (None, 0) => String::new(),
        (None, n) => format!(" ({n} shards merged)"),
    }
}

/// How many thresholds passed, then each failed one with what was measured.
fn thresholds(out: &mut String, results: &RunResults) {
    let all = &results.thresholds;
    if all.is_empty() {
        return;
    }
    let failed = all.iter().filter(|t| !t.passed).count();
    let _ = writeln!(
        out,
        "\nthresholds: {} of {} passed",
        all.len() - failed,
        all.len()
    );
    out.push_str(&failed_thresholds(results));
}

/// One line per failed threshold, with what was measured; empty when none failed. `--quiet`
/// prints these alone, since a CI job that sets a threshold wants to see which one failed.
pub fn failed_thresholds(results: &RunResults) -> String {
    let mut out = String::new();
    for t in results.thresholds.iter().filter(|t| !t.passed) {
        let what = if t.measured_text.starts_with("no samples") {
            t.measured_text.clone()
        } else {
            format!("measured {}", t.measured_text)
        };
        let _ = writeln!(out, "  FAILED {}: `{}` ({what})", t.scope, t.expression);
    }
    out
}

/// One line of means and peaks from the sampler, then the checks: passed ones by name, the
/// others with their explanation.
fn resources_and_checks(out: &mut String, results: &RunResults) {
    if let Some(r) = &results.resources {
        let _ = writeln!(out, "\nresources: {}", crate::monitor::summary_line(r));
    }
    if results.checks.is_empty() {
        return;
    }
    let (passed, doubtful): (Vec<&Check>, Vec<&Check>) = results
        .checks
        .iter()
        .partition(|c| c.status == CheckStatus::Passed);
    let names: Vec<String> = passed.into_iter().map(check_name).collect();
    let _ = writeln!(out, "checks passed: {}", names.join(", "));
    for check in doubtful {
        let status = match check.status {
            CheckStatus::Failed => "FAILED",
            _ => "warning",
        };
        let _ = writeln!(
            out,
            "  {status} {}: {}",
            check_name(check),
            check.explanation
        );
    }
}

fn check_name(check: &Check) -> String {
    match &check.subject {
        Some(subject) => format!("{} [{subject}]", check.name),
        None => check.name.clone(),
    }
}

fn job_table(out: &mut String, job: &JobResults) {
    let _ = writeln!(out, "job {} ({}){}", job.name, job.kind, target_line(job));
    if let Some(load) = job.load.as_ref().filter(|l| l.model == "open") {
        open_model_lines(out, load);
    }
    let width = op_width(&job.operations);
    let _ = writeln!(
        out,
        "  {:<width$} {:>9} {:>9} {:>12} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "op", "ops", "op/s", "bandwidth", "p50", "p99", "p99.9", "max", "errors"
    );
    if job.operations.is_empty() {
        let _ = writeln!(out, "  (no operations completed in the measured window)");
    }
    for op in &job.operations {
        op_row(out, op, width);
    }
    service_rows(out, &job.operations, width);
    // Zeros stay in results.json; here they would only list what the job never did (the
    // hits of a job without GETs, the lock waits of a server that has none).
    let counts: Vec<String> = job
        .counters
        .iter()
        .filter(|(_, v)| **v > 0)
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if !counts.is_empty() {
        let _ = writeln!(out, "  counters: {}", counts.join(", "));
    }
    for op in &job.operations {
        for error in &op.errors {
            let _ = writeln!(out, "  {} errors: {} × {}", op.op, error.count, error.kind);
        }
        if op.latency_ns.above_range_count > 0 {
            let _ = writeln!(
                out,
                "  {}: {} operations took longer than the histogram's 1 h range; percentiles \
                 that fall among them are shown as >1h",
                op.op, op.latency_ns.above_range_count
            );
        }
    }
}

/// The open model's header: the target rate (for the whole job), what was achieved, how late
/// the sends were, and the verdict when the rate was not kept.
fn open_model_lines(out: &mut String, load: &LoadResults) {
    let profile = load
        .profile
        .as_ref()
        .and_then(|p| serde_json::to_value(p).ok())
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  open model: target {} op/s for the whole job (not per connection), {profile}, {} \
         arrivals; achieved {} op/s",
        format::count(load.target_ops_per_s.unwrap_or(0.0)),
        load.arrival.as_deref().unwrap_or("uniform"),
        format::count(load.achieved_ops_per_s.unwrap_or(0.0)),
    );
    let _ = writeln!(
        out,
        "  schedule: {} of {} sends late (>{}), lag mean {} max {}; {} skipped, {} unsent",
        load.late_ops,
        load.sent_ops,
        format::latency(Some(load.late_after_ns)),
        format::latency(load.schedule_lag_mean_ns),
        format::latency(load.schedule_lag_max_ns),
        load.skipped_ops,
        load.unsent_ops.unwrap_or(0),
    );
    if load.dropped_ops > 0 {
        let _ = writeln!(
            out,
            "  dropped: {} slots came due with every in-flight slot busy",
            load.dropped_ops
        );
    }
    if let Some(verdict) = &load.verdict {
        let _ = writeln!(
            out,
            "  {}",
            verdict.replacen("target rate not sustained", "TARGET RATE NOT SUSTAINED", 1)
        );
    }
}

/// Send-to-reply times beside the latency table, for the open model.
fn service_rows(out: &mut String, ops: &[OpResults], width: usize) {
    let with_service: Vec<_> = ops
        .iter()
        .filter_map(|op| Some((op, op.service_time_ns.as_ref()?)))
        .collect();
    if with_service.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "  service time (send to reply; latency above is from the slot):"
    );
    for (op, s) in with_service {
        let _ = writeln!(
            out,
            "  {:<width$} {:>9} {:>9} {:>12} {:>9} {:>9} {:>9} {:>9}",
            fit(&op.op, width),
            "",
            "",
            "",
            format::latency(s.p50),
            format::latency(s.p99),
            format::latency(s.p99_9),
            format::latency(s.max),
        );
    }
}

fn op_row(out: &mut String, op: &OpResults, width: usize) {
    let l = &op.latency_ns;
    let above = l.above_range_count > 0;
    let pct = |v: Option<u64>| match v {
        None if above => ">1h".to_owned(),
        v => format::latency(v),
    };
    let _ = writeln!(
        out,
        "  {:<width$} {:>9} {:>9} {:>12} {:>9} {:>9} {:>9} {:>9} {:>8}",
        fit(&op.op, width),
        format::whole(op.count),
        format::count(op.ops_per_s),
        if op.bytes > 0 {
            format!("{}/s", format::bytes(op.bytes_per_s))
        } else {
            "-".into()
        },
        pct(l.p50),
        pct(l.p99),
        pct(l.p99_9),
        format::latency(l.max),
        op.error_count,
    );
}

/// `, io_uring, direct, 4 workers, ./x.dat` from whatever the driver reported.
fn target_line(job: &JobResults) -> String {
    let t = &job.target;
    let mut parts = Vec::new();
    if let Some(engine) = t.get("engine").and_then(|v| v.as_str()) {
        parts.push(engine.to_owned());
    }
    if t.get("direct").and_then(|v| v.as_bool()) == Some(true) {
        parts.push("direct".to_owned());
    }
    parts.push(format::workers(&job.kind, job.workers));
    if let Some(path) = t.get("path").and_then(|v| v.as_str()) {
        parts.push(path.to_owned());
    }
    // Already redacted by the driver: no password reaches the summary.
    let connections_of = |n: u64| format!("{n} connection{}", if n == 1 { "" } else { "s" });
    if let Some(url) = t.get("url").and_then(|v| v.as_str()) {
        let connections =
            connections_of(t.get("connections").and_then(|v| v.as_u64()).unwrap_or(0));
        // A SQL connection carries one transaction at a time: it has no pipeline to show.
        match t.get("pipeline").and_then(|v| v.as_u64()) {
            Some(pipeline) => parts.push(format!("{connections}, pipeline {pipeline}, {url}")),
            None => parts.push(format!("{connections}, {url}")),
        }
    }
    if let Some(url) = t.get("base_url").and_then(|v| v.as_str()) {
        let connections = connections_of(t.get("pool_size").and_then(|v| v.as_u64()).unwrap_or(0));
        parts.push(format!("{connections}, {url}"));
    }
    format!(": {}", parts.join(", "))
}

/// The op column fits the longest name up to this many characters; a longer name is cut in
/// the middle, where names made of a prefix and a suffix differ least.
const MAX_OP_WIDTH: usize = 40;

/// The op column's width for these operations: at least the header's 10.
fn op_width(ops: &[OpResults]) -> usize {
    let longest = ops.iter().map(|o| o.op.chars().count()).max();
    longest.unwrap_or(0).clamp(10, MAX_OP_WIDTH)
}

/// `name` in at most `width` characters: whole, or its start and end around `…`.
fn fit(name: &str, width: usize) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= width {
        return name.to_owned();
    }
    let tail = (width - 1) / 2;
    let head = width - 1 - tail;
    let start: String = chars[..head].iter().collect();
    let end: String = chars[chars.len() - tail..].iter().collect();
    format!("{start}…{end}")
}
