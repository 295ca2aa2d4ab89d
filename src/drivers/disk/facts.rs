//! Where a disk job's file lives: its file system and the block device under it, as the
//! results and error messages name them. Paths are described by [`crate::host::PathFacts`]
//! (the mount table knows ext4 from ext2, which statfs does not); a block device target is
//! its own device.

use std::fs::File;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::host::PathFacts;

#[derive(Debug, Clone, Default)]
pub(crate) struct FsFacts {
    pub file_system: Option<String>,
    pub device: Option<String>,
}

impl FsFacts {
    pub fn of(file: &File, path: &Path) -> Self {
        let is_device = file
            .metadata()
            .is_ok_and(|m| m.file_type().is_block_device());
        if is_device {
            return FsFacts {
                file_system: None,
                device: device_dir(file).and_then(name_of),
            };
        }
        let facts = PathFacts::for_path(path);
        FsFacts {
            file_system: facts.fs_type,
            device: facts.device,
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
