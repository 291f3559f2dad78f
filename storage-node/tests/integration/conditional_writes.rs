//! Conditional writes (`If-None-Match: *`, `If-Match: <etag>`) on PutObject and
//! CompleteMultipartUpload, checked under the key's commit lock: of concurrent
//! create-only writers exactly one wins; a failed condition leaves the object and the
//! upload as they were.

use crate::common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use common::TestServer;

fn code<T, E: ProvideErrorMetadata>(
    r: Result<T, aws_sdk_s3::error::SdkError<E>>,
) -> Option<String> {
    r.err().and_then(|e| e.code().map(str::to_string))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn puts_honour_if_none_match_and_if_match() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket("cond").send().await.unwrap();
    let put = |key: &'static str, body: &'static [u8]| {
        c.put_object()
            .bucket("cond")
            .key(key)
            .body(ByteStream::from_static(body))
    };
    let first = put("k", b"one").if_none_match("*").send().await.unwrap();
    assert_eq!(
        code(put("k", b"two").if_none_match("*").send().await).as_deref(),
        Some("PreconditionFailed")
    );
    assert_eq!(common::get_bytes(&c, "cond", "k").await, b"one");
    let etag = first.e_tag().unwrap().to_string();
    assert_eq!(
        code(
            put("k", b"two")
                .if_match("\"0123456789abcdef0123456789abcdef\"")
                .send()
                .await
        )
        .as_deref(),
        Some("PreconditionFailed")
    );
    put("k", b"two").if_match(&etag).send().await.unwrap();
    assert_eq!(common::get_bytes(&c, "cond", "k").await, b"two");
    assert_eq!(
        code(put("missing", b"x").if_match(&etag).send().await).as_deref(),
        Some("NoSuchKey")
    );
    assert_eq!(
        code(put("k", b"x").if_none_match("\"abc\"").send().await).as_deref(),
        Some("NotImplemented")
    );

    // Sixteen create-only writers of one key: exactly one wins, and its bytes are stored.
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let r = c
                .put_object()
                .bucket("cond")
                .key("race")
                .if_none_match("*")
                .body(ByteStream::from(vec![i; 1000 + i as usize]))
                .send()
                .await;
            (i, code(r))
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (i, outcome) = t.await.unwrap();
        match outcome.as_deref() {
            None => winners.push(i),
            Some("PreconditionFailed") => {}
            other => panic!("writer {i}: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let w = winners[0];
    assert_eq!(
        common::get_bytes(&c, "cond", "race").await,
        vec![w; 1000 + w as usize]
    );
}

#[tokio::test]
async fn complete_multipart_honours_if_none_match() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket("condmp").send().await.unwrap();
    c.put_object()
        .bucket("condmp")
        .key("taken")
        .body(ByteStream::from_static(b"existing"))
        .send()
        .await
        .unwrap();
    let up = c
        .create_multipart_upload()
        .bucket("condmp")
        .key("taken")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_string();
    let parts = common::one_part(&c, "condmp", "taken", &id, vec![9u8; 2000]).await;
    let refused = c
        .complete_multipart_upload()
        .bucket("condmp")
        .key("taken")
        .upload_id(&id)
        .multipart_upload(parts.clone())
        .if_none_match("*")
        .send()
        .await;
    assert_eq!(code(refused).as_deref(), Some("PreconditionFailed"));
    assert_eq!(common::get_bytes(&c, "condmp", "taken").await, b"existing");
    // The upload is still there: completing it without the condition works.
    c.list_parts()
        .bucket("condmp")
        .key("taken")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    c.complete_multipart_upload()
        .bucket("condmp")
        .key("taken")
        .upload_id(&id)
        .multipart_upload(parts)
        .send()
        .await
        .unwrap();
    assert_eq!(
        common::get_bytes(&c, "condmp", "taken").await,
        vec![9u8; 2000]
    );
}
