//! One shard's part of a workload: each job cut by its kind's rule, then checked again.
//!
//! The numbers (first-k-get-one-more, rate units, seeds) are `crate::load::shard`'s; each job
//! kind says which of its fields are split with a `shard` method in its own module, and
//! [`Job::shard`] matches every kind, so a new kind does not compile until it has a rule.
//! The disk rule lives here because [`DiskJob`] lives in `mod.rs`. Phases (duration, warmup,
//! interval) and thresholds are the same in every shard.

use std::path::{Path, PathBuf};

use super::{DiskJob, Job, Workload};
use crate::load::{Shard, ShardError};

impl Workload {
    /// This shard's part of the workload. Splitting can leave a value that a whole workload
    /// could not have (`max_in_flight` below `workers`), so the parts are checked again.
    pub fn shard(&self, shard: Shard) -> Result<Workload, ShardError> {
        if shard.is_whole() {
            return Ok(self.clone());
        }
        let jobs = self.jobs.iter().map(|job| {
            job.shard(shard).map_err(|e| ShardError::InJob {
                job: job.name().to_owned(),
                source: Box::new(e),
            })
        });
        let part = Workload {
            jobs: jobs.collect::<Result<_, _>>()?,
            ..self.clone()
        };
        let Some(finding) = super::validate::check(&part).into_iter().next() else {
            return Ok(part);
        };
        let at = finding
            .path
            .as_ref()
            .map(|p| format!("{p}: "))
            .unwrap_or_default();
        let refusal = ShardError::Unsplittable(format!(
            "split over {} shards, shard {shard} would not be a valid workload: {at}{}; run \
             fewer shards",
            shard.count(),
            finding.message
        ));
        let job = finding.path.and_then(|p| p.job_index());
        Err(match job.and_then(|i| self.jobs.get(i)) {
            Some(job) => ShardError::InJob {
                job: job.name().to_owned(),
                source: Box::new(refusal),
            },
            None => refusal,
        })
    }
}

impl Job {
    /// This shard's part of the job, by its kind's rule.
    pub fn shard(&self, shard: Shard) -> Result<Job, ShardError> {
        if shard.is_whole() {
            return Ok(self.clone());
        }
        Ok(match self {
            Job::Disk(job) => Job::Disk(job.shard(shard)?),
            Job::Redis(job) => Job::Redis(job.shard(shard)?),
            Job::Null(job) => Job::Null(job.shard(shard)?),
            Job::Postgres(job) => Job::Postgres(job.shard(shard)?),
            Job::Http(job) => Job::Http(job.shard(shard)?),
            Job::Mysql(job) => Job::Mysql(job.shard(shard)?),
        })
    }
}

impl DiskJob {
    /// This shard's part of the job: its part of `workers`, `iops_cap` and `bandwidth_cap`,
    /// on a file of its own of the job's full `size` (`<name>.shard-I-of-N.plimsoll.dat` in
    /// a directory, `x.shard-I-of-N.dat` beside a file `x.dat`), so shards never share
    /// blocks. The seed is kept: each shard replays the same offsets on its own file.
    pub fn shard(&self, shard: Shard) -> Result<DiskJob, ShardError> {
        let refuse = |why: &str| Err(ShardError::Unsplittable(why.to_owned()));
        if self.size.is_none() {
            return refuse(
                "each shard works on a file of its own, which it lays out, so the job needs a \
                 `size`; set size, or run this job unsharded",
            );
        }
        if is_block_device(&self.path) {
            return refuse(
                "path is a block device, which cannot give each shard a file of its own; point \
                 path at a directory on it, or run this job unsharded",
            );
        }
        let bandwidth_cap = self.bandwidth_cap.map(|cap| {
            shard
                .part_of(cap.0, "bandwidth_cap (bytes per second)")
                .map(super::units::ByteSize)
        });
        let iops_cap = self.iops_cap.map(|cap| shard.rate(cap.0, "iops_cap"));
        Ok(DiskJob {
            path: shard_path(&self.path, &self.name, shard),
            workers: shard.part_of_u32(self.workers, "workers")?,
            iops_cap: iops_cap.transpose()?.map(super::units::Rate),
            bandwidth_cap: bandwidth_cap.transpose()?,
            ..self.clone()
        })
    }
}

fn is_block_device(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_block_device())
}

/// The shard's own file: named after the job inside a directory, or the file's name with the
/// shard before its extension.
fn shard_path(path: &Path, job: &str, shard: Shard) -> PathBuf {
    let label = shard.label();
    let names_directory = path.is_dir() || path.as_os_str().as_encoded_bytes().ends_with(b"/");
    if names_directory {
        let name: String = job
            .chars()
            .map(|c| match c {
                c if c.is_ascii_alphanumeric() || "._-".contains(c) => c,
                _ => '_',
            })
            .collect();
        return path.join(format!("{name}.{label}.plimsoll.dat"));
    }
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{label}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{label}"),
    };
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::load_str;

    const WORKLOAD: &str = r#"
