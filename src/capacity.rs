//! The capacity search: the highest load one job sustains while meeting its objectives.
//!
//! Each step is an ordinary run of a copy of the workload holding only that job, with its load
//! knob ([`knob`]) set to the step's value and the step's own warmup and duration; the runner
//! does the work and the objectives are the thresholds of [`crate::gate`]. The order of loads
//! is [`search`]'s business; this module runs the steps, bounds their number and time, judges
//! them, and assembles one results document with every step in its `capacity` section. It does
//! not render anything.

pub mod knob;
pub mod search;
pub mod usl;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::drivers::SetupError;
use crate::gate::{self, Gate, Threshold};
use crate::load::{Shard, ShardSource};
use crate::measure::{LatencyHistogram, Quantile};
use crate::results::{CapacityResults, CapacityStep, JobResults, RunResults, RunStatus};
use crate::runner::{self, RunOptions};
use crate::workload::units::HumanDuration;
use crate::workload::{Job, Workload};

use knob::Knob;
use search::{End, Next, Phase, Point, Search, Verdict};

/// How a search runs. Defaults as `plimsoll capacity` documents them.
#[derive(Debug, Clone)]
pub struct Options {
    /// The job to vary; may be left out when the workload has one job.
    pub job: Option<String>,
    /// Objectives beside the workload's own thresholds for the job.
    pub objectives: Vec<Threshold>,
    /// The load the user runs at today, operations per second, for the headroom.
    pub current: Option<f64>,
    /// The first load tried. Default: the job's own value of the knob.
    pub start: Option<f64>,
    /// Measured time of each step. Default 10 s.
    pub step_duration: Duration,
    /// Run before each step's measurement and excluded from it. Default a fifth of the step
    /// duration.
    pub step_warmup: Option<Duration>,
    /// The bracket's width, as a fraction of its lower end, at which the search stops.
    /// Default 5 %.
    pub tolerance: f64,
    /// Each growth step is the previous load times this. Default 2.
    pub factor: f64,
    /// Run a load that did not pass once more before it counts, so one stall of the machine
    /// does not end the search early. Default true.
    pub retry: bool,
    /// Steps at most, the warm step and retries included. Default 24.
    pub max_steps: usize,
    /// No step starts that would end after this much time. Default 15 min.
    pub max_time: Duration,
    /// A live progress line per step, and one line per finished step, on stderr.
    pub progress: bool,
    /// One line per finished step on stderr.
    pub step_lines: bool,
    /// Run every step as this shard's part of the job. The knob's values stay the whole
    /// job's, as the workload writes them, so shards that search together try the same
    /// loads and a merge can add their steps up.
    pub shard: Option<(Shard, ShardSource)>,
    /// Start the warm step's load at this wall-clock time, so shards begin together; later
    /// steps follow each other as they finish. The caller checks the time is sensible.
    pub start_at: Option<SystemTime>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            job: None,
            objectives: Vec::new(),
            current: None,
            start: None,
            step_duration: Duration::from_secs(10),
            step_warmup: None,
            tolerance: 0.05,
            factor: 2.0,
            retry: true,
            max_steps: 24,
            max_time: Duration::from_secs(15 * 60),
            progress: false,
            step_lines: false,
            shard: None,
            start_at: None,
        }
    }
}

/// A search ready to run: the job, its knob and the objectives resolved.
#[derive(Debug, Clone)]
pub struct Plan {
    workload: Workload,
    job: Job,
    knob: Knob,
    start: f64,
    gates: Vec<Gate>,
    warmup: Duration,
    options: Options,
}

impl Plan {
    pub fn knob(&self) -> Knob {
        self.knob
    }

    pub fn job_name(&self) -> &str {
        self.job.name()
    }
}

