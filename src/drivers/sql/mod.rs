//! The SQL layer the PostgreSQL and MySQL drivers share: workloads as transaction scripts,
//! parameter generators, init of the built-in tables, error kinds by SQLSTATE class, retries,
//! reconnects, and the lanes that run it all in the shared worker loop.
//!
//! A backend supplies only the wire: [`Backend`] opens connections with the job's statements
//! prepared, [`Conn`] runs one of them with parameters bound and says what the server told of
//! its placeholders, and [`Admin`] does the setup work (marks on tables, bulk loads).
//! Everything else, including which parameters fit their placeholders, what is recorded and
//! when a transaction is run again, is decided here, the same way for every backend.

mod binds;
pub mod builtin;
mod errors;
mod init;
mod lane;
mod params;
mod script;

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

pub use binds::{Placeholder, Takes};
pub use builtin::{RowSink, TableSpec};
pub use errors::{Retry, SqlError, SqlErrorKind};
pub use init::InitFacts;
pub use params::Value;

use crate::drivers::SetupError;
use crate::load::RateProfile;
use crate::load::lanes::{Pace, Shared, StopRule, run_thread};
use crate::measure::Recorder;
use crate::results::LoadFacts;
use crate::runner::PreparedJob;
use crate::workload::{Dialect, Isolation, SqlJob, redact_url};

use init::InitError;
use lane::SqlLane;
use params::Draw;
use script::Plan;

/// A kind of SQL server: how to reach it. One per job, shared by its client threads.
pub trait Backend: Send + Sync + 'static {
    /// The job kind results name (`postgres`, `mysql`).
    const KIND: &'static str;
    /// Which SQL the server reads: how statement texts handed to [`Backend::connect`] write
    /// their parameters, and what in them is quoted.
    const DIALECT: Dialect;
    type Conn: Conn;
    type Admin: Admin;
    /// The job's URL as the client library reads it.
    type Url;

    /// Reads the job's URL the way the client library will, so that `plimsoll validate`
    /// refuses what a run would; the message names the part at fault and never the password.
    fn parse_url(job: &SqlJob) -> Result<Self::Url, String>;

    /// Builds the backend from the URL read by [`Backend::parse_url`] and the job's other
    /// connection keys; the message says what is wrong with them.
    fn new(job: &SqlJob, url: Self::Url) -> Result<Self, String>
    where
        Self: Sized;

    /// Opens a connection in the job's schema with every one of `statements` prepared, on
    /// the calling thread's runtime. A statement the server refuses fails the whole call with
    /// [`SqlError::statement`] set to its index and the server's message. The caller bounds
    /// the time it takes.
    fn connect(&self, statements: &[String]) -> impl Future<Output = Result<Self::Conn, SqlError>>;

    /// Opens a connection for setup: init, custom setup statements, server facts.
    fn admin(&self) -> impl Future<Output = Result<Self::Admin, SqlError>>;
}

/// One connection, used by one lane at a time.
pub trait Conn: 'static {
    /// Runs prepared statement `statement` with `params` bound in order; any rows are read
    /// and dropped.
    fn execute(
        &mut self,
        statement: usize,
        params: Params<'_>,
    ) -> impl Future<Output = Result<(), SqlError>>;
    /// Starts an explicit transaction, at `isolation` when one is given.
    fn begin(&mut self, isolation: Option<Isolation>)
    -> impl Future<Output = Result<(), SqlError>>;
    fn commit(&mut self) -> impl Future<Output = Result<(), SqlError>>;
    fn rollback(&mut self) -> impl Future<Output = Result<(), SqlError>>;
    /// Whether the connection is gone; the lane then drops it and connects again.
    fn is_lost(&self) -> bool;
    /// What the server said, when it prepared statement `statement`, of each of its
    /// placeholders, in order: as many as it counts in the statement.
    fn placeholders(&self, statement: usize) -> Vec<Placeholder>;
}

