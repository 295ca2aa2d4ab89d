//! The workload file: what the user wrote, checked before any load starts.
//!
//! This module owns the TOML format, its types, and validation with file/line/column in every
//! message. It does not decide how load is generated or measured; the runner turns a validated
//! [`Workload`] into running jobs.

mod error;
mod hints;
mod http;
mod load;
mod load_model;
mod monitor;
mod names;
mod null;
mod redis;
mod schema;
mod shard;
mod spans;
mod sql;
mod sql_text;
pub mod units;
mod validate;

pub use error::{Problem, WorkloadError};
pub use http::{
    CaptureSpec, CheckSpec, CsvOrder, HttpJob, HttpVersion, JourneySpec, MAX_HTTP_CONNECTIONS,
    MAX_HTTP_OPS, RequestSpec, ValueSpec, status_class,
};
pub use load::{load_file, load_str, locate_in_job};
pub use load_model::{Arrival, LoadModel, LoadSpec, Ramp, Stage};
pub use monitor::{MonitorSpec, WatchSpec};
pub use null::{Delay, MAX_NULL_IN_FLIGHT, NullJob, RandomDelay, Stall};
pub use redis::{
    KeyDistribution, KeySpace, MAX_CONNECTIONS, MixEntry, MixOp, RedisJob, redact_url,
};
pub use sql::{
    CustomSpec, CustomTransaction, Dialect, InitMode, IntDistribution, Isolation, ListValue,
    MAX_SQL_CONNECTIONS, ParamSpec, SqlJob, SqlWorkload, YcsbCore, YcsbDistribution, YcsbSpec,
    asks_for_tls, is_identifier,
};
pub use sql_text::placeholders;
pub use validate::{MAX_BLOCK_SIZE, MAX_QUEUE_DEPTH, MAX_WORKERS};

pub(crate) use hints::suggest as suggest_name;

use crate::gate::Threshold;

use serde::{Deserialize, Serialize};

use units::{ByteSize, HumanDuration, Rate, Share};

/// One workload: a measured duration, a warmup, and jobs that run side by side.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Used in report names and summaries.
    pub name: String,
    /// Measured time, after warmup. Default 30 s.
    #[serde(default = "default_duration")]
    pub duration: HumanDuration,
    /// Time run before measuring starts; nothing from it is recorded in the totals. Default 0.
    #[serde(default)]
    pub warmup: HumanDuration,
    /// Length of one bucket of the time series. Default 1 s.
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    /// The jobs; all of them run at once.
    pub jobs: Vec<Job>,
    /// What the resource sampler follows. Default: on, the disk jobs' devices, no processes.
    #[serde(default)]
    pub monitor: MonitorSpec,
    /// Thresholds for the whole run, each optionally scoped `job:` or `job.op:`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<Threshold>,
    /// Stop the run as soon as a threshold is certainly broken (see `gate::first_breach`).
    /// Default false. `plimsoll run --abort-early` sets it too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub abort_early: bool,
}

/// One job. The `kind` key selects the target; every kind shares the workload's phases and the
/// measurement path.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    Disk(DiskJob),
    Redis(RedisJob),
    Null(NullJob),
    Postgres(SqlJob),
    Http(HttpJob),
    Mysql(SqlJob),
}

/// The value checks loading makes, for a workload changed in code (a capacity search's
/// steps): each problem's message, without a place in a file.
pub fn check_values(workload: &Workload) -> Vec<String> {
    validate::check(workload)
        .into_iter()
        .map(|f| f.message)
        .collect()
}

impl Job {
    pub fn name(&self) -> &str {
        match self {
            Job::Disk(job) => &job.name,
            Job::Redis(job) => &job.name,
            Job::Null(job) => &job.name,
            Job::Http(job) => &job.name,
            Job::Postgres(job) | Job::Mysql(job) => &job.name,
        }
    }

