//! plimsoll: storage performance benchmarking and load generation.
//!
//! One run is one pipe: a workload file is loaded and checked ([`workload`]), jobs run with
//! their drivers while workers record into the measurement path ([`measure`]), the runner
//! gathers [`results`], and renderers ([`report`]) show them.

pub mod capacity;
pub mod ci;
pub mod cli;
pub mod compare;
pub mod drivers;
pub mod exit;
pub mod gate;
pub mod host;
pub mod load;
pub mod measure;
pub mod monitor;
pub mod redact;
pub mod report;
pub mod results;
pub mod runner;
pub mod tls;
pub mod workload;

/// The log target of setup phase lines (SQL init, Redis prefill, a disk file's layout): one
/// line as a phase starts and one with its counts and rate as it ends, shown on stderr at the
/// default log level.
pub const PHASE: &str = "plimsoll::phase";

/// The workload `plimsoll run` uses when given none: `workloads/quickstart.toml`.
pub const QUICKSTART: &str = include_str!("../workloads/quickstart.toml");