name = "split"
duration = "1s"

[[jobs]]
name = "kv"
kind = "redis"
url = "redis://127.0.0.1:6379"
connections = 10
threads = 4
ops = 1000
keys = { count = 100, prefix = "t:" }
load = { model = "open", rate = "1000", max_in_flight = 8 }

[[jobs]]
name = "files"
kind = "disk"
path = "/tmp/plimsoll-shard-test/"
size = "1MiB"
pattern = "randread"
workers = 5
iops_cap = "999"

[[jobs]]
name = "nothing"
kind = "null"
workers = 3
delay = "1ms"
servers = 6
load = { model = "open", ramp = { from = "3", to = "10" } }
"#;

    fn shards(count: u32) -> Vec<Workload> {
        let whole = load_str("t.toml", WORKLOAD).unwrap();
        (1..=count)
            .map(|i| whole.shard(Shard::new(i, count).unwrap()).unwrap())
            .collect()
    }

    #[test]
    fn the_parts_of_every_job_add_up_to_the_whole() {
        let parts = shards(3);
        let redis: Vec<_> = parts
            .iter()
            .map(|w| match &w.jobs[0] {
                Job::Redis(r) => r.clone(),
                _ => unreachable!(),
            })
            .collect();
        let sum = |f: &dyn Fn(&crate::workload::RedisJob) -> f64| redis.iter().map(f).sum::<f64>();
        assert_eq!(sum(&|r| f64::from(r.connections)), 10.0);
        assert_eq!(sum(&|r| r.ops.unwrap() as f64), 1000.0);
        assert_eq!(sum(&|r| r.load.rate.unwrap().0), 1000.0);
        assert_eq!(sum(&|r| f64::from(r.load.max_in_flight.unwrap())), 8.0);
        let slices: Vec<_> = redis.iter().map(|r| (r.keys.first, r.keys.count)).collect();
        assert_eq!(slices, [(0, 34), (34, 33), (67, 33)]);
        assert!(redis.iter().all(|r| r.threads <= r.connections));

        let disk: Vec<_> = parts
            .iter()
            .map(|w| match &w.jobs[1] {
                Job::Disk(d) => d.clone(),
                _ => unreachable!(),
            })
            .collect();
        let workers: u32 = disk.iter().map(|d| d.workers).sum();
        let iops: f64 = disk.iter().map(|d| d.iops_cap.unwrap().0).sum();
        assert_eq!((workers, iops), (5, 999.0));
        let servers: u32 = parts
            .iter()
            .map(|w| match &w.jobs[2] {
                Job::Null(n) => n.servers.unwrap(),
                _ => unreachable!(),
            })
            .sum();
        assert_eq!(servers, 6);
        let paths: std::collections::BTreeSet<_> = disk.iter().map(|d| d.path.clone()).collect();
        assert_eq!(
            paths.len(),
            3,
            "each shard has a file of its own: {paths:?}"
        );
        assert!(disk[1].path.ends_with("files.shard-2-of-3.plimsoll.dat"));
    }

    #[test]
    fn a_job_that_cannot_be_split_names_itself_and_the_key() {
        let whole = load_str("t.toml", WORKLOAD).unwrap();
        let e = whole
            .shard(Shard::new(1, 4).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("job `nothing`") && e.contains("workers is 3"),
            "{e}"
        );
        let e = whole
            .shard(Shard::new(1, 9).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("job `kv`") && e.contains("max_in_flight"), "{e}");
    }

    #[test]
    fn http_sequences_interleave_into_the_whole_sequence() {
        let text = "name = \"seq\"\n[[jobs]]\nname = \"api\"\nkind = \"http\"\n\
                    base_url = \"http://127.0.0.1:1\"\nconnections = 3\n\
                    [jobs.values]\nn = { kind = \"sequence\", start = 1000, step = 5 }\n\
                    [[jobs.requests]]\npath = \"/items/{{ n }}\"\n";
        let whole = load_str("t.toml", text).unwrap();
        let mut drawn: Vec<i64> = (1..=3)
            .flat_map(|i| {
                let part = whole.shard(Shard::new(i, 3).unwrap()).unwrap();
                let Job::Http(job) = &part.jobs[0] else {
                    unreachable!()
                };
                let crate::workload::ValueSpec::Sequence { start, step } = job.values["n"] else {
                    unreachable!()
                };
                (0..4).map(move |k| start + k * step)
            })
            .collect();
        drawn.sort();
        let one_run: Vec<i64> = (0..12).map(|k| 1000 + k * 5).collect();
        assert_eq!(drawn, one_run);
    }

    #[test]
    fn a_file_path_gets_the_shard_before_its_extension() {
        let two = Shard::new(2, 2).unwrap();
        let path = shard_path(Path::new("/no/such/x.dat"), "j", two);
        assert_eq!(path, Path::new("/no/such/x.shard-2-of-2.dat"));
    }
}
