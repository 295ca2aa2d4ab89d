//! Checks of values that types alone cannot make: ranges, and keys that exclude each other.
//!
//! Runs on a deserialized [`Workload`] and reports every problem with the dotted path of the
//! field at fault; the loader turns paths into lines and columns. Whether a path exists, is a
//! file or a block device, and what alignment direct I/O needs on it, is for the disk driver
//! to find out when it prepares the target.

use super::spans::{FieldPath, Finding};
use super::units::ByteSize;
use super::{DiskJob, Distribution, Engine, FileLayout, Job, Pattern, Workload, Zone};

/// Operations in flight per worker. The disk driver registers a fixed buffer per operation in
/// flight, and the kernel lets one ring register at most 16384 (the submission queue itself
/// could take 32768 entries).
pub const MAX_QUEUE_DEPTH: u32 = 16384;

/// The largest block size: Linux moves at most about 2 GiB in one call, and an io_uring
/// operation's length is 32 bits.
pub const MAX_BLOCK_SIZE: ByteSize = ByteSize(1 << 30);

/// Workers per job. Each is an OS thread with its own ring, so more than this is a mistake
/// rather than a load.
pub const MAX_WORKERS: u32 = 1024;

/// Threads per network job (Redis, SQL, HTTP), each a runtime thread driving its share of the
/// connections.
pub(crate) const MAX_THREADS: u32 = 256;

/// The whole numbers a job key takes, for the messages about a value that is not one (a
/// negative `workers`, say). None for keys this table does not know; validation still checks
/// them.
pub(crate) fn whole_number_range(kind: Option<&str>, key: &str) -> Option<(u64, u64)> {
    use super::{
        MAX_CONNECTIONS, MAX_HTTP_CONNECTIONS, MAX_NULL_IN_FLIGHT, MAX_SQL_CONNECTIONS,
        http::MAX_STREAMS, redis::MAX_PIPELINE, sql::MAX_RETRIES,
    };
    let max = match (kind?, key) {
        ("disk" | "null", "workers") => MAX_WORKERS,
        ("disk", "queue_depth") => MAX_QUEUE_DEPTH,
        ("null", "queue_depth" | "servers") => MAX_NULL_IN_FLIGHT,
        ("redis", "connections") => MAX_CONNECTIONS,
        ("redis", "pipeline") => MAX_PIPELINE,
        ("postgres" | "mysql", "connections") => MAX_SQL_CONNECTIONS,
        ("postgres" | "mysql", "retries") => return Some((0, u64::from(MAX_RETRIES))),
        ("postgres" | "mysql", "records") => return Some((1, u64::MAX)),
        ("http", "connections") => MAX_HTTP_CONNECTIONS,
        ("http", "streams") => MAX_STREAMS,
        ("redis" | "postgres" | "mysql" | "http", "threads") => MAX_THREADS,
        (_, "ops") => return Some((1, u64::MAX)),
        _ => return None,
    };
    Some((1, u64::from(max)))
}

/// The pool of a network job: `connections` within `max_connections`, `threads` within
/// [`MAX_THREADS`], and no more threads than connections, since a thread with no connection
/// would have nothing to drive. `ensure` is the job module's own: a finding when not ok.
pub(crate) fn check_pool(
    (connections, max_connections): (u32, u32),
    threads: u32,
    path: &FieldPath,
    ensure: &mut dyn FnMut(bool, FieldPath, String),
) {
    for (key, value, max) in [
        ("connections", connections, max_connections),
        ("threads", threads, MAX_THREADS),
    ] {
        let message = format!("{key} is {value}; use 1 to {max}");
        ensure((1..=max).contains(&value), path.key(key), message);
    }
    // Against an invalid connection count the comparison would only repeat that mistake.
    ensure(
        threads <= connections || connections == 0,
        path.key("threads"),
        format!(
            "threads ({threads}) is more than connections ({connections}), so some threads \
             would have nothing to drive; lower threads or raise connections"
        ),
    );
}

