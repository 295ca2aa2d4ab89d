//! The binary as a user runs it: exit codes, the results document, interruption, phases.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn plimsoll() -> Command {
    Command::new(env!("CARGO_BIN_EXE_plimsoll"))
}

/// A scratch directory on the build's own file system: O_DIRECT needs a real one, not tmpfs.
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cli-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

fn write_workload(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("workload.toml");
    std::fs::write(&path, body).unwrap();
    path
}

fn disk_workload(dir: &Path, warmup: &str, duration: &str, extra: &str) -> String {
    format!(
        r#"name = "cli-test"
warmup = "{warmup}"
duration = "{duration}"
interval = "500ms"

[[jobs]]
kind = "disk"
name = "mixed"
path = "{dir}"
size = "16MiB"
pattern = "randrw"
read_share = "70%"
block_size = "4KiB"
queue_depth = 8
{extra}
"#,
        dir = dir.display()
    )
}

fn read_results(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).expect("results file is one valid JSON document")
}

fn leftover_data_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".plimsoll.dat"))
        .collect()
}

#[test]
fn a_run_writes_results_whose_counts_agree_with_bytes() {
    let dir = scratch();
    let workload = write_workload(dir.path(), &disk_workload(dir.path(), "0s", "2s", ""));
    let output = dir.path().join("out/results.json");
    let run = plimsoll()
        .arg("run")
        .arg(&workload)
        .arg("-o")
        .arg(output.parent().unwrap())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let summary = String::from_utf8_lossy(&run.stdout);
    assert!(summary.contains("job mixed"), "{summary}");
    let results = read_results(&output);
    assert_eq!(results["schema_version"], 1);
    assert_eq!(results["status"], "complete");
    let ops = results["jobs"][0]["operations"].as_array().unwrap();
    let mut total = 0;
    for op in ops {
        let (count, bytes) = (op["count"].as_u64().unwrap(), op["bytes"].as_u64().unwrap());
        assert!(count > 0, "{op}");
        assert_eq!(bytes, count * 4096, "every operation moves one 4 KiB block");
        total += count;
        let p50 = op["latency_ns"]["p50"].as_u64().unwrap();
        let p99 = op["latency_ns"]["p99"].as_u64().unwrap();
        assert!(p50 <= p99 && p99 <= op["latency_ns"]["max"].as_u64().unwrap());
        assert!(!op["latency_histogram"]["data"].as_str().unwrap().is_empty());
    }
    let interval_total: u64 = results["jobs"][0]["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["ops"].as_array().unwrap().iter())
        .map(|o| o["count"].as_u64().unwrap())
        .sum();
    assert_eq!(interval_total, total, "the series adds up to the totals");
    assert!(
        leftover_data_files(dir.path()).is_empty(),
        "temporary file removed"
    );
}

#[test]
fn a_bad_key_is_refused_with_exit_code_2_before_any_load() {
    let dir = scratch();
    let body = disk_workload(dir.path(), "0s", "1s", "queue_dept = 4");
    let workload = write_workload(dir.path(), &body);
    for command in ["validate", "run"] {
        let out = plimsoll().arg(command).arg(&workload).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("workload.toml:"),
            "names the file: {stderr}"
        );
        assert!(stderr.contains("queue_depth"), "suggests the key: {stderr}");
    }
    assert!(
        leftover_data_files(dir.path()).is_empty(),
        "no file laid out"
    );
}

#[test]
fn a_missing_workload_file_is_bad_input() {
    let out = plimsoll()
        .args(["run", "/nonexistent/plimsoll.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/plimsoll.toml"));
}

#[test]
fn unaligned_direct_io_is_refused_before_load_naming_the_alignment() {
    let dir = scratch();
    let body = disk_workload(dir.path(), "0s", "1s", "direct = true")
        .replace(r#"block_size = "4KiB""#, "block_size = 1000");
    let workload = write_workload(dir.path(), &body);
    let out = plimsoll().arg("run").arg(&workload).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("align"), "{stderr}");
    assert!(
        stderr.contains("512") || stderr.contains("4096"),
        "names the alignment: {stderr}"
    );
    assert!(leftover_data_files(dir.path()).is_empty());
}

