//! The Reed-Solomon and hash micro-benchmarks behind `cairn-bench-rs`.
//!
//! Every cell checks its own output: parity must equal the parity of an independent encoder
//! (the pure-Rust build) and reconstructed shards must equal the originals, both before and
//! after the timed loops, and a cheap spot check runs on every timed iteration. A codec or hash
//! that skipped work would fail here instead of producing a fast number.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail, ensure};
use rand::{RngCore, SeedableRng};
use serde::Serialize;

use crate::procinfo::process_cpu_time;
use crate::stats::median;

/// Which build of `reed-solomon-erasure` a codec is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RsImpl {
    /// reed-solomon-erasure 6 with `simd-accel` (C kernels; what the server uses).
    Simd,
    /// reed-solomon-erasure 5 without `simd-accel` (pure Rust table lookups).
    Pure,
}

impl RsImpl {
    /// Name for tables.
    pub fn label(self) -> &'static str {
        match self {
            RsImpl::Simd => "rse 6 + simd-accel",
            RsImpl::Pure => "rse 5 pure Rust",
        }
    }
}

/// The two operations measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RsOp {
    /// Compute the m parity shards of a stripe.
    Encode,
    /// Rebuild min(k, m) lost data shards from the survivors (a degraded read).
    Reconstruct,
}

/// Object-safe view of the two crate versions, so one benchmark loop drives both.
pub trait Codec {
    /// Computes parity in place; `shards` holds k data then m parity shards.
    fn encode(&self, shards: &mut [Vec<u8>]) -> Result<()>;
    /// Rebuilds the data shards whose flag is `false`, writing into their buffers.
    fn reconstruct_data(&self, slots: &mut [(&mut [u8], bool)]) -> Result<()>;
}

struct SimdCodec(reed_solomon_erasure::galois_8::ReedSolomon);
struct PureCodec(rse_pure::galois_8::ReedSolomon);

impl Codec for SimdCodec {
    fn encode(&self, shards: &mut [Vec<u8>]) -> Result<()> {
        self.0.encode(shards).map_err(|e| anyhow!("encode: {e}"))
    }
    fn reconstruct_data(&self, slots: &mut [(&mut [u8], bool)]) -> Result<()> {
        self.0
            .reconstruct_data(slots)
            .map_err(|e| anyhow!("reconstruct: {e}"))
    }
}

impl Codec for PureCodec {
    fn encode(&self, shards: &mut [Vec<u8>]) -> Result<()> {
        self.0.encode(shards).map_err(|e| anyhow!("encode: {e}"))
    }
    fn reconstruct_data(&self, slots: &mut [(&mut [u8], bool)]) -> Result<()> {
        self.0
            .reconstruct_data(slots)
            .map_err(|e| anyhow!("reconstruct: {e}"))
    }
}

/// Builds a k+m codec of the given implementation.
pub fn codec(imp: RsImpl, k: usize, m: usize) -> Result<Box<dyn Codec>> {
    Ok(match imp {
        RsImpl::Simd => Box::new(SimdCodec(
            reed_solomon_erasure::galois_8::ReedSolomon::new(k, m)
                .map_err(|e| anyhow!("{k}+{m}: {e}"))?,
        )),
        RsImpl::Pure => Box::new(PureCodec(
            rse_pure::galois_8::ReedSolomon::new(k, m).map_err(|e| anyhow!("{k}+{m}: {e}"))?,
        )),
    })
}

/// Timing of one repetition.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Rep {
    /// Iterations run.
    pub iters: u64,
    /// Process CPU time, seconds.
    pub cpu_s: f64,
    /// Wall time, seconds.
    pub wall_s: f64,
}

/// Result of one cell over all repetitions.
#[derive(Clone, Debug, Serialize)]
pub struct Measurement {
    /// Input bytes processed per iteration.
    pub bytes_per_iter: u64,
    /// Every repetition.
    pub reps: Vec<Rep>,
    /// Median over repetitions of input bytes per second of CPU time, in GB/s (10^9).
    pub gbps_cpu: f64,
    /// Median over repetitions of input bytes per second of wall time, in GB/s.
    pub gbps_wall: f64,
    /// Median CPU time / wall time: near 1.0 means the core was ours; lower means neighbours
    /// took it and the wall figure understates the machine.
    pub cpu_share: f64,
    /// Median CPU microseconds per iteration.
    pub us_per_iter_cpu: f64,
}

/// Timing settings.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Minimum time per repetition (both wall and CPU time must reach it).
    pub min_time: Duration,
    /// Repetitions; the median is reported.
    pub reps: usize,
}

