//! The `plimsoll` binary: parse the command line, call the library, map outcomes to exit codes.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use clap::Parser as _;

use plimsoll::cli::{CapacityArgs, CiArgs, Cli, Command, CompareArgs, MergeArgs, RunArgs};
use plimsoll::drivers::SetupError;
use plimsoll::exit;
use plimsoll::gate::{self, Gate, Threshold};
use plimsoll::load::{Shard, ShardError, ShardSource};
use plimsoll::results::{RunResults, RunStatus};
use plimsoll::runner::{self, RunOptions};
use plimsoll::workload::{self, Workload};

/// Summary lines go to stdout through these, which ignore a closed pipe: with `plimsoll run |
/// head` the report still gets written and the exit code still tells the verdict.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = match &cli.command {
        Command::Run(args) => args.quiet,
        Command::Capacity(args) => args.quiet,
        _ => false,
    };
    init_logging(cli.verbose, quiet);
    let code = match cli.command {
        Command::Run(args) => run(args),
        Command::Compare(args) => compare(&args),
        Command::Merge(args) => merge(&args),
        Command::Capacity(args) => capacity(args),
        Command::Validate { workload, shards } => validate(&workload, shards),
        Command::Report {
            results,
            output,
            force,
        } => report(&results, output, force),
    };
    ExitCode::from(code)
}

fn validate(path: &Path, shards: Option<u32>) -> u8 {
    let checked = workload::load_file(path)
        .map_err(|e| e.to_string())
        .and_then(|w| {
            runner::check(&w).map_err(|e| located(path, &w, &e))?;
            for index in 1..=shards.unwrap_or(0) {
                let shard = Shard::new(index, shards.unwrap_or(1)).map_err(|e| e.to_string())?;
                w.shard(shard)
                    .map_err(|e| located(path, &w, &runner::shard_refusal(shard, e)))?;
            }
            Ok(w)
        });
    match checked {
        Ok(w) => {
            let split = shards.map_or(String::new(), |n| format!(", splits over {n} shards"));
            outln!(
                "{}: ok ({} job{}{split})",
                path.display(),
                w.jobs.len(),
                plural(w.jobs.len())
            );
            exit::OK
        }
        Err(e) => fail(exit::BAD_INPUT, &e),
    }
}

/// A setup refusal is placed in the workload file (file, line, job, and the key when it names
/// one) as every other input error is; without the file's text it names the file alone.
fn located(path: &Path, workload: &Workload, error: &SetupError) -> String {
    let SetupError::Input { job, key, message } = error else {
        return format!("{}: {error}", path.display());
    };
    let index = workload.jobs.iter().position(|j| j.name() == job);
    match (index, std::fs::read_to_string(path)) {
        (Some(index), Ok(text)) => {
            let file = path.display().to_string();
            let (key, message) = (key.as_deref(), message.clone());
            workload::locate_in_job(&file, &text, index, key, message).to_string()
        }
        _ => format!("{}: {error}", path.display()),
    }
}

