//! Runs a checked workload: prepares every job, runs their workers side by side through warmup
//! and measurement, gathers what the recorders hand over, and builds the results document.
//!
//! The runner decides the phases and when to stop; drivers do the I/O and recorders keep the
//! figures. Nothing here renders results.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use crate::drivers::SetupError;
use crate::drivers::disk::PreparedDisk;
use crate::drivers::http::PreparedHttp;
use crate::drivers::mysql::PreparedMysql;
use crate::drivers::null::PreparedNull;
use crate::drivers::postgres::PreparedPostgres;
use crate::drivers::redis::PreparedRedis;
use crate::gate::{Breach, Gate, LiveJob};
use crate::host::{ClockSync, HostFacts};
use crate::load::{Shard, ShardError, ShardSource};
use crate::measure::{Clock, Collector, Issuing, JobTotals, Recorder, Snapshot};
use crate::monitor::{MonitorPlan, ResourceSeries, Sampler, SamplerHandle, checks};
use crate::report::progress::Progress;
use crate::results::{
    ClockFacts, JobFacts, JobResults, LoadFacts, RunResults, RunStatus, SCHEMA_VERSION, ShardFacts,
};
use crate::workload::{Job, Workload};

/// A job whose target is ready: what the runner needs from any driver.
pub trait PreparedJob: Sync {
    fn kind(&self) -> &'static str;
    /// Operation kinds, in the order workers record them.
    fn op_names(&self) -> Vec<&'static str>;
    fn workers(&self) -> usize;
    /// What the results say about the target, as the driver sees it.
    fn target(&self) -> serde_json::Value;
    /// How the job offers load; `duration` is the workload's measured duration. Default: a
    /// closed model with one operation in flight per worker.
    fn load(&self, duration: Duration) -> LoadFacts {
        LoadFacts::closed(self.workers() as u64, duration)
    }
    /// Names of the job's counters, by counter index. Default: none.
    fn counter_names(&self) -> Vec<&'static str> {
        Vec::new()
    }
    /// By operation index, the operations each one is timed inside (a SQL statement inside
    /// its transaction), so nested counts are never added to their outer ones. Default: none
    /// nested.
    fn timed_within(&self) -> Vec<Vec<usize>> {
        Vec::new()
    }
    /// Runs one worker until the clock's measured end or `stop`, then hands over its figures.
    fn run_worker(
        &self,
        worker: usize,
        recorder: Recorder,
        stop: &AtomicBool,
    ) -> anyhow::Result<()>;
    /// Removes what setup created, unless the job keeps it.
    fn cleanup(self: Box<Self>);
}

impl PreparedJob for PreparedDisk {
    fn kind(&self) -> &'static str {
        "disk"
    }

    fn op_names(&self) -> Vec<&'static str> {
        PreparedDisk::op_names(self)
    }

    fn workers(&self) -> usize {
        PreparedDisk::workers(self)
    }

    fn target(&self) -> serde_json::Value {
        serde_json::to_value(PreparedDisk::target(self)).unwrap_or_default()
    }

    fn load(&self, duration: Duration) -> LoadFacts {
        let depth = u64::from(PreparedDisk::target(self).queue_depth);
        LoadFacts::closed(self.workers() as u64 * depth, duration)
    }

    fn run_worker(
        &self,
        worker: usize,
        recorder: Recorder,
        stop: &AtomicBool,
    ) -> anyhow::Result<()> {
        PreparedDisk::run_worker(self, worker, recorder, stop)
    }

    fn cleanup(self: Box<Self>) {
        PreparedDisk::cleanup(*self)
    }
}

impl PreparedJob for PreparedRedis {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn op_names(&self) -> Vec<&'static str> {
        PreparedRedis::op_names(self)
    }

    fn workers(&self) -> usize {
        PreparedRedis::workers(self)
    }

    fn target(&self) -> serde_json::Value {
        serde_json::to_value(PreparedRedis::target(self)).unwrap_or_default()
    }

    fn load(&self, _duration: Duration) -> LoadFacts {
        PreparedRedis::load(self)
    }

    fn counter_names(&self) -> Vec<&'static str> {
        PreparedRedis::counter_names(self)
    }

    fn run_worker(
        &self,
        worker: usize,
        recorder: Recorder,
        stop: &AtomicBool,
    ) -> anyhow::Result<()> {
        PreparedRedis::run_worker(self, worker, recorder, stop)
    }

    fn cleanup(self: Box<Self>) {}
}

