//! The null target, whose timing is known exactly, checks the shared scheduler against
//! arithmetic: exact counts, kept rates, a closed loop over a fixed delay, and a scripted stall
//! under an open model. Bounds hold on a loaded 2-core machine but fail if the scheduler is
//! wrong (a per-lane rate, a timer that rounds, a stall leaking into service time).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use plimsoll::measure::{LatencyHistogram, Quantile};
use plimsoll::results::{JobResults, RunResults};
use plimsoll::runner::{self, RunOptions};
use plimsoll::workload::load_str;

const MS: u64 = 1_000_000;

fn workload(duration: &str, job: &str) -> String {
    format!(
        "name = \"t\"\nduration = \"{duration}\"\n\n[[jobs]]\nkind = \"null\"\nname = \"n\"\n{job}"
    )
}

/// Runs a one-job workload in-process, as `plimsoll run` does; returns it and its wall time.
/// One at a time across this file's test processes: a job with no delay keeps a core busy,
/// and the timing tests beside it would measure that instead of the scheduler.
fn run_with(text: &str, stop: &AtomicBool) -> (RunResults, Duration) {
    let workload = load_str("test.toml", text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let _turn = Turn::take();
    let started = Instant::now();
    let results = runner::run(&workload, None, stop, RunOptions::default())
        .unwrap_or_else(|e| panic!("setup failed: {e}"));
    (results, started.elapsed())
}

/// An exclusive lock on a file shared by every test process of this file, held while alive.
struct Turn(#[allow(dead_code)] std::fs::File);

impl Turn {
    fn take() -> Turn {
        use std::os::fd::AsRawFd;
        let path = std::env::temp_dir().join("plimsoll-null-tests.lock");
        let file = std::fs::File::create(path).expect("a lock file in the temp directory");
        // SAFETY: flock takes a valid descriptor, which `file` keeps open.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock: {}", std::io::Error::last_os_error());
        Turn(file)
    }
}

fn run(duration: &str, job: &str) -> (RunResults, Duration) {
    run_with(&workload(duration, job), &AtomicBool::new(false))
}

fn job(results: &RunResults) -> &JobResults {
    &results.jobs[0]
}

fn count(results: &RunResults) -> u64 {
    job(results).operations[0].count
}

fn latency(results: &RunResults) -> LatencyHistogram {
    job(results).operations[0]
        .latency_histogram
        .decode()
        .unwrap()
}

fn service(results: &RunResults) -> LatencyHistogram {
    let op = &job(results).operations[0];
    op.service_time_histogram
        .as_ref()
        .unwrap()
        .decode()
        .unwrap()
}

/// Samples above `ns` (within the histogram's 0.1 % resolution): percentiles rise with the
/// quantile, so a binary search over quantiles in parts per million finds the count.
fn above(hist: &LatencyHistogram, ns: u64) -> u64 {
    let at_most = |ppm: u32| hist.percentile(Quantile(ppm)).ns().is_some_and(|v| v <= ns);
    let (mut low, mut high) = (0u32, 1_000_001u32);
    while high - low > 1 {
        let mid = (low + high) / 2;
        if at_most(mid) { low = mid } else { high = mid }
    }
    let total = hist.count();
    if low == 0 && !at_most(0) {
        total
    } else {
        total - Quantile(low).rank(total)
    }
}

#[test]
fn a_count_limited_job_runs_exactly_its_count() {
    for (model, extra) in [
        ("closed", "workers = 2\nqueue_depth = 3\n"),
        ("closed, 50us delay", "queue_depth = 7\ndelay = \"50us\"\n"),
        (
            "open",
            "workers = 2\nload = { model = \"open\", rate = \"20k\" }\n",
        ),
    ] {
        let (results, wall) = run("30s", &format!("ops = 1001\n{extra}"));
        assert_eq!(count(&results), 1001, "{model}");
        assert!(wall < Duration::from_secs(5), "{model}: ran {wall:?}");
    }
}

#[test]
fn a_count_limited_window_ends_with_its_last_operation() {
    // One lane, one operation at a time: the operations' latencies add up to the window,
    // give or take the few microseconds between one operation and the next.
    for _ in 0..3 {
        let (results, _) = run("30s", "ops = 100\ndelay = \"1ms\"\n");
        assert_eq!(count(&results), 100);
        let busy_ms = latency(&results).mean().unwrap() * 100.0 / 1e6;
        let window_ms = results.measured_ns as f64 / 1e6;
        // A window closed when the thread next looked, not when its last operation ended,
        // ran up to 50 ms long, and the throughput came out that much short.
        assert!(
            window_ms >= busy_ms && window_ms < busy_ms + 8.0,
            "a window of {window_ms:.1} ms for {busy_ms:.1} ms of operations"
        );
    }
}

#[test]
fn an_open_job_meets_its_rate_for_the_whole_job_not_per_worker() {
    let (results, _) = run(
        "3s",
        "workers = 2\ndelay = \"200us\"\nload = { model = \"open\", rate = \"2k\" }\n",
    );
    let n = count(&results);
    assert!(
        (5_940..=6_060).contains(&n),
        "{n} operations in 3 s at 2k/s"
    );
    let load = job(&results).load.as_ref().unwrap();
    assert_eq!(load.sustained, Some(true), "{load:?}");
}

#[test]
fn a_closed_loop_over_a_fixed_1ms_delay_runs_at_workers_per_millisecond() {
    let (results, _) = run("3s", "queue_depth = 8\ndelay = \"1ms\"\n");
    let per_s = count(&results) as f64 / 3.0;
    // The arithmetic says 8,000/s; each operation is a little longer than its delay, and on a
    // busy machine a wake-up can wait for a core.
    assert!((5_000.0..=8_010.0).contains(&per_s), "{per_s} op/s");
    let latency = latency(&results);
    let mean_s = latency.mean().unwrap() / 1e9;
    // Little's law: all eight lanes were in flight all the time, whatever the machine's load.
    let in_flight = per_s * mean_s;
    assert!(
        (7.6..=8.05).contains(&in_flight),
        "{in_flight} in flight on average"
    );
    // A timer that rounds up to its 1 ms tick would put the median at 1.5 ms or more.
    let p50 = latency.percentile(Quantile::P50).ns().unwrap();
    assert!((MS..=MS * 5 / 4).contains(&p50), "p50 {p50} ns");
    let min = latency.min().ns().unwrap();
    assert!(
        min >= MS * 999 / 1_000,
        "no operation ends before its delay: min {min} ns"
    );
}

#[test]
fn a_one_second_stall_under_an_open_model_shows_in_latency_not_in_service_time() {
    // 1,000/s, four in flight, no delay: the four lanes busy when the stall begins (at 2 s) are
    // held to its end (3 s); the ~1,000 slots of the stall wait for a lane and go out at 3 s.
    // So slot s has latency 3 s - s: linear from 1 s down to 0, half of them above 500 ms.
    let (results, _) = run(
        "5s",
        "stall = { at = \"2s\", for = \"1s\" }\n\
         load = { model = \"open\", rate = \"1k\", max_in_flight = 4 }\n",
    );
    let latency = latency(&results);
    // Above 100 ms rather than just above normal: on a loaded machine ordinary operations can
    // take tens of milliseconds, but not a hundred. Slots before 2.9 s wait over 100 ms.
    let held = above(&latency, 100 * MS);
    assert!(
        (870..=950).contains(&held),
        "{held} operations held over 100 ms by the stall, about 900 expected"
    );
    for (over_ms, expected) in [(250, 750), (500, 500), (750, 250)] {
        let n = above(&latency, over_ms * MS);
        let slack = 30;
        assert!(
            n.abs_diff(expected) <= slack,
            "{n} operations above {over_ms} ms, {expected} expected"
        );
    }
    let max = latency.max().unwrap();
    assert!(
        (MS * 995..=MS * 1_030).contains(&max),
        "max latency {max} ns"
    );

    let service = service(&results);
    assert_eq!(
        above(&service, 500 * MS),
        4,
        "one slow operation per in-flight slot"
    );
    let p99 = service.percentile(Quantile::P99).ns().unwrap();
    assert!(p99 < 20 * MS, "service p99 {p99} ns");

    let p99_by_interval: Vec<u64> = job(&results)
        .intervals
        .iter()
        .map(|i| i.ops.first().and_then(|o| o.latency_ns.p99).unwrap_or(0) / MS)
        .collect();
    // Intervals go by completion: the held operations complete at 3 s, in interval 3.
    assert!(p99_by_interval[3] >= 900, "{p99_by_interval:?}");
    assert!(
        p99_by_interval[1] < 50 && p99_by_interval[4] < 50,
        "{p99_by_interval:?}"
    );
}

#[test]
fn a_job_with_nothing_to_wait_for_still_stops_when_interrupted() {
    let stop = AtomicBool::new(false);
    let (results, wall) = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(500));
            stop.store(true, Ordering::Relaxed);
        });
        run_with(&workload("30s", "queue_depth = 4\n"), &stop)
    });
    assert!(
        wall < Duration::from_secs(3),
        "ran {wall:?} after an interrupt at 0.5 s"
    );
    assert!(count(&results) > 1_000);
}

