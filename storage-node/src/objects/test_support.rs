//! Test helpers of the object layer: a small set over fresh directories.

use super::ObjectLayer;
use super::bucket::BucketMeta;
use crate::drive::DriveRef;
use crate::drive::local::LocalDrive;
use std::sync::Arc;

/// A 2+2 set over four fresh directories (`d0`..`d3` under the returned directory) with
/// the buckets `names`.
pub(crate) async fn layer(names: &[&str]) -> (tempfile::TempDir, ObjectLayer) {
    let dir = tempfile::tempdir().unwrap();
    let mut drives: Vec<DriveRef> = Vec::new();
    for i in 0..4 {
        let p = dir.path().join(format!("d{i}"));
        std::fs::create_dir_all(p.join(".cairn.sys")).unwrap();
        let d = LocalDrive::new(p, false);
        d.prepare();
        drives.push(Arc::new(d));
    }
    let layer = ObjectLayer::new(vec![vec![drives]], 2, 7).unwrap();
    for n in names {
        let meta = BucketMeta {
            name: n.to_string(),
            ..Default::default()
        };
        layer.make_bucket(n, meta).await.unwrap();
    }
    (dir, layer)
}
