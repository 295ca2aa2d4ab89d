//! The io_uring engine: one ring per worker, the file registered as fixed file 0 and one
//! registered buffer per queue slot, `queue_depth` operations kept in flight.
//!
//! Each turn of the loop fills every free slot, submits and waits for at least one completion
//! in one `io_uring_enter`, then reaps every completion already in the queue without further
//! system calls. One clock reading after the wait is the end of every reaped operation and the
//! start of every refill. Rings are built in `prepare`, so a kernel that refuses io_uring is
//! found before any load starts.

use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use io_uring::{IoUring, opcode, squeue, types};

use super::buffers::{AlignedBuf, Shape};
use super::lane::{LONGEST_WAIT, Lane};
use super::plan::{Op, OpKind};
use super::target::Target;
use crate::workload::{DiskJob, SyncKind};

/// How long the SQPOLL kernel thread spins without work before it sleeps, in milliseconds.
const SQPOLL_IDLE_MS: u32 = 1_000;

/// How long a stopping worker waits for what it has in flight before giving up on it.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// Why a ring could not be set up.
pub(crate) enum SetupFailure {
    /// io_uring itself is refused or missing; the reason says what the kernel said.
    Unavailable(String),
    /// Something else failed (memory for buffers, say); the sync engine would not help.
    Other(anyhow::Error),
}

/// A worker's ring, its buffers, and what each queue slot has in flight.
pub(crate) struct Ring {
    ring: ManuallyDrop<IoUring>,
    /// Registered with the ring; the kernel may write into them while `in_flight > 0`.
    bufs: ManuallyDrop<AlignedBuf>,
    stride: usize,
    /// Whether the kernel takes a timeout with the wait (5.11+); without it waits are
    /// unbounded, which only matters if a device stops completing.
    timed_wait: bool,
    /// Enter the kernel for every entry as it is queued rather than once per turn. See
    /// [`submits_each`].
    submit_each: bool,
    /// Built disabled, single-issuer, with deferred task work: the worker thread enables it
    /// and so becomes its one submitter.
    deferred: bool,
    slots: Box<[Slot]>,
    free: Vec<u16>,
    in_flight: usize,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    op: Op,
    issued: Instant,
}

impl Ring {
    /// One ring per worker of the job, each with the file and its buffers registered.
    pub fn set_up_all(
        job: &DiskJob,
        target: &Target,
        shape: Shape,
    ) -> Result<Vec<Ring>, SetupFailure> {
        let fd = target.file.as_raw_fd();
        let rings: Vec<Ring> = (0..job.workers)
            .map(|_| Ring::set_up(fd, job.queue_depth, job.sqpoll, shape))
            .map(|ring| {
                ring.map(|mut ring| {
                    ring.submit_each = submits_each(job);
                    ring
                })
            })
            .collect::<Result<_, _>>()?;
        tracing::debug!(
            job = %job.name,
            rings = rings.len(),
            entries = job.queue_depth,
            sqpoll = job.sqpoll,
            timed_wait = rings[0].timed_wait,
            submit_each = rings[0].submit_each,
            buffer_bytes = shape.stride,
            "io_uring rings set up with a registered file and fixed buffers"
        );
        Ok(rings)
    }

    fn set_up(fd: RawFd, depth: u32, sqpoll: bool, shape: Shape) -> Result<Ring, SetupFailure> {
        let mut bufs = AlignedBuf::new(shape, depth as usize).map_err(SetupFailure::Other)?;
        let (ring, deferred) = build(depth, sqpoll)?;
        ring.submitter()
            .register_files(&[fd])
            .map_err(|e| refusal("registering the file", &e, sqpoll))?;
        let base = bufs.as_mut_ptr();
        let iovecs: Vec<libc::iovec> = (0..depth as usize)
            .map(|i| libc::iovec {
                iov_base: base.wrapping_add(i * shape.stride).cast(),
                iov_len: shape.stride,
            })
            .collect();
        // SAFETY: every iovec lies inside `bufs`, which lives as long as the ring: `Ring`'s
        // drop closes the ring before it frees them, and leaks them if I/O is still in flight.
        unsafe { ring.submitter().register_buffers(&iovecs) }
            .map_err(|e| refusal("registering fixed buffers", &e, sqpoll))?;
        let timed_wait = ring.params().is_feature_ext_arg();
        let idle = Slot {
            op: Op {
                kind: OpKind::Read,
                offset: 0,
                len: 0,
            },
            issued: Instant::now(),
        };
        Ok(Ring {
            ring: ManuallyDrop::new(ring),
            bufs: ManuallyDrop::new(bufs),
            stride: shape.stride,
            timed_wait,
            submit_each: false,
            deferred,
            slots: vec![idle; depth as usize].into_boxed_slice(),
            free: (0..depth as u16).rev().collect(),
            in_flight: 0,
        })
    }

