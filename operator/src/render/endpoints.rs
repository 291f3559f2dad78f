//! The drive arguments of `cairn server`: one ellipsis URL per pool.
//!
//! Every server of every pool gets the same list, in spec order, so that all of them agree
//! on the deployment's layout (the server refuses peers whose list differs). Each argument
//! names the pool's pods through the headless Service and its volumes by mount path, for
//! example `https://t-pool-0-{0...3}.t-hl.ns.svc.cluster.local/export{0...1}`. The ranges
//! are written even for a single server or volume (`{0...0}`), because the server treats
//! each argument with an ellipsis as one pool and refuses to mix forms.

use super::names::Names;

/// The endpoint argument of one pool.
pub fn pool_endpoint(
    names: &Names,
    pool: &str,
    servers: usize,
    volumes_per_server: usize,
    mount_path: &str,
    tls: bool,
) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!(
        "{scheme}://{sts}-{{0...{last_server}}}.{hl}.{ns}.svc.{domain}{mount_path}{{0...{last_volume}}}",
        sts = names.statefulset(pool),
        last_server = servers.saturating_sub(1),
        hl = names.headless_service(),
        ns = names.namespace,
        domain = names.cluster_domain,
        last_volume = volumes_per_server.saturating_sub(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names {
            tenant: "t".into(),
            namespace: "ns".into(),
            cluster_domain: "cluster.local".into(),
            s3_service: "minio".into(),
        }
    }

    #[test]
    fn writes_the_design_example() {
        assert_eq!(
            pool_endpoint(&names(), "pool-0", 4, 2, "/export", true),
            "https://t-pool-0-{0...3}.t-hl.ns.svc.cluster.local/export{0...1}"
        );
        assert_eq!(
            pool_endpoint(&names(), "p", 1, 1, "/data", false),
            "http://t-p-{0...0}.t-hl.ns.svc.cluster.local/data{0...0}"
        );
    }
}
