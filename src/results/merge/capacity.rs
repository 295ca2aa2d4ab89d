//! The capacity searches of a sharded `plimsoll capacity`: each shard searched on its own,
//! judging its part of the job, so the shards' answers are kept as they are, and one search
//! for the whole is made only where it can be exact.
//!
//! It can be when every shard ran the same steps: the same loads, in the same order, with the
//! same settings. Step k of the whole is then step k of every shard added up as a merge adds
//! runs (histograms bucket by bucket, intervals lined up by each step's own wall clock):
//! throughput, in-flight limit and offered rate are the shards' sums, percentiles those of the
//! summed histogram, and the objectives are checked again on the sums. Where the steps differ
//! nothing is added up, and the reason is kept instead; pairing a shard's 150/s with
//! another's 200/s would describe a load nobody offered.

use super::{Lane, MergeError, Part, merge_job, offsets};
use crate::capacity::search::{Point, Verdict, gained};
use crate::gate::{self, Gate, Threshold};
use crate::measure::Quantile;
use crate::report::capacity::show_load;
use crate::results::{CapacityResults, CapacityStep};

/// What the shards' capacity sections make together.
pub(super) enum Combined {
    /// The shards ran plain runs.
    NoSearch,
    /// Their steps cannot be paired, for this reason.
    Apart(String),
    /// One search for the whole, step by step.
    Whole(Box<CapacityResults>),
}

/// The shards' searches added up, or why they cannot be; an error only for data that does not
/// read (a histogram).
pub(super) fn combine(parts: &[Part]) -> Result<Combined, MergeError> {
    let sections: Vec<&CapacityResults> = parts
        .iter()
        .filter_map(|p| p.results.capacity.as_deref())
        .collect();
    if sections.is_empty() {
        return Ok(Combined::NoSearch);
    }
    if let Err(why) = same_steps(parts, &sections) {
        return Ok(Combined::Apart(why));
    }
    let first = sections[0];
    let gates = match objective_gates(first) {
        Ok(gates) => gates,
        Err(why) => return Ok(Combined::Apart(why)),
    };
    let mut steps = Vec::with_capacity(first.steps.len());
    for k in 0..first.steps.len() {
        steps.push(add_step(parts, &sections, k, &gates)?);
    }
    Ok(Combined::Whole(Box::new(whole(&sections, steps))))
}

/// The index of the step a capacity file shows at its top level: the best, else the first
/// judged one (as `crate::capacity` picks it for one search).
pub(super) fn shown_step(c: &CapacityResults) -> usize {
    c.best_step
        .or((c.steps.len() > 1).then_some(1))
        .unwrap_or(0)
}

fn shard_index(part: &Part) -> u32 {
    part.results.shard.as_ref().map_or(0, |s| s.index)
}

/// Why the shards' steps cannot be added up, if they cannot.
fn same_steps(parts: &[Part], sections: &[&CapacityResults]) -> Result<(), String> {
    let (first, one) = (sections[0], shard_index(&parts[0]));
    let settings = |c: &CapacityResults| {
        [
            ("job", c.job.clone()),
            ("knob", c.knob.clone()),
            ("objectives", c.objectives.join(", ")),
            ("tolerance", c.tolerance.to_string()),
            ("factor", c.factor.to_string()),
            ("step duration", c.step_duration_ns.to_string()),
            ("step warmup", c.step_warmup_ns.to_string()),
        ]
    };
    for (part, c) in parts.iter().zip(sections).skip(1) {
        let other = shard_index(part);
        let differs = settings(first)
            .into_iter()
            .zip(settings(c))
            .find(|(a, b)| a.1 != b.1);
        if let Some(((what, a), (_, b))) = differs {
            return Err(format!(
                "shards {one} and {other} searched with different settings (the {what}: {a} \
                 and {b})"
            ));
        }
        if c.steps.len() != first.steps.len() {
            return Err(format!(
                "shard {one} ran {} steps and shard {other} {}, so their steps do not pair up",
                first.steps.len(),
                c.steps.len()
            ));
        }
        let mut paired = first.steps.iter().zip(&c.steps).enumerate();
        if let Some((k, (a, b))) = paired.find(|(_, (a, b))| a.load != b.load) {
            return Err(format!(
                "step {k} ran {} {} in shard {one} and {} in shard {other}",
                first.knob,
                show_load(&first.knob, a.load),
                show_load(&first.knob, b.load),
            ));
        }
        let mut paired = first.steps.iter().zip(&c.steps).enumerate();
        if let Some((k, (a, b))) = paired.find(|(_, (a, b))| a.phase != b.phase) {
            return Err(format!(
                "step {k} was a {} step in shard {one} and a {} step in shard {other}",
                a.phase, b.phase
            ));
        }
    }
    let undated = parts
        .iter()
        .zip(sections)
        .find(|(_, c)| c.steps.iter().any(|s| s.measure_start_unix_ns.is_none()));
    match undated {
        Some((part, _)) => Err(format!(
            "shard {}'s steps carry no start times to line their intervals up by (an older \
             results file)",
            shard_index(part)
        )),
        None => Ok(()),
    }
}