/// Every logical block size Linux supports is a multiple of this; direct I/O with a block size
/// that is not can never succeed, whatever the device.
const SMALLEST_SECTOR: u64 = 512;

/// How far share sums may be from 100 %, for shares written as decimals.
const SHARE_SUM_TOLERANCE: f64 = 1e-9;

pub(crate) fn check(workload: &Workload) -> Vec<Finding> {
    let mut checks = Checks::default();
    checks.phases(workload);
    checks.job_names(workload);
    checks.thresholds(workload);
    checks.0.extend(super::monitor::check(&workload.monitor));
    for (i, job) in workload.jobs.iter().enumerate() {
        match job {
            Job::Disk(disk) => checks.disk(disk, &FieldPath::job(i)),
            Job::Redis(redis) => checks
                .0
                .extend(super::redis::check(redis, &FieldPath::job(i))),
            Job::Null(null) => checks
                .0
                .extend(super::null::check(null, &FieldPath::job(i))),
            Job::Postgres(sql) => checks.0.extend(super::sql::check(
                sql,
                super::Dialect::Postgres,
                &FieldPath::job(i),
            )),
            Job::Http(http) => checks
                .0
                .extend(super::http::check(http, &FieldPath::job(i))),
            Job::Mysql(sql) => checks.0.extend(super::sql::check(
                sql,
                super::Dialect::Mysql,
                &FieldPath::job(i),
            )),
        }
    }
    checks.0
}

#[derive(Default)]
struct Checks(Vec<Finding>);

impl Checks {
    fn ensure(&mut self, ok: bool, path: FieldPath, message: impl FnOnce() -> String) {
        if !ok {
            self.0.push(Finding::at(path, message()));
        }
    }

    fn phases(&mut self, workload: &Workload) {
        let root = FieldPath::root();
        self.ensure(!workload.name.trim().is_empty(), root.key("name"), || {
            "the workload's name is empty; give it one (it names the reports), \
             like `name = \"nightly-disk\"`"
                .into()
        });
        self.ensure(!workload.jobs.is_empty(), root.key("jobs"), || {
            "the workload has no jobs; add at least one `[[jobs]]` section".into()
        });
        let (duration, interval) = (workload.duration, workload.interval);
        self.ensure(!duration.0.is_zero(), root.key("duration"), || {
            "duration is 0, so nothing would be measured; set it above 0, like \
             `duration = \"30s\"`"
                .into()
        });
        self.ensure(!interval.0.is_zero(), root.key("interval"), || {
            "interval is 0; set it above 0, like `interval = \"1s\"`".into()
        });
        self.ensure(
            interval <= duration || duration.0.is_zero(),
            root.key("interval"),
            || {
                format!(
                    "interval ({interval}) is longer than duration ({duration}), so the series \
                 would not have one whole interval; make interval at most {duration}"
                )
            },
        );
    }

    fn job_names(&mut self, workload: &Workload) {
        for (i, job) in workload.jobs.iter().enumerate() {
            let path = FieldPath::job(i).key("name");
            let name = job.name();
            let first = workload.jobs.iter().position(|other| other.name() == name);
            self.ensure(!name.trim().is_empty(), path.clone(), || {
                "the job's name is empty; give it one (it names the job in reports, and its \
                 file when path is a directory)"
                    .into()
            });
            self.ensure(first == Some(i) || name.trim().is_empty(), path, || {
                format!(
                    "job name `{name}` is already used by jobs[{}]; give each job its own name",
                    first.unwrap_or_default()
                )
            });
        }
    }

    /// Scopes that name no job or an operation the job does not have, and per-job metrics
    /// given an operation. The syntax itself was checked as the strings were read.
    fn thresholds(&mut self, workload: &Workload) {
        let names: Vec<&str> = workload.jobs.iter().map(Job::name).collect();
        let top = workload.thresholds.iter().enumerate();
        for (k, threshold) in top {
            let checked = crate::gate::run_gate(threshold, &names)
                .and_then(|gate| has_op(workload, &gate.scope));
            self.refused(checked, FieldPath::root().key("thresholds").index(k));
        }
        for (i, job) in workload.jobs.iter().enumerate() {
            for (k, threshold) in job.thresholds().iter().enumerate() {
                let checked = crate::gate::job_gate(job.name(), threshold)
                    .and_then(|gate| has_op(workload, &gate.scope));
                self.refused(checked, FieldPath::job(i).key("thresholds").index(k));
            }
        }
    }

