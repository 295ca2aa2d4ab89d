//! Latency histograms with an honest top end.
//!
//! A wrapper over HdrHistogram that never clamps: values above the trackable range are counted
//! apart, and a percentile whose rank lands among them says so instead of reporting the top
//! bucket. Percentile ranks are computed in integers (nearest-rank), so a boundary such as
//! p99.95 of 44,000 samples picks the same sample an exact sort would.

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::Serialize;

/// Smallest trackable latency, in nanoseconds.
pub const LOWEST_NS: u64 = 1;
/// Largest trackable latency: one hour, in nanoseconds.
pub const HIGHEST_NS: u64 = 3_600 * 1_000_000_000;
/// Significant decimal digits kept; the relative error of any reported value is below
/// `10^-SIGFIGS` (HdrHistogram's bucket width at 3 digits is 1/1024 of the value, or less).
pub const SIGFIGS: u8 = 3;
/// The bound on relative error that [`SIGFIGS`] guarantees, as users see it documented.
pub const RELATIVE_ERROR: f64 = 0.001;

/// A percentile given in parts per million, so 99.95 is 999_500 and the rank needs no float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantile(pub u32);

impl Quantile {
    pub const P50: Quantile = Quantile(500_000);
    pub const P90: Quantile = Quantile(900_000);
    pub const P99: Quantile = Quantile(990_000);
    pub const P99_9: Quantile = Quantile(999_000);
    pub const P99_99: Quantile = Quantile(999_900);
    pub const P99_999: Quantile = Quantile(999_990);

    /// The 1-based nearest rank of this quantile among `n` samples: ceil(q * n), at least 1.
    pub fn rank(self, n: u64) -> u64 {
        let scaled = n as u128 * self.0 as u128;
        (scaled.div_ceil(1_000_000) as u64).max(1)
    }
}

/// What a percentile came out as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// No samples.
    Empty,
    /// A value in nanoseconds, within [`RELATIVE_ERROR`] of the exact sample at that rank.
    Ns(u64),
    /// The rank falls among samples above [`HIGHEST_NS`]; the true value is larger than that.
    AboveRange,
}

