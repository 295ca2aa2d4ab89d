//! A precise wait for one lane: a timerfd on the thread's event loop.
//!
//! tokio's timers round every deadline up to the next tick of a 1 ms wheel, so a 1 ms delay
//! would take 1 to 2 ms and a closed loop over it would run a third slower than the
//! arithmetic says. A timerfd fires within microseconds and still costs no thread: it is one
//! more descriptor on the runtime's epoll. This module does not decide how long to wait.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;

pub(super) struct Alarm {
    fd: AsyncFd<OwnedFd>,
}

impl Alarm {
    /// Must be called on a thread inside a tokio runtime with I/O enabled.
    pub fn new() -> io::Result<Alarm> {
        let flags = libc::TFD_NONBLOCK | libc::TFD_CLOEXEC;
        // SAFETY: timerfd_create takes no pointers; a negative result is an error.
        let raw = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, flags) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor we just created and nothing else owns.
        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the OwnedFd stays inside the AsyncFd, open and the same descriptor, until
        // the AsyncFd is dropped; nothing else can close it.
        let fd = unsafe { AsyncFd::register(owned) }.map_err(io::Error::from)?;
        Ok(Alarm { fd })
    }

    /// Returns at `due` or just after, letting the thread's other lanes run meanwhile.
    pub async fn wait_until(&self, due: Instant) {
        loop {
            let left = due.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            if self.arm(left).is_err() {
                // Cannot happen with a valid descriptor; fall back to the coarse timer.
                return tokio::time::sleep_until(due.into()).await;
            }
            let Ok(mut ready) = self.fd.readable().await else {
                return tokio::time::sleep_until(due.into()).await;
            };
            // A stale readiness reads as WouldBlock and is cleared by try_io. After a good read
            // the timer holds nothing until it is armed again, so the readiness goes too, or
            // the next wait would wake at once and arm twice.
            if let Ok(Ok(_)) = ready.try_io(|fd| read_expiries(fd.as_raw_fd())) {
                ready.clear_ready();
            }
        }
    }

    fn arm(&self, after: Duration) -> io::Result<()> {
        let value = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: after.as_secs() as libc::time_t,
                tv_nsec: libc::c_long::from(after.subsec_nanos() as i32),
            },
        };
        // SAFETY: `value` lives across the call; a null old-value pointer is allowed.
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &value, std::ptr::null_mut()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

fn read_expiries(fd: i32) -> io::Result<u64> {
    let mut count = 0u64;
    // SAFETY: the buffer is 8 writable bytes, the size a timerfd read needs.
    let n = unsafe { libc::read(fd, (&raw mut count).cast(), 8) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(count)
}
