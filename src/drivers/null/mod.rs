//! The null driver: a target that does nothing, or takes a known time, so that plimsoll's own
//! cost per operation can be measured and the scheduler's timing checked against arithmetic.
//!
//! This module turns a checked [`NullJob`] into lanes for the shared worker loop
//! (`crate::load::lanes`), exactly as the network drivers do: the same stop rule, closed and
//! open paces, recorder and results. It does no I/O; what its operations do is in [`lane`].

mod alarm;
mod lane;
mod queue;

use std::cell::RefCell;
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
use crate::workload::{Delay, NullJob, Stall};

use lane::{Draw, NullLane, Window};
use queue::Servers;

/// How long past the measured end in-flight operations may take, beyond their own delay and
/// the stall, before they are abandoned.
const GRACE: Duration = Duration::from_secs(1);

pub struct PreparedNull {
    job: NullJob,
    draw: Draw,
    profile: Option<RateProfile>,
    budget: Option<Arc<AtomicU64>>,
    servers: Option<Arc<Servers>>,
    duration: Duration,
}

/// What the results say about the null target.
#[derive(Debug, Clone, Serialize)]
pub struct NullTarget {
    pub workers: u32,
    pub queue_depth: u32,
    /// Operations in flight at most, for the whole job.
    pub in_flight_limit: u64,
    pub delay: Delay,
    /// Servers in front of which operations queue; capacity is servers / delay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servers: Option<u32>,
    pub stall: Option<Stall>,
    pub seed: u64,
}

impl PreparedNull {
    /// Nothing to connect to or lay out; `duration` is the workload's measured duration (a
    /// ramp's default length).
    pub fn prepare(job: &NullJob, duration: Duration) -> Result<PreparedNull, SetupError> {
        Ok(PreparedNull {
            job: job.clone(),
            draw: Draw::new(job.delay),
            profile: RateProfile::from_spec(&job.load, duration),
            budget: job.ops.map(|n| Arc::new(AtomicU64::new(n))),
            servers: job
                .servers
                .map(|n| Arc::new(Servers::new(n, Instant::now()))),
            duration,
        })
    }

    fn facts(&self) -> NullTarget {
        NullTarget {
            workers: self.job.workers,
            queue_depth: self.job.queue_depth,
            in_flight_limit: self.job.in_flight_limit(),
            delay: self.job.delay,
            servers: self.job.servers,
            stall: self.job.stall,
            seed: self.seed(),
        }
    }

    fn seed(&self) -> u64 {
        self.job.seed.unwrap_or(0)
    }

    fn load_facts(&self) -> LoadFacts {
        LoadFacts::of_spec(
            &self.job.load,
            self.profile.clone(),
            self.job.in_flight_limit(),
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
        let stall = self.job.stall.map(|s| Window {
            from: clock.measure_start + s.at.0,
            until: clock.measure_start + s.at.0 + s.length.0,
        });
        let grace =
            GRACE + self.draw.bound() + self.job.stall.map_or(Duration::ZERO, |s| s.length.0);
        let lanes = (0..self.lane_count(worker))
            .map(|j| {
                let seed = self.seed() ^ ((worker as u64) << 32 | j as u64);
                NullLane::new(self.draw, stall, self.servers.clone(), seed)
            })
            .collect();
        let recorder = run_thread(lanes, shared, stop, grace)?;
        recorder.finish();
        Ok(())
    }

    fn pace(&self, worker: usize, measure_start: Instant) -> Pace {
        let share = (worker as u64, u64::from(self.job.workers));
        let (spec, profile) = (&self.job.load, self.profile.clone());
        Pace::for_thread(spec, profile, 1, share, measure_start, self.seed())
    }

    /// Closed: `queue_depth` lanes per worker. Open: this worker's share of the job's
    /// in-flight limit (validation makes it at least one).
    fn lane_count(&self, worker: usize) -> usize {
        if !self.job.load.is_open() {
            return self.job.queue_depth as usize;
        }
        let (limit, workers) = (
            self.job.in_flight_limit() as usize,
            self.job.workers as usize,
        );
        limit / workers + usize::from(worker < limit % workers)
    }
}

impl PreparedJob for PreparedNull {
    fn kind(&self) -> &'static str {
        "null"
    }

    fn op_names(&self) -> Vec<&'static str> {
        vec!["null"]
    }

    fn workers(&self) -> usize {
        self.job.workers as usize
    }

    fn target(&self) -> serde_json::Value {
        serde_json::to_value(self.facts()).unwrap_or_default()
    }

    fn load(&self, _duration: Duration) -> LoadFacts {
        self.load_facts()
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
