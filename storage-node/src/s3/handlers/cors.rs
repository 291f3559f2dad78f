//! CORS, as the S3 API reference documents it: Put/Get/DeleteBucketCors (a
//! `CORSConfiguration` of up to 100 rules, kept in the bucket's configuration record
//! [`CORS_CONFIG`]), the unauthenticated preflight `OPTIONS` request answered from those
//! rules, and the `Access-Control-*` headers added to the answer of any request that
//! names an `Origin` a rule allows. Browsers (the console, web Matrix clients fetching
//! media) need them; nothing else changes for requests without `Origin`.

use super::super::error::{S3Error, S3Result};
use super::super::xml::{self, XmlWriter};
use super::super::{RespBody, S3Request, S3Service, empty, xml_response};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use serde::{Deserialize, Serialize};

/// Name of a bucket's CORS rules in its configuration record.
pub const CORS_CONFIG: &str = "cors";
const MAX_RULES: usize = 100;
const METHODS: [&str; 5] = ["GET", "PUT", "HEAD", "POST", "DELETE"];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub origins: Vec<String>,
    pub methods: Vec<String>,
    #[serde(default)]
    pub headers: Vec<String>,
    #[serde(default)]
    pub expose: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsConfig {
    pub rules: Vec<Rule>,
}

/// `*` matches any run of characters (S3 allows one per origin or header pattern);
/// header names compare without case.
fn wildcard(pattern: &str, value: &str, fold_case: bool) -> bool {
    let (p, v) = if fold_case {
        (pattern.to_ascii_lowercase(), value.to_ascii_lowercase())
    } else {
        (pattern.to_string(), value.to_string())
    };
    match p.split_once('*') {
        None => p == v,
        Some((head, tail)) => {
            v.len() >= head.len() + tail.len() && v.starts_with(head) && v.ends_with(tail)
        }
    }
}

impl Rule {
    fn allows(&self, origin: &str, method: &str, headers: &[String]) -> bool {
        self.origins.iter().any(|o| wildcard(o, origin, false))
            && self.methods.iter().any(|m| m == method)
            && headers
                .iter()
                .all(|h| self.headers.iter().any(|p| wildcard(p, h, true)))
    }
}

impl CorsConfig {
    fn parse_xml(body: &[u8]) -> S3Result<Self> {
        let doc: XCors = xml::parse(body)?;
        if doc.rules.is_empty() || doc.rules.len() > MAX_RULES {
            return Err(S3Error::malformed_xml());
        }
        let mut rules = Vec::with_capacity(doc.rules.len());
        for r in doc.rules {
            if r.origins.is_empty() || r.methods.is_empty() {
                return Err(S3Error::malformed_xml());
            }
            for m in &r.methods {
                if !METHODS.contains(&m.as_str()) {
                    return Err(S3Error::invalid_request(format!(
                        "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                    )));
                }
            }
            for o in r.origins.iter().chain(&r.headers) {
                if o.matches('*').count() > 1 {
                    return Err(S3Error::invalid_request(format!(
                        "{o:?} can not have more than one wildcard."
                    )));
                }
            }
            rules.push(Rule {
                id: r.id,
                origins: r.origins,
                methods: r.methods,
                headers: r.headers,
                expose: r.expose,
                max_age: r.max_age,
            });
        }
        Ok(Self { rules })
    }

    fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("CORSConfiguration");
        for r in &self.rules {
            w.open("CORSRule");
            if let Some(id) = &r.id {
                w.elem("ID", id);
            }
            for o in &r.origins {
                w.elem("AllowedOrigin", o);
            }
            for m in &r.methods {
                w.elem("AllowedMethod", m);
            }
            for h in &r.headers {
                w.elem("AllowedHeader", h);
            }
            for e in &r.expose {
                w.elem("ExposeHeader", e);
            }
            if let Some(a) = r.max_age {
                w.elem("MaxAgeSeconds", &a.to_string());
            }
            w.close("CORSRule");
        }
        w.finish("CORSConfiguration")
    }

    /// Stored rules; unreadable ones allow nothing.
    pub fn from_stored(s: Option<&String>) -> Option<Self> {
        s.and_then(|s| serde_json::from_str(s).ok())
    }

    /// The first rule that allows this origin, method and request headers.
    fn matching(&self, origin: &str, method: &str, headers: &[String]) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|r| r.allows(origin, method, headers))
    }
}

#[derive(Deserialize)]
struct XCors {
    #[serde(rename = "CORSRule", default)]
    rules: Vec<XRule>,
}

#[derive(Deserialize)]
struct XRule {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "AllowedOrigin", default)]
    origins: Vec<String>,
    #[serde(rename = "AllowedMethod", default)]
    methods: Vec<String>,
    #[serde(rename = "AllowedHeader", default)]
    headers: Vec<String>,
    #[serde(rename = "ExposeHeader", default)]
    expose: Vec<String>,
    #[serde(rename = "MaxAgeSeconds")]
    max_age: Option<u32>,
}

