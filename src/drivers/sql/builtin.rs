//! The built-in workloads and the user's custom one, as scripts; and the tables the built-in
//! ones need, with their rows.
//!
//! The SQL here is what PostgreSQL and MySQL both take, so one definition serves both
//! backends. Table names are unqualified: the backend points each connection at the job's
//! schema (PostgreSQL's search_path, MySQL's current database).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand_distr::Zipf;

use super::params::{Generator, KeySource, Rows, int_distribution, random_text, write_key};
use super::script::{Script, ScriptTransaction};
use crate::load::OffsetPicker;
use crate::workload::{
    CustomSpec, IntDistribution, SqlWorkload, YcsbCore, YcsbDistribution, YcsbSpec,
};

/// Accounts per branch, and tellers per branch, as pgbench has them.
pub const ACCOUNTS_PER_BRANCH: u64 = 100_000;
pub const TELLERS_PER_BRANCH: u64 = 10;

/// Receives one table's rows field by field, in its columns' order.
pub trait RowSink {
    fn int(&mut self, value: i64);
    fn text(&mut self, value: &str);
    fn end_row(&mut self);
}

/// Writes row `n` (from 0) into the sink; the string is scratch space for its text fields.
pub type WriteRow = Box<dyn Fn(u64, &mut dyn RowSink, &mut String) + Send + Sync>;

/// A table a built-in workload runs on, and how init fills it.
pub struct TableSpec {
    pub name: &'static str,
    /// The column definitions for CREATE TABLE, in the SQL both backends take.
    pub columns: String,
    /// The columns init loads, in order; the others keep their defaults.
    pub loaded: Vec<String>,
    /// Added after the rows are in, as pgbench does: one index build instead of a million
    /// inserts into it.
    pub primary_key: &'static str,
    pub rows: u64,
    pub write_row: WriteRow,
}

/// What the job runs, and what init must create for it.
pub struct Builtin {
    pub script: Script,
    pub tables: Vec<TableSpec>,
    /// Written on each table init loads, and compared on the next run: the same text means
    /// the same rows, so they can be reused.
    pub mark: String,
    /// YCSB's rows, whose insert count the job must start past what the table already holds.
    pub rows: Option<Arc<Rows>>,
}

/// The script and tables for `workload`; `seed` fixes where skewed keys fall.
pub fn build(workload: &SqlWorkload, seed: u64) -> Result<Builtin, String> {
    match workload {
        SqlWorkload::TpcbLike { scale, select_only } => Ok(tpcb_like(*scale, *select_only)),
        SqlWorkload::Ycsb(ycsb) => ycsb_workload(ycsb, seed),
        SqlWorkload::Custom(custom) => custom_workload(custom, seed),
    }
}

fn tpcb_like(scale: u32, select_only: bool) -> Builtin {
    let scale = u64::from(scale);
    let (accounts, tellers) = (scale * ACCOUNTS_PER_BRANCH, scale * TELLERS_PER_BRANCH);
    let params = vec![
        ("aid".into(), Generator::uniform(1, accounts as i64)),
        ("bid".into(), Generator::uniform(1, scale as i64)),
        ("tid".into(), Generator::uniform(1, tellers as i64)),
        ("delta".into(), Generator::uniform(-5000, 5000)),
    ];
    let select = "SELECT abalance FROM pgbench_accounts WHERE aid = {aid}";
    let transaction = if select_only {
        ScriptTransaction {
            name: "select_only".into(),
            weight: 1,
            statements: vec![(select.into(), None)],
            explicit: false,
            commit_op: None,
        }
    } else {
        let timed = |sql: &str, op: &str| (sql.to_owned(), Some(op.to_owned()));
        ScriptTransaction {
            name: "tpcb_like".into(),
            weight: 1,
            statements: vec![
                timed(
                    "UPDATE pgbench_accounts SET abalance = abalance + {delta} WHERE aid = {aid}",
                    "update_accounts",
                ),
                timed(select, "select_balance"),
                timed(
                    "UPDATE pgbench_tellers SET tbalance = tbalance + {delta} WHERE tid = {tid}",
                    "update_tellers",
                ),
                timed(
                    "UPDATE pgbench_branches SET bbalance = bbalance + {delta} WHERE bid = {bid}",
                    "update_branches",
                ),
                timed(
                    "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) \
                     VALUES ({tid}, {bid}, {aid}, {delta}, CURRENT_TIMESTAMP)",
                    "insert_history",
                ),
            ],
            explicit: true,
            commit_op: Some("commit".into()),
        }
    };
    Builtin {
        script: Script {
            transactions: vec![transaction],
            params,
        },
        tables: tpcb_tables(scale),
        mark: format!("tpcb_like scale={scale}"),
        rows: None,
    }
}

