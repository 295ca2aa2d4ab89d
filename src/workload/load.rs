//! Reading a workload file: TOML parse, then checks that need more than one field.

use std::path::{Path, PathBuf};

use super::Workload;

/// Why a workload file was refused. The message names the file, line, column and field.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("cannot read workload file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{file}:{line}:{column}: {message}")]
    Invalid { file: String, line: usize, column: usize, message: String },
}

pub fn load_file(path: &Path) -> Result<Workload, WorkloadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| WorkloadError::Read { path: path.to_owned(), source })?;
    load_str(&path.display().to_string(), &text)
}

pub fn load_str(file: &str, text: &str) -> Result<Workload, WorkloadError> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |span| line_column(text, span.start));
        WorkloadError::Invalid { file: file.to_owned(), line, column, message: e.message().to_owned() }
    })
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
