//! Drive endpoints from the command line.
//!
//! `cairn server` takes its drives the way `minio server` does, so a MinIO user's
//! arguments keep their meaning:
//!
//! * ellipses expand to many drives: `./data{1...8}`, `/mnt/disk{01...16}`,
//!   `https://t-pool-0-{0...3}.t-hl.ns.svc.cluster.local/export{0...1}`;
//! * every argument is either a local directory or an `http(s)://host[:port]/path` URL;
//! * when the arguments use ellipses, each argument is one pool (that is how a
//!   deployment grows: append an argument); without ellipses all arguments together
//!   form a single pool.
//!
//! Nothing here touches the file system or the network: this module turns strings into
//! [`Endpoint`]s and refuses arguments that cannot describe a sane deployment.

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv6Addr;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use thiserror::Error;

/// Largest number of drives one argument may expand to. A typo such as
/// `{1...100000}` would otherwise allocate a huge list and then fail much later with a
/// confusing message; no real pool comes anywhere near this.
pub const MAX_EXPANDED_ENDPOINTS: usize = 10_000;

/// The longest endpoint argument accepted. Real ones are a URL with two ranges (under
/// 200 bytes); the bound keeps the expansion's memory (at most
/// [`MAX_EXPANDED_ENDPOINTS`] strings, each no longer than the argument) near 40 MB.
pub const MAX_ENDPOINT_ARG_LEN: usize = 4096;

/// What is wrong with the drive arguments. Every message names the argument at fault.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EndpointError {
    #[error("no drives given: pass at least one drive, for example `cairn server ./data`")]
    NoArguments,
    #[error("empty drive argument: every argument must be a directory or an http(s) URL")]
    EmptyArgument,
    #[error(
        "invalid ellipsis pattern in `{arg}`: {reason}; write ranges as {{N...M}} with N <= M, \
         for example ./data{{1...8}} or /mnt/disk{{01...16}}"
    )]
    Ellipsis { arg: String, reason: String },
    #[error(
        "`{arg}` expands to {count} drives; one argument may describe at most {max}, \
         check the ranges"
    )]
    TooManyEndpoints {
        arg: String,
        count: u128,
        max: usize,
    },
    #[error("invalid drive URL `{arg}`: {reason}")]
    InvalidUrl { arg: String, reason: String },
    #[error(
        "drive URL `{arg}` needs a directory path after the host, for example \
         http://host:9000/export; the root directory `/` is not allowed"
    )]
    UrlPathRequired { arg: String },
    #[error(
        "`{arg}` has no ellipsis but other arguments do: when any argument uses ellipses, \
         each argument is one pool and all of them must use ellipses"
    )]
    MixedEllipses { arg: String },
    #[error(
        "local directories and URLs cannot be mixed in one deployment (`{local}` and `{url}`): \
         use only directories for a single server, or only URLs for several servers"
    )]
    MixedLocalAndUrl { local: String, url: String },
    #[error(
        "http and https drive URLs cannot be mixed (`{first}` and `{second}`): all servers \
         of a deployment talk to each other the same way"
    )]
    MixedSchemes { first: String, second: String },
    #[error("drive `{endpoint}` is given more than once; every drive must appear exactly once")]
    Duplicate { endpoint: String },
}

/// True when `arg` looks like it uses ellipsis syntax.
///
/// Any brace or `...` counts, not only a well-formed `{N...M}`, so that a typo such as
/// `./data{1..8}` ends in a syntax error instead of being taken as a literal directory.
pub fn has_ellipses(arg: &str) -> bool {
    arg.contains("...") || arg.contains('{') || arg.contains('}')
}

/// One piece of an argument: literal text, or the values of one `{N...M}` range.
enum Piece<'a> {
    Literal(&'a str),
    Range(Vec<String>),
}