/// Resolves the job, its knob and the objectives, and checks the options. Errors are the
/// user's to fix (exit code 2).
pub fn plan(workload: &Workload, options: Options) -> Result<Plan, String> {
    let job = choose_job(workload, options.job.as_deref())?.clone();
    check_options(&options)?;
    let gates = objectives(workload, &job, &options.objectives)?;
    if gates.is_empty() {
        return Err(format!(
            "no objective for job `{}`: give one, like --objective 'p99 < 10ms', or put \
             thresholds in the workload",
            job.name()
        ));
    }
    let knob = Knob::for_job(&job);
    let knob = match options.shard {
        Some((shard, _)) => knob.over_shards(shard.count()),
        None => knob,
    };
    let start = knob.clamp(options.start.unwrap_or(knob.start));
    let warmup = options.step_warmup.unwrap_or(options.step_duration / 5);
    let plan = Plan {
        workload: workload.clone(),
        job,
        knob,
        start,
        gates,
        warmup,
        options,
    };
    let problems = crate::workload::check_values(&plan.step_workload(start));
    match problems.first() {
        Some(problem) => Err(format!(
            "job `{}` at {} {}: {problem}",
            plan.job.name(),
            knob.kind.name(),
            knob.show(start)
        )),
        None => Ok(plan),
    }
}

fn choose_job<'w>(workload: &'w Workload, name: Option<&str>) -> Result<&'w Job, String> {
    let names: Vec<&str> = workload.jobs.iter().map(Job::name).collect();
    match name {
        Some(name) => workload
            .jobs
            .iter()
            .find(|j| j.name() == name)
            .ok_or_else(|| {
                let hint = crate::workload::suggest_name(name, &names)
                    .map_or(String::new(), |m| format!("; did you mean `{m}`?"));
                format!(
                    "--job {name}: no such job (jobs: {}){hint}",
                    names.join(", ")
                )
            }),
        None if workload.jobs.len() == 1 => Ok(&workload.jobs[0]),
        None => Err(format!(
            "the workload has {} jobs; name the one to vary with --job (jobs: {})",
            workload.jobs.len(),
            names.join(", ")
        )),
    }
}

fn check_options(options: &Options) -> Result<(), String> {
    let checks = [
        (
            options.step_duration.is_zero(),
            "--step-duration is 0; give each step time to be judged, like `10s`",
        ),
        (
            !(options.tolerance > 0.0 && options.tolerance < 1.0),
            "--tolerance must be above 0 % and below 100 %, like `5%`",
        ),
        (
            !(options.factor > 1.0 && options.factor.is_finite()),
            "--factor must be above 1, like `2`",
        ),
        (
            options.max_steps < 2,
            "--max-steps must be at least 2: the warm step and one judged step",
        ),
        (
            options.current.is_some_and(|c| c.is_nan() || c <= 0.0),
            "--current must be a rate above 0, like `1200/s`",
        ),
    ];
    match checks.iter().find(|(bad, _)| *bad) {
        Some((_, message)) => Err((*message).to_owned()),
        None => Ok(()),
    }
}

/// The objectives for `job`: the command line's, then the workload's top-level thresholds
/// that apply to it, then the job's own.
fn objectives(workload: &Workload, job: &Job, given: &[Threshold]) -> Result<Vec<Gate>, String> {
    let names: Vec<&str> = workload.jobs.iter().map(Job::name).collect();
    let mut gates = Vec::new();
    for threshold in given {
        let gate = gate::run_gate(threshold, &names)
            .map_err(|e| format!("--objective `{threshold}`: {e}"))?;
        if gate.scope.job.as_deref().is_some_and(|j| j != job.name()) {
            return Err(format!(
                "--objective `{threshold}` is for another job than `{}`, the one varied",
                job.name()
            ));
        }
        gates.push(gate);
    }
    let workload_gates = gate::workload_gates(workload);
    let mine = workload_gates
        .into_iter()
        .filter(|g| g.scope.job.as_deref().is_none_or(|j| j == job.name()));
    gates.extend(mine);
    Ok(gates)
}

