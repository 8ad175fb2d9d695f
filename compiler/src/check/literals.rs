//! Values written in policies that must parse before anything runs:
//! regular expressions (within a size limit shared with the engine), IP
//! addresses and CIDR ranges, URLs and mTLS peer globs.

use std::str::FromStr;

use warden_language::Diagnostic;
use warden_language::ast::Str;

use super::Checker;
use crate::codes;

/// Largest compiled program of a policy regex (the `regex` crate's
/// `size_limit`): 1 MiB. A larger one is a compile error (`E0210`), so a
/// policy cannot make every engine that loads it build a huge automaton.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Largest lazy-DFA cache of a policy regex (the `regex` crate's
/// `dfa_size_limit`): 2 MiB. Matching stays linear in the input; when the
/// cache fills the crate clears it or falls back to a slower engine.
pub const REGEX_DFA_SIZE_LIMIT: usize = 2 << 20;

/// Compiles a policy regex within [`REGEX_SIZE_LIMIT`] and
/// [`REGEX_DFA_SIZE_LIMIT`]. The checker and the engine both build regexes
/// here, so what `warden check` accepts is exactly what a service loads.
///
/// # Errors
///
/// The pattern's syntax error, or [`regex::Error::CompiledTooBig`].
pub fn build_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).dfa_size_limit(REGEX_DFA_SIZE_LIMIT).build()
}

impl Checker<'_> {
    /// A regular expression, compiled as the engine will (size limits included).
    pub(super) fn regex(&mut self, pattern: &Str) {
        match build_regex(&pattern.value) {
            Ok(_) => {}
            Err(regex::Error::CompiledTooBig(limit)) => self.push(
                Diagnostic::error(
                    codes::INVALID_REGEX,
                    pattern.span,
                    format!("the regular expression is too large: it compiles to more than the {limit} bytes allowed"),
                )
                .with_help(
                    "make it smaller: counted repetitions (`{1000}`) copy what they repeat, and Unicode \
                     classes (`\\w`, `\\d`, `.`) are large; `(?-u:\\w)` is the ASCII-only class",
                ),
            ),
            Err(err) => {
                let detail = err.to_string();
                let last = detail.lines().last().unwrap_or("invalid").trim();
                let last = last.strip_prefix("error: ").unwrap_or(last);
                self.push(
                    Diagnostic::error(
                        codes::INVALID_REGEX,
                        pattern.span,
                        format!("invalid regular expression: {}", last.to_lowercase()),
                    )
                    .with_help("the syntax is Rust's `regex` crate (RE2-like: no look-around or back-references)"),
                );
            }
        }
    }

    /// An IP address or CIDR range.
    pub(super) fn cidr(&mut self, cidr: &Str) {
        let v = cidr.value.trim();
        let ok = ipnet::IpNet::from_str(v).is_ok() || std::net::IpAddr::from_str(v).is_ok();
        if !ok {
            self.push(
                Diagnostic::error(
                    codes::INVALID_CIDR,
                    cidr.span,
                    format!("`{}` is not an IP address or CIDR range", cidr.value),
                )
                .with_help("write a range such as `198.51.100.0/24` or `2001:db8::/32`"),
            );
        }
    }

    /// An absolute `http(s)` URL with a host.
    pub(super) fn url(&mut self, url: &Str, what: &str) {
        let ok =
            url::Url::parse(&url.value).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok {
            self.push(
                Diagnostic::error(codes::INVALID_URL, url.span, format!("`{}` is not a valid {what} URL", url.value))
                    .with_help("write an absolute `https://` URL"),
            );
        }
    }

    /// An mTLS peer glob.
    pub(super) fn glob(&mut self, peer: &Str) {
        if let Err(err) = glob::Pattern::new(&peer.value) {
            self.push(
                Diagnostic::error(
                    codes::INVALID_GLOB,
                    peer.span,
                    format!("`{}` is not a valid glob: {}", peer.value, err.msg),
                )
                .with_help("`*` matches any text, `?` one character, `[…]` a set"),
            );
        }
    }
}
