//! The capacity search against targets whose capacity is known: the null target with a
//! queue (servers / service time, exactly), open and closed models, and a disk job whose IOPS
//! cap binds. Each asserts what a user reads off the answer: the highest passing load, the
//! first failing one, why the search stopped, and that the results file still reports and
//! compares as any run's.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant, SystemTime};

use plimsoll::capacity::{self, Options};
use plimsoll::measure::LatencyHistogram;
use plimsoll::results::{CapacityResults, CapacityStep, RunResults};
use plimsoll::workload::load_str;

/// Eight servers at 50 ms: 160 operations per second, whatever the load model.
const QUEUE: &str = "delay = \"50ms\"\nservers = 8\n";
const CAPACITY: f64 = 160.0;

fn workload(job: &str) -> String {
    format!("name = \"cap\"\n\n[[jobs]]\nkind = \"null\"\nname = \"q\"\n{QUEUE}{job}")
}

/// Steps of two seconds after half a second's warmup: enough for a queue that grows a few
/// operations a second beyond capacity to show in the median, and for one stall of a shared,
/// loaded machine not to halve a step's throughput.
fn options(objective: &str) -> Options {
    Options {
        objectives: vec![objective.parse().unwrap()],
        step_duration: Duration::from_secs(2),
        step_warmup: Some(Duration::from_millis(500)),
        max_steps: 20,
        max_time: Duration::from_secs(60),
        ..Options::default()
    }
}