/// How the run is shown while it goes, whether it is one shard of several, and what may
/// stop it early.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// A live progress line on stderr (the caller decides whether stderr is a terminal).
    pub progress: bool,
    /// Run only this shard's part of every job, and say so in the results.
    pub shard: Option<(Shard, ShardSource)>,
    /// Start the load (warmup first) at this wall-clock time, after setup, so that shards
    /// start together. The caller checks that it is neither long past nor far ahead.
    pub start_at: Option<SystemTime>,
    /// Thresholds watched while the load runs: the first one certainly broken stops the run
    /// (status `aborted`). Empty: the run goes its full duration.
    pub abort_on: Vec<Gate>,
}

/// What the runner says about the run beside the jobs' figures.
struct RunFacts {
    host: HostFacts,
    started_at: SystemTime,
    clock: ClockFacts,
    shard: Option<ShardFacts>,
}

/// Prepares every job, then runs them. A setup failure ends the run before any load and
/// leaves nothing behind; a failure after load started still returns results, marked.
pub fn run(
    workload: &Workload,
    workload_file: Option<&Path>,
    stop: &AtomicBool,
    options: RunOptions,
) -> Result<RunResults, SetupError> {
    let shard = options.shard.map_or(Shard::WHOLE, |(shard, _)| shard);
    let part = workload.shard(shard).map_err(|e| shard_refusal(shard, e))?;
    let whole = workload;
    let workload = &part;
    let prepared = prepare_all(workload, stop)?;
    if let Err(e) = wait_until(options.start_at, stop) {
        prepared.into_iter().for_each(|p| p.cleanup());
        return Err(e);
    }
    let host = HostFacts::gather();
    let started_at = SystemTime::now();
    let devices = prepared.iter().filter_map(|p| {
        let target = p.target();
        target.get("device")?.as_str().map(str::to_owned)
    });
    let monitor = MonitorPlan::new(&workload.monitor, devices);
    let outcome = drive(workload, &prepared, stop, (&options, monitor));
    let facts: Vec<JobFacts> = workload
        .jobs
        .iter()
        .zip(&prepared)
        .map(|(job, p)| JobFacts {
            name: job.name().to_owned(),
            kind: p.kind(),
            workers: p.workers(),
            target: p.target(),
            load: p.load(workload.duration.0),
            counter_names: p.counter_names(),
            timed_within: p.timed_within(),
        })
        .collect();
    prepared.into_iter().for_each(|p| p.cleanup());
    let run = RunFacts {
        clock: clock_facts(outcome.origin, workload.warmup.0, options.start_at),
        shard: options.shard.map(|(shard, source)| ShardFacts {
            index: shard.index(),
            count: shard.count(),
            source: source.describe().to_owned(),
        }),
        host,
        started_at,
    };
    let mut results = assemble(workload, workload_file, run, facts, outcome, stop);
    results.workload = serde_json::to_value(whole).unwrap_or_default();
    Ok(results)
}

/// A job this shard cannot take its part of is the workload's fault: placed at the job.
pub fn shard_refusal(shard: Shard, error: ShardError) -> SetupError {
    let (job, error) = match error {
        ShardError::InJob { job, source } => (job, *source),
        other => ("(workload)".to_owned(), other),
    };
    SetupError::Input {
        job,
        key: None,
        message: format!("as shard {shard}: {error}"),
    }
}

