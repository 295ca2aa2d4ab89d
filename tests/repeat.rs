//! `plimsoll run --repeat N` end to end: a folder per run, thresholds judged per run and
//! combined into one exit code and one JUnit file, a Ctrl-C that keeps what was measured, and
//! `plimsoll compare` taking the repeated runs as the samples of each side.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

/// A null job whose operations take `delay`, run for `duration`.
fn workload(dir: &Path, name: &str, delay: &str, duration: &str) -> PathBuf {
    let text = format!(
        "name = \"rep\"\nduration = \"{duration}\"\ninterval = \"200ms\"\n\n[[jobs]]\n\
         kind = \"null\"\nname = \"n\"\ndelay = \"{delay}\"\n"
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write workload");
    path
}

fn plimsoll(workload: &Path, output: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plimsoll"));
    command
        .arg("run")
        .arg(workload)
        .args(["--no-report", "--output"])
        .arg(output)
        .args(args)
        .env_remove("GITHUB_STEP_SUMMARY");
    command
}

fn spawn(workload: &Path, output: &Path, args: &[&str]) -> Child {
    let mut command = plimsoll(workload, output, args);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command.spawn().expect("start plimsoll")
}

fn results(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).expect("a whole JSON document")
}

/// The `run-K` folders under `dir`, by K.
fn run_folders(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the run folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temp dir")
}

#[test]
fn each_run_gets_its_folder_and_its_own_verdicts() {
    let dir = scratch();
    let w = workload(dir.path(), "w", "1ms", "1s");
    let (out, junit, markdown) = (
        dir.path().join("out"),
        dir.path().join("j.xml"),
        dir.path().join("m.md"),
    );
    let output = plimsoll(&w, &out, &["--repeat", "3", "--threshold", "p50 < 100us"])
        .args(["--threshold", "errors == 0", "--junit"])
        .arg(&junit)
        .arg("--markdown")
        .arg(&markdown)
        .output()
        .expect("run plimsoll");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(run_folders(&out), ["run-1", "run-2", "run-3"]);
    let mut starts = Vec::new();
    for k in 1..=3 {
        let r = results(&out.join(format!("run-{k}/results.json")));
        assert_eq!(r["status"], "complete", "run {k}");
        let verdicts: Vec<&Value> = r["thresholds"].as_array().unwrap().iter().collect();
        assert_eq!(verdicts.len(), 2, "run {k}: {verdicts:?}");
        assert_eq!(verdicts[0]["passed"], false, "run {k}");
        assert_eq!(verdicts[1]["passed"], true, "run {k}");
        starts.push(r["started_at"].as_str().unwrap().to_owned());
    }
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("run-2 of 3:"), "{stdout}");
    assert!(
        stdout.contains("repeat: 3 of 3 runs complete; thresholds failed in run-1, run-2, run-3"),
        "{stdout}"
    );
    common::assert_valid_junit(&junit);
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert!(xml.contains("tests=\"6\" failures=\"3\""), "{xml}");
    for k in 1..=3 {
        let case = format!("classname=\"run-{k}/n.null\" name=\"p50 &lt; 100us\">");
        assert!(xml.contains(&case), "{case} in {xml}");
    }
    let md = std::fs::read_to_string(&markdown).expect("markdown");
    assert!(
        md.contains("| run | scope | threshold | measured | result |"),
        "{md}"
    );
    assert!(
        md.contains("| run-3 | n.null | `errors == 0` | 0 | pass |"),
        "{md}"
    );
}

#[test]
fn met_thresholds_in_every_run_exit_0() {
    let dir = scratch();
    let w = workload(dir.path(), "w", "0s", "300ms");
    let out = dir.path().join("out");
    let output = plimsoll(
        &w,
        &out,
        &["--repeat", "2", "--quiet", "--threshold", "p50 < 1s"],
    )
    .output()
    .expect("run plimsoll");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(run_folders(&out), ["run-1", "run-2"]);
    assert!(output.stdout.is_empty(), "quiet: {output:?}");
}

