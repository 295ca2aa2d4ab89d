//! The `load` table a network job takes: closed or open model, the target rate profile, the
//! arrival process and the lateness policy, with their value checks.
//!
//! This module owns what the user writes and what makes it invalid. Turning it into intended
//! start times is the scheduler's business (`crate::load`).

use serde::{Deserialize, Serialize};

use super::spans::{FieldPath, Finding};
use super::units::{HumanDuration, Rate};
use crate::load::{Shard, ShardError};

/// How a job offers load. Default: closed, no think time.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    #[serde(default)]
    pub model: LoadModel,
    /// Closed model: pause between a reply and the next request on a connection. Default 0.
    #[serde(default)]
    pub think_time: Option<HumanDuration>,
    /// Open model: one constant arrival rate for the whole job (not per connection).
    #[serde(default)]
    pub rate: Option<Rate>,
    /// Open model: a linear ramp for the whole job.
    #[serde(default)]
    pub ramp: Option<Ramp>,
    /// Open model: constant rates one after another; the last one holds to the end.
    #[serde(default)]
    pub stages: Option<Vec<Stage>>,
    /// Open model: how arrivals are spaced. Default uniform.
    #[serde(default)]
    pub arrival: Arrival,
    /// Open model: operations in flight at once for the whole job. Default connections ×
    /// pipeline. A slot that finds them all busy waits, and its wait shows in latency.
    #[serde(default)]
    pub max_in_flight: Option<u32>,
    /// Open model: a slot whose send would be more than this late is skipped and counted,
    /// not sent. Default: never skip.
    #[serde(default)]
    pub skip_late: Option<HumanDuration>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadModel {
    /// Each connection sends its next request when the previous reply is in.
    #[default]
    Closed,
    /// Requests start on a schedule, whatever the replies do.
    Open,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// Evenly spaced: slot k at the time the profile's integral reaches k.
    #[default]
    Uniform,
    /// Exponential gaps with the profile's rate as its mean, as independent users arrive.
    Poisson,
}

/// A linear change of the job's rate from `from` to `to`, then `to` held.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ramp {
    pub from: Rate,
    pub to: Rate,
    /// How long the ramp takes. Default: the whole measured duration.
    #[serde(default)]
    pub over: Option<HumanDuration>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub rate: Rate,
    pub duration: HumanDuration,
}

impl LoadSpec {
    pub fn is_open(&self) -> bool {
        self.model == LoadModel::Open
    }

    /// This shard's part of the load table: every rate of the profile and `max_in_flight`
    /// split; the arrival process, think time and lateness policy the same in every shard.
    pub fn shard(&self, shard: Shard) -> Result<LoadSpec, ShardError> {
        let rate = |r: Rate, what: &str| shard.rate(r.0, what).map(Rate);
        let stages = self.stages.as_ref().map(|stages| {
            let split = stages.iter().enumerate().map(|(i, stage)| {
                Ok(Stage {
                    rate: rate(stage.rate, &format!("load.stages[{i}].rate"))?,
                    ..*stage
                })
            });
            split.collect::<Result<Vec<_>, ShardError>>()
        });
        let ramp = self.ramp.map(|ramp| {
            Ok::<_, ShardError>(Ramp {
                from: rate(ramp.from, "load.ramp.from")?,
                to: rate(ramp.to, "load.ramp.to")?,
                ..ramp
            })
        });
        let max_in_flight = self.max_in_flight;
        Ok(LoadSpec {
            rate: self.rate.map(|r| rate(r, "load.rate")).transpose()?,
            ramp: ramp.transpose()?,
            stages: stages.transpose()?,
            max_in_flight: max_in_flight
                .map(|n| shard.part_of_u32(n, "load.max_in_flight"))
                .transpose()?,
            ..self.clone()
        })
    }
}

/// Everything wrong with a `load` table, by field.
pub(crate) fn check(load: &LoadSpec, path: &FieldPath) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut ensure = |ok: bool, key: &str, message: &dyn Fn() -> String| {
        if !ok {
            findings.push(Finding::at(path.key(key), message()));
        }
    };
    let open = load.is_open();
    let profiles = [
        ("rate", load.rate.is_some()),
        ("ramp", load.ramp.is_some()),
        ("stages", load.stages.is_some()),
    ];
    let given: Vec<&str> = profiles.iter().filter(|p| p.1).map(|p| p.0).collect();
    ensure(!open || !given.is_empty(), "model", &|| {
        "the open model needs one of rate, ramp or stages; add one, like `rate = \"1k\"` \
         (operations per second for the whole job)"
            .into()
    });
    // Placed at the second one given, since the first reads as the choice the user made.
    if let (true, [first, second, rest @ ..]) = (open, given.as_slice()) {
        ensure(false, second, &|| {
            if rest.is_empty() {
                format!(
                    "both {first} and {second} are given, but the open model takes only one of \
                     rate, ramp or stages; give only one of them and remove the other"
                )
            } else {
                "rate, ramp and stages are all given, but the open model takes only one of \
                 them; give only one and remove the others"
                    .to_owned()
            }
        });
    }
    for (key, set) in [
        ("rate", load.rate.is_some()),
        ("ramp", load.ramp.is_some()),
        ("stages", load.stages.is_some()),
        ("max_in_flight", load.max_in_flight.is_some()),
        ("skip_late", load.skip_late.is_some()),
        ("arrival", load.arrival != Arrival::Uniform),
    ] {
        ensure(open || !set, key, &|| {
            format!("{key} only applies to the open model; add `model = \"open\"`, or remove it")
        });
    }
    ensure(!open || load.think_time.is_none(), "think_time", &|| {
        "think_time only applies to the closed model; remove it, or set model = \"closed\"".into()
    });
    ensure(load.max_in_flight != Some(0), "max_in_flight", &|| {
        "max_in_flight is 0, so nothing could be sent; set it to 1 or more".into()
    });
    let empty_stages = load.stages.as_ref().is_some_and(Vec::is_empty);
    ensure(!empty_stages, "stages", &|| {
        "stages is empty; list at least one, like `stages = [{ rate = \"500\", duration = \
         \"10s\" }]`"
            .into()
    });
    findings.extend(zero_stages(load, path));
    findings
}

fn zero_stages(load: &LoadSpec, path: &FieldPath) -> Vec<Finding> {
    let stages = load.stages.iter().flatten().enumerate();
    stages
        .filter(|(_, s)| s.duration.0.is_zero())
        .map(|(i, _)| {
            let message = "this stage lasts 0 s; give it a duration, like `duration = \"10s\"`, \
                           or remove it";
            Finding::at(path.key("stages").index(i).key("duration"), message.into())
        })
        .collect()
}
