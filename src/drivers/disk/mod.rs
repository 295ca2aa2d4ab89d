//! The disk driver: a file laid out before the run, then read and written by workers, each
//! with its own io_uring ring (or a plain pread/pwrite thread with the `sync` engine).
//!
//! This module owns everything between a checked [`DiskJob`] and the kernel: which file may be
//! touched ([`target`]), the direct-I/O alignment ([`align`]), what each worker issues next
//! ([`plan`]), and the two engines ([`uring`], [`sync`]). It does not decide the phases of the
//! run (the recorder's clock does) and keeps no figures itself (the recorder does).

mod align;
mod buffers;
mod facts;
mod lane;
mod plan;
mod sync;
mod target;
mod uring;

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use serde::Serialize;

use crate::drivers::SetupError;
use crate::load::{LoadError, SizeMix};
use crate::measure::Recorder;
use crate::report::format::bytes_exact;
use crate::workload::{DiskJob, Engine};

use lane::Lane;
use plan::Plan;
use target::{Removal, Target};

/// A disk job whose target is checked, laid out and ready for workers.
pub struct PreparedDisk {
    target: Target,
    plan: Plan,
    /// One per worker: its ring and buffers, or its buffer for the sync engine. Each worker
    /// locks its own once per run; nobody else touches it until cleanup.
    kits: Vec<Mutex<Kit>>,
    facts: DiskTarget,
    removal: Removal,
}

enum Kit {
    Uring(Box<uring::Ring>),
    Sync(sync::SyncKit),
}

/// What the results say about the target and how it was driven.
#[derive(Debug, Clone, Serialize)]
pub struct DiskTarget {
    pub path: PathBuf,
    /// `io_uring` or `sync`: the engine that actually ran.
    pub engine: &'static str,
    /// Why io_uring was not used, when the workload asked for it and fell back.
    pub engine_fallback_reason: Option<String>,
    pub direct: bool,
    /// Offset and buffer alignment required for direct I/O, in bytes.
    pub direct_io_alignment: Option<u64>,
    /// Where the alignment came from: `statx`, `block device`, `sysfs` or `default`.
    pub direct_io_alignment_source: Option<&'static str>,
    pub file_size_bytes: u64,
    /// Whether plimsoll created the file in this run (and so removes it unless `keep`).
    pub created: bool,
    /// What setup did to the file: `created`, `reused`, `relaid` (a plimsoll file laid out
    /// again at a new size), `extended`, `existing` (used as found), `block_device`, or
    /// `sparse` (set to its size as a hole, nothing written: `layout = "sparse"`).
    pub layout: &'static str,
    /// File system type of the target (`ext4`, `xfs`, `tmpfs`), when known.
    pub file_system: Option<String>,
    /// Block device holding the target (`vda`, `nvme0n1p2`), when known.
    pub device: Option<String>,
    /// Operations in flight per worker, after clamping (1 for `sync`).
    pub queue_depth: u32,
    pub sqpoll: bool,
    /// The seed the workers' random streams came from.
    pub seed: u64,
}

/// Why setup stopped, before the job name is attached.
enum Problem {
    /// The workload must change.
    Input(String),
    /// The machine could not do what a valid workload asks.
    Failed(anyhow::Error),
}

type Checked<T> = Result<T, Problem>;

impl From<anyhow::Error> for Problem {
    fn from(e: anyhow::Error) -> Self {
        Problem::Failed(e)
    }
}

impl From<LoadError> for Problem {
    fn from(e: LoadError) -> Self {
        Problem::Input(e.to_string())
    }
}

impl Problem {
    fn into_setup(self, job: &str) -> SetupError {
        let job = job.to_owned();
        match self {
            Problem::Input(message) => SetupError::Input {
                job,
                key: None,
                message,
            },
            Problem::Failed(source) => SetupError::Failed { job, source },
        }
    }
}

fn input<T>(message: impl Into<String>) -> Checked<T> {
    Err(Problem::Input(message.into()))
}

