//! What each Redis operation sends: the weighted mix, key numbers turned into key names, SET
//! values, and command templates with `{key}` and `{value}` filled in.
//!
//! Built once per job and shared read-only by every lane; a lane keeps its own RNG and
//! scratch buffers, and commands are packed as RESP straight into the lane's write buffer,
//! so picking and formatting allocate nothing once the buffers have grown.

use rand::rngs::SmallRng;
use rand::{Rng, RngExt, SeedableRng};

use super::resp;
use crate::load::{LoadError, OffsetPicker};
use crate::measure::OpId;
use crate::workload::units::Share;
use crate::workload::{Distribution, KeyDistribution, MixOp, RedisJob, Zone};

/// One entry of the mix, ready to send.
#[derive(Debug, Clone)]
pub(super) enum Command {
    Get,
    Set,
    /// Each word as pieces: literal bytes, the key, or the value.
    Template(Vec<Vec<Piece>>),
}

#[derive(Debug, Clone)]
pub(super) enum Piece {
    Literal(Vec<u8>),
    Key,
    Value,
}

/// Everything a lane needs to choose and write its next operation.
#[derive(Debug)]
pub(super) struct Plan {
    pub commands: Vec<Command>,
    pub names: Vec<&'static str>,
    /// Running sums of the weights, for one draw per pick.
    cumulative: Vec<u64>,
    keys: KeyPicker,
    prefix: Vec<u8>,
    /// The number of the first key (a shard's slice starts there).
    first: u64,
    values: Vec<u8>,
    value_min: usize,
    pub seed: u64,
}

#[derive(Debug)]
enum KeyPicker {
    Drawn(OffsetPicker),
    /// Keys in order; each lane walks its own stride so lanes do not repeat each other.
    Sequential {
        count: u64,
    },
}

/// A lane's own state for choosing keys and values.
pub(super) struct Chooser {
    rng: SmallRng,
    next_key: u64,
    stride: u64,
}

impl Plan {
    pub fn new(job: &RedisJob) -> Result<Plan, LoadError> {
        let seed = job.seed.unwrap_or(0);
        let commands = job.mix.iter().map(command).collect();
        // Op names live for the whole run; a handful per job.
        let names = job
            .mix
            .iter()
            .map(|e| &*Box::leak(e.op_name().into_boxed_str()))
            .collect();
        let cumulative = job
            .mix
            .iter()
            .scan(0u64, |sum, e| {
                *sum += u64::from(e.weight);
                Some(*sum)
            })
            .collect();
        let max = job.value_size_max.unwrap_or(job.value_size).0 as usize;
        Ok(Plan {
            commands,
            names,
            cumulative,
            keys: key_picker(&job.keys.distribution, job.keys.count, seed)?,
            prefix: job.keys.prefix.as_bytes().to_vec(),
            first: job.keys.first,
            values: value_bytes(max, seed),
            value_min: job.value_size.0 as usize,
            seed,
        })
    }

    pub fn chooser(&self, lane: u64, lanes: u64) -> Chooser {
        Chooser {
            rng: SmallRng::seed_from_u64(self.seed.wrapping_add(lane.wrapping_mul(0x2545_F491))),
            next_key: lane,
            stride: lanes.max(1),
        }
    }

    pub fn pick(&self, chooser: &mut Chooser) -> OpId {
        let total = *self.cumulative.last().unwrap_or(&1);
        let draw = chooser.rng.random_range(0..total);
        let index = self.cumulative.partition_point(|&sum| sum <= draw);
        OpId(index as u8)
    }

