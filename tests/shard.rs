//! Sharded runs end to end: two shards of one Redis workload run at once as separate
//! processes against the shared server on 127.0.0.1:6379 (each test on keys of its own
//! prefix), started together with `--start-at`, then merged with `plimsoll merge`; and the
//! refusals of merge.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use common::replay_into;
use plimsoll::measure::LatencyHistogram;
use plimsoll::results::RunResults;

const SHARED: &str = "redis://127.0.0.1:6379/0";
const RATE: f64 = 400.0;
const KEYS: u64 = 200;

fn plimsoll() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plimsoll"));
    for var in ["PLIMSOLL_SHARD", "PLIMSOLL_SHARDS", "JOB_COMPLETION_INDEX"] {
        command.env_remove(var);
    }
    command
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Keys of this test's prefix on the shared server, deleted when dropped.
struct Keys {
    connection: redis::Connection,
    prefix: String,
}

impl Keys {
    fn new(test: &str) -> Keys {
        let client = redis::Client::open(SHARED).expect("a Redis URL");
        let connection = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("the shared Redis on 127.0.0.1:6379 (scripts/test.sh starts it)");
        let prefix = format!("plimsoll-test:shard:{test}:{}:", std::process::id());
        let mut keys = Keys { connection, prefix };
        keys.clear();
        keys
    }