    fn refused<T>(&mut self, checked: Result<T, String>, path: FieldPath) {
        if let Err(message) = checked {
            self.0.push(Finding::at(path, message));
        }
    }

    fn disk(&mut self, job: &DiskJob, path: &FieldPath) {
        self.ensure(!job.path.as_os_str().is_empty(), path.key("path"), || {
            "path is empty; set it to a file, or to a directory (like `path = \".\"`) to \
             create `<job name>.plimsoll.dat` in"
                .into()
        });
        self.queue(job, path);
        self.block_sizes(job, path);
        self.file_size(job, path);
        self.layout(job, path);
        self.syncs(job, path);
        self.mix_and_spread(job, path);
        self.caps(job, path);
    }

    fn queue(&mut self, job: &DiskJob, path: &FieldPath) {
        let (depth, workers) = (job.queue_depth, job.workers);
        self.ensure(depth >= 1, path.key("queue_depth"), || {
            "queue_depth is 0, but a job needs at least 1 operation in flight; set it to 1 \
             or more"
                .into()
        });
        self.ensure(depth <= MAX_QUEUE_DEPTH, path.key("queue_depth"), || {
            format!(
                "queue_depth {depth} is more than {MAX_QUEUE_DEPTH}, the most buffers one ring \
                 can register (one per operation in flight); lower it, or spread the load over \
                 more workers"
            )
        });
        let sync = job.engine == Engine::Sync;
        self.ensure(!sync || depth <= 1, path.key("queue_depth"), || {
            format!(
                "the sync engine has one operation in flight per worker, so queue_depth \
                 {depth} cannot be met; set queue_depth = 1 and raise workers, or use \
                 engine = \"io_uring\""
            )
        });
        self.ensure(!sync || !job.sqpoll, path.key("sqpoll"), || {
            "sqpoll only applies to the io_uring engine; remove it, or use \
             engine = \"io_uring\""
                .into()
        });
        self.ensure(workers >= 1, path.key("workers"), || {
            "workers is 0; set it to 1 or more".into()
        });
        self.ensure(workers <= MAX_WORKERS, path.key("workers"), || {
            format!(
                "workers {workers} is more than {MAX_WORKERS} (each is a thread with its own \
                 ring); use fewer workers with a deeper queue_depth"
            )
        });
    }

    fn block_sizes(&mut self, job: &DiskJob, path: &FieldPath) {
        let mix_path = path.key("block_size_mix");
        self.ensure(
            job.block_size.is_none() || job.block_size_mix.is_none(),
            mix_path.clone(),
            || {
                "block_size and block_size_mix are both set; keep block_size for one size, or \
             block_size_mix for several"
                    .into()
            },
        );
        if let Some(size) = job.block_size {
            self.block_size(size, job.direct, path.key("block_size"));
        }
        let Some(mix) = &job.block_size_mix else {
            return;
        };
        self.ensure(!mix.is_empty(), mix_path.clone(), || {
            "block_size_mix is empty; list at least one size, like \
             `block_size_mix = [{ size = \"4KiB\", weight = 1 }]`, or use block_size"
                .into()
        });
        for (i, entry) in mix.iter().enumerate() {
            self.block_size(entry.size, job.direct, mix_path.index(i).key("size"));
            self.ensure(entry.weight > 0, mix_path.index(i).key("weight"), || {
                "weight is 0, so this size would never be picked; give it a weight of 1 or \
                 more, or remove the entry"
                    .into()
            });
        }
    }

