//! Resource sampling beside the load, and the self-checks that judge a run by it.
//!
//! A [`Sampler`] runs on its own thread from the end of warmup, reading the host (CPU split,
//! memory, network, load average), the block devices behind the disk jobs, the watched
//! processes and plimsoll's own threads at every interval boundary of the measurement clock,
//! so its rows line up with the latency intervals. sysinfo gives networks, load and processes;
//! `/proc` gives what sysinfo lacks. [`checks`] reads a finished results document and says
//! which of its figures to doubt. This module does not generate load, record latencies or
//! render anything.

pub mod checks;
mod plan;
mod procfs;
mod sampler;
mod series;
mod text;

pub use plan::{MonitorPlan, Watch};
pub use sampler::{Sampler, SamplerHandle};
pub use series::{
    DeviceRates, DeviceSummary, HostCpu, MeanPeak, MemoryLevels, NetworkRates, NetworkSummary,
    ProcessUse, ResourceInterval, ResourceSeries, ResourceSummary, ThreadUse, WatchedSummary,
    WatchedUse,
};
pub use text::summary_line;
