//! The HTTP driver: weighted requests or user journeys against one origin, over HTTP/1.1
//! (a keep-alive pool of a set size, or a new connection per request) or HTTP/2, with TLS
//! through rustls, timeouts, an explicit redirect policy, and checks on every response.
//!
//! This module turns a checked [`HttpJob`] into lanes for the shared worker loop
//! (`crate::load::lanes`), which decides when each request starts; in the open model a slot
//! that finds every lane busy is dropped and counted, not queued. It keeps no figures itself
//! (the recorder does). A password in the base URL is sent as basic authentication and never
//! shown: facts, logs and errors use the redacted URL.

mod lane;
mod plan;
mod pool;
mod tls;
mod values;

use std::cell::RefCell;
use std::net::{SocketAddr, ToSocketAddrs as _};
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
use crate::runner::PreparedJob;
use crate::workload::{HttpJob, HttpVersion, redact_url};

use lane::{HttpLane, Redirects};
use plan::Plan;
use pool::{Connector, Pool};

pub struct PreparedHttp {
    job: HttpJob,
    plan: Arc<Plan>,
    connector: Arc<Connector>,
    profile: Option<RateProfile>,
    budget: Option<Arc<AtomicU64>>,
    duration: Duration,
    facts: HttpTarget,
}

/// What the results say about the target and how it was driven.
#[derive(Debug, Clone, Serialize)]
pub struct HttpTarget {
    /// The base URL with any password replaced by `***`.
    pub base_url: String,
    pub address: String,
    /// `1.1` or `2` (`2` over `http://` is h2c with prior knowledge).
    pub http_version: &'static str,
    /// `keep-alive pool` or `new connection per request` (HTTP/1.1), `shared` (HTTP/2).
    pub connection_mode: &'static str,
    /// Connections open at most at once, for the whole job.
    pub pool_size: u32,
    pub streams_per_connection: u32,
    pub threads: u32,
    /// Requests in flight at most, for the whole job.
    pub in_flight_limit: u64,
    pub connect_timeout_ns: u64,
    pub timeout_ns: u64,
    pub follow_redirects: bool,
    pub max_redirects: Option<u32>,
    /// `none`, `system roots`, `ca file` or `insecure (no verification)`.
    pub tls: &'static str,
    pub requests: Vec<RequestFacts>,
    pub journeys: Vec<JourneyFacts>,
    /// Rows per CSV value, by name.
    pub csv_rows: std::collections::BTreeMap<String, usize>,
    pub seed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestFacts {
    pub name: String,
    pub method: String,
    /// The path or URL as written, any password replaced by `***`.
    pub target: String,
    pub weight: Option<u32>,
    /// The checks, by the names their failures are counted under.
    pub checks: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JourneyFacts {
    pub name: String,
    pub weight: u32,
    pub think_time_ns: u64,
    pub steps: Vec<RequestFacts>,
}

impl PreparedHttp {
    /// What can be found out without a connection: templates, body and CSV files, the CA
    /// file, the address. For `plimsoll validate`, and the first half of `prepare`.
    pub fn check(job: &HttpJob) -> Result<(), SetupError> {
        Self::build(job).map(|_| ())
    }

    fn build(job: &HttpJob) -> Result<(Plan, Connector), SetupError> {
        let input = |message: String| SetupError::Input {
            job: job.name.clone(),
            key: None,
            message,
        };
        let plan = Plan::new(job).map_err(|refusal| SetupError::Input {
            job: job.name.clone(),
            key: refusal.key,
            message: refusal.message,
        })?;
        let addr = resolve(&plan.origin).map_err(input)?;
        let tls = tls::connector(job, &plan.origin).map_err(input)?;
        let connector = Connector {
            addr,
            tls,
            http2: job.http_version == HttpVersion::Http2,
            timeout: job.connect_timeout.0,
        };
        Ok((plan, connector))
    }

    /// Builds the plan and opens one connection to see the target answer. No request is
    /// sent. `duration` is the workload's measured duration (a ramp's default length).
    pub fn prepare(job: &HttpJob, duration: Duration) -> Result<PreparedHttp, SetupError> {
        let (plan, connector) = Self::build(job)?;
        let url = redact_url(&job.base_url);
        probe(&connector).map_err(|message| SetupError::Failed {
            job: job.name.clone(),
            source: anyhow::anyhow!("cannot use the HTTP target at {url}: {message}"),
        })?;
        let facts = describe(job, &plan, &connector);
        tracing::debug!(job = %job.name, ?facts, "http job prepared");
        Ok(PreparedHttp {
            job: job.clone(),
            plan: Arc::new(plan),
            connector: Arc::new(connector),
            profile: RateProfile::from_spec(&job.load, duration),
            budget: job.ops.map(|n| Arc::new(AtomicU64::new(n))),
            duration,
            facts,
        })
    }

    fn load_facts(&self) -> LoadFacts {
        LoadFacts::of_spec(
            &self.job.load,
            self.profile.clone(),
            self.facts.in_flight_limit,
            self.duration,
        )
    }

    fn run(&self, worker: usize, recorder: Recorder, stop: &AtomicBool) -> anyhow::Result<()> {
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
        Pace::for_thread(spec, profile, 1, share, measure_start, self.plan.seed)
            .dropping_when_busy()
    }

    /// This thread's share of the pool, and its lanes: one per connection and stream
    /// (closed), or its share of the in-flight limit (open).
    fn lanes(&self, worker: usize) -> Vec<HttpLane> {
        let threads = self.job.threads as usize;
        let share = |total: usize| total / threads + usize::from(worker < total % threads);
        let connections = share(self.job.connections as usize);
        let pool = Rc::new(Pool::new(
            self.connector.clone(),
            connections,
            self.job.keep_alive,
        ));
        let lanes = if self.job.load.is_open() {
            share(self.facts.in_flight_limit as usize)
        } else {
            connections * self.job.streams as usize
        };
        let redirects = Redirects {
            follow: self.job.follow_redirects,
            max: self.job.max_redirects,
        };
        let options = (self.connector.http2, self.job.timeout.0, redirects);
        (0..lanes)
            .map(|j| {
                let seed = self.plan.seed ^ ((worker as u64) << 32 | j as u64);
                HttpLane::new(j, pool.clone(), self.plan.clone(), seed, options)
            })
            .collect()
    }
}

/// The base URL's host as a socket address; the first one its name resolves to.
fn resolve(origin: &plan::Origin) -> Result<SocketAddr, String> {
    let target = (origin.host.as_str(), origin.port);
    let mut addrs = target
        .to_socket_addrs()
        .map_err(|e| format!("base_url host `{}` does not resolve: {e}", origin.host))?;
    addrs
        .next()
        .ok_or_else(|| format!("base_url host `{}` has no address", origin.host))
}

/// Opens (and drops) one connection, on a runtime of its own, so that a target that is down
/// or speaks no TLS stops the run before any load.
fn probe(connector: &Connector) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let local = tokio::task::LocalSet::new();
    let opened = local.block_on(&runtime, connector.open());
    opened
        .map(|_| ())
        .map_err(|kind| format!("opening a connection to {} failed ({kind})", connector.addr))
}

fn describe(job: &HttpJob, plan: &Plan, connector: &Connector) -> HttpTarget {
    let http2 = job.http_version == HttpVersion::Http2;
    let per_connection = u64::from(job.connections) * u64::from(job.streams);
    let in_flight_limit = match job.load.max_in_flight {
        Some(limit) if job.load.is_open() => u64::from(limit),
        _ => per_connection,
    };
    let requests = job
        .requests
        .iter()
        .map(|r| request_facts(r, r.op_name()))
        .collect();
    let journeys = job
        .journeys
        .iter()
        .map(|j| JourneyFacts {
            name: j.name.clone(),
            weight: j.weight,
            think_time_ns: j.think_time.map_or(0, |t| t.0.as_nanos() as u64),
            steps: (0..j.steps.len())
                .map(|i| request_facts(&j.steps[i], j.step_name(i)))
                .collect(),
        })
        .collect();
    HttpTarget {
        base_url: redact_url(&job.base_url),
        address: connector.addr.to_string(),
        http_version: if http2 { "2" } else { "1.1" },
        connection_mode: match (http2, job.keep_alive) {
            (true, _) => "shared",
            (false, true) => "keep-alive pool",
            (false, false) => "new connection per request",
        },
        pool_size: job.connections,
        streams_per_connection: job.streams,
        threads: job.threads,
        in_flight_limit,
        connect_timeout_ns: job.connect_timeout.0.as_nanos() as u64,
        timeout_ns: job.timeout.0.as_nanos() as u64,
        follow_redirects: job.follow_redirects,
        max_redirects: job.follow_redirects.then_some(job.max_redirects),
        tls: tls::mode(job),
        requests,
        journeys,
        csv_rows: plan
            .generators
            .iter()
            .filter_map(|g| Some((g.name.clone(), g.rows()?)))
            .collect(),
        seed: job.seed.unwrap_or(0),
    }
}

fn request_facts(request: &crate::workload::RequestSpec, name: String) -> RequestFacts {
    RequestFacts {
        name,
        method: request.method.to_ascii_uppercase(),
        target: redact_url(request.target()),
        weight: request.weight,
        checks: request.checks.iter().map(|c| c.label()).collect(),
    }
}

impl PreparedJob for PreparedHttp {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn op_names(&self) -> Vec<&'static str> {
        self.plan.names.clone()
    }

    fn workers(&self) -> usize {
        self.job.threads as usize
    }

    fn target(&self) -> serde_json::Value {
        serde_json::to_value(&self.facts).unwrap_or_default()
    }

    fn load(&self, _duration: Duration) -> LoadFacts {
        self.load_facts()
    }

    fn counter_names(&self) -> Vec<&'static str> {
        lane::COUNTERS.to_vec()
    }

    fn run_worker(
        &self,
        worker: usize,
        recorder: Recorder,
        stop: &AtomicBool,
    ) -> anyhow::Result<()> {
        self.run(worker, recorder, stop)
    }

    fn cleanup(self: Box<Self>) {}
}