impl Plan {
    /// The workload one step runs: the job alone, at `load`, with the step's phases. Its
    /// thresholds are left out; the step is judged by the plan's objectives.
    fn step_workload(&self, load: f64) -> Workload {
        let mut job = self.knob.apply(&self.job, load);
        clear_thresholds(&mut job);
        // A disk job lays out its file once and reuses it; the search removes it at the end.
        if let Job::Disk(disk) = &mut job {
            disk.keep = true;
        }
        let step = self.options.step_duration;
        Workload {
            duration: HumanDuration(step),
            warmup: HumanDuration(self.warmup),
            // A step shorter than the workload's interval still gets one whole interval.
            interval: HumanDuration(self.workload.interval.0.min(step)),
            jobs: vec![job],
            thresholds: Vec::new(),
            ..self.workload.clone()
        }
    }

    /// What a step costs in wall time at least, for the time bound.
    fn step_time(&self) -> Duration {
        self.warmup + self.options.step_duration
    }
}

fn clear_thresholds(job: &mut Job) {
    match job {
        Job::Disk(j) => j.thresholds.clear(),
        Job::Redis(j) => j.thresholds.clear(),
        Job::Null(j) => j.thresholds.clear(),
        Job::Http(j) => j.thresholds.clear(),
        Job::Postgres(j) | Job::Mysql(j) => j.thresholds.clear(),
    }
}

/// Why the search stopped, as the results name it.
#[derive(Debug, Clone, PartialEq)]
enum Stopped {
    Search(End),
    MaxSteps,
    MaxTime,
    Interrupted,
    RunFailed(String),
}

/// Runs the search. A setup failure of the first step ends it with an error; a failure later
/// ends the search with what it found so far, marked.
pub fn run(
    plan: &Plan,
    workload_file: Option<&Path>,
    stop: &AtomicBool,
) -> Result<RunResults, SetupError> {
    let started = Instant::now();
    let started_at = SystemTime::now();
    let mut runs: Vec<RunResults> = Vec::new();
    let mut steps: Vec<CapacityStep> = Vec::new();

    // The warm step: the target's caches and connections settle before anything is judged.
    let warm = run_step(plan, plan.start, plan.options.start_at, stop)?;
    steps.push(summarize(plan, &warm, plan.start, "warm", None));
    runs.push(warm);
    report_step(plan, steps.len() - 1, &steps[steps.len() - 1]);

    let o = &plan.options;
    let mut search = Search::new(plan.knob, plan.start, o.factor, o.tolerance, o.retry);
    let stopped = loop {
        let (load, phase) = match search.next() {
            Next::Done(end) => break Stopped::Search(end),
            Next::Run { load, phase } => (load, phase),
        };
        if let Some(bound) = bounded(plan, steps.len(), started, stop) {
            break bound;
        }
        let results = match run_step(plan, load, None, stop) {
            Ok(results) => results,
            Err(e) => break Stopped::RunFailed(e.to_string()),
        };
        if results.status == RunStatus::Interrupted {
            break Stopped::Interrupted;
        }
        let step = summarize(plan, &results, load, phase_name(phase), Some(&search));
        let failed = results.failure.clone();
        let verdict = verdict_of(&step);
        steps.push(step);
        runs.push(results);
        report_step(plan, steps.len() - 1, &steps[steps.len() - 1]);
        if let Some(failure) = failed.filter(|_| verdict.is_none()) {
            break Stopped::RunFailed(failure);
        }
        let step = &steps[steps.len() - 1];
        search.record(Point {
            step: steps.len() - 1,
            load,
            throughput: step.throughput_ops_per_s,
            verdict: verdict.unwrap_or(Verdict::Fail),
        });
    };
    remove_laid_out_file(plan, &runs);
    Ok(assemble(
        plan,
        workload_file,
        (started, started_at),
        runs,
        steps,
        &search,
        stopped,
    ))
}

/// The step and time bounds, and an interruption, checked before a step starts.
fn bounded(plan: &Plan, taken: usize, started: Instant, stop: &AtomicBool) -> Option<Stopped> {
    if stop.load(Ordering::Relaxed) {
        return Some(Stopped::Interrupted);
    }
    if taken >= plan.options.max_steps {
        return Some(Stopped::MaxSteps);
    }
    (started.elapsed() + plan.step_time() > plan.options.max_time).then_some(Stopped::MaxTime)
}