/// The objectives as the search resolved them: each reached the job it varied, either as a
/// whole-run threshold (`job.op: ...`, or none) or as one of the job's own (`op: ...`).
fn objective_gates(c: &CapacityResults) -> Result<Vec<Gate>, String> {
    c.objectives
        .iter()
        .map(|text| {
            let threshold: Threshold = text
                .parse()
                .map_err(|e| format!("objective `{text}` no longer reads: {e}"))?;
            gate::run_gate(&threshold, &[c.job.as_str()])
                .or_else(|_| gate::job_gate(&c.job, &threshold))
                .map_err(|e| format!("objective `{text}`: {e}"))
        })
        .collect()
}

/// Step `k` of every shard added up; its verdict is settled later, in order, by [`whole`].
fn add_step(
    parts: &[Part],
    sections: &[&CapacityResults],
    k: usize,
    gates: &[Gate],
) -> Result<CapacityStep, MergeError> {
    let steps: Vec<&CapacityStep> = sections.iter().map(|c| &c.steps[k]).collect();
    let starts: Vec<u64> = steps
        .iter()
        .map(|s| s.measure_start_unix_ns.unwrap_or(0))
        .collect();
    let interval_ns = parts[0].results.interval_ns;
    let lined = offsets(&starts, interval_ns);
    let lanes: Vec<Lane> = parts
        .iter()
        .zip(&steps)
        .zip(&lined)
        .map(|((part, step), (_, shift))| Lane {
            file: &part.file,
            job: &step.job,
            shift: *shift,
        })
        .collect();
    let measured_ns = steps
        .iter()
        .zip(&lined)
        .map(|(s, (offset, _))| offset + s.measured_ns)
        .max()
        .unwrap_or(0);
    let job = merge_job(&lanes, interval_ns, measured_ns)?;
    let latency = crate::capacity::merged_latency(&job);
    let pct = |q: Quantile| latency.percentile(q).ns();
    let thresholds = gates
        .iter()
        .flat_map(|g| g.evaluate_jobs(std::slice::from_ref(&job)))
        .collect();
    let first = steps[0];
    Ok(CapacityStep {
        phase: first.phase.clone(),
        load: first.load,
        offered_ops_per_s: steps.iter().map(|s| s.offered_ops_per_s).sum(),
        in_flight_limit: steps.iter().map(|s| s.in_flight_limit).sum(),
        throughput_ops_per_s: steps.iter().map(|s| s.throughput_ops_per_s).sum(),
        p50_ns: pct(Quantile::P50),
        p99_ns: pct(Quantile::P99),
        p99_9_ns: pct(Quantile::P99_9),
        errors: steps.iter().map(|s| s.errors).sum(),
        passed: false,
        verdict: String::new(),
        note: None,
        thresholds,
        measured_ns,
        measure_start_unix_ns: starts.iter().copied().min(),
        start_spread_ns: Some(lined.iter().map(|(offset, _)| *offset).max().unwrap_or(0)),
        job,
    })
}

