//! Who signs the benchmark's requests (`cairn-bench-load --identity root|user|both`), and the
//! report that compares them.
//!
//! Root skips authorization entirely; every other caller is evaluated against its policies,
//! its groups' and the bucket policy on every request. To measure what that costs, the
//! benchmark creates a user with the canned `readwrite` policy through MinIO's admin API v3
//! (`add-user` with madmin's encrypted body, then `set-user-or-group-policy`), signed by root,
//! runs the same cells signed by that user, and removes the user at the end. With `both` the
//! cells alternate root, user, root, user, ... so that both see the same machine, and
//! [`ratio_table`] prints each identity's mean ops/s per cell and the user ÷ root ratio.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use cairn::admin::client::{AdminClient, TlsTrust, V3Body};
use cairn::s3::auth::sigv4::Credentials;
use cairn_madmin::paths::Call;
use cairn_madmin::types::{AddOrUpdateUserReq, Status};

use crate::load::CellResult;
use crate::table::Table;

/// Deadline of one admin call.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);
/// The canned policy the benchmark user gets: everything on every bucket, as an application
/// user typically has on its own bucket, yet evaluated on every request.
pub const USER_POLICY: &str = "readwrite";

/// Which identities sign the cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Identity {
    /// The root credentials (no policy evaluation).
    Root,
    /// A user with the canned `readwrite` policy, created for the run.
    User,
    /// Root and the user alternately, cell by cell.
    Both,
}

impl Identity {
    /// Labels of the identities that sign cells, in the order they alternate.
    pub fn labels(self) -> &'static [&'static str] {
        match self {
            Identity::Root => &["root"],
            Identity::User => &["user"],
            Identity::Both => &["root", "user"],
        }
    }

    /// Whether a user must be created for the run.
    pub fn needs_user(self) -> bool {
        self != Identity::Root
    }
}

/// An admin client signed with the root credentials.
fn admin(endpoint: &str, root: &Credentials, region: &str) -> Result<AdminClient> {
    AdminClient::new(endpoint, root.clone(), region, &TlsTrust::System)
        .with_context(|| format!("admin client for {endpoint}"))
}

/// Creates (or resets) user `name` with `secret` and attaches [`USER_POLICY`] to it.
pub async fn create_user(
    endpoint: &str,
    root: &Credentials,
    region: &str,
    name: &str,
    secret: &str,
) -> Result<()> {
    let c = admin(endpoint, root, region)?;
    let req = AddOrUpdateUserReq {
        secret_key: secret.to_string(),
        policy: String::new(),
        status: Status::Enabled,
    };
    let body = serde_json::to_vec(&req).context("encoding add-user")?;
    c.v3(
        Call::AddUser,
        &[("accessKey", name)],
        V3Body::Encrypted(body),
        ADMIN_TIMEOUT,
    )
    .await
    .with_context(|| format!("add-user {name}"))?;
    c.v3(
        Call::SetUserOrGroupPolicy,
        &[
            ("policyName", USER_POLICY),
            ("userOrGroup", name),
            ("isGroup", "false"),
        ],
        V3Body::None,
        ADMIN_TIMEOUT,
    )
    .await
    .with_context(|| format!("set-user-or-group-policy {USER_POLICY} on {name}"))?;
    Ok(())
}

/// Removes user `name`.
pub async fn remove_user(
    endpoint: &str,
    root: &Credentials,
    region: &str,
    name: &str,
) -> Result<()> {
    let c = admin(endpoint, root, region)?;
    c.v3(
        Call::RemoveUser,
        &[("accessKey", name)],
        V3Body::None,
        ADMIN_TIMEOUT,
    )
    .await
    .with_context(|| format!("remove-user {name}"))?;
    Ok(())
}

/// Mean ops/s of one identity in one cell, over its rounds.
#[derive(Default)]
struct Mean {
    sum: f64,
    n: usize,
    p50_sum: f64,
    p50_n: usize,
}