fn run_step(
    plan: &Plan,
    load: f64,
    start_at: Option<SystemTime>,
    stop: &AtomicBool,
) -> Result<RunResults, SetupError> {
    let workload = plan.step_workload(load);
    // A step whose objective is certainly broken stops early: its verdict is known, and an
    // overloaded step is the slowest kind.
    let options = RunOptions {
        progress: plan.options.progress,
        shard: plan.options.shard,
        start_at,
        abort_on: plan.gates.clone(),
    };
    let mut results = runner::run(&workload, None, stop, options)?;
    results.thresholds = gate::evaluate(&plan.gates, &results);
    Ok(results)
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Grow => "grow",
        Phase::Down => "down",
        Phase::Bisect => "bisect",
        Phase::Retry => "retry",
    }
}

/// The search's verdict from a summarized step; `None` for a run that failed.
fn verdict_of(step: &CapacityStep) -> Option<Verdict> {
    match step.verdict.as_str() {
        "pass" => Some(Verdict::Pass),
        "fail" => Some(Verdict::Fail),
        "no_gain" => Some(Verdict::NoGain),
        "generator_limit" => Some(Verdict::GeneratorLimit),
        _ => None,
    }
}

/// One step's row: its figures over every operation kind, and its verdict (judged against
/// the search's highest passing load so far, unless it is the warm step).
fn summarize(
    plan: &Plan,
    results: &RunResults,
    load: f64,
    phase: &str,
    search: Option<&Search>,
) -> CapacityStep {
    let job = results.jobs[0].clone();
    let throughput = step_throughput(results, &job);
    let latency = merged_latency(&job);
    let pct = |q: Quantile| latency.percentile(q).ns();
    let met = results.thresholds.iter().all(|t| t.passed);
    let load_results = job.load.as_ref();
    let generator_limited = load_results
        .is_some_and(|l| l.sustained == Some(false) && l.limit.as_deref() == Some("generator"));
    let (verdict, note) = match search {
        None => ("warm", Some("warms the target up; not judged".to_owned())),
        // A step that ran but in which nothing succeeded failed its objective; it did not
        // break the run, so the search goes on below it.
        Some(_) if results.status == RunStatus::Failed && !only_errors(results) => {
            ("run_failed", results.failure.clone())
        }
        Some(search) => {
            let verdict = match search.judge(load, throughput, met, generator_limited) {
                Verdict::Pass => Verdict::Pass,
                _ if saturated_generator(results).is_some() => Verdict::GeneratorLimit,
                verdict => verdict,
            };
            judged(verdict, results, load_results, search, (load, throughput))
        }
    };
    CapacityStep {
        phase: phase.to_owned(),
        load,
        offered_ops_per_s: load_results.and_then(|l| l.target_ops_per_s),
        in_flight_limit: load_results.map_or(job.workers as u64, |l| l.in_flight_limit),
        throughput_ops_per_s: throughput,
        p50_ns: pct(Quantile::P50),
        p99_ns: pct(Quantile::P99),
        p99_9_ns: pct(Quantile::P99_9),
        errors: job.total_errors(),
        passed: search.is_some() && met,
        verdict: verdict.to_owned(),
        note: note.map(|n| format!("{} {}: {n}", plan.knob.kind.name(), plan.knob.show(load))),
        thresholds: results.thresholds.clone(),
        measured_ns: results.measured_ns,
        measure_start_unix_ns: results.clock.as_ref().map(|c| c.measure_start_unix_ns),
        start_spread_ns: None,
        job,
    }
}

