//! One lane of a null job: an operation that completes at once, or at a time computed from
//! its delay and the scripted stall, then is recorded like any other.
//!
//! With no delay an operation goes through no timer and no task wake-up: it is two clock
//! reads and a record, and the lane yields to its siblings only every [`YIELD_EVERY`]
//! operations. With a delay the lane waits on its own [`Alarm`], so many lanes are in flight
//! on one thread.

use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{RngExt as _, SeedableRng};
use rand_distr::{Distribution as _, Exp1};

use std::sync::Arc;

use super::alarm::Alarm;
use super::queue::Servers;
use crate::load::lanes::{Lane, Shared, Ticket};
use crate::measure::OpId;
use crate::workload::{Delay, RandomDelay};

/// Operations a lane with nothing to wait for runs before it lets the others on its thread
/// (and the supervisor, which watches for an interrupt) have a turn.
const YIELD_EVERY: u32 = 256;

const NULL: OpId = OpId(0);

/// How an operation's delay is drawn, in the form the hot path wants.
#[derive(Debug, Clone, Copy)]
pub(super) enum Draw {
    None,
    Fixed(Duration),
    Uniform(Duration, Duration),
    Exponential(Duration),
}

impl Draw {
    pub fn new(delay: Delay) -> Draw {
        match delay {
            Delay::Fixed(d) if d.0.is_zero() => Draw::None,
            Delay::Fixed(d) => Draw::Fixed(d.0),
            Delay::Random(RandomDelay::Uniform { min, max }) => Draw::Uniform(min.0, max.0),
            Delay::Random(RandomDelay::Exponential { mean }) => Draw::Exponential(mean.0),
        }
    }

    /// The longest delay worth waiting for at the end of a run (exponential: 20 means, which
    /// one operation in half a billion exceeds).
    pub fn bound(self) -> Duration {
        match self {
            Draw::None => Duration::ZERO,
            Draw::Fixed(d) | Draw::Uniform(_, d) => d,
            Draw::Exponential(mean) => mean * 20,
        }
    }

    fn sample(self, rng: &mut SmallRng) -> Duration {
        match self {
            Draw::None => Duration::ZERO,
            Draw::Fixed(d) => d,
            Draw::Uniform(low, high) => rng.random_range(low..=high),
            Draw::Exponential(mean) => mean.mul_f64(Exp1.sample(rng)),
        }
    }
}

/// The stall's window, as instants: operations in flight in it end at `until`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Window {
    pub from: Instant,
    pub until: Instant,
}

pub(super) struct NullLane {
    draw: Draw,
    stall: Option<Window>,
    servers: Option<Arc<Servers>>,
    rng: SmallRng,
    alarm: Option<Alarm>,
    since_yield: u32,
}

impl NullLane {
    pub fn new(
        draw: Draw,
        stall: Option<Window>,
        servers: Option<Arc<Servers>>,
        seed: u64,
    ) -> NullLane {
        NullLane {
            draw,
            stall,
            servers,
            rng: SmallRng::seed_from_u64(seed),
            alarm: None,
            since_yield: 0,
        }
    }

    /// When an operation sent at `sent` completes: after its delay (and its wait in the
    /// servers' line, if the job has servers), or at the stall's end if it is in flight at
    /// any moment of the stall.
    fn due(&mut self, sent: Instant) -> Instant {
        let service = self.draw.sample(&mut self.rng);
        let natural = match &self.servers {
            Some(servers) => servers.admit(sent, service),
            None => sent + service,
        };
        match self.stall {
            Some(w) if sent < w.until && natural >= w.from => natural.max(w.until),
            _ => natural,
        }
    }

    async fn wait_until(&self, due: Instant) {
        match &self.alarm {
            Some(alarm) => alarm.wait_until(due).await,
            None => tokio::time::sleep_until(due.into()).await,
        }
    }

    async fn take_turns(&mut self) {
        self.since_yield += 1;
        if self.since_yield >= YIELD_EVERY {
            self.since_yield = 0;
            tokio::task::yield_now().await;
        }
    }
}

impl Lane for NullLane {
    async fn start(&mut self, _shared: &Shared) {
        if matches!(self.draw, Draw::None) && self.stall.is_none() {
            return;
        }
        match Alarm::new() {
            Ok(alarm) => self.alarm = Some(alarm),
            Err(e) => tracing::warn!("no timerfd ({e}); delays use tokio's 1 ms timer"),
        }
    }

    async fn issue(&mut self, ticket: Ticket, shared: &Shared) {
        let sent = Instant::now();
        let due = self.due(sent);
        if due > sent {
            self.wait_until(due).await;
        } else {
            self.take_turns().await;
        }
        let end = Instant::now();
        let mut recorder = shared.recorder.borrow_mut();
        for _ in 0..ticket.count {
            match ticket.intended {
                Some(slot) => recorder.record_open(NULL, slot, sent, end, 0),
                None => recorder.record(NULL, sent, end, 0),
            }
        }
    }
}
