//! The Redis driver against real servers: the shared one on 127.0.0.1:6379 (scripts/test.sh
//! starts it) for tests that only read their own keys, and a throwaway `redis-server` on a
//! free port for tests that count commands, stall, kill or restart the server.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use plimsoll::measure::{LatencyHistogram, Quantile};
use plimsoll::results::{JobResults, RunResults, RunStatus};
use plimsoll::runner::{self, RunOptions};
use plimsoll::workload::load_str;

const SHARED: &str = "redis://127.0.0.1:6379/0";

/// A redis-server of the test's own, killed when dropped.
struct Server {
    port: u16,
    child: Option<Child>,
    extra: Vec<String>,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut server = Server {
            port,
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        server.launch();
        server
    }

    fn launch(&mut self) {
        let port = self.port.to_string();
        let mut args = vec![
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--enable-debug-command",
            "local",
        ];
        args.extend(self.extra.iter().map(String::as_str));
        let child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.cli(&["PING"]).trim().is_empty() {
            assert!(
                Instant::now() < deadline,
                "redis-server on {port} did not come up"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn cli(&self, args: &[&str]) -> String {
        cli(self.port, args)
    }

    /// Calls of one command since the last CONFIG RESETSTAT, from the server's own counts.
    fn calls(&self, command: &str) -> u64 {
        let stats = self.cli(&["INFO", "commandstats"]);
        let prefix = format!("cmdstat_{command}:calls=");
        stats
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.trim().parse().unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli is installed");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs a one-job workload in-process, as `plimsoll run` does.
fn run(duration: &str, job: &str) -> (RunResults, Duration) {
    let text = format!(
        "name = \"t\"\nduration = \"{duration}\"\n\n[[jobs]]\nkind = \"redis\"\nname = \"r\"\n{job}"
    );
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

fn job(results: &RunResults) -> &JobResults {
    &results.jobs[0]
}

fn count(results: &RunResults, op: &str) -> u64 {
    let ops = &job(results).operations;
    ops.iter().find(|o| o.op == op).map_or(0, |o| o.count)
}

fn errors(results: &RunResults, kind: &str) -> u64 {
    let ops = job(results).operations.iter();
    let all = ops.flat_map(|o| o.errors.iter());
    all.filter(|e| e.kind == kind).map(|e| e.count).sum()
}

fn counter(results: &RunResults, name: &str) -> u64 {
    job(results).counters.get(name).copied().unwrap_or(0)
}

#[test]
fn exactly_n_commands_reach_the_server_at_every_pipeline_depth() {
    let server = Server::start(&[]);
    for depth in [1, 7, 16] {
        server.cli(&["CONFIG", "RESETSTAT"]);
        let (results, _) = run(
            "30s",
            &format!(
                "url = \"{}\"\nconnections = 3\npipeline = {depth}\nops = 1000\n",
                server.url()
            ),
        );
        let sent = server.calls("get") + server.calls("set");
        assert_eq!(sent, 1000, "server saw {sent} GET+SET at pipeline {depth}");
        assert_eq!(count(&results, "get") + count(&results, "set"), 1000);
        assert_eq!(job(&results).total_errors(), 0);
    }
}

#[test]
fn one_op_per_second_over_ten_idle_connections_has_no_timeouts() {
    let server = Server::start(&[]);
    let (results, _) = run(
        "10s",
        &format!(
            "url = \"{}\"\nconnections = 10\ntimeout = \"1s\"\n\
             load = {{ model = \"open\", rate = \"1\" }}\n",
            server.url()
        ),
    );
    let sent = server.calls("get") + server.calls("set");
    let recorded = count(&results, "get") + count(&results, "set");
    assert!((9..=11).contains(&sent), "server saw {sent} commands");
    assert_eq!(recorded, sent);
    assert_eq!(errors(&results, "timeout"), 0);
    assert_eq!(job(&results).total_errors(), 0);
}

#[test]
fn ten_per_second_over_ten_connections_sends_about_a_hundred() {
    let (results, _) = run(
        "10s",
        &format!(
            "url = \"{SHARED}\"\nconnections = 10\ntimeout = \"1s\"\n\
             keys = {{ prefix = \"t:tenrps:\" }}\nload = {{ model = \"open\", rate = \"10\" }}\n"
        ),
    );
    let recorded = count(&results, "get") + count(&results, "set");
    assert!((98..=102).contains(&recorded), "{recorded} commands");
    assert_eq!(errors(&results, "timeout"), 0);
    let load = job(&results).load.as_ref().unwrap();
    assert_eq!(load.sustained, Some(true), "{load:?}");
    assert_eq!(load.rate_scope, "job");
}

#[test]
fn a_server_stall_shows_in_latency_but_not_in_service_time() {
    let server = Server::start(&[]);
    let port = server.port;
    let staller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(2_300));
        cli(port, &["DEBUG", "SLEEP", "1"]);
    });
    let (results, _) = run(
        "5s",
        &format!(
            "url = \"{}\"\nconnections = 10\ntimeout = \"5s\"\nmix = [{{ op = \"get\" }}]\n\
             load = {{ model = \"open\", rate = \"1k\" }}\n",
            server.url()
        ),
    );
    staller.join().unwrap();
    let get = &job(&results).operations[0];
    let latency = get.latency_histogram.decode().unwrap();
    let service = get
        .service_time_histogram
        .as_ref()
        .unwrap()
        .decode()
        .unwrap();
    let ms = |h: &LatencyHistogram, q| h.percentile(q).ns().unwrap() / 1_000_000;

    assert!(
        (700..1_300).contains(&ms(&latency, Quantile::P99)),
        "latency {:?}",
        get.latency_ns
    );
    // Generous bounds: on a 2-core machine other tests may share the cores.
    assert!(
        ms(&service, Quantile::P99) < 300,
        "service {:?}",
        get.service_time_ns
    );
    // Hundreds of operations waited behind the stall: the 300th slowest still took > 100 ms.
    let n = latency.count();
    let q = Quantile((1_000_000 * (n - 300) / n) as u32);
    assert!(
        ms(&latency, q) > 100,
        "fewer than 300 operations affected of {n}"
    );

    let p99_by_interval: Vec<u64> = job(&results)
        .intervals
        .iter()
        .map(|i| {
            i.ops
                .iter()
                .filter_map(|o| o.latency_ns.p99)
                .max()
                .unwrap_or(0)
                / 1_000_000
        })
        .collect();
    // Intervals go by completion: the operations held from 2.3 s are answered at 3.3 s.
    assert!(
        p99_by_interval[3] >= 500,
        "the stall's end at 3.3 s: {p99_by_interval:?}"
    );
    assert!(
        p99_by_interval[1] < 300 && p99_by_interval[4] < 300,
        "{p99_by_interval:?}"
    );
}

#[test]
fn redis_killed_and_restarted_mid_run_ends_on_time_and_counts_reconnects() {
    let mut server = Server::start(&[]);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let port = server.port;
    let restarter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        server.kill();
        std::thread::sleep(Duration::from_millis(1_500));
        server.launch();
        let _ = rx.recv();
        drop(server);
    });
    let (results, wall) = run(
        "6s",
        &format!(
            "url = \"redis://127.0.0.1:{port}/0\"\nconnections = 4\ntimeout = \"1s\"\n\
             load = {{ model = \"open\", rate = \"500\" }}\n"
        ),
    );
    tx.send(()).unwrap();
    restarter.join().unwrap();

    assert!(
        wall < Duration::from_millis(7_500),
        "ran {wall:?} for a 6 s duration"
    );
    assert!(
        errors(&results, "connect") > 0,
        "{:?}",
        job(&results).operations
    );
    assert!(
        counter(&results, "reconnects") >= 1,
        "{:?}",
        job(&results).counters
    );
    let intervals = &job(&results).intervals;
    let errors_in = |i: usize| intervals[i].ops.iter().map(|o| o.error_count).sum::<u64>();
    let ops_in = |i: usize| intervals[i].ops.iter().map(|o| o.count).sum::<u64>();
    assert!(
        errors_in(2) + errors_in(3) > 0,
        "the outage is in the series"
    );
    assert!(
        ops_in(5) > 400,
        "traffic resumed after the restart: {}",
        ops_in(5)
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    results.write(&path).unwrap();
    let back = RunResults::read(&path).unwrap();
    assert_eq!(back.jobs[0].total_errors(), job(&results).total_errors());
}

#[test]
fn every_connection_closed_once_mid_run_is_reconnected_within_the_duration() {
    let server = Server::start(&[]);
    let port = server.port;
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1_500));
        cli(port, &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]);
    });
    let (results, wall) = run(
        "4s",
        &format!(
            "url = \"{}\"\nconnections = 4\npipeline = 4\n",
            server.url()
        ),
    );
    closer.join().unwrap();
    assert!(
        wall < Duration::from_millis(5_000),
        "ran {wall:?} for a 4 s duration"
    );
    assert!(
        counter(&results, "reconnects") >= 4,
        "{:?}",
        job(&results).counters
    );
    assert!(job(&results).total_errors() > 0);
    let measured = results.measured_ns as f64 / 1e9;
    assert!((3.9..4.6).contains(&measured), "measured {measured} s");
}