fn run(args: RunArgs) -> u8 {
    let path = args.workload.as_deref();
    let workload = match load(path) {
        Ok(w) => w,
        Err(e) => return fail(exit::BAD_INPUT, &e),
    };
    let gates = match command_line_gates(&args.thresholds, &workload) {
        Ok(gates) => gates,
        Err(e) => return fail(exit::BAD_INPUT, &e),
    };
    if let Some(folder) = &args.output
        && let Err(message) = check_output_folder(folder)
    {
        return fail(exit::BAD_INPUT, &message);
    }
    let shard = match shard_and_start(args.shard, args.start_at) {
        Ok(shard) => shard,
        Err(code) => return code,
    };
    let stop = match install_interrupt_flag() {
        Ok(stop) => stop,
        Err(e) => return fail(exit::FAILURE, &e),
    };
    let abort_on = if args.abort_early || workload.abort_early {
        let mut all = gate::workload_gates(&workload);
        all.extend(gates.iter().cloned());
        all
    } else {
        Vec::new()
    };
    let options = RunOptions {
        progress: !args.quiet && std::io::stderr().is_terminal(),
        shard,
        start_at: args.start_at,
        abort_on,
    };
    let plan = Plan {
        workload: &workload,
        path,
        gates: &gates,
        stop: &stop,
        options,
    };
    if args.repeat > 1 {
        return repeat(&plan, &args);
    }
    let results = match plan.run_once() {
        Ok(results) => results,
        Err(code) => return code,
    };
    let folder = args
        .output
        .clone()
        .unwrap_or_else(|| default_folder(&workload, &results.started_at));
    if let Err(code) = write_run(&results, &folder) {
        return code;
    }
    if let Err(e) = write_run_ci(&args.ci, &workload, &results) {
        return fail(exit::FAILURE, &e);
    }
    if !args.quiet {
        out!("{}", plimsoll::report::terminal::summary(&results));
        outln!("\nresults: {}", folder.join("results.json").display());
    } else {
        eprint!(
            "{}",
            plimsoll::report::terminal::failed_thresholds(&results)
        );
    }
    // The results are safe on disk; a report that fails to render can be rebuilt from them.
    if let Err(code) = write_report(&results, &folder, &args) {
        return code;
    }
    status_code(&results)
}

/// The shard to run, if any, with `--start-at` checked too: both are bad input when wrong,
/// before anything is set up.
fn shard_and_start(
    flag: Option<Shard>,
    start_at: Option<SystemTime>,
) -> Result<Option<(Shard, ShardSource)>, u8> {
    let shard = pick_shard(flag).map_err(|e| fail(exit::BAD_INPUT, &e))?;
    if let Some(start_at) = start_at
        && let Err(message) = check_start_at(start_at, SystemTime::now())
    {
        return Err(fail(exit::BAD_INPUT, &message));
    }
    Ok(shard)
}

/// `--shard` wins over the environment; see [`Shard::from_env`] for the order there.
fn pick_shard(flag: Option<Shard>) -> Result<Option<(Shard, ShardSource)>, ShardError> {
    let env = Shard::from_env(|key| std::env::var(key).ok());
    match (flag, env) {
        (Some(shard), env) => {
            if let Ok(Some((other, source))) = env
                && other != shard
            {
                let source = source.describe();
                tracing::debug!(%shard, %other, source, "--shard wins over the environment");
            }
            Ok(Some((shard, ShardSource::Flag)))
        }
        (None, env) => {
            let env = env?;
            if let Some((shard, source)) = env {
                tracing::debug!(%shard, source = source.describe(), "shard from the environment");
            }
            Ok(env)
        }
    }
}

/// A start time already past cannot line shards up, and one a day ahead is a typo more
/// often than a plan.
fn check_start_at(start_at: SystemTime, now: SystemTime) -> Result<(), String> {
    const PAST_SLACK: Duration = Duration::from_secs(1);
    const AHEAD_LIMIT: Duration = Duration::from_secs(24 * 3600);
    let shown = humantime::format_rfc3339_seconds(start_at);
    match start_at.duration_since(now) {
        Err(past) if past.duration() > PAST_SLACK => Err(format!(
            "--start-at {shown} was {} ago, so shards could not start together; give a time \
             after setup will be done, like `date -u -d '+1 min' +%FT%TZ`",
            humantime::format_duration(Duration::from_secs(past.duration().as_secs()))
        )),
        Ok(ahead) if ahead > AHEAD_LIMIT => Err(format!(
            "--start-at {shown} is {} ahead, more than 24 h; check the date",
            humantime::format_duration(Duration::from_secs(ahead.as_secs()))
        )),
        _ => Ok(()),
    }
}