    /// Every key of the prefix with its value, by a bounded SCAN.
    fn values(&mut self) -> Vec<(String, u64)> {
        let pattern = format!("{}*", self.prefix);
        let (mut cursor, mut names) = (0u64, Vec::<String>::new());
        for _ in 0..100_000 {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query(&mut self.connection)
                .expect("SCAN");
            names.extend(batch);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        names.sort();
        names.dedup();
        names
            .into_iter()
            .map(|name| {
                let value: u64 = redis::cmd("GET")
                    .arg(&name)
                    .query(&mut self.connection)
                    .expect("GET");
                (name, value)
            })
            .collect()
    }

    fn clear(&mut self) {
        let names: Vec<String> = self.values().into_iter().map(|(n, _)| n).collect();
        for chunk in names.chunks(500) {
            let _: () = redis::cmd("DEL")
                .arg(chunk)
                .query(&mut self.connection)
                .expect("DEL");
        }
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        self.clear();
    }
}

/// An open-model workload of INCRs walking the key space in order, so every key of a
/// shard's slice is written and each key's value counts the operations that hit it.
fn workload(dir: &Path, prefix: &str, name: &str) -> PathBuf {
    let text = format!(
        r#"
name = "{name}"
duration = "3s"

[[jobs]]
name = "kv"
kind = "redis"
url = "{SHARED}"
connections = 4
mix = [{{ command = ["INCR", "{{key}}"], name = "incr" }}]
keys = {{ count = {KEYS}, prefix = "{prefix}", distribution = {{ kind = "sequential" }} }}
load = {{ model = "open", rate = "{RATE}" }}
"#
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn start_in(seconds: u64) -> String {
    let at = SystemTime::now() + Duration::from_secs(seconds);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// Runs shard 1 with `--shard` and shard 2 as a Kubernetes Indexed Job would name it, at
/// once, both waiting for the same start time. Returns their results files.
fn run_two_shards(dir: &Path, workload: &Path) -> [PathBuf; 2] {
    let start_at = start_in(3);
    let spawn = |index: u32| {
        let mut command = plimsoll();
        command
            .arg("run")
            .arg(workload)
            .args(["--start-at", &start_at]);
        command.args(["--quiet", "--no-report", "--output"]);
        command.arg(dir.join(format!("shard-{index}")));
        match index {
            1 => command.args(["--shard", "1/2"]),
            _ => command
                .env("JOB_COMPLETION_INDEX", "1")
                .env("PLIMSOLL_SHARDS", "2"),
        };
        command.spawn().expect("plimsoll runs")
    };
    let children = [spawn(1), spawn(2)];
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "a shard failed: {}",
            stderr(&output)
        );
    }
    [1, 2].map(|i| dir.join(format!("shard-{i}/results.json")))
}

fn merge(shards: &[&Path], output: &Path, extra: &[&str]) -> Output {
    let mut command = plimsoll();
    command
        .arg("merge")
        .args(shards)
        .arg("--output")
        .arg(output);
    command.args(extra).output().unwrap()
}

#[test]
fn two_redis_shards_started_together_merge_into_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut keys = Keys::new("merge");
    let path = workload(dir.path(), &keys.prefix, "sharded-redis");
    let [one, two] = run_two_shards(dir.path(), &path);
    let merged_path = dir.path().join("merged.json");
    let output = merge(
        &[&two, &one],
        &merged_path,
        &["--threshold", "kv: throughput > 300/s"],
    );
    assert!(output.status.success(), "merge: {}", stderr(&output));

    let shards = [&one, &two].map(|p| RunResults::read(p).unwrap());
    let merged = RunResults::read(&merged_path).unwrap();
    let ops = |r: &RunResults| r.jobs[0].operations[0].clone();

    // Both shards waited for the same start and said which shard they were.
    for (i, shard) in shards.iter().enumerate() {
        let facts = shard.shard.as_ref().expect("shard facts");
        assert_eq!((facts.index, facts.count), (i as u32 + 1, 2));
        let clock = shard.clock.as_ref().expect("clock facts");
        assert!(clock.start_at.is_some());
        assert!(clock.start_lag_ns.unwrap() < 500_000_000, "{clock:?}");
    }
    let [a, b] = [&shards[0], &shards[1]].map(|s| s.clock.as_ref().unwrap().measure_start_unix_ns);
    assert!(a.abs_diff(b) < 500_000_000, "shards started {a} and {b}");

    // Counts add up, and the percentiles are those of one histogram fed every sample.
    let count = ops(&merged).count;
    assert_eq!(count, ops(&shards[0]).count + ops(&shards[1]).count);
    let mut replayed = LatencyHistogram::new();
    for shard in &shards {
        replay_into(&mut replayed, &ops(shard).latency_histogram.data);
    }
    assert_eq!(replayed.count(), count);
    // serde_json reads a float back to within one unit in the last place, so the mean is
    // compared that closely; every percentile is an integer and compared exactly.
    let (got, want) = (ops(&merged).latency_ns, replayed.summary());
    let (got_mean, want_mean) = (got.mean.unwrap(), want.mean.unwrap());
    assert!(
        (got_mean - want_mean).abs() <= want_mean * 1e-12,
        "{got:?} {want:?}"
    );
    let same_mean = plimsoll::measure::LatencySummary {
        mean: want.mean,
        ..got
    };
    assert_eq!(same_mean, want);
    let interval_sum: u64 = merged.jobs[0]
        .intervals
        .iter()
        .flat_map(|i| &i.ops)
        .map(|o| o.count)
        .sum();
    assert_eq!(interval_sum, count, "intervals sum to the total");

    // Each shard ran half the rate, and the whole achieved the workload's.
    let load = merged.jobs[0].load.as_ref().unwrap();
    assert_eq!(load.target_ops_per_s, Some(RATE));
    for shard in &shards {
        let part = shard.jobs[0].load.as_ref().unwrap();
        assert_eq!(part.target_ops_per_s, Some(RATE / 2.0));
    }
    // The schedules add up to the whole rate exactly; what was achieved depends on the
    // machine keeping up, so it gets a margin (a busy 2-core machine can fall behind).
    assert_eq!(load.scheduled_ops, Some(RATE as u64 * 3), "{load:?}");
    let parts: f64 = shards
        .iter()
        .map(|s| s.jobs[0].load.as_ref().unwrap().achieved_ops_per_s.unwrap())
        .sum();
    let achieved = load.achieved_ops_per_s.unwrap();
    assert_eq!(achieved, parts, "the merged rate is the shards' sum");
    assert!(
        (achieved - RATE).abs() < RATE * 0.1,
        "achieved {achieved}/s: {load:?}"
    );
    assert_eq!(merged.thresholds.len(), 1);
    assert!(merged.thresholds[0].passed, "{:?}", merged.thresholds);

    // The shards' key slices are disjoint and cover the key space, and the server saw
    // exactly that: every key written, each write counted once.
    let slices: Vec<(u64, u64)> = shards
        .iter()
        .map(|s| {
            let t = &s.jobs[0].target;
            (
                t["key_first"].as_u64().unwrap(),
                t["key_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(slices, [(0, KEYS / 2), (KEYS / 2, KEYS / 2)]);
    let values = keys.values();
    assert_eq!(values.len() as u64, KEYS, "distinct keys written");
    let writes: u64 = values.iter().map(|(_, v)| v).sum();
    let errors = merged.jobs[0].total_errors();
    assert!(
        writes >= count && writes <= count + errors,
        "{writes} writes, {count} ops"
    );

    // The merged file is a results file like any other.
    let report = plimsoll()
        .arg("report")
        .arg(&merged_path)
        .arg("--output")
        .arg(dir.path().join("report"))
        .output()
        .unwrap();
    assert!(report.status.success(), "report: {}", stderr(&report));
    assert!(dir.path().join("report/index.html").is_file());
    let compare = plimsoll()
        .arg("compare")
        .arg(&merged_path)
        .arg(&merged_path)
        .output()
        .unwrap();
    assert!(compare.status.success(), "compare: {}", stderr(&compare));
}

#[test]
fn merge_refuses_what_is_not_one_sharded_run() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new("refuse");
    let path = workload(dir.path(), &keys.prefix, "refused-redis");
    let [one, two] = run_two_shards(dir.path(), &path);
    let out = dir.path().join("merged.json");
    let edited = |name: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&two).unwrap()).unwrap();
        edit(&mut value);
        let path = dir.path().join(name);
        std::fs::write(&path, value.to_string()).unwrap();
        path
    };
    let refused = |files: &[&Path], expected: &str| {
        let output = merge(files, &out, &[]);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).contains(expected), "{}", stderr(&output));
        assert!(!out.exists(), "nothing written");
    };

    let other_workload = edited("other.json", &|v| v["workload"]["name"] = "other".into());
    refused(&[&one, &other_workload], "ran different workloads");
    let other_rate = edited("rate.json", &|v| {
        v["workload"]["jobs"][0]["load"]["rate"] = 500.0.into();
    });
    refused(&[&one, &other_rate], "`jobs` differs");
    let other_version = edited("version.json", &|v| v["plimsoll_version"] = "9.9.9".into());
    refused(&[&one, &other_version], "different plimsoll versions");
    refused(&[&one, &one], "shard 1 of 2 is given twice");
    refused(&[&two], "shard 1 of 2 is missing");
    let unsharded = edited("whole.json", &|v| {
        v.as_object_mut().unwrap().remove("shard");
    });
    refused(&[&one, &unsharded], "is not a shard's results");
}

