//! Exact merge of the shards of one sharded run into one results document.
//!
//! Histograms are added bucket by bucket, so the merged counts and percentiles are those of
//! one histogram fed every shard's samples. Interval series are lined up by each shard's
//! wall clock at the start of measurement (to the nearest interval) and summed; errors,
//! counters and schedule figures are summed; each shard's resources, checks, host and clock
//! facts are kept apart in `shards`, since a machine's CPU is not another's. What is refused:
//! files that are not shards, shards of different workloads, plimsoll versions or schemas,
//! capacity searches beside runs, and a set of shards with an index missing or given twice.
//!
//! Shards of a capacity search keep their own searches, and get one for the whole where
//! their steps pair up ([`capacity`]).
//!
//! This module does not read or write files, and it does not check thresholds.

mod capacity;

use std::collections::BTreeMap;

use super::{
    EncodedHistogram, ErrorCount, IntervalLatency, IntervalOpResults, IntervalResults,
    IntervalSchedule, JobResults, LoadResults, MergedShard, OpResults, RunResults, RunStatus,
    WarmupOp,
};
use crate::host::HostFacts;
use crate::load::RateProfile;
use crate::measure::{LatencyHistogram, Quantile};
use crate::workload::Workload;

/// Why a set of files cannot be merged. Each message names the files and what to do.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge; give the results files of every shard")]
    Empty,
    #[error(
        "{file} is not a shard's results (it was run without --shard or PLIMSOLL_SHARD, or it \
         is already merged); merge only the files of one sharded run"
    )]
    NotAShard { file: String },
    #[error("{first} and {other} {what}; merge only the shards of one run, made by one plimsoll")]
    Differ {
        first: String,
        other: String,
        what: String,
    },
    #[error("{0}")]
    Shards(String),
    #[error("{file}: {message}")]
    Data { file: String, message: String },
}

/// One shard's file, as read.
pub(super) struct Part {
    file: String,
    results: RunResults,
    /// This shard's start of measurement after the earliest shard's.
    offset_ns: u64,
    /// Intervals its series moves by to line up with the others.
    shift: u64,
}

/// One shard's results of one job, and the intervals its series moves by.
struct Lane<'a> {
    file: &'a str,
    job: &'a JobResults,
    shift: u64,
}

