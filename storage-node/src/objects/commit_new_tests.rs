//! Versioned writes of new keys ([`ErasureSet::commit_if_new`]): one trip per drive when
//! no drive knows the key, the normal read-then-write when some do, and the same state
//! on every drive either way.

use crate::objects::ObjectLayer;
use crate::objects::list_versions::VersionParams;
use crate::objects::versioning::Versioning;
use crate::objects::{BodyStream, PutOptions};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A 2+2 set over four fresh directories with a versioned bucket `ver`.
async fn layer() -> (tempfile::TempDir, ObjectLayer) {
    let (dir, layer) = crate::objects::test_support::layer(&["ver"]).await;
    layer
        .set_versioning("ver", Versioning::Enabled)
        .await
        .unwrap();
    (dir, layer)
}

async fn put(layer: &ObjectLayer, key: &str, body: &'static [u8]) -> String {
    let stream: BodyStream = Box::pin(futures::stream::iter(vec![Ok::<_, std::io::Error>(
        bytes::Bytes::from_static(body),
    )]));
    layer
        .put_object("ver", key, stream, PutOptions::default())
        .await
        .unwrap()
        .version_id
}

fn meta_path(root: &Path, drive: usize, key: &str) -> PathBuf {
    root.join(format!("d{drive}"))
        .join("ver")
        .join(key)
        .join("~meta")
}

/// The write ids of `key`'s metadata files on the four drives (`None`: no file).
fn write_ids(root: &Path, key: &str) -> Vec<Option<String>> {
    (0..4)
        .map(|d| {
            let b = std::fs::read(meta_path(root, d, key)).ok()?;
            Some(
                crate::objects::meta::decode(&bytes::Bytes::from(b))
                    .unwrap()
                    .write_id,
            )
        })
        .collect()
}

async fn version_ids(layer: &ObjectLayer, key: &str) -> BTreeSet<String> {
    let p = VersionParams {
        prefix: key.into(),
        max_keys: 1000,
        ..Default::default()
    };
    let l = layer.list_versions("ver", &p).await.unwrap();
    l.versions
        .into_iter()
        .map(|v| v.meta.s3_version_id().to_string())
        .collect()
}

async fn body(layer: &ObjectLayer, key: &str) -> Vec<u8> {
    let mut stream = layer
        .open_object("ver", key)
        .await
        .unwrap()
        .stream(None)
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

#[tokio::test]
async fn a_new_key_and_then_its_second_version() {
    let (dir, layer) = layer().await;
    let v1 = put(&layer, "k", b"one").await;
    let ids = write_ids(dir.path(), "k");
    assert!(ids.iter().all(|i| i.is_some() && *i == ids[0]), "{ids:?}");
    // Known on every drive now: the normal way puts the second version on top.
    let v2 = put(&layer, "k", b"two").await;
    assert_ne!(v1, v2);
    assert_eq!(version_ids(&layer, "k").await, BTreeSet::from([v1, v2]));
    let ids = write_ids(dir.path(), "k");
    assert!(ids.iter().all(|i| i.is_some() && *i == ids[0]), "{ids:?}");
    assert_eq!(body(&layer, "k").await, b"two");
}

#[tokio::test]
async fn a_stale_file_on_a_minority_does_not_come_back() {
    let (dir, layer) = layer().await;
    // Drive 0 holds a file for `k` that a quorum dropped: here, another key's file.
    let old = put(&layer, "other", b"old").await;
    std::fs::create_dir_all(meta_path(dir.path(), 0, "k").parent().unwrap()).unwrap();
    std::fs::copy(
        meta_path(dir.path(), 0, "other"),
        meta_path(dir.path(), 0, "k"),
    )
    .unwrap();
    let v = put(&layer, "k", b"new").await;
    assert_eq!(version_ids(&layer, "k").await, BTreeSet::from([v.clone()]));
    assert!(!version_ids(&layer, "k").await.contains(&old));
    assert_eq!(body(&layer, "k").await, b"new");
    let ids = write_ids(dir.path(), "k");
    assert!(
        ids[1].is_some() && ids[1] == ids[2] && ids[2] == ids[3],
        "{ids:?}"
    );
}

#[tokio::test]
async fn a_drive_without_the_key_is_put_back_and_the_normal_way_runs() {
    let (dir, layer) = layer().await;
    let first = put(&layer, "k", b"first").await;
    // Drive 3 lost the key: it alone takes the new file, which is below write quorum, so
    // it is put back to no file and the version goes on top of the quorum's file.
    std::fs::remove_file(meta_path(dir.path(), 3, "k")).unwrap();
    let second = put(&layer, "k", b"second").await;
    assert_eq!(
        version_ids(&layer, "k").await,
        BTreeSet::from([first, second])
    );
    assert_eq!(body(&layer, "k").await, b"second");
    let ids = write_ids(dir.path(), "k");
    assert!(
        ids[0].is_some() && ids[0] == ids[1] && ids[1] == ids[2],
        "{ids:?}"
    );
    assert_eq!(ids[3], None, "the lone new file was not put back");
}

/// Copies that agree on no file are not proof that a key is absent: a read answers an
/// error (the client retries) unless enough drives say the key is not there that no
/// committed version (on a write quorum of drives) could hide among the others.
#[tokio::test]
async fn disagreeing_copies_are_unknown_not_absent() {
    let (dir, layer) = layer().await;
    for k in ["k", "x", "y"] {
        put(&layer, k, b"body").await;
    }
    // Three different files for `k` on drives 0-2 (each another key's), none on drive 3.
    for (d, from) in [(1, "x"), (2, "y")] {
        std::fs::copy(
            meta_path(dir.path(), d, from),
            meta_path(dir.path(), d, "k"),
        )
        .unwrap();
    }
    std::fs::remove_file(meta_path(dir.path(), 3, "k")).unwrap();
    let err = layer.open_object("ver", "k").await.err();
    assert!(
        matches!(err, Some(crate::objects::ObjectError::ReadQuorum { .. })),
        "{err:?}"
    );
    // One stale copy and three drives without the key: the key does not exist.
    for d in [1, 2] {
        std::fs::remove_file(meta_path(dir.path(), d, "k")).unwrap();
    }
    let err = layer.open_object("ver", "k").await.err();
    assert!(
        matches!(err, Some(crate::objects::ObjectError::NoSuchKey)),
        "{err:?}"
    );
}
