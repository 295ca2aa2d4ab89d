//! The disk driver on real files: PreparedDisk driven with recorders and a collector, as the
//! runner drives it, on a file system that takes O_DIRECT (the target directory, not /tmp).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use plimsoll::drivers::SetupError;
use plimsoll::drivers::disk::PreparedDisk;
use plimsoll::measure::{Clock, Collector, ErrorKind, JobTotals, OpTotals, Recorder};
use plimsoll::workload::DiskJob;

const ENGINES: [&str; 2] = ["io_uring", "sync"];

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("disk-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

fn job(path: &Path, body: &str) -> DiskJob {
    let text = format!("name = \"t\"\npath = \"{}\"\n{body}", path.display());
    toml::from_str(&text).unwrap_or_else(|e| panic!("job does not parse: {e}\n{text}"))
}

fn prepare(job: &DiskJob) -> PreparedDisk {
    PreparedDisk::prepare(job).unwrap_or_else(|e| panic!("setup failed: {e}"))
}

fn input_error(job: &DiskJob) -> String {
    match PreparedDisk::prepare(job) {
        Err(SetupError::Input { message, .. }) => message,
        Err(e) => panic!("expected an input error, got {e}"),
        Ok(_) => panic!("expected an input error, setup succeeded"),
    }
}

struct Run {
    totals: JobTotals,
    outcomes: Vec<anyhow::Result<()>>,
    wall: Duration,
}

impl Run {
    fn op(&self, name: &str) -> &OpTotals {
        let i = self.totals.op_names.iter().position(|n| *n == name);
        &self.totals.measured[i.unwrap_or_else(|| panic!("no op {name}"))]
    }

    fn errors(&self, name: &str) -> u64 {
        self.op(name).errors.total()
    }

    fn all_ok(&self) {
        for outcome in &self.outcomes {
            assert!(outcome.is_ok(), "worker failed: {:?}", outcome);
        }
    }
}

/// Runs every worker for `duration` (no warmup), as the runner does; sets `stop` after
/// `stop_after` if given.
fn run(disk: &PreparedDisk, duration: Duration, stop_after: Option<Duration>) -> Run {
    let started = Instant::now();
    let clock = Clock::new(
        started,
        Duration::ZERO,
        duration,
        Duration::from_millis(250),
    );
    let names = disk.op_names();
    let (sink, snapshots) = mpsc::channel();
    let mut spares = Vec::new();
    let mut recorders = Vec::new();
    for worker in 0..disk.workers() {
        let (spare_tx, spare_rx) = mpsc::channel();
        spares.push(spare_tx);
        recorders.push(Recorder::new(
            0,
            worker,
            names.len(),
            clock,
            sink.clone(),
            spare_rx,
        ));
    }
    drop(sink);
    let mut collector = Collector::new(vec![(names, spares)]);
    let stop = AtomicBool::new(false);
    let outcomes = std::thread::scope(|scope| {
        let handles: Vec<_> = recorders
            .into_iter()
            .enumerate()
            .map(|(worker, recorder)| {
                let stop = &stop;
                scope.spawn(move || disk.run_worker(worker, recorder, stop))
            })
            .collect();
        if let Some(after) = stop_after {
            std::thread::sleep(after);
            stop.store(true, Ordering::Relaxed);
        }
        for snapshot in snapshots.iter() {
            collector.absorb(snapshot);
        }
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let totals = collector.finish().remove(0);
    Run {
        totals,
        outcomes,
        wall: started.elapsed(),
    }
}

fn data_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[test]
fn op_counts_agree_with_bytes_over_block_size_on_both_engines() {
    for engine in ENGINES {
        for pattern in ["write", "randread"] {
            let dir = scratch();
            let body = format!(
                "size = \"8MiB\"\npattern = \"{pattern}\"\nblock_size = \"16KiB\"\n\
                 queue_depth = 4\nworkers = 2\nengine = \"{engine}\""
            );
            let disk = prepare(&job(dir.path(), &body));
            assert_eq!(disk.target().engine, engine);
            let run = run(&disk, Duration::from_millis(300), None);
            run.all_ok();
            let name = if pattern == "write" { "write" } else { "read" };
            let op = run.op(name);
            assert!(op.count > 10, "{engine} {pattern}: only {} ops", op.count);
            assert_eq!(op.bytes, op.count * 16384, "{engine} {pattern}");
            assert_eq!(op.latency.count(), op.count);
            assert_eq!(run.errors(name), 0);
        }
    }
}

#[test]
fn randrw_comes_out_at_the_read_share() {
    let dir = scratch();
    let body = "size = \"16MiB\"\npattern = \"randrw\"\nread_share = \"70%\"\nqueue_depth = 8";
    let disk = prepare(&job(dir.path(), body));
    assert_eq!(disk.op_names(), ["read", "write"]);
    let run = run(&disk, Duration::from_millis(1000), None);
    run.all_ok();
    let (reads, writes) = (run.op("read").count, run.op("write").count);
    let n = (reads + writes) as f64;
    assert!(n > 500.0, "too few operations to judge: {reads} + {writes}");
    // Each operation is a read with probability 0.7, so the share strays by about
    // sqrt(0.21 / n); four times that is a slip a sound mix makes once in ~15,000 runs,
    // however few operations a loaded machine manages.
    let share = reads as f64 / n;
    let tolerance = 4.0 * (0.21 / n).sqrt();
    assert!(
        (share - 0.7).abs() < tolerance,
        "read share {share:.3} of {n}, allowed 0.7 ± {tolerance:.3}"
    );
}

#[test]
fn direct_io_with_an_unaligned_block_size_is_refused_naming_the_alignment() {
    let dir = scratch();
    let body = "size = \"1MiB\"\npattern = \"randread\"\nblock_size = 1000\ndirect = true";
    let message = input_error(&job(dir.path(), body));
    assert!(message.contains("block size 1000 B"), "{message}");
    assert!(message.contains("direct-I/O alignment"), "{message}");
    assert!(
        message.contains("512 B") || message.contains("4KiB"),
        "{message}"
    );
    assert!(
        data_files(dir.path()).is_empty(),
        "setup left {:?}",
        data_files(dir.path())
    );
}

#[test]
fn direct_io_runs_on_both_engines() {
    for engine in ENGINES {
        let dir = scratch();
        let body = format!(
            "size = \"4MiB\"\npattern = \"randrw\"\ndirect = true\nqueue_depth = 8\n\
             engine = \"{engine}\""
        );
        let disk = prepare(&job(dir.path(), &body));
        let target = disk.target();
        assert!(
            target.direct_io_alignment.is_some_and(|a| a >= 512),
            "{target:?}"
        );
        let run = run(&disk, Duration::from_millis(300), None);
        run.all_ok();
        assert!(run.op("read").count > 0 && run.op("write").count > 0);
        assert_eq!(run.errors("read") + run.errors("write"), 0, "{engine}");
    }
}

#[test]
fn an_existing_file_plimsoll_did_not_make_is_not_written_without_allow_existing() {
    let dir = scratch();
    let file = dir.path().join("precious.db");
    let contents = vec![7u8; 256 * 1024];
    std::fs::write(&file, &contents).unwrap();

    let message = input_error(&job(&file, "pattern = \"randwrite\""));
    assert!(message.contains("allow_existing = true"), "{message}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        contents,
        "the file was changed"
    );

    // Reading it needs no flag, and the size defaults to the file's.
    let disk = prepare(&job(&file, "pattern = \"randread\""));
    assert_eq!(
        (disk.target().file_size_bytes, disk.target().layout),
        (256 * 1024, "existing")
    );
    let run = run(&disk, Duration::from_millis(100), None);
    run.all_ok();
    disk.cleanup();
    assert_eq!(
        std::fs::read(&file).unwrap(),
        contents,
        "a read job changed the file"
    );
    assert!(
        file.exists(),
        "cleanup removed a file plimsoll did not create"
    );

    let disk = prepare(&job(
        &file,
        "pattern = \"randwrite\"\nallow_existing = true",
    ));
    assert_eq!(disk.target().layout, "existing");
}

#[test]
fn a_created_file_is_removed_at_cleanup_unless_kept_and_a_kept_one_is_reused() {
    let dir = scratch();
    let body = "size = \"2MiB\"\npattern = \"randwrite\"";
    let disk = prepare(&job(dir.path(), body));
    let target = disk.target();
    assert!(
        target.created && target.path.starts_with(dir.path()),
        "{target:?}"
    );
    assert!(target.path.ends_with("t.plimsoll.dat"));
    assert_eq!(std::fs::metadata(&target.path).unwrap().len(), 2 << 20);
    disk.cleanup();
    assert!(
        !target.path.exists(),
        "cleanup left {}",
        target.path.display()
    );

    let kept = format!("{body}\nkeep = true");
    let disk = prepare(&job(dir.path(), &kept));
    let path = disk.target().path;
    disk.cleanup();
    assert!(path.exists(), "keep = true, yet the file is gone");
    let again = prepare(&job(dir.path(), body));
    assert_eq!(
        (again.target().layout, again.target().created),
        ("reused", false)
    );
    again.cleanup();
    assert!(
        path.exists(),
        "a reused file belongs to the run that created it"
    );
}

#[test]
fn a_sync_follows_every_nth_write_on_both_engines() {
    for engine in ENGINES {
        for (key, name) in [("fsync_every", "fsync"), ("fdatasync_every", "fdatasync")] {
            let dir = scratch();
            let body = format!(
                "size = \"4MiB\"\npattern = \"write\"\n{key} = 4\nqueue_depth = 4\n\
                 engine = \"{engine}\""
            );
            let disk = prepare(&job(dir.path(), &body));
            assert_eq!(disk.op_names(), ["write", name]);
            let run = run(&disk, Duration::from_millis(300), None);
            run.all_ok();
            let (writes, syncs) = (run.op("write").count, run.op(name).count);
            assert!(syncs > 2, "{engine}: {syncs} {name}s");
            // A sync due when the clock ran out may not have been issued.
            let due = writes / 4;
            let what = format!("{engine}: {writes} writes, {syncs} {name}s");
            assert!(syncs == due || syncs + 1 == due, "{what}");
            assert_eq!(run.op(name).bytes, 0);
        }
    }
}

#[test]
fn the_iops_cap_holds_for_the_whole_job() {
    let dir = scratch();
    let body = "size = \"4MiB\"\npattern = \"randread\"\nworkers = 2\nqueue_depth = 4\n\
                iops_cap = 400";
    let disk = prepare(&job(dir.path(), body));
    let run = run(&disk, Duration::from_secs(1), None);
    run.all_ok();
    let count = run.op("read").count;
    assert!(
        (360..=440).contains(&count),
        "{count} reads in 1 s under a 400/s cap"
    );
}

#[test]
fn the_bandwidth_cap_holds() {
    let dir = scratch();
    let body = "size = \"4MiB\"\npattern = \"read\"\nblock_size = \"64KiB\"\n\
                bandwidth_cap = \"8MiB\"\nengine = \"sync\"";
    let disk = prepare(&job(dir.path(), body));
    let run = run(&disk, Duration::from_millis(500), None);
    run.all_ok();
    let bytes = run.op("read").bytes;
    assert!(
        (3 << 20..=5 << 20).contains(&bytes),
        "{bytes} B in 0.5 s under 8MiB/s"
    );
}

#[test]
fn sqpoll_rings_run() {
    let dir = scratch();
    let body = "size = \"4MiB\"\npattern = \"randread\"\nqueue_depth = 8\nsqpoll = true";
    let disk = prepare(&job(dir.path(), body));
    assert!(disk.target().sqpoll);
    let run = run(&disk, Duration::from_millis(200), None);
    run.all_ok();
    assert!(run.op("read").count > 100, "{} reads", run.op("read").count);
}

#[test]
fn a_stop_ends_workers_promptly() {
    let dir = scratch();
    let disk = prepare(&job(
        dir.path(),
        "size = \"4MiB\"\npattern = \"randrw\"\nqueue_depth = 16",
    ));
    let run = run(
        &disk,
        Duration::from_secs(30),
        Some(Duration::from_millis(200)),
    );
    run.all_ok();
    assert!(
        run.wall < Duration::from_secs(2),
        "stopping took {:?}",
        run.wall
    );
    assert!(run.op("read").count > 0);
}

#[test]
fn a_layout_larger_than_the_free_space_fails_as_a_machine_problem() {
    let dir = scratch();
    let job = job(dir.path(), "size = \"10TiB\"\npattern = \"write\"");
    match PreparedDisk::prepare(&job) {
        Err(SetupError::Failed { source, .. }) => {
            let message = format!("{source:#}");
            assert!(message.contains("needs 10.0 TiB but"), "{message}");
            // The free space is whatever the disk has, said in binary units too.
            let free = message
                .split(" has ")
                .nth(1)
                .and_then(|m| m.split(" free").next());
            let free = free.unwrap_or_else(|| panic!("{message}"));
            let unit = free.split(" (").next().unwrap();
            assert!(
                ["KiB", "MiB", "GiB", "TiB"]
                    .iter()
                    .any(|u| unit.ends_with(u)),
                "{message}"
            );
        }
        Err(e) => panic!("expected a machine failure, got {e}"),
        Ok(_) => panic!("a 10 TiB layout was accepted"),
    }
    assert!(data_files(dir.path()).is_empty());
}

#[test]
fn a_block_device_needs_its_flag() {
    let Some(device) = any_block_device() else {
        panic!("this machine shows no block device under /sys/block");
    };
    let message = input_error(&job(&device, "pattern = \"randread\""));
    assert!(message.contains("allow_block_device = true"), "{message}");
}

fn any_block_device() -> Option<PathBuf> {
    std::fs::read_dir("/sys/block")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| Path::new("/dev").join(e.file_name()))
        .find(|p| p.exists())
}

/// Set in a child copy of this test binary, which then runs one scenario alone.
const CHILD: &str = "PLIMSOLL_DISK_TEST_CHILD";

/// Runs `test` again in a child process (so process-wide limits stay out of other tests) and
/// asserts that it passed.
fn in_child(test: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "child run of {test} failed: {:?}\n{log}",
        output.status
    );
    assert!(log.contains("1 passed"), "the child ran no test:\n{log}");
    false
}

#[test]
fn writes_past_the_file_size_limit_count_as_errors_not_a_crash() {
    if !in_child("writes_past_the_file_size_limit_count_as_errors_not_a_crash") {
        return;
    }
    let dir = scratch();
    for engine in ENGINES {
        let body = format!(
            "size = \"1MiB\"\npattern = \"randwrite\"\nqueue_depth = 4\nengine = \"{engine}\""
        );
        let disk = prepare(&job(dir.path(), &body));
        // Half the file lies past the limit: writes there fail with EFBIG (and SIGXFSZ, which
        // the driver ignores; if it did not, this process would die here).
        set_file_size_limit(512 * 1024);
        let run = run(&disk, Duration::from_millis(300), None);
        set_file_size_limit(libc::RLIM_INFINITY);
        run.all_ok();
        let write = run.op("write");
        let efbig = write
            .errors
            .iter()
            .find(|(k, _)| *k == ErrorKind::Errno(libc::EFBIG));
        assert!(
            efbig.is_some_and(|(_, n)| n > 10),
            "{engine}: {:?}",
            write.errors
        );
        assert!(write.count > 10, "{engine}: writes below the limit succeed");
    }
}

#[test]
fn a_worker_whose_every_operation_fails_reports_an_error() {
    if !in_child("a_worker_whose_every_operation_fails_reports_an_error") {
        return;
    }
    let dir = scratch();
    let disk = prepare(&job(dir.path(), "size = \"1MiB\"\npattern = \"write\""));
    set_file_size_limit(0);
    let run = run(&disk, Duration::from_millis(100), None);
    set_file_size_limit(libc::RLIM_INFINITY);
    let failure = run.outcomes[0]
        .as_ref()
        .expect_err("every write failed, yet the worker is ok");
    assert!(failure.to_string().contains("EFBIG"), "{failure:#}");
    assert!(run.errors("write") > 0);
}

fn set_file_size_limit(bytes: libc::rlim_t) {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: sets a resource limit of this (child) process from a valid struct.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &limit) }, 0);
}

