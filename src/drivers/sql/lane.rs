//! One lane of a SQL job: a connection of its own, on which it runs the transactions its
//! tickets allow, records each, retries the ones a serialization failure or deadlock rolled
//! back, and connects again when the connection is lost.
//!
//! A transaction's latency runs from its intended start (the open model's slot, or the first
//! statement's send) to its commit, retries included; each timed statement's runs from its
//! own send. A transaction that fails for good is counted by the kind of its last error, on
//! itself and on the statement that failed.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::time::Sleep;

use super::errors::{Retry, SqlError};
use super::params::Draw;
use super::script::{Plan, Transaction};
use super::{Backend, Conn, Params};
use crate::load::lanes::{Lane, Shared, Ticket};
use crate::measure::{CounterId, OpId};

/// The job's named counters, in [`CounterId`] order.
pub(super) const COUNTERS: [&str; 4] = [
    "reconnects",
    "serialization_retries",
    "deadlock_retries",
    "lock_wait_retries",
];
const RECONNECTS: CounterId = CounterId(0);
const SERIALIZATION_RETRIES: CounterId = CounterId(1);
const DEADLOCK_RETRIES: CounterId = CounterId(2);
const LOCK_WAIT_RETRIES: CounterId = CounterId(3);

/// How long a lane waits after a failed connection attempt before the next, so that a
/// server that is down is not hammered.
const BACKOFF: Duration = Duration::from_millis(50);

pub(super) struct SqlLane<B: Backend> {
    backend: Arc<B>,
    plan: Arc<Plan>,
    conn: Option<B::Conn>,
    ever_connected: bool,
    draw: Draw,
    timeout: Duration,
    /// The lane's one statement timer, reused for every statement (see [`within`]). Made and
    /// first polled in [`Lane::start`], inside the lane's task.
    timer: Option<Pin<Box<Sleep>>>,
}

/// A failed attempt: the error and the timed statement it hit, if any.
struct Failure {
    error: SqlError,
    op: Option<OpId>,
}

impl<B: Backend> SqlLane<B> {
    pub fn new(backend: Arc<B>, plan: Arc<Plan>, seed: u64, timeout: Duration) -> Self {
        let draw = Draw::new(plan.params.len(), seed);
        SqlLane {
            backend,
            plan,
            conn: None,
            ever_connected: false,
            draw,
            timeout,
            timer: None,
        }
    }

    /// Opens the lane's connection; a reconnect is counted. Callers check first that there is
    /// none: an async call costs its state machine even when it has nothing to do, and
    /// [`SqlLane::run_one`] is every transaction's path.
    async fn connect(&mut self, shared: &Shared) -> Result<(), SqlError> {
        let left = shared.stop.end.saturating_duration_since(Instant::now());
        let limit = self.timeout.min(left.max(Duration::from_millis(1)));
        let attempt = self.backend.connect(&self.plan.statements);
        let conn = match tokio::time::timeout(limit, attempt).await {
            Ok(connected) => connected?,
            Err(_) => return Err(SqlError::timeout()),
        };
        self.conn = Some(conn);
        if std::mem::replace(&mut self.ever_connected, true) {
            shared
                .recorder
                .borrow_mut()
                .count(RECONNECTS, 1, Instant::now());
        }
        Ok(())
    }

    async fn run_one(&mut self, intended: Option<Instant>, shared: &Shared) {
        let plan = self.plan.clone();
        let txn = &plan.transactions[plan.pick(&mut self.draw)];
        if self.conn.is_none()
            && let Err(error) = self.connect(shared).await
        {
            tracing::debug!(%error, "connection attempt failed");
            let kind = error.counted_as();
            shared
                .recorder
                .borrow_mut()
                .record_error(txn.op, Instant::now(), kind);
            return back_off(shared).await;
        }
        self.draw.fill(&plan.params, &txn.params);
        let at = Instant::now();
        let mut retries = 0;
        loop {
            let started = if retries == 0 { at } else { Instant::now() };
            let Err(failure) = self.attempt(txn, shared, started).await else {
                let end = Instant::now();
                let mut recorder = shared.recorder.borrow_mut();
                match intended {
                    Some(slot) => recorder.record_open(txn.op, slot, at, end, 0),
                    None => recorder.record(txn.op, at, end, 0),
                }
                return;
            };
            self.after_failure(txn, &failure.error).await;
            let retry = failure.error.retry.filter(|_| retries < plan.retries);
            if let (Some(reason), true) = (retry, self.conn.is_some()) {
                retries += 1;
                let counter = match reason {
                    Retry::Serialization => SERIALIZATION_RETRIES,
                    Retry::Deadlock => DEADLOCK_RETRIES,
                    Retry::LockWait => LOCK_WAIT_RETRIES,
                };
                shared
                    .recorder
                    .borrow_mut()
                    .count(counter, 1, Instant::now());
                continue;
            }
            let (end, kind) = (Instant::now(), failure.error.counted_as());
            let mut recorder = shared.recorder.borrow_mut();
            recorder.record_error(txn.op, end, kind);
            if let Some(op) = failure.op {
                recorder.record_error(op, end, kind);
            }
            return;
        }
    }

