//! Which file a job may touch, and how it is made ready.
//!
//! The rule: plimsoll writes only to what it created, unless the job says otherwise. A file it
//! lays out carries a user xattr recording its size; a later run reuses such a file as it is
//! when the size still matches. Any other existing file is read freely but written only with
//! `allow_existing = true`, and a block device is used only with `allow_block_device = true`.
//! Layout writes incompressible bytes sequentially and syncs them, so no read hits a hole, then
//! drops the file from the page cache so buffered reads start cold, as fio's do. A sparse layout
//! (`layout = "sparse"`, write-only jobs) writes nothing: the file is a hole of its size, so
//! the job measures first writes and may run out of space. Its marker says so, and a job that
//! wants data lays such a file out again rather than reuse it.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::align::{self, Alignment};
use super::facts::FsFacts;
use super::{Checked, DEFAULT_SEED, Problem, input};
use crate::load::SizeMix;
use crate::report::format::{bytes as bytes_text, bytes_exact};
use crate::workload::{DiskJob, FileLayout};

/// The xattr that marks a file as laid out by plimsoll; its value is `size=<bytes>`, or
/// `size=<bytes>;sparse` for a file left a hole.
const MARKER: &std::ffi::CStr = c"user.plimsoll.layout";

/// What the marker of the file says of it, when its size still matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// Laid out with data: reusable as it is.
    Full,
    /// Left a hole (in part written since): plimsoll's, but not to be read as data.
    Sparse,
    /// No marker, or one for another size: not plimsoll's.
    Foreign,
}

/// Bytes written per call while laying out.
const LAYOUT_CHUNK: usize = 4 << 20;

/// The file workers use, ready for I/O.
pub(crate) struct Target {
    pub path: PathBuf,
    /// Opened read-only for jobs that only read, with O_DIRECT for direct jobs.
    pub file: File,
    /// Bytes addressed, from offset 0.
    pub size: u64,
    pub layout: Layout,
    pub alignment: Option<Alignment>,
}

impl Target {
    pub fn memory_alignment(&self) -> u64 {
        self.alignment.map_or(1, |a| a.memory)
    }
}

/// What setup did to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Created,
    Reused,
    Relaid,
    Extended,
    Existing,
    BlockDevice,
    /// Created, or a plimsoll file made again, as a hole of the size.
    Sparse,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Created => "created",
            Layout::Reused => "reused",
            Layout::Relaid => "relaid",
            Layout::Extended => "extended",
            Layout::Existing => "existing",
            Layout::BlockDevice => "block_device",
            Layout::Sparse => "sparse",
        }
    }
}

/// The target after every check that needs no writing: where it is, how large, what to do.
pub(crate) struct Resolved {
    path: PathBuf,
    size: u64,
    layout: Layout,
    /// Where the layout starts writing, when there is one to write.
    lay_out_from: Option<u64>,
    /// Whether setup creates the file (so it must not exist yet).
    creates: bool,
}

impl Resolved {
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// Decides what to do with `job.path` without changing anything.
pub(crate) fn resolve(job: &DiskJob) -> Checked<Resolved> {
    let path = data_path(job);
    match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => resolve_new(job, path),
        Err(e) => Err(Problem::Failed(
            anyhow::Error::new(e).context(format!("cannot inspect {}", path.display())),
        )),
        Ok(meta) if meta.is_file() => resolve_file(job, path, meta.len()),
        Ok(meta) if meta.file_type().is_block_device() => resolve_block_device(job, path),
        Ok(_) => input(format!(
            "{} is neither a regular file, a directory nor a block device",
            path.display()
        )),
    }
}

/// `path` itself, or `<job name>.plimsoll.dat` inside it when it is a directory.
fn data_path(job: &DiskJob) -> PathBuf {
    if !job.path.is_dir() {
        // `dir/` names a directory even when it is missing; the file would be `dir/<job>...`,
        // so the missing directory is what gets reported.
        if job.path.as_os_str().as_encoded_bytes().ends_with(b"/") {
            return job.path.join(format!("{}.plimsoll.dat", job.name));
        }
        return job.path.clone();
    }
    let name: String = job
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    job.path.join(format!("{name}.plimsoll.dat"))
}

