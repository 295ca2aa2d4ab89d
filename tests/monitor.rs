//! The resource sampler and the self-checks on real runs: real files on the target's disk, a
//! busy child process, io_uring's own kernel threads, and the `[monitor]` keys as written.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use plimsoll::monitor::ResourceSeries;
use plimsoll::monitor::checks::{Check, CheckStatus};
use plimsoll::results::RunResults;
use plimsoll::runner::{RunOptions, run};
use plimsoll::workload::load_str;

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("monitor-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

/// A workload of `jobs` (TOML job sections, `DIR` standing for `dir`) measured for `seconds`.
fn workload(dir: &Path, seconds: u32, body: &str) -> String {
    let body = body.replace("DIR", &dir.display().to_string());
    format!("name = \"monitor\"\nduration = \"{seconds}s\"\ninterval = \"500ms\"\n{body}")
}

fn run_text(text: &str) -> RunResults {
    let stop = AtomicBool::new(false);
    run_stoppable(text, &stop)
}

fn run_stoppable(text: &str, stop: &AtomicBool) -> RunResults {
    let workload = load_str("t.toml", text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    run(&workload, None, stop, RunOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn resources(results: &RunResults) -> &ResourceSeries {
    results.resources.as_ref().expect("a resources section")
}

fn checks<'a>(results: &'a RunResults, name: &str) -> Vec<&'a Check> {
    results.checks.iter().filter(|c| c.name == name).collect()
}

fn check<'a>(results: &'a RunResults, name: &str, subject: &str) -> &'a Check {
    let found = checks(results, name);
    let about = found
        .into_iter()
        .find(|c| c.subject.as_deref() == Some(subject));
    about.unwrap_or_else(|| panic!("no {name} check on {subject}: {:#?}", results.checks))
}

fn direct_job(name: &str, extra: &str) -> String {
    format!(
        "[[jobs]]\nkind = \"disk\"\nname = \"{name}\"\npath = \"DIR\"\nsize = \"32MiB\"\n\
         pattern = \"randread\"\ndirect = true\n{extra}\n"
    )
}

fn buffered_job(name: &str, extra: &str) -> String {
    format!(
        "[[jobs]]\nkind = \"disk\"\nname = \"{name}\"\npath = \"DIR\"\nsize = \"4MiB\"\n\
         pattern = \"randread\"\nengine = \"sync\"\n{extra}\n"
    )
}

fn issued(results: &RunResults, job: usize, op: &str) -> u64 {
    let ops = results.jobs[job].operations.iter();
    ops.filter(|o| o.op == op).map(|o| o.count).sum()
}

#[test]
fn a_direct_disk_job_shows_as_reads_on_its_device_in_intervals_aligned_with_latency() {
    let dir = scratch();
    let results = run_text(&workload(
        dir.path(),
        2,
        &direct_job("rr", "queue_depth = 8"),
    ));
    let r = resources(&results);
    let device = results.jobs[0].target["device"].as_str().expect("a device");
    let seen = r
        .summary
        .devices
        .iter()
        .find(|d| d.device == device)
        .unwrap();
    let reads = issued(&results, 0, "read");
    assert!(reads > 100, "too few reads to judge: {reads}");
    assert!(
        seen.reads as f64 >= 0.9 * reads as f64,
        "{} device reads for {reads}",
        seen.reads
    );
    assert!(seen.reads_per_s.mean > 0.0 && seen.utilisation_pct.peak > 0.0);

    let latency_starts: Vec<u64> = results.jobs[0]
        .intervals
        .iter()
        .map(|i| i.start_ns)
        .collect();
    let resource_starts: Vec<u64> = r.intervals.iter().map(|i| i.start_ns).collect();
    // Aligned: every latency interval the sampler covered starts where a resource interval
    // does. An interval in which a stalled disk completed nothing has no latency row, and a
    // last sliver too short to sample has no resource row, so the lists need not match one
    // for one.
    assert!(resource_starts.len() >= 4, "{resource_starts:?}");
    let covered = *resource_starts.last().unwrap();
    let inside: Vec<u64> = latency_starts
        .iter()
        .copied()
        .filter(|s| *s <= covered)
        .collect();
    assert!(inside.len() >= 2, "{latency_starts:?}");
    assert!(
        inside.iter().all(|start| resource_starts.contains(start)),
        "{resource_starts:?} {latency_starts:?}"
    );
    assert_ne!(
        check(&results, "direct_device_ops", device).status,
        CheckStatus::Failed
    );
}

