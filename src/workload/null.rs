//! The null job as the user writes it: operations that do nothing, or that complete after a
//! fixed or random delay, optionally held by one scripted stall, with their value checks.
//!
//! A null job measures plimsoll's own cost per operation (no delay) and gives the scheduler
//! tests a target whose timing is known exactly (a delay and a stall). How the delay is waited
//! for is the driver's business (`crate::drivers::null`).

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::load_model::{self, LoadSpec};
use super::spans::{FieldPath, Finding};
use super::units::HumanDuration;
use super::validate::MAX_WORKERS;
use crate::load::{Shard, ShardError};

/// Operations in flight for a whole null job. Each lane with a delay waits on a kernel timer
/// of its own (a file descriptor), so the open-file limit bounds this too.
pub const MAX_NULL_IN_FLIGHT: u32 = 10_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NullJob {
    pub name: String,
    /// Threads, each with its own event loop and recorder. Default 1.
    #[serde(default = "one")]
    pub workers: u32,
    /// Operations in flight per worker, in the closed model. Default 1.
    #[serde(default = "one")]
    pub queue_depth: u32,
    /// Stop after this many measured operations (or at the end of the duration, if sooner).
    #[serde(default)]
    pub ops: Option<u64>,
    /// How long each operation takes. Default 0: it completes as soon as it is issued.
    #[serde(default)]
    pub delay: Delay,
    /// A scripted stall of the target: operations in flight or issued during it complete at
    /// its end (or at their own end, if that is later).
    #[serde(default)]
    pub stall: Option<Stall>,
    /// A queueing target: this many servers, each serving one operation at a time for its
    /// delay (the service time); operations that find every server busy wait in one FIFO
    /// queue. Its capacity is then `servers / delay` exactly. Default: none, every operation
    /// runs at once.
    #[serde(default)]
    pub servers: Option<u32>,
    /// Seed for random delays.
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub load: LoadSpec,
    /// Thresholds for this job; see [`super::Job::thresholds`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<crate::gate::Threshold>,
}

/// An operation's delay: a duration (`"1ms"`), or a table with a `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Delay {
    Fixed(HumanDuration),
    Random(RandomDelay),
}

impl Default for Delay {
    fn default() -> Self {
        Delay::Fixed(HumanDuration(std::time::Duration::ZERO))
    }
}

/// The delays drawn per operation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RandomDelay {
    /// Uniform between `min` and `max`, inclusive.
    Uniform {
        min: HumanDuration,
        max: HumanDuration,
    },
    /// Exponential with mean `mean`, as service times of a memoryless server.
    Exponential { mean: HumanDuration },
}

/// A stall from `at` after the start of measurement, lasting `for`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stall {
    pub at: HumanDuration,
    #[serde(rename = "for")]
    pub length: HumanDuration,
}

impl<'de> Deserialize<'de> for Delay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DelayVisitor)
    }
}

/// A duration (string or number of seconds) is a fixed delay; a table is a random one.
struct DelayVisitor;

impl DelayVisitor {
    fn fixed<'de, E: de::Error, V>(v: V) -> Result<Delay, E>
    where
        V: de::IntoDeserializer<'de, E>,
    {
        HumanDuration::deserialize(v.into_deserializer()).map(Delay::Fixed)
    }
}