/// The search for the whole: each step judged as the search judges, on the sums, except
/// that a step any shard could not run, or could not offer, is that for the whole too.
fn whole(sections: &[&CapacityResults], mut steps: Vec<CapacityStep>) -> CapacityResults {
    let first = sections[0];
    let mut best: Option<Point> = None;
    for (k, step) in steps.iter_mut().enumerate() {
        let shards: Vec<&CapacityStep> = sections.iter().map(|c| &c.steps[k]).collect();
        judge(step, &shards, best.as_ref(), &first.knob);
        if step.verdict == "pass" && best.is_none_or(|b| step.load >= b.load) {
            best = Some(Point {
                step: k,
                load: step.load,
                throughput: step.throughput_ops_per_s,
                verdict: Verdict::Pass,
            });
        }
    }
    let best_step = best.map(|b| b.step);
    let first_failing_step = first_failing(&steps, best.map(|b| b.load));
    let (stop_reason, stop_text) = stop_words(sections);
    let current = sections
        .iter()
        .map(|c| c.current_ops_per_s)
        .reduce(|a, b| if a == b { a } else { None })
        .flatten();
    let best_throughput = best_step.map(|i| steps[i].throughput_ops_per_s);
    let usl = (first.load_model == "closed")
        .then(|| crate::capacity::usl::fit_steps(&steps))
        .flatten();
    CapacityResults {
        job: first.job.clone(),
        knob: first.knob.clone(),
        load_model: first.load_model.clone(),
        objectives: first.objectives.clone(),
        tolerance: first.tolerance,
        factor: first.factor,
        step_duration_ns: first.step_duration_ns,
        step_warmup_ns: first.step_warmup_ns,
        steps,
        best_step,
        first_failing_step,
        stop_reason,
        stop_text,
        current_ops_per_s: current,
        headroom: current.zip(best_throughput).map(|(c, b)| b / c),
        usl,
        elapsed_ns: sections.iter().map(|c| c.elapsed_ns).max().unwrap_or(0),
        merged_shards: Some(sections.len() as u32),
    }
}

/// One summed step's verdict and note, against the highest load that passed before it.
fn judge(step: &mut CapacityStep, shards: &[&CapacityStep], best: Option<&Point>, knob: &str) {
    // Shards come in index order, so the k-th is shard k + 1.
    let by_shard = |verdict: &str| {
        let (i, s) = shards
            .iter()
            .enumerate()
            .find(|(_, s)| s.verdict == verdict)?;
        let note = s.note.as_deref().unwrap_or_default();
        let why = note.split_once(": ").map_or(note, |(_, why)| why);
        Some(format!("shard {}: {why}", i + 1))
    };
    let met = step.thresholds.iter().all(|t| t.passed);
    let failed = || {
        let broken = step.thresholds.iter().filter(|t| !t.passed);
        let words = broken.map(|t| format!("{} measured {}", t.expression, t.measured_text));
        words.collect::<Vec<_>>().join("; ")
    };
    let (verdict, note) = if step.phase == "warm" {
        ("warm", Some("warms the target up; not judged".to_owned()))
    } else if let Some(note) = by_shard("run_failed") {
        ("run_failed", Some(note))
    } else if let Some(note) = by_shard("generator_limit") {
        ("generator_limit", Some(note))
    } else if !met {
        ("fail", Some(failed()))
    } else {
        match best.filter(|b| step.load > b.load) {
            Some(b) if !gained(b, step.load, step.throughput_ops_per_s) => {
                let note = format!(
                    "throughput rose {:.1} % for {:.1} % more load than the highest passing step",
                    (step.throughput_ops_per_s / b.throughput - 1.0) * 100.0,
                    (step.load / b.load - 1.0) * 100.0
                );
                ("no_gain", Some(note))
            }
            _ => ("pass", None),
        }
    };
    step.passed = step.phase != "warm" && met;
    step.verdict = verdict.to_owned();
    step.note = note.map(|n| format!("{knob} {}: {n}", show_load(knob, step.load)));
}

/// The lowest judged load above the best that did not pass (the later of two at one load,
/// as a retry counts); with no best, the lowest that did not pass.
fn first_failing(steps: &[CapacityStep], best: Option<f64>) -> Option<usize> {
    let failing = steps.iter().enumerate().filter(|(_, s)| {
        s.phase != "warm"
            && s.verdict != "pass"
            && s.verdict != "run_failed"
            && best.is_none_or(|b| s.load > b)
    });
    failing
        .min_by(|(i, a), (j, b)| a.load.total_cmp(&b.load).then(j.cmp(i)))
        .map(|(i, _)| i)
}

/// Why the shards' searches stopped: one reason when they agree, else each shard's.
fn stop_words(sections: &[&CapacityResults]) -> (String, String) {
    let first = sections[0];
    if sections.iter().all(|c| c.stop_reason == first.stop_reason) {
        let text = if sections.iter().all(|c| c.stop_text == first.stop_text) {
            format!("every shard: {}", first.stop_text)
        } else {
            each_shard(sections)
        };
        return (first.stop_reason.clone(), text);
    }
    ("shards_differ".to_owned(), each_shard(sections))
}

fn each_shard(sections: &[&CapacityResults]) -> String {
    let each = sections.iter().enumerate();
    let words: Vec<String> = each
        .map(|(i, c)| format!("shard {}: {}", i + 1, c.stop_text))
        .collect();
    words.join("; ")
}
