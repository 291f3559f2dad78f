//! Wildcard patterns of the policy language, compiled once at parse time and matched on
//! every request without allocating (except for patterns holding policy variables).
//!
//! - `*` matches any run of characters (also none), `?` exactly one character.
//! - `${key}` is a policy variable: replaced by the request's single value of condition key
//!   `key`; `${key, 'default'}` falls back to `default` (`''` inside it is a quote). A
//!   variable that cannot be resolved (key absent or multi-valued, no default) makes the
//!   pattern match nothing, as AWS does. The substituted value is literal text: a user name
//!   containing `*` does not widen the pattern.
//! - `${*}`, `${?}` and `${$}` are a literal `*`, `?` and `$`.
//!
//! Matching is the classic greedy scan that backtracks to the last `*` (linear in practice,
//! O(n·m) at worst); `?` and backtracking step over whole UTF-8 characters.

use crate::keys;
use crate::values::Values;

/// One compiled element.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(Box<str>),
    Star,
    One,
    Var {
        key: Box<str>,
        default: Option<Box<str>>,
    },
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    toks: Box<[Tok]>,
    has_vars: bool,
}

/// What a piece of a pattern is once variables are resolved.
#[derive(Clone, Copy)]
enum Piece<'a> {
    Lit(&'a str),
    Star,
    One,
}

impl Pattern {
    /// Compiles `s`. With `wildcards` false, `*` and `?` are ordinary characters; with
    /// `variables` false, `${...}` is ordinary text (policies of Version 2008-10-17).
    pub(crate) fn compile(s: &str, wildcards: bool, variables: bool) -> Result<Pattern, String> {
        let mut toks = Vec::new();
        let mut lit = String::new();
        let mut has_vars = false;
        let mut rest = s;
        while let Some(c) = rest.chars().next() {
            if wildcards && (c == '*' || c == '?') {
                flush(&mut lit, &mut toks);
                // Consecutive stars are one star.
                if c == '?' {
                    toks.push(Tok::One);
                } else if toks.last() != Some(&Tok::Star) {
                    toks.push(Tok::Star);
                }
                rest = &rest[1..];
                continue;
            }
            if variables && rest.starts_with("${") {
                let (tok, used) = parse_variable(rest)?;
                match tok {
                    Tok::Lit(text) => lit.push_str(&text),
                    var => {
                        flush(&mut lit, &mut toks);
                        has_vars = true;
                        toks.push(var);
                    }
                }
                rest = &rest[used..];
                continue;
            }
            lit.push(c);
            rest = &rest[c.len_utf8()..];
        }
        flush(&mut lit, &mut toks);
        Ok(Pattern {
            toks: toks.into_boxed_slice(),
            has_vars,
        })
    }

    /// True when the pattern is plain text (no wildcard, no variable).
    pub(crate) fn is_literal(&self) -> bool {
        self.toks.iter().all(|t| matches!(t, Tok::Lit(_)))
    }

    /// Matches `subject`; `ci` compares ASCII letters case-insensitively. Variables are
    /// resolved from `vars` (no `vars`: a variable matches nothing).
    pub(crate) fn matches(&self, subject: &str, ci: bool, vars: Option<&Values>) -> bool {
        if !self.has_vars {
            let toks = &self.toks;
            return glob(
                toks.len(),
                |i| match &toks[i] {
                    Tok::Lit(s) => Piece::Lit(s),
                    Tok::Star => Piece::Star,
                    Tok::One => Piece::One,
                    // Unreachable: has_vars is false.
                    Tok::Var { .. } => Piece::Lit(""),
                },
                subject.as_bytes(),
                ci,
            );
        }
        let Some(vars) = vars else { return false };
        let mut pieces = Vec::with_capacity(self.toks.len());
        for t in self.toks.iter() {
            pieces.push(match t {
                Tok::Lit(s) => Piece::Lit(s),
                Tok::Star => Piece::Star,
                Tok::One => Piece::One,
                Tok::Var { key, default } => match vars.single(key).or(default.as_deref()) {
                    Some(v) => Piece::Lit(v),
                    None => return false,
                },
            });
        }
        glob(pieces.len(), |i| pieces[i], subject.as_bytes(), ci)
    }
}

