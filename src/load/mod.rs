//! How load is offered: where operations land and how large they are.
//!
//! This module owns the per-operation choices a worker makes: offsets (or keys) drawn from a
//! distribution over a number of slots ([`OffsetPicker`]), block sizes drawn from a weighted
//! mix ([`SizeMix`]), and the arithmetic pacing of a rate cap ([`Pacer`]). Everything here is
//! built once before load starts and then used without allocating. It does not know about
//! files, devices or drivers: a slot is a number, and the caller turns it into a byte offset
//! or a key.
//!
//! It also owns *when* network operations start: open-model rate profiles ([`RateProfile`])
//! and arrival times ([`Arrivals`]), and the worker loop that composes a stop rule, a pace
//! and a driver's lane ([`lanes`]).
//!
//! And how a sharded run cuts each job's load into parts that add up exactly ([`shard`]).

mod arrival;
pub mod lanes;
mod offsets;
mod pace;
mod profile;
pub mod shard;
mod sizes;

pub use arrival::Arrivals;
pub use offsets::{OffsetPicker, Scatter};
pub use pace::Pacer;
pub use profile::{RateProfile, StageRate};
pub use shard::{Shard, ShardError, ShardSource};
pub use sizes::SizeMix;

/// Why a distribution or size mix cannot be built. The message says what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    #[error("zipf theta must be a positive number, not {0}; 1.2 is a common choice")]
    ZipfTheta(f64),
    #[error(
        "pareto h must lie strictly between 0 and 1, not {0}; with h = 0.2, 80 % of the \
         accesses fall on 20 % of the blocks"
    )]
    ParetoH(f64),
    #[error("normal stddev must be a finite share of the file, not {0}")]
    NormalStddev(f64),
    #[error("zones: {0}")]
    Zones(String),
    #[error("block sizes: {0}")]
    Sizes(String),
    #[error("there is nothing to address: the space has no slots")]
    Empty,
}
