//! Who signed a request: the signature verifiers' view of IAM, shared by the S3, STS
//! and admin endpoints. The caller found for the signing key is kept, so a request
//! resolves its identity once; why a key was refused is kept too, so an expired session
//! token answers `ExpiredToken` rather than "no such key".

use super::auth::sigv4::SecretLookup;
use super::error::S3Error;
use crate::iam::{Caller, Iam, IamError};
use http::StatusCode;
use std::sync::Mutex;

/// The IAM lookup for one request and what it found.
pub struct RequestSecrets<'a> {
    iam: &'a Iam,
    token: Option<&'a str>,
    found: Mutex<Option<(String, Caller)>>,
    refused: Mutex<Option<IamError>>,
}

impl<'a> RequestSecrets<'a> {
    pub fn new(iam: &'a Iam, token: Option<&'a str>) -> Self {
        Self {
            iam,
            token,
            found: Mutex::new(None),
            refused: Mutex::new(None),
        }
    }

    /// The signing key's secret and caller, once a verifier asked for them.
    pub fn take_found(&self) -> Option<(String, Caller)> {
        self.found.lock().ok().and_then(|mut f| f.take())
    }

    /// Whether the signing key was unknown to this server's IAM snapshot.
    fn missed(&self) -> bool {
        self.refused
            .lock()
            .is_ok_and(|r| matches!(*r, Some(IamError::NoSuchUser(_))))
    }

    /// The S3 error for a refused session token (`ExpiredToken`, `InvalidToken`), which
    /// says more than the verifier's `InvalidAccessKeyId`.
    pub fn token_error(&self) -> Option<S3Error> {
        let refused = self.refused.lock().ok()?;
        match refused.as_ref()? {
            IamError::ExpiredToken => Some(S3Error::new(
                "ExpiredToken",
                StatusCode::BAD_REQUEST,
                "The provided token has expired.",
            )),
            IamError::InvalidToken(_) => Some(S3Error::new(
                "InvalidToken",
                StatusCode::BAD_REQUEST,
                "The provided token is malformed or otherwise invalid.",
            )),
            _ => None,
        }
    }
}

impl SecretLookup for RequestSecrets<'_> {
    fn secret_key(&self, access_key: &str) -> Option<String> {
        match self.iam.resolve(access_key, self.token) {
            Ok((secret, caller)) => {
                if let Ok(mut f) = self.found.lock() {
                    *f = Some((secret.clone(), caller));
                }
                Some(secret)
            }
            Err(e) => {
                tracing::debug!(access_key, error = %e, "credentials refused");
                if let Ok(mut r) = self.refused.lock() {
                    *r = Some(e);
                }
                None
            }
        }
    }
}

/// Runs `verify` against IAM. When it fails because this server does not know the
/// signing key yet (created through another server since the last periodic reload),
/// IAM catches up and `verify` runs once more, so an identity works on every server as
/// soon as the call that created it returned.
pub async fn verify<'a, T, E>(
    iam: &'a Iam,
    token: Option<&'a str>,
    verify: impl Fn(&RequestSecrets<'a>) -> Result<T, E>,
) -> (Result<T, E>, RequestSecrets<'a>) {
    let secrets = RequestSecrets::new(iam, token);
    let first = verify(&secrets);
    if first.is_ok() || !secrets.missed() || !iam.catch_up().await {
        return (first, secrets);
    }
    let again = RequestSecrets::new(iam, token);
    let second = verify(&again);
    (second, again)
}
