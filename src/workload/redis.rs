//! The Redis job as the user writes it: where the server is, how many connections, the
//! command mix, the key space and the values, with their value checks.
//!
//! The URL is kept as written (it may hold a password) but never shown: serializing a job, as
//! the results file does, writes it with the password replaced by `***`. Connecting and
//! sending is the driver's business (`crate::drivers::redis`), and so is reading `tls_ca`:
//! whether that file exists and holds certificates is found out when the job is prepared.

use std::path::PathBuf;

use serde::{Deserialize, Serialize, Serializer};

use super::load_model::{self, LoadSpec};
use super::spans::{FieldPath, Finding};
use super::units::{ByteSize, HumanDuration, Share};
use super::validate;
use crate::load::{Shard, ShardError};

/// Connections per job; each is a socket and at least one task.
pub const MAX_CONNECTIONS: u32 = 10_000;
/// Commands in one pipeline batch (or in flight per connection, for the open model).
pub const MAX_PIPELINE: u32 = 10_000;
/// The largest value a SET sends: Redis itself refuses bulk strings above 512 MiB.
pub const MAX_VALUE_SIZE: ByteSize = ByteSize(512 << 20);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisJob {
    pub name: String,
    /// `redis://[user][:password]@host[:port][/db]`. Shown with the password as `***`.
    #[serde(serialize_with = "serialize_redacted")]
    pub url: String,
    /// `rediss://` only: a PEM file of the CA certificates to trust in place of the system's.
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
    /// `rediss://` only: accept any server certificate, for self-signed test targets.
    /// Default false.
    #[serde(default)]
    pub tls_insecure: bool,
    /// Connections to the server, spread over `threads`. Default 1.
    #[serde(default = "one")]
    pub connections: u32,
    /// Closed model: commands sent together per batch on a connection (as redis-benchmark's
    /// -P). Open model: commands in flight per connection. Default 1.
    #[serde(default = "one")]
    pub pipeline: u32,
    /// Client threads, each with its own event loop. Default 1, which leaves the other cores
    /// to a local server.
    #[serde(default = "one")]
    pub threads: u32,
    /// How long a reply (or a connection attempt) may take before it counts as a timeout.
    /// Default 5 s. An idle connection never times out.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// Stop after this many measured operations (or at the end of the duration, if sooner).
    #[serde(default)]
    pub ops: Option<u64>,
    /// The commands, by weight. Default GET and SET, one each.
    #[serde(default = "default_mix")]
    pub mix: Vec<MixEntry>,
    #[serde(default)]
    pub keys: KeySpace,
    /// The size of every SET value, or the smallest when `value_size_max` is set. Default 64 B.
    #[serde(default = "default_value_size")]
    pub value_size: ByteSize,
    /// Values uniformly between `value_size` and this, inclusive.
    #[serde(default)]
    pub value_size_max: Option<ByteSize>,
    /// SET every key of the key space before the run (not measured). Default false.
    #[serde(default)]
    pub prefill: bool,
    /// Seed for key and command choice and for value bytes.
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub load: LoadSpec,
    /// Thresholds for this job; see [`super::Job::thresholds`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<crate::gate::Threshold>,
}

