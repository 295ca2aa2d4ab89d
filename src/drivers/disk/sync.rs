//! The sync engine: one pread, pwrite or fsync at a time on the worker's own thread.
//!
//! It exists for kernels or sandboxes without io_uring and as the queue-depth-1 baseline
//! (fio's `psync`). The clock is read once per operation: its end is the next one's start.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::time::Instant;

use super::buffers::{AlignedBuf, Shape};
use super::lane::Lane;
use super::plan::{Op, OpKind};
use crate::workload::SyncKind;

/// A sync worker's one buffer.
pub(crate) struct SyncKit {
    buf: AlignedBuf,
}

impl SyncKit {
    pub fn new(shape: Shape) -> anyhow::Result<Self> {
        Ok(SyncKit {
            buf: AlignedBuf::new(shape, 1)?,
        })
    }

    pub fn drive(&mut self, file: &File, lane: &mut Lane) -> anyhow::Result<()> {
        let fd = file.as_raw_fd();
        let mut now = Instant::now();
        while !lane.should_stop(now) {
            if let Some(due) = lane.held_until(now) {
                now = lane.sleep_until(due);
                continue;
            }
            let op = lane.next_op();
            let result = self.issue(fd, op);
            let ended = Instant::now();
            lane.complete(op, now, ended, result);
            now = ended;
        }
        Ok(())
    }

    /// One system call; bytes moved or a negated errno. Interrupted calls are retried, as
    /// they moved nothing.
    fn issue(&mut self, fd: i32, op: Op) -> i64 {
        debug_assert!(op.len as usize <= self.buf.len());
        loop {
            let ptr = self.buf.as_mut_ptr().cast();
            let len = op.len as usize;
            let offset = op.offset as libc::off_t;
            // SAFETY: `ptr` points to at least `len` bytes owned by `self.buf` and borrowed
            // mutably for the call; the call returns before the buffer can be touched again.
            let result = unsafe {
                match op.kind {
                    OpKind::Read => libc::pread(fd, ptr, len, offset) as i64,
                    OpKind::Write => libc::pwrite(fd, ptr, len, offset) as i64,
                    OpKind::Sync(SyncKind::Fsync) => i64::from(libc::fsync(fd)),
                    OpKind::Sync(SyncKind::Fdatasync) => i64::from(libc::fdatasync(fd)),
                }
            };
            if result >= 0 {
                return result;
            }
            let errno = std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO);
            if errno != libc::EINTR {
                return -i64::from(errno);
            }
        }
    }
}
