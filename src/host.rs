//! Facts about the machine and the file systems a run uses, gathered once before load starts so
//! that a results file says where its numbers came from. Everything is read from `/proc`,
//! `/sys` and `/etc` without running a command, and nothing here fails: a fact that cannot be
//! read is `None`. It does not sample anything over time (the monitor does that), and it does
//! not judge whether a device suits a workload (validation does that).

use std::ffi::OsString;
use std::fs;
use std::num::NonZero;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The machine a run happened on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFacts {
    /// The host name, as `hostname` prints it.
    pub hostname: Option<String>,
    /// The kernel release, as `uname -r` prints it (`6.1.0-18-amd64`).
    pub kernel_release: Option<String>,
    /// The distribution's own name for itself (`PRETTY_NAME` in `/etc/os-release`).
    pub os_name: Option<String>,
    /// The first CPU's model name from `/proc/cpuinfo`.
    pub cpu_model: Option<String>,
    /// Logical cores this process may run on (after affinity masks and cgroup quotas), which
    /// can be fewer than the machine has.
    pub logical_cores: Option<usize>,
    /// Total memory the kernel manages (`MemTotal`), in bytes.
    pub memory_bytes: Option<u64>,
    /// The plimsoll version that gathered these facts and ran the load.
    pub plimsoll_version: String,
}

impl HostFacts {
    /// Reads the facts of the machine this process runs on.
    pub fn gather() -> HostFacts {
        HostFacts {
            hostname: read_line("/proc/sys/kernel/hostname"),
            kernel_release: read_line("/proc/sys/kernel/osrelease"),
            os_name: read_text("/etc/os-release").and_then(|t| os_release_name(&t)),
            cpu_model: read_text("/proc/cpuinfo").and_then(|t| cpu_model(&t)),
            logical_cores: std::thread::available_parallelism().ok().map(NonZero::get),
            memory_bytes: read_text("/proc/meminfo").and_then(|t| mem_total_bytes(&t)),
            plimsoll_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// Where a path used by a run lives: its file system, mount and block device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathFacts {
    /// The path asked about, as given (lossy where it is not UTF-8).
    pub path: String,
    /// The file system type the mount table names (`ext4`, `xfs`, `tmpfs`, `overlay`).
    pub fs_type: Option<String>,
    /// The mount point of the file system holding the path.
    pub mount_point: Option<String>,
    /// What the mount table says is mounted there (`/dev/vda1`, `tmpfs`, `overlay`).
    pub mount_source: Option<String>,
    /// The kernel's name of the block device holding the path (`vda`, `nvme0n1p2`, `dm-0`),
    /// the name `/proc/diskstats` uses; `None` for file systems with no device (tmpfs).
    pub device: Option<String>,
    /// Whether the device (or, for a partition, its disk) says it is rotational. Virtual disks
    /// often claim to be, whatever backs them.
    pub rotational: Option<bool>,
}

impl PathFacts {
    /// Reads the facts of `path`. A path that does not exist yet (a file a job will create) is
    /// described by its nearest existing ancestor.
    pub fn for_path(path: &Path) -> PathFacts {
        let real = existing_ancestor(path).and_then(|p| fs::canonicalize(p).ok());
        let mount = real.as_deref().and_then(mount_of);
        let device = real.as_deref().and_then(device_of_path);
        let device = device.or_else(|| mount.as_ref().and_then(|m| device_of_source(&m.source)));
        PathFacts {
            path: path.to_string_lossy().into_owned(),
            rotational: device.as_deref().and_then(rotational),
            device,
            fs_type: mount.as_ref().map(|m| m.fs_type.clone()),
            mount_point: mount
                .as_ref()
                .map(|m| m.mount_point.to_string_lossy().into_owned()),
            mount_source: mount.map(|m| m.source),
        }
    }
}

/// What this host's kernel says about its own wall clock, read with `adjtimex` (which only
/// reads when it is asked to change nothing). It says whether a time daemon keeps the clock
/// synchronized and how far off the kernel thinks it may be; it cannot say how far this
/// clock is from another host's, which nothing here measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSync {
    /// Whether the kernel counts its clock as synchronized (not `TIME_ERROR`, no
    /// `STA_UNSYNC`). A clock nobody disciplines reads `false`.
    pub synchronized: bool,
    /// The kernel's bound on the clock's error, in microseconds (`maxerror`; 16 s when
    /// unsynchronized).
    pub max_error_us: u64,
    /// The kernel's estimate of the clock's error, in microseconds (`esterror`).
    pub est_error_us: u64,
}

impl ClockSync {
    /// The kernel's view, or `None` where `adjtimex` is refused (some sandboxes).
    pub fn read() -> Option<ClockSync> {
        // SAFETY: `timex` is plain integers, for which all zeroes is a valid value; with
        // `modes` zero the call only fills the struct in and changes nothing.
        let mut tx: libc::timex = unsafe { std::mem::zeroed() };
        // SAFETY: `tx` is a valid, exclusively borrowed `timex` for the duration of the call.
        let state = unsafe { libc::adjtimex(&mut tx) };
        if state < 0 {
            return None;
        }
        Some(ClockSync {
            synchronized: state != libc::TIME_ERROR && tx.status & libc::STA_UNSYNC == 0,
            max_error_us: u64::try_from(tx.maxerror).unwrap_or(0),
            est_error_us: u64::try_from(tx.esterror).unwrap_or(0),
        })
    }
}

fn read_text(path: &str) -> Option<String> {
    fs::read_to_string(path).ok()
}

fn read_line(path: impl AsRef<Path>) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    Some(text.trim())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// The value of the first `key : value` line whose key is one of `keys`.
fn colon_field(text: &str, keys: &[&str]) -> Option<String> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| keys.contains(&key.trim()))
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// x86 names the model `model name`; some ARM and MIPS kernels use the others.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    colon_field(
        cpuinfo,
        &["model name", "Hardware", "cpu model", "Processor"],
    )
}

