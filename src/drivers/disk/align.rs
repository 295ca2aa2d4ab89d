//! The direct-I/O alignment of a file, and the check that a job's sizes respect it.
//!
//! The kernel says (statx STATX_DIOALIGN, 6.1+); failing that, the device's logical block
//! size (BLKSSZGET for a device, sysfs for a file on one); failing that, 4096 bytes, which
//! every device takes. A job whose block sizes or file size break it is refused before load
//! with the alignment in the message, instead of failing part-way with EINVAL.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use super::facts::device_dir;
use super::{Checked, input};
use crate::load::SizeMix;
use crate::workload::units::ByteSize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Alignment {
    /// File offsets and lengths must be multiples of this, in bytes.
    pub offset: u64,
    /// Buffer addresses must be multiples of this, in bytes.
    pub memory: u64,
    /// `statx`, `block device`, `sysfs` or `default`.
    pub source: &'static str,
}

/// Used when nothing better is known: every device takes 4 KiB-aligned direct I/O.
const FALLBACK: u64 = 4096;

pub(crate) fn of(file: &File, block_device: bool, path: &Path) -> Checked<Alignment> {
    let found = match from_statx(file) {
        Some(Ok(alignment)) => alignment,
        Some(Err(())) => {
            return input(format!(
                "the kernel reports that {} does not support direct I/O; set direct = false",
                path.display()
            ));
        }
        None => from_device(file, block_device),
    };
    tracing::debug!(?found, path = %path.display(), "direct-I/O alignment");
    Ok(found)
}

/// `None` when statx cannot say; `Some(Err)` when it says direct I/O is not supported.
fn from_statx(file: &File) -> Option<Result<Alignment, ()>> {
    // SAFETY: `statx` is plain data; zeroed is a valid value that the call overwrites.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: the path is an empty NUL-terminated string used with AT_EMPTY_PATH on an open
    // descriptor, and `stx` is a valid place to write.
    let status = unsafe {
        libc::statx(
            file.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_DIOALIGN,
            &mut stx,
        )
    };
    if status != 0 || stx.stx_mask & libc::STATX_DIOALIGN == 0 {
        return None;
    }
    if stx.stx_dio_offset_align == 0 {
        return Some(Err(()));
    }
    Some(Ok(Alignment {
        offset: u64::from(stx.stx_dio_offset_align),
        memory: u64::from(stx.stx_dio_mem_align),
        source: "statx",
    }))
}

fn from_device(file: &File, block_device: bool) -> Alignment {
    let found = if block_device {
        logical_block_ioctl(file).map(|size| (size, "block device"))
    } else {
        logical_block_sysfs(file).map(|size| (size, "sysfs"))
    };
    let (offset, source) = found.unwrap_or((FALLBACK, "default"));
    Alignment {
        offset,
        memory: offset,
        source,
    }
}

fn logical_block_ioctl(file: &File) -> Option<u64> {
    let mut size: libc::c_int = 0;
    // SAFETY: BLKSSZGET writes one int through the pointer, which points at `size`.
    let status = unsafe { libc::ioctl(file.as_raw_fd(), libc::BLKSSZGET, &mut size) };
    (status == 0 && size > 0).then_some(size as u64)
}

/// A partition's sysfs directory has no `queue`; its disk's (the parent) does.
fn logical_block_sysfs(file: &File) -> Option<u64> {
    let dir = device_dir(file)?;
    [dir.join("queue"), dir.join("../queue")]
        .iter()
        .find_map(|queue| {
            let text = std::fs::read_to_string(queue.join("logical_block_size")).ok()?;
            text.trim().parse().ok().filter(|&size: &u64| size > 0)
        })
}

/// Refuses block sizes or a file size that are not multiples of the offset alignment.
/// `place` names the file and where it lives, for the message.
pub(crate) fn check(
    alignment: Alignment,
    sizes: &SizeMix,
    file_size: u64,
    place: &str,
) -> Checked<()> {
    let align = alignment.offset;
    if let Some(&bad) = sizes.sizes().iter().find(|&&s| !s.is_multiple_of(align)) {
        let up = bad.div_ceil(align) * align;
        let also = if up != 4096 && 4096u64.is_multiple_of(align) {
            " or 4KiB"
        } else {
            ""
        };
        return input(format!(
            "block size {} is not a multiple of {}, the direct-I/O alignment of {place}; use {} \
             multiples such as {}{also}",
            bytes(bad),
            bytes(align),
            bytes(align),
            bytes(up),
        ));
    }
    if !file_size.is_multiple_of(align) {
        return input(format!(
            "size {} is not a multiple of {}, the direct-I/O alignment of {place}; use a size \
             such as {}",
            bytes(file_size),
            bytes(align),
            bytes(file_size / align * align),
        ));
    }
    Ok(())
}

/// `4KiB` for whole binary units, `1000 B` otherwise.
fn bytes(n: u64) -> String {
    if n >= 1024 && n.is_multiple_of(1024) {
        ByteSize(n).to_string()
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::WeightedSize;

    fn mix(sizes: &[u64]) -> SizeMix {
        let mix: Vec<WeightedSize> = sizes
            .iter()
            .map(|&s| WeightedSize {
                size: ByteSize(s),
                weight: 1,
            })
            .collect();
        SizeMix::new(&mix).unwrap()
    }

    const A512: Alignment = Alignment {
        offset: 512,
        memory: 512,
        source: "statx",
    };

    fn refusal(result: Checked<()>) -> String {
        match result {
            Err(super::super::Problem::Input(message)) => message,
            _ => panic!("expected an input error"),
        }
    }

    #[test]
    fn an_unaligned_block_size_is_refused_naming_the_alignment_and_a_fix() {
        let message = refusal(check(
            A512,
            &mix(&[4096, 1000]),
            1 << 20,
            "/work (ext4 on vda)",
        ));
        assert_eq!(
            message,
            "block size 1000 B is not a multiple of 512 B, the direct-I/O alignment of /work \
             (ext4 on vda); use 512 B multiples such as 1KiB or 4KiB"
        );
    }

    #[test]
    fn an_unaligned_file_size_is_refused() {
        let message = refusal(check(A512, &mix(&[4096]), 1_000_000, "f"));
        assert!(
            message.contains("size 1000000 B") && message.contains("999936 B"),
            "{message}"
        );
    }

    #[test]
    fn aligned_sizes_pass() {
        assert!(check(A512, &mix(&[512, 4096, 1 << 20]), 1 << 30, "f").is_ok());
    }
}
