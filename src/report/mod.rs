//! Renderers of results: the terminal summary, the live progress line, and the report folder
//! (HTML page, PNG charts, HdrHistogram interval logs) made from a results file alone.

pub mod capacity;
pub mod charts;
pub mod folder;
pub mod format;
pub mod hlog;
pub mod html;
pub mod progress;
pub use crate::redact;
pub mod resources;
pub mod series;
pub mod terminal;

pub use folder::{ReportError, ReportFiles, write as write_folder};