/// One weighted entry of the mix: a built-in op, or a command template.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixEntry {
    /// `get` or `set`. Excludes `command`.
    #[serde(default)]
    pub op: Option<MixOp>,
    /// A command as its words, where `{key}` and `{value}` are replaced per operation:
    /// `["HSET", "{key}", "field", "{value}"]`. Excludes `op`.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// The name results use for a command template. Default: its first word, lower case.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "one")]
    pub weight: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MixOp {
    Get,
    Set,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpace {
    /// Distinct keys. Default 10,000.
    #[serde(default = "default_key_count")]
    pub count: u64,
    /// The number of the first key: keys are `first` to `first + count - 1`. Default 0. A
    /// sharded run gives each shard its own slice this way.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub first: u64,
    /// Put before the key number: `plimsoll:42`. Default `plimsoll:`.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    #[serde(default)]
    pub distribution: KeyDistribution,
}

impl Default for KeySpace {
    fn default() -> Self {
        KeySpace {
            count: default_key_count(),
            first: 0,
            prefix: default_prefix(),
            distribution: KeyDistribution::Uniform,
        }
    }
}

/// Which keys operations pick.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum KeyDistribution {
    #[default]
    Uniform,
    /// Zipf over keys with exponent `theta` (> 0; 0.99 as in YCSB, 1.2 more skewed).
    Zipf { theta: f64 },
    /// Keys in order, wrapping at the end.
    Sequential,
    /// Normal around the middle key, `stddev` as a share of the key space.
    Gaussian { stddev: Share },
    /// `access` of the operations go to the first `keys` share of the key space.
    HotSet { keys: Share, access: Share },
}

impl MixEntry {
    /// The name this entry's operations are recorded under.
    pub fn op_name(&self) -> String {
        match (&self.name, self.op, &self.command) {
            (Some(name), _, _) => name.clone(),
            (None, Some(MixOp::Get), _) => "get".into(),
            (None, Some(MixOp::Set), _) => "set".into(),
            (None, None, Some(words)) => {
                words.first().map_or("command".into(), |w| w.to_lowercase())
            }
            (None, None, None) => "command".into(),
        }
    }
}

impl RedisJob {
    /// This shard's part of the job: its part of `connections` (threads capped to them), of
    /// `ops`, of the open model's rate and `max_in_flight`, and its own slice of the key space
    /// (`keys.first` and `keys.count`), so shards never touch each other's keys. A skewed
    /// distribution applies within each slice. The seed is the shard's own.
    pub fn shard(&self, shard: Shard) -> Result<RedisJob, ShardError> {
        let connections = shard.part_of_u32(self.connections, "connections")?;
        shard.part_of(self.keys.count, "keys.count")?;
        let slice = shard.range(self.keys.count);
        let ops = self.ops.map(|n| shard.part_of(n, "ops")).transpose()?;
        Ok(RedisJob {
            connections,
            threads: self.threads.min(connections),
            ops,
            keys: KeySpace {
                first: self.keys.first + slice.start,
                count: slice.end - slice.start,
                ..self.keys.clone()
            },
            seed: Some(shard.seed(self.seed.unwrap_or(0))),
            load: self.load.shard(shard)?,
            ..self.clone()
        })
    }
}

/// The URL with its password (if any) replaced by `***`, for logs, results and summaries.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return redact_loose(url);
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return format!("{scheme}://{authority}{}", redact_query(tail));
    };
    let user = match userinfo.split_once(':') {
        Some((user, _password)) => format!("{user}:***"),
        None if !userinfo.is_empty() => "***".into(),
        None => String::new(),
    };
    format!("{scheme}://{user}@{host}{}", redact_query(tail))
}

/// A string that is not `scheme://...` is most often a URL mistyped (`redis//:pw@host`,
/// `user:pw@host`) or a key/value connection string (`host=h password=pw`), and it is exactly
/// the one an error message quotes back: everything before an `@` and every `password=` value
/// are masked, whatever the shape.
fn redact_loose(text: &str) -> String {
    let masked = crate::redact::key_values(text);
    match masked.rfind('@') {
        Some(at) => format!("***{}", &masked[at..]),
        None => masked,
    }
}

/// `?password=...` is another way to give one.
fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

fn serialize_redacted<S: Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact_url(url))
}

fn one() -> u32 {
    1
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn default_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(5))
}

fn default_mix() -> Vec<MixEntry> {
    [MixOp::Get, MixOp::Set]
        .into_iter()
        .map(|op| MixEntry {
            op: Some(op),
            command: None,
            name: None,
            weight: 1,
        })
        .collect()
}

fn default_value_size() -> ByteSize {
    ByteSize(64)
}

