//! Abort early: which thresholds a run can already know are broken while it still runs.
//!
//! A threshold is certainly broken only when no operation still to come can restore it. That
//! holds for figures that only grow: error and skip counts against an upper bound, the largest
//! latency against an upper bound and the smallest against a lower one. A percentile can be
//! diluted by later fast samples, so it is certain only when the job's schedule bounds how
//! many operations it can still complete (an open model with uniform arrivals): then enough
//! slow samples already outweigh every sample that could follow. An error rate is certain on
//! the same condition. Rates (`iops`, `bandwidth`) and the mean are never certain: the
//! measured window's length is only known once the last operation has drained.
//!
//! This module decides; the runner watches and stops the load.

use serde::{Deserialize, Serialize};

use super::{Compare, Gate, LatencyStat, Metric};
use crate::measure::{JobTotals, OpTotals, Quantile};

/// One job as the runner sees it mid-run: its measured figures so far.
#[derive(Debug, Clone, Copy)]
pub struct LiveJob<'a> {
    pub name: &'a str,
    pub totals: &'a JobTotals,
    /// The most measured operations the job can end with, when its schedule bounds them.
    pub max_ops: Option<u64>,
}

/// The threshold that stopped a run, and why it could not have passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breach {
    pub expression: String,
    /// `job.op` or `job`.
    pub scope: String,
    pub reason: String,
    /// Into the measured window when the run was stopped; 0 until the runner sets it.
    #[serde(default)]
    pub after_ns: u64,
}

/// The first of `gates` that is already certainly broken, if any.
pub fn first_breach(gates: &[Gate], jobs: &[LiveJob]) -> Option<Breach> {
    gates.iter().find_map(|g| g.certain_breach(jobs))
}

impl Gate {
    /// This threshold, if some place it applies to can no longer meet it.
    pub fn certain_breach(&self, jobs: &[LiveJob]) -> Option<Breach> {
        let in_scope = jobs
            .iter()
            .filter(|j| self.scope.job.as_deref().is_none_or(|name| name == j.name));
        in_scope.into_iter().find_map(|job| self.breach_in(job))
    }

    fn breach_in(&self, job: &LiveJob) -> Option<Breach> {
        let t = &self.threshold;
        let breach = |scope: String, reason: String| Breach {
            expression: t.text.clone(),
            scope,
            reason,
            after_ns: 0,
        };
        if t.metric.per_job() {
            let s = &job.totals.schedule;
            // `dropped` at the end also holds the slots still unsent then; so far it is at
            // least the slots skipped and those dropped while every slot was busy.
            let (count, what) = match t.metric {
                Metric::Skipped => (s.skipped, "slots skipped"),
                _ => (s.skipped + s.dropped, "slots skipped or dropped"),
            };
            let reason = format!("{count} {what} so far; the count can only grow");
            return grown_past(t.compare, count as f64, t.bound)
                .then(|| breach(job.name.to_owned(), reason));
        }
        let ops = job.totals.op_names.iter().zip(&job.totals.measured);
        ops.filter(|(name, _)| self.scope.op.as_deref().is_none_or(|op| op == **name))
            .find_map(|(name, op)| {
                let reason = self.op_breach(op, job.max_ops)?;
                Some(breach(format!("{}.{name}", job.name), reason))
            })
    }

    fn op_breach(&self, op: &OpTotals, max_ops: Option<u64>) -> Option<String> {
        let (compare, bound) = (self.threshold.compare, self.threshold.bound);
        match self.threshold.metric {
            Metric::Errors => {
                let errors = op.errors.total() as f64;
                grown_past(compare, errors, bound)
                    .then(|| format!("{errors} errors so far; the count can only grow"))
            }
            Metric::ErrorRate => {
                let most = max_ops? as f64;
                let lowest = op.errors.total() as f64 / most;
                grown_past(compare, lowest, bound).then(|| {
                    format!(
                        "{} errors so far, and the schedule allows at most {most} operations: \
                         the error rate ends at {:.3}% or more",
                        op.errors.total(),
                        lowest * 100.0
                    )
                })
            }
            Metric::Latency(stat) => latency_breach(stat, compare, bound, op, max_ops),
            Metric::Throughput | Metric::Bandwidth | Metric::Skipped | Metric::Dropped => None,
        }
    }
}

/// A count that only grows has passed an upper bound for good.
fn grown_past(compare: Compare, value: f64, bound: f64) -> bool {
    match compare {
        Compare::Less => value >= bound,
        Compare::LessOrEqual | Compare::Equal => value > bound,
        Compare::Greater | Compare::GreaterOrEqual => false,
    }
}

