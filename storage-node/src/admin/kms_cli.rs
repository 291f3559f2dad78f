//! `cairn admin kms`: the KMS's status, a key's self-test, and key rotation
//! (`reseal`: every SSE-S3 and SSE-KMS object key moved to the default KMS key,
//! bucket by bucket, with progress on stderr).
//!
//! Exit codes as the other admin commands: 0 success, 1 an error answer or objects
//! that could not be re-sealed, 2 usage, 3 the server cannot be reached.

use super::cli::{ConnectArgs, Defaults, EXIT_FAILED, EXIT_OK, client, fail};
use super::kms::{KEY_STATUS_PATH, KeyStatus, KmsStatus, RESEAL_PATH, ResealReport, STATUS_PATH};
use clap::{Args, Subcommand};
use http::Method;
use std::time::Duration;

/// One bucket's reseal may take long on a large bucket.
const RESEAL_TIMEOUT: Duration = Duration::from_secs(3600);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Args)]
pub struct KmsArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: KmsCommand,
}

#[derive(Debug, Subcommand)]
pub enum KmsCommand {
    /// Show the KMS and its keys (the first is the default for new objects)
    Status,
    /// Check that a key seals and opens a test key [default: the default key]
    KeyStatus {
        #[arg(long)]
        key_id: Option<String>,
    },
    /// Rotate: re-seal the object keys of every bucket (or one) under the default KMS
    /// key, rewriting only metadata; then the old key can leave KMS_SECRET_KEY
    Reseal {
        /// Only this bucket
        #[arg(long)]
        bucket: Option<String>,
    },
}

pub async fn run(a: KmsArgs, defaults: &Defaults) -> u8 {
    let c = match client(&a.connect, defaults) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let raw = a.connect.json;
    match a.command {
        KmsCommand::Status => match c
            .json::<KmsStatus>(Method::GET, STATUS_PATH, &[], REQUEST_TIMEOUT)
            .await
        {
            Ok(s) if raw => print_json(&s),
            Ok(s) => {
                println!("KMS:         {}", s.name);
                println!("Default key: {}", s.default_key_id);
                println!("Keys:        {}", s.keys.join(", "));
                EXIT_OK
            }
            Err(e) => fail(&e),
        },
        KmsCommand::KeyStatus { key_id } => {
            let q: Vec<(&str, &str)> = key_id
                .as_deref()
                .map(|k| ("key-id", k))
                .into_iter()
                .collect();
            match c
                .json::<KeyStatus>(Method::GET, KEY_STATUS_PATH, &q, REQUEST_TIMEOUT)
                .await
            {
                Ok(s) if raw => print_json(&s),
                Ok(s) => {
                    println!("Key {}: encryption ok, decryption ok", s.key_id);
                    EXIT_OK
                }
                Err(e) => fail(&e),
            }
        }
        KmsCommand::Reseal { bucket } => {
            let buckets = match bucket {
                Some(b) => vec![b],
                None => match list_buckets(&c).await {
                    Ok(b) => b,
                    Err(code) => return code,
                },
            };
            let mut code = EXIT_OK;
            let mut reports = Vec::new();
            for (i, b) in buckets.iter().enumerate() {
                eprintln!("[{}/{}] re-sealing {b} ...", i + 1, buckets.len());
                match c
                    .json::<ResealReport>(
                        Method::POST,
                        RESEAL_PATH,
                        &[("bucket", b)],
                        RESEAL_TIMEOUT,
                    )
                    .await
                {
                    Ok(r) => {
                        eprintln!(
                            "[{}/{}] {b}: {} objects, {} re-sealed under {}, {} unchanged, {} failed",
                            i + 1,
                            buckets.len(),
                            r.scanned,
                            r.resealed,
                            r.key_id,
                            r.unchanged,
                            r.failed
                        );
                        for e in &r.errors {
                            eprintln!("    {e}");
                        }
                        if r.failed > 0 {
                            code = EXIT_FAILED;
                        }
                        reports.push(r);
                    }
                    Err(e) => return fail(&e),
                }
            }
            if raw {
                print_json(&reports);
            }
            code
        }
    }
}

fn print_json<T: serde::Serialize>(v: &T) -> u8 {
    match serde_json::to_string_pretty(v) {
        Ok(s) => {
            println!("{s}");
            EXIT_OK
        }
        Err(e) => {
            eprintln!("cairn admin: {e}");
            EXIT_FAILED
        }
    }
}

/// The deployment's buckets, from S3's ListBuckets (signed by the same key); bucket
/// names have no characters that XML escapes.
async fn list_buckets(c: &super::client::AdminClient) -> Result<Vec<String>, u8> {
    match c.call(Method::GET, "/", &[], REQUEST_TIMEOUT).await {
        Ok((status, body)) if status.is_success() => {
            let text = String::from_utf8_lossy(&body);
            Ok(text
                .split("<Name>")
                .skip(1)
                .filter_map(|rest| rest.split_once("</Name>").map(|(n, _)| n.to_string()))
                .collect())
        }
        Ok((status, body)) => {
            eprintln!(
                "cairn admin: listing buckets: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            );
            Err(EXIT_FAILED)
        }
        Err(e) => Err(fail(&e)),
    }
}
