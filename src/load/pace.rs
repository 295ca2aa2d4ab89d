//! Arithmetic pacing for a rate cap: the k-th operation may start at `t0 + k / rate`.

use std::time::{Duration, Instant};

/// Caps operations per second, bytes per second, or both. The schedule is computed from the
/// counts so far, never by adding up sleeps, so it does not drift. A worker that falls behind
/// issues at once until it has caught up with the schedule.
#[derive(Debug, Clone)]
pub struct Pacer {
    start: Instant,
    secs_per_op: Option<f64>,
    secs_per_byte: Option<f64>,
    ops: u64,
    bytes: u64,
}

impl Pacer {
    /// `None` for a cap means no limit on that measure.
    pub fn new(start: Instant, ops_per_s: Option<f64>, bytes_per_s: Option<f64>) -> Self {
        Pacer {
            start,
            secs_per_op: ops_per_s.filter(|r| *r > 0.0).map(|r| 1.0 / r),
            secs_per_byte: bytes_per_s.filter(|r| *r > 0.0).map(|r| 1.0 / r),
            ops: 0,
            bytes: 0,
        }
    }

    pub fn is_capped(&self) -> bool {
        self.secs_per_op.is_some() || self.secs_per_byte.is_some()
    }

    /// When the next operation may start; `None` when nothing is capped.
    #[inline]
    pub fn due(&self) -> Option<Instant> {
        if !self.is_capped() {
            return None;
        }
        let by_ops = self.secs_per_op.map_or(0.0, |s| s * self.ops as f64);
        let by_bytes = self.secs_per_byte.map_or(0.0, |s| s * self.bytes as f64);
        Some(self.start + Duration::from_secs_f64(by_ops.max(by_bytes)))
    }

    /// Counts one issued operation of `bytes` bytes.
    #[inline]
    pub fn note(&mut self, bytes: u64) {
        self.ops += 1;
        self.bytes += bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_are_spaced_by_the_rate_from_the_start() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(t0, Some(1_000.0), None);
        assert_eq!(pacer.due(), Some(t0));
        (0..10).for_each(|_| pacer.note(4096));
        assert_eq!(pacer.due(), Some(t0 + Duration::from_millis(10)));
    }

    #[test]
    fn the_tighter_cap_wins() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(t0, Some(1_000.0), Some(1_048_576.0));
        pacer.note(1_048_576);
        assert_eq!(pacer.due(), Some(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn uncapped_never_waits() {
        let mut pacer = Pacer::new(Instant::now(), None, None);
        pacer.note(1 << 30);
        assert_eq!(pacer.due(), None);
    }
}
