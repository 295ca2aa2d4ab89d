//! Human units for sizes, durations, rates and shares.
//!
//! Sizes are binary throughout, as in fio: `4k`, `4K`, `4KiB` and `4KB` all mean 4096 bytes, and
//! `1M` is 1 MiB. Rates (`5k`, `2.5M`) are decimal: `5k` per second is 5000 per second.
//! Durations take humantime's forms (`30s`, `1m30s`, `250ms`). Shares take `70%` or `0.7`.
//! This module parses; it does not know which field a value came from (the loader adds that).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A number of bytes. Serializes as an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

/// Operations (or bytes) per second, decimal multipliers.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Rate(pub f64);

/// A fraction in [0, 1], written as `0.7` or `"70%"`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Share(pub f64);

/// A duration written in human units (`30s`), kept as [`Duration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct HumanDuration(pub Duration);

impl ByteSize {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (number, suffix) = split_number(text);
        let value: f64 = number.replace('_', "").parse().map_err(|_| {
            format!("`{text}` is not a size; write it like `4KiB`, `64k` or `1GiB`")
        })?;
        let multiplier: u64 = match suffix.to_ascii_lowercase().as_str() {
            // A quoted number without a unit is more likely a forgotten unit than bytes, as
            // with durations; a bare TOML integer is still bytes.
            "" => {
                return Err(format!(
                    "`{text}` has no unit; write `{number}B` for bytes, or a unit such as \
                     `{number}KiB`, or the number {number} without quotes"
                ));
            }
            "b" => 1,
            "k" | "kb" | "kib" => 1 << 10,
            "m" | "mb" | "mib" => 1 << 20,
            "g" | "gb" | "gib" => 1 << 30,
            "t" | "tb" | "tib" => 1 << 40,
            _ => {
                return Err(format!(
                    "`{text}` has an unknown size unit `{suffix}`; use B, KiB, MiB, GiB or TiB \
                     (k, M, G and T mean the same binary units)"
                ));
            }
        };
        let bytes = value * multiplier as f64;
        if !bytes.is_finite() || bytes < 0.0 || bytes.fract() != 0.0 || bytes >= u64::MAX as f64 {
            return Err(format!(
                "`{text}` is not a whole, non-negative number of bytes"
            ));
        }
        Ok(ByteSize(bytes as u64))
    }
}

impl Rate {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let text = text.strip_suffix("/s").unwrap_or(text);
        let (number, suffix) = split_number(text);
        let value: f64 = number
            .replace('_', "")
            .parse()
            .map_err(|_| format!("`{text}` is not a rate; write it like `500`, `5k` or `1.5M`"))?;
        let multiplier = match suffix {
            "" => 1.0,
            "k" | "K" => 1e3,
            "M" | "m" => 1e6,
            "G" | "g" => 1e9,
            _ => {
                return Err(format!(
                    "`{text}` has an unknown rate unit `{suffix}`; use k, M or G"
                ));
            }
        };
        let rate = value * multiplier;
        if !rate.is_finite() || rate <= 0.0 {
            return Err(format!("`{text}` must be a positive rate"));
        }
        Ok(Rate(rate))
    }
}

impl Share {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let value = match text.strip_suffix('%') {
            Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
            None => text.parse::<f64>(),
        }
        .map_err(|_| format!("`{text}` is not a share; write it like `70%` or `0.7`"))?;
        Share::from_fraction(value).map_err(|_| {
            format!("`{text}` is outside 0% to 100%; write a share like `70%` or `0.7`")
        })
    }

    fn from_fraction(value: f64) -> Result<Self, String> {
        if (0.0..=1.0).contains(&value) {
            Ok(Share(value))
        } else {
            Err(format!(
                "{value} is outside 0 to 1; write a share like `0.7` or `\"70%\"`"
            ))
        }
    }
}

impl HumanDuration {
    pub fn parse(text: &str) -> Result<Self, String> {
        humantime::parse_duration(text.trim())
            .map(HumanDuration)
            .map_err(|e| {
                format!("`{text}` is not a duration ({e}); write it like `30s` or `1m30s`")
            })
    }
}

fn split_number(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_' || c == '-' || c == '+'))
        .unwrap_or(text.len());
    (text[..end].trim(), text[end..].trim())
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(&str, u64); 4] = [
            ("TiB", 1 << 40),
            ("GiB", 1 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
        ];
        for (name, size) in UNITS {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{name}", self.0 / size);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// Accepts either a TOML integer/float or a string and hands both to one parser, so that
/// `size = 4096` and `size = "4KiB"` mean the same.
struct HumanVisitor<T> {
    expecting: &'static str,
    from_str: fn(&str) -> Result<T, String>,
    from_f64: fn(f64) -> Result<T, String>,
}

impl<'de, T> Visitor<'de> for HumanVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.from_str)(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        (self.from_f64)(v as f64).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        (self.from_f64)(v as f64).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        (self.from_f64)(v).map_err(E::custom)
    }
}

