//! The null target's optional queue: `servers` servers, each serving one operation at a time,
//! and one FIFO line in front of them shared by every worker of the job.
//!
//! The line is the simulated target's own state, as a real server's accept queue is its own,
//! so it is one short lock per operation on the target side; the recording path stays
//! lock-free. This module only computes when an operation completes; waiting is the lane's.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(super) struct Servers {
    /// When each server is next free; the earliest on top.
    free_at: Mutex<BinaryHeap<Reverse<Instant>>>,
}

impl Servers {
    pub fn new(count: u32, now: Instant) -> Servers {
        let free_at = (0..count.max(1)).map(|_| Reverse(now)).collect();
        Servers {
            free_at: Mutex::new(free_at),
        }
    }

    /// When an operation that arrives at `arrived` and needs `service` completes: it takes
    /// the server that frees first, after every operation admitted before it, so the line is
    /// first in, first out and its capacity is exactly `servers / service`.
    pub fn admit(&self, arrived: Instant, service: Duration) -> Instant {
        // A panic elsewhere cannot leave the heap half-changed: push and pop are whole.
        let mut free_at = self.free_at.lock().unwrap_or_else(|e| e.into_inner());
        let Reverse(free) = free_at.pop().unwrap_or(Reverse(arrived));
        let done = free.max(arrived) + service;
        free_at.push(Reverse(done));
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_beyond_the_free_servers_wait_their_turn() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let servers = Servers::new(2, t0);
        let done: Vec<Duration> = (0..5).map(|_| servers.admit(t0, ms(10)) - t0).collect();
        assert_eq!(done, [ms(10), ms(10), ms(20), ms(20), ms(30)]);
        // Once the line has drained, an arrival is served at once.
        assert_eq!(servers.admit(t0 + ms(100), ms(10)) - t0, ms(110));
    }
}