/// Expands every `{N...M}` range in `arg` into the full list of strings.
///
/// * `{1...8}` counts in decimal; `{01...16}` keeps the zero padding (width of the
///   longer bound), as MinIO does.
/// * `{a...f}` or `{00...1f}` count in hexadecimal: a bound with a letter `a`-`f` makes
///   both bounds hexadecimal. Upper-case bounds give upper-case output.
/// * Several ranges form a cartesian product with the first range outermost:
///   `http://host{1...2}/export{0...1}` gives host1/export0, host1/export1,
///   host2/export0, host2/export1. (MinIO varies the first range fastest; cairn keeps
///   reading order and spreads sets over servers in [`crate::cluster::layout::set_members`].)
/// * An argument without ellipses expands to itself.
///
/// Errors: descending ranges (`{3...1}`), malformed braces, `...` outside braces, and
/// more than [`MAX_EXPANDED_ENDPOINTS`] results.
pub fn expand_ellipses(arg: &str) -> Result<Vec<String>, EndpointError> {
    if arg.len() > MAX_ENDPOINT_ARG_LEN {
        return Err(ellipsis_error(
            arg.get(..64).unwrap_or("(not UTF-8 at 64 bytes)"),
            format!("an endpoint argument is at most {MAX_ENDPOINT_ARG_LEN} bytes long"),
        ));
    }
    // The product of the ranges is at most MAX_EXPANDED_ENDPOINTS (checked in parse_pieces).
    let pieces = parse_pieces(arg)?;

    let mut out = vec![String::new()];
    for piece in &pieces {
        match piece {
            Piece::Literal(text) => out.iter_mut().for_each(|s| s.push_str(text)),
            Piece::Range(values) => {
                let mut next = Vec::with_capacity(out.len() * values.len());
                for prefix in &out {
                    for value in values {
                        next.push(format!("{prefix}{value}"));
                    }
                }
                out = next;
            }
        }
    }
    Ok(out)
}

fn ellipsis_error(arg: &str, reason: impl Into<String>) -> EndpointError {
    EndpointError::Ellipsis {
        arg: arg.to_string(),
        reason: reason.into(),
    }
}

/// Splits `arg` into literal text and ranges, refusing stray braces and `...`.
///
/// The product of the ranges is checked as each range is read, before the next one is
/// built, so `{1...9999}` written 400 times is refused after two ranges instead of
/// allocating every list first (found by the `endpoints` fuzz target's author).
fn parse_pieces(arg: &str) -> Result<Vec<Piece<'_>>, EndpointError> {
    let mut pieces = Vec::new();
    let mut rest = arg;
    let mut total: u128 = 1;
    loop {
        let Some(open) = rest.find('{') else {
            check_literal(arg, rest)?;
            if !rest.is_empty() {
                pieces.push(Piece::Literal(rest));
            }
            return Ok(pieces);
        };
        let literal = &rest[..open];
        check_literal(arg, literal)?;
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| ellipsis_error(arg, "a `{` is never closed"))?;
        let inner = &after[..close];
        if inner.contains('{') {
            return Err(ellipsis_error(arg, "braces cannot be nested"));
        }
        let values = parse_range(arg, inner)?;
        total = total.saturating_mul(values.len() as u128);
        if total > MAX_EXPANDED_ENDPOINTS as u128 {
            return Err(EndpointError::TooManyEndpoints {
                arg: arg.to_string(),
                count: total,
                max: MAX_EXPANDED_ENDPOINTS,
            });
        }
        pieces.push(Piece::Range(values));
        rest = &after[close + 1..];
    }
}

fn check_literal(arg: &str, literal: &str) -> Result<(), EndpointError> {
    if literal.contains('}') {
        return Err(ellipsis_error(arg, "a `}` has no matching `{`"));
    }
    if literal.contains("...") {
        return Err(ellipsis_error(arg, "`...` must be inside braces"));
    }
    Ok(())
}

