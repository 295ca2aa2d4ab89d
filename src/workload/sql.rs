//! The SQL jobs as the user writes them. `kind = "postgres"` and `kind = "mysql"` take the same
//! keys: where the server is, how many connections, and one `workload` table that says what
//! the connections run: the TPC-B-like transaction (or its select-only variant), a YCSB core
//! workload on `usertable`, or the user's own statements with parameter generators.
//!
//! The URL may hold a password: serializing a job writes it redacted, like the Redis job's.
//! Whether a statement is valid SQL, and whether the tables exist, is the server's to say when
//! the job is prepared (`crate::drivers::sql`); this module checks only what a file can show.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize, Serializer, de};

use super::load_model::{self, LoadSpec};
use super::redact_url;
use super::spans::{FieldPath, Finding};
use super::sql_text::{Braced, Part, braced_names};
use super::units::{HumanDuration, Share};
use super::validate;
use crate::load::{Shard, ShardError};

/// Connections per SQL job; each is a server process (PostgreSQL) or thread (MySQL).
pub const MAX_SQL_CONNECTIONS: u32 = 5_000;
/// Retries of one transaction after serialization failures or deadlocks.
pub const MAX_RETRIES: u32 = 1_000;

/// Which server a SQL job talks to; the keys are the same for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Mysql,
}

impl Dialect {
    fn schemes(self) -> &'static [&'static str] {
        match self {
            Dialect::Postgres => &["postgres", "postgresql"],
            Dialect::Mysql => &["mysql", "mariadb"],
        }
    }

    /// What the URL's query says to ask for TLS.
    fn tls_query(self) -> &'static str {
        match self {
            Dialect::Postgres => "?sslmode=require",
            Dialect::Mysql => "?ssl-mode=REQUIRED",
        }
    }

    fn example_url(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres://user:password@127.0.0.1:5432/test",
            Dialect::Mysql => "mysql://user:password@127.0.0.1:3306/test",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlJob {
    pub name: String,
    /// `postgres://user:password@host:port/db?sslmode=require` (or `mysql://...`). Shown with
    /// the password as `***`.
    #[serde(serialize_with = "serialize_redacted")]
    pub url: String,
    /// TLS only: a PEM file of the CA certificates to trust in place of the system's.
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
    /// TLS only: accept any server certificate (what libpq's `sslmode=require` does).
    /// Default false: the certificate and host name are checked.
    #[serde(default)]
    pub tls_insecure: bool,
    /// Connections, each carrying one transaction at a time. Default 1.
    #[serde(default = "one")]
    pub connections: u32,
    /// Client threads, each with its own event loop, sharing the connections. Default 1.
    #[serde(default = "one")]
    pub threads: u32,
    /// How long a statement (or a connection attempt) may take before it counts as a
    /// timeout; the connection is then dropped and made again. Default 5 s.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// Stop after this many measured transactions (or at the end of the duration).
    #[serde(default)]
    pub ops: Option<u64>,
    /// Seed for every parameter draw and transaction choice.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The schema (PostgreSQL) or database (MySQL) that holds the workload's tables. Default:
    /// the connection's own (`public`, or the URL's database).
    #[serde(default)]
    pub schema: Option<String>,
    /// What happens to the built-in workloads' tables before the run. Default `auto`.
    #[serde(default)]
    pub init: InitMode,
    /// Isolation level of explicit transactions. Default: the server's (read committed on
    /// PostgreSQL, repeatable read on MySQL).
    #[serde(default)]
    pub isolation: Option<Isolation>,
    /// Times a transaction is run again after a serialization failure or a deadlock, each
    /// retry counted. Default 0: the failure is counted as an error.
    #[serde(default)]
    pub retries: u32,
    #[serde(default)]
    pub workload: SqlWorkload,
    #[serde(default)]
    pub load: LoadSpec,
    /// Thresholds for this job; see [`super::Job::thresholds`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<crate::gate::Threshold>,
}

/// Creating and loading the built-in workloads' tables. Tables plimsoll did not create are
/// never dropped: plimsoll marks its own tables, and refuses when a table of the same name
/// carries no mark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitMode {
    /// Create and load the tables when they are missing, reuse them when plimsoll loaded them
    /// for the same workload and size, drop and load them again when it loaded them for
    /// another.
    #[default]
    Auto,
    /// Drop and load plimsoll's tables again, whatever they hold.
    Always,
    /// Touch nothing: run on the tables as they are (ones pgbench made, say).
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl Isolation {
    pub fn sql(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "READ COMMITTED",
            Isolation::RepeatableRead => "REPEATABLE READ",
            Isolation::Serializable => "SERIALIZABLE",
        }
    }
}

