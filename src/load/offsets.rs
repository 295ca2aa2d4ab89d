//! Offset (or key) distributions over `slots` equally sized slots, numbered from 0.
//!
//! Skewed distributions (zipf, pareto) draw a popularity rank and pass it through a seeded
//! bijection ([`Scatter`]), so the hot slots are spread over the space instead of packed at its
//! start, while each slot keeps exactly the popularity of its rank. Normal and zones keep their
//! shape in place: their point is where in the space the accesses fall.

use rand::{Rng, RngExt};
use rand_distr::{Distribution as _, Normal, Zipf};

use super::LoadError;
use crate::workload::{Distribution, Zone};

/// Draws slot numbers in `0..slots` from one distribution. Built once, shared by every worker
/// (each with its own RNG); drawing allocates nothing.
#[derive(Debug, Clone)]
pub struct OffsetPicker {
    slots: u64,
    shape: Shape,
}

#[derive(Debug, Clone)]
enum Shape {
    Uniform,
    Zipf {
        zipf: Zipf<f64>,
        scatter: Scatter,
    },
    /// A rank share `u^power` for uniform `u`: `h` of the slots take `1 - h` of the accesses.
    Pareto {
        power: f64,
        scatter: Scatter,
    },
    Normal {
        normal: Normal<f64>,
    },
    Zones {
        zones: Box<[ZoneRange]>,
    },
}

/// One zone in slot numbers: it takes accesses while a uniform draw is below `access_upto`.
#[derive(Debug, Clone, Copy)]
struct ZoneRange {
    access_upto: f64,
    first: u64,
    len: u64,
}

impl OffsetPicker {
    /// `seed` fixes the scatter of the skewed distributions: every worker of a job must get the
    /// same seed here so that they agree on which slots are hot.
    pub fn new(distribution: &Distribution, slots: u64, seed: u64) -> Result<Self, LoadError> {
        if slots == 0 {
            return Err(LoadError::Empty);
        }
        let shape = match distribution {
            Distribution::Uniform => Shape::Uniform,
            Distribution::Zipf { theta } => zipf(*theta, slots, seed)?,
            Distribution::Pareto { h } => pareto(*h, slots, seed)?,
            Distribution::Normal { stddev } => normal(stddev.0, slots)?,
            Distribution::Zones { zones } => Shape::Zones {
                zones: zone_ranges(zones, slots)?,
            },
        };
        Ok(OffsetPicker { slots, shape })
    }

    pub fn slots(&self) -> u64 {
        self.slots
    }

    /// One slot number in `0..slots`.
    #[inline]
    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        let last = self.slots - 1;
        match &self.shape {
            Shape::Uniform => rng.random_range(0..self.slots),
            Shape::Zipf { zipf, scatter } => {
                // Ranks come out as 1..=slots; a float edge case is clamped, not trusted.
                let rank = (zipf.sample(rng) as u64).saturating_sub(1).min(last);
                scatter.apply(rank)
            }
            Shape::Pareto { power, scatter } => {
                let share = rng.random::<f64>().powf(*power);
                scatter.apply(((share * self.slots as f64) as u64).min(last))
            }
            Shape::Normal { normal } => fold(normal.sample(rng), self.slots),
            Shape::Zones { zones } => pick_zone(zones, rng),
        }
    }
}

fn zipf(theta: f64, slots: u64, seed: u64) -> Result<Shape, LoadError> {
    if !(theta.is_finite() && theta > 0.0) {
        return Err(LoadError::ZipfTheta(theta));
    }
    let zipf = Zipf::new(slots as f64, theta).map_err(|_| LoadError::ZipfTheta(theta))?;
    Ok(Shape::Zipf {
        zipf,
        scatter: Scatter::new(slots, seed),
    })
}

fn pareto(h: f64, slots: u64, seed: u64) -> Result<Shape, LoadError> {
    if !(h > 0.0 && h < 1.0) {
        return Err(LoadError::ParetoH(h));
    }
    // P(share < h) = h^(1/power) = 1 - h when power = ln h / ln(1 - h).
    let power = h.ln() / (1.0 - h).ln();
    Ok(Shape::Pareto {
        power,
        scatter: Scatter::new(slots, seed),
    })
}

fn normal(stddev: f64, slots: u64) -> Result<Shape, LoadError> {
    if !(stddev.is_finite() && stddev >= 0.0) {
        return Err(LoadError::NormalStddev(stddev));
    }
    let n = slots as f64;
    let normal = Normal::new(n / 2.0, stddev * n).map_err(|_| LoadError::NormalStddev(stddev))?;
    Ok(Shape::Normal { normal })
}

/// Reflects a draw at both ends until it lies in `0..slots`, so the tails pile up nowhere.
#[inline]
fn fold(x: f64, slots: u64) -> u64 {
    let n = slots as f64;
    let y = x.rem_euclid(2.0 * n);
    let y = if y >= n { 2.0 * n - y } else { y };
    (y as u64).min(slots - 1)
}

