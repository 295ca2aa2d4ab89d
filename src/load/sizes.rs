//! A weighted mix of block (or value) sizes, drawn per operation.

use rand::{Rng, RngExt};

use super::LoadError;
use crate::workload::WeightedSize;

/// Sizes in bytes with their weights. A mix of one size draws no random numbers.
#[derive(Debug, Clone)]
pub struct SizeMix {
    sizes: Box<[u64]>,
    /// Running sums of the weights, one per size; a draw below `upto[i]` picks `sizes[i]`.
    upto: Box<[u64]>,
}

impl SizeMix {
    pub fn new(mix: &[WeightedSize]) -> Result<Self, LoadError> {
        if mix.is_empty() {
            return Err(LoadError::Sizes("give at least one size".into()));
        }
        if mix.iter().any(|w| w.size.0 == 0) {
            return Err(LoadError::Sizes(
                "a size of 0 bytes cannot be transferred".into(),
            ));
        }
        let kept: Vec<&WeightedSize> = mix.iter().filter(|w| w.weight > 0).collect();
        if kept.is_empty() {
            return Err(LoadError::Sizes(
                "every weight is 0; give one a positive weight".into(),
            ));
        }
        let mut total = 0u64;
        let upto = kept.iter().map(|w| {
            total += u64::from(w.weight);
            total
        });
        Ok(SizeMix {
            upto: upto.collect(),
            sizes: kept.iter().map(|w| w.size.0).collect(),
        })
    }

    #[inline]
    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        if self.sizes.len() == 1 {
            return self.sizes[0];
        }
        let draw = rng.random_range(0..self.upto[self.upto.len() - 1]);
        let i = self
            .upto
            .iter()
            .position(|&u| draw < u)
            .unwrap_or(self.sizes.len() - 1);
        self.sizes[i]
    }

    /// The sizes that can be drawn (weight above 0), in the order given.
    pub fn sizes(&self) -> &[u64] {
        &self.sizes
    }

    pub fn largest(&self) -> u64 {
        self.sizes.iter().copied().max().unwrap_or(0)
    }

    /// The greatest common divisor of the sizes: offsets on this grid fit every size.
    pub fn granule(&self) -> u64 {
        self.sizes.iter().copied().fold(0, gcd)
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;
    use crate::workload::units::ByteSize;

    fn mix(pairs: &[(u64, u32)]) -> Result<SizeMix, LoadError> {
        let mix: Vec<WeightedSize> = pairs
            .iter()
            .map(|&(size, weight)| WeightedSize {
                size: ByteSize(size),
                weight,
            })
            .collect();
        SizeMix::new(&mix)
    }

    #[test]
    fn draws_follow_the_weights() {
        let mix = mix(&[(4096, 3), (65536, 1), (8192, 0)]).unwrap();
        let mut rng = SmallRng::seed_from_u64(5);
        let draws = 100_000;
        let small = (0..draws).filter(|_| mix.pick(&mut rng) == 4096).count();
        let share = small as f64 / draws as f64;
        assert!((share - 0.75).abs() < 0.01, "{share}");
        assert_eq!(mix.sizes(), &[4096, 65536]);
    }

    #[test]
    fn granule_and_largest() {
        let mix = mix(&[(12288, 1), (8192, 1)]).unwrap();
        assert_eq!((mix.granule(), mix.largest()), (4096, 12288));
    }

    #[test]
    fn empty_zero_and_weightless_mixes_are_refused() {
        assert!(mix(&[]).is_err());
        assert!(mix(&[(0, 1)]).is_err());
        assert!(mix(&[(4096, 0)]).is_err());
    }
}
