//! Measures what one encrypted admin body costs, for the figure in src/crypt.rs:
//! `cargo run --release -p cairn-madmin --example kdf_cost`. Each encrypt or decrypt
//! derives a key once; Argon2id (ids 0 and 1) dominates, PBKDF2 (id 2) is for comparison.

use std::time::Instant;

use cairn_madmin::crypt::{self, Algorithm};

fn main() -> Result<(), crypt::CryptError> {
    let body = br#"{"secretKey":"s3cr3t-Key/9","status":"enabled"}"#;
    for alg in [Algorithm::Argon2idAesGcm, Algorithm::Pbkdf2AesGcm] {
        let runs = 10;
        let start = Instant::now();
        for _ in 0..runs {
            let enc = crypt::encrypt_with(alg, "minio123", body)?;
            std::hint::black_box(enc);
        }
        let per = start.elapsed() / runs;
        println!("{alg:?}: {per:?} per encrypt ({runs} runs)");
    }
    Ok(())
}