    /// Writes key number `n` as a key name into `out`.
    pub fn key(&self, n: u64, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.prefix);
        resp::push_decimal(out, self.first + n);
    }

    /// Appends key number `n` to a command as one bulk string, with no copy in between.
    fn push_key(&self, n: u64, out: &mut Vec<u8>) {
        let number = self.first + n;
        resp::push_bulk_header(out, self.prefix.len() + resp::decimal_len(number));
        out.extend_from_slice(&self.prefix);
        resp::push_decimal(out, number);
        out.extend_from_slice(b"\r\n");
    }

    pub fn next_key(&self, chooser: &mut Chooser) -> u64 {
        match &self.keys {
            KeyPicker::Drawn(picker) => picker.pick(&mut chooser.rng),
            KeyPicker::Sequential { count } => {
                let key = chooser.next_key % count;
                chooser.next_key = chooser.next_key.wrapping_add(chooser.stride);
                key
            }
        }
    }

    /// A value of a size drawn between the job's bounds.
    pub fn value<'a>(&'a self, rng: &mut impl Rng) -> &'a [u8] {
        let len = if self.value_min >= self.values.len() {
            self.values.len()
        } else {
            rng.random_range(self.value_min..=self.values.len())
        };
        &self.values[..len]
    }

    /// Appends operation `op` on a fresh key to `out` as a RESP command; returns the value
    /// bytes it carries.
    pub fn add(
        &self,
        op: OpId,
        chooser: &mut Chooser,
        scratch: &mut Scratch,
        out: &mut Vec<u8>,
    ) -> u64 {
        let key = self.next_key(chooser);
        match &self.commands[op.0 as usize] {
            Command::Get => {
                out.extend_from_slice(b"*2\r\n$3\r\nGET\r\n");
                self.push_key(key, out);
                0
            }
            Command::Set => {
                let value = self.value(&mut chooser.rng);
                out.extend_from_slice(b"*3\r\n$3\r\nSET\r\n");
                self.push_key(key, out);
                resp::push_bulk(out, value);
                value.len() as u64
            }
            Command::Template(words) => {
                self.key(key, &mut scratch.key);
                self.add_template(words, chooser, scratch, out);
                0
            }
        }
    }

    fn add_template(
        &self,
        words: &[Vec<Piece>],
        chooser: &mut Chooser,
        scratch: &mut Scratch,
        out: &mut Vec<u8>,
    ) {
        let value = self.value(&mut chooser.rng);
        resp::push_array(out, words.len());
        for word in words {
            scratch.word.clear();
            for piece in word {
                match piece {
                    Piece::Literal(bytes) => scratch.word.extend_from_slice(bytes),
                    Piece::Key => scratch.word.extend_from_slice(&scratch.key),
                    Piece::Value => scratch.word.extend_from_slice(value),
                }
            }
            resp::push_bulk(out, &scratch.word);
        }
    }

    /// The bytes of a SET of key number `n`, for the prefill.
    pub fn prefill_value(&self) -> &[u8] {
        &self.values[..self.value_min.min(self.values.len())]
    }
}

/// A lane's reusable buffers for key names and template words.
#[derive(Default)]
pub(super) struct Scratch {
    pub key: Vec<u8>,
    word: Vec<u8>,
}

fn command(entry: &crate::workload::MixEntry) -> Command {
    match (entry.op, &entry.command) {
        (Some(MixOp::Get), _) => Command::Get,
        (Some(MixOp::Set), _) => Command::Set,
        (None, words) => Command::Template(words.iter().flatten().map(|w| pieces(w)).collect()),
    }
}

/// Splits a template word at `{key}` and `{value}`; anything else is literal.
pub(super) fn pieces(word: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = word;
    while let Some(at) = rest.find('{') {
        let tail = &rest[at..];
        let (piece, len) = if tail.starts_with("{key}") {
            (Piece::Key, 5)
        } else if tail.starts_with("{value}") {
            (Piece::Value, 7)
        } else {
            push_literal(&mut out, &rest[..=at]);
            rest = &rest[at + 1..];
            continue;
        };
        push_literal(&mut out, &rest[..at]);
        out.push(piece);
        rest = &rest[at + len..];
    }
    push_literal(&mut out, rest);
    out
}

fn push_literal(out: &mut Vec<Piece>, text: &str) {
    if text.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(Piece::Literal(bytes)) => bytes.extend_from_slice(text.as_bytes()),
        _ => out.push(Piece::Literal(text.as_bytes().to_vec())),
    }
}

fn key_picker(
    distribution: &KeyDistribution,
    count: u64,
    seed: u64,
) -> Result<KeyPicker, LoadError> {
    let drawn = |d: Distribution| OffsetPicker::new(&d, count, seed).map(KeyPicker::Drawn);
    match distribution {
        KeyDistribution::Uniform => drawn(Distribution::Uniform),
        KeyDistribution::Zipf { theta } => drawn(Distribution::Zipf { theta: *theta }),
        KeyDistribution::Gaussian { stddev } => drawn(Distribution::Normal { stddev: *stddev }),
        KeyDistribution::HotSet { keys, access } => drawn(Distribution::Zones {
            zones: vec![
                Zone {
                    access: *access,
                    size: *keys,
                },
                Zone {
                    access: Share(1.0 - access.0),
                    size: Share(1.0 - keys.0),
                },
            ],
        }),
        KeyDistribution::Sequential => Ok(KeyPicker::Sequential { count }),
    }
}

/// Printable bytes, so values read sensibly in redis-cli.
fn value_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5EED);
    (0..len).map(|_| rng.random_range(b'a'..=b'z')).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(piece: &Piece) -> Option<&[u8]> {
        match piece {
            Piece::Literal(bytes) => Some(bytes),
            _ => None,
        }
    }

    #[test]
    fn placeholders_split_a_word_and_other_braces_stay() {
        let parts = pieces("user:{key}:{x}={value}");
        assert_eq!(parts.len(), 4);
        assert_eq!(literal(&parts[0]), Some(&b"user:"[..]));
        assert!(matches!(parts[1], Piece::Key));
        assert_eq!(literal(&parts[2]), Some(&b":{x}="[..]));
        assert!(matches!(parts[3], Piece::Value));
    }
}