/// Merges the shards' results, given with the names of the files they came from (for
/// messages). The order does not matter: shards are taken by index.
pub fn merge(files: Vec<(String, RunResults)>) -> Result<RunResults, MergeError> {
    let parts = check(files)?;
    let combined = capacity::combine(&parts)?;
    let first = &parts[0].results;
    let measured_ns = parts
        .iter()
        .map(|p| p.offset_ns + p.results.measured_ns)
        .max()
        .unwrap_or(0);
    let interval_ns = first.interval_ns.max(1);
    let jobs = (0..first.jobs.len())
        .map(|j| {
            let lanes: Vec<Lane> = parts
                .iter()
                .map(|p| Lane {
                    file: &p.file,
                    job: &p.results.jobs[j],
                    shift: p.shift,
                })
                .collect();
            merge_job(&lanes, interval_ns, measured_ns)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut merged = RunResults {
        schema_version: first.schema_version,
        plimsoll_version: first.plimsoll_version.clone(),
        status: status(&parts),
        failure: failure(&parts),
        workload_file: first.workload_file.clone(),
        workload: first.workload.clone(),
        host: common_host(&parts),
        started_at: earliest_start(&parts),
        warmup_ns: first.warmup_ns,
        duration_requested_ns: first.duration_requested_ns,
        measured_ns,
        interval_ns: first.interval_ns,
        jobs,
        resources: None,
        checks: Vec::new(),
        thresholds: Vec::new(),
        shard: None,
        clock: None,
        shards: parts.iter().map(shard_facts).collect(),
        // A shard stopped on a threshold says so for the whole: the first one's reason.
        aborted: parts.iter().find_map(|p| p.results.aborted.clone()),
        capacity: None,
        capacity_not_combined: None,
    };
    // The workload's own thresholds hold for the whole run, so they are checked again on
    // the sums; a workload that no longer parses (a newer file) is left unchecked.
    if let Ok(workload) = serde_json::from_value::<Workload>(merged.workload.clone()) {
        let gates = crate::gate::workload_gates(&workload);
        merged.thresholds = crate::gate::evaluate(&gates, &merged);
    }
    match combined {
        capacity::Combined::NoSearch => {}
        capacity::Combined::Apart(why) => merged.capacity_not_combined = Some(why),
        capacity::Combined::Whole(whole) => {
            // As in one search's file, the top level is the step the search shows, judged
            // by its objectives; the shards' own top levels may show another step each.
            let shown = &whole.steps[capacity::shown_step(&whole)];
            merged.jobs = vec![shown.job.clone()];
            merged.measured_ns = shown.measured_ns;
            merged.thresholds = shown.thresholds.clone();
            merged.capacity = Some(whole);
        }
    }
    Ok(merged)
}

/// Refuses what is not one sharded run; returns the shards in index order, lined up.
fn check(files: Vec<(String, RunResults)>) -> Result<Vec<Part>, MergeError> {
    let Some((first_file, first)) = files.first() else {
        return Err(MergeError::Empty);
    };
    let differ = |other: &str, what: String| MergeError::Differ {
        first: first_file.clone(),
        other: other.to_owned(),
        what,
    };
    let count = first.shard.as_ref().map_or(0, |s| s.count);
    for (file, r) in &files {
        let Some(shard) = &r.shard else {
            return Err(MergeError::NotAShard { file: file.clone() });
        };
        if r.plimsoll_version != first.plimsoll_version || r.schema_version != first.schema_version
        {
            let what = format!(
                "were written by different plimsoll versions ({} and {})",
                first.plimsoll_version, r.plimsoll_version
            );
            return Err(differ(file, what));
        }
        if r.workload != first.workload {
            return Err(differ(
                file,
                workload_difference(&first.workload, &r.workload),
            ));
        }
        if shard.count != count {
            let what = format!("are shards of {count} and of {} shards", shard.count);
            return Err(differ(file, what));
        }
        if r.capacity.is_some() != first.capacity.is_some() {
            let what = format!(
                "were made by `plimsoll {}` and `plimsoll {}`",
                made_by(first),
                made_by(r)
            );
            return Err(differ(file, what));
        }
        if r.clock.is_none() {
            let message = "has no clock facts to line its intervals up by".to_owned();
            return Err(MergeError::Data {
                file: file.clone(),
                message,
            });
        }
    }
    let mut parts = by_index(files, count)?;
    line_up(&mut parts);
    Ok(parts)
}

/// The command that wrote a results file.
fn made_by(results: &RunResults) -> &'static str {
    match results.capacity {
        Some(_) => "capacity",
        None => "run",
    }
}

/// What differs between two workloads, in words: the name, or the first differing key.
fn workload_difference(a: &serde_json::Value, b: &serde_json::Value) -> String {
    let name = |w: &serde_json::Value| w.get("name").and_then(|n| n.as_str()).map(str::to_owned);
    if name(a) != name(b) {
        return format!(
            "ran different workloads (`{}` and `{}`)",
            name(a).unwrap_or_default(),
            name(b).unwrap_or_default()
        );
    }
    let key = match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => a
            .iter()
            .find(|(k, v)| b.get(*k) != Some(v))
            .map(|(k, _)| k.clone())
            .or_else(|| b.keys().find(|k| !a.contains_key(*k)).cloned()),
        _ => None,
    };
    match key {
        Some(key) => format!(
            "ran different versions of workload `{}` (`{key}` differs)",
            { name(a).unwrap_or_default() }
        ),
        None => "ran different workloads".to_owned(),
    }
}

