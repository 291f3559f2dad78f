//! Which policies grant something on a bucket, for `list-users?bucket=B` (MinIO's
//! ListBucketUsers): a user is listed when one of its policies (its own or an enabled
//! group's) has an Allow statement for S3 actions whose resources reach the bucket or an
//! object in it. As MinIO's `Policy.MatchResource`, this looks at resources only, not at
//! conditions; unlike MinIO it ignores Deny statements and admin-only statements (a
//! policy that only denies, or only grants `admin:*`, gives no access to a bucket).
//!
//! Resource patterns are AWS globs (`*` any run of characters, `/` included; `?` one
//! character). `${aws:username}` and `${aws:userid}` stand for the user; any other
//! policy variable could be anything and is taken as `*`.

use cairn_policy::{Effect, Policy, S3_ARN_PREFIX, Statement};

/// Whether `policy` allows `user` some S3 access to `bucket`.
pub(super) fn grants_bucket(policy: &Policy, user: &str, bucket: &str) -> bool {
    policy
        .statements()
        .iter()
        .any(|s| statement_grants(s, user, bucket))
}

fn statement_grants(s: &Statement, user: &str, bucket: &str) -> bool {
    if s.effect() != Effect::Allow {
        return false;
    }
    let s3 = s.is_not_action()
        || s.actions().any(|a| {
            let a = a.to_ascii_lowercase();
            a.starts_with("s3") || a.starts_with('*')
        });
    if !s3 {
        return false;
    }
    let mut resources = s.resources().peekable();
    if resources.peek().is_none() {
        // No Resource: the statement applies to every resource.
        return true;
    }
    if s.is_not_resource() {
        // Allowed everywhere except the listed resources: the bucket is reached unless
        // one of them covers the bucket and everything in it.
        return !resources.any(|r| covers_whole_bucket(r, user, bucket));
    }
    resources.any(|r| reaches_bucket(r, user, bucket))
}

/// The S3 path (`bucket/key` pattern) of a resource, variables replaced; `None` for
/// resources that are not S3 (KMS keys).
fn s3_path(resource: &str, user: &str) -> Option<Vec<char>> {
    let path = if resource == "*" {
        "*"
    } else {
        resource.strip_prefix(S3_ARN_PREFIX)?
    };
    let mut out = Vec::with_capacity(path.len());
    let mut rest = path;
    while let Some(start) = rest.find("${") {
        out.extend(rest[..start].chars());
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.extend(rest[start..].chars());
            rest = "";
            break;
        };
        match &after[..end] {
            "aws:username" | "aws:userid" => out.extend(user.chars()),
            _ => out.push('*'),
        }
        rest = &after[end + 1..];
    }
    out.extend(rest.chars());
    Some(out)
}

/// Whether the resource matches the bucket itself or some object in it.
fn reaches_bucket(resource: &str, user: &str, bucket: &str) -> bool {
    let Some(p) = s3_path(resource, user) else {
        return false;
    };
    let b: Vec<char> = bucket.chars().collect();
    let mut in_bucket = b.clone();
    in_bucket.push('/');
    glob(&p, &b, true) || glob(&p, &in_bucket, false)
}

/// Whether the resource matches the bucket and every object in it (`B*`, `*`, or a
/// pattern that is `B/*` after the bucket).
fn covers_whole_bucket(resource: &str, user: &str, bucket: &str) -> bool {
    let Some(p) = s3_path(resource, user) else {
        return false;
    };
    let b: Vec<char> = bucket.chars().collect();
    let mut anything = b.clone();
    anything.extend("/*".chars());
    // `p` covers every `B/...` exactly when it matches the pattern text `B/*` with
    // its `*` read as a literal that only a `*` of `p` may match.
    glob(&p, &b, true) && glob_star_literal(&p, &anything)
}

/// Glob match of `text` by `pattern`: the whole text (`whole`), or (`!whole`) the text
/// as the beginning of some string the pattern matches. Greedy with backtracking to the
/// last `*`: linear in practice, never exponential.
fn glob(pattern: &[char], text: &[char], whole: bool) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    !whole || pattern[p..].iter().all(|c| *c == '*')
}

