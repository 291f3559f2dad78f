//! Reader for environment files such as the `config.env` key of a Tenant's
//! configuration Secret:
//!
//! ```text
//! # root credentials
//! export MINIO_ROOT_USER="minio"
//! export MINIO_ROOT_PASSWORD='s3cr"t'
//! MINIO_STORAGE_CLASS_STANDARD=EC:4
//! ```
//!
//! The MinIO operator mounts this file and MinIO reads it at start-up; cairn reads the
//! same file so a Tenant's Secret keeps working. The syntax is the subset of POSIX shell
//! that such files use, read the way `sh` would read it, but nothing is ever executed or
//! expanded (`$HOME` stays `$HOME`):
//!
//! * blank lines and lines starting with `#` are skipped; `export ` is optional;
//! * `KEY=value`, where the name is letters, digits and `_`, not starting with a digit,
//!   with no spaces around `=`;
//! * `"double quotes"`: a backslash escapes `"`, `\`, `$` and `` ` ``; any other
//!   backslash is kept;
//! * `'single quotes'`: everything literal up to the next `'`;
//! * unquoted: up to the end of the line or a ` #` comment, trailing spaces removed, a
//!   backslash escapes the next character. Inner spaces are kept (`K=a b` is `a b`), as
//!   MinIO does;
//! * after a closing quote only spaces and a `# comment` may follow; a value cannot span
//!   lines.
//!
//! Values are secrets: no error message or log line contains one. Errors give the line
//! number and, where it is a valid name, the variable name.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why an environment file could not be read.
#[derive(Debug, Error)]
pub enum EnvFileError {
    #[error("{}line {line}: {problem}", location(.file))]
    Syntax {
        /// The file, when read with [`load_env_file`].
        file: Option<PathBuf>,
        line: usize,
        /// What is wrong; never contains a value.
        problem: String,
    },
    #[error("cannot read environment file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("environment file {path} is not UTF-8 text")]
    NotUtf8 { path: PathBuf },
}

fn location(file: &Option<PathBuf>) -> String {
    file.as_ref()
        .map(|f| format!("{}: ", f.display()))
        .unwrap_or_default()
}

fn syntax(line: usize, problem: impl Into<String>) -> EnvFileError {
    EnvFileError::Syntax {
        file: None,
        line,
        problem: problem.into(),
    }
}

/// Parses the text of an environment file into `(name, value)` pairs in file order.
/// A name given twice appears twice; the later one wins when applied, as in a shell.
pub fn parse_env_file(text: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut entries = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line_no = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw).trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = strip_export(line);
        let Some((key, rest)) = line.split_once('=') else {
            return Err(syntax(
                line_no,
                "expected `NAME=value` (optionally after `export`), found no `=`",
            ));
        };
        if !is_valid_name(key) {
            return Err(syntax(
                line_no,
                "the variable name before `=` is not valid: use letters, digits and `_`, \
                 not starting with a digit, and no spaces around `=`",
            ));
        }
        let value = parse_value(rest, line_no, key)?;
        if value.contains('\0') {
            return Err(syntax(
                line_no,
                format!(
                    "the value of {key} contains a NUL character, which environment variables cannot hold"
                ),
            ));
        }
        entries.push((key.to_string(), value));
    }
    Ok(entries)
}

/// Reads and parses an environment file; errors name the file.
pub fn load_env_file(path: &Path) -> Result<Vec<(String, String)>, EnvFileError> {
    let bytes = std::fs::read(path).map_err(|source| EnvFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| EnvFileError::NotUtf8 {
        path: path.to_path_buf(),
    })?;
    parse_env_file(&text).map_err(|e| match e {
        EnvFileError::Syntax { line, problem, .. } => EnvFileError::Syntax {
            file: Some(path.to_path_buf()),
            line,
            problem,
        },
        other => other,
    })
}