/// Runs `f` until both wall time and process CPU time have reached `min`, then returns the
/// count and the times. The CPU clock is a system call, so it is read only once wall time has
/// passed the next point where CPU time could have reached `min`.
fn run_for(min: Duration, mut f: impl FnMut() -> Result<()>) -> Result<Rep> {
    let c0 = process_cpu_time();
    let w0 = Instant::now();
    let mut next_check = w0 + min;
    let give_up = w0 + min * 40;
    let mut iters = 0u64;
    loop {
        f()?;
        iters += 1;
        let now = Instant::now();
        if now >= next_check {
            let cpu = process_cpu_time().saturating_sub(c0);
            if cpu >= min || now >= give_up {
                return Ok(Rep {
                    iters,
                    cpu_s: cpu.as_secs_f64(),
                    wall_s: now.duration_since(w0).as_secs_f64(),
                });
            }
            next_check = now + (min - cpu).max(Duration::from_millis(1));
        }
    }
}

/// Repeats `run_for` and summarises with medians.
fn measure(
    timing: Timing,
    bytes_per_iter: u64,
    mut f: impl FnMut() -> Result<()>,
    mut after_rep: impl FnMut() -> Result<()>,
) -> Result<Measurement> {
    let mut reps = Vec::with_capacity(timing.reps);
    for _ in 0..timing.reps.max(1) {
        reps.push(run_for(timing.min_time, &mut f)?);
        after_rep()?;
    }
    let per = |sel: fn(&Rep) -> f64| -> Vec<f64> { reps.iter().map(sel).collect() };
    let bytes = bytes_per_iter as f64;
    Ok(Measurement {
        bytes_per_iter,
        gbps_cpu: median(&per(|r| r.iters as f64 / r.cpu_s.max(1e-12))) * bytes / 1e9,
        gbps_wall: median(&per(|r| r.iters as f64 / r.wall_s.max(1e-12))) * bytes / 1e9,
        cpu_share: median(&per(|r| r.cpu_s / r.wall_s.max(1e-12))),
        us_per_iter_cpu: median(&per(|r| r.cpu_s * 1e6 / r.iters.max(1) as f64)),
        reps,
    })
}

/// Geometry of one erasure-coding cell.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Geometry {
    /// Data shards.
    pub k: usize,
    /// Parity shards.
    pub m: usize,
    /// Stripe (block) size before splitting, bytes.
    pub stripe: usize,
    /// Shard size: stripe / k rounded up, bytes.
    pub shard: usize,
}

impl Geometry {
    /// k+m over stripes of `stripe` bytes.
    pub fn new(k: usize, m: usize, stripe: usize) -> Result<Self> {
        ensure!(
            k >= 1 && m >= 1 && k + m <= 256,
            "{k}+{m}: need k ≥ 1, m ≥ 1, k+m ≤ 256"
        );
        ensure!(
            stripe >= k,
            "stripe of {stripe} bytes is smaller than k={k}"
        );
        Ok(Self {
            k,
            m,
            stripe,
            shard: stripe.div_ceil(k),
        })
    }

    /// Input data bytes per stripe (k × shard), the unit of every EC rate.
    pub fn data_bytes(&self) -> u64 {
        (self.k * self.shard) as u64
    }

    /// Data shards lost in a reconstruct cell: as many as parity can cover, at most all of them.
    pub fn lost(&self) -> usize {
        self.k.min(self.m)
    }
}

/// A stripe of random data with its correct parity, computed once per geometry by the
/// pure-Rust codec (the independent reference both implementations are checked against).
pub struct Stripe {
    geo: Geometry,
    /// k data shards then m parity shards, all correct.
    shards: Vec<Vec<u8>>,
}

impl Stripe {
    /// Random data (fixed seed) and reference parity for `geo`.
    pub fn new(geo: Geometry) -> Result<Self> {
        let mut rng = rand::rngs::StdRng::seed_from_u64((geo.k * 1000 + geo.m) as u64);
        let mut shards: Vec<Vec<u8>> = (0..geo.k + geo.m).map(|_| vec![0u8; geo.shard]).collect();
        for s in &mut shards[..geo.k] {
            rng.fill_bytes(s);
        }
        codec(RsImpl::Pure, geo.k, geo.m)?.encode(&mut shards)?;
        ensure!(
            shards[geo.k..].iter().any(|p| p.iter().any(|&b| b != 0)),
            "reference parity is all zeros"
        );
        Ok(Self { geo, shards })
    }
}

/// Compares two shard sets; names the first shard that differs.
fn same_shards(got: &[Vec<u8>], want: &[Vec<u8>], what: &str) -> Result<()> {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if g != w {
            bail!("{what}: shard {i} differs from the reference");
        }
    }
    Ok(())
}