/// [`glob`] of a whole text whose `*` characters only a pattern `*` matches.
fn glob_star_literal(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        let literal_ok = p < pattern.len()
            && pattern[p] != '*'
            && text[t] != '*'
            && (pattern[p] == '?' || pattern[p] == text[t]);
        if literal_ok {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(statement: &str) -> Policy {
        let doc = format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#);
        Policy::parse(doc.as_bytes()).expect("policy")
    }

    fn grants(statement: &str, bucket: &str) -> bool {
        grants_bucket(&policy(statement), "alice", bucket)
    }

    #[test]
    fn resources_that_reach_a_bucket() {
        let cases = [
            ("arn:aws:s3:::media", "media", true),
            ("arn:aws:s3:::media/*", "media", true),
            ("arn:aws:s3:::media/photos/*", "media", true),
            ("arn:aws:s3:::med*", "media", true),
            ("arn:aws:s3:::*", "media", true),
            ("*", "media", true),
            ("arn:aws:s3:::m?dia", "media", true),
            ("arn:aws:s3:::*/reports/*", "media", true),
            ("arn:aws:s3:::home/${aws:username}/*", "home", true),
            ("arn:aws:s3:::${aws:username}-bucket", "alice-bucket", true),
            ("arn:aws:s3:::${aws:username}-bucket", "bob-bucket", false),
            ("arn:aws:s3:::media2", "media", false),
            ("arn:aws:s3:::mediaX/*", "media", false),
            ("arn:aws:s3:::other/*", "media", false),
            ("arn:aws:s3:::m", "media", false),
        ];
        for (resource, bucket, want) in cases {
            let st = format!(
                r#"{{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["{resource}"]}}"#
            );
            assert_eq!(grants(&st, bucket), want, "{resource} on {bucket}");
        }
    }

    #[test]
    fn only_allowed_s3_statements_count() {
        let deny = r#"{"Effect":"Deny","Action":["s3:*"],"Resource":["arn:aws:s3:::media/*"]}"#;
        assert!(!grants(deny, "media"));
        let admin = r#"{"Effect":"Allow","Action":["admin:*"]}"#;
        assert!(!grants(admin, "media"));
        let everything = r#"{"Effect":"Allow","Action":["*"],"Resource":["*"]}"#;
        assert!(grants(everything, "media"));
        for name in ["readwrite", "readonly", "writeonly", "consoleAdmin"] {
            let p = cairn_policy::canned(name).expect("canned");
            assert!(grants_bucket(&p, "alice", "media"), "{name}");
        }
        let p = cairn_policy::canned("diagnostics").expect("canned");
        assert!(!grants_bucket(&p, "alice", "media"));
    }

    #[test]
    fn not_resource_excludes_whole_buckets_only() {
        let except =
            |r: &str| format!(r#"{{"Effect":"Allow","Action":["s3:*"],"NotResource":["{r}"]}}"#);
        assert!(grants(&except("arn:aws:s3:::other"), "media"));
        assert!(
            grants(&except("arn:aws:s3:::media"), "media"),
            "objects remain"
        );
        assert!(grants(&except("arn:aws:s3:::media/private/*"), "media"));
        assert!(!grants(&except("arn:aws:s3:::media*"), "media"));
        assert!(!grants(&except("arn:aws:s3:::*"), "media"));
    }

    #[test]
    fn glob_whole_and_prefix() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        assert!(glob(&c("a*b*c"), &c("axxbyyc"), true));
        assert!(!glob(&c("a*b*c"), &c("axxbyy"), true));
        assert!(glob(&c("a*b*c"), &c("axxbyy"), false));
        assert!(!glob(&c("ab"), &c("abc"), false));
        assert!(glob(&c("*"), &c(""), true));
        // Many stars stay fast.
        let p = c(&"*a".repeat(40));
        let t = c(&"a".repeat(39));
        assert!(!glob(&p, &t, true));
    }
}