fn judged(
    verdict: Verdict,
    results: &RunResults,
    load: Option<&crate::results::LoadResults>,
    search: &Search,
    (offered, throughput): (f64, f64),
) -> (&'static str, Option<String>) {
    match verdict {
        Verdict::Pass => ("pass", None),
        Verdict::Fail => {
            let failed: Vec<String> = results
                .thresholds
                .iter()
                .filter(|t| !t.passed)
                .map(|t| format!("{} measured {}", t.expression, t.measured_text))
                .collect();
            ("fail", Some(failed.join("; ")))
        }
        Verdict::NoGain => {
            let lo = search
                .best()
                .expect("no gain is judged against a passing load");
            let note = format!(
                "throughput rose {:.1} % for {:.1} % more load than the highest passing step",
                (throughput / lo.throughput - 1.0) * 100.0,
                (offered / lo.load - 1.0) * 100.0
            );
            ("no_gain", Some(note))
        }
        Verdict::GeneratorLimit => {
            let why = load.and_then(|l| l.verdict.clone());
            let why = why.or_else(|| saturated_generator(results));
            (
                "generator_limit",
                why.or(Some("the generator fell behind".to_owned())),
            )
        }
    }
}

/// For a closed-model step, the self-check's word when plimsoll itself was busy enough to be
/// the limit (its cores or one of its threads nearly full): a step that did not pass under it
/// says nothing of the target. An open-model step has its own, better verdict (whether the
/// rate was kept, and who was the limit); a growing schedule lag, which the check also warns
/// of, is what an overloaded target causes there.
fn saturated_generator(results: &RunResults) -> Option<String> {
    use crate::monitor::checks::CheckStatus;
    if results.jobs.first()?.load_model != "closed" {
        return None;
    }
    let check = results
        .checks
        .iter()
        .find(|c| c.name == "generator_saturation")?;
    (check.status != CheckStatus::Passed).then(|| check.explanation.clone())
}

/// Operations per second of the step's window. Every operation that started in the window is
/// counted wherever it ended, so the count is divided by the window itself, not by the
/// window and the drain after it: with steps of a second or two, a drain of a few service
/// times would otherwise read as lost throughput. (The operations' own `ops_per_s` in the
/// results divide by the measured window, drain included, and so read lower.)
fn step_throughput(results: &RunResults, job: &JobResults) -> f64 {
    let window_ns = results.measured_ns.min(results.duration_requested_ns);
    let count: u64 = job.outer_ops().map(|o| o.count).sum();
    match window_ns {
        0 => 0.0,
        ns => count as f64 / (ns as f64 / 1e9),
    }
}

/// The latency histograms of the operations the load is counted in, added together.
pub(crate) fn merged_latency(job: &JobResults) -> LatencyHistogram {
    let mut all = LatencyHistogram::new();
    for op in job.outer_ops() {
        if let Ok(hist) = op.latency_histogram.decode() {
            all.add(&hist);
        }
    }
    all
}

fn report_step(plan: &Plan, index: usize, step: &CapacityStep) {
    if !plan.options.step_lines {
        return;
    }
    eprintln!(
        "{}",
        crate::report::capacity::step_line(plan.knob.kind.name(), index, step)
    );
}

/// Steps keep a disk job's file between them; unless the job keeps it, the file goes once
/// the search is over, if the first step created it.
fn remove_laid_out_file(plan: &Plan, runs: &[RunResults]) {
    let Job::Disk(disk) = &plan.job else {
        return;
    };
    let target = runs.first().map(|r| &r.jobs[0].target);
    let created = target.and_then(|t| t.get("created")?.as_bool());
    let path = target.and_then(|t| t.get("path")?.as_str().map(str::to_owned));
    if let (false, Some(true), Some(path)) = (disk.keep, created, path)
        && let Err(e) = std::fs::remove_file(&path)
    {
        tracing::warn!("cannot remove {path}, which the capacity search laid out: {e}");
    }
}

/// One results document: the best step's run as the top level (so `report` and `compare`
/// read it as any run), every step in the `capacity` section.
/// Whether every job ran and each measured nothing but failures (see
/// [`JobResults::nothing_succeeded`]), as opposed to a run that broke.
fn only_errors(results: &RunResults) -> bool {
    results.jobs.iter().all(|j| j.nothing_succeeded().is_some())
}

