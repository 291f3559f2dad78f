//! Condition blocks: `"Condition": {"<operator>": {"<key>": <value or values>}}`.
//!
//! Operators: String{Equals,NotEquals,EqualsIgnoreCase,NotEqualsIgnoreCase,Like,NotLike},
//! Numeric{Equals,NotEquals,LessThan,LessThanEquals,GreaterThan,GreaterThanEquals},
//! Date{...same...}, Bool, BinaryEquals, IpAddress, NotIpAddress,
//! Arn{Equals,Like,NotEquals,NotLike} and Null; each but Null also with an `IfExists`
//! suffix and a `ForAllValues:` or `ForAnyValue:` qualifier. Semantics follow AWS's IAM
//! user guide ("Condition operators" and "Conditions with multiple context keys or
//! values"):
//!
//! 1. All operators of a block, and all keys of an operator, must hold (AND); the values
//!    listed for one key are alternatives (OR), and for a negated operator none may match
//!    (NOR).
//! 2. A key absent from the request: the condition is false, except that negated
//!    operators (StringNotEquals, NotIpAddress, ArnNotLike, ...) are true.
//!    `...IfExists` makes it true in every case; `ForAllValues:` is true (the empty set is
//!    a subset of anything); `ForAnyValue:` is false (unless IfExists).
//! 3. A key present with several values: without a qualifier the positive operators hold
//!    when any request value matches and the negated ones when none does;
//!    `ForAnyValue:` holds when at least one request value passes the (possibly negated)
//!    test, `ForAllValues:` when every one does.
//! 4. `Null: true` holds when the key is absent, `Null: false` when it is present.
//!
//! String and ARN values may hold `${...}` policy variables (Version 2012-10-17). Numbers
//! are integers or decimals; dates are ISO 8601 (RFC 3339, `YYYY-MM-DDTHH:MM:SS` taken as
//! UTC, or `YYYY-MM-DD`) or epoch seconds; IP values are IPv4/IPv6 addresses or CIDR
//! ranges (an IPv4-mapped IPv6 request address counts as IPv4); binary values are
//! base64. A policy value of the wrong type is refused when the policy is parsed; a request
//! value of the wrong type simply does not match.

use std::cmp::Ordering;
use std::net::IpAddr;

use crate::json::{self, Json};
use crate::keys;
use crate::values::{Values, key_eq};
use crate::wildcard::Pattern;