fn merge(args: &MergeArgs) -> u8 {
    let read = |path: &PathBuf| {
        RunResults::read(path)
            .map(|r| (path.display().to_string(), r))
            .map_err(|e| format!("{e:#}"))
    };
    let shards = match args.shards.iter().map(read).collect::<Result<Vec<_>, _>>() {
        Ok(shards) => shards,
        Err(e) => return fail(exit::BAD_INPUT, &e),
    };
    let mut merged = match plimsoll::results::merge(shards) {
        Ok(merged) => merged,
        Err(e) => return fail(exit::BAD_INPUT, &e),
    };
    let names: Vec<&str> = merged.jobs.iter().map(|j| j.name.as_str()).collect();
    let resolve =
        |t: &Threshold| gate::run_gate(t, &names).map_err(|e| format!("--threshold `{t}`: {e}"));
    let gates = match args
        .thresholds
        .iter()
        .map(resolve)
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(gates) => gates,
        Err(e) => return fail(exit::BAD_INPUT, &e),
    };
    merged.thresholds.extend(gate::evaluate(&gates, &merged));
    if let Err(e) = merged.write(&args.output) {
        let message = format!("cannot write {}: {e}", args.output.display());
        return fail(exit::FAILURE, &message);
    }
    out!("{}", plimsoll::report::terminal::summary(&merged));
    let capacity = plimsoll::report::capacity::summary(&merged);
    if !capacity.is_empty() {
        out!("\n{capacity}");
    }
    outln!("\nresults: {}", args.output.display());
    match capacity_code(&merged) {
        exit::OK => status_code(&merged),
        code => code,
    }
}

/// One run's inputs, the same for every repetition.
struct Plan<'a> {
    workload: &'a Workload,
    path: Option<&'a Path>,
    /// From the command line; the workload's own are checked by the runner.
    gates: &'a [Gate],
    stop: &'a Arc<AtomicBool>,
    options: RunOptions,
}

impl Plan<'_> {
    /// Runs the workload once and checks the command line's thresholds; a run that could not
    /// start gives its exit code.
    fn run_once(&self) -> Result<RunResults, u8> {
        let (workload, path) = (self.workload, self.path);
        let ran = runner::run(workload, path, self.stop, self.options.clone());
        let mut results = match ran {
            Ok(results) => results,
            Err(e @ SetupError::Input { .. }) => {
                let label = path.unwrap_or(Path::new("(built-in quickstart)"));
                return Err(fail(exit::BAD_INPUT, &located(label, workload, &e)));
            }
            Err(e) if self.stop.load(Ordering::Relaxed) => {
                return Err(fail(exit::INTERRUPTED, &e));
            }
            Err(e @ SetupError::Failed { .. }) => return Err(fail(exit::FAILURE, &e)),
        };
        results
            .thresholds
            .extend(gate::evaluate(self.gates, &results));
        Ok(results)
    }
}

/// `--repeat N`: the runs one after another, each in `run-K/` of the run folder. A Ctrl-C
/// ends the repetition with what was measured so far (the run it caught is written,
/// interrupted); so does a run stopped by abort-early, whose exit code is already decided.
fn repeat(plan: &Plan, args: &RunArgs) -> u8 {
    let folder = args.output.clone().unwrap_or_else(|| {
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
        default_folder(plan.workload, &now.to_string())
    });
    let total = args.repeat;
    let mut done: Vec<(String, RunResults)> = Vec::new();
    let mut codes = Vec::new();
    for k in 1..=total {
        if plan.stop.load(Ordering::Relaxed) {
            codes.push(exit::INTERRUPTED);
            break;
        }
        let results = match plan.run_once() {
            Ok(results) => results,
            Err(code) => {
                codes.push(code);
                break;
            }
        };
        let label = format!("run-{k}");
        let run_folder = folder.join(&label);
        if let Err(code) = write_run(&results, &run_folder) {
            codes.push(code);
            break;
        }
        if !args.quiet {
            outln!("{label} of {total}:");
            out!("{}", plimsoll::report::terminal::summary(&results));
            outln!("\nresults: {}", run_folder.join("results.json").display());
        } else {
            let failed = plimsoll::report::terminal::failed_thresholds(&results);
            if !failed.is_empty() {
                eprint!("{label} of {total}:\n{failed}");
            }
        }
        let written = write_report(&results, &run_folder, args);
        codes.push(written.err().unwrap_or_else(|| status_code(&results)));
        let aborted = results.status == RunStatus::Aborted;
        done.push((label, results));
        if aborted {
            break;
        }
        if !args.quiet && k < total {
            outln!();
        }
    }
    let runs: Vec<(String, &[gate::ThresholdResult])> = done
        .iter()
        .map(|(label, r)| (label.clone(), r.thresholds.as_slice()))
        .collect();
    let cases = plimsoll::ci::repeat_threshold_cases(&runs);
    let junit = plimsoll::ci::junit(&plan.workload.name, &cases);
    let markdown = plimsoll::ci::repeat_markdown(&plan.workload.name, &runs);
    if let Err(e) = write_ci(&args.ci, &junit, &markdown) {
        return fail(exit::FAILURE, &e);
    }
    if !args.quiet {
        outln!("\n{}", repeat_line(&done, total));
        outln!("runs: {}", folder.display());
    }
    combined(&codes)
}