/// The shards sorted by index, refusing an index given twice or missing.
fn by_index(files: Vec<(String, RunResults)>, count: u32) -> Result<Vec<Part>, MergeError> {
    let mut slots: Vec<Option<(String, RunResults)>> = (0..count).map(|_| None).collect();
    for (file, results) in files {
        let index = results.shard.as_ref().map_or(0, |s| s.index);
        let slot = index
            .checked_sub(1)
            .and_then(|i| slots.get_mut(i as usize))
            .ok_or_else(|| MergeError::Data {
                file: file.clone(),
                message: format!("says it is shard {index} of {count}, which cannot be"),
            })?;
        if let Some((earlier, _)) = slot {
            return Err(MergeError::Shards(format!(
                "shard {index} of {count} is given twice: {earlier} and {file}; give each \
                 shard's file once"
            )));
        }
        *slot = Some((file, results));
    }
    let missing: Vec<String> = (1..=count)
        .zip(&slots)
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Shards(format!(
            "shard{} {} of {count} {} missing; merge the files of all {count} shards",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            if missing.len() == 1 { "is" } else { "are" },
        )));
    }
    let parts = slots.into_iter().flatten().map(|(file, results)| Part {
        file,
        results,
        offset_ns: 0,
        shift: 0,
    });
    Ok(parts.collect())
}

/// Each shard's offset from the earliest start of measurement, and the whole intervals that
/// offset rounds to.
fn line_up(parts: &mut [Part]) {
    let start = |p: &Part| {
        p.results
            .clock
            .as_ref()
            .map_or(0, |c| c.measure_start_unix_ns)
    };
    let starts: Vec<u64> = parts.iter().map(start).collect();
    let interval_ns = parts.first().map_or(1, |p| p.results.interval_ns);
    for (part, (offset_ns, shift)) in parts.iter_mut().zip(offsets(&starts, interval_ns)) {
        part.offset_ns = offset_ns;
        part.shift = shift;
    }
}

/// Each start's offset from the earliest, and the whole intervals that offset rounds to.
fn offsets(starts: &[u64], interval_ns: u64) -> Vec<(u64, u64)> {
    let interval = interval_ns.max(1);
    let origin = starts.iter().copied().min().unwrap_or(0);
    let offset = |start: u64| start - origin;
    let shift = |offset: u64| (offset + interval / 2) / interval;
    starts
        .iter()
        .map(|&s| (offset(s), shift(offset(s))))
        .collect()
}

fn merge_job(lanes: &[Lane], interval_ns: u64, measured_ns: u64) -> Result<JobResults, MergeError> {
    let jobs: Vec<&JobResults> = lanes.iter().map(|l| l.job).collect();
    let first = jobs[0];
    let seconds = measured_ns as f64 / 1e9;
    let mut operations = Vec::new();
    for op in op_names(jobs.iter().map(|job| job.operations.iter().map(|o| &o.op))) {
        let each: Vec<(&str, &OpResults)> = lanes
            .iter()
            .filter_map(|l| Some((l.file, l.job.operations.iter().find(|o| o.op == op)?)))
            .collect();
        operations.push(merge_op(&op, &each, seconds)?);
    }
    let mut job = JobResults {
        name: first.name.clone(),
        kind: first.kind.clone(),
        load_model: first.load_model.clone(),
        load: None,
        counters: sum_maps(jobs.iter().map(|j| &j.counters)),
        workers: jobs.iter().map(|j| j.workers).sum(),
        // Each shard's target is its own part (its connections, keys or file); they are
        // kept side by side rather than summed into something no driver reported.
        target: serde_json::json!({ "shards": jobs.iter().map(|j| &j.target).collect::<Vec<_>>() }),
        operations,
        warmup: merge_warmup(&jobs),
        intervals: merge_intervals(lanes, interval_ns)?,
    };
    job.load = merge_load(&jobs, &job);
    Ok(job)
}

