//! Help for a user who wrote something close: spelling suggestions, fio's names for our keys,
//! and an example line per key to show the expected form.
//!
//! The checks call this to end their messages with a fix. It knows no rules of its own.

/// The smallest Jaro-Winkler similarity at which a name counts as a likely typo.
const CLOSE_ENOUGH: f64 = 0.8;

/// fio's names for keys plimsoll spells differently; people port job files by hand.
const FIO_NAMES: &[(&str, &str)] = &[
    ("bs", "block_size"),
    ("blocksize", "block_size"),
    ("bssplit", "block_size_mix"),
    ("iodepth", "queue_depth"),
    ("numjobs", "workers"),
    ("rw", "pattern"),
    ("readwrite", "pattern"),
    ("rwmixread", "read_share"),
    ("filename", "path"),
    ("directory", "path"),
    ("ioengine", "engine"),
    ("runtime", "duration"),
    ("ramp_time", "warmup"),
    ("fsync", "fsync_every"),
    ("fdatasync", "fdatasync_every"),
    ("random_distribution", "distribution"),
    ("rate_iops", "iops_cap"),
    ("rate", "bandwidth_cap"),
    ("randseed", "seed"),
    ("sqthread_poll", "sqpoll"),
];

/// The name the user most likely meant: fio's name for it, or the closest spelling.
pub(crate) fn suggest<'a>(written: &str, valid: &[&'a str]) -> Option<&'a str> {
    let fio = FIO_NAMES
        .iter()
        .find(|(fio, _)| *fio == written)
        .map(|(_, ours)| *ours);
    if let Some(ours) = fio.and_then(|ours| valid.iter().find(|v| **v == ours)) {
        return Some(ours);
    }
    closest(written, valid)
}

fn closest<'a>(written: &str, valid: &[&'a str]) -> Option<&'a str> {
    let lowered = written.to_ascii_lowercase();
    let score = |candidate: &&str| strsim::jaro_winkler(&lowered, candidate);
    let best = valid.iter().max_by(|a, b| score(a).total_cmp(&score(b)))?;
    (score(best) >= CLOSE_ENOUGH).then_some(*best)
}

/// `valid` as `a, b, c`, for the end of a message.
pub(crate) fn list(valid: &[&str]) -> String {
    valid.join(", ")
}

/// A line per key showing its expected form, to end a type error with.
const EXAMPLES: &[(&str, &str)] = &[
    ("name", r#"name = "nightly-disk""#),
    ("duration", r#"duration = "30s""#),
    ("warmup", r#"warmup = "5s""#),
    ("interval", r#"interval = "1s""#),
    ("jobs", "[[jobs]]"),
    ("kind", r#"kind = "disk""#),
    ("path", r#"path = ".""#),
    ("size", r#"size = "1GiB""#),
    ("pattern", r#"pattern = "randread""#),
    ("read_share", r#"read_share = "70%""#),
    ("block_size", r#"block_size = "4KiB""#),
    (
        "block_size_mix",
        r#"block_size_mix = [{ size = "4KiB", weight = 3 }]"#,
    ),
    ("queue_depth", "queue_depth = 16"),
    ("workers", "workers = 2"),
    ("direct", "direct = true"),
    ("fsync_every", "fsync_every = 32"),
    ("fdatasync_every", "fdatasync_every = 32"),
    (
        "distribution",
        r#"distribution = { kind = "zipf", theta = 1.2 }"#,
    ),
    ("iops_cap", r#"iops_cap = "5k""#),
    ("bandwidth_cap", r#"bandwidth_cap = "100MiB""#),
    ("seed", "seed = 42"),
    ("engine", r#"engine = "io_uring""#),
    ("allow_fallback", "allow_fallback = true"),
    ("sqpoll", "sqpoll = false"),
    ("keep", "keep = false"),
    ("allow_existing", "allow_existing = false"),
    ("allow_block_device", "allow_block_device = false"),
    ("theta", "theta = 1.2"),
    ("h", "h = 0.3"),
    ("stddev", r#"stddev = "10%""#),
    (
        "zones",
        r#"zones = [{ access = "80%", size = "20%" }, { access = "20%", size = "80%" }]"#,
    ),
    ("access", r#"access = "80%""#),
    ("weight", "weight = 1"),
    ("zones.size", r#"size = "20%""#),
    ("block_size_mix.size", r#"size = "4KiB""#),
    ("url", r#"url = "redis://127.0.0.1:6379/0""#),
    ("connections", "connections = 10"),
    ("pipeline", "pipeline = 1"),
    ("threads", "threads = 1"),
    ("timeout", r#"timeout = "5s""#),
    ("ops", "ops = 100000"),
    (
        "mix",
        r#"mix = [{ op = "get", weight = 9 }, { op = "set", weight = 1 }]"#,
    ),
    ("op", r#"op = "get""#),
    (
        "command",
        r#"command = ["HSET", "{key}", "field", "{value}"]"#,
    ),
    ("keys", r#"keys = { count = 10000, prefix = "plimsoll:" }"#),
    ("count", "count = 10000"),
    ("prefix", r#"prefix = "plimsoll:""#),
    ("value_size", r#"value_size = "64B""#),
    ("value_size_max", r#"value_size_max = "1KiB""#),
    ("prefill", "prefill = true"),
    ("load", r#"load = { model = "open", rate = "1k" }"#),
    ("model", r#"model = "open""#),
    ("think_time", r#"think_time = "10ms""#),
    ("rate", r#"rate = "1k""#),
    ("ramp", r#"ramp = { from = "100", to = "2k" }"#),
    ("stages", r#"stages = [{ rate = "500", duration = "10s" }]"#),
    ("arrival", r#"arrival = "poisson""#),
    ("max_in_flight", "max_in_flight = 100"),
    ("skip_late", r#"skip_late = "100ms""#),
    ("from", r#"from = "100""#),
    ("to", r#"to = "2k""#),
    ("over", r#"over = "30s""#),
];

/// A line showing `key` in its expected form. `list` is the array the key's table sits in, if
/// any: `size` in a zone is a share, in a mix entry and in a job it is bytes.
pub(crate) fn example(list: Option<&str>, key: &str) -> Option<&'static str> {
    let lookup = |wanted: &str| {
        EXAMPLES
            .iter()
            .find(|(k, _)| *k == wanted)
            .map(|(_, line)| *line)
    };
    list.and_then(|list| lookup(&format!("{list}.{key}")))
        .or_else(|| lookup(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] = &[
        "queue_depth",
        "block_size",
        "block_size_mix",
        "workers",
        "pattern",
    ];

    #[test]
    fn a_typo_gets_the_key_it_is_closest_to() {
        assert_eq!(suggest("queue_dept", KEYS), Some("queue_depth"));
        assert_eq!(suggest("blocksize_mix", KEYS), Some("block_size_mix"));
        assert_eq!(suggest("Workers", KEYS), Some("workers"));
        let patterns = ["read", "write", "randread", "randwrite", "rw", "randrw"];
        assert_eq!(suggest("randrd", &patterns), Some("randread"));
    }

    #[test]
    fn fio_names_map_to_ours() {
        assert_eq!(suggest("iodepth", KEYS), Some("queue_depth"));
        assert_eq!(suggest("bs", KEYS), Some("block_size"));
        assert_eq!(suggest("rw", KEYS), Some("pattern"));
    }

    #[test]
    fn nothing_close_gets_no_suggestion() {
        assert_eq!(suggest("colour", KEYS), None);
        assert_eq!(suggest("x", KEYS), None);
    }
}
