//! Exit codes, as documented in the README and `plimsoll --help`.

pub const OK: u8 = 0;
/// A threshold the workload or command line set was not met.
pub const THRESHOLD_FAILED: u8 = 1;
/// The workload file or the command line is wrong; nothing ran.
pub const BAD_INPUT: u8 = 2;
/// Setup failed, the run failed after it started, or a job measured nothing but failures
/// (results still written when possible).
pub const FAILURE: u8 = 3;
/// Stopped by Ctrl-C or SIGTERM; results cover what was measured.
pub const INTERRUPTED: u8 = 130;