#[test]
fn without_io_uring_setup_fails_or_falls_back_as_asked() {
    if !in_child("without_io_uring_setup_fails_or_falls_back_as_asked") {
        return;
    }
    deny_io_uring_setup();
    let dir = scratch();
    let body = "size = \"1MiB\"\npattern = \"randread\"\nqueue_depth = 4";
    match PreparedDisk::prepare(&job(dir.path(), body)) {
        Err(SetupError::Failed { source, .. }) => {
            let text = format!("{source:#}");
            assert!(
                text.contains("ENOSYS") && text.contains("allow_fallback"),
                "{text}"
            );
        }
        Err(e) => panic!("expected a machine failure, got {e}"),
        Ok(_) => panic!("io_uring was set up although the kernel refused it"),
    }
    assert!(data_files(dir.path()).is_empty());

    let disk = prepare(&job(dir.path(), &format!("{body}\nallow_fallback = true")));
    let target = disk.target();
    assert_eq!((target.engine, target.queue_depth), ("sync", 1));
    assert!(
        target
            .engine_fallback_reason
            .is_some_and(|r| r.contains("ENOSYS"))
    );
    // Long enough for the worker to be scheduled at all on a loaded machine: with 100 ms it
    // once measured no read.
    let run = run(&disk, Duration::from_secs(1), None);
    run.all_ok();
    assert!(run.op("read").count > 0);
}

/// A seccomp filter that makes io_uring_setup fail with ENOSYS, as on a kernel without it.
fn deny_io_uring_setup() {
    const LD_NR: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let filter = [
        libc::sock_filter {
            code: LD_NR,
            jt: 0,
            jf: 0,
            k: 0,
        },
        libc::sock_filter {
            code: JEQ,
            jt: 0,
            jf: 1,
            k: libc::SYS_io_uring_setup as u32,
        },
        libc::sock_filter {
            code: RET,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
        },
        libc::sock_filter {
            code: RET,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        },
    ];
    let program = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: no_new_privs only restricts this (child) process; the filter program is valid
    // for the duration of the call, which copies it.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &program),
            0
        );
    }
}
