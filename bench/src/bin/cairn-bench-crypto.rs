//! `cairn-bench-crypto`: the cipher of server-side encryption, chosen by measurement.
//!
//! One thread seals and opens 64 KiB packages (the server's package size) with each
//! candidate AEAD, then runs the server's own stream format (`cairn::crypto::stream`)
//! over a 64 MiB body. Rates are plaintext bytes per second of this process's CPU time
//! (the machine is shared); the CPU flags that matter (AES-NI, VAES, VPCLMULQDQ, AVX2)
//! are printed from /proc/cpuinfo.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use aes_gcm::aead::{AeadInPlace, KeyInit};
use anyhow::{Result, anyhow};
use bytes::Bytes;
use cairn_bench::procinfo::process_cpu_time;
use clap::Parser;
use futures::StreamExt;

const AFTER_HELP: &str = "\
Examples:
  cairn-bench-crypto                 # every candidate, ~30 s
  cairn-bench-crypto --seconds 0.2   # quick look

Reading the output: 'GB/s (CPU)' is plaintext per second of this process's CPU time,
10^9 bytes, one core. 'seal' encrypts and tags a 64 KiB package, 'open' checks and
decrypts it. 'cairn stream' is the server's format end to end (packages, nonces, copies).";

/// AEAD candidates for server-side encryption, one thread, 64 KiB packages.
#[derive(Parser, Debug)]
#[command(name = "cairn-bench-crypto", version, after_help = AFTER_HELP)]
struct Cli {
    /// CPU seconds per cell.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
}

const PACKAGE: usize = 64 * 1024;

/// Runs `f` on one package until `secs` of CPU time have passed; plaintext GB/s of CPU time.
fn rate(secs: f64, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..16 {
        f();
    }
    let (cpu0, wall0) = (process_cpu_time(), Instant::now());
    let mut n = 0u64;
    while (process_cpu_time() - cpu0).as_secs_f64() < secs {
        for _ in 0..64 {
            f();
        }
        n += 64;
    }
    let cpu = (process_cpu_time() - cpu0).as_secs_f64();
    let wall = wall0.elapsed().as_secs_f64();
    let bytes = (n * PACKAGE as u64) as f64;
    (bytes / cpu / 1e9, cpu / wall)
}

/// One AEAD cell for a crate with ring's `aead` API (ring itself, and aws-lc-rs, which
/// copies that API): seal and open one package, in place.
macro_rules! ring_api_cell {
    ($name:ident, $aead:path) => {
        pub fn $name(secs: f64, alg: &'static Algorithm) -> Result<[(f64, f64); 2]> {
            use $aead::{Aad, LessSafeKey, Nonce, UnboundKey};
            let key =
                LessSafeKey::new(UnboundKey::new(alg, &[7u8; 32]).map_err(|_| anyhow!("key"))?);
            let mut buf = vec![5u8; PACKAGE];
            let seal = rate(secs, || {
                let tag = key
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key([1; 12]),
                        Aad::from([0u8]),
                        &mut buf,
                    )
                    .map(|t| t.as_ref()[0]);
                black_box(tag.ok());
            });
            let mut sealed = vec![5u8; PACKAGE];
            key.seal_in_place_append_tag(
                Nonce::assume_unique_for_key([1; 12]),
                Aad::from([0u8]),
                &mut sealed,
            )
            .map_err(|_| anyhow!("seal"))?;
            let mut work = sealed.clone();
            let open = rate(secs, || {
                work.copy_from_slice(&sealed);
                let ok = key
                    .open_in_place(
                        Nonce::assume_unique_for_key([1; 12]),
                        Aad::from([0u8]),
                        &mut work,
                    )
                    .is_ok();
                assert!(ok, "package opens");
            });
            Ok([seal, open])
        }
    };
}

mod ring_cells {
    use super::*;
    use ring::aead::Algorithm;
    ring_api_cell!(cell, ring::aead);
}

/// AWS-LC (through aws-lc-rs, the crate rustls uses by default), which has AES-GCM code
/// for AVX-512 VAES as well as AVX2.
mod aws_lc_cells {
    use super::*;
    use aws_lc_rs::aead::Algorithm;
    ring_api_cell!(cell, aws_lc_rs::aead);
}

fn rustcrypto_cell<C: KeyInit + AeadInPlace>(secs: f64) -> Result<[(f64, f64); 2]> {
    let c = C::new_from_slice(&[7u8; 32]).map_err(|_| anyhow!("key"))?;
    let nonce = aes_gcm::aead::Nonce::<C>::clone_from_slice(&[1u8; 12]);
    let mut buf = vec![5u8; PACKAGE];
    let seal = rate(secs, || {
        let t = c.encrypt_in_place_detached(&nonce, &[0u8], &mut buf);
        black_box(t.is_ok());
    });
    let mut sealed = vec![5u8; PACKAGE];
    let tag = c
        .encrypt_in_place_detached(&nonce, &[0u8], &mut sealed)
        .map_err(|_| anyhow!("seal"))?;
    let mut work = sealed.clone();
    let open = rate(secs, || {
        work.copy_from_slice(&sealed);
        let ok = c
            .decrypt_in_place_detached(&nonce, &[0u8], &mut work, &tag)
            .is_ok();
        assert!(ok, "package opens");
    });
    Ok([seal, open])
}

