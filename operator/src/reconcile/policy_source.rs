//! Where the document of a `spec.policies` entry comes from: inline (`document`), or a key
//! of a ConfigMap in the Tenant's namespace (`configMapRef`), read through the API by name
//! on every provisioning pass, as user Secrets are. The referenced ConfigMaps are not
//! watched: a changed document is noticed by the next pass (at the latest after
//! `HEALTH_INTERVAL`) because the keyed hash of what was applied differs.
//!
//! [`resolve`] is pure (policy and ConfigMap in, document or problem out); [`Sources`]
//! reads each ConfigMap once per pass.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;

use super::status::UserProblem;
use crate::crd::TenantPolicy;
use crate::crd::validate::policy_document_problem;

/// Condition reasons.
pub const CONFIG_MAP_MISSING: &str = "ConfigMapMissing";
pub const CONFIG_MAP_KEY_MISSING: &str = "ConfigMapKeyMissing";
pub const INVALID_POLICY_DOCUMENT: &str = "InvalidPolicyDocument";

/// The document of `policy`, given the ConfigMap it references (`None`: it does not
/// exist). An inline document is returned as it is (validation checked it).
pub fn resolve(
    policy: &TenantPolicy,
    config_map: Option<&ConfigMap>,
) -> Result<String, UserProblem> {
    let Some(reference) = &policy.config_map_ref else {
        return Ok(policy.document.clone().unwrap_or_default());
    };
    let name = &policy.name;
    let (cm, key) = (&reference.name, &reference.key);
    let Some(config_map) = config_map else {
        return Err(UserProblem::new(
            CONFIG_MAP_MISSING,
            format!("policy {name}: ConfigMap {cm} does not exist"),
        ));
    };
    let text = config_map
        .data
        .as_ref()
        .and_then(|d| d.get(key).cloned())
        .or_else(|| {
            config_map
                .binary_data
                .as_ref()
                .and_then(|d| d.get(key))
                .and_then(|b| String::from_utf8(b.0.clone()).ok())
        });
    let Some(document) = text else {
        return Err(UserProblem::new(
            CONFIG_MAP_KEY_MISSING,
            format!("policy {name}: ConfigMap {cm} has no (UTF-8) key {key}"),
        ));
    };
    if let Some(problem) = policy_document_problem(&document) {
        return Err(UserProblem::new(
            INVALID_POLICY_DOCUMENT,
            format!("policy {name}: ConfigMap {cm} key {key}: {problem}"),
        ));
    }
    Ok(document)
}

/// The ConfigMaps of one pass, each read at most once.
pub struct Sources {
    api: Api<ConfigMap>,
    read: BTreeMap<String, Option<ConfigMap>>,
}

impl Sources {
    pub fn new(api: Api<ConfigMap>) -> Self {
        Self {
            api,
            read: BTreeMap::new(),
        }
    }

    /// The document of `policy`; `Ok(Err)` when it cannot be had, `Err` when the API fails.
    pub async fn document(
        &mut self,
        policy: &TenantPolicy,
    ) -> Result<Result<String, UserProblem>, kube::Error> {
        let Some(reference) = &policy.config_map_ref else {
            return Ok(resolve(policy, None));
        };
        if !self.read.contains_key(&reference.name) {
            let cm = self.api.get_opt(&reference.name).await?;
            self.read.insert(reference.name.clone(), cm);
        }
        let cm = self.read.get(&reference.name).and_then(Option::as_ref);
        Ok(resolve(policy, cm))
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::ByteString;

    use super::*;
    use crate::crd::ConfigMapKeyRef;

    fn referencing(name: &str, key: &str) -> TenantPolicy {
        TenantPolicy {
            name: "media-rw".into(),
            document: None,
            config_map_ref: Some(ConfigMapKeyRef {
                name: name.into(),
                key: key.into(),
            }),
        }
    }

    fn config_map(data: &[(&str, &str)], binary: &[(&str, &[u8])]) -> ConfigMap {
        ConfigMap {
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            binary_data: Some(
                binary
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                    .collect(),
            ),
            ..ConfigMap::default()
        }
    }

    #[test]
    fn inline_documents_and_config_map_keys() {
        let inline = TenantPolicy {
            name: "p".into(),
            document: Some("{\"Statement\": []}".into()),
            config_map_ref: None,
        };
        assert_eq!(resolve(&inline, None).unwrap(), "{\"Statement\": []}");

        let cm = config_map(
            &[("policy.json", "{\"Statement\": [1]}"), ("bad", "[]")],
            &[("bin.json", b"{\"Statement\": [2]}"), ("latin1", &[0xff])],
        );
        let p = referencing("policies", "policy.json");
        assert_eq!(resolve(&p, Some(&cm)).unwrap(), "{\"Statement\": [1]}");
        let p = referencing("policies", "bin.json");
        assert_eq!(resolve(&p, Some(&cm)).unwrap(), "{\"Statement\": [2]}");

        let e = resolve(&referencing("policies", "policy.json"), None).unwrap_err();
        assert_eq!(e.reason, CONFIG_MAP_MISSING);
        assert_eq!(
            e.message,
            "policy media-rw: ConfigMap policies does not exist"
        );
        for key in ["other", "latin1"] {
            let e = resolve(&referencing("policies", key), Some(&cm)).unwrap_err();
            assert_eq!(e.reason, CONFIG_MAP_KEY_MISSING, "{key}");
            assert!(
                e.message.contains(&format!("no (UTF-8) key {key}")),
                "{}",
                e.message
            );
        }
        let e = resolve(&referencing("policies", "bad"), Some(&cm)).unwrap_err();
        assert_eq!(e.reason, INVALID_POLICY_DOCUMENT);
        assert!(e.message.contains("must be a JSON object"), "{}", e.message);
    }
}
