//! Shard arithmetic: how one job's load is cut into N parts that add up to the whole exactly.
//!
//! A shard is one of N copies of plimsoll running the same workload, each offering its part
//! of the load. This module owns the numbers: which part of a count (workers, connections,
//! operations), of a rate, and of a key space one shard takes, and where a shard's identity
//! comes from (the command line or the environment). Which of a job's fields are split, and
//! how, is each job kind's rule (`shard` on the workload's job types); this module does not
//! know job kinds.
//!
//! Counts are split first-k-get-one-more: with `total = q N + r`, shards 1 to r take q + 1 and
//! the others q, so the parts sum to the total and differ by at most one. Slices of a key
//! space are those parts laid end to end, so they are disjoint and cover it.

use std::fmt;
use std::ops::Range;

use crate::load::RateProfile;

/// Shards in one sharded run at most; more is a typo rather than a fleet.
pub const MAX_SHARDS: u32 = 10_000;

/// The environment variable that sets the shard as `I/N`.
pub const SHARD_ENV: &str = "PLIMSOLL_SHARD";
/// The shard count, read with [`INDEX_ENV`] (a Kubernetes Indexed Job sets only the index).
pub const SHARDS_ENV: &str = "PLIMSOLL_SHARDS";
/// A Kubernetes Indexed Job's completion index, 0-based: shard `index + 1`.
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// Shard `index` of `count`, 1-based as people count: `1/3`, `2/3`, `3/3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

/// Where the shard came from, for the results and the debug log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSource {
    /// `--shard I/N`.
    Flag,
    /// `PLIMSOLL_SHARD=I/N`.
    ShardEnv,
    /// `JOB_COMPLETION_INDEX` (0-based) with `PLIMSOLL_SHARDS`.
    IndexEnv,
}

impl ShardSource {
    pub fn describe(self) -> &'static str {
        match self {
            ShardSource::Flag => "--shard",
            ShardSource::ShardEnv => SHARD_ENV,
            ShardSource::IndexEnv => "JOB_COMPLETION_INDEX and PLIMSOLL_SHARDS",
        }
    }
}

fn fewer_shards(total: u64) -> String {
    if total <= 1 {
        "this job unsharded".to_owned()
    } else {
        format!("at most {total} shards")
    }
}

/// Why a shard cannot be named or a job cannot be split. Each message says what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShardError {
    #[error("{0}")]
    Spec(String),
    /// A count that leaves some shard nothing: `connections = 1` over 2 shards.
    #[error(
        "{what} is {total}, which cannot be split over {count} shards (shard {shard} would get \
         none); raise {what} to at least {count}, or run {fewer}",
        fewer = fewer_shards(*total)
    )]
    TooFew {
        what: String,
        total: u64,
        count: u32,
        shard: u32,
    },
    /// A non-zero rate whose part would be below one operation per second.
    #[error(
        "{what} is {total} op/s, which leaves each of {count} shards less than 1 op/s; raise \
         it to at least {count}/s, or run fewer shards"
    )]
    RateTooLow {
        what: String,
        total: f64,
        count: u32,
    },
    /// Something a job kind cannot split at all.
    #[error("{0}")]
    Unsplittable(String),
    /// One of the above, in the named job.
    #[error("job `{job}`: {source}")]
    InJob {
        job: String,
        source: Box<ShardError>,
    },
}