/// Setup work on one connection, before any load.
pub trait Admin {
    /// The server's version string.
    fn server_version(&mut self) -> impl Future<Output = Result<String, SqlError>>;
    /// Runs one statement without parameters (DDL, a custom setup statement).
    fn run(&mut self, sql: &str) -> impl Future<Output = Result<(), SqlError>>;
    /// The first column of the first row of `sql`'s result, as text (`None` for no row or
    /// NULL).
    fn scalar(&mut self, sql: &str) -> impl Future<Output = Result<Option<String>, SqlError>>;
    /// The mark (comment) on `table` in the connection's schema: `None` when there is no
    /// such table, `Some("")` when it has no mark.
    fn table_mark(&mut self, table: &str)
    -> impl Future<Output = Result<Option<String>, SqlError>>;
    fn set_table_mark(
        &mut self,
        table: &str,
        mark: &str,
    ) -> impl Future<Output = Result<(), SqlError>>;
    /// Loads `table.rows` rows made by `table.write_row` into `table.loaded` columns, as fast
    /// as the server takes them (COPY, multi-row inserts). Calls `progress` with the rows
    /// sent so far now and then, and stops early when it returns false. Returns the rows
    /// loaded.
    fn bulk_load(
        &mut self,
        table: &TableSpec,
        progress: &mut dyn FnMut(u64) -> bool,
    ) -> impl Future<Output = Result<u64, SqlError>>;
    /// Refreshes the planner's statistics of `table` after a load.
    fn analyze(&mut self, table: &str) -> impl Future<Output = Result<(), SqlError>>;
}

/// The values one statement binds, in placeholder order.
#[derive(Clone, Copy)]
pub struct Params<'a> {
    draw: &'a Draw,
    bind: &'a [usize],
    /// Every parameter's name, by [`Plan::params`] index.
    names: &'a [&'static str],
}

impl<'a> Params<'a> {
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Value<'a>> + 'a {
        let draw = self.draw;
        self.bind.iter().map(move |&p| draw.value(p))
    }

    pub fn len(&self) -> usize {
        self.bind.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bind.is_empty()
    }

    /// The name of the parameter bound at placeholder `k` (from 0).
    pub fn name(&self, k: usize) -> &'static str {
        self.names[self.bind[k]]
    }
}

/// A SQL job whose server answered, whose tables are ready and whose statements prepared.
pub struct PreparedSql<B: Backend> {
    job: SqlJob,
    backend: Arc<B>,
    plan: Arc<Plan>,
    profile: Option<RateProfile>,
    budget: Option<Arc<AtomicU64>>,
    duration: Duration,
    facts: SqlTarget,
}

/// What the results say about the server and how it was driven.
#[derive(Debug, Clone, Serialize)]
pub struct SqlTarget {
    /// The URL with any password replaced by `***`.
    pub url: String,
    pub server_version: Option<String>,
    pub connections: u32,
    pub threads: u32,
    pub timeout_ns: u64,
    pub schema: Option<String>,
    pub workload: serde_json::Value,
    pub init: Option<InitFacts>,
    pub isolation: Option<Isolation>,
    pub retries: u32,
    /// Every statement as prepared, in the backend's placeholder style.
    pub statements: Vec<String>,
    pub seed: u64,
}

impl<B: Backend> PreparedSql<B> {
    /// What can be found out without a connection: that the client library reads the URL.
    /// For `plimsoll validate`, and the first step of `prepare`.
    pub fn check(job: &SqlJob) -> Result<(), SetupError> {
        Self::url(job).map(|_| ())
    }

    fn url(job: &SqlJob) -> Result<B::Url, SetupError> {
        B::parse_url(job).map_err(|message| SetupError::input_at(&job.name, "url", message))
    }

