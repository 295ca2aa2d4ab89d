//! What each chart of a report shows, derived from a results file alone: per job, throughput
//! and latency over time, the percentile spectrum, a latency histogram and errors over time.
//! It picks units and labels; it does not draw (that is `charts`) and does not read
//! anything the results file does not hold. Charts whose data a results file lacks (resource
//! use, open-model target rate and service time) are simply not made.

use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;

use super::charts::{Axis, Band, Chart, Line, Scale};
use super::format;
use super::html::grouped;
use crate::measure::{LatencyHistogram, Quantile, Value};
use crate::results::{EncodedHistogram, IntervalResults, JobResults, OpResults, RunResults};

const TIME_AXIS: &str = "time since measurement began (s)";
/// Spectrum points per decade of 1/(1-p).
const SPECTRUM_STEPS: u32 = 40;
/// Buckets per doubling of latency in the histogram chart.
const BUCKETS_PER_DOUBLING: f64 = 4.0;
/// An interval shorter than 1/5 of the usual length gives no rate point.
const MIN_RATE_SHARE_INV: u64 = 5;

/// A latency unit that keeps a chart's numbers between about 1 and 1000.
#[derive(Debug, Clone, Copy)]
struct Unit {
    name: &'static str,
    ns: f64,
}

impl Unit {
    fn for_ns(largest_ns: f64) -> Unit {
        match largest_ns {
            v if v < 1e4 => Unit {
                name: "µs",
                ns: 1e3,
            },
            v if v < 1e7 => Unit {
                name: "ms",
                ns: 1e6,
            }
            .finer_if(v < 2e6),
            _ => Unit { name: "s", ns: 1e9 }.finer_if(largest_ns < 2e10),
        }
    }

    /// Milliseconds read better than 0.5 s; microseconds better than 0.8 ms.
    fn finer_if(self, finer: bool) -> Unit {
        match (finer, self.name) {
            (true, "ms") => Unit {
                name: "µs",
                ns: 1e3,
            },
            (true, "s") => Unit {
                name: "ms",
                ns: 1e6,
            },
            _ => self,
        }
    }
}

/// Every chart of one job, in page order.
pub fn job_charts(results: &RunResults, index: usize, job: &JobResults) -> Vec<Chart> {
    let prefix = format!("job{}-{}", index + 1, file_safe(&job.name));
    let warmup = warmup_band(results);
    let span = TimeSpan {
        warmup: &warmup,
        requested_ns: results.duration_requested_ns,
        measured_ns: results.measured_ns,
        interval_ns: results.interval_ns,
        from_s: -(results.warmup_ns as f64 / 1e9),
        to_s: (results.measured_ns as f64 / 1e9).max(1e-3),
    };
    let mut charts = vec![throughput(&prefix, job, span)];
    charts.extend(
        op_names(job)
            .iter()
            .map(|op| latency_over_time(&prefix, job, op, span)),
    );
    let ops: Vec<&OpResults> = job.operations.iter().filter(|o| o.count > 0).collect();
    if !ops.is_empty() {
        charts.push(spectrum(&prefix, job, &ops));
        charts.push(histogram(&prefix, job, &ops));
    }
    if job.total_errors() > 0 {
        charts.push(errors_over_time(&prefix, job, span));
    }
    charts
}

/// Only letters, digits, `-` and `_`: job names are typed by users and become file names.
pub fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The x extent of time charts, warmup (shaded, before zero) and the measured window, and
/// which intervals they draw.
#[derive(Clone, Copy)]
struct TimeSpan<'a> {
    warmup: &'a [Band],
    requested_ns: u64,
    measured_ns: u64,
    interval_ns: u64,
    from_s: f64,
    to_s: f64,
}

