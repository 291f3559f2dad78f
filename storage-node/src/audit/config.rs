//! Audit webhook targets as MinIO configures them through the environment: one target per
//! `AUDIT_WEBHOOK_ENABLE[_<ID>]=on`, with its `ENDPOINT`, `AUTH_TOKEN`, `BATCH_SIZE`,
//! `QUEUE_SIZE` and `HTTP_TIMEOUT` under the same suffix. Each name is read as `CAIRN_<NAME>`,
//! then `MINIO_<NAME>`, then from the configuration file (see `crate::config`), so a MinIO
//! Tenant's `MINIO_AUDIT_WEBHOOK_*` settings work unchanged.
//!
//! The un-suffixed names are MinIO's default target, whose id is `_` (MinIO's
//! `config.Default`); `MINIO_AUDIT_WEBHOOK_ENABLE_PRIMARY=on` is target `PRIMARY`.

use std::collections::BTreeSet;
use std::time::Duration;

/// MinIO's default queue size of a webhook target.
pub const DEFAULT_QUEUE_SIZE: usize = 100_000;
/// MinIO's default: one entry per POST.
pub const DEFAULT_BATCH_SIZE: usize = 1;
/// Time allowed for one POST, connection included (MinIO's webhook call timeout, 5 s).
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// The id of the target configured by the un-suffixed names.
pub const DEFAULT_TARGET_ID: &str = "_";

/// One webhook target. `Debug` never prints the token.
#[derive(Clone, PartialEq, Eq)]
pub struct TargetConfig {
    /// `_` for the default target, else the suffix as written (`1`, `PRIMARY`).
    pub id: String,
    pub endpoint: String,
    /// The `Authorization` header value: the token as configured, with `Bearer ` in front
    /// when it has no scheme of its own.
    pub authorization: Option<String>,
    /// Entries per POST: one JSON object when 1, a JSON array of up to this many above.
    pub batch_size: usize,
    /// Entries waiting to be sent; beyond, new entries are dropped and counted.
    pub queue_size: usize,
    pub http_timeout: Duration,
}

impl std::fmt::Debug for TargetConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetConfig")
            .field("id", &self.id)
            .field("endpoint", &self.endpoint)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .field("batch_size", &self.batch_size)
            .field("queue_size", &self.queue_size)
            .field("http_timeout", &self.http_timeout)
            .finish()
    }
}

/// Every configured audit target; empty means auditing is off (and costs nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditConfig {
    pub targets: Vec<TargetConfig>,
}

/// `AUTH_TOKEN` as the `Authorization` header: a value that already names a scheme
/// (`Bearer x`, `Basic x`) is sent as it is, a bare token as `Bearer <token>`.
pub fn authorization(token: &str) -> Option<String> {
    let token = token.trim();
    if token.is_empty() {
        None
    } else if token.contains(' ') {
        Some(token.to_string())
    } else {
        Some(format!("Bearer {token}"))
    }
}

fn is_on(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "on" | "true" | "yes" | "1" | "enable" | "enabled"
    )
}

