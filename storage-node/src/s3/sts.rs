//! STS `AssumeRole` on the S3 endpoint, as AWS STS and MinIO serve it: a SigV4-signed
//! `POST /` whose form body (`application/x-www-form-urlencoded`) carries
//! `Action=AssumeRole&Version=2011-06-15` and optionally `DurationSeconds`, `Policy`,
//! `RoleArn` and `RoleSessionName`. The caller (root or a user; never a service account
//! or a session) gets temporary credentials with its own permissions, narrowed by the
//! session policy when one is given; the session token then signs S3 requests through
//! the ordinary path (`x-amz-security-token`).
//!
//! The signature's credential scope may name the service `sts` (AWS SDKs) or `s3`
//! (accepted by MinIO too). Answers and errors use STS's XML, not S3's.

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use std::time::Duration;

use super::auth::sigv4::{self, AuthError, PayloadMode, STS_SERVICES};
use super::error::S3Error;
use super::{S3Service, body, headers, identity, security_token, xml::escape};
use crate::body::{RespBody, full};
use crate::iam::{IamError, sts as iam_sts};
use crate::objects::BodyStream;
use sha2::{Digest, Sha256};

/// Largest form body read (AWS's session policy is at most 2,048 characters; the
/// rest of the form is small).
pub const MAX_FORM_BODY: usize = 64 * 1024;
/// How long the form body may take to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// The only STS API version.
pub const VERSION: &str = "2011-06-15";
const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Whether a request is an STS call rather than S3: a `POST` to the service root (no
/// bucket) with a form body or an `Action` query parameter. No S3 operation has this
/// shape (`PostObject` goes to a bucket, with `multipart/form-data`).
pub fn is_sts_request(
    method: &Method,
    has_bucket: bool,
    headers: &HeaderMap,
    raw_query: &str,
) -> bool {
    if *method != Method::POST || has_bucket {
        return false;
    }
    let form = headers::header_str(headers, "content-type").is_some_and(|ct| {
        ct.get(..FORM_CONTENT_TYPE.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(FORM_CONTENT_TYPE))
    });
    form || raw_query
        .split('&')
        .any(|p| p.split('=').next() == Some("Action"))
}

/// An STS error, rendered as STS's `ErrorResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsError {
    pub code: &'static str,
    pub message: String,
    pub status: StatusCode,
}

impl StsError {
    fn new(code: &'static str, status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            status,
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValue", StatusCode::BAD_REQUEST, message)
    }

    fn denied(message: impl Into<String>) -> Self {
        Self::new("AccessDenied", StatusCode::FORBIDDEN, message)
    }

    /// `<ErrorResponse><Error><Type>Sender</Type>...`; `Receiver` for server faults.
    pub fn to_xml(&self, request_id: &str) -> String {
        let kind = if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"{NAMESPACE}\">\
             <Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error>\
             <RequestId>{}</RequestId></ErrorResponse>",
            self.code,
            escape(&self.message),
            escape(request_id)
        )
    }
}

impl From<AuthError> for StsError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Anonymous => Self::denied("STS requests must be signed (SigV4)"),
            AuthError::UnknownAccessKey => Self::new(
                "InvalidClientTokenId",
                StatusCode::FORBIDDEN,
                "The security token included in the request is invalid.",
            ),
            e => Self::new(e.s3_code(), e.http_status(), e.message()),
        }
    }
}

impl From<S3Error> for StsError {
    fn from(e: S3Error) -> Self {
        Self::new(e.code, e.status, e.message)
    }
}

impl From<IamError> for StsError {
    fn from(e: IamError) -> Self {
        match e {
            IamError::MalformedPolicy(m) => Self::new(
                "MalformedPolicyDocument",
                StatusCode::BAD_REQUEST,
                format!("The session policy is not valid: {m}"),
            ),
            // What AssumeRole refuses this way is a parameter out of its range (duration,
            // session policy length): AWS answers those with ValidationError.
            IamError::InvalidArgument(m) => {
                Self::new("ValidationError", StatusCode::BAD_REQUEST, m)
            }
            IamError::AccessDenied(m) => Self::denied(m),
            IamError::NoSuchUser(_) => Self::denied("the caller no longer exists"),
            e => Self::new("InternalError", e.http_status(), e.to_string()),
        }
    }
}

/// The parameters of an `AssumeRole` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRole {
    pub duration_secs: i64,
    pub policy: Option<String>,
    pub session_name: Option<String>,
}