/// Waits for `--start-at`, a little at a time so Ctrl-C still ends the run at once. A start
/// time that setup ran past starts the run now; the results say how late.
fn wait_until(start_at: Option<SystemTime>, stop: &AtomicBool) -> Result<(), SetupError> {
    let Some(start_at) = start_at else {
        return Ok(());
    };
    match start_at.duration_since(SystemTime::now()) {
        Ok(wait) => tracing::info!(?wait, "waiting for --start-at"),
        Err(late) => tracing::warn!(
            late = ?late.duration(),
            "setup ended after --start-at; starting now, and the results say how late"
        ),
    }
    while let Ok(left) = start_at.duration_since(SystemTime::now()) {
        if stop.load(Ordering::Relaxed) {
            return Err(SetupError::Failed {
                job: "(all)".to_owned(),
                source: anyhow::anyhow!("interrupted while waiting for --start-at"),
            });
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
    Ok(())
}

/// `origin` is the wall clock when the run's clock started, warmup first.
fn clock_facts(origin: SystemTime, warmup: Duration, start_at: Option<SystemTime>) -> ClockFacts {
    let measure_start = origin + warmup;
    let unix_ns = measure_start
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    ClockFacts {
        measure_start_unix_ns: unix_ns,
        measure_started_at: humantime::format_rfc3339_nanos(measure_start).to_string(),
        start_at: start_at.map(|t| humantime::format_rfc3339_nanos(t).to_string()),
        start_lag_ns: start_at.map(|t| {
            let late = origin.duration_since(t);
            late.map_or(0, |late| late.as_nanos() as u64)
        }),
        kernel: ClockSync::read(),
        not_known: "the offset of this host's wall clock from other hosts' is not measured: \
                    shards are lined up by each host's own clock, so their offsets add to any \
                    misalignment"
            .to_owned(),
    }
}

/// The checks setup makes before it touches anything, for `plimsoll validate`: each the same
/// function setup calls, so that validate refuses what a run would. What needs a connection
/// (a server's answer, a SQL statement the server refuses) is only found when the run
/// connects.
pub fn check(workload: &Workload) -> Result<(), SetupError> {
    workload.jobs.iter().try_for_each(|job| match job {
        Job::Disk(disk) => PreparedDisk::check(disk),
        Job::Http(http) => PreparedHttp::check(http),
        Job::Redis(redis) => PreparedRedis::check(redis),
        Job::Postgres(sql) => PreparedPostgres::check(sql),
        Job::Mysql(sql) => PreparedMysql::check(sql),
        Job::Null(_) => Ok(()),
    })
}

fn prepare_all(
    workload: &Workload,
    stop: &AtomicBool,
) -> Result<Vec<Box<dyn PreparedJob>>, SetupError> {
    let mut prepared: Vec<Box<dyn PreparedJob>> = Vec::with_capacity(workload.jobs.len());
    for job in &workload.jobs {
        match prepare(job, workload.duration.0, stop) {
            Ok(p) => prepared.push(p),
            Err(e) => {
                prepared.into_iter().for_each(|p| p.cleanup());
                return Err(e);
            }
        }
    }
    Ok(prepared)
}

fn prepare(
    job: &Job,
    duration: Duration,
    stop: &AtomicBool,
) -> Result<Box<dyn PreparedJob>, SetupError> {
    match job {
        Job::Disk(disk) => Ok(Box::new(PreparedDisk::prepare_until(disk, stop)?)),
        Job::Redis(redis) => Ok(Box::new(PreparedRedis::prepare(redis, duration)?)),
        Job::Null(null) => Ok(Box::new(PreparedNull::prepare(null, duration)?)),
        Job::Postgres(sql) => Ok(Box::new(PreparedPostgres::prepare(sql, duration, stop)?)),
        Job::Http(http) => Ok(Box::new(PreparedHttp::prepare(http, duration)?)),
        Job::Mysql(sql) => Ok(Box::new(PreparedMysql::prepare(sql, duration, stop)?)),
    }
}

/// What the load phase produced, before it is shaped into results.
struct Outcome {
    /// The wall clock when the run's clock started (warmup's start).
    origin: SystemTime,
    totals: Vec<JobTotals>,
    /// The warmup as it ran: shorter than asked when the run stopped during it.
    warmed: Duration,
    measured: Duration,
    failures: Vec<String>,
    resources: Option<ResourceSeries>,
    /// The threshold that stopped the run early, under abort-early.
    aborted: Option<Breach>,
}

fn drive(
    workload: &Workload,
    prepared: &[Box<dyn PreparedJob>],
    stop: &AtomicBool,
    (options, monitor): (&RunOptions, Option<MonitorPlan>),
) -> Outcome {
    let (sink, snapshots) = mpsc::channel::<Snapshot>();
    let (origin, now) = (SystemTime::now(), Instant::now());
    let clock = Clock::new(
        now,
        workload.warmup.0,
        workload.duration.0,
        workload.interval.0,
    );
    // Workers watch `halt`, not `stop`: an abort must stop them without looking, to the
    // signal handler, like a first Ctrl-C (whose second one would end the process).
    let halt = AtomicBool::new(false);
    let watch = Watch {
        stop,
        halt: &halt,
        gates: &options.abort_on,
        max_ops: prepared
            .iter()
            .map(|p| max_measured_ops(&p.load(workload.duration.0)))
            .collect(),
        names: workload.jobs.iter().map(Job::name).collect(),
        measure_start: clock.measure_start,
    };
    let mut spare_senders = Vec::new();
    let mut recorders = Vec::new();
    let issuing = Arc::new(Issuing::default());
    for (index, job) in prepared.iter().enumerate() {
        let ops = job.op_names();
        let mut senders = Vec::new();
        for worker in 0..job.workers() {
            let (spare_tx, spare_rx) = mpsc::channel();
            senders.push(spare_tx);
            let recorder = Recorder::new(index, worker, ops.len(), clock, sink.clone(), spare_rx)
                .among(issuing.clone());
            recorders.push((index, worker, recorder));
        }
        spare_senders.push((ops, senders));
    }
    drop(sink);
    let mut collector = Collector::new(spare_senders);
    let mut progress = options
        .progress
        .then(|| Progress::start(&workload.name, clock));

    let sampler = monitor.map(|plan| Sampler::start(plan, clock));
    let (failures, aborted) = std::thread::scope(|scope| {
        let handles: Vec<_> = recorders
            .into_iter()
            .map(|(index, worker, recorder)| {
                let (job, halt) = (&prepared[index], &halt);
                let name = format!("{}-{worker}", workload.jobs[index].name());
                std::thread::Builder::new()
                    .name(name)
                    .spawn_scoped(scope, move || job.run_worker(worker, recorder, halt))
                    .expect("spawning a worker thread")
            })
            .collect();
        let aborted = gather(&snapshots, &mut collector, progress.as_mut(), &watch);
        let failures = handles
            .into_iter()
            .zip(
                prepared
                    .iter()
                    .enumerate()
                    .flat_map(|(i, j)| (0..j.workers()).map(move |w| (i, w))),
            )
            .filter_map(|(handle, (job, worker))| {
                let name = workload.jobs[job].name();
                match handle.join() {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => {
                        let e = crate::drivers::Causes(&e);
                        Some(format!("job `{name}` worker {worker}: {e}"))
                    }
                    Err(_) => Some(format!("job `{name}` worker {worker} panicked")),
                }
            })
            .collect::<Vec<_>>();
        (failures, aborted)
    });
    let ended = Instant::now();
    // A window shorter than one sampling interval (a job stopped at a small count) has no
    // readings; zeros in their place would read as an idle machine.
    let resources = sampler
        .map(SamplerHandle::finish)
        .filter(|r| !r.intervals.is_empty());
    if let Some(progress) = progress {
        progress.finish();
    }
    Outcome {
        origin,
        totals: collector.finish(),
        warmed: ended.saturating_duration_since(now).min(workload.warmup.0),
        measured: issuing
            .measured()
            .unwrap_or_else(|| ended.saturating_duration_since(clock.measure_start)),
        failures,
        resources,
        aborted,
    }
}

/// What the gathering loop watches besides the snapshots: the user's stop and, under
/// abort-early, the thresholds.
struct Watch<'a> {
    stop: &'a AtomicBool,
    halt: &'a AtomicBool,
    gates: &'a [Gate],
    /// Per job, the most measured operations its schedule allows (see [`max_measured_ops`]).
    max_ops: Vec<Option<u64>>,
    names: Vec<&'a str>,
    measure_start: Instant,
}

impl Watch<'_> {
    /// Passes a stop on to the workers, or stops them for a threshold certainly broken.
    fn check(&self, collector: &Collector) -> Option<Breach> {
        if self.stop.load(Ordering::Relaxed) {
            self.halt.store(true, Ordering::Relaxed);
            return None;
        }
        if self.gates.is_empty() || self.halt.load(Ordering::Relaxed) {
            return None;
        }
        let totals = collector.totals();
        let jobs: Vec<LiveJob> = (self.names.iter().zip(&self.max_ops).zip(totals))
            .map(|((name, max_ops), totals)| LiveJob {
                name,
                totals,
                max_ops: *max_ops,
            })
            .collect();
        let mut breach = crate::gate::first_breach(self.gates, &jobs)?;
        let into = Instant::now().saturating_duration_since(self.measure_start);
        breach.after_ns = into.as_nanos() as u64;
        tracing::debug!(
            "abort early: `{}` at {} is certainly broken: {}",
            breach.expression,
            breach.scope,
            breach.reason
        );
        self.halt.store(true, Ordering::Relaxed);
        Some(breach)
    }
}

