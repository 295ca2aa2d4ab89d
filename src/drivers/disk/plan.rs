//! What each worker issues next: the kind of operation, its offset and its length.
//!
//! A [`Plan`] is built once per job and shared; each worker draws from its own [`OpStream`],
//! seeded from the job's seed and the worker's index, so one seed replays the same sequence.
//! Nothing here allocates per operation.

use rand::SeedableRng;
use rand::distr::{Bernoulli, Distribution as _};
use rand::rngs::SmallRng;

use super::{Checked, DEFAULT_SEED, input};
use crate::load::{OffsetPicker, SizeMix};
use crate::measure::OpId;
use crate::report::format::bytes_exact;
use crate::workload::{DiskJob, SyncKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Read,
    Write,
    Sync(SyncKind),
}

/// One operation to issue. A sync has offset and length 0.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Op {
    pub kind: OpKind,
    pub offset: u64,
    pub len: u32,
}

/// Where each operation kind is recorded: its index among the job's operation names.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpIds {
    read: Option<OpId>,
    write: Option<OpId>,
    sync: Option<(OpId, SyncKind)>,
}

impl OpIds {
    fn new(job: &DiskJob) -> Self {
        let mut next = 0u8;
        let mut take = |wanted: bool| {
            wanted.then(|| {
                next += 1;
                OpId(next - 1)
            })
        };
        let pattern = job.pattern;
        let read = take(pattern.is_mixed() || !pattern.writes());
        let write = take(pattern.writes());
        let cadence = job.sync_cadence().filter(|_| pattern.writes());
        let sync = cadence.and_then(|(_, kind)| take(true).map(|id| (id, kind)));
        OpIds { read, write, sync }
    }

    /// The job's operation names, in `OpId` order.
    pub fn names(&self) -> Vec<&'static str> {
        let sync = self.sync.map(|(_, kind)| match kind {
            SyncKind::Fsync => "fsync",
            SyncKind::Fdatasync => "fdatasync",
        });
        [self.read.map(|_| "read"), self.write.map(|_| "write"), sync]
            .into_iter()
            .flatten()
            .collect()
    }

    /// The id of an operation kind this job issues.
    #[inline]
    pub fn of(&self, kind: OpKind) -> OpId {
        let id = match kind {
            OpKind::Read => self.read,
            OpKind::Write => self.write,
            OpKind::Sync(_) => self.sync.map(|(id, _)| id),
        };
        id.expect("a stream issues only the kinds its job names")
    }
}

/// How a worker chooses between reads and writes.
#[derive(Debug, Clone, Copy)]
enum Mix {
    Reads,
    Writes,
    Share(Bernoulli),
}

/// Where a worker's offsets come from.
#[derive(Debug, Clone)]
enum Placement {
    /// Anywhere in the file, slot by slot on the offset grid.
    Random(OffsetPicker),
    /// A cursor over the worker's own slice of `slice` bytes, wrapping at its end.
    Sequential { slice: u64 },
}

/// Everything a worker needs to choose operations. Built once per job.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub ids: OpIds,
    mix: Mix,
    sizes: SizeMix,
    /// Offsets are multiples of this: the gcd of the block sizes (which direct I/O has already
    /// required to be multiples of its alignment).
    granule: u64,
    placement: Placement,
    sync_every: Option<u32>,
    seed: u64,
    file_size: u64,
    pub iops_cap: Option<f64>,
    pub bytes_per_s_cap: Option<f64>,
}

impl Plan {
    pub fn new(job: &DiskJob, sizes: &SizeMix, file_size: u64) -> Checked<Plan> {
        let largest = sizes.largest();
        if file_size < largest {
            return input(format!(
                "the file is {}, smaller than the largest block size, {}; raise size or lower \
                 the block size",
                bytes_exact(file_size),
                bytes_exact(largest),
            ));
        }
        let granule = sizes.granule();
        let seed = job.seed.unwrap_or(DEFAULT_SEED);
        let placement = placement(job, file_size, granule, largest, seed)?;
        Ok(Plan {
            ids: OpIds::new(job),
            mix: mix(job.read_fraction())?,
            sizes: sizes.clone(),
            granule,
            placement,
            sync_every: job
                .sync_cadence()
                .filter(|_| job.pattern.writes())
                .map(|(n, _)| n),
            seed,
            file_size,
            iops_cap: job.iops_cap.map(|r| r.0),
            bytes_per_s_cap: job.bandwidth_cap.map(|b| b.0 as f64),
        })
    }