/// pgbench's four tables, with its column types and filler widths, so rows are as wide.
fn tpcb_tables(scale: u64) -> Vec<TableSpec> {
    let cols = |names: &[&str]| names.iter().map(|s| s.to_string()).collect();
    vec![
        TableSpec {
            name: "pgbench_branches",
            columns: "bid int NOT NULL, bbalance int, filler char(88)".into(),
            loaded: cols(&["bid", "bbalance"]),
            primary_key: "bid",
            rows: scale,
            write_row: Box::new(|n, row, _| {
                row.int(n as i64 + 1);
                row.int(0);
                row.end_row();
            }),
        },
        TableSpec {
            name: "pgbench_tellers",
            columns: "tid int NOT NULL, bid int, tbalance int, filler char(84)".into(),
            loaded: cols(&["tid", "bid", "tbalance"]),
            primary_key: "tid",
            rows: scale * TELLERS_PER_BRANCH,
            write_row: Box::new(|n, row, _| {
                row.int(n as i64 + 1);
                row.int((n / TELLERS_PER_BRANCH) as i64 + 1);
                row.int(0);
                row.end_row();
            }),
        },
        TableSpec {
            name: "pgbench_accounts",
            columns: "aid int NOT NULL, bid int, abalance int, filler char(84)".into(),
            loaded: cols(&["aid", "bid", "abalance", "filler"]),
            primary_key: "aid",
            rows: scale * ACCOUNTS_PER_BRANCH,
            write_row: Box::new(|n, row, _| {
                row.int(n as i64 + 1);
                row.int((n / ACCOUNTS_PER_BRANCH) as i64 + 1);
                row.int(0);
                row.text("");
                row.end_row();
            }),
        },
        TableSpec {
            name: "pgbench_history",
            columns: "tid int, bid int, aid int, delta int, mtime timestamp, filler char(22)"
                .into(),
            loaded: Vec::new(),
            primary_key: "",
            rows: 0,
            write_row: Box::new(|_, _, _| {}),
        },
    ]
}

/// The shares of each YCSB core workload: read, update, insert, scan, read-modify-write.
fn ycsb_mix(core: YcsbCore) -> [u32; 5] {
    match core {
        YcsbCore::A => [50, 50, 0, 0, 0],
        YcsbCore::B => [95, 5, 0, 0, 0],
        YcsbCore::C => [100, 0, 0, 0, 0],
        YcsbCore::D => [95, 0, 5, 0, 0],
        YcsbCore::E => [0, 0, 5, 95, 0],
        YcsbCore::F => [50, 0, 0, 0, 50],
    }
}

