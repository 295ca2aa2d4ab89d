//! A capacity search as people read it: the step table and the answer for the terminal, and
//! the charts for the report (latency against throughput with every objective and the knee,
//! throughput against offered load, the USL curve over the measured points). Everything here
//! is made from a results file's `capacity` section alone.

use std::fmt::Write as _;

use super::charts::{Axis, Chart, Line, Mark, Scale};
use super::format;
use crate::gate::{LatencyStat, Metric, Threshold};
use crate::results::{CapacityResults, CapacityStep, RunResults};

/// A load as the knob reads: a rate with `/s`, a count as a whole number.
pub fn show_load(knob: &str, load: f64) -> String {
    match knob {
        "rate" => format!("{}/s", format::count(load)),
        _ => format!("{load:.0}"),
    }
}

/// One finished step, for the log a search prints as it goes.
pub fn step_line(knob: &str, index: usize, step: &CapacityStep) -> String {
    let mut line = format!(
        "step {index} ({}): {knob} {} -> {}/s, p99 {}, {} errors: {}",
        step.phase,
        show_load(knob, step.load),
        format::count(step.throughput_ops_per_s),
        format::latency(step.p99_ns),
        step.errors,
        verdict_word(&step.verdict),
    );
    if let Some(note) = step.note.as_deref().filter(|_| step.verdict != "pass") {
        let _ = write!(
            line,
            " ({})",
            note.split_once(": ").map_or(note, |(_, n)| n)
        );
    }
    line
}

fn verdict_word(verdict: &str) -> &str {
    match verdict {
        "pass" => "passed",
        "fail" => "FAILED",
        "no_gain" => "no gain",
        "generator_limit" => "generator limit",
        "run_failed" => "RUN FAILED",
        other => other,
    }
}

/// The step table, the answer, the headroom, why the search stopped and the USL fit. For
/// merged shards whose steps could not be added up, why not.
pub fn summary(results: &RunResults) -> String {
    let Some(c) = results.capacity.as_deref() else {
        return results
            .capacity_not_combined
            .as_deref()
            .map_or(String::new(), not_combined);
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "capacity of job `{}` ({} model, varying {}){}, objectives: {}",
        c.job,
        c.load_model,
        c.knob,
        whose(results, c),
        c.objectives.join(", ")
    );
    table(&mut out, c);
    out.push('\n');
    answer(&mut out, c);
    let spread = c.steps.iter().filter_map(|s| s.start_spread_ns).max();
    if let Some(spread) = spread {
        let _ = writeln!(
            out,
            "shards began each step within {} of each other, by their own clocks",
            format::latency(Some(spread))
        );
    }
    if results.shard.is_some() && c.current_ops_per_s.is_some() {
        let _ = writeln!(
            out,
            "headroom: not stated for one shard, whose throughput is its part of the job's; \
             `plimsoll merge` of every shard states it"
        );
    }
    out
}

/// Why merged shards have no capacity section of their own, as a sentence.
fn not_combined(why: &str) -> String {
    format!(
        "capacity: the shards' searches are not added up ({why}); each shard's own is in \
         the results under `shards`\n"
    )
}

/// Whose search it is, when not one whole job's: a shard's part, or the shards' sums.
pub(super) fn whose(results: &RunResults, c: &CapacityResults) -> String {
    match (&results.shard, c.merged_shards) {
        (Some(shard), _) => format!(" as shard {} of {}", shard.index, shard.count),
        (None, Some(n)) => format!(", {n} shards' steps added up"),
        (None, None) => String::new(),
    }
}

