//! Numbers as people read them: latencies with a unit that fits, rates with k/M, bytes in
//! binary units. Every renderer uses these so a figure reads the same everywhere.

/// `850ns`, `12.3µs`, `4.56ms`, `1.23s`.
pub fn latency(ns: Option<u64>) -> String {
    let Some(ns) = ns else { return "-".to_owned() };
    let ns = ns as f64;
    if ns < 1e3 {
        format!("{ns:.0}ns")
    } else if ns < 1e6 {
        format!("{}µs", three_digits(ns / 1e3))
    } else if ns < 1e9 {
        format!("{}ms", three_digits(ns / 1e6))
    } else {
        format!("{}s", three_digits(ns / 1e9))
    }
}

/// A job's `workers` as its own keys call them: `threads` for network jobs (Redis, SQL,
/// HTTP), whose load is carried by their connections; `workers` for disk and null jobs.
pub fn workers(kind: &str, n: usize) -> String {
    let word = match kind {
        "redis" | "postgres" | "mysql" | "http" => "thread",
        _ => "worker",
    };
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// `950`, `12.3k`, `1.05M`: decimal, as rates are. A whole number below 1000 is shown as one
/// (`5`, not `5.00`): a rate of nothing is `0`, and a rate a workload gives is as written.
pub fn count(n: f64) -> String {
    if n < 1e3 && n.fract() == 0.0 {
        format!("{n:.0}")
    } else if n < 1e3 {
        three_digits(n)
    } else if n < 1e6 {
        format!("{}k", three_digits(n / 1e3))
    } else if n < 1e9 {
        format!("{}M", three_digits(n / 1e6))
    } else {
        format!("{}G", three_digits(n / 1e9))
    }
}

/// A count of operations, short: `5`, `950`, `17.9k`; never with decimals below 1000.
pub fn whole(n: u64) -> String {
    count(n as f64)
}

/// `512 B`, `4.00 KiB`, `1.50 GiB`: binary, as sizes are.
pub fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", UNITS[0])
    } else {
        format!("{} {}", three_digits(value), UNITS[unit])
    }
}

/// [`bytes`] for a size a message quotes, with the exact count after it when the short form
/// is rounded: `1000 TiB`, `4.00 KiB`, `33.1 GiB (35540000000 bytes)`.
pub fn bytes_exact(n: u64) -> String {
    let short = bytes(n as f64);
    let (number, unit) = short.split_once(' ').unwrap_or((&short, "B"));
    let unit_bytes = match unit {
        "KiB" => 1u64 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => 1,
    };
    let shown = number
        .parse::<f64>()
        .map(|v| (v * unit_bytes as f64).round() as u64);
    if shown == Ok(n) {
        short
    } else {
        format!("{short} ({n} bytes)")
    }
}

/// Three significant digits, without trailing noise: 1.23, 12.3, 123.
fn three_digits(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_pick_a_readable_unit() {
        assert_eq!(latency(Some(850)), "850ns");
        assert_eq!(latency(Some(12_345)), "12.3µs");
        assert_eq!(latency(Some(4_560_000)), "4.56ms");
        assert_eq!(latency(Some(30_000_000_000)), "30.0s");
        assert_eq!(latency(None), "-");
    }

    #[test]
    fn counts_and_bytes_use_their_own_bases() {
        assert_eq!(count(95_000.0), "95.0k");
        assert_eq!(count(2.5), "2.50");
        assert_eq!(count(0.0), "0");
        assert_eq!(whole(5), "5");
        assert_eq!(whole(17_873), "17.9k");
        assert_eq!(bytes(4096.0), "4.00 KiB");
        assert_eq!(bytes(100.0), "100 B");
        assert_eq!(bytes(1.5 * 1024.0 * 1024.0 * 1024.0), "1.50 GiB");
    }

    #[test]
    fn a_quoted_size_keeps_its_exact_bytes_only_when_rounded() {
        assert_eq!(bytes_exact(1_099_511_627_776_000), "1000 TiB");
        assert_eq!(bytes_exact(1536), "1.50 KiB");
        assert_eq!(bytes_exact(512), "512 B");
        assert_eq!(bytes_exact(35_540_000_000), "33.1 GiB (35540000000 bytes)");
    }
}