/// A copy of `yes` under a name no other process has, spinning on a core.
fn spinner(dir: &Path, name: &str) -> Child {
    let exe: PathBuf = dir.join(name);
    std::fs::copy("/usr/bin/yes", &exe).unwrap();
    Command::new(&exe).stdout(Stdio::null()).spawn().unwrap()
}

struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_busy_child_shows_as_a_watched_process_by_name_and_by_pid() {
    let dir = scratch();
    let child = Reaped(spinner(dir.path(), "plimsoll-spin"));
    let idle = Reaped(Command::new("sleep").arg("60").spawn().unwrap());
    let monitor = format!(
        "[monitor]\nwatch = [{{ name = \"plimsoll-spin\" }}, {{ pid = {} }}, {{ pid = {} }}]\n",
        child.0.id(),
        idle.0.id()
    );
    let job = direct_job("slow", "iops_cap = 100");
    let results = run_text(&workload(dir.path(), 2, &format!("{monitor}{job}")));
    let watched = &resources(&results).summary.watched;
    assert_eq!(watched.len(), 3, "{watched:#?}");
    // The machine is shared and tests run side by side, so the spinner may get far less than
    // its core; an idle process beside it gets next to nothing.
    for w in &watched[..2] {
        assert!(w.cpu_cores.mean > 0.1, "{}: {:?}", w.watch, w.cpu_cores);
        assert!(w.rss_bytes.peak > 0.0, "{}", w.watch);
    }
    assert!(watched[2].cpu_cores.mean < 0.02, "{:?}", watched[2]);
    let last = resources(&results).intervals.last().unwrap();
    assert_eq!(last.watched[0].processes, 1);
}

#[test]
fn an_unwatched_busy_child_is_foreign_cpu() {
    let dir = scratch();
    let _child = Reaped(spinner(dir.path(), "plimsoll-spin2"));
    let job = direct_job("slow", "iops_cap = 100");
    let results = run_text(&workload(dir.path(), 2, &job));
    let foreign = &checks(&results, "foreign_cpu")[0];
    assert_eq!(foreign.status, CheckStatus::Warned, "{foreign:?}");
}

#[test]
fn sampling_off_leaves_no_resources_and_no_checks_that_need_them() {
    let dir = scratch();
    let job = direct_job("slow", "iops_cap = 100");
    let text = workload(dir.path(), 1, &format!("[monitor]\nenabled = false\n{job}"));
    let results = run_text(&text);
    assert!(results.resources.is_none());
    assert!(checks(&results, "foreign_cpu").is_empty());
    assert_eq!(checks(&results, "measured_window").len(), 1);
}

#[test]
fn a_cap_the_job_cannot_reach_fails_the_rate_check_and_a_reachable_one_passes() {
    let dir = scratch();
    let unreachable = buffered_job("unreachable", "iops_cap = \"1G\"");
    let results = run_text(&workload(dir.path(), 2, &unreachable));
    let missed = check(&results, "requested_rate", "unreachable");
    assert_eq!(missed.status, CheckStatus::Failed, "{missed:?}");
    // Run apart: beside a job that spins a core of two, a starved thread could miss any rate.
    let reachable = direct_job("reachable", "iops_cap = 200");
    let results = run_text(&workload(dir.path(), 2, &reachable));
    let kept = check(&results, "requested_rate", "reachable");
    assert_eq!(kept.status, CheckStatus::Passed, "{kept:?}");
}

#[test]
fn buffered_reads_of_a_small_file_warn_of_the_page_cache_and_direct_ones_do_not() {
    let dir = scratch();
    let jobs = [buffered_job("cached", ""), direct_job("direct", "")];
    let results = run_text(&workload(dir.path(), 1, &jobs.concat()));
    let cached = check(&results, "page_cache", "cached");
    assert_eq!(cached.status, CheckStatus::Warned);
    assert!(cached.explanation.contains("page cache, not the device"));
    let on_direct = checks(&results, "page_cache");
    assert!(
        on_direct
            .iter()
            .all(|c| c.subject.as_deref() != Some("direct"))
    );
}

#[test]
fn a_fixed_depth_job_keeps_littles_law() {
    let dir = scratch();
    let results = run_text(&workload(
        dir.path(),
        2,
        &direct_job("rr", "queue_depth = 4"),
    ));
    let little = check(&results, "littles_law", "rr");
    assert_eq!(little.status, CheckStatus::Passed, "{little:?}");
}