    /// Issues until the lane says stop, then drains what is in flight.
    pub fn drive(&mut self, lane: &mut Lane) -> anyhow::Result<()> {
        if self.deferred {
            self.ring
                .submitter()
                .register_enable_rings()
                .context("cannot enable the worker's io_uring ring")?;
        }
        let mut now = Instant::now();
        while !lane.should_stop(now) {
            let held = self.refill(lane, now);
            now = self.wait_and_reap(lane, held, now)?;
        }
        self.drain(lane)
    }

    /// Fills free slots with operations issued at `now`. Returns when the rate cap holds the
    /// next one back, if it does.
    fn refill(&mut self, lane: &mut Lane, now: Instant) -> Option<Instant> {
        let Ring {
            ring,
            bufs,
            stride,
            slots,
            free,
            in_flight,
            submit_each,
            ..
        } = self;
        let base = bufs.as_mut_ptr();
        while let Some(&slot) = free.last() {
            let mut sq = ring.submission();
            if let Some(due) = lane.held_until(now) {
                return Some(due);
            }
            // With SQPOLL the kernel thread may post a completion before it publishes that it
            // consumed the entry, so a free slot does not prove a free entry; the slot waits
            // for the next turn.
            if sq.is_full() {
                break;
            }
            let op = lane.next_op();
            let entry = entry(base.wrapping_add(slot as usize * *stride), slot, op);
            // SAFETY: the entry points at slot `slot`'s registered buffer, which no other
            // operation uses until this one's completion is reaped and the slot freed.
            if unsafe { sq.push(&entry) }.is_err() {
                break;
            }
            free.pop();
            slots[slot as usize] = Slot { op, issued: now };
            *in_flight += 1;
            drop(sq);
            if *submit_each {
                // A refused submission leaves the entry queued; the wait submits it.
                let _ = ring.submit();
            }
        }
        None
    }

    /// Submits, waits for a completion (or for the rate cap, or a short timeout), and reaps.
    fn wait_and_reap(
        &mut self,
        lane: &mut Lane,
        held: Option<Instant>,
        now: Instant,
    ) -> anyhow::Result<Instant> {
        if self.in_flight == 0 {
            return Ok(held.map_or_else(Instant::now, |due| lane.sleep_until(due)));
        }
        let limit = held.map_or(LONGEST_WAIT, |due| due.saturating_duration_since(now));
        self.submit_and_wait(limit.min(LONGEST_WAIT))?;
        let now = Instant::now();
        if self.reap(lane, now) == 0 {
            lane.tick(now);
        }
        Ok(now)
    }

    fn submit_and_wait(&mut self, limit: Duration) -> anyhow::Result<()> {
        let submitted = if self.timed_wait {
            let timeout = types::Timespec::from(limit);
            let args = types::SubmitArgs::new().timespec(&timeout);
            self.ring.submitter().submit_with_args(1, &args)
        } else {
            self.ring.submit_and_wait(1)
        };
        match submitted {
            Ok(_) => Ok(()),
            // A timeout, a signal, or a full completion queue: reap and go round again.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e).context("io_uring_enter failed"),
        }
    }

    /// Records every completion already in the queue, all ending at `now`.
    fn reap(&mut self, lane: &mut Lane, now: Instant) -> usize {
        let Ring {
            ring,
            slots,
            free,
            in_flight,
            ..
        } = self;
        let mut reaped = 0;
        for cqe in ring.completion() {
            let slot = cqe.user_data() as u16;
            let Slot { op, issued } = slots[slot as usize];
            lane.complete(op, issued, now, i64::from(cqe.result()));
            free.push(slot);
            reaped += 1;
        }
        *in_flight -= reaped;
        reaped
    }

    /// Waits, bounded, for what is in flight. Whatever is left stays counted in `in_flight`,
    /// so dropping the ring leaks its buffers instead of freeing memory the kernel may write.
    fn drain(&mut self, lane: &mut Lane) -> anyhow::Result<()> {
        let deadline = Instant::now() + DRAIN_LIMIT;
        while self.in_flight > 0 {
            let now = Instant::now();
            if now >= deadline {
                tracing::warn!(
                    in_flight = self.in_flight,
                    "operations still in flight {DRAIN_LIMIT:?} after the worker stopped; \
                     giving up on them"
                );
                return Ok(());
            }
            self.submit_and_wait((deadline - now).min(LONGEST_WAIT))?;
            self.reap(lane, Instant::now());
        }
        Ok(())
    }
}