    fn block_size(&mut self, size: ByteSize, direct: bool, path: FieldPath) {
        self.ensure(size.0 > 0, path.clone(), || {
            "the block size is 0 bytes; set it to 1 byte or more, like `\"4KiB\"`".into()
        });
        self.ensure(size <= MAX_BLOCK_SIZE, path.clone(), || {
            format!(
                "the block size {size} is more than {MAX_BLOCK_SIZE}, the most one operation \
                 can move; use a smaller block size"
            )
        });
        let aligned = size.0.is_multiple_of(SMALLEST_SECTOR);
        self.ensure(!direct || aligned || size.0 == 0, path, || {
            format!(
                "direct I/O needs block sizes aligned to the device's logical block size (a \
                 multiple of {SMALLEST_SECTOR}B, 4KiB on many disks), and {size} is not; use a \
                 multiple of 4KiB, or set direct = false"
            )
        });
    }

    fn file_size(&mut self, job: &DiskJob, path: &FieldPath) {
        let Some(size) = job.size else { return };
        let largest = job
            .block_sizes()
            .iter()
            .map(|b| b.size)
            .max()
            .unwrap_or_default();
        self.ensure(size.0 > 0, path.key("size"), || {
            "size is 0 bytes; set it to the file size to lay out, like `size = \"1GiB\"`".into()
        });
        self.ensure(size >= largest || size.0 == 0, path.key("size"), || {
            format!(
                "size ({size}) is smaller than the largest block size ({largest}), so not one \
                 block fits in the file; make size at least {largest}"
            )
        });
    }

    fn layout(&mut self, job: &DiskJob, path: &FieldPath) {
        let reads = !matches!(job.pattern, Pattern::Write | Pattern::RandWrite);
        let sparse = job.layout == FileLayout::Sparse;
        self.ensure(!sparse || !reads, path.key("layout"), || {
            format!(
                "layout = \"sparse\" leaves the file a hole, and pattern `{}` reads: reads of \
                 a hole return zeros without touching the device, so they would measure \
                 nothing; remove layout, or use pattern = \"write\" or \"randwrite\"",
                pattern_name(job.pattern)
            )
        });
    }

    fn syncs(&mut self, job: &DiskJob, path: &FieldPath) {
        let both = job.fsync_every.is_some() && job.fdatasync_every.is_some();
        self.ensure(!both, path.key("fdatasync_every"), || {
            "fsync_every and fdatasync_every are both set; keep one (fdatasync skips \
             metadata that reads do not need)"
                .into()
        });
        for (key, every) in [
            ("fsync_every", job.fsync_every),
            ("fdatasync_every", job.fdatasync_every),
        ] {
            let Some(every) = every else { continue };
            self.ensure(every >= 1, path.key(key), || {
                format!(
                    "{key} is 0; set it to 1 or more (a sync after every N writes), \
                     or remove it to never sync"
                )
            });
            self.ensure(job.pattern.writes(), path.key(key), || {
                format!(
                    "{key} has no effect with pattern `{}`, which only reads; remove it, or \
                     use a pattern that writes",
                    pattern_name(job.pattern)
                )
            });
        }
    }

    fn mix_and_spread(&mut self, job: &DiskJob, path: &FieldPath) {
        let pattern = pattern_name(job.pattern);
        self.ensure(
            job.read_share.is_none() || job.pattern.is_mixed(),
            path.key("read_share"),
            || {
                format!(
                    "read_share only applies to the mixed patterns rw and randrw, and pattern is \
                 `{pattern}`; remove it, or set pattern = \"randrw\""
                )
            },
        );
        let uniform = matches!(job.distribution, Distribution::Uniform);
        self.ensure(
            uniform || job.pattern.is_random(),
            path.key("distribution"),
            || {
                format!(
                    "distribution only applies to random patterns, and `{pattern}` is sequential; \
                 remove it, or use a random pattern like `rand{pattern}`"
                )
            },
        );
        self.distribution(&job.distribution, &path.key("distribution"));
    }