impl<'de> Visitor<'de> for DelayVisitor {
    type Value = Delay;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as `1ms`, or a table such as `{ kind = \"uniform\", ... }`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Delay, E> {
        Self::fixed(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Delay, E> {
        Self::fixed(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Delay, E> {
        Self::fixed(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Delay, E> {
        Self::fixed(v)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Delay, A::Error> {
        RandomDelay::deserialize(de::value::MapAccessDeserializer::new(map)).map(Delay::Random)
    }
}

impl NullJob {
    /// Operations in flight at most, for the whole job.
    pub fn in_flight_limit(&self) -> u64 {
        let closed = u64::from(self.workers) * u64::from(self.queue_depth);
        match self.load.max_in_flight {
            Some(limit) if self.load.is_open() => u64::from(limit),
            _ => closed,
        }
    }
}

impl NullJob {
    /// This shard's part of the job: its part of `workers`, of `ops`, and of the open model's
    /// rate and `max_in_flight`. A queueing target is simulated inside each shard, so its
    /// `servers` are split too, and the shards' capacities add up to the whole one's. Delays
    /// and the stall are the same in every shard; the seed is the shard's own.
    pub fn shard(&self, shard: Shard) -> Result<NullJob, ShardError> {
        let servers = self.servers.map(|n| shard.part_of_u32(n, "servers"));
        Ok(NullJob {
            servers: servers.transpose()?,
            workers: shard.part_of_u32(self.workers, "workers")?,
            ops: self.ops.map(|n| shard.part_of(n, "ops")).transpose()?,
            seed: Some(shard.seed(self.seed.unwrap_or(0))),
            load: self.load.shard(shard)?,
            ..self.clone()
        })
    }
}

fn one() -> u32 {
    1
}

/// Everything wrong with a null job's values, by field.
pub(crate) fn check(job: &NullJob, path: &FieldPath) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut ensure = |ok: bool, key: FieldPath, message: String| {
        if !ok {
            findings.push(Finding::at(key, message));
        }
    };
    for (key, value, max) in [
        ("workers", job.workers, MAX_WORKERS),
        ("queue_depth", job.queue_depth, MAX_NULL_IN_FLIGHT),
    ] {
        let message = format!("{key} is {value}; use 1 to {max}");
        ensure((1..=max).contains(&value), path.key(key), message);
    }
    check_in_flight(job, path, &mut ensure);
    ensure(
        job.ops != Some(0),
        path.key("ops"),
        "ops is 0, so nothing would be measured; set it to 1 or more, or remove it to run for \
         the duration"
            .into(),
    );
    check_delay(&job.delay, &path.key("delay"), &mut ensure);
    check_servers(job, path, &mut ensure);
    if let Some(stall) = job.stall {
        ensure(
            !stall.length.0.is_zero(),
            path.key("stall").key("for"),
            "the stall lasts 0 s; give it a length, like `for = \"1s\"`, or remove it".into(),
        );
    }
    findings.extend(load_model::check(&job.load, &path.key("load")));
    findings
}

fn check_in_flight(
    job: &NullJob,
    path: &FieldPath,
    ensure: &mut impl FnMut(bool, FieldPath, String),
) {
    let limit = job.in_flight_limit();
    let key = match job.load.max_in_flight {
        Some(_) if job.load.is_open() => path.key("load").key("max_in_flight"),
        _ => path.key("queue_depth"),
    };
    ensure(
        limit <= u64::from(MAX_NULL_IN_FLIGHT),
        key.clone(),
        format!(
            "{limit} operations in flight is more than {MAX_NULL_IN_FLIGHT} (each waits on a \
             timer of its own); lower queue_depth, workers or max_in_flight"
        ),
    );
    ensure(
        limit >= u64::from(job.workers) || limit == 0,
        key,
        format!(
            "max_in_flight ({limit}) is less than workers ({}), so some workers could never \
             send their share of the schedule; raise max_in_flight or lower workers",
            job.workers
        ),
    );
}

fn check_servers(
    job: &NullJob,
    path: &FieldPath,
    ensure: &mut impl FnMut(bool, FieldPath, String),
) {
    let Some(servers) = job.servers else {
        return;
    };
    ensure(
        (1..=MAX_NULL_IN_FLIGHT).contains(&servers),
        path.key("servers"),
        format!("servers is {servers}; use 1 to {MAX_NULL_IN_FLIGHT}"),
    );
    ensure(
        job.delay != Delay::default(),
        path.key("servers"),
        "servers needs a delay, which is each server's service time; add one, like \
         `delay = \"10ms\"`, or remove servers"
            .into(),
    );
}

fn check_delay(delay: &Delay, path: &FieldPath, ensure: &mut impl FnMut(bool, FieldPath, String)) {
    match delay {
        Delay::Fixed(_) => {}
        Delay::Random(RandomDelay::Uniform { min, max }) => ensure(
            min <= max,
            path.key("max"),
            format!("max ({max}) is less than min ({min}); make max at least min"),
        ),
        Delay::Random(RandomDelay::Exponential { mean }) => ensure(
            !mean.0.is_zero(),
            path.key("mean"),
            "mean is 0 s; give it a length, like `mean = \"1ms\"`, or write `delay = \"0s\"` \
             for no delay"
                .into(),
        ),
    }
}