fn resolve_new(job: &DiskJob, path: PathBuf) -> Checked<Resolved> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return input(format!(
            "the directory {} does not exist; create it, or point path at an existing one",
            parent.display()
        ));
    }
    let Some(size) = job.size.map(|s| s.0).filter(|&s| s > 0) else {
        return input(format!(
            "{} does not exist and size is not set; give the size of the file to lay out, \
             such as size = \"1GiB\"",
            path.display()
        ));
    };
    let layout = match job.layout {
        FileLayout::Full => Layout::Created,
        FileLayout::Sparse => Layout::Sparse,
    };
    Ok(Resolved {
        path,
        size,
        layout,
        lay_out_from: Some(0),
        creates: true,
    })
}

fn resolve_file(job: &DiskJob, path: PathBuf, len: u64) -> Checked<Resolved> {
    let mark = read_mark(&path, len);
    let wanted = job.size.map(|s| s.0);
    if job.layout == FileLayout::Sparse {
        return resolve_sparse(path, wanted.unwrap_or(len), mark);
    }
    if mark == Mark::Sparse {
        // Holes would read as zeros without touching the device: lay it out with data.
        return Ok(Resolved::lay_out(
            path,
            wanted.unwrap_or(len),
            Layout::Relaid,
        ));
    }
    let ours = mark == Mark::Full;
    if !job.pattern.writes() {
        let size = wanted.unwrap_or(len);
        if size > len {
            return input(format!(
                "{} holds {}, less than size = {}; reads past its end would come back short: \
                 lower size, or leave it out to read the whole file",
                path.display(),
                bytes_exact(len),
                bytes_exact(size),
            ));
        }
        let layout = if ours {
            Layout::Reused
        } else {
            Layout::Existing
        };
        return Ok(Resolved {
            path,
            size,
            layout,
            lay_out_from: None,
            creates: false,
        });
    }
    let (size, layout, lay_out_from) = match (ours, wanted) {
        (true, None) => (len, Layout::Reused, None),
        (true, Some(s)) if s == len => (len, Layout::Reused, None),
        // Its own file at another size: plimsoll may lay it out again.
        (true, Some(s)) => (s, Layout::Relaid, Some(0)),
        (false, _) if !job.allow_existing => return refuse_existing(&path),
        (false, None) => (len, Layout::Existing, None),
        (false, Some(s)) if s <= len => (s, Layout::Existing, None),
        (false, Some(s)) => (s, Layout::Extended, Some(len)),
    };
    Ok(Resolved {
        path,
        size,
        layout,
        lay_out_from,
        creates: false,
    })
}

/// A sparse layout of an existing file: only a file plimsoll made may be emptied into a hole.
fn resolve_sparse(path: PathBuf, size: u64, mark: Mark) -> Checked<Resolved> {
    if mark == Mark::Foreign {
        return input(format!(
            "{} exists and was not laid out by plimsoll; layout = \"sparse\" would empty it \
             into a hole. Point path at a new file or a directory, or remove layout to write \
             over the file (with allow_existing = true)",
            path.display()
        ));
    }
    Ok(Resolved::lay_out(path, size, Layout::Sparse))
}

fn refuse_existing(path: &Path) -> Checked<Resolved> {
    input(format!(
        "{} exists and was not laid out by plimsoll; this job writes, which would overwrite its \
         contents. Set allow_existing = true to allow that, or point path at a new file or a \
         directory",
        path.display()
    ))
}