/// Runs a search in-process, as `plimsoll capacity` does, one at a time with the null tests:
/// their timing and this target's would otherwise measure each other.
fn search(text: &str, options: Options) -> (RunResults, Duration) {
    let workload = load_str("test.toml", text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let plan = capacity::plan(&workload, options).unwrap();
    let _turn = Turn::take();
    let started = Instant::now();
    let results = capacity::run(&plan, None, &AtomicBool::new(false))
        .unwrap_or_else(|e| panic!("setup failed: {e}"));
    (results, started.elapsed())
}

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

fn section(results: &RunResults) -> &CapacityResults {
    results.capacity.as_deref().expect("a capacity section")
}

fn best(c: &CapacityResults) -> &CapacityStep {
    &c.steps[c
        .best_step
        .unwrap_or_else(|| panic!("no step passed: {}", table(c)))]
}

fn first_failing(c: &CapacityResults) -> &CapacityStep {
    &c.steps[c
        .first_failing_step
        .unwrap_or_else(|| panic!("none failed: {}", table(c)))]
}

/// The steps as the terminal shows them, for failure messages.
fn table(c: &CapacityResults) -> String {
    let steps = c.steps.iter().enumerate();
    steps
        .map(|(i, s)| plimsoll::report::capacity::step_line(&c.knob, i, s))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn an_open_model_search_finds_the_queues_capacity_and_the_knee_where_the_objective_breaks() {
    let text = workload("load = { model = \"open\", rate = \"100\", max_in_flight = 400 }");
    // A second's warmup lets a queue that grows 5 % beyond capacity reach the median; twice
    // the service time as the bound leaves room for a loaded machine's late wake-ups.
    let options = Options {
        step_warmup: Some(Duration::from_secs(1)),
        ..options("p50 < 100ms")
    };
    let (results, took) = search(&text, options);
    let c = section(&results);
    let (best, failing) = (best(c), first_failing(c));
    assert_eq!(c.knob, "rate");
    assert_eq!(c.stop_reason, "converged", "{}", table(c));
    // Within the tolerance of 160/s, allowing a little for the timer's wake-up added to
    // each 50 ms of service.
    assert!(
        (CAPACITY / 1.1..=CAPACITY * 1.03).contains(&best.load),
        "highest passing {} is not near {CAPACITY}:\n{}",
        best.load,
        table(c)
    );
    assert!(failing.load > best.load && failing.load <= best.load * 1.05 + 1e-9);
    // The knee: the objective holds at the highest passing load and breaks just above it.
    assert!(best.thresholds.iter().all(|t| t.passed));
    assert_eq!(failing.verdict, "fail", "{}", table(c));
    assert!(failing.thresholds.iter().any(|t| !t.passed));
    assert!((best.throughput_ops_per_s - best.load).abs() / best.load < 0.05);
    // Growth doubles from the start until the first failure.
    let grown: Vec<f64> = c
        .steps
        .iter()
        .filter(|s| s.phase == "grow")
        .map(|s| s.load)
        .collect();
    assert_eq!(grown, [100.0, 200.0], "{}", table(c));
    assert!(took < Duration::from_secs(45), "took {took:?}");
}

#[test]
fn a_closed_model_search_stops_where_throughput_stops_rising() {
    let (results, _) = search(&workload(""), options("p50 < 75ms"));
    let c = section(&results);
    let (best, failing) = (best(c), first_failing(c));
    assert_eq!(c.knob, "queue_depth");
    assert_eq!(c.stop_reason, "converged", "{}", table(c));
    // One operation in flight per server: beyond that, operations only queue. A step's
    // throughput scatters by a few percent on a loaded machine, so the knee may land one
    // either side of 8.
    assert!((7.0..=9.0).contains(&best.load), "{}", table(c));
    assert_eq!(failing.load, best.load + 1.0, "{}", table(c));
    assert!(
        (best.throughput_ops_per_s - CAPACITY).abs() / CAPACITY < 0.075,
        "{}",
        table(c)
    );
    // The closed model gets a scalability fit over its steps.
    let fit = c
        .usl
        .as_ref()
        .expect("a USL fit over the closed-model steps");
    assert!(fit.points >= 4 && !fit.statement.is_empty());
    // The top level is the best step's run, so report and compare read it as any run.
    assert_eq!(results.jobs[0].load.as_ref().unwrap().in_flight_limit, 8);
}

#[test]
fn a_disk_search_stops_rising_where_the_iops_cap_binds() {
    let dir = tempfile::Builder::new()
        .prefix("capacity-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let text = format!(
        "name = \"cap-disk\"\n\n[[jobs]]\nkind = \"disk\"\nname = \"d\"\npath = \"{}\"\n\
         size = \"4MiB\"\npattern = \"randread\"\niops_cap = \"2000\"\n",
        dir.path().display()
    );
    let (results, _) = search(&text, options("p99 < 1s"));
    let c = section(&results);
    assert_eq!(c.knob, "queue_depth");
    assert_eq!(c.stop_reason, "converged", "{}", table(c));
    let (best, failing) = (best(c), first_failing(c));
    // The cap binds at the first depth above the knee: more depth, the same 2,000/s.
    assert_eq!(failing.verdict, "no_gain", "{}", table(c));
    let capped = (failing.throughput_ops_per_s - 2000.0).abs() / 2000.0;
    assert!(capped < 0.05, "{}", table(c));
    // The knee is at the cap already. (Above it only when a stall of the machine made the
    // cap's pacer catch up with its schedule inside the window: it issues at once until it
    // has.)
    assert!(best.throughput_ops_per_s > 2000.0 * 0.95, "{}", table(c));
    // The file the first step laid out is gone with the search.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn every_search_ends_with_its_reason() {
    let text = workload("load = { model = \"open\", rate = \"100\", max_in_flight = 400 }");
    let short = |o: Options| Options {
        step_duration: Duration::from_millis(300),
        step_warmup: Some(Duration::from_millis(100)),
        ..o
    };
    let (results, _) = search(
        &text,
        Options {
            max_steps: 3,
            ..short(options("p50 < 75ms"))
        },
    );
    let c = section(&results);
    assert_eq!((c.stop_reason.as_str(), c.steps.len()), ("max_steps", 3));
    assert!(c.stop_text.contains("--max-steps"), "{}", c.stop_text);
    // The bracket is named only once it has both ends.
    assert!(!c.stop_text.contains(" to -"), "{}", c.stop_text);

    let (results, took) = search(
        &text,
        Options {
            max_time: Duration::from_secs(1),
            ..short(options("p50 < 75ms"))
        },
    );
    assert_eq!(section(&results).stop_reason, "max_time");
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // An objective nothing meets walks down to the smallest load and says so.
    let (results, _) = search(&workload("queue_depth = 2"), short(options("p50 < 1ms")));
    let c = section(&results);
    assert_eq!(c.stop_reason, "nothing_passed", "{}", table(c));
    assert!(c.best_step.is_none());
    assert_eq!(c.steps.last().unwrap().load, 1.0);
}

/// The binary, blind to any shard the test's own environment names.
fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plimsoll"));
    for var in ["PLIMSOLL_SHARD", "PLIMSOLL_SHARDS", "JOB_COMPLETION_INDEX"] {
        command.env_remove(var);
    }
    command
}

fn plimsoll(args: &[&str], dir: &Path) -> std::process::Output {
    let output = command().args(args).current_dir(dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    output
}

#[test]
fn the_command_prints_the_answer_and_its_results_file_reports_and_compares() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("w.toml"), workload("")).unwrap();
    let _turn = Turn::take();
    let out = plimsoll(
        &[
            "capacity",
            "w.toml",
            "--objective",
            "p50 < 75ms",
            "--step-duration",
            "1s",
            "--step-warmup",
            "500ms",
            "--start",
            "4",
            "--max-steps",
            "6",
            "--current",
            "40/s",
            "-o",
            "run",
        ],
        dir.path(),
    );
    drop(_turn);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 4, 8, 16, then bisection: the answer is near 8 in flight, about 160/s.
    assert!(
        stdout.contains("highest passing load: queue_depth "),
        "{stdout}"
    );
    assert!(stdout.contains("x over the current 40/s"), "{stdout}");
    assert!(stdout.contains("stopped: "), "{stdout}");
    let page = std::fs::read_to_string(dir.path().join("run/index.html")).unwrap();
    assert!(page.contains("id=\"capacity-latency-throughput\""));
    assert!(page.contains("id=\"capacity-usl\""));

    let report = plimsoll(&["report", "run/results.json", "-o", "again"], dir.path());
    assert_eq!(report.status.code(), Some(0));
    assert!(
        dir.path()
            .join("again/charts/capacity-throughput-offered.png")
            .exists()
    );
    let compare = plimsoll(
        &["compare", "run/results.json", "run/results.json"],
        dir.path(),
    );
    assert_eq!(
        compare.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&compare.stderr)
    );

    // A current load beyond the capacity fails like a threshold.
    std::fs::write(dir.path().join("w.toml"), workload("queue_depth = 8")).unwrap();
    let _turn = Turn::take();
    let over = plimsoll(
        &[
            "capacity",
            "w.toml",
            "--objective",
            "p50 < 75ms",
            "--step-duration",
            "500ms",
            "--max-steps",
            "3",
            "--current",
            "1k/s",
            "-o",
            "over",
            "--no-report",
            "-q",
        ],
        dir.path(),
    );
    assert_eq!(over.status.code(), Some(1));
    let bad = plimsoll(
        &["capacity", "w.toml", "--objective", "p99 < 5"],
        dir.path(),
    );
    assert_eq!(bad.status.code(), Some(2));
}