fn latency_breach(
    stat: LatencyStat,
    compare: Compare,
    bound: f64,
    op: &OpTotals,
    max_ops: Option<u64>,
) -> Option<String> {
    let ns = bound as u64;
    let hist = &op.latency;
    let shown = crate::report::format::latency(Some(ns));
    match (stat, compare) {
        (LatencyStat::Max, Compare::Less | Compare::LessOrEqual | Compare::Equal) => {
            let slow = hist.count_certainly_above(ns, compare != Compare::Less);
            (slow > 0).then(|| format!("{slow} operation(s) already took {shown} or more"))
        }
        (LatencyStat::Min, Compare::Greater | Compare::GreaterOrEqual | Compare::Equal) => {
            let fast = hist.count_certainly_below(ns, compare != Compare::Greater);
            (fast > 0).then(|| format!("{fast} operation(s) already took {shown} or less"))
        }
        (stat, Compare::Less | Compare::LessOrEqual) => {
            let q = quantile(stat)?;
            let most = max_ops?;
            let slow = hist.count_certainly_above(ns, compare == Compare::LessOrEqual);
            // However many fast samples follow, at most `most` in all: the sample at the
            // percentile's rank is one of the slow ones once they outnumber what lies above it.
            let room = most - q.rank(most).min(most);
            (slow > room).then(|| {
                format!(
                    "{slow} operations already took {shown} or more, and the schedule allows at \
                     most {most}: more than the {room} that may lie above the percentile"
                )
            })
        }
        _ => None,
    }
}

fn quantile(stat: LatencyStat) -> Option<Quantile> {
    match stat {
        LatencyStat::P50 => Some(Quantile::P50),
        LatencyStat::P90 => Some(Quantile::P90),
        LatencyStat::P99 => Some(Quantile::P99),
        LatencyStat::P99_9 => Some(Quantile::P99_9),
        LatencyStat::P99_99 => Some(Quantile::P99_99),
        LatencyStat::P99_999 => Some(Quantile::P99_999),
        LatencyStat::Min | LatencyStat::Mean | LatencyStat::Max => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::{Scope, Threshold};
    use crate::measure::{ErrorKind, ScheduleStats};

    fn gate(text: &str) -> Gate {
        let threshold: Threshold = text.parse().expect("threshold");
        Gate::new(threshold, Scope::default()).expect("gate")
    }

    /// One operation `read` with `latencies` (ns) and `errors` failures so far.
    fn totals(latencies: &[u64], errors: u64, skipped: u64) -> JobTotals {
        let mut op = OpTotals::default();
        latencies.iter().for_each(|&ns| op.latency.record(ns));
        op.count = latencies.len() as u64;
        op.errors.add(ErrorKind::Timeout, errors);
        JobTotals {
            op_names: vec!["read"],
            measured: vec![op],
            warmup: vec![OpTotals::default()],
            intervals: Vec::new(),
            schedule: ScheduleStats {
                skipped,
                ..ScheduleStats::default()
            },
            counters: [0; crate::measure::MAX_COUNTERS],
        }
    }

    fn broken(text: &str, totals: &JobTotals, max_ops: Option<u64>) -> bool {
        let job = LiveJob {
            name: "j",
            totals,
            max_ops,
        };
        first_breach(&[gate(text)], &[job]).is_some()
    }

    #[test]
    fn counts_that_only_grow_break_an_upper_bound_for_good() {
        let t = totals(&[1_000], 3, 2);
        assert!(broken("errors < 3", &t, None));
        assert!(!broken("errors <= 3", &t, None));
        assert!(broken("errors == 2", &t, None));
        assert!(!broken("errors > 5", &t, None), "more errors may come");
        assert!(broken("dropped == 0", &t, None));
        assert!(!broken("skipped <= 2", &t, None));
        let mut busy = totals(&[1_000], 0, 0);
        busy.schedule.dropped = 4;
        assert!(
            broken("dropped < 3", &busy, None),
            "dropped while busy counts"
        );
        assert!(!broken("skipped == 0", &busy, None));
    }

    #[test]
    fn the_largest_latency_breaks_at_its_first_slow_sample() {
        let t = totals(&[1_000_000, 2_000_000, 30_000_000], 0, 0);
        assert!(broken("max < 10ms", &t, None));
        assert!(!broken("max < 50ms", &t, None));
        assert!(broken("min > 1.5ms", &t, None));
        assert!(!broken("mean < 1ms", &t, None), "the mean is never certain");
    }

    #[test]
    fn a_percentile_is_certain_only_when_the_schedule_bounds_the_samples() {
        // 3 slow samples; with at most 200 operations, p99's rank is 198: 2 may lie above it.
        let slow = [20_000_000; 3];
        let t = totals(&slow, 0, 0);
        assert!(
            !broken("p99 < 10ms", &t, None),
            "closed model: fast samples may follow"
        );
        assert!(broken("p99 < 10ms", &t, Some(200)));
        assert!(
            !broken("p99 < 10ms", &t, Some(300)),
            "300 allows 3 above p99"
        );
        assert!(!broken("p99 < 30ms", &t, Some(200)));
        assert!(!broken("p99 > 30ms", &t, Some(200)));
    }

    #[test]
    fn an_error_rate_is_certain_against_the_most_operations_allowed() {
        let t = totals(&[1_000], 5, 0);
        assert!(!broken("error_rate < 1%", &t, None));
        assert!(broken("error_rate < 1%", &t, Some(400)));
        assert!(!broken("error_rate < 1%", &t, Some(600)));
    }

    #[test]
    fn rates_are_never_certain_before_the_end() {
        let t = totals(&[1_000; 50], 0, 0);
        assert!(!broken("iops < 1", &t, Some(50)));
        assert!(!broken("bandwidth < 1KiB/s", &t, Some(50)));
    }
}