fn resolve_block_device(job: &DiskJob, path: PathBuf) -> Checked<Resolved> {
    if job.layout == FileLayout::Sparse {
        return input(format!(
            "{} is a block device, which cannot be left a hole; remove layout = \"sparse\"",
            path.display()
        ));
    }
    if !job.allow_block_device {
        return input(format!(
            "{} is a block device; set allow_block_device = true to use it (a job that writes \
             destroys what it holds)",
            path.display()
        ));
    }
    let device_size = File::open(&path)
        .and_then(|mut f| f.seek(SeekFrom::End(0)))
        .with_context(|| format!("cannot read the size of {}", path.display()))?;
    let size = job.size.map_or(device_size, |s| s.0);
    if size > device_size {
        return input(format!(
            "{} holds {}, less than size = {}",
            path.display(),
            bytes_exact(device_size),
            bytes_exact(size),
        ));
    }
    Ok(Resolved {
        path,
        size,
        layout: Layout::BlockDevice,
        lay_out_from: None,
        creates: false,
    })
}

impl Resolved {
    /// An existing plimsoll file made again from offset 0.
    fn lay_out(path: PathBuf, size: u64, layout: Layout) -> Resolved {
        Resolved {
            path,
            size,
            layout,
            lay_out_from: Some(0),
            creates: false,
        }
    }

    /// Creates or opens the file, checks direct-I/O alignment, and lays it out if needed.
    /// The returned [`Removal`] deletes a file created here unless the job keeps it; if setup
    /// fails part-way, it deletes it regardless.
    pub fn open(
        self,
        job: &DiskJob,
        sizes: &SizeMix,
        stop: &AtomicBool,
    ) -> Checked<(Target, Removal)> {
        let created = self.creates;
        let writer = self.layout_writer(created)?;
        let mut removal = Removal {
            path: created.then(|| self.path.clone()),
            created,
        };
        let file = open_for_io(job, &self.path, self.layout)?;
        let alignment = if job.direct {
            let alignment = align::of(&file, self.layout == Layout::BlockDevice, &self.path)?;
            let place = format!(
                "{} ({})",
                self.path.display(),
                FsFacts::of(&file, &self.path).describe()
            );
            align::check(alignment, sizes, self.size, &place)?;
            Some(alignment)
        } else {
            None
        };
        if let (Some(writer), Some(from)) = (writer, self.lay_out_from) {
            let sparse = self.layout == Layout::Sparse;
            if sparse {
                make_hole(&writer, self.size, &self.path)?;
            } else {
                let seed = job.seed.unwrap_or(DEFAULT_SEED);
                lay_out(&writer, (from, self.size), &self.path, seed, stop)?;
            }
            // An extended file is still the user's: it gets no marker.
            if self.layout != Layout::Extended {
                write_marker(&writer, self.size, sparse);
            }
        }
        if self.layout != Layout::BlockDevice {
            drop_cached_pages(&file, self.size);
        }
        if job.keep {
            removal.path = None;
        }
        let Resolved {
            path, size, layout, ..
        } = self;
        Ok((
            Target {
                path,
                file,
                size,
                layout,
                alignment,
            },
            removal,
        ))
    }