/// Measures encoding one stripe with `imp`, verifying parity against the reference.
pub fn bench_encode(imp: RsImpl, stripe: &Stripe, timing: Timing) -> Result<Measurement> {
    let geo = stripe.geo;
    let codec = codec(imp, geo.k, geo.m)?;
    let mut shards = stripe.shards.clone();
    let check = |codec: &dyn Codec, shards: &mut Vec<Vec<u8>>| -> Result<()> {
        for p in &mut shards[geo.k..] {
            p.fill(0x5a);
        }
        codec.encode(shards)?;
        same_shards(&shards[geo.k..], &stripe.shards[geo.k..], "encode")
    };
    // Warm: page in the buffers and prove the codec right before timing it.
    check(codec.as_ref(), &mut shards)?;
    let shards = std::cell::RefCell::new(shards);
    measure(
        timing,
        geo.data_bytes(),
        || {
            let mut s = shards.borrow_mut();
            codec.encode(black_box(&mut s[..]))?;
            black_box(&s[geo.k][0]);
            Ok(())
        },
        || check(codec.as_ref(), &mut shards.borrow_mut()),
    )
}

/// Measures rebuilding `geo.lost()` data shards (the first ones) with `imp`, verifying the
/// result on every timed iteration (first and last byte of each rebuilt shard, which are
/// garbled before the call) and completely before and after the timed repetitions.
pub fn bench_reconstruct(imp: RsImpl, stripe: &Stripe, timing: Timing) -> Result<Measurement> {
    let geo = stripe.geo;
    let lost = geo.lost();
    let codec = codec(imp, geo.k, geo.m)?;
    let mut shards = stripe.shards.clone();
    let reference = &stripe.shards;
    let last = geo.shard - 1;

    let full_check = |codec: &dyn Codec, shards: &mut [Vec<u8>]| -> Result<()> {
        for s in &mut shards[..lost] {
            s.fill(0xa5);
        }
        let mut slots: Vec<(&mut [u8], bool)> = shards
            .iter_mut()
            .enumerate()
            .map(|(i, s)| (s.as_mut_slice(), i >= lost))
            .collect();
        codec.reconstruct_data(&mut slots)?;
        same_shards(&shards[..geo.k], &reference[..geo.k], "reconstruct")
    };
    full_check(codec.as_ref(), &mut shards)?;

    let mut spot_failures = 0u64;
    let m = {
        let mut slots: Vec<(&mut [u8], bool)> = shards
            .iter_mut()
            .enumerate()
            .map(|(i, s)| (s.as_mut_slice(), i >= lost))
            .collect();
        let slots_cell = std::cell::RefCell::new(&mut slots);
        measure(
            timing,
            geo.data_bytes(),
            || {
                let mut slots = slots_cell.borrow_mut();
                for (s, _) in slots[..lost].iter_mut() {
                    s[0] ^= 0xff;
                    s[last] ^= 0xff;
                }
                codec.reconstruct_data(black_box(&mut slots[..]))?;
                for (i, (s, _)) in slots[..lost].iter().enumerate() {
                    if s[0] != reference[i][0] || s[last] != reference[i][last] {
                        spot_failures += 1;
                    }
                }
                Ok(())
            },
            || Ok(()),
        )?
    };
    ensure!(
        spot_failures == 0,
        "reconstruct returned wrong bytes on {spot_failures} timed iterations"
    );
    full_check(codec.as_ref(), &mut shards)?;
    Ok(m)
}

/// The hashes compared for the bitrot checksum (plus MD5, the S3 ETag, and SHA-256 for
/// reference).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
pub enum HashKind {
    /// XXH3 128-bit (xxhash-rust).
    #[value(name = "xxh3-128")]
    Xxh3_128,
    /// XXH3 64-bit (xxhash-rust).
    #[value(name = "xxh3-64")]
    Xxh3_64,
    /// HighwayHash 256-bit (highway crate, runtime AVX2 dispatch); MinIO's bitrot default.
    #[value(name = "highway-256")]
    Highway256,
    /// BLAKE3 256-bit, single-threaded.
    #[value(name = "blake3")]
    Blake3,
    /// CRC-32C (crc32c crate, SSE4.2 instruction).
    #[value(name = "crc32c")]
    Crc32c,
    /// MD5 (md-5 crate), the S3 ETag of a single-part object.
    #[value(name = "md5")]
    Md5,
    /// SHA-256 (sha2 crate; SHA-NI when the CPU has it).
    #[value(name = "sha256")]
    Sha256,
}

