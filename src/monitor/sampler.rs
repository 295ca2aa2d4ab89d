//! The sampling thread: reads the machine at every interval boundary of the measurement clock
//! and turns each pair of readings into one row of the series.
//!
//! It runs beside the load on its own thread and never touches the workers. Readings start
//! at the end of warmup, so warmup is never sampled; the last row ends when the runner calls
//! [`SamplerHandle::finish`], after the workers stopped.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sysinfo::{Networks, Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use super::plan::{MonitorPlan, Watch};
use super::procfs::{self, CpuTicks, DiskCounters, Memory};
use super::series::{
    DeviceRates, HostCpu, MemoryLevels, NetworkRates, ProcessUse, ResourceInterval, ResourceSeries,
    ResourceSummary, ThreadUse, WatchedUse,
};
use crate::measure::Clock;

/// Starts the sampling thread.
pub struct Sampler;

/// The running sampler; [`finish`](SamplerHandle::finish) stops it and hands over the series.
pub struct SamplerHandle {
    stop: Sender<()>,
    thread: JoinHandle<ResourceSeries>,
}

impl Sampler {
    /// Samples from `clock.measure_start` at every `clock.interval` until finished.
    pub fn start(plan: MonitorPlan, clock: Clock) -> SamplerHandle {
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("plimsoll-monitor".into())
            .spawn(move || sample_until_stopped(plan, clock, stopped))
            .expect("spawning the monitor thread");
        SamplerHandle { stop, thread }
    }
}

impl SamplerHandle {
    /// Takes a last reading now, closing a shorter last interval, and returns the series.
    pub fn finish(self) -> ResourceSeries {
        let _ = self.stop.send(());
        self.thread.join().unwrap_or_default()
    }
}

/// A last interval shorter than this is dropped: its rates would be mostly noise.
const SHORTEST_LAST: Duration = Duration::from_millis(50);

fn sample_until_stopped(plan: MonitorPlan, clock: Clock, stopped: Receiver<()>) -> ResourceSeries {
    let mut probe = Probe::new(plan);
    let mut series = ResourceSeries {
        interval_ns: clock.interval.as_nanos() as u64,
        host_cores: probe.cores,
        ..ResourceSeries::default()
    };
    if !wait_until(&stopped, clock.measure_start) {
        return series;
    }
    let mut previous = probe.read();
    for k in 1u32.. {
        let boundary = clock.measure_start + clock.interval * k;
        let running = wait_until(&stopped, boundary);
        let current = probe.read();
        let elapsed = current.at.saturating_duration_since(previous.at);
        if running || elapsed >= SHORTEST_LAST {
            let start_ns = (clock.interval * (k - 1)).as_nanos() as u64;
            series
                .intervals
                .push(probe.row(&previous, &current, start_ns));
        }
        if !running {
            break;
        }
        previous = current;
    }
    series.summary = ResourceSummary::of(&series.intervals);
    series
}

/// Sleeps until `at`; false when told to stop first.
fn wait_until(stopped: &Receiver<()>, at: Instant) -> bool {
    let wait = at.saturating_duration_since(Instant::now());
    matches!(stopped.recv_timeout(wait), Err(RecvTimeoutError::Timeout))
}

/// Cumulative counters and levels at one instant.
struct Reading {
    at: Instant,
    cpu: CpuTicks,
    memory: Memory,
    load_1m: f64,
    disks: BTreeMap<String, DiskCounters>,
    /// Per interface: bytes and packets received and sent.
    net: BTreeMap<String, [u64; 4]>,
    self_ticks: u64,
    self_rss: u64,
    threads: HashMap<u32, (String, u64)>,
    /// Per watch: CPU milliseconds by pid, and resident bytes summed.
    watched: Vec<(HashMap<u32, u64>, u64)>,
}

/// What the sampler reads with: sysinfo's handles (when they could be made) and the plan.
struct Probe {
    plan: MonitorPlan,
    system: Option<System>,
    networks: Option<Networks>,
    cores: usize,
    ticks_per_s: f64,
    page_bytes: u64,
}

impl Probe {
    fn new(plan: MonitorPlan) -> Probe {
        let cores = procfs::read("/proc/stat").map_or(0, |t| procfs::count_cpus(&t));
        let diskstats = procfs::read("/proc/diskstats").unwrap_or_default();
        let listed = procfs::parse_diskstats(&diskstats, &plan.devices);
        for device in plan.devices.iter().filter(|d| !listed.contains_key(*d)) {
            tracing::warn!("device {device} is not in /proc/diskstats; it will not be sampled");
        }
        Probe {
            system: (!plan.watch.is_empty())
                .then(System::new)
                .and_then(Result::ok),
            networks: Networks::new_with_refreshed_list().ok(),
            plan,
            cores: cores.max(1),
            ticks_per_s: procfs::ticks_per_second() as f64,
            page_bytes: procfs::page_bytes(),
        }
    }

