//! Drivers turn "issue one operation now" into I/O against one kind of target and report each
//! outcome to a [`Recorder`](crate::measure::Recorder). They do not parse files, print, or
//! decide what to keep; the runner starts them and the recorder keeps the figures.

pub mod disk;
pub mod http;
pub mod mysql;
pub mod null;
pub mod postgres;
pub mod redis;
pub mod sql;

/// Why a job could not start. Raised before any load, so a run never half-starts.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The workload asks for something this target cannot do (an unaligned direct-I/O block
    /// size, a file plimsoll may not write). The user fixes the workload; exit code 2.
    #[error("job `{job}`: {message}")]
    Input { job: String, message: String },
    /// The machine could not provide what a valid workload needs (no space, no permission, a
    /// failed layout). Exit code 3.
    #[error("job `{job}`: {source:#}")]
    Failed { job: String, source: anyhow::Error },
}
