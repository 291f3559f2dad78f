//! Parsing and printing of the sizes and durations used on the command line.
//!
//! Hand-written instead of pulling in `humantime`/`bytesize`: the grammar is tiny, and the bench
//! crate should build quickly on a 2-core machine that is also compiling the server.

use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Parses a byte size such as `4KiB`, `1MiB`, `64MiB`, `1GiB`, `4096`, `4k` or `1.5MB`.
///
/// Binary suffixes (`KiB`, `MiB`, `GiB`, and the shorthands `k`, `m`, `g`) are powers of 1024;
/// decimal suffixes (`KB`, `MB`, `GB`) are powers of 1000, as in the rest of the S3 world.
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        bail!("size {text:?} has no number (try 4KiB, 1MiB or 64MiB)");
    }
    let value: f64 = num
        .parse()
        .with_context(|| format!("size {text:?}: bad number"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => bail!("size {text:?}: unknown unit {other:?} (use B, KiB, MiB, GiB, KB, MB, GB)"),
    };
    let bytes = value * mult as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        bail!("size {text:?} is out of range");
    }
    Ok(bytes.round() as u64)
}

/// Parses a duration such as `10s`, `500ms`, `2m`, `1h` or a bare number of seconds (`1.5`).
pub fn parse_duration(text: &str) -> Result<Duration> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        bail!("duration {text:?} has no number (try 10s, 500ms or 2m)");
    }
    let value: f64 = num
        .parse()
        .with_context(|| format!("duration {text:?}: bad number"))?;
    let secs = match unit.trim() {
        "" | "s" | "sec" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => bail!("duration {text:?}: unknown unit {other:?} (use ms, s, m or h)"),
    };
    Duration::try_from_secs_f64(secs).with_context(|| format!("duration {text:?} is out of range"))
}

/// Prints a byte size the way the command line accepts it (`4KiB`, `1MiB`, `1000B`).
pub fn fmt_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (mult, name) in UNITS {
        if bytes >= mult && bytes % mult == 0 {
            return format!("{}{}", bytes / mult, name);
        }
    }
    for (mult, name) in UNITS {
        if bytes >= mult {
            return format!("{:.2}{}", bytes as f64 / mult as f64, name);
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4KiB").unwrap(), 4096);
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_size("64mib").unwrap(), 64 << 20);
        assert_eq!(parse_size("4k").unwrap(), 4096);
        assert_eq!(parse_size("1MB").unwrap(), 1_000_000);
        assert_eq!(parse_size("123").unwrap(), 123);
        assert_eq!(parse_size("1.5KiB").unwrap(), 1536);
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("4 parsecs").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("10y").is_err());
    }

    #[test]
    fn size_round_trip() {
        for s in ["4KiB", "1MiB", "64MiB", "1GiB", "1000B"] {
            assert_eq!(fmt_size(parse_size(s).unwrap()), s);
        }
        assert_eq!(fmt_size(1536), "1.50KiB");
    }
}