impl Mean {
    fn add(&mut self, r: &CellResult) {
        self.sum += r.ops_per_s;
        self.n += 1;
        if let Some(p) = r.p50_ms {
            self.p50_sum += p;
            self.p50_n += 1;
        }
    }
    fn ops(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
    fn p50(&self) -> Option<f64> {
        (self.p50_n > 0).then(|| self.p50_sum / self.p50_n as f64)
    }
}

/// Per cell (op, size, concurrency, in first-run order): root's and the user's mean ops/s and
/// p50 over the rounds, and user ÷ root. Cells that failed or had request errors are left
/// out of the means. Empty when not both identities ran.
pub fn ratio_table(results: &[CellResult]) -> String {
    let mut order: Vec<(String, String, usize)> = Vec::new();
    let mut means: BTreeMap<(String, String, usize, String), Mean> = BTreeMap::new();
    for r in results {
        let Some(who) = &r.identity else { continue };
        if r.failed.is_some() || r.errors > 0 {
            continue;
        }
        let cell = (r.op.clone(), r.size_label.clone(), r.concurrency);
        if !order.contains(&cell) {
            order.push(cell.clone());
        }
        means
            .entry((cell.0, cell.1, cell.2, who.clone()))
            .or_default()
            .add(r);
    }
    let mut t = Table::new(&[
        "op",
        "size",
        "conc",
        "rounds",
        "root ops/s",
        "user ops/s",
        "user ÷ root",
        "root p50 ms",
        "user p50 ms",
    ]);
    for (op, size, conc) in order {
        let get = |who: &str| means.get(&(op.clone(), size.clone(), conc, who.to_string()));
        let (Some(root), Some(user)) = (get("root"), get("user")) else {
            continue;
        };
        let (Some(ro), Some(uo)) = (root.ops(), user.ops()) else {
            continue;
        };
        let ratio = if ro > 0.0 {
            format!("{:.1} %", 100.0 * uo / ro)
        } else {
            "-".to_string()
        };
        t.row(vec![
            op,
            size,
            conc.to_string(),
            root.n.min(user.n).to_string(),
            format!("{ro:.1}"),
            format!("{uo:.1}"),
            ratio,
            crate::load::fmt_opt(root.p50(), 2),
            crate::load::fmt_opt(user.p50(), 2),
        ]);
    }
    if t.is_empty() {
        String::new()
    } else {
        t.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{CellSpec, Op};

    fn cell(op: Op, who: &str, ops_per_s: f64, errors: u64) -> CellResult {
        let spec = CellSpec {
            op,
            size: 4096,
            concurrency: 32,
            duration: Some(Duration::from_secs(1)),
            count: None,
        };
        let mut r = CellResult::failed(&spec, String::new());
        r.failed = None;
        r.identity = Some(who.to_string());
        r.ops_per_s = ops_per_s;
        r.errors = errors;
        r.p50_ms = Some(1.0);
        r
    }

    #[test]
    fn ratio_is_user_mean_over_root_mean_per_cell() {
        let results = vec![
            cell(Op::Get, "root", 1000.0, 0),
            cell(Op::Get, "user", 900.0, 0),
            cell(Op::Put, "root", 400.0, 0),
            cell(Op::Put, "user", 400.0, 0),
            cell(Op::Get, "root", 1200.0, 0),
            cell(Op::Get, "user", 1100.0, 0),
            // A cell with errors is not averaged in.
            cell(Op::Put, "user", 1.0, 3),
        ];
        let t = ratio_table(&results);
        let row = |op: &str| -> Vec<String> {
            let line = t
                .lines()
                .find(|l| l.starts_with(&format!("| {op}")))
                .unwrap();
            line.split('|').map(|c| c.trim().to_string()).collect()
        };
        // | op | size | conc | rounds | root | user | ratio | root p50 | user p50 |
        let get = row("GET");
        assert_eq!(get[4..8], ["2", "1100.0", "1000.0", "90.9 %"], "{t}");
        let put = row("PUT");
        assert_eq!(put[4..8], ["1", "400.0", "400.0", "100.0 %"], "{t}");
    }

    #[test]
    fn no_table_without_both_identities() {
        assert!(ratio_table(&[cell(Op::Get, "root", 1000.0, 0)]).is_empty());
        assert!(ratio_table(&[]).is_empty());
    }

    #[test]
    fn labels_alternate_root_first() {
        assert_eq!(Identity::Both.labels(), ["root", "user"]);
        assert!(!Identity::Root.needs_user());
        assert!(Identity::User.needs_user());
    }
}
