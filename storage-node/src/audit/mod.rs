//! Audit log, beside the S3 port: one JSON entry per API call (S3, STS and the admin
//! API) in MinIO's format
//! (`entry`), posted to the webhooks MinIO's `AUDIT_WEBHOOK_*` settings name (`config`),
//! each through its own bounded queue and task (`target`), so that auditing never makes
//! a request wait: a full queue drops the entry and counts it.
//!
//! The front calls `Audit::begin` when an S3 or admin request arrives and
//! `Recorder::finish` on its answer (`recorder`); the S3 layer, STS (`AssumeRole`) and
//! the admin API (MinIO's handler names: `AddUser`, `ServerInfo`, ...) contribute the
//! operation name, bucket, object and access key through the response's
//! `s3::call::ApiCall`. Bodies are never recorded, so neither STS's credentials nor the
//! admin API's (encrypted) secret keys reach an entry. With no target configured
//! the front holds no `Audit` and nothing of this runs.

pub mod config;
pub mod entry;
pub mod recorder;
pub mod target;

pub use config::{AuditConfig, TargetConfig};
pub use recorder::Recorder;
pub use target::{Target, TargetError};

use std::fmt::Write;
use std::sync::atomic::Ordering;

/// The running audit log: its targets and the deployment id that entries carry.
pub struct Audit {
    targets: Vec<Target>,
    deployment_id: String,
}

impl Audit {
    /// Starts a task per configured target. `None` when no target is configured or none
    /// could start (each failure is logged, without the token).
    pub fn start(
        cfg: &AuditConfig,
        deployment_id: String,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Option<Self> {
        let mut targets = Vec::new();
        for t in &cfg.targets {
            match Target::start(t.clone(), shutdown.clone()) {
                Ok(target) => {
                    tracing::info!(target_id = %t.id, batch_size = t.batch_size, queue_size = t.queue_size, "audit webhook target started");
                    targets.push(target);
                }
                Err(e) => tracing::error!(error = %e, "audit webhook target not started"),
            }
        }
        (!targets.is_empty()).then_some(Self {
            targets,
            deployment_id,
        })
    }

    /// The targets, for their counters.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Offers one entry, written by `recorder` as JSON, to every target.
    pub fn submit(&self, json: &[u8]) {
        for t in &self.targets {
            t.offer(json);
        }
    }

    /// The targets' counters in Prometheus text format, under MinIO's v2 names
    /// (`minio_audit_*`, label `target_id`) and Cairn's for what MinIO does not count.
    pub fn render_metrics(&self, out: &mut String) {
        type Pick = fn(&target::TargetStats) -> u64;
        let series: [(&str, &str, &str, Pick); 5] = [
            (
                "minio_audit_total_messages",
                "counter",
                "Total number of audit messages offered to the target since start",
                |s| s.total.load(Ordering::Relaxed),
            ),
            (
                "minio_audit_failed_messages",
                "counter",
                "Total number of audit messages dropped because the target's queue was full",
                |s| s.failed.load(Ordering::Relaxed),
            ),
            (
                "minio_audit_target_queue_length",
                "gauge",
                "Number of unsent audit messages in the target's queue",
                |s| s.queued.load(Ordering::Relaxed),
            ),
            (
                "cairn_audit_delivered_messages_total",
                "counter",
                "Audit messages the target accepted",
                |s| s.delivered.load(Ordering::Relaxed),
            ),
            (
                "cairn_audit_post_errors_total",
                "counter",
                "Failed POSTs to the target (each is retried)",
                |s| s.post_errors.load(Ordering::Relaxed),
            ),
        ];
        for (name, kind, help, pick) in series {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for t in &self.targets {
                let _ = writeln!(
                    out,
                    "{name}{{target_id=\"{}\"}} {}",
                    label_value(&t.id),
                    pick(&t.stats)
                );
            }
        }
    }
}

/// A label value escaped as the Prometheus text format requires.
fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(id: &str, queue_size: usize) -> TargetConfig {
        TargetConfig {
            id: id.into(),
            // Nothing listens on port 9 of localhost: every POST fails at once.
            endpoint: "http://127.0.0.1:9/".into(),
            authorization: None,
            batch_size: 1,
            queue_size,
            http_timeout: std::time::Duration::from_millis(200),
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_without_waiting() {
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let cfg = AuditConfig {
            targets: vec![target("a\"b", 2)],
        };
        let audit = Audit::start(&cfg, String::new(), rx).expect("a target");
        let started = std::time::Instant::now();
        for _ in 0..100 {
            audit.submit(b"{}");
        }
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        let s = &audit.targets()[0].stats;
        assert_eq!(s.total.load(Ordering::Relaxed), 100);
        // The queue holds 2, the task may hold one more batch of 1 that it retries.
        let failed = s.failed.load(Ordering::Relaxed);
        assert!((97..=98).contains(&failed), "{failed}");
        let mut page = String::new();
        audit.render_metrics(&mut page);
        assert!(
            page.contains(&format!(
                "minio_audit_failed_messages{{target_id=\"a\\\"b\"}} {failed}"
            )),
            "{page}"
        );
        assert!(page.contains("minio_audit_total_messages{target_id=\"a\\\"b\"} 100"));
    }

    #[test]
    fn a_bad_endpoint_starts_nothing() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (_tx, rx) = tokio::sync::watch::channel(false);
            let mut t = target("x", 1);
            t.endpoint = "ftp://host/".into();
            let cfg = AuditConfig { targets: vec![t] };
            assert!(Audit::start(&cfg, String::new(), rx).is_none());
        });
    }
}