#[path = "support/http_server.rs"]
mod http_server;

#[test]
fn an_http_search_finds_the_servers_worker_slots() {
    // Eight workers at 50 ms each, like the null queue above: 160 requests per second.
    let server = http_server::TestServer::start(http_server::ServerConfig {
        workers: Some(8),
        service_time: Duration::from_millis(50),
        ..Default::default()
    });
    let text = format!(
        "name = \"cap-http\"\n\n[[jobs]]\nkind = \"http\"\nname = \"h\"\nbase_url = \"{}\"\n\
         requests = [{{ path = \"/\" }}]\n",
        server.url()
    );
    let (results, _) = search(&text, options("p50 < 75ms"));
    let c = section(&results);
    assert_eq!(
        (c.knob.as_str(), c.stop_reason.as_str()),
        ("connections", "converged")
    );
    let best = best(c);
    // A connection per worker; the server's timer adds up to a millisecond to each request.
    assert!((7.0..=9.0).contains(&best.load), "{}", table(c));
    let off = (best.throughput_ops_per_s - CAPACITY).abs() / CAPACITY;
    assert!(off < 0.1, "{}", table(c));
    assert!(server.stats.requests() > 0);
}

/// Runs the two shards of one search at once, both starting their first step at the same
/// wall-clock time, and returns their results files.
fn search_two_shards(dir: &Path, args: &[&str]) -> [PathBuf; 2] {
    // The start time is set once this test's turn has come: waiting behind another search
    // could otherwise put it in the past, which a shard refuses.
    let _turn = Turn::take();
    let at = SystemTime::now() + Duration::from_secs(5);
    let start_at = humantime::format_rfc3339_seconds(at).to_string();
    let spawn = |index: u32| {
        let mut shard = command();
        shard.current_dir(dir).arg("capacity").args(args);
        let output = format!("shard-{index}");
        let shard_arg = format!("{index}/2");
        shard.args([
            "--shard",
            &shard_arg,
            "--start-at",
            &start_at,
            "-o",
            &output,
        ]);
        shard
            .args(["--no-report", "-q"])
            .spawn()
            .expect("plimsoll runs")
    };
    let children = [spawn(1), spawn(2)];
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "a shard failed: {stderr}");
    }
    [1, 2].map(|i| dir.join(format!("shard-{i}/results.json")))
}