    /// Connects, runs init (built-in workloads) or the setup statements (custom), and
    /// prepares every statement once, so that a statement the server refuses, or one whose
    /// parameters do not fit its placeholders, fails here with a message rather than at every
    /// run of it. No measured load yet.
    pub fn prepare(
        job: &SqlJob,
        duration: Duration,
        stop: &AtomicBool,
    ) -> Result<PreparedSql<B>, SetupError> {
        let input = |message: String| SetupError::Input {
            job: job.name.clone(),
            key: None,
            message,
        };
        let backend = B::new(job, Self::url(job)?).map_err(input)?;
        let seed = job.seed.unwrap_or(0);
        let built = builtin::build(&job.workload, seed).map_err(input)?;
        let (tables, mark, rows) = (built.tables, built.mark, built.rows);
        let plan =
            Plan::new(built.script, B::DIALECT, job.isolation, job.retries).map_err(input)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| failed(job, anyhow::Error::new(e)))?;
        let setup = async {
            let admin = backend.admin();
            let mut admin = setup_connect(job, stop, admin, |e| unreachable(job, e)).await?;
            let version = admin.server_version().await.ok();
            let init = init::run(&mut admin, &tables, &mark, job.init, stop)
                .await
                .map_err(|e| init_error(job, e))?;
            run_setup(job, &mut admin).await?;
            if let Some(rows) = &rows {
                rows.inserted.store(
                    ycsb_inserted(&mut admin, rows.loaded).await,
                    Ordering::Relaxed,
                );
            }
            // One connection with everything prepared, as each lane will make it.
            let conn = backend.connect(&plan.statements);
            let conn = setup_connect(job, stop, conn, |e| refused_statement(job, &plan, e)).await?;
            binds::check(&plan, |statement| conn.placeholders(statement))
                .map_err(|misfit| misfit_error(job, &plan, misfit))?;
            Ok::<_, SetupError>((version, init))
        };
        let (server_version, init) = tokio::task::LocalSet::new().block_on(&runtime, setup)?;
        let facts = SqlTarget {
            url: redact_url(&job.url),
            server_version,
            connections: job.connections,
            threads: job.threads,
            timeout_ns: job.timeout.0.as_nanos() as u64,
            schema: job.schema.clone(),
            workload: serde_json::to_value(&job.workload).unwrap_or_default(),
            init,
            isolation: job.isolation,
            retries: job.retries,
            statements: plan.statements.clone(),
            seed,
        };
        tracing::debug!(job = %job.name, ?facts, "sql job prepared");
        Ok(PreparedSql {
            job: job.clone(),
            backend: Arc::new(backend),
            plan: Arc::new(plan),
            profile: RateProfile::from_spec(&job.load, duration),
            budget: job.ops.map(|n| Arc::new(AtomicU64::new(n))),
            duration,
            facts,
        })
    }

    fn pace(&self, worker: usize, measure_start: Instant) -> Pace {
        let share = (worker as u64, u64::from(self.job.threads));
        let (spec, profile) = (&self.job.load, self.profile.clone());
        Pace::for_thread(spec, profile, 1, share, measure_start, self.facts.seed)
    }

    /// This thread's lanes: every `threads`-th connection, each a lane of its own (in both
    /// models: a connection carries one transaction at a time).
    fn lanes(&self, worker: usize) -> Vec<SqlLane<B>> {
        let threads = self.job.threads as usize;
        (0..self.job.connections as usize)
            .filter(|c| c % threads == worker)
            .map(|c| {
                let seed = self.facts.seed ^ (0x9E37_79B9_7F4A_7C15u64.wrapping_mul(c as u64 + 1));
                SqlLane::new(
                    self.backend.clone(),
                    self.plan.clone(),
                    seed,
                    self.job.timeout.0,
                )
            })
            .collect()
    }
}

/// How often setup looks at the stop flag while it waits for a connection: a signal handler
/// sets the flag, and has no task to wake.
const STOP_POLL: Duration = Duration::from_millis(50);

/// One of setup's connects, bounded by the job's timeout as the lanes bound theirs (see
/// `Lane::ensure_connected`), since a server that accepts but never answers would otherwise
/// hold setup forever; and ended by a stop, which would otherwise wait out that timeout.
async fn setup_connect<T>(
    job: &SqlJob,
    stop: &AtomicBool,
    connect: impl Future<Output = Result<T, SqlError>>,
    refused: impl FnOnce(SqlError) -> SetupError,
) -> Result<T, SetupError> {
    let stopped = async {
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(STOP_POLL).await;
        }
    };
    tokio::select! {
        done = tokio::time::timeout(job.timeout.0, connect) => {
            done.unwrap_or_else(|_| Err(SqlError::timeout())).map_err(refused)
        }
        () = stopped => {
            let url = redact_url(&job.url);
            Err(failed(job, anyhow::anyhow!("interrupted while connecting to {url}")))
        }
    }
}

fn failed(job: &SqlJob, source: anyhow::Error) -> SetupError {
    SetupError::Failed {
        job: job.name.clone(),
        source,
    }
}

fn unreachable(job: &SqlJob, error: SqlError) -> SetupError {
    let url = redact_url(&job.url);
    if error.untrusted_certificate {
        return SetupError::Input {
            job: job.name.clone(),
            key: None,
            message: format!(
                "cannot use the database at {url}: the server's certificate is not trusted \
                 ({error}); give its CA as tls_ca, or set tls_insecure = true to skip the check"
            ),
        };
    }
    failed(
        job,
        anyhow::Error::new(error).context(format!("cannot use the database at {url}")),
    )
}