#[test]
fn a_job_that_cannot_be_split_is_refused_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.toml");
    let text = "name = \"one\"\nduration = \"1s\"\n\n[[jobs]]\nname = \"kv\"\nkind = \"redis\"\n\
                url = \"redis://127.0.0.1:1/0\"\nconnections = 1\n";
    std::fs::write(&path, text).unwrap();
    let output = plimsoll()
        .arg("run")
        .arg(&path)
        .args(["--shard", "2/2", "--quiet", "--no-report"])
        .arg("--output")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("one.toml:4") && message.contains("connections is 1"),
        "{message}"
    );
    let validate = |shards: &str| {
        let mut command = plimsoll();
        command
            .arg("validate")
            .arg(&path)
            .args(["--shards", shards]);
        command.output().unwrap()
    };
    let refused = validate("2");
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("one.toml:4"),
        "{}",
        stderr(&refused)
    );
    assert!(validate("1").status.success());

    let past = plimsoll()
        .arg("run")
        .arg(&path)
        .args(["--start-at", "2020-01-01T00:00:00Z", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(past.status.code(), Some(2));
    assert!(stderr(&past).contains("ago"), "{}", stderr(&past));
    let ahead = plimsoll()
        .arg("run")
        .arg(&path)
        .args(["--start-at", &start_in(3 * 24 * 3600), "--quiet"])
        .output()
        .unwrap();
    assert_eq!(ahead.status.code(), Some(2));
    assert!(
        stderr(&ahead).contains("more than 24 h"),
        "{}",
        stderr(&ahead)
    );
}

const MANIFEST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/deploy/kubernetes/plimsoll-shards.yaml"
);