#[test]
fn an_interrupted_run_warns_about_its_window_and_a_full_one_passes() {
    let dir = scratch();
    let text = workload(dir.path(), 5, &direct_job("slow", "iops_cap = 100"));
    let stop = AtomicBool::new(false);
    let results = std::thread::scope(|s| {
        s.spawn(|| {
            // Interrupt once load runs: on a busy disk laying out the file alone can take
            // longer than a fixed delay, and a run stopped in layout measures nothing at all.
            wait_for_laid_out_file(dir.path(), 32 << 20, Duration::from_secs(30));
            std::thread::sleep(Duration::from_millis(1500));
            stop.store(true, Ordering::Relaxed);
        });
        run_stoppable(&text, &stop)
    });
    assert_eq!(
        checks(&results, "measured_window")[0].status,
        CheckStatus::Warned
    );

    let full = run_text(&workload(
        dir.path(),
        1,
        &direct_job("slow", "iops_cap = 100"),
    ));
    assert_eq!(
        checks(&full, "measured_window")[0].status,
        CheckStatus::Passed
    );
}

#[test]
fn other_writes_on_the_device_are_named_beside_the_direct_jobs_count() {
    let dir = scratch();
    let writer = "[[jobs]]\nkind = \"disk\"\nname = \"log\"\npath = \"DIR\"\nsize = \"8MiB\"\n\
                  pattern = \"write\"\nfdatasync_every = 1\n";
    let jobs = [direct_job("probe", "iops_cap = 100"), writer.to_owned()];
    let results = run_text(&workload(dir.path(), 2, &jobs.concat()));
    let device = results.jobs[0].target["device"].as_str().unwrap();
    let seen = check(&results, "direct_device_ops", device);
    assert_eq!(seen.status, CheckStatus::Warned, "{seen:?}");
    assert!(
        seen.explanation.contains("other I/O on the device"),
        "{seen:?}"
    );
}

/// Waits (at most `limit`) until a data file in `dir` has reached `size` bytes.
fn wait_for_laid_out_file(dir: &Path, size: u64, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        let full = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                e.path().to_string_lossy().ends_with(".plimsoll.dat")
                    && e.metadata().is_ok_and(|m| m.len() >= size)
            });
        if full {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Threads of this process whose name starts with `prefix`, with their CPU ticks.
fn threads(prefix: &str) -> Vec<u64> {
    let tasks = std::fs::read_dir("/proc/self/task").unwrap();
    let stats = tasks.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("stat")).ok());
    stats
        .filter(|s| {
            s.split_once('(')
                .is_some_and(|(_, rest)| rest.starts_with(prefix))
        })
        .map(|s| ticks(&s))
        .collect()
}

/// utime + stime of a stat line.
fn ticks(stat: &str) -> u64 {
    let rest: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    rest[11].parse::<u64>().unwrap() + rest[12].parse::<u64>().unwrap()
}

fn process_ticks() -> u64 {
    ticks(&std::fs::read_to_string("/proc/self/stat").unwrap())
}

/// io_uring's SQPOLL thread (`iou-sqp-*`) and io-wq workers (`iou-wrk-*`) are threads of the
/// process that made the ring, so `/proc/self/stat` counts their CPU time, and so does the
/// sampler's figure for plimsoll.
#[test]
fn io_uring_kernel_threads_are_counted_in_the_process_cpu() {
    use io_uring::{IoUring, opcode, squeue};

    let before = process_ticks();
    let mut ring: IoUring = IoUring::builder().setup_sqpoll(2000).build(64).unwrap();
    let file = tempfile::tempfile_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let buf = vec![7u8; 4096];
    let fd = io_uring::types::Fd(std::os::fd::AsRawFd::as_raw_fd(&file));
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(600) {
        for i in 0..32u64 {
            // ASYNC sends each write to an io-wq worker instead of running it inline.
            let write = opcode::Write::new(fd, buf.as_ptr(), 4096).offset(i * 4096);
            let entry = write.build().flags(squeue::Flags::ASYNC);
            // SAFETY: `buf` outlives the ring's use of it: every write is reaped below
            // before the next batch, and the ring is dropped before `buf`.
            unsafe { ring.submission().push(&entry).unwrap() };
        }
        ring.submit_and_wait(32).unwrap();
        ring.completion().for_each(drop);
    }
    let sqpoll: u64 = threads("iou-sqp").iter().sum();
    let workers = threads("iou-wrk");
    assert!(!workers.is_empty(), "no io-wq worker threads appeared");
    assert!(sqpoll > 0, "the SQPOLL thread used no CPU time");
    let counted = process_ticks() - before;
    assert!(
        counted >= sqpoll,
        "process ticks {counted} < SQPOLL thread's {sqpoll}"
    );
    drop(ring);
}

