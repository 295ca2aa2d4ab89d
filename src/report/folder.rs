//! A report folder: `index.html` with every chart inline, the same charts as PNG files in
//! `charts/`, and one HdrHistogram interval log per job and operation in `hlog/`. Everything is
//! made from a results document alone, redacted first, so a report can be rebuilt long after
//! the run. It does not write the results file (the run does) and does not print.

use std::path::{Path, PathBuf};

use super::charts::{self, Chart, ChartError};
use super::html::{self, ChartView, HlogLink, JobExtras, PageError};
use super::{capacity, hlog, redact, resources, series};
use crate::results::{JobResults, RunResults};

/// What was written, relative paths joined to the folder.
#[derive(Debug, Clone)]
pub struct ReportFiles {
    pub index: PathBuf,
    pub pngs: Vec<PathBuf>,
    pub hlogs: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Chart(#[from] ChartError),
    #[error(transparent)]
    Page(#[from] PageError),
}

/// Writes the report of `results` into `dir`, creating it; files already there are replaced.
pub fn write(results: &RunResults, dir: &Path) -> Result<ReportFiles, ReportError> {
    let shown = redact::results(results);
    for sub in ["charts", "hlog"] {
        create_dir(&dir.join(sub))?;
    }
    let mut files = ReportFiles {
        index: dir.join("index.html"),
        pngs: Vec::new(),
        hlogs: Vec::new(),
    };
    let mut extras = Vec::new();
    for (index, job) in shown.jobs.iter().enumerate() {
        extras.push(job_files(&shown, index, job, dir, &mut files)?);
    }
    let mut resource_charts = Vec::new();
    for chart in resources::charts(&shown) {
        resource_charts.push(chart_files(chart, dir, &mut files)?);
    }
    let mut capacity_charts = Vec::new();
    for chart in capacity::charts(&shown) {
        capacity_charts.push(chart_files(chart, dir, &mut files)?);
    }
    let page = html::render(&shown, extras, resource_charts, capacity_charts)?;
    write_file(&files.index, page.as_bytes())?;
    Ok(files)
}

fn job_files(
    results: &RunResults,
    index: usize,
    job: &JobResults,
    dir: &Path,
    files: &mut ReportFiles,
) -> Result<JobExtras, ReportError> {
    let mut extras = JobExtras::default();
    for chart in series::job_charts(results, index, job) {
        extras.charts.push(chart_files(chart, dir, files)?);
    }
    for op in job.operations.iter().map(|o| &o.op) {
        let Some(log) = hlog::interval_log(results, job, op) else {
            continue;
        };
        let name = format!("job{}-{}", index + 1, series::file_safe(&job.name));
        let path = format!("hlog/{name}-{}.hlog", series::file_safe(op));
        write_file(&dir.join(&path), log.as_bytes())?;
        files.hlogs.push(dir.join(&path));
        extras.hlogs.push(HlogLink {
            op: op.clone(),
            path,
        });
    }
    Ok(extras)
}

/// Writes the chart's PNG and returns its view, SVG inline.
fn chart_files(
    chart: Chart,
    dir: &Path,
    files: &mut ReportFiles,
) -> Result<ChartView, ReportError> {
    let png = format!("charts/{}.png", chart.id);
    charts::to_png(&chart, &dir.join(&png))?;
    files.pngs.push(dir.join(&png));
    Ok(ChartView {
        svg: minijinja::Value::from_safe_string(charts::to_svg(&chart)?),
        id: chart.id,
        title: chart.title,
        png,
        note: chart.note,
    })
}

fn create_dir(path: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(path).map_err(|source| ReportError::Write {
        path: path.to_owned(),
        source,
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    std::fs::write(path, bytes).map_err(|source| ReportError::Write {
        path: path.to_owned(),
        source,
    })
}
