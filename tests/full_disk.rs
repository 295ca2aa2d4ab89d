//! A write job that fills its file system: `layout = "sparse"` on a 4 MiB tmpfs with a 16 MiB
//! file. The run must go on with the ENOSPC errors counted, and leave exactly one JSON
//! document, with logs on stderr (shared case 3). Needs root, to mount the tmpfs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn plimsoll() -> Command {
    Command::new(env!("CARGO_BIN_EXE_plimsoll"))
}

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("full-disk-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

/// A tmpfs mounted for one test, unmounted when dropped, so a failed assertion leaves no mount.
struct SmallTmpfs {
    dir: PathBuf,
}

impl SmallTmpfs {
    /// Fails the test when the mount fails: a skipped check would pass silently.
    fn mount(dir: &Path, size: &str) -> SmallTmpfs {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("cannot run mount");
        assert!(
            out.status.success(),
            "mounting a tmpfs on {} failed (this test needs root): {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        SmallTmpfs {
            dir: dir.to_path_buf(),
        }
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let out = Command::new("umount").arg(&self.dir).output();
        if !out.is_ok_and(|o| o.status.success()) {
            eprintln!("could not unmount {}", self.dir.display());
        }
    }
}

fn workload(data_dir: &Path, pattern: &str) -> String {
    format!(
        r#"name = "full-disk"
duration = "3s"
interval = "1s"

[[jobs]]
kind = "disk"
name = "fill"
path = "{dir}"
size = "16MiB"
pattern = "{pattern}"
block_size = "64KiB"
layout = "sparse"
"#,
        dir = data_dir.display()
    )
}

fn run(workload_path: &Path, out_dir: &Path) -> Output {
    plimsoll()
        .arg("run")
        .arg(workload_path)
        .arg("-o")
        .arg(out_dir)
        .output()
        .unwrap()
}

fn write_op(results: &Value) -> &Value {
    let ops = results["jobs"][0]["operations"].as_array().unwrap();
    ops.iter()
        .find(|op| op["op"] == "write")
        .unwrap_or_else(|| panic!("no write operation in {ops:?}"))
}

#[test]
fn a_write_job_that_fills_the_disk_leaves_one_json_document_with_the_errors_inside() {
    let scratch = scratch();
    let mount_point = scratch.path().join("small");
    std::fs::create_dir(&mount_point).unwrap();
    let tmpfs = SmallTmpfs::mount(&mount_point, "4m");
    let workload_path = scratch.path().join("workload.toml");
    std::fs::write(&workload_path, workload(&tmpfs.dir, "write")).unwrap();
    let out_dir = scratch.path().join("out");

    let out = run(&workload_path, &out_dir);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    // Writes before the file system filled succeeded, so the run is not a total failure.
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("ENOSPC"),
        "the warning before load: {stderr}"
    );

    let text = std::fs::read_to_string(out_dir.join("results.json")).unwrap();
    assert!(
        text.starts_with('{'),
        "starts with the document: {text:.200}"
    );
    let results: Value = serde_json::from_str(&text).expect("exactly one JSON document");
    assert_eq!(results["status"], "complete");
    assert_eq!(results["jobs"][0]["target"]["layout"], "sparse");
    let write = write_op(&results);
    assert!(
        write["count"].as_u64().unwrap() > 0,
        "some writes fit: {write}"
    );
    let errors = write["errors"].as_array().unwrap();
    let enospc = errors.iter().find(|e| e["kind"] == "ENOSPC");
    let enospc = enospc.unwrap_or_else(|| panic!("no ENOSPC in {errors:?}"));
    assert!(enospc["count"].as_u64().unwrap() > 0, "{enospc}");
    assert_eq!(enospc["errno"], libc::ENOSPC);

    for line in stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| l.len() > 20)
    {
        assert!(!text.contains(line), "output leaked into the JSON: {line}");
    }
    let left: Vec<_> = std::fs::read_dir(&tmpfs.dir).unwrap().collect();
    assert!(left.is_empty(), "the data file is removed: {left:?}");
}

#[test]
fn a_sparse_layout_with_a_pattern_that_reads_is_refused_naming_the_key() {
    let scratch = scratch();
    let workload_path = scratch.path().join("workload.toml");
    for pattern in ["read", "randrw"] {
        std::fs::write(&workload_path, workload(scratch.path(), pattern)).unwrap();
        let out = run(&workload_path, &scratch.path().join("out"));
        assert_eq!(out.status.code(), Some(2), "{pattern}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("workload.toml:"), "located: {stderr}");
        assert!(stderr.contains("jobs[0].layout"), "names the key: {stderr}");
        assert!(stderr.contains(pattern), "names the pattern: {stderr}");
    }
    let left = std::fs::read_dir(scratch.path()).unwrap();
    let data = left.filter(|e| {
        e.as_ref()
            .unwrap()
            .path()
            .extension()
            .is_some_and(|x| x == "dat")
    });
    assert_eq!(data.count(), 0, "no file laid out");
}

#[test]
fn a_kept_sparse_file_is_laid_out_with_data_before_a_read_job_uses_it() {
    let scratch = scratch();
    let data = scratch.path().join("fill.plimsoll.dat");
    let workload_path = scratch.path().join("workload.toml");
    let sparse = workload(scratch.path(), "randwrite").replace("3s", "1s") + "keep = true\n";
    std::fs::write(&workload_path, sparse).unwrap();
    let out = run(&workload_path, &scratch.path().join("out-write"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let read = workload(&data, "randread")
        .replace("3s", "1s")
        .replace("layout = \"sparse\"\n", "");
    std::fs::write(&workload_path, read).unwrap();
    let out = run(&workload_path, &scratch.path().join("out-read"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(scratch.path().join("out-read/results.json")).unwrap();
    let results: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(results["jobs"][0]["target"]["layout"], "relaid");
    let meta = std::fs::metadata(&data).unwrap();
    let allocated = std::os::unix::fs::MetadataExt::blocks(&meta) * 512;
    assert!(
        allocated >= meta.len(),
        "no holes left: {allocated} of {} B",
        meta.len()
    );
}