/// One `operator: { key: values }` entry, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    qualifier: Option<Qualifier>,
    base: Base,
    negated: bool,
    if_exists: bool,
    key: String,
    values: Vec<String>,
    compiled: Compiled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    ForAllValues,
    ForAnyValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, o: Ordering) -> bool {
        match self {
            Cmp::Eq => o == Ordering::Equal,
            Cmp::Lt => o == Ordering::Less,
            Cmp::Le => o != Ordering::Greater,
            Cmp::Gt => o == Ordering::Greater,
            Cmp::Ge => o != Ordering::Less,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    StringEquals { ignore_case: bool },
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

/// Operator names: (name, base, negated).
const OPERATORS: &[(&str, Base, bool)] = &[
    (
        "StringEquals",
        Base::StringEquals { ignore_case: false },
        false,
    ),
    (
        "StringNotEquals",
        Base::StringEquals { ignore_case: false },
        true,
    ),
    (
        "StringEqualsIgnoreCase",
        Base::StringEquals { ignore_case: true },
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Base::StringEquals { ignore_case: true },
        true,
    ),
    ("StringLike", Base::StringLike, false),
    ("StringNotLike", Base::StringLike, true),
    ("NumericEquals", Base::Numeric(Cmp::Eq), false),
    ("NumericNotEquals", Base::Numeric(Cmp::Eq), true),
    ("NumericLessThan", Base::Numeric(Cmp::Lt), false),
    ("NumericLessThanEquals", Base::Numeric(Cmp::Le), false),
    ("NumericGreaterThan", Base::Numeric(Cmp::Gt), false),
    ("NumericGreaterThanEquals", Base::Numeric(Cmp::Ge), false),
    ("DateEquals", Base::Date(Cmp::Eq), false),
    ("DateNotEquals", Base::Date(Cmp::Eq), true),
    ("DateLessThan", Base::Date(Cmp::Lt), false),
    ("DateLessThanEquals", Base::Date(Cmp::Le), false),
    ("DateGreaterThan", Base::Date(Cmp::Gt), false),
    ("DateGreaterThanEquals", Base::Date(Cmp::Ge), false),
    ("Bool", Base::Bool, false),
    ("BinaryEquals", Base::Binary, false),
    ("IpAddress", Base::Ip, false),
    ("NotIpAddress", Base::Ip, true),
    ("ArnEquals", Base::Arn, false),
    ("ArnLike", Base::Arn, false),
    ("ArnNotEquals", Base::Arn, true),
    ("ArnNotLike", Base::Arn, true),
    ("Null", Base::Null, false),
];

/// Policy values, parsed once.
#[derive(Debug, Clone, PartialEq)]
enum Compiled {
    Strings(Vec<Pattern>),
    Numbers(Vec<Number>),
    Dates(Vec<i128>),
    Bools(Vec<bool>),
    Binary(Vec<Vec<u8>>),
    Ips(Vec<Cidr>),
    Arns(Vec<ArnPattern>),
}

impl Condition {
    /// The operator as a canonical string (`ForAnyValue:StringLikeIfExists`).
    pub fn operator(&self) -> String {
        let name = OPERATORS
            .iter()
            .find(|(_, b, n)| *b == self.base && *n == self.negated)
            .map_or("", |(name, _, _)| *name);
        let qualifier = match self.qualifier {
            Some(Qualifier::ForAllValues) => "ForAllValues:",
            Some(Qualifier::ForAnyValue) => "ForAnyValue:",
            None => "",
        };
        let suffix = if self.if_exists { "IfExists" } else { "" };
        format!("{qualifier}{name}{suffix}")
    }

    /// The condition key as written.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The policy values as written (numbers and booleans as their JSON text).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Evaluates the condition against the request context.
    pub(crate) fn evaluate(&self, ctx: &Values) -> bool {
        let request = ctx.get(&self.key);
        if self.base == Base::Null {
            let absent = request.is_none();
            return match &self.compiled {
                Compiled::Bools(expect) => expect.contains(&absent),
                _ => false,
            };
        }
        let Some(request) = request else {
            if self.if_exists {
                return true;
            }
            return match self.qualifier {
                Some(Qualifier::ForAllValues) => true,
                Some(Qualifier::ForAnyValue) => false,
                None => self.negated,
            };
        };
        let passes = |v: &String| self.matches_value(v, ctx) != self.negated;
        match self.qualifier {
            None if self.negated => !request.iter().any(|v| self.matches_value(v, ctx)),
            None => request.iter().any(|v| self.matches_value(v, ctx)),
            Some(Qualifier::ForAnyValue) => request.iter().any(passes),
            Some(Qualifier::ForAllValues) => request.iter().all(passes),
        }
    }

    /// Whether one request value matches any policy value under the positive operator.
    fn matches_value(&self, v: &str, ctx: &Values) -> bool {
        match (&self.compiled, self.base) {
            (Compiled::Strings(ps), Base::StringEquals { ignore_case }) => {
                ps.iter().any(|p| p.matches(v, ignore_case, Some(ctx)))
            }
            (Compiled::Strings(ps), _) => ps.iter().any(|p| p.matches(v, false, Some(ctx))),
            (Compiled::Numbers(ns), Base::Numeric(cmp)) => Number::parse(v).is_some_and(|x| {
                ns.iter()
                    .any(|n| x.compare(n).is_some_and(|o| cmp.holds(o)))
            }),
            (Compiled::Dates(ds), Base::Date(cmp)) => {
                parse_date(v).is_some_and(|x| ds.iter().any(|d| cmp.holds(x.cmp(d))))
            }
            (Compiled::Bools(bs), _) => parse_bool(v).is_some_and(|x| bs.contains(&x)),
            (Compiled::Binary(bs), _) => base64_decode(v).is_some_and(|x| bs.contains(&x)),
            (Compiled::Ips(cidrs), _) => v
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|ip| cidrs.iter().any(|c| c.contains(ip))),
            (Compiled::Arns(arns), _) => arns.iter().any(|a| a.matches(v, ctx)),
            _ => false,
        }
    }

    /// Writes `"operator-key": [values]` pairs are grouped by the caller; this writes the
    /// values array.
    pub(crate) fn write_values(&self, out: &mut String) {
        json::write_str_array(out, self.values.iter().map(String::as_str));
    }
}

/// Parses a statement's Condition element. `variables`: whether `${...}` is substituted.
pub(crate) fn parse_block(block: &Json, variables: bool) -> Result<Vec<Condition>, String> {
    let Json::Object(operators) = block else {
        return Err(format!("Condition must be an object, not {}", block.kind()));
    };
    let mut out = Vec::new();
    for (op_name, entries) in operators {
        let (qualifier, base, negated, if_exists) = parse_operator(op_name)?;
        let Json::Object(entries) = entries else {
            return Err(format!(
                "condition operator {op_name:?} must map keys to values, not {}",
                entries.kind()
            ));
        };
        if entries.is_empty() {
            return Err(format!(
                "condition operator {op_name:?} names no condition key"
            ));
        }
        for (i, (key, value)) in entries.iter().enumerate() {
            if let Some(problem) = keys::check(key) {
                return Err(format!("{problem} in condition operator {op_name:?}"));
            }
            if entries[..i].iter().any(|(k, _)| key_eq(k, key)) {
                return Err(format!(
                    "condition key {key:?} appears twice in condition operator {op_name:?}"
                ));
            }
            let values = value_texts(value)
                .map_err(|e| format!("condition {op_name:?} key {key:?}: {e}"))?;
            let compiled = compile(base, &values, variables)
                .map_err(|e| format!("condition {op_name:?} key {key:?}: {e}"))?;
            out.push(Condition {
                qualifier,
                base,
                negated,
                if_exists,
                key: key.clone(),
                values,
                compiled,
            });
        }
    }
    Ok(out)
}

type Operator = (Option<Qualifier>, Base, bool, bool);

fn parse_operator(name: &str) -> Result<Operator, String> {
    let (qualifier, rest) = match name.split_once(':') {
        Some(("ForAllValues", rest)) => (Some(Qualifier::ForAllValues), rest),
        Some(("ForAnyValue", rest)) => (Some(Qualifier::ForAnyValue), rest),
        Some((q, _)) => {
            return Err(format!(
                "unknown condition qualifier {q:?} in {name:?} (expected ForAllValues or ForAnyValue)"
            ));
        }
        None => (None, name),
    };
    let (base_name, if_exists) = match rest.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    let Some(&(_, base, negated)) = OPERATORS.iter().find(|(n, _, _)| *n == base_name) else {
        let hint = OPERATORS
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(base_name))
            .map(|(n, _, _)| format!(" (did you mean {n:?}?)"))
            .unwrap_or_default();
        return Err(format!("unknown condition operator {name:?}{hint}"));
    };
    if base == Base::Null && (if_exists || qualifier.is_some()) {
        return Err(format!(
            "condition operator {name:?} is not allowed: Null takes no IfExists or qualifier"
        ));
    }
    Ok((qualifier, base, negated, if_exists))
}

