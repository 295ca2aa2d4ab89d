//! One lane of a Redis job: picks the operations a ticket allows, sends them as one pipeline
//! on its connection, and records each reply.
//!
//! Latency runs from the intended start (the open model's slot, or the send in the closed
//! model) to the reply; service time from the send. A GET's reply counts as a hit or a miss,
//! an error reply as a `server error reply`, a failed request by its kind. After a lost
//! connection (or one that answered with bytes that are not RESP) the lane pauses briefly,
//! so a dead server is not hammered, and the run goes on.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::commands::{Chooser, Command, Plan, Scratch};
use super::conn::Conn;
use super::link::Link;
use super::resp::Reply;
use crate::load::lanes::{Lane, Shared, Ticket};
use crate::measure::{CounterId, ErrorKind, OpId, Recorder};

/// The job's named counters, in [`CounterId`] order.
pub(super) const COUNTERS: [&str; 3] = ["get_hits", "get_misses", "reconnects"];
const HITS: CounterId = CounterId(0);
const MISSES: CounterId = CounterId(1);
const RECONNECTS: CounterId = CounterId(2);

/// How long a lane waits after its connection was lost before it tries again.
const BACKOFF: Duration = Duration::from_millis(50);

pub(super) struct RedisLane {
    link: Rc<Link>,
    plan: Arc<Plan>,
    chooser: Chooser,
    scratch: Scratch,
    timeout: Duration,
    /// The batch's commands, packed; reused from batch to batch.
    out: Vec<u8>,
    /// The batch being sent: each operation and the bytes it carries out (SET values).
    batch: Vec<(OpId, u64)>,
    replies: Vec<Reply>,
}

/// When a batch went out, for recording its replies.
#[derive(Clone, Copy)]
struct Sent {
    intended: Option<Instant>,
    at: Instant,
    end: Instant,
}

impl RedisLane {
    pub fn new(link: Rc<Link>, plan: Arc<Plan>, chooser: Chooser, timeout: Duration) -> Self {
        RedisLane {
            link,
            plan,
            chooser,
            scratch: Scratch::default(),
            timeout,
            out: Vec::new(),
            batch: Vec::new(),
            replies: Vec::new(),
        }
    }

    fn fill(&mut self, count: u64) {
        self.out.clear();
        self.batch.clear();
        for _ in 0..count {
            let op = self.plan.pick(&mut self.chooser);
            let bytes = self
                .plan
                .add(op, &mut self.chooser, &mut self.scratch, &mut self.out);
            self.batch.push((op, bytes));
        }
    }

    /// Sends the batch and reads its replies, within the job's timeout.
    async fn send(&mut self, conn: &Conn) -> Result<(), ErrorKind> {
        let count = self.batch.len() as u64;
        let exchange = conn.exchange(&self.out, count, &mut self.replies);
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(ErrorKind::Timeout),
        }
    }

    fn record_replies(&self, recorder: &mut Recorder, sent: Sent) {
        for (&(op, out_bytes), &reply) in self.batch.iter().zip(&self.replies) {
            if reply == Reply::Error {
                recorder.record_error(op, sent.end, ErrorKind::Reply);
                continue;
            }
            let in_bytes = self.count_get(recorder, op, reply, sent.end);
            stamp(recorder, op, sent, out_bytes + in_bytes);
        }
    }

    /// Counts a GET's hit or miss; returns the bytes it read.
    fn count_get(&self, recorder: &mut Recorder, op: OpId, reply: Reply, end: Instant) -> u64 {
        if !matches!(self.plan.commands[op.0 as usize], Command::Get) {
            return 0;
        }
        match reply {
            Reply::Nil => {
                recorder.count(MISSES, 1, end);
                0
            }
            Reply::Bulk(len) => {
                recorder.count(HITS, 1, end);
                len
            }
            _ => 0,
        }
    }

    fn record_failure(&self, recorder: &mut Recorder, kind: ErrorKind, end: Instant) {
        for &(op, _) in &self.batch {
            recorder.record_error(op, end, kind);
        }
    }
}

fn stamp(recorder: &mut Recorder, op: OpId, sent: Sent, bytes: u64) {
    match sent.intended {
        Some(slot) => recorder.record_open(op, slot, sent.at, sent.end, bytes),
        None => recorder.record(op, sent.at, sent.end, bytes),
    }
}

async fn back_off(shared: &Shared) {
    let left = shared.stop.end.saturating_duration_since(Instant::now());
    tokio::time::sleep(BACKOFF.min(left)).await;
}

impl Lane for RedisLane {
    async fn start(&mut self, shared: &Shared) {
        // Connect before the first ticket, so the first measured requests do not pay for it.
        let _ = self.link.get(shared.stop.end).await;
    }

    async fn issue(&mut self, ticket: Ticket, shared: &Shared) {
        self.fill(ticket.count);
        let conn = match self.link.get(shared.stop.end).await {
            Ok((conn, reconnected)) => {
                if reconnected {
                    shared
                        .recorder
                        .borrow_mut()
                        .count(RECONNECTS, 1, Instant::now());
                }
                conn
            }
            Err(failed) => {
                let now = Instant::now();
                self.record_failure(&mut shared.recorder.borrow_mut(), failed.kind, now);
                return back_off(shared).await;
            }
        };
        let at = Instant::now();
        let result = self.send(&conn).await;
        let end = Instant::now();
        let sent = Sent {
            intended: ticket.intended,
            at,
            end,
        };
        match result {
            Ok(()) => self.record_replies(&mut shared.recorder.borrow_mut(), sent),
            Err(kind) => {
                self.record_failure(&mut shared.recorder.borrow_mut(), kind, end);
                // A lost connection, or one that spoke garbage: give the server a moment.
                if conn.broken().is_some() {
                    back_off(shared).await;
                }
            }
        }
    }
}
