//! Our encrypted bodies against the real client: minio-py's `minio.crypto` (what
//! `MinioAdmin` uses for add-user, service accounts and policy attach) decrypts what we
//! encrypt, and we decrypt what it encrypts, run in a Python subprocess.
//!
//! The Python is, in order: `$CAIRN_E2E_PYTHON`, the venv e2e/setup.sh makes
//! (`<repo>/.e2e-venv/bin/python`), `python3`. Without an importable `minio` the test
//! fails and says how to install it: a skipped interop test would hide a broken format.
//! (The fixed vectors in src/crypt/vectors.rs pin the format without Python.)

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use cairn_madmin::crypt::{self, Algorithm, CryptError, PACKAGE_LEN};
use serde_json::{Value, json};

/// Reads cases `[{"secret", "hex"}]` and prints `[{"ok", "hex"}]` (decrypt), or reads
/// `[{"secret", "hex"}]` of plaintexts and prints their encryptions (encrypt).
const SCRIPT: &str = r#"
import io, json, sys
from minio import crypto

class Body(io.BytesIO):
    def release_conn(self):
        pass

cases = json.load(sys.stdin)
out = []
for case in cases:
    data = bytes.fromhex(case["hex"])
    if sys.argv[1] == "decrypt":
        try:
            out.append({"ok": True, "hex": crypto.decrypt(Body(data), case["secret"]).hex()})
        except Exception as e:
            out.append({"ok": False, "error": repr(e)})
    else:
        out.append({"ok": True, "hex": crypto.encrypt(data, case["secret"]).hex()})
json.dump(out, sys.stdout)
"#;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("CAIRN_E2E_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.e2e-venv/bin/python");
    if venv.is_file() {
        return venv;
    }
    PathBuf::from("python3")
}

/// The Python to use, after checking it can import minio-py; panics with the fix if not.
fn python_with_minio() -> PathBuf {
    let py = python();
    let probe = Command::new(&py)
        .args(["-c", "import minio, minio.crypto; print(minio.__version__)"])
        .output();
    match probe {
        Ok(o) if o.status.success() => {
            eprintln!(
                "minio-py {} via {}",
                String::from_utf8_lossy(&o.stdout).trim(),
                py.display()
            );
            py
        }
        other => panic!(
            "minio-py is not importable by {} ({:?}): run `pip install minio==7.2.20` \
             with that Python, or point CAIRN_E2E_PYTHON at one that has it",
            py.display(),
            other.map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        ),
    }
}

fn run_python(mode: &str, cases: &Value) -> Vec<Value> {
    let mut child = Command::new(python_with_minio())
        .args(["-c", SCRIPT, mode])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(cases.to_string().as_bytes())
        .expect("write cases");
    let out = child.wait_with_output().expect("python output");
    assert!(
        out.status.success(),
        "python {mode} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("python JSON")
}

fn plaintexts() -> Vec<Vec<u8>> {
    vec![
        br#"{"secretKey":"s3cr3t-Key/9","status":"enabled"}"#.to_vec(),
        b"x".to_vec(),
        (0..PACKAGE_LEN).map(|i| (i % 251) as u8).collect(),
        (0..2 * PACKAGE_LEN + 100)
            .map(|i| ((i * 7) % 256) as u8)
            .collect(),
    ]
}

const SECRETS: [&str; 2] = ["minio123", "p\u{e4}ssw\u{f6}rd/+=\u{e9}"];

#[test]
fn minio_py_decrypts_what_we_encrypt() {
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for (i, plain) in plaintexts().into_iter().enumerate() {
        let secret = SECRETS[i % 2];
        // minio-py reads ids 0 and 1; id 2 (PBKDF2) is madmin-go's FIPS mode only.
        for alg in [
            Algorithm::Argon2idAesGcm,
            Algorithm::Argon2idChaCha20Poly1305,
        ] {
            let enc = crypt::encrypt_with(alg, secret, &plain).expect("encrypt");
            cases.push(json!({"secret": secret, "hex": hex::encode(&enc)}));
            expected.push(Some(plain.clone()));
        }
    }
    // And the default `encrypt` read with the wrong secret key: minio-py must refuse it.
    let enc = crypt::encrypt("minio123", b"{}").expect("encrypt");
    cases.push(json!({"secret": "minio124", "hex": hex::encode(&enc)}));
    expected.push(None);

    let results = run_python("decrypt", &Value::Array(cases));
    assert_eq!(results.len(), expected.len());
    for (i, (got, want)) in results.iter().zip(&expected).enumerate() {
        match want {
            Some(plain) => {
                assert_eq!(got["ok"], true, "case {i}: {got}");
                let hex = got["hex"].as_str().expect("hex");
                assert_eq!(hex::decode(hex).expect("hex"), *plain, "case {i}");
            }
            None => assert_eq!(got["ok"], false, "case {i} must fail: {got}"),
        }
    }
}

#[test]
fn we_decrypt_what_minio_py_encrypts() {
    let plains = plaintexts();
    let cases: Vec<Value> = plains
        .iter()
        .enumerate()
        .map(|(i, p)| json!({"secret": SECRETS[i % 2], "hex": hex::encode(p)}))
        .collect();
    let results = run_python("encrypt", &Value::Array(cases));
    assert_eq!(results.len(), plains.len());
    for (i, (got, plain)) in results.iter().zip(&plains).enumerate() {
        let enc = hex::decode(got["hex"].as_str().expect("hex")).expect("hex");
        assert_eq!(enc[32], 0, "minio-py sends id 0 (Argon2id + AES-256-GCM)");
        assert_eq!(
            crypt::decrypt(SECRETS[i % 2], &enc).expect("decrypt"),
            *plain,
            "case {i}"
        );
        assert_eq!(
            crypt::decrypt(SECRETS[(i + 1) % 2], &enc),
            Err(CryptError::NotAuthentic)
        );
    }
}