impl TimeSpan<'_> {
    /// The part of an interval inside the measured window: the last one is cut short when the
    /// run ends (or is stopped) part-way through it.
    fn measured_part_ns(&self, i: &IntervalResults) -> u64 {
        (i.start_ns + i.duration_ns)
            .min(self.measured_ns)
            .saturating_sub(i.start_ns)
    }

    /// An interval from the requested end on holds only the operations still in flight then,
    /// over the few milliseconds the slowest of them took to finish.
    fn is_drain(&self, i: &IntervalResults) -> bool {
        i.start_ns >= self.requested_ns
    }

    /// Whether time charts draw the interval: not the drain, whose few stragglers would read
    /// as a latency spike and a collapse in throughput, and not a last sliver of a stopped run
    /// too short to say much. The sliver is measured against the run's interval, as results
    /// give the last interval only the length it ran.
    fn draws(&self, i: &IntervalResults) -> bool {
        let part = self.measured_part_ns(i);
        !self.is_drain(i) && part > 0 && part * MIN_RATE_SHARE_INV >= self.interval_ns
    }

    /// A rate point at the interval's midpoint, for an interval the charts draw.
    fn rate_point(&self, n: u64, i: &IntervalResults) -> Option<(f64, f64)> {
        let part = self.measured_part_ns(i);
        self.draws(i)
            .then(|| (midpoint_s(i), n as f64 * 1e9 / part as f64))
    }

    /// The caption's word on the intervals left out, with the operations of `op` (of every
    /// kind when `None`) that ended in them; none when no such operation was left out.
    fn left_out_note(&self, job: &JobResults, op: Option<&str>) -> Option<String> {
        let left: Vec<&IntervalResults> = job.intervals.iter().filter(|i| !self.draws(i)).collect();
        let first = left.first()?;
        let count: u64 = left
            .iter()
            .flat_map(|i| &i.ops)
            .filter(|o| op.is_none_or(|op| o.op == op))
            .map(|o| o.count)
            .sum();
        if op.is_some() && count == 0 {
            return None;
        }
        let length = format::latency(Some(left.iter().map(|i| self.measured_part_ns(i)).sum()));
        let from_s = first.start_ns as f64 / 1e9;
        let operations = format!(
            "{} operation{}",
            grouped(count),
            if count == 1 { "" } else { "s" }
        );
        let what = if left.iter().all(|i| self.is_drain(i)) {
            format!(
                "the drain after the requested end ({length} from {from_s:.2} s, {operations} \
                 still in flight at the end)"
            )
        } else {
            format!(
                "the last {length} from {from_s:.2} s ({operations}), under a fifth of an \
                 interval and too short to plot"
            )
        };
        Some(format!("Not drawn: {what}; results.json keeps it."))
    }
}

fn warmup_band(results: &RunResults) -> Vec<Band> {
    if results.warmup_ns == 0 {
        return Vec::new();
    }
    vec![Band {
        from: -(results.warmup_ns as f64 / 1e9),
        to: 0.0,
        label: "warmup (not measured)".to_owned(),
    }]
}

/// Operation names in the job's order, including those seen only in the series.
fn op_names(job: &JobResults) -> Vec<String> {
    let mut names: Vec<String> = job.operations.iter().map(|o| o.op.clone()).collect();
    for op in job.intervals.iter().flat_map(|i| &i.ops) {
        if !names.contains(&op.op) {
            names.push(op.op.clone());
        }
    }
    names
}

fn midpoint_s(i: &IntervalResults) -> f64 {
    (i.start_ns as f64 + i.duration_ns as f64 / 2.0) / 1e9
}

/// A chart over the measured window, `note` saying what it leaves out.
fn time_chart(
    id: String,
    title: String,
    y: Axis,
    lines: Vec<Line>,
    span: TimeSpan,
    note: Option<String>,
) -> Chart {
    Chart {
        id,
        title,
        x: Axis {
            label: TIME_AXIS.to_owned(),
            scale: Scale::Linear,
        },
        y,
        lines,
        bands: span.warmup.to_vec(),
        x_span: Some((span.from_s, span.to_s)),
        marks: Vec::new(),
        note,
    }
}

fn throughput(prefix: &str, job: &JobResults, span: TimeSpan) -> Chart {
    let lines = op_names(job)
        .into_iter()
        .map(|op| {
            let points = job
                .intervals
                .iter()
                .filter_map(|i| {
                    let count = i.ops.iter().find(|o| o.op == op).map_or(0, |o| o.count);
                    span.rate_point(count, i)
                })
                .collect();
            Line { name: op, points }
        })
        .chain(open_model_lines(job, span))
        .collect();
    let y = Axis {
        label: "throughput (operations/s)".to_owned(),
        scale: Scale::Linear,
    };
    let title = format!("{}: throughput", job.name);
    let note = span.left_out_note(job, None);
    time_chart(format!("{prefix}-throughput"), title, y, lines, span, note)
}

