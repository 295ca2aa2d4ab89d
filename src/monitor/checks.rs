//! Self-checks: which figures of a finished run to doubt, and why.
//!
//! Each check reads the results document (and the workload for what was asked) and gives a
//! status with one sentence. The rules are plain functions of a few numbers, so each can be
//! made to fire, or to stay quiet, with figures alone; [`evaluate`] pulls those numbers out
//! of a run. A check that lacks its figures (sampling off, no device behind a file) is left
//! out rather than passed.

use serde::{Deserialize, Serialize};

use super::series::{MeanPeak, ResourceSeries};
use crate::results::{JobResults, RunResults, RunStatus};
use crate::workload::{DiskJob, Job, Workload};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Passed,
    /// The figures stand, with a caveat the reader should know.
    Warned,
    /// A figure is not what the workload asked for, or contradicts another.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// `generator_saturation`, `direct_device_ops`, `littles_law`, `requested_rate`,
    /// `measured_window`, `page_cache`, `buffered_writes`, `foreign_cpu`, `error_share`.
    pub name: String,
    /// The job (or, for `direct_device_ops`, the device) the check is about; none for
    /// checks of the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub status: CheckStatus,
    pub explanation: String,
}

impl Check {
    fn new(name: &str, status: CheckStatus, explanation: String) -> Check {
        Check {
            name: name.to_owned(),
            subject: None,
            status,
            explanation,
        }
    }

    fn about(mut self, subject: &str) -> Check {
        self.subject = Some(subject.to_owned());
        self
    }
}

use CheckStatus::{Failed, Passed, Warned};

/// Every check that applies to `results`, run from `workload`.
pub fn evaluate(results: &RunResults, workload: &Workload) -> Vec<Check> {
    let mut checks = vec![measured_window(&window_figures(results, workload))];
    let resources = results.resources.as_ref();
    if let Some(r) = resources {
        checks.push(generator_saturation(&saturation_figures(results, r)));
        checks.push(foreign_cpu(&foreign_figures(r)));
        checks.extend(direct_checks(results, workload, r));
    }
    for (job, spec) in results.jobs.iter().zip(&workload.jobs) {
        checks.extend(job_checks(job, spec, results, resources));
    }
    checks
}

fn job_checks(
    job: &JobResults,
    spec: &Job,
    results: &RunResults,
    resources: Option<&ResourceSeries>,
) -> Vec<Check> {
    let disk = match spec {
        Job::Disk(disk) => Some(disk),
        Job::Redis(_) | Job::Null(_) | Job::Postgres(_) | Job::Mysql(_) | Job::Http(_) => None,
    };
    // Little's law holds over the window the operations were counted in, the drain included;
    // it is also the one the summary table's rates are taken over.
    let measured_s = results.measured_ns as f64 / 1e9;
    let checks = [
        closed_figures(job, disk, measured_s).map(|f| littles_law(&f)),
        rate_figures(job, disk, window_s(results)).map(|f| requested_rate(&f)),
        disk.and_then(|d| page_cache_figures(job, d, results, resources))
            .map(|f| page_cache(&f)),
        disk.and_then(|d| buffered_write_figures(job, d, results, resources))
            .map(|f| buffered_writes(&f)),
        error_share(job),
    ];
    checks
        .into_iter()
        .flatten()
        .map(|c| c.about(&job.name))
        .collect()
}

/// The window a requested rate is judged over: measured time, but not the drain past the
/// requested end, when nothing more was issued.
fn window_s(results: &RunResults) -> f64 {
    results.measured_ns.min(results.duration_requested_ns) as f64 / 1e9
}

// ---- measured window -------------------------------------------------------------------

pub struct WindowFigures {
    pub requested_s: f64,
    pub measured_s: f64,
    /// How the run was stopped, when it was.
    pub stopped: Option<Stop>,
    /// Every job stops at a count of operations, so an early end is the workload's own.
    pub counted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// Ctrl-C (or a signal). When it came is not recorded: the in-flight operations it
    /// drains can carry the measured time past the requested end even if it came before.
    Interrupted,
    /// Under abort-early, this far into the measured window.
    Aborted { after_s: f64 },
}