/// Every sample of one step's job, over every operation kind, replayed from the shards' own
/// histograms into one.
fn replayed(steps: &[&CapacityStep]) -> LatencyHistogram {
    let mut all = LatencyHistogram::new();
    let ops = steps.iter().flat_map(|s| &s.job.operations);
    ops.for_each(|o| common::replay_into(&mut all, &o.latency_histogram.data));
    all
}

#[test]
fn merged_shards_of_a_search_keep_each_search_and_add_their_steps_up() {
    let dir = tempfile::tempdir().unwrap();
    // Eight servers over two shards: each shard simulates four, 80/s, of the whole's 160/s.
    let text =
        workload("workers = 2\nload = { model = \"open\", rate = \"50\", max_in_flight = 400 }");
    std::fs::write(dir.path().join("w.toml"), text).unwrap();
    // Warm at 50/s, then 50, 100 and 200 for the whole job: well below the capacity, and a
    // quarter above it, where the queue grows 40 operations a second.
    let args = [
        "w.toml",
        "--objective",
        "p50 < 100ms",
        "--objective",
        "errors == 0",
        "--step-duration",
        "1s",
        "--step-warmup",
        "500ms",
        "--max-steps",
        "4",
        "--current",
        "60/s",
    ];
    let files = search_two_shards(dir.path(), &args);
    let merged_path = dir.path().join("merged.json");
    let mut merge = command();
    merge.arg("merge").args(&files).arg("-o").arg(&merged_path);
    let out = merge.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shards = files.each_ref().map(|f| RunResults::read(f).unwrap());
    let merged = RunResults::read(&merged_path).unwrap();
    let parts = shards.each_ref().map(section);

    // Each shard's search is kept whole, and judged its own part: a shard states no headroom
    // over the whole job's current load.
    for (shard, kept) in shards.iter().zip(&merged.shards) {
        let json = |c: Option<&CapacityResults>| serde_json::to_value(c).unwrap();
        assert_eq!(
            json(kept.capacity.as_deref()),
            json(shard.capacity.as_deref())
        );
        assert_eq!(section(shard).headroom, None);
    }
    let loads = |c: &CapacityResults| c.steps.iter().map(|s| s.load).collect::<Vec<_>>();
    assert_eq!(
        loads(parts[0]),
        [50.0, 50.0, 100.0, 200.0],
        "{}",
        table(parts[0])
    );
    assert_eq!(loads(parts[1]), loads(parts[0]), "{}", table(parts[1]));

    // The whole: step by step, the shards' figures added up.
    let whole = section(&merged);
    assert_eq!(whole.merged_shards, Some(2));
    assert_eq!(loads(whole), loads(parts[0]));
    for (k, step) in whole.steps.iter().enumerate() {
        let each = parts.map(|c| &c.steps[k]);
        let sum = |f: fn(&CapacityStep) -> f64| each.iter().map(|s| f(s)).sum::<f64>();
        assert_eq!(step.offered_ops_per_s, Some(step.load), "{}", table(whole));
        assert_eq!(
            step.offered_ops_per_s,
            Some(sum(|s| s.offered_ops_per_s.unwrap()))
        );
        assert_eq!(step.throughput_ops_per_s, sum(|s| s.throughput_ops_per_s));
        assert_eq!(
            step.in_flight_limit as f64,
            sum(|s| s.in_flight_limit as f64)
        );
        assert_eq!(step.errors as f64, sum(|s| s.errors as f64));
        let count = |s: &CapacityStep| s.job.operations.iter().map(|o| o.count).sum::<u64>();
        assert_eq!(count(step), each.iter().map(|s| count(s)).sum::<u64>());
        // Percentiles are those of one histogram fed every shard's samples.
        let all = replayed(&each).summary();
        assert_eq!(
            (step.p50_ns, step.p99_ns, step.p99_9_ns),
            (all.p50, all.p99, all.p99_9)
        );
        // The objectives are checked again on the sums.
        let p50 = step
            .thresholds
            .iter()
            .find(|t| t.expression == "p50 < 100ms")
            .unwrap();
        assert_eq!(p50.measured, all.p50.map(|ns| ns as f64));
        assert_eq!(p50.passed, all.p50.unwrap() < 100_000_000);
        // Both shards began each step at about the same time, so the sums are of one load.
        assert!(
            step.start_spread_ns.unwrap() < 500_000_000,
            "{:?}",
            step.start_spread_ns
        );
    }
    let verdicts: Vec<&str> = whole.steps.iter().map(|s| s.verdict.as_str()).collect();
    assert_eq!(
        verdicts,
        ["warm", "pass", "pass", "fail"],
        "{}",
        table(whole)
    );
    assert_eq!(
        (whole.best_step, whole.first_failing_step),
        (Some(2), Some(3))
    );
    let best = &whole.steps[2];
    let headroom = whole.headroom.unwrap();
    assert_eq!(headroom, best.throughput_ops_per_s / 60.0);
    // The top level is the whole's highest passing step, as in one search's file.
    let ops = |r: &RunResults| r.jobs[0].operations[0].count;
    assert_eq!(ops(&merged), best.job.operations[0].count);
    assert!(
        merged.thresholds.iter().all(|t| t.passed),
        "{:?}",
        merged.thresholds
    );
    assert!(stdout.contains("2 shards' steps added up"), "{stdout}");
    assert!(
        stdout.contains("highest passing load: rate 100/s"),
        "{stdout}"
    );

    // Shards whose steps differ are not paired up: each keeps its search, and the merged
    // file says why there is none for the whole.
    let edited = |name: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&files[1]).unwrap()).unwrap();
        edit(&mut value);
        let path = dir.path().join(name);
        std::fs::write(&path, value.to_string()).unwrap();
        path
    };
    let other_load = edited("other-load.json", &|v| {
        v["capacity"]["steps"][3]["load"] = 150.into()
    });
    let apart_path = dir.path().join("apart.json");
    let out = command()
        .arg("merge")
        .args([&files[0], &other_load])
        .arg("-o")
        .arg(&apart_path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let apart = RunResults::read(&apart_path).unwrap();
    assert!(apart.capacity.is_none());
    let why = apart.capacity_not_combined.as_deref().unwrap_or_default();
    assert!(
        why.contains("step 3 ran rate 200/s in shard 1 and 150/s in shard 2"),
        "{why}"
    );
    assert!(apart.shards.iter().all(|s| s.capacity.is_some()));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not added up"));

    // A search's shard and a run's cannot be merged at all.
    let run = edited("run.json", &|v| {
        v.as_object_mut().unwrap().remove("capacity");
    });
    let out = command()
        .arg("merge")
        .args([&files[0], &run])
        .arg("-o")
        .arg(dir.path().join("refused.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`plimsoll capacity` and `plimsoll run`"),
        "{stderr}"
    );
}

