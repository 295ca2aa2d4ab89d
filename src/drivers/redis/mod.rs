//! The Redis driver: connections over tokio (one current-thread runtime per client thread),
//! a weighted mix of GET, SET and command templates over a key space, pipelining, optional
//! prefill, and reconnection when the server drops a connection.
//!
//! This module turns a checked [`RedisJob`] into lanes for the shared worker loop
//! (`crate::load::lanes`), which decides when each request starts; it does not pace, and it
//! keeps no figures itself (the recorder does). The URL's password never leaves it: facts,
//! logs and errors use the redacted URL.

mod client;
mod commands;
mod conn;
mod dial;
mod lane;
mod link;
mod prefill;
mod resp;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::drivers::SetupError;
use crate::load::RateProfile;
use crate::load::lanes::{Pace, Shared, StopRule, run_thread};
use crate::measure::Recorder;
use crate::results::LoadFacts;
use crate::workload::{RedisJob, redact_url};

use commands::Plan;
use dial::Dialer;
use lane::RedisLane;
use link::Link;

/// A Redis job whose server answered and whose key space is loaded, if asked.
pub struct PreparedRedis {
    job: RedisJob,
    /// How measured lanes connect; the redis crate's client is the setup's only.
    dialer: Arc<Dialer>,
    plan: Arc<Plan>,
    profile: Option<RateProfile>,
    /// Measured operations left, when the job stops after a count.
    budget: Option<Arc<AtomicU64>>,
    /// The workload's measured duration: the schedule's length.
    duration: Duration,
    facts: RedisTarget,
}

/// What the results say about the server and how it was driven.
#[derive(Debug, Clone, Serialize)]
pub struct RedisTarget {
    /// The URL with any password replaced by `***`.
    pub url: String,
    pub server_version: Option<String>,
    pub connections: u32,
    pub pipeline: u32,
    pub threads: u32,
    /// Requests in flight at most, for the whole job.
    pub in_flight_limit: u64,
    pub timeout_ns: u64,
    pub key_count: u64,
    /// The number of the first key: keys run from `key_first` to `key_first + key_count - 1`.
    pub key_first: u64,
    pub key_prefix: String,
    pub key_distribution: serde_json::Value,
    pub value_size_bytes: u64,
    pub value_size_max_bytes: u64,
    pub prefill: Option<prefill::PrefillFacts>,
    pub seed: u64,
}

impl PreparedRedis {
    /// What can be found out without a connection: that the redis crate reads the URL. For
    /// `plimsoll validate`, and the first step of `prepare`.
    pub fn check(job: &RedisJob) -> Result<(), SetupError> {
        Self::connection_info(job).map(|_| ())
    }

    fn connection_info(job: &RedisJob) -> Result<redis::ConnectionInfo, SetupError> {
        client::connection_info(job)
            .map_err(|message| SetupError::input_at(&job.name, "url", message))
    }

    /// Checks the URL, connects once to see the server answer, and runs the prefill. No
    /// measured load yet. `duration` is the workload's measured duration (a ramp's default
    /// length).
    pub fn prepare(job: &RedisJob, duration: Duration) -> Result<PreparedRedis, SetupError> {
        let input = |message: String| SetupError::Input {
            job: job.name.clone(),
            key: None,
            message,
        };
        let failed = |source: anyhow::Error| SetupError::Failed {
            job: job.name.clone(),
            source,
        };
        let url = redact_url(&job.url);
        let info = Self::connection_info(job)?;
        let client = client::client(job, info).map_err(input)?;
        let dialer = Dialer::new(job, client.get_connection_info()).map_err(input)?;
        let plan = Plan::new(job).map_err(|e| input(format!("keys: {e}")))?;
        let (version, prefill) = prefill::check_and_fill(job, &client, &plan)
            .map_err(|e| failed(e.context(format!("cannot use the Redis server at {url}"))))?;
        let facts = describe(job, url, version, prefill);
        tracing::debug!(job = %job.name, ?facts, "redis job prepared");
        Ok(PreparedRedis {
            job: job.clone(),
            dialer: Arc::new(dialer),
            plan: Arc::new(plan),
            profile: RateProfile::from_spec(&job.load, duration),
            budget: job.ops.map(|n| Arc::new(AtomicU64::new(n))),
            duration,
            facts,
        })
    }

