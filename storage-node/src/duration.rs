//! Durations in settings: `90` (seconds) or Go-style units (`90s`, `5m`, `1h30m`,
//! `500ms`), as MinIO's settings are written. One parser for every layer's settings, so
//! a value means the same everywhere; below all layers, like `body`.

use std::time::Duration;

/// `90` (seconds), or Go-style units: `90s`, `5m`, `1h`, `1h30m`, `500ms`.
pub fn parse(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    // Each round consumes at least one character, so the loop is bounded by the length.
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60)?),
            "h" => Duration::from_secs(n.checked_mul(3600)?),
            _ => return None,
        };
        total = total.checked_add(part)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::parse;
    use std::time::Duration;

    #[test]
    fn seconds_and_go_units() {
        assert_eq!(parse("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse(" 24h "), Some(Duration::from_secs(86400)));
    }

    #[test]
    fn garbage_and_overflow_are_refused() {
        for bad in [
            "",
            "x",
            "soon",
            "5 m",
            "m5",
            "1.5h",
            "-1s",
            "99999999999999999h",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
