//! A small in-memory Kubernetes API server at the HTTP level, behind a `tower-test` mock
//! service, as kube's own controller tests do: the operator's real `kube::Client` sends
//! real requests (paths, query strings, content types, JSON bodies) and this answers them
//! like the API server would for the handful of verbs the operator uses, keeping objects
//! in a map. Every request is recorded, so tests assert exactly what was sent.
//!
//! Behaviour modelled: GET (object, label-selected list), POST (create; 409 when it
//! exists), PUT (replace; 409 on a stale resourceVersion), PATCH (server-side apply:
//! the body becomes the object, `/status` replaces only the status; JSON merge patch, with a
//! resourceVersion precondition), DELETE, watches (`?watch=true`: recorded and left
//! open, never answered, so a controller's watchers wait quietly after their first
//! list), API discovery of `monitoring.coreos.com/v1`,
//! `metadata.generation` bumped on spec changes, and the StatefulSet controller's
//! `status.updateRevision`/`observedGeneration` (a hash of the pod template). Failures can
//! be injected per method and path.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::{Request, Response};
use http_body_util::BodyExt;
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One request as the fake API server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: Option<String>,
    pub body: Option<Value>,
}

impl Recorded {
    /// `METHOD path`, the short form the tests compare.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
    /// A query parameter.
    pub fn param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == name).then(|| v.to_string())
        })
    }
    pub fn is_apply(&self) -> bool {
        self.method == "PATCH"
            && self.content_type.as_deref() == Some("application/apply-patch+yaml")
    }
}

struct Injected {
    method: String,
    path_contains: String,
    code: u16,
    times: usize,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Value>,
    requests: Vec<Recorded>,
    service_monitor_crd: bool,
    failures: Vec<Injected>,
    resource_version: u64,
    uids: u64,
}

/// The fake API server.
#[derive(Clone)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
}

const PLURALS: &[&str] = &[
    "secrets",
    "configmaps",
    "services",
    "statefulsets",
    "poddisruptionbudgets",
    "servicemonitors",
    "pods",
    "persistentvolumeclaims",
    "events",
    "leases",
    "tenants",
    "storageclasses",
];

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