/// One line on what the repetition did: runs done and where thresholds failed.
fn repeat_line(done: &[(String, RunResults)], total: u32) -> String {
    let failed: Vec<&str> = done
        .iter()
        .filter(|(_, r)| r.thresholds.iter().any(|t| !t.passed) || r.aborted.is_some())
        .map(|(label, _)| label.as_str())
        .collect();
    let complete = done
        .iter()
        .filter(|(_, r)| r.status == RunStatus::Complete)
        .count();
    let tail = match failed.as_slice() {
        [] => String::new(),
        some => format!("; thresholds failed in {}", some.join(", ")),
    };
    format!("repeat: {complete} of {total} runs complete{tail}")
}

/// The exit code of several runs: a failure outranks an interruption, which outranks a
/// failed threshold.
fn combined(codes: &[u8]) -> u8 {
    let rank = |code: &u8| match *code {
        exit::OK => 0,
        exit::THRESHOLD_FAILED => 1,
        exit::INTERRUPTED => 2,
        _ => 3,
    };
    codes.iter().copied().max_by_key(rank).unwrap_or(exit::OK)
}

fn write_run(results: &RunResults, folder: &Path) -> Result<(), u8> {
    let output = folder.join("results.json");
    if let Err(e) = results.write(&output) {
        let message = format!("cannot write results to {}: {e}", output.display());
        return Err(fail(exit::FAILURE, &message));
    }
    Ok(())
}