fn init_error(job: &SqlJob, error: InitError) -> SetupError {
    match error {
        InitError::Refused(message) => SetupError::Input {
            job: job.name.clone(),
            key: None,
            message: format!("init: {message}"),
        },
        InitError::Failed(e) => failed(job, anyhow::Error::new(e).context("init failed")),
        InitError::Interrupted => failed(job, anyhow::anyhow!("init was interrupted")),
    }
}

/// A statement the server would not prepare is the workload's fault: exit code 2, with the
/// server's own words and the statement.
fn refused_statement(job: &SqlJob, plan: &Plan, error: SqlError) -> SetupError {
    match error.statement {
        Some(i) => SetupError::Input {
            job: job.name.clone(),
            key: statement_key(job, i),
            message: format!(
                "the server refused statement `{}`: {error}",
                plan.statements[i]
            ),
        },
        None => unreachable(job, error),
    }
}

/// Parameters that cannot bind are the workload's fault too: exit code 2, placed at the
/// statement in the workload file when the user wrote it there.
fn misfit_error(job: &SqlJob, plan: &Plan, misfit: binds::Misfit) -> SetupError {
    let i = misfit.statement;
    SetupError::Input {
        job: job.name.clone(),
        key: statement_key(job, i),
        message: format!("statement `{}`: {}", plan.written[i], misfit.message),
    }
}

/// Where statement `i` of the plan is written in the job: a custom script's statements are
/// the user's, in order; a built-in workload's are plimsoll's own and have no place.
fn statement_key(job: &SqlJob, i: usize) -> Option<String> {
    let crate::workload::SqlWorkload::Custom(custom) = &job.workload else {
        return None;
    };
    let mut at = custom
        .transactions
        .iter()
        .enumerate()
        .flat_map(|(t, txn)| (0..txn.statements.len()).map(move |k| (t, k)));
    let (t, k) = at.nth(i)?;
    Some(format!("workload.transactions[{t}].statements[{k}]"))
}

async fn run_setup<A: Admin>(job: &SqlJob, admin: &mut A) -> Result<(), SetupError> {
    let crate::workload::SqlWorkload::Custom(custom) = &job.workload else {
        return Ok(());
    };
    for (i, sql) in custom.setup.iter().enumerate() {
        admin.run(sql).await.map_err(|e| SetupError::Input {
            job: job.name.clone(),
            key: Some(format!("workload.setup[{i}]")),
            message: format!("the setup statement failed: {e}"),
        })?;
    }
    Ok(())
}

/// Rows inserted by earlier runs on a reused YCSB table, so that new keys start past them.
async fn ycsb_inserted<A: Admin>(admin: &mut A, loaded: u64) -> u64 {
    let newest = admin.scalar("SELECT max(ycsb_key) FROM usertable").await;
    let number = newest
        .ok()
        .flatten()
        .and_then(|key| key.strip_prefix("user")?.parse::<u64>().ok());
    number.map_or(0, |n| (n + 1).saturating_sub(loaded))
}

impl<B: Backend> PreparedJob for PreparedSql<B> {
    fn kind(&self) -> &'static str {
        B::KIND
    }

    fn op_names(&self) -> Vec<&'static str> {
        self.plan.op_names.clone()
    }

    fn timed_within(&self) -> Vec<Vec<usize>> {
        self.plan.within.clone()
    }

    fn workers(&self) -> usize {
        self.job.threads as usize
    }

    fn target(&self) -> serde_json::Value {
        serde_json::to_value(&self.facts).unwrap_or_default()
    }

    fn load(&self, _duration: Duration) -> LoadFacts {
        LoadFacts::of_spec(
            &self.job.load,
            self.profile.clone(),
            u64::from(self.job.connections),
            self.duration,
        )
    }

    fn counter_names(&self) -> Vec<&'static str> {
        lane::COUNTERS.to_vec()
    }

    /// Runs client thread `worker` until the measured end, the count, or `stop`;
    /// transactions in flight at the end get up to the job's timeout to finish.
    fn run_worker(
        &self,
        worker: usize,
        recorder: Recorder,
        stop: &AtomicBool,
    ) -> anyhow::Result<()> {
        let clock = *recorder.clock();
        let shared = Shared {
            pace: self.pace(worker, clock.measure_start),
            stop: StopRule::new(clock.measure_start, clock.measure_end, self.budget.clone()),
            recorder: RefCell::new(recorder),
        };
        let lanes = self.lanes(worker);
        let recorder = run_thread(lanes, shared, stop, self.job.timeout.0)?;
        recorder.finish();
        Ok(())
    }

    fn cleanup(self: Box<Self>) {}
}