    /// The operations the job's configuration alone names, as results will record them; None
    /// when some names come only from setup (a SQL job's built-in scripts and its timed
    /// statements), so that no name can be refused for certain before the run.
    pub fn op_names(&self) -> Option<Vec<String>> {
        let names = match self {
            Job::Disk(job) => job.op_names().iter().map(|&n| n.to_owned()).collect(),
            Job::Null(_) => vec!["null".to_owned()],
            Job::Redis(job) => job.mix.iter().map(MixEntry::op_name).collect(),
            Job::Http(job) if job.journeys.is_empty() => {
                job.requests.iter().map(RequestSpec::op_name).collect()
            }
            Job::Http(job) => job
                .journeys
                .iter()
                .flat_map(|j| (0..j.steps.len()).map(|i| j.step_name(i)))
                .collect(),
            Job::Postgres(_) | Job::Mysql(_) => return None,
        };
        Some(names)
    }

    /// The count of measured operations the job stops at, if it has one (disk jobs run for the
    /// duration only).
    pub fn op_count(&self) -> Option<u64> {
        match self {
            Job::Disk(_) => None,
            Job::Redis(job) => job.ops,
            Job::Null(job) => job.ops,
            Job::Http(job) => job.ops,
            Job::Postgres(job) | Job::Mysql(job) => job.ops,
        }
    }

    /// The job's own thresholds, each optionally scoped to one operation (`read: p99 < 5ms`).
    pub fn thresholds(&self) -> &[Threshold] {
        match self {
            Job::Disk(job) => &job.thresholds,
            Job::Redis(job) => &job.thresholds,
            Job::Null(job) => &job.thresholds,
            Job::Http(job) => &job.thresholds,
            Job::Postgres(job) | Job::Mysql(job) => &job.thresholds,
        }
    }
}

/// A disk job: a file (or a directory to put one in), an access pattern, and a queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskJob {
    pub name: String,
    /// A file plimsoll creates (or reuses, if it made it), or an existing directory in which it
    /// creates `<job name>.plimsoll.dat`.
    pub path: std::path::PathBuf,
    /// Size of the file to lay out and address. Required unless `path` is an existing file
    /// that is only read.
    #[serde(default)]
    pub size: Option<ByteSize>,
    pub pattern: Pattern,
    /// Share of operations that are reads, for `rw` and `randrw`. Default 50 %.
    #[serde(default)]
    pub read_share: Option<Share>,
    /// One block size for every operation. Default 4 KiB. Excludes `block_size_mix`.
    #[serde(default)]
    pub block_size: Option<ByteSize>,
    /// Weighted block sizes, picked per operation. Excludes `block_size`.
    #[serde(default)]
    pub block_size_mix: Option<Vec<WeightedSize>>,
    /// Operations in flight per worker. Default 1.
    #[serde(default = "one")]
    pub queue_depth: u32,
    /// Workers, each with its own ring (or thread, for `sync`). Default 1.
    #[serde(default = "one")]
    pub workers: u32,
    /// Open with O_DIRECT, bypassing the page cache. Default false.
    #[serde(default)]
    pub direct: bool,
    /// Issue an fsync after every N writes. Excludes `fdatasync_every`.
    #[serde(default)]
    pub fsync_every: Option<u32>,
    /// Issue an fdatasync after every N writes. Excludes `fsync_every`.
    #[serde(default)]
    pub fdatasync_every: Option<u32>,
    /// Where random offsets fall. Default uniform.
    #[serde(default)]
    pub distribution: Distribution,
    /// Cap on operations per second for the whole job.
    #[serde(default)]
    pub iops_cap: Option<Rate>,
    /// Cap on bytes per second for the whole job (binary units, `100MiB`).
    #[serde(default)]
    pub bandwidth_cap: Option<ByteSize>,
    /// Seed for offsets, operation choice and block sizes. Runs with one seed issue the same
    /// sequence per worker.
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub engine: Engine,
    /// Use the `sync` engine when io_uring cannot be set up, instead of failing.
    #[serde(default)]
    pub allow_fallback: bool,
    /// Let the kernel poll the submission queue (a kernel thread per ring; takes a core).
    #[serde(default)]
    pub sqpoll: bool,
    /// Keep the file after the run (it can then be reused by a later run of the same size).
    #[serde(default)]
    pub keep: bool,
    /// How a file plimsoll creates is made ready: written through with data, or left as a
    /// hole so that writes allocate as they go. Default full.
    #[serde(default)]
    pub layout: FileLayout,
    /// Allow writes to an existing file plimsoll did not create.
    #[serde(default)]
    pub allow_existing: bool,
    /// Allow `path` to be a block device. Writes to it destroy its contents.
    #[serde(default)]
    pub allow_block_device: bool,
    /// Thresholds for this job; see [`Job::thresholds`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<Threshold>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pattern {
    Read,
    Write,
    RandRead,
    RandWrite,
    /// Sequential, mixed reads and writes.
    Rw,
    /// Random, mixed reads and writes.
    RandRw,
}

