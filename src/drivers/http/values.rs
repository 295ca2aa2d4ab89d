//! The value generators templates draw from: integer ranges with a distribution, job-wide
//! sequences, random strings, UUIDs and CSV columns.
//!
//! Built once per job (CSV files are read here, before any load) and shared read-only by
//! every lane; a lane draws with its own RNG. Sequences and a CSV column read in order are
//! shared by every thread of the job through one atomic counter each, so their values do not
//! repeat across threads until they wrap.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use minijinja::Value;
use rand::RngExt as _;
use rand::rngs::SmallRng;

use crate::load::OffsetPicker;
use crate::workload::{CsvOrder, ValueSpec};

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

#[derive(Debug)]
pub(super) struct Generator {
    pub name: String,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Int {
        min: i64,
        picker: OffsetPicker,
    },
    Sequence {
        start: i64,
        step: i64,
        next: AtomicU64,
    },
    String {
        length: usize,
        charset: Vec<char>,
    },
    Uuid,
    Csv {
        rows: Vec<Arc<str>>,
        order: CsvOrder,
        next: AtomicU64,
    },
}

impl Generator {
    /// The generator for `spec`, or what the user should fix.
    pub fn new(name: &str, spec: &ValueSpec, seed: u64) -> Result<Generator, String> {
        let kind = match spec {
            ValueSpec::Int {
                min,
                max,
                distribution,
            } => {
                let slots = max.abs_diff(*min).saturating_add(1);
                let picker = OffsetPicker::new(distribution, slots, seed)
                    .map_err(|e| format!("values.{name}: {e}"))?;
                Kind::Int { min: *min, picker }
            }
            ValueSpec::Sequence { start, step } => Kind::Sequence {
                start: *start,
                step: *step,
                next: AtomicU64::new(0),
            },
            ValueSpec::String { length, charset } => Kind::String {
                length: *length as usize,
                charset: match charset {
                    Some(chars) => chars.chars().collect(),
                    None => ALPHANUMERIC.iter().map(|&b| char::from(b)).collect(),
                },
            },
            ValueSpec::Uuid => Kind::Uuid,
            ValueSpec::Csv {
                file,
                column,
                order,
            } => Kind::Csv {
                rows: read_column(file, column).map_err(|e| format!("values.{name}: {e}"))?,
                order: *order,
                next: AtomicU64::new(0),
            },
        };
        Ok(Generator {
            name: name.to_owned(),
            kind,
        })
    }

    pub fn draw(&self, rng: &mut SmallRng) -> Value {
        match &self.kind {
            Kind::Int { min, picker } => Value::from(min.wrapping_add(picker.pick(rng) as i64)),
            Kind::Sequence { start, step, next } => {
                let n = next.fetch_add(1, Ordering::Relaxed) as i64;
                Value::from(start.wrapping_add(n.wrapping_mul(*step)))
            }
            Kind::String { length, charset } => {
                let text: String = (0..*length)
                    .map(|_| charset[rng.random_range(0..charset.len())])
                    .collect();
                Value::from(text)
            }
            Kind::Uuid => {
                let bytes: [u8; 16] = rng.random();
                Value::from(
                    uuid::Builder::from_random_bytes(bytes)
                        .into_uuid()
                        .to_string(),
                )
            }
            Kind::Csv { rows, order, next } => {
                let i = match order {
                    CsvOrder::Sequential => next.fetch_add(1, Ordering::Relaxed) as usize,
                    CsvOrder::Random => rng.random_range(0..rows.len()),
                };
                Value::from(rows[i % rows.len()].clone())
            }
        }
    }

    /// How many values a CSV column holds, for the results.
    pub fn rows(&self) -> Option<usize> {
        match &self.kind {
            Kind::Csv { rows, .. } => Some(rows.len()),
            _ => None,
        }
    }
}

/// One column of a CSV file with a header row. A file that is missing, has no such column or
/// no rows is refused: every request would otherwise render a blank.
fn read_column(file: &std::path::Path, column: &str) -> Result<Vec<Arc<str>>, String> {
    let shown = file.display();
    let mut reader =
        csv::Reader::from_path(file).map_err(|e| format!("cannot read CSV file `{shown}`: {e}"))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("CSV file `{shown}` has no readable header row: {e}"))?
        .clone();
    let Some(index) = headers.iter().position(|h| h == column) else {
        let names: Vec<&str> = headers.iter().collect();
        return Err(format!(
            "CSV file `{shown}` has no column `{column}`; its columns are {}",
            names.join(", ")
        ));
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("CSV file `{shown}`: {e}"))?;
        rows.push(Arc::from(record.get(index).unwrap_or_default()));
    }
    if rows.is_empty() {
        return Err(format!("CSV file `{shown}` has a header row but no values"));
    }
    Ok(rows)
}
