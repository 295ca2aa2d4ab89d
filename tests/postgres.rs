//! The PostgreSQL driver against real servers: the shared one on 127.0.0.1:5432 (trust auth,
//! database `test`; scripts/test.sh starts it), where each test works in a schema or a
//! database of its own so that parallel runs do not meet, and a throwaway server of the
//! test's own for the test that restarts it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use plimsoll::results::{JobResults, RunResults};
use plimsoll::runner::{self, RunOptions};
use plimsoll::workload::load_str;

const HOST: &str = "127.0.0.1";
const PORT: u16 = 5432;

/// Runs `sql` with psql on `port`, database `db`; returns its unaligned output.
fn psql_at(port: u16, db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-h",
            HOST,
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-d",
            db,
        ])
        .args(["-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql is installed (scripts/test.sh installs PostgreSQL)");
    assert!(
        out.status.success(),
        "psql `{sql}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn psql(db: &str, sql: &str) -> String {
    psql_at(PORT, db, sql)
}

fn number(text: &str) -> u64 {
    text.parse()
        .unwrap_or_else(|_| panic!("a number, not `{text}`"))
}

/// A name of this test run's own: parallel runs (and test binaries) never share one.
fn own(name: &str) -> String {
    format!("plimsoll_{name}_{}", std::process::id())
}

/// A database of the test's own, dropped at the end; its counters see only the test.
struct Database(String);

impl Database {
    fn create(name: &str) -> Database {
        let name = own(name);
        psql("test", &format!("DROP DATABASE IF EXISTS {name}"));
        psql("test", &format!("CREATE DATABASE {name}"));
        Database(name)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@{HOST}:{PORT}/{}", self.0)
    }

    fn sql(&self, sql: &str) -> String {
        psql(&self.0, sql)
    }

    /// Transactions committed in this database, from the server's statistics.
    fn commits(&self) -> u64 {
        let sql = format!(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = '{}'",
            self.0
        );
        number(&psql("test", &sql))
    }

    /// The commit count once the server has taken in every ended session's figures: a
    /// backend reports them when it exits, shortly after the run has closed it.
    fn settled_commits(&self, at_least: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut last = self.commits();
        loop {
            std::thread::sleep(Duration::from_millis(700));
            let now = self.commits();
            if (now >= at_least && now == last) || Instant::now() > deadline {
                return now;
            }
            last = now;
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-h", HOST, "-U", "postgres", "-d", "test", "-XAtq", "-c"])
            .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0))
            .output();
    }
}

/// A schema of the test's own in the shared database `test`, dropped at the end.
struct Schema(String);

impl Schema {
    fn new(name: &str) -> Schema {
        let name = own(name);
        psql("test", &format!("DROP SCHEMA IF EXISTS {name} CASCADE"));
        Schema(name)
    }

    fn sql(&self, sql: &str) -> String {
        psql("test", &format!("SET search_path TO {}; {sql}", self.0))
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-h", HOST, "-U", "postgres", "-d", "test", "-XAtq", "-c"])
            .arg(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0))
            .output();
    }
}

fn shared_url() -> String {
    format!("postgres://postgres@{HOST}:{PORT}/test")
}