/// Removes a leading `export` keyword (followed by blanks); `exported=1` keeps its name.
fn strip_export(line: &str) -> &str {
    match line.strip_prefix("export") {
        Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
        _ => line,
    }
}

fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses everything after `=` on one line.
fn parse_value(rest: &str, line: usize, key: &str) -> Result<String, EnvFileError> {
    if let Some(body) = rest.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    check_after_quote(&body[i + 1..], line, key)?;
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
        return Err(syntax(
            line,
            format!(
                "the double quote that starts the value of {key} is not closed on this line (values cannot span lines)"
            ),
        ));
    }
    if let Some(body) = rest.strip_prefix('\'') {
        let Some(end) = body.find('\'') else {
            return Err(syntax(
                line,
                format!(
                    "the single quote that starts the value of {key} is not closed on this line (values cannot span lines)"
                ),
            ));
        };
        check_after_quote(&body[end + 1..], line, key)?;
        return Ok(body[..end].to_string());
    }

    let mut value = String::new();
    // A `#` starts a comment only after a blank; right after `=` it is part of the value,
    // as in sh.
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
                        format!(
                            "the value of {key} ends in `\\`; continuation lines are not supported"
                        ),
                    ));
                }
            },
            '"' | '\'' => {
                return Err(syntax(
                    line,
                    format!(
                        "the value of {key} has a quote in the middle; quote the whole value instead"
                    ),
                ));
            }
            other => value.push(other),
        }
        after_blank = c == ' ' || c == '\t';
    }
    Ok(value.trim_end_matches([' ', '\t']).to_string())
}