pub async fn get(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?;
    let meta = s.objects.bucket_meta(bucket).await?;
    match CorsConfig::from_stored(meta.config.get(CORS_CONFIG)) {
        Some(c) => Ok(xml_response(StatusCode::OK, c.to_xml())),
        None => Err(S3Error::new(
            "NoSuchCORSConfiguration",
            StatusCode::NOT_FOUND,
            "The CORS configuration does not exist",
        )
        .with("BucketName", bucket)),
    }
}

pub async fn put(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    s.objects.require_bucket(&bucket).await?;
    let body = req.small_body(xml::MAX_XML_BODY).await?;
    let config = CorsConfig::parse_xml(&body)?;
    let stored = serde_json::to_string(&config)
        .map_err(|e| S3Error::internal(format!("cannot store the CORS rules: {e}")))?;
    s.set_bucket_config(&bucket, CORS_CONFIG, Some(stored))
        .await?;
    Ok(empty(StatusCode::OK))
}

pub async fn delete(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    s.objects.require_bucket(&bucket).await?;
    s.set_bucket_config(&bucket, CORS_CONFIG, None).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn set(r: &mut Response<RespBody>, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

/// The `Access-Control-*` headers for `rule` answering `origin`.
fn allow(r: &mut Response<RespBody>, rule: &Rule, origin: &str) {
    let any = rule.origins.iter().any(|o| o == "*");
    set(
        r,
        "access-control-allow-origin",
        if any { "*" } else { origin },
    );
    if !any {
        set(r, "access-control-allow-credentials", "true");
    }
    set(r, "access-control-allow-methods", &rule.methods.join(", "));
    if !rule.expose.is_empty() {
        set(r, "access-control-expose-headers", &rule.expose.join(", "));
    }
    set(
        r,
        "vary",
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    );
}

fn forbidden(message: &str) -> S3Error {
    S3Error::new("AccessForbidden", StatusCode::FORBIDDEN, message)
}

/// Answers a preflight `OPTIONS` request (unauthenticated, as browsers send it) from the
/// bucket's rules.
pub async fn preflight(
    s: &S3Service,
    bucket: &str,
    headers: &HeaderMap,
) -> S3Result<Response<RespBody>> {
    let (Some(origin), Some(method)) = (
        header(headers, "origin"),
        header(headers, "access-control-request-method"),
    ) else {
        return Err(S3Error::invalid_request(
            "Insufficient information. Origin request header needed.",
        ));
    };
    s.objects.require_bucket(bucket).await?;
    let Some(config) = s.policies.auth(s, bucket).await.cors.clone() else {
        return Err(forbidden(
            "CORSResponse: CORS is not enabled for this bucket.",
        ));
    };
    let requested: Vec<String> = header(headers, "access-control-request-headers")
        .map(|v| {
            v.split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let Some(rule) = config.matching(origin, method, &requested) else {
        return Err(forbidden(
            "CORSResponse: This CORS request is not allowed. This is usually because the \
             evalution of Origin, request method / Access-Control-Request-Method or \
             Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        ));
    };
    let mut r = empty(StatusCode::OK);
    allow(&mut r, rule, origin);
    if !requested.is_empty() {
        set(
            &mut r,
            "access-control-allow-headers",
            &requested.join(", "),
        );
    }
    if let Some(age) = rule.max_age {
        set(&mut r, "access-control-max-age", &age.to_string());
    }
    Ok(r)
}

/// Adds the `Access-Control-*` headers to the answer of a request with an `Origin` that
/// a rule of the bucket allows for its method.
pub async fn decorate(
    s: &S3Service,
    bucket: &str,
    method: &Method,
    headers: &HeaderMap,
    resp: &mut Response<RespBody>,
) {
    let Some(origin) = header(headers, "origin") else {
        return;
    };
    if let Some(config) = s.policies.auth(s, bucket).await.cors.clone() {
        if let Some(rule) = config.matching(origin, method.as_str(), &[]) {
            allow(resp, rule, origin);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<CORSConfiguration>
      <CORSRule><ID>web</ID><AllowedOrigin>https://*.example.org</AllowedOrigin>
        <AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod>
        <AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>Content-Type</AllowedHeader>
        <ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule>
      <CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>HEAD</AllowedMethod></CORSRule>
    </CORSConfiguration>"#;

    #[test]
    fn rules_parse_round_trip_and_match() {
        let c = CorsConfig::parse_xml(DOC.as_bytes()).unwrap();
        assert_eq!(CorsConfig::parse_xml(c.to_xml().as_bytes()).unwrap(), c);
        let h = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(
            c.matching(
                "https://chat.example.org",
                "PUT",
                &h(&["x-amz-date", "content-type"])
            )
            .is_some()
        );
        assert!(
            c.matching("https://chat.example.org", "DELETE", &[])
                .is_none()
        );
        assert!(
            c.matching("https://chat.example.org", "PUT", &h(&["authorization"]))
                .is_none()
        );
        assert!(c.matching("http://chat.example.org", "GET", &[]).is_none());
        assert_eq!(
            c.matching("https://anything", "HEAD", &[])
                .map(|r| r.id.clone()),
            Some(None)
        );
    }

    #[test]
    fn bad_rules_are_refused() {
        for bad in [
            "<CORSConfiguration></CORSConfiguration>",
            "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
            "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>",
            "<CORSConfiguration><CORSRule><AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
        ] {
            assert!(CorsConfig::parse_xml(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