impl AuditConfig {
    /// Finds the targets among `names` (every variable name known to the environment and
    /// the configuration file) and reads each target's settings through `setting`
    /// (`NAME` → `CAIRN_NAME`, `MINIO_NAME`, the file). A target that is enabled without
    /// an endpoint, or with a bad number, is reported and skipped or defaulted.
    pub fn from_settings<'a>(
        names: impl IntoIterator<Item = &'a str>,
        setting: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let mut suffixes = BTreeSet::new();
        for name in names {
            let rest = name
                .strip_prefix("CAIRN_AUDIT_WEBHOOK_ENABLE")
                .or_else(|| name.strip_prefix("MINIO_AUDIT_WEBHOOK_ENABLE"));
            match rest {
                Some("") => {
                    suffixes.insert(String::new());
                }
                Some(s) if s.len() > 1 && s.starts_with('_') => {
                    suffixes.insert(s.to_string());
                }
                _ => {}
            }
        }
        let mut targets = Vec::new();
        for suffix in suffixes {
            let id = match suffix.strip_prefix('_') {
                Some(id) => id.to_string(),
                None => DEFAULT_TARGET_ID.to_string(),
            };
            let get = |key: &str| setting(&format!("AUDIT_WEBHOOK_{key}{suffix}"));
            if !get("ENABLE").is_some_and(|v| is_on(&v)) {
                continue;
            }
            let Some(endpoint) = get("ENDPOINT").filter(|e| !e.trim().is_empty()) else {
                tracing::warn!(target_id = %id, "audit webhook enabled without an endpoint: ignored");
                continue;
            };
            let number = |key: &str, default: usize| match get(key) {
                None => default,
                Some(v) => match v.trim().parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => {
                        tracing::warn!(target_id = %id, value = %v, "ignoring bad audit webhook {key}");
                        default
                    }
                },
            };
            let http_timeout = match get("HTTP_TIMEOUT") {
                None => DEFAULT_HTTP_TIMEOUT,
                Some(v) => match crate::duration::parse(&v) {
                    Some(d) if !d.is_zero() => d,
                    _ => {
                        tracing::warn!(target_id = %id, value = %v, "ignoring bad audit webhook HTTP_TIMEOUT");
                        DEFAULT_HTTP_TIMEOUT
                    }
                },
            };
            targets.push(TargetConfig {
                endpoint: endpoint.trim().to_string(),
                authorization: get("AUTH_TOKEN").and_then(|t| authorization(&t)),
                batch_size: number("BATCH_SIZE", DEFAULT_BATCH_SIZE),
                queue_size: number("QUEUE_SIZE", DEFAULT_QUEUE_SIZE),
                http_timeout,
                id,
            });
        }
        Self { targets }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Resolves like `config::Env::setting`: `CAIRN_` before `MINIO_`.
    fn resolve(vars: &[(&str, &str)]) -> AuditConfig {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        AuditConfig::from_settings(map.keys().copied(), |name| {
            map.get(format!("CAIRN_{name}").as_str())
                .or_else(|| map.get(format!("MINIO_{name}").as_str()))
                .map(|v| v.to_string())
        })
    }

    #[test]
    fn default_and_numbered_targets_with_cairn_winning() {
        let c = resolve(&[
            ("MINIO_AUDIT_WEBHOOK_ENABLE", "on"),
            ("MINIO_AUDIT_WEBHOOK_ENDPOINT", "http://minio-name/"),
            ("CAIRN_AUDIT_WEBHOOK_ENDPOINT", "http://cairn-name/"),
            ("MINIO_AUDIT_WEBHOOK_AUTH_TOKEN", "s3cr3t"),
            ("CAIRN_AUDIT_WEBHOOK_ENABLE_2", "on"),
            ("MINIO_AUDIT_WEBHOOK_ENDPOINT_2", "https://two/log"),
            ("MINIO_AUDIT_WEBHOOK_AUTH_TOKEN_2", "Basic abc"),
            ("MINIO_AUDIT_WEBHOOK_BATCH_SIZE_2", "50"),
            ("MINIO_AUDIT_WEBHOOK_QUEUE_SIZE_2", "7"),
            ("MINIO_AUDIT_WEBHOOK_HTTP_TIMEOUT_2", "2s"),
            ("MINIO_AUDIT_WEBHOOK_ENABLE_OFF", "off"),
            ("MINIO_AUDIT_WEBHOOK_ENDPOINT_OFF", "http://off/"),
            ("MINIO_AUDIT_WEBHOOK_ENABLE_NOURL", "on"),
        ]);
        assert_eq!(c.targets.len(), 2, "{c:?}");
        let by_id = |id: &str| c.targets.iter().find(|t| t.id == id).expect("target");
        let two = by_id("2");
        assert_eq!(two.id, "2");
        assert_eq!(two.endpoint, "https://two/log");
        assert_eq!(two.authorization.as_deref(), Some("Basic abc"));
        assert_eq!((two.batch_size, two.queue_size), (50, 7));
        assert_eq!(two.http_timeout, Duration::from_secs(2));
        let default = by_id(DEFAULT_TARGET_ID);
        assert_eq!(default.id, DEFAULT_TARGET_ID);
        assert_eq!(default.endpoint, "http://cairn-name/");
        assert_eq!(default.authorization.as_deref(), Some("Bearer s3cr3t"));
        assert_eq!(default.batch_size, DEFAULT_BATCH_SIZE);
        assert_eq!(default.queue_size, DEFAULT_QUEUE_SIZE);
        assert_eq!(default.http_timeout, DEFAULT_HTTP_TIMEOUT);
    }

    #[test]
    fn bad_numbers_keep_defaults_and_debug_hides_the_token() {
        let c = resolve(&[
            ("MINIO_AUDIT_WEBHOOK_ENABLE_A", "true"),
            ("MINIO_AUDIT_WEBHOOK_ENDPOINT_A", "http://a/"),
            ("MINIO_AUDIT_WEBHOOK_AUTH_TOKEN_A", "very-secret-token"),
            ("MINIO_AUDIT_WEBHOOK_BATCH_SIZE_A", "0"),
            ("MINIO_AUDIT_WEBHOOK_QUEUE_SIZE_A", "lots"),
        ]);
        let a = &c.targets[0];
        assert_eq!((a.batch_size, a.queue_size), (1, DEFAULT_QUEUE_SIZE));
        let printed = format!("{c:?}");
        assert!(!printed.contains("very-secret-token"), "{printed}");
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn nothing_configured_is_off() {
        assert!(resolve(&[("MINIO_ROOT_USER", "x")]).targets.is_empty());
        assert_eq!(authorization("  "), None);
    }
}