#[test]
fn passwords_never_reach_results_or_summary_and_the_database_is_used() {
    let server = Server::start(&["--requirepass", "s3cret-pw"]);
    let url = format!("redis://:s3cret-pw@127.0.0.1:{}/2", server.port);
    let (results, _) = run(
        "1s",
        &format!("url = \"{url}\"\nmix = [{{ op = \"set\" }}]\nkeys = {{ count = 50 }}\n"),
    );
    assert!(count(&results, "set") > 0);
    assert_eq!(job(&results).total_errors(), 0);
    let text = serde_json::to_string(&results).unwrap();
    let summary = plimsoll::report::terminal::summary(&results);
    assert!(!text.contains("s3cret-pw") && !summary.contains("s3cret-pw"));
    assert!(text.contains(":***@127.0.0.1"), "the redacted URL is kept");
    let keys = server.cli(&["-a", "s3cret-pw", "--no-auth-warning", "-n", "2", "DBSIZE"]);
    assert_eq!(keys.trim(), "50");
}

#[test]
fn gets_count_hits_and_misses_and_prefill_loads_every_key() {
    let cold = run(
        "30s",
        &format!(
            "url = \"{SHARED}\"\nops = 300\nmix = [{{ op = \"get\" }}]\n\
             keys = {{ count = 100, prefix = \"t:cold:{}:\" }}\n",
            std::process::id()
        ),
    )
    .0;
    assert_eq!(counter(&cold, "get_misses"), 300);
    assert_eq!(counter(&cold, "get_hits"), 0);
    let warm = run(
        "30s",
        &format!(
            "url = \"{SHARED}\"\nops = 300\nprefill = true\nmix = [{{ op = \"get\" }}]\n\
             keys = {{ count = 100, prefix = \"t:warm:{}:\" }}\nvalue_size = 10\n",
            std::process::id()
        ),
    )
    .0;
    assert_eq!(counter(&warm, "get_hits"), 300);
    assert_eq!(count(&warm, "get"), 300);
    assert_eq!(job(&warm).operations[0].bytes, 3000, "ten bytes per hit");
}