#[test]
fn a_ctrl_c_ends_the_repetition_and_keeps_what_was_measured() {
    let dir = scratch();
    let w = workload(dir.path(), "w", "1ms", "2s");
    let out = dir.path().join("out");
    let mut child = spawn(&w, &out, &["--repeat", "5"]);
    let first = out.join("run-1/results.json");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !first.is_file() {
        assert!(Instant::now() < deadline, "run 1 never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Into the second run's load, or still between runs: both must end the repetition.
    std::thread::sleep(Duration::from_millis(700));
    // SAFETY: signalling our own child, whose pid is valid until we wait on it.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let status = child.wait().expect("wait for plimsoll");
    assert_eq!(status.code(), Some(130));
    assert!(started.elapsed() < Duration::from_secs(5), "stops promptly");

    let folders = run_folders(&out);
    assert!(
        folders == ["run-1"] || folders == ["run-1", "run-2"],
        "{folders:?}"
    );
    assert_eq!(results(&first)["status"], "complete");
    if folders.len() == 2 {
        let second = results(&out.join("run-2/results.json"));
        assert_eq!(second["status"], "interrupted");
        let measured = second["measured_ns"].as_u64().unwrap();
        assert!(measured < 2_000_000_000, "cut short: {measured} ns");
        let count = second["jobs"][0]["operations"][0]["count"]
            .as_u64()
            .unwrap();
        assert!(count > 0, "what was measured is kept");
    }
}

/// The `n.null` rows of a comparison's table, by metric: (change, verdict).
fn rows(output: &Output) -> BTreeMap<String, (String, String)> {
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .filter(|l| l.starts_with("n.null "))
        .map(|l| {
            let cells: Vec<&str> = l
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            let verdict = cells.last().expect("a verdict").to_string();
            (cells[1].to_owned(), (cells[4].to_owned(), verdict))
        })
        .collect()
}

fn compare(args: &[&Path]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plimsoll"));
    command
        .arg("compare")
        .args(args)
        .env_remove("GITHUB_STEP_SUMMARY");
    command.output().expect("run plimsoll compare")
}

#[test]
fn compare_takes_repeated_runs_as_each_sides_samples() {
    let dir = scratch();
    let d = dir.path();
    // Delays of a few milliseconds, so a busy machine's late wake-ups stay small beside them.
    let sides = [("base", "4ms"), ("same", "4ms"), ("slow", "8ms")];
    let children: Vec<Child> = sides
        .iter()
        .map(|(name, delay)| {
            let w = workload(d, name, delay, "2s");
            spawn(&w, &d.join(name), &["--repeat", "2", "--quiet"])
        })
        .collect();
    for ((name, _), child) in sides.iter().zip(children) {
        let output = child.wait_with_output().expect("wait for plimsoll");
        assert_eq!(output.status.code(), Some(0), "{name}: {output:?}");
    }

    let same = compare(&[&d.join("base"), &d.join("same")]);
    assert_eq!(same.status.code(), Some(0), "{same:?}");
    let text = String::from_utf8_lossy(&same.stdout);
    assert!(
        text.contains("baseline: 2 run(s), candidate: 2 run(s)"),
        "{text}"
    );
    let same_rows = rows(&same);
    assert_eq!(same_rows.len(), 4, "{text}");
    for (metric, (change, verdict)) in &same_rows {
        assert_eq!(
            verdict, "no significant change",
            "{metric} changed {change}"
        );
    }

    let (b1, b2) = (d.join("base/run-1"), d.join("base/run-2/results.json"));
    let slow = compare(&[
        Path::new("--baseline"),
        &b1,
        &b2,
        Path::new("--candidate"),
        &d.join("slow"),
    ]);
    assert_eq!(slow.status.code(), Some(1), "{slow:?}");
    let slow_rows = rows(&slow);
    assert_eq!(slow_rows["p50"].1, "regression", "{slow:?}");
    assert_eq!(slow_rows["throughput"].1, "regression", "{slow:?}");

    let itself = compare(&[&d.join("base"), &d.join("base")]);
    for (metric, (change, _)) in rows(&itself) {
        assert_eq!(change, "+0.0%", "{metric}");
    }
    let empty = d.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let refused = compare(&[&empty, &d.join("base")]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("holds no results.json and no run-N/results.json"),
        "{stderr}"
    );
}

#[test]
fn a_run_stopped_by_abort_early_ends_the_repetition() {
    let dir = scratch();
    let text = "name = \"rep\"\nduration = \"20s\"\n\n[[jobs]]\nkind = \"null\"\nname = \"n\"\n\
                delay = \"1ms\"\nstall = { at = \"500ms\", for = \"300ms\" }\n";
    let w = dir.path().join("stall.toml");
    std::fs::write(&w, text).expect("write workload");
    let out = dir.path().join("out");
    let args = [
        "--repeat",
        "3",
        "--abort-early",
        "--threshold",
        "max < 100ms",
    ];
    let output = plimsoll(&w, &out, &args).output().expect("run plimsoll");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(run_folders(&out), ["run-1"], "the exit code was decided");
    let r = results(&out.join("run-1/results.json"));
    assert_eq!(r["status"], "aborted");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("repeat: 0 of 3 runs complete; thresholds failed in run-1"),
        "{stdout}"
    );
}