impl Value {
    pub fn ns(self) -> Option<u64> {
        match self {
            Value::Ns(ns) => Some(ns),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    inner: Histogram<u64>,
    /// Samples above [`HIGHEST_NS`], which the inner histogram cannot hold.
    above_range: u64,
    /// The largest sample seen above the range, so `max` stays true.
    above_range_max: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        let inner = Histogram::new_with_bounds(LOWEST_NS, HIGHEST_NS, SIGFIGS)
            .expect("constant histogram bounds are valid");
        LatencyHistogram {
            inner,
            above_range: 0,
            above_range_max: 0,
        }
    }

    #[inline]
    pub fn record(&mut self, ns: u64) {
        if ns > HIGHEST_NS {
            self.above_range += 1;
            self.above_range_max = self.above_range_max.max(ns);
        } else {
            // A zero reading (two clock reads in the same tick) is kept as the smallest value.
            self.inner.saturating_record(ns.max(LOWEST_NS));
        }
    }

    pub fn add(&mut self, other: &LatencyHistogram) {
        self.inner
            .add(&other.inner)
            .expect("histograms share bounds");
        self.above_range += other.above_range;
        self.above_range_max = self.above_range_max.max(other.above_range_max);
    }

    pub fn reset(&mut self) {
        self.inner.reset();
        self.above_range = 0;
        self.above_range_max = 0;
    }

    pub fn count(&self) -> u64 {
        self.inner.len() + self.above_range
    }

    pub fn above_range(&self) -> u64 {
        self.above_range
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    pub fn min(&self) -> Value {
        if !self.inner.is_empty() {
            Value::Ns(self.inner.min())
        } else if self.above_range > 0 {
            Value::AboveRange
        } else {
            Value::Empty
        }
    }

    /// The largest sample. Above the range it is the exact value seen, since it was kept apart.
    pub fn max(&self) -> Option<u64> {
        if self.above_range > 0 {
            Some(self.above_range_max)
        } else if self.inner.is_empty() {
            None
        } else {
            Some(self.inner.max())
        }
    }

    /// Mean of the samples within range; `None` when any sample was above it, since the mean
    /// of the whole set is then unknown.
    pub fn mean(&self) -> Option<f64> {
        (self.above_range == 0 && !self.inner.is_empty()).then(|| self.inner.mean())
    }

    pub fn percentile(&self, q: Quantile) -> Value {
        self.percentiles(&[q])[0]
    }

    /// Several percentiles in one pass over the buckets. `qs` must be in ascending order.
    pub fn percentiles(&self, qs: &[Quantile]) -> Vec<Value> {
        debug_assert!(qs.windows(2).all(|w| w[0] <= w[1]));
        let total = self.count();
        if total == 0 {
            return vec![Value::Empty; qs.len()];
        }
        let in_range = self.inner.len();
        let max = self.inner.max();
        let mut out = Vec::with_capacity(qs.len());
        let mut pending = qs.iter().map(|q| q.rank(total)).peekable();
        let mut seen = 0u64;
        for bucket in self.inner.iter_recorded() {
            seen += bucket.count_at_value();
            while let Some(&rank) = pending.peek() {
                if rank > seen {
                    break;
                }
                let top = self.inner.highest_equivalent(bucket.value_iterated_to());
                out.push(Value::Ns(top.min(max)));
                pending.next();
            }
        }
        for rank in pending {
            debug_assert!(rank > in_range);
            out.push(Value::AboveRange);
        }
        out
    }

    /// Samples certainly at or above `ns` (`strict`: certainly above it): those in buckets that
    /// lie wholly on that side, and every sample above the range. A bucket holding `ns` is left
    /// out, since its samples may fall either side.
    pub fn count_certainly_above(&self, ns: u64, strict: bool) -> u64 {
        let beyond = |low: u64| if strict { low > ns } else { low >= ns };
        let in_range: u64 = self
            .inner
            .iter_recorded()
            .filter(|b| beyond(self.inner.lowest_equivalent(b.value_iterated_to())))
            .map(|b| b.count_at_value())
            .sum();
        in_range + self.above_range
    }

    /// Samples certainly at or below `ns` (`strict`: certainly below it).
    pub fn count_certainly_below(&self, ns: u64, strict: bool) -> u64 {
        let within = |high: u64| if strict { high < ns } else { high <= ns };
        self.inner
            .iter_recorded()
            .filter(|b| within(self.inner.highest_equivalent(b.value_iterated_to())))
            .map(|b| b.count_at_value())
            .sum()
    }

    /// V2 deflate-compressed HdrHistogram encoding, base64: readable by every HdrHistogram
    /// implementation. Samples above the range are not in it; they travel beside it.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&self.inner, &mut bytes)
            .expect("serializing to memory cannot fail");
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    pub fn decode(encoded: &str, above_range: u64, above_range_max: u64) -> Result<Self, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| format!("histogram is not valid base64: {e}"))?;
        let decoded: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("histogram does not decode: {e:?}"))?;
        let mut hist = LatencyHistogram::new();
        hist.inner
            .add(&decoded)
            .map_err(|e| format!("histogram has other bounds: {e:?}"))?;
        hist.above_range = above_range;
        hist.above_range_max = above_range_max;
        Ok(hist)
    }

    /// The summary every report shows.
    pub fn summary(&self) -> LatencySummary {
        let qs = [
            Quantile::P50,
            Quantile::P90,
            Quantile::P99,
            Quantile::P99_9,
            Quantile::P99_99,
            Quantile::P99_999,
        ];
        let p = self.percentiles(&qs);
        LatencySummary {
            min: self.min().ns(),
            mean: self.mean(),
            p50: p[0].ns(),
            p90: p[1].ns(),
            p99: p[2].ns(),
            p99_9: p[3].ns(),
            p99_99: p[4].ns(),
            p99_999: p[5].ns(),
            max: self.max(),
            above_range_count: self.above_range,
        }
    }
}