/// Parses the inside of one `{N...M}` into its values.
fn parse_range(arg: &str, inner: &str) -> Result<Vec<String>, EndpointError> {
    let Some((start, end)) = inner.split_once("...") else {
        return Err(ellipsis_error(
            arg,
            format!("`{{{inner}}}` is not a range of the form {{N...M}}"),
        ));
    };
    for bound in [start, end] {
        if bound.is_empty() || !bound.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ellipsis_error(
                arg,
                format!(
                    "`{bound}` in `{{{inner}}}` is not a non-negative decimal or hexadecimal number"
                ),
            ));
        }
    }
    let hex = inner.chars().any(|c| c.is_ascii_alphabetic());
    let upper = inner.chars().any(|c| c.is_ascii_uppercase());
    let radix = if hex { 16 } else { 10 };
    let parse = |bound: &str| {
        u64::from_str_radix(bound, radix)
            .map_err(|_| ellipsis_error(arg, format!("`{bound}` is too large")))
    };
    let (first, last) = (parse(start)?, parse(end)?);
    if first > last {
        return Err(ellipsis_error(
            arg,
            format!("`{{{inner}}}` counts down; write `{{{end}...{start}}}`"),
        ));
    }
    let count = last - first; // one less than the number of values; cannot overflow
    if count >= MAX_EXPANDED_ENDPOINTS as u64 {
        return Err(EndpointError::TooManyEndpoints {
            arg: arg.to_string(),
            count: u128::from(count) + 1,
            max: MAX_EXPANDED_ENDPOINTS,
        });
    }
    let padded = |bound: &str| bound.len() > 1 && bound.starts_with('0');
    let width = if padded(start) || padded(end) {
        start.len().max(end.len())
    } else {
        0
    };
    Ok((first..=last)
        .map(|i| match (hex, upper) {
            (false, _) => format!("{i:0width$}"),
            (true, false) => format!("{i:0width$x}"),
            (true, true) => format!("{i:0width$X}"),
        })
        .collect())
}

/// How a server reaches a remote drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One drive as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A directory on this machine, kept as written (relative paths stay relative, so
    /// messages show what the operator typed).
    Local { path: PathBuf },
    /// A directory on a server, possibly this one: `https://host:9000/export1`.
    /// `host` is lower-case and without IPv6 brackets; `path` is absolute, not `/`, and
    /// has no trailing or doubled slashes.
    Url {
        scheme: Scheme,
        host: String,
        port: Option<u16>,
        path: String,
    },
}

impl Endpoint {
    /// Parses one already expanded argument.
    pub fn parse(arg: &str) -> Result<Endpoint, EndpointError> {
        if arg.is_empty() {
            return Err(EndpointError::EmptyArgument);
        }
        let (scheme, rest) = if let Some(rest) = strip_prefix_ignore_case(arg, "http://") {
            (Scheme::Http, rest)
        } else if let Some(rest) = strip_prefix_ignore_case(arg, "https://") {
            (Scheme::Https, rest)
        } else if let Some((scheme, _)) = arg.split_once("://") {
            return Err(url_error(
                arg,
                format!("unsupported scheme `{scheme}`; use http:// or https://"),
            ));
        } else {
            return Ok(Endpoint::Local {
                path: PathBuf::from(arg),
            });
        };
        parse_url(arg, scheme, rest)
    }

    pub fn is_url(&self) -> bool {
        matches!(self, Endpoint::Url { .. })
    }

    /// `host:port` of the server that holds this drive, the port defaulting to
    /// `default_port` (the port the servers listen on, as in MinIO). `None` for a local
    /// directory, which has no server address.
    pub fn host_port(&self, default_port: u16) -> Option<String> {
        match self {
            Endpoint::Local { .. } => None,
            Endpoint::Url { host, port, .. } => Some(format!(
                "{}:{}",
                bracket_host(host),
                port.unwrap_or(default_port)
            )),
        }
    }