    /// The stream of operations of one worker out of `workers`.
    pub fn stream(&self, worker: usize, workers: usize) -> OpStream<'_> {
        let (start, end) = match self.placement {
            Placement::Random(_) => (0, self.file_size),
            Placement::Sequential { slice } => {
                let start = slice * worker as u64;
                (start, start + slice)
            }
        };
        debug_assert!(worker < workers);
        let stream_seed = self.seed ^ (worker as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        OpStream {
            plan: self,
            rng: SmallRng::seed_from_u64(stream_seed),
            start,
            end,
            cursor: start,
            writes_since_sync: 0,
            sync_due: false,
        }
    }
}

fn mix(read_fraction: f64) -> Checked<Mix> {
    Ok(match read_fraction {
        f if f >= 1.0 => Mix::Reads,
        f if f <= 0.0 => Mix::Writes,
        f => match Bernoulli::new(f) {
            Ok(b) => Mix::Share(b),
            Err(_) => return input(format!("read_share {f} is not a share between 0 and 1")),
        },
    })
}

fn placement(
    job: &DiskJob,
    file_size: u64,
    granule: u64,
    largest: u64,
    seed: u64,
) -> Checked<Placement> {
    if job.pattern.is_random() {
        let slots = (file_size - largest) / granule + 1;
        return Ok(Placement::Random(OffsetPicker::new(
            &job.distribution,
            slots,
            seed,
        )?));
    }
    let slice = (file_size / granule / u64::from(job.workers)) * granule;
    if slice < largest {
        return input(format!(
            "{} sequential workers split the {} file into slices smaller than the largest \
             block size, {}; raise size or use fewer workers",
            job.workers,
            bytes_exact(file_size),
            bytes_exact(largest),
        ));
    }
    Ok(Placement::Sequential { slice })
}

/// One worker's operations, drawn one at a time.
pub(crate) struct OpStream<'a> {
    plan: &'a Plan,
    rng: SmallRng,
    start: u64,
    end: u64,
    cursor: u64,
    writes_since_sync: u32,
    sync_due: bool,
}