/// Latency figures in nanoseconds. A `None` percentile with `above_range_count > 0` means the
/// value lies above the one-hour range; with no samples every field is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct LatencySummary {
    pub min: Option<u64>,
    pub mean: Option<f64>,
    pub p50: Option<u64>,
    pub p90: Option<u64>,
    pub p99: Option<u64>,
    pub p99_9: Option<u64>,
    pub p99_99: Option<u64>,
    pub p99_999: Option<u64>,
    pub max: Option<u64>,
    pub above_range_count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact_nearest_rank(sorted: &[u64], q: Quantile) -> u64 {
        sorted[(q.rank(sorted.len() as u64) - 1) as usize]
    }

    fn within_error(got: u64, exact: u64) -> bool {
        (got as f64 - exact as f64).abs() <= exact as f64 * RELATIVE_ERROR
    }

    #[test]
    fn certain_counts_leave_out_the_bucket_holding_the_bound() {
        let mut h = LatencyHistogram::new();
        [1_000, 2_000, 5_000_000, 5_001_000, 9_000_000]
            .into_iter()
            .for_each(|ns| h.record(ns));
        h.record(HIGHEST_NS + 1);
        // 5 ms and 5.001 ms share a bucket starting near 4.997 ms: wholly above 4.9 ms, not
        // wholly above 5.002 ms.
        assert_eq!(h.count_certainly_above(4_900_000, false), 4);
        assert_eq!(h.count_certainly_above(5_002_000, false), 2);
        assert_eq!(h.count_certainly_above(9_000_000, true), 1);
        assert_eq!(h.count_certainly_below(2_000, false), 2);
        assert_eq!(h.count_certainly_below(2_000, true), 1);
    }

    #[test]
    fn rank_is_integer_nearest_rank() {
        // 44,000 * 0.9995 = 43,978 exactly: a float rank can land on 43,979.
        assert_eq!(Quantile(999_500).rank(44_000), 43_978);
        assert_eq!(Quantile::P50.rank(1), 1);
        assert_eq!(Quantile::P99.rank(101), 100);
    }

    #[test]
    fn boundary_rank_matches_exact_percentile() {
        // Distinct values far apart, so a rank off by one shows as a different bucket.
        let samples: Vec<u64> = (1..=44_000u64).map(|i| 1_000 + i * 1_000).collect();
        let mut hist = LatencyHistogram::new();
        samples.iter().for_each(|&s| hist.record(s));
        for q in [
            Quantile(999_500),
            Quantile::P50,
            Quantile::P99_99,
            Quantile(1_000_000),
        ] {
            let exact = exact_nearest_rank(&samples, q);
            let got = hist.percentile(q).ns().unwrap();
            assert!(within_error(got, exact), "q={q:?} got {got} exact {exact}");
            // And not the neighbouring sample.
            let next = exact + 1_000;
            assert!(!within_error(got, next) || within_error(exact, next));
        }
    }

    #[test]
    fn long_samples_are_not_folded_into_the_top_bucket() {
        let mut hist = LatencyHistogram::new();
        (0..1_000).for_each(|_| hist.record(30_000_000_000));
        (0..10).for_each(|_| hist.record(100_000));
        let p50 = hist.percentile(Quantile::P50).ns().unwrap();
        assert!(within_error(p50, 30_000_000_000), "{p50}");
        assert_eq!(hist.count(), 1_010);
    }

    #[test]
    fn samples_above_range_are_counted_and_flagged() {
        let mut hist = LatencyHistogram::new();
        (0..90).for_each(|_| hist.record(1_000));
        (0..10).for_each(|_| hist.record(HIGHEST_NS * 2));
        assert_eq!(hist.count(), 100);
        assert_eq!(hist.above_range(), 10);
        assert_eq!(hist.percentile(Quantile::P50), Value::Ns(1_000));
        assert_eq!(hist.percentile(Quantile::P99), Value::AboveRange);
        assert_eq!(hist.max(), Some(HIGHEST_NS * 2));
        assert_eq!(hist.mean(), None);
        let s = hist.summary();
        assert_eq!((s.p99, s.above_range_count), (None, 10));
    }

    #[test]
    fn encoding_round_trips_and_merges_exactly() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        (1..=5_000u64).for_each(|i| a.record(i * 997));
        (1..=3_000u64).for_each(|i| b.record(i * 12_345));
        let a2 = LatencyHistogram::decode(&a.encode(), 0, 0).unwrap();
        let b2 = LatencyHistogram::decode(&b.encode(), 0, 0).unwrap();
        let mut merged = a.clone();
        merged.add(&b);
        let mut merged2 = a2;
        merged2.add(&b2);
        assert_eq!(merged.summary(), merged2.summary());
        assert_eq!(merged2.count(), 8_000);
    }
}