fn refusal(text: &str) -> String {
    let error = load_str("t.toml", text).expect_err("the file should be refused");
    error.to_string()
}

const JOB: &str = "[[jobs]]\nkind = \"disk\"\nname = \"j\"\npath = \".\"\nsize = \"4MiB\"\n\
                   pattern = \"read\"\n";

#[test]
fn monitor_keys_are_checked_like_the_rest_of_the_file() {
    let typo = refusal(&format!("name = \"t\"\n[monitor]\nwach = []\n{JOB}"));
    assert!(typo.contains("t.toml:3:1"), "{typo}");
    assert!(
        typo.contains("unknown key `wach`; did you mean `watch`?"),
        "{typo}"
    );

    let entry = refusal(&format!(
        "name = \"t\"\n[monitor]\nwatch = [{{ pdi = 4 }}]\n{JOB}"
    ));
    assert!(entry.contains("unknown key `pdi`"), "{entry}");
    assert!(entry.contains("takes pid, name"), "{entry}");

    let both = refusal(&format!(
        "name = \"t\"\n[monitor]\nwatch = [{{ pid = 4, name = \"x\" }}]\n{JOB}"
    ));
    assert!(both.contains("monitor.watch[0]"), "{both}");
    assert!(both.contains("not both"), "{both}");

    let device = refusal(&format!(
        "name = \"t\"\n[monitor]\ndevices = [\"/dev/vda\"]\n{JOB}"
    ));
    assert!(device.contains("without `/dev/`"), "{device}");
}

/// One connection to the shared Redis, open model at `rate`, with redis-server watched.
fn redis_open(rate: &str) -> String {
    format!(
        "name = \"monitor\"\nduration = \"2s\"\n\
         [monitor]\nwatch = [{{ name = \"redis-server\" }}]\n\
         [[jobs]]\nkind = \"redis\"\nname = \"cache\"\nurl = \"redis://127.0.0.1:6379/0\"\n\
         connections = 1\npipeline = 1\n\
         keys = {{ count = 100, prefix = \"plimsoll:monitor:\" }}\n\
         [jobs.load]\nmodel = \"open\"\nrate = \"{rate}\"\n"
    )
}

#[test]
fn an_open_rate_one_connection_cannot_carry_fails_the_rate_check_and_a_light_one_passes() {
    let heavy = run_text(&redis_open("500k"));
    let missed = check(&heavy, "requested_rate", "cache");
    assert_eq!(missed.status, CheckStatus::Failed, "{missed:?}");
    assert!(missed.explanation.contains("not sustained"), "{missed:?}");
    let redis = &resources(&heavy).summary.watched[0];
    assert!(
        redis.cpu_cores.mean > 0.0,
        "redis-server used no CPU: {redis:?}"
    );

    let light = run_text(&redis_open("200"));
    let kept = check(&light, "requested_rate", "cache");
    assert_eq!(kept.status, CheckStatus::Passed, "{kept:?}");
}

#[test]
fn a_job_stopped_at_its_count_passes_the_window_and_claims_no_readings_it_lacks() {
    let dir = scratch();
    // 20 operations with no delay: the window is over in a few tens of milliseconds.
    let job = "[[jobs]]\nkind = \"null\"\nname = \"n\"\nops = 20\n";
    let results = run_text(&workload(dir.path(), 5, job));
    assert_eq!(results.jobs[0].operations[0].count, 20);
    assert!(
        results.measured_ns < 1_000_000_000,
        "{}",
        results.measured_ns
    );
    let window = &checks(&results, "measured_window")[0];
    assert_eq!(window.status, CheckStatus::Passed, "{window:?}");
    assert!(
        window.explanation.contains("count of operations"),
        "{window:?}"
    );
    // Too short for a reading, or one reading: never a section of zeros standing in for none.
    if let Some(r) = &results.resources {
        assert!(!r.intervals.is_empty(), "{r:?}");
    }

    // Beside a job without a count the window is the whole duration, sampled as usual.
    let both = format!("{job}[[jobs]]\nkind = \"null\"\nname = \"m\"\ndelay = \"1ms\"\n");
    let results = run_text(&workload(dir.path(), 2, &both));
    assert_eq!(
        checks(&results, "measured_window")[0].status,
        CheckStatus::Passed
    );
    assert!(results.resources.is_some());
}