/// Accesses and sizes are shares; zones sit back to back from the start of the space.
const SHARE_SLACK: f64 = 1e-6;

fn zone_ranges(zones: &[Zone], slots: u64) -> Result<Box<[ZoneRange]>, LoadError> {
    check_zone_shares(zones)?;
    let n = slots as f64;
    let (mut access, mut size) = (0.0, 0.0);
    let mut ranges = Vec::with_capacity(zones.len());
    for zone in zones {
        let first = ((size * n).round() as u64).min(slots - 1);
        size += zone.size.0;
        access += zone.access.0;
        let end = ((size * n).round() as u64).clamp(first + 1, slots);
        ranges.push(ZoneRange {
            access_upto: access,
            first,
            len: end - first,
        });
    }
    Ok(ranges.into_boxed_slice())
}

fn check_zone_shares(zones: &[Zone]) -> Result<(), LoadError> {
    if zones.is_empty() {
        return Err(LoadError::Zones("give at least one zone".into()));
    }
    if let Some(i) = zones
        .iter()
        .position(|z| z.access.0 > 0.0 && z.size.0 <= 0.0)
    {
        return Err(LoadError::Zones(format!(
            "zone {} takes accesses but has size 0",
            i + 1
        )));
    }
    let access: f64 = zones.iter().map(|z| z.access.0).sum();
    let size: f64 = zones.iter().map(|z| z.size.0).sum();
    if (access - 1.0).abs() > SHARE_SLACK {
        let percent = access * 100.0;
        return Err(LoadError::Zones(format!(
            "access shares add up to {percent:.4} %, not 100 %"
        )));
    }
    if size > 1.0 + SHARE_SLACK {
        let percent = size * 100.0;
        return Err(LoadError::Zones(format!(
            "sizes add up to {percent:.4} %, more than 100 %"
        )));
    }
    Ok(())
}

#[inline]
fn pick_zone<R: Rng + ?Sized>(zones: &[ZoneRange], rng: &mut R) -> u64 {
    let draw: f64 = rng.random();
    // The last zone also catches a draw that rounding left above the final running sum.
    let zone = zones
        .iter()
        .find(|z| draw < z.access_upto)
        .unwrap_or(&zones[zones.len() - 1]);
    zone.first + rng.random_range(0..zone.len)
}

/// A seeded bijection of `0..n` onto itself: the same seed gives the same scatter.
///
/// Two rounds of multiply-add and xor-shift, each invertible modulo the next power of two,
/// make a permutation of `0..2^bits`; values that land at or above `n` are walked along their
/// cycle until they fall inside, which keeps the map a bijection of `0..n`. Since `2^bits < 2n`,
/// a walk takes fewer than two steps on average.
#[derive(Debug, Clone, Copy)]
pub struct Scatter {
    n: u64,
    mask: u64,
    shift: u32,
    mul: [u64; 2],
    add: [u64; 2],
}

impl Scatter {
    pub fn new(n: u64, seed: u64) -> Self {
        let bits = 64 - n.saturating_sub(1).leading_zeros();
        let mask = if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        let mut state = seed;
        let mut next = || splitmix(&mut state);
        Scatter {
            n,
            mask,
            shift: bits.div_ceil(2).max(1),
            mul: [next() | 1, next() | 1],
            add: [next(), next()],
        }
    }

    #[inline]
    pub fn apply(&self, x: u64) -> u64 {
        debug_assert!(x < self.n);
        let mut y = x;
        loop {
            y = self.round(y, 0);
            y = self.round(y, 1);
            if y < self.n {
                return y;
            }
        }
    }

    #[inline]
    fn round(&self, y: u64, i: usize) -> u64 {
        let y = y.wrapping_mul(self.mul[i]).wrapping_add(self.add[i]) & self.mask;
        y ^ (y >> self.shift)
    }
}

