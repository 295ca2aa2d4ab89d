//! One worker's moving parts, shared by both engines: its operation stream, its pacer, its
//! recorder, when to stop, and how completions turn into records.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::plan::{Op, OpKind, OpStream, Plan};
use crate::load::Pacer;
use crate::measure::{ErrorKind, Recorder};

/// Longest a worker blocks without looking at the stop flag and the clock.
pub(crate) const LONGEST_WAIT: Duration = Duration::from_millis(100);

pub(crate) struct Lane<'a> {
    stream: OpStream<'a>,
    ids: super::plan::OpIds,
    pacer: Pacer,
    recorder: Recorder,
    stop: &'a AtomicBool,
    end: Instant,
    succeeded: u64,
    failed: u64,
    first_error: Option<ErrorKind>,
}

impl<'a> Lane<'a> {
    pub fn new(
        plan: &'a Plan,
        worker: usize,
        workers: usize,
        recorder: Recorder,
        stop: &'a AtomicBool,
    ) -> Self {
        let share = workers as f64;
        let pacer = Pacer::new(
            Instant::now(),
            plan.iops_cap.map(|r| r / share),
            plan.bytes_per_s_cap.map(|r| r / share),
        );
        Lane {
            stream: plan.stream(worker, workers),
            ids: plan.ids,
            end: recorder.clock().measure_end,
            pacer,
            recorder,
            stop,
            succeeded: 0,
            failed: 0,
            first_error: None,
        }
    }

    /// Whether to stop issuing: measurement is over or the run was interrupted.
    #[inline]
    pub fn should_stop(&self, now: Instant) -> bool {
        now >= self.end || self.stop.load(Ordering::Relaxed)
    }

    /// When the rate cap lets the next operation go, if that is later than `now`.
    #[inline]
    pub fn held_until(&self, now: Instant) -> Option<Instant> {
        if self.stream.sync_is_next() {
            return None;
        }
        self.pacer.due().filter(|&due| due > now)
    }

    /// The next operation, counted against the rate cap.
    #[inline]
    pub fn next_op(&mut self) -> Op {
        let op = self.stream.next_op();
        if !matches!(op.kind, OpKind::Sync(_)) {
            self.pacer.note(u64::from(op.len));
        }
        op
    }

    /// Sleeps while held by the rate cap, in steps short enough to notice a stop, and never
    /// past the end of measurement. Returns the time after waking.
    pub fn sleep_until(&mut self, due: Instant) -> Instant {
        let now = Instant::now();
        let wake = due.min(self.end).min(now + LONGEST_WAIT);
        std::thread::sleep(wake.saturating_duration_since(now));
        let now = Instant::now();
        self.recorder.tick(now);
        now
    }

    #[inline]
    pub fn tick(&mut self, now: Instant) {
        self.recorder.tick(now);
    }

    /// Records one completion. `result` is what the kernel returned: bytes moved, or a
    /// negated errno.
    #[inline]
    pub fn complete(&mut self, op: Op, issued: Instant, ended: Instant, result: i64) {
        let id = self.ids.of(op.kind);
        let failure = match result {
            r if r < 0 => Some(ErrorKind::Errno(-r as i32)),
            r if (r as u64) < u64::from(op.len) => Some(ErrorKind::ShortTransfer),
            _ => None,
        };
        match failure {
            None => {
                self.succeeded += 1;
                self.recorder.record(id, issued, ended, u64::from(op.len));
            }
            Some(kind) => {
                self.failed += 1;
                self.first_error.get_or_insert(kind);
                self.recorder.record_error(id, ended, kind);
            }
        }
    }

    /// Hands the recorder its last figures. Fails only when every operation failed.
    pub fn finish(self) -> anyhow::Result<()> {
        self.recorder.finish();
        match self.first_error {
            Some(kind) if self.succeeded == 0 => Err(anyhow::anyhow!(
                "every one of the {} operations failed; the first with {kind}",
                self.failed
            )),
            _ => Ok(()),
        }
    }
}