impl OpStream<'_> {
    /// Whether the next operation is a sync, which rate caps do not count.
    #[inline]
    pub fn sync_is_next(&self) -> bool {
        self.sync_due
    }

    #[inline]
    pub fn next_op(&mut self) -> Op {
        if self.sync_due {
            self.sync_due = false;
            let (_, kind) = self
                .plan
                .ids
                .sync
                .expect("a sync is due only when the job syncs");
            return Op {
                kind: OpKind::Sync(kind),
                offset: 0,
                len: 0,
            };
        }
        let kind = self.kind();
        let len = self.plan.sizes.pick(&mut self.rng);
        let offset = self.offset(len);
        if kind == OpKind::Write {
            self.count_write();
        }
        Op {
            kind,
            offset,
            len: len as u32,
        }
    }

    #[inline]
    fn kind(&mut self) -> OpKind {
        match self.plan.mix {
            Mix::Reads => OpKind::Read,
            Mix::Writes => OpKind::Write,
            Mix::Share(b) if b.sample(&mut self.rng) => OpKind::Read,
            Mix::Share(_) => OpKind::Write,
        }
    }

    #[inline]
    fn offset(&mut self, len: u64) -> u64 {
        match &self.plan.placement {
            Placement::Random(picker) => picker.pick(&mut self.rng) * self.plan.granule,
            Placement::Sequential { .. } => {
                if self.cursor + len > self.end {
                    self.cursor = self.start;
                }
                let offset = self.cursor;
                self.cursor += len;
                offset
            }
        }
    }

    #[inline]
    fn count_write(&mut self) {
        if let Some(every) = self.plan.sync_every {
            self.writes_since_sync += 1;
            if self.writes_since_sync >= every {
                self.writes_since_sync = 0;
                self.sync_due = true;
            }
        }
    }

    /// Draws a raw 64-bit word: lets tests check the stream is seeded per worker.
    #[cfg(test)]
    fn word(&mut self) -> u64 {
        rand::Rng::next_u64(&mut self.rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::units::{ByteSize, Share};
    use crate::workload::{Pattern, WeightedSize};

    fn job(pattern: Pattern, extra: &str) -> DiskJob {
        let text = format!(
            "name = \"t\"\npath = \"/nowhere\"\npattern = \"{}\"\n{extra}",
            serde_json::to_value(pattern).unwrap().as_str().unwrap()
        );
        toml::from_str(&text).unwrap()
    }

    fn plan(job: &DiskJob, file_size: u64) -> Plan {
        let sizes = SizeMix::new(&job.block_sizes()).unwrap();
        Plan::new(job, &sizes, file_size).ok().expect("plan builds")
    }

    #[test]
    fn names_follow_the_pattern() {
        let names = |p, extra| plan(&job(p, extra), 1 << 20).ids.names();
        assert_eq!(names(Pattern::RandRead, ""), ["read"]);
        assert_eq!(names(Pattern::Write, "fsync_every = 4"), ["write", "fsync"]);
        assert_eq!(
            names(Pattern::RandRw, "fdatasync_every = 2"),
            ["read", "write", "fdatasync"]
        );
        assert_eq!(names(Pattern::Read, "fsync_every = 4"), ["read"]);
    }

    /// Validation refuses thresholds on operations a job lacks by `DiskJob::op_names`, so it
    /// must name what the plan records.
    #[test]
    fn the_workload_names_the_operations_the_plan_records() {
        use Pattern::*;
        for pattern in [Read, Write, RandRead, RandWrite, Rw, RandRw] {
            for extra in ["", "fsync_every = 3", "fdatasync_every = 1"] {
                let job = job(pattern, extra);
                let recorded = plan(&job, 1 << 20).ids.names();
                assert_eq!(job.op_names(), recorded, "{pattern:?} {extra}");
            }
        }
    }

    #[test]
    fn random_offsets_are_in_range_and_on_the_grid() {
        let mut job = job(Pattern::RandRw, "");
        job.block_size_mix = Some(vec![
            WeightedSize {
                size: ByteSize(8192),
                weight: 1,
            },
            WeightedSize {
                size: ByteSize(12288),
                weight: 1,
            },
        ]);
        let size = (1 << 20) + 512;
        let plan = plan(&job, size);
        let mut stream = plan.stream(0, 1);
        for _ in 0..10_000 {
            let op = stream.next_op();
            assert_eq!(op.offset % 4096, 0, "{op:?}");
            assert!(op.offset + u64::from(op.len) <= size, "{op:?}");
        }
    }

    #[test]
    fn sequential_workers_stay_in_disjoint_slices_and_wrap() {
        let job = job(Pattern::Write, "workers = 2\nblock_size = 4096");
        let plan = plan(&job, 64 * 1024);
        for worker in 0..2u64 {
            let mut stream = plan.stream(worker as usize, 2);
            let offsets: Vec<u64> = (0..10).map(|_| stream.next_op().offset).collect();
            let base = worker * 32 * 1024;
            let want: Vec<u64> = (0..10).map(|i| base + (i % 8) * 4096).collect();
            assert_eq!(offsets, want);
        }
    }

    #[test]
    fn a_sync_follows_every_nth_write() {
        let job = job(Pattern::RandRw, "fsync_every = 3\nread_share = 0.5");
        let plan = plan(&job, 1 << 20);
        let mut stream = plan.stream(0, 1);
        let (mut writes, mut syncs) = (0, 0);
        for _ in 0..3_000 {
            match stream.next_op().kind {
                OpKind::Write => writes += 1,
                OpKind::Sync(SyncKind::Fsync) => syncs += 1,
                _ => {}
            }
        }
        assert!(
            syncs > 0 && writes / 3 - syncs <= 1,
            "{writes} writes, {syncs} syncs"
        );
    }

    #[test]
    fn read_share_is_honoured() {
        let mut job = job(Pattern::RandRw, "");
        job.read_share = Some(Share(0.7));
        let plan = plan(&job, 1 << 20);
        let mut stream = plan.stream(0, 1);
        let reads = (0..20_000)
            .filter(|_| stream.next_op().kind == OpKind::Read)
            .count();
        assert!((13_700..14_300).contains(&reads), "{reads}");
    }

    #[test]
    fn workers_get_different_streams_from_one_seed() {
        let plan = plan(&job(Pattern::RandRead, "workers = 2"), 1 << 20);
        assert_ne!(plan.stream(0, 2).word(), plan.stream(1, 2).word());
        assert_eq!(plan.stream(1, 2).word(), plan.stream(1, 2).word());
    }

    #[test]
    fn too_many_sequential_workers_are_refused() {
        let job = job(Pattern::Read, "workers = 8\nblock_size = \"64KiB\"");
        let sizes = SizeMix::new(&job.block_sizes()).unwrap();
        let refused = Plan::new(&job, &sizes, 256 * 1024);
        assert!(
            matches!(refused, Err(super::super::Problem::Input(m)) if m.contains("fewer workers"))
        );
    }
}
