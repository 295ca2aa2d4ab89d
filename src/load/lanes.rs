//! The one worker loop every network driver shares: a stop rule, a pace (closed or open) and
//! a driver's lane composed, so no driver writes its own loop per combination.
//!
//! A *lane* is one sequence of requests: a connection in the closed model, one in-flight slot
//! in the open model. All lanes of a client thread run as tasks on that thread's
//! current-thread tokio runtime and share, without locks, its [`Recorder`], its pace (so the
//! open model's rate is the job's, not a connection's) and the stop rule. This module decides
//! when each request starts and when the thread stops; what a request is and how its outcome
//! is recorded is the driver's ([`Lane::issue`]).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{Arrivals, RateProfile};
use crate::measure::Recorder;
use crate::workload::LoadSpec;

/// When a thread's lanes stop issuing: at the measured end, after a count of measured
/// operations, or when the run is interrupted, whichever comes first.
#[derive(Debug)]
pub struct StopRule {
    pub measure_start: Instant,
    pub end: Instant,
    /// Measured operations left for the whole job (shared by its threads), if it has a count.
    pub budget: Option<Arc<AtomicU64>>,
    stopped: Cell<bool>,
}

impl StopRule {
    pub fn new(measure_start: Instant, end: Instant, budget: Option<Arc<AtomicU64>>) -> Self {
        StopRule {
            measure_start,
            end,
            budget,
            stopped: Cell::new(false),
        }
    }

    pub fn is_over(&self, now: Instant) -> bool {
        self.stopped.get() || now >= self.end
    }

    /// Up to `want` operations may go now; 0 means stop. Warmup operations take nothing from
    /// the count, and a count never hands out more than it holds, whatever the batch size.
    pub fn grant(&self, want: u64, now: Instant) -> u64 {
        let Some(budget) = self.budget.as_ref().filter(|_| now >= self.measure_start) else {
            return want;
        };
        let taken = budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            (left > 0).then(|| left.saturating_sub(want))
        });
        taken.map_or(0, |left| left.min(want))
    }

    fn stop(&self) {
        self.stopped.set(true);
    }

    /// Whether the lanes stopped before the measured end: their count ran out, or the run
    /// was stopped.
    fn ended_early(&self) -> bool {
        let spent = |left: &Arc<AtomicU64>| left.load(Ordering::Relaxed) == 0;
        self.stopped.get() || self.budget.as_ref().is_some_and(spent)
    }
}

/// How the next request's start is decided.
#[derive(Debug)]
pub enum Pace {
    /// Each lane sends its next batch when the previous one is answered, after `think`.
    Closed { batch: u64, think: Duration },
    /// Lanes take the next slot of the shared schedule, wait for it, and send one request.
    Open {
        arrivals: RefCell<Arrivals>,
        /// Slots that would go out later than this are skipped and counted.
        skip_late: Option<Duration>,
        /// Drop and count a slot that came due while every lane was busy, instead of sending
        /// it late when a lane frees up.
        drop_busy: bool,
    },
}

/// How late a slot may be when a lane takes it and still count as having found a free lane:
/// a lane that is idle holds its next slot and wakes for it, so a slot that a lane coming back
/// from a request takes later than its time found none free. The margin covers timer rounding
/// and a thread that is running other lanes when the slot comes due.
pub const BUSY_AFTER: Duration = Duration::from_millis(10);

impl Pace {
    /// One client thread's pace for a job with load keys `spec`: closed batches of `batch`
    /// requests, or, when the job has a rate `profile`, this thread's `share` (index, of
    /// threads) of the job's schedule, seeded with `seed`.
    pub fn for_thread(
        spec: &LoadSpec,
        profile: Option<RateProfile>,
        batch: u64,
        share: (u64, u64),
        measure_start: Instant,
        seed: u64,
    ) -> Pace {
        let Some(profile) = profile else {
            let think = spec.think_time.map_or(Duration::ZERO, |t| t.0);
            return Pace::Closed { batch, think };
        };
        let start = Instant::now().min(measure_start);
        let arrivals = Arrivals::new(profile, spec.arrival, share, (start, measure_start), seed);
        Pace::Open {
            arrivals: RefCell::new(arrivals),
            skip_late: spec.skip_late.map(|d| d.0),
            drop_busy: false,
        }
    }

    /// This pace, with open-model slots that find every lane busy dropped and counted rather
    /// than sent late. A closed pace is returned as it is.
    pub fn dropping_when_busy(mut self) -> Pace {
        if let Pace::Open { drop_busy, .. } = &mut self {
            *drop_busy = true;
        }
        self
    }
}

