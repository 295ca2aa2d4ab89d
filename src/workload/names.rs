//! The key and value names the serde derives know, asked of serde itself.
//!
//! The loader checks keys and enum values before typed deserialization, so that it can point at
//! the exact key and suggest a spelling. The names it checks against come from here: each probe
//! feeds a type a name no derive accepts, and serde's error hook hands back the list it compared
//! with. So the lists cannot drift from the types in `mod.rs`. This module does not report
//! anything to the user.

use std::fmt;

use serde::Deserialize;
use serde::de::value::{MapDeserializer, StrDeserializer};

/// A name no derive can match, so every probe reaches serde's "unknown" path.
const NOBODY: &str = "\u{1}probe";

/// The keys a struct takes. It must be `deny_unknown_fields`, or serde never lists them.
pub(crate) fn fields<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    probe::<T>(&[(NOBODY, "")]).unwrap_or(&[])
}

/// The values a unit-only enum takes.
pub(crate) fn variants<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    let input = StrDeserializer::<Probe>::new(NOBODY);
    T::deserialize(input)
        .err()
        .and_then(|probe| probe.0)
        .unwrap_or(&[])
}

/// The values of the `kind` tag of an internally tagged enum.
pub(crate) fn kinds<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    probe::<T>(&[("kind", NOBODY)]).unwrap_or(&[])
}

/// The keys, besides `kind`, that one kind of an internally tagged enum takes. A unit kind
/// takes none.
pub(crate) fn kind_fields<T: for<'de> Deserialize<'de>>(kind: &str) -> &'static [&'static str] {
    probe::<T>(&[("kind", kind), (NOBODY, "")]).unwrap_or(&[])
}

fn probe<T: for<'de> Deserialize<'de>>(
    entries: &[(&str, &str)],
) -> Option<&'static [&'static str]> {
    let input = MapDeserializer::<_, Probe>::new(entries.iter().copied());
    T::deserialize(input).err().and_then(|probe| probe.0)
}

/// An error type whose only job is to keep the name list serde passes to its hooks.
#[derive(Debug)]
struct Probe(Option<&'static [&'static str]>);

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("name probe")
    }
}

impl std::error::Error for Probe {}

impl serde::de::Error for Probe {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Probe(None)
    }

    fn unknown_variant(_: &str, expected: &'static [&'static str]) -> Self {
        Probe(Some(expected))
    }

    fn unknown_field(_: &str, expected: &'static [&'static str]) -> Self {
        Probe(Some(expected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{
        DiskJob, Distribution, Engine, FileLayout, Job, Pattern, Workload, Zone,
    };

    #[test]
    fn struct_fields_come_from_the_derive() {
        assert_eq!(
            fields::<Workload>(),
            [
                "name",
                "duration",
                "warmup",
                "interval",
                "jobs",
                "monitor",
                "thresholds",
                "abort_early"
            ]
        );
        assert!(fields::<DiskJob>().contains(&"queue_depth"));
        assert_eq!(fields::<Zone>(), ["access", "size"]);
    }

    #[test]
    fn enum_values_come_from_the_derive() {
        assert_eq!(
            variants::<Pattern>(),
            ["read", "write", "randread", "randwrite", "rw", "randrw"]
        );
        assert_eq!(variants::<Engine>(), ["io_uring", "sync"]);
        assert_eq!(variants::<FileLayout>(), ["full", "sparse"]);
    }

    #[test]
    fn tagged_enums_list_their_kinds_and_each_kind_its_keys() {
        assert_eq!(
            kinds::<Job>(),
            ["disk", "redis", "null", "postgres", "http", "mysql"]
        );
        assert_eq!(kind_fields::<Job>("disk"), fields::<DiskJob>());
        assert_eq!(
            kinds::<Distribution>(),
            ["uniform", "zipf", "pareto", "normal", "zones"]
        );
        assert_eq!(kind_fields::<Distribution>("zipf"), ["theta"]);
        assert!(kind_fields::<Distribution>("uniform").is_empty());
    }
}
