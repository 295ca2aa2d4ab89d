//! The PostgreSQL driver against real servers: the shared one on 127.0.0.1:5432 (trust auth,
//! database `test`; scripts/test.sh starts it), where each test works in a schema or a
//! database of its own so that parallel runs do not meet, and a throwaway server of the
//! test's own for the test that restarts it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::sql::{
    HOST, UNTIL_OPS, all_errors, assert_shares, assert_zipfian_skew, count, counter, job, number,
    own, placed_at, refused_before_load, run_cli, setup_error,
};
use plimsoll::monitor::checks::CheckStatus;
use plimsoll::results::RunResults;

const PORT: u16 = 5432;

/// Runs a one-job workload in-process, as `plimsoll run` does.
fn run(duration: &str, job: &str) -> (RunResults, Duration) {
    common::sql::run("postgres", "pg", duration, job)
}

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

/// Commits that are not the workload's, at most: each session's start (the lanes', setup's
/// and its check connection's), each statement prepared on each of those connections and
/// their transaction control (BEGIN and COMMIT, prepared together), and setup's own queries
/// (the server's version; a mark lookup, prepared and run, per table).
fn setup_commits(connections: u64, statements: u64) -> u64 {
    let (sessions, tables) = (connections + 2, 4);
    sessions + (connections + 1) * (statements + 1) + 1 + 2 * tables
}

#[test]
fn tpcb_like_commits_and_history_rows_agree_with_the_server() {
    let db = Database::create("tpcb");
    let url = db.url();
    // The first run creates and loads the tables; the measured one reuses them.
    let (first, _) = run(
        UNTIL_OPS,
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
        UNTIL_OPS,
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
        let op = job(&results).operations.iter().find(|o| o.op == statement);
        assert_eq!(op.unwrap().within, ["tpcb_like"], "{statement}");
    }
    // Counted once, not once per statement: adding the statements in would put several times
    // the connections in flight.
    let little = results
        .checks
        .iter()
        .find(|c| c.name == "littles_law")
        .unwrap_or_else(|| panic!("no littles_law check: {:#?}", results.checks));
    assert_ne!(little.status, CheckStatus::Failed, "{little:?}");
    // What was sent is transactions too, as in the open model.
    let load = job(&results).load.as_ref().expect("a load section");
    assert_eq!(load.sent_ops, reported);

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
    run(UNTIL_OPS, &setup);
    let before = db.settled_commits(0);
    let (results, _) = run(
        UNTIL_OPS,
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
    let job = format!(
        "url = \"{}\"\nschema = \"{}\"\ninit = \"always\"\n",
        shared_url(),
        schema.0
    );
    let message = setup_error("postgres", "pg", &job);
    assert!(
        message.contains("pgbench_accounts") && message.contains("did not create"),
        "{message}"
    );
    assert_eq!(schema.sql("SELECT aid FROM pgbench_accounts"), "42");
}

#[test]
fn a_server_that_accepts_but_never_answers_fails_setup_within_the_timeout() {
    // Takes the connection and says nothing: no startup reply, no authentication request.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(8));
        drop(socket);
    });
    let dir = common::sql::scratch("postgres-");
    let body = format!(
        "name = \"t\"\nduration = \"30s\"\n\n[[jobs]]\nkind = \"postgres\"\nname = \"pg\"\n\
         url = \"postgres://postgres:hunter2@127.0.0.1:{port}/test\"\ntimeout = \"1s\"\n"
    );
    let started = Instant::now();
    let out = run_cli(dir.path(), &body);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("timeout"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    held.join().unwrap();
}

