//! The `config.env` of a Tenant's configuration Secret: `export NAME="value"` lines.
//!
//! The server reads this file itself (through `CAIRN_CONFIG_ENV_FILE`); the operator reads it
//! only to check it before the pods do, so that a missing password or an impossible parity
//! becomes a clear message on the Tenant instead of a crash-looping pod. The syntax is the
//! one the server accepts (`storage-node/src/config/envfile.rs`): the subset of POSIX shell
//! such files use, never executed or expanded. The operator does not link the server crate,
//! to keep its build small, so the few rules are repeated here.
//!
//! Values are secrets: no error message produced here contains one.

use thiserror::Error;

/// Why a `config.env` cannot be used.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConfigEnvError {
    /// A line the server would refuse too.
    #[error("config.env line {line}: {problem}")]
    Syntax { line: usize, problem: String },
}

fn syntax(line: usize, problem: impl Into<String>) -> ConfigEnvError {
    ConfigEnvError::Syntax {
        line,
        problem: problem.into(),
    }
}

/// Parses the text of an environment file into `(name, value)` pairs in file order; a
/// name given twice appears twice (the later one wins, as in a shell).
pub fn parse(text: &str) -> Result<Vec<(String, String)>, ConfigEnvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut entries = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line_no = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw).trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = match line.strip_prefix("export") {
            Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
            _ => line,
        };
        let Some((key, rest)) = line.split_once('=') else {
            return Err(syntax(
                line_no,
                "expected `export NAME=\"value\"`, found no `=`",
            ));
        };
        if !is_valid_name(key) {
            return Err(syntax(
                line_no,
                "the variable name before `=` is not valid: use letters, digits and `_`, not \
                 starting with a digit, and no spaces around `=`",
            ));
        }
        let value = parse_value(rest, line_no, key)?;
        entries.push((key.to_string(), value));
    }
    Ok(entries)
}

fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(rest: &str, line: usize, key: &str) -> Result<String, ConfigEnvError> {
    let unclosed = |quote: &str| {
        syntax(
            line,
            format!(
                "the {quote} quote that starts the value of {key} is not closed on this line \
                 (values cannot span lines)"
            ),
        )
    };
    if let Some(body) = rest.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    check_after_quote(body.get(i + 1..).unwrap_or(""), line, key)?;
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('"' | '\\' | '$' | '`'))) => value.push(e),
                    Some((_, other)) => {
                        value.push('\\');
                        value.push(other);
                    }
                    None => break,
                },
                other => value.push(other),
            }
        }
        return Err(unclosed("double"));
    }
    if let Some(body) = rest.strip_prefix('\'') {
        let Some(end) = body.find('\'') else {
            return Err(unclosed("single"));
        };
        check_after_quote(body.get(end + 1..).unwrap_or(""), line, key)?;
        return Ok(body.get(..end).unwrap_or("").to_string());
    }
    let mut value = String::new();
    let mut after_blank = false;
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '#' if after_blank => break,
            '\\' => match chars.next() {
                Some(escaped) => value.push(escaped),
                None => {
                    return Err(syntax(
                        line,
                        format!("the value of {key} ends with a lone backslash"),
                    ));
                }
            },
            '"' | '\'' => {
                return Err(syntax(
                    line,
                    format!("a quote in the middle of the value of {key}: quote the whole value"),
                ));
            }
            other => value.push(other),
        }
        after_blank = c == ' ' || c == '\t';
    }
    Ok(value.trim_end_matches([' ', '\t']).to_string())
}

fn check_after_quote(rest: &str, line: usize, key: &str) -> Result<(), ConfigEnvError> {
    let rest = rest.trim_start();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(())
    } else {
        Err(syntax(
            line,
            format!("unexpected text after the closing quote of the value of {key}"),
        ))
    }
}

/// The settings of a `config.env` that the operator checks, resolved the way the server
/// resolves them: the pod's environment first, then the file; `CAIRN_*` before `MINIO_*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerSettings {
    /// Root access key, if set.
    pub root_user: Option<String>,
    /// Root secret key, if set.
    pub root_password: Option<String>,
    /// `EC:N` storage class, if set.
    pub storage_class: Option<String>,
    /// The built-in KMS's master keys (`MINIO_KMS_SECRET_KEY`), if set: server-side
    /// encryption with SSE-S3 and SSE-KMS needs it.
    pub kms_secret_key: Option<String>,
}

