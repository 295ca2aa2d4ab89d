//! The recording path shared by every driver.
//!
//! Each worker owns a [`Recorder`]: per operation kind, a latency histogram (and a service-time
//! one for open-model jobs), counts, bytes and error tallies for the current interval. Nothing
//! on that path locks or allocates. When an operation ends past the interval boundary the
//! recorder hands the finished interval to the collector over a channel and takes an emptied
//! one back; the collector ([`Collector`]) merges workers into job totals and the time series.
//! This module does not decide when operations are issued, nor how results are rendered.

mod collector;
mod errors;
mod histogram;
mod recorder;

pub use collector::{Collector, IntervalTotals, JobTotals, LiveView, OpTotals};
pub use errors::{ErrorKind, ErrorTally};
pub use histogram::{
    HIGHEST_NS, LOWEST_NS, LatencyHistogram, LatencySummary, Quantile, RELATIVE_ERROR, SIGFIGS,
    Value,
};
pub use recorder::{
    Clock, CounterId, Issuing, LATE_AFTER, MAX_COUNTERS, OpId, Phase, Recorder, ScheduleStats,
    Snapshot, WorkerStats,
};
