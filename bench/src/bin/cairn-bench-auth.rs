//! `cairn-bench-auth`: what the S3 permission check costs per request, in-process, for root
//! and for a user with the canned `readwrite` policy.
//!
//! The load benchmark (`cairn-bench-load --identity both`) answers the question that matters
//! (ops/s of a user ÷ root's), but on two shared cores a 5 % difference is within its noise.
//! This program times exactly the per-request work that depends on the caller, as the S3
//! service does it: `Iam::resolve` of the access key (run by the signature check),
//! `Access::new` (the request's condition context) and `authorize::check` (bucket policy
//! cache, policy evaluation), over an object layer of 8 temporary drives and a real IAM
//! state. Root and the user alternate in batches; the report gives ns per request for each
//! and the user's extra cost, to set beside the server's CPU per request from the load
//! benchmark. Every timed check must succeed, and a user without the policy must be denied,
//! so a check that skips work cannot look fast.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use cairn::drive::DriveRef;
use cairn::drive::local::LocalDrive;
use cairn::iam::{Iam, RootCredentials};
use cairn::objects::ObjectLayer;
use cairn::objects::bucket::BucketMeta;
use cairn::remote::Remote;
use cairn::s3::authorize::{Access, check};
use cairn::s3::operation::Operation;
use cairn::s3::request::{Query, Target};
use cairn::s3::{S3Config, S3Service};
use cairn_bench::table::Table;
use clap::Parser;
use http::{HeaderMap, HeaderValue};

const ROOT_USER: &str = "benchroot";
const USER: &str = "benchuser";
const DENIED_USER: &str = "benchnobody";
const BUCKET: &str = "bench";

/// Times the per-request authorization of root and of a `readwrite` user, in-process.
#[derive(Parser, Debug)]
#[command(name = "cairn-bench-auth", version)]
struct Cli {
    /// Authorizations per batch.
    #[arg(long, default_value_t = 20_000)]
    iterations: u32,
    /// Batches per (operation, identity); root and user alternate; the median is reported.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cairn-bench-auth: starting tokio: {e}");
            return ExitCode::from(2);
        }
    };
    let dir = std::env::temp_dir().join(format!("cairn-bench-auth-{}", std::process::id()));
    let out = rt.block_on(run(&cli, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    match out {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn-bench-auth: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Headers of a typical signed request (what the condition context reads).
fn headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("host", "127.0.0.1:9000"),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=benchuser/20261207/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=0000",
        ),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ("x-amz-date", "20261207T040000Z"),
        ("user-agent", "cairn-bench-auth"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    h
}

/// One request's caller-dependent work; `Ok(false)` when it was denied.
async fn authorize_once(
    s3: &S3Service,
    key: &str,
    op: &Operation,
    target: &Target,
    headers: &HeaderMap,
    query: &Query,
    remote: &Remote,
) -> Result<bool> {
    let (_secret, caller) = s3
        .iam
        .resolve(key, None)
        .with_context(|| format!("{key} does not resolve"))?;
    let access = Access::new(caller, headers, query, Some(remote), false);
    Ok(check(s3, &access, op, target, headers).await.is_ok())
}

async fn run(cli: &Cli, dir: &std::path::Path) -> Result<()> {
    if cli.iterations == 0 || cli.rounds == 0 {
        bail!("--iterations and --rounds must be at least 1");
    }
    let drives: Vec<DriveRef> = (0..8)
        .map(|i| {
            let p = dir.join(format!("d{i}"));
            std::fs::create_dir_all(p.join(".cairn.sys"))
                .with_context(|| format!("creating {}", p.display()))?;
            let d = LocalDrive::new(p, false);
            d.prepare();
            Ok(Arc::new(d) as DriveRef)
        })
        .collect::<Result<_>>()?;
    let objects = Arc::new(ObjectLayer::new(vec![vec![drives]], 4, 7).context("object layer")?);
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let iam = Iam::start(
        objects.clone(),
        RootCredentials {
            user: ROOT_USER.into(),
            password: "benchroot-secret".into(),
            previous: None,
        },
        shutdown,
    )
    .await;
    for (user, policies) in [(USER, vec!["readwrite".to_string()]), (DENIED_USER, vec![])] {
        iam.update(|s, now| {
            s.set_user(
                ROOT_USER,
                user,
                "benchuser-secret",
                None,
                Some(policies),
                now,
            )
        })
        .await
        .with_context(|| format!("adding user {user}"))?;
    }
    objects
        .make_bucket(
            BUCKET,
            BucketMeta {
                name: BUCKET.into(),
                created_ms: cairn::iam::now_ms(),
                ..Default::default()
            },
        )
        .await
        .context("creating the bucket")?;
    let s3 = S3Service::new(
        objects,
        iam,
        S3Config {
            region: "us-east-1".into(),
            domains: Vec::new(),
        },
    );
    let headers = headers();
    let query = Query::parse("").map_err(|e| anyhow::anyhow!("empty query: {e:?}"))?;
    let remote = Remote {
        addr: "127.0.0.1:40000".parse().context("address")?,
        secure: false,
    };
    let target = Target {
        bucket: Some(BUCKET.into()),
        key: Some("some/object/key".into()),
    };
    let ops = [
        ("GET", Operation::GetObject { version: false }),
        ("PUT", Operation::PutObject),
    ];
    // Nothing fast can be wrong: both are allowed, a user without policies is not.
    for (name, op) in &ops {
        for who in [ROOT_USER, USER] {
            if !authorize_once(&s3, who, op, &target, &headers, &query, &remote).await? {
                bail!("{who} was denied {name}");
            }
        }
        if authorize_once(&s3, DENIED_USER, op, &target, &headers, &query, &remote).await? {
            bail!("{DENIED_USER} (no policy) was allowed {name}");
        }
    }

    let mut table = Table::new(&[
        "op",
        "root ns/req",
        "user ns/req",
        "user − root ns",
        "user ÷ root",
    ]);
    for (name, op) in &ops {
        let mut ns: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..cli.rounds {
            for (i, who) in [ROOT_USER, USER].into_iter().enumerate() {
                let start = Instant::now();
                for _ in 0..cli.iterations {
                    if !authorize_once(&s3, who, op, &target, &headers, &query, &remote).await? {
                        bail!("{who} was denied {name} during the timed loop");
                    }
                }
                ns[i].push(start.elapsed().as_nanos() as f64 / f64::from(cli.iterations));
            }
        }
        let [root, user] = ns.map(|mut v| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        });
        eprintln!(
            "  {name}: root {root:.0} ns, user {user:.0} ns (median of {})",
            cli.rounds
        );
        table.row(vec![
            (*name).to_string(),
            format!("{root:.0}"),
            format!("{user:.0}"),
            format!("{:.0}", user - root),
            format!("{:.2}x", user / root),
        ]);
    }
    println!(
        "Per-request authorization (resolve + Access::new + check), median of {} batches of {}:\n",
        cli.rounds, cli.iterations
    );
    print!("{}", table.render());
    Ok(())
}