    /// Runs `txn` once on the lane's connection, from `started`, a clock reading taken just
    /// before. The clock is read once per timed statement's end (which is the next one's
    /// send) and not for an untimed one: a statement's send is the last reading before it,
    /// and its timeout a deadline from there, so the common one-statement transaction costs
    /// no reading beyond its own start and end.
    async fn attempt(
        &mut self,
        txn: &Transaction,
        shared: &Shared,
        started: Instant,
    ) -> Result<(), Failure> {
        let limit = self.timeout;
        let conn = self.conn.as_mut().expect("connected before an attempt");
        let mut timer = self.timer.as_mut().expect("started").as_mut();
        let failed = |op: Option<OpId>| move |error: SqlError| Failure { error, op };
        let mut last = started;
        if txn.explicit {
            within(
                timer.as_mut(),
                last + limit,
                pin!(conn.begin(self.plan.isolation)),
            )
            .await
            .map_err(failed(None))?;
            last = Instant::now();
        }
        for (k, step) in txn.steps.iter().enumerate() {
            // An untimed statement after another has no reading of its own send yet.
            if k > 0 && step.op.is_none() {
                last = Instant::now();
            }
            let start = last;
            let params = Params {
                draw: &self.draw,
                bind: &step.bind,
                names: &self.plan.param_names,
            };
            within(
                timer.as_mut(),
                start + limit,
                pin!(conn.execute(step.statement, params)),
            )
            .await
            .map_err(failed(step.op))?;
            if let Some(op) = step.op {
                last = Instant::now();
                shared.recorder.borrow_mut().record(op, start, last, 0);
            }
        }
        if txn.explicit {
            let start = match txn.steps.last() {
                Some(step) if step.op.is_some() => last,
                _ => Instant::now(),
            };
            within(timer.as_mut(), start + limit, pin!(conn.commit()))
                .await
                .map_err(failed(txn.commit_op))?;
            if let Some(op) = txn.commit_op {
                let end = Instant::now();
                shared.recorder.borrow_mut().record(op, start, end, 0);
            }
        }
        Ok(())
    }

    /// Drops a connection that is gone (or whose state a timeout left unknown), and rolls
    /// back an explicit transaction on one that is not.
    async fn after_failure(&mut self, txn: &Transaction, error: &SqlError) {
        let lost = error.connection_lost || self.conn.as_ref().is_none_or(|c| c.is_lost());
        if lost {
            self.conn = None;
            return;
        }
        let deadline = Instant::now() + self.timeout;
        if txn.explicit
            && let (Some(conn), Some(timer)) = (self.conn.as_mut(), self.timer.as_mut())
            && within(timer.as_mut(), deadline, pin!(conn.rollback()))
                .await
                .is_err()
        {
            self.conn = None;
        }
    }
}

/// `work`, or a timeout at `deadline`, on the lane's timer. The work is pinned by the caller
/// and polled where it is: a statement's future is large (it holds either client library's),
/// and moving it in here, or into a fresh `Timeout` with a timer of its own, cost a copy of it
/// per statement.
///
/// The timer is moved on only when it fires. Deadlines only grow, so a timer still set for
/// an earlier statement's deadline fires no later than this one's; when it does, and this
/// deadline is still ahead, it is set again for it. So a statement that ends in time costs
/// no timer work at all, where setting and polling the timer for each one was about a tenth
/// of the client's own CPU per PostgreSQL statement. The timer keeps the lane's waker from
/// its last poll (at the lane's start, or when it was last set here), since the lane is one
/// task.
async fn within<T>(
    mut timer: Pin<&mut Sleep>,
    deadline: Instant,
    mut work: Pin<&mut impl Future<Output = Result<T, SqlError>>>,
) -> Result<T, SqlError> {
    std::future::poll_fn(|cx| {
        if let Poll::Ready(done) = work.as_mut().poll(cx) {
            return Poll::Ready(done);
        }
        if timer.is_elapsed() {
            if Instant::now() >= deadline {
                return Poll::Ready(Err(SqlError::timeout()));
            }
            timer.as_mut().reset(deadline.into());
            if timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(SqlError::timeout()));
            }
        }
        Poll::Pending
    })
    .await
}

async fn back_off(shared: &Shared) {
    let left = shared.stop.end.saturating_duration_since(Instant::now());
    tokio::time::sleep(BACKOFF.min(left)).await;
}

impl<B: Backend> Lane for SqlLane<B> {
    async fn start(&mut self, shared: &Shared) {
        let mut timer = Box::pin(tokio::time::sleep(self.timeout));
        // The first poll gives the timer the lane's waker, which `within` relies on.
        let _ = std::future::poll_fn(|cx| Poll::Ready(timer.as_mut().poll(cx))).await;
        self.timer = Some(timer);
        // Connect before the first ticket, so the first measured transactions do not pay
        // for it. A failure here is counted when the first ticket finds no connection.
        if let Err(error) = self.connect(shared).await {
            tracing::debug!(%error, "first connection attempt failed");
        }
    }

    async fn issue(&mut self, ticket: Ticket, shared: &Shared) {
        for _ in 0..ticket.count {
            self.run_one(ticket.intended, shared).await;
        }
    }
}