#[test]
fn an_interrupted_warmup_is_reported_as_long_as_it_ran() {
    let stop = AtomicBool::new(false);
    let text =
        workload("30s", "delay = \"1ms\"\n").replace("duration", "warmup = \"30s\"\nduration");
    let (results, _) = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(500));
            stop.store(true, Ordering::Relaxed);
        });
        run_with(&text, &stop)
    });
    // The interrupt may come before the run's turn does (see `Turn`), so only the upper end
    // of what ran is known.
    let warmed = Duration::from_nanos(results.warmup_ns);
    assert!(
        warmed < Duration::from_secs(3),
        "a warmup of {warmed:?}, stopped at 0.5 s of 30 s"
    );
    assert_eq!(results.measured_ns, 0);
    assert!(job(&results).operations.is_empty() || count(&results) == 0);
}

#[test]
fn null_keys_are_checked_with_suggestions() {
    let problems = |job: &str| match load_str("w.toml", &workload("1s", job)) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    };
    let message = problems("stall = { at = \"1s\", forr = \"1s\" }\n");
    assert!(message.contains("jobs[0].stall"), "{message}");
    assert!(message.ends_with("did you mean `for`?"), "{message}");
    let message = problems("delay = { kind = \"uniformm\", min = \"1ms\", max = \"2ms\" }\n");
    assert!(message.contains("did you mean `uniform`?"), "{message}");
    let message = problems("delay = { kind = \"uniform\", min = \"2ms\", max = \"1ms\" }\n");
    assert!(message.contains("jobs[0].delay.max"), "{message}");
    let message =
        problems("workers = 4\nload = { model = \"open\", rate = \"1k\", max_in_flight = 2 }\n");
    assert!(message.contains("less than workers"), "{message}");
    assert_eq!(
        problems("delay = { kind = \"exponential\", mean = \"1ms\" }\n"),
        ""
    );
}

/// Operations that start in warmup belong to it wherever they end, so a measured count is
/// exact with a warmup too.
#[test]
fn a_count_after_a_warmup_is_exact() {
    let text = workload("30s", "ops = 1001\nqueue_depth = 4\ndelay = \"200us\"\n")
        .replace("duration = ", "warmup = \"300ms\"\nduration = ");
    let (results, _) = run_with(&text, &AtomicBool::new(false));
    assert_eq!(count(&results), 1001);
    let warmup = job(&results).warmup.iter().map(|o| o.count).sum::<u64>();
    assert!(warmup > 100, "warmup ran and was counted apart: {warmup}");
}
