//! The MySQL driver against real MariaDB servers: the shared one on 127.0.0.1:3306 (root, no
//! password; scripts/test.sh starts it), where each test works in a database of its own so
//! that parallel runs do not meet, and throwaway servers of a test's own where the test needs
//! the server's global counters to itself or restarts the server.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::sql::{
    HOST, UNTIL_OPS, all_errors, assert_shares, assert_zipfian_skew, count, counter, free_port,
    job, number, one_job, own, placed_at, refused_before_load, run_cli, setup_error,
};
use plimsoll::results::RunResults;

const SHARED_PORT: u16 = 3306;

/// Runs a one-job workload in-process, as `plimsoll run` does.
fn run(duration: &str, job: &str) -> (RunResults, Duration) {
    common::sql::run("mysql", "my", duration, job)
}

/// Runs `sql` with the mariadb client as root on `port`; returns its tab-separated output.
fn mariadb_at(port: u16, sql: &str) -> String {
    let out = Command::new("mariadb")
        .args(["-h", HOST, "-P", &port.to_string(), "-u", "root", "-NB"])
        .args(["-e", sql])
        .output()
        .expect("the mariadb client is installed (scripts/test.sh installs MariaDB)");
    assert!(
        out.status.success(),
        "mariadb `{sql}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A database of the test's own on a server, dropped at the end.
struct Database {
    name: String,
    port: u16,
}

impl Database {
    fn create(name: &str) -> Database {
        Database::create_at(SHARED_PORT, name)
    }

    fn create_at(port: u16, name: &str) -> Database {
        let name = own(name);
        mariadb_at(
            port,
            &format!("DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name}"),
        );
        Database { name, port }
    }

    fn url(&self) -> String {
        format!("mysql://root@{HOST}:{}/{}", self.port, self.name)
    }

    fn sql(&self, sql: &str) -> String {
        mariadb_at(self.port, &format!("USE {}; {sql}", self.name))
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new("mariadb")
            .args(["-h", HOST, "-P", &self.port.to_string(), "-u", "root", "-e"])
            .arg(format!("DROP DATABASE IF EXISTS {}", self.name))
            .output();
    }
}

/// A MariaDB server of the test's own: its own data folder, socket and loopback port, so its
/// global counters count only this test, and the test may stop and start it.
struct OwnServer {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    /// More `mariadbd` options.
    options: Vec<String>,
}

impl OwnServer {
    fn install() -> OwnServer {
        OwnServer::install_with(|_| Vec::new())
    }

    /// A server started with the options `prepare` returns, once it has put its files in the
    /// server's folder.
    fn install_with(prepare: impl FnOnce(&Path) -> Vec<String>) -> OwnServer {
        let dir = tempfile::Builder::new()
            .prefix("mariadb-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        let out = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=root", "--skip-test-db"])
            .arg("--auth-root-authentication-method=normal")
            .arg(format!("--datadir={}", dir.path().join("data").display()))
            .output()
            .expect("mariadb-install-db is installed (scripts/test.sh installs MariaDB)");
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let options = prepare(dir.path());
        let mut server = OwnServer {
            dir,
            port,
            child: None,
            options,
        };
        server.start();
        server
    }

    fn start(&mut self) {
        let dir = self.dir.path();
        let at = |name: &str| dir.join(name).display().to_string();
        // As root the server runs only when told to; small buffers and a lazy log flush keep
        // a throwaway server quick on a busy machine.
        let child = Command::new("mariadbd")
            .args(["--no-defaults", "--user=root", "--bind-address=127.0.0.1"])
            .arg(format!("--port={}", self.port))
            .arg(format!("--datadir={}", at("data")))
            .arg(format!("--socket={}", at("mysqld.sock")))
            .arg(format!("--pid-file={}", at("mysqld.pid")))
            .arg(format!("--log-error={}", at("error.log")))
            .args([
                "--innodb-buffer-pool-size=64M",
                "--innodb-log-file-size=16M",
            ])
            .arg("--innodb-flush-log-at-trx-commit=2")
            .args(&self.options)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd is installed");
        self.child = Some(child);
        self.wait_until_up();
    }

    fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ping = Command::new("mariadb")
                .arg(format!("--socket={}", self.socket()))
                .args(["-u", "root", "--connect-timeout=2", "-NB", "-e", "SELECT 1"])
                .output();
            if ping.is_ok_and(|o| o.status.success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the throwaway MariaDB on port {} did not come up: {}",
                self.port,
                std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Shuts the server down as `mariadb-admin shutdown` would (SIGTERM) and waits for it.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&child);
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn socket(&self) -> String {
        self.dir.path().join("mysqld.sock").display().to_string()
    }

    /// Runs `sql` as root over the server's socket, which counts as secure transport.
    fn sql(&self, sql: &str) -> String {
        let out = Command::new("mariadb")
            .arg(format!("--socket={}", self.socket()))
            .args(["-u", "root", "-NB", "-e", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mariadb `{sql}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The server's global status counters `names`, in order.
    fn status(&self, names: &[&str]) -> Vec<u64> {
        let list = names
            .iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let out = self.sql(&format!(
            "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
             WHERE VARIABLE_NAME IN ({list})"
        ));
        names
            .iter()
            .map(|name| {
                out.lines()
                    .find_map(|line| {
                        let (n, v) = line.split_once('\t')?;
                        n.eq_ignore_ascii_case(name).then(|| number(v))
                    })
                    .unwrap_or_else(|| panic!("no status {name} in {out}"))
            })
            .collect()
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// SIGTERM, the signal a server shuts down cleanly on.
fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

const TPCB_STATEMENTS: [&str; 6] = [
    "update_accounts",
    "select_balance",
    "update_tellers",
    "update_branches",
    "insert_history",
    "commit",
];

#[test]
fn tpcb_like_counts_agree_with_the_servers_own_counters() {
    // A server of the test's own: its global counters see no one else's statements.
    let server = OwnServer::install();
    let db = Database::create_at(server.port, "tpcb");
    let url = db.url();
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

    let names = [
        "Com_commit",
        "Com_rollback",
        "Com_stmt_execute",
        "Com_stmt_prepare",
    ];
    let history_before = number(&db.sql("SELECT count(*) FROM pgbench_history"));
    let before = server.status(&names);
    let (results, _) = run(
        "30s",
        &format!("url = \"{url}\"\nconnections = 4\nthreads = 2\nops = 2000\nseed = 5\n"),
    );
    let after = server.status(&names);
    assert_eq!(job(&results).target["init"]["action"], "reused");
    assert_eq!(all_errors(&results), vec![]);
    let reported = count(&results, "tpcb_like");
    assert_eq!(reported, 2000);
    for statement in TPCB_STATEMENTS {
        assert_eq!(count(&results, statement), reported, "{statement}");
    }

    // Each transaction is one COMMIT statement and five prepared executions; setup adds no
    // COMMIT, and one prepared lookup of each table's mark. Every connection (4 lanes and
    // setup's check) prepares the 5 statements, and setup prepares its mark lookup once.
    let delta: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(delta[0], reported, "Com_commit");
    assert_eq!(delta[1], 0, "Com_rollback");
    assert_eq!(delta[2], 5 * reported + 4, "Com_stmt_execute");
    assert_eq!(delta[3], 5 * 5 + 1, "Com_stmt_prepare");
    let history = number(&db.sql("SELECT count(*) FROM pgbench_history")) - history_before;
    assert_eq!(
        history, reported,
        "one history row per committed transaction"
    );
    let branch_sum = db.sql("SELECT sum(bbalance) FROM pgbench_branches");
    let history_sum = db.sql("SELECT sum(delta) FROM pgbench_history");
    assert_eq!(branch_sum, history_sum, "every delta reached its branch");
}

#[test]
fn select_only_runs_on_the_shared_server_with_one_statement_per_transaction() {
    let db = Database::create("select");
    let url = db.url();
    let (results, _) = run(
        "30s",
        &format!(
            "url = \"{url}\"\nconnections = 3\nops = 3000\n[jobs.workload]\nkind = \"tpcb_like\"\n\
             select_only = true\n"
        ),
    );
    assert_eq!(all_errors(&results), vec![]);
    assert_eq!(count(&results, "select_only"), 3000);
    assert_eq!(
        job(&results).target["statements"][0],
        "SELECT abalance FROM pgbench_accounts WHERE aid = ?"
    );
    let version = job(&results).target["server_version"].as_str().unwrap();
    assert!(version.contains("MariaDB"), "{version}");
}

#[test]
fn init_refuses_to_drop_a_table_it_did_not_create() {
    let db = Database::create("foreign");
    db.sql("CREATE TABLE pgbench_accounts (aid int); INSERT INTO pgbench_accounts VALUES (42)");
    let job = format!("url = \"{}\"\ninit = \"always\"\n", db.url());
    let message = setup_error("mysql", "my", &job);
    assert!(
        message.contains("pgbench_accounts") && message.contains("did not create"),
        "{message}"
    );
    assert_eq!(db.sql("SELECT aid FROM pgbench_accounts"), "42");
}

/// A user of the test's own with a password, allowed into one database, dropped at the end.
struct User(String);

impl User {
    fn create(db: &Database, password: &str) -> User {
        let name = own("user");
        mariadb_at(
            db.port,
            &format!(
                "DROP USER IF EXISTS '{name}'@'{HOST}'; \
                 CREATE USER '{name}'@'{HOST}' IDENTIFIED BY '{password}'; \
                 GRANT ALL ON {}.* TO '{name}'@'{HOST}'",
                db.name
            ),
        );
        User(name)
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let _ = Command::new("mariadb")
            .args(["-h", HOST, "-u", "root", "-e"])
            .arg(format!("DROP USER IF EXISTS '{}'@'{HOST}'", self.0))
            .output();
    }
}

#[test]
fn a_bad_statement_fails_before_load_with_the_servers_message_and_exit_2() {
    let db = Database::create("badsql");
    let user = User::create(&db, "hunter2");
    let dir = common::sql::scratch("mysql-");
    let body = format!(
        "name = \"t\"\nduration = \"30s\"\n\n[[jobs]]\nkind = \"mysql\"\nname = \"my\"\n\
         url = \"mysql://{}:hunter2@{HOST}:{SHARED_PORT}/{}\"\n\
         [jobs.workload]\nkind = \"custom\"\n\
         setup = [\"CREATE TABLE IF NOT EXISTS kv (k int PRIMARY KEY, v int)\"]\n\
         params = {{ k = {{ kind = \"int\", min = 1, max = 10 }} }}\n\
         transactions = [\n\
           {{ name = \"good\", statements = [\"SELECT v FROM kv WHERE k = {{k}}\"] }},\n\
           {{ name = \"bad\", statements = [\"SELEKT v FROM kv WHERE k = {{k}}\"] }},\n\
         ]\n",
        user.0, db.name
    );
    let started = Instant::now();
    let out = run_cli(dir.path(), &body);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("You have an error in your SQL syntax")
            && stderr.contains("near 'SELEKT v FROM kv WHERE k = ?'"),
        "the server's words: {stderr}"
    );
    assert!(stderr.contains("SQLSTATE 42000"), "{stderr}");
    assert!(
        !stderr.contains("hunter2"),
        "the password stays hidden: {stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "it failed in setup, not after the 30 s run"
    );
    assert!(!dir.path().join("out").join("results.json").exists());
    // The setup statement ran, as the user, before the bad statement was refused.
    assert_eq!(db.sql("SELECT count(*) FROM kv"), "0");
}

/// A custom workload in `db` with table `notes`, running `statement` with parameter `id`, a
/// sequence.
fn notes(db: &Database, rest: &str, statement: &str) -> String {
    format!(
        "url = \"{}\"\n{rest}\n[jobs.workload]\nkind = \"custom\"\n\
         setup = [\"CREATE TABLE IF NOT EXISTS notes (id int, body text, tag text)\"]\n\
         transactions = [{{ name = \"note\", statements = ['''{statement}'''] }}]\n\
         params = {{ id = {{ kind = \"sequence\" }} }}\n",
        db.url()
    )
}

#[test]
fn quoted_text_and_comments_keep_their_braces_and_a_quoted_parameter_is_refused() {
    let db = Database::create("quoted");
    let insert = "INSERT INTO notes /* {id} */ (id, body, tag) \
                  VALUES ({id}, 'it\\'s {body}', \"{tag}\") # {id}";
    let (results, _) = run(UNTIL_OPS, &notes(&db, "ops = 5", insert));
    assert_eq!(all_errors(&results), vec![]);
    let ids = db.sql("SELECT group_concat(id ORDER BY id) FROM notes");
    assert_eq!(ids, "1,2,3,4,5");
    let text = db.sql("SELECT DISTINCT concat(body, '|', tag) FROM notes");
    assert_eq!(
        text, "it's {body}|{tag}",
        "the literals reach the server as written"
    );

    let select = "SELECT id FROM notes WHERE body = '{id}'";
    let stderr = refused_before_load("mysql", &notes(&db, "", select));
    common::sql::assert_quoted_parameter_refused(&stderr);
}

#[test]
fn a_statement_with_placeholders_of_its_own_is_refused_before_load() {
    let db = Database::create("ownq");
    let statement = "SELECT id FROM notes WHERE id = {id} OR id = ?";
    let stderr = refused_before_load("mysql", &notes(&db, "", statement));
    assert!(
        stderr.contains(
            "jobs[0].workload.transactions[0].statements[0] (db): statement `SELECT id FROM \
             notes WHERE id = {id} OR id = ?`: the server counts 2 placeholders in it, but \
             plimsoll binds 1 there"
        ),
        "{stderr}"
    );
    let line = placed_at("mysql", &notes(&db, "", statement), "transactions");
    assert!(
        stderr.contains(&line),
        "at the statement's line, {line}: {stderr}"
    );
}

/// A custom workload on a table `pair` of two rows, each transaction adding 1 to both.
fn pair_setup() -> &'static str {
    "setup = [\n\
       \"CREATE TABLE IF NOT EXISTS pair (k int PRIMARY KEY, v int NOT NULL)\",\n\
       \"INSERT IGNORE INTO pair VALUES (1, 0), (2, 0)\",\n\
     ]\n"
}

#[test]
fn deadlocks_are_retried_counted_and_every_commit_lands_once() {
    let db = Database::create("deadlock");
    let deadlocks = || {
        number(&mariadb_at(
            SHARED_PORT,
            "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
             WHERE VARIABLE_NAME = 'INNODB_DEADLOCKS'",
        ))
    };
    let before = deadlocks();
    // Two transactions locking the rows in opposite orders, with a pause between: two
    // connections that each hold one row and wait for the other's are a deadlock, which
    // InnoDB breaks by rolling one back with error 1213.
    let (results, _) = run(
        "30s",
        &format!(
            "url = \"{}\"\nconnections = 4\nops = 300\nretries = 100\n\
             [jobs.workload]\nkind = \"custom\"\n{}\
             transactions = [\n\
               {{ name = \"forward\", statements = [\"UPDATE pair SET v = v + 1 WHERE k = 1\", \
                  \"DO SLEEP(0.005)\", \"UPDATE pair SET v = v + 1 WHERE k = 2\"] }},\n\
               {{ name = \"backward\", statements = [\"UPDATE pair SET v = v + 1 WHERE k = 2\", \
                  \"DO SLEEP(0.005)\", \"UPDATE pair SET v = v + 1 WHERE k = 1\"] }},\n\
             ]\n",
            db.url(),
            pair_setup()
        ),
    );
    let after = deadlocks();
    assert_eq!(all_errors(&results), vec![], "every deadlock was retried");
    let committed = count(&results, "forward") + count(&results, "backward");
    assert_eq!(committed, 300);
    let retried = counter(&results, "deadlock_retries");
    assert!(retried > 0, "{:?}", job(&results).counters);
    assert_eq!(counter(&results, "serialization_retries"), 0);
    assert_eq!(counter(&results, "lock_wait_retries"), 0);
    // Other tests' deadlocks on the shared server may add to the server's count, never take.
    assert!(
        after - before >= retried,
        "the server saw {} deadlocks; plimsoll retried {retried}",
        after - before
    );
    let sum = number(&db.sql("SELECT sum(v) FROM pair"));
    assert_eq!(
        sum,
        2 * committed,
        "rolled-back attempts left nothing behind"
    );
}

#[test]
fn a_lock_wait_timeout_is_retried_and_counted_apart() {
    let db = Database::create("lockwait");
    db.sql(
        "CREATE TABLE pair (k int PRIMARY KEY, v int NOT NULL); \
         INSERT INTO pair VALUES (1, 0), (2, 0)",
    );
    // Another session holds row 1 for 2.5 s, so the first attempts wait out their 1 s.
    let mut holder = Command::new("mariadb")
        .args(["-h", HOST, "-u", "root", "-NB", &db.name, "-e"])
        .arg("BEGIN; SELECT v FROM pair WHERE k = 1 FOR UPDATE; DO SLEEP(2.5); COMMIT;")
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let sleeping = format!(
        "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = '{}' AND INFO LIKE \
         'DO SLEEP%'",
        db.name
    );
    while db.sql(&sleeping) == "0" {
        assert!(Instant::now() < deadline, "the holder never took its lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (results, _) = run(
        "30s",
        &format!(
            "url = \"{}\"\nops = 20\nretries = 10\n\
             [jobs.workload]\nkind = \"custom\"\n\
             transactions = [{{ name = \"bump\", statements = [\
               \"SET SESSION innodb_lock_wait_timeout = 1\", \
               \"UPDATE pair SET v = v + 1 WHERE k = 1\"] }}]\n",
            db.url(),
        ),
    );
    assert!(holder.wait().unwrap().success());
    assert_eq!(all_errors(&results), vec![]);
    assert_eq!(count(&results, "bump"), 20);
    let retried = counter(&results, "lock_wait_retries");
    assert!((1..=3).contains(&retried), "{:?}", job(&results).counters);
    assert_eq!(counter(&results, "deadlock_retries"), 0);
    assert_eq!(db.sql("SELECT v FROM pair WHERE k = 1"), "20");
}

#[test]
fn a_server_restarted_mid_run_costs_errors_and_reconnects_and_the_run_ends_on_time() {
    let mut server = OwnServer::install();
    let db = Database::create_at(server.port, "restart");
    let url = db.url();
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let restarter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        server.stop();
        server.start();
        let _ = wait.recv();
        server
    });
    let (results, wall) = run(
        "10s",
        &format!(
            "url = \"{url}\"\nconnections = 4\ntimeout = \"1s\"\n\
             [jobs.workload]\nkind = \"custom\"\n\
             setup = [\"CREATE TABLE IF NOT EXISTS kv (k int PRIMARY KEY, v int NOT NULL)\"]\n\
             params = {{ k = {{ kind = \"int\", min = 1, max = 1000 }} }}\n\
             transactions = [{{ name = \"upsert\", statements = [\
               \"INSERT INTO kv (k, v) VALUES ({{k}}, 1) ON DUPLICATE KEY UPDATE v = v + 1\"] }}]\n"
        ),
    );
    done.send(()).unwrap();
    let server = restarter.join().unwrap();

    let measured = results.measured_ns as f64 / 1e9;
    assert!((9.9..11.2).contains(&measured), "measured {measured} s");
    assert!(wall < Duration::from_secs(20), "ran {wall:?}");
    let errors = all_errors(&results);
    assert!(
        errors.iter().any(|(_, kind, _)| kind == "connect"),
        "{errors:?}"
    );
    assert!(
        counter(&results, "reconnects") >= 4,
        "every connection was made again: {:?}",
        job(&results).counters
    );
    let intervals = &job(&results).intervals;
    let ops_in = |i: usize| intervals[i].ops.iter().map(|o| o.count).sum::<u64>();
    assert!(
        ops_in(8) > 0 && ops_in(9) > 0,
        "traffic resumed after the restart"
    );

    // Each reported upsert committed; a failed one may have committed before its answer was
    // lost, so the server holds at least the reported count and at most that plus the errors.
    let reported = count(&results, "upsert");
    let failed: u64 = errors.iter().map(|(_, _, n)| n).sum();
    let sum = number(&server.sql(&format!("SELECT sum(v) FROM {}.kv", db.name)));
    assert!(
        (reported..=reported + failed).contains(&sum),
        "the server holds {sum} upserts; plimsoll reported {reported} and {failed} errors"
    );
}

fn ycsb(db: &Database, core: &str, ops: u64, extra: &str) -> RunResults {
    let (results, _) = run(
        UNTIL_OPS,
        &format!(
            "url = \"{}\"\nconnections = 4\nops = {ops}\n[jobs.workload]\nkind = \"ycsb\"\n\
             core = \"{core}\"\nrecords = 5000\nfield_length = 20\nmax_scan_length = 10\n{extra}",
            db.url()
        ),
    );
    assert_eq!(all_errors(&results), vec![], "core {core}");
    results
}

#[test]
fn ycsb_mixes_come_out_in_their_proportions_and_inserts_reach_the_table() {
    let db = Database::create("ycsb");
    let rows = || number(&db.sql("SELECT count(*) FROM usertable"));
    let a = ycsb(&db, "a", 4000, "");
    assert_eq!(job(&a).target["init"]["action"], "created");
    assert_shares(&a, 4000, &[("read", 0.5), ("update", 0.5)]);
    assert_eq!(rows(), 5000);
    assert_eq!(
        db.sql("SELECT count(*) FROM usertable WHERE CHAR_LENGTH(field9) = 20"),
        "5000",
        "every loaded row has its ten fields"
    );

    let b = ycsb(&db, "b", 4000, "");
    assert_eq!(job(&b).target["init"]["action"], "reused");
    assert_shares(&b, 4000, &[("read", 0.95), ("update", 0.05)]);

    let c = ycsb(&db, "c", 2000, "");
    assert_shares(&c, 2000, &[("read", 1.0)]);

    let before = rows();
    let d = ycsb(&db, "d", 4000, "");
    assert_shares(&d, 4000, &[("read", 0.95), ("insert", 0.05)]);
    assert_eq!(rows() - before, count(&d, "insert"), "one row per insert");

    // A second run inserts past the rows the first one added, with no duplicate key.
    let before = rows();
    let e = ycsb(&db, "e", 1500, "");
    assert_shares(&e, 1500, &[("scan", 0.95), ("insert", 0.05)]);
    assert_eq!(rows() - before, count(&e, "insert"), "one row per insert");

    let f = ycsb(&db, "f", 4000, "");
    assert_shares(&f, 4000, &[("read", 0.5), ("read_modify_write", 0.5)]);
    assert_eq!(rows(), 5000 + count(&d, "insert") + count(&e, "insert"));
}

#[test]
fn ycsb_zipfian_updates_touch_fewer_rows_than_uniform_ones() {
    let db = Database::create("ycsbskew");
    let changed_rows = |distribution: &str| {
        db.sql("DROP TABLE IF EXISTS snapshot");
        ycsb(&db, "a", 10, "");
        db.sql("CREATE TABLE snapshot AS SELECT ycsb_key, field0 FROM usertable");
        let extra = format!("distribution = {{ kind = \"{distribution}\" }}\n");
        let results = ycsb(&db, "a", 6000, &extra);
        let updates = count(&results, "update");
        let changed = db.sql(
            "SELECT count(*) FROM usertable u JOIN snapshot s USING (ycsb_key) \
             WHERE u.field0 <> s.field0",
        );
        (number(&changed), updates)
    };
    assert_zipfian_skew(changed_rows("uniform"), changed_rows("zipfian"));
}

/// Connections to this server must be encrypted; its certificate is signed by a CA of the
/// test's own.
fn tls_server() -> OwnServer {
    OwnServer::install_with(|dir| {
        common::certificates(dir);
        let at = |name: &str| dir.join(name).display().to_string();
        vec![
            format!("--ssl-ca={}", at("ca.crt")),
            format!("--ssl-cert={}", at("server.crt")),
            format!("--ssl-key={}", at("server.key")),
            "--require-secure-transport=ON".into(),
        ]
    })
}

#[test]
fn ssl_mode_required_connects_over_tls_and_checks_the_certificate() {
    let server = tls_server();
    let db = own("tls");
    server.sql(&format!(
        "CREATE DATABASE {db}; CREATE TABLE {db}.seen (cipher varchar(100) NOT NULL)"
    ));
    let url = format!("mysql://root@{HOST}:{}/{db}", server.port);
    let job = |query: &str, tls: &str| {
        format!(
            "url = \"{url}{query}\"\nconnections = 2\nops = 50\n{tls}\n\
             [jobs.workload]\nkind = \"custom\"\ntransactions = [{{ name = \"look\", \
             statements = [\"INSERT INTO seen SELECT VARIABLE_VALUE FROM \
             information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'\"] }}]\n"
        )
    };
    let encrypted = || {
        server.sql(&format!(
            "SELECT count(*) FROM {db}.seen WHERE cipher <> ''"
        ))
    };
    let ca = server.dir.path().join("ca.crt");

    // Each statement records the cipher of the session it ran in: none is plain.
    let trusted = job(
        "?ssl-mode=REQUIRED",
        &format!("tls_ca = \"{}\"", ca.display()),
    );
    let (results, _) = run(UNTIL_OPS, &trusted);
    assert_eq!(all_errors(&results), vec![]);
    assert_eq!(count(&results, "look"), 50);
    assert_eq!(encrypted(), "50");
    let (results, _) = run(UNTIL_OPS, &job("?ssl-mode=REQUIRED", "tls_insecure = true"));
    assert_eq!(count(&results, "look"), 50);
    assert_eq!(encrypted(), "100");

    // The server takes no plain connection, so the runs above were encrypted end to end.
    // MariaDB refuses one as it refuses a wrong password (its error log says which).
    let message = setup_error("mysql", "my", &job("", ""));
    assert!(message.contains("ERROR 1045: Access denied"), "{message}");

    // The system does not trust the test's CA: setup fails before any load, as bad input.
    let dir = common::sql::scratch("mysql-");
    let body = one_job("mysql", "my", "30s", &job("?ssl-mode=REQUIRED", ""));
    let started = Instant::now();
    let out = run_cli(dir.path(), &body);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("certificate is not trusted") && stderr.contains("tls_ca"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "it failed in setup"
    );
    assert!(!dir.path().join("out").join("results.json").exists());
    assert_eq!(
        server.sql(&format!("SELECT count(*) FROM {db}.seen")),
        "100"
    );
}