    /// A buffered handle for laying out, when this setup writes a layout.
    fn layout_writer(&self, create: bool) -> Checked<Option<File>> {
        if self.lay_out_from.is_none() {
            return Ok(None);
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(create)
            .mode(0o644)
            .open(&self.path)
            .with_context(|| format!("cannot open {} to lay it out", self.path.display()))?;
        if !create && matches!(self.layout, Layout::Relaid | Layout::Sparse) {
            // Unmarked first: if the new layout fails part-way, no later run trusts the file.
            remove_marker(&file);
            file.set_len(0)
                .context("cannot truncate the file to lay it out again")?;
        }
        Ok(Some(file))
    }
}

fn open_for_io(job: &DiskJob, path: &Path, layout: Layout) -> Checked<File> {
    let mut flags = 0;
    if job.direct {
        flags |= libc::O_DIRECT;
    }
    if layout == Layout::BlockDevice && job.pattern.writes() {
        // O_EXCL on a block device fails while it is mounted or otherwise held.
        flags |= libc::O_EXCL;
    }
    let opened = OpenOptions::new()
        .read(true)
        .write(job.pattern.writes())
        .custom_flags(flags)
        .open(path);
    match opened {
        Ok(file) => Ok(file),
        Err(e) if job.direct && e.raw_os_error() == Some(libc::EINVAL) => input(format!(
            "{}: its file system does not support direct I/O (opening with O_DIRECT gave \
             EINVAL); set direct = false",
            path.display()
        )),
        Err(e) if layout == Layout::BlockDevice && e.raw_os_error() == Some(libc::EBUSY) => {
            input(format!(
                "{} is in use (mounted, or held by another program); writing to it would \
                 corrupt what uses it",
                path.display()
            ))
        }
        Err(e) => Err(Problem::Failed(
            anyhow::Error::new(e).context(format!("cannot open {}", path.display())),
        )),
    }
}

/// Writes `from..to` with random bytes in large sequential writes, then syncs.
fn lay_out(
    file: &File,
    (from, to): (u64, u64),
    path: &Path,
    seed: u64,
    stop: &AtomicBool,
) -> Checked<()> {
    check_free_space(file, to - from, path)?;
    let bytes = to - from;
    let size = bytes_text(bytes as f64);
    tracing::info!(target: crate::PHASE, "layout: writing {size} to {}", path.display());
    let started = std::time::Instant::now();
    let mut rng = SmallRng::seed_from_u64(seed ^ from);
    let mut chunk = vec![0u8; LAYOUT_CHUNK];
    let mut at = from;
    while at < to {
        if stop.load(Ordering::Relaxed) {
            return Err(Problem::Failed(anyhow::anyhow!(
                "interrupted while laying out {} ({at} of {to} bytes); nothing was measured",
                path.display()
            )));
        }
        let n = (to - at).min(LAYOUT_CHUNK as u64) as usize;
        rng.fill_bytes(&mut chunk[..n]);
        file.write_all_at(&chunk[..n], at)
            .with_context(|| format!("laying out {} failed at offset {at}", path.display()))?;
        at += n as u64;
    }
    file.sync_all()
        .with_context(|| format!("syncing the layout of {}", path.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    let rate = bytes_text(bytes as f64 / seconds.max(1e-9));
    tracing::info!(
        target: crate::PHASE,
        "layout: {} written in {seconds:.1} s ({rate}/s)",
        path.display()
    );
    Ok(())
}

/// Sets the file to `size` without writing, so it is a hole that writes allocate as they go.
fn make_hole(file: &File, size: u64, path: &Path) -> Checked<()> {
    if let Some(free) = free_bytes(file).filter(|&free| size > free) {
        tracing::warn!(
            path = %path.display(),
            size_bytes = size,
            free_bytes = free,
            "the sparse file is larger than the free space on its file system; writes will run \
             out of space (ENOSPC) once it fills"
        );
    }
    tracing::info!(path = %path.display(), bytes = size, "creating the file sparse");
    file.set_len(size)
        .with_context(|| format!("cannot set {} to {}", path.display(), bytes_exact(size)))?;
    Ok(())
}

/// Bytes an unprivileged writer may still use on the file's file system, when known.
fn free_bytes(file: &File) -> Option<u64> {
    // SAFETY: `statvfs` is plain data; zeroed is a valid value and fstatvfs overwrites it.
    let mut vfs: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: the descriptor is open for the call and `vfs` is a valid place to write.
    if unsafe { libc::fstatvfs(file.as_raw_fd(), &mut vfs) } != 0 {
        tracing::debug!(
            "statvfs failed: {}; going on without a free-space check",
            std::io::Error::last_os_error()
        );
        return None;
    }
    Some(vfs.f_bavail as u64 * vfs.f_frsize as u64)
}

fn check_free_space(file: &File, needed: u64, path: &Path) -> Checked<()> {
    let Some(free) = free_bytes(file) else {
        return Ok(());
    };
    if needed > free {
        return Err(Problem::Failed(anyhow::anyhow!(
            "laying out {} needs {} but its file system has {} free; free some space or lower \
             size",
            path.display(),
            bytes_exact(needed),
            bytes_exact(free),
        )));
    }
    Ok(())
}

/// What the marker says of a file of `len` bytes.
fn read_mark(path: &Path, len: u64) -> Mark {
    match read_marker(path) {
        Some((size, sparse)) if size == len && sparse => Mark::Sparse,
        Some((size, _)) if size == len => Mark::Full,
        _ => Mark::Foreign,
    }
}

/// The size recorded by plimsoll's marker and whether it says sparse, if the file carries one.
fn read_marker(path: &Path) -> Option<(u64, bool)> {
    let c_path = CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut value = [0u8; 64];
    // SAFETY: both strings are NUL-terminated and `value` has room for the length given.
    let n = unsafe {
        libc::getxattr(
            c_path.as_ptr(),
            MARKER.as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    let text = std::str::from_utf8(value.get(..usize::try_from(n).ok()?)?).ok()?;
    let text = text.strip_prefix("size=")?;
    let (size, sparse) = match text.strip_suffix(";sparse") {
        Some(size) => (size, true),
        None => (text, false),
    };
    Some((size.parse().ok()?, sparse))
}

fn write_marker(file: &File, size: u64, sparse: bool) {
    let value = format!("size={size}{}", if sparse { ";sparse" } else { "" });
    // SAFETY: the name is NUL-terminated, the value is read for the length given, and the
    // descriptor is open for the call.
    let status = unsafe {
        libc::fsetxattr(
            file.as_raw_fd(),
            MARKER.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if status != 0 {
        tracing::debug!(
            "cannot mark the file as plimsoll's ({}); a later run will not reuse it",
            std::io::Error::last_os_error()
        );
    }
}

fn remove_marker(file: &File) {
    // SAFETY: the name is NUL-terminated and the descriptor is open for the call. A missing
    // marker is not an error worth reporting.
    unsafe { libc::fremovexattr(file.as_raw_fd(), MARKER.as_ptr()) };
}

/// Drops the file's cached pages so the first buffered reads go to the device.
fn drop_cached_pages(file: &File, size: u64) {
    // SAFETY: the descriptor is open for the call; the advice changes no file contents.
    let status = unsafe {
        libc::posix_fadvise(
            file.as_raw_fd(),
            0,
            size as libc::off_t,
            libc::POSIX_FADV_DONTNEED,
        )
    };
    if status != 0 {
        tracing::debug!("posix_fadvise(DONTNEED) failed with errno {status}");
    }
}

/// Deletes a file this run created, when dropped or run, unless the job keeps it.
pub(crate) struct Removal {
    path: Option<PathBuf>,
    created: bool,
}

impl Removal {
    pub fn created(&self) -> bool {
        self.created
    }

    pub fn run(&mut self) {
        let Some(path) = self.path.take() else { return };
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::debug!(path = %path.display(), "removed the data file"),
            Err(e) => tracing::warn!(path = %path.display(), "cannot remove the data file: {e}"),
        }
    }
}

impl Drop for Removal {
    fn drop(&mut self) {
        self.run();
    }
}

/// Makes a write past the file-size limit (RLIMIT_FSIZE) fail with EFBIG, counted as an error,
/// instead of killing the process with SIGXFSZ. Leaves a handler someone installed alone.
pub(crate) fn ignore_file_size_signal() {
    // SAFETY: `sigaction` is plain data; zeroed is a valid value that the query overwrites.
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: querying with a null new action changes nothing; `current` is writable.
    let queried = unsafe { libc::sigaction(libc::SIGXFSZ, std::ptr::null(), &mut current) };
    if queried == 0 && current.sa_sigaction == libc::SIG_DFL {
        // SAFETY: ignoring a signal installs no code; SIG_IGN is always a valid disposition.
        unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
        tracing::debug!("SIGXFSZ ignored: writes past the file-size limit count as EFBIG");
    }
}