/// Decodes `application/x-www-form-urlencoded` pairs (`+` is a space).
fn form_pairs(text: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s)
            .decode_utf8_lossy()
            .into_owned()
    };
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Reads and checks the parameters of the query and the form body. Pure: the bounds of
/// `DurationSeconds` and the session policy are checked by IAM when issuing.
pub fn parse_params(raw_query: &str, form: &[u8]) -> Result<AssumeRole, StsError> {
    let form =
        std::str::from_utf8(form).map_err(|_| StsError::invalid("the form body is not UTF-8"))?;
    let mut pairs = form_pairs(raw_query);
    pairs.extend(form_pairs(form));
    let one = |name: &str| -> Result<Option<String>, StsError> {
        let mut values = pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone());
        let first = values.next();
        if values.next().is_some() {
            return Err(StsError::invalid(format!("{name} is given more than once")));
        }
        Ok(first)
    };
    let action = one("Action")?;
    let version = one("Version")?;
    let duration = one("DurationSeconds")?;
    let policy = one("Policy")?;
    let _role_arn = one("RoleArn")?;
    let session_name = one("RoleSessionName")?;
    match action.as_deref() {
        Some("AssumeRole") => {}
        None => {
            return Err(StsError::new(
                "MissingAction",
                StatusCode::BAD_REQUEST,
                "the Action parameter is required",
            ));
        }
        Some(other) => {
            return Err(StsError::new(
                "InvalidAction",
                StatusCode::BAD_REQUEST,
                format!("Could not find operation {other} for version {VERSION}"),
            ));
        }
    }
    match version.as_deref() {
        Some(VERSION) => {}
        None => {
            return Err(StsError::new(
                "MissingParameter",
                StatusCode::BAD_REQUEST,
                "the Version parameter is required",
            ));
        }
        Some(v) => {
            return Err(StsError::invalid(format!(
                "Invalid STS API version {v}, expecting {VERSION}"
            )));
        }
    }
    let duration_secs = match duration.as_deref() {
        None | Some("") => iam_sts::DEFAULT_DURATION_SECS,
        Some(d) => d
            .parse::<i64>()
            .map_err(|_| StsError::invalid(format!("DurationSeconds {d:?} is not an integer")))?,
    };
    if let Some(n) = &session_name {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
        if !(2..=64).contains(&n.len()) || !n.chars().all(ok_char) {
            return Err(StsError::invalid(
                "RoleSessionName must be 2 to 64 characters of [\\w+=,.@-]",
            ));
        }
    }
    Ok(AssumeRole {
        duration_secs,
        policy: policy.filter(|p| !p.is_empty()),
        session_name,
    })
}

