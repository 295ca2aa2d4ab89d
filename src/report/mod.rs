//! Renderers of results: today the terminal summary and the live progress line.

pub mod format;
pub mod progress;
pub mod terminal;
