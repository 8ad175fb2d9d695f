//! Text → parse tree (pest) → typed AST, with diagnostics; the only module that touches `Pair`s.
//!
//! One `fn` per grammar rule turns a `Pair` into an AST node. The builder
//! never fails: where a token is malformed it reports a diagnostic and puts a
//! placeholder in the tree, so that one pass reports every such mistake.
//!
//! This file holds the entry point, the builder's state and its tokens; the
//! rules of each area are in [`decls`], [`stmts`], [`exprs`] and [`testing`],
//! pest errors turned into words in [`errors`], string escapes in [`unescape`].

use std::cell::RefCell;

use pest::Parser as _;
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};

use crate::ast::*;
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::scan::{self, Comment};
use crate::span::Span;

mod decls;
mod errors;
mod exprs;
mod stmts;
mod testing;
mod unescape;

use errors::syntax_error;
use unescape::unescape;

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct Grammar;

/// The largest policy file accepted (8 MiB); larger ones get one diagnostic.
pub const MAX_FILE_BYTES: usize = 8 << 20;

/// The result of parsing one file: a tree, its comments and what went wrong.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The declarations that parsed (those with syntax errors are left out).
    pub file: File,
    /// Every comment, in order (the formatter keeps them).
    pub comments: Vec<Comment>,
    /// Problems, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Decodes a file's bytes, or says where it stops being UTF-8.
pub fn decode(bytes: &[u8]) -> Result<&str, Box<Diagnostic>> {
    std::str::from_utf8(bytes).map_err(|err| {
        let at = err.valid_up_to();
        Box::new(
            Diagnostic::error(
                codes::INVALID_UTF8,
                Span::new(at, at),
                format!("the file is not valid UTF-8 (byte {at})"),
            )
            .with_help("policy files are UTF-8 text; re-save the file as UTF-8"),
        )
    })
}

/// Parses one policy file. Never panics; always returns a tree (possibly
/// partial) and the diagnostics found.
pub fn parse(source: &str) -> Parsed {
    let mut diagnostics = Vec::new();
    if source.len() > MAX_FILE_BYTES {
        diagnostics.push(
            Diagnostic::error(
                codes::FILE_TOO_LARGE,
                Span::at(0),
                format!("the file is {} bytes; policy files may be at most {MAX_FILE_BYTES}", source.len()),
            )
            .with_help("split the policy set into several files"),
        );
        return Parsed { file: File { decls: Vec::new() }, comments: Vec::new(), diagnostics };
    }
    if let Some(at) = source.find('\0') {
        diagnostics.push(
            Diagnostic::error(codes::BINARY_FILE, Span::new(at, at + 1), "the file holds a NUL byte")
                .with_label("here")
                .with_help("this does not look like a policy file; only text `.warden` files belong in a policy set"),
        );
        return Parsed { file: File { decls: Vec::new() }, comments: Vec::new(), diagnostics };
    }

    let scanned = scan::scan(source);
    diagnostics.extend(scanned.diagnostics);
    let builder = Builder::new(source, &scanned.comments);
    let mut decls = Vec::new();
    for chunk in &scanned.chunks {
        if chunk.broken {
            continue;
        }
        let Some(text) = source.get(chunk.start..chunk.end) else {
            continue;
        };
        match parse_chunk(text) {
            Ok(pairs) => {
                builder.base.replace(chunk.start);
                decls.extend(builder.file(pairs));
            }
            Err(err) => diagnostics.push(syntax_error(&err, text, chunk.start)),
        }
    }
    diagnostics.extend(builder.diags.into_inner());
    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    Parsed { file: File { decls }, comments: scanned.comments, diagnostics }
}

/// Serialises the parses that turn on pest's error detail; see [`parse_chunk`].
static ERROR_DETAIL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One chunk through the grammar. pest's error detail (which rules were
/// tried where, for a precise message) costs on every parse, about 40 % of
/// a large set's parsing, so a chunk is parsed without it and only a chunk
/// that fails is parsed again with it. The flag is process-wide and read
/// when a parse starts: it is turned on only under [`ERROR_DETAIL`], so a
/// detailed parse always runs with it, and a parse that starts meanwhile in
/// another thread only tracks what it does not need (its result is the same).
fn parse_chunk(text: &str) -> Result<pest::iterators::Pairs<'_, Rule>, pest::error::Error<Rule>> {
    Grammar::parse(Rule::file, text).or_else(|_| {
        let _only_one = ERROR_DETAIL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        pest::set_error_detail(true);
        let detailed = Grammar::parse(Rule::file, text);
        pest::set_error_detail(false);
        detailed
    })
}

