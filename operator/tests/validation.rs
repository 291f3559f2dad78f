//! Tenants the operator refuses, and what it tells the person.

mod common;

use cairn_operator::crd::validate::ExistingPool;
use cairn_operator::render::{self, Observed, RenderError, Settings};
use common::*;
use k8s_openapi::api::core::v1::Secret;

/// The problems of rendering `tenant`, as `field: message` lines.
fn problems(tenant: &cairn_operator::crd::Tenant, secrets: &[Secret]) -> Vec<String> {
    problems_with(tenant, secrets, &[])
}

fn problems_with(
    tenant: &cairn_operator::crd::Tenant,
    secrets: &[Secret],
    existing: &[ExistingPool],
) -> Vec<String> {
    let observed = Observed {
        existing_pools: existing.to_vec(),
        ..observed()
    };
    match render::render(tenant, secrets, &observed, &Settings::default()) {
        Err(RenderError::Invalid(e)) => {
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("Tenant {} is not valid:", e.tenant)),
                "{text}"
            );
            e.problems.iter().map(ToString::to_string).collect()
        }
        other => panic!("expected validation errors, got {other:?}"),
    }
}

fn assert_one(problems: &[String], field: &str, needle: &str) {
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].starts_with(&format!("{field}: ")),
        "{problems:#?}"
    );
    assert!(problems[0].contains(needle), "{problems:#?}");
}

#[test]
fn fewer_than_four_drives_in_distributed_mode() {
    let t = simple_tenant(&[("p", 2, 1)], "");
    assert_one(
        &problems(&t, &[good_config("ns")]),
        "spec.pools[0]",
        "2 servers x 1 volumes = 2 drives; with more than one server (distributed mode) every pool needs at least 4 drives",
    );
    // A second pool makes a single-server pool distributed too.
    let t = simple_tenant(&[("a", 4, 1), ("b", 1, 2)], "");
    assert_one(
        &problems(&t, &[good_config("ns")]),
        "spec.pools[1]",
        "at least 4 drives",
    );
}

#[test]
fn parity_above_half_a_set() {
    let t = simple_tenant(&[("p", 4, 2)], "");
    let config = config_secret(
        "ns",
        "t-env",
        "export MINIO_ROOT_USER=admin\nexport MINIO_ROOT_PASSWORD=sup3r-secret\nexport MINIO_STORAGE_CLASS_STANDARD=\"EC:5\"\n",
    );
    assert_one(
        &problems(&t, &[config]),
        "spec.pools[0]",
        "parity EC:5 is more than half of the 8-drive erasure set; at most EC:4 is possible",
    );
    // From spec.env too, which the server reads before the file.
    let t = simple_tenant(
        &[("p", 4, 1)],
        "  env:\n  - {name: CAIRN_STORAGE_CLASS_STANDARD, value: \"EC:3\"}\n",
    );
    assert_one(
        &problems(&t, &[good_config("ns")]),
        "spec.pools[0]",
        "at most EC:2",
    );
}

#[test]
fn duplicate_pool_names() {
    let t = simple_tenant(&[("p", 4, 1), ("p", 4, 1)], "");
    assert_one(
        &problems(&t, &[good_config("ns")]),
        "spec.pools[1].name",
        "pool name `p` is used twice",
    );
}

#[test]
fn impossible_erasure_layouts() {
    let t = simple_tenant(&[("p", 1, 17)], "");
    assert_one(
        &problems(&t, &[good_config("ns")]),
        "spec.pools[0]",
        "17 drives cannot be split into erasure sets",
    );
    let t = simple_tenant(&[("p", 17, 2)], "");
    assert_one(
        &problems(&t, &[good_config("ns")]),
        "spec.pools[0]",
        "spread evenly over the servers",
    );
}