/// What each connection runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SqlWorkload {
    /// pgbench's default transaction on its four tables: an account update, a balance select,
    /// teller and branch updates and a history insert, in one transaction.
    TpcbLike {
        /// Branches; each has 10 tellers and 100,000 accounts. Default 1.
        #[serde(default = "one")]
        scale: u32,
        /// Only the balance select, outside any transaction (pgbench `-S`). Default false.
        #[serde(default)]
        select_only: bool,
    },
    Ycsb(YcsbSpec),
    Custom(CustomSpec),
}

impl Default for SqlWorkload {
    fn default() -> Self {
        SqlWorkload::TpcbLike {
            scale: 1,
            select_only: false,
        }
    }
}

/// A YCSB core workload on `usertable`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YcsbSpec {
    /// `a` (50 % reads, 50 % updates), `b` (95/5), `c` (reads only), `d` (95 % reads of the
    /// latest, 5 % inserts), `e` (95 % short scans, 5 % inserts) or `f` (50 % reads, 50 %
    /// read-modify-writes).
    pub core: YcsbCore,
    /// Rows loaded by init. Default 10,000.
    #[serde(default = "default_records")]
    pub records: u64,
    /// Text fields per row. Default 10.
    #[serde(default = "default_field_count")]
    pub field_count: u32,
    /// Characters per field. Default 100.
    #[serde(default = "default_field_length")]
    pub field_length: u32,
    /// Which keys requests pick. Default: the core workload's (zipfian, or latest for `d`).
    #[serde(default)]
    pub distribution: Option<YcsbDistribution>,
    /// Scans read 1 to this many rows, uniformly. Default 100.
    #[serde(default = "default_max_scan")]
    pub max_scan_length: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum YcsbCore {
    A,
    B,
    C,
    D,
    E,
    F,
}

/// YCSB's request distributions.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum YcsbDistribution {
    Uniform,
    /// Zipf over keys with exponent `theta` (default 0.99, YCSB's), the hot keys scattered.
    Zipfian {
        #[serde(default = "default_theta")]
        theta: f64,
    },
    /// Zipf over recency: the most recently inserted keys are the hottest.
    Latest {
        #[serde(default = "default_theta")]
        theta: f64,
    },
    /// `access` of the requests go to the first `keys` share of the rows. Defaults 20 % and
    /// 80 %.
    Hotspot {
        #[serde(default = "default_hot_keys")]
        keys: Share,
        #[serde(default = "default_hot_access")]
        access: Share,
    },
}

/// The user's own statements.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomSpec {
    /// Statements run once before load, on one connection, in order and not measured (create
    /// a table if it is missing, say). They run on every run, so make them idempotent.
    #[serde(default)]
    pub setup: Vec<String>,
    /// What the connections run, picked by weight.
    pub transactions: Vec<CustomTransaction>,
    /// Parameter generators by name; a statement uses one as `{name}`.
    #[serde(default)]
    pub params: BTreeMap<String, ParamSpec>,
}

/// One weighted entry: a statement, or several in one transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomTransaction {
    /// The name results use (letters, digits and `_`).
    pub name: String,
    #[serde(default = "one")]
    pub weight: u32,
    /// SQL with `{param}` where a drawn value is bound (not inside quotes or comments, which
    /// the server reads as written). A parameter used twice in one transaction has the same
    /// value both times.
    pub statements: Vec<String>,
    /// Run the statements between BEGIN and COMMIT. Default: true when there are several.
    #[serde(default)]
    pub transaction: Option<bool>,
}

