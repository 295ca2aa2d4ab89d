//! The command line: what each subcommand takes. Parsing only; `main` acts on it.

use std::path::PathBuf;
use std::time::SystemTime;

use clap::{Args, Parser, Subcommand};

/// Storage performance benchmarking and load generation.
///
/// Exit codes: 0 ok; 1 a threshold failed; 2 bad input or usage; 3 setup or run failure, or
/// a job in which no operation succeeded; 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "plimsoll", version, about, long_about)]
pub struct Cli {
    /// Log decisions to stderr (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a workload and write its results.
    Run(RunArgs),
    /// Rebuild the report (index.html, PNG charts, HdrHistogram logs) from a results file.
    Report {
        /// A results file written by `plimsoll run`.
        results: PathBuf,
        /// Where to write the report. Default: the folder holding the results file. It must
        /// be new, empty, or hold only that results file, unless --force.
        #[arg(short, long, value_name = "DIR")]
        output: Option<PathBuf>,
        /// Write into a folder that already holds files, replacing the report's own (index.html,
        /// charts/, hlog/) and leaving the rest.
        #[arg(long)]
        force: bool,
    },
    /// Compare a baseline with a candidate, metric by metric, with a noise-aware verdict each.
    ///
    /// Each side is one run (a results file or a run folder) or several: a folder written by
    /// `run --repeat`, or `--baseline A1 A2 --candidate B1 B2`.
    ///
    /// Exit codes: 0 no regression beyond the budget; 1 a metric regressed; 2 bad input.
    Compare(CompareArgs),
    /// Merge the results of the shards of one sharded run into one results file.
    ///
    /// Histograms are added exactly, interval series lined up by wall-clock time and summed,
    /// errors summed; each shard's resources stay its own. Shards of a capacity search keep
    /// their own searches, added up step by step when every shard ran the same steps. Exit
    /// codes: 0 merged; 1 a threshold failed, or no added-up step passed; 2 the files are not
    /// shards of one run.
    Merge(MergeArgs),
    /// Find the highest load one job sustains while meeting its objectives.
    ///
    /// Steps of the workload, each at one load of the job's knob (open model: the arrival
    /// rate; closed: connections or queue depth), grow by --factor until an objective breaks
    /// or throughput stops rising, then bisect until the bracket is within --tolerance.
    /// Exit codes: 0 a load passed (and, with --current, at least the current one); 1 none
    /// did, or the current load is beyond the capacity; 2 bad input; 3 a step failed; 130
    /// interrupted.
    Capacity(CapacityArgs),
    /// Check a workload file without running it.
    Validate {
        /// The workload file (TOML).
        workload: PathBuf,
        /// Also check that every job can be split over this many shards, as `run --shard`
        /// would split it.
        #[arg(long, value_name = "N")]
        shards: Option<u32>,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The workload file (TOML). Without it, the built-in quickstart runs: a short disk
    /// workload on files in the current directory.
    pub workload: Option<PathBuf>,
    /// The run folder: results.json and the report (index.html, charts/, hlog/) go in it.
    /// Default: reports/<workload>-<start time>/.
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// No progress line, no summary: only errors and failed thresholds, on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    /// Write only results.json; `plimsoll report` can build the report from it later.
    #[arg(long)]
    pub no_report: bool,
    /// A threshold the run must meet, like `p99 < 5ms` or `randread.read: p99 < 5ms` (scope
    /// `job` or `job.op` optional; without one it applies to every operation of every job).
    /// Repeatable. A failed threshold sets exit code 1.
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<crate::gate::Threshold>,
    /// Run one shard's part of every job: `I/N`, numbered from 1, like `2/4`. Without it,
    /// PLIMSOLL_SHARD=I/N is read, else a Kubernetes Indexed Job's JOB_COMPLETION_INDEX
    /// (from 0) with the count in PLIMSOLL_SHARDS; this flag wins over both.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::load::Shard>,
    /// Start the load at this wall-clock time, after setup, so shards start together and
    /// their intervals line up: RFC 3339 in UTC, like `2026-12-03T18:00:00Z`. Refused when
    /// it has passed or is more than 24 h ahead.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub start_at: Option<SystemTime>,
    /// Stop as soon as a threshold is certainly broken (an error count over its bound, a
    /// latency no later sample can bring back); the results say so and the exit code is 1.
    /// Same as `abort_early = true` in the workload.
    #[arg(long)]
    pub abort_early: bool,
    /// Run the workload N times, one after another, each into its own folder: run-1/ to
    /// run-N/ in the run folder. Thresholds are judged per run; any failed one sets exit
    /// code 1. `plimsoll compare` takes the folder as one side.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        value_parser = clap::value_parser!(u32).range(1..),
        conflicts_with = "start_at"
    )]
    pub repeat: u32,
    #[command(flatten)]
    pub ci: CiArgs,
}