impl ServerSettings {
    /// Resolves the settings from the file entries and the literal environment values of
    /// the container (`spec.env` entries with a `value`).
    pub fn resolve(file: &[(String, String)], env: &[(String, String)]) -> Self {
        let lookup = |names: &[&str]| -> Option<String> {
            let last = |entries: &[(String, String)], name: &str| {
                entries
                    .iter()
                    .rev()
                    .find(|(k, v)| k == name && !v.is_empty())
                    .map(|(_, v)| v.clone())
            };
            names
                .iter()
                .find_map(|n| last(env, n))
                .or_else(|| names.iter().find_map(|n| last(file, n)))
        };
        Self {
            root_user: lookup(&["CAIRN_ROOT_USER", "MINIO_ROOT_USER", "MINIO_ACCESS_KEY"]),
            root_password: lookup(&[
                "CAIRN_ROOT_PASSWORD",
                "MINIO_ROOT_PASSWORD",
                "MINIO_SECRET_KEY",
            ]),
            storage_class: lookup(&[
                "CAIRN_STORAGE_CLASS_STANDARD",
                "MINIO_STORAGE_CLASS_STANDARD",
            ]),
            kms_secret_key: lookup(&["CAIRN_KMS_SECRET_KEY", "MINIO_KMS_SECRET_KEY"]),
        }
    }
}

/// Environment names that carry credentials: they must come from a Secret, never from a
/// literal `value` in the Tenant (which would put them in clear in the pod spec).
pub const SECRET_NAMES: &[&str] = &[
    "CAIRN_ROOT_USER",
    "CAIRN_ROOT_PASSWORD",
    "MINIO_ROOT_USER",
    "MINIO_ROOT_PASSWORD",
    "MINIO_ACCESS_KEY",
    "MINIO_SECRET_KEY",
    "CAIRN_CLUSTER_SECRET",
    "MINIO_CLUSTER_SECRET",
    "CAIRN_KMS_SECRET_KEY",
    "MINIO_KMS_SECRET_KEY",
];

/// What is wrong with a `KMS_SECRET_KEY` value (`<name>:<base64 of 32 bytes>`, comma
/// separated; the server's own parser says the same at start-up), if anything.
pub fn kms_key_problem(value: &str) -> Option<String> {
    use base64::Engine;
    let mut names = std::collections::BTreeSet::new();
    let entries: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if entries.is_empty() {
        return Some("is empty".into());
    }
    for entry in entries {
        let Some((name, key)) = entry.split_once(':') else {
            return Some("must be `<key-name>:<base64 of 32 bytes>`".into());
        };
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Some(format!(
                "key name `{name}` may only have letters, digits, '-', '_' and '.'"
            ));
        }
        let decoded = base64::engine::general_purpose::STANDARD.decode(key.trim());
        if decoded.map(|k| k.len()) != Ok(32) {
            return Some(format!(
                "key `{name}` is not base64 of exactly 32 bytes (make one with `head -c 32 /dev/urandom | base64`)"
            ));
        }
        if !names.insert(name) {
            return Some(format!("key `{name}` is given twice"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_the_tenant_secret_format() {
        let text = "# root\nexport MINIO_ROOT_USER=\"minio\"\nexport MINIO_ROOT_PASSWORD='s3cr\"t pw'\n\
                    MINIO_STORAGE_CLASS_STANDARD=EC:4 # parity\r\n\n  export  X=\"a\\\"b\\$c\\n\"\n";
        assert_eq!(
            parse(text).unwrap(),
            pairs(&[
                ("MINIO_ROOT_USER", "minio"),
                ("MINIO_ROOT_PASSWORD", "s3cr\"t pw"),
                ("MINIO_STORAGE_CLASS_STANDARD", "EC:4"),
                ("X", "a\"b$c\\n"),
            ])
        );
    }

    #[test]
    fn errors_name_the_line_but_never_the_value() {
        for (text, line) in [
            ("A=1\nexport B=\"hunter22\n", 2),
            ("no equals sign here", 1),
            ("1A=x", 1),
            ("A = x", 1),
            ("A=\"hunter22\" trailing", 1),
            ("A='hunter22", 1),
            ("A=hunter\"22", 1),
        ] {
            let err = parse(text).unwrap_err();
            let ConfigEnvError::Syntax { line: got, .. } = &err;
            assert_eq!(*got, line, "{text:?}");
            assert!(!err.to_string().contains("hunter"), "{err}");
        }
    }

    #[test]
    fn environment_wins_over_file_and_cairn_over_minio() {
        let file = pairs(&[
            ("MINIO_ROOT_USER", "file-minio"),
            ("CAIRN_ROOT_USER", "file-cairn"),
            ("MINIO_ROOT_PASSWORD", "first"),
            ("MINIO_ROOT_PASSWORD", "second"),
            ("MINIO_STORAGE_CLASS_STANDARD", "EC:2"),
        ]);
        let env = pairs(&[("MINIO_STORAGE_CLASS_STANDARD", "EC:3")]);
        let s = ServerSettings::resolve(&file, &env);
        assert_eq!(s.root_user.as_deref(), Some("file-cairn"));
        assert_eq!(s.root_password.as_deref(), Some("second"));
        assert_eq!(s.storage_class.as_deref(), Some("EC:3"));
        let legacy = ServerSettings::resolve(
            &pairs(&[
                ("MINIO_ACCESS_KEY", "old"),
                ("MINIO_SECRET_KEY", "oldsecret"),
            ]),
            &[],
        );
        assert_eq!(legacy.root_user.as_deref(), Some("old"));
        assert_eq!(legacy.root_password.as_deref(), Some("oldsecret"));
    }
}