fn window_figures(results: &RunResults, workload: &Workload) -> WindowFigures {
    let aborted_after = results.aborted.as_ref().map(|b| b.after_ns as f64 / 1e9);
    WindowFigures {
        requested_s: results.duration_requested_ns as f64 / 1e9,
        measured_s: results.measured_ns as f64 / 1e9,
        stopped: match (results.status, aborted_after) {
            (RunStatus::Aborted, Some(after_s)) => Some(Stop::Aborted { after_s }),
            (RunStatus::Interrupted | RunStatus::Aborted, _) => Some(Stop::Interrupted),
            _ => None,
        },
        counted: workload.jobs.iter().all(|j| j.op_count().is_some()),
    }
}

/// Short windows fail (a rate over 3 s of a 30 s run says little about the 30 s); a long
/// drain of in-flight operations past the end is a warning.
pub fn measured_window(f: &WindowFigures) -> Check {
    let (m, r) = (f.measured_s, f.requested_s);
    let said = format!("measured {m:.2} s of the {r:.2} s asked for");
    let (status, tail) = match f.stopped {
        Some(stop) => stopped_window(stop, m, r),
        None if m < r * 0.99 && f.counted => (
            Passed,
            "; every job stopped at its count of operations first, as the workload asks".into(),
        ),
        None if m < r * 0.99 => (
            Failed,
            "; the window ended early, so rates cover less than the workload meant".into(),
        ),
        None => whole_window(m, r),
    };
    Check::new("measured_window", status, format!("{said}{tail}"))
}

/// A stopped run is said to have stopped early only when it did: when its measured time, or
/// the abort, falls short of the requested end.
fn stopped_window(stop: Stop, m: f64, r: f64) -> (CheckStatus, String) {
    // Compared as printed, so a window that reads as whole is never called short.
    let short_of_end = |s: f64| (s * 100.0).round() < (r * 100.0).round();
    let (how, early) = match stop {
        Stop::Interrupted => ("interrupted".to_owned(), short_of_end(m)),
        Stop::Aborted { after_s } => (
            format!("aborted on a threshold after {after_s:.2} s"),
            short_of_end(m) || short_of_end(after_s),
        ),
    };
    if early {
        let tail = format!("; the run was stopped early ({how}), so the figures cover part of it");
        return (Warned, tail);
    }
    let (status, drain) = whole_window(m, r);
    match stop {
        Stop::Interrupted => (
            Warned,
            format!(
                "; the run was interrupted, though its measured time covers what was asked \
                 for{drain}"
            ),
        ),
        Stop::Aborted { .. } => (
            status,
            format!(
                "; the run was {how}, at or after the requested end, so the window is whole{drain}"
            ),
        ),
    }
}

/// A window that ran its length: passed, or warned when the drain past the end was long.
fn whole_window(m: f64, r: f64) -> (CheckStatus, String) {
    if m > r + (r * 0.05).max(1.0) {
        (
            Warned,
            "; in-flight operations took long to drain, and the last interval holds them".into(),
        )
    } else {
        (Passed, String::new())
    }
}

// ---- generator saturation -------------------------------------------------------------

pub struct SaturationFigures {
    /// Cores plimsoll may run on.
    pub cores_given: f64,
    pub plimsoll_cores: MeanPeak,
    /// The busiest thread's share of one core, mean over intervals, and its name.
    pub busiest_thread: Option<(String, f64)>,
    /// Open-model jobs whose schedule lag kept growing.
    pub lagging_jobs: Vec<String>,
}

fn saturation_figures(results: &RunResults, r: &ResourceSeries) -> SaturationFigures {
    let busiest = r.summary.busiest_thread_cpu_cores.mean;
    let name = busiest_thread_name(r);
    SaturationFigures {
        cores_given: results.host.logical_cores.unwrap_or(r.host_cores) as f64,
        plimsoll_cores: r.summary.plimsoll_cpu_cores,
        busiest_thread: name.map(|n| (n, busiest)),
        lagging_jobs: results
            .jobs
            .iter()
            .filter(|j| j.load.as_ref().is_some_and(|l| l.lag_growing))
            .map(|j| j.name.clone())
            .collect(),
    }
}

/// The name that was busiest in most intervals.
fn busiest_thread_name(r: &ResourceSeries) -> Option<String> {
    let mut names: Vec<&str> = r
        .intervals
        .iter()
        .filter_map(|i| Some(i.busiest_thread.as_ref()?.name.as_str()))
        .collect();
    names.sort_unstable();
    let runs = names.chunk_by(|a, b| a == b);
    runs.max_by_key(|run| run.len())
        .map(|run| run[0].to_owned())
}

