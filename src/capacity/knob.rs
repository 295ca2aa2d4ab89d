//! The load knob a capacity search turns, per kind of job: the arrival rate for open-model
//! jobs, the connections (Redis, SQL) or queue depth (workers for the `sync` disk engine) for
//! closed ones.
//!
//! This module reads the knob's starting value and range from a job and writes a value back
//! into a copy of it; it does not decide which values to try.

use crate::workload::units::Rate;
use crate::workload::{
    DiskJob, Engine, Job, MAX_CONNECTIONS, MAX_HTTP_CONNECTIONS, MAX_NULL_IN_FLIGHT,
    MAX_QUEUE_DEPTH, MAX_SQL_CONNECTIONS, MAX_WORKERS, NullJob, RedisJob,
};

/// The largest rate a search offers, operations per second: far beyond any one generator.
const MAX_RATE: f64 = 1e9;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnobKind {
    /// Open model: one constant arrival rate for the whole job.
    Rate,
    /// Operations in flight per worker (null, disk on io_uring).
    QueueDepth,
    /// Redis connections.
    Connections,
    /// Disk workers, each one operation at a time (the `sync` engine).
    Workers,
}

/// A knob with the range a job allows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Knob {
    pub kind: KnobKind,
    /// The job's own value, where a search starts unless told otherwise.
    pub start: f64,
    pub min: f64,
    pub max: f64,
}

impl KnobKind {
    /// The name in results and tables.
    pub fn name(self) -> &'static str {
        match self {
            KnobKind::Rate => "rate",
            KnobKind::QueueDepth => "queue_depth",
            KnobKind::Connections => "connections",
            KnobKind::Workers => "workers",
        }
    }

    /// Whole numbers only: everything but a rate.
    pub fn integer(self) -> bool {
        self != KnobKind::Rate
    }
}

impl Knob {
    pub fn for_job(job: &Job) -> Knob {
        match job {
            Job::Null(null) if null.load.is_open() => rate_knob(open_start(&null.load)),
            Job::Redis(redis) if redis.load.is_open() => rate_knob(open_start(&redis.load)),
            Job::Http(http) if http.load.is_open() => rate_knob(open_start(&http.load)),
            Job::Http(http) => connections(http.connections, http.threads, MAX_HTTP_CONNECTIONS),
            Job::Postgres(sql) | Job::Mysql(sql) if sql.load.is_open() => {
                rate_knob(open_start(&sql.load))
            }
            Job::Postgres(sql) | Job::Mysql(sql) => {
                connections(sql.connections, sql.threads, MAX_SQL_CONNECTIONS)
            }
            Job::Null(null) => null_knob(null),
            Job::Redis(redis) => redis_knob(redis),
            Job::Disk(disk) => disk_knob(disk),
        }
    }

    /// A copy of `job` with the knob set to `load` (rounded to a whole number where the knob
    /// is one). An open-model job's profile becomes that one constant rate.
    pub fn apply(&self, job: &Job, load: f64) -> Job {
        let mut job = job.clone();
        let whole = load.round().clamp(1.0, u32::MAX as f64) as u32;
        match (&mut job, self.kind) {
            (Job::Null(n), KnobKind::Rate) => constant_rate(&mut n.load, load),
            (Job::Redis(r), KnobKind::Rate) => constant_rate(&mut r.load, load),
            (Job::Http(h), KnobKind::Rate) => constant_rate(&mut h.load, load),
            (Job::Http(h), _) => h.connections = whole,
            (Job::Postgres(p) | Job::Mysql(p), KnobKind::Rate) => constant_rate(&mut p.load, load),
            (Job::Postgres(p) | Job::Mysql(p), _) => p.connections = whole,
            (Job::Null(n), _) => n.queue_depth = whole,
            (Job::Redis(r), _) => r.connections = whole,
            (Job::Disk(d), KnobKind::Workers) => d.workers = whole,
            (Job::Disk(d), _) => d.queue_depth = whole,
        }
        job
    }

    /// The knob of a search whose steps each run one of `shards` shards: a value that is
    /// split over the shards (a rate, connections, workers) starts at one per shard, since a
    /// smaller one leaves a shard nothing to run. A queue depth is the same in every shard.
    pub fn over_shards(self, shards: u32) -> Knob {
        if self.kind == KnobKind::QueueDepth {
            return self;
        }
        let min = self.min.max(f64::from(shards));
        Knob {
            min,
            start: self.start.max(min),
            max: self.max.max(min),
            ..self
        }
    }