/// Operation names in the order the shards list them, each once.
fn op_names<'a>(lists: impl Iterator<Item = impl Iterator<Item = &'a String>>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in lists.flatten() {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

fn merge_op(op: &str, each: &[(&str, &OpResults)], seconds: f64) -> Result<OpResults, MergeError> {
    let decode = |file: &str, h: &EncodedHistogram| {
        h.decode().map_err(|message| MergeError::Data {
            file: file.to_owned(),
            message: format!("operation `{op}`: {message}"),
        })
    };
    let mut latency = LatencyHistogram::new();
    let mut service: Option<LatencyHistogram> = None;
    let mut failed: Option<LatencyHistogram> = None;
    for (file, o) in each {
        latency.add(&decode(file, &o.latency_histogram)?);
        if let Some(h) = &o.service_time_histogram {
            service
                .get_or_insert_with(LatencyHistogram::new)
                .add(&decode(file, h)?);
        }
        if let Some(h) = &o.failed_latency_histogram {
            failed
                .get_or_insert_with(LatencyHistogram::new)
                .add(&decode(file, h)?);
        }
    }
    let error_count: u64 = each.iter().map(|(_, o)| o.error_count).sum();
    let count: u64 = each.iter().map(|(_, o)| o.count).sum();
    let bytes: u64 = each.iter().map(|(_, o)| o.bytes).sum();
    let per_second = |n: u64| {
        if seconds > 0.0 {
            n as f64 / seconds
        } else {
            0.0
        }
    };
    Ok(OpResults {
        op: op.to_owned(),
        count,
        bytes,
        ops_per_s: per_second(count),
        bytes_per_s: per_second(bytes),
        latency_ns: latency.summary(),
        latency_histogram: EncodedHistogram::encode(&latency),
        service_time_ns: service.as_ref().map(LatencyHistogram::summary),
        service_time_histogram: service.as_ref().map(EncodedHistogram::encode),
        errors: sum_errors(each.iter().flat_map(|(_, o)| &o.errors)),
        error_count,
        completed_ops_per_s: Some(per_second(count + error_count)),
        failed_latency_ns: failed.as_ref().map(LatencyHistogram::summary),
        failed_latency_histogram: failed.as_ref().map(EncodedHistogram::encode),
        // Shards of one job run the same script, so their nesting is the same.
        within: each
            .iter()
            .find(|(_, o)| !o.within.is_empty())
            .map_or_else(Vec::new, |(_, o)| o.within.clone()),
    })
}

fn merge_warmup(jobs: &[&JobResults]) -> Vec<WarmupOp> {
    let names = op_names(jobs.iter().map(|j| j.warmup.iter().map(|w| &w.op)));
    let all = || jobs.iter().flat_map(|j| &j.warmup);
    names
        .into_iter()
        .map(|op| {
            let of = || all().filter(|w| w.op == op);
            WarmupOp {
                count: of().map(|w| w.count).sum(),
                bytes: of().map(|w| w.bytes).sum(),
                error_count: of().map(|w| w.error_count).sum(),
                op,
            }
        })
        .collect()
}

/// Every shard's interval k goes to merged interval k + its shift; what lands in one merged
/// interval is summed.
fn merge_intervals(lanes: &[Lane], interval_ns: u64) -> Result<Vec<IntervalResults>, MergeError> {
    let interval_ns = interval_ns.max(1);
    let mut buckets: BTreeMap<u64, Vec<(&str, &IntervalResults)>> = BTreeMap::new();
    for lane in lanes {
        for i in &lane.job.intervals {
            let index = i.start_ns / interval_ns + lane.shift;
            buckets.entry(index).or_default().push((lane.file, i));
        }
    }
    buckets
        .into_iter()
        .map(|(index, each)| merge_interval(index * interval_ns, &each))
        .collect()
}

fn merge_interval(
    start_ns: u64,
    each: &[(&str, &IntervalResults)],
) -> Result<IntervalResults, MergeError> {
    let names = op_names(each.iter().map(|(_, i)| i.ops.iter().map(|o| &o.op)));
    let ops = names
        .iter()
        .map(|op| {
            let of: Vec<(&str, &IntervalOpResults)> = each
                .iter()
                .filter_map(|(f, i)| Some((*f, i.ops.iter().find(|o| &o.op == op)?)))
                .collect();
            merge_interval_op(op, &of)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let schedules: Vec<&IntervalSchedule> = each
        .iter()
        .filter_map(|(_, i)| i.schedule.as_ref())
        .collect();
    Ok(IntervalResults {
        start_ns,
        duration_ns: each.iter().map(|(_, i)| i.duration_ns).max().unwrap_or(0),
        ops,
        schedule: (!schedules.is_empty()).then(|| merge_schedule(&schedules)),
        counters: sum_maps(each.iter().map(|(_, i)| &i.counters)),
    })
}

fn merge_interval_op(
    op: &str,
    each: &[(&str, &IntervalOpResults)],
) -> Result<IntervalOpResults, MergeError> {
    // Percentiles come from the summed histogram; without one in every shard (older files)
    // they are unknown, and only the largest sample is.
    let mut latency = Some(LatencyHistogram::new());
    for (file, o) in each {
        let decoded = o.latency_histogram.as_deref().map(|h| {
            LatencyHistogram::decode(h, 0, 0).map_err(|message| MergeError::Data {
                file: file.to_string(),
                message: format!("an interval of `{op}`: {message}"),
            })
        });
        match (latency.as_mut(), decoded.transpose()?) {
            (Some(sum), Some(h)) => sum.add(&h),
            _ => latency = None,
        }
    }
    let max = each.iter().filter_map(|(_, o)| o.latency_ns.max).max();
    let p = latency.as_ref().map(|h| {
        let qs = [Quantile::P50, Quantile::P99, Quantile::P99_9];
        h.percentiles(&qs)
            .into_iter()
            .map(|v| v.ns())
            .collect::<Vec<_>>()
    });
    let at = |k: usize| p.as_ref().and_then(|p| p[k]);
    // Interval service times carry no histogram, so only their largest value survives a
    // merge; their percentiles would need one.
    let service_max = each
        .iter()
        .filter_map(|(_, o)| o.service_time_ns.and_then(|s| s.max))
        .max();
    Ok(IntervalOpResults {
        op: op.to_owned(),
        count: each.iter().map(|(_, o)| o.count).sum(),
        bytes: each.iter().map(|(_, o)| o.bytes).sum(),
        error_count: each.iter().map(|(_, o)| o.error_count).sum(),
        errors: sum_errors(each.iter().flat_map(|(_, o)| &o.errors)),
        latency_ns: IntervalLatency {
            p50: at(0),
            p99: at(1),
            p99_9: at(2),
            max,
        },
        service_time_ns: service_max.map(|max| IntervalLatency {
            p50: None,
            p99: None,
            p99_9: None,
            max: Some(max),
        }),
        latency_histogram: latency.as_ref().map(LatencyHistogram::encode),
    })
}

fn merge_schedule(each: &[&IntervalSchedule]) -> IntervalSchedule {
    let sent: u64 = each.iter().map(|s| s.sent_ops).sum();
    let lag_sum: u128 = each
        .iter()
        .map(|s| u128::from(s.lag_mean_ns.unwrap_or(0)) * u128::from(s.sent_ops))
        .sum();
    IntervalSchedule {
        sent_ops: sent,
        late_ops: each.iter().map(|s| s.late_ops).sum(),
        skipped_ops: each.iter().map(|s| s.skipped_ops).sum(),
        dropped_ops: each.iter().map(|s| s.dropped_ops).sum(),
        lag_mean_ns: (sent > 0).then(|| (lag_sum / u128::from(sent)) as u64),
        lag_max_ns: each.iter().filter_map(|s| s.lag_max_ns).max(),
    }
}

/// The whole job's load: targets and achieved rates are the shards' sums (each shard kept
/// its own part of the rate over its own window), and the verdict is judged again on them.
fn merge_load(jobs: &[&JobResults], merged: &JobResults) -> Option<LoadResults> {
    let loads: Vec<&LoadResults> = jobs.iter().filter_map(|j| j.load.as_ref()).collect();
    let first = (*loads.first()?).clone();
    if loads.len() != jobs.len() {
        return None;
    }
    let sum_opt = |f: &dyn Fn(&LoadResults) -> Option<f64>| -> Option<f64> {
        loads.iter().map(|l| f(l)).sum::<Option<f64>>()
    };
    let sent: u64 = loads.iter().map(|l| l.sent_ops).sum();
    let lag_sum: u128 = loads
        .iter()
        .map(|l| u128::from(l.schedule_lag_mean_ns.unwrap_or(0)) * u128::from(l.sent_ops))
        .sum();
    let mut load = LoadResults {
        profile: sum_profiles(loads.iter().map(|l| l.profile.as_ref())),
        in_flight_limit: loads.iter().map(|l| l.in_flight_limit).sum(),
        target_ops_per_s: sum_opt(&|l| l.target_ops_per_s),
        scheduled_ops: loads.iter().map(|l| l.scheduled_ops).sum(),
        sent_ops: sent,
        achieved_ops_per_s: sum_opt(&|l| l.achieved_ops_per_s),
        late_ops: loads.iter().map(|l| l.late_ops).sum(),
        schedule_lag_mean_ns: (sent > 0 && first.schedule_lag_mean_ns.is_some())
            .then(|| (lag_sum / u128::from(sent)) as u64),
        schedule_lag_max_ns: loads.iter().filter_map(|l| l.schedule_lag_max_ns).max(),
        skipped_ops: loads.iter().map(|l| l.skipped_ops).sum(),
        dropped_ops: loads.iter().map(|l| l.dropped_ops).sum(),
        unsent_ops: loads.iter().map(|l| l.unsent_ops).sum(),
        lag_growing: loads.iter().any(|l| l.lag_growing),
        sustained: None,
        limit: None,
        verdict: None,
        ..first
    };
    if let (Some(target), Some(achieved)) = (load.target_ops_per_s, load.achieved_ops_per_s) {
        load.judge(target, achieved, mean_service_s(merged));
    }
    Some(load)
}

/// The shards' rates added back together, stage by stage; `None` when shapes differ.
fn sum_profiles<'a>(
    mut each: impl Iterator<Item = Option<&'a RateProfile>>,
) -> Option<RateProfile> {
    let mut sum = each.next()??.clone();
    for profile in each {
        match (&mut sum, profile?) {
            (RateProfile::Constant { ops_per_s }, RateProfile::Constant { ops_per_s: b }) => {
                *ops_per_s += b;
            }
            (
                RateProfile::Ramp {
                    from_ops_per_s,
                    to_ops_per_s,
                    ..
                },
                RateProfile::Ramp {
                    from_ops_per_s: from,
                    to_ops_per_s: to,
                    ..
                },
            ) => {
                *from_ops_per_s += from;
                *to_ops_per_s += to;
            }
            (RateProfile::Stages { stages }, RateProfile::Stages { stages: other })
                if stages.len() == other.len() =>
            {
                stages
                    .iter_mut()
                    .zip(other)
                    .for_each(|(s, o)| s.ops_per_s += o.ops_per_s);
            }
            _ => return None,
        }
    }
    Some(sum)
}

/// Mean send-to-reply time over every operation of the merged job, in seconds.
fn mean_service_s(job: &JobResults) -> Option<f64> {
    let mut all = LatencyHistogram::new();
    for op in &job.operations {
        if let Some(h) = op
            .service_time_histogram
            .as_ref()
            .and_then(|h| h.decode().ok())
        {
            all.add(&h);
        }
    }
    all.summary().mean.map(|ns| ns / 1e9)
}

fn sum_errors<'a>(each: impl Iterator<Item = &'a ErrorCount>) -> Vec<ErrorCount> {
    let mut sums: BTreeMap<(String, Option<i32>), u64> = BTreeMap::new();
    for e in each {
        *sums.entry((e.kind.clone(), e.errno)).or_default() += e.count;
    }
    let mut counts: Vec<ErrorCount> = sums
        .into_iter()
        .map(|((kind, errno), count)| ErrorCount { kind, errno, count })
        .collect();
    counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.kind.cmp(&b.kind)));
    counts
}