/// How one parameter's values are drawn, once per transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ParamSpec {
    /// Whole numbers from `min` to `max`, inclusive.
    Int {
        min: i64,
        max: i64,
        #[serde(default)]
        distribution: IntDistribution,
    },
    /// Random letters and digits, `length` long (or up to `length_max`).
    String {
        length: u32,
        #[serde(default)]
        length_max: Option<u32>,
    },
    /// `start`, `start + 1`, ... shared by every connection of the job, so no value repeats.
    Sequence {
        #[serde(default = "one_i64")]
        start: i64,
    },
    /// One of `values` (whole numbers or strings), uniformly.
    List { values: Vec<ListValue> },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ListValue {
    Int(i64),
    Text(String),
}

/// By hand, so that anything else is told what a list value is: serde's own for an untagged
/// enum says only that the data matched no variant.
impl<'de> Deserialize<'de> for ListValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListValueVisitor)
    }
}

struct ListValueVisitor;

impl ListValueVisitor {
    fn refuse<E: de::Error>(what: &str) -> E {
        E::custom(format!(
            "a list value is a string or a whole number, like `values = [1, 10, 100]` or \
             `values = [\"gold\", \"silver\"]`, not {what}"
        ))
    }
}

impl<'de> de::Visitor<'de> for ListValueVisitor {
    type Value = ListValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string or a whole number")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ListValue, E> {
        Ok(ListValue::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ListValue, E> {
        let too_large = |_| Self::refuse(&format!("{v}, which is above {}", i64::MAX));
        i64::try_from(v).map(ListValue::Int).map_err(too_large)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ListValue, E> {
        Ok(ListValue::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<ListValue, E> {
        Ok(ListValue::Text(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<ListValue, E> {
        Err(Self::refuse(&format!("`{v}`")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<ListValue, E> {
        Err(Self::refuse(&format!("`{v}`")))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<ListValue, A::Error> {
        Err(Self::refuse("a list"))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<ListValue, A::Error> {
        // TOML hands a date or time over as a table of its own making.
        let time = toml::value::Datetime::deserialize(de::value::MapAccessDeserializer::new(map));
        Err(Self::refuse(if time.is_ok() {
            "a date or time"
        } else {
            "a table"
        }))
    }
}

/// Where an `int` parameter's values fall between its bounds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum IntDistribution {
    #[default]
    Uniform,
    /// Zipf with exponent `theta` (default 0.99), the hot values scattered over the range.
    Zipfian {
        #[serde(default = "default_theta")]
        theta: f64,
    },
    /// `access` of the draws fall in the first `keys` share of the range.
    Hotspot {
        #[serde(default = "default_hot_keys")]
        keys: Share,
        #[serde(default = "default_hot_access")]
        access: Share,
    },
}

impl SqlJob {
    /// This shard's part of the job: its part of `connections`, `ops` and the load, with a
    /// seed of its own. Shards must not race each other to create the same tables, nor draw
    /// the same new keys, so a job whose init would load tables, or whose YCSB mix inserts,
    /// is refused.
    pub fn shard(&self, shard: Shard) -> Result<SqlJob, ShardError> {
        let refuse = |why: &str| Err(ShardError::Unsplittable(why.to_owned()));
        let has_tables = !matches!(self.workload, SqlWorkload::Custom(_));
        if has_tables && self.init != InitMode::Never {
            return refuse(
                "every shard would run init on the same tables at once; load them with one \
                 unsharded run, then set init = \"never\" for the sharded runs",
            );
        }
        if let SqlWorkload::Ycsb(ycsb) = &self.workload
            && matches!(ycsb.core, YcsbCore::D | YcsbCore::E)
        {
            return refuse(
                "shards would insert rows with the same new keys; run this YCSB core unsharded",
            );
        }
        let connections = shard.part_of_u32(self.connections, "connections")?;
        let ops = self.ops.map(|n| shard.part_of(n, "ops")).transpose()?;
        Ok(SqlJob {
            connections,
            threads: self.threads.min(connections),
            ops,
            seed: Some(shard.seed(self.seed.unwrap_or(0))),
            load: self.load.shard(shard)?,
            ..self.clone()
        })
    }
}

fn serialize_redacted<S: Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact_url(url))
}

fn one() -> u32 {
    1
}

fn one_i64() -> i64 {
    1
}

fn default_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(5))
}

fn default_records() -> u64 {
    10_000
}

fn default_field_count() -> u32 {
    10
}

fn default_field_length() -> u32 {
    100
}

fn default_max_scan() -> u32 {
    100
}

fn default_theta() -> f64 {
    0.99
}

fn default_hot_keys() -> Share {
    Share(0.2)
}

fn default_hot_access() -> Share {
    Share(0.8)
}

type Ensure<'a> = dyn FnMut(bool, FieldPath, String) + 'a;

/// Everything wrong with a SQL job's values, by field.
pub(crate) fn check(job: &SqlJob, dialect: Dialect, path: &FieldPath) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut ensure = |ok: bool, key: FieldPath, message: String| {
        if !ok {
            findings.push(Finding::at(key, message));
        }
    };
    check_url(job, dialect, path, &mut ensure);
    check_connections(job, path, &mut ensure);
    ensure(
        job.ops != Some(0),
        path.key("ops"),
        "ops is 0, so nothing would be measured; set it to 1 or more, or remove it to run for \
         the duration"
            .into(),
    );
    ensure(
        job.retries <= MAX_RETRIES,
        path.key("retries"),
        format!("retries is {}; use 0 to {MAX_RETRIES}", job.retries),
    );
    if let Some(schema) = &job.schema {
        ensure(
            is_identifier(schema),
            path.key("schema"),
            format!(
                "schema `{schema}` is not a plain name; use letters, digits and `_`, starting \
                 with a letter, like `schema = \"bench\"`"
            ),
        );
    }
    let workload = path.key("workload");
    match &job.workload {
        SqlWorkload::TpcbLike { scale, .. } => ensure(
            (1..=100_000).contains(scale),
            workload.key("scale"),
            format!("scale is {scale}; use 1 to 100000 (each is 100,000 accounts)"),
        ),
        SqlWorkload::Ycsb(ycsb) => check_ycsb(ycsb, &workload, &mut ensure),
        SqlWorkload::Custom(custom) => check_custom(custom, dialect, &workload, &mut ensure),
    }
    findings.extend(load_model::check(&job.load, &path.key("load")));
    if job.load.max_in_flight.is_some() {
        findings.push(Finding::at(
            path.key("load").key("max_in_flight"),
            "a SQL connection carries one transaction at a time, so the job's in-flight \
             limit is its connections; remove max_in_flight and set connections"
                .into(),
        ));
    }
    findings
}

fn check_url(job: &SqlJob, dialect: Dialect, path: &FieldPath, ensure: &mut Ensure) {
    let scheme = job.url.split_once("://").map(|(s, _)| s);
    ensure(
        scheme.is_some_and(|s| dialect.schemes().contains(&s)),
        path.key("url"),
        format!(
            "url `{}` is not a {} URL; write it like `{}`",
            redact_url(&job.url),
            dialect.schemes()[0],
            dialect.example_url()
        ),
    );
    let over_tls = asks_for_tls(&job.url);
    let query = dialect.tls_query();
    ensure(
        over_tls || job.tls_ca.is_none(),
        path.key("tls_ca"),
        format!("tls_ca needs TLS; add `{query}` to the url, or remove tls_ca"),
    );
    ensure(
        over_tls || !job.tls_insecure,
        path.key("tls_insecure"),
        format!("tls_insecure needs TLS; add `{query}` to the url, or remove tls_insecure"),
    );
    ensure(
        !(job.tls_insecure && job.tls_ca.is_some()),
        path.key("tls_insecure"),
        "tls_insecure skips certificate checks, so tls_ca would never be used; keep one of them"
            .into(),
    );
}

/// Whether the URL's query asks for an encrypted connection (`sslmode=require` for
/// PostgreSQL, `ssl-mode=REQUIRED` or `require_ssl=true` for MySQL).
pub fn asks_for_tls(url: &str) -> bool {
    let Some((_, query)) = url.split_once('?') else {
        return false;
    };
    query.split('&').any(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (key.to_ascii_lowercase(), value.to_ascii_lowercase());
        matches!(
            (key.as_str(), value.as_str()),
            ("sslmode", "require")
                | ("ssl-mode" | "ssl_mode", "required")
                | ("require_ssl", "true")
        )
    })
}

fn check_connections(job: &SqlJob, path: &FieldPath, ensure: &mut Ensure) {
    let connections = (job.connections, MAX_SQL_CONNECTIONS);
    validate::check_pool(connections, job.threads, path, ensure);
    ensure(
        !job.timeout.0.is_zero(),
        path.key("timeout"),
        "timeout is 0, so every statement would time out; set it above 0, like \
         `timeout = \"5s\"`"
            .into(),
    );
}

fn check_ycsb(ycsb: &YcsbSpec, path: &FieldPath, ensure: &mut Ensure) {
    ensure(
        ycsb.records >= 1,
        path.key("records"),
        "records is 0; the table needs at least 1 row".into(),
    );
    ensure(
        (1..=100).contains(&ycsb.field_count),
        path.key("field_count"),
        format!("field_count is {}; use 1 to 100", ycsb.field_count),
    );
    ensure(
        (1..=65_535).contains(&ycsb.field_length),
        path.key("field_length"),
        format!("field_length is {}; use 1 to 65535", ycsb.field_length),
    );
    ensure(
        ycsb.max_scan_length >= 1,
        path.key("max_scan_length"),
        "max_scan_length is 0, so scans would read nothing; set it to 1 or more".into(),
    );
    let path = path.key("distribution");
    match ycsb.distribution {
        Some(YcsbDistribution::Zipfian { theta } | YcsbDistribution::Latest { theta }) => {
            check_theta(theta, &path, ensure)
        }
        Some(YcsbDistribution::Hotspot { keys, access }) => {
            check_hotspot(keys, access, &path, ensure)
        }
        Some(YcsbDistribution::Uniform) | None => {}
    }
}

fn check_theta(theta: f64, path: &FieldPath, ensure: &mut Ensure) {
    ensure(
        theta.is_finite() && theta > 0.0,
        path.key("theta"),
        format!("theta is {theta}, but zipfian needs it above 0; try 0.99"),
    );
}

fn check_hotspot(keys: Share, access: Share, path: &FieldPath, ensure: &mut Ensure) {
    for (key, share) in [("keys", keys), ("access", access)] {
        ensure(
            share.0 > 0.0 && share.0 < 1.0,
            path.key(key),
            format!("{key} must lie strictly between 0% and 100%, like `\"20%\"`"),
        );
    }
}

fn check_custom(custom: &CustomSpec, dialect: Dialect, path: &FieldPath, ensure: &mut Ensure) {
    let transactions = path.key("transactions");
    ensure(
        !custom.transactions.is_empty(),
        transactions.clone(),
        "transactions is empty; add at least one, like `transactions = [{ name = \"read\", \
         statements = [\"SELECT 1\"] }]`"
            .into(),
    );
    let mut names: Vec<&str> = Vec::new();
    for (i, txn) in custom.transactions.iter().enumerate() {
        let at = transactions.index(i);
        ensure(
            is_identifier(&txn.name),
            at.key("name"),
            format!(
                "name `{}` is not a plain name; use letters, digits and `_`, starting with a \
                 letter",
                txn.name
            ),
        );
        ensure(
            !names.contains(&txn.name.as_str()),
            at.key("name"),
            format!(
                "two transactions are both named `{}`; give each its own",
                txn.name
            ),
        );
        names.push(&txn.name);
        ensure(
            txn.weight > 0,
            at.key("weight"),
            "weight is 0, so this transaction would never run; give it 1 or more, or remove it"
                .into(),
        );
        ensure(
            !txn.statements.is_empty(),
            at.key("statements"),
            "statements is empty; list at least one".into(),
        );
        for (k, sql) in txn.statements.iter().enumerate() {
            let at = at.key("statements").index(k);
            check_statement(sql, custom, dialect, &at, ensure);
        }
    }
    for (name, spec) in &custom.params {
        check_param(name, spec, &path.key("params").key(name), ensure);
    }
}

fn check_statement(
    sql: &str,
    custom: &CustomSpec,
    dialect: Dialect,
    path: &FieldPath,
    ensure: &mut Ensure,
) {
    ensure(
        !sql.trim().is_empty(),
        path.clone(),
        "this statement is empty; write its SQL".into(),
    );
    let known: Vec<&str> = custom.params.keys().map(String::as_str).collect();
    for Braced { name, part, .. } in braced_names(sql, dialect) {
        match part {
            Part::Code => {
                let hint = super::suggest_name(name, &known)
                    .map_or(String::new(), |meant| format!(" (did you mean `{meant}`?)"));
                ensure(
                    custom.params.contains_key(name),
                    path.clone(),
                    format!(
                        "the statement uses `{{{name}}}`, but no parameter has that name{hint}; \
                         add it under `params`, like `{name} = {{ kind = \"int\", min = 1, \
                         max = 1000 }}`"
                    ),
                );
            }
            // Text that merely looks like a parameter is the user's own, left as it is; a
            // parameter's name in quotes is almost surely meant to be bound.
            Part::Literal | Part::QuotedName => ensure(
                !custom.params.contains_key(name),
                path.clone(),
                quoted_parameter(name, part),
            ),
            Part::Comment => {}
        }
    }
}

fn quoted_parameter(name: &str, part: Part) -> String {
    match part {
        Part::QuotedName => format!(
            "`{{{name}}}` is inside a quoted name, so it would stay text and parameter \
             `{name}` would not be bound; a parameter is a value, never part of a name: write \
             the name itself"
        ),
        _ => format!(
            "`{{{name}}}` is inside a quoted string, so it would stay text and parameter \
             `{name}` would not be bound; write it without the quotes, like `= {{{name}}}`: a \
             parameter is sent as a value of its own, never pasted into the SQL, so it needs \
             no quotes"
        ),
    }
}

fn check_param(name: &str, spec: &ParamSpec, path: &FieldPath, ensure: &mut Ensure) {
    ensure(
        is_identifier(name),
        path.clone(),
        format!("parameter name `{name}` is not a plain name; use letters, digits and `_`"),
    );
    match spec {
        ParamSpec::Int {
            min,
            max,
            distribution,
        } => {
            ensure(
                min <= max,
                path.key("max"),
                format!("max ({max}) is below min ({min}); swap them"),
            );
            let at = path.key("distribution");
            match *distribution {
                IntDistribution::Zipfian { theta } => check_theta(theta, &at, ensure),
                IntDistribution::Hotspot { keys, access } => {
                    check_hotspot(keys, access, &at, ensure)
                }
                IntDistribution::Uniform => {}
            }
        }
        ParamSpec::String { length, length_max } => ensure(
            *length <= 1 << 20 && length_max.is_none_or(|m| m >= *length && m <= 1 << 20),
            path.key("length_max"),
            format!(
                "a string takes 0 to 1048576 characters, and length_max at least length ({length})"
            ),
        ),
        ParamSpec::Sequence { .. } => {}
        ParamSpec::List { values } => ensure(
            !values.is_empty(),
            path.key("values"),
            "values is empty; list at least one, like `values = [\"a\", \"b\"]`".into(),
        ),
    }
}

/// A name that needs no quoting in either dialect.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(rest: &str) -> Result<crate::workload::Workload, String> {
        let text = format!(
            "name = \"t\"\n[[jobs]]\nkind = \"postgres\"\nname = \"pg\"\n\
             url = \"postgres://u@h/db\"\n{rest}"
        );
        crate::workload::load_str("t.toml", &text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_statement_naming_no_parameter_is_placed_and_a_spelling_suggested() {
        let error = job("[jobs.workload]\nkind = \"custom\"\n\
             transactions = [{ name = \"r\", statements = [\"SELECT {idd}\"] }]\n\
             params = { id = { kind = \"int\", min = 1, max = 9 } }\n")
        .unwrap_err();
        assert!(
            error.contains("jobs[0].workload.transactions[0].statements[0]"),
            "{error}"
        );
        assert!(error.contains("did you mean `id`?"), "{error}");
    }

    #[test]
    fn a_parameter_in_quotes_is_refused_and_other_quoted_braces_are_sql() {
        let custom = |sql: &str| {
            job(&format!(
                "[jobs.workload]\nkind = \"custom\"\n\
                 transactions = [{{ name = \"r\", statements = [\"{sql}\"] }}]\n\
                 params = {{ id = {{ kind = \"int\", min = 1, max = 9 }} }}\n"
            ))
        };
        let error = custom("SELECT v FROM t WHERE name = '{id}'").unwrap_err();
        assert!(
            error.contains("jobs[0].workload.transactions[0].statements[0]"),
            "{error}"
        );
        assert!(
            error.contains("`{id}` is inside a quoted string"),
            "{error}"
        );
        assert!(error.contains("like `= {id}`"), "{error}");
        let error = custom("SELECT 1 AS \\\"{id}\\\"").unwrap_err();
        assert!(error.contains("inside a quoted name"), "{error}");
        custom("SELECT '{other}', $${id}$$ FROM t WHERE k = {id} -- {id}, {other}")
            .expect_err("PostgreSQL's $$ quotes a string");
        custom("SELECT '{other}' FROM t WHERE k = {id} -- {id}, {other}").unwrap();
    }

    #[test]
    fn workload_keys_are_checked_by_kind() {
        let error =
            job("[jobs.workload]\nkind = \"ycsb\"\ncore = \"a\"\nrecord = 5\n").unwrap_err();
        assert!(error.contains("did you mean `records`?"), "{error}");
        let error = job("[jobs.workload]\nkind = \"ycsb\"\ncore = \"g\"\n").unwrap_err();
        assert!(error.contains("unknown core `g`"), "{error}");
        let error =
            job("[jobs.load]\nmodel = \"open\"\nrate = \"10\"\nmax_in_flight = 4\n").unwrap_err();
        assert!(error.contains("set connections"), "{error}");
    }

    #[test]
    fn shards_split_connections_but_never_race_to_init() {
        let whole = job("connections = 5\nops = 100\n").unwrap();
        let shard = Shard::new(1, 2).unwrap();
        let refused = whole.shard(shard).unwrap_err().to_string();
        assert!(refused.contains("init = \"never\""), "{refused}");
        let whole = job("connections = 5\nops = 100\ninit = \"never\"\n").unwrap();
        let parts: Vec<SqlJob> = (1..=2)
            .map(|i| {
                match whole
                    .shard(Shard::new(i, 2).unwrap())
                    .unwrap()
                    .jobs
                    .remove(0)
                {
                    crate::workload::Job::Postgres(job) => job,
                    _ => unreachable!(),
                }
            })
            .collect();
        assert_eq!(parts.iter().map(|j| j.connections).sum::<u32>(), 5);
        assert_eq!(parts.iter().map(|j| j.ops.unwrap()).sum::<u64>(), 100);
        assert_ne!(parts[0].seed, parts[1].seed);
    }

    #[test]
    fn tls_is_asked_for_in_the_query() {
        assert!(asks_for_tls("postgres://h/db?sslmode=require"));
        assert!(asks_for_tls("mysql://h/db?ssl-mode=REQUIRED"));
        assert!(!asks_for_tls("postgres://h/db?sslmode=prefer"));
        assert!(!asks_for_tls("postgres://h/db"));
    }
}
