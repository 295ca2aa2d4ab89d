//! Parameter generators and the values one transaction binds.
//!
//! Every generator is built once per job and shared read-only by every lane (the shared
//! counters of sequences and YCSB inserts are atomics, not locks). A lane owns a [`Draw`]: its
//! RNG and one slot per parameter, whose text buffers are reused, so drawing allocates nothing
//! once the buffers have grown.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use rand::rngs::SmallRng;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Distribution as _, Zipf};

use crate::load::{LoadError, OffsetPicker};
use crate::workload::units::Share;
use crate::workload::{Distribution, IntDistribution, ListValue, ParamSpec, Zone};

/// One parameter's value as a backend binds it.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Int(i64),
    Text(&'a str),
}

/// How one parameter's values are made.
#[derive(Debug)]
pub enum Generator {
    /// `min` plus a slot number drawn over the range, up to `max`.
    Int {
        min: i64,
        max: i64,
        picker: OffsetPicker,
    },
    /// Random letters and digits, `min` to `max` characters.
    Text {
        min: usize,
        max: usize,
    },
    /// Job-wide `start`, `start + 1`, ...
    Sequence(AtomicI64),
    List(Vec<ListValue>),
    /// A YCSB key: `user` and the row number, zero-padded so keys sort as numbers do.
    Key(KeySource),
    /// The key of a new YCSB row, past every row loaded or inserted so far.
    NewKey(Arc<Rows>),
}

/// Where YCSB request keys come from.
#[derive(Debug)]
pub enum KeySource {
    /// Over the loaded rows.
    Loaded(OffsetPicker),
    /// Zipf over recency: rank 0 is the newest row, loaded or inserted.
    Latest { zipf: Zipf<f64>, rows: Arc<Rows> },
}

/// The rows of a YCSB table: `loaded` by init, `inserted` since (job-wide).
#[derive(Debug, Default)]
pub struct Rows {
    pub loaded: u64,
    pub inserted: AtomicU64,
}

impl Rows {
    fn total(&self) -> u64 {
        self.loaded + self.inserted.load(Ordering::Relaxed)
    }
}

/// The text of YCSB key number `n`.
pub fn write_key(n: u64, out: &mut String) {
    use std::fmt::Write as _;
    out.clear();
    let _ = write!(out, "user{n:012}");
}

impl Generator {
    /// The generator for a user's `params` entry; `seed` fixes the scatter of skewed ones.
    pub fn from_spec(spec: &ParamSpec, seed: u64) -> Result<Generator, LoadError> {
        Ok(match spec {
            ParamSpec::Int {
                min,
                max,
                distribution,
            } => {
                let slots = max.abs_diff(*min).saturating_add(1);
                let picker = OffsetPicker::new(&int_distribution(*distribution), slots, seed)?;
                Generator::Int {
                    min: *min,
                    max: *max,
                    picker,
                }
            }
            ParamSpec::String { length, length_max } => Generator::Text {
                min: *length as usize,
                max: length_max.unwrap_or(*length) as usize,
            },
            ParamSpec::Sequence { start } => Generator::Sequence(AtomicI64::new(*start)),
            ParamSpec::List { values } => Generator::List(values.clone()),
        })
    }

    /// Whole numbers from `min` to `max` inclusive, uniformly.
    pub fn uniform(min: i64, max: i64) -> Generator {
        let slots = max.abs_diff(min).saturating_add(1);
        let picker = OffsetPicker::new(&Distribution::Uniform, slots, 0)
            .expect("a uniform range of at least one slot");
        Generator::Int { min, max, picker }
    }

    /// What it draws, as a message names it: `an int from 1 to 10`.
    pub fn describe(&self) -> String {
        match self {
            Generator::Int { min, max, .. } => format!("an int from {min} to {max}"),
            Generator::Text { min, max } if min == max => {
                format!("a string of {min} random letters and digits")
            }
            Generator::Text { min, max } => {
                format!("a string of {min} to {max} random letters and digits")
            }
            // Nothing has been drawn at setup, when this is asked.
            Generator::Sequence(next) => {
                format!("a sequence from {}", next.load(Ordering::Relaxed))
            }
            Generator::List(values) => {
                let shown: Vec<String> = values.iter().take(5).map(list_value).collect();
                let more = if values.len() > 5 { ", ..." } else { "" };
                format!("a list of {}{more}", shown.join(", "))
            }
            Generator::Key(_) | Generator::NewKey(_) => "YCSB keys (text)".to_owned(),
        }
    }
}

/// The key distributions are the ones disk offsets use; hotspot is a two-zone layout.
pub fn int_distribution(distribution: IntDistribution) -> Distribution {
    match distribution {
        IntDistribution::Uniform => Distribution::Uniform,
        IntDistribution::Zipfian { theta } => Distribution::Zipf { theta },
        IntDistribution::Hotspot { keys, access } => Distribution::Zones {
            zones: vec![
                Zone { access, size: keys },
                Zone {
                    access: Share(1.0 - access.0),
                    size: Share(1.0 - keys.0),
                },
            ],
        },
    }
}