/// Fixed HighwayHash key; the key does not change the speed.
const HIGHWAY_KEY: [u64; 4] = [
    0x0706_0504_0302_0100,
    0x0f0e_0d0c_0b0a_0908,
    0x1716_1514_1312_1110,
    0x1f1e_1d1c_1b1a_1918,
];

impl HashKind {
    /// Every hash, in table order.
    pub const ALL: [HashKind; 7] = [
        HashKind::Xxh3_128,
        HashKind::Xxh3_64,
        HashKind::Highway256,
        HashKind::Blake3,
        HashKind::Crc32c,
        HashKind::Md5,
        HashKind::Sha256,
    ];

    /// Name for tables.
    pub fn label(self) -> &'static str {
        match self {
            HashKind::Xxh3_128 => "xxh3-128",
            HashKind::Xxh3_64 => "xxh3-64",
            HashKind::Highway256 => "HighwayHash-256",
            HashKind::Blake3 => "BLAKE3",
            HashKind::Crc32c => "CRC-32C",
            HashKind::Md5 => "MD5",
            HashKind::Sha256 => "SHA-256",
        }
    }

    /// Digest size in bits.
    pub fn bits(self) -> u32 {
        match self {
            HashKind::Xxh3_128 | HashKind::Md5 => 128,
            HashKind::Xxh3_64 => 64,
            HashKind::Highway256 | HashKind::Blake3 | HashKind::Sha256 => 256,
            HashKind::Crc32c => 32,
        }
    }

    /// One-shot digest, zero-padded to 32 bytes.
    pub fn oneshot(self, data: &[u8]) -> [u8; 32] {
        use highway::HighwayHash;
        use md5::Digest;
        let mut out = [0u8; 32];
        match self {
            HashKind::Xxh3_128 => {
                out[..16].copy_from_slice(&xxhash_rust::xxh3::xxh3_128(data).to_be_bytes())
            }
            HashKind::Xxh3_64 => {
                out[..8].copy_from_slice(&xxhash_rust::xxh3::xxh3_64(data).to_be_bytes())
            }
            HashKind::Highway256 => {
                let h = highway::HighwayHasher::new(highway::Key(HIGHWAY_KEY)).hash256(data);
                for (i, w) in h.iter().enumerate() {
                    out[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
                }
            }
            HashKind::Blake3 => out.copy_from_slice(blake3::hash(data).as_bytes()),
            HashKind::Crc32c => out[..4].copy_from_slice(&crc32c::crc32c(data).to_be_bytes()),
            HashKind::Md5 => out[..16].copy_from_slice(&md5::Md5::digest(data)),
            HashKind::Sha256 => out.copy_from_slice(&sha2::Sha256::digest(data)),
        }
        out
    }

    /// The same digest through the incremental API, fed in two unequal pieces: an independent
    /// code path to check the one-shot result against.
    pub fn incremental(self, data: &[u8]) -> [u8; 32] {
        use highway::HighwayHash;
        use md5::Digest;
        let (a, b) = data.split_at(data.len() / 3);
        let mut out = [0u8; 32];
        match self {
            HashKind::Xxh3_128 | HashKind::Xxh3_64 => {
                let mut h = xxhash_rust::xxh3::Xxh3::new();
                h.update(a);
                h.update(b);
                if self == HashKind::Xxh3_128 {
                    out[..16].copy_from_slice(&h.digest128().to_be_bytes());
                } else {
                    out[..8].copy_from_slice(&h.digest().to_be_bytes());
                }
            }
            HashKind::Highway256 => {
                let mut h = highway::HighwayHasher::new(highway::Key(HIGHWAY_KEY));
                h.append(a);
                h.append(b);
                for (i, w) in h.finalize256().iter().enumerate() {
                    out[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
                }
            }
            HashKind::Blake3 => {
                let mut h = blake3::Hasher::new();
                h.update(a);
                h.update(b);
                out.copy_from_slice(h.finalize().as_bytes());
            }
            HashKind::Crc32c => {
                let c = crc32c::crc32c_append(crc32c::crc32c(a), b);
                out[..4].copy_from_slice(&c.to_be_bytes());
            }
            HashKind::Md5 => {
                let mut h = md5::Md5::new();
                h.update(a);
                h.update(b);
                out[..16].copy_from_slice(&h.finalize());
            }
            HashKind::Sha256 => {
                let mut h = sha2::Sha256::new();
                h.update(a);
                h.update(b);
                out.copy_from_slice(&h.finalize());
            }
        }
        out
    }
}

/// Measures hashing a warm buffer of `size` random bytes with `kind`. The digest is checked
/// against the incremental API before timing and on the last iteration of every repetition.
pub fn bench_hash(kind: HashKind, size: usize, timing: Timing) -> Result<Measurement> {
    let mut buf = vec![0u8; size];
    rand::rngs::StdRng::seed_from_u64(size as u64).fill_bytes(&mut buf);
    let want = kind.incremental(&buf);
    ensure!(
        kind.oneshot(&buf) == want,
        "{}: one-shot and incremental digests differ",
        kind.label()
    );
    ensure!(want != [0u8; 32], "{}: digest is all zeros", kind.label());
    let latest = std::cell::RefCell::new([0u8; 32]);
    measure(
        timing,
        size as u64,
        || {
            *latest.borrow_mut() = black_box(kind.oneshot(black_box(&buf)));
            Ok(())
        },
        || {
            ensure!(
                *latest.borrow() == want,
                "{}: digest changed during the timed loop",
                kind.label()
            );
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: Timing = Timing {
        min_time: Duration::from_millis(5),
        reps: 1,
    };

    #[test]
    fn both_builds_make_the_same_code() {
        // The pure build is the reference for the SIMD build, so they must agree byte for byte.
        for (k, m) in [(4, 4), (2, 1), (6, 3)] {
            let geo = Geometry::new(k, m, 64 << 10).unwrap();
            let stripe = Stripe::new(geo).unwrap();
            let mut shards = stripe.shards.clone();
            for p in &mut shards[k..] {
                p.fill(0);
            }
            codec(RsImpl::Simd, k, m)
                .unwrap()
                .encode(&mut shards)
                .unwrap();
            assert_eq!(shards, stripe.shards, "{k}+{m}");
        }
    }

    #[test]
    fn encode_and_reconstruct_cells_verify() {
        let geo = Geometry::new(4, 4, 64 << 10).unwrap();
        let stripe = Stripe::new(geo).unwrap();
        for imp in [RsImpl::Simd, RsImpl::Pure] {
            let e = bench_encode(imp, &stripe, QUICK).unwrap();
            assert!(e.gbps_cpu > 0.0 && e.reps[0].iters > 0);
            let r = bench_reconstruct(imp, &stripe, QUICK).unwrap();
            assert!(r.gbps_cpu > 0.0);
        }
    }

    #[test]
    fn odd_stripes_round_the_shard_up() {
        let geo = Geometry::new(6, 3, 1 << 20).unwrap();
        assert_eq!(geo.shard, 174_763);
        assert_eq!(geo.data_bytes(), 6 * 174_763);
        assert_eq!(geo.lost(), 3);
        assert!(Geometry::new(0, 1, 10).is_err());
    }

    /// Codec that claims success without computing anything.
    struct Lazy;
    impl Codec for Lazy {
        fn encode(&self, _: &mut [Vec<u8>]) -> Result<()> {
            Ok(())
        }
        fn reconstruct_data(&self, _: &mut [(&mut [u8], bool)]) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_lazy_codec_is_caught() {
        let geo = Geometry::new(2, 2, 4096).unwrap();
        let stripe = Stripe::new(geo).unwrap();
        let mut shards = stripe.shards.clone();
        for p in &mut shards[2..] {
            p.fill(0x5a);
        }
        Lazy.encode(&mut shards).unwrap();
        assert!(same_shards(&shards[2..], &stripe.shards[2..], "encode").is_err());
    }

    #[test]
    fn hash_known_answers() {
        let hex32 = |d: [u8; 32], n: usize| hex::encode(&d[..n]);
        assert_eq!(
            hex32(HashKind::Md5.oneshot(b""), 16),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(
            hex32(HashKind::Sha256.oneshot(b""), 32),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex32(HashKind::Blake3.oneshot(b""), 32),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        // CRC-32C check value (RFC 3720 / the "123456789" catalogue entry).
        assert_eq!(hex32(HashKind::Crc32c.oneshot(b"123456789"), 4), "e3069283");
        assert_eq!(hex32(HashKind::Xxh3_64.oneshot(b""), 8), "2d06800538d394c2");
        assert_eq!(
            hex32(HashKind::Xxh3_128.oneshot(b""), 16),
            "99aa06d3014798d86001c324468d497f"
        );
    }

    #[test]
    fn every_hash_agrees_with_its_incremental_form() {
        let data: Vec<u8> = (0..100_003u32).map(|i| (i * 31 % 251) as u8).collect();
        for k in HashKind::ALL {
            assert_eq!(k.oneshot(&data), k.incremental(&data), "{}", k.label());
            let m = bench_hash(k, 4096, QUICK).unwrap();
            assert!(m.gbps_cpu > 0.0, "{}", k.label());
        }
    }
}