/// The most operations a job can complete in the measured window, when its schedule says:
/// uniform open-model arrivals hold one slot per arrival of the rate profile (a small margin
/// covers the slot at the origin and float rounding). Poisson arrivals and closed models
/// have no such bound.
fn max_measured_ops(load: &LoadFacts) -> Option<u64> {
    let profile = load.profile.as_ref()?;
    if load.model != "open" || load.arrival != Some("uniform") {
        return None;
    }
    let slots = profile.integral(load.duration.as_secs_f64());
    Some((slots * 1.001).ceil() as u64 + 2)
}

/// Receives snapshots until every recorder has been dropped, keeping the progress line fresh
/// and watching for a stop. Returns the threshold that stopped the run, if one did.
fn gather(
    snapshots: &mpsc::Receiver<Snapshot>,
    collector: &mut Collector,
    mut progress: Option<&mut Progress>,
    watch: &Watch,
) -> Option<Breach> {
    let mut aborted = None;
    loop {
        // Short enough that a Ctrl-C reaches the workers at once, long enough to cost nothing.
        match snapshots.recv_timeout(Duration::from_millis(50)) {
            Ok(snapshot) => collector.absorb(snapshot),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if let Some(breach) = watch.check(collector) {
            aborted.get_or_insert(breach);
        }
        if let Some(progress) = progress.as_deref_mut() {
            progress.update(collector.live(), watch.halt.load(Ordering::Relaxed));
        }
    }
    aborted
}

fn assemble(
    workload: &Workload,
    workload_file: Option<&Path>,
    run: RunFacts,
    facts: Vec<JobFacts>,
    outcome: Outcome,
    stop: &AtomicBool,
) -> RunResults {
    let status = if !outcome.failures.is_empty() {
        RunStatus::Failed
    } else if outcome.aborted.is_some() {
        RunStatus::Aborted
    } else if stop.load(Ordering::Relaxed) {
        RunStatus::Interrupted
    } else {
        RunStatus::Complete
    };
    let jobs = facts
        .into_iter()
        .zip(&outcome.totals)
        .map(|(facts, totals)| {
            JobResults::build(facts, totals, outcome.measured, workload.interval.0)
        })
        .collect();
    let mut results = RunResults {
        schema_version: SCHEMA_VERSION,
        plimsoll_version: env!("CARGO_PKG_VERSION").to_owned(),
        status,
        failure: (!outcome.failures.is_empty()).then(|| outcome.failures.join("; ")),
        workload_file: workload_file.map(|p| p.display().to_string()),
        workload: serde_json::to_value(workload).unwrap_or_default(),
        host: run.host,
        started_at: humantime::format_rfc3339_seconds(run.started_at).to_string(),
        warmup_ns: outcome.warmed.as_nanos() as u64,
        duration_requested_ns: workload.duration.0.as_nanos() as u64,
        measured_ns: outcome.measured.as_nanos() as u64,
        interval_ns: workload.interval.0.as_nanos() as u64,
        jobs,
        resources: outcome.resources,
        checks: Vec::new(),
        thresholds: Vec::new(),
        shard: run.shard,
        clock: Some(run.clock),
        shards: Vec::new(),
        aborted: outcome.aborted,
        capacity: None,
        capacity_not_combined: None,
    };
    // A run that completed but in which some job never once succeeded failed, whatever its
    // thresholds: its figures describe only errors, and a CI job must not read it as a pass.
    if results.status == RunStatus::Complete {
        let empty: Vec<String> = results
            .jobs
            .iter()
            .filter_map(JobResults::nothing_succeeded)
            .collect();
        if !empty.is_empty() {
            results.status = RunStatus::Failed;
            results.failure = Some(empty.join("; "));
        }
    }
    results.checks = checks::evaluate(&results, workload);
    results.thresholds = crate::gate::evaluate(&crate::gate::workload_gates(workload), &results);
    results
}