/// A ring of `depth` entries. Without SQPOLL it is made single-issuer with deferred task
/// work (6.1+), so completions are posted when the worker waits for them rather than by
/// interrupting it; such a ring starts disabled, since its submitter is the thread that
/// enables it. A kernel that refuses those flags gets a plain ring.
fn build(depth: u32, sqpoll: bool) -> Result<(IoUring, bool), SetupFailure> {
    if !sqpoll {
        let mut builder = IoUring::builder();
        builder
            .setup_r_disabled()
            .setup_single_issuer()
            .setup_defer_taskrun();
        match builder.build(depth) {
            Ok(ring) => return Ok((ring, true)),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                tracing::debug!("io_uring refused single-issuer deferred task work: {e}");
            }
            Err(e) => return Err(refusal("io_uring_setup", &e, sqpoll)),
        }
    }
    let mut builder = IoUring::builder();
    if sqpoll {
        builder.setup_sqpoll(SQPOLL_IDLE_MS);
    }
    let ring = builder
        .build(depth)
        .map_err(|e| refusal("io_uring_setup", &e, sqpoll))?;
    Ok((ring, false))
}

/// Whether a ring enters the kernel once per entry. With direct I/O the device is the limit,
/// and entries submitted together are plugged and reach the device as a burst; on the
/// virtual disks measured (see BENCHMARKS.md) one entry per `io_uring_enter` kept the device
/// queue steadier and gave 10-20 % more IOPS at depth 32, as fio's default submission does.
/// Buffered I/O is limited by the CPU instead, where one system call per turn is cheaper.
/// There is no workload key for it yet.
fn submits_each(job: &DiskJob) -> bool {
    job.direct && !job.sqpoll
}

/// The submission entry of one operation in slot `slot`, whose buffer starts at `buf`.
fn entry(buf: *mut u8, slot: u16, op: Op) -> squeue::Entry {
    let file = types::Fixed(0);
    let entry = match op.kind {
        OpKind::Read => opcode::ReadFixed::new(file, buf, op.len, slot)
            .offset(op.offset)
            .build(),
        OpKind::Write => opcode::WriteFixed::new(file, buf, op.len, slot)
            .offset(op.offset)
            .build(),
        OpKind::Sync(kind) => {
            let flags = match kind {
                SyncKind::Fsync => types::FsyncFlags::empty(),
                SyncKind::Fdatasync => types::FsyncFlags::DATASYNC,
            };
            // Drained: it starts after every earlier write has completed, as a sync after N
            // writes means, and later operations wait for it.
            opcode::Fsync::new(file)
                .flags(flags)
                .build()
                .flags(squeue::Flags::IO_DRAIN)
        }
    };
    entry.user_data(u64::from(slot))
}

/// Says why the kernel refused, in words a user can act on.
fn refusal(step: &str, e: &std::io::Error, sqpoll: bool) -> SetupFailure {
    let mode = if sqpoll { " with SQPOLL" } else { "" };
    let reason = match e.raw_os_error() {
        Some(libc::EPERM) => {
            let sysctl = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
                .map(|v| format!(", kernel.io_uring_disabled = {}", v.trim()))
                .unwrap_or_default();
            format!("io_uring is not permitted here ({step}{mode}: EPERM{sysctl})")
        }
        Some(libc::ENOSYS) => format!("this kernel has no io_uring ({step}: ENOSYS)"),
        Some(libc::ENOMEM) => {
            format!("io_uring ran out of memory ({step}{mode}: ENOMEM; check ulimit -l)")
        }
        _ => format!("io_uring could not be set up ({step}{mode}: {e})"),
    };
    SetupFailure::Unavailable(reason)
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: the ring is dropped exactly once, here, and not used afterwards. Closing it
        // first means nothing new can start on the buffers.
        unsafe { ManuallyDrop::drop(&mut self.ring) };
        if self.in_flight == 0 {
            // SAFETY: nothing is in flight, so the kernel holds no operation that writes into
            // the buffers; they are dropped exactly once.
            unsafe { ManuallyDrop::drop(&mut self.bufs) };
        } else {
            // SAFETY (by omission): operations the kernel may still complete write into these
            // buffers, so they are leaked rather than returned to the allocator.
            tracing::warn!(
                in_flight = self.in_flight,
                bytes = self.bufs.len(),
                "leaking I/O buffers that in-flight operations may still write"
            );
        }
    }
}