/// RFC 3339 in UTC; whether the time is sensible is for `main` to judge against the clock.
fn parse_time(text: &str) -> Result<SystemTime, String> {
    humantime::parse_rfc3339(text.trim()).map_err(|e| {
        format!(
            "`{text}` is not an RFC 3339 time in UTC ({e}); write it like \
             `2026-12-03T18:00:00Z` (`date -u -d '+1 min' +%FT%TZ` prints one)"
        )
    })
}

#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// The workload file (TOML).
    pub workload: PathBuf,
    /// An objective every step must meet, in threshold syntax: `p99 < 10ms`,
    /// `error_rate < 0.1%`. Repeatable; the workload's thresholds for the job count too.
    #[arg(long = "objective", value_name = "EXPR")]
    pub objectives: Vec<crate::gate::Threshold>,
    /// The job to vary. Default: the workload's only job.
    #[arg(long, value_name = "NAME")]
    pub job: Option<String>,
    /// The load you run at today, like `1200/s`, to state the headroom.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub current: Option<f64>,
    /// The first load tried (a rate for the open model, a count for the closed). Default:
    /// the job's own value.
    #[arg(long, value_name = "LOAD", value_parser = parse_rate)]
    pub start: Option<f64>,
    /// Measured time of each step.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub step_duration: std::time::Duration,
    /// Run before each step's measurement, excluded from it. Default: a fifth of the step.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub step_warmup: Option<std::time::Duration>,
    /// Stop when the bracket between passing and failing loads is this narrow, as a
    /// percentage with its `%`.
    #[arg(
        long,
        value_name = "PCT",
        default_value = "5%",
        value_parser = crate::compare::parse_percent
    )]
    pub tolerance: f64,
    /// Each growth step's load is the previous one's times this.
    #[arg(long, value_name = "X", default_value_t = 2.0)]
    pub factor: f64,
    /// Count a load that did not pass at once, without running it a second time.
    #[arg(long)]
    pub no_retry: bool,
    /// Steps at most, the warm step and retries included.
    #[arg(long, value_name = "N", default_value_t = 24)]
    pub max_steps: usize,
    /// No step starts that would end after this much time.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration)]
    pub max_time: std::time::Duration,
    /// The run folder. Default: reports/<workload>-capacity-<start time>/.
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// No progress, no step lines, no summary: only errors on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    /// Write only results.json; `plimsoll report` can build the report from it later.
    #[arg(long)]
    pub no_report: bool,
    /// Run every step as one shard's part of the job, `I/N` as for `run` (the environment is
    /// read the same way). Loads stay the whole job's, so shards searching together try the
    /// same ones and `plimsoll merge` adds their steps up.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::load::Shard>,
    /// Start the first step's load at this wall-clock time, as for `run`, so shards begin
    /// together.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub start_at: Option<SystemTime>,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    crate::workload::units::Rate::parse(text).map(|r| r.0)
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    crate::workload::units::HumanDuration::parse(text).map(|d| d.0)
}

/// CI outputs, for `run` and `compare`. With GITHUB_STEP_SUMMARY set, the Markdown summary
/// is also appended to that file.
#[derive(Debug, Args)]
pub struct CiArgs {
    /// Write a JUnit XML file: one test case per threshold (run) or compared metric (compare).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown summary, ready for a pull-request comment.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' results files, one per shard, in any order.
    #[arg(required = true, value_name = "SHARD.json")]
    pub shards: Vec<PathBuf>,
    /// Where to write the merged results file.
    #[arg(short, long, value_name = "MERGED.json")]
    pub output: PathBuf,
    /// A threshold the merged figures must meet, as for `run`. Repeatable. The workload's
    /// own thresholds are always checked.
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<crate::gate::Threshold>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// What to compare against: a results file, a run folder, or a folder of repeated runs.
    #[arg(required_unless_present = "baselines", conflicts_with = "baselines")]
    pub baseline: Option<PathBuf>,
    /// What is under test, as the baseline.
    #[arg(required_unless_present = "candidates", conflicts_with = "candidates")]
    pub candidate: Option<PathBuf>,
    /// Baseline runs, one or more (results files or folders), instead of BASELINE.
    #[arg(long = "baseline", value_name = "PATH", num_args = 1.., requires = "candidates")]
    pub baselines: Vec<PathBuf>,
    /// Candidate runs, one or more (results files or folders), instead of CANDIDATE.
    #[arg(long = "candidate", value_name = "PATH", num_args = 1.., requires = "baselines")]
    pub candidates: Vec<PathBuf>,
    /// The smallest change that counts as a regression or an improvement, as a percentage
    /// with its `%` (`4%`; a bare `4` or `0.04` is refused, not guessed).
    #[arg(
        long,
        value_name = "PCT",
        default_value = "5%",
        value_parser = crate::compare::parse_percent
    )]
    pub min_effect: f64,
    /// A regression allowed before the comparison fails: `10%` for every metric, or
    /// `p99=10%` for one (throughput, p50, p99, p99.9); the `%` is required. Repeatable.
    /// Default: none.
    #[arg(long = "budget", value_name = "[METRIC=]PCT")]
    pub budgets: Vec<crate::compare::Budget>,
    #[command(flatten)]
    pub ci: CiArgs,
}