#[test]
fn command_templates_fill_in_key_and_value_and_error_replies_are_counted() {
    let prefix = format!("t:tmpl:{}:", std::process::id());
    let (results, _) = run(
        "30s",
        &format!(
            "url = \"{SHARED}\"\nops = 200\nvalue_size = 5\n\
             keys = {{ count = 1, prefix = \"{prefix}\", \
                       distribution = {{ kind = \"sequential\" }} }}\n\
             mix = [{{ command = [\"HSET\", \"{{key}}\", \"f\", \"<{{value}}>\"], weight = 1 }},\n\
                    {{ command = [\"INCR\", \"{{key}}\"], name = \"incr-hash\", weight = 1 }}]\n"
        ),
    );
    let stored = cli(6379, &["HGET", &format!("{prefix}0"), "f"]);
    assert_eq!(
        stored.trim().len(),
        7,
        "`<` + 5 value bytes + `>`: {stored:?}"
    );
    assert_eq!(
        count(&results, "hset") + errors(&results, "server error reply"),
        200
    );
    assert!(
        errors(&results, "server error reply") > 0,
        "INCR on a hash is WRONGTYPE"
    );
    // Half the commands failing does not stop the run, but the results say so.
    let share = results.checks.iter().find(|c| c.name == "error_share");
    let share = share.unwrap_or_else(|| panic!("no error_share check: {:#?}", results.checks));
    assert!(
        share.explanation.contains("server error reply"),
        "{share:?}"
    );
    cli(6379, &["DEL", &format!("{prefix}0")]);
}

/// A fake server that answers the setup's PING and INFO as Redis would, and every GET or
/// SET with bytes that are not RESP. Stops accepting when dropped.
struct GarbageServer {
    port: u16,
    stop: std::sync::Arc<AtomicBool>,
    acceptor: Option<std::thread::JoinHandle<()>>,
}

