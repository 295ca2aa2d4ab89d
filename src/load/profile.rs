//! Target rate profiles for the open model: a rate as a function of time since the schedule's
//! origin, its integral (expected arrivals so far) and the inverse of that integral (when the
//! k-th arrival is due).
//!
//! Intended start times come from this arithmetic, never from adding up timer wake-ups, so a
//! generator that falls behind cannot drift the schedule. This module does not sleep or send.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::workload::LoadSpec;

/// One job's target rate over the measured window, for the whole job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RateProfile {
    Constant {
        ops_per_s: f64,
    },
    /// Linear from `from` to `to` over `over_ns`, then `to` held.
    Ramp {
        from_ops_per_s: f64,
        to_ops_per_s: f64,
        over_ns: u64,
    },
    /// Each stage's rate for its duration; the last rate holds after the last stage.
    Stages {
        stages: Vec<StageRate>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StageRate {
    pub ops_per_s: f64,
    pub duration_ns: u64,
}

impl RateProfile {
    /// The profile an open-model `load` table asks for; `None` for the closed model. A ramp
    /// without `over` lasts the measured `duration`.
    pub fn from_spec(spec: &LoadSpec, duration: Duration) -> Option<Self> {
        if !spec.is_open() {
            return None;
        }
        if let Some(rate) = spec.rate {
            return Some(RateProfile::Constant { ops_per_s: rate.0 });
        }
        if let Some(ramp) = spec.ramp {
            let over = ramp.over.map_or(duration, |o| o.0);
            return Some(RateProfile::Ramp {
                from_ops_per_s: ramp.from.0,
                to_ops_per_s: ramp.to.0,
                over_ns: over.as_nanos() as u64,
            });
        }
        let stages = spec.stages.as_ref()?.iter().map(|s| StageRate {
            ops_per_s: s.rate.0,
            duration_ns: s.duration.0.as_nanos() as u64,
        });
        Some(RateProfile::Stages {
            stages: stages.collect(),
        })
    }

    /// The rate at the origin, which warmup holds.
    pub fn initial_rate(&self) -> f64 {
        match self {
            RateProfile::Constant { ops_per_s } => *ops_per_s,
            RateProfile::Ramp { from_ops_per_s, .. } => *from_ops_per_s,
            RateProfile::Stages { stages } => stages.first().map_or(0.0, |s| s.ops_per_s),
        }
    }

    /// Expected arrivals in the first `t` seconds.
    pub fn integral(&self, t: f64) -> f64 {
        let t = t.max(0.0);
        match self {
            RateProfile::Constant { ops_per_s } => ops_per_s * t,
            RateProfile::Ramp {
                from_ops_per_s: a,
                to_ops_per_s: b,
                over_ns,
            } => {
                let over = *over_ns as f64 / 1e9;
                if t <= over {
                    a * t + (b - a) * t * t / (2.0 * over)
                } else {
                    (a + b) * over / 2.0 + b * (t - over)
                }
            }
            RateProfile::Stages { stages } => stages_integral(stages, t),
        }
    }

    /// The time, in seconds from the origin, at which [`integral`](Self::integral) reaches
    /// `x`: when arrival number `x` is due.
    pub fn time_of(&self, x: f64) -> f64 {
        let x = x.max(0.0);
        match self {
            RateProfile::Constant { ops_per_s } => x / ops_per_s,
            RateProfile::Ramp {
                from_ops_per_s: a,
                to_ops_per_s: b,
                over_ns,
            } => ramp_time_of(*a, *b, *over_ns as f64 / 1e9, x),
            RateProfile::Stages { stages } => stages_time_of(stages, x),
        }
    }

    /// The mean rate over the first `t` seconds.
    pub fn mean_rate(&self, t: f64) -> f64 {
        if t > 0.0 {
            self.integral(t) / t
        } else {
            self.initial_rate()
        }
    }
}

/// Solves `a t + (b - a) t² / 2T = x` in a form that stays exact when `a == b`.
fn ramp_time_of(a: f64, b: f64, over: f64, x: f64) -> f64 {
    let ramp_total = (a + b) * over / 2.0;
    if x > ramp_total || over <= 0.0 {
        return over.max(0.0) + (x - ramp_total.max(0.0)) / b;
    }
    let k = (b - a) / (2.0 * over);
    let root = (a * a + 4.0 * k * x).max(0.0).sqrt();
    2.0 * x / (a + root)
}

fn stages_integral(stages: &[StageRate], t: f64) -> f64 {
    let (mut start, mut sum) = (0.0, 0.0);
    for stage in stages {
        let length = stage.duration_ns as f64 / 1e9;
        if t <= start + length {
            return sum + stage.ops_per_s * (t - start);
        }
        (start, sum) = (start + length, sum + stage.ops_per_s * length);
    }
    let last = stages.last().map_or(0.0, |s| s.ops_per_s);
    sum + last * (t - start)
}

fn stages_time_of(stages: &[StageRate], x: f64) -> f64 {
    let (mut start, mut sum) = (0.0, 0.0);
    for stage in stages {
        let length = stage.duration_ns as f64 / 1e9;
        let arrivals = stage.ops_per_s * length;
        if x <= sum + arrivals {
            return start + (x - sum) / stage.ops_per_s;
        }
        (start, sum) = (start + length, sum + arrivals);
    }
    let last = stages.last().map_or(1.0, |s| s.ops_per_s);
    start + (x - sum) / last
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn time_of_inverts_the_integral_for_every_profile() {
        let profiles = [
            RateProfile::Constant { ops_per_s: 250.0 },
            RateProfile::Ramp {
                from_ops_per_s: 100.0,
                to_ops_per_s: 2_000.0,
                over_ns: 10_000_000_000,
            },
            RateProfile::Ramp {
                from_ops_per_s: 900.0,
                to_ops_per_s: 10.0,
                over_ns: 3_000_000_000,
            },
            RateProfile::Stages {
                stages: vec![
                    StageRate {
                        ops_per_s: 10.0,
                        duration_ns: 2_000_000_000,
                    },
                    StageRate {
                        ops_per_s: 500.0,
                        duration_ns: 1_000_000_000,
                    },
                ],
            },
        ];
        for profile in &profiles {
            for t in [0.0, 0.001, 0.5, 1.9, 2.0, 2.5, 3.0, 7.3, 12.0] {
                let x = profile.integral(t);
                assert!(close(profile.time_of(x), t), "{profile:?} at {t}");
            }
        }
    }

    #[test]
    fn a_ramp_delivers_its_average_rate_over_its_length() {
        let ramp = RateProfile::Ramp {
            from_ops_per_s: 100.0,
            to_ops_per_s: 300.0,
            over_ns: 10_000_000_000,
        };
        assert!(close(ramp.integral(10.0), 2_000.0));
        assert!(
            close(ramp.integral(12.0), 2_600.0),
            "held at `to` afterwards"
        );
    }
}