fn write_report(results: &RunResults, folder: &Path, args: &RunArgs) -> Result<(), u8> {
    if args.no_report {
        return Ok(());
    }
    match plimsoll::report::write_folder(results, folder) {
        Ok(files) if !args.quiet => {
            outln!("report: {}", files.index.display());
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(fail(exit::FAILURE, &e)),
    }
}

fn capacity(args: CapacityArgs) -> u8 {
    let path = args.workload.as_path();
    let workload = match workload::load_file(path) {
        Ok(w) => w,
        Err(e) => return fail(exit::BAD_INPUT, &e),
    };
    let shard = match shard_and_start(args.shard, args.start_at) {
        Ok(shard) => shard,
        Err(code) => return code,
    };
    let terminal = std::io::stderr().is_terminal();
    let options = plimsoll::capacity::Options {
        job: args.job,
        objectives: args.objectives,
        current: args.current,
        start: args.start,
        step_duration: args.step_duration,
        step_warmup: args.step_warmup,
        tolerance: args.tolerance / 100.0,
        factor: args.factor,
        retry: !args.no_retry,
        max_steps: args.max_steps,
        max_time: args.max_time,
        progress: !args.quiet && terminal,
        step_lines: !args.quiet,
        shard,
        start_at: args.start_at,
    };
    let plan = match plimsoll::capacity::plan(&workload, options) {
        Ok(plan) => plan,
        Err(e) => return fail(exit::BAD_INPUT, &e),
    };
    if let Some(folder) = &args.output
        && let Err(message) = check_output_folder(folder)
    {
        return fail(exit::BAD_INPUT, &message);
    }
    let stop = match install_interrupt_flag() {
        Ok(stop) => stop,
        Err(e) => return fail(exit::FAILURE, &e),
    };
    let results = match plimsoll::capacity::run(&plan, Some(path), &stop) {
        Ok(results) => results,
        Err(e @ SetupError::Input { .. }) => {
            return fail(exit::BAD_INPUT, &located(path, &workload, &e));
        }
        Err(e) if stop.load(std::sync::atomic::Ordering::Relaxed) => {
            return fail(exit::INTERRUPTED, &e);
        }
        Err(e @ SetupError::Failed { .. }) => return fail(exit::FAILURE, &e),
    };
    let folder = args.output.unwrap_or_else(|| {
        let mut named = workload.clone();
        named.name = format!("{}-capacity", workload.name);
        default_folder(&named, &results.started_at)
    });
    let output = folder.join("results.json");
    if let Err(e) = results.write(&output) {
        let message = format!("cannot write results to {}: {e}", output.display());
        return fail(exit::FAILURE, &message);
    }
    if !args.quiet {
        outln!("{}", plimsoll::report::capacity::summary(&results));
        outln!("results: {}", output.display());
    }
    if !args.no_report {
        match plimsoll::report::write_folder(&results, &folder) {
            Ok(files) if !args.quiet => outln!("report: {}", files.index.display()),
            Ok(_) => {}
            Err(e) => return fail(exit::FAILURE, &e),
        }
    }
    capacity_code(&results)
}

/// A search that found no passing load, or less than the current one, fails like a threshold.
fn capacity_code(results: &RunResults) -> u8 {
    let Some(c) = results.capacity.as_deref() else {
        return status_code(results);
    };
    match results.status {
        RunStatus::Complete => {}
        _ => return status_code(results),
    }
    let short = c.best_step.is_none() || c.headroom.is_some_and(|h| h < 1.0);
    if short {
        exit::THRESHOLD_FAILED
    } else {
        exit::OK
    }
}

fn report(path: &Path, output: Option<PathBuf>, force: bool) -> u8 {
    let results = match RunResults::read(path) {
        Ok(results) => results,
        Err(e) => return fail(exit::BAD_INPUT, &e),
    };
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    let folder = output.unwrap_or_else(|| parent.unwrap_or(Path::new(".")).to_owned());
    if let Err(why) = check_other_results(&folder, path) {
        return fail(exit::BAD_INPUT, &why);
    }
    if !force && let Err(why) = check_report_folder(&folder, path) {
        return fail(exit::BAD_INPUT, &why);
    }
    match plimsoll::report::write_folder(&results, &folder) {
        Ok(files) => {
            outln!("report: {}", files.index.display());
            exit::OK
        }
        Err(e) => fail(exit::FAILURE, &e),
    }
}

fn compare(args: &CompareArgs) -> u8 {
    let (baseline, candidate) = match (compare_side(args, true), compare_side(args, false)) {
        (Ok(b), Ok(c)) => (b, c),
        (Err(e), _) | (_, Err(e)) => return fail(exit::BAD_INPUT, &e),
    };
    let options = plimsoll::compare::Options {
        min_effect_pct: args.min_effect,
        budgets: args.budgets.clone(),
    };
    let comparison = plimsoll::compare::compare_runs(&baseline, &candidate, &options);
    for warning in &comparison.warnings {
        eprintln!("plimsoll: warning: {warning}");
    }
    if comparison.metrics.is_empty() {
        // Nothing in common (other jobs or operations) is a wrong pair of files, not a pass;
        // an empty table and a tally of zeros would only read like one.
        let why = "the two sides share no job and operation, so nothing was compared";
        return fail(exit::BAD_INPUT, &why);
    }
    out!("{}", comparison.table());
    let junit = plimsoll::ci::junit("plimsoll compare", &comparison.test_cases());
    if let Err(e) = write_ci(&args.ci, &junit, &comparison.markdown()) {
        return fail(exit::FAILURE, &e);
    }
    if comparison.failed() {
        exit::THRESHOLD_FAILED
    } else {
        exit::OK
    }
}

/// The runs of one side of `compare`: the positional path or every `--baseline` (or
/// `--candidate`) path, each a results file or a folder of them.
fn compare_side(args: &CompareArgs, baseline: bool) -> Result<Vec<RunResults>, String> {
    let (one, many) = if baseline {
        (&args.baseline, &args.baselines)
    } else {
        (&args.candidate, &args.candidates)
    };
    let paths: Vec<&PathBuf> = one.iter().chain(many).collect();
    let mut runs = Vec::new();
    for path in paths {
        let read = RunResults::read_runs(path).map_err(|e| format!("{e:#}"))?;
        runs.extend(read.into_iter().map(|(_, results)| results));
    }
    Ok(runs)
}

/// One JUnit case per threshold checked, and the thresholds as a Markdown table.
fn write_run_ci(ci: &CiArgs, workload: &Workload, results: &RunResults) -> Result<(), String> {
    let cases = plimsoll::ci::threshold_cases(&results.thresholds);
    let junit = plimsoll::ci::junit(&workload.name, &cases);
    let markdown = plimsoll::ci::thresholds_markdown(&workload.name, &results.thresholds);
    write_ci(ci, &junit, &markdown)
}

fn write_ci(ci: &CiArgs, junit: &str, markdown: &str) -> Result<(), String> {
    plimsoll::ci::write_outputs(ci.junit.as_deref(), ci.markdown.as_deref(), junit, markdown)
}

fn load(path: Option<&Path>) -> Result<Workload, workload::WorkloadError> {
    match path {
        Some(path) => workload::load_file(path),
        None => workload::load_str("(built-in quickstart)", plimsoll::QUICKSTART),
    }
}

/// `--threshold` expressions, their scopes resolved against the workload's jobs.
fn command_line_gates(thresholds: &[Threshold], workload: &Workload) -> Result<Vec<Gate>, String> {
    let names: Vec<&str> = workload.jobs.iter().map(|j| j.name()).collect();
    let resolve =
        |t: &Threshold| gate::run_gate(t, &names).map_err(|e| format!("--threshold `{t}`: {e}"));
    thresholds.iter().map(resolve).collect()
}

/// A failed or interrupted run keeps its own code: its figures may not be the whole story.
fn status_code(results: &RunResults) -> u8 {
    let failed = results.thresholds.iter().any(|t| !t.passed);
    match results.status {
        RunStatus::Complete if failed => exit::THRESHOLD_FAILED,
        RunStatus::Complete => exit::OK,
        RunStatus::Interrupted => exit::INTERRUPTED,
        RunStatus::Aborted => exit::THRESHOLD_FAILED,
        RunStatus::Failed => {
            let failure = results.failure.as_deref().unwrap_or("a worker failed");
            fail(exit::FAILURE, &failure)
        }
    }
}

/// The first Ctrl-C (or SIGTERM) asks the run to stop and write what it measured; a second
/// one ends the process at once. Signals close together count as one: `timeout` and a
/// terminal both deliver the same interrupt to the process and to its group, and that pair must
/// not cost the results.
fn install_interrupt_flag() -> std::io::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let stop = stop.clone();
        // SAFETY: the handler only touches atomics and calls clock_gettime, write and _exit,
        // all async-signal-safe.
        unsafe {
            signal_hook::low_level::register(signal, move || on_interrupt(&stop))?;
        }
    }
    Ok(stop)
}

