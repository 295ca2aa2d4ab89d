//! Counters read from `/proc` where sysinfo has no figure: the host CPU split, memory, block
//! device statistics and this process's CPU time. Each reader parses text into cumulative
//! counters; turning two readings into rates is for the series. A file that cannot be read
//! gives `None` or an empty list, never an error: a missing figure must not stop a run.

use std::collections::BTreeMap;
use std::fs;

/// Cumulative CPU time of all cores from the first line of `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTicks {
    /// user + nice, guest time included (the kernel counts guest inside user).
    pub user: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    /// irq + softirq.
    pub irq: u64,
    pub steal: u64,
}

impl CpuTicks {
    pub fn total(&self) -> u64 {
        self.user + self.system + self.idle + self.iowait + self.irq + self.steal
    }
}

/// The `cpu` line of `/proc/stat`: user nice system idle iowait irq softirq steal ...
pub fn parse_stat(text: &str) -> Option<CpuTicks> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map_while(|f| f.parse().ok())
        .collect();
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    (v.len() >= 4).then(|| CpuTicks {
        user: at(0) + at(1),
        system: at(2),
        idle: at(3),
        iowait: at(4),
        irq: at(5) + at(6),
        steal: at(7),
    })
}

/// Memory figures from `/proc/meminfo`, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub total: u64,
    pub available: u64,
    /// The page cache (`Cached`).
    pub cached: u64,
}

pub fn parse_meminfo(text: &str) -> Option<Memory> {
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.split(':').next() == Some(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    };
    Some(Memory {
        total: field("MemTotal")?,
        available: field("MemAvailable")?,
        cached: field("Cached").unwrap_or(0),
    })
}

/// One device's cumulative counters from `/proc/diskstats` (see the kernel's
/// Documentation/admin-guide/iostats.rst); times in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskCounters {
    pub reads: u64,
    pub read_sectors: u64,
    pub read_ms: u64,
    pub writes: u64,
    pub write_sectors: u64,
    pub write_ms: u64,
    /// Time with at least one request in flight.
    pub busy_ms: u64,
    /// Sum over requests of their time in flight: the queue size integrated over time.
    pub weighted_ms: u64,
}

/// The devices in `wanted` that `/proc/diskstats` lists, by name.
pub fn parse_diskstats(text: &str, wanted: &[String]) -> BTreeMap<String, DiskCounters> {
    text.lines()
        .filter_map(diskstats_line)
        .filter(|(name, _)| wanted.iter().any(|w| w == name))
        .collect()
}

fn diskstats_line(line: &str) -> Option<(String, DiskCounters)> {
    let mut fields = line.split_whitespace().skip(2);
    let name = fields.next()?.to_owned();
    let v: Vec<u64> = fields.take(11).map_while(|f| f.parse().ok()).collect();
    (v.len() == 11).then(|| {
        let counters = DiskCounters {
            reads: v[0],
            read_sectors: v[2],
            read_ms: v[3],
            writes: v[4],
            write_sectors: v[6],
            write_ms: v[7],
            busy_ms: v[9],
            weighted_ms: v[10],
        };
        (name, counters)
    })
}

/// utime + stime of a `/proc/<pid>/stat` (or `task/<tid>/stat`) line, in clock ticks, with the
/// task's name. For a process these cover every thread it has or had, io_uring's io-wq
/// workers and SQPOLL thread included: the kernel makes those threads of the process.
pub fn parse_task_stat(text: &str) -> Option<(String, u64)> {
    // The name is in parentheses and may itself hold spaces and parentheses.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_owned();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // After the name: state is field 3 of stat(5), utime 14 and stime 15.
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

/// This process's CPU time over all its threads, in clock ticks.
pub fn self_ticks() -> Option<u64> {
    let text = fs::read_to_string("/proc/self/stat").ok()?;
    parse_task_stat(&text).map(|(_, ticks)| ticks)
}

/// Each live thread of this process: its id, name and CPU ticks.
pub fn self_threads() -> Vec<(u32, String, u64)> {
    let Ok(dir) = fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|entry| {
            let tid = entry.file_name().to_str()?.parse().ok()?;
            let text = fs::read_to_string(entry.path().join("stat")).ok()?;
            let (name, ticks) = parse_task_stat(&text)?;
            Some((tid, name, ticks))
        })
        .collect()
}

/// Clock ticks per second, as `/proc` counts them.
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf reads a constant of the C library and touches no memory of ours.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as u64 } else { 100 }
}

/// The `cpuN` lines of `/proc/stat`: the online cores the host CPU shares are of.
pub fn count_cpus(stat: &str) -> usize {
    let is_core =
        |l: &&str| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit);
    stat.lines().filter(is_core).count()
}

/// Resident pages of this process, the second field of `/proc/self/statm`.
pub fn self_rss_pages() -> Option<u64> {
    let text = fs::read_to_string("/proc/self/statm").ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}

pub fn page_bytes() -> u64 {
    // SAFETY: sysconf reads a constant of the C library and touches no memory of ours.
    let bytes = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if bytes > 0 { bytes as u64 } else { 4096 }
}

pub fn read(path: &str) -> Option<String> {
    fs::read_to_string(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_folds_nice_into_user_and_softirq_into_irq() {
        let text = "cpu  100 5 40 800 20 3 7 9 0 0\ncpu0 1 2 3 4\n";
        let t = parse_stat(text).unwrap();
        assert_eq!((t.user, t.system, t.idle, t.iowait), (105, 40, 800, 20));
        assert_eq!((t.irq, t.steal), (10, 9));
        assert_eq!(t.total(), 105 + 40 + 800 + 20 + 10 + 9);
    }

    #[test]
    fn meminfo_is_read_in_bytes() {
        let text = "MemTotal: 1000 kB\nMemFree: 10 kB\nMemAvailable: 600 kB\nCached: 300 kB\n";
        let m = parse_meminfo(text).unwrap();
        assert_eq!(
            (m.total, m.available, m.cached),
            (1_024_000, 614_400, 307_200)
        );
    }

    #[test]
    fn diskstats_keeps_only_wanted_devices() {
        let text = " 254 0 vda 10 1 80 7 20 2 160 9 0 12 30 0 0 0 0\n   7 0 loop0 0 0 0 0 0 0 0 0 \
                    0 0 0\n";
        let found = parse_diskstats(text, &["vda".to_owned()]);
        let vda = found["vda"];
        assert_eq!(
            (vda.reads, vda.read_sectors, vda.writes, vda.write_sectors),
            (10, 80, 20, 160)
        );
        assert_eq!((vda.busy_ms, vda.weighted_ms), (12, 30));
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn task_stat_survives_odd_names() {
        let text = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 5 0 0";
        assert_eq!(parse_task_stat(text), Some(("a (b) c".to_owned(), 10)));
    }
}