/// The seed used when the job gives none; recorded in [`DiskTarget::seed`] either way.
pub const DEFAULT_SEED: u64 = 0;

/// Deepest queue a worker may ask for: the kernel registers at most 16,384 fixed buffers.
const MAX_QUEUE_DEPTH: u32 = 16_384;

/// Largest block size: Linux moves at most about 2 GiB per call, and the ring's length field
/// is 32 bits.
const MAX_BLOCK_SIZE: u64 = 1 << 30;

impl PreparedDisk {
    /// Checks safety rules and alignment, lays out the file, probes the engine. No load yet.
    pub fn prepare(job: &DiskJob) -> Result<PreparedDisk, SetupError> {
        Self::prepare_until(job, &AtomicBool::new(false))
    }

    /// As [`prepare`](Self::prepare), giving up (and removing what it created) when `stop` is
    /// set while a large file is being laid out.
    pub fn prepare_until(job: &DiskJob, stop: &AtomicBool) -> Result<PreparedDisk, SetupError> {
        Self::build(job, stop).map_err(|p| p.into_setup(&job.name))
    }

    /// The checks `prepare` makes before it changes anything: block sizes, the target path,
    /// and whether plimsoll may write there. `plimsoll validate` runs these.
    pub fn check(job: &DiskJob) -> Result<(), SetupError> {
        let checked = check_shape(job).and_then(|sizes| {
            let resolved = target::resolve(job)?;
            Plan::new(job, &sizes, resolved.size()).map(drop)
        });
        checked.map_err(|p| p.into_setup(&job.name))
    }

    fn build(job: &DiskJob, stop: &AtomicBool) -> Checked<PreparedDisk> {
        let sizes = check_shape(job)?;
        let resolved = target::resolve(job)?;
        let plan = Plan::new(job, &sizes, resolved.size())?;
        let (target, removal) = resolved.open(job, &sizes, stop)?;
        if job.pattern.writes() {
            target::ignore_file_size_signal();
        }
        let engines = prepare_engine(job, &target, &sizes)?;
        let facts = describe(job, &target, &removal, &engines);
        tracing::debug!(job = %job.name, ?facts, "disk job prepared");
        Ok(PreparedDisk {
            target,
            plan,
            kits: engines.kits,
            facts,
            removal,
        })
    }

    /// Operation kinds this job records, in `OpId` order.
    pub fn op_names(&self) -> Vec<&'static str> {
        self.plan.ids.names()
    }

    pub fn workers(&self) -> usize {
        self.kits.len()
    }

    pub fn target(&self) -> DiskTarget {
        self.facts.clone()
    }

    /// Runs one worker until the recorder's clock says measurement has ended or `stop` is set,
    /// then drains what is in flight and hands the recorder its last figures.
    pub fn run_worker(
        &self,
        worker: usize,
        recorder: Recorder,
        stop: &AtomicBool,
    ) -> anyhow::Result<()> {
        let mut kit = self.kits[worker]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut lane = Lane::new(&self.plan, worker, self.kits.len(), recorder, stop);
        let driven = match &mut *kit {
            Kit::Uring(ring) => ring.drive(&mut lane),
            Kit::Sync(sync) => sync.drive(&self.target.file, &mut lane),
        };
        // The recorder gets its last figures even when the ring failed part-way.
        let finished = lane.finish();
        driven.and(finished)
    }

    /// Removes the file if this run created it and the job does not keep it. Dropping a
    /// `PreparedDisk` does the same, so a runner that unwinds still cleans up.
    pub fn cleanup(self) {
        drop(self);
    }
}

impl Drop for PreparedDisk {
    fn drop(&mut self) {
        // Rings go first: a ring that still has operations in flight leaks its buffers (see
        // `uring::Ring`'s drop), and the file must not be removed under a live ring's feet.
        self.kits.clear();
        self.removal.run();
    }
}

