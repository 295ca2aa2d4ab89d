//! Cheap facts about where a file lives: its file system type and the block device under it.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub(crate) struct FsFacts {
    pub file_system: Option<String>,
    pub device: Option<String>,
}

impl FsFacts {
    pub fn of(file: &File) -> Self {
        FsFacts {
            file_system: file_system(file),
            device: device_dir(file).and_then(name_of),
        }
    }

    /// `ext4 on vda`, `tmpfs`, or `unknown file system`.
    pub fn describe(&self) -> String {
        match (&self.file_system, &self.device) {
            (Some(fs), Some(dev)) => format!("{fs} on {dev}"),
            (Some(fs), None) => fs.clone(),
            (None, Some(dev)) => dev.clone(),
            (None, None) => "unknown file system".into(),
        }
    }
}

/// The sysfs directory of the block device holding `file` (or of `file` itself when it is a
/// block device): `/sys/dev/block/<major>:<minor>`, resolved.
pub(crate) fn device_dir(file: &File) -> Option<PathBuf> {
    let meta = file.metadata().ok()?;
    let dev = if meta.file_type().is_block_device() {
        meta.rdev()
    } else {
        meta.dev()
    };
    let link = format!("/sys/dev/block/{}:{}", libc::major(dev), libc::minor(dev));
    std::fs::canonicalize(link).ok()
}

fn name_of(dir: PathBuf) -> Option<String> {
    dir.file_name().map(|n| n.to_string_lossy().into_owned())
}

fn file_system(file: &File) -> Option<String> {
    // SAFETY: `statfs` is plain data; zeroed is a valid value that fstatfs overwrites.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: the descriptor is open for the call and `fs` is a valid place to write.
    if unsafe { libc::fstatfs(file.as_raw_fd(), &mut fs) } != 0 {
        return None;
    }
    let magic = fs.f_type as u64 & 0xFFFF_FFFF;
    Some(magic_name(magic).map_or_else(|| format!("fs 0x{magic:x}"), str::to_owned))
}

/// The names of common file systems' `f_type` magic numbers (see statfs(2)).
fn magic_name(magic: u64) -> Option<&'static str> {
    Some(match magic {
        0xEF53 => "ext4",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0xF2F5_2010 => "f2fs",
        0x2FC1_2FC1 => "zfs",
        0xCA45_1A4E => "bcachefs",
        0x0102_1994 => "tmpfs",
        0x794C_7630 => "overlayfs",
        0x6969 => "nfs",
        0xFF53_4D42 => "cifs",
        0x6573_5546 => "fuse",
        0x6264_6576 => "devtmpfs",
        0x4244 => "hfs",
        0x4D44 => "vfat",
        0x5346_544E => "ntfs",
        0x2011_BAB0 => "exfat",
        0x0187 => "autofs",
        0x6265_6572 => "sysfs",
        0x9FA0 => "proc",
        _ => return None,
    })
}
