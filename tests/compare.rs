//! `plimsoll compare` and the CI outputs end to end through the binary, on null jobs whose
//! timing is known: two runs of the same 4 ms workload differ only by noise, an 8 ms run is
//! certainly slower, and a file compared with itself changes by exactly nothing. The JUnit
//! files are parsed as XML; the Markdown must hold a table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use quick_xml::events::{BytesStart, Event};

mod common;

/// The runs every test compares, made once: `base` and `same` side by side (so they share
/// the machine's noise), `slow` with twice the delay, `gated` with thresholds and CI outputs.
struct Runs {
    dir: tempfile::TempDir,
    gated: Output,
}

fn runs() -> &'static Runs {
    static RUNS: OnceLock<Runs> = OnceLock::new();
    RUNS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temp dir");
        let summary = dir.path().join("summary.md");
        std::fs::write(&summary, "earlier step\n").expect("write summary");
        // Delays of a few milliseconds, so that a busy machine's late wake-ups (a millisecond
        // or two) stay small beside them.
        let children = [("base", "4ms"), ("same", "4ms"), ("slow", "8ms")]
            .map(|(name, delay)| spawn_run(dir.path(), name, delay, &[]));
        let gated = gated_run(dir.path(), &summary);
        for (name, child) in ["base", "same", "slow"].iter().zip(children) {
            let output = child.wait_with_output().expect("wait for plimsoll");
            assert_eq!(output.status.code(), Some(0), "{name}: {output:?}");
        }
        Runs { dir, gated }
    })
}

fn spawn_run(dir: &Path, name: &str, delay: &str, args: &[&str]) -> std::process::Child {
    let workload = dir.join(format!("{name}.toml"));
    let text = format!(
        "name = \"cmp\"\nduration = \"3s\"\ninterval = \"200ms\"\n\n[[jobs]]\nkind = \"null\"\n\
         name = \"n\"\ndelay = \"{delay}\"\n"
    );
    std::fs::write(&workload, text).expect("write workload");
    Command::new(env!("CARGO_BIN_EXE_plimsoll"))
        .arg("run")
        .arg(&workload)
        .args(["--no-report", "--quiet", "--output"])
        .arg(dir.join(name))
        .args(args)
        .env_remove("GITHUB_STEP_SUMMARY")
        .spawn()
        .expect("start plimsoll")
}

/// A run with one threshold it breaks and one it keeps, writing JUnit, Markdown and the
/// step summary.
fn gated_run(dir: &Path, summary: &Path) -> Output {
    let junit = dir.join("run.xml");
    let markdown = dir.join("run.md");
    let workload = dir.join("gated.toml");
    std::fs::write(
        &workload,
        "name = \"gated\"\nduration = \"1s\"\n\n[[jobs]]\nkind = \"null\"\nname = \"n\"\n\
         delay = \"1ms\"\n",
    )
    .expect("write workload");
    Command::new(env!("CARGO_BIN_EXE_plimsoll"))
        .arg("run")
        .arg(&workload)
        .args(["--no-report", "--quiet", "--output"])
        .arg(dir.join("gated"))
        .args([
            "--threshold",
            "p50 < 100us",
            "--threshold",
            "p50 < 1s",
            "--junit",
        ])
        .arg(&junit)
        .arg("--markdown")
        .arg(&markdown)
        .env("GITHUB_STEP_SUMMARY", summary)
        .output()
        .expect("run plimsoll")
}

fn results(name: &str) -> PathBuf {
    runs().dir.path().join(name).join("results.json")
}

fn compare(baseline: &Path, candidate: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plimsoll"))
        .arg("compare")
        .arg(baseline)
        .arg(candidate)
        .args(args)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .expect("run plimsoll compare")
}

/// The table's rows for the null operation, by metric: (change, verdict).
fn rows(output: &Output) -> BTreeMap<String, (String, String)> {
    rows_of(output, "n.null")
}