    fn read(&mut self) -> Reading {
        let stat = procfs::read("/proc/stat");
        let diskstats = procfs::read("/proc/diskstats").unwrap_or_default();
        Reading {
            at: Instant::now(),
            cpu: stat
                .as_deref()
                .and_then(procfs::parse_stat)
                .unwrap_or_default(),
            memory: procfs::read("/proc/meminfo")
                .as_deref()
                .and_then(procfs::parse_meminfo)
                .unwrap_or_default(),
            load_1m: System::load_average().map_or(0.0, |l| l.one),
            disks: procfs::parse_diskstats(&diskstats, &self.plan.devices),
            net: self.read_networks(),
            self_ticks: procfs::self_ticks().unwrap_or(0),
            self_rss: procfs::self_rss_pages().unwrap_or(0) * self.page_bytes,
            threads: procfs::self_threads()
                .into_iter()
                .map(|(tid, name, ticks)| (tid, (name, ticks)))
                .collect(),
            watched: self.read_watched(),
        }
    }

    fn read_networks(&mut self) -> BTreeMap<String, [u64; 4]> {
        let Some(networks) = self.networks.as_mut() else {
            return BTreeMap::new();
        };
        networks.refresh(true);
        let counters = networks.iter().map(|(name, n)| {
            let totals = [
                n.total_received(),
                n.total_packets_received(),
                n.total_transmitted(),
                n.total_packets_transmitted(),
            ];
            (name.to_string_lossy().into_owned(), totals)
        });
        counters.collect()
    }

    fn read_watched(&mut self) -> Vec<(HashMap<u32, u64>, u64)> {
        let Some(system) = self.system.as_mut() else {
            return vec![(HashMap::new(), 0); self.plan.watch.len()];
        };
        refresh_processes(system, &self.plan.watch);
        let system = &*system;
        self.plan
            .watch
            .iter()
            .map(|w| watched_now(system, w))
            .collect()
    }

    fn row(&self, prev: &Reading, cur: &Reading, start_ns: u64) -> ResourceInterval {
        let elapsed = cur.at.saturating_duration_since(prev.at);
        let seconds = elapsed.as_secs_f64().max(1e-9);
        let cores_of = |ticks: u64| ticks as f64 / self.ticks_per_s / seconds;
        ResourceInterval {
            start_ns,
            duration_ns: elapsed.as_nanos() as u64,
            cpu: host_cpu(&prev.cpu, &cur.cpu),
            memory: MemoryLevels {
                used_bytes: cur.memory.total.saturating_sub(cur.memory.available),
                cached_bytes: cur.memory.cached,
                available_bytes: cur.memory.available,
            },
            load_average_1m: cur.load_1m,
            network: network_rates(&prev.net, &cur.net, seconds),
            devices: device_rates(&prev.disks, &cur.disks, elapsed),
            plimsoll: ProcessUse {
                cpu_cores: cores_of(cur.self_ticks.saturating_sub(prev.self_ticks)),
                rss_bytes: cur.self_rss,
            },
            busiest_thread: busiest_thread(&prev.threads, &cur.threads).map(|(name, ticks)| {
                ThreadUse {
                    name,
                    cpu_cores: cores_of(ticks),
                }
            }),
            watched: self.watched_rows(prev, cur, seconds),
        }
    }

    fn watched_rows(&self, prev: &Reading, cur: &Reading, seconds: f64) -> Vec<WatchedUse> {
        let watches = self
            .plan
            .watch
            .iter()
            .zip(prev.watched.iter().zip(&cur.watched));
        watches
            .map(|(watch, ((before, _), (now, rss)))| WatchedUse {
                watch: watch.to_string(),
                processes: now.len(),
                cpu_cores: cpu_ms_since(before, now) as f64 / 1e3 / seconds,
                rss_bytes: *rss,
            })
            .collect()
    }
}

/// One refresh for all watches: every process when any watch is by name, else only the pids.
fn refresh_processes(system: &mut System, watches: &[Watch]) {
    let kind = ProcessRefreshKind::nothing().with_cpu().with_memory();
    let pids: Vec<Pid> = watches
        .iter()
        .filter_map(|w| match w {
            Watch::Pid(pid) => Some(Pid::from_u32(*pid)),
            Watch::Name(_) => None,
        })
        .collect();
    let by_name = pids.len() < watches.len();
    let which = if by_name {
        ProcessesToUpdate::All
    } else {
        ProcessesToUpdate::Some(&pids)
    };
    system.refresh_processes_specifics(which, true, kind);
}