/// Open model: the target rate per interval, from the rate profile, and the rate sent.
fn open_model_lines(job: &JobResults, span: TimeSpan) -> Vec<Line> {
    let Some(profile) = job.load.as_ref().and_then(|l| l.profile.as_ref()) else {
        return Vec::new();
    };
    let target = job
        .intervals
        .iter()
        .filter(|i| span.draws(i))
        .map(|i| {
            let (from, to) = (
                i.start_ns as f64 / 1e9,
                (i.start_ns + i.duration_ns) as f64 / 1e9,
            );
            let rate = (profile.integral(to) - profile.integral(from)) / (to - from);
            (midpoint_s(i), rate)
        })
        .collect();
    let sent = job
        .intervals
        .iter()
        .filter_map(|i| span.rate_point(i.schedule?.sent_ops, i))
        .collect();
    vec![
        Line {
            name: "target rate".to_owned(),
            points: target,
        },
        Line {
            name: "sent, all operations".to_owned(),
            points: sent,
        },
    ]
}

fn latency_over_time(prefix: &str, job: &JobResults, op: &str, span: TimeSpan) -> Chart {
    let samples: Vec<(f64, [Option<u64>; 4])> = job
        .intervals
        .iter()
        .filter(|i| span.draws(i))
        .filter_map(|i| Some((i, i.ops.iter().find(|o| o.op == op)?)))
        .map(|(i, o)| {
            let l = o.latency_ns;
            (midpoint_s(i), [l.p50, l.p99, l.p99_9, l.max])
        })
        .collect();
    let largest = samples.iter().filter_map(|s| s.1[3]).max().unwrap_or(0);
    let unit = Unit::for_ns(largest as f64);
    let lines = ["p50", "p99", "p99.9", "max"]
        .iter()
        .enumerate()
        .map(|(k, name)| Line {
            name: (*name).to_owned(),
            points: samples
                .iter()
                .filter_map(|(t, v)| Some((*t, v[k]? as f64 / unit.ns)))
                .collect(),
        })
        .collect();
    let y = Axis {
        label: format!("latency ({}, log scale)", unit.name),
        scale: Scale::Log,
    };
    let id = format!("{prefix}-latency-{}", file_safe(op));
    let title = format!("{}: {op} latency per interval", job.name);
    let note = span.left_out_note(job, Some(op));
    time_chart(id, title, y, lines, span, note)
}

fn spectrum(prefix: &str, job: &JobResults, ops: &[&OpResults]) -> Chart {
    let largest = ops
        .iter()
        .filter_map(|o| o.latency_ns.max)
        .max()
        .unwrap_or(0);
    let unit = Unit::for_ns(largest as f64);
    let latency = ops.iter().map(|op| Line {
        name: op.op.clone(),
        points: spectrum_points(&op.latency_histogram, unit),
    });
    let service = ops.iter().filter_map(|op| {
        Some(Line {
            name: format!("{} service time", op.op),
            points: spectrum_points(op.service_time_histogram.as_ref()?, unit),
        })
    });
    let lines = latency.chain(service).collect();
    Chart {
        id: format!("{prefix}-percentiles"),
        title: if ops.iter().any(|o| o.service_time_histogram.is_some()) {
            format!("{}: latency and service time by percentile", job.name)
        } else {
            format!("{}: latency by percentile", job.name)
        },
        x: Axis {
            label: "percentile".to_owned(),
            scale: Scale::Percentile,
        },
        y: Axis {
            label: format!("latency ({})", unit.name),
            scale: Scale::Linear,
        },
        lines,
        bands: Vec::new(),
        x_span: None,
        marks: Vec::new(),
        note: None,
    }
}

/// Points at x = log10(1/(1-p)), up to where the sample count still resolves a percentile.
fn spectrum_points(encoded: &EncodedHistogram, unit: Unit) -> Vec<(f64, f64)> {
    let Ok(hist) = encoded.decode() else {
        return Vec::new();
    };
    let top = (hist.count().max(1) as f64).log10().min(6.0);
    let steps = (top * SPECTRUM_STEPS as f64).floor() as u32;
    let xs: Vec<f64> = (0..=steps)
        .map(|s| s as f64 / SPECTRUM_STEPS as f64)
        .collect();
    let quantiles: Vec<Quantile> = xs
        .iter()
        .map(|x| Quantile(((1.0 - 10f64.powf(-x)) * 1e6).round().min(999_999.0) as u32))
        .collect();
    let values = hist.percentiles(&quantiles);
    let mut points: Vec<(f64, f64)> = xs
        .iter()
        .zip(values)
        .filter_map(|(x, v)| match v {
            Value::Ns(ns) => Some((*x, ns as f64 / unit.ns)),
            _ => None,
        })
        .collect();
    push_max(&mut points, &hist, top, unit);
    points
}