macro_rules! human_serde {
    ($ty:ty, $expecting:literal, $from_f64:expr, $to:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(HumanVisitor {
                    expecting: $expecting,
                    from_str: <$ty>::parse,
                    from_f64: $from_f64,
                })
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                ($to)(self, s)
            }
        }
    };
}

human_serde!(
    ByteSize,
    "a size such as `4KiB` or a number of bytes",
    |v| if v >= 0.0 && v.fract() == 0.0 && v < u64::MAX as f64 {
        Ok(ByteSize(v as u64))
    } else {
        Err(format!("{v} is not a whole, non-negative number of bytes"))
    },
    |v: &ByteSize, s: S| s.serialize_u64(v.0)
);
human_serde!(
    Rate,
    "a rate such as `5k` or a number per second",
    |v| if v.is_finite() && v > 0.0 {
        Ok(Rate(v))
    } else {
        Err(format!("{v} must be a positive rate"))
    },
    |v: &Rate, s: S| s.serialize_f64(v.0)
);
human_serde!(
    Share,
    "a share such as `70%` or `0.7`",
    Share::from_fraction,
    |v: &Share, s: S| s.serialize_f64(v.0)
);
human_serde!(
    HumanDuration,
    "a duration such as `30s`",
    |v| if v < 0.0 {
        Err(format!("{v} is a negative duration"))
    } else {
        // NaN, infinity and spans past Duration's range are refused here, not a panic.
        Duration::try_from_secs_f64(v)
            .map(HumanDuration)
            .map_err(|_| format!("{v} is not a number of seconds; write it like `30s`"))
    },
    |v: &HumanDuration, s: S| s.serialize_str(&v.to_string())
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_binary_whatever_the_suffix_spelling() {
        for text in ["4k", "4K", "4KiB", "4KB", "4 KiB"] {
            assert_eq!(ByteSize::parse(text), Ok(ByteSize(4096)), "{text}");
        }
        assert_eq!(ByteSize::parse("1GiB"), Ok(ByteSize(1 << 30)));
        assert_eq!(ByteSize::parse("1.5M"), Ok(ByteSize(3 << 19)));
        assert_eq!(ByteSize::parse("512B"), Ok(ByteSize(512)));
        assert!(ByteSize::parse("512").unwrap_err().contains("no unit"));
        assert!(ByteSize::parse("4 parsecs").is_err());
        assert!(ByteSize::parse("0.3").is_err());
    }

    #[test]
    fn rates_are_decimal() {
        assert_eq!(Rate::parse("5k"), Ok(Rate(5000.0)));
        assert_eq!(Rate::parse("2.5M/s"), Ok(Rate(2_500_000.0)));
        assert!(Rate::parse("0").is_err());
    }

    #[test]
    fn shares_take_percent_or_fraction() {
        assert_eq!(Share::parse("70%"), Ok(Share(0.7)));
        assert_eq!(Share::parse("0.25"), Ok(Share(0.25)));
        assert!(Share::parse("120%").is_err());
    }

    #[test]
    fn underscores_separate_digits_as_in_toml_numbers() {
        assert_eq!(ByteSize::parse("1_000k"), Ok(ByteSize(1_024_000)));
        assert_eq!(Rate::parse("10_000"), Ok(Rate(10_000.0)));
    }

    #[test]
    fn numbers_that_are_no_amount_are_refused_not_a_panic() {
        #[derive(Debug, serde::Deserialize)]
        struct Field<T> {
            #[allow(dead_code)]
            v: T,
        }
        for value in ["inf", "nan", "1e300"] {
            let text = format!("v = {value}");
            assert!(
                toml::from_str::<Field<HumanDuration>>(&text).is_err(),
                "{value}"
            );
            assert!(toml::from_str::<Field<ByteSize>>(&text).is_err(), "{value}");
        }
        assert!(toml::from_str::<Field<Rate>>("v = inf").is_err());
        assert!(toml::from_str::<Field<HumanDuration>>("v = 1.5").is_ok());
    }

    #[test]
    fn durations_use_human_units() {
        assert_eq!(
            HumanDuration::parse("1m30s").unwrap().0,
            Duration::from_secs(90)
        );
        assert!(HumanDuration::parse("soon").is_err());
    }
}