/// After a closing quote only blanks and a comment may follow.
fn check_after_quote(after: &str, line: usize, key: &str) -> Result<(), EnvFileError> {
    let after = after.trim_start_matches([' ', '\t']);
    if after.is_empty() || after.starts_with('#') {
        Ok(())
    } else {
        Err(syntax(
            line,
            format!(
                "unexpected text after the closing quote of {key}'s value; quote the whole value"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_the_tenant_secret_format() {
        let text = "\
# MinIO-style configuration
export MINIO_ROOT_USER=\"minio\"
export MINIO_ROOT_PASSWORD=\"minio123\"

export MINIO_STORAGE_CLASS_STANDARD=\"EC:4\"
  export\tMINIO_BROWSER='on'
MINIO_DOMAIN=example.com
";
        assert_eq!(
            parse_env_file(text).unwrap(),
            pairs(&[
                ("MINIO_ROOT_USER", "minio"),
                ("MINIO_ROOT_PASSWORD", "minio123"),
                ("MINIO_STORAGE_CLASS_STANDARD", "EC:4"),
                ("MINIO_BROWSER", "on"),
                ("MINIO_DOMAIN", "example.com"),
            ])
        );
    }

    #[test]
    fn quoting_and_escapes() {
        let text = r#"A="pa\"ss\\word"
B="a\nb $HOME \$X \`c\`"
C='single "quoted" \n $HOME'
D=plain\ value\"x
E=
F=""
G=''
H="x # not a comment" # a comment
I=abc # comment
J=a#b
K=#x
L=  two words  
M=	tabbed
exported=1
export=2
_U9=ok
"#;
        assert_eq!(
            parse_env_file(text).unwrap(),
            pairs(&[
                ("A", r#"pa"ss\word"#),
                ("B", r#"a\nb $HOME $X `c`"#),
                ("C", r#"single "quoted" \n $HOME"#),
                ("D", r#"plain value"x"#),
                ("E", ""),
                ("F", ""),
                ("G", ""),
                ("H", "x # not a comment"),
                ("I", "abc"),
                ("J", "a#b"),
                ("K", "#x"),
                ("L", "  two words"),
                ("M", "\ttabbed"),
                ("exported", "1"),
                ("export", "2"),
                ("_U9", "ok"),
            ])
        );
    }

    #[test]
    fn windows_line_endings_and_bom() {
        let text = "\u{feff}export A=\"1\"\r\nB=2\r\n\r\n# c\r\n";
        assert_eq!(
            parse_env_file(text).unwrap(),
            pairs(&[("A", "1"), ("B", "2")])
        );
    }

    #[test]
    fn duplicates_are_kept_in_order() {
        assert_eq!(
            parse_env_file("A=1\nA=2").unwrap(),
            pairs(&[("A", "1"), ("A", "2")])
        );
    }

    fn error_line(text: &str) -> (usize, String) {
        match parse_env_file(text) {
            Err(e @ EnvFileError::Syntax { line, .. }) => (line, e.to_string()),
            other => panic!("expected a syntax error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn errors_give_line_numbers_and_never_values() {
        let secret = "hunter2Secret";
        let cases = [
            format!("A=1\n{secret}\n"),
            format!("A=1\nexport {secret}\n"),
            format!("A=1\nB=\"{secret}\n"),
            format!("A=1\nB='{secret}\n"),
            format!("A=1\nB=\"{secret}\"x\n"),
            format!("A=1\nB='{secret}' x\n"),
            format!("A=1\nB={secret}\"x\"\n"),
            format!("A=1\nB={secret}\\\n"),
            format!("A=1\nB=\"{secret}\0\"\n"),
            format!("A=1\n1B={secret}\n"),
            format!("A=1\nB ={secret}\n"),
            format!("A=1\nMY KEY={secret}\n"),
            format!("A=1\n={secret}\n"),
        ];
        for (i, text) in cases.iter().enumerate() {
            let (line, msg) = error_line(text);
            assert_eq!(line, 2, "case {i}: {msg}");
            assert!(!msg.contains(secret), "case {i} leaks the value: {msg}");
            assert!(msg.starts_with(&format!("line {line}: ")), "{msg}");
        }
        let (line, msg) = error_line("# comment\n\nexport B=\"abc");
        assert_eq!(line, 3);
        assert!(msg.contains("value of B"), "{msg}");
    }

    #[test]
    fn loads_files_and_names_them_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.env");
        std::fs::write(&path, "export MINIO_ROOT_USER=\"minio\"\n").unwrap();
        assert_eq!(
            load_env_file(&path).unwrap(),
            pairs(&[("MINIO_ROOT_USER", "minio")])
        );

        std::fs::write(&path, "A=1\nbroken\n").unwrap();
        let msg = load_env_file(&path).unwrap_err().to_string();
        assert_eq!(
            msg,
            format!(
                "{}: line 2: expected `NAME=value` (optionally after `export`), found no `=`",
                path.display()
            )
        );

        std::fs::write(&path, b"A=\xff\n").unwrap();
        assert!(matches!(
            load_env_file(&path),
            Err(EnvFileError::NotUtf8 { .. })
        ));

        let missing = dir.path().join("nope.env");
        assert!(matches!(
            load_env_file(&missing),
            Err(EnvFileError::Read { .. })
        ));
    }

    proptest! {
        #[test]
        fn double_quoted_values_round_trip(key in "[A-Z_][A-Z0-9_]{0,12}", value in "[^\n\r\0]{0,40}") {
            let mut quoted = String::from("\"");
            for c in value.chars() {
                if matches!(c, '"' | '\\' | '$' | '`') {
                    quoted.push('\\');
                }
                quoted.push(c);
            }
            quoted.push('"');
            let text = format!("export {key}={quoted}\n");
            prop_assert_eq!(parse_env_file(&text).unwrap(), vec![(key, value)]);
        }

        #[test]
        fn single_quoted_values_round_trip(key in "[a-z_][a-z0-9_]{0,12}", value in "[^\n\r\0']{0,40}") {
            let text = format!("{key}='{value}'  # note");
            prop_assert_eq!(parse_env_file(&text).unwrap(), vec![(key, value)]);
        }

        #[test]
        fn never_panics(text in "(?s).{0,200}") {
            let _ = parse_env_file(&text);
        }
    }
}