/// Share of the cores (or of one core, for a thread) above which the generator may be what
/// limited the run.
const SATURATED: f64 = 0.9;

pub fn generator_saturation(f: &SaturationFigures) -> Check {
    let used = format!(
        "plimsoll used {:.2} of {:.0} cores on average (peak {:.2})",
        f.plimsoll_cores.mean, f.cores_given, f.plimsoll_cores.peak
    );
    let thread = f.busiest_thread.as_ref();
    let busy_thread = thread.filter(|(_, share)| *share >= SATURATED);
    let (status, text) = if !f.lagging_jobs.is_empty() {
        let jobs = f.lagging_jobs.join(", ");
        (
            Warned,
            format!(
                "the schedule lag of {jobs} kept growing; {used}; the run is possibly limited by \
                 the generator"
            ),
        )
    } else if f.plimsoll_cores.mean >= SATURATED * f.cores_given {
        (
            Warned,
            format!(
                "{used}, nearly all it was given; the run is possibly limited by the generator"
            ),
        )
    } else if let Some((name, share)) = busy_thread {
        (
            Warned,
            format!(
                "thread {name} was busy {:.0} % of a core; the run is possibly limited by the \
                 generator (more workers would spread it)",
                share * 100.0
            ),
        )
    } else {
        let thread = thread.map_or(String::new(), |(n, s)| {
            format!("; busiest thread {n} at {:.0} % of a core", s * 100.0)
        });
        (Passed, format!("{used}{thread}"))
    };
    Check::new("generator_saturation", status, text)
}

// ---- foreign CPU ------------------------------------------------------------------------

pub struct ForeignFigures {
    pub host_cores: f64,
    /// Host user + system time less plimsoll's and the watched processes', in cores.
    pub foreign_cores: MeanPeak,
}

fn foreign_figures(r: &ResourceSeries) -> ForeignFigures {
    let cores = r.host_cores as f64;
    let per_interval = r.intervals.iter().map(|i| {
        let host = (i.cpu.user_pct + i.cpu.system_pct) / 100.0 * cores;
        let watched: f64 = i.watched.iter().map(|w| w.cpu_cores).sum();
        (
            (host - i.plimsoll.cpu_cores - watched).max(0.0),
            i.duration_ns,
        )
    });
    ForeignFigures {
        host_cores: cores,
        foreign_cores: MeanPeak::of(per_interval),
    }
}

/// Foreign CPU above this many cores, or this share of the host, is worth a warning.
const FOREIGN_CORES: f64 = 0.25;
const FOREIGN_SHARE: f64 = 0.1;

pub fn foreign_cpu(f: &ForeignFigures) -> Check {
    let m = f.foreign_cores;
    let limit = FOREIGN_CORES.max(FOREIGN_SHARE * f.host_cores);
    let said = format!(
        "CPU not used by plimsoll or the watched processes: {:.2} of {:.0} cores on average \
         (peak {:.2})",
        m.mean, f.host_cores, m.peak
    );
    if m.mean > limit {
        let tail = "; other work on the host may have shaped the results (watch the target's \
                    processes in [monitor] to account for them)";
        Check::new("foreign_cpu", Warned, format!("{said}{tail}"))
    } else {
        Check::new("foreign_cpu", Passed, said)
    }
}

// ---- error share ------------------------------------------------------------------------

/// Above this share of failed operations a job's figures describe mostly failures.
const ERROR_SHARE_WARNING: f64 = 0.1;

/// Errors never stop a run, so a job whose operations mostly fail (a template the server
/// refuses, a constraint every insert breaks) would otherwise pass with an exit code of 0.
fn error_share(job: &JobResults) -> Option<Check> {
    let outer = || job.outer_ops();
    let failed: u64 = outer().map(|o| o.error_count).sum();
    let attempts: u64 = outer().map(|o| o.count + o.error_count).sum();
    if attempts == 0 || (failed as f64) <= attempts as f64 * ERROR_SHARE_WARNING {
        return None;
    }
    let mut kinds: Vec<(&str, u64)> = Vec::new();
    for error in outer().flat_map(|o| &o.errors) {
        match kinds.iter_mut().find(|(k, _)| *k == error.kind) {
            Some((_, n)) => *n += error.count,
            None => kinds.push((&error.kind, error.count)),
        }
    }
    kinds.sort_by_key(|k| std::cmp::Reverse(k.1));
    let named: Vec<String> = kinds
        .iter()
        .take(3)
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect();
    Some(Check::new(
        "error_share",
        Warned,
        format!(
            "{failed} of {attempts} operations failed ({:.0} %: {}); latency and throughput \
             cover only the ones that succeeded",
            failed as f64 / attempts as f64 * 100.0,
            named.join(", ")
        ),
    ))
}