/// RFC 7386 JSON merge patch.
pub fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn labels_match(object: &Value, selector: &str) -> bool {
    let labels = &object["metadata"]["labels"];
    selector
        .split(',')
        .filter(|s| !s.is_empty())
        .all(|term| match term.split_once('=') {
            Some((k, v)) => labels[k].as_str() == Some(v),
            None => labels.get(term).is_some(),
        })
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

fn template_hash(object: &Value) -> String {
    let template = serde_json::to_vec(&object["spec"]["template"]).unwrap_or_default();
    let digest = Sha256::digest(&template);
    digest.iter().take(5).map(|b| format!("{b:02x}")).collect()
}

impl FakeApi {
    /// Starts the fake and returns it with a client talking to it.
    pub fn start() -> (FakeApi, Client) {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let fake = FakeApi {
            state: Arc::new(Mutex::new(State::default())),
        };
        let server = fake.clone();
        tokio::spawn(async move {
            // Open watches: their responders are kept (and dropped with this task).
            let mut watches = Vec::new();
            while let Some((request, send)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let bytes = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let Some((code, value)) = server.handle(&parts, &bytes) else {
                    watches.push(send);
                    continue;
                };
                let response = Response::builder()
                    .status(code)
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&value).unwrap_or_default()))
                    .expect("response");
                send.send_response(response);
            }
        });
        (fake, Client::new(service, "default"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stores an object at its path (a uid and resourceVersion are added when missing).
    pub fn insert(&self, path: &str, mut object: Value) {
        let mut s = self.lock();
        s.resource_version += 1;
        s.uids += 1;
        let rv = s.resource_version.to_string();
        let uid = format!("uid-{}", s.uids);
        let meta = &mut object["metadata"];
        if meta.get("uid").is_none() {
            meta["uid"] = json!(uid);
        }
        meta["resourceVersion"] = json!(rv);
        s.objects.insert(path.to_string(), object);
    }

    /// The object at `path`.
    pub fn get(&self, path: &str) -> Option<Value> {
        self.lock().objects.get(path).cloned()
    }

    /// Paths of the stored objects under `prefix`.
    pub fn paths(&self, prefix: &str) -> Vec<String> {
        self.lock()
            .objects
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Removes an object.
    pub fn remove(&self, path: &str) {
        self.lock().objects.remove(path);
    }

    /// Whether `monitoring.coreos.com/v1` (the ServiceMonitor CRD) is served.
    pub fn set_service_monitor_crd(&self, present: bool) {
        self.lock().service_monitor_crd = present;
    }

    /// The next `times` requests of `method` whose path contains `path_contains` fail
    /// with `code`.
    pub fn fail(&self, method: &str, path_contains: &str, code: u16, times: usize) {
        self.lock().failures.push(Injected {
            method: method.to_string(),
            path_contains: path_contains.to_string(),
            code,
            times,
        });
    }

    /// The requests received since the last call, oldest first.
    pub fn take_requests(&self) -> Vec<Recorded> {
        std::mem::take(&mut self.lock().requests)
    }

    /// The requests received since the last [`FakeApi::take_requests`], kept.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Answers one request; `None` for a watch, which stays open.
    fn handle(&self, parts: &http::request::Parts, body: &[u8]) -> Option<(u16, Value)> {
        let recorded = self.record(parts, body);
        if recorded.param("watch").as_deref() == Some("true") {
            return None;
        }
        Some(self.answer(recorded))
    }

    fn record(&self, parts: &http::request::Parts, body: &[u8]) -> Recorded {
        let method = parts.method.as_str().to_string();
        let path = parts.uri.path().to_string();
        let query = parts.uri.query().unwrap_or("").to_string();
        let content_type = parts
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body_json: Option<Value> = if body.is_empty() {
            None
        } else {
            serde_json::from_slice(body).ok()
        };
        let recorded = Recorded {
            method,
            path,
            query,
            content_type,
            body: body_json,
        };
        self.lock().requests.push(recorded.clone());
        recorded
    }

    fn answer(&self, recorded: Recorded) -> (u16, Value) {
        let Recorded {
            method,
            path,
            query,
            content_type,
            body: body_json,
        } = recorded;
        let mut s = self.lock();
        if let Some(f) = s
            .failures
            .iter_mut()
            .find(|f| f.times > 0 && f.method == method && path.contains(&f.path_contains))
        {
            f.times -= 1;
            let code = f.code;
            let reason = match code {
                404 => "NotFound",
                409 => "Conflict",
                _ => "InternalError",
            };
            return status(code, reason, "injected failure");
        }

        if path == "/apis/monitoring.coreos.com/v1" {
            return if s.service_monitor_crd {
                (
                    200,
                    json!({"kind": "APIResourceList", "apiVersion": "v1",
                           "groupVersion": "monitoring.coreos.com/v1",
                           "resources": [{"name": "servicemonitors", "singularName": "servicemonitor",
                                          "namespaced": true, "kind": "ServiceMonitor",
                                          "verbs": ["get", "list", "patch", "create", "delete"]}]}),
                )
            } else {
                status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                )
            };
        }

        let last = path.rsplit('/').next().unwrap_or("");
        let is_status = last == "status";
        let object_path = if is_status {
            path.trim_end_matches("/status").to_string()
        } else {
            path.clone()
        };
        let collection = PLURALS.contains(&last);
        s.resource_version += 1;
        let rv = s.resource_version.to_string();

        match method.as_str() {
            "GET" if collection => {
                let selector = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("labelSelector="))
                    .map(decode)
                    .unwrap_or_default();
                let prefix = format!("{path}/");
                let items: Vec<Value> = s
                    .objects
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix) && !k[prefix.len()..].contains('/'))
                    .map(|(_, v)| v.clone())
                    .filter(|v| labels_match(v, &selector))
                    .collect();
                (
                    200,
                    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": rv}, "items": items}),
                )
            }
            "GET" => match s.objects.get(&object_path) {
                Some(v) => (200, v.clone()),
                None => status(404, "NotFound", &format!("{object_path} not found")),
            },
            "POST" => {
                let mut object = body_json.unwrap_or(Value::Null);
                let name = object["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                let key = format!("{path}/{name}");
                if s.objects.contains_key(&key) {
                    return status(409, "AlreadyExists", &format!("{key} already exists"));
                }
                s.uids += 1;
                object["metadata"]["uid"] = json!(format!("uid-{}", s.uids));
                object["metadata"]["resourceVersion"] = json!(rv);
                s.objects.insert(key, object.clone());
                (201, object)
            }
            "PUT" => {
                let Some(existing) = s.objects.get(&object_path).cloned() else {
                    return status(404, "NotFound", &format!("{object_path} not found"));
                };
                let mut object = body_json.unwrap_or(Value::Null);
                if object["metadata"]["resourceVersion"] != existing["metadata"]["resourceVersion"]
                {
                    return status(409, "Conflict", "the object has been modified");
                }
                object["metadata"]["resourceVersion"] = json!(rv);
                object["metadata"]["uid"] = existing["metadata"]["uid"].clone();
                s.objects.insert(object_path, object.clone());
                (200, object)
            }
            "DELETE" => match s.objects.remove(&object_path) {
                Some(v) => (200, v),
                None => status(404, "NotFound", &format!("{object_path} not found")),
            },
            "PATCH" => {
                let patch = body_json.unwrap_or(Value::Null);
                let existing = s.objects.get(&object_path).cloned();
                let apply = content_type.as_deref() == Some("application/apply-patch+yaml");
                let mut object = if apply {
                    if is_status {
                        let Some(mut e) = existing.clone() else {
                            return status(404, "NotFound", &format!("{object_path} not found"));
                        };
                        e["status"] = patch["status"].clone();
                        e
                    } else {
                        let mut o = patch.clone();
                        if let Some(e) = &existing {
                            o["status"] = e["status"].clone();
                            for k in [
                                "uid",
                                "creationTimestamp",
                                "generation",
                                "finalizers",
                                "deletionTimestamp",
                            ] {
                                if e["metadata"].get(k).is_some() {
                                    o["metadata"][k] = e["metadata"][k].clone();
                                }
                            }
                        }
                        o
                    }
                } else {
                    let Some(mut e) = existing.clone() else {
                        return status(404, "NotFound", &format!("{object_path} not found"));
                    };
                    if let Some(want) = patch["metadata"].get("resourceVersion")
                        && !want.is_null()
                        && *want != e["metadata"]["resourceVersion"]
                    {
                        return status(409, "Conflict", "the object has been modified");
                    }
                    merge(&mut e, &patch);
                    e
                };
                if object["metadata"].get("uid").is_none() {
                    s.uids += 1;
                    object["metadata"]["uid"] = json!(format!("uid-{}", s.uids));
                }
                let old_spec = existing.as_ref().map(|e| e["spec"].clone());
                let generation = object["metadata"]["generation"].as_i64().unwrap_or(0);
                if old_spec.as_ref() != Some(&object["spec"]) || generation == 0 {
                    object["metadata"]["generation"] = json!(generation + 1);
                }
                object["metadata"]["resourceVersion"] = json!(rv);
                if object_path.contains("/statefulsets/") && !is_status {
                    let g = object["metadata"]["generation"].clone();
                    let name = object["metadata"]["name"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    let revision = format!("{name}-{}", template_hash(&object));
                    object["status"] = json!({
                        "observedGeneration": g,
                        "replicas": object["spec"]["replicas"].clone(),
                        "updateRevision": revision,
                    });
                }
                s.objects.insert(object_path, object.clone());
                (200, object)
            }
            _ => status(405, "MethodNotAllowed", "method not allowed"),
        }
    }
}