fn is_keyword(rule: Rule) -> bool {
    use Rule::*;
    matches!(
        rule,
        kw_zone
            | kw_issuer
            | kw_jwks
            | kw_file
            | kw_url
            | kw_refresh
            | kw_audience
            | kw_algorithms
            | kw_leeway
            | kw_scopes
            | kw_from
            | kw_secret
            | kw_env
            | kw_require
            | kw_tls
            | kw_mtls
            | kw_peer
            | kw_network
            | kw_limit
            | kw_per
            | kw_burst
            | kw_by
            | kw_on_backend_error
            | kw_ipv6_prefix
            | kw_schema
            | kw_open
            | kw_enum
            | kw_min
            | kw_max
            | kw_min_len
            | kw_max_len
            | kw_pattern
            | kw_format
            | kw_min_items
            | kw_max_items
            | kw_data
            | kw_api
            | kw_in
            | kw_host
            | kw_prefix
            | kw_route
            | kw_resource
            | kw_action
            | kw_auth
            | kw_bearer
            | kw_client_secret
            | kw_api_key
            | kw_header
            | kw_asserted
            | kw_none
            | kw_scope
            | kw_any
            | kw_body
            | kw_json
            | kw_allow
            | kw_deny
            | kw_when
            | kw_upstream
            | kw_test
            | kw_request
            | kw_check
            | kw_expect
            | kw_repeat
            | kw_wait
            | kw_ip
            | kw_token
            | kw_expired
            | kw_not_yet_valid
            | kw_wrong_key
            | kw_alg
            | kw_raw
            | kw_basic
            | kw_content_type
            | kw_subject
            | kw_context
            | kw_mint
            | kw_for
            | kw_claim
            | kw_lifetime
            | kw_exchange
            | kw_bind
            | kw_certificate
            | kw_bound
            | kw_dpop
            | kw_introspect
            | kw_client
            | kw_cache
            | kw_always
            | kw_signed
            | kw_on_introspection_error
            | kw_stale
            | kw_ban
            | kw_of
            | kw_except
            | kw_status
            | kw_distinct
            | kw_alert
    )
}

/// The children of a pair that carry meaning (keyword tokens left out).
fn kids(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| !is_keyword(p.as_rule()))
}

struct Builder<'s> {
    source: &'s str,
    comments: &'s [Comment],
    base: RefCell<usize>,
    diags: RefCell<Vec<Diagnostic>>,
    pratt: PrattParser<Rule>,
}