// ---- Little's law -----------------------------------------------------------------------

pub struct ClosedFigures {
    /// Operations the job keeps in flight: workers × queue depth, or its in-flight limit.
    pub depth: f64,
    pub ops_per_s: f64,
    pub mean_latency_s: f64,
}

/// Closed-model jobs with a fixed number in flight: no think time, no cap, no pacing.
fn closed_figures(
    job: &JobResults,
    disk: Option<&DiskJob>,
    window_s: f64,
) -> Option<ClosedFigures> {
    let load = job.load.as_ref()?;
    let fixed = load.model == "closed" && load.think_time_ns.is_none();
    let capped = disk.is_some_and(|d| d.iops_cap.is_some() || d.bandwidth_cap.is_some());
    if !fixed || capped || window_s <= 0.0 {
        return None;
    }
    let depth = match disk {
        Some(_) => job.workers as f64 * job.target.get("queue_depth")?.as_f64()?,
        None => load.in_flight_limit as f64,
    };
    // What is in flight is the outer operations; those timed inside them are part of them.
    let outer = || job.outer_ops();
    // A failed operation held its slot too. Where failures are timed (HTTP) they count like
    // the rest; where they are not, more than a few would leave the slots' time unknown.
    let untimed: u64 = outer()
        .filter(|o| o.failed_latency_ns.is_none())
        .map(|o| o.error_count)
        .sum();
    let count: u64 = outer().map(|o| o.count + o.error_count).sum();
    if untimed as f64 > count as f64 * 0.01 {
        return None;
    }
    let busy_ns: f64 = outer()
        .map(|o| {
            let failed = o.failed_latency_ns.as_ref().and_then(|f| f.mean);
            o.count as f64 * o.latency_ns.mean.unwrap_or(0.0)
                + o.error_count as f64 * failed.unwrap_or(0.0)
        })
        .sum();
    (count > 0).then(|| ClosedFigures {
        depth,
        ops_per_s: count as f64 / window_s,
        mean_latency_s: busy_ns / count as f64 / 1e9,
    })
}

/// How far mean latency × throughput may be from the depth before it is remarked on.
const LITTLE_TOLERANCE: f64 = 0.1;

pub fn littles_law(f: &ClosedFigures) -> Check {
    let in_flight = f.ops_per_s * f.mean_latency_s;
    let ratio = in_flight / f.depth;
    let said = format!(
        "mean latency × throughput = {:.3} ms × {:.0} op/s = {in_flight:.2} in flight, for a \
         depth of {:.0}",
        f.mean_latency_s * 1e3,
        f.ops_per_s,
        f.depth
    );
    let (status, tail) = if ratio > 1.0 + LITTLE_TOLERANCE {
        (
            Failed,
            "; more than the depth allows, so latency and throughput disagree",
        )
    } else if ratio < 1.0 - LITTLE_TOLERANCE {
        (
            Warned,
            "; slots stood idle between a completion and the next issue, so the generator, not \
             the target, set part of the pace",
        )
    } else {
        (Passed, "")
    };
    Check::new("littles_law", status, format!("{said}{tail}"))
}

// ---- requested rate ---------------------------------------------------------------------

pub struct RateFigures {
    pub requested: f64,
    pub achieved: f64,
    /// `op/s` or `B/s`.
    pub unit: &'static str,
    /// What the rate is: `iops_cap`, `bandwidth_cap`, `open-model rate`.
    pub what: &'static str,
    /// For open-model jobs, the results' own reading of why the rate was missed.
    pub verdict: Option<String>,
}