fn flush(lit: &mut String, toks: &mut Vec<Tok>) {
    if !lit.is_empty() {
        toks.push(Tok::Lit(std::mem::take(lit).into_boxed_str()));
    }
}

/// Parses the `${...}` at the start of `s`; returns the token and the bytes it used.
fn parse_variable(s: &str) -> Result<(Tok, usize), String> {
    for (esc, lit) in [("${*}", "*"), ("${?}", "?"), ("${$}", "$")] {
        if s.starts_with(esc) {
            return Ok((Tok::Lit(lit.into()), esc.len()));
        }
    }
    let unterminated = || format!("unterminated policy variable in {s:?}");
    let end = 2 + s[2..].find(['}', ',']).ok_or_else(unterminated)?;
    let key = s[2..end].trim();
    if key.is_empty() {
        return Err(format!("empty policy variable in {s:?}"));
    }
    if !keys::is_known(key) {
        return Err(format!("unknown policy variable \"${{{key}}}\""));
    }
    let bytes = s.as_bytes();
    if bytes[end] == b'}' {
        let var = Tok::Var {
            key: key.into(),
            default: None,
        };
        return Ok((var, end + 1));
    }
    // ${key, 'default'}: a quoted default, '' standing for one quote.
    let skip_ws = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut i = skip_ws(end + 1);
    if bytes.get(i) != Some(&b'\'') {
        return Err(format!(
            "policy variable default must be quoted with ' in {s:?}"
        ));
    }
    i += 1;
    let mut text = String::new();
    loop {
        let Some(ch) = s.get(i..).and_then(|r| r.chars().next()) else {
            return Err(unterminated());
        };
        if ch == '\'' {
            if bytes.get(i + 1) == Some(&b'\'') {
                text.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            break;
        }
        text.push(ch);
        i += ch.len_utf8();
    }
    i = skip_ws(i);
    if bytes.get(i) != Some(&b'}') {
        return Err(unterminated());
    }
    let var = Tok::Var {
        key: key.into(),
        default: Some(text.into_boxed_str()),
    };
    Ok((var, i + 1))
}

/// Glob match of `n` pieces (fetched by `piece`) against `s`.
fn glob<'p>(n: usize, piece: impl Fn(usize) -> Piece<'p>, s: &[u8], ci: bool) -> bool {
    let (mut pi, mut po, mut si) = (0usize, 0usize, 0usize);
    // After a mismatch: retry from the piece after the last star, one character later.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < n {
            match piece(pi) {
                Piece::Star => {
                    star = Some((pi + 1, si));
                    pi += 1;
                    po = 0;
                    continue;
                }
                Piece::One => {
                    if si < s.len() {
                        si += char_len(s[si]);
                        pi += 1;
                        continue;
                    }
                }
                Piece::Lit(l) => {
                    let l = l.as_bytes();
                    if po == l.len() {
                        pi += 1;
                        po = 0;
                        continue;
                    }
                    if si < s.len() && byte_eq(l[po], s[si], ci) {
                        po += 1;
                        si += 1;
                        continue;
                    }
                }
            }
        } else if si >= s.len() {
            return true;
        }
        match star {
            Some((resume, from)) if from < s.len() => {
                let next = from + char_len(s[from]);
                star = Some((resume, next));
                pi = resume;
                po = 0;
                si = next;
            }
            _ => return false,
        }
    }
}

fn byte_eq(a: u8, b: u8, ci: bool) -> bool {
    a == b || (ci && a.eq_ignore_ascii_case(&b))
}

fn char_len(first: u8) -> usize {
    match first {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    }
}