/// `plimsoll run workload -o folder` in the background, its summary discarded.
fn spawn_run(workload: &Path, folder: &Path) -> std::process::Child {
    plimsoll()
        .arg("run")
        .arg(workload)
        .arg("-o")
        .arg(folder)
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn sigint_mid_run_leaves_a_valid_results_file_marked_interrupted() {
    let dir = scratch();
    let workload = write_workload(dir.path(), &disk_workload(dir.path(), "0s", "30s", ""));
    let output = dir.path().join("run/results.json");
    let mut child = spawn_run(&workload, output.parent().unwrap());
    std::thread::sleep(Duration::from_millis(2_500));
    // SAFETY: signalling our own child, whose pid is valid until we wait on it.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(started.elapsed() < Duration::from_secs(5), "stops promptly");

    let results = read_results(&output);
    assert_eq!(results["status"], "interrupted");
    let measured = results["measured_ns"].as_u64().unwrap();
    assert!(
        measured < 10_000_000_000,
        "measured window is what ran: {measured} ns"
    );
    assert!(
        results["jobs"][0]["operations"][0]["count"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(
        leftover_data_files(dir.path()).is_empty(),
        "temporary file removed"
    );
}

#[test]
fn an_interrupt_delivered_twice_at_once_still_leaves_the_results() {
    // `timeout -s INT` and a terminal's Ctrl-C signal the process and then its group: the
    // same interrupt arrives twice within microseconds, and must count as one.
    let dir = scratch();
    let workload = write_workload(dir.path(), &disk_workload(dir.path(), "0s", "30s", ""));
    let output = dir.path().join("run/results.json");
    for round in 0..3 {
        let mut child = spawn_run(&workload, output.parent().unwrap());
        std::thread::sleep(Duration::from_millis(2_000));
        // SAFETY: signalling our own child, whose pid is valid until we wait on it.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "round {round}");
        let results = read_results(&output);
        assert_eq!(results["status"], "interrupted", "round {round}");
        std::fs::remove_dir_all(output.parent().unwrap()).unwrap();
    }
}

/// A warmup longer than the measured run must not let load spill past the measured window.
#[test]
fn warmup_longer_than_the_run_ends_on_time_and_is_kept_apart() {
    let dir = scratch();
    let workload = write_workload(dir.path(), &disk_workload(dir.path(), "3s", "2s", ""));
    let output = dir.path().join("run/results.json");
    let started = Instant::now();
    let out = plimsoll()
        .arg("run")
        .arg(&workload)
        .arg("-o")
        .arg(output.parent().unwrap())
        .output()
        .unwrap();
    let wall = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Layout of the 16 MiB file takes a moment before the clock starts.
    assert!(
        wall >= Duration::from_secs(5) && wall < Duration::from_secs(8),
        "{wall:?}"
    );

    let results = read_results(&output);
    let measured = results["measured_ns"].as_u64().unwrap() as f64 / 1e9;
    assert!((2.0..2.5).contains(&measured), "measured {measured} s");
    let job = &results["jobs"][0];
    let warmup: u64 = job["warmup"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["count"].as_u64().unwrap())
        .sum();
    assert!(warmup > 0, "warmup counted apart");
    let last_interval_start = job["intervals"].as_array().unwrap().last().unwrap()["start_ns"]
        .as_u64()
        .unwrap();
    assert!(
        last_interval_start < 2_500_000_000,
        "no interval beyond the window"
    );
}

#[test]
fn a_run_never_writes_into_a_folder_that_already_holds_files() {
    let dir = scratch();
    let workload = write_workload(dir.path(), &disk_workload(dir.path(), "0s", "1s", ""));
    let mine = dir.path().join("index.html");
    std::fs::write(&mine, "my notes").unwrap();
    let out = plimsoll()
        .arg("run")
        .arg(&workload)
        .arg("-o")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already holds files"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "my notes");
    assert!(!dir.path().join("results.json").exists());
    assert!(
        leftover_data_files(dir.path()).is_empty(),
        "refused before any load"
    );
}

#[test]
fn validate_refuses_what_run_would_refuse_without_touching_the_file() {
    let dir = scratch();
    let mine = dir.path().join("mine.txt");
    std::fs::write(&mine, "hi\n").unwrap();
    let body = format!(
        "name = \"v\"\nduration = \"1s\"\n[[jobs]]\nkind = \"disk\"\nname = \"w\"\n\
         path = \"{}\"\npattern = \"write\"\n",
        mine.display()
    );
    let workload = write_workload(dir.path(), &body);
    for command in ["validate", "run"] {
        let out = plimsoll().arg(command).arg(&workload).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("workload.toml:3:1: jobs[0] (w):"),
            "placed at the job: {stderr}"
        );
        assert!(stderr.contains("allow_existing"), "{stderr}");
    }
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "hi\n");
}

#[test]
fn ctrl_c_while_a_large_file_is_laid_out_stops_at_once_and_removes_it() {
    let dir = scratch();
    let body = disk_workload(dir.path(), "0s", "5s", "").replace("16MiB", "4GiB");
    let workload = write_workload(dir.path(), &body);
    let child = plimsoll()
        .arg("run")
        .arg(&workload)
        .arg("-o")
        .arg(dir.path().join("run"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signalling our own child, whose pid is valid until we wait on it.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("interrupted while laying out"), "{stderr}");
    assert!(
        leftover_data_files(dir.path()).is_empty(),
        "half-laid file removed"
    );
}

/// The first connection made to `listener` within `limit`, held open and never answered.
fn accept_within(listener: &TcpListener, limit: Duration) -> Option<TcpStream> {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok((socket, _)) = listener.accept() {
            return Some(socket);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn ctrl_c_while_a_sql_server_never_answers_the_connect_stops_at_once() {
    for kind in ["postgres", "mysql"] {
        let dir = scratch();
        // A server that takes the connection and never says a word: only the job's timeout
        // would end the connect.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let body = format!(
            "name = \"cli-silent\"\nduration = \"5s\"\n\n[[jobs]]\nkind = \"{kind}\"\n\
             name = \"silent\"\nurl = \"{kind}://root@{address}/test\"\ntimeout = \"30s\"\n"
        );
        let workload = write_workload(dir.path(), &body);
        let mut child = spawn_run(&workload, &dir.path().join("run"));
        let held = accept_within(&listener, Duration::from_secs(10));
        assert!(held.is_some(), "{kind}: plimsoll never connected");
        std::thread::sleep(Duration::from_secs(1));
        // SAFETY: signalling our own child, whose pid is valid until we wait on it.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let started = Instant::now();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "{kind}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{kind}: stopped {:?} after the interrupt",
            started.elapsed()
        );
        drop(held);
    }
}

fn null_workload(dir: &Path, job: &str) -> PathBuf {
    let body = format!(
        "name = \"cli-null\"\nduration = \"1s\"\ninterval = \"500ms\"\n\n[[jobs]]\n\
         kind = \"null\"\nname = \"{job}\"\ndelay = \"1ms\"\n"
    );
    let path = dir.join(format!("{job}.toml"));
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn a_closed_stdout_costs_neither_the_report_nor_the_exit_code() {
    let dir = scratch();
    let workload = null_workload(dir.path(), "n");
    let out = dir.path().join("out");
    let mut child = plimsoll()
        .arg("run")
        .arg(&workload)
        .arg("-o")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The reader goes away before the summary is printed, as with `plimsoll run | head -0`.
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(
        out.join("index.html").is_file(),
        "the report was not written"
    );
    let results = read_results(&out.join("results.json"));
    assert_eq!(results["status"], "complete");
}

#[test]
fn passwords_in_malformed_urls_stay_out_of_the_error() {
    let dir = scratch();
    let cases = [
        ("redis", "url = \"redis//:SEKRIT1@127.0.0.1:6379\""),
        (
            "postgres",
            "url = \"host=127.0.0.1 password=SEKRIT2 dbname=test\"",
        ),
        ("http", "base_url = \"u:SEKRIT3@127.0.0.1:18731\""),
    ];
    for (kind, url) in cases {
        let body = format!("name = \"pw\"\n\n[[jobs]]\nkind = \"{kind}\"\nname = \"j\"\n{url}\n");
        let path = write_workload(dir.path(), &body);
        let output = plimsoll().arg("validate").arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{kind}: {stderr}");
        assert!(
            stderr.contains("url"),
            "{kind}: the error names the field: {stderr}"
        );
        assert!(
            !stderr.contains("SEKRIT"),
            "{kind}: password shown: {stderr}"
        );
    }
}

#[test]
fn a_url_its_client_cannot_read_is_refused_by_validate_as_by_run_at_the_url_key() {
    let dir = scratch();
    let pg = "postgres://postgres@127.0.0.1:5432/test";
    let my = "mysql://root@127.0.0.1:3306/test";
    let cases = [
        (
            "postgres",
            "postgres://postgres:SEKRIT4@127.0.0.1:99999/test".to_owned(),
            "invalid value for option `port`",
        ),
        (
            "postgres",
            format!("{pg}?sslmode=verify-full"),
            "sslmode `verify-full` is not one tokio-postgres takes; use disable, prefer or \
             require",
        ),
        (
            "postgres",
            format!("{pg}?sslmod=require"),
            "unknown option `sslmod`; did you mean `sslmode`?",
        ),
        (
            "redis",
            "redis://:SEKRIT5@127.0.0.1:99999/0".to_owned(),
            "invalid port number",
        ),
        (
            "redis",
            "redis://127.0.0.1:6379/abc".to_owned(),
            "Invalid database number",
        ),
        (
            "mysql",
            "mysql://root:SEKRIT6@127.0.0.1:99999/test".to_owned(),
            "invalid port number",
        ),
        // Left unread, this mode ran the job unencrypted.
        (
            "mysql",
            format!("{my}?ssl-mode=REQUIRD"),
            "ssl-mode `REQUIRD` is not a TLS mode; use REQUIRED or DISABLED",
        ),
        (
            "mysql",
            format!("{my}?sslmod=require"),
            "unknown parameter `sslmod`; did you mean `sslmode`?",
        ),
    ];
    for (kind, url, reason) in cases {
        let body = format!(
            "name = \"u\"\nduration = \"1s\"\n\n[[jobs]]\nkind = \"{kind}\"\nname = \"j\"\n\
             ops = 1\nurl = \"{url}\"\n"
        );
        let workload = write_workload(dir.path(), &body);
        for (command, out) in validate_and_run(dir.path(), &workload) {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command} {url}: {stderr}");
            assert!(
                stderr.contains("workload.toml:8:7: jobs[0].url (j): url `"),
                "{command} {url}: placed at the url: {stderr}"
            );
            assert!(stderr.contains(reason), "{command} {url}: {stderr}");
            assert!(
                !stderr.contains("SEKRIT"),
                "{command}: password shown: {stderr}"
            );
        }
        assert!(
            !dir.path().join("run").exists(),
            "{url}: refused before any load"
        );
    }
}

/// `plimsoll validate` and `plimsoll run -o run` on `workload`, from `dir`: what one refuses
/// the other must refuse the same way.
fn validate_and_run(dir: &Path, workload: &Path) -> [(&'static str, Output); 2] {
    ["validate", "run"].map(|command| {
        let out = plimsoll()
            .arg(command)
            .arg(workload)
            .args(["-o", "run"].iter().filter(|_| command == "run"))
            .current_dir(dir)
            .output()
            .unwrap();
        (command, out)
    })
}

#[test]
fn a_fixed_request_url_on_another_origin_is_refused_at_that_request() {
    let dir = scratch();
    let body = "name = \"o\"\nduration = \"1s\"\n\n[[jobs]]\nkind = \"http\"\nname = \"web\"\n\
                base_url = \"http://127.0.0.1:18931\"\nops = 1\n\
                requests = [{ path = \"/\" }, { url = \"http://u:SEKRIT7@127.0.0.2:18931/\" }]\n";
    let workload = write_workload(dir.path(), body);
    for (command, out) in validate_and_run(dir.path(), &workload) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains("workload.toml:9:37: jobs[0].requests[1].url (web): "),
            "{command}: placed at the request's url: {stderr}"
        );
        assert!(
            stderr.contains("a job sends to one origin, its base_url's (http://127.0.0.1:18931)"),
            "{command}: {stderr}"
        );
        assert!(
            !stderr.contains("SEKRIT"),
            "{command}: password shown: {stderr}"
        );
    }
    assert!(!dir.path().join("run").exists(), "refused before any load");
}

#[test]
fn comparing_runs_that_share_no_operation_is_bad_input() {
    let dir = scratch();
    let mut results = Vec::new();
    for job in ["left", "right"] {
        let out = dir.path().join(job);
        let status = plimsoll()
            .arg("run")
            .arg(null_workload(dir.path(), job))
            .args(["--quiet", "--no-report", "-o"])
            .arg(&out)
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(0));
        results.push(out.join("results.json"));
    }
    let output = plimsoll().arg("compare").args(&results).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("nothing was compared"), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stdout.contains("regression(s)"),
        "no tally of nothing: {stdout}"
    );
    assert_eq!(
        stderr.matches("is only in the baseline").count(),
        1,
        "each warning once: {stderr}"
    );
}