    /// A key that is equal for two spellings of the same drive (`./d1`, `d1/`), used
    /// to refuse duplicates.
    fn identity(&self) -> String {
        match self {
            Endpoint::Local { path } => normalize_local(path).to_string_lossy().into_owned(),
            Endpoint::Url { .. } => self.to_string(),
        }
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Endpoint::parse(s)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Local { path } => write!(f, "{}", path.display()),
            Endpoint::Url {
                scheme,
                host,
                port,
                path,
            } => {
                write!(f, "{scheme}://{}", bracket_host(host))?;
                if let Some(port) = port {
                    write!(f, ":{port}")?;
                }
                f.write_str(path)
            }
        }
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

fn bracket_host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn url_error(arg: &str, reason: impl Into<String>) -> EndpointError {
    EndpointError::InvalidUrl {
        arg: arg.to_string(),
        reason: reason.into(),
    }
}

/// Parses what follows `scheme://`.
fn parse_url(arg: &str, scheme: Scheme, rest: &str) -> Result<Endpoint, EndpointError> {
    if rest.contains(['?', '#']) {
        return Err(url_error(
            arg,
            "a drive URL cannot have a query (`?`) or fragment (`#`)",
        ));
    }
    let (authority, raw_path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(url_error(
            arg,
            "user names or passwords in drive URLs are not supported; servers authenticate \
             each other with the root credentials",
        ));
    }
    let (host, port_text) = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((host, after)) = bracketed.split_once(']') else {
            return Err(url_error(arg, "an IPv6 address `[` is never closed"));
        };
        if host.parse::<Ipv6Addr>().is_err() {
            return Err(url_error(arg, format!("`{host}` is not an IPv6 address")));
        }
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| url_error(arg, "expected `:port` after the IPv6 address"))?,
            ),
        };
        (host.to_ascii_lowercase(), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        if host.is_empty() {
            return Err(url_error(arg, "the host name is empty"));
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(url_error(
                arg,
                format!(
                    "`{host}` is not a host name (letters, digits, `-`, `.`; IPv6 in brackets)"
                ),
            ));
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port_text {
        None => None,
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port != 0 => Some(port),
            _ => {
                return Err(url_error(
                    arg,
                    format!("`{text}` is not a port number between 1 and 65535"),
                ));
            }
        },
    };

    let mut segments = Vec::new();
    for segment in raw_path.split('/') {
        match segment {
            "" => {}
            "." | ".." => {
                return Err(url_error(
                    arg,
                    "`.` and `..` are not allowed in a drive path; write the directory directly",
                ));
            }
            other => segments.push(other),
        }
    }
    if segments.is_empty() {
        return Err(EndpointError::UrlPathRequired {
            arg: arg.to_string(),
        });
    }
    Ok(Endpoint::Url {
        scheme,
        host,
        port,
        path: format!("/{}", segments.join("/")),
    })
}

/// Drops `.` components and trailing slashes so that `./d1`, `d1` and `d1/` compare
/// equal. `..` is kept: resolving it lexically is wrong when symlinks are involved.
fn normalize_local(path: &Path) -> PathBuf {
    let normal: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if normal.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        normal
    }
}

/// The drives of one pool, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSpec {
    pub endpoints: Vec<Endpoint>,
    /// Whether the pool came from an ellipsis argument (one argument, one pool) rather
    /// than from a plain list of drives.
    pub has_ellipses: bool,
}

impl PoolSpec {
    /// For every drive, the index of the server that holds it, numbered in order of
    /// first appearance. Local drives all live on server 0. URLs without a port use
    /// `default_port`, so `http://a/d` and `http://a:9000/d` are on the same server when
    /// the servers listen on 9000.
    pub fn server_indexes(&self, default_port: u16) -> Vec<usize> {
        let mut seen: HashMap<String, usize> = HashMap::new();
        self.endpoints
            .iter()
            .map(|ep| {
                let key = ep.host_port(default_port).unwrap_or_default();
                let next = seen.len();
                *seen.entry(key).or_insert(next)
            })
            .collect()
    }

    /// How many servers hold the drives of this pool (1 for local directories).
    pub fn server_count(&self, default_port: u16) -> usize {
        self.server_indexes(default_port)
            .into_iter()
            .max()
            .map_or(0, |m| m + 1)
    }
}