fn rate_figures(job: &JobResults, disk: Option<&DiskJob>, window_s: f64) -> Option<RateFigures> {
    let load = job.load.as_ref()?;
    if let (Some(target), Some(achieved)) = (load.target_ops_per_s, load.achieved_ops_per_s) {
        let verdict = load.verdict.clone();
        return Some(RateFigures {
            requested: target,
            achieved,
            unit: "op/s",
            what: "open-model rate",
            verdict,
        });
    }
    let disk = disk?;
    let per_s = |n: u64| {
        if window_s > 0.0 {
            n as f64 / window_s
        } else {
            0.0
        }
    };
    let ops = job
        .operations
        .iter()
        .filter(|o| o.op == "read" || o.op == "write");
    let (count, bytes) = ops.fold((0, 0), |(c, b), o| (c + o.count, b + o.bytes));
    if let Some(cap) = disk.iops_cap {
        return Some(RateFigures {
            requested: cap.0,
            achieved: per_s(count),
            unit: "op/s",
            what: "iops_cap",
            verdict: None,
        });
    }
    let cap = disk.bandwidth_cap?;
    Some(RateFigures {
        requested: cap.0 as f64,
        achieved: per_s(bytes),
        unit: "B/s",
        what: "bandwidth_cap",
        verdict: None,
    })
}

/// The share of the requested rate a job must reach, and may exceed it by.
const RATE_SHARE: f64 = crate::results::SUSTAINED_SHARE;
const RATE_OVER: f64 = 1.05;

pub fn requested_rate(f: &RateFigures) -> Check {
    let share = if f.requested > 0.0 {
        f.achieved / f.requested
    } else {
        1.0
    };
    let said = format!(
        "achieved {} of the {} {} asked for ({:.1} %)",
        amount(f.achieved, f.unit),
        f.what,
        amount(f.requested, f.unit),
        share * 100.0
    );
    let (status, text) = if share < RATE_SHARE {
        let why = f.verdict.clone().unwrap_or_else(|| {
            "the target could not carry the rate, or the generator fell behind".into()
        });
        (Failed, format!("{said}; {why}"))
    } else if share > RATE_OVER {
        (Failed, format!("{said}; the rate overshot what was asked"))
    } else {
        (Passed, said)
    };
    Check::new("requested_rate", status, text)
}

fn amount(value: f64, unit: &str) -> String {
    match unit {
        "B/s" => format!("{:.1} MiB/s", value / (1u64 << 20) as f64),
        _ => format!("{value:.0} {unit}"),
    }
}

// ---- page cache -------------------------------------------------------------------------

pub struct PageCacheFigures {
    pub file_bytes: u64,
    /// The least memory available during the run (or the host's memory, unsampled).
    pub free_bytes: u64,
}

fn page_cache_figures(
    job: &JobResults,
    disk: &DiskJob,
    results: &RunResults,
    resources: Option<&ResourceSeries>,
) -> Option<PageCacheFigures> {
    let reads = job.operations.iter().any(|o| o.op == "read" && o.count > 0);
    let block_device = job.target.get("layout").and_then(|l| l.as_str()) == Some("block_device");
    if disk.direct || !reads || block_device {
        return None;
    }
    Some(PageCacheFigures {
        file_bytes: job.target.get("file_size_bytes")?.as_u64()?,
        free_bytes: free_memory(results, resources)?,
    })
}

/// The least memory available during the run, or the host's memory when unsampled.
fn free_memory(results: &RunResults, resources: Option<&ResourceSeries>) -> Option<u64> {
    let sampled = resources
        .map(|r| r.summary.memory_available_min_bytes)
        .filter(|&b| b > 0);
    sampled.or(results.host.memory_bytes)
}

pub fn page_cache(f: &PageCacheFigures) -> Check {
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let said = format!(
        "buffered reads of a {:.2} GiB file with {:.2} GiB of memory free",
        gib(f.file_bytes),
        gib(f.free_bytes)
    );
    if f.file_bytes < f.free_bytes {
        let tail = ": the page cache, not the device, is being measured; set direct = true, \
                    or use a file larger than memory";
        Check::new("page_cache", Warned, format!("{said}{tail}"))
    } else {
        Check::new(
            "page_cache",
            Passed,
            format!("{said}: most reads must reach the device"),
        )
    }
}

// ---- buffered writes --------------------------------------------------------------------

pub struct BufferedWriteFigures {
    /// What the job wrote in the measured window.
    pub written_bytes: u64,
    /// The least memory available during the run (or the host's memory, unsampled).
    pub free_bytes: u64,
}