/// What a thread's lanes share. One thread only, so plain cells, no locks.
pub struct Shared {
    pub pace: Pace,
    pub stop: StopRule,
    pub recorder: RefCell<Recorder>,
}

/// One go-ahead from the pace: `count` requests, meant to start at `intended` (open model).
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    pub count: u64,
    pub intended: Option<Instant>,
}

/// A driver's lane: sends what a ticket allows and records each outcome on the shared
/// recorder (never holding the borrow across an await).
pub trait Lane: 'static {
    /// Runs once before the lane's first ticket (a network lane connects here).
    fn start(&mut self, shared: &Shared) -> impl Future<Output = ()>;
    fn issue(&mut self, ticket: Ticket, shared: &Shared) -> impl Future<Output = ()>;
}

/// How many tickets a lane takes between yields to its thread's other tasks. A lane whose
/// requests fail before they reach the network (a value that cannot be bound, say) never
/// waits, and without a yield it would keep the thread to itself: the supervisor, which turns
/// an interrupt or the grace deadline into a stop, would not run until the measured end.
const YIELD_EVERY: u32 = 64;

/// Runs one lane until the pace or the stop rule says it is done, and hands it back with its
/// connection still open (see [`supervise`]).
pub async fn drive<L: Lane>(mut lane: L, shared: Rc<Shared>) -> L {
    lane.start(&shared).await;
    let mut first = true;
    let mut since_yield = 0;
    while let Some(ticket) = next_ticket(&shared, first).await {
        first = false;
        lane.issue(ticket, &shared).await;
        since_yield += 1;
        if since_yield == YIELD_EVERY {
            since_yield = 0;
            tokio::task::yield_now().await;
        }
    }
    lane
}

async fn next_ticket(shared: &Shared, first: bool) -> Option<Ticket> {
    match &shared.pace {
        Pace::Closed { batch, think } => {
            if !first && !think.is_zero() {
                tokio::time::sleep(*think).await;
            }
            let now = Instant::now();
            if shared.stop.is_over(now) {
                return None;
            }
            let count = shared.stop.grant(*batch, now);
            (count > 0).then_some(Ticket {
                count,
                intended: None,
            })
        }
        Pace::Open {
            arrivals,
            skip_late,
            drop_busy,
        } => next_slot(shared, arrivals, *skip_late, *drop_busy && !first).await,
    }
}

async fn next_slot(
    shared: &Shared,
    arrivals: &RefCell<Arrivals>,
    skip_late: Option<Duration>,
    mut drop_busy: bool,
) -> Option<Ticket> {
    loop {
        let taken = Instant::now();
        let slot = arrivals.borrow_mut().next(taken);
        if shared.stop.is_over(slot) {
            return None;
        }
        if drop_busy && taken.saturating_duration_since(slot) > BUSY_AFTER {
            shared.recorder.borrow_mut().record_drop(taken);
            continue;
        }
        // Once a lane holds a slot it is idle: the backlog behind it was not its to drop.
        drop_busy = false;
        tokio::time::sleep_until(slot.into()).await;
        // Slots still due when the measured end comes are left unsent (a backlog is
        // counted, not worked off past the end).
        let now = Instant::now();
        if shared.stop.is_over(now) {
            return None;
        }
        if skip_late.is_some_and(|skip| now.saturating_duration_since(slot) > skip) {
            shared.recorder.borrow_mut().record_skip(now);
            continue;
        }
        if shared.stop.grant(1, now) == 0 {
            return None;
        }
        shared.recorder.borrow_mut().record_lag(slot, now);
        return Some(Ticket {
            count: 1,
            intended: Some(slot),
        });
    }
}

/// How often an idle thread tells the collector it has moved on, and checks for a stop.
const TICK: Duration = Duration::from_millis(50);

/// Runs a client thread: its lanes as tasks on a current-thread runtime, until they are all
/// done, `interrupt` is set, or `grace` past the measured end (requests still in flight then
/// are abandoned, so a stalled target cannot stretch the run). Returns the recorder.
pub fn run_thread<L: Lane>(
    lanes: Vec<L>,
    shared: Shared,
    interrupt: &AtomicBool,
    grace: Duration,
) -> std::io::Result<Recorder> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let shared = Rc::new(shared);
    let local = tokio::task::LocalSet::new();
    let ticks = Ticker::start()?;
    let supervised = local.run_until(supervise(lanes, shared.clone(), interrupt, grace, &ticks));
    runtime.block_on(supervised);
    drop(ticks);
    drop(local);
    let shared = Rc::try_unwrap(shared).map_err(|_| std::io::Error::other("lanes outlived run"))?;
    Ok(shared.recorder.into_inner())
}