/// A key's value or values as text: strings, numbers and booleans are accepted.
fn value_texts(value: &Json) -> Result<Vec<String>, String> {
    let one = |v: &Json| match v {
        Json::String(s) => Ok(s.clone()),
        Json::Number(n) => Ok(n.clone()),
        Json::Bool(b) => Ok(b.to_string()),
        other => Err(format!(
            "a value must be a string, number or boolean, not {}",
            other.kind()
        )),
    };
    match value {
        Json::Array(items) if items.is_empty() => Err("no values given".to_owned()),
        Json::Array(items) => items.iter().map(one).collect(),
        v => Ok(vec![one(v)?]),
    }
}

fn compile(base: Base, values: &[String], variables: bool) -> Result<Compiled, String> {
    let each = |f: &dyn Fn(&str) -> Option<String>| -> Result<(), String> {
        values.iter().try_for_each(|v| f(v).map_or(Ok(()), Err))
    };
    Ok(match base {
        Base::StringEquals { .. } => Compiled::Strings(
            values
                .iter()
                .map(|v| Pattern::compile(v, false, variables))
                .collect::<Result<_, _>>()?,
        ),
        Base::StringLike => Compiled::Strings(
            values
                .iter()
                .map(|v| Pattern::compile(v, true, variables))
                .collect::<Result<_, _>>()?,
        ),
        Base::Numeric(_) => {
            each(&|v| {
                Number::parse(v)
                    .is_none()
                    .then(|| format!("{v:?} is not a number"))
            })?;
            Compiled::Numbers(values.iter().filter_map(|v| Number::parse(v)).collect())
        }
        Base::Date(_) => {
            each(&|v| {
                parse_date(v).is_none().then(|| {
                    format!("{v:?} is not a date (ISO 8601 such as 2024-01-31T00:00:00Z, or epoch seconds)")
                })
            })?;
            Compiled::Dates(values.iter().filter_map(|v| parse_date(v)).collect())
        }
        Base::Bool | Base::Null => {
            each(&|v| {
                parse_bool(v)
                    .is_none()
                    .then(|| format!("{v:?} is not true or false"))
            })?;
            Compiled::Bools(values.iter().filter_map(|v| parse_bool(v)).collect())
        }
        Base::Binary => {
            each(&|v| {
                base64_decode(v)
                    .is_none()
                    .then(|| format!("{v:?} is not base64"))
            })?;
            Compiled::Binary(values.iter().filter_map(|v| base64_decode(v)).collect())
        }
        Base::Ip => Compiled::Ips(
            values
                .iter()
                .map(|v| Cidr::parse(v))
                .collect::<Result<_, _>>()?,
        ),
        Base::Arn => Compiled::Arns(
            values
                .iter()
                .map(|v| ArnPattern::parse(v, variables))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// A number of a Numeric condition: integers compare exactly, anything else as f64.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    fn parse(s: &str) -> Option<Number> {
        let s = s.trim();
        if let Ok(i) = s.parse::<i64>() {
            return Some(Number::Int(i));
        }
        // Only plain decimals: Rust also parses "inf", "NaN" and "1e5".
        if s.is_empty()
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+')
        {
            return None;
        }
        s.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Number::Float)
    }

    fn compare(self, other: &Number) -> Option<Ordering> {
        match (self, *other) {
            (Number::Int(a), Number::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// Nanoseconds since the epoch of an ISO 8601 date or epoch seconds.
fn parse_date(s: &str) -> Option<i128> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let s = s.trim();
    if !s.is_empty()
        && s.bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-'))
    {
        return s
            .parse::<i64>()
            .ok()
            .map(|secs| i128::from(secs) * 1_000_000_000);
    }
    let nanos = |secs: i64, sub: u32| i128::from(secs) * 1_000_000_000 + i128::from(sub);
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(nanos(t.timestamp(), t.timestamp_subsec_nanos()));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.fZ",
        "%Y-%m-%dT%H:%MZ",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            let t = t.and_utc();
            return Some(nanos(t.timestamp(), t.timestamp_subsec_nanos()));
        }
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let t = d.and_hms_opt(0, 0, 0)?.and_utc();
    Some(nanos(t.timestamp(), 0))
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Standard base64 (padding optional).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A single leftover character (6 bits) cannot end a valid encoding.
    (bits < 6).then_some(out)
}

/// An IP range: address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(s: &str) -> Result<Cidr, String> {
        let bad = || format!("{s:?} is not an IP address or CIDR range");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let net = unmap(addr.parse::<IpAddr>().map_err(|_| bad())?);
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { net, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, unmap(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) as IPv4.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// An ARN pattern: six colon-separated parts matched one by one (ArnLike and ArnEquals
/// behave the same, as AWS documents), or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ArnPattern {
    parts: Option<Vec<Pattern>>,
}

impl ArnPattern {
    fn parse(s: &str, variables: bool) -> Result<ArnPattern, String> {
        if s == "*" {
            return Ok(ArnPattern { parts: None });
        }
        let parts = split_arn(s);
        if parts.len() != 6 || parts[0] != "arn" {
            return Err(format!(
                "{s:?} is not an ARN (arn:partition:service:region:account:resource)"
            ));
        }
        let parts = parts
            .iter()
            .map(|p| Pattern::compile(p, true, variables))
            .collect::<Result<_, _>>()?;
        Ok(ArnPattern { parts: Some(parts) })
    }

    fn matches(&self, v: &str, ctx: &Values) -> bool {
        let Some(parts) = &self.parts else {
            return true;
        };
        let mut request = v.splitn(6, ':');
        parts.iter().all(|p| {
            request
                .next()
                .is_some_and(|r| p.matches(r, false, Some(ctx)))
        })
    }
}

/// Splits an ARN at its first five colons, not counting colons inside `${...}`.
fn split_arn(s: &str) -> Vec<&str> {
    let bytes = s.as_bytes();
    let (mut parts, mut start, mut i, mut in_var) = (Vec::new(), 0, 0, false);
    while i < bytes.len() && parts.len() < 5 {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => in_var = true,
            b'}' => in_var = false,
            b':' if !in_var => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&s[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(json: &str) -> Condition {
        let j = Json::parse(json.as_bytes()).unwrap();
        let mut c = parse_block(&j, true).unwrap();
        assert_eq!(c.len(), 1);
        c.remove(0)
    }

    #[test]
    fn operator_names() {
        let c = cond(r#"{"ForAnyValue:StringLikeIfExists":{"s3:prefix":"a*"}}"#);
        assert_eq!(c.operator(), "ForAnyValue:StringLikeIfExists");
        assert_eq!(c.key(), "s3:prefix");
        assert_eq!(c.values(), ["a*"]);
        let err = |s: &str| parse_block(&Json::parse(s.as_bytes()).unwrap(), true).unwrap_err();
        assert!(
            err(r#"{"StringEqualz":{"s3:prefix":"a"}}"#)
                .contains("unknown condition operator \"StringEqualz\"")
        );
        assert!(
            err(r#"{"stringequals":{"s3:prefix":"a"}}"#).contains("did you mean \"StringEquals\"")
        );
        assert!(
            err(r#"{"ForSomeValues:StringEquals":{"s3:prefix":"a"}}"#)
                .contains("unknown condition qualifier")
        );
        assert!(err(r#"{"NullIfExists":{"s3:prefix":"true"}}"#).contains("Null takes no IfExists"));
        assert!(
            err(r#"{"NumericLessThan":{"s3:max-keys":"ten"}}"#).contains("\"ten\" is not a number")
        );
        assert!(
            err(r#"{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}"#).contains("is not a date")
        );
        assert!(err(r#"{"Bool":{"aws:SecureTransport":"yes"}}"#).contains("not true or false"));
        assert!(
            err(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}"#).contains("not an IP address")
        );
        assert!(err(r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3"}}"#).contains("is not an ARN"));
        assert!(err(r#"{"BinaryEquals":{"s3:x-amz-acl":"!!"}}"#).contains("not base64"));
        assert!(err(r#"{"StringEquals":{"s3:prefix":[]}}"#).contains("no values"));
        assert!(err(r#"{"StringEquals":{"s3:prefix":{"a":1}}}"#).contains("must be a string"));
        assert!(
            err(r#"{"StringEquals":{"s3:prefix":"a","S3:Prefix":"b"}}"#).contains("appears twice")
        );
        assert!(err(r#"{"StringEquals":{"aws:sourceipx":"a"}}"#).contains("unknown condition key"));
        assert!(err(r#"{"StringEquals":{}}"#).contains("names no condition key"));
    }

    #[test]
    fn numbers_dates_ips_binary() {
        assert_eq!(Number::parse("10"), Some(Number::Int(10)));
        assert_eq!(Number::parse("1.5"), Some(Number::Float(1.5)));
        assert_eq!(Number::parse("inf"), None);
        assert_eq!(Number::parse("1e5"), None);
        assert_eq!(parse_date("1970-01-01T00:00:10Z"), Some(10_000_000_000));
        assert_eq!(parse_date("10"), Some(10_000_000_000));
        assert_eq!(parse_date("1970-01-02"), Some(86_400_000_000_000));
        assert_eq!(parse_date("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_date("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
        assert_eq!(parse_date("1970-01-01T00:00:01"), Some(1_000_000_000));
        assert_eq!(parse_date("soon"), None);
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains("10.1.255.3".parse().unwrap()));
        assert!(c.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        assert!(!c.contains("2001:db8::1".parse().unwrap()));
        let c = Cidr::parse("2001:db8::/32").unwrap();
        assert!(c.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!c.contains("2001:db9::5".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            Cidr::parse("192.0.2.7")
                .unwrap()
                .contains("192.0.2.7".parse().unwrap())
        );
        assert_eq!(base64_decode("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(base64_decode("aGVsbG8"), Some(b"hello".to_vec()));
        assert_eq!(base64_decode("a"), None);
    }

    #[test]
    fn arns() {
        let ctx = Values::new().with("aws:username", "alice");
        let a = ArnPattern::parse("arn:aws:iam::*:user/${aws:username}", true).unwrap();
        assert!(a.matches("arn:aws:iam::123:user/alice", &ctx));
        assert!(!a.matches("arn:aws:iam::123:user/bob", &ctx));
        assert!(!a.matches("arn:aws:iam::123", &ctx));
        // The resource part keeps its colons.
        let a = ArnPattern::parse("arn:aws:sns:*:123:topic:*", true).unwrap();
        assert!(a.matches("arn:aws:sns:us-east-1:123:topic:x", &ctx));
        assert_eq!(
            split_arn("arn:a:b:c:d:e:f"),
            ["arn", "a", "b", "c", "d", "e:f"]
        );
        assert_eq!(
            split_arn("arn:a:b:c:d:${aws:username}"),
            ["arn", "a", "b", "c", "d", "${aws:username}"]
        );
    }
}