#[test]
fn a_bad_statement_fails_before_load_with_the_servers_message_and_exit_2() {
    let schema = Schema::new("badsql");
    let dir = common::sql::scratch("postgres-");
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
    let line = body.lines().position(|l| l.contains("\"bad\"")).unwrap() + 1;
    assert!(
        stderr.contains(&format!("workload.toml:{line}:")),
        "placed at the statement, line {line}: {stderr}"
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

/// A custom workload in `schema` with table `notes`, running `statement` with parameter
/// `id`, a sequence.
fn notes(schema: &Schema, rest: &str, statement: &str) -> String {
    in_schema(
        schema,
        &format!(
            "{rest}\n[jobs.workload]\nkind = \"custom\"\n\
             setup = [\"CREATE TABLE IF NOT EXISTS notes (id int, body text, tag text)\"]\n\
             transactions = [{{ name = \"note\", statements = ['''{statement}'''] }}]\n\
             params = {{ id = {{ kind = \"sequence\" }} }}\n"
        ),
    )
}

#[test]
fn quoted_text_and_comments_keep_their_braces_and_a_quoted_parameter_is_refused() {
    let schema = Schema::new("quoted");
    let insert = "INSERT INTO notes /* {id} */ (id, body, tag) \
                  VALUES ({id}, 'it''s {body}', $t${tag}$t$) -- {id}";
    let (results, _) = run(UNTIL_OPS, &notes(&schema, "ops = 5", insert));
    assert_eq!(all_errors(&results), vec![]);
    let ids = schema.sql("SELECT string_agg(id::text, ',' ORDER BY id) FROM notes");
    assert_eq!(ids, "1,2,3,4,5");
    let text = schema.sql("SELECT DISTINCT body || '|' || tag FROM notes");
    assert_eq!(
        text, "it's {body}|{tag}",
        "the literals reach the server as written"
    );

    let select = "SELECT id FROM notes WHERE body = '{id}'";
    let stderr = refused_before_load("postgres", &notes(&schema, "", select));
    common::sql::assert_quoted_parameter_refused(&stderr);
}

/// A custom workload in `schema` on table `kv` (an int4 key, an int2 and a numeric), running
/// `statement` with parameter `p` drawn by `param`.
fn kv(schema: &Schema, rest: &str, statement: &str, param: &str) -> String {
    in_schema(
        schema,
        &format!(
            "{rest}\n[jobs.workload]\nkind = \"custom\"\n\
             setup = [\"CREATE TABLE IF NOT EXISTS kv \
             (id int PRIMARY KEY, small smallint, amount numeric)\"]\n\
             transactions = [{{ name = \"q\", statements = ['''{statement}'''] }}]\n\
             params = {{ p = {param} }}\n"
        ),
    )
}

#[test]
fn a_parameter_that_cannot_bind_is_refused_before_load_with_the_range_or_cast_to_use() {
    let schema = Schema::new("misfit");
    let by_id = "SELECT small FROM kv WHERE id = {p}";
    let refused = |statement: &str, param: &str| {
        refused_before_load("postgres", &kv(&schema, "", statement, param))
    };
    let at = "jobs[0].workload.transactions[0].statements[0] (db): \
              statement `SELECT small FROM kv WHERE id = {p}`";

    let list = r#"{ kind = "list", values = ["a", "b"] }"#;
    let words = refused(by_id, list);
    assert!(words.contains(at), "the statement as written: {words}");
    let line = placed_at("postgres", &kv(&schema, "", by_id, list), "transactions");
    assert!(
        words.contains(&line),
        "at the statement's line, {line}: {words}"
    );
    assert!(
        words.contains(
            "parameter `p`, a list of \"a\", \"b\", goes to a placeholder of type int4, and \
             \"a\" is not a whole number"
        ),
        "{words}"
    );

    let text = refused(by_id, r#"{ kind = "string", length = 8 }"#);
    assert!(
        text.contains(
            "`p`, a string of 8 random letters and digits, goes to a placeholder of \
                       type int4, and its values are not all numbers"
        ) && text.contains("p = { kind = \"int\""),
        "{text}"
    );

    let wide = refused(by_id, r#"{ kind = "int", min = 1, max = 99999999999 }"#);
    assert!(
        wide.contains("`p`, an int from 1 to 99999999999, goes to a placeholder of type int4")
            && wide.contains("int4 holds -2147483648 to 2147483647")
            && wide.contains("draw from min = 1 to max = 2147483647")
            && wide.contains("`{p}::bigint`"),
        "the range that fits, or the cast: {wide}"
    );
    let outside = refused(
        by_id,
        r#"{ kind = "int", min = 3000000000, max = 3000000009 }"#,
    );
    assert!(outside.contains("none of its values fit"), "{outside}");

    let small = "UPDATE kv SET small = {p} WHERE id = 1";
    let big = refused(small, r#"{ kind = "list", values = [1, 40000] }"#);
    assert!(
        big.contains("type int2, and 40000 does not fit (int2 holds -32768 to 32767)"),
        "{big}"
    );

    let numeric = "UPDATE kv SET amount = {p} WHERE id = 1";
    let cast = refused(numeric, r#"{ kind = "int", min = 1, max = 9 }"#);
    assert!(
        cast.contains("type numeric, which plimsoll does not bind")
            && cast.contains("`{p}::bigint::numeric`"),
        "{cast}"
    );

    let own = refused(
        "SELECT small FROM kv WHERE id = {p} OR id = $2",
        "{ kind = \"sequence\" }",
    );
    assert!(
        own.contains("the server counts 2 placeholders in it, but plimsoll binds 1"),
        "{own}"
    );

    // A type of the database's own is named as SQL writes it, so the cast can be pasted.
    schema.sql("CREATE TYPE mood AS ENUM ('sad', 'ok')");
    let by_mood = "SELECT small FROM kv WHERE id = 1 AND {p} = 'sad'::mood";
    let moods = r#"{ kind = "list", values = ["sad", "ok"] }"#;
    let named = refused(by_mood, moods);
    assert!(
        named.contains("type mood, which plimsoll does not bind")
            && named.contains("`{p}::text::mood`"),
        "{named}"
    );

    // What the messages say to write runs without an error (on the table the refused runs'
    // setup made: setup statements run before the check).
    schema.sql("INSERT INTO kv SELECT generate_series(1, 9), 1, 0");
    for (statement, param) in [
        (
            "SELECT small FROM kv WHERE id = {p}::bigint",
            "{ kind = \"int\", min = 1, max = 99999999999 }",
        ),
        (
            "SELECT small FROM kv WHERE id = {p}",
            r#"{ kind = "list", values = ["1", 2] }"#,
        ),
        (
            "SELECT small FROM kv WHERE id = 1 AND {p}::text::mood = 'sad'::mood",
            r#"{ kind = "list", values = ["sad", "ok"] }"#,
        ),
        (
            "SELECT small FROM kv WHERE id::text = {p}",
            r#"{ kind = "string", length = 1 }"#,
        ),
        (
            "UPDATE kv SET amount = {p}::bigint::numeric WHERE id = 1",
            "{ kind = \"int\", min = 1, max = 9 }",
        ),
    ] {
        let (results, _) = run(UNTIL_OPS, &kv(&schema, "ops = 50", statement, param));
        assert_eq!(all_errors(&results), vec![], "{statement}");
        assert_eq!(count(&results, "q"), 50, "{statement}");
    }
}

#[test]
fn a_sequence_that_counts_past_its_type_fails_as_a_bind_error_naming_it() {
    let schema = Schema::new("pastint2");
    let statement = "UPDATE kv SET small = {p} WHERE id = 1";
    let job = kv(
        &schema,
        "ops = 20",
        statement,
        "{ kind = \"sequence\", start = 32760 }",
    );
    let (results, _) = run(UNTIL_OPS, &job);
    // 32760 to 32767 fit a smallint; the twelve after it do not, and never reach the server.
    assert_eq!(count(&results, "q"), 8);
    assert_eq!(
        all_errors(&results),
        vec![("q".to_owned(), "bind failed: p".to_owned(), 12)]
    );
}

fn errors(results: &RunResults, kind: &str) -> u64 {
    let ops = job(results).operations.iter();
    let all = ops.flat_map(|o| o.errors.iter());
    all.filter(|e| e.kind.starts_with(kind))
        .map(|e| e.count)
        .sum()
}

/// A job in the test's own schema of the shared database.
fn in_schema(schema: &Schema, rest: &str) -> String {
    format!(
        "url = \"{}\"\nschema = \"{}\"\n{rest}",
        shared_url(),
        schema.0
    )
}

fn ycsb(schema: &Schema, core: &str, ops: u64, extra: &str) -> RunResults {
    let job = in_schema(
        schema,
        &format!(
            "connections = 4\nops = {ops}\n[jobs.workload]\nkind = \"ycsb\"\ncore = \"{core}\"\n\
             records = 5000\nfield_length = 20\nmax_scan_length = 10\n{extra}"
        ),
    );
    let (results, _) = run(UNTIL_OPS, &job);
    assert_eq!(all_errors(&results), vec![], "core {core}");
    results
}

#[test]
fn ycsb_mixes_come_out_in_their_proportions_and_inserts_reach_the_table() {
    let schema = Schema::new("ycsb");
    let a = ycsb(&schema, "a", 4000, "");
    assert_eq!(job(&a).target["init"]["action"], "created");
    assert_shares(&a, 4000, &[("read", 0.5), ("update", 0.5)]);
    assert_eq!(number(&schema.sql("SELECT count(*) FROM usertable")), 5000);

    let b = ycsb(&schema, "b", 4000, "");
    assert_eq!(job(&b).target["init"]["action"], "reused");
    assert_shares(&b, 4000, &[("read", 0.95), ("update", 0.05)]);

    let rows_before = number(&schema.sql("SELECT count(*) FROM usertable"));
    let d = ycsb(&schema, "d", 4000, "");
    assert_shares(&d, 4000, &[("read", 0.95), ("insert", 0.05)]);
    let inserted = number(&schema.sql("SELECT count(*) FROM usertable")) - rows_before;
    assert_eq!(inserted, count(&d, "insert"), "one row per insert");

    // A second run inserts past the rows the first one added, with no duplicate key.
    let e = ycsb(&schema, "e", 1500, "");
    assert_shares(&e, 1500, &[("scan", 0.95), ("insert", 0.05)]);

    let f = ycsb(&schema, "f", 4000, "");
    assert_shares(&f, 4000, &[("read", 0.5), ("read_modify_write", 0.5)]);
}

#[test]
fn ycsb_zipfian_updates_touch_fewer_rows_than_uniform_ones() {
    let schema = Schema::new("ycsbskew");
    let changed_rows = |distribution: &str| {
        schema.sql("DROP TABLE IF EXISTS snapshot");
        ycsb(&schema, "a", 10, "");
        schema.sql("CREATE TABLE snapshot AS SELECT ycsb_key, field0 FROM usertable");
        let extra = format!("distribution = {{ kind = \"{distribution}\" }}\n");
        let results = ycsb(&schema, "a", 6000, &extra);
        let updates = count(&results, "update");
        let changed = schema.sql(
            "SELECT count(*) FROM usertable u JOIN snapshot s USING (ycsb_key) \
             WHERE u.field0 <> s.field0",
        );
        (number(&changed), updates)
    };
    assert_zipfian_skew(changed_rows("uniform"), changed_rows("zipfian"));
}

#[test]
fn a_zipfian_parameter_puts_its_share_on_the_hottest_value() {
    let schema = Schema::new("zipf");
    let custom = |distribution: &str| {
        in_schema(
            &schema,
            &format!(
                "connections = 2\nops = 5000\n[jobs.workload]\nkind = \"custom\"\n\
                 setup = [\"DROP TABLE IF EXISTS hits\", \
                 \"CREATE TABLE hits (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)\", \
                 \"INSERT INTO hits (id) SELECT generate_series(1, 1000)\"]\n\
                 transactions = [{{ name = \"hit\", statements = \
                 [\"UPDATE hits SET n = n + 1 WHERE id = {{id}}\"] }}]\n\
                 params = {{ id = {{ kind = \"int\", min = 1, max = 1000, \
                 distribution = {{ kind = \"{distribution}\" }} }} }}\n"
            ),
        )
    };
    let (results, _) = run(UNTIL_OPS, &custom("zipfian"));
    assert_eq!(all_errors(&results), vec![]);
    assert_eq!(count(&results, "hit"), 5000);
    assert_eq!(number(&schema.sql("SELECT sum(n) FROM hits")), 5000);
    // Zipf with theta 0.99 over 1,000 values gives the hottest 1/H = 13.4 % of the draws.
    let hottest = number(&schema.sql("SELECT max(n) FROM hits"));
    assert!(
        (550..=800).contains(&hottest),
        "the hottest value took {hottest} of 5000"
    );
    let top_ten =
        number(&schema.sql("SELECT sum(n) FROM (SELECT n FROM hits ORDER BY n DESC LIMIT 10) t"));
    assert!(top_ten > 1500, "the ten hottest took {top_ten} of 5000");

    let (results, _) = run(UNTIL_OPS, &custom("uniform"));
    assert_eq!(count(&results, "hit"), 5000);
    let hottest = number(&schema.sql("SELECT max(n) FROM hits"));
    assert!(
        hottest < 25,
        "uniform: the hottest value took {hottest} of 5000"
    );
}

/// Every transaction reads the one row, then updates it: under repeatable read, all but one
/// of the connections that read it together fail with a serialization failure.
fn conflicting(schema: &Schema, retries: u32) -> String {
    in_schema(
        schema,
        &format!(
            "connections = 4\nops = 600\nisolation = \"repeatable_read\"\nretries = {retries}\n\
             [jobs.workload]\nkind = \"custom\"\n\
             setup = [\"CREATE TABLE IF NOT EXISTS hot (id int PRIMARY KEY, n int NOT NULL)\", \
             \"INSERT INTO hot VALUES (1, 0) ON CONFLICT DO NOTHING\"]\n\
             transactions = [{{ name = \"bump\", statements = [\
             \"SELECT n FROM hot WHERE id = 1\", \"SELECT pg_sleep(0.001)\", \
             \"UPDATE hot SET n = n + 1 WHERE id = 1\"] }}]\n"
        ),
    )
}

#[test]
fn serialization_failures_are_retried_and_counted() {
    let schema = Schema::new("serial");
    let n = || number(&schema.sql("SELECT n FROM hot WHERE id = 1"));

    let (results, _) = run(UNTIL_OPS, &conflicting(&schema, 1000));
    let committed = count(&results, "bump");
    let retried = counter(&results, "serialization_retries");
    assert_eq!(all_errors(&results), vec![], "every failure was retried");
    assert_eq!(committed, 600);
    assert!(retried > 10, "retries: {retried}");
    assert_eq!(
        n(),
        committed,
        "each committed transaction bumped the row once"
    );
    // A statement's histogram holds its runs that succeeded; the failed ones are counted.
    assert_eq!(count(&results, "bump_3"), committed);

    let before = n();
    let (results, _) = run(UNTIL_OPS, &conflicting(&schema, 0));
    let failed = op_errors(&results, "bump", "sqlstate 40");
    assert!(
        failed > 10,
        "without retries the failures count as errors: {failed}"
    );
    assert_eq!(counter(&results, "serialization_retries"), 0);
    assert_eq!(count(&results, "bump") + failed, 600);
    assert_eq!(n() - before, count(&results, "bump"));
    assert_eq!(
        op_errors(&results, "bump_3", "sqlstate 40"),
        failed,
        "and on the update"
    );
}

#[test]
fn transaction_control_is_prepared_like_the_statements() {
    let schema = Schema::new("control");
    let job = in_schema(
        &schema,
        "connections = 2\nops = 20\nisolation = \"repeatable_read\"\n\
         [jobs.workload]\nkind = \"custom\"\n\
         setup = [\"CREATE TABLE IF NOT EXISTS seen (what text)\"]\n\
         transactions = [{ name = \"look\", statements = [\
         \"INSERT INTO seen SELECT statement FROM pg_prepared_statements \
         WHERE statement !~ 'seen'\", \
         \"SELECT 1\"] }]\n",
    );
    let (results, _) = run(UNTIL_OPS, &job);
    assert_eq!(all_errors(&results), vec![]);
    assert_eq!(count(&results, "look"), 20);
    // What each session had prepared, as the server lists it, seen from inside each
    // transaction: the job's BEGIN and COMMIT, as pgbench's prepared mode has them.
    let seen = schema.sql("SELECT string_agg(DISTINCT what, ' | ' ORDER BY what) FROM seen");
    assert_eq!(
        seen,
        "BEGIN ISOLATION LEVEL REPEATABLE READ | COMMIT | SELECT 1"
    );
}

fn op_errors(results: &RunResults, op: &str, kind: &str) -> u64 {
    let ops = job(results).operations.iter().filter(|o| o.op == op);
    let all = ops.flat_map(|o| o.errors.iter());
    all.filter(|e| e.kind.starts_with(kind))
        .map(|e| e.count)
        .sum()
}

#[test]
fn deadlocks_are_retried_and_counted_apart() {
    let schema = Schema::new("deadlock");
    // A short deadlock_timeout, for this session only, so the server finds them quickly.
    let url = format!("{}?options=-c%20deadlock_timeout%3D20ms", shared_url());
    let job = format!(
        "url = \"{url}\"\nschema = \"{}\"\nconnections = 4\nops = 300\nretries = 1000\n\
         [jobs.workload]\nkind = \"custom\"\n\
         setup = [\"CREATE TABLE IF NOT EXISTS pair (id int PRIMARY KEY, n int NOT NULL)\", \
         \"INSERT INTO pair VALUES (1, 0), (2, 0) ON CONFLICT DO NOTHING\"]\n\
         transactions = [\n\
           {{ name = \"forward\", statements = [\"UPDATE pair SET n = n + 1 WHERE id = 1\", \
              \"SELECT pg_sleep(0.002)\", \"UPDATE pair SET n = n + 1 WHERE id = 2\"] }},\n\
           {{ name = \"backward\", statements = [\"UPDATE pair SET n = n + 1 WHERE id = 2\", \
              \"SELECT pg_sleep(0.002)\", \"UPDATE pair SET n = n + 1 WHERE id = 1\"] }},\n\
         ]\n",
        schema.0
    );
    let (results, _) = run(UNTIL_OPS, &job);
    assert_eq!(all_errors(&results), vec![]);
    let committed = count(&results, "forward") + count(&results, "backward");
    assert_eq!(committed, 300);
    assert!(
        counter(&results, "deadlock_retries") > 0,
        "{:?}",
        job_counters(&results)
    );
    assert_eq!(counter(&results, "serialization_retries"), 0);
    assert_eq!(
        number(&schema.sql("SELECT sum(n) FROM pair")),
        2 * committed
    );
}

fn job_counters(results: &RunResults) -> &std::collections::BTreeMap<String, u64> {
    &job(results).counters
}

/// The newest installed PostgreSQL's server binaries (Debian keeps them off PATH).
fn pg_bin() -> PathBuf {
    let versions = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (scripts/test.sh installs it)");
    let newest = versions
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .max()
        .expect("a PostgreSQL version under /usr/lib/postgresql");
    PathBuf::from(format!("/usr/lib/postgresql/{newest}/bin"))
}

/// A PostgreSQL server of the test's own, in a temporary directory, on a free loopback
/// port; stopped and removed when dropped. PostgreSQL refuses to run as root, so when the
/// tests do, its commands run as the `postgres` user.
struct Throwaway {
    dir: tempfile::TempDir,
    port: u16,
    options: String,
}

impl Throwaway {
    fn start() -> Throwaway {
        Throwaway::start_with("", |_| {})
    }

    /// A server with extra `postgres` options, after `prepare` has put files in its folder.
    fn start_with(options: &str, prepare: impl FnOnce(&Path)) -> Throwaway {
        let dir = tempfile::Builder::new()
            .prefix("plimsoll-pg-")
            .tempdir_in(std::env::temp_dir())
            .unwrap();
        if as_root() {
            let uid = id(&["-u", "postgres"]);
            let gid = id(&["-g", "postgres"]);
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let port = TcpListener::bind((HOST, 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let server = Throwaway {
            dir,
            port,
            options: options.to_owned(),
        };
        prepare(server.dir.path());
        server.give_to_postgres();
        let data = server.data();
        server.pg(&[
            "initdb",
            "-D",
            &data,
            "-U",
            "postgres",
            "--auth=trust",
            "-N",
        ]);
        server.ctl("start");
        server
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// `pg_ctl ACTION`, waiting until it is done.
    fn ctl(&self, action: &str) {
        let options = format!(
            "-p {} -k {} -c listen_addresses={HOST} -c fsync=off {}",
            self.port,
            self.dir.path().display(),
            self.options
        );
        let log = self.dir.path().join("log").display().to_string();
        let data = self.data();
        let mut args = vec!["pg_ctl", "-D", &data, "-w", "-t", "30", "-l", &log];
        if action != "stop" {
            args.extend(["-o", &options]);
        }
        args.extend(["-m", "fast", action]);
        self.pg(&args);
    }

    fn pg(&self, args: &[&str]) {
        let program = pg_bin().join(args[0]);
        let mut command = if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let out = command
            .args(&args[1..])
            .current_dir(self.dir.path())
            .output()
            .expect("the PostgreSQL server binaries are installed");
        assert!(
            out.status.success(),
            "{args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@{HOST}:{}/postgres", self.port)
    }

    /// When the tests run as root, the server's files must be the postgres user's.
    fn give_to_postgres(&self) {
        if !as_root() {
            return;
        }
        let (uid, gid) = (id(&["-u", "postgres"]), id(&["-g", "postgres"]));
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            std::os::unix::fs::chown(entry.unwrap().path(), Some(uid), Some(gid)).unwrap();
        }
    }

    fn sql(&self, sql: &str) -> String {
        psql_at(self.port, "postgres", sql)
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let data = self.data();
        let program = pg_bin().join("pg_ctl");
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = if as_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        };
    }
}

fn as_root() -> bool {
    id(&["-u"]) == 0
}

fn id(args: &[&str]) -> u32 {
    let out = Command::new("id").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn a_restarted_server_is_reconnected_to_and_the_run_ends_on_time() {
    let server = Throwaway::start();
    let spec = format!(
        "url = \"{}\"\nconnections = 4\ntimeout = \"2s\"\n[jobs.workload]\nkind = \"tpcb_like\"\n\
         select_only = true\n",
        server.url()
    );
    // Load the tables first, so the measured run's setup is quick and its timing known.
    run("1s", &spec);

    let runner = std::thread::spawn(move || run("8s", &spec));
    // Restart once the lanes are at work: plimsoll's connections are there, and busy.
    let deadline = Instant::now() + Duration::from_secs(20);
    let lanes = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'plimsoll'";
    while number(&server.sql(lanes)) < 4 {
        assert!(Instant::now() < deadline, "plimsoll never connected");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));
    server.ctl("restart");
    let (results, elapsed) = runner.join().unwrap();

    assert!(
        elapsed < Duration::from_secs(8 + 5),
        "the run took {elapsed:?} for 8 s of load"
    );
    let lost = errors(&results, "connect") + errors(&results, "sqlstate 57");
    assert!(
        lost > 0,
        "the restart shows as errors: {:?}",
        all_errors(&results)
    );
    assert!(
        counter(&results, "reconnects") >= 4,
        "every connection was made again: {:?}",
        job_counters(&results)
    );
    let intervals = &job(&results).intervals;
    let last = intervals
        .iter()
        .rev()
        .find(|i| i.duration_ns > 500_000_000)
        .unwrap();
    let served: u64 = last.ops.iter().map(|o| o.count).sum();
    assert!(served > 0, "transactions ran again after the restart");
}

#[test]
fn sslmode_require_connects_over_tls_and_checks_the_certificate() {
    let server = Throwaway::start_with(
        // Relative to the data folder, inside the server's own.
        "-c ssl=on -c ssl_cert_file=../server.crt -c ssl_key_file=../server.key",
        common::certificates,
    );
    server.sql("CREATE TABLE seen (ssl boolean)");
    let ca = server.dir.path().join("ca.crt");
    let job = |tls: &str| {
        format!(
            "url = \"{}?sslmode=require\"\nconnections = 2\nops = 50\n{tls}\n\
             [jobs.workload]\nkind = \"custom\"\ntransactions = [{{ name = \"look\", \
             statements = [\"INSERT INTO seen SELECT ssl FROM pg_stat_ssl \
             WHERE pid = pg_backend_pid()\"] }}]\n",
            server.url()
        )
    };

    let (results, _) = run(UNTIL_OPS, &job(&format!("tls_ca = \"{}\"", ca.display())));
    assert_eq!(all_errors(&results), vec![]);
    assert_eq!(count(&results, "look"), 50);
    assert_eq!(server.sql("SELECT count(*) FROM seen WHERE ssl"), "50");

    let (results, _) = run(UNTIL_OPS, &job("tls_insecure = true"));
    assert_eq!(count(&results, "look"), 50);
    assert_eq!(server.sql("SELECT count(*) FROM seen WHERE ssl"), "100");

    // The system does not trust a self-signed certificate: setup fails, before any load.
    let message = setup_error("postgres", "pg", &job(""));
    assert!(message.contains("certificate is not trusted"), "{message}");
    assert_eq!(server.sql("SELECT count(*) FROM seen"), "100");
}

#[test]
fn the_open_model_keeps_its_rate_and_no_password_reaches_the_results() {
    let db = Database::create("open");
    // Trust auth takes any password: this one must show nowhere.
    let url = db.url().replace("postgres@", "postgres:hunter2@");
    let spec = format!(
        "url = \"{url}\"\nconnections = 4\nthreads = 2\n[jobs.workload]\nkind = \"tpcb_like\"\n\
         select_only = true\n[jobs.load]\nmodel = \"open\"\nrate = \"200\"\n"
    );
    // A first, closed run loads the tables.
    run("1s", &spec[..spec.find("[jobs.load]").unwrap()]);
    let (results, elapsed) = run("3s", &spec);
    assert_eq!(all_errors(&results), vec![]);
    let done = count(&results, "select_only");
    assert!(
        (570..=601).contains(&done),
        "{done} transactions at 200/s for 3 s"
    );
    assert!(elapsed < Duration::from_secs(3 + 3), "{elapsed:?}");
    assert_eq!(job(&results).load_model, "open");
    let json = serde_json::to_string(&results).unwrap();
    assert!(
        !json.contains("hunter2"),
        "the password stays out of the results"
    );
    assert!(json.contains("postgres:***@"), "the URL is there, redacted");
}

#[test]
fn a_statement_past_its_timeout_is_abandoned_and_counted_as_a_timeout() {
    let schema = Schema::new("timeout");
    // Each transaction sleeps 3 s on the server; the job waits 300 ms for any statement.
    let (results, elapsed) = run(
        UNTIL_OPS,
        &in_schema(
            &schema,
            "connections = 1\nops = 4\ntimeout = \"300ms\"\n[jobs.workload]\nkind = \"custom\"\n\
             transactions = [{ name = \"slow\", statements = [\"SELECT pg_sleep(3)\"] }]\n",
        ),
    );
    assert_eq!(count(&results, "slow"), 0, "none waited out its 3 s");
    assert_eq!(
        all_errors(&results),
        vec![("slow".to_owned(), "timeout".to_owned(), 4)]
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "4 statements of 3 s each were cut short: {elapsed:?}"
    );
    // A timed-out statement leaves the connection's state unknown: each next one is new.
    assert!(
        counter(&results, "reconnects") >= 3,
        "{:?}",
        job(&results).counters
    );
}

/// A reply far larger than the client's read buffer arrives in many pieces, and its last
/// pieces can be waiting in the socket with nothing more to come; each must still be read
/// to its end, at once, rather than waited on until the statement times out.
#[test]
fn replies_of_many_rows_are_read_to_their_end() {
    let schema = Schema::new("wide");
    let (results, elapsed) = run(
        UNTIL_OPS,
        &in_schema(
            &schema,
            "connections = 2\nops = 40\ntimeout = \"5s\"\n[jobs.workload]\nkind = \"custom\"\n\
             transactions = [{ name = \"wide\", statements = [\
             \"SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g\"] }]\n",
        ),
    );
    assert_eq!(all_errors(&results), vec![]);
    assert_eq!(count(&results, "wide"), 40);
    assert!(
        elapsed < Duration::from_secs(5),
        "40 replies of about 1 MB each took {elapsed:?}"
    );
}

/// A capacity search over a transaction of two statements: each step's throughput and
/// latency are the transaction's, not the sum of the transaction and its statements.
#[test]
fn a_capacity_search_counts_transactions_not_their_statements() {
    use plimsoll::capacity::{self, Options};
    let schema = Schema::new("capacity");
    let job = in_schema(
        &schema,
        "connections = 1\n[jobs.workload]\nkind = \"custom\"\n\
         setup = [\"CREATE TABLE IF NOT EXISTS kv (k int PRIMARY KEY, v int)\", \
         \"INSERT INTO kv SELECT g, 0 FROM generate_series(1, 100) g ON CONFLICT DO NOTHING\"]\n\
         params = { k = { kind = \"int\", min = 1, max = 100 } }\n\
         transactions = [{ name = \"pair\", statements = [\
         \"SELECT v FROM kv WHERE k = {k}\", \"SELECT v + 1 FROM kv WHERE k = {k}\"] }]\n",
    );
    let text = common::sql::one_job("postgres", "pg", "1s", &job);
    let workload = plimsoll::workload::load_str("test.toml", &text).expect("a workload");
    let options = Options {
        objectives: vec!["pg.pair: p99 < 10s".parse().unwrap()],
        step_duration: Duration::from_secs(1),
        step_warmup: Some(Duration::from_millis(200)),
        max_steps: 2,
        max_time: Duration::from_secs(60),
        ..Options::default()
    };
    let plan = capacity::plan(&workload, options).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let results = capacity::run(&plan, None, &stop).expect("the search runs");
    let section = results.capacity.as_deref().expect("a capacity section");
    let judged: Vec<_> = section.steps.iter().filter(|s| s.phase != "warm").collect();
    assert!(!judged.is_empty(), "{:?}", section.steps);
    for step in judged {
        let ops = &step.job.operations;
        let pair = ops
            .iter()
            .find(|o| o.op == "pair")
            .expect("the transaction");
        assert!(ops.len() > 1, "its statements are timed too: {ops:?}");
        let rate = pair.count as f64 * 1e9 / step.measured_ns.min(1_000_000_000) as f64;
        let off = (step.throughput_ops_per_s - rate).abs() / rate;
        assert!(
            off < 1e-9,
            "step {} /s, transactions {rate} /s",
            step.throughput_ops_per_s
        );
        assert_eq!(step.p50_ns, pair.latency_ns.p50, "{step:?}");
    }
}