/// SplitMix64: spreads a small seed into well-mixed 64-bit words.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;
    use crate::workload::units::Share;

    const SLOTS: u64 = 10_000;
    const DRAWS: usize = 200_000;

    fn counts(distribution: &Distribution) -> Vec<u64> {
        let picker = OffsetPicker::new(distribution, SLOTS, 7).unwrap();
        let mut rng = SmallRng::seed_from_u64(1);
        let mut counts = vec![0u64; SLOTS as usize];
        for _ in 0..DRAWS {
            counts[picker.pick(&mut rng) as usize] += 1;
        }
        counts
    }

    /// Share of all draws taken by the most popular `top` share of the slots.
    fn top_share(counts: &[u64], top: f64) -> f64 {
        let mut sorted = counts.to_vec();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        let k = (counts.len() as f64 * top) as usize;
        sorted[..k].iter().sum::<u64>() as f64 / DRAWS as f64
    }

    fn range_share(counts: &[u64], from: f64, to: f64) -> f64 {
        let (a, b) = ((from * SLOTS as f64) as usize, (to * SLOTS as f64) as usize);
        counts[a..b].iter().sum::<u64>() as f64 / DRAWS as f64
    }

    #[test]
    fn zipf_puts_far_more_than_a_uniform_share_on_the_top_percent() {
        let counts = counts(&Distribution::Zipf { theta: 1.2 });
        let share = top_share(&counts, 0.01);
        assert!(
            share > 0.5,
            "top 1 % of blocks took only {:.1} % of accesses",
            share * 100.0
        );
    }

    #[test]
    fn zipf_hot_blocks_are_scattered_not_adjacent() {
        let counts = counts(&Distribution::Zipf { theta: 1.2 });
        let mut hottest: Vec<usize> = (0..counts.len()).collect();
        hottest.sort_unstable_by_key(|&i| std::cmp::Reverse(counts[i]));
        let top: Vec<usize> = hottest[..10].to_vec();
        let span = top.iter().max().unwrap() - top.iter().min().unwrap();
        assert!(
            span > SLOTS as usize / 4,
            "ten hottest blocks within {span} slots: {top:?}"
        );
    }

    #[test]
    fn pareto_puts_one_minus_h_of_accesses_on_h_of_the_blocks() {
        let counts = counts(&Distribution::Pareto { h: 0.2 });
        let share = top_share(&counts, 0.2);
        assert!(
            (0.77..0.86).contains(&share),
            "top 20 % took {:.1} %",
            share * 100.0
        );
    }

    #[test]
    fn uniform_is_roughly_flat() {
        let counts = counts(&Distribution::Uniform);
        // 100 buckets of 100 slots: each expects 1 % of the draws (2,000, sd about 44).
        for (i, bucket) in counts.chunks(100).enumerate() {
            let n: u64 = bucket.iter().sum();
            assert!((1_800..2_200).contains(&n), "bucket {i} got {n} of {DRAWS}");
        }
    }

    #[test]
    fn zones_put_the_stated_shares_in_the_stated_ranges() {
        let zones = vec![
            Zone {
                access: Share(0.6),
                size: Share(0.1),
            },
            Zone {
                access: Share(0.3),
                size: Share(0.3),
            },
            Zone {
                access: Share(0.1),
                size: Share(0.6),
            },
        ];
        let counts = counts(&Distribution::Zones { zones });
        for (from, to, want) in [(0.0, 0.1, 0.6), (0.1, 0.4, 0.3), (0.4, 1.0, 0.1)] {
            let got = range_share(&counts, from, to);
            assert!(
                (got - want).abs() < 0.01,
                "{from}..{to}: {got:.3}, want {want}"
            );
        }
    }

    #[test]
    fn normal_centres_on_the_middle_and_stays_in_range() {
        let counts = counts(&Distribution::Normal { stddev: Share(0.1) });
        // Within one standard deviation of the middle: about 68 %.
        let got = range_share(&counts, 0.4, 0.6);
        assert!((0.66..0.70).contains(&got), "{got}");
    }

    #[test]
    fn every_distribution_stays_in_range() {
        let all = [
            Distribution::Uniform,
            Distribution::Zipf { theta: 0.5 },
            Distribution::Zipf { theta: 3.0 },
            Distribution::Pareto { h: 0.9 },
            Distribution::Normal { stddev: Share(2.0) },
            Distribution::Normal { stddev: Share(0.0) },
        ];
        let mut rng = SmallRng::seed_from_u64(3);
        for slots in [1, 2, 3, 1_000, 1 << 40] {
            for distribution in &all {
                let picker = OffsetPicker::new(distribution, slots, 11).unwrap();
                for _ in 0..5_000 {
                    assert!(
                        picker.pick(&mut rng) < slots,
                        "{distribution:?} over {slots}"
                    );
                }
            }
        }
    }

    #[test]
    fn scatter_is_a_bijection() {
        for n in [1, 2, 7, 1_000, 1_024, 1_025, 65_537] {
            let scatter = Scatter::new(n, 42);
            let mut seen = vec![false; n as usize];
            for x in 0..n {
                let y = scatter.apply(x) as usize;
                assert!(!seen[y], "n = {n}: {y} hit twice");
                seen[y] = true;
            }
        }
    }

    #[test]
    fn bad_parameters_are_refused_with_the_value() {
        let err = OffsetPicker::new(&Distribution::Pareto { h: 1.5 }, 10, 0).unwrap_err();
        assert!(err.to_string().contains("1.5"), "{err}");
        assert!(OffsetPicker::new(&Distribution::Zipf { theta: 0.0 }, 10, 0).is_err());
        let zones = vec![Zone {
            access: Share(0.5),
            size: Share(0.5),
        }];
        let err = OffsetPicker::new(&Distribution::Zones { zones }, 10, 0).unwrap_err();
        assert!(err.to_string().contains("50.0000 %"), "{err}");
    }
}