impl GarbageServer {
    fn start() -> GarbageServer {
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let acceptor = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(stream) = stream {
                    std::thread::spawn(move || answer_garbage(stream));
                }
            }
        });
        GarbageServer {
            port,
            stop,
            acceptor: Some(acceptor),
        }
    }
}

impl Drop for GarbageServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Serves one connection until the client goes away.
fn answer_garbage(mut stream: std::net::TcpStream) {
    use std::io::{Read as _, Write as _};
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut input = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            return;
        }
        input.extend_from_slice(&chunk[..n]);
        while let Some(command) = take_command(&mut input) {
            let answer: &[u8] = match command.as_str() {
                "PING" => b"+PONG\r\n",
                "INFO" => b"$25\r\nredis_version:7.0.0-fake\r\n\r\n",
                "GET" | "SET" => b"@this is not RESP\r\n",
                _ => b"+OK\r\n",
            };
            if stream.write_all(answer).is_err() {
                return;
            }
        }
    }
}

/// The first word, upper-cased, of the first whole command in `input`, which it removes.
fn take_command(input: &mut Vec<u8>) -> Option<String> {
    let line = |from: usize| {
        let at = input[from..].windows(2).position(|w| w == b"\r\n")? + from;
        let text = std::str::from_utf8(&input[from..at]).ok()?.to_owned();
        Some((text, at + 2))
    };
    let (count, mut at) = line(0)?;
    let count: usize = count.strip_prefix('*')?.parse().ok()?;
    let mut first = None;
    for _ in 0..count {
        let (len, start) = line(at)?;
        let len: usize = len.strip_prefix('$')?.parse().ok()?;
        if input.len() < start + len + 2 {
            return None;
        }
        let word = String::from_utf8_lossy(&input[start..start + len]).to_uppercase();
        first.get_or_insert(word);
        at = start + len + 2;
    }
    input.drain(..at);
    first
}

#[test]
fn a_reply_that_is_not_resp_counts_as_a_protocol_error_and_the_run_ends_on_time() {
    let server = GarbageServer::start();
    let (results, wall) = run(
        "3s",
        &format!(
            "url = \"redis://127.0.0.1:{}/0\"\nconnections = 2\npipeline = 4\ntimeout = \"1s\"\n",
            server.port
        ),
    );
    assert!(
        wall < Duration::from_millis(4_500),
        "ran {wall:?} for a 3 s duration"
    );
    let protocol = errors(&results, "protocol");
    assert!(protocol > 0, "{:?}", job(&results).operations);
    assert_eq!(
        job(&results).total_errors(),
        protocol,
        "every error is the protocol's"
    );
    assert_eq!(count(&results, "get") + count(&results, "set"), 0);
    assert!(
        counter(&results, "reconnects") >= 1,
        "a connection that spoke garbage is replaced: {:?}",
        job(&results).counters
    );
    // Nothing but errors is a failed run, not a complete one, so its exit code is not 0.
    assert_eq!(results.status, RunStatus::Failed);
    let failure = results.failure.as_deref().unwrap_or_default();
    assert!(
        failure.contains("job `r`: every operation failed") && failure.contains("× protocol"),
        "{failure}"
    );
}

#[test]
fn open_model_lanes_sharing_connections_each_get_their_own_replies() {
    let server = Server::start(&[]);
    let (results, _) = run(
        "30s",
        &format!(
            "url = \"{}\"\nconnections = 2\nops = 5000\nprefill = true\nvalue_size = 10\n\
             keys = {{ count = 100 }}\nmix = [{{ op = \"get\" }}, {{ op = \"set\" }}]\n\
             load = {{ model = \"open\", rate = \"50k\", max_in_flight = 32 }}\n",
            server.url()
        ),
    );
    assert_eq!(job(&results).total_errors(), 0);
    let gets = count(&results, "get");
    assert_eq!(gets + count(&results, "set"), 5000);
    assert_eq!(server.calls("get"), gets);
    // Fast enough that lanes overlap on each connection. A SET's +OK handed to a GET
    // would read as neither a hit nor a miss.
    assert_eq!(counter(&results, "get_hits"), gets);
    let get = job(&results)
        .operations
        .iter()
        .find(|o| o.op == "get")
        .unwrap();
    assert_eq!(get.bytes, 10 * gets);
}