#[test]
fn configuration_secret_problems() {
    let t = simple_tenant(&[("p", 4, 1)], "");
    assert_one(
        &problems(&t, &[]),
        "spec.configuration.name",
        "Secret `t-env` does not exist",
    );
    let other_ns = good_config("elsewhere");
    assert_one(
        &problems(&t, &[other_ns]),
        "spec.configuration.name",
        "does not exist in the Tenant's namespace",
    );
    let mut no_key = good_config("ns");
    no_key.string_data = Some([("other".to_string(), "x".to_string())].into());
    assert_one(
        &problems(&t, &[no_key]),
        "spec.configuration.name",
        "has no `config.env` key",
    );
    let no_password = config_secret("ns", "t-env", "export MINIO_ROOT_USER=admin\n");
    assert_one(
        &problems(&t, &[no_password]),
        "spec.configuration.name",
        "sets no root password",
    );
    let short = config_secret(
        "ns",
        "t-env",
        "export CAIRN_ROOT_USER=ad\nexport CAIRN_ROOT_PASSWORD=short\n",
    );
    let p = problems(&t, &[short]);
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(
        p[0].contains("shorter than 3") && p[1].contains("shorter than 8"),
        "{p:#?}"
    );
    let broken = config_secret(
        "ns",
        "t-env",
        "export MINIO_ROOT_USER=\"admin\nexport MINIO_ROOT_PASSWORD=hunter2hunter2\n",
    );
    let p = problems(&t, &[broken]);
    assert_one(
        &p,
        "spec.configuration.name",
        "config.env line 1: the double quote",
    );
    assert!(!p[0].contains("hunter2"));

    // The KMS key of server-side encryption: refused with the reason before pods start.
    let creds = "export MINIO_ROOT_USER=admin\nexport MINIO_ROOT_PASSWORD=hunter2hunter2\n";
    for (kms, why) in [
        ("tenant-key", "must be `<key-name>:<base64 of 32 bytes>`"),
        ("tenant-key:c2hvcnQ=", "not base64 of exactly 32 bytes"),
        (
            "bad name:MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0YmVnaXZlbjE=",
            "may only have letters",
        ),
    ] {
        let secret = config_secret(
            "ns",
            "t-env",
            &format!("{creds}export MINIO_KMS_SECRET_KEY=\"{kms}\"\n"),
        );
        let p = problems(&t, &[secret]);
        assert_one(&p, "spec.configuration.name", why);
        assert!(
            !p[0].contains("c2hvcnQ"),
            "no key material in the message: {p:#?}"
        );
    }
    assert_eq!(
        cairn_operator::config_env::kms_key_problem(
            "new:MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0YmVnaXZlbjE=,old:bmV3MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0YmVnaXY="
        ),
        None
    );

    let mut none = simple_tenant(&[("p", 4, 1)], "");
    none.spec.configuration = None;
    assert_one(
        &problems(&none, &[good_config("ns")]),
        "spec.configuration.name",
        "required",
    );
}

#[test]
fn credentials_in_clear_and_owned_env_names() {
    let t = simple_tenant(
        &[("p", 4, 1)],
        "  env:\n  - {name: MINIO_ROOT_PASSWORD, value: hunter2hunter2}\n  - {name: CAIRN_CONFIG_ENV_FILE, value: /x}\n  - {name: A, value: '1'}\n  - {name: A, value: '2'}\n",
    );
    let p = problems(&t, &[good_config("ns")]);
    assert_eq!(p.len(), 3, "{p:#?}");
    assert!(
        p[0].starts_with(
            "spec.env[0]: `MINIO_ROOT_PASSWORD` is a credential and would be stored in clear"
        ),
        "{p:#?}"
    );
    assert!(
        p[1].starts_with("spec.env[1]: `CAIRN_CONFIG_ENV_FILE` is set by the operator"),
        "{p:#?}"
    );
    assert!(p[2].starts_with("spec.env[3]: `A` is set twice"), "{p:#?}");
    // From a Secret reference it is fine.
    let ok = simple_tenant(
        &[("p", 4, 1)],
        "  env:\n  - name: MINIO_ROOT_PASSWORD\n    valueFrom: {secretKeyRef: {name: s, key: k}}\n",
    );
    assert!(render(&ok, &[good_config("ns")]).is_ok());
}

#[test]
fn buckets_users_and_certificates() {
    let t = simple_tenant(
        &[("p", 4, 1)],
        "  buckets:\n  - {name: Synapse_Media}\n  - {name: ok-bucket}\n  - {name: ok-bucket}\n  - {name: locked, objectLock: true}\n  - {name: 192.168.1.1}\n  users:\n  - {name: u}\n  - {name: u}\n  externalCertSecret:\n  - {name: a}\n  - {name: b}\n",
    );
    let p = problems(&t, &[good_config("ns")]);
    let fields: Vec<&str> = p.iter().map(|p| p.split(": ").next().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "spec.externalCertSecret",
            "spec.buckets[0].name",
            "spec.buckets[2].name",
            "spec.buckets[4].name",
            "spec.users[1].name",
        ],
        "{p:#?}"
    );
    assert!(p[0].contains("Cairn serves one certificate"));
}

#[test]
fn policies_need_unique_names_and_json_documents() {
    let t = simple_tenant(
        &[("p", 4, 1)],
        "  policies:\n  - {name: rw, document: '{\"Statement\": []}'}\n  - {name: rw, document: '{}'}\n  - {name: bad, document: 'not json'}\n  - {name: list, document: '[]'}\n  users:\n  - {name: u, policy: rw}\n",
    );
    let p = problems(&t, &[good_config("ns")]);
    let fields: Vec<&str> = p.iter().map(|p| p.split(": ").next().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "spec.policies[1].name",
            "spec.policies[2].document",
            "spec.policies[3].document",
        ],
        "{p:#?}"
    );
    assert!(p[0].contains("policy `rw` is listed twice"));
    assert!(p[1].contains("not valid JSON"));
    assert!(p[2].contains("must be a JSON object"));
    assert_eq!(t.spec.users.as_ref().unwrap()[0].policy_name(), "rw");
}