/// When the first interrupt came, in CLOCK_MONOTONIC nanoseconds; 0 before it.
static FIRST_INTERRUPT_NS: AtomicU64 = AtomicU64::new(0);
/// Interrupts within this long of the first are taken as the same one.
const SAME_INTERRUPT_NS: u64 = 500_000_000;

fn on_interrupt(stop: &AtomicBool) {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid pointer to a timespec; clock_gettime is async-signal-safe.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let now_ns = (now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64).max(1);
    if !stop.swap(true, Ordering::SeqCst) {
        FIRST_INTERRUPT_NS.store(now_ns, Ordering::SeqCst);
        return;
    }
    let first = FIRST_INTERRUPT_NS.load(Ordering::SeqCst);
    if first != 0 && now_ns.saturating_sub(first) < SAME_INTERRUPT_NS {
        return;
    }
    let said = b"plimsoll: second interrupt: exiting without writing results\n";
    // SAFETY: write and _exit are async-signal-safe; the buffer outlives the call.
    unsafe {
        libc::write(2, said.as_ptr().cast(), said.len());
        libc::_exit(i32::from(exit::INTERRUPTED));
    }
}

fn default_folder(workload: &Workload, started_at: &str) -> PathBuf {
    // RFC 3339 without separators, Z kept so the folder says its time zone.
    let stamp = started_at.replace([':', '-'], "");
    let name: String = workload
        .name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' => c,
            _ => '_',
        })
        .collect();
    let base = PathBuf::from("reports").join(format!("{name}-{stamp}"));
    // Two runs started in the same second get folders of their own.
    (1..)
        .map(|n| match n {
            1 => base.clone(),
            n => base.with_file_name(format!("{name}-{stamp}-{n}")),
        })
        .find(|candidate| !candidate.exists())
        .expect("some suffix is free")
}

