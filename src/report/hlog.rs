//! HdrHistogram interval logs (`.hlog`): one file per job and operation, in the log format
//! other HdrHistogram tools read (version 1.3: a start-time header, a column header, then one
//! line per interval holding its start and length in seconds, its max in milliseconds and its
//! V2-deflate histogram in base64). The histograms are the ones the results file stores per
//! interval, written as they are; intervals from results files older than those are left out.

use std::fmt::Write as _;

use crate::results::{JobResults, RunResults};

/// Latencies are recorded in nanoseconds; the max column is in milliseconds, as HdrHistogram's
/// own log writer puts it.
const MAX_VALUE_DIVISOR: f64 = 1e6;

/// The log of one operation of one job, or `None` when no interval holds its histogram.
pub fn interval_log(results: &RunResults, job: &JobResults, op: &str) -> Option<String> {
    let mut out = header(results);
    let mut lines = 0;
    for interval in &job.intervals {
        let Some(o) = interval.ops.iter().find(|o| o.op == op) else {
            continue;
        };
        let Some(data) = &o.latency_histogram else {
            continue;
        };
        let _ = writeln!(
            out,
            "{:.3},{:.3},{:.3},{data}",
            interval.start_ns as f64 / 1e9,
            interval.duration_ns as f64 / 1e9,
            o.latency_ns.max.unwrap_or(0) as f64 / MAX_VALUE_DIVISOR,
        );
        lines += 1;
    }
    (lines > 0).then_some(out)
}

/// Timestamps in the lines count from the start of measurement, which the StartTime header
/// gives as seconds since the epoch.
fn header(results: &RunResults) -> String {
    let start = measurement_start_s(results);
    let mut out = String::new();
    let _ = writeln!(out, "#[Histogram log format version 1.3]");
    let _ = writeln!(
        out,
        "#[StartTime: {start:.3} (seconds since epoch), measurement start of the run begun {}]",
        results.started_at
    );
    let _ = writeln!(out, "#[BaseTime: {start:.3} (seconds since epoch)]");
    let _ = writeln!(out, "#[Latency values in nanoseconds]");
    let _ = writeln!(
        out,
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
    );
    out
}

fn measurement_start_s(results: &RunResults) -> f64 {
    let started = humantime::parse_rfc3339_weak(&results.started_at)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64());
    started + results.warmup_ns as f64 / 1e9
}