/// Runs a one-job workload in-process, as `plimsoll run` does.
fn run(duration: &str, job: &str) -> (RunResults, Duration) {
    let text = format!(
        "name = \"t\"\nduration = \"{duration}\"\n\n[[jobs]]\nkind = \"postgres\"\nname = \"pg\"\n{job}"
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

fn all_errors(results: &RunResults) -> Vec<(String, String, u64)> {
    let ops = job(results).operations.iter();
    ops.flat_map(|o| {
        o.errors
            .iter()
            .map(|e| (o.op.clone(), e.kind.clone(), e.count))
    })
    .collect()
}

/// Commits that are not the workload's, at most: each session's start (the lanes', setup's
/// and its check connection's), each statement prepared on each of those connections, and
/// setup's own queries (the server's version; a mark lookup, prepared and run, per table).
fn setup_commits(connections: u64, statements: u64) -> u64 {
    let (sessions, tables) = (connections + 2, 4);
    sessions + (connections + 1) * statements + 1 + 2 * tables
}

#[test]
fn tpcb_like_commits_and_history_rows_agree_with_the_server() {
    let db = Database::create("tpcb");
    let url = db.url();
    // The first run creates and loads the tables; the measured one reuses them.
    let (first, _) = run(
        "10s",
        &format!("url = \"{url}\"\nconnections = 2\nops = 10\n"),
    );
    let init = &job(&first).target["init"];
    assert_eq!(init["action"], "created", "{init}");
    assert_eq!(init["rows_loaded"], 100_000 + 10 + 1);
    assert_eq!(
        number(&db.sql("SELECT count(*) FROM pgbench_accounts")),
        100_000
    );

    // Autovacuum's transactions would count as commits too.
    for table in ["branches", "tellers", "accounts", "history"] {
        db.sql(&format!(
            "ALTER TABLE pgbench_{table} SET (autovacuum_enabled = false)"
        ));
    }
    let history_before = number(&db.sql("SELECT count(*) FROM pgbench_history"));
    let commits_before = db.settled_commits(0);
    let (results, _) = run(
        "30s",
        &format!("url = \"{url}\"\nconnections = 4\nthreads = 2\nops = 3000\nseed = 5\n"),
    );
    assert_eq!(job(&results).target["init"]["action"], "reused");
    assert_eq!(all_errors(&results), vec![]);
    let reported = count(&results, "tpcb_like");
    assert_eq!(reported, 3000);
    for statement in [
        "update_accounts",
        "select_balance",
        "update_tellers",
        "update_branches",
        "insert_history",
        "commit",
    ] {
        assert_eq!(count(&results, statement), reported, "{statement}");
    }

    let history = number(&db.sql("SELECT count(*) FROM pgbench_history")) - history_before;
    assert_eq!(
        history, reported,
        "one history row per committed transaction"
    );
    let commits = db.settled_commits(commits_before + reported) - commits_before;
    assert!(
        (reported..=reported + setup_commits(4, 6)).contains(&commits),
        "the server committed {commits} transactions; plimsoll reported {reported}"
    );
    let branch_sum = db.sql("SELECT sum(bbalance) FROM pgbench_branches");
    let history_sum = db.sql("SELECT sum(delta) FROM pgbench_history");
    assert_eq!(branch_sum, history_sum, "every delta reached its branch");
}

#[test]
fn select_only_counts_agree_with_the_server() {
    let db = Database::create("select");
    let url = db.url();
    let setup = format!(
        "url = \"{url}\"\nops = 5\n[jobs.workload]\nkind = \"tpcb_like\"\nselect_only = true\n"
    );
    run("10s", &setup);
    let before = db.settled_commits(0);
    let (results, _) = run(
        "30s",
        &format!(
            "url = \"{url}\"\nconnections = 3\nops = 4000\n[jobs.workload]\nkind = \"tpcb_like\"\n\
             select_only = true\n"
        ),
    );
    assert_eq!(all_errors(&results), vec![]);
    let reported = count(&results, "select_only");
    assert_eq!(reported, 4000);
    let commits = db.settled_commits(before + reported) - before;
    assert!(
        (reported..=reported + setup_commits(3, 1)).contains(&commits),
        "the server committed {commits} transactions; plimsoll reported {reported}"
    );
}

#[test]
fn init_refuses_to_drop_a_table_it_did_not_create() {
    let schema = Schema::new("foreign");
    psql(
        "test",
        &format!(
            "CREATE SCHEMA {0}; CREATE TABLE {0}.pgbench_accounts (aid int); \
             INSERT INTO {0}.pgbench_accounts VALUES (42)",
            schema.0
        ),
    );
    let text = format!(
        "name = \"t\"\nduration = \"1s\"\n\n[[jobs]]\nkind = \"postgres\"\nname = \"pg\"\n\
         url = \"{}\"\nschema = \"{}\"\ninit = \"always\"\n",
        shared_url(),
        schema.0
    );
    let workload = load_str("test.toml", &text).unwrap();
    let stop = AtomicBool::new(false);
    let Err(refused) = runner::run(&workload, None, &stop, RunOptions::default()) else {
        panic!("setup should refuse");
    };
    let message = refused.to_string();
    assert!(
        message.contains("pgbench_accounts") && message.contains("did not create"),
        "{message}"
    );
    assert_eq!(schema.sql("SELECT aid FROM pgbench_accounts"), "42");
}

fn plimsoll() -> Command {
    Command::new(env!("CARGO_BIN_EXE_plimsoll"))
}

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("postgres-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

fn run_cli(dir: &Path, body: &str) -> Output {
    let path: PathBuf = dir.join("workload.toml");
    std::fs::write(&path, body).unwrap();
    plimsoll()
        .arg("run")
        .arg(&path)
        .arg("-o")
        .arg(dir.join("out"))
        .output()
        .unwrap()
}

#[test]
fn a_bad_statement_fails_before_load_with_the_servers_message_and_exit_2() {
    let schema = Schema::new("badsql");
    let dir = scratch();
    let body = format!(
        "name = \"t\"\nduration = \"30s\"\n\n[[jobs]]\nkind = \"postgres\"\nname = \"pg\"\n\
         url = \"postgres://postgres:hunter2@{HOST}:{PORT}/test\"\nschema = \"{}\"\n\
         [jobs.workload]\nkind = \"custom\"\n\
         setup = [\"CREATE TABLE IF NOT EXISTS kv (k int PRIMARY KEY, v int)\"]\n\
         params = {{ k = {{ kind = \"int\", min = 1, max = 10 }} }}\n\
         transactions = [\n\
           {{ name = \"good\", statements = [\"SELECT v FROM kv WHERE k = {{k}}\"] }},\n\
           {{ name = \"bad\", statements = [\"SELEKT v FROM kv WHERE k = {{k}}\"] }},\n\
         ]\n",
        schema.0
    );
    let started = Instant::now();
    let out = run_cli(dir.path(), &body);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("syntax error at or near \"SELEKT\""),
        "the server's words: {stderr}"
    );
    assert!(
        stderr.contains("SELEKT v FROM kv WHERE k = $1"),
        "the statement: {stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "the password stays hidden: {stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "it failed in setup, not after the 30 s run"
    );
    assert!(!dir.path().join("out").join("results.json").exists());
}