/// A run writes into a new or empty folder, so it never replaces files it did not make,
/// earlier results included.
fn check_output_folder(folder: &Path) -> Result<(), String> {
    match std::fs::read_dir(folder).map(|mut entries| entries.next().is_some()) {
        Ok(true) => Err(format!(
            "the output folder {} already holds files; give --output a new or empty folder \
             (a run never replaces files it did not make)",
            folder.display()
        )),
        Ok(false) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) if folder.is_file() => Err(format!(
            "--output {} is a file; it names the run's folder, which will hold results.json \
             and the report",
            folder.display()
        )),
        Err(e) => Err(format!(
            "cannot use {} as the output folder: {e}",
            folder.display()
        )),
    }
}

/// A folder holding another run's results file is that run's: a report of these results
/// there would sit beside numbers it does not show, whatever --force says.
fn check_other_results(folder: &Path, results: &Path) -> Result<(), String> {
    let theirs = folder.join("results.json");
    let same = |a: &Path, b: &Path| match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if theirs.exists() && !same(&theirs, results) {
        return Err(format!(
            "{} holds another run's results ({}); give --output a folder of its own",
            folder.display(),
            theirs.display()
        ));
    }
    Ok(())
}

/// A report replaces only its own files, but those may be an earlier report someone kept
/// or edited: without --force it goes only where nothing but its results file is.
fn check_report_folder(folder: &Path, results: &Path) -> Result<(), String> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(format!(
                "cannot use {} for the report: {e}",
                folder.display()
            ));
        }
    };
    let results = std::fs::canonicalize(results).ok();
    let mut others: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| std::fs::canonicalize(entry.path()).ok() != results)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    others.sort();
    let shown = others
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let more = if others.len() > 3 { ", ..." } else { "" };
    Err(format!(
        "the report folder {} already holds files ({shown}{more}); give --output a new or \
         empty folder, or add --force to replace the report's files in it",
        folder.display()
    ))
}

fn fail(code: u8, error: &dyn std::fmt::Display) -> u8 {
    eprintln!("plimsoll: error: {error:#}");
    code
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Warnings by default, and a line per setup phase (SQL init, Redis prefill, a disk file's
/// layout), which can take minutes and would otherwise look like a hang where no progress bar
/// is drawn. `--quiet` drops the phase lines.
fn init_logging(verbose: u8, quiet: bool) {
    let default = match verbose {
        0 if quiet => "warn".to_owned(),
        0 => format!("warn,{}=info", plimsoll::PHASE),
        1 => "plimsoll=debug,warn".to_owned(),
        _ => "plimsoll=trace,debug".to_owned(),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .init();
}