/// One parameter's drawn value: a number, or text in a reused buffer.
#[derive(Debug, Default)]
struct Slot {
    int: i64,
    text: String,
    is_text: bool,
}

/// A lane's RNG and the values of the transaction it is running.
pub struct Draw {
    pub rng: SmallRng,
    slots: Vec<Slot>,
}

const ALPHANUMERIC: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

impl Draw {
    pub fn new(params: usize, seed: u64) -> Draw {
        Draw {
            rng: SmallRng::seed_from_u64(seed),
            slots: (0..params).map(|_| Slot::default()).collect(),
        }
    }

    /// Draws a new value for each of `params` (indexes into `generators`).
    pub fn fill(&mut self, generators: &[Generator], params: &[usize]) {
        for &p in params {
            draw_one(&generators[p], &mut self.slots[p], &mut self.rng);
        }
    }

    pub fn value(&self, param: usize) -> Value<'_> {
        let slot = &self.slots[param];
        if slot.is_text {
            Value::Text(&slot.text)
        } else {
            Value::Int(slot.int)
        }
    }
}

fn draw_one(generator: &Generator, slot: &mut Slot, rng: &mut SmallRng) {
    slot.is_text = false;
    match generator {
        Generator::Int { min, picker, .. } => slot.int = min.wrapping_add(picker.pick(rng) as i64),
        Generator::Text { min, max } => {
            let len = rng.random_range(*min..=*max);
            random_text(len, &mut slot.text, rng);
            slot.is_text = true;
        }
        Generator::Sequence(next) => slot.int = next.fetch_add(1, Ordering::Relaxed),
        Generator::List(values) => match &values[rng.random_range(0..values.len())] {
            ListValue::Int(n) => slot.int = *n,
            ListValue::Text(text) => {
                slot.text.clear();
                slot.text.push_str(text);
                slot.is_text = true;
            }
        },
        Generator::Key(source) => {
            write_key(pick_key(source, rng), &mut slot.text);
            slot.is_text = true;
        }
        Generator::NewKey(rows) => {
            let n = rows.loaded + rows.inserted.fetch_add(1, Ordering::Relaxed);
            write_key(n, &mut slot.text);
            slot.is_text = true;
        }
    }
}

/// A list value as the workload writes it: a number, or text in quotes.
pub fn list_value(value: &ListValue) -> String {
    match value {
        ListValue::Int(n) => n.to_string(),
        ListValue::Text(text) => format!("{text:?}"),
    }
}

fn pick_key(source: &KeySource, rng: &mut SmallRng) -> u64 {
    match source {
        KeySource::Loaded(picker) => picker.pick(rng),
        KeySource::Latest { zipf, rows } => {
            let newest = rows.total().saturating_sub(1);
            let rank = (zipf.sample(rng) as u64).saturating_sub(1);
            newest.saturating_sub(rank)
        }
    }
}

/// Fills `out` with `len` random letters and digits.
pub fn random_text<R: Rng + ?Sized>(len: usize, out: &mut String, rng: &mut R) {
    out.clear();
    out.extend((0..len).map(|_| ALPHANUMERIC[rng.random_range(0..ALPHANUMERIC.len())] as char));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_stay_in_their_bounds_and_sequences_count_up() {
        let generators = [
            Generator::uniform(-5, 5),
            Generator::Sequence(AtomicI64::new(7)),
        ];
        let mut draw = Draw::new(2, 1);
        let mut seen = Vec::new();
        for _ in 0..1000 {
            draw.fill(&generators, &[0, 1]);
            let Value::Int(n) = draw.value(0) else {
                panic!("an int")
            };
            assert!((-5..=5).contains(&n));
            let Value::Int(s) = draw.value(1) else {
                panic!("an int")
            };
            seen.push(s);
        }
        assert_eq!(seen.first(), Some(&7));
        assert_eq!(seen.last(), Some(&1006));
    }

    #[test]
    fn latest_keys_follow_inserts() {
        let rows = Arc::new(Rows {
            loaded: 100,
            inserted: AtomicU64::new(0),
        });
        let source = KeySource::Latest {
            zipf: Zipf::new(100.0, 0.99).unwrap(),
            rows: rows.clone(),
        };
        let mut rng = SmallRng::seed_from_u64(3);
        rows.inserted.store(50, Ordering::Relaxed);
        let keys: Vec<u64> = (0..1000).map(|_| pick_key(&source, &mut rng)).collect();
        assert!(keys.iter().all(|&k| k < 150));
        let newest = keys.iter().filter(|&&k| k == 149).count();
        assert!(
            newest > 100,
            "the newest key is the hottest: {newest} of 1000"
        );
    }
}
