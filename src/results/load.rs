//! How a job offered its load, in the results: the model, the open model's target rate and
//! how well it was kept, and a plain verdict when it was not.
//!
//! A target rate counts as not sustained when fewer than [`SUSTAINED_SHARE`] of the
//! scheduled operations went out, or when the schedule lag kept growing. The limit is named
//! by Little's law: if the rate times the mean service time needs (nearly) every request slot
//! the job allows, the target was too slow for that concurrency; otherwise slots were free
//! and the generator itself fell behind.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::load::RateProfile;
use crate::measure::{IntervalTotals, JobTotals, LATE_AFTER, LatencyHistogram};
use crate::workload::{Arrival, LoadSpec};

/// Below this share of the target rate, the rate was not sustained.
pub const SUSTAINED_SHARE: f64 = 0.95;
/// Requests in flight needed, as a share of the limit, at which the target counts as the
/// limit rather than the generator.
const BUSY_SHARE: f64 = 0.9;

/// What a driver says about how its job offers load.
#[derive(Debug, Clone)]
pub struct LoadFacts {
    /// `closed` or `open`.
    pub model: &'static str,
    pub profile: Option<RateProfile>,
    /// `uniform` or `poisson`, open model only.
    pub arrival: Option<&'static str>,
    /// Requests in flight at most, for the whole job.
    pub in_flight_limit: u64,
    pub skip_late: Option<Duration>,
    pub think_time: Option<Duration>,
    /// The measured duration the workload asked for: the schedule's length.
    pub duration: Duration,
}

impl LoadFacts {
    /// What a network job's `load` table offers, at most `in_flight_limit` at a time.
    pub fn of_spec(
        spec: &LoadSpec,
        profile: Option<RateProfile>,
        in_flight_limit: u64,
        duration: Duration,
    ) -> Self {
        LoadFacts {
            model: if spec.is_open() { "open" } else { "closed" },
            profile,
            arrival: spec.is_open().then_some(match spec.arrival {
                Arrival::Uniform => "uniform",
                Arrival::Poisson => "poisson",
            }),
            in_flight_limit,
            skip_late: spec.skip_late.map(|d| d.0),
            think_time: spec.think_time.map(|d| d.0),
            duration,
        }
    }