fn ycsb_workload(ycsb: &YcsbSpec, seed: u64) -> Result<Builtin, String> {
    let rows = Arc::new(Rows {
        loaded: ycsb.records,
        inserted: AtomicU64::new(0),
    });
    let distribution = ycsb.distribution.unwrap_or(match ycsb.core {
        YcsbCore::D => YcsbDistribution::Latest { theta: 0.99 },
        _ => YcsbDistribution::Zipfian { theta: 0.99 },
    });
    let keys = match distribution {
        YcsbDistribution::Latest { theta } => KeySource::Latest {
            zipf: Zipf::new(ycsb.records as f64, theta).map_err(|e| format!("latest: {e}"))?,
            rows: rows.clone(),
        },
        other => {
            let spread = match other {
                YcsbDistribution::Zipfian { theta } => IntDistribution::Zipfian { theta },
                YcsbDistribution::Hotspot { keys, access } => {
                    IntDistribution::Hotspot { keys, access }
                }
                _ => IntDistribution::Uniform,
            };
            let picker = OffsetPicker::new(&int_distribution(spread), ycsb.records, seed)
                .map_err(|e| e.to_string())?;
            KeySource::Loaded(picker)
        }
    };
    let length = ycsb.field_length as usize;
    let params = vec![
        ("key".into(), Generator::Key(keys)),
        ("new_key".into(), Generator::NewKey(rows.clone())),
        (
            "value".into(),
            Generator::Text {
                min: length,
                max: length,
            },
        ),
        (
            "scan_length".into(),
            Generator::uniform(1, i64::from(ycsb.max_scan_length)),
        ),
    ];
    let fields: Vec<String> = (0..ycsb.field_count).map(|i| format!("field{i}")).collect();
    let all = fields.join(", ");
    let read = format!("SELECT {all} FROM usertable WHERE ycsb_key = {{key}}");
    let update = "UPDATE usertable SET field0 = {value} WHERE ycsb_key = {key}".to_owned();
    let values = vec!["{value}"; fields.len()].join(", ");
    let insert = format!("INSERT INTO usertable (ycsb_key, {all}) VALUES ({{new_key}}, {values})");
    let scan = format!(
        "SELECT ycsb_key, {all} FROM usertable WHERE ycsb_key >= {{key}} ORDER BY ycsb_key \
         LIMIT {{scan_length}}"
    );
    let one = |name: &str, weight: u32, statements: Vec<String>| ScriptTransaction {
        name: name.into(),
        weight,
        statements: statements.into_iter().map(|s| (s, None)).collect(),
        explicit: false,
        commit_op: None,
    };
    let [r, u, i, s, rmw] = ycsb_mix(ycsb.core);
    let transactions = [
        one("read", r, vec![read.clone()]),
        one("update", u, vec![update.clone()]),
        one("insert", i, vec![insert]),
        one("scan", s, vec![scan]),
        one("read_modify_write", rmw, vec![read, update]),
    ];
    let field_count = ycsb.field_count;
    let columns = std::iter::once("ycsb_key varchar(64) NOT NULL".to_owned())
        .chain(fields.iter().map(|f| format!("{f} varchar({length})")))
        .collect::<Vec<_>>()
        .join(", ");
    let table = TableSpec {
        name: "usertable",
        columns,
        loaded: std::iter::once("ycsb_key".to_owned())
            .chain(fields.iter().cloned())
            .collect(),
        primary_key: "ycsb_key",
        rows: ycsb.records,
        write_row: Box::new(move |n, row, scratch| {
            write_key(n, scratch);
            row.text(scratch);
            let mut rng = SmallRng::seed_from_u64(n);
            for _ in 0..field_count {
                random_text(length, scratch, &mut rng);
                row.text(scratch);
            }
            row.end_row();
        }),
    };
    Ok(Builtin {
        script: Script {
            transactions: transactions.into_iter().filter(|t| t.weight > 0).collect(),
            params,
        },
        tables: vec![table],
        mark: format!(
            "ycsb records={} field_count={} field_length={}",
            ycsb.records, ycsb.field_count, ycsb.field_length
        ),
        rows: Some(rows),
    })
}

fn custom_workload(custom: &CustomSpec, seed: u64) -> Result<Builtin, String> {
    let params = custom
        .params
        .iter()
        .map(|(name, spec)| {
            let generator = Generator::from_spec(spec, seed).map_err(|e| format!("{name}: {e}"))?;
            Ok((name.clone(), generator))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let transactions = custom
        .transactions
        .iter()
        .map(|txn| {
            let several = txn.statements.len() > 1;
            let explicit = txn.transaction.unwrap_or(several);
            let timed = several || explicit;
            let statements = txn.statements.iter().enumerate().map(|(k, sql)| {
                let op = timed.then(|| format!("{}_{}", txn.name, k + 1));
                (sql.clone(), op)
            });
            ScriptTransaction {
                name: txn.name.clone(),
                weight: txn.weight,
                statements: statements.collect(),
                explicit,
                commit_op: (explicit && timed).then(|| format!("{}_commit", txn.name)),
            }
        })
        .collect();
    Ok(Builtin {
        script: Script {
            transactions,
            params,
        },
        tables: Vec::new(),
        mark: String::new(),
        rows: None,
    })
}