/// Groups the drive arguments into pools, with MinIO's rule: if the arguments use
/// ellipses, each argument is one pool (and all must use ellipses); otherwise all the
/// arguments together are one pool.
///
/// Refused: no arguments, local directories mixed with URLs, http mixed with https, and
/// a drive given twice (also across pools).
pub fn parse_pools(args: &[String]) -> Result<Vec<PoolSpec>, EndpointError> {
    if args.is_empty() {
        return Err(EndpointError::NoArguments);
    }
    let with_ellipses = args.iter().filter(|a| has_ellipses(a)).count();
    let pools = if with_ellipses == 0 {
        vec![PoolSpec {
            endpoints: args
                .iter()
                .map(|a| Endpoint::parse(a))
                .collect::<Result<_, _>>()?,
            has_ellipses: false,
        }]
    } else if with_ellipses == args.len() {
        let mut pools = Vec::with_capacity(args.len());
        for arg in args {
            let endpoints = expand_ellipses(arg)?
                .iter()
                .map(|a| Endpoint::parse(a))
                .collect::<Result<_, _>>()?;
            pools.push(PoolSpec {
                endpoints,
                has_ellipses: true,
            });
        }
        pools
    } else {
        let plain = args.iter().find(|a| !has_ellipses(a)).cloned();
        return Err(EndpointError::MixedEllipses {
            arg: plain.unwrap_or_default(),
        });
    };
    check_deployment(&pools)?;
    Ok(pools)
}

/// Whole-deployment checks that span pools.
fn check_deployment(pools: &[PoolSpec]) -> Result<(), EndpointError> {
    let all = || pools.iter().flat_map(|p| p.endpoints.iter());

    let first_local = all().find(|e| !e.is_url());
    let first_url = all().find(|e| e.is_url());
    if let (Some(local), Some(url)) = (first_local, first_url) {
        return Err(EndpointError::MixedLocalAndUrl {
            local: local.to_string(),
            url: url.to_string(),
        });
    }

    if let Some(Endpoint::Url { scheme: first, .. }) = first_url {
        if let Some(other) =
            all().find(|e| matches!(e, Endpoint::Url { scheme, .. } if scheme != first))
        {
            return Err(EndpointError::MixedSchemes {
                first: first_url.map(ToString::to_string).unwrap_or_default(),
                second: other.to_string(),
            });
        }
    }

    let mut seen = std::collections::HashSet::new();
    for endpoint in all() {
        if !seen.insert(endpoint.identity()) {
            return Err(EndpointError::Duplicate {
                endpoint: endpoint.to_string(),
            });
        }
    }
    Ok(())
}

/// The names under which this server is reached by its peers, used to tell which URL
/// endpoints are its own drives.
///
/// A standalone server has no names and owns only local directories. A distributed
/// start-up fills `hosts` with the pod's host name, its DNS names and its addresses; that
/// discovery is not done here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalIdentity {
    /// Host names and IP addresses (IPv6 without brackets), compared case-insensitively.
    pub hosts: Vec<String>,
    /// The port this server listens on; also the port of URLs that give none.
    pub port: u16,
}