    /// A closed-model job with `in_flight_limit` workers (or queue slots) and no think time.
    pub fn closed(in_flight_limit: u64, duration: Duration) -> Self {
        LoadFacts {
            model: "closed",
            profile: None,
            arrival: None,
            in_flight_limit,
            skip_late: None,
            think_time: None,
            duration,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadResults {
    /// `closed` or `open`.
    pub model: String,
    /// Open model: the target rate is for the whole job, never per connection or worker.
    pub rate_scope: String,
    pub profile: Option<RateProfile>,
    pub arrival: Option<String>,
    pub in_flight_limit: u64,
    pub think_time_ns: Option<u64>,
    pub skip_late_ns: Option<u64>,
    /// The profile's mean rate over the measured window.
    pub target_ops_per_s: Option<f64>,
    /// Slots the schedule held in the measured window.
    pub scheduled_ops: Option<u64>,
    /// Requests sent in the measured window (answered or failed).
    pub sent_ops: u64,
    pub achieved_ops_per_s: Option<f64>,
    /// Requests sent more than `late_after_ns` after their slot.
    pub late_ops: u64,
    pub late_after_ns: u64,
    pub schedule_lag_mean_ns: Option<u64>,
    pub schedule_lag_max_ns: Option<u64>,
    /// Slots passed over under `skip_late`.
    pub skipped_ops: u64,
    /// Slots that came due while every in-flight slot was busy, dropped rather than queued
    /// (HTTP's open model). Absent from older results files.
    #[serde(default)]
    pub dropped_ops: u64,
    /// Slots neither sent nor skipped by the end: the backlog the run ended with.
    pub unsent_ops: Option<u64>,
    /// Whether the schedule lag rose over the run: the trend of the intervals' mean lags rose
    /// by more than 100 ms and fits them, so noise or one late spike does not count.
    pub lag_growing: bool,
    /// Open model: whether the target rate was kept.
    pub sustained: Option<bool>,
    /// When not sustained: `target` or `generator`.
    pub limit: Option<String>,
    /// A sentence for people, when the rate was not sustained.
    pub verdict: Option<String>,
}

/// What a closed-model job whose driver keeps no schedule sent: every operation that ended,
/// leaving out those timed within another (`within[op]` non-empty), such as a transaction's
/// statements, which went out as part of it.
fn completed_or_failed(totals: &JobTotals, within: &[Vec<usize>]) -> u64 {
    let outer = |op: &usize| within.get(*op).is_none_or(Vec::is_empty);
    let measured = totals.measured.iter().enumerate();
    measured
        .filter(|(op, _)| outer(op))
        .map(|(_, o)| o.count + o.errors.total())
        .sum()
}

impl LoadResults {
    pub fn build(
        facts: &LoadFacts,
        totals: &JobTotals,
        within: &[Vec<usize>],
        measured: Duration,
    ) -> Self {
        let window = measured.min(facts.duration).as_secs_f64();
        let s = &totals.schedule;
        let open = facts.profile.is_some();
        let scheduled = facts
            .profile
            .as_ref()
            .map(|p| p.integral(window).floor() as u64);
        let target = facts.profile.as_ref().map(|p| p.mean_rate(window));
        let achieved = (open && window > 0.0).then(|| s.sent as f64 / window);
        let mut results = LoadResults {
            model: facts.model.to_owned(),
            rate_scope: if open { "job" } else { "none" }.to_owned(),
            profile: facts.profile.clone(),
            arrival: facts.arrival.map(str::to_owned),
            in_flight_limit: facts.in_flight_limit,
            think_time_ns: facts.think_time.map(|d| d.as_nanos() as u64),
            skip_late_ns: facts.skip_late.map(|d| d.as_nanos() as u64),
            target_ops_per_s: target,
            scheduled_ops: scheduled,
            sent_ops: if open || s.sent > 0 {
                s.sent
            } else {
                completed_or_failed(totals, within)
            },
            achieved_ops_per_s: achieved,
            late_ops: s.late,
            late_after_ns: LATE_AFTER.as_nanos() as u64,
            schedule_lag_mean_ns: (s.sent > 0).then(|| s.lag_sum_ns / s.sent),
            schedule_lag_max_ns: (s.sent > 0).then_some(s.lag_max_ns),
            skipped_ops: s.skipped,
            dropped_ops: s.dropped,
            unsent_ops: scheduled.map(|n| n.saturating_sub(s.sent + s.skipped + s.dropped)),
            lag_growing: open && lag_growing(&totals.intervals),
            sustained: None,
            limit: None,
            verdict: None,
        };
        if let (Some(target), Some(achieved)) = (target, achieved) {
            results.judge(target, achieved, mean_service_s(totals));
        }
        results
    }

    pub(super) fn judge(&mut self, target: f64, achieved: f64, service_s: Option<f64>) {
        let share = if target > 0.0 { achieved / target } else { 1.0 };
        let sustained = share >= SUSTAINED_SHARE && !self.lag_growing;
        self.sustained = Some(sustained);
        if sustained {
            return;
        }
        let needed = target * service_s.unwrap_or(0.0);
        let limit = self.in_flight_limit as f64;
        let target_bound = needed >= BUSY_SHARE * limit;
        let head = format!(
            "target rate not sustained: achieved {} of {} op/s ({:.1} %){}",
            rate(achieved),
            rate(target),
            share * 100.0,
            if self.lag_growing {
                ", and the schedule lag kept growing"
            } else {
                ""
            },
        );
        let service = service_s.map_or("-".to_owned(), |s| format!("{:.3} ms", s * 1e3));
        let tail = if target_bound {
            format!(
                "the target was the limit: replies took {service} on average, so the rate needs \
                 about {needed:.0} requests in flight and the job allows {limit:.0}; raise \
                 its in-flight limit (load.max_in_flight, or what sets it for the kind: \
                 connections and pipeline, or workers and queue_depth) if the server has \
                 headroom, or lower the rate"
            )
        } else {
            format!(
                "the generator was the limit: replies took {service} on average, so about \
                 {needed:.0} of the {limit:.0} request slots were needed, yet sends fell behind \
                 the schedule; give the job more threads (and cores), or lower the rate"
            )
        };
        self.limit = Some(if target_bound { "target" } else { "generator" }.to_owned());
        self.verdict = Some(format!("{head}; {tail}"));
    }
}

/// A rate with a precision that suits its size, for the verdict sentence.
fn rate(ops_per_s: f64) -> String {
    if ops_per_s >= 100.0 {
        format!("{ops_per_s:.0}")
    } else {
        format!("{ops_per_s:.2}")
    }
}

/// Mean send-to-reply time over every operation kind, in seconds.
fn mean_service_s(totals: &JobTotals) -> Option<f64> {
    let mut all = LatencyHistogram::new();
    totals.measured.iter().for_each(|op| all.add(&op.service));
    all.summary().mean.map(|ns| ns / 1e9)
}

/// How far the lag's trend must rise over the run to count as growing.
const LAG_RISE_NS: f64 = 100e6;
/// The share of the intervals' spread in lag the trend must explain, so that noise, or one
/// late spike, does not pass for growth.
const LAG_TREND_FIT: f64 = 0.5;

/// Whether the schedule lag rose over the run: a least-squares line through each interval's
/// mean lag rises by more than [`LAG_RISE_NS`] from the first interval with sends to the last,
/// and fits them. The ends of the run alone would miss growth where the last intervals send
/// nothing (the drain after the requested end), and take one late spike for growth. An
/// interval with no sends has no lag to read, so it is left out rather than read as zero.
fn lag_growing(intervals: &[IntervalTotals]) -> bool {
    let points: Vec<(f64, f64)> = intervals
        .iter()
        .filter(|i| i.schedule.sent > 0)
        .map(|i| {
            let lag = i.schedule.lag_sum_ns as f64 / i.schedule.sent as f64;
            (i.index as f64, lag)
        })
        .collect();
    let Some((slope, fit)) = line_fit(&points) else {
        return false;
    };
    let span = points[points.len() - 1].0 - points[0].0;
    slope * span > LAG_RISE_NS && fit >= LAG_TREND_FIT
}

/// The least-squares slope through `points` and the share of their spread it explains (r²).
/// None for fewer than 3 points, or points that do not vary.
fn line_fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in points {
        let (dx, dy) = (x - mean_x, y - mean_y);
        (sxx, sxy, syy) = (sxx + dx * dx, sxy + dx * dy, syy + dy * dy);
    }
    let varies = points.len() >= 3 && sxx > 0.0 && syy > 0.0;
    varies.then(|| (sxy / sxx, sxy * sxy / (sxx * syy)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{MAX_COUNTERS, ScheduleStats};

    /// One interval per entry, each the mean lag of its sends in milliseconds; `None` for an
    /// interval with no sends at all.
    fn series(lags_ms: &[Option<f64>]) -> Vec<IntervalTotals> {
        let interval = |(index, lag_ms): (usize, &Option<f64>)| {
            let sent = if lag_ms.is_some() { 1_000 } else { 0 };
            IntervalTotals {
                index: index as u64,
                ops: Vec::new(),
                schedule: ScheduleStats {
                    sent,
                    lag_sum_ns: (lag_ms.unwrap_or(0.0) * 1e6) as u64 * sent,
                    ..ScheduleStats::default()
                },
                counters: [0; MAX_COUNTERS],
            }
        };
        lags_ms.iter().enumerate().map(interval).collect()
    }

    fn growing(lags_ms: &[f64]) -> bool {
        let every_one_sent: Vec<Option<f64>> = lags_ms.iter().copied().map(Some).collect();
        lag_growing(&series(&every_one_sent))
    }

    #[test]
    fn a_lag_that_rises_through_the_run_is_growing() {
        assert!(growing(&[1.0, 90.0, 180.0, 270.0, 360.0, 450.0, 540.0]));
        // Punctual at first, then falling further behind each interval.
        assert!(growing(&[2.0, 2.0, 3.0, 2.0, 60.0, 160.0, 250.0, 340.0]));
    }

    #[test]
    fn a_flat_lag_is_not_growing_even_when_it_is_high() {
        assert!(!growing(&[1.0; 10]));
        assert!(!growing(&[900.0; 10]));
    }

    #[test]
    fn a_noisy_flat_lag_or_one_late_spike_is_not_growing() {
        let noisy = [
            120.0, 260.0, 90.0, 300.0, 110.0, 280.0, 95.0, 310.0, 100.0, 290.0,
        ];
        assert!(!growing(&noisy));
        assert!(!growing(&[
            5.0, 6.0, 5.0, 4.0, 5.0, 6.0, 5.0, 5.0, 4.0, 400.0
        ]));
    }

    #[test]
    fn an_interval_with_no_sends_is_left_out_rather_than_ending_the_series() {
        // A short run: three intervals of rising lag, then the drain after the requested end,
        // which sends nothing.
        let short = [Some(40.0), Some(240.0), Some(440.0), None];
        assert!(lag_growing(&series(&short)));
        let stalled = [
            Some(10.0),
            None,
            Some(210.0),
            Some(310.0),
            Some(410.0),
            None,
        ];
        assert!(lag_growing(&series(&stalled)));
        assert!(!lag_growing(&series(&[Some(3.0), None, Some(3.0), None])));
    }
}