/// A program scripts/test.sh installs (kubernetes-validate, from PyPI), if on PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The manifest's documents as JSON, read by the YAML parser kubernetes-validate brings.
fn manifest_documents() -> Option<Vec<serde_json::Value>> {
    let script = "import sys, json, yaml; print(json.dumps(list(yaml.safe_load_all(sys.stdin))))";
    let output = Command::new("python3")
        .args(["-c", script])
        .stdin(std::fs::File::open(MANIFEST).unwrap())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| serde_json::from_slice(&output.stdout).unwrap())
}

fn job_and_workload() -> (serde_json::Value, String) {
    let documents = manifest_documents().expect("python3 with yaml (kubernetes-validate's)");
    let of_kind = |kind: &str| {
        documents
            .iter()
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("a {kind} in the manifest"))
            .clone()
    };
    let workload = of_kind("ConfigMap")["data"]["workload.toml"]
        .as_str()
        .unwrap()
        .to_owned();
    (of_kind("Job"), workload)
}

#[test]
fn the_kubernetes_manifest_is_valid_and_its_shards_agree() {
    let Some(validator) = on_path("kubernetes-validate") else {
        eprintln!(
            "SKIPPED: no kubernetes-validate on PATH (scripts/test.sh installs it from PyPI)"
        );
        return;
    };
    let output = Command::new(validator)
        .args(["--strict", MANIFEST])
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains("job/plimsoll-shards") && said.contains("configmap/"),
        "{said}"
    );

    let (job, workload) = job_and_workload();
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(spec["completions"], spec["parallelism"]);
    let container = &spec["template"]["spec"]["containers"][0];
    let env = container["env"].as_array().unwrap();
    let shards = env
        .iter()
        .find(|e| e["name"] == "PLIMSOLL_SHARDS")
        .expect("PLIMSOLL_SHARDS in the container's environment");
    let count: u32 = shards["value"].as_str().unwrap().parse().unwrap();
    assert_eq!(spec["completions"].as_u64(), Some(u64::from(count)));

    // The workload it ships loads and splits into that many shards.
    let whole = plimsoll::workload::load_str("workload.toml", &workload).unwrap();
    for index in 1..=count {
        let shard = plimsoll::load::Shard::new(index, count).unwrap();
        whole
            .shard(shard)
            .unwrap_or_else(|e| panic!("shard {shard}: {e}"));
    }
}

