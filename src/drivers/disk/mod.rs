//! The disk driver: a file laid out before the run, then read and written by workers, each
//! with its own io_uring ring (or a plain pread/pwrite thread with the `sync` engine).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use serde::Serialize;

use crate::drivers::SetupError;
use crate::measure::Recorder;
use crate::workload::DiskJob;

/// A disk job whose target is checked, laid out and ready for workers.
pub struct PreparedDisk {
    // Filled in by `prepare`.
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
    pub file_size_bytes: u64,
    /// Whether plimsoll created the file in this run (and so removes it unless `keep`).
    pub created: bool,
}

impl PreparedDisk {
    /// Checks safety rules and alignment, lays out the file, probes the engine. No load yet.
    pub fn prepare(job: &DiskJob) -> Result<PreparedDisk, SetupError> {
        let _ = job;
        todo!()
    }

    /// Operation kinds this job records, in `OpId` order.
    pub fn op_names(&self) -> Vec<&'static str> {
        todo!()
    }

    pub fn workers(&self) -> usize {
        todo!()
    }

    pub fn target(&self) -> DiskTarget {
        todo!()
    }

    /// Runs one worker until the recorder's clock says measurement has ended or `stop` is set,
    /// then drains what is in flight and hands the recorder its last figures.
    pub fn run_worker(&self, worker: usize, recorder: Recorder, stop: &AtomicBool) -> anyhow::Result<()> {
        let _ = (worker, recorder, stop);
        todo!()
    }

    /// Removes the file if this run created it and the job does not keep it.
    pub fn cleanup(self) {}
}