/// Wakes a client thread's supervisor every [`TICK`] from a thread of its own, rather than
/// by a timer on the client thread's runtime. A timer that near is the first to expire every
/// time the client thread waits for its sockets, so each wait armed and cancelled a kernel
/// timer for it; on these virtual machines that cost about 5 % of the client's CPU per
/// PostgreSQL transaction (BENCHMARKS.md). The lanes' own timers are seconds away.
struct Ticker {
    notify: Arc<tokio::sync::Notify>,
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    fn start() -> std::io::Result<Ticker> {
        let notify = Arc::new(tokio::sync::Notify::new());
        let done = Arc::new(AtomicBool::new(false));
        let (n, d) = (notify.clone(), done.clone());
        let thread = std::thread::Builder::new()
            .name("plimsoll-tick".into())
            .spawn(move || {
                while !d.load(Ordering::Relaxed) {
                    // Parked, not slept, so that the drop below ends it at once.
                    std::thread::park_timeout(TICK);
                    n.notify_one();
                }
            })?;
        Ok(Ticker {
            notify,
            done,
            thread: Some(thread),
        })
    }

    async fn tick(&self) {
        self.notify.notified().await;
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

async fn supervise<L: Lane>(
    lanes: Vec<L>,
    shared: Rc<Shared>,
    interrupt: &AtomicBool,
    grace: Duration,
    ticks: &Ticker,
) {
    let tasks: Vec<_> = lanes
        .into_iter()
        .map(|lane| {
            let (shared, done) = (shared.clone(), ticks.notify.clone());
            tokio::task::spawn_local(async move {
                let lane = drive(lane, shared).await;
                // The supervisor looks at once, not on its next tick: the thread's last
                // request is when the run's measured window may close.
                done.notify_one();
                lane
            })
        })
        .collect();
    let give_up = shared.stop.end + grace;
    let cut_short = |now| interrupt.load(Ordering::Relaxed) || now >= give_up;
    while !tasks.iter().all(|t| t.is_finished()) {
        ticks.tick().await;
        let now = Instant::now();
        shared.recorder.borrow_mut().tick(now);
        if cut_short(now) {
            shared.stop.stop();
            tasks.iter().for_each(|t| t.abort());
        }
    }
    // Lanes that are done keep their connections until the last request of the whole run
    // (every thread, every job) has ended. Closing them at once made the server tear down
    // sessions (a PostgreSQL backend's exit) while other lanes' last transactions were still
    // running on it, and those came out as the run's slowest, several times slower than any
    // before the end (BENCHMARKS.md).
    let mut done = Vec::with_capacity(tasks.len());
    for task in tasks {
        done.extend(task.await.ok());
    }
    // Lanes that ran to the end issued until it, even when an open model's last slot came
    // before it: the schedule's quiet tail is part of the measured window.
    let now = Instant::now();
    let early = shared.stop.ended_early() || interrupt.load(Ordering::Relaxed);
    let stopped = if early { now } else { now.max(shared.stop.end) };
    shared.recorder.borrow_mut().stop_issuing_at(stopped);
    while !shared.recorder.borrow().run_quiet() {
        let now = Instant::now();
        if cut_short(now) {
            break;
        }
        shared.recorder.borrow_mut().tick(now);
        ticks.tick().await;
    }
    drop(done);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{Clock, ErrorKind, OpId};

    #[test]
    fn a_count_is_never_overdrawn_by_batches() {
        let now = Instant::now();
        let rule = StopRule::new(
            now,
            now + Duration::from_secs(60),
            Some(Arc::new(1000.into())),
        );
        let granted: Vec<u64> = std::iter::repeat_with(|| rule.grant(7, now))
            .take_while(|&n| n > 0)
            .collect();
        assert_eq!(granted.iter().sum::<u64>(), 1000);
        assert_eq!(granted.last(), Some(&(1000 % 7)));
    }

    /// A lane whose every request fails at once, before any I/O.
    struct NeverWaits;

    impl Lane for NeverWaits {
        async fn start(&mut self, _: &Shared) {}

        async fn issue(&mut self, _: Ticket, shared: &Shared) {
            let now = Instant::now();
            let kind = ErrorKind::Protocol;
            shared
                .recorder
                .borrow_mut()
                .record_error(OpId(0), now, kind);
        }
    }

    #[test]
    fn an_interrupt_stops_lanes_that_never_wait() {
        let start = Instant::now();
        let minute = Duration::from_secs(60);
        let clock = Clock::new(start, Duration::ZERO, minute, Duration::from_secs(1));
        let (sink, snapshots) = std::sync::mpsc::channel();
        let (_spares, spare_rx) = std::sync::mpsc::channel();
        let shared = Shared {
            pace: Pace::Closed {
                batch: 1,
                think: Duration::ZERO,
            },
            stop: StopRule::new(start, start + minute, None),
            recorder: RefCell::new(Recorder::new(0, 0, 1, clock, sink, spare_rx)),
        };
        let interrupt = AtomicBool::new(false);
        let recorder = std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(300));
                interrupt.store(true, Ordering::Relaxed);
            });
            run_thread(vec![NeverWaits, NeverWaits], shared, &interrupt, minute)
        })
        .expect("thread runs");
        // Without yields the lanes would run to the measured end, a minute away.
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{:?}",
            start.elapsed()
        );
        drop(recorder);
        drop(snapshots);
    }

    /// Each request takes `hold`; notes when its last one ended and when it was dropped.
    struct Hold {
        hold: Duration,
        log: Arc<std::sync::Mutex<Vec<(Duration, &'static str)>>>,
        start: Instant,
    }

    impl Hold {
        fn note(&self, what: &'static str) {
            let at = self.start.elapsed();
            self.log.lock().unwrap().push((at, what));
        }
    }

    impl Lane for Hold {
        async fn start(&mut self, _: &Shared) {}

        async fn issue(&mut self, _: Ticket, _: &Shared) {
            tokio::time::sleep(self.hold).await;
            self.note(if self.hold.as_millis() > 100 {
                "slow ended"
            } else {
                "fast ended"
            });
        }
    }

    impl Drop for Hold {
        fn drop(&mut self) {
            self.note("dropped");
        }
    }

    #[test]
    fn no_lane_closes_before_the_last_request_of_the_run_has_ended() {
        let start = Instant::now();
        let end = Duration::from_millis(300);
        let clock = Clock::new(start, Duration::ZERO, end, Duration::from_secs(1));
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (sink, snapshots) = std::sync::mpsc::channel();
        let issuing = Arc::new(crate::measure::Issuing::default());
        let interrupt = AtomicBool::new(false);
        let lane = |ms| Hold {
            hold: Duration::from_millis(ms),
            log: log.clone(),
            start,
        };
        // One thread of quick requests only; the other's slow request runs well past the end.
        let threads = [vec![lane(10)], vec![lane(10), lane(700)]];
        std::thread::scope(|scope| {
            for lanes in threads {
                let (sink, issuing, interrupt) = (sink.clone(), issuing.clone(), &interrupt);
                scope.spawn(move || {
                    let (_spares, spare_rx) = std::sync::mpsc::channel();
                    let recorder = Recorder::new(0, 0, 1, clock, sink, spare_rx).among(issuing);
                    let shared = Shared {
                        pace: Pace::Closed {
                            batch: 1,
                            think: Duration::ZERO,
                        },
                        stop: StopRule::new(start, start + end, None),
                        recorder: RefCell::new(recorder),
                    };
                    let grace = Duration::from_secs(5);
                    run_thread(lanes, shared, interrupt, grace).expect("thread runs");
                });
            }
        });
        drop(snapshots);
        let log = log.lock().unwrap();
        let slow_end = log
            .iter()
            .find(|(_, what)| *what == "slow ended")
            .expect("slow")
            .0;
        let drops: Vec<Duration> = log
            .iter()
            .filter(|(_, w)| *w == "dropped")
            .map(|e| e.0)
            .collect();
        assert_eq!(drops.len(), 3, "{log:?}");
        assert!(drops.iter().all(|&d| d >= slow_end), "{log:?}");
        // And not held to the grace deadline either.
        assert!(
            drops.iter().all(|&d| d < slow_end + Duration::from_secs(1)),
            "{log:?}"
        );
    }

    #[test]
    fn warmup_takes_nothing_from_the_count() {
        let now = Instant::now();
        let later = now + Duration::from_secs(5);
        let rule = StopRule::new(later, later, Some(Arc::new(3.into())));
        assert_eq!(rule.grant(16, now), 16);
        assert_eq!(rule.grant(16, later), 3);
    }
}