impl Shard {
    /// The whole run: one shard of one, which every rule leaves unchanged.
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 || count > MAX_SHARDS {
            return Err(ShardError::Spec(format!(
                "the shard count is {count}; use 1 to {MAX_SHARDS}"
            )));
        }
        if index == 0 || index > count {
            return Err(ShardError::Spec(format!(
                "shard {index} of {count} does not exist; shards are numbered 1 to {count}"
            )));
        }
        Ok(Shard { index, count })
    }

    /// `I/N`, 1-based: `2/3` is the second of three shards.
    pub fn parse(text: &str) -> Result<Shard, ShardError> {
        let bad = || {
            ShardError::Spec(format!(
                "`{text}` is not a shard; write it as I/N, like `1/4` for the first of four \
                 (shards are numbered from 1)"
            ))
        };
        let (index, count) = text.trim().split_once('/').ok_or_else(bad)?;
        let index = index.trim().parse().map_err(|_| bad())?;
        let count = count.trim().parse().map_err(|_| bad())?;
        Shard::new(index, count)
    }

    /// The shard the environment names, if any: `PLIMSOLL_SHARD=I/N`, else a Kubernetes
    /// Indexed Job's `JOB_COMPLETION_INDEX` (0-based) with the count in `PLIMSOLL_SHARDS`.
    /// An index without a count is ignored (the pod may belong to some other indexed job);
    /// a count without an index is a mistake.
    pub fn from_env(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<(Shard, ShardSource)>, ShardError> {
        if let Some(text) = var(SHARD_ENV) {
            let shard =
                Shard::parse(&text).map_err(|e| ShardError::Spec(format!("{SHARD_ENV}: {e}")))?;
            return Ok(Some((shard, ShardSource::ShardEnv)));
        }
        let (index, count) = (var(INDEX_ENV), var(SHARDS_ENV));
        let Some(count) = count else { return Ok(None) };
        let count: u32 = count.trim().parse().map_err(|_| {
            ShardError::Spec(format!(
                "{SHARDS_ENV} is `{count}`; set it to the shard count, like `4`"
            ))
        })?;
        let Some(index) = index else {
            return Err(ShardError::Spec(format!(
                "{SHARDS_ENV} is set but {INDEX_ENV} is not; set {SHARD_ENV}=I/N instead, or run \
                 as a Kubernetes Indexed Job (which sets {INDEX_ENV})"
            )));
        };
        let index: u32 = index.trim().parse().map_err(|_| {
            ShardError::Spec(format!("{INDEX_ENV} is `{index}`, not a number from 0"))
        })?;
        let shard = Shard::new(index.saturating_add(1), count)
            .map_err(|e| ShardError::Spec(format!("{INDEX_ENV} {index}: {e}")))?;
        Ok(Some((shard, ShardSource::IndexEnv)))
    }

    /// 1-based.
    pub fn index(self) -> u32 {
        self.index
    }

    pub fn count(self) -> u32 {
        self.count
    }

    pub fn is_whole(self) -> bool {
        self.count == 1
    }

    /// This shard's part of `total`: first-k-get-one-more, so the parts sum to `total`.
    pub fn part(self, total: u64) -> u64 {
        self.range(total).end - self.range(total).start
    }

    /// This shard's slice of `0..total`: the parts of every shard laid end to end, in order.
    pub fn range(self, total: u64) -> Range<u64> {
        let n = u64::from(self.count);
        let (q, r) = (total / n, total % n);
        let before = u64::from(self.index - 1);
        let start = before * q + before.min(r);
        let len = q + u64::from(before < r);
        start..start + len
    }

    /// [`part`](Self::part), refused when some shard would get none.
    pub fn part_of(self, total: u64, what: &str) -> Result<u64, ShardError> {
        if total < u64::from(self.count) {
            return Err(ShardError::TooFew {
                what: what.to_owned(),
                total,
                count: self.count,
                shard: (total + 1).min(u64::from(self.count)) as u32,
            });
        }
        Ok(self.part(total))
    }

    /// [`part_of`](Self::part_of) for a `u32` field.
    pub fn part_of_u32(self, total: u32, what: &str) -> Result<u32, ShardError> {
        self.part_of(u64::from(total), what).map(|p| p as u32)
    }

    /// This shard's part of a rate. A whole rate is split in whole operations per second
    /// (1000/s over 3: 334, 333, 333); a rate with a fraction in thousandths of one. Zero
    /// stays zero (a ramp may start there); any other rate must leave every shard 1 op/s.
    pub fn rate(self, total: f64, what: &str) -> Result<f64, ShardError> {
        if self.is_whole() || total == 0.0 {
            return Ok(total);
        }
        if !total.is_finite() || total < f64::from(self.count) {
            return Err(ShardError::RateTooLow {
                what: what.to_owned(),
                total,
                count: self.count,
            });
        }
        // Below 2^53 whole numbers are exact in f64, so the parts add back exactly.
        let whole = total.fract() == 0.0 && total < 9.0e15;
        Ok(if whole {
            self.part(total as u64) as f64
        } else {
            self.part((total * 1000.0).round() as u64) as f64 / 1000.0
        })
    }

    /// Every rate of a profile split by [`rate`](Self::rate); its shape and times unchanged.
    pub fn profile(self, profile: &RateProfile) -> Result<RateProfile, ShardError> {
        Ok(match profile {
            RateProfile::Constant { ops_per_s } => RateProfile::Constant {
                ops_per_s: self.rate(*ops_per_s, "rate")?,
            },
            RateProfile::Ramp {
                from_ops_per_s,
                to_ops_per_s,
                over_ns,
            } => RateProfile::Ramp {
                from_ops_per_s: self.rate(*from_ops_per_s, "ramp.from")?,
                to_ops_per_s: self.rate(*to_ops_per_s, "ramp.to")?,
                over_ns: *over_ns,
            },
            RateProfile::Stages { stages } => {
                let mut split = stages.clone();
                for (i, stage) in split.iter_mut().enumerate() {
                    stage.ops_per_s = self.rate(stage.ops_per_s, &format!("stages[{i}].rate"))?;
                }
                RateProfile::Stages { stages: split }
            }
        })
    }

    /// A seed of this shard's own, so shards do not draw the same random sequence; shard 1
    /// (and an unsharded run) keeps the seed as written.
    pub fn seed(self, seed: u64) -> u64 {
        let offset = u64::from(self.index - 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        seed.wrapping_add(offset)
    }

    /// `shard-2-of-3`, for names of files a shard makes for itself.
    pub fn label(self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Shard::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::StageRate;

    fn all(count: u32) -> impl Iterator<Item = Shard> {
        (1..=count).map(move |i| Shard::new(i, count).unwrap())
    }

    #[test]
    fn a_rate_of_1000_over_3_shards_sums_to_1000() {
        let parts: Vec<f64> = all(3).map(|s| s.rate(1000.0, "rate").unwrap()).collect();
        assert_eq!(parts, [334.0, 333.0, 333.0]);
        assert_eq!(parts.iter().sum::<f64>(), 1000.0);
    }

    #[test]
    fn ten_connections_over_4_shards_sum_to_10() {
        let parts: Vec<u32> = all(4).map(|s| s.part_of_u32(10, "c").unwrap()).collect();
        assert_eq!(parts, [3, 3, 2, 2]);
        assert_eq!(parts.iter().sum::<u32>(), 10);
    }

    #[test]
    fn fractional_rates_split_in_thousandths() {
        let parts: Vec<f64> = all(3).map(|s| s.rate(10.5, "rate").unwrap()).collect();
        assert_eq!(parts, [3.5, 3.5, 3.5]);
        let thousandths: u64 = all(4)
            .map(|s| (s.rate(1000.001, "rate").unwrap() * 1000.0).round() as u64)
            .sum();
        assert_eq!(thousandths, 1_000_001);
    }

    #[test]
    fn too_little_to_split_is_refused_with_the_key_named() {
        let two = Shard::new(2, 2).unwrap();
        let e = two.part_of_u32(1, "connections").unwrap_err().to_string();
        assert!(
            e.contains("connections is 1") && e.contains("2 shards"),
            "{e}"
        );
        let e = two.rate(1.5, "rate").unwrap_err().to_string();
        assert!(e.contains("less than 1 op/s"), "{e}");
        assert_eq!(two.rate(0.0, "ramp.from"), Ok(0.0));
    }

    #[test]
    fn profiles_split_every_rate() {
        let stages = RateProfile::Stages {
            stages: vec![
                StageRate {
                    ops_per_s: 100.0,
                    duration_ns: 1,
                },
                StageRate {
                    ops_per_s: 7.0,
                    duration_ns: 2,
                },
            ],
        };
        let sums = all(3).fold([0.0; 2], |mut acc, s| {
            let RateProfile::Stages { stages } = s.profile(&stages).unwrap() else {
                unreachable!()
            };
            acc[0] += stages[0].ops_per_s;
            acc[1] += stages[1].ops_per_s;
            assert_eq!(stages[1].duration_ns, 2);
            acc
        });
        assert_eq!(sums, [100.0, 7.0]);
    }

    #[test]
    fn shard_specs_parse_and_refuse() {
        assert_eq!(Shard::parse(" 2/3 ").unwrap(), Shard::new(2, 3).unwrap());
        for bad in ["0/3", "4/3", "1/0", "x/2", "3", "1/2/3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_environment_names_the_shard_and_the_explicit_form_wins() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |key: &str| {
                let found = pairs.iter().find(|(k, _)| *k == key);
                found.map(|(_, v)| v.to_string())
            }
        };
        let from = |pairs| Shard::from_env(env(pairs)).unwrap();
        let indexed = from(&[(INDEX_ENV, "0"), (SHARDS_ENV, "4")]);
        assert_eq!(
            indexed,
            Some((Shard::new(1, 4).unwrap(), ShardSource::IndexEnv))
        );
        let both = from(&[(INDEX_ENV, "0"), (SHARDS_ENV, "4"), (SHARD_ENV, "3/4")]);
        assert_eq!(
            both,
            Some((Shard::new(3, 4).unwrap(), ShardSource::ShardEnv))
        );
        assert_eq!(from(&[(INDEX_ENV, "2")]), None);
        assert!(Shard::from_env(env(&[(SHARDS_ENV, "4")])).is_err());
        assert!(Shard::from_env(env(&[(INDEX_ENV, "4"), (SHARDS_ENV, "4")])).is_err());
    }

    proptest::proptest! {
        #[test]
        fn parts_sum_to_the_whole_and_slices_tile_it(total in 0u64..1_000_000, count in 1u32..64) {
            let mut next = 0;
            for shard in all(count) {
                let range = shard.range(total);
                proptest::prop_assert_eq!(range.start, next);
                proptest::prop_assert!(shard.part(total) <= total / u64::from(count) + 1);
                next = range.end;
            }
            proptest::prop_assert_eq!(next, total);
        }

        #[test]
        fn whole_rates_sum_exactly(total in 1u32..10_000_000, count in 1u32..64) {
            let total = f64::from(total.max(count));
            let sum: f64 = all(count).map(|s| s.rate(total, "rate").unwrap()).sum();
            proptest::prop_assert_eq!(sum, total);
        }
    }
}