    /// The value shown for a load: whole numbers without decimals, rates with what they need.
    pub fn show(&self, load: f64) -> String {
        match self.kind {
            KnobKind::Rate => format!("{}/s", crate::report::format::count(load)),
            _ => format!("{load:.0}"),
        }
    }
}

fn rate_knob(start: f64) -> Knob {
    Knob {
        kind: KnobKind::Rate,
        start,
        min: start.min(1.0),
        max: MAX_RATE,
    }
}

/// A constant rate, or the highest rate a ramp or stages reach.
fn open_start(load: &crate::workload::LoadSpec) -> f64 {
    let ramp = load.ramp.map(|r| r.from.0.max(r.to.0));
    let stages = load.stages.as_ref().map(|s| {
        let rates = s.iter().map(|stage| stage.rate.0);
        rates.fold(0.0, f64::max)
    });
    load.rate.map(|r| r.0).or(ramp).or(stages).unwrap_or(1.0)
}

fn constant_rate(load: &mut crate::workload::LoadSpec, rate: f64) {
    load.rate = Some(Rate(rate.max(f64::MIN_POSITIVE)));
    load.ramp = None;
    load.stages = None;
}

fn null_knob(job: &NullJob) -> Knob {
    Knob {
        kind: KnobKind::QueueDepth,
        start: f64::from(job.queue_depth),
        min: 1.0,
        max: f64::from(MAX_NULL_IN_FLIGHT / job.workers.max(1)),
    }
}

fn redis_knob(job: &RedisJob) -> Knob {
    connections(job.connections, job.threads, MAX_CONNECTIONS)
}

fn connections(start: u32, threads: u32, max: u32) -> Knob {
    Knob {
        kind: KnobKind::Connections,
        start: f64::from(start),
        // Every client thread drives at least one connection.
        min: f64::from(threads.max(1)),
        max: f64::from(max),
    }
}

fn disk_knob(job: &DiskJob) -> Knob {
    match job.engine {
        Engine::Sync => Knob {
            kind: KnobKind::Workers,
            start: f64::from(job.workers),
            min: 1.0,
            max: f64::from(MAX_WORKERS),
        },
        Engine::IoUring => Knob {
            kind: KnobKind::QueueDepth,
            start: f64::from(job.queue_depth),
            min: 1.0,
            max: f64::from(MAX_QUEUE_DEPTH),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(text: &str) -> Job {
        let workload = format!("name = \"t\"\n[[jobs]]\nname = \"j\"\n{text}");
        let loaded = crate::workload::load_str("t.toml", &workload).unwrap();
        loaded.jobs.into_iter().next().unwrap()
    }

    #[test]
    fn each_kind_turns_its_own_knob() {
        let open = job("kind = \"null\"\nload = { model = \"open\", rate = \"250\" }");
        let knob = Knob::for_job(&open);
        assert_eq!((knob.kind, knob.start), (KnobKind::Rate, 250.0));
        let Job::Null(changed) = knob.apply(&open, 1000.0) else {
            unreachable!()
        };
        assert_eq!(changed.load.rate.map(|r| r.0), Some(1000.0));

        let closed = job("kind = \"null\"\nqueue_depth = 3");
        let knob = Knob::for_job(&closed);
        assert_eq!((knob.kind, knob.start), (KnobKind::QueueDepth, 3.0));
        let Job::Null(changed) = knob.apply(&closed, 6.4) else {
            unreachable!()
        };
        assert_eq!(changed.queue_depth, 6);

        let redis =
            job("kind = \"redis\"\nurl = \"redis://127.0.0.1\"\nthreads = 2\nconnections = 4");
        let knob = Knob::for_job(&redis);
        assert_eq!((knob.kind, knob.min), (KnobKind::Connections, 2.0));
    }

    #[test]
    fn a_sharded_search_leaves_every_shard_something_to_run() {
        let open = job("kind = \"null\"\nload = { model = \"open\", rate = \"2\" }");
        let knob = Knob::for_job(&open).over_shards(4);
        assert_eq!((knob.min, knob.start), (4.0, 4.0));
        let redis =
            job("kind = \"redis\"\nurl = \"redis://127.0.0.1\"\nthreads = 2\nconnections = 8");
        let knob = Knob::for_job(&redis).over_shards(3);
        assert_eq!((knob.min, knob.start), (3.0, 8.0));
        // Every shard runs the whole queue depth on its own workers.
        let closed = job("kind = \"null\"\nqueue_depth = 3");
        assert_eq!(Knob::for_job(&closed).over_shards(4).min, 1.0);
    }
}