/// Only for a job that writes through the page cache and never syncs: with a sync cadence
/// the device is reached every N writes, and with `direct` on every write.
fn buffered_write_figures(
    job: &JobResults,
    disk: &DiskJob,
    results: &RunResults,
    resources: Option<&ResourceSeries>,
) -> Option<BufferedWriteFigures> {
    let written: u64 = job
        .operations
        .iter()
        .filter(|o| o.op == "write")
        .map(|o| o.bytes)
        .sum();
    let block_device = job.target.get("layout").and_then(|l| l.as_str()) == Some("block_device");
    if disk.direct || written == 0 || disk.sync_cadence().is_some() || block_device {
        return None;
    }
    Some(BufferedWriteFigures {
        written_bytes: written,
        free_bytes: free_memory(results, resources)?,
    })
}

/// Writes that fit in free memory can all sit in the page cache as dirty pages when the run
/// ends: their rate is the memory's. Beyond that the kernel must write back as it goes and
/// throttles the writers to the device's pace.
pub fn buffered_writes(f: &BufferedWriteFigures) -> Check {
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let said = format!(
        "{:.2} GiB written through the page cache with no fsync or fdatasync, with {:.2} GiB \
         of memory free",
        gib(f.written_bytes),
        gib(f.free_bytes)
    );
    if f.written_bytes < f.free_bytes {
        let tail = ": the writes may not have reached the device, so their rate is the page \
                    cache's; set direct = true or fsync_every, or write more than memory holds";
        Check::new("buffered_writes", Warned, format!("{said}{tail}"))
    } else {
        let tail = ": more than memory holds, so most of it had to reach the device";
        Check::new("buffered_writes", Passed, format!("{said}{tail}"))
    }
}

// ---- O_DIRECT device operations -------------------------------------------------------

pub struct DirectFigures {
    pub device: String,
    /// Reads and writes the direct jobs on the device completed, and their bytes.
    pub issued_ops: u64,
    pub issued_bytes: u64,
    /// What `/proc/diskstats` counted on the device over the same window.
    pub device_ops: u64,
    pub device_bytes: u64,
}

fn direct_checks(results: &RunResults, workload: &Workload, r: &ResourceSeries) -> Vec<Check> {
    let mut by_device: Vec<DirectFigures> = Vec::new();
    let jobs = results.jobs.iter().zip(&workload.jobs);
    for (job, spec) in jobs {
        let Job::Disk(disk) = spec else { continue };
        let device = job.target.get("device").and_then(|d| d.as_str());
        let (Some(device), true) = (device, disk.direct) else {
            continue;
        };
        let Some(seen) = r.summary.devices.iter().find(|d| d.device == device) else {
            continue;
        };
        let ops = job
            .operations
            .iter()
            .filter(|o| o.op == "read" || o.op == "write");
        let (count, bytes) = ops.fold((0, 0), |(c, b), o| (c + o.count, b + o.bytes));
        let at = by_device.iter().position(|f| f.device == device);
        let entry = match at {
            Some(i) => &mut by_device[i],
            None => {
                by_device.push(DirectFigures {
                    device: device.to_owned(),
                    issued_ops: 0,
                    issued_bytes: 0,
                    device_ops: seen.reads + seen.writes,
                    device_bytes: seen.read_bytes + seen.write_bytes,
                });
                by_device.last_mut().expect("just pushed")
            }
        };
        entry.issued_ops += count;
        entry.issued_bytes += bytes;
    }
    by_device
        .iter()
        .map(|f| direct_device_ops(f).about(&f.device))
        .collect()
}

/// How far apart device and issued operations may be.
const DIRECT_TOLERANCE: f64 = 0.1;

