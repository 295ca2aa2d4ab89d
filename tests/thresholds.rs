//! Thresholds end to end through the binary: a null job with a fixed 1 ms delay has a known
//! p50, so a bound below it must fail with exit code 1 and be named, and one well above it
//! must pass; a threshold on an operation that never ran fails; a malformed one is bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A one-second null job whose every operation takes 1 ms, with `extra` lines in the job.
fn workload(dir: &Path, top: &str, job: &str) -> PathBuf {
    let text = format!(
        "name = \"gate\"\nduration = \"1s\"\n{top}\n\n[[jobs]]\nkind = \"null\"\nname = \"n\"\n\
         delay = \"1ms\"\n{job}\n"
    );
    let path = dir.join("w.toml");
    std::fs::write(&path, text).expect("write workload");
    path
}

fn run(dir: &Path, workload: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plimsoll"))
        .arg("run")
        .arg(workload)
        .args(["--no-report", "--output"])
        .arg(dir.join("out"))
        .args(args)
        .output()
        .expect("run plimsoll")
}

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temp dir")
}

fn thresholds(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("out/results.json")).expect("results");
    let results: Value = serde_json::from_str(&text).expect("json");
    results["thresholds"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_broken_threshold_exits_1_and_is_named_with_its_measured_value() {
    let dir = scratch();
    let w = workload(dir.path(), "", "thresholds = [\"p50 < 100us\"]");
    let output = run(dir.path(), &w, &[]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let summary = stdout(&output);
    assert!(
        summary.contains("FAILED n.null: `p50 < 100us` (measured 1."),
        "{summary}"
    );
    let checked = thresholds(dir.path());
    assert_eq!(checked.len(), 1);
    assert_eq!(checked[0]["passed"], false);
    assert_eq!(checked[0]["unit"], "ns");
    let p50 = checked[0]["measured"].as_f64().expect("a measured p50");
    assert!((1e6..5e6).contains(&p50), "p50 {p50} ns");
}

#[test]
fn quiet_still_names_a_failed_threshold_on_stderr_and_only_that() {
    let dir = scratch();
    let w = workload(
        dir.path(),
        "",
        "thresholds = [\"p50 < 100us\", \"p50 < 1s\"]",
    );
    let output = run(dir.path(), &w, &["--quiet"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(stdout(&output), "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("FAILED n.null: `p50 < 100us` (measured 1."),
        "{stderr}"
    );
    assert!(
        !stderr.contains("p50 < 1s"),
        "a met threshold is not an error: {stderr}"
    );
}

#[test]
fn met_thresholds_exit_0_from_the_workload_and_the_command_line() {
    let dir = scratch();
    let top = "thresholds = [\"n: errors == 0\"]";
    let w = workload(dir.path(), top, "thresholds = [\"null: p50 < 50ms\"]");
    let output = run(dir.path(), &w, &["--threshold", "n.null: iops > 100"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let checked = thresholds(dir.path());
    assert_eq!(checked.len(), 3);
    assert!(checked.iter().all(|t| t["passed"] == true), "{checked:?}");
    assert!(stdout(&output).contains("thresholds: 3 of 3 passed"));
}

#[test]
fn a_threshold_on_an_operation_without_samples_fails() {
    let dir = scratch();
    let w = workload(dir.path(), "", "");
    let output = run(dir.path(), &w, &["--threshold", "n.write: p99 < 1s"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let checked = thresholds(dir.path());
    assert_eq!(checked[0]["scope"], "n.write");
    assert_eq!(checked[0]["measured"], Value::Null);
    let summary = stdout(&output);
    assert!(
        summary.contains("FAILED n.write: `n.write: p99 < 1s` (no samples; the job measured null)"),
        "{summary}"
    );
}

#[test]
fn bad_thresholds_exit_2_before_any_load() {
    let dir = scratch();
    let w = workload(dir.path(), "", "thresholds = [\"p999 < 3ms\"]");
    let output = run(dir.path(), &w, &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("w.toml:9:") && stderr.contains("did you mean `p99.9`?"),
        "{stderr}"
    );
    let w = workload(dir.path(), "", "");
    let refused = [
        ("p99 < 5", "missing unit in `5` for a latency: write `5ms`"),
        (
            "m.null: p99 < 5ms",
            "no job named `m` in the workload (jobs: n)",
        ),
        (
            "n.null: dropped == 0",
            "`dropped` is counted per job, not per operation",
        ),
        ("p99 =< 5ms", "`=<` is not an operator; write `<=`"),
        ("iops > fast", "bad value for `iops`"),
    ];
    for (bad, message) in refused {
        let output = run(dir.path(), &w, &["--threshold", bad]);
        assert_eq!(output.status.code(), Some(2), "{bad}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{bad}: {stderr}");
    }
    assert!(!dir.path().join("out").exists(), "nothing ran");
}

/// A 20 s null job that stalls for `stall` 1 s in; `load` is extra job keys.
fn stalling(dir: &Path, top: &str, job: &str) -> PathBuf {
    let text = format!(
        "name = \"abort\"\nduration = \"20s\"\n{top}\n\n[[jobs]]\nkind = \"null\"\nname = \"n\"\n\
         delay = \"1ms\"\nstall = {{ at = \"1s\", for = \"500ms\" }}\n{job}\n"
    );
    let path = dir.join("stall.toml");
    std::fs::write(&path, text).expect("write workload");
    path
}

fn results(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("out/results.json")).expect("results");
    serde_json::from_str(&text).expect("json")
}

#[test]
fn abort_early_stops_an_open_model_run_once_p99_cannot_recover() {
    let dir = scratch();
    let job = "thresholds = [\"p99 < 100ms\"]\n[jobs.load]\nmodel = \"open\"\nrate = \"1k\"\n\
               max_in_flight = 4";
    let w = stalling(dir.path(), "abort_early = true", job);
    let started = std::time::Instant::now();
    let output = run(dir.path(), &w, &[]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
    let r = results(dir.path());
    assert_eq!(r["status"], "aborted");
    assert_eq!(r["aborted"]["expression"], "p99 < 100ms");
    assert_eq!(r["aborted"]["scope"], "n.null");
    let reason = r["aborted"]["reason"].as_str().unwrap();
    assert!(reason.contains("the schedule allows at most"), "{reason}");
    // Not before the stall that made p99 unrecoverable began, and long before the 20 s end.
    let measured = r["measured_ns"].as_u64().unwrap();
    assert!(
        (1_000_000_000..5_000_000_000).contains(&measured),
        "{measured}"
    );
    assert_eq!(
        r["thresholds"][0]["passed"], false,
        "still judged on what was measured"
    );
    let summary = stdout(&output);
    assert!(summary.contains("abort: ABORTED"), "{summary}");
    assert!(summary.contains("aborted after"), "{summary}");
}

#[test]
fn abort_early_from_the_command_line_stops_at_the_first_sample_over_a_max() {
    let dir = scratch();
    let w = stalling(dir.path(), "", "");
    let output = run(
        dir.path(),
        &w,
        &["--abort-early", "--threshold", "max < 50ms"],
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let r = results(dir.path());
    assert_eq!(r["status"], "aborted", "{r}");
    assert_eq!(r["aborted"]["expression"], "max < 50ms");
    assert!(r["measured_ns"].as_u64().unwrap() < 5_000_000_000);
}

#[test]
fn abort_early_never_stops_on_a_closed_model_percentile() {
    // Later fast samples could always dilute a closed model's p99, so it is judged at the end.
    let dir = scratch();
    let w = workload(
        dir.path(),
        "abort_early = true",
        "thresholds = [\"p99 < 100us\"]",
    );
    let output = run(dir.path(), &w, &[]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let r = results(dir.path());
    assert_eq!(r["status"], "complete");
    assert_eq!(r["aborted"], Value::Null);
    assert!(r["measured_ns"].as_u64().unwrap() >= 1_000_000_000);
}