fn mem_total_bytes(meminfo: &str) -> Option<u64> {
    let value = colon_field(meminfo, &["MemTotal"])?;
    let kib = value.strip_suffix("kB")?.trim().parse::<u64>().ok()?;
    kib.checked_mul(1024)
}

fn os_release_name(os_release: &str) -> Option<String> {
    let value = os_release
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME="))?;
    Some(value.trim().trim_matches('"').to_owned()).filter(|v| !v.is_empty())
}

fn existing_ancestor(path: &Path) -> Option<&Path> {
    path.ancestors().map(or_here).find(|p| p.exists())
}

/// A bare relative name's last ancestor is the empty path, which means the current folder.
fn or_here(path: &Path) -> &Path {
    if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    }
}

/// One line of `/proc/self/mountinfo`, the parts of it we keep.
#[derive(Debug, Clone, PartialEq)]
struct Mount {
    mount_point: PathBuf,
    fs_type: String,
    source: String,
}

fn mount_of(path: &Path) -> Option<Mount> {
    let table = fs::read("/proc/self/mountinfo").ok()?;
    innermost_mount(parse_mountinfo(&table), path)
}

/// The mount with the longest mount point containing `path`; of mounts stacked on one point,
/// the last listed is the one on top.
fn innermost_mount(mounts: Vec<Mount>, path: &Path) -> Option<Mount> {
    mounts
        .into_iter()
        .filter(|m| path.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.components().count())
}

fn parse_mountinfo(table: &[u8]) -> Vec<Mount> {
    table
        .split(|&b| b == b'\n')
        .filter_map(parse_mount_line)
        .collect()
}

/// Fields: id, parent, major:minor, root, mount point, options, optional fields ended by a
/// lone `-`, then file system type, source and super-block options.
fn parse_mount_line(line: &[u8]) -> Option<Mount> {
    let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let mount_point = fields.get(4)?;
    let dash = fields.iter().skip(6).position(|f| *f == b"-")? + 6;
    let text = |i: usize| {
        fields
            .get(i)
            .map(|f| String::from_utf8_lossy(&unescape(f)).into_owned())
    };
    Some(Mount {
        mount_point: PathBuf::from(OsString::from_vec(unescape(mount_point))),
        fs_type: text(dash + 1)?,
        source: text(dash + 2)?,
    })
}

/// The kernel writes space, tab, newline and backslash in mount table paths as `\ooo`.
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut rest = field;
    while let Some((&first, tail)) = rest.split_first() {
        match octal_escape(rest) {
            Some(byte) => {
                out.push(byte);
                rest = &rest[4..];
            }
            None => {
                out.push(first);
                rest = tail;
            }
        }
    }
    out
}