fn assemble(
    plan: &Plan,
    workload_file: Option<&Path>,
    (started, started_at): (Instant, SystemTime),
    mut runs: Vec<RunResults>,
    steps: Vec<CapacityStep>,
    search: &Search,
    stopped: Stopped,
) -> RunResults {
    let best = search.best().map(|p| p.step);
    let first_failing = search.first_failing().map(|p| p.step);
    let shown = best.or((runs.len() > 1).then_some(1)).unwrap_or(0);
    let mut results = runs.swap_remove(shown);
    let (stop_reason, stop_text) = stop_words(plan, steps.len(), search, &stopped);
    let best_throughput = best.map(|i| steps[i].throughput_ops_per_s);
    let closed = plan.knob.kind != knob::KnobKind::Rate;
    let usl = closed.then(|| usl::fit_steps(&steps)).flatten();
    results.capacity = Some(Box::new(CapacityResults {
        job: plan.job.name().to_owned(),
        knob: plan.knob.kind.name().to_owned(),
        load_model: if closed { "closed" } else { "open" }.to_owned(),
        objectives: plan
            .gates
            .iter()
            .map(|g| g.threshold.text.clone())
            .collect(),
        tolerance: plan.options.tolerance,
        factor: plan.options.factor,
        step_duration_ns: plan.options.step_duration.as_nanos() as u64,
        step_warmup_ns: plan.warmup.as_nanos() as u64,
        steps,
        best_step: best,
        first_failing_step: first_failing,
        stop_reason,
        stop_text,
        current_ops_per_s: plan.options.current,
        // A shard's throughput is its part, `--current` the whole job's; the merge of the
        // shards states the headroom.
        headroom: plan
            .options
            .current
            .zip(best_throughput)
            .filter(|_| plan.options.shard.is_none())
            .map(|(c, b)| b / c),
        usl,
        elapsed_ns: started.elapsed().as_nanos() as u64,
        merged_shards: None,
    }));
    results.workload = serde_json::to_value(&plan.workload).unwrap_or_default();
    results.workload_file = workload_file.map(|p| p.display().to_string());
    results.started_at = humantime::format_rfc3339_seconds(started_at).to_string();
    if matches!(stopped, Stopped::Interrupted) {
        results.status = RunStatus::Interrupted;
    }
    if let Stopped::RunFailed(why) = &stopped {
        results.status = RunStatus::Failed;
        results.failure = Some(why.clone());
    }
    results
}

fn stop_words(plan: &Plan, taken: usize, search: &Search, stopped: &Stopped) -> (String, String) {
    let show = |p: Option<Point>| p.map_or("-".to_owned(), |p| plan.knob.show(p.load));
    let (lo, hi) = (show(search.best()), show(search.first_failing()));
    let pct = plan.options.tolerance * 100.0;
    let (reason, text) = match stopped {
        Stopped::Search(End::Converged) => (
            "converged",
            format!("the bracket {lo} to {hi} is within {pct:.1} % (or one step of the knob)"),
        ),
        Stopped::Search(End::KnobLimit) => (
            "knob_limit",
            format!(
                "every load passed up to {}, the largest {} the job allows",
                plan.knob.show(plan.knob.max),
                plan.knob.kind.name()
            ),
        ),
        Stopped::Search(End::NothingPassed) => (
            "nothing_passed",
            format!(
                "no load passed, down to {}, the smallest {} the job allows",
                plan.knob.show(plan.knob.min),
                plan.knob.kind.name()
            ),
        ),
        Stopped::Search(End::GeneratorLimit) => (
            "generator_limit",
            format!(
                "the generator could not offer {hi}; the target's capacity is at least {lo}, \
                 but where it ends was not found (give the job more threads or cores)"
            ),
        ),
        Stopped::MaxSteps => (
            "max_steps",
            format!(
                "{taken} steps taken, the most allowed (--max-steps); {}",
                standing(plan, search)
            ),
        ),
        Stopped::MaxTime => (
            "max_time",
            format!(
                "another step would pass the time bound of {} (--max-time); {}",
                humantime::format_duration(plan.options.max_time),
                standing(plan, search)
            ),
        ),
        Stopped::Interrupted => ("interrupted", "interrupted".to_owned()),
        Stopped::RunFailed(why) => ("run_failed", format!("a step failed: {why}")),
    };
    (reason.to_owned(), text)
}