pub fn direct_device_ops(f: &DirectFigures) -> Check {
    let ratio = |a: u64, b: u64| {
        if b > 0 {
            a as f64 / b as f64
        } else {
            f64::INFINITY
        }
    };
    let ops = ratio(f.device_ops, f.issued_ops);
    let bytes = ratio(f.device_bytes, f.issued_bytes);
    let said = format!(
        "{} counted {} reads and writes for the {} the O_DIRECT jobs issued ({:+.1} %)",
        f.device,
        f.device_ops,
        f.issued_ops,
        (ops - 1.0) * 100.0
    );
    let near = |r: f64| (r - 1.0).abs() <= DIRECT_TOLERANCE;
    let (status, tail) = if near(ops) {
        (Passed, "")
    } else if near(bytes) {
        (
            Warned,
            "; the bytes agree, so the block layer merged or split requests",
        )
    } else if bytes > 1.0 {
        (
            Warned,
            "; the device also moved bytes plimsoll did not issue: other I/O on the device \
             (other processes, the file system's journal) explains the difference",
        )
    } else {
        (
            Failed,
            "; fewer bytes reached the device than were issued, so some operations never reached \
             it (is O_DIRECT honoured on this file system?)",
        )
    };
    Check::new("direct_device_ops", status, format!("{said}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp(mean: f64, peak: f64) -> MeanPeak {
        MeanPeak { mean, peak }
    }

    #[test]
    fn a_short_window_fails_an_interruption_warns_a_full_one_passes() {
        let window = |measured_s, stopped| WindowFigures {
            requested_s: 30.0,
            measured_s,
            stopped,
            counted: false,
        };
        assert_eq!(measured_window(&window(12.0, None)).status, Failed);
        let counted = WindowFigures {
            counted: true,
            ..window(0.03, None)
        };
        assert_eq!(measured_window(&counted).status, Passed);
        assert_eq!(
            measured_window(&window(12.0, Some(Stop::Interrupted))).status,
            Warned
        );
        assert_eq!(measured_window(&window(45.0, None)).status, Warned);
        assert_eq!(measured_window(&window(30.02, None)).status, Passed);
    }

    #[test]
    fn a_stopped_run_is_called_early_only_when_it_fell_short_of_the_end() {
        let said = |measured_s, stopped| {
            let f = WindowFigures {
                requested_s: 10.0,
                measured_s,
                stopped: Some(stopped),
                counted: false,
            };
            let check = measured_window(&f);
            (check.status, check.explanation)
        };
        let early = said(4.2, Stop::Interrupted);
        assert_eq!(
            early,
            (
                Warned,
                "measured 4.20 s of the 10.00 s asked for; the run was stopped early \
                 (interrupted), so the figures cover part of it"
                    .to_owned()
            )
        );
        let (status, text) = said(10.01, Stop::Interrupted);
        assert_eq!(status, Warned);
        assert_eq!(
            text,
            "measured 10.01 s of the 10.00 s asked for; the run was interrupted, though its \
             measured time covers what was asked for"
        );
        let (status, text) = said(10.01, Stop::Aborted { after_s: 10.0 });
        assert_eq!(status, Passed);
        assert_eq!(
            text,
            "measured 10.01 s of the 10.00 s asked for; the run was aborted on a threshold \
             after 10.00 s, at or after the requested end, so the window is whole"
        );
        // The drain of what was in flight can carry the measured time past the end of a run
        // aborted before it.
        let (status, text) = said(10.01, Stop::Aborted { after_s: 9.5 });
        assert_eq!(status, Warned);
        assert!(
            text.ends_with(
                "the run was stopped early (aborted on a threshold after 9.50 s), so the \
                 figures cover part of it"
            ),
            "{text}"
        );
        // 9.999 s reads as 10.00 s, and is not called short.
        assert!(!said(9.999, Stop::Interrupted).1.contains("early"));
    }

    fn saturation(mean: f64, thread: f64, lagging: &[&str]) -> SaturationFigures {
        SaturationFigures {
            cores_given: 2.0,
            plimsoll_cores: mp(mean, mean),
            busiest_thread: Some(("disk-0".into(), thread)),
            lagging_jobs: lagging.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_generator_is_suspect_when_its_cores_or_one_thread_are_full_or_lag_grows() {
        let all_cores = generator_saturation(&saturation(1.9, 0.95, &[]));
        assert_eq!(all_cores.status, Warned);
        assert!(
            all_cores
                .explanation
                .contains("possibly limited by the generator")
        );
        let one_thread = generator_saturation(&saturation(1.0, 0.97, &[]));
        assert!(
            one_thread.explanation.contains("disk-0 was busy 97 %"),
            "{one_thread:?}"
        );
        let lag = generator_saturation(&saturation(0.2, 0.1, &["get"]));
        assert!(
            lag.explanation.contains("lag of get kept growing"),
            "{lag:?}"
        );
        assert_eq!(
            generator_saturation(&saturation(0.6, 0.4, &[])).status,
            Passed
        );
    }

    #[test]
    fn foreign_cpu_warns_above_a_quarter_core_on_a_small_host() {
        let foreign = |mean| ForeignFigures {
            host_cores: 2.0,
            foreign_cores: mp(mean, mean),
        };
        assert_eq!(foreign_cpu(&foreign(0.9)).status, Warned);
        assert_eq!(foreign_cpu(&foreign(0.1)).status, Passed);
    }

    fn closed(ops_per_s: f64, latency_ms: f64) -> ClosedFigures {
        ClosedFigures {
            depth: 32.0,
            ops_per_s,
            mean_latency_s: latency_ms / 1e3,
        }
    }

    #[test]
    fn littles_law_holds_when_latency_times_throughput_is_the_depth() {
        // 32 in flight at 0.32 ms each carry 100k op/s.
        assert_eq!(littles_law(&closed(100_000.0, 0.32)).status, Passed);
        let idle = littles_law(&closed(50_000.0, 0.32));
        assert_eq!(idle.status, Warned);
        assert!(idle.explanation.contains("16.00 in flight"), "{idle:?}");
        assert_eq!(littles_law(&closed(200_000.0, 0.32)).status, Failed);
    }

    #[test]
    fn littles_law_reads_the_rate_the_summary_table_shows() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let results = RunResults::read(&fixtures.join("small-results.json")).expect("it reads");
        let workload = crate::workload::load_file(&fixtures.join("small.toml")).expect("it loads");
        // The fixture drained past its requested window, so the two windows differ by 2 %.
        assert!(results.measured_ns > results.duration_requested_ns);
        let checks = evaluate(&results, &workload);
        let little = checks.iter().find(|c| c.name == "littles_law");
        let little = little.expect("a littles_law check on the closed job");
        let table: f64 = results.jobs[0].operations.iter().map(|o| o.ops_per_s).sum();
        let rate = format!("× {table:.0} op/s =");
        assert!(little.explanation.contains(&rate), "{rate} in {little:?}");
    }

    fn rate(requested: f64, achieved: f64) -> RateFigures {
        RateFigures {
            requested,
            achieved,
            unit: "op/s",
            what: "iops_cap",
            verdict: None,
        }
    }

    #[test]
    fn a_rate_must_land_within_five_percent_below_and_above_what_was_asked() {
        assert_eq!(requested_rate(&rate(1000.0, 990.0)).status, Passed);
        let short = requested_rate(&rate(1000.0, 600.0));
        assert_eq!(short.status, Failed);
        assert!(short.explanation.contains("600 op/s"), "{short:?}");
        assert_eq!(requested_rate(&rate(1000.0, 1200.0)).status, Failed);
    }

    #[test]
    fn buffered_reads_of_a_file_that_fits_in_free_memory_measure_the_page_cache() {
        let gib = 1u64 << 30;
        let fits = page_cache(&PageCacheFigures {
            file_bytes: gib,
            free_bytes: 8 * gib,
        });
        assert_eq!(fits.status, Warned);
        assert!(fits.explanation.contains("page cache, not the device"));
        let larger = PageCacheFigures {
            file_bytes: 16 * gib,
            free_bytes: 8 * gib,
        };
        assert_eq!(page_cache(&larger).status, Passed);
    }

    #[test]
    fn buffered_writes_that_fit_in_free_memory_measure_the_page_cache() {
        let gib = 1u64 << 30;
        let fits = buffered_writes(&BufferedWriteFigures {
            written_bytes: gib,
            free_bytes: 8 * gib,
        });
        assert_eq!(fits.status, Warned);
        assert!(fits.explanation.contains("fsync_every"), "{fits:?}");
        let larger = BufferedWriteFigures {
            written_bytes: 16 * gib,
            free_bytes: 8 * gib,
        };
        assert_eq!(buffered_writes(&larger).status, Passed);
    }

    fn direct(device_ops: u64, device_kib: u64) -> DirectFigures {
        DirectFigures {
            device: "vda".into(),
            issued_ops: 1000,
            issued_bytes: 1000 * 4096,
            device_ops,
            device_bytes: device_kib * 1024,
        }
    }

    #[test]
    fn device_operations_far_from_issued_ones_are_explained_by_their_bytes() {
        assert_eq!(direct_device_ops(&direct(1030, 4120)).status, Passed);
        let merged = direct_device_ops(&direct(500, 4000));
        assert_eq!(merged.status, Warned);
        assert!(merged.explanation.contains("merged or split"), "{merged:?}");
        let other = direct_device_ops(&direct(3000, 12_000));
        assert!(
            other.explanation.contains("other I/O on the device"),
            "{other:?}"
        );
        assert_eq!(direct_device_ops(&direct(100, 400)).status, Failed);
    }
}