fn default_key_count() -> u64 {
    10_000
}

fn default_prefix() -> String {
    "plimsoll:".into()
}

/// Everything wrong with a Redis job's values, by field.
pub(crate) fn check(job: &RedisJob, path: &FieldPath) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut ensure = |ok: bool, key: FieldPath, message: String| {
        if !ok {
            findings.push(Finding::at(key, message));
        }
    };
    check_url(&job.url, path, &mut ensure);
    check_tls(job, path, &mut ensure);
    let connections = (job.connections, MAX_CONNECTIONS);
    validate::check_pool(connections, job.threads, path, &mut ensure);
    let pipeline = job.pipeline;
    ensure(
        (1..=MAX_PIPELINE).contains(&pipeline),
        path.key("pipeline"),
        format!("pipeline is {pipeline}; use 1 to {MAX_PIPELINE}"),
    );
    ensure(
        !job.timeout.0.is_zero(),
        path.key("timeout"),
        "timeout is 0, so every reply would time out; set it above 0, like `timeout = \"5s\"`"
            .into(),
    );
    ensure(
        job.ops != Some(0),
        path.key("ops"),
        "ops is 0, so nothing would be measured; set it to 1 or more, or remove it to run for \
         the duration"
            .into(),
    );
    check_values(job, path, &mut ensure);
    check_keys(&job.keys, &path.key("keys"), &mut ensure);
    check_mix(&job.mix, &path.key("mix"), &mut ensure);
    findings.extend(load_model::check(&job.load, &path.key("load")));
    findings
}

fn check_url(url: &str, path: &FieldPath, ensure: &mut impl FnMut(bool, FieldPath, String)) {
    let scheme = url.split_once("://").map(|(s, _)| s);
    ensure(
        matches!(scheme, Some("redis" | "rediss" | "redis+unix" | "unix")),
        path.key("url"),
        format!(
            "url `{}` is not a Redis URL; write it like `redis://:password@127.0.0.1:6379/0`",
            redact_url(url)
        ),
    );
}

/// The TLS keys mean something only over TLS, and trusting a CA means nothing when nothing
/// is verified: either mistake would leave the user believing in a check that never runs.
fn check_tls(job: &RedisJob, path: &FieldPath, ensure: &mut impl FnMut(bool, FieldPath, String)) {
    let over_tls = job.url.starts_with("rediss://");
    ensure(
        over_tls || job.tls_ca.is_none(),
        path.key("tls_ca"),
        "tls_ca needs a TLS URL; write the url as `rediss://host:port`, or remove tls_ca".into(),
    );
    ensure(
        over_tls || !job.tls_insecure,
        path.key("tls_insecure"),
        "tls_insecure needs a TLS URL; write the url as `rediss://host:port`, or remove \
         tls_insecure"
            .into(),
    );
    ensure(
        !(job.tls_insecure && job.tls_ca.is_some()),
        path.key("tls_insecure"),
        "tls_insecure skips certificate checks, so tls_ca would never be used; keep one of them"
            .into(),
    );
}

fn check_values(
    job: &RedisJob,
    path: &FieldPath,
    ensure: &mut impl FnMut(bool, FieldPath, String),
) {
    let (low, high) = (job.value_size, job.value_size_max.unwrap_or(job.value_size));
    ensure(
        job.value_size <= MAX_VALUE_SIZE,
        path.key("value_size"),
        format!("value_size {low} is more than Redis takes ({MAX_VALUE_SIZE}); lower it"),
    );
    ensure(
        high >= low && high <= MAX_VALUE_SIZE,
        path.key("value_size_max"),
        format!("value_size_max ({high}) must lie between value_size ({low}) and {MAX_VALUE_SIZE}"),
    );
}

