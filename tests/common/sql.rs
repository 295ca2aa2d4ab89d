//! Helpers the PostgreSQL and MySQL tests share: running a one-job workload in-process or
//! through the binary, reading its results, and checks on operation mixes and key skew.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use plimsoll::results::{JobResults, RunResults};
use plimsoll::runner::{self, RunOptions};
use plimsoll::workload::load_str;

pub const HOST: &str = "127.0.0.1";

/// The duration of runs that stop after a count of transactions: long enough that they end
/// by the count, however busy the machine.
pub const UNTIL_OPS: &str = "300s";

pub fn number(text: &str) -> u64 {
    text.parse()
        .unwrap_or_else(|_| panic!("a number, not `{text}`"))
}

/// A name of this test run's own: parallel runs (and test binaries) never share one.
pub fn own(name: &str) -> String {
    format!("plimsoll_{name}_{}", std::process::id())
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind((HOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

/// The text of a workload of one job of `kind`, named `name`, with the job's other keys.
pub fn one_job(kind: &str, name: &str, duration: &str, job: &str) -> String {
    format!(
        "name = \"t\"\nduration = \"{duration}\"\n\n[[jobs]]\nkind = \"{kind}\"\n\
         name = \"{name}\"\n{job}"
    )
}

/// Runs a one-job workload in-process, as `plimsoll run` does.
pub fn run(kind: &str, name: &str, duration: &str, job: &str) -> (RunResults, Duration) {
    let text = one_job(kind, name, duration, job);
    let workload = load_str("test.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let started = Instant::now();
    let results = runner::run(
        &workload,
        None,
        &AtomicBool::new(false),
        RunOptions::default(),
    )
    .unwrap_or_else(|e| panic!("setup failed: {e}"));
    (results, started.elapsed())
}

/// Runs a one-job workload in-process and returns how its setup failed (`{:#}`, the whole
/// chain); panics if it did not.
pub fn setup_error(kind: &str, name: &str, job: &str) -> String {
    let text = one_job(kind, name, "30s", job);
    let workload = load_str("test.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let stop = AtomicBool::new(false);
    match runner::run(&workload, None, &stop, RunOptions::default()) {
        Ok(_) => panic!("setup should fail:\n{text}"),
        Err(e) => format!("{e:#}"),
    }
}

pub fn job(results: &RunResults) -> &JobResults {
    &results.jobs[0]
}

pub fn count(results: &RunResults, op: &str) -> u64 {
    let ops = &job(results).operations;
    ops.iter().find(|o| o.op == op).map_or(0, |o| o.count)
}

pub fn counter(results: &RunResults, name: &str) -> u64 {
    job(results).counters.get(name).copied().unwrap_or(0)
}

/// Every error of the job: operation, kind, count.
pub fn all_errors(results: &RunResults) -> Vec<(String, String, u64)> {
    let ops = job(results).operations.iter();
    ops.flat_map(|o| {
        o.errors
            .iter()
            .map(|e| (o.op.clone(), e.kind.clone(), e.count))
    })
    .collect()
}

pub fn plimsoll() -> Command {
    Command::new(env!("CARGO_BIN_EXE_plimsoll"))
}

pub fn scratch(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

/// `plimsoll run` on `body`, written to `dir`, with its results in `dir/out`.
pub fn run_cli(dir: &Path, body: &str) -> Output {
    let path = dir.join("workload.toml");
    std::fs::write(&path, body).unwrap();
    plimsoll()
        .arg("run")
        .arg(&path)
        .arg("-o")
        .arg(dir.join("out"))
        .output()
        .unwrap()
}

/// `plimsoll run` on a one-job workload of `kind` (30 s long) that must be refused before any
/// load: exit code 2, well before the run would have ended, and no results. Returns what it
/// printed on stderr.
pub fn refused_before_load(kind: &str, job: &str) -> String {
    let dir = scratch("refused-");
    let started = Instant::now();
    let out = run_cli(dir.path(), &one_job(kind, "db", "30s", job));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "it was refused at setup, not after the 30 s run: {stderr}"
    );
    assert!(!dir.path().join("out").join("results.json").exists());
    assert!(
        stderr.contains("workload.toml:"),
        "placed in the file: {stderr}"
    );
    stderr
}

/// Where a message about the first line of `job` that starts with `start` places it in the
/// file [`refused_before_load`] writes: `workload.toml:LINE:`.
pub fn placed_at(kind: &str, job: &str, start: &str) -> String {
    let text = one_job(kind, "db", "30s", job);
    let line = text.lines().position(|l| l.starts_with(start));
    let line = line.unwrap_or_else(|| panic!("a line starting `{start}` in {text}"));
    format!("workload.toml:{}:", line + 1)
}

/// Asserts each operation's share of `total` is `expected` within four standard deviations
/// of a binomial draw (and at least one operation).
pub fn assert_shares(results: &RunResults, total: u64, expected: &[(&str, f64)]) {
    for &(op, share) in expected {
        let n = count(results, op) as f64;
        let sd = (total as f64 * share * (1.0 - share)).sqrt();
        let want = total as f64 * share;
        assert!(
            (n - want).abs() <= 4.0 * sd + 1.0,
            "{op}: {n} of {total}, expected about {want:.0} (sd {sd:.1})"
        );
    }
    let sum: u64 = expected.iter().map(|(op, _)| count(results, op)).sum();
    assert_eq!(sum, total, "every operation is one of the mix");
}

/// Rows of a 5,000-row YCSB table changed by `(rows, updates)` uniform and zipfian updates.
pub fn assert_zipfian_skew(uniform: (u64, u64), zipfian: (u64, u64)) {
    let ((uniform, uniform_updates), (zipfian, zipfian_updates)) = (uniform, zipfian);
    // 3,000 uniform updates over 5,000 rows change about 5000 (1 - e^-0.6) = 2,256 of them;
    // zipfian ones (theta 0.99) keep hitting the same few hundred hot rows.
    let expected = 5000.0 * (1.0 - (-(uniform_updates as f64) / 5000.0).exp());
    assert!(
        (uniform as f64 - expected).abs() < 0.05 * expected,
        "uniform: {uniform} rows changed by {uniform_updates} updates, expected ~{expected:.0}"
    );
    assert!(
        (zipfian as f64) < 0.6 * uniform as f64,
        "zipfian: {zipfian} rows changed by {zipfian_updates} updates; uniform: {uniform}"
    );
}

/// What refusing `'{id}'` (a parameter inside a quoted string) in the first statement says.
pub fn assert_quoted_parameter_refused(stderr: &str) {
    assert!(
        stderr.contains("workload.transactions[0].statements[0]"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`{id}` is inside a quoted string")
            && stderr.contains("write it without the quotes, like `= {id}`"),
        "{stderr}"
    );
}