#[test]
fn a_policy_document_comes_inline_or_from_one_config_map_key() {
    let t = simple_tenant(
        &[("p", 4, 1)],
        "  policies:\n  - {name: cm, configMapRef: {name: policies, key: media-rw.json}}\n  - {name: both, document: '{}', configMapRef: {name: policies, key: k}}\n  - {name: neither}\n  - {name: bad-ref, configMapRef: {name: Policies_, key: 'a/b'}}\n",
    );
    let p = problems(&t, &[good_config("ns")]);
    let fields: Vec<&str> = p.iter().map(|p| p.split(": ").next().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "spec.policies[1]",
            "spec.policies[2]",
            "spec.policies[3].configMapRef.name",
            "spec.policies[3].configMapRef.key",
        ],
        "{p:#?}"
    );
    for message in &p[..2] {
        assert!(
            message.contains("either inline (document) or as a ConfigMap key (configMapRef: {name, key}), exactly one of the two"),
            "{message}"
        );
    }
    assert!(
        p[2].contains("`Policies_` is not a valid ConfigMap name"),
        "{}",
        p[2]
    );
    assert!(
        p[3].contains("`a/b` is not a valid ConfigMap key"),
        "{}",
        p[3]
    );
}

#[test]
fn names_that_overflow_kubernetes_limits() {
    let longest = "p".repeat(50);
    assert!(
        render(
            &simple_tenant(&[(&longest, 4, 1)], ""),
            &[good_config("ns")]
        )
        .is_ok()
    );
    let longer = "p".repeat(51);
    let t = simple_tenant(&[(&longer, 4, 1)], "");
    assert_one(
        &problems(&t, &[good_config("ns")]),
        "spec.pools[0].name",
        "is 53 characters; at most 52",
    );
    let mut t = simple_tenant(&[("p", 4, 1)], "");
    t.metadata.name = Some("1tenant".into());
    assert_one(
        &problems(&t, &[good_config("ns")]),
        "metadata.name",
        "starts with a letter",
    );
    let t = simple_tenant(&[("p", 4, 1)], "  s3ServiceName: t-hl\n");
    assert_one(
        &problems(&t, &[good_config("ns")]),
        "spec.s3ServiceName",
        "another Service of this tenant",
    );
    let t = simple_tenant(&[("p", 4, 1)], "  mountPath: /\n");
    assert_one(
        &problems(&t, &[good_config("ns")]),
        "spec.mountPath",
        "absolute directory other than `/`",
    );
    let mut t = simple_tenant(&[("p", 4, 1)], "");
    t.spec.pools[0].labels = Some([("cairn.dev/pool".to_string(), "x".to_string())].into());
    assert_one(
        &problems(&t, &[good_config("ns")]),
        "spec.pools[0].labels",
        "set by the operator",
    );
    let mut t = simple_tenant(&[("p", 4, 1)], "");
    t.spec.pools[0].volume_claim_template.spec = None;
    assert_one(
        &problems(&t, &[good_config("ns")]),
        "spec.pools[0].volumeClaimTemplate.spec.resources.requests.storage",
        "the size of one drive",
    );
}

#[test]
fn existing_pools_keep_their_shape() {
    let t = simple_tenant(&[("pool-0", 4, 2)], "");
    let existing = |servers, volumes| ExistingPool {
        name: "pool-0".into(),
        servers,
        volumes_per_server: volumes,
    };
    assert!(problems_with_ok(&t, &[existing(4, 2)]));
    assert_one(
        &problems_with(&t, &[good_config("ns")], &[existing(4, 1)]),
        "spec.pools[0]",
        "pool `pool-0` exists with 4 servers x 1 volumes and cannot become 4 x 2",
    );
    let gone = ExistingPool {
        name: "old".into(),
        servers: 4,
        volumes_per_server: 1,
    };
    assert_one(
        &problems_with(&t, &[good_config("ns")], &[existing(4, 2), gone]),
        "spec.pools",
        "pool `old` exists (4 servers x 1 volumes) but is no longer in the spec",
    );
}

fn problems_with_ok(t: &cairn_operator::crd::Tenant, existing: &[ExistingPool]) -> bool {
    let observed = Observed {
        existing_pools: existing.to_vec(),
        ..observed()
    };
    render::render(t, &[good_config("ns")], &observed, &Settings::default()).is_ok()
}

#[test]
fn every_problem_is_reported_at_once() {
    let t = simple_tenant(&[("p", 2, 1), ("p", 4, 1)], "  buckets:\n  - {name: x}\n");
    let p = problems(&t, &[]);
    assert_eq!(p.len(), 4, "{p:#?}");
}