    fn distribution(&mut self, distribution: &Distribution, path: &FieldPath) {
        match distribution {
            Distribution::Uniform => {}
            Distribution::Zipf { theta } => {
                self.ensure(theta.is_finite() && *theta > 0.0, path.key("theta"), || {
                    format!("theta is {theta}, but zipf needs it above 0; try 1.2, a common choice")
                });
            }
            Distribution::Pareto { h } => {
                self.ensure(*h > 0.0 && *h < 1.0, path.key("h"), || {
                    format!(
                        "h is {h}, but pareto needs it between 0 and 1; \
                         try 0.3 (smaller is more skewed)"
                    )
                });
            }
            Distribution::Normal { stddev } => {
                self.ensure(stddev.0 > 0.0, path.key("stddev"), || {
                    "stddev is 0, so every operation would hit the middle block; set it above \
                     0, like `stddev = \"10%\"`"
                        .into()
                });
            }
            Distribution::Zones { zones } => self.zones(zones, &path.key("zones")),
        }
    }

    fn zones(&mut self, zones: &[Zone], path: &FieldPath) {
        self.ensure(!zones.is_empty(), path.clone(), || {
            "zones is empty; list the zones, like `zones = [{ access = \"80%\", size = \
             \"20%\" }, { access = \"20%\", size = \"80%\" }]`"
                .into()
        });
        for (i, zone) in zones.iter().enumerate() {
            for (key, share) in [("access", zone.access), ("size", zone.size)] {
                self.ensure(share.0 > 0.0, path.index(i).key(key), || {
                    format!("{key} is 0%; give every zone a share above 0, or remove the zone")
                });
            }
        }
        if zones.is_empty() {
            return;
        }
        let access: f64 = zones.iter().map(|zone| zone.access.0).sum();
        let size: f64 = zones.iter().map(|zone| zone.size.0).sum();
        for (key, sum) in [("access", access), ("size", size)] {
            self.ensure(
                (sum - 1.0).abs() <= SHARE_SUM_TOLERANCE,
                path.clone(),
                || {
                    format!(
                        "the zones' {key} shares add up to {}, not 100%; change them so they add \
                     up to 100%",
                        percent(sum)
                    )
                },
            );
        }
    }

    fn caps(&mut self, job: &DiskJob, path: &FieldPath) {
        // iops_cap needs no check here: a Rate cannot parse as 0 or less.
        let zero_bandwidth = job.bandwidth_cap.is_some_and(|cap| cap.0 == 0);
        self.ensure(!zero_bandwidth, path.key("bandwidth_cap"), || {
            "bandwidth_cap is 0 bytes per second, which would stall the job; set it above 0, \
             like `bandwidth_cap = \"100MiB\"`, or remove it for no cap"
                .into()
        });
    }
}

/// Refuses a scope naming an operation its job certainly does not record; one it may record
/// (a SQL job's, whose names come with its scripts) passes.
fn has_op(workload: &Workload, scope: &crate::gate::Scope) -> Result<(), String> {
    let (Some(job), Some(op)) = (&scope.job, &scope.op) else {
        return Ok(());
    };
    let Some(job) = workload.jobs.iter().find(|j| j.name() == job) else {
        return Ok(());
    };
    let Some(ops) = job.op_names() else {
        return Ok(());
    };
    if ops.contains(op) {
        return Ok(());
    }
    let known: Vec<&str> = ops.iter().map(String::as_str).collect();
    let hint =
        super::suggest_name(op, &known).map_or(String::new(), |m| format!("; did you mean `{m}`?"));
    Err(format!(
        "job `{}` has no operation `{op}` (its operations: {}){hint}",
        job.name(),
        known.join(", ")
    ))
}

fn pattern_name(pattern: Pattern) -> &'static str {
    match pattern {
        Pattern::Read => "read",
        Pattern::Write => "write",
        Pattern::RandRead => "randread",
        Pattern::RandWrite => "randwrite",
        Pattern::Rw => "rw",
        Pattern::RandRw => "randrw",
    }
}

/// A fraction as a percentage without trailing zeros: 0.9 → `90%`, 0.12345 → `12.345%`.
fn percent(fraction: f64) -> String {
    let text = format!("{:.6}", fraction * 100.0);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}
