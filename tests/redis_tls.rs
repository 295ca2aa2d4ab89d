//! The Redis driver over TLS (`rediss://`) against a throwaway `redis-server` of Debian's
//! build, with a CA and a server certificate made for the test by the `openssl` command.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use plimsoll::results::RunResults;
use plimsoll::runner::{self, RunOptions};
use plimsoll::workload::load_str;

/// A CA, a server certificate it signed for 127.0.0.1, and a TLS-only redis-server using
/// them; the server is killed when this is dropped.
struct TlsServer {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl TlsServer {
    fn start() -> TlsServer {
        let dir = tempfile::tempdir().unwrap();
        make_certificates(dir.path());
        let port = free_port();
        let file = |name: &str| dir.path().join(name).display().to_string();
        let child = Command::new("redis-server")
            .args(["--port", "0", "--bind", "127.0.0.1", "--save", ""])
            .args(["--tls-port", &port.to_string(), "--tls-auth-clients", "no"])
            .args(["--tls-cert-file", &file("server.pem")])
            .args(["--tls-key-file", &file("server.key")])
            .args(["--tls-ca-cert-file", &file("ca.pem")])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test.sh installs it)");
        wait_for_port(port);
        TlsServer { dir, port, child }
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// redis-cli over TLS, trusting the test's CA.
    fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["--tls", "--cacert", &self.ca().display().to_string()])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli is installed");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().unwrap().port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "redis-server on {port} did not come up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// ca.pem (self-signed, a CA) and server.pem/server.key (signed by it, for IP 127.0.0.1:
/// rustls matches an IP address only against an IP subject alternative name).
fn make_certificates(dir: &Path) {
    openssl(
        dir,
        "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=plimsoll-test-ca \
         -keyout ca.key -out ca.pem",
    );
    openssl(
        dir,
        "req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr",
    );
    let extensions = "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n";
    std::fs::write(dir.join("server.ext"), extensions).unwrap();
    openssl(
        dir,
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
         -extfile server.ext -out server.pem",
    );
}

/// `args` split at spaces (none of the test's words holds one).
fn openssl(dir: &Path, args: &str) {
    let output = Command::new("openssl")
        .args(args.split(' '))
        .current_dir(dir)
        .output()
        .expect("the openssl command is installed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "openssl {args}: {stderr}");
}

/// Runs a one-job workload in-process, as `plimsoll run` does; the error is setup's.
fn run(job: &str) -> Result<RunResults, String> {
    let text = format!(
        "name = \"t\"\nduration = \"5s\"\n\n[[jobs]]\nkind = \"redis\"\nname = \"r\"\n{job}"
    );
    let workload = load_str("test.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let stop = AtomicBool::new(false);
    runner::run(&workload, None, &stop, RunOptions::default()).map_err(|e| format!("{e:#}"))
}

fn count(results: &RunResults, op: &str) -> u64 {
    let ops = &results.jobs[0].operations;
    ops.iter().find(|o| o.op == op).map_or(0, |o| o.count)
}

fn toml_path(path: &Path) -> String {
    path.display().to_string().replace('\\', "\\\\")
}

#[test]
fn gets_and_sets_over_tls_with_the_jobs_ca_all_succeed() {
    let server = TlsServer::start();
    let job = format!(
        "url = \"rediss://127.0.0.1:{}/0\"\ntls_ca = \"{}\"\nconnections = 2\npipeline = 4\n\
         ops = 2000\nkeys = {{ count = 50, prefix = \"tls:\" }}\n",
        server.port,
        toml_path(&server.ca())
    );
    let results = run(&job).unwrap_or_else(|e| panic!("setup failed: {e}"));
    assert_eq!(results.jobs[0].total_errors(), 0);
    assert_eq!(count(&results, "get") + count(&results, "set"), 2000);
    assert!(count(&results, "set") > 0);
    let keys: u64 = server
        .cli(&["DBSIZE"])
        .parse()
        .expect("DBSIZE answers a number");
    assert!(keys > 0 && keys <= 50, "{keys} keys on the server");
}

#[test]
fn tls_insecure_reaches_a_self_signed_server_without_its_ca() {
    let server = TlsServer::start();
    let job = format!(
        "url = \"rediss://127.0.0.1:{}/0\"\ntls_insecure = true\nops = 200\n",
        server.port
    );
    let results = run(&job).unwrap_or_else(|e| panic!("setup failed: {e}"));
    assert_eq!(results.jobs[0].total_errors(), 0);
    assert_eq!(count(&results, "get") + count(&results, "set"), 200);
}

#[test]
fn an_untrusted_certificate_fails_setup_at_once_and_says_why() {
    let server = TlsServer::start();
    let job = format!(
        "url = \"rediss://127.0.0.1:{}/0\"\ntimeout = \"2s\"\nops = 100\n",
        server.port
    );
    let started = Instant::now();
    let error = run(&job).expect_err("a server signed by an unknown CA is refused");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    let error = error.to_lowercase();
    assert!(
        error.contains("certificate") && error.contains("issuer"),
        "{error}"
    );
    assert!(
        error.contains(&format!("rediss://127.0.0.1:{}", server.port)),
        "{error}"
    );
}

#[test]
fn a_ca_file_with_no_certificate_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("empty.pem");
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let job = format!(
        "url = \"rediss://127.0.0.1:{}/0\"\ntls_ca = \"{}\"\n",
        free_port(),
        toml_path(&ca)
    );
    let error = run(&job).expect_err("an empty CA file is refused");
    assert!(
        error.contains("empty.pem") && error.contains("no PEM certificate"),
        "{error}"
    );
}