/// The pod's script, run here as each pod would run it (the Job's environment, the
/// workload file and the results folder moved to a scratch folder), prints results as its
/// last line that `plimsoll merge` takes.
#[test]
fn the_pods_script_prints_results_that_merge() {
    if manifest_documents().is_none() {
        eprintln!("SKIPPED: no python3 with yaml (scripts/test.sh installs kubernetes-validate)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (job, _) = job_and_workload();
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    let script = container["args"][0].as_str().unwrap();
    let workload = dir.path().join("workload.toml");
    let text = "name = \"pods\"\nduration = \"2s\"\n\n[[jobs]]\nname = \"n\"\nkind = \"null\"\n\
                workers = 2\nload = { model = \"open\", rate = \"200\" }\n";
    std::fs::write(&workload, text).unwrap();
    let script = script
        .replace("/etc/plimsoll/workload.toml", workload.to_str().unwrap())
        .replace("out=/results/", &format!("out={}/", dir.path().display()));
    let bin = Path::new(env!("CARGO_BIN_EXE_plimsoll")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let start_at = start_in(2);
    let pods: Vec<_> = (0..2)
        .map(|index| {
            let mut command = plimsoll();
            command.env("JOB_COMPLETION_INDEX", index.to_string());
            command
                .env("PLIMSOLL_SHARDS", "2")
                .env("PLIMSOLL_START_AT", &start_at);
            command.env("PATH", &path).env_remove("PLIMSOLL_SHARD");
            let mut sh = Command::new("/bin/sh");
            sh.envs(command.get_envs().filter_map(|(k, v)| Some((k, v?))));
            sh.arg("-c")
                .arg(&script)
                .stdout(std::process::Stdio::piped());
            sh.spawn().unwrap()
        })
        .collect();
    let mut files = Vec::new();
    for (index, pod) in pods.into_iter().enumerate() {
        let output = pod.wait_with_output().unwrap();
        assert!(output.status.success(), "pod {index}: {}", stderr(&output));
        let log = String::from_utf8(output.stdout).unwrap();
        let last = log.lines().last().expect("a last log line");
        let file = dir.path().join(format!("log-{index}.json"));
        std::fs::write(&file, last).unwrap();
        files.push(file);
    }
    let merged = dir.path().join("merged.json");
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let output = merge(&paths, &merged, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let merged = RunResults::read(&merged).unwrap();
    assert_eq!(merged.shards.len(), 2);
    assert_eq!(merged.jobs[0].workers, 2);
    let target = merged.jobs[0].load.as_ref().unwrap().target_ops_per_s;
    assert_eq!(target, Some(200.0));
}

/// Two shards whose measurement started 0.6 intervals apart by their clocks: the later one's
/// series moves one interval on, and what lands in one interval is summed, histograms too.
#[test]
fn merge_lines_intervals_up_by_wall_clock() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/small-results.json"
    );
    let base: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let start = 1_800_000_000_000_000_000u64;
    let interval = base["interval_ns"].as_u64().unwrap();
    let shard = |index: u32, offset_ns: u64| {
        let mut value = base.clone();
        value["shard"] = serde_json::json!({ "index": index, "count": 2, "source": "--shard" });
        value["clock"] = serde_json::json!({
            "measure_start_unix_ns": start + offset_ns,
            "measure_started_at": "2027-01-15T08:00:00Z",
            "kernel": null,
            "not_known": "",
        });
        let results: RunResults = serde_json::from_value(value).unwrap();
        (format!("shard-{index}.json"), results)
    };
    let late = interval * 6 / 5;
    let merged = plimsoll::results::merge(vec![shard(2, late), shard(1, 0)]).unwrap();
    let whole: RunResults = serde_json::from_value(base).unwrap();

    assert_eq!(merged.shards[1].offset_ns, late);
    assert_eq!(merged.shards[1].interval_shift, 1);
    assert_eq!(merged.measured_ns, whole.measured_ns + late);
    let (one, mine) = (&whole.jobs[0].intervals, &merged.jobs[0].intervals);
    assert_eq!(mine.len(), one.len() + 1);
    let counts =
        |i: &plimsoll::results::IntervalResults| i.ops.iter().map(|o| o.count).sum::<u64>();
    assert_eq!(counts(&mine[0]), counts(&one[0]));
    assert_eq!(counts(&mine[1]), counts(&one[1]) + counts(&one[0]));
    assert_eq!(counts(&mine[one.len()]), counts(&one[one.len() - 1]));

    // Interval 1 holds shard 1's interval 1 and shard 2's interval 0: its p99 is theirs.
    let read = |i: &plimsoll::results::IntervalResults| {
        let encoded = i.ops[0].latency_histogram.as_deref().unwrap();
        LatencyHistogram::decode(encoded, 0, 0).unwrap()
    };
    let mut both = read(&one[1]);
    both.add(&read(&one[0]));
    let p99 = both.percentile(plimsoll::measure::Quantile::P99).ns();
    assert_eq!(mine[1].ops[0].latency_ns.p99, p99);
    let op = &merged.jobs[0].operations[0];
    assert_eq!(op.count, 2 * whole.jobs[0].operations[0].count);
    assert_eq!(op.latency_histogram.decode().unwrap().count(), op.count);
}