/// The server's stream format over a `len`-byte body: seal, then open all of it.
async fn stream_cell(len: usize) -> Result<[(f64, f64); 2]> {
    use cairn::crypto::keys::ObjectKey;
    let key = ObjectKey::generate().map_err(|e| anyhow!("{e}"))?;
    let body: Vec<std::io::Result<Bytes>> = (0..len / (1 << 20))
        .map(|i| Ok(Bytes::from(vec![i as u8; 1 << 20])))
        .collect();
    let (cpu0, wall0) = (process_cpu_time(), Instant::now());
    let mut sealed = Vec::with_capacity(len + len / 1000);
    let mut s = cairn::crypto::stream::seal(Box::pin(futures::stream::iter(body)), &key, 1)
        .map_err(|e| anyhow!("{e}"))?;
    while let Some(c) = s.next().await {
        sealed.extend_from_slice(&c?);
    }
    let seal = measured(len, cpu0, wall0);
    let plan = cairn::crypto::range::plan(&[(1, sealed.len() as u64)], 0, len as u64 - 1)
        .map_err(|e| anyhow!("{e}"))?;
    let chunks: Vec<std::io::Result<Bytes>> = sealed
        .chunks(1 << 20)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let (cpu0, wall0) = (process_cpu_time(), Instant::now());
    let mut o = cairn::crypto::stream::open(Box::pin(futures::stream::iter(chunks)), &key, &plan)
        .map_err(|e| anyhow!("{e}"))?;
    let mut n = 0;
    while let Some(c) = o.next().await {
        n += c?.len();
    }
    if n != len {
        return Err(anyhow!("opened {n} of {len} bytes"));
    }
    Ok([seal, measured(len, cpu0, wall0)])
}

fn measured(len: usize, cpu0: Duration, wall0: Instant) -> (f64, f64) {
    let cpu = (process_cpu_time() - cpu0).as_secs_f64().max(1e-9);
    (
        len as f64 / cpu / 1e9,
        cpu / wall0.elapsed().as_secs_f64().max(1e-9),
    )
}

fn cpu_flags() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags: Vec<&str> = info
        .lines()
        .find(|l| l.starts_with("flags"))
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    let model = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim());
    let want = ["aes", "pclmulqdq", "avx2", "vaes", "vpclmulqdq", "avx512f"];
    let have: Vec<&str> = want.iter().copied().filter(|f| flags.contains(f)).collect();
    format!("{model}; flags: {}", have.join(" "))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn-bench-crypto: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: &Cli) -> Result<()> {
    println!("CPU: {}\n", cpu_flags());
    println!(
        "| cipher (64 KiB packages, 1 core) | seal GB/s (CPU) | open GB/s (CPU) | CPU share |"
    );
    println!("|---|---|---|---|");
    let s = cli.seconds;
    let cells: Vec<(&str, [(f64, f64); 2])> = vec![
        (
            "ring AES-256-GCM (the server's)",
            ring_cells::cell(s, &ring::aead::AES_256_GCM)?,
        ),
        (
            "aws-lc-rs AES-256-GCM",
            aws_lc_cells::cell(s, &aws_lc_rs::aead::AES_256_GCM)?,
        ),
        (
            "ring ChaCha20-Poly1305",
            ring_cells::cell(s, &ring::aead::CHACHA20_POLY1305)?,
        ),
        (
            "RustCrypto aes-gcm 0.10 AES-256-GCM",
            rustcrypto_cell::<aes_gcm::Aes256Gcm>(s)?,
        ),
        (
            "RustCrypto chacha20poly1305 0.10",
            rustcrypto_cell::<chacha20poly1305::ChaCha20Poly1305>(s)?,
        ),
    ];
    for (name, [(seal, sh1), (open, sh2)]) in &cells {
        eprintln!("{name}: seal {seal:.2} GB/s, open {open:.2} GB/s");
        println!("| {name} | {seal:.2} | {open:.2} | {:.2} |", sh1.min(*sh2));
    }
    let [(seal, sh1), (open, sh2)] = stream_cell(64 << 20).await?;
    println!(
        "| cairn stream format, 64 MiB body (ring AES-256-GCM) | {seal:.2} | {open:.2} | {:.2} |",
        sh1.min(sh2)
    );
    Ok(())
}