fn sum_maps<'a>(each: impl Iterator<Item = &'a BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
    let mut sum = BTreeMap::new();
    for (name, n) in each.flatten() {
        *sum.entry(name.clone()).or_default() += n;
    }
    sum
}

fn status(parts: &[Part]) -> RunStatus {
    let any = |s: RunStatus| parts.iter().any(|p| p.results.status == s);
    if any(RunStatus::Failed) {
        RunStatus::Failed
    } else if any(RunStatus::Aborted) {
        RunStatus::Aborted
    } else if any(RunStatus::Interrupted) {
        RunStatus::Interrupted
    } else {
        RunStatus::Complete
    }
}

fn failure(parts: &[Part]) -> Option<String> {
    let failures: Vec<String> = parts
        .iter()
        .filter_map(|p| {
            let index = p.results.shard.as_ref().map_or(0, |s| s.index);
            Some(format!("shard {index}: {}", p.results.failure.as_ref()?))
        })
        .collect();
    (!failures.is_empty()).then(|| failures.join("; "))
}

/// The facts every shard's host shares; one that differs (the host name, surely) is unknown
/// for the whole, and each shard keeps its own in `shards`.
fn common_host(parts: &[Part]) -> HostFacts {
    let first = &parts[0].results.host;
    let same = |f: &dyn Fn(&HostFacts) -> bool| parts.iter().all(|p| f(&p.results.host));
    HostFacts {
        hostname: first
            .hostname
            .clone()
            .filter(|_| same(&|h| h.hostname == first.hostname)),
        kernel_release: first
            .kernel_release
            .clone()
            .filter(|_| same(&|h| h.kernel_release == first.kernel_release)),
        os_name: first
            .os_name
            .clone()
            .filter(|_| same(&|h| h.os_name == first.os_name)),
        cpu_model: first
            .cpu_model
            .clone()
            .filter(|_| same(&|h| h.cpu_model == first.cpu_model)),
        logical_cores: first
            .logical_cores
            .filter(|_| same(&|h| h.logical_cores == first.logical_cores)),
        memory_bytes: first
            .memory_bytes
            .filter(|_| same(&|h| h.memory_bytes == first.memory_bytes)),
        plimsoll_version: first.plimsoll_version.clone(),
    }
}

/// RFC 3339 times of one format sort as text.
fn earliest_start(parts: &[Part]) -> String {
    let starts = parts.iter().map(|p| &p.results.started_at);
    starts.min().cloned().unwrap_or_default()
}

fn shard_facts(part: &Part) -> MergedShard {
    let r = &part.results;
    MergedShard {
        index: r.shard.as_ref().map_or(0, |s| s.index),
        source_file: Some(part.file.clone()),
        status: r.status,
        failure: r.failure.clone(),
        host: r.host.clone(),
        started_at: r.started_at.clone(),
        clock: r.clock.clone(),
        offset_ns: part.offset_ns,
        interval_shift: part.shift,
        measured_ns: r.measured_ns,
        resources: r.resources.clone(),
        checks: r.checks.clone(),
        capacity: r.capacity.clone(),
    }
}