/// Whether `endpoint` is a drive of this server: a local directory always is; a URL is
/// when its host is one of `me.hosts` and its port (or `me.port` when it has none) is
/// `me.port`.
pub fn is_local_endpoint(endpoint: &Endpoint, me: &LocalIdentity) -> bool {
    match endpoint {
        Endpoint::Local { .. } => true,
        Endpoint::Url { host, port, .. } => {
            let host = host.trim_end_matches('.');
            port.unwrap_or(me.port) == me.port
                && me.hosts.iter().any(|mine| {
                    let mine = mine.trim_start_matches('[').trim_end_matches(']');
                    mine.trim_end_matches('.').eq_ignore_ascii_case(host)
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn expands_simple_ranges() {
        assert_eq!(
            expand_ellipses("./data{1...4}").unwrap(),
            strings(&["./data1", "./data2", "./data3", "./data4"])
        );
        assert_eq!(
            expand_ellipses("/d{0...3}/x").unwrap(),
            strings(&["/d0/x", "/d1/x", "/d2/x", "/d3/x"])
        );
        assert_eq!(expand_ellipses("{7...7}").unwrap(), strings(&["7"]));
    }

    #[test]
    fn keeps_zero_padding() {
        let out = expand_ellipses("/mnt/disk{01...16}").unwrap();
        assert_eq!(out.len(), 16);
        assert_eq!(out[0], "/mnt/disk01");
        assert_eq!(out[8], "/mnt/disk09");
        assert_eq!(out[15], "/mnt/disk16");
        let out = expand_ellipses("d{001...100}").unwrap();
        assert_eq!((out[0].as_str(), out[99].as_str()), ("d001", "d100"));
        // A zero-padded end bound alone is enough to pad, as in MinIO.
        assert_eq!(
            expand_ellipses("{8...010}").unwrap(),
            strings(&["008", "009", "010"])
        );
    }

    #[test]
    fn expands_hex_ranges() {
        assert_eq!(
            expand_ellipses("n{a...f}").unwrap(),
            strings(&["na", "nb", "nc", "nd", "ne", "nf"])
        );
        assert_eq!(
            expand_ellipses("{0e...11}").unwrap(),
            // a letter in either bound makes both hexadecimal
            strings(&["0e", "0f", "10", "11"])
        );
        assert_eq!(
            expand_ellipses("{9...B}").unwrap(),
            strings(&["9", "A", "B"])
        );
    }

    #[test]
    fn several_ranges_expand_first_outermost() {
        assert_eq!(
            expand_ellipses("http://host{1...2}/export{0...1}").unwrap(),
            strings(&[
                "http://host1/export0",
                "http://host1/export1",
                "http://host2/export0",
                "http://host2/export1",
            ])
        );
    }

    #[test]
    fn argument_without_ellipses_is_itself() {
        assert_eq!(expand_ellipses("/data").unwrap(), strings(&["/data"]));
    }

    #[test]
    fn refuses_bad_patterns() {
        for bad in [
            "{3...1}",
            "{1..4}",
            "{1...}",
            "{...4}",
            "{...}",
            "/d{1...4",
            "/d1...4}",
            "1...4",
            "{{1...4}}",
            "{1...2O}",
            "{-1...1}",
            "{x...z}",
            "{1....4}",
            "d{1...4}}",
        ] {
            assert!(
                matches!(expand_ellipses(bad), Err(EndpointError::Ellipsis { .. })),
                "{bad} should be refused, got {:?}",
                expand_ellipses(bad)
            );
        }
        let msg = expand_ellipses("./d{3...1}").unwrap_err().to_string();
        assert!(
            msg.contains("./d{3...1}") && msg.contains("{1...3}"),
            "{msg}"
        );
    }

    #[test]
    fn refuses_absurd_counts() {
        assert!(expand_ellipses("{1...10000}").is_ok());
        // Many ranges whose product is huge are refused before they are all built, and
        // an argument longer than the cap is refused outright.
        let many = "/d{1...9999}".repeat(400);
        assert!(matches!(
            expand_ellipses(&many),
            Err(EndpointError::Ellipsis { .. })
        ));
        let product = "/d{1...9999}".repeat(40);
        assert!(matches!(
            expand_ellipses(&product),
            Err(EndpointError::TooManyEndpoints { .. })
        ));
        for bad in [
            "{1...10001}",
            "{1...100}{1...101}",
            "{0...99999999999999999999999}",
            "{0...ffffffffffffffff}",
        ] {
            let err = expand_ellipses(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    EndpointError::TooManyEndpoints { .. } | EndpointError::Ellipsis { .. }
                ),
                "{bad}: {err:?}"
            );
        }
        assert!(matches!(
            expand_ellipses("{1...10001}"),
            Err(EndpointError::TooManyEndpoints { count: 10001, .. })
        ));
        let msg = expand_ellipses("/d{1...100}/e{1...101}")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("expands to 10100 drives"), "{msg}");
    }

    #[test]
    fn parses_local_and_url_endpoints() {
        assert_eq!(
            Endpoint::parse("./data1").unwrap(),
            Endpoint::Local {
                path: PathBuf::from("./data1")
            }
        );
        assert_eq!(
            Endpoint::parse("HTTPS://Pod-0.T-hl.NS.svc:9000/export0/").unwrap(),
            Endpoint::Url {
                scheme: Scheme::Https,
                host: "pod-0.t-hl.ns.svc".into(),
                port: Some(9000),
                path: "/export0".into(),
            }
        );
        assert_eq!(
            Endpoint::parse("http://[::1]:9000/a//b").unwrap(),
            Endpoint::Url {
                scheme: Scheme::Http,
                host: "::1".into(),
                port: Some(9000),
                path: "/a/b".into(),
            }
        );
        let ep = Endpoint::parse("http://node1/export").unwrap();
        assert_eq!(ep.host_port(9000).as_deref(), Some("node1:9000"));
        assert_eq!(
            Endpoint::parse("http://[fe80::1]/x")
                .unwrap()
                .host_port(7)
                .as_deref(),
            Some("[fe80::1]:7")
        );
        assert_eq!(Endpoint::parse("/x").unwrap().host_port(9000), None);
    }

    #[test]
    fn refuses_bad_urls() {
        for root in ["http://host", "http://host/", "https://host:9000//"] {
            assert!(
                matches!(
                    Endpoint::parse(root),
                    Err(EndpointError::UrlPathRequired { .. })
                ),
                "{root}"
            );
        }
        for bad in [
            "http://user:pw@host/x",
            "http://host/x?y=1",
            "http://host/x#f",
            "http://host:0/x",
            "http://host:99999/x",
            "http://host:/x",
            "http://:9000/x",
            "http:///x",
            "http://ho st/x",
            "http://[::1/x",
            "http://[nope]/x",
            "http://[::1]9000/x",
            "http://host/a/../b",
            "ftp://host/x",
        ] {
            assert!(
                matches!(Endpoint::parse(bad), Err(EndpointError::InvalidUrl { .. })),
                "{bad}: {:?}",
                Endpoint::parse(bad)
            );
        }
        assert_eq!(Endpoint::parse(""), Err(EndpointError::EmptyArgument));
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "./data1",
            "/mnt/disk1",
            "http://h:9000/export",
            "https://h/a/b",
            "http://[::1]:9000/x",
        ] {
            let ep = Endpoint::parse(text).unwrap();
            assert_eq!(ep.to_string(), text);
            assert_eq!(Endpoint::parse(&ep.to_string()).unwrap(), ep);
        }
    }

    #[test]
    fn plain_arguments_form_one_pool() {
        let pools = parse_pools(&strings(&["/d1", "/d2", "/d3", "/d4"])).unwrap();
        assert_eq!(pools.len(), 1);
        assert!(!pools[0].has_ellipses);
        assert_eq!(pools[0].endpoints.len(), 4);
        assert_eq!(pools[0].server_count(9000), 1);
    }

    #[test]
    fn each_ellipsis_argument_is_a_pool() {
        let pools = parse_pools(&strings(&[
            "http://a{1...4}:9000/export{1...2}",
            "http://b{1...2}:9000/export{1...4}",
        ]))
        .unwrap();
        assert_eq!(pools.len(), 2);
        assert!(pools.iter().all(|p| p.has_ellipses));
        assert_eq!(pools[0].endpoints.len(), 8);
        assert_eq!(pools[1].endpoints.len(), 8);
        assert_eq!(pools[0].server_count(9000), 4);
        assert_eq!(pools[1].server_count(9000), 2);
        assert_eq!(pools[0].server_indexes(9000), vec![0, 0, 1, 1, 2, 2, 3, 3]);
    }

    #[test]
    fn ports_default_when_grouping_servers() {
        let pool = &parse_pools(&strings(&[
            "http://a/x",
            "http://a:9000/y",
            "http://a:9001/z",
        ]))
        .unwrap()[0];
        assert_eq!(pool.server_indexes(9000), vec![0, 0, 1]);
    }

    #[test]
    fn refuses_mixed_ellipses() {
        let err = parse_pools(&strings(&["/d{1...4}", "/e1"])).unwrap_err();
        assert_eq!(err, EndpointError::MixedEllipses { arg: "/e1".into() });
    }

    #[test]
    fn refuses_mixed_local_and_url() {
        let err = parse_pools(&strings(&["/d1", "http://h/d2"])).unwrap_err();
        assert!(matches!(err, EndpointError::MixedLocalAndUrl { .. }));
        let err = parse_pools(&strings(&["/d{1...4}", "http://h/d{1...4}"])).unwrap_err();
        assert!(err.to_string().contains("/d1"), "{err}");
    }

    #[test]
    fn refuses_mixed_schemes() {
        let err = parse_pools(&strings(&["http://a/d", "https://b/d"])).unwrap_err();
        assert!(matches!(err, EndpointError::MixedSchemes { .. }));
    }

    #[test]
    fn refuses_duplicates() {
        for args in [
            vec!["./d1", "d1/"],
            vec!["/d{1...4}", "/d{4...7}"],
            vec!["http://H/x", "http://h/x/"],
        ] {
            let err = parse_pools(&strings(&args)).unwrap_err();
            assert!(
                matches!(err, EndpointError::Duplicate { .. }),
                "{args:?}: {err:?}"
            );
        }
        assert_eq!(parse_pools(&[]), Err(EndpointError::NoArguments));
    }

    #[test]
    fn local_endpoints_by_host_and_port() {
        let me = LocalIdentity {
            hosts: vec![
                "pod-0.t-hl.ns.svc.cluster.local".into(),
                "[10.0.0.5]".into(),
            ],
            port: 9000,
        };
        let is_mine = |s: &str| is_local_endpoint(&Endpoint::parse(s).unwrap(), &me);
        assert!(is_mine("/data"));
        assert!(is_mine("https://POD-0.t-hl.ns.svc.cluster.local/export0"));
        assert!(is_mine(
            "https://pod-0.t-hl.ns.svc.cluster.local.:9000/export0"
        ));
        assert!(is_mine("http://10.0.0.5:9000/x"));
        assert!(!is_mine("http://10.0.0.5:9001/x"));
        assert!(!is_mine("https://pod-1.t-hl.ns.svc.cluster.local/export0"));
        assert!(!is_local_endpoint(
            &Endpoint::parse("http://h/x").unwrap(),
            &LocalIdentity::default()
        ));
    }

    proptest! {
        #[test]
        fn range_expansion_counts_and_orders(start in 0u64..500, len in 1u64..300, pad in any::<bool>()) {
            let end = start + len - 1;
            let arg = if pad {
                format!("d{{{start:04}...{end:04}}}")
            } else {
                format!("d{{{start}...{end}}}")
            };
            let out = expand_ellipses(&arg).unwrap();
            prop_assert_eq!(out.len() as u64, len);
            for (i, s) in out.iter().enumerate() {
                let digits = &s[1..];
                prop_assert_eq!(digits.parse::<u64>().unwrap(), start + i as u64);
                if pad {
                    prop_assert_eq!(digits.len(), 4);
                }
            }
        }

        #[test]
        fn product_is_first_outermost(a in 1usize..20, b in 1usize..20) {
            let out = expand_ellipses(&format!("h{{1...{a}}}/e{{1...{b}}}")).unwrap();
            prop_assert_eq!(out.len(), a * b);
            for (i, s) in out.iter().enumerate() {
                prop_assert_eq!(s, &format!("h{}/e{}", i / b + 1, i % b + 1));
            }
        }

        #[test]
        fn expansion_never_panics(s in "[a-z0-9{}./:]{0,24}") {
            let _ = expand_ellipses(&s);
            let _ = Endpoint::parse(&s);
        }
    }
}
