//! The report as a user gets it: `plimsoll report` on a committed results file (made by a real
//! run of tests/fixtures/small.toml), opened in a real browser, its interval logs read by an
//! independent HdrHistogram implementation, and user-typed text kept harmless.

use std::path::{Path, PathBuf};
use std::process::Command;

use plimsoll::report::{format, html, series};
use plimsoll::results::RunResults;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/small-results.json"
);

fn plimsoll() -> Command {
    Command::new(env!("CARGO_BIN_EXE_plimsoll"))
}

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("report-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

fn fixture() -> RunResults {
    RunResults::read(Path::new(FIXTURE)).unwrap()
}

/// Runs `plimsoll report RESULTS -o DIR` and returns the page.
fn report(results: &Path, dir: &Path) -> String {
    let out = plimsoll()
        .arg("report")
        .arg(results)
        .arg("-o")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(dir.join("index.html")).unwrap()
}

/// The page's words as a reader sees them: no styles, no charts, no tags, entities decoded,
/// one line per block (row, paragraph, heading).
fn visible_text(page: &str) -> String {
    let page = cut_between(page, "<style>", "</style>");
    let page = cut_between(&page, "<svg", "</svg>");
    let mut text = String::new();
    let mut tag: Option<String> = None;
    for c in page.chars() {
        match (&mut tag, c) {
            (None, '<') => tag = Some(String::new()),
            (Some(name), '>') => {
                text.push(if ends_block(name) { '\n' } else { ' ' });
                tag = None;
            }
            (Some(name), c) => name.push(c),
            (None, '\n') => text.push(' '),
            (None, c) => text.push(c),
        }
    }
    decode_entities(&text)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn ends_block(tag: &str) -> bool {
    let blocks = [
        "/tr",
        "/p",
        "/h1",
        "/h2",
        "/h3",
        "/li",
        "/figcaption",
        "/summary",
        "/title",
    ];
    blocks.contains(&tag) || tag == "pre" || tag == "/pre"
}

fn decode_entities(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn cut_between(text: &str, open: &str, close: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(open) {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find(close)
            .map_or(rest.len(), |e| start + e + close.len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Every chart figure on the page, as (id, its markup).
fn figures(page: &str) -> Vec<(String, String)> {
    page.split("<figure class=\"chart\" id=\"")
        .skip(1)
        .map(|f| {
            let id = f.split('"').next().unwrap().to_owned();
            (id, f.split("</figure>").next().unwrap().to_owned())
        })
        .collect()
}

fn expected_chart_ids(results: &RunResults) -> Vec<String> {
    let mut ids = Vec::new();
    for (i, job) in results.jobs.iter().enumerate() {
        let prefix = format!("job{}-{}", i + 1, job.name);
        ids.push(format!("{prefix}-throughput"));
        let ops = job.operations.iter();
        ids.extend(ops.map(|o| format!("{prefix}-latency-{}", o.op)));
        ids.push(format!("{prefix}-percentiles"));
        ids.push(format!("{prefix}-histogram"));
    }
    if results.resources.is_some() {
        let host = ["cpu", "memory", "plimsoll-cpu"];
        let devices = ["device-utilisation", "device-queue"];
        let watched = ["watched-cpu", "watched-memory"];
        let all = host.iter().chain(&devices).chain(&watched);
        ids.extend(all.map(|r| format!("resources-{r}")));
    }
    ids
}

#[test]
fn the_report_shows_the_numbers_the_results_file_holds() {
    let dir = scratch();
    let page = report(Path::new(FIXTURE), dir.path());
    let results = fixture();
    let text = visible_text(&page);

    for job in &results.jobs {
        for op in &job.operations {
            let l = &op.latency_ns;
            let row = [
                op.op.clone(),
                html::grouped(op.count),
                format::count(op.ops_per_s),
                if op.bytes > 0 {
                    format!("{}/s", format::bytes(op.bytes_per_s))
                } else {
                    "-".to_owned()
                },
                op.error_count.to_string(),
                format::latency(l.mean.map(|m| m.round() as u64)),
                format::latency(l.p50),
                format::latency(l.p90),
                format::latency(l.p99),
                format::latency(l.p99_9),
                format::latency(l.p99_99),
                format::latency(l.max),
            ]
            .join(" ");
            assert!(
                text.contains(&row),
                "row for {}/{}: {row}\n{text}",
                job.name,
                op.op
            );
        }
    }
    let open = &results.jobs[1];
    assert_eq!(
        open.load.as_ref().unwrap().model,
        "open",
        "the fixture has an open-model job"
    );
    for op in &open.operations {
        let l = op.service_time_ns.as_ref().unwrap();
        let row = [l.p50, l.p90, l.p99, l.p99_9, l.p99_99, l.max].map(format::latency);
        let row = format!(
            "{} {} {}",
            op.op,
            format::latency(l.mean.map(|m| m.round() as u64)),
            row.join(" ")
        );
        assert!(text.contains(&row), "service-time row {row}\n{text}");
    }
    let target = format::count(open.load.as_ref().unwrap().target_ops_per_s.unwrap());
    assert!(
        text.contains(&format!("Target {target} op/s for the whole job")),
        "{text}"
    );
    for check in &results.checks {
        assert!(
            text.contains(&check.explanation),
            "check {} shown",
            check.name
        );
    }
    let ids: Vec<String> = figures(&page).into_iter().map(|f| f.0).collect();
    assert_eq!(ids, expected_chart_ids(&results));
    for id in &ids {
        let png = std::fs::read(dir.path().join(format!("charts/{id}.png"))).unwrap();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{id}.png"
        );
    }
    for fetch in ["src=", "<link", "<script", "url("] {
        assert!(!page.contains(fetch), "the page fetches nothing: {fetch}");
    }
    insta::assert_snapshot!(text);
}

/// Figures made of one interval each: the time charts' points, by chart id.
fn chart_points(results: &RunResults) -> Vec<(String, Vec<(f64, f64)>)> {
    let jobs = results.jobs.iter().enumerate();
    let charts = jobs.flat_map(|(i, job)| series::job_charts(results, i, job));
    let over_time = charts.filter(|c| c.id.ends_with("-throughput") || c.id.contains("-latency-"));
    over_time
        .flat_map(|c| c.lines.into_iter().map(move |l| (c.id.clone(), l.points)))
        .collect()
}

#[test]
fn the_drain_after_the_requested_end_is_left_out_of_the_time_charts_and_said_so() {
    let dir = scratch();
    let mut results = fixture();
    // As a run writes it: the last interval lasts only as long as the drain did.
    let measured = results.measured_ns;
    for job in &mut results.jobs {
        let drain = job.intervals.last_mut().unwrap();
        assert!(
            drain.start_ns >= results.duration_requested_ns,
            "the fixture drains"
        );
        drain.duration_ns = measured - drain.start_ns;
    }
    let path = dir.path().join("drain.json");
    std::fs::write(&path, serde_json::to_string(&results).unwrap()).unwrap();

    let requested_s = results.duration_requested_ns as f64 / 1e9;
    for (id, points) in chart_points(&results) {
        assert!(!points.is_empty(), "{id} draws the measured intervals");
        assert!(
            points.iter().all(|p| p.0 < requested_s),
            "{id} draws the drain: {points:?}"
        );
    }
    let page = report(&path, &dir.path().join("out"));
    let figures = figures(&page);
    for (i, job) in results.jobs.iter().enumerate() {
        let drain = job.intervals.last().unwrap();
        let count: u64 = drain.ops.iter().map(|o| o.count).sum();
        let note = format!(
            "Not drawn: the drain after the requested end ({} from {:.2} s, {count} operation{} \
             still in flight at the end); results.json keeps it.",
            format::latency(Some(measured - drain.start_ns)),
            drain.start_ns as f64 / 1e9,
            if count == 1 { "" } else { "s" },
        );
        let caption = |id: String| {
            let (_, markup) = figures.iter().find(|f| f.0 == id).unwrap();
            visible_text(markup)
        };
        let text = caption(format!("job{}-{}-throughput", i + 1, job.name));
        assert!(text.contains(&note), "{text}");
        // A latency chart says so only when the drain held some of its operation.
        for op in &job.operations {
            let text = caption(format!("job{}-{}-latency-{}", i + 1, job.name, op.op));
            let drained = drain.ops.iter().any(|o| o.op == op.op);
            assert_eq!(text.contains("Not drawn: the drain"), drained, "{text}");
        }
    }
}

#[test]
fn a_stopped_run_leaves_out_only_a_last_sliver_too_short_to_plot() {
    let mut results = fixture();
    // Stopped 50 ms into the interval from 2.5 s: that part is a sliver; the one before is whole.
    results.status = plimsoll::results::RunStatus::Interrupted;
    results.measured_ns = 2_550_000_000;
    for job in &mut results.jobs {
        job.intervals.retain(|i| i.start_ns < results.measured_ns);
        let last = job.intervals.last_mut().unwrap();
        last.duration_ns = results.measured_ns - last.start_ns;
    }
    for (id, points) in chart_points(&results) {
        let latest = points.iter().map(|p| p.0).fold(0.0, f64::max);
        assert!(
            latest > 2.0 && latest < 2.5,
            "{id} ends at the last whole interval: {points:?}"
        );
    }
    let charts = series::job_charts(&results, 0, &results.jobs[0]);
    let note = charts[0].note.as_deref().unwrap_or_default();
    assert!(
        note.starts_with("Not drawn: the last 50.0ms from 2.50 s (")
            && note.ends_with(
                "under a fifth of an interval and too short to plot; results.json \
                               keeps it."
            ),
        "{note}"
    );
}

#[test]
fn a_script_in_a_name_and_a_password_in_a_url_never_appear_raw() {
    let dir = scratch();
    let mut results = serde_json::to_value(fixture()).unwrap();
    let evil = "<script>alert('x')</script>";
    results["workload"]["name"] = evil.into();
    results["workload"]["url"] = "redis://app:hunter2-secret@db:6379/0".into();
    results["jobs"][0]["name"] = format!("job{evil}").into();
    results["jobs"][0]["target"]["dsn"] = "postgres://u:hunter2-secret@h/db".into();
    results["failure"] = format!("connect http://u:hunter2-secret@h/ failed: {evil}").into();
    let from_target = serde_json::json!([{"kind": "<img src=x onerror=alert(1)>", "count": 1}]);
    results["jobs"][1]["operations"][0]["errors"] = from_target;
    results["jobs"][1]["operations"][0]["error_count"] = 1.into();
    let path = dir.path().join("evil.json");
    std::fs::write(&path, results.to_string()).unwrap();

    let page = report(&path, &dir.path().join("out"));
    assert!(!page.contains("<script"), "a script tag reached the page");
    assert!(
        !page.contains("<img"),
        "an error text from the target became markup"
    );
    assert!(
        page.contains("&lt;script&gt;"),
        "the name is shown, escaped"
    );
    let text = visible_text(&page);
    assert!(
        text.contains("redis://app:***@db:6379/0"),
        "URL shown, masked: {text}"
    );
    assert!(text.contains(evil), "the name is shown as text: {text}");
    for file in files_under(&dir.path().join("out")) {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("hunter2"), "password in {}", file.display());
        assert!(
            !text.contains("<script"),
            "raw script in {}",
            file.display()
        );
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The browser scripts/test.sh installs (Debian's chromium), or another one on PATH.
fn browser() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

fn headless(browser: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

#[test]
fn the_page_renders_in_a_headless_browser_with_every_chart_drawn() {
    let Some(browser) = browser() else {
        eprintln!("SKIPPED: no chromium on PATH (scripts/test.sh installs Debian's package)");
        return;
    };
    let dir = scratch();
    report(Path::new(FIXTURE), dir.path());
    let url = format!("file://{}", dir.path().join("index.html").display());

    let dom = headless(&browser, &dir.path().join("profile-dom"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let page = String::from_utf8_lossy(&dom.stdout);
    let console: Vec<&str> = std::str::from_utf8(&dom.stderr)
        .unwrap_or("")
        .lines()
        .filter(|l| l.contains(":CONSOLE("))
        .collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    let charts = figures(&page);
    assert_eq!(charts.len(), expected_chart_ids(&fixture()).len());
    for (id, markup) in &charts {
        let drawn = markup.matches("<polyline").count() + markup.matches("<path").count();
        assert!(markup.contains("<svg") && drawn > 0, "chart {id} is empty");
    }

    let shot = dir.path().join("screenshot.png");
    let status = headless(&browser, &dir.path().join("profile-shot"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1100,2400")
        .arg(&url)
        .output()
        .unwrap();
    assert!(status.status.success());
    let png = std::fs::read(&shot).expect("a screenshot was written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000);
    if let Some(keep) = std::env::var_os("PLIMSOLL_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}

/// A throwaway virtual environment with the Python `hdrhistogram` package, or why not.
fn python_hdrhistogram(dir: &Path) -> Result<PathBuf, String> {
    let venv = dir.join("venv");
    let made = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .output();
    match made {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Err(format!(
                "python3 -m venv failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        Err(e) => return Err(format!("no python3: {e}")),
    }
    let pip = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "hdrhistogram"])
        .output()
        .map_err(|e| e.to_string())?;
    if !pip.status.success() {
        return Err(format!(
            "pip install hdrhistogram failed: {}",
            String::from_utf8_lossy(&pip.stderr)
        ));
    }
    Ok(venv.join("bin/python"))
}

/// Sums every interval of an .hlog and prints the total count and the merged p99 in ns.
const READ_HLOG: &str = r#"
import sys
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader
merged = HdrHistogram(1, 3600 * 10**9, 3)
reader = HistogramLogReader(sys.argv[1], merged)
intervals = 0
while reader.add_next_interval_histogram(merged) is not None:
    intervals += 1
print(intervals, merged.get_total_count(), merged.get_value_at_percentile(99.0))
"#;

#[test]
fn interval_logs_read_back_with_an_independent_hdrhistogram() {
    let dir = scratch();
    let python = match python_hdrhistogram(dir.path()) {
        Ok(python) => python,
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
    // The report goes beside the virtualenv, not into its folder: a report needs one of
    // its own.
    let out = dir.path().join("out");
    report(Path::new(FIXTURE), &out);
    let results = fixture();
    let job = &results.jobs[0];
    for op in &job.operations {
        let log = out.join(format!("hlog/job1-{}-{}.hlog", job.name, op.op));
        let out = Command::new(&python)
            .arg("-c")
            .arg(READ_HLOG)
            .arg(&log)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let fields: Vec<u64> = text
            .split_whitespace()
            .map(|f| f.parse().unwrap())
            .collect();
        let intervals = job
            .intervals
            .iter()
            .filter(|i| i.ops.iter().any(|o| o.op == op.op));
        assert_eq!(fields[0], intervals.count() as u64, "one line per interval");
        assert_eq!(
            fields[1], op.count,
            "{}: every operation counted once",
            op.op
        );
        let p99 = op.latency_ns.p99.unwrap() as f64;
        let error = (fields[2] as f64 - p99).abs() / p99;
        assert!(error <= 0.002, "{}: p99 {} vs {p99}", op.op, fields[2]);
    }
}

#[test]
fn errors_get_a_table_a_warning_and_a_chart_over_time() {
    let dir = scratch();
    let mut results = serde_json::to_value(fixture()).unwrap();
    let enospc = serde_json::json!([{"kind": "ENOSPC", "errno": 28, "count": 3}]);
    results["jobs"][1]["operations"][0]["errors"] = enospc.clone();
    results["jobs"][1]["operations"][0]["error_count"] = 3.into();
    results["jobs"][1]["intervals"][2]["ops"][0]["errors"] = enospc;
    results["jobs"][1]["intervals"][2]["ops"][0]["error_count"] = 3.into();
    let path = dir.path().join("errors.json");
    std::fs::write(&path, results.to_string()).unwrap();

    let page = report(&path, &dir.path().join("out"));
    let text = visible_text(&page);
    assert!(text.contains("get ENOSPC 3"), "{text}");
    assert!(text.contains("Job cache: 3 operations failed."), "{text}");
    let ids: Vec<String> = figures(&page).into_iter().map(|f| f.0).collect();
    let after = ids
        .iter()
        .position(|id| id == "job2-cache-histogram")
        .unwrap()
        + 1;
    assert_eq!(ids[after], "job2-cache-errors", "{ids:?}");
}

#[test]
fn a_run_writes_its_folder_under_reports_named_for_the_workload() {
    let dir = scratch();
    let workload = dir.path().join("w.toml");
    let body = r#"name = "folder test"
duration = "1s"
interval = "250ms"

[[jobs]]
kind = "disk"
name = "reads"
path = "."
size = "4MiB"
pattern = "randread"
block_size = "4KiB"
"#;
    std::fs::write(&workload, body).unwrap();
    let run = plimsoll()
        .current_dir(dir.path())
        .args(["run", "w.toml", "--quiet"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let folders: Vec<PathBuf> = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(folders.len(), 1, "{folders:?}");
    let name = folders[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("folder_test-20"),
        "named from workload and start: {name}"
    );
    for file in ["results.json", "index.html", "hlog/job1-reads-read.hlog"] {
        assert!(folders[0].join(file).is_file(), "{file} in {name}");
    }
    assert!(
        folders[0]
            .join("charts/job1-reads-throughput.png")
            .is_file()
    );
}

#[test]
fn thresholds_and_their_verdicts_are_on_the_page() {
    let dir = scratch();
    let mut results = serde_json::to_value(fixture()).unwrap();
    results["thresholds"] = serde_json::json!([
        { "expression": "p99 < 1us", "scope": "cache.get", "measured": 250000.0, "unit": "ns",
          "measured_text": "250.0 µs", "passed": false },
        { "expression": "errors == 0", "scope": "cache.get", "measured": 0.0,
          "unit": "count", "measured_text": "0", "passed": true },
        { "expression": "<script>x</script>: p50 < 1ms", "scope": "run", "measured": null,
          "unit": "ns", "measured_text": "no samples", "passed": false }
    ]);
    let path = dir.path().join("gated.json");
    std::fs::write(&path, results.to_string()).unwrap();

    let page = report(&path, &dir.path().join("out"));
    let text = visible_text(&page);
    assert!(text.contains("Thresholds\n2 of 3 failed"), "{text}");
    assert!(
        text.contains("cache.get p99 < 1us 250.0 µs failed"),
        "{text}"
    );
    assert!(text.contains("cache.get errors == 0 0 passed"), "{text}");
    assert!(text.contains("run <script>x</script>: p50 < 1ms no samples failed"));
    assert!(!page.contains("<script>x"), "user text stays text");
    assert!(page.contains("class=\"status-failed\">failed</td>"));

    results["status"] = "aborted".into();
    results["aborted"] = serde_json::json!({ "expression": "p99 < 1us", "scope": "cache.get",
        "reason": "12 operations already took 1us or more", "after_ns": 2_500_000_000u64 });
    let aborted = dir.path().join("aborted.json");
    std::fs::write(&aborted, results.to_string()).unwrap();
    let text = visible_text(&report(&aborted, &dir.path().join("aborted")));
    assert!(text.contains("aborted · started"), "{text}");
    assert!(
        text.contains(
            "The run was aborted early after 2.5 s: threshold `p99 < 1us` at cache.get could \
             no longer pass (12 operations already took 1us or more)."
        ),
        "{text}"
    );

    let plain = dir.path().join("plain");
    let page = report(Path::new(FIXTURE), &plain);
    assert!(
        !page.contains("id=\"thresholds\""),
        "no section without thresholds"
    );
}

#[test]
fn a_report_never_replaces_files_unless_forced() {
    let dir = scratch();
    let out = dir.path().join("out");
    report(Path::new(FIXTURE), &out);
    let index = out.join("index.html");
    std::fs::write(&index, "kept").unwrap();
    let again = |force: bool| {
        let mut command = plimsoll();
        command.arg("report").arg(FIXTURE).arg("-o").arg(&out);
        if force {
            command.arg("--force");
        }
        command.output().unwrap()
    };
    let refused = again(false);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!(
            "the report folder {} already holds files",
            out.display()
        )) && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&index).unwrap(), "kept");
    let forced = again(true);
    assert_eq!(forced.status.code(), Some(0), "{forced:?}");
    assert!(std::fs::read_to_string(&index).unwrap().contains("<html"));

    // A run folder written with --no-report holds its results file only: the report goes
    // beside it without --force.
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::copy(FIXTURE, run.join("results.json")).unwrap();
    let beside = plimsoll()
        .arg("report")
        .arg(run.join("results.json"))
        .output()
        .unwrap();
    assert_eq!(beside.status.code(), Some(0), "{beside:?}");
    assert!(run.join("index.html").is_file());

    // Another run's folder is refused even with --force: its results file would disagree
    // with the report beside it.
    let other = plimsoll()
        .arg("report")
        .arg(FIXTURE)
        .arg("-o")
        .arg(&run)
        .arg("--force")
        .output()
        .unwrap();
    assert_eq!(other.status.code(), Some(2), "{other:?}");
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(stderr.contains("holds another run's results"), "{stderr}");
}

#[test]
fn long_operation_names_keep_the_summary_columns_aligned() {
    let mut results = fixture();
    let long = "checkout_with_saved_card_and_loyalty_points_then_confirm_x60";
    assert_eq!(long.chars().count(), 60);
    results.jobs[1].operations[0].op = long.to_owned();
    results.jobs[1].operations[1].op = "set".to_owned();
    let summary = plimsoll::report::terminal::summary(&results);
    let table: Vec<&str> = summary
        .lines()
        .skip_while(|l| !l.starts_with("job cache"))
        .skip(1)
        .skip_while(|l| !l.trim_start().starts_with("op "))
        .take(3)
        .collect();
    assert_eq!(table.len(), 3, "{summary}");
    // Every row's numbers end where the header's titles end: a character there, a space or
    // the line's end after it.
    let header: Vec<char> = table[0].chars().collect();
    let ends: Vec<usize> = (0..header.len())
        .filter(|&i| header[i] != ' ' && header.get(i + 1).is_none_or(|c| *c == ' '))
        .skip(1)
        .collect();
    for row in &table[1..] {
        let row: Vec<char> = row.chars().collect();
        for &end in &ends {
            let ends_here = row.get(end).is_some_and(|c| *c != ' ')
                && row.get(end + 1).is_none_or(|c| *c == ' ');
            assert!(ends_here, "column ending at {end}:\n{summary}");
        }
    }
    let name = table[1].split_whitespace().next().unwrap();
    assert!(
        name == long
            || (name.contains('…') && name.starts_with("checkout") && name.ends_with("x60")),
        "{name}"
    );
}

#[test]
fn the_summary_counts_a_network_job_in_threads_and_connections() {
    let summary = plimsoll::report::terminal::summary(&fixture());
    let line = summary
        .lines()
        .find(|l| l.starts_with("job cache"))
        .unwrap();
    assert_eq!(
        line,
        "job cache (redis): 1 thread, 4 connections, pipeline 1, redis://127.0.0.1:6379/0"
    );
    let disk = summary
        .lines()
        .find(|l| l.starts_with("job mixed"))
        .unwrap();
    assert!(disk.contains("1 worker"), "{disk}");
}

#[test]
fn the_summary_shows_whole_counts_without_decimals() {
    let mut results = fixture();
    let seconds = results.measured_ns as f64 / 1e9;
    let ops = &mut results.jobs[1].operations;
    (ops[0].count, ops[0].ops_per_s) = (5, 5.0 / seconds);
    // Only failures: nothing completed, at no rate.
    (ops[1].count, ops[1].ops_per_s, ops[1].error_count) = (0, 0.0, 3);
    let summary = plimsoll::report::terminal::summary(&results);
    let row = |op: &str| -> Vec<String> {
        let line = summary
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{op} ")));
        let line = line.unwrap_or_else(|| panic!("no row for {op}:\n{summary}"));
        line.split_whitespace().map(str::to_owned).collect()
    };
    let rate = format::count(5.0 / seconds);
    assert_eq!(row("get")[1..3], ["5", rate.as_str()], "{summary}");
    assert_eq!(row("set")[1..3], ["0", "0"], "{summary}");
    assert!(
        !summary.contains(" 5.00 ") && !summary.contains(" 0.00 "),
        "{summary}"
    );
}