/// Plain wildcard match of `pattern` (where `*` and `?` are wildcards) against `subject`,
/// without compiling: for parse-time checks such as "does this action pattern name any
/// known action".
pub(crate) fn matches_str(pattern: &str, subject: &str, ci: bool) -> bool {
    // One piece per character (not per byte: a piece must be a whole UTF-8 sequence).
    let pieces: Vec<Piece<'_>> = pattern
        .char_indices()
        .map(|(i, c)| match c {
            '*' => Piece::Star,
            '?' => Piece::One,
            _ => Piece::Lit(&pattern[i..i + c.len_utf8()]),
        })
        .collect();
    glob(pieces.len(), |i| pieces[i], subject.as_bytes(), ci)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_matching_takes_whole_characters() {
        // Found by the `policy` fuzz target: a byte-wise split panicked inside 'é'.
        assert!(!matches_str("s3:*é", "s3:GetObject", true));
        assert!(matches_str("s3:*é", "s3:Getté", true));
        assert!(matches_str("a?c", "aéc", false));
        assert!(!matches_str("é*", "e", true));
    }

    fn m(p: &str, s: &str) -> bool {
        Pattern::compile(p, true, true)
            .unwrap()
            .matches(s, false, Some(&Values::new()))
    }

    #[test]
    fn stars_and_questions() {
        assert!(m("*", ""));
        assert!(m("*", "anything/at/all"));
        assert!(m("b/*", "b/"));
        assert!(m("b/*", "b/x/y"));
        assert!(!m("b/*", "b"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(m("a*b*c", "abbbc"));
        assert!(!m("a*b*c", "abbbcd"));
        assert!(m("a?c", "abc"));
        assert!(m("a?c", "aéc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*.txt", "dir/é.txt"));
        assert!(!m("*.txt", "a.txt.bak"));
        assert!(m("**a", "xa"));
        assert!(!m("abc", "ABC"));
        let p = Pattern::compile("s3:get*", true, false).unwrap();
        assert!(p.matches("s3:GetObject", true, None));
        assert!(!p.matches("s3:GetObject", false, None));
        assert!(matches_str("s3:*Object?", "s3:GetObjectX", false));
        assert!(!matches_str("s3:*Object?", "s3:GetObject", false));
    }

    #[test]
    fn literal_mode_and_escapes() {
        let p = Pattern::compile("a*b", false, true).unwrap();
        assert!(p.is_literal());
        assert!(p.matches("a*b", false, None));
        assert!(!p.matches("aXb", false, None));
        assert!(m("a${*}b", "a*b"));
        assert!(!m("a${*}b", "aXb"));
        assert!(m("${?}${$}", "?$"));
    }

    #[test]
    fn variables() {
        let vars = Values::new().with("aws:username", "alice");
        let p = Pattern::compile("home/${aws:username}/*", true, true).unwrap();
        assert!(p.matches("home/alice/x", false, Some(&vars)));
        assert!(!p.matches("home/bob/x", false, Some(&vars)));
        assert!(!p.matches("home/alice/x", false, Some(&Values::new())));
        assert!(!p.matches("home/alice/x", false, None));
        // Substituted values are literal: a user called "*" does not see everyone's home.
        let star = Values::new().with("aws:username", "*");
        assert!(!p.matches("home/bob/x", false, Some(&star)));
        assert!(p.matches("home/*/x", false, Some(&star)));
        // Defaults.
        let p = Pattern::compile("home/${aws:username, 'it''s'}/x", true, true).unwrap();
        assert!(p.matches("home/it's/x", false, Some(&Values::new())));
        assert!(p.matches("home/alice/x", false, Some(&vars)));
        // 2008-10-17: no variables.
        let p = Pattern::compile("home/${aws:username}", true, false).unwrap();
        assert!(p.matches("home/${aws:username}", false, Some(&vars)));
    }

    #[test]
    fn bad_variables() {
        assert!(
            Pattern::compile("a${aws:username", true, true)
                .unwrap_err()
                .contains("unterminated")
        );
        assert!(
            Pattern::compile("a${}", true, true)
                .unwrap_err()
                .contains("empty")
        );
        assert!(
            Pattern::compile("a${foo:bar}", true, true)
                .unwrap_err()
                .contains("unknown policy variable")
        );
        assert!(
            Pattern::compile("a${aws:username, x}", true, true)
                .unwrap_err()
                .contains("quoted")
        );
    }
}