fn check_keys(keys: &KeySpace, path: &FieldPath, ensure: &mut impl FnMut(bool, FieldPath, String)) {
    ensure(
        keys.count >= 1,
        path.key("count"),
        "count is 0; the key space needs at least 1 key".into(),
    );
    ensure(
        keys.first.checked_add(keys.count).is_some(),
        path.key("first"),
        format!(
            "first + count is past the largest key number ({}); lower first",
            u64::MAX
        ),
    );
    let path = path.key("distribution");
    match &keys.distribution {
        KeyDistribution::Zipf { theta } => ensure(
            theta.is_finite() && *theta > 0.0,
            path.key("theta"),
            format!("theta is {theta}, but zipf needs it above 0; try 0.99"),
        ),
        KeyDistribution::Gaussian { stddev } => ensure(
            stddev.0 > 0.0,
            path.key("stddev"),
            "stddev is 0%, so every operation would hit one key; set it above 0, like \
             `stddev = \"10%\"`"
                .into(),
        ),
        KeyDistribution::HotSet { keys, access } => {
            for (key, share) in [("keys", keys), ("access", access)] {
                ensure(
                    share.0 > 0.0 && share.0 < 1.0,
                    path.key(key),
                    format!("{key} must lie strictly between 0% and 100%, like `\"20%\"`"),
                );
            }
        }
        KeyDistribution::Uniform | KeyDistribution::Sequential => {}
    }
}

/// Why a command would break the one-reply-per-command pairing that pipelined lanes rely on,
/// if it does.
fn reply_changer(first: &str, second: Option<&String>) -> Option<&'static str> {
    let sub = second.map(|s| s.to_ascii_uppercase());
    match first.to_ascii_uppercase().as_str() {
        "SUBSCRIBE" | "PSUBSCRIBE" | "SSUBSCRIBE" | "UNSUBSCRIBE" | "PUNSUBSCRIBE"
        | "SUNSUBSCRIBE" => Some("turns the connection into a subscriber"),
        "MONITOR" => Some("streams every command the server runs"),
        "SYNC" | "PSYNC" => Some("turns the connection into a replica"),
        "HELLO" | "RESET" | "QUIT" => Some("resets or ends the connection plimsoll set up"),
        "CLIENT" if matches!(sub.as_deref(), Some("REPLY" | "TRACKING")) => {
            Some("changes which replies the server sends")
        }
        _ => None,
    }
}

fn check_mix(mix: &[MixEntry], path: &FieldPath, ensure: &mut impl FnMut(bool, FieldPath, String)) {
    ensure(
        !mix.is_empty(),
        path.clone(),
        "mix is empty; list at least one command, like `mix = [{ op = \"get\", weight = 1 }]`"
            .into(),
    );
    let mut names: Vec<String> = Vec::new();
    for (i, entry) in mix.iter().enumerate() {
        let at = path.index(i);
        let one_kind = entry.op.is_some() != entry.command.is_some();
        ensure(
            one_kind,
            at.clone(),
            "give each mix entry either `op` (get or set) or `command` (a template), not both \
             nor neither"
                .into(),
        );
        let words = entry.command.as_deref().unwrap_or_default();
        ensure(
            entry.command.is_none() || !words.is_empty(),
            at.key("command"),
            "command is empty; write its words, like `command = [\"HSET\", \"{key}\", \
             \"field\", \"{value}\"]`"
                .into(),
        );
        if let Some(reason) = words.first().and_then(|w| reply_changer(w, words.get(1))) {
            ensure(
                false,
                at.key("command"),
                format!(
                    "`{}` {reason}, so replies would no longer pair with the commands sent; \
                     load a connection with it from another tool",
                    words.join(" ")
                ),
            );
        }
        ensure(
            entry.weight > 0,
            at.key("weight"),
            "weight is 0, so this entry would never run; give it 1 or more, or remove it".into(),
        );
        let name = entry.op_name();
        ensure(
            !names.contains(&name),
            at.key("name"),
            format!("two mix entries are both named `{name}`; give this one its own `name`"),
        );
        names.push(name);
    }
}
