//! Intended start times for one thread's share of an open-model job.
//!
//! The job's rate is for the whole job. With `n` client threads, thread `i` takes every n-th
//! slot of the uniform schedule (so together they make exactly the job's schedule), or an
//! independent Poisson stream at 1/n of the rate (and independent Poisson streams add up to a
//! Poisson stream at the full rate). Within a thread, every connection draws from the same
//! [`Arrivals`], so the rate is never per connection.
//!
//! Warmup runs at the profile's initial rate. At the warmup-to-measurement boundary the
//! schedule restarts from slot 0 at the measurement start, so a backlog from warmup is
//! dropped rather than inherited. This module computes times; it does not sleep.

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand_distr::{Distribution as _, Exp1};

use super::RateProfile;
use crate::workload::Arrival;

/// The slots of one thread, in order.
#[derive(Debug, Clone)]
pub struct Arrivals {
    measured: RateProfile,
    warmup: RateProfile,
    process: Arrival,
    rng: SmallRng,
    /// This thread's place among the job's threads: `(index, count)`.
    share: (u64, u64),
    measure_start: Instant,
    in_warmup: bool,
    origin: Instant,
    /// Slots handed out since `origin`.
    taken: u64,
    /// Poisson: this thread's arrival count so far, in unit-rate time.
    unit_time: f64,
}

impl Arrivals {
    /// `start` is when the run (warmup included) begins; with no warmup, pass
    /// `measure_start` for both.
    pub fn new(
        profile: RateProfile,
        process: Arrival,
        share: (u64, u64),
        (start, measure_start): (Instant, Instant),
        seed: u64,
    ) -> Self {
        let warmup = RateProfile::Constant {
            ops_per_s: profile.initial_rate(),
        };
        let in_warmup = start < measure_start;
        Arrivals {
            measured: profile,
            warmup,
            process,
            rng: SmallRng::seed_from_u64(seed ^ share.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            share: (share.0, share.1.max(1)),
            measure_start,
            in_warmup,
            origin: if in_warmup { start } else { measure_start },
            taken: 0,
            unit_time: 0.0,
        }
    }

    /// The next slot's intended start. `now` lets the schedule restart as soon as
    /// measurement begins, even if warmup slots are still pending.
    pub fn next(&mut self, now: Instant) -> Instant {
        if self.in_warmup && now >= self.measure_start {
            self.restart();
        }
        let mut at = self.origin + self.offset();
        if self.in_warmup && at >= self.measure_start {
            self.restart();
            at = self.origin + self.offset();
        }
        self.taken += 1;
        at
    }

    fn restart(&mut self) {
        self.in_warmup = false;
        self.origin = self.measure_start;
        self.taken = 0;
        self.unit_time = 0.0;
    }

    fn offset(&mut self) -> Duration {
        let profile = if self.in_warmup {
            &self.warmup
        } else {
            &self.measured
        };
        let (index, threads) = self.share;
        let arrivals = match self.process {
            Arrival::Uniform => (self.taken * threads + index) as f64,
            Arrival::Poisson => {
                let gap: f64 = Exp1.sample(&mut self.rng);
                self.unit_time += gap;
                self.unit_time * threads as f64
            }
        };
        Duration::from_secs_f64(profile.time_of(arrivals).clamp(0.0, 1e9))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn slots_before(arrivals: &mut Arrivals, origin: Instant, horizon: Duration) -> Vec<f64> {
        let mut times = Vec::new();
        loop {
            let at = arrivals.next(origin);
            if at >= origin + horizon {
                return times;
            }
            times.push((at - origin).as_secs_f64());
        }
    }

    fn constant(rate: f64) -> RateProfile {
        RateProfile::Constant { ops_per_s: rate }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn uniform_threads_together_count_rate_times_t(
            rate in 1.0f64..20_000.0,
            seconds in 0.5f64..20.0,
            threads in 1u64..5,
        ) {
            let origin = Instant::now();
            let horizon = Duration::from_secs_f64(seconds);
            let total: usize = (0..threads)
                .map(|i| {
                    let mut a = Arrivals::new(
                        constant(rate), Arrival::Uniform, (i, threads), (origin, origin), 1);
                    slots_before(&mut a, origin, horizon).len()
                })
                .sum();
            let expected = rate * horizon.as_secs_f64();
            prop_assert!((total as f64 - expected).abs() <= 1.0 + 1e-6 * expected,
                "{total} slots in {seconds} s at {rate}/s over {threads} threads");
        }

        #[test]
        fn poisson_mean_gap_is_one_over_lambda(rate in 10.0f64..50_000.0, seed in 0u64..1_000) {
            let origin = Instant::now();
            let mut arrivals =
                Arrivals::new(constant(rate), Arrival::Poisson, (0, 1), (origin, origin), seed);
            let n = 20_000;
            let last = (0..n).map(|_| arrivals.next(origin)).last().unwrap();
            let mean = (last - origin).as_secs_f64() / n as f64;
            // The mean of 20,000 exponential gaps has a relative sd of 1/sqrt(20,000) = 0.7 %.
            prop_assert!((mean * rate - 1.0).abs() < 0.035, "mean gap {mean} at {rate}/s");
        }

        #[test]
        fn a_ramp_counts_its_integral(from in 1.0f64..5_000.0, to in 1.0f64..5_000.0) {
            let origin = Instant::now();
            let profile = RateProfile::Ramp {
                from_ops_per_s: from, to_ops_per_s: to, over_ns: 4_000_000_000,
            };
            let expected = profile.integral(4.0);
            let mut a = Arrivals::new(profile, Arrival::Uniform, (0, 1), (origin, origin), 0);
            let count = slots_before(&mut a, origin, Duration::from_secs(4)).len() as f64;
            prop_assert!((count - expected).abs() <= 1.0, "{count} vs {expected}");
        }
    }

    #[test]
    fn uniform_slots_are_evenly_spaced_from_the_origin() {
        let origin = Instant::now();
        let mut a = Arrivals::new(
            constant(100.0),
            Arrival::Uniform,
            (0, 1),
            (origin, origin),
            0,
        );
        let times = slots_before(&mut a, origin, Duration::from_millis(50));
        assert_eq!(times.len(), 5);
        assert!((times[3] - 0.03).abs() < 1e-9, "{times:?}");
    }

    #[test]
    fn the_schedule_restarts_at_the_measurement_boundary() {
        let start = Instant::now();
        let measure_start = start + Duration::from_secs(1);
        let mut a = Arrivals::new(
            constant(10.0),
            Arrival::Uniform,
            (0, 1),
            (start, measure_start),
            0,
        );
        // Only two warmup slots were taken; asked after the boundary, the rest are dropped.
        a.next(start);
        a.next(start);
        let late = measure_start + Duration::from_millis(350);
        assert_eq!(a.next(late), measure_start, "slot 0 of measurement");
        assert_eq!(a.next(late), measure_start + Duration::from_millis(100));
    }

    #[test]
    fn warmup_slots_stop_at_the_boundary() {
        let start = Instant::now();
        let measure_start = start + Duration::from_millis(250);
        let mut a = Arrivals::new(
            constant(10.0),
            Arrival::Uniform,
            (0, 1),
            (start, measure_start),
            0,
        );
        let times: Vec<Instant> = (0..4).map(|_| a.next(start)).collect();
        assert_eq!(times[2], start + Duration::from_millis(200));
        assert_eq!(times[3], measure_start, "no warmup slot at 300 ms");
    }
}