/// What a search cut short by a bound had found: the bracket once it has both ends, else the
/// end it has. A load that did not pass but waits for its second run has not counted yet, so
/// it is named apart rather than as the bracket's upper end.
fn standing(plan: &Plan, search: &Search) -> String {
    let show = |p: Point| plan.knob.show(p.load);
    let unconfirmed = match search.next() {
        Next::Run {
            load,
            phase: Phase::Retry,
        } => Some(format!(
            "{} did not pass and was not run again",
            plan.knob.show(load)
        )),
        _ => None,
    };
    let found = match (search.best(), search.first_failing()) {
        (Some(lo), Some(hi)) => Some(format!("the bracket is {} to {}", show(lo), show(hi))),
        (Some(lo), None) if unconfirmed.is_none() => Some(format!(
            "every step so far met the objectives; the highest was {}",
            show(lo)
        )),
        (Some(lo), None) => Some(format!("the highest load that passed was {}", show(lo))),
        (None, Some(hi)) => Some(format!("no load passed, down to {}", show(hi))),
        (None, None) if unconfirmed.is_none() => Some("no step was judged".to_owned()),
        (None, None) => None,
    };
    let parts: Vec<String> = found.into_iter().chain(unconfirmed).collect();
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A search over an open job's rate from 100/s, and its stop line under a bound.
    fn rate_search() -> (Plan, Search) {
        let text = "name = \"t\"\n[[jobs]]\nkind = \"null\"\nname = \"q\"\n\
                    load = { model = \"open\", rate = \"100\" }\n";
        let workload = crate::workload::load_str("t.toml", text).unwrap();
        let options = Options {
            objectives: vec!["p50 < 75ms".parse().unwrap()],
            ..Options::default()
        };
        let plan = plan(&workload, options).unwrap();
        let search = Search::new(plan.knob, plan.start, 2.0, 0.05, true);
        (plan, search)
    }

    fn record(search: &mut Search, step: usize, load: f64, verdict: Verdict) {
        search.record(Point {
            step,
            load,
            throughput: load,
            verdict,
        });
    }

    #[test]
    fn a_bounded_stop_says_what_was_found() {
        let (plan, mut search) = rate_search();
        let line = |search: &Search, stopped| stop_words(&plan, 3, search, &stopped).1;
        record(&mut search, 1, 100.0, Verdict::Pass);
        assert_eq!(
            line(&search, Stopped::MaxSteps),
            "3 steps taken, the most allowed (--max-steps); every step so far met the \
             objectives; the highest was 100/s"
        );

        // A failure waiting for its second run is not the bracket's end yet.
        record(&mut search, 2, 200.0, Verdict::Fail);
        assert_eq!(
            line(&search, Stopped::MaxSteps),
            "3 steps taken, the most allowed (--max-steps); the highest load that passed was \
             100/s; 200/s did not pass and was not run again"
        );

        record(&mut search, 3, 200.0, Verdict::Fail);
        assert_eq!(
            line(&search, Stopped::MaxTime),
            "another step would pass the time bound of 15m (--max-time); the bracket is 100/s \
             to 200/s"
        );
    }

    #[test]
    fn a_bounded_stop_before_anything_passed_says_so() {
        let (plan, mut search) = rate_search();
        let line = |search: &Search| stop_words(&plan, 3, search, &Stopped::MaxSteps).1;
        assert_eq!(
            line(&search),
            "3 steps taken, the most allowed (--max-steps); no step was judged"
        );
        record(&mut search, 1, 100.0, Verdict::Fail);
        record(&mut search, 2, 100.0, Verdict::Fail);
        assert_eq!(
            line(&search),
            "3 steps taken, the most allowed (--max-steps); no load passed, down to 100/s"
        );
    }
}