impl Pattern {
    pub fn is_random(self) -> bool {
        matches!(
            self,
            Pattern::RandRead | Pattern::RandWrite | Pattern::RandRw
        )
    }

    pub fn writes(self) -> bool {
        !matches!(self, Pattern::Read | Pattern::RandRead)
    }

    pub fn is_mixed(self) -> bool {
        matches!(self, Pattern::Rw | Pattern::RandRw)
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedSize {
    pub size: ByteSize,
    pub weight: u32,
}

/// What a file plimsoll creates holds before the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileLayout {
    /// Written through with incompressible data and synced: every write is an overwrite of
    /// allocated blocks, and no read hits a hole.
    #[default]
    Full,
    /// Set to its size with ftruncate and nothing written: writes allocate blocks (first
    /// writes), and can run out of space mid-run. Write-only patterns only.
    Sparse,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    #[default]
    IoUring,
    /// pread/pwrite on one thread per worker; queue depth 1.
    Sync,
}

/// How random offsets are spread over the file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    #[default]
    Uniform,
    /// Zipf over blocks with exponent `theta` (> 0; 1.2 is a common choice).
    Zipf { theta: f64 },
    /// Pareto with shape `h` in (0, 1): smaller is more skewed, as fio's `pareto:h`.
    Pareto { h: f64 },
    /// Normal around the middle of the file, `stddev` as a share of the file.
    Normal { stddev: Share },
    /// Hot zones: each takes `access` of the operations over `size` of the file, in order.
    Zones { zones: Vec<Zone> },
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    /// Share of operations landing in this zone.
    pub access: Share,
    /// Share of the file this zone covers.
    pub size: Share,
}

fn default_duration() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30))
}

fn default_interval() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(1))
}

fn one() -> u32 {
    1
}

impl DiskJob {
    /// The block sizes with their weights; a single `block_size` (or the 4 KiB default) is a
    /// mix of one.
    pub fn block_sizes(&self) -> Vec<WeightedSize> {
        match (&self.block_size_mix, self.block_size) {
            (Some(mix), _) => mix.clone(),
            (None, size) => vec![WeightedSize {
                size: size.unwrap_or(ByteSize(4096)),
                weight: 1,
            }],
        }
    }

    pub fn read_fraction(&self) -> f64 {
        match self.pattern {
            Pattern::Read | Pattern::RandRead => 1.0,
            Pattern::Write | Pattern::RandWrite => 0.0,
            Pattern::Rw | Pattern::RandRw => self.read_share.map_or(0.5, |s| s.0),
        }
    }

    /// The operations this job records, in the order the disk driver numbers them: reads,
    /// writes, then the sync that follows every N writes.
    pub fn op_names(&self) -> Vec<&'static str> {
        let pattern = self.pattern;
        let sync = self.sync_cadence().filter(|_| pattern.writes());
        let sync = sync.map(|(_, kind)| match kind {
            SyncKind::Fsync => "fsync",
            SyncKind::Fdatasync => "fdatasync",
        });
        let read = (pattern.is_mixed() || !pattern.writes()).then_some("read");
        let write = pattern.writes().then_some("write");
        [read, write, sync].into_iter().flatten().collect()
    }

    /// Writes between syncs, and whether the sync is fdatasync.
    pub fn sync_cadence(&self) -> Option<(u32, SyncKind)> {
        match (self.fsync_every, self.fdatasync_every) {
            (Some(n), _) if n > 0 => Some((n, SyncKind::Fsync)),
            (_, Some(n)) if n > 0 => Some((n, SyncKind::Fdatasync)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    Fsync,
    Fdatasync,
}