/// The processes a watch matches now: CPU milliseconds by pid, and their resident bytes.
fn watched_now(system: &System, watch: &Watch) -> (HashMap<u32, u64>, u64) {
    let matched: Vec<&sysinfo::Process> = match watch {
        Watch::Pid(pid) => system.process(Pid::from_u32(*pid)).into_iter().collect(),
        Watch::Name(name) => system
            .processes_by_exact_name(OsStr::new(Watch::kernel_name(name)))
            .filter(|p| p.thread_kind().is_none())
            .collect(),
    };
    let cpu = matched
        .iter()
        .map(|p| (p.pid().as_u32(), p.accumulated_cpu_time()))
        .collect();
    (cpu, matched.iter().map(|p| p.memory()).sum())
}

/// CPU used between two readings by processes seen in both. A process first seen in `now`
/// gives only its baseline, so it counts from its second interval on: its earlier CPU time
/// may predate the run.
fn cpu_ms_since(before: &HashMap<u32, u64>, now: &HashMap<u32, u64>) -> u64 {
    now.iter()
        .filter_map(|(pid, ms)| Some(ms.saturating_sub(*before.get(pid)?)))
        .sum()
}

fn host_cpu(prev: &CpuTicks, cur: &CpuTicks) -> HostCpu {
    let total = cur.total().saturating_sub(prev.total()).max(1) as f64;
    let pct = |f: fn(&CpuTicks) -> u64| f(cur).saturating_sub(f(prev)) as f64 * 100.0 / total;
    HostCpu {
        busy_pct: pct(|t| t.user + t.system + t.irq),
        user_pct: pct(|t| t.user),
        system_pct: pct(|t| t.system),
        irq_pct: pct(|t| t.irq),
        iowait_pct: pct(|t| t.iowait),
        steal_pct: pct(|t| t.steal),
    }
}

fn network_rates(
    prev: &BTreeMap<String, [u64; 4]>,
    cur: &BTreeMap<String, [u64; 4]>,
    seconds: f64,
) -> Vec<NetworkRates> {
    let rate = |a: u64, b: u64| b.saturating_sub(a) as f64 / seconds;
    cur.iter()
        .filter_map(|(name, c)| {
            let p = prev.get(name)?;
            Some(NetworkRates {
                interface: name.clone(),
                rx_bytes_per_s: rate(p[0], c[0]),
                rx_packets_per_s: rate(p[1], c[1]),
                tx_bytes_per_s: rate(p[2], c[2]),
                tx_packets_per_s: rate(p[3], c[3]),
            })
        })
        .collect()
}

/// `/proc/diskstats` counts sectors of 512 bytes, whatever the device's own sector size.
const SECTOR_BYTES: u64 = 512;

fn device_rates(
    prev: &BTreeMap<String, DiskCounters>,
    cur: &BTreeMap<String, DiskCounters>,
    elapsed: Duration,
) -> Vec<DeviceRates> {
    cur.iter()
        .filter_map(|(name, c)| Some(device_row(name, prev.get(name)?, c, elapsed)))
        .collect()
}

fn device_row(name: &str, p: &DiskCounters, c: &DiskCounters, elapsed: Duration) -> DeviceRates {
    let seconds = elapsed.as_secs_f64().max(1e-9);
    let ms = seconds * 1e3;
    let d = |f: fn(&DiskCounters) -> u64| f(c).saturating_sub(f(p));
    let (reads, writes) = (d(|c| c.reads), d(|c| c.writes));
    let await_ns = |time_ms: u64, n: u64| (n > 0).then(|| time_ms * 1_000_000 / n);
    DeviceRates {
        device: name.to_owned(),
        reads,
        writes,
        read_bytes: d(|c| c.read_sectors) * SECTOR_BYTES,
        write_bytes: d(|c| c.write_sectors) * SECTOR_BYTES,
        reads_per_s: reads as f64 / seconds,
        writes_per_s: writes as f64 / seconds,
        read_bytes_per_s: (d(|c| c.read_sectors) * SECTOR_BYTES) as f64 / seconds,
        write_bytes_per_s: (d(|c| c.write_sectors) * SECTOR_BYTES) as f64 / seconds,
        avg_queue_size: d(|c| c.weighted_ms) as f64 / ms,
        read_await_ns: await_ns(d(|c| c.read_ms), reads),
        write_await_ns: await_ns(d(|c| c.write_ms), writes),
        utilisation_pct: (d(|c| c.busy_ms) as f64 * 100.0 / ms).min(100.0),
    }
}

/// The thread that used the most CPU between two readings, with its ticks.
fn busiest_thread(
    prev: &HashMap<u32, (String, u64)>,
    cur: &HashMap<u32, (String, u64)>,
) -> Option<(String, u64)> {
    cur.iter()
        .map(|(tid, (name, ticks))| {
            let before = prev.get(tid).map_or(0, |(_, t)| *t);
            (name.clone(), ticks.saturating_sub(before))
        })
        .max_by_key(|(_, ticks)| *ticks)
}