fn octal_escape(bytes: &[u8]) -> Option<u8> {
    let [b'\\', digits @ ..] = bytes.get(..4)? else {
        return None;
    };
    if !digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
        return None;
    }
    u8::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok()
}

/// The block device whose number the path's inode carries. File systems without one (tmpfs,
/// overlay, btrfs subvolumes) carry an anonymous number with no entry under `/sys/dev/block`.
fn device_of_path(path: &Path) -> Option<String> {
    let dev = fs::metadata(path).ok()?.dev();
    let sys = format!("/sys/dev/block/{}:{}", libc::major(dev), libc::minor(dev));
    let uevent = fs::read_to_string(Path::new(&sys).join("uevent")).ok()?;
    uevent
        .lines()
        .find_map(|l| l.strip_prefix("DEVNAME="))
        .map(str::to_owned)
}

/// A mount source that is a device node (`/dev/mapper/root` → `dm-0`), for file systems whose
/// inodes do not carry the device's number.
fn device_of_source(source: &str) -> Option<String> {
    if !source.starts_with("/dev/") {
        return None;
    }
    let node = fs::canonicalize(source).ok()?;
    let name = node.file_name()?.to_str()?.to_owned();
    Path::new("/sys/class/block")
        .join(&name)
        .exists()
        .then_some(name)
}

