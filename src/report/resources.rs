//! The resource charts of a report, from the results' `resources` section: host CPU split,
//! memory, each device's utilisation and queue size, plimsoll's own CPU and the watched
//! processes' CPU and memory. A results file without that section (sampling off, or an older
//! file) gets none of them. It picks what to plot; `charts` draws.

use super::charts::{Axis, Chart, Line, Scale};
use crate::monitor::{ResourceInterval, ResourceSeries};
use crate::results::RunResults;

const TIME_AXIS: &str = "time since measurement began (s)";
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

/// Every resource chart, in page order; empty without a `resources` section.
pub fn charts(results: &RunResults) -> Vec<Chart> {
    let Some(r) = &results.resources else {
        return Vec::new();
    };
    if r.intervals.is_empty() {
        return Vec::new();
    }
    let span = (0.0, (results.measured_ns as f64 / 1e9).max(1e-3));
    let mut out = vec![cpu(r, span), memory(r, span), plimsoll_cpu(r, span)];
    if r.intervals.iter().any(|i| !i.devices.is_empty()) {
        out.push(device_chart(r, span, Device::Utilisation));
        out.push(device_chart(r, span, Device::QueueSize));
    }
    if r.intervals.iter().any(|i| !i.watched.is_empty()) {
        out.push(watched(r, span, Watched::Cpu));
        out.push(watched(r, span, Watched::Memory));
    }
    out
}

fn midpoint_s(i: &ResourceInterval) -> f64 {
    (i.start_ns as f64 + i.duration_ns as f64 / 2.0) / 1e9
}

fn line(name: &str, r: &ResourceSeries, value: impl Fn(&ResourceInterval) -> Option<f64>) -> Line {
    Line {
        name: name.to_owned(),
        points: r
            .intervals
            .iter()
            .filter_map(|i| Some((midpoint_s(i), value(i)?)))
            .collect(),
    }
}

fn chart(id: &str, title: &str, y_label: &str, lines: Vec<Line>, span: (f64, f64)) -> Chart {
    Chart {
        id: format!("resources-{id}"),
        title: title.to_owned(),
        x: Axis {
            label: TIME_AXIS.to_owned(),
            scale: Scale::Linear,
        },
        y: Axis {
            label: y_label.to_owned(),
            scale: Scale::Linear,
        },
        lines,
        bands: Vec::new(),
        x_span: Some(span),
        marks: Vec::new(),
        note: None,
    }
}

fn cpu(r: &ResourceSeries, span: (f64, f64)) -> Chart {
    let lines = vec![
        line("user", r, |i| Some(i.cpu.user_pct)),
        line("system", r, |i| Some(i.cpu.system_pct)),
        line("irq", r, |i| Some(i.cpu.irq_pct)),
        line("iowait", r, |i| Some(i.cpu.iowait_pct)),
        line("steal", r, |i| Some(i.cpu.steal_pct)),
        line("busy", r, |i| Some(i.cpu.busy_pct)),
    ];
    let title = format!(
        "host CPU, {} cores (busy: all but idle and iowait)",
        r.host_cores
    );
    chart("cpu", &title, "share of all cores (%)", lines, span)
}

fn memory(r: &ResourceSeries, span: (f64, f64)) -> Chart {
    let gib = |b: u64| Some(b as f64 / GIB);
    let lines = vec![
        line("used", r, |i| gib(i.memory.used_bytes)),
        line("page cache", r, |i| gib(i.memory.cached_bytes)),
        line("available", r, |i| gib(i.memory.available_bytes)),
    ];
    chart("memory", "host memory", "memory (GiB)", lines, span)
}

fn plimsoll_cpu(r: &ResourceSeries, span: (f64, f64)) -> Chart {
    let lines = vec![
        line("all threads", r, |i| Some(i.plimsoll.cpu_cores)),
        line("busiest thread", r, |i| {
            i.busiest_thread.as_ref().map(|t| t.cpu_cores)
        }),
    ];
    chart(
        "plimsoll-cpu",
        "plimsoll's own CPU",
        "CPU (cores)",
        lines,
        span,
    )
}

#[derive(Clone, Copy)]
enum Device {
    Utilisation,
    QueueSize,
}

fn device_chart(r: &ResourceSeries, span: (f64, f64), what: Device) -> Chart {
    let lines = names(r, |i| i.devices.iter().map(|d| d.device.clone()).collect())
        .into_iter()
        .map(|name| {
            line(&name, r, |i| {
                let d = i.devices.iter().find(|d| d.device == name)?;
                Some(match what {
                    Device::Utilisation => d.utilisation_pct,
                    Device::QueueSize => d.avg_queue_size,
                })
            })
        })
        .collect();
    match what {
        Device::Utilisation => chart(
            "device-utilisation",
            "device utilisation",
            "time with a request in flight (%)",
            lines,
            span,
        ),
        Device::QueueSize => chart(
            "device-queue",
            "device queue size",
            "mean requests in flight",
            lines,
            span,
        ),
    }
}

#[derive(Clone, Copy)]
enum Watched {
    Cpu,
    Memory,
}

fn watched(r: &ResourceSeries, span: (f64, f64), what: Watched) -> Chart {
    let lines = names(r, |i| i.watched.iter().map(|w| w.watch.clone()).collect())
        .into_iter()
        .map(|name| {
            line(&name, r, |i| {
                let w = i.watched.iter().find(|w| w.watch == name)?;
                Some(match what {
                    Watched::Cpu => w.cpu_cores,
                    Watched::Memory => w.rss_bytes as f64 / MIB,
                })
            })
        })
        .collect();
    match what {
        Watched::Cpu => chart(
            "watched-cpu",
            "watched processes: CPU",
            "CPU (cores)",
            lines,
            span,
        ),
        Watched::Memory => chart(
            "watched-memory",
            "watched processes: resident memory",
            "resident memory (MiB)",
            lines,
            span,
        ),
    }
}

/// Distinct names over the whole series, in order of first appearance.
fn names(r: &ResourceSeries, of: impl Fn(&ResourceInterval) -> Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in r.intervals.iter().flat_map(of) {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}