fn response(status: StatusCode, xml: String) -> Response<RespBody> {
    let mut r = Response::new(full(Bytes::from(xml)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/xml"),
    );
    r
}

/// Serves one STS request; never fails: errors become STS error responses.
pub async fn serve(
    s: &S3Service,
    parts: http::request::Parts,
    body: BodyStream,
    request_id: &str,
) -> Response<RespBody> {
    // The audit log's facts (`crate::audit`): MinIO names the call `AssumeRole` and
    // records the signer; the answer's credentials never leave the body.
    let mut call = super::call::ApiCall {
        name: "AssumeRole",
        ..Default::default()
    };
    let mut resp = match assume_role(s, parts, body, request_id, &mut call).await {
        Ok(xml) => response(StatusCode::OK, xml),
        Err(e) => {
            tracing::debug!(request_id, code = e.code, message = %e.message, "STS request refused");
            response(e.status, e.to_xml(request_id))
        }
    };
    resp.extensions_mut().insert(call);
    resp
}

async fn assume_role(
    s: &S3Service,
    parts: http::request::Parts,
    raw_body: BodyStream,
    request_id: &str,
    call: &mut super::call::ApiCall,
) -> Result<String, StsError> {
    let raw_query = parts.uri.query().unwrap_or("");
    // The form is small and read whole first: STS clients (botocore's generic SigV4 signer
    // among them) do not send `x-amz-content-sha256`, so the payload line of the
    // canonical request is the SHA-256 of this body, as SigV4 defines it outside S3.
    let form = tokio::time::timeout(BODY_TIMEOUT, body::collect(raw_body, MAX_FORM_BODY))
        .await
        .map_err(|_| {
            StsError::new(
                "RequestTimeout",
                StatusCode::BAD_REQUEST,
                "the request body did not arrive in time",
            )
        })??;
    let body_hash = hex::encode(Sha256::digest(&form));
    let mut headers = parts.headers.clone();
    if !headers.contains_key("x-amz-content-sha256") && !raw_query.contains("X-Amz-Signature") {
        if let Ok(v) = http::HeaderValue::from_str(&body_hash) {
            headers.insert("x-amz-content-sha256", v);
        }
    }
    let token = security_token(&headers, raw_query);
    let (verified, secrets) = identity::verify(&s.iam, token.as_deref(), |secrets| {
        sigv4::verify_for_services(
            &parts.method,
            parts.uri.path(),
            raw_query,
            &headers,
            chrono::Utc::now(),
            secrets,
            STS_SERVICES,
        )
    })
    .await;
    let auth = match verified {
        Ok(auth) => auth,
        Err(e) => {
            return Err(match secrets.token_error() {
                Some(t) => StsError::from(t),
                None => StsError::from(e),
            });
        }
    };
    let (_, caller) = secrets
        .take_found()
        .ok_or_else(|| StsError::from(S3Error::internal("signed request without a caller")))?;
    call.access_key.clone_from(&auth.access_key);
    if caller.user != auth.access_key {
        call.parent_user.clone_from(&caller.user);
    }
    match &auth.payload {
        PayloadMode::Unsigned => {}
        PayloadMode::SignedSha256(h) if *h == body_hash => {}
        PayloadMode::SignedSha256(_) => {
            return Err(StsError::new(
                "XAmzContentSHA256Mismatch",
                StatusCode::BAD_REQUEST,
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ));
        }
        _ => {
            return Err(StsError::invalid(
                "STS requests cannot use streaming payloads",
            ));
        }
    }
    let params = parse_params(raw_query, &form)?;
    let (session, token) =
        s.iam
            .assume_role(&caller, params.duration_secs, params.policy.as_deref())?;
    let expiration = chrono::DateTime::from_timestamp_millis(session.expires_ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    let session_name = params
        .session_name
        .unwrap_or_else(|| session.access_key.clone());
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AssumeRoleResponse xmlns=\"{NAMESPACE}\">\
         <AssumeRoleResult><Credentials><AccessKeyId>{}</AccessKeyId>\
         <SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken>\
         <Expiration>{expiration}</Expiration></Credentials>\
         <AssumedRoleUser><AssumedRoleId>{}:{}</AssumedRoleId>\
         <Arn>arn:aws:sts:::assumed-role/{}/{}</Arn></AssumedRoleUser></AssumeRoleResult>\
         <ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></AssumeRoleResponse>",
        escape(&session.access_key),
        escape(&session.secret),
        escape(&token),
        escape(&session.access_key),
        escape(&session_name),
        escape(&caller.user),
        escape(&session_name),
        escape(request_id),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "content-type",
            http::HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        h
    }

    #[test]
    fn only_form_posts_to_the_root_are_sts() {
        assert!(is_sts_request(&Method::POST, false, &form_headers(), ""));
        assert!(is_sts_request(
            &Method::POST,
            false,
            &HeaderMap::new(),
            "Action=AssumeRole"
        ));
        assert!(!is_sts_request(&Method::POST, true, &form_headers(), ""));
        assert!(!is_sts_request(&Method::GET, false, &form_headers(), ""));
        assert!(!is_sts_request(
            &Method::POST,
            false,
            &HeaderMap::new(),
            "delete="
        ));
    }

    #[test]
    fn parameters() {
        let p = parse_params(
            "",
            b"Action=AssumeRole&Version=2011-06-15&DurationSeconds=900&RoleSessionName=s%401&Policy=%7B%22a%22+%3A1%7D",
        )
        .unwrap();
        assert_eq!(
            p,
            AssumeRole {
                duration_secs: 900,
                policy: Some("{\"a\" :1}".into()),
                session_name: Some("s@1".into()),
            }
        );
        let p = parse_params("Action=AssumeRole&Version=2011-06-15", b"").unwrap();
        assert_eq!(p.duration_secs, iam_sts::DEFAULT_DURATION_SECS);
        assert_eq!(p.policy, None);
        for (query, body, code) in [
            ("", "Version=2011-06-15", "MissingAction"),
            (
                "",
                "Action=GetCallerIdentity&Version=2011-06-15",
                "InvalidAction",
            ),
            ("", "Action=AssumeRole", "MissingParameter"),
            (
                "",
                "Action=AssumeRole&Version=2010-01-01",
                "InvalidParameterValue",
            ),
            (
                "",
                "Action=AssumeRole&Version=2011-06-15&DurationSeconds=x",
                "InvalidParameterValue",
            ),
            (
                "Action=AssumeRole",
                "Action=AssumeRole&Version=2011-06-15",
                "InvalidParameterValue",
            ),
            (
                "",
                "Action=AssumeRole&Version=2011-06-15&RoleSessionName=a%20b",
                "InvalidParameterValue",
            ),
        ] {
            let e = parse_params(query, body.as_bytes()).unwrap_err();
            assert_eq!(e.code, code, "{query} {body}");
        }
    }

    #[test]
    fn errors_are_sts_xml() {
        let e = StsError::from(IamError::MalformedPolicy("x <y>".into()));
        assert_eq!(e.code, "MalformedPolicyDocument");
        let xml = e.to_xml("RID");
        assert!(
            xml.contains("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">")
        );
        assert!(xml.contains("<Type>Sender</Type><Code>MalformedPolicyDocument</Code>"));
        assert!(xml.contains("x &lt;y&gt;"));
        assert!(xml.contains("<RequestId>RID</RequestId>"));
        assert_eq!(StsError::from(AuthError::Anonymous).code, "AccessDenied");
    }
}