/// The block size mix and the numbers that need no file to check.
fn check_shape(job: &DiskJob) -> Checked<SizeMix> {
    let sizes = SizeMix::new(&job.block_sizes())?;
    if let Some(&big) = sizes.sizes().iter().find(|&&s| s > MAX_BLOCK_SIZE) {
        return input(format!(
            "block size {} is above the largest supported, {}",
            bytes_exact(big),
            bytes_exact(MAX_BLOCK_SIZE),
        ));
    }
    if job.queue_depth == 0 || job.queue_depth > MAX_QUEUE_DEPTH {
        return input(format!(
            "queue_depth = {} is out of range; use 1 to {MAX_QUEUE_DEPTH}",
            job.queue_depth
        ));
    }
    if job.workers == 0 {
        return input("workers = 0 runs nothing; use 1 or more");
    }
    Ok(sizes)
}

/// The worker kits, and which engine they belong to.
struct Engines {
    kits: Vec<Mutex<Kit>>,
    name: &'static str,
    fallback_reason: Option<String>,
    queue_depth: u32,
}

fn prepare_engine(job: &DiskJob, target: &Target, sizes: &SizeMix) -> Checked<Engines> {
    let buffer = buffers::Shape::new(sizes.largest(), target.memory_alignment());
    if job.engine == Engine::IoUring {
        match uring::Ring::set_up_all(job, target, buffer) {
            Ok(rings) => {
                let kits = rings
                    .into_iter()
                    .map(|r| Mutex::new(Kit::Uring(Box::new(r))))
                    .collect();
                let queue_depth = job.queue_depth;
                return Ok(Engines {
                    kits,
                    name: "io_uring",
                    fallback_reason: None,
                    queue_depth,
                });
            }
            Err(uring::SetupFailure::Unavailable(reason)) if job.allow_fallback => {
                tracing::warn!(job = %job.name, "io_uring unavailable, using sync: {reason}");
                return sync_engine(job, buffer, Some(reason));
            }
            Err(uring::SetupFailure::Unavailable(reason)) => {
                return Err(Problem::Failed(anyhow::anyhow!(
                    "{reason}; set engine = \"sync\", or allow_fallback = true to use it when \
                     io_uring cannot be set up"
                )));
            }
            Err(uring::SetupFailure::Other(e)) => return Err(Problem::Failed(e)),
        }
    }
    sync_engine(job, buffer, None)
}

fn sync_engine(
    job: &DiskJob,
    buffer: buffers::Shape,
    fallback_reason: Option<String>,
) -> Checked<Engines> {
    if job.queue_depth > 1 {
        tracing::warn!(
            job = %job.name,
            "the sync engine keeps one operation in flight; queue_depth {} is clamped to 1",
            job.queue_depth
        );
    }
    let kits = (0..job.workers)
        .map(|_| sync::SyncKit::new(buffer).map(|k| Mutex::new(Kit::Sync(k))))
        .collect::<anyhow::Result<_>>()?;
    Ok(Engines {
        kits,
        name: "sync",
        fallback_reason,
        queue_depth: 1,
    })
}

fn describe(job: &DiskJob, target: &Target, removal: &Removal, engines: &Engines) -> DiskTarget {
    let facts = facts::FsFacts::of(&target.file, &target.path);
    DiskTarget {
        path: target.path.clone(),
        engine: engines.name,
        engine_fallback_reason: engines.fallback_reason.clone(),
        direct: job.direct,
        direct_io_alignment: target.alignment.map(|a| a.offset),
        direct_io_alignment_source: target.alignment.map(|a| a.source),
        file_size_bytes: target.size,
        created: removal.created(),
        layout: target.layout.name(),
        file_system: facts.file_system,
        device: facts.device,
        queue_depth: engines.queue_depth,
        sqpoll: job.sqpoll && engines.name == "io_uring",
        seed: job.seed.unwrap_or(DEFAULT_SEED),
    }
}
