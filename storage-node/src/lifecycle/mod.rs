//! Layer 3b (above `objects`, below `s3`): S3 bucket lifecycle. A bucket's
//! `LifecycleConfiguration` ([`config`]: parsed, validated, stored as JSON in the
//! bucket record under [`LIFECYCLE_CONFIG`]), the pure decision of what a rule does to
//! one version or upload ([`eval`]), and the background worker that applies the rules
//! once per deployment ([`worker`]).
//!
//! Time is counted in lifecycle *days*: 86,400 s, or `CAIRN_LIFECYCLE_DAY_SECONDS` for
//! tests (a day of a few seconds lets a test see an object expire). AWS rounds every due
//! time up to the next midnight UTC; here "midnight" is the next multiple of the day
//! length since the Unix epoch, the same thing for a real day.

pub mod config;
pub mod eval;
pub mod worker;

use std::time::Duration;

/// Name of the configuration in [`crate::objects::bucket::BucketMeta::config`].
pub const LIFECYCLE_CONFIG: &str = "lifecycle";

/// A real lifecycle day.
pub const DAY: Duration = Duration::from_secs(86_400);

/// How long a lifecycle day lasts and how often the worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifecycleSettings {
    /// Length of one lifecycle day (86,400 s unless shortened for tests).
    pub day: Duration,
    /// Pause between passes of the worker: a 24th of a day, between 1 s and 1 h (hourly
    /// for a real day; every second for a day of 24 s or less).
    pub interval: Duration,
}

impl Default for LifecycleSettings {
    fn default() -> Self {
        Self::with_day(DAY)
    }
}

impl LifecycleSettings {
    /// Settings for a day of `day` (at least one second).
    pub fn with_day(day: Duration) -> Self {
        let day = day.max(Duration::from_secs(1));
        let interval = (day / 24).clamp(Duration::from_secs(1), Duration::from_secs(3600));
        Self { day, interval }
    }

    /// From `CAIRN_LIFECYCLE_DAY_SECONDS` (a whole number of seconds, at least 1), read
    /// through `setting`, which answers a full variable name. There is no MinIO name for
    /// it. A bad value is logged and ignored.
    pub fn from_settings(setting: impl Fn(&str) -> Option<String>) -> Self {
        match setting("CAIRN_LIFECYCLE_DAY_SECONDS") {
            None => Self::default(),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if n > 0 => Self::with_day(Duration::from_secs(n)),
                _ => {
                    tracing::warn!(value = %v, "ignoring bad CAIRN_LIFECYCLE_DAY_SECONDS");
                    Self::default()
                }
            },
        }
    }

    /// The day in milliseconds (never 0).
    pub fn day_ms(&self) -> i64 {
        i64::try_from(self.day.as_millis())
            .unwrap_or(i64::MAX)
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_and_interval() {
        let d = LifecycleSettings::default();
        assert_eq!(d.day, DAY);
        assert_eq!(d.interval, Duration::from_secs(3600));
        let short = LifecycleSettings::from_settings(|_| Some("2".into()));
        assert_eq!(short.day, Duration::from_secs(2));
        assert_eq!(short.interval, Duration::from_secs(1));
        assert_eq!(short.day_ms(), 2000);
        for bad in ["0", "-3", "x", ""] {
            let s = LifecycleSettings::from_settings(|_| Some(bad.into()));
            assert_eq!(s, LifecycleSettings::default(), "{bad}");
        }
    }
}
