//! The `resources` section of the results: one row per interval of the measurement clock,
//! aligned with the latency intervals by `start_ns`, and a summary of means and peaks. Rates
//! are per second of the time between the two readings an interval lies between; levels
//! (memory, load average, resident memory) are as read at the interval's end.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ResourceSeries {
    pub interval_ns: u64,
    /// Logical cores of the host, the base of the CPU shares.
    pub host_cores: usize,
    pub intervals: Vec<ResourceInterval>,
    pub summary: ResourceSummary,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ResourceInterval {
    /// From the start of measurement, like the latency intervals'.
    pub start_ns: u64,
    /// Time between the two readings: the interval's length, or less for the last one.
    pub duration_ns: u64,
    pub cpu: HostCpu,
    pub memory: MemoryLevels,
    pub load_average_1m: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<NetworkRates>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceRates>,
    pub plimsoll: ProcessUse,
    /// The busiest single thread of plimsoll in this interval.
    pub busiest_thread: Option<ThreadUse>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watched: Vec<WatchedUse>,
}

/// Shares of all cores' time, in percent (100 = every core busy the whole interval).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct HostCpu {
    /// Everything but idle and iowait.
    pub busy_pct: f64,
    /// user and nice.
    pub user_pct: f64,
    pub system_pct: f64,
    /// Hard and soft interrupts.
    pub irq_pct: f64,
    pub iowait_pct: f64,
    pub steal_pct: f64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct MemoryLevels {
    /// Total less available.
    pub used_bytes: u64,
    /// The page cache.
    pub cached_bytes: u64,
    pub available_bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetworkRates {
    pub interface: String,
    pub rx_bytes_per_s: f64,
    pub tx_bytes_per_s: f64,
    pub rx_packets_per_s: f64,
    pub tx_packets_per_s: f64,
}

/// One block device, as `iostat -x` shows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeviceRates {
    pub device: String,
    /// Requests completed in the interval.
    pub reads: u64,
    pub writes: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub reads_per_s: f64,
    pub writes_per_s: f64,
    pub read_bytes_per_s: f64,
    pub write_bytes_per_s: f64,
    /// Mean requests in flight.
    pub avg_queue_size: f64,
    /// Mean time a request took, queueing included (`r_await`, `w_await`).
    pub read_await_ns: Option<u64>,
    pub write_await_ns: Option<u64>,
    /// Share of the interval with at least one request in flight.
    pub utilisation_pct: f64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct ProcessUse {
    /// CPU seconds per second over every thread: 1.0 is one core kept busy.
    pub cpu_cores: f64,
    pub rss_bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ThreadUse {
    pub name: String,
    pub cpu_cores: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WatchedUse {
    /// `pid 1234` or `name redis-server`, as the workload wrote it.
    pub watch: String,
    /// Processes that matched at the interval's end.
    pub processes: usize,
    pub cpu_cores: f64,
    pub rss_bytes: u64,
}

/// A figure's mean over the intervals and its largest value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MeanPeak {
    pub mean: f64,
    pub peak: f64,
}

impl MeanPeak {
    /// Means weigh each interval by its length, so a short last interval counts for less.
    pub fn of(values: impl Iterator<Item = (f64, u64)>) -> MeanPeak {
        let (mut sum, mut weight, mut peak) = (0.0, 0.0, f64::MIN);
        for (value, duration_ns) in values {
            sum += value * duration_ns as f64;
            weight += duration_ns as f64;
            peak = peak.max(value);
        }
        if weight > 0.0 {
            MeanPeak {
                mean: sum / weight,
                peak,
            }
        } else {
            MeanPeak::default()
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ResourceSummary {
    pub cpu_busy_pct: MeanPeak,
    pub cpu_user_pct: MeanPeak,
    pub cpu_system_pct: MeanPeak,
    pub cpu_iowait_pct: MeanPeak,
    pub cpu_steal_pct: MeanPeak,
    pub memory_used_bytes: MeanPeak,
    /// The least memory available in any interval.
    pub memory_available_min_bytes: u64,
    pub load_average_1m: MeanPeak,
    pub plimsoll_cpu_cores: MeanPeak,
    pub plimsoll_rss_bytes: MeanPeak,
    pub busiest_thread_cpu_cores: MeanPeak,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceSummary>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<NetworkSummary>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watched: Vec<WatchedSummary>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeviceSummary {
    pub device: String,
    /// Requests completed over the whole series.
    pub reads: u64,
    pub writes: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub reads_per_s: MeanPeak,
    pub writes_per_s: MeanPeak,
    pub avg_queue_size: MeanPeak,
    pub utilisation_pct: MeanPeak,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetworkSummary {
    pub interface: String,
    pub rx_bytes_per_s: MeanPeak,
    pub tx_bytes_per_s: MeanPeak,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WatchedSummary {
    pub watch: String,
    pub cpu_cores: MeanPeak,
    pub rss_bytes: MeanPeak,
}

impl ResourceSummary {
    pub fn of(intervals: &[ResourceInterval]) -> ResourceSummary {
        let over = |f: &dyn Fn(&ResourceInterval) -> f64| {
            MeanPeak::of(intervals.iter().map(|i| (f(i), i.duration_ns)))
        };
        ResourceSummary {
            cpu_busy_pct: over(&|i| i.cpu.busy_pct),
            cpu_user_pct: over(&|i| i.cpu.user_pct),
            cpu_system_pct: over(&|i| i.cpu.system_pct),
            cpu_iowait_pct: over(&|i| i.cpu.iowait_pct),
            cpu_steal_pct: over(&|i| i.cpu.steal_pct),
            memory_used_bytes: over(&|i| i.memory.used_bytes as f64),
            memory_available_min_bytes: intervals
                .iter()
                .map(|i| i.memory.available_bytes)
                .min()
                .unwrap_or(0),
            load_average_1m: over(&|i| i.load_average_1m),
            plimsoll_cpu_cores: over(&|i| i.plimsoll.cpu_cores),
            plimsoll_rss_bytes: over(&|i| i.plimsoll.rss_bytes as f64),
            busiest_thread_cpu_cores: over(&|i| {
                i.busiest_thread.as_ref().map_or(0.0, |t| t.cpu_cores)
            }),
            devices: device_summaries(intervals),
            network: network_summaries(intervals),
            watched: watched_summaries(intervals),
        }
    }
}

/// The names in the first interval: every interval reads the same devices, interfaces and
/// watches, so later ones list the same.
fn names<T>(
    intervals: &[ResourceInterval],
    list: fn(&ResourceInterval) -> &[T],
    name: fn(&T) -> &str,
) -> Vec<String> {
    let first = intervals.first().map(list).unwrap_or_default();
    first.iter().map(|t| name(t).to_owned()).collect()
}

fn device_summaries(intervals: &[ResourceInterval]) -> Vec<DeviceSummary> {
    let names = names(intervals, |i| &i.devices, |d| &d.device);
    names
        .into_iter()
        .map(|device| {
            let rows: Vec<(&DeviceRates, u64)> = intervals
                .iter()
                .filter_map(|i| {
                    Some((
                        i.devices.iter().find(|d| d.device == device)?,
                        i.duration_ns,
                    ))
                })
                .collect();
            let over =
                |f: fn(&DeviceRates) -> f64| MeanPeak::of(rows.iter().map(|(d, ns)| (f(d), *ns)));
            DeviceSummary {
                reads: rows.iter().map(|(d, _)| d.reads).sum(),
                writes: rows.iter().map(|(d, _)| d.writes).sum(),
                read_bytes: rows.iter().map(|(d, _)| d.read_bytes).sum(),
                write_bytes: rows.iter().map(|(d, _)| d.write_bytes).sum(),
                reads_per_s: over(|d| d.reads_per_s),
                writes_per_s: over(|d| d.writes_per_s),
                avg_queue_size: over(|d| d.avg_queue_size),
                utilisation_pct: over(|d| d.utilisation_pct),
                device,
            }
        })
        .collect()
}

fn network_summaries(intervals: &[ResourceInterval]) -> Vec<NetworkSummary> {
    let names = names(intervals, |i| &i.network, |n| &n.interface);
    names
        .into_iter()
        .map(|interface| {
            let rows = intervals.iter().filter_map(|i| {
                let n = i.network.iter().find(|n| n.interface == interface)?;
                Some((n.rx_bytes_per_s, n.tx_bytes_per_s, i.duration_ns))
            });
            let rows: Vec<_> = rows.collect();
            NetworkSummary {
                rx_bytes_per_s: MeanPeak::of(rows.iter().map(|r| (r.0, r.2))),
                tx_bytes_per_s: MeanPeak::of(rows.iter().map(|r| (r.1, r.2))),
                interface,
            }
        })
        .collect()
}

fn watched_summaries(intervals: &[ResourceInterval]) -> Vec<WatchedSummary> {
    let names = names(intervals, |i| &i.watched, |w| &w.watch);
    names
        .into_iter()
        .map(|watch| {
            let rows = intervals.iter().filter_map(|i| {
                let w = i.watched.iter().find(|w| w.watch == watch)?;
                Some((w.cpu_cores, w.rss_bytes as f64, i.duration_ns))
            });
            let rows: Vec<_> = rows.collect();
            WatchedSummary {
                cpu_cores: MeanPeak::of(rows.iter().map(|r| (r.0, r.2))),
                rss_bytes: MeanPeak::of(rows.iter().map(|r| (r.1, r.2))),
                watch,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_last_interval_weighs_less_in_the_mean_but_counts_for_the_peak() {
        let m = MeanPeak::of([(1.0, 1_000), (4.0, 250)].into_iter());
        assert!((m.mean - 1.6).abs() < 1e-9, "{m:?}");
        assert_eq!(m.peak, 4.0);
        assert_eq!(MeanPeak::of(std::iter::empty()), MeanPeak::default());
    }
}