#[test]
fn a_refused_connection_is_told_once() {
    let dir = scratch();
    let jobs = [
        ("redis", "url = \"redis://127.0.0.1:1\""),
        ("mysql", "url = \"mysql://root@127.0.0.1:1/test\""),
    ];
    for (kind, url) in jobs {
        let body = format!(
            "name = \"t\"\nduration = \"1s\"\n[[jobs]]\nkind = \"{kind}\"\nname = \"j\"\n{url}\n"
        );
        let workload = write_workload(dir.path(), &body);
        let output = plimsoll()
            .args(["run", "--no-report", "--output"])
            .arg(dir.path().join(format!("out-{kind}")))
            .arg(&workload)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(3), "{kind}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let error = stderr.lines().find(|l| l.starts_with("plimsoll: error:"));
        let error = error.unwrap_or_else(|| panic!("{kind}: no error line in {stderr}"));
        assert_eq!(
            error.matches("Connection refused").count(),
            1,
            "{kind}: {error}"
        );
        assert!(
            !error.contains("error: Input/output error: Input"),
            "{kind}: {error}"
        );
    }
}

/// A PostgreSQL schema of this test's own in the shared database `test`, dropped at the end.
struct PgSchema(String);

impl Drop for PgSchema {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "test",
                "-XAtq",
                "-c",
            ])
            .arg(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0))
            .output();
    }
}