/// A partition has no queue of its own; its disk, the parent folder in sysfs, has.
fn rotational(device: &str) -> Option<bool> {
    let sys = Path::new("/sys/class/block").join(device);
    let queue = if sys.join("partition").exists() {
        sys.join("../queue")
    } else {
        sys.join("queue")
    };
    match read_line(queue.join("rotational"))?.as_str() {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// What a command prints, trimmed; the tests compare our reading with the tools a user
    /// would reach for.
    fn run(program: &str, args: &[&str]) -> String {
        let out = Command::new(program)
            .args(args)
            .output()
            .expect("run a system tool");
        assert!(out.status.success(), "{program} {args:?} failed");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    #[test]
    fn host_facts_agree_with_the_system_tools() {
        let facts = HostFacts::gather();

        assert_eq!(
            facts.kernel_release.as_deref(),
            Some(run("uname", &["-r"]).as_str())
        );
        assert_eq!(
            facts.hostname.as_deref(),
            Some(run("uname", &["-n"]).as_str())
        );
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(facts.logical_cores, Some(cores));
        assert_eq!(facts.plimsoll_version, env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn memory_matches_free_in_bytes() {
        let free = run("free", &["-b"]);
        let total = free.lines().find_map(|l| l.strip_prefix("Mem:")).unwrap();
        let total: u64 = total.split_whitespace().next().unwrap().parse().unwrap();
        assert_eq!(HostFacts::gather().memory_bytes, Some(total));
    }

    #[test]
    fn cpu_model_is_the_first_cpus() {
        let model = HostFacts::gather().cpu_model.expect("a CPU model");
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap();
        assert!(cpuinfo.lines().any(|l| l.ends_with(&format!(": {model}"))));

        let arm = "processor\t: 0\nBogoMIPS\t: 48.00\n\nHardware\t: BCM2835\n";
        assert_eq!(cpu_model(arm).as_deref(), Some("BCM2835"));
        assert_eq!(cpu_model("processor\t: 0\n"), None);
    }

    #[test]
    fn meminfo_is_read_in_kib_and_reported_in_bytes() {
        let meminfo = "MemTotal:       24683792 kB\nMemFree:         1000 kB\n";
        assert_eq!(mem_total_bytes(meminfo), Some(24_683_792 * 1024));
        assert_eq!(mem_total_bytes("MemTotal: lots\n"), None);
    }

    #[test]
    fn os_name_drops_the_quotes() {
        let text = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(
            os_release_name(text).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
    }

    /// The file system type, mount point and source as findmnt reports them for `path`.
    fn findmnt(path: &Path) -> Vec<String> {
        let path = path.to_str().unwrap();
        let out = run("findmnt", &["-n", "-o", "FSTYPE,TARGET,SOURCE", "-T", path]);
        out.split_whitespace().map(str::to_owned).collect()
    }

    /// `stat -f` names file systems by the super-block magic, which is one for ext2, 3 and 4.
    fn same_family(ours: &str, stat_name: &str) -> bool {
        ours == stat_name || (stat_name == "ext2/ext3" && ours.starts_with("ext"))
    }

    #[test]
    fn file_system_of_the_source_tree_matches_findmnt_and_stat() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let facts = PathFacts::for_path(dir);
        let mnt = findmnt(dir);

        assert_eq!(facts.fs_type.as_deref(), Some(mnt[0].as_str()));
        assert_eq!(facts.mount_point.as_deref(), Some(mnt[1].as_str()));
        assert_eq!(facts.mount_source.as_deref(), Some(mnt[2].as_str()));
        let stat_name = run("stat", &["-f", "-c", "%T", dir.to_str().unwrap()]);
        assert!(
            same_family(facts.fs_type.as_deref().unwrap(), &stat_name),
            "{stat_name}"
        );
    }

    #[test]
    fn work_folder_matches_stat() {
        let work = Path::new("/work");
        // Only machines of the project's kind have /work; the test above covers the rest.
        if !work.exists() {
            return;
        }
        let facts = PathFacts::for_path(work);
        let stat_name = run("stat", &["-f", "-c", "%T", "/work"]);
        assert!(
            same_family(facts.fs_type.as_deref().unwrap(), &stat_name),
            "{stat_name}"
        );
    }

    #[test]
    fn block_device_and_rotation_match_lsblk() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let facts = PathFacts::for_path(dir);
        let source = &findmnt(dir)[2];
        if !source.starts_with("/dev/") {
            assert_eq!(facts.device, None, "{source} is not a device");
            return;
        }
        let lsblk = run("lsblk", &["-ndo", "KNAME,ROTA", source]);
        let (name, rota) = lsblk.split_once(char::is_whitespace).unwrap();
        assert_eq!(facts.device.as_deref(), Some(name));
        assert_eq!(facts.rotational, Some(rota.trim() == "1"));
    }

    #[test]
    fn memory_file_systems_have_no_device() {
        let facts = PathFacts::for_path(Path::new("/dev/shm"));
        assert_eq!(facts.fs_type.as_deref(), Some("tmpfs"));
        assert_eq!(facts.device, None);
        assert_eq!(facts.rotational, None);
    }

    #[test]
    fn a_file_not_yet_created_is_described_by_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let planned = dir.path().join("not/yet/made.dat");
        let facts = PathFacts::for_path(&planned);
        assert_eq!(facts.path, planned.to_str().unwrap());
        assert_eq!(facts.fs_type, PathFacts::for_path(dir.path()).fs_type);
        assert!(facts.fs_type.is_some());

        let relative = PathFacts::for_path(Path::new("plimsoll-never-made.dat"));
        assert_eq!(
            relative.fs_type,
            PathFacts::for_path(Path::new(".")).fs_type
        );
        assert!(relative.fs_type.is_some());
    }

    #[test]
    fn mountinfo_lines_are_parsed_with_escapes_and_optional_fields() {
        let table = b"27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
            30 27 0:27 / /mnt/my\\040disk rw - xfs /dev/sdb1 rw\n\
            31 27 0:28 / /mnt rw - tmpfs tmpfs rw\n\
            32 31 0:29 / /mnt rw - overlay overlay rw\n";
        let mounts = parse_mountinfo(table);
        assert_eq!(mounts.len(), 4);
        assert_eq!(mounts[1].mount_point, Path::new("/mnt/my disk"));

        let spaced = innermost_mount(mounts.clone(), Path::new("/mnt/my disk/f")).unwrap();
        assert_eq!(
            (spaced.fs_type.as_str(), spaced.source.as_str()),
            ("xfs", "/dev/sdb1")
        );
        let stacked = innermost_mount(mounts.clone(), Path::new("/mnt/other")).unwrap();
        assert_eq!(stacked.fs_type, "overlay");
        // A folder whose name merely starts like a mount point is not inside it.
        assert_eq!(
            innermost_mount(mounts, Path::new("/mntx")).unwrap().fs_type,
            "ext4"
        );
    }

    #[test]
    fn results_round_trip_through_json() {
        let facts = (HostFacts::gather(), PathFacts::for_path(Path::new("/")));
        let json = serde_json::to_string(&facts).unwrap();
        assert!(json.contains("\"memory_bytes\":"));
        let back: (HostFacts, PathFacts) = serde_json::from_str(&json).unwrap();
        assert_eq!(back, facts);
    }
}