    pub fn op_names(&self) -> Vec<&'static str> {
        self.plan.names.clone()
    }

    pub fn counter_names(&self) -> Vec<&'static str> {
        lane::COUNTERS.to_vec()
    }

    /// Client threads: the runner gives each its own OS thread and recorder.
    pub fn workers(&self) -> usize {
        self.job.threads as usize
    }

    pub fn target(&self) -> RedisTarget {
        self.facts.clone()
    }

    pub fn load(&self) -> LoadFacts {
        LoadFacts::of_spec(
            &self.job.load,
            self.profile.clone(),
            self.facts.in_flight_limit,
            self.duration,
        )
    }

    /// Runs client thread `worker` until the measured end, the count, or `stop`; requests in
    /// flight at the end get up to the job's timeout to answer.
    pub fn run_worker(
        &self,
        worker: usize,
        recorder: Recorder,
        stop: &AtomicBool,
    ) -> anyhow::Result<()> {
        let clock = *recorder.clock();
        let shared = Shared {
            pace: self.pace(worker, clock.measure_start),
            stop: StopRule::new(clock.measure_start, clock.measure_end, self.budget.clone()),
            recorder: RefCell::new(recorder),
        };
        let lanes = self.lanes(worker);
        let recorder = run_thread(lanes, shared, stop, self.job.timeout.0)?;
        recorder.finish();
        Ok(())
    }

    fn pace(&self, worker: usize, measure_start: Instant) -> Pace {
        let share = (worker as u64, u64::from(self.job.threads));
        let (spec, profile) = (&self.job.load, self.profile.clone());
        let batch = u64::from(self.job.pipeline);
        Pace::for_thread(spec, profile, batch, share, measure_start, self.plan.seed)
    }

    /// This thread's lanes: one per connection (closed), or its share of the in-flight limit
    /// spread over its connections (open).
    fn lanes(&self, worker: usize) -> Vec<RedisLane> {
        let (connections, threads) = (self.job.connections as usize, self.job.threads as usize);
        let links: Vec<Option<Rc<Link>>> = (0..connections)
            .map(|c| {
                (c % threads == worker)
                    .then(|| Rc::new(Link::new(self.dialer.clone(), self.job.timeout.0)))
            })
            .collect();
        let lanes = if self.job.load.is_open() {
            self.facts.in_flight_limit as usize
        } else {
            connections
        };
        (0..lanes)
            .filter_map(|j| {
                let link = links[j % connections].clone()?;
                let chooser = self.plan.chooser(j as u64, lanes as u64);
                let timeout = self.job.timeout.0;
                Some(RedisLane::new(link, self.plan.clone(), chooser, timeout))
            })
            .collect()
    }
}

fn describe(
    job: &RedisJob,
    url: String,
    server_version: Option<String>,
    prefill: Option<prefill::PrefillFacts>,
) -> RedisTarget {
    let per_connection = u64::from(job.connections) * u64::from(job.pipeline);
    let in_flight_limit = match job.load.max_in_flight {
        Some(limit) if job.load.is_open() => u64::from(limit),
        _ => per_connection,
    };
    RedisTarget {
        url,
        server_version,
        connections: job.connections,
        pipeline: job.pipeline,
        threads: job.threads,
        in_flight_limit,
        timeout_ns: job.timeout.0.as_nanos() as u64,
        key_count: job.keys.count,
        key_first: job.keys.first,
        key_prefix: job.keys.prefix.clone(),
        key_distribution: serde_json::to_value(&job.keys.distribution).unwrap_or_default(),
        value_size_bytes: job.value_size.0,
        value_size_max_bytes: job.value_size_max.unwrap_or(job.value_size).0,
        prefill,
        seed: job.seed.unwrap_or(0),
    }
}
