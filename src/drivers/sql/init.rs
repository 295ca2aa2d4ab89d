//! The init step of the built-in workloads: create the tables and load their rows, or reuse
//! the ones an earlier run loaded for the same workload, and never drop a table plimsoll did
//! not create.
//!
//! Each table plimsoll creates carries a mark (a table comment): `plimsoll loading` while its
//! rows go in, `plimsoll <workload and size>` once they are all there. A table without a mark
//! is the user's; init refuses to touch it. A table with a mark from another workload, or from
//! a load that never finished, is plimsoll's and is dropped and loaded again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use serde::Serialize;

use super::builtin::TableSpec;
use super::{Admin, SqlError};
use crate::workload::InitMode;

const LOADING: &str = "plimsoll loading";
const MARK_PREFIX: &str = "plimsoll ";

/// What init did, for the results.
#[derive(Debug, Clone, Serialize)]
pub struct InitFacts {
    /// `created`, `reused` or `untouched` (init = never).
    pub action: &'static str,
    pub rows_loaded: u64,
    pub load_ns: u64,
}

/// Why init could not make the tables ready.
pub enum InitError {
    /// The workload asks for something the database refuses to give (a table of the user's).
    Refused(String),
    Failed(SqlError),
    Interrupted,
}

impl From<SqlError> for InitError {
    fn from(e: SqlError) -> Self {
        InitError::Failed(e)
    }
}

/// Makes `tables` ready in the connection's schema, as `mode` says.
pub async fn run<A: Admin>(
    admin: &mut A,
    tables: &[TableSpec],
    mark: &str,
    mode: InitMode,
    stop: &AtomicBool,
) -> Result<Option<InitFacts>, InitError> {
    if tables.is_empty() {
        return Ok(None);
    }
    let want = format!("{MARK_PREFIX}{mark}");
    let mut marks = Vec::new();
    for table in tables {
        marks.push(admin.table_mark(table.name).await?);
    }
    if mode == InitMode::Never {
        return untouched(tables, &marks);
    }
    if let Some((table, _)) = tables
        .iter()
        .zip(&marks)
        .find(|(_, m)| m.as_deref().is_some_and(|m| !m.starts_with(MARK_PREFIX)))
    {
        return Err(InitError::Refused(format!(
            "table `{}` exists and plimsoll did not create it, so init will not drop it; \
             drop it yourself, set `schema` to another schema, or set init = \"never\" to \
             run on the tables as they are",
            table.name
        )));
    }
    let all_ready = marks.iter().all(|m| m.as_deref() == Some(want.as_str()));
    if mode == InitMode::Auto && all_ready {
        let reusing = "init: reusing the tables an earlier run loaded";
        tracing::info!(target: crate::PHASE, "{reusing} ({mark})");
        return Ok(Some(InitFacts {
            action: "reused",
            rows_loaded: 0,
            load_ns: 0,
        }));
    }
    let started = Instant::now();
    let mut rows = 0;
    for (table, found) in tables.iter().zip(&marks) {
        if found.is_some() {
            admin.run(&format!("DROP TABLE {}", table.name)).await?;
        }
        rows += create_and_load(admin, table, stop).await?;
    }
    for table in tables {
        admin.set_table_mark(table.name, &want).await?;
    }
    Ok(Some(InitFacts {
        action: "created",
        rows_loaded: rows,
        load_ns: started.elapsed().as_nanos() as u64,
    }))
}

fn untouched(
    tables: &[TableSpec],
    marks: &[Option<String>],
) -> Result<Option<InitFacts>, InitError> {
    if let Some((table, _)) = tables.iter().zip(marks).find(|(_, m)| m.is_none()) {
        return Err(InitError::Refused(format!(
            "init = \"never\", but table `{}` does not exist; create it (pgbench -i does, for \
             tpcb_like), or let init create it with init = \"auto\"",
            table.name
        )));
    }
    Ok(Some(InitFacts {
        action: "untouched",
        rows_loaded: 0,
        load_ns: 0,
    }))
}

async fn create_and_load<A: Admin>(
    admin: &mut A,
    table: &TableSpec,
    stop: &AtomicBool,
) -> Result<u64, InitError> {
    admin
        .run(&format!("CREATE TABLE {} ({})", table.name, table.columns))
        .await?;
    admin.set_table_mark(table.name, LOADING).await?;
    if table.rows > 0 {
        let (rows, name) = (table.rows, table.name);
        tracing::info!(target: crate::PHASE, "init: loading {rows} rows into {name}");
        let started = Instant::now();
        let bar = progress(table);
        let mut progress = |done: u64| {
            bar.set_position(done);
            !stop.load(Ordering::Relaxed)
        };
        let loaded = admin.bulk_load(table, &mut progress).await?;
        bar.finish_and_clear();
        if stop.load(Ordering::Relaxed) {
            return Err(InitError::Interrupted);
        }
        let seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            target: crate::PHASE,
            "init: {} loaded, {loaded} rows in {seconds:.1} s ({:.0} rows/s)",
            table.name,
            loaded as f64 / seconds.max(1e-9)
        );
    }
    if !table.primary_key.is_empty() {
        let sql = format!(
            "ALTER TABLE {} ADD PRIMARY KEY ({})",
            table.name, table.primary_key
        );
        admin.run(&sql).await?;
    }
    admin.analyze(table.name).await?;
    Ok(table.rows)
}

/// A bar on stderr while a table's rows go in; indicatif draws nothing when stderr is not a
/// terminal.
fn progress(table: &TableSpec) -> ProgressBar {
    let target = ProgressDrawTarget::stderr_with_hz(4);
    let bar = ProgressBar::with_draw_target(Some(table.rows), target);
    let template = format!("init {} {{bar:24}} {{pos}}/{{len}} rows", table.name);
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