impl<'s> Builder<'s> {
    fn new(source: &'s str, comments: &'s [Comment]) -> Builder<'s> {
        let pratt = PrattParser::new()
            .op(Op::infix(Rule::op_or, Assoc::Left))
            .op(Op::infix(Rule::op_and, Assoc::Left))
            .op(Op::prefix(Rule::op_not))
            .op(Op::infix(Rule::op_eq, Assoc::Left)
                | Op::infix(Rule::op_ne, Assoc::Left)
                | Op::infix(Rule::op_lt, Assoc::Left)
                | Op::infix(Rule::op_le, Assoc::Left)
                | Op::infix(Rule::op_gt, Assoc::Left)
                | Op::infix(Rule::op_ge, Assoc::Left)
                | Op::infix(Rule::op_in, Assoc::Left)
                | Op::infix(Rule::op_not_in, Assoc::Left));
        Builder { source, comments, base: RefCell::new(0), diags: RefCell::new(Vec::new()), pratt }
    }

    fn error(&self, diag: Diagnostic) {
        self.diags.borrow_mut().push(diag);
    }

    /// The pair's span, without the whitespace and comments that pest
    /// includes when an optional tail after the last token did not match.
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let base = *self.base.borrow();
        let s = pair.as_span();
        let start = base + s.start();
        let mut end = base + s.end();
        loop {
            let text = self.source.get(start..end).unwrap_or("");
            end = start + text.trim_end_matches([' ', '\t', '\r', '\n', ';']).len();
            let idx = self.comments.partition_point(|c| c.span.end() < end);
            match self.comments.get(idx) {
                Some(c) if c.span.end() == end && c.span.start() >= start => end = c.span.start(),
                _ => break,
            }
        }
        Span::new(start, end)
    }

    /// The `///` lines directly before `offset` (only whitespace between).
    fn doc_before(&self, offset: usize) -> Option<Doc> {
        let mut idx = self.comments.partition_point(|c| c.span.end() <= offset);
        let mut cursor = offset;
        let mut lines = Vec::new();
        let mut first = None;
        let mut last = None;
        while idx > 0 {
            let Some(comment) = self.comments.get(idx - 1) else {
                break;
            };
            let between = self.source.get(comment.span.end()..cursor).unwrap_or("x");
            if !comment.doc || !between.chars().all(char::is_whitespace) {
                break;
            }
            let text = comment.span.text(self.source);
            let text = text.strip_prefix("///").unwrap_or(text);
            lines.push(text.strip_prefix(' ').unwrap_or(text).trim_end().to_owned());
            first = Some(comment.span);
            last.get_or_insert(comment.span);
            cursor = comment.span.start();
            idx -= 1;
        }
        let (first, last) = (first?, last?);
        lines.reverse();
        Some(Doc { text: lines.join("\n"), span: first.to(last) })
    }

    // ------------------------------------------------------------ tokens

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident { span: self.span(&pair), name: pair.as_str().to_owned() }
    }

    fn string(&self, pair: Pair<'_, Rule>) -> Str {
        let span = self.span(&pair);
        let raw = pair.as_str();
        let inner = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).unwrap_or(raw);
        let value = match unescape(inner) {
            Ok(value) => value,
            Err((at, len, message)) => {
                let start = span.start() + 1 + at;
                self.error(
                    Diagnostic::error(codes::INVALID_ESCAPE, Span::new(start, start + len), message)
                        .with_label("here")
                        .with_help(
                            "strings use JSON escapes: `\\\"` `\\\\` `\\/` `\\b` `\\f` `\\n` `\\r` `\\t` `\\uXXXX`",
                        ),
                );
                inner.to_owned()
            }
        };
        Str { value, span }
    }

    fn strings(&self, pair: Pair<'_, Rule>) -> Vec<Str> {
        kids(pair).map(|p| self.string(p)).collect()
    }

    fn integer(&self, pair: Pair<'_, Rule>) -> Spanned<u64> {
        let span = self.span(&pair);
        let value = pair.as_str().parse::<u64>().unwrap_or_else(|_| {
            self.error(
                Diagnostic::error(codes::INVALID_NUMBER, span, format!("`{}` is too large", pair.as_str()))
                    .with_help("whole numbers in policies must fit in 64 bits"),
            );
            1
        });
        Spanned::new(value, span)
    }

    fn number(&self, pair: Pair<'_, Rule>) -> Number {
        let span = self.span(&pair);
        let raw = pair.as_str().to_owned();
        let value = match raw.parse::<f64>() {
            Ok(v) if v.is_finite() => v,
            _ => {
                self.error(Diagnostic::error(codes::INVALID_NUMBER, span, format!("`{raw}` is not a finite number")));
                0.0
            }
        };
        Number { value, raw, span }
    }

    fn duration(&self, pair: Pair<'_, Rule>) -> Duration {
        let span = self.span(&pair);
        let text = pair.as_str();
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let (num, unit) = text.split_at(digits);
        let unit = match unit {
            "ms" => Some(DurationUnit::Millis),
            "s" => Some(DurationUnit::Seconds),
            "m" => Some(DurationUnit::Minutes),
            "h" => Some(DurationUnit::Hours),
            "d" => Some(DurationUnit::Days),
            _ => None,
        };
        let value = num.parse::<u64>().ok();
        match (value, unit) {
            (Some(value), Some(unit)) if value.checked_mul(unit.millis()).is_some_and(|ms| ms <= MAX_DURATION_MS) => {
                Duration { value, unit, span }
            }
            (Some(_), Some(_)) => {
                self.error(
                    Diagnostic::error(codes::INVALID_DURATION, span, format!("duration `{text}` is too long"))
                        .with_help("durations may be at most 365d"),
                );
                Duration { value: 1, unit: DurationUnit::Seconds, span }
            }
            _ => {
                let help = if text.bytes().all(|b| b.is_ascii_digit()) {
                    format!("add a unit: `{text}s`, `{text}m`…")
                } else if text.contains('.') {
                    "use a whole number with a smaller unit: `1500ms` instead of `1.5s`".to_owned()
                } else {
                    "write a whole number followed by `ms`, `s`, `m`, `h` or `d`, as in `30s`".to_owned()
                };
                self.error(
                    Diagnostic::error(codes::INVALID_DURATION, span, format!("`{text}` is not a duration"))
                        .with_label("expected a duration such as `30s`")
                        .with_help(help),
                );
                Duration { value: 1, unit: DurationUnit::Seconds, span }
            }
        }
    }

    fn size(&self, pair: Pair<'_, Rule>) -> Size {
        let span = self.span(&pair);
        let text = pair.as_str();
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let (num, unit) = text.split_at(digits);
        let unit_parsed = match unit {
            "B" => Some(SizeUnit::Bytes),
            "KiB" => Some(SizeUnit::KiB),
            "MiB" => Some(SizeUnit::MiB),
            "GiB" => Some(SizeUnit::GiB),
            _ => None,
        };
        match (num.parse::<u64>().ok(), unit_parsed) {
            (Some(value), Some(unit)) if value.checked_mul(unit.bytes()).is_some_and(|b| b <= MAX_SIZE_BYTES) => {
                Size { value, unit, span }
            }
            (Some(_), Some(_)) => {
                self.error(
                    Diagnostic::error(codes::INVALID_SIZE, span, format!("size `{text}` is too large"))
                        .with_help("sizes may be at most 1GiB"),
                );
                Size { value: 0, unit: SizeUnit::Bytes, span }
            }
            _ => {
                let help = match unit.to_ascii_lowercase().as_str() {
                    "kb" | "k" | "kib" => format!("sizes are binary: write `{num}KiB`"),
                    "mb" | "m" | "mib" => format!("sizes are binary: write `{num}MiB`"),
                    "gb" | "g" | "gib" => format!("sizes are binary: write `{num}GiB`"),
                    "" => format!("add a unit: `{num}B`, `{num}KiB` or `{num}MiB`"),
                    _ => "write a whole number followed by `B`, `KiB`, `MiB` or `GiB`, as in `16KiB`".to_owned(),
                };
                self.error(
                    Diagnostic::error(codes::INVALID_SIZE, span, format!("`{text}` is not a size"))
                        .with_label("expected a size such as `16KiB`")
                        .with_help(help),
                );
                Size { value: 0, unit: SizeUnit::Bytes, span }
            }
        }
    }

    fn method(&self, pair: Pair<'_, Rule>) -> Spanned<Method> {
        let span = self.span(&pair);
        let text = pair.as_str();
        let method = Method::parse(text).unwrap_or_else(|| {
            let help = match Method::parse(&text.to_ascii_uppercase()) {
                Some(m) => format!("methods are written in upper case: `{}`", m.as_str()),
                None => "use one of `GET`, `POST`, `PUT`, `PATCH`, `DELETE`, `HEAD`, `OPTIONS` or `ANY`".to_owned(),
            };
            self.error(
                Diagnostic::error(codes::INVALID_METHOD, span, format!("`{text}` is not an HTTP method Warden knows"))
                    .with_label("unknown method")
                    .with_help(help),
            );
            Method::Any
        });
        Spanned::new(method, span)
    }

    fn next_string<'p>(&self, parts: &mut impl Iterator<Item = Pair<'p, Rule>>, at: Span) -> Str {
        parts.next().map_or_else(|| missing_str(at), |p| self.string(p))
    }

    fn key(&self, pair: Pair<'_, Rule>) -> Key {
        match pair.as_rule() {
            Rule::string => {
                let s = self.string(pair);
                Key { name: s.value, quoted: true, span: s.span }
            }
            _ => Key { span: self.span(&pair), name: pair.as_str().to_owned(), quoted: false },
        }
    }
}

/// Longest duration literal accepted (365 days).
const MAX_DURATION_MS: u64 = 365 * 86_400_000;
/// Largest size literal accepted (1 GiB).
const MAX_SIZE_BYTES: u64 = 1 << 30;

fn missing_ident(span: Span) -> Ident {
    Ident { name: String::new(), span }
}

fn missing_str(span: Span) -> Str {
    Str { value: String::new(), span }
}

/// True for `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod grammar_tests;