/// The table's rows for `scope` (`job.op`), by metric: (change, verdict).
fn rows_of(output: &Output, scope: &str) -> BTreeMap<String, (String, String)> {
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .filter(|l| l.starts_with(&format!("{scope} ")))
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

fn metric_names(rows: &BTreeMap<String, (String, String)>) -> Vec<&str> {
    rows.keys().map(String::as_str).collect()
}

#[test]
fn a_file_against_itself_changes_by_exactly_zero() {
    let path = results("base");
    let output = compare(&path, &path, &[]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let rows = rows(&output);
    assert_eq!(metric_names(&rows), ["p50", "p99", "p99.9", "throughput"]);
    for (metric, (change, verdict)) in &rows {
        assert_eq!(change, "+0.0%", "{metric}");
        assert_eq!(verdict, "no significant change", "{metric}");
    }
    assert!(output.stderr.is_empty(), "{output:?}");
}

#[test]
fn two_runs_of_the_same_workload_show_no_significant_change() {
    let output = compare(&results("base"), &results("same"), &[]);
    let rows = rows(&output);
    assert_eq!(rows.len(), 4, "{output:?}");
    for (metric, (change, verdict)) in &rows {
        assert_eq!(
            verdict, "no significant change",
            "{metric} changed {change}"
        );
    }
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}

#[test]
fn twice_the_delay_is_a_latency_and_throughput_regression() {
    let dir = runs().dir.path();
    let (junit, markdown) = (dir.join("slow.xml"), dir.join("slow.md"));
    let args = [
        "--junit",
        path_str(&junit),
        "--markdown",
        path_str(&markdown),
    ];
    let output = compare(&results("base"), &results("slow"), &args);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let rows = rows(&output);
    assert_eq!(rows["p50"].1, "regression", "{output:?}");
    // On a crowded machine a one-worker job's rate per interval swings with every late
    // wake-up, so the bootstrap may rightly find the throughput's drop not certain; it must
    // still be a drop, never an improvement.
    let throughput: f64 = rows["throughput"]
        .0
        .trim_end_matches('%')
        .parse()
        .expect("a %");
    assert!(throughput < -20.0, "throughput changed {throughput}%");
    assert_ne!(rows["throughput"].1, "improvement", "{output:?}");
    let change: f64 = rows["p50"]
        .0
        .trim_end_matches('%')
        .parse()
        .expect("a percentage");
    assert!((80.0..120.0).contains(&change), "p50 changed {change}%");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("warning: the workloads differ"), "{stderr}");

    let cases = junit_cases(&junit);
    assert!(
        cases["n.null/p50"] && cases["n.null/throughput"],
        "{cases:?}"
    );
    assert_eq!(cases.len(), 4, "{cases:?}");
    let text = std::fs::read_to_string(&markdown).expect("markdown");
    let tables = common::markdown_tables(&text);
    assert_eq!(tables.len(), 1, "{text}");
    let header = [
        "operation",
        "metric",
        "baseline",
        "candidate",
        "change",
        "95% CI",
        "verdict",
    ];
    assert_eq!(tables[0][0], header, "{text}");
    assert_eq!(tables[0].len(), 5, "a header and a row per metric: {text}");
    let p50 = tables[0].iter().find(|r| r[1] == "p50").expect("a p50 row");
    assert_eq!((p50[0].as_str(), p50[6].as_str()), ("n.null", "regression"));
}

#[test]
fn a_budget_lets_a_small_regression_pass_but_not_a_large_one() {
    let (base, slow) = (results("base"), results("slow"));
    // Twice the delay doubles p50; the tail of a busy machine can add a late wake-up of tens of
    // milliseconds to a 4 ms p99.9, so the loose budget is wide enough for that too.
    let loose = compare(&base, &slow, &["--budget", "900%"]);
    assert_eq!(loose.status.code(), Some(0), "{loose:?}");
    // The regression is shown, and shown as allowed, since it does not fail the comparison.
    assert_eq!(
        rows(&loose)["p50"].1,
        "regression, within budget",
        "{loose:?}"
    );
    let text = String::from_utf8_lossy(&loose.stdout);
    assert!(text.contains("within budget)"), "{text}");
    assert!(!text.contains("FAILED"), "{text}");
    let tight = compare(&base, &slow, &["--budget", "900%", "--budget", "p50=10%"]);
    assert_eq!(tight.status.code(), Some(1), "{tight:?}");
    assert_eq!(rows(&tight)["p50"].1, "regression", "{tight:?}");
}

#[test]
fn what_is_not_a_results_file_is_bad_input() {
    let dir = runs().dir.path();
    let output = compare(&results("base"), &dir.join("base.toml"), &[]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not a plimsoll results file"),
        "{stderr}"
    );
    let missing = compare(&dir.join("nowhere.json"), &results("base"), &[]);
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
    let bad_effect = compare(
        &results("base"),
        &results("base"),
        &["--min-effect", "lots"],
    );
    assert_eq!(bad_effect.status.code(), Some(2), "{bad_effect:?}");
    // A percentage needs its `%`: a bare 4 could be 4 % or, as a fraction, 400 %.
    let bare = compare(&results("base"), &results("base"), &["--min-effect", "4"]);
    assert_eq!(bare.status.code(), Some(2), "{bare:?}");
    let stderr = String::from_utf8_lossy(&bare.stderr);
    assert!(
        stderr.contains("`4` needs its unit; write `4%`"),
        "{stderr}"
    );
    let fraction = compare(&results("base"), &results("base"), &["--budget", "0.1"]);
    assert_eq!(fraction.status.code(), Some(2), "{fraction:?}");
    let stderr = String::from_utf8_lossy(&fraction.stderr);
    assert!(
        stderr.contains("write `10%` for the fraction 0.1"),
        "{stderr}"
    );
    let with_unit = compare(&results("base"), &results("base"), &["--min-effect", "4%"]);
    assert_eq!(with_unit.status.code(), Some(0), "{with_unit:?}");
}

#[test]
fn a_run_writes_one_junit_case_per_threshold_and_appends_its_summary() {
    let runs = runs();
    assert_eq!(runs.gated.status.code(), Some(1), "{:?}", runs.gated);
    let dir = runs.dir.path();
    let cases = junit_cases(&dir.join("run.xml"));
    let expected = [("n.null/p50 < 100us", true), ("n.null/p50 < 1s", false)];
    assert_eq!(
        cases,
        expected.map(|(k, v)| (k.to_owned(), v)).into(),
        "{cases:?}"
    );
    let markdown = std::fs::read_to_string(dir.join("run.md")).expect("markdown");
    let tables = common::markdown_tables(&markdown);
    assert_eq!(tables.len(), 1, "{markdown}");
    assert_eq!(tables[0][0], ["scope", "threshold", "measured", "result"]);
    assert_eq!(tables[0][1][..2], ["n.null", "p50 < 100us"], "{markdown}");
    assert_eq!(tables[0][1][3], "FAIL", "{markdown}");
    assert_eq!(tables[0][2][3], "pass", "{markdown}");
    let summary = std::fs::read_to_string(dir.join("summary.md")).expect("summary");
    assert!(summary.starts_with("earlier step\n"), "{summary}");
    assert!(summary.contains(&markdown), "{summary}");
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

/// Validates a JUnit file against the common schema, then parses it: `classname/name` of
/// each test case, and whether it failed. Also checks the suite's counts against its cases.
fn junit_cases(path: &Path) -> BTreeMap<String, bool> {
    common::assert_valid_junit(path);
    let text = std::fs::read_to_string(path).expect("junit file");
    let mut reader = quick_xml::Reader::from_str(&text);
    let (mut cases, mut current, mut suite) = (BTreeMap::new(), None, None);
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                "testsuite" => suite = Some((attr(&e, "tests"), attr(&e, "failures"))),
                "testcase" => {
                    let key = format!("{}/{}", attr(&e, "classname"), attr(&e, "name"));
                    cases.insert(key.clone(), false);
                    current = Some(key);
                }
                "failure" => {
                    assert!(!attr(&e, "message").is_empty(), "{text}");
                    cases.insert(current.clone().expect("failure inside a testcase"), true);
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    let failures = cases.values().filter(|f| **f).count();
    let counts = (cases.len().to_string(), failures.to_string());
    assert_eq!(suite, Some(counts), "{text}");
    cases
}

fn attr(element: &BytesStart, name: &str) -> String {
    let attribute = element
        .try_get_attribute(name)
        .expect("attributes parse")
        .unwrap_or_else(|| panic!("no `{name}` attribute"));
    quick_xml::escape::unescape(&attribute.value)
        .expect("escapes resolve")
        .into_owned()
}

/// A page-cache random-read disk job on a file of its own, capped at `cap` operations per
/// second: the cap, not the device, sets its rate.
fn capped_disk_run(dir: &Path, name: &str, cap: &str) -> std::process::Child {
    let workload = dir.join(format!("{name}.toml"));
    let text = format!(
        "name = \"disk-cap\"\nduration = \"3s\"\ninterval = \"200ms\"\n\n[[jobs]]\n\
         kind = \"disk\"\nname = \"d\"\npath = \"{}\"\nsize = \"4MiB\"\npattern = \"randread\"\n\
         block_size = \"4KiB\"\niops_cap = \"{cap}\"\nseed = 7\n",
        dir.join(format!("{name}.dat")).display()
    );
    std::fs::write(&workload, text).expect("write workload");
    Command::new(env!("CARGO_BIN_EXE_plimsoll"))
        .arg("run")
        .arg(&workload)
        .args(["--no-report", "--quiet", "--output"])
        .arg(dir.join(name))
        .env_remove("GITHUB_STEP_SUMMARY")
        .spawn()
        .expect("start plimsoll")
}

#[test]
fn a_disk_job_with_a_lower_iops_cap_is_a_throughput_regression() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let runs = [("fast", "2k"), ("same", "2k"), ("capped", "1k")]
        .map(|(name, cap)| (name, capped_disk_run(dir.path(), name, cap)));
    for (name, child) in runs {
        let output = child.wait_with_output().expect("wait for plimsoll");
        assert_eq!(output.status.code(), Some(0), "{name}: {output:?}");
    }
    let at = |name: &str| dir.path().join(name).join("results.json");
    let disk_rows = |output: &Output| rows_of(output, "d.read");

    // Page-cache reads take microseconds, so their latency moves with the machine's load;
    // the cap holds the rate still.
    let same = compare(&at("fast"), &at("same"), &[]);
    assert_eq!(
        disk_rows(&same)["throughput"].1,
        "no significant change",
        "{same:?}"
    );

    // Each cap holds; a starved process may fall short of its cap, so the change compare
    // must report is the one the two files themselves hold, not an assumed -50 %.
    let rate = |name: &str| -> f64 {
        let text = std::fs::read_to_string(at(name)).expect("read results");
        let results: serde_json::Value = serde_json::from_str(&text).expect("results JSON");
        results["jobs"][0]["operations"][0]["ops_per_s"]
            .as_f64()
            .expect("ops_per_s")
    };
    let (fast, capped) = (rate("fast"), rate("capped"));
    assert!(fast <= 2_000.0 * 1.02, "{fast} op/s under a 2k cap");
    assert!(capped <= 1_000.0 * 1.02, "{capped} op/s under a 1k cap");
    assert!(
        capped < fast * 0.8,
        "the lower cap made no clear difference: {capped} vs {fast}"
    );

    let slower = compare(&at("fast"), &at("capped"), &[]);
    assert_eq!(slower.status.code(), Some(1), "{slower:?}");
    let rows = disk_rows(&slower);
    assert_eq!(rows["throughput"].1, "regression", "{slower:?}");
    let change: f64 = rows["throughput"]
        .0
        .trim_end_matches('%')
        .parse()
        .expect("a percentage");
    let expected = (capped / fast - 1.0) * 100.0;
    assert!(
        (change - expected).abs() < 0.15,
        "throughput changed {change}%; the files say {expected:.2}%"
    );
}
