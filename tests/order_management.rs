//! workloads/order-management.toml end to end, shortened: the order API started by
//! scripts/order-api.sh (on a port of the test's own), the shared PostgreSQL and Redis that
//! scripts/test.sh starts, and the write-ahead log in a scratch folder. Every job must run
//! and be measured, each of its thresholds checked on real samples.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const WORKLOAD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/workloads/order-management.toml"
);
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/order-api.sh");
/// Apart from the 18080 the workload names, so a user's own API is left alone.
const PORT: &str = "18181";

/// The order API for one test: started by the script, stopped when dropped.
struct OrderApi {
    dir: PathBuf,
}

impl OrderApi {
    fn start(dir: &Path) -> OrderApi {
        let api = OrderApi {
            dir: dir.join("api"),
        };
        let output = api.script("start");
        assert!(output.status.success(), "order-api.sh start: {output:?}");
        api
    }

    fn script(&self, action: &str) -> Output {
        Command::new("bash")
            .arg(SCRIPT)
            .arg(action)
            .env("ORDER_API_PORT", PORT)
            .env("ORDER_API_DIR", &self.dir)
            .output()
            .expect("run scripts/order-api.sh")
    }
}

impl Drop for OrderApi {
    fn drop(&mut self) {
        let _ = self.script("stop");
    }
}

/// The workload as committed, with a 2 s measured window, no warmup and the test's port.
fn shortened(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(WORKLOAD).expect("the workload file");
    let short = text
        .replacen("duration = \"30s\"", "duration = \"2s\"", 1)
        .replacen("warmup = \"3s\"", "warmup = \"0s\"", 1)
        .replace("127.0.0.1:18080", &format!("127.0.0.1:{PORT}"));
    assert_ne!(
        short, text,
        "the workload's duration, warmup and port are where expected"
    );
    let path = dir.join("order-management.toml");
    std::fs::write(&path, short).expect("write the shortened workload");
    path
}

fn plimsoll(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plimsoll"));
    command.current_dir(dir).env_remove("GITHUB_STEP_SUMMARY");
    command
}

#[test]
fn the_committed_workload_validates() {
    let output = plimsoll(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["validate", WORKLOAD])
        .output()
        .expect("run plimsoll validate");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.ends_with(": ok (5 jobs)\n"), "{stdout}");
}

#[test]
fn every_tier_runs_at_once_and_is_judged_by_its_thresholds() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let _api = OrderApi::start(dir.path());
    let workload = shortened(dir.path());
    let output = plimsoll(dir.path())
        .arg("run")
        .arg(&workload)
        .args(["--no-report", "--output", "out"])
        .output()
        .expect("run plimsoll");
    // A loaded machine may break a latency bound (exit 1); nothing else is acceptable.
    assert!(matches!(output.status.code(), Some(0 | 1)), "{output:?}");
    let text = std::fs::read_to_string(dir.path().join("out/results.json")).expect("results");
    let results: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(results["status"], "complete", "{output:?}");

    let jobs = results["jobs"].as_array().expect("jobs");
    let kinds: Vec<&str> = jobs.iter().map(|j| j["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["http", "redis", "postgres", "postgres", "disk"]);
    for job in jobs {
        let ops = job["operations"].as_array().expect("operations");
        let done: u64 = ops.iter().map(|o| o["count"].as_u64().unwrap()).sum();
        assert!(done > 0, "job {} measured nothing: {output:?}", job["name"]);
        for op in ops {
            assert_eq!(op["error_count"], 0, "{}: {op}", job["name"]);
        }
    }
    let place = &jobs[2]["operations"];
    let names: Vec<&str> = place
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["op"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"place_order_commit"), "{names:?}");
    assert!(jobs[1]["counters"]["get_misses"].as_u64().unwrap() > 0);

    let thresholds = results["thresholds"].as_array().expect("thresholds");
    for job in ["api", "cache", "orders", "replica", "wal"] {
        let of_job = thresholds
            .iter()
            .filter(|t| t["scope"].as_str().unwrap().starts_with(job));
        assert!(of_job.count() >= 2, "{job} has thresholds: {thresholds:?}");
    }
    for t in thresholds {
        assert!(t["measured"].is_number(), "checked on samples: {t}");
        if t["expression"].as_str().unwrap().contains("error") {
            assert_eq!(t["passed"], true, "{t}");
        }
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("thresholds: "), "{stdout}");
    assert!(
        !dir.path().join("wal.plimsoll.dat").exists(),
        "the log file is removed"
    );
}