#[test]
fn setup_phases_are_told_on_stderr_at_the_default_level() {
    let dir = scratch();
    let schema = PgSchema(format!("plimsoll_phases_{}", std::process::id()));
    let body = format!(
        "name = \"phases\"\nduration = \"1s\"\n\n[[jobs]]\nkind = \"postgres\"\nname = \"db\"\n\
         url = \"postgres://postgres@127.0.0.1:5432/test\"\nschema = \"{}\"\nops = 10\n\
         [jobs.workload]\nkind = \"ycsb\"\ncore = \"c\"\nrecords = 2000\n\n[[jobs]]\n\
         kind = \"disk\"\nname = \"d\"\npath = \"{}\"\nsize = \"8MiB\"\npattern = \"randread\"\n",
        schema.0,
        dir.path().display()
    );
    let workload = write_workload(dir.path(), &body);
    let run = |out: &str, quiet: bool| {
        let mut command = plimsoll();
        command.args(["run", "--no-report", "--output"]);
        command.arg(dir.path().join(out)).arg(&workload);
        if quiet {
            command.arg("--quiet");
        }
        command.env_remove("RUST_LOG").output().unwrap()
    };
    let output = run("out", false);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let has = |start: &str, end: &str| lines.iter().any(|l| l.contains(start) && l.ends_with(end));
    assert!(
        has("init: loading 2000 rows into usertable", "usertable"),
        "{stderr}"
    );
    assert!(
        has("init: usertable loaded, 2000 rows in ", " rows/s)"),
        "{stderr}"
    );
    assert!(
        has("layout: writing 8.00 MiB to ", "d.plimsoll.dat"),
        "{stderr}"
    );
    assert!(has("d.plimsoll.dat written in ", "/s)"), "{stderr}");
    // A line per phase, not a stream: two for the table, two for the file.
    let phases = lines
        .iter()
        .filter(|l| l.contains("init:") || l.contains("layout:"));
    assert_eq!(phases.count(), 4, "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stdout.contains("init:") && !stdout.contains("layout:"),
        "{stdout}"
    );

    let quiet = run("quiet", true);
    assert_eq!(quiet.status.code(), Some(0), "{quiet:?}");
    let stderr = String::from_utf8_lossy(&quiet.stderr);
    assert!(
        !stderr.contains("init:") && !stderr.contains("layout:"),
        "{stderr}"
    );
}