fn table(out: &mut String, c: &CapacityResults) {
    let _ = writeln!(
        out,
        "  {:>4}  {:<6}  {:>12}  {:>11}  {:>9}  {:>9}  {:>9}  {:>7}  {:<15}",
        "step", "phase", c.knob, "throughput", "p50", "p99", "p99.9", "errors", "verdict"
    );
    for (i, s) in c.steps.iter().enumerate() {
        let mark = match (Some(i) == c.best_step, Some(i) == c.first_failing_step) {
            (true, _) => "  <- highest passing",
            (_, true) => "  <- first failing",
            _ => "",
        };
        let _ = writeln!(
            out,
            "  {:>4}  {:<6}  {:>12}  {:>9}/s  {:>9}  {:>9}  {:>9}  {:>7}  {:<15}{mark}",
            i,
            s.phase,
            show_load(&c.knob, s.load),
            format::count(s.throughput_ops_per_s),
            format::latency(s.p50_ns),
            format::latency(s.p99_ns),
            format::latency(s.p99_9_ns),
            s.errors,
            verdict_word(&s.verdict),
        );
    }
}

fn answer(out: &mut String, c: &CapacityResults) {
    match c.best_step.map(|i| &c.steps[i]) {
        Some(best) => {
            let _ = writeln!(
                out,
                "highest passing load: {} {}: {}/s at p50 {}, p99 {}, p99.9 {}",
                c.knob,
                show_load(&c.knob, best.load),
                format::count(best.throughput_ops_per_s),
                format::latency(best.p50_ns),
                format::latency(best.p99_ns),
                format::latency(best.p99_9_ns),
            );
        }
        None => {
            let _ = writeln!(
                out,
                "highest passing load: none; no step met the objectives"
            );
        }
    }
    if let Some(fail) = c.first_failing_step.map(|i| &c.steps[i]) {
        let why = fail.note.as_deref().map_or(String::new(), |n| {
            format!(" ({})", n.split_once(": ").map_or(n, |(_, n)| n))
        });
        let _ = writeln!(
            out,
            "first failing load:   {} {}: {}/s, p99 {}, {}{why}",
            c.knob,
            show_load(&c.knob, fail.load),
            format::count(fail.throughput_ops_per_s),
            format::latency(fail.p99_ns),
            verdict_word(&fail.verdict),
        );
    }
    objectives_at(out, c);
    if let (Some(current), Some(headroom)) = (c.current_ops_per_s, c.headroom) {
        let _ = writeln!(
            out,
            "headroom: {headroom:.2}x over the current {}/s{}",
            format::count(current),
            if headroom < 1.0 {
                " (the current load is beyond what meets the objectives)"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(out, "stopped: {}", c.stop_text);
    match &c.usl {
        Some(fit) => {
            let _ = writeln!(out, "scalability: {}", fit.statement);
        }
        None if c.load_model == "closed" => {
            let _ = writeln!(
                out,
                "scalability: too few closed-model steps for a USL fit (it needs {} distinct \
                 concurrencies)",
                crate::capacity::usl::MIN_POINTS
            );
        }
        None => {}
    }
}

/// Every objective with what the highest passing step measured for it, or the first failing
/// step when none passed.
fn objectives_at(out: &mut String, c: &CapacityResults) {
    let best = c.best_step.map(|i| ("highest passing", &c.steps[i]));
    let failing = c.first_failing_step.map(|i| ("first failing", &c.steps[i]));
    let Some((which, step)) = best.or(failing) else {
        return;
    };
    let each: Vec<String> = c
        .objectives
        .iter()
        .map(|text| {
            let checked = step.thresholds.iter().filter(|t| t.expression == *text);
            let places: Vec<String> = checked
                .map(|t| {
                    let failed = if t.passed { "" } else { " FAILED" };
                    format!("{} {}{failed}", t.scope, t.measured_text)
                })
                .collect();
            if places.is_empty() {
                format!("`{text}` not checked")
            } else {
                format!("`{text}` {}", places.join(", "))
            }
        })
        .collect();
    let _ = writeln!(out, "objectives at the {which} load: {}", each.join("; "));
}

/// The report's charts for a capacity run; none for another run.
pub fn charts(results: &RunResults) -> Vec<Chart> {
    let Some(c) = results.capacity.as_deref() else {
        return Vec::new();
    };
    let mut charts = vec![hockey_stick(c), offered(c)];
    charts.extend(usl_chart(c));
    charts
}

/// The judged steps, in load order.
fn judged(c: &CapacityResults) -> Vec<&CapacityStep> {
    let mut steps: Vec<&CapacityStep> = c.steps.iter().filter(|s| s.phase != "warm").collect();
    steps.sort_by(|a, b| a.load.total_cmp(&b.load));
    steps
}

/// What a step's statistic was, in milliseconds. p50, p99 and p99.9 are kept with the step;
/// another statistic an objective names is read from the step's own histograms.
fn stat_ms(step: &CapacityStep, stat: LatencyStat) -> f64 {
    let ns = match stat {
        LatencyStat::P50 => step.p50_ns.map(|ns| ns as f64),
        LatencyStat::P99 => step.p99_ns.map(|ns| ns as f64),
        LatencyStat::P99_9 => step.p99_9_ns.map(|ns| ns as f64),
        other => other.read(&crate::capacity::merged_latency(&step.job).summary()),
    };
    ns.map_or(f64::NAN, |ns| ns / 1e6)
}

/// p50, p99 and p99.9 against throughput, and any other statistic an objective bounds, so
/// every latency rule has its line.
fn stat_lines(steps: &[&CapacityStep], objectives: &[(&str, Option<Threshold>)]) -> Vec<Line> {
    let mut stats = vec![LatencyStat::P50, LatencyStat::P99, LatencyStat::P99_9];
    for (_, threshold) in objectives {
        if let Some(Metric::Latency(stat)) = threshold.as_ref().map(|t| t.metric)
            && !stats.contains(&stat)
        {
            stats.push(stat);
        }
    }
    let line = |stat: LatencyStat| {
        let mut points: Vec<(f64, f64)> = steps
            .iter()
            .map(|s| (s.throughput_ops_per_s, stat_ms(s, stat)))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        Line {
            name: stat.name().to_owned(),
            points,
        }
    };
    stats.into_iter().map(line).collect()
}

/// A latency objective is a rule across at its bound, a throughput one a rule up; the others
/// (error rate, counts, bandwidth) have no place on these axes and are named in the legend.
fn objective_mark(text: &str, threshold: Option<&Threshold>) -> Mark {
    let name = format!("objective {text}");
    match threshold.map(|t| (t.metric, t.bound)) {
        Some((Metric::Latency(_), bound)) => Mark::Horizontal {
            name,
            y: bound / 1e6,
        },
        Some((Metric::Throughput, bound)) => Mark::Vertical { name, x: bound },
        _ => Mark::Note(format!("not drawn: {text}")),
    }
}

/// Every objective, as written, with what it bounds; `None` for one that no longer reads.
fn objectives(c: &CapacityResults) -> Vec<(&str, Option<Threshold>)> {
    let objectives = c.objectives.iter();
    objectives
        .map(|text| (text.as_str(), text.parse().ok()))
        .collect()
}

/// Latency against throughput: a line per statistic, a rule or a legend entry per objective
/// ([`objective_mark`]), and the knee.
fn hockey_stick(c: &CapacityResults) -> Chart {
    let objectives = objectives(c);
    let lines = stat_lines(&judged(c), &objectives);
    let mut marks: Vec<Mark> = objectives
        .iter()
        .map(|(text, threshold)| objective_mark(text, threshold.as_ref()))
        .collect();
    if let Some(best) = c.best_step.map(|i| &c.steps[i]) {
        // On the line the first latency objective bounds, so the knee sits under its rule.
        let first = objectives
            .iter()
            .find_map(|(_, t)| match t.as_ref()?.metric {
                Metric::Latency(stat) => Some(stat),
                _ => None,
            });
        marks.push(Mark::Point {
            name: format!("knee: {}", show_load(&c.knob, best.load)),
            at: (
                best.throughput_ops_per_s,
                stat_ms(best, first.unwrap_or(LatencyStat::P99)),
            ),
        });
    }
    marks.extend((0..lines.len()).map(Mark::Dots));
    Chart {
        id: "capacity-latency-throughput".to_owned(),
        title: format!("Latency against throughput, job {}", c.job),
        x: Axis {
            label: "throughput (op/s)".to_owned(),
            scale: Scale::Linear,
        },
        y: Axis {
            label: "latency (ms)".to_owned(),
            scale: Scale::Linear,
        },
        lines,
        bands: Vec::new(),
        x_span: None,
        marks,
        note: None,
    }
}

fn offered(c: &CapacityResults) -> Chart {
    let steps = judged(c);
    let offered = |s: &CapacityStep| s.offered_ops_per_s.unwrap_or(s.load);
    let x_label = match c.knob.as_str() {
        "rate" => "offered rate (op/s)".to_owned(),
        knob => knob.replace('_', " "),
    };
    let mut lines = vec![Line {
        name: "throughput".to_owned(),
        points: steps
            .iter()
            .map(|s| (offered(s), s.throughput_ops_per_s))
            .collect(),
    }];
    if c.knob == "rate" {
        lines.push(Line {
            name: "offered".to_owned(),
            points: steps.iter().map(|s| (offered(s), offered(s))).collect(),
        });
    }
    let knee = c
        .best_step
        .map(|i| &c.steps[i])
        .map(|best| Mark::Point {
            name: format!("knee: {}", show_load(&c.knob, best.load)),
            at: (offered(best), best.throughput_ops_per_s),
        })
        .into_iter();
    let marks = knee.chain(std::iter::once(Mark::Dots(0))).collect();
    Chart {
        id: "capacity-throughput-offered".to_owned(),
        title: format!("Throughput against load offered, job {}", c.job),
        x: Axis {
            label: x_label,
            scale: Scale::Linear,
        },
        y: Axis {
            label: "throughput (op/s)".to_owned(),
            scale: Scale::Linear,
        },
        lines,
        bands: Vec::new(),
        x_span: None,
        marks,
        note: None,
    }
}

fn usl_chart(c: &CapacityResults) -> Option<Chart> {
    let fit = c.usl.as_ref()?;
    let steps = judged(c);
    let measured: Vec<(f64, f64)> = steps
        .iter()
        .filter(|s| s.verdict != "run_failed")
        .map(|s| (s.in_flight_limit as f64, s.throughput_ops_per_s))
        .collect();
    let top = measured.iter().map(|p| p.0).fold(1.0, f64::max);
    let reach = fit
        .peak_concurrency
        .map_or(top, |p| p.max(top))
        .min(top * 4.0);
    let curve = (0..=200)
        .map(|k| 1.0 + (reach - 1.0) * k as f64 / 200.0)
        .map(|n| {
            let d = 1.0 + fit.sigma * (n - 1.0) + fit.kappa * n * (n - 1.0);
            (n, fit.lambda * n / d)
        })
        .collect();
    let fitted = if fit.good {
        "USL fit".to_owned()
    } else {
        "USL fit (poor)".to_owned()
    };
    Some(Chart {
        id: "capacity-usl".to_owned(),
        title: format!("Throughput against concurrency, job {}", c.job),
        x: Axis {
            label: "operations in flight".to_owned(),
            scale: Scale::Linear,
        },
        y: Axis {
            label: "throughput (op/s)".to_owned(),
            scale: Scale::Linear,
        },
        lines: vec![
            Line {
                name: "measured".to_owned(),
                points: measured,
            },
            Line {
                name: fitted,
                points: curve,
            },
        ],
        bands: Vec::new(),
        x_span: None,
        marks: vec![Mark::Dots(0)],
        note: None,
    })
}