/// The text of every `<text>` element of the page's chart `id`, entities resolved: what a
/// reader of the drawn SVG sees, on the plot and in its legend.
fn chart_texts(page: &str, id: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no chart {id}"));
    let svg = &page[start..][page[start..].find("<svg").expect("an inline SVG")..];
    let svg = &svg[..svg.find("</svg>").expect("the SVG ends") + "</svg>".len()];
    let mut reader = quick_xml::Reader::from_str(svg);
    let (mut texts, mut text) = (Vec::new(), None::<String>);
    loop {
        match reader.read_event().expect("well-formed SVG") {
            Event::Start(e) if e.name().as_ref() == "text" => text = Some(String::new()),
            Event::Text(t) => text.iter_mut().for_each(|s| s.push_str(&t)),
            Event::GeneralRef(r) => {
                let named = quick_xml::escape::resolve_predefined_entity(&r).map(str::to_owned);
                let numbered = r.resolve_char_ref().expect("a character").map(String::from);
                let resolved = named.or(numbered).expect("a known entity");
                text.iter_mut().for_each(|s| s.push_str(&resolved));
            }
            Event::End(e) if e.name().as_ref() == "text" => {
                texts.extend(text.take().map(|s| s.trim().to_owned()));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    texts
}

#[test]
fn every_objective_is_drawn_on_the_latency_chart_and_named_in_the_summary() {
    let text = workload("load = { model = \"open\", rate = \"100\", max_in_flight = 400 }");
    let written = [
        "p50 < 100ms",
        "p90 < 150ms",
        "p99 < 200ms",
        "throughput > 20/s",
        "error_rate < 1%",
    ];
    // Without retries every judged step counts, so some step is the highest passing or the
    // first failing one, whichever the machine's speed makes it.
    let options = Options {
        objectives: written.iter().map(|o| o.parse().unwrap()).collect(),
        step_duration: Duration::from_millis(500),
        step_warmup: Some(Duration::from_millis(200)),
        max_steps: 3,
        retry: false,
        ..options("p50 < 100ms")
    };
    let (results, _) = search(&text, options);
    let dir = tempfile::tempdir().unwrap();
    plimsoll::report::write_folder(&results, dir.path()).unwrap();
    let page = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    let texts = chart_texts(&page, "capacity-latency-throughput");
    let count = |wanted: &str| texts.iter().filter(|t| *t == wanted).count();

    // Latency and throughput objectives are rules, each named beside it and in the legend;
    // an error rate has no place on these axes and says so in the legend.
    for objective in &written[..4] {
        let name = format!("objective {objective}");
        assert_eq!(count(&name), 2, "`{name}` in {texts:?}");
    }
    assert_eq!(count("not drawn: error_rate < 1%"), 1, "{texts:?}");
    // The p90 an objective bounds gets a line of its own beside p50, p99 and p99.9.
    for line in ["p50", "p90", "p99", "p99.9"] {
        assert_eq!(count(line), 1, "line {line} in {texts:?}");
    }

    // The summary names every objective twice: in its heading, and with what the answer's
    // step measured for it.
    let summary = plimsoll::report::capacity::summary(&results);
    let c = section(&results);
    assert!(
        c.best_step.or(c.first_failing_step).is_some(),
        "{}",
        table(c)
    );
    let at = summary
        .lines()
        .find(|l| l.starts_with("objectives at the "))
        .unwrap_or_else(|| panic!("{summary}"));
    for objective in written {
        assert!(
            summary.lines().next().unwrap().contains(objective),
            "{summary}"
        );
        assert!(at.contains(&format!("`{objective}` q.null ")), "{at}");
    }
}