/// The spectrum ends at the largest sample, where the count runs out.
fn push_max(points: &mut Vec<(f64, f64)>, hist: &LatencyHistogram, top: f64, unit: Unit) {
    if let (Some(max), Some(last)) = (hist.max(), points.last())
        && last.0 < top
    {
        points.push((top, max as f64 / unit.ns));
    }
}

fn histogram(prefix: &str, job: &JobResults, ops: &[&OpResults]) -> Chart {
    let largest = ops
        .iter()
        .filter_map(|o| o.latency_ns.max)
        .max()
        .unwrap_or(0);
    let unit = Unit::for_ns(largest as f64);
    let lines = ops
        .iter()
        .map(|op| Line {
            name: op.op.clone(),
            points: histogram_steps(op, unit),
        })
        .collect();
    Chart {
        id: format!("{prefix}-histogram"),
        title: format!(
            "{}: latency histogram ({BUCKETS_PER_DOUBLING} buckets per doubling)",
            job.name
        ),
        x: Axis {
            label: format!("latency ({}, log scale)", unit.name),
            scale: Scale::Log,
        },
        y: Axis {
            label: format!(
                "share of operations per bucket (%), {BUCKETS_PER_DOUBLING} buckets per doubling"
            ),
            scale: Scale::Linear,
        },
        lines,
        bands: Vec::new(),
        x_span: None,
        marks: Vec::new(),
        note: None,
    }
}

/// A step outline over log-spaced buckets: each bucket's share of the operations as a flat top.
fn histogram_steps(op: &OpResults, unit: Unit) -> Vec<(f64, f64)> {
    let Some(hist) = raw_histogram(&op.latency_histogram.data) else {
        return Vec::new();
    };
    if hist.is_empty() {
        return Vec::new();
    }
    let total = hist.len() as f64;
    let factor = 2f64.powf(1.0 / BUCKETS_PER_DOUBLING);
    let first = hist.min().max(1);
    let mut lower = first as f64;
    let mut points = Vec::new();
    for bucket in hist.iter_log(first, factor) {
        let upper = bucket.value_iterated_to() as f64;
        let share = 100.0 * bucket.count_since_last_iteration() as f64 / total;
        points.push((lower / unit.ns, share));
        points.push((upper.max(lower) / unit.ns, share));
        lower = upper;
    }
    points
}

/// The stored histogram as the HdrHistogram crate's own type, to walk its buckets.
fn raw_histogram(base64_data: &str) -> Option<Histogram<u64>> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64_data)
        .ok()?;
    Deserializer::new().deserialize(&mut bytes.as_slice()).ok()
}

fn errors_over_time(prefix: &str, job: &JobResults, span: TimeSpan) -> Chart {
    let mut kinds: Vec<String> = Vec::new();
    for e in job
        .intervals
        .iter()
        .flat_map(|i| &i.ops)
        .flat_map(|o| &o.errors)
    {
        if !kinds.contains(&e.kind) {
            kinds.push(e.kind.clone());
        }
    }
    let lines = kinds
        .into_iter()
        .map(|kind| {
            let points = job
                .intervals
                .iter()
                .filter_map(|i| {
                    let n = i.ops.iter().flat_map(|o| &o.errors);
                    let n = n.filter(|e| e.kind == kind).map(|e| e.count).sum();
                    span.rate_point(n, i)
                })
                .collect();
            Line { name: kind, points }
        })
        .collect();
    let y = Axis {
        label: "errors/s".to_owned(),
        scale: Scale::Linear,
    };
    let title = format!("{}: errors by kind", job.name);
    let note = span.left_out_note(job, None);
    time_chart(format!("{prefix}-errors"), title, y, lines, span, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_keep_numbers_readable() {
        assert_eq!(Unit::for_ns(500.0).name, "µs");
        assert_eq!(Unit::for_ns(150_000.0).name, "µs");
        assert_eq!(Unit::for_ns(5e6).name, "ms");
        assert_eq!(Unit::for_ns(3e9).name, "ms");
        assert_eq!(Unit::for_ns(60e9).name, "s");
    }

    #[test]
    fn file_names_keep_only_safe_characters() {
        assert_eq!(file_safe("<script>/../x y"), "_script_____x_y");
    }
}
