//! Text → parse tree (pest) → typed AST, with diagnostics; the only module that touches `Pair`s.
//!
//! One `fn` per grammar rule turns a `Pair` into an AST node. The builder
//! never fails: where a token is malformed it reports a diagnostic and puts a
//! placeholder in the tree, so that one pass reports every such mistake.

use std::cell::RefCell;

use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};

use crate::ast::*;
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::reason::Reason;
use crate::scan::{self, Comment};
use crate::span::Span;

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct Grammar;

/// The largest policy file accepted (8 MiB); larger ones get one diagnostic.
pub const MAX_FILE_BYTES: usize = 8 << 20;

/// How many `not`s may follow each other.
const MAX_NOT_CHAIN: usize = 8;

/// How many `not`s one expression level may hold.
const MAX_NOTS: usize = 64;

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

    pest::set_error_detail(true);
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
        match Grammar::parse(Rule::file, text) {
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

    // ------------------------------------------------------------ declarations

    fn file(&self, pairs: pest::iterators::Pairs<'_, Rule>) -> Vec<Decl> {
        let mut decls = Vec::new();
        for p in pairs {
            let decl = match p.as_rule() {
                Rule::zone => Decl::Zone(self.zone(p)),
                Rule::limit_decl => Decl::Limit(self.limit(p)),
                Rule::schema => Decl::Schema(self.schema(p)),
                Rule::data_decl => Decl::Data(self.data(p)),
                Rule::api => Decl::Api(self.api(p)),
                Rule::resource => Decl::Resource(self.resource(p)),
                Rule::test => Decl::Test(self.test(p)),
                _ => continue,
            };
            decls.push(decl);
        }
        decls
    }

    fn zone(&self, pair: Pair<'_, Rule>) -> Zone {
        let span = self.span(&pair);
        let mut name = None;
        let mut items = Vec::new();
        let mut body = span;
        for p in kids(pair) {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                Rule::zone_body => {
                    body = self.span(&p);
                    for item in kids(p) {
                        let item_span = self.span(&item);
                        let node = match item.as_rule() {
                            Rule::issuer => ZoneItem::Issuer(self.issuer(item)),
                            Rule::require_tls => ZoneItem::RequireTls,
                            Rule::require_mtls => {
                                ZoneItem::RequireMtls { peers: kids(item).flat_map(|l| self.strings(l)).collect() }
                            }
                            Rule::network => {
                                ZoneItem::Network { cidrs: kids(item).flat_map(|l| self.strings(l)).collect() }
                            }
                            _ => continue,
                        };
                        items.push(Spanned::new(node, item_span));
                    }
                }
                _ => {}
            }
        }
        Zone {
            doc: self.doc_before(span.start()),
            name: name.unwrap_or_else(|| missing_ident(span)),
            items,
            span,
            body,
        }
    }

    fn issuer(&self, pair: Pair<'_, Rule>) -> Issuer {
        let span = self.span(&pair);
        let mut url = None;
        let mut items = Vec::new();
        let mut body = span;
        for p in kids(pair) {
            match p.as_rule() {
                Rule::string => url = Some(self.string(p)),
                Rule::issuer_body => {
                    body = self.span(&p);
                    for item in kids(p) {
                        let item_span = self.span(&item);
                        let rule = item.as_rule();
                        let mut parts = kids(item);
                        let node = match rule {
                            Rule::jwks_file => IssuerItem::JwksFile(self.next_string(&mut parts, item_span)),
                            Rule::jwks_url => {
                                let url = self.next_string(&mut parts, item_span);
                                IssuerItem::JwksUrl { url, refresh: parts.next().map(|d| self.duration(d)) }
                            }
                            Rule::audience => IssuerItem::Audience(parts.flat_map(|l| self.strings(l)).collect()),
                            Rule::algorithms => {
                                IssuerItem::Algorithms(parts.filter_map(|a| self.algorithm(a)).collect())
                            }
                            Rule::leeway => IssuerItem::Leeway(match parts.next() {
                                Some(d) => self.duration(d),
                                None => Duration { value: 0, unit: DurationUnit::Seconds, span: item_span },
                            }),
                            Rule::scopes_from => IssuerItem::ScopesFrom(self.next_string(&mut parts, item_span)),
                            Rule::secret_file => IssuerItem::SecretFile(self.next_string(&mut parts, item_span)),
                            Rule::secret_env => IssuerItem::SecretEnv(self.next_string(&mut parts, item_span)),
                            _ => continue,
                        };
                        items.push(Spanned::new(node, item_span));
                    }
                }
                _ => {}
            }
        }
        Issuer { doc: self.doc_before(span.start()), url: url.unwrap_or_else(|| missing_str(span)), items, span, body }
    }

    fn next_string<'p>(&self, parts: &mut impl Iterator<Item = Pair<'p, Rule>>, at: Span) -> Str {
        parts.next().map_or_else(|| missing_str(at), |p| self.string(p))
    }

    fn algorithm(&self, pair: Pair<'_, Rule>) -> Option<Spanned<Algorithm>> {
        let span = self.span(&pair);
        let name = pair.as_str();
        if let Some(alg) = Algorithm::parse(name) {
            return Some(Spanned::new(alg, span));
        }
        let diag = if name.eq_ignore_ascii_case("none") {
            Diagnostic::error(codes::UNKNOWN_ALGORITHM, span, "algorithm `none` is never accepted")
                .with_label("unsigned tokens")
                .with_help("tokens must be signed; list algorithms such as `RS256`, `ES256` or `EdDSA`")
        } else {
            let help = match Algorithm::ALL.iter().find(|a| a.as_str().eq_ignore_ascii_case(name)) {
                Some(a) => format!("did you mean `{}`?", a.as_str()),
                None => format!(
                    "use one of {}",
                    Algorithm::ALL.iter().map(|a| format!("`{}`", a.as_str())).collect::<Vec<_>>().join(", ")
                ),
            };
            Diagnostic::error(codes::UNKNOWN_ALGORITHM, span, format!("unknown algorithm `{name}`"))
                .with_label("not a JWS algorithm Warden verifies")
                .with_help(help)
        };
        self.error(diag);
        None
    }

    fn limit(&self, pair: Pair<'_, Rule>) -> Limit {
        let span = self.span(&pair);
        let mut name = None;
        let mut count = None;
        let mut period = None;
        let mut burst = None;
        let mut keys = Vec::new();
        let mut ipv6_prefix = None;
        let mut on_backend_error = None;
        for p in kids(pair) {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                Rule::integer => count = Some(self.integer(p)),
                Rule::duration => period = Some(self.duration(p)),
                Rule::burst => burst = kids(p).next().map(|i| self.integer(i)),
                Rule::limit_keys => keys = kids(p).map(|e| self.expr(e)).collect(),
                Rule::ipv6_prefix => ipv6_prefix = kids(p).next().map(|i| self.integer(i)),
                Rule::backend_error => {
                    let at = self.span(&p);
                    let deny = p.into_inner().any(|k| k.as_rule() == Rule::kw_deny);
                    let policy = if deny { BackendErrorPolicy::Deny } else { BackendErrorPolicy::Allow };
                    on_backend_error = Some(Spanned::new(policy, at));
                }
                _ => {}
            }
        }
        Limit {
            doc: self.doc_before(span.start()),
            name: name.unwrap_or_else(|| missing_ident(span)),
            count: count.unwrap_or(Spanned::new(0, span)),
            period: period.unwrap_or(Duration { value: 0, unit: DurationUnit::Seconds, span }),
            burst,
            keys,
            ipv6_prefix,
            on_backend_error,
            span,
        }
    }

    fn schema(&self, pair: Pair<'_, Rule>) -> Schema {
        let span = self.span(&pair);
        let open = pair.clone().into_inner().any(|p| p.as_rule() == Rule::kw_open);
        let mut name = None;
        let mut fields = Vec::new();
        let mut body = span;
        for p in kids(pair) {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                Rule::schema_body => {
                    body = self.span(&p);
                    fields = kids(p).map(|f| self.field(f)).collect();
                }
                _ => {}
            }
        }
        Schema {
            doc: self.doc_before(span.start()),
            name: name.unwrap_or_else(|| missing_ident(span)),
            open,
            fields,
            span,
            body,
        }
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

    fn field(&self, pair: Pair<'_, Rule>) -> Field {
        let span = self.span(&pair);
        let mut name = None;
        let mut optional = false;
        let mut ty = None;
        for p in kids(pair) {
            match p.as_rule() {
                Rule::ident | Rule::string => name = Some(self.key(p)),
                Rule::optional => optional = true,
                Rule::type_expr => ty = Some(self.type_expr(p)),
                _ => {}
            }
        }
        Field {
            doc: self.doc_before(span.start()),
            name: name.unwrap_or(Key { name: String::new(), quoted: false, span }),
            optional,
            ty: ty.unwrap_or(TypeExpr { kind: TypeKind::Named(missing_ident(span)), constraints: Vec::new(), span }),
            span,
        }
    }

    fn type_expr(&self, pair: Pair<'_, Rule>) -> TypeExpr {
        let span = self.span(&pair);
        let mut kind = None;
        let mut constraints = Vec::new();
        for p in kids(pair) {
            let at = self.span(&p);
            let rule = p.as_rule();
            let mut parts = kids(p.clone());
            let constraint = match rule {
                Rule::named_type => {
                    kind = parts.next().map(|i| TypeKind::Named(self.ident(i)));
                    continue;
                }
                Rule::enum_type => {
                    kind = Some(TypeKind::Enum(parts.flat_map(|l| self.strings(l)).collect()));
                    continue;
                }
                Rule::array_type => {
                    kind = parts.next().map(|t| TypeKind::Array(Box::new(self.type_expr(t))));
                    continue;
                }
                Rule::c_min => parts.next().map(|n| Constraint::Min(self.number(n))),
                Rule::c_max => parts.next().map(|n| Constraint::Max(self.number(n))),
                Rule::c_min_len => parts.next().map(|n| Constraint::MinLen(self.integer(n).node)),
                Rule::c_max_len => parts.next().map(|n| Constraint::MaxLen(self.integer(n).node)),
                Rule::c_min_items => parts.next().map(|n| Constraint::MinItems(self.integer(n).node)),
                Rule::c_max_items => parts.next().map(|n| Constraint::MaxItems(self.integer(n).node)),
                Rule::c_pattern => parts.next().map(|s| Constraint::Pattern(self.string(s))),
                Rule::c_format => parts.next().and_then(|f| self.format(f)).map(Constraint::Format),
                _ => None,
            };
            if let Some(c) = constraint {
                constraints.push(Spanned::new(c, at));
            }
        }
        TypeExpr { kind: kind.unwrap_or_else(|| TypeKind::Named(missing_ident(span))), constraints, span }
    }

    fn format(&self, pair: Pair<'_, Rule>) -> Option<Format> {
        let span = self.span(&pair);
        let name = match pair.as_rule() {
            Rule::string => self.string(pair).value,
            _ => pair.as_str().to_owned(),
        };
        let format = Format::parse(&name);
        if format.is_none() {
            self.error(
                Diagnostic::error(codes::UNKNOWN_FORMAT, span, format!("unknown format `{name}`"))
                    .with_label("not a format Warden checks")
                    .with_help(format!(
                        "use one of {}",
                        Format::ALL.iter().map(|f| format!("`{}`", f.as_str())).collect::<Vec<_>>().join(", ")
                    )),
            );
        }
        format
    }

    fn data(&self, pair: Pair<'_, Rule>) -> Data {
        let span = self.span(&pair);
        let mut name = None;
        let mut path = None;
        for p in kids(pair) {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                Rule::string => path = Some(self.string(p)),
                _ => {}
            }
        }
        Data {
            doc: self.doc_before(span.start()),
            name: name.unwrap_or_else(|| missing_ident(span)),
            path: path.unwrap_or_else(|| missing_str(span)),
            span,
        }
    }

    fn api(&self, pair: Pair<'_, Rule>) -> Api {
        let span = self.span(&pair);
        let mut idents = Vec::new();
        let mut items = Vec::new();
        let mut body = span;
        for p in kids(pair) {
            match p.as_rule() {
                Rule::ident => idents.push(self.ident(p)),
                Rule::api_body => {
                    body = self.span(&p);
                    for item in kids(p) {
                        let at = self.span(&item);
                        let node = match item.as_rule() {
                            Rule::host => ApiItem::Host(Spanned::new(self.next_string(&mut kids(item), at), at)),
                            Rule::prefix => {
                                let prefix = self.next_string(&mut kids(item), at);
                                self.check_prefix(&prefix);
                                ApiItem::Prefix(Spanned::new(prefix, at))
                            }
                            Rule::route => ApiItem::Route(self.route(item)),
                            _ => match self.stmt(item) {
                                Some(stmt) => ApiItem::Stmt(stmt),
                                None => continue,
                            },
                        };
                        items.push(node);
                    }
                }
                _ => {}
            }
        }
        let mut idents = idents.into_iter();
        Api {
            doc: self.doc_before(span.start()),
            name: idents.next().unwrap_or_else(|| missing_ident(span)),
            zone: idents.next().unwrap_or_else(|| missing_ident(span)),
            items,
            span,
            body,
        }
    }

    fn check_prefix(&self, prefix: &Str) {
        let v = &prefix.value;
        let bad = !v.starts_with('/') || v.ends_with('/') || v.contains("//") || v.contains(['{', '}', '?', '#']);
        if bad {
            self.error(
                Diagnostic::error(codes::INVALID_PATH, prefix.span, format!("`{v}` is not a valid api prefix"))
                    .with_label("invalid prefix")
                    .with_help("a prefix is literal path segments: it starts with `/`, does not end with `/`, and has no parameters"),
            );
        }
    }

    fn route(&self, pair: Pair<'_, Rule>) -> Route {
        let span = self.span(&pair);
        let mut method = None;
        let mut path = None;
        let mut stmts = Vec::new();
        let mut body = span;
        for p in kids(pair) {
            match p.as_rule() {
                Rule::method => method = Some(self.method(p)),
                Rule::string => path = Some(self.string(p)),
                Rule::block => {
                    body = self.span(&p);
                    stmts = self.block(p);
                }
                _ => {}
            }
        }
        let path = path.unwrap_or_else(|| missing_str(span));
        let template = self.template(&path);
        Route {
            doc: self.doc_before(span.start()),
            method: method.unwrap_or(Spanned::new(Method::Any, span)),
            path,
            template,
            stmts,
            span,
            body,
        }
    }

    /// Splits and checks a route path template.
    fn template(&self, path: &Str) -> Vec<PathSegment> {
        let value = path.value.as_str();
        let raw_len = path.span.end().saturating_sub(path.span.start());
        // Point into the literal only when it has no escapes (offsets then match).
        let exact = raw_len == value.len() + 2;
        let sub = |from: usize, to: usize| {
            if exact { Span::new(path.span.start() + 1 + from, path.span.start() + 1 + to) } else { path.span }
        };
        let fail = |span: Span, message: String, help: &str| {
            self.error(
                Diagnostic::error(codes::INVALID_PATH, span, message)
                    .with_label("invalid path template")
                    .with_help(help.to_owned()),
            );
        };
        let Some(rest) = value.strip_prefix('/') else {
            fail(
                path.span,
                format!("route path `{value}` must start with `/`"),
                "write the path from the api prefix, as in `/accounts/{id}`",
            );
            return Vec::new();
        };
        if let Some(at) = value.find(['?', '#']) {
            fail(
                sub(at, value.len()),
                format!("route path `{value}` holds a query or fragment"),
                "routes match the path only; test query parameters in a rule with `query.name`",
            );
            return Vec::new();
        }
        if rest.is_empty() {
            return Vec::new();
        }
        let mut segments = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let mut offset = 1;
        let parts: Vec<&str> = rest.split('/').collect();
        let count = parts.len();
        for (i, seg) in parts.into_iter().enumerate() {
            let span = sub(offset, offset + seg.len());
            offset += seg.len() + 1;
            if seg.is_empty() {
                let (msg, help) = if i + 1 == count {
                    (
                        format!("route path `{value}` ends with `/`"),
                        "remove the trailing `/`: paths are matched without it",
                    )
                } else {
                    (format!("route path `{value}` has an empty segment"), "remove the doubled `/`")
                };
                fail(sub(offset.saturating_sub(2), offset.saturating_sub(1)), msg, help);
                continue;
            }
            if seg == "." || seg == ".." {
                fail(
                    span,
                    format!("route path segment `{seg}` is not allowed"),
                    "write the path without `.` and `..` segments",
                );
                continue;
            }
            if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let (tail, name) = match inner.strip_prefix('*') {
                    Some(name) => (true, name),
                    None => (false, inner),
                };
                if !is_identifier(name) {
                    fail(
                        span,
                        format!("`{seg}` is not a valid path parameter"),
                        "a parameter is `{name}` or a final `{*name}`, where name is an identifier",
                    );
                    continue;
                }
                if names.contains(&name) {
                    fail(span, format!("path parameter `{name}` appears twice"), "give each parameter its own name");
                    continue;
                }
                names.push(name);
                if tail {
                    if i + 1 != count {
                        fail(
                            span,
                            format!("tail parameter `{seg}` must be the last segment"),
                            "move `{*name}` to the end, or use `{name}` for one segment",
                        );
                        continue;
                    }
                    segments.push(PathSegment::Tail(name.to_owned()));
                } else {
                    segments.push(PathSegment::Param(name.to_owned()));
                }
                continue;
            }
            if seg.contains(['{', '}']) {
                fail(
                    span,
                    format!("`{seg}` mixes text and a parameter"),
                    "a parameter must be a whole segment: `/files/{name}`, not `/files/{name}.json`",
                );
                continue;
            }
            if seg.contains('%') {
                fail(
                    span,
                    format!("route path segment `{seg}` is percent-encoded"),
                    "write the segment decoded: paths are decoded before matching",
                );
                continue;
            }
            segments.push(PathSegment::Literal(seg.to_owned()));
        }
        segments
    }

    fn resource(&self, pair: Pair<'_, Rule>) -> Resource {
        let span = self.span(&pair);
        let mut idents = Vec::new();
        let mut items = Vec::new();
        let mut body = span;
        for p in kids(pair) {
            match p.as_rule() {
                Rule::ident => idents.push(self.ident(p)),
                Rule::resource_body => {
                    body = self.span(&p);
                    for item in kids(p) {
                        match item.as_rule() {
                            Rule::action => items.push(ResourceItem::Action(self.action(item))),
                            _ => {
                                if let Some(stmt) = self.stmt(item) {
                                    items.push(ResourceItem::Stmt(stmt));
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let mut idents = idents.into_iter();
        Resource {
            doc: self.doc_before(span.start()),
            name: idents.next().unwrap_or_else(|| missing_ident(span)),
            zone: idents.next().unwrap_or_else(|| missing_ident(span)),
            items,
            span,
            body,
        }
    }

    fn action(&self, pair: Pair<'_, Rule>) -> Action {
        let span = self.span(&pair);
        let mut name = None;
        let mut stmts = Vec::new();
        let mut body = span;
        for p in kids(pair) {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                Rule::block => {
                    body = self.span(&p);
                    stmts = self.block(p);
                }
                _ => {}
            }
        }
        Action {
            doc: self.doc_before(span.start()),
            name: name.unwrap_or_else(|| missing_ident(span)),
            stmts,
            span,
            body,
        }
    }

    fn block(&self, pair: Pair<'_, Rule>) -> Vec<Stmt> {
        kids(pair).filter_map(|p| self.stmt(p)).collect()
    }

    fn stmt(&self, pair: Pair<'_, Rule>) -> Option<Stmt> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut parts = kids(pair);
        let kind = match rule {
            Rule::auth => {
                let method = parts.next()?;
                let rule = method.as_rule();
                let mut args = kids(method);
                StmtKind::Auth(match rule {
                    Rule::auth_bearer => AuthMethod::Bearer,
                    Rule::auth_mtls => AuthMethod::Mtls,
                    Rule::auth_client_secret => AuthMethod::ClientSecret { file: self.next_string(&mut args, span) },
                    Rule::auth_api_key => {
                        let header = self.next_string(&mut args, span);
                        AuthMethod::ApiKey { header, file: self.next_string(&mut args, span) }
                    }
                    Rule::auth_asserted => AuthMethod::Asserted,
                    _ => AuthMethod::None,
                })
            }
            Rule::scope => {
                let mut any = false;
                let mut scopes = Vec::new();
                for p in parts {
                    match p.as_rule() {
                        Rule::scope_any => any = true,
                        Rule::string_list => scopes = self.strings(p),
                        _ => {}
                    }
                }
                StmtKind::Scope { any, scopes }
            }
            Rule::use_limit => StmtKind::Limit(parts.map(|p| self.ident(p)).collect()),
            Rule::body_stmt => {
                let spec = parts.next()?;
                let rule = spec.as_rule();
                let mut schema = None;
                let mut max = None;
                for p in kids(spec) {
                    match p.as_rule() {
                        Rule::ident => schema = Some(self.ident(p)),
                        Rule::body_max => max = kids(p).next().map(|s| self.size(s)),
                        _ => {}
                    }
                }
                StmtKind::Body(match rule {
                    Rule::body_json => BodySpec::Json { schema, max },
                    Rule::body_any => BodySpec::Any { max },
                    _ => BodySpec::None,
                })
            }
            Rule::allow => StmtKind::Allow(parts.next().map(|e| self.expr(e))),
            Rule::deny => StmtKind::Deny(self.expr(parts.next()?)),
            Rule::upstream_header => {
                let name = self.next_string(&mut parts, span);
                StmtKind::UpstreamHeader { name, value: self.expr(parts.next()?) }
            }
            _ => return None,
        };
        Some(Spanned::new(kind, span))
    }

    // ------------------------------------------------------------ expressions

    fn expr(&self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        // Bound what nests in the Pratt parser before running it: runs of
        // `not`, `not`s in all, and comparisons chained without `and`/`or`
        // (`a == b == c`, or `a == not b == not c …`, which would nest once per
        // operator).
        let mut run = 0usize;
        let mut longest = 0usize;
        let mut nots = 0usize;
        let mut last_cmp: Option<(CmpOp, Span)> = None;
        for p in pair.clone().into_inner() {
            let rule = p.as_rule();
            if rule == Rule::op_not {
                run += 1;
                nots += 1;
                longest = longest.max(run);
                continue;
            }
            run = 0;
            match rule {
                Rule::op_and | Rule::op_or => last_cmp = None,
                Rule::op_eq
                | Rule::op_ne
                | Rule::op_lt
                | Rule::op_le
                | Rule::op_gt
                | Rule::op_ge
                | Rule::op_in
                | Rule::op_not_in => {
                    let op = cmp_op(rule);
                    let op_span = self.span(&p);
                    if let Some((first, first_span)) = last_cmp {
                        self.error(
                            Diagnostic::error(
                                codes::CHAINED_COMPARISON,
                                op_span,
                                format!("comparison `{}` follows comparison `{}`", op.as_str(), first.as_str()),
                            )
                            .with_label("chained comparison")
                            .with_related(first_span, "first comparison")
                            .with_help("compare two values at a time and join them with `and`, or add parentheses"),
                        );
                        return Expr { kind: ExprKind::Bool(false), span };
                    }
                    last_cmp = Some((op, op_span));
                }
                _ => {}
            }
        }
        if longest > MAX_NOT_CHAIN || nots > MAX_NOTS {
            let message = if longest > MAX_NOT_CHAIN {
                format!("{longest} `not`s in a row")
            } else {
                format!("{nots} `not`s in one expression")
            };
            self.error(
                Diagnostic::error(codes::NESTING_TOO_DEEP, span, message)
                    .with_help("`not not x` is `x`; remove the doubled `not`s, or split the expression"),
            );
            return Expr { kind: ExprKind::Bool(false), span };
        }
        self.pratt
            .map_primary(|p| self.postfix(p))
            .map_prefix(|op, rhs| {
                let op_span = self.span(&op);
                Expr { span: op_span.to(rhs.span), kind: ExprKind::Not(Box::new(rhs)) }
            })
            .map_infix(|lhs, op, rhs| self.infix(lhs, op, rhs))
            .parse(pair.into_inner())
    }

    fn infix(&self, lhs: Expr, op: Pair<'_, Rule>, rhs: Expr) -> Expr {
        let span = lhs.span.to(rhs.span);
        let op_span = self.span(&op);
        let cmp = match op.as_rule() {
            Rule::op_and => {
                let kind = match lhs.kind {
                    ExprKind::And(mut items) => {
                        items.push(rhs);
                        ExprKind::And(items)
                    }
                    other => ExprKind::And(vec![Expr { kind: other, span: lhs.span }, rhs]),
                };
                return Expr { kind, span };
            }
            Rule::op_or => {
                let kind = match lhs.kind {
                    ExprKind::Or(mut items) => {
                        items.push(rhs);
                        ExprKind::Or(items)
                    }
                    other => ExprKind::Or(vec![Expr { kind: other, span: lhs.span }, rhs]),
                };
                return Expr { kind, span };
            }
            rule => cmp_op(rule),
        };
        if let ExprKind::Compare { op: first, .. } = &lhs.kind {
            self.error(
                Diagnostic::error(
                    codes::CHAINED_COMPARISON,
                    op_span,
                    format!("comparison `{}` follows comparison `{}`", cmp.as_str(), first.node.as_str()),
                )
                .with_label("chained comparison")
                .with_related(first.span, "first comparison")
                .with_help("compare two values at a time and join them with `and`, or add parentheses"),
            );
        }
        Expr {
            kind: ExprKind::Compare { op: Spanned::new(cmp, op_span), lhs: Box::new(lhs), rhs: Box::new(rhs) },
            span,
        }
    }

    fn postfix(&self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let mut parts = pair.into_inner();
        let Some(first) = parts.next() else {
            return Expr { kind: ExprKind::Bool(false), span };
        };
        let base = self.primary(first);
        let path: Vec<Segment> = parts
            .map(|p| {
                let at = self.span(&p);
                let rule = p.as_rule();
                let inner = kids(p).next();
                let kind = match (rule, inner) {
                    (Rule::field_access, Some(name)) => SegmentKind::Field(name.as_str().to_owned()),
                    (_, Some(e)) => SegmentKind::Index(self.expr(e)),
                    (_, None) => SegmentKind::Field(String::new()),
                };
                Segment { kind, span: at }
            })
            .collect();
        if path.is_empty() {
            return base;
        }
        match base.kind {
            ExprKind::Attr { root, path: mut existing } => {
                existing.extend(path);
                Expr { kind: ExprKind::Attr { root, path: existing }, span }
            }
            kind => Expr { kind: ExprKind::Access { base: Box::new(Expr { kind, span: base.span }), path }, span },
        }
    }

    fn primary(&self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::string => ExprKind::Str(self.string(pair).value),
            Rule::number => {
                let n = self.number(pair);
                ExprKind::Number { value: n.value, raw: n.raw }
            }
            Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
            Rule::list => ExprKind::List(kids(pair).map(|e| self.expr(e)).collect()),
            Rule::paren => match kids(pair).next() {
                Some(e) => ExprKind::Paren(Box::new(self.expr(e))),
                None => ExprKind::Bool(false),
            },
            Rule::name => {
                let name = pair.as_str();
                match Root::parse(name) {
                    Some(root) => ExprKind::Attr { root: Spanned::new(root, span), path: Vec::new() },
                    None => {
                        self.error(
                            Diagnostic::error(codes::UNKNOWN_ATTRIBUTE, span, format!("unknown name `{name}`"))
                                .with_label("not an attribute")
                                .with_help(format!(
                                    "attributes start with {}; text is written in double quotes: `\"{name}\"`",
                                    Root::ALL
                                        .iter()
                                        .map(|r| format!("`{}`", r.as_str()))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )),
                        );
                        ExprKind::Str(name.to_owned())
                    }
                }
            }
            Rule::call => {
                let mut parts = kids(pair);
                let Some(name) = parts.next() else {
                    return Expr { kind: ExprKind::Bool(false), span };
                };
                let name_span = self.span(&name);
                let fname = name.as_str().to_owned();
                let args: Vec<Expr> = parts.map(|e| self.expr(e)).collect();
                let Some(func) = Func::parse(&fname) else {
                    self.error(
                        Diagnostic::error(codes::UNKNOWN_FUNCTION, name_span, format!("unknown function `{fname}`"))
                            .with_label("not a built-in function")
                            .with_help(format!(
                                "the functions are {}",
                                Func::ALL.iter().map(|f| format!("`{}`", f.as_str())).collect::<Vec<_>>().join(", ")
                            )),
                    );
                    return Expr { kind: ExprKind::Bool(false), span };
                };
                if args.len() != func.arity() {
                    self.error(
                        Diagnostic::error(
                            codes::WRONG_ARITY,
                            span,
                            format!(
                                "`{fname}` takes {} argument{}, found {}",
                                func.arity(),
                                if func.arity() == 1 { "" } else { "s" },
                                args.len()
                            ),
                        )
                        .with_label("wrong number of arguments"),
                    );
                }
                if func == Func::Has
                    && let Some(arg) = args.first()
                    && !matches!(arg.kind, ExprKind::Attr { .. })
                {
                    self.error(
                        Diagnostic::error(
                            codes::HAS_NEEDS_ATTRIBUTE,
                            arg.span,
                            "`has` takes an attribute such as `claim.email`",
                        )
                        .with_label("not an attribute")
                        .with_help("`has(claim.x)` is true when the request carries `claim.x`"),
                    );
                }
                ExprKind::Call { func: Spanned::new(func, name_span), args }
            }
            _ => ExprKind::Bool(false),
        };
        Expr { kind, span }
    }

    // ------------------------------------------------------------ tests

    fn test(&self, pair: Pair<'_, Rule>) -> Test {
        let span = self.span(&pair);
        let mut name = None;
        let mut steps = Vec::new();
        let mut body = span;
        for p in kids(pair) {
            match p.as_rule() {
                Rule::string => name = Some(self.string(p)),
                Rule::test_body => {
                    body = self.span(&p);
                    steps = self.steps(p);
                }
                _ => {}
            }
        }
        Test { doc: self.doc_before(span.start()), name: name.unwrap_or_else(|| missing_str(span)), steps, span, body }
    }

    fn steps(&self, pair: Pair<'_, Rule>) -> Vec<Step> {
        kids(pair).filter_map(|p| self.step(p)).collect()
    }

    fn step(&self, pair: Pair<'_, Rule>) -> Option<Step> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut parts = kids(pair);
        let kind = match rule {
            Rule::t_request => {
                let method = self.method(parts.next()?);
                if method.node == Method::Any {
                    self.error(
                        Diagnostic::error(codes::MISPLACED, method.span, "a test request needs a concrete method")
                            .with_help("`ANY` matches routes; a request is sent with one method such as `GET`"),
                    );
                }
                let url = self.next_string(&mut parts, span);
                self.check_test_url(&url);
                let mut items = Vec::new();
                let mut body = None;
                if let Some(block) = parts.next() {
                    body = Some(self.span(&block));
                    items = kids(block).filter_map(|i| self.request_item(i)).collect();
                }
                StepKind::Request(Request { method, url, items, body })
            }
            Rule::t_check => {
                let resource_type = self.ident(parts.next()?);
                let action = self.ident(parts.next()?);
                let mut items = Vec::new();
                let mut body = None;
                if let Some(block) = parts.next() {
                    body = Some(self.span(&block));
                    items = kids(block).filter_map(|i| self.check_item(i)).collect();
                }
                StepKind::Check(Check { resource_type, action, items, body })
            }
            Rule::t_expect => {
                let e = parts.next()?;
                let rule = e.as_rule();
                let mut args = kids(e);
                StepKind::Expect(match rule {
                    Rule::e_allow => Expectation::Allow,
                    Rule::e_header => {
                        let name = self.next_string(&mut args, span);
                        Expectation::Header { name, value: self.next_string(&mut args, span) }
                    }
                    _ => {
                        let status = args.next().map(|s| self.status(s));
                        let reason = args.next().and_then(|r| self.reason(r));
                        if let (Some(status), Some(reason)) = (&status, &reason)
                            && status.node != reason.node.status()
                            && status.node != 0
                        {
                            self.error(
                                Diagnostic::error(
                                    codes::STATUS_REASON_MISMATCH,
                                    status.span.to(reason.span),
                                    format!(
                                        "reason `{}` comes with status {}, not {}",
                                        reason.node,
                                        reason.node.status(),
                                        status.node
                                    ),
                                )
                                .with_help(format!(
                                    "write `expect deny {} {}`",
                                    reason.node.status(),
                                    reason.node
                                )),
                            );
                        }
                        if let Some(reason) = &reason
                            && reason.node == Reason::Allowed
                        {
                            self.error(
                                Diagnostic::error(
                                    codes::UNKNOWN_REASON,
                                    reason.span,
                                    "`allowed` is not a reason for a denial",
                                )
                                .with_help("write `expect allow`"),
                            );
                        }
                        Expectation::Deny { status, reason }
                    }
                })
            }
            Rule::t_repeat => {
                let count = self.integer(parts.next()?);
                if count.node == 0 || count.node > MAX_REPEAT {
                    self.error(
                        Diagnostic::error(
                            codes::INVALID_REPEAT,
                            count.span,
                            format!("`repeat {}` is out of range", count.node),
                        )
                        .with_help(format!("repeat between 1 and {MAX_REPEAT} times")),
                    );
                }
                let block = parts.next()?;
                StepKind::Repeat { count, body: self.span(&block), steps: self.steps(block) }
            }
            Rule::t_wait => StepKind::Wait(self.duration(parts.next()?)),
            _ => return None,
        };
        Some(Spanned::new(kind, span))
    }

    fn status(&self, pair: Pair<'_, Rule>) -> Spanned<u16> {
        let n = self.integer(pair);
        let status = u16::try_from(n.node).ok().filter(|s| (400..=599).contains(s));
        if status.is_none() {
            self.error(
                Diagnostic::error(codes::INVALID_STATUS, n.span, format!("`{}` is not a denial status", n.node))
                    .with_help("a denial has a 4xx status such as 401, 403, 404 or 429"),
            );
        }
        Spanned::new(status.unwrap_or(0), n.span)
    }

    fn reason(&self, pair: Pair<'_, Rule>) -> Option<Spanned<Reason>> {
        let span = self.span(&pair);
        let name = pair.as_str();
        match Reason::parse(name) {
            Some(r) => Some(Spanned::new(r, span)),
            None => {
                let close = Reason::ALL.iter().find(|r| edit_distance(r.as_str(), name) <= 2);
                let help = match close {
                    Some(r) => format!("did you mean `{r}`?"),
                    None => "reasons are listed in LANGUAGE.md, Decision semantics".to_owned(),
                };
                self.error(
                    Diagnostic::error(codes::UNKNOWN_REASON, span, format!("unknown reason `{name}`"))
                        .with_label("not a decision reason")
                        .with_help(help),
                );
                None
            }
        }
    }

    fn check_test_url(&self, url: &Str) {
        let v = url.value.as_str();
        let ok = v.starts_with('/')
            || ["http://", "https://"]
                .iter()
                .any(|scheme| v.strip_prefix(scheme).is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/')));
        if !ok || v.contains(char::is_whitespace) {
            self.error(
                Diagnostic::error(codes::INVALID_TEST_URL, url.span, format!("`{v}` is not a request URL"))
                    .with_help("write a full URL such as `https://api.example/v1/x` or a path such as `/v1/x`"),
            );
        }
    }

    fn token(&self, pair: Pair<'_, Rule>) -> TokenSpec {
        let mut variant = None;
        let mut claims = None;
        for p in kids(pair) {
            let at = self.span(&p);
            let rule = p.as_rule();
            let v = match rule {
                Rule::tv_expired => TokenVariant::Expired,
                Rule::tv_not_yet_valid => TokenVariant::NotYetValid,
                Rule::tv_wrong_key => TokenVariant::WrongKey,
                Rule::tv_alg => TokenVariant::Alg(self.next_string(&mut kids(p), at)),
                Rule::tv_raw => TokenVariant::Raw(self.next_string(&mut kids(p), at)),
                Rule::object => {
                    claims = Some(self.value(p));
                    continue;
                }
                _ => continue,
            };
            variant = Some(Spanned::new(v, at));
        }
        if let (Some(v), Some(c)) = (&variant, &claims)
            && matches!(v.node, TokenVariant::Raw(_))
        {
            self.error(
                Diagnostic::error(codes::INVALID_TOKEN, c.span, "a `token raw` is sent as written and takes no claims")
                    .with_help("remove the claims, or mint a token with `token { … }`"),
            );
        }
        TokenSpec { variant, claims }
    }

    fn request_item(&self, pair: Pair<'_, Rule>) -> Option<Spanned<RequestItem>> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        if rule == Rule::r_token {
            return Some(Spanned::new(RequestItem::Token(self.token(pair)), span));
        }
        let mut parts = kids(pair);
        let item = match rule {
            Rule::r_ip => RequestItem::Ip(self.next_string(&mut parts, span)),
            Rule::r_peer => RequestItem::Peer(self.next_string(&mut parts, span)),
            Rule::r_header => {
                let name = self.next_string(&mut parts, span);
                RequestItem::Header { name, value: self.next_string(&mut parts, span) }
            }
            Rule::r_json => RequestItem::Json(self.value(parts.next()?)),
            Rule::r_body => {
                let text = self.next_string(&mut parts, span);
                RequestItem::Body { text, content_type: parts.next().map(|p| self.string(p)) }
            }
            Rule::r_basic => {
                let client = self.next_string(&mut parts, span);
                RequestItem::Basic { client, secret: self.next_string(&mut parts, span) }
            }
            _ => return None,
        };
        Some(Spanned::new(item, span))
    }

    fn check_item(&self, pair: Pair<'_, Rule>) -> Option<Spanned<CheckItem>> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        if rule == Rule::r_token {
            return Some(Spanned::new(CheckItem::Token(self.token(pair)), span));
        }
        let mut parts = kids(pair);
        let item = match rule {
            Rule::r_ip => CheckItem::Ip(self.next_string(&mut parts, span)),
            Rule::r_peer => CheckItem::Peer(self.next_string(&mut parts, span)),
            Rule::c_subject => {
                let id = self.next_string(&mut parts, span);
                CheckItem::Subject { id, properties: parts.next().map(|p| self.value(p)) }
            }
            Rule::c_resource => {
                let id = self.next_string(&mut parts, span);
                CheckItem::Resource { id, properties: parts.next().map(|p| self.value(p)) }
            }
            Rule::c_context => CheckItem::Context(self.value(parts.next()?)),
            _ => return None,
        };
        Some(Spanned::new(item, span))
    }

    fn value(&self, pair: Pair<'_, Rule>) -> Value {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::string => ValueKind::Str(self.string(pair).value),
            Rule::number => {
                let n = self.number(pair);
                ValueKind::Number { value: n.value, raw: n.raw }
            }
            Rule::boolean => ValueKind::Bool(pair.as_str() == "true"),
            Rule::null => ValueKind::Null,
            Rule::array => ValueKind::Array(kids(pair).map(|v| self.value(v)).collect()),
            Rule::object => {
                let mut entries: Vec<(Key, Value)> = Vec::new();
                for entry in kids(pair) {
                    let mut parts = kids(entry);
                    let (Some(k), Some(v)) = (parts.next(), parts.next()) else {
                        continue;
                    };
                    let key = self.key(k);
                    if let Some((first, _)) = entries.iter().find(|(existing, _)| existing.name == key.name) {
                        self.error(
                            Diagnostic::error(codes::DUPLICATE_KEY, key.span, format!("key `{}` appears twice", key.name))
                                .with_label("duplicate key")
                                .with_related(first.span, "first here")
                                .with_help("remove one of them: JSON objects with duplicate keys are read differently by different parsers"),
                        );
                    }
                    entries.push((key, self.value(v)));
                }
                ValueKind::Object(entries)
            }
            _ => ValueKind::Null,
        };
        Value { kind, span }
    }
}

/// Longest duration literal accepted (365 days).
const MAX_DURATION_MS: u64 = 365 * 86_400_000;
/// Largest size literal accepted (1 GiB).
const MAX_SIZE_BYTES: u64 = 1 << 30;
/// Largest `repeat` count.
const MAX_REPEAT: u64 = 10_000;

fn cmp_op(rule: Rule) -> CmpOp {
    match rule {
        Rule::op_eq => CmpOp::Eq,
        Rule::op_ne => CmpOp::Ne,
        Rule::op_lt => CmpOp::Lt,
        Rule::op_le => CmpOp::Le,
        Rule::op_gt => CmpOp::Gt,
        Rule::op_ge => CmpOp::Ge,
        Rule::op_in => CmpOp::In,
        _ => CmpOp::NotIn,
    }
}

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

/// Decodes JSON string escapes; on failure, the byte offset, length and message.
fn unescape(inner: &str) -> Result<String, (usize, usize, String)> {
    if !inner.contains('\\') {
        return Ok(inner.to_owned());
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = chars.next() else {
            return Err((at, 1, "a string cannot end with `\\`".to_owned()));
        };
        match e {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let hex = |from: usize| -> Option<u32> {
                    let digits = inner.get(from..from + 4)?;
                    if digits.chars().all(|c| c.is_ascii_hexdigit()) {
                        u32::from_str_radix(digits, 16).ok()
                    } else {
                        None
                    }
                };
                let bad = |len| (at, len, "`\\u` needs four hex digits naming a character".to_owned());
                let first = hex(at + 2).ok_or_else(|| bad(2))?;
                for _ in 0..4 {
                    chars.next();
                }
                let code = if (0xD800..0xDC00).contains(&first) {
                    // A high surrogate must be followed by `\uDC00`–`\uDFFF`.
                    let low = if inner.get(at + 6..at + 8) == Some("\\u") { hex(at + 8) } else { None };
                    match low {
                        Some(low) if (0xDC00..0xE000).contains(&low) => {
                            for _ in 0..6 {
                                chars.next();
                            }
                            0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)
                        }
                        _ => return Err((at, 6, "unpaired surrogate in `\\u` escape".to_owned())),
                    }
                } else {
                    first
                };
                match char::from_u32(code) {
                    Some(ch) => out.push(ch),
                    None => return Err((at, 6, "unpaired surrogate in `\\u` escape".to_owned())),
                }
            }
            other => {
                return Err((at, 1 + other.len_utf8(), format!("unknown escape `\\{other}`")));
            }
        }
    }
    Ok(out)
}

/// Levenshtein distance, for "did you mean" suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

// ------------------------------------------------------------ syntax errors

/// How a grammar rule reads in an error message, and the group it belongs to.
fn describe(rule: Rule) -> Option<(&'static str, Option<&'static str>)> {
    use Rule::*;
    const DECL: Option<&str> = Some("a declaration (`zone`, `limit`, `schema`, `data`, `api`, `resource` or `test`)");
    const STMT: Option<&str> = Some("a statement (`auth`, `scope`, `limit`, `body`, `allow`, `deny`…)");
    const ISSUER: Option<&str> =
        Some("an issuer setting (`jwks`, `audience`, `algorithms`, `leeway`, `scopes from` or `secret`)");
    const ZONE: Option<&str> = Some("a zone setting (`issuer`, `require` or `network`)");
    const CONSTRAINT: Option<&str> = Some("a constraint such as `max_len` or `pattern`");
    const STEP: Option<&str> = Some("a test step (`request`, `check`, `expect`, `repeat` or `wait`)");
    const REQ: Option<&str> = Some("a request setting such as `ip`, `token`, `header` or `json`");
    const OP: Option<&str> = Some("an operator");
    const EXPR: Option<&str> = Some("an expression");
    const AUTH: Option<&str> =
        Some("an authentication method (`bearer`, `mtls`, `client_secret`, `api_key`, `asserted` or `none`)");
    let d = match rule {
        zone | kw_zone => ("`zone`", DECL),
        limit_decl => ("`limit`", DECL),
        schema => ("`schema`", DECL),
        data_decl => ("`data`", DECL),
        api => ("`api`", DECL),
        resource => ("`resource`", DECL),
        test => ("`test`", DECL),
        issuer => ("`issuer`", ZONE),
        require_tls | require_mtls => ("`require`", ZONE),
        network => ("`network`", ZONE),
        jwks_file | jwks_url => ("`jwks`", ISSUER),
        audience => ("`audience`", ISSUER),
        algorithms => ("`algorithms`", ISSUER),
        leeway => ("`leeway`", ISSUER),
        scopes_from => ("`scopes from`", ISSUER),
        secret_file | secret_env => ("`secret`", ISSUER),
        auth => ("`auth`", STMT),
        scope => ("`scope`", STMT),
        use_limit => ("`limit`", STMT),
        body_stmt => ("`body`", STMT),
        allow => ("`allow`", STMT),
        deny => ("`deny`", STMT),
        upstream_header => ("`upstream header`", STMT),
        host => ("`host`", STMT),
        prefix => ("`prefix`", STMT),
        route => ("`route`", STMT),
        action => ("`action`", STMT),
        field => ("a field such as `name: string`", None),
        c_min | c_max | c_min_len | c_max_len | c_min_items | c_max_items | c_pattern | c_format => {
            ("a constraint", CONSTRAINT)
        }
        t_request => ("`request`", STEP),
        t_check => ("`check`", STEP),
        t_expect => ("`expect`", STEP),
        t_repeat => ("`repeat`", STEP),
        t_wait => ("`wait`", STEP),
        r_ip => ("`ip`", REQ),
        r_peer => ("`peer`", REQ),
        r_header => ("`header`", REQ),
        r_json => ("`json`", REQ),
        r_body => ("`body`", REQ),
        r_basic => ("`basic`", REQ),
        r_token => ("`token`", REQ),
        c_subject => ("`subject`", REQ),
        c_resource => ("`resource`", REQ),
        c_context => ("`context`", REQ),
        zone_body | issuer_body | schema_body | api_body | resource_body | block | test_body | req_body
        | check_body => ("`{`", None),
        backend_error => ("`on_backend_error`", None),
        ipv6_prefix => ("`ipv6_prefix`", None),
        burst => ("`burst`", None),
        limit_keys => ("a key such as `source.ip`", None),
        body_max => ("`max`", None),
        body_json | body_none | body_any => ("`json`, `any` or `none`", None),
        scope_any => ("`any`", None),
        auth_bearer => ("`bearer`", AUTH),
        auth_mtls => ("`mtls`", AUTH),
        auth_client_secret => ("`client_secret`", AUTH),
        auth_api_key => ("`api_key`", AUTH),
        auth_asserted => ("`asserted`", AUTH),
        auth_none => ("`none`", AUTH),
        pair => ("a `key: value` pair", None),
        tv_expired | tv_not_yet_valid | tv_wrong_key | tv_alg | tv_raw => ("a token variant", None),
        kw_schema => ("`schema`", DECL),
        kw_data => ("`data`", DECL),
        kw_api => ("`api`", DECL),
        kw_test => ("`test`", DECL),
        kw_issuer => ("`issuer`", ZONE),
        kw_require => ("`require`", ZONE),
        kw_network => ("`network`", ZONE),
        kw_jwks => ("`jwks`", ISSUER),
        kw_audience => ("`audience`", ISSUER),
        kw_algorithms => ("`algorithms`", ISSUER),
        kw_leeway => ("`leeway`", ISSUER),
        kw_scopes => ("`scopes`", ISSUER),
        kw_secret => ("`secret`", ISSUER),
        kw_auth => ("`auth`", STMT),
        kw_scope => ("`scope`", STMT),
        kw_body => ("`body`", STMT),
        kw_allow => ("`allow`", STMT),
        kw_deny => ("`deny`", STMT),
        kw_upstream => ("`upstream`", STMT),
        kw_host => ("`host`", STMT),
        kw_prefix => ("`prefix`", STMT),
        kw_route => ("`route`", STMT),
        kw_action => ("`action`", STMT),
        kw_limit => ("`limit`", STMT),
        kw_resource => ("`resource`", DECL),
        kw_min | kw_max | kw_min_len | kw_max_len | kw_min_items | kw_max_items | kw_pattern | kw_format => {
            ("a constraint", CONSTRAINT)
        }
        kw_request => ("`request`", STEP),
        kw_check => ("`check`", STEP),
        kw_expect => ("`expect`", STEP),
        kw_repeat => ("`repeat`", STEP),
        kw_wait => ("`wait`", STEP),
        kw_ip => ("`ip`", REQ),
        kw_token => ("`token`", REQ),
        kw_json => ("`json`", None),
        kw_basic => ("`basic`", REQ),
        kw_subject => ("`subject`", REQ),
        kw_context => ("`context`", REQ),
        kw_mtls => ("`mtls`", AUTH),
        kw_bearer => ("`bearer`", AUTH),
        kw_client_secret => ("`client_secret`", AUTH),
        kw_api_key => ("`api_key`", AUTH),
        kw_asserted => ("`asserted`", AUTH),
        kw_none => ("`none`", AUTH),
        kw_file => ("`file`", None),
        kw_url => ("`url`", None),
        kw_env => ("`env`", None),
        kw_tls => ("`tls`", None),
        kw_peer => ("`peer`", None),
        kw_per => ("`per`", None),
        kw_burst => ("`burst`", None),
        kw_by => ("`by`", None),
        kw_on_backend_error => ("`on_backend_error`", None),
        kw_ipv6_prefix => ("`ipv6_prefix`", None),
        kw_open => ("`open`", None),
        kw_enum => ("`enum`", None),
        kw_in => ("`in`", None),
        kw_any => ("`any`", None),
        kw_when => ("`when`", None),
        kw_from => ("`from`", None),
        kw_refresh => ("`refresh`", None),
        kw_header => ("`header`", None),
        kw_expired | kw_not_yet_valid | kw_wrong_key | kw_alg | kw_raw => ("a token variant", None),
        kw_content_type => ("`content_type`", None),
        ident | name => ("an identifier", None),
        string | string_list => ("a string", None),
        number => ("a number", None),
        integer => ("a whole number", None),
        boolean => ("`true` or `false`", None),
        null => ("`null`", None),
        duration => ("a duration such as `30s`", None),
        size => ("a size such as `16KiB`", None),
        method => ("an HTTP method such as `GET`", None),
        format_name => ("a format name", None),
        optional => ("`?`", None),
        op_or | op_and | op_eq | op_ne | op_le | op_ge | op_lt | op_gt | op_in | op_not_in => ("an operator", OP),
        op_not | list | call | paren | postfix_expr | expr => ("an expression", EXPR),
        object => ("an object `{ … }`", None),
        array => ("a list `[ … ]`", None),
        field_access | index => ("`.` or `[`", None),
        enum_type | array_type | named_type | type_expr => ("a type", None),
        e_allow | e_deny | e_header => ("`allow`, `deny` or `header`", None),
        EOI => ("the end of the file", DECL),
        _ => return None,
    };
    Some(d)
}

fn syntax_error(err: &pest::error::Error<Rule>, text: &str, base: usize) -> Diagnostic {
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let mut expected: Vec<&'static str> = Vec::new();
    let mut push = |s: &'static str| {
        if !expected.contains(&s) {
            expected.push(s);
        }
    };
    if let ErrorVariant::ParsingError { positives, .. } = &err.variant {
        // Collapse a group to its description when two or more members are expected.
        let described: Vec<(&'static str, Option<&'static str>)> =
            positives.iter().filter_map(|r| describe(*r)).collect();
        let groups: Vec<&'static str> = described
            .iter()
            .filter_map(|(_, g)| *g)
            .filter(|g| described.iter().filter(|(_, other)| other == &Some(*g)).count() >= 2)
            .collect();
        for (word, group) in &described {
            match group {
                Some(g) if groups.contains(g) => push(g),
                _ if groups.iter().any(|g| g.contains(word)) => {}
                _ => push(word),
            }
        }
    }
    if let Some(attempts) = err.parse_attempts() {
        for token in attempts.expected_tokens() {
            {
                let token = token.to_string();
                let word: Option<&'static str> = match token.as_str() {
                    "{" => Some("`{`"),
                    "}" => Some("`}`"),
                    "(" => Some("`(`"),
                    ")" => Some("`)`"),
                    "[" => Some("`[`"),
                    "]" => Some("`]`"),
                    "," => Some("`,`"),
                    "=" => Some("`=`"),
                    ":" => Some("`:`"),
                    ";" => Some("a newline or `;`"),
                    _ => None,
                };
                if let Some(word) = word {
                    push(word);
                }
            }
        }
    }
    // `(` and `[` start expressions: say "an expression" once.
    if expected.contains(&"an expression") {
        expected.retain(|e| !["`(`", "`[`"].contains(e));
    }
    // A newline, `;` and `}` all end a statement: say so once.
    let ends = ["a newline or `;`", "`}`"];
    if expected.contains(&ends[0]) {
        expected.retain(|e| !ends.contains(e));
        expected.push("the end of the statement");
    }
    let rest = text.get(pos..).unwrap_or("");
    let (found, len) = found_at(rest);
    let start = base + pos;
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", join_or(&expected))
    };
    let mut diag =
        Diagnostic::error(codes::SYNTAX, Span::new(start, start + len), message).with_label("unexpected here");
    if let Some(help) = suggestion(rest, &expected) {
        diag = diag.with_help(help);
    }
    diag
}

/// Describes what stands at the error position and how long it is.
fn found_at(rest: &str) -> (String, usize) {
    let Some(c) = rest.chars().next() else {
        return ("the end of the file".to_owned(), 0);
    };
    if c == '\n' || c == '\r' {
        return ("the end of the line".to_owned(), 0);
    }
    if c.is_ascii_alphanumeric() || c == '_' {
        let word: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.').collect();
        let word = word.trim_end_matches('.').to_owned();
        let len = word.len();
        return (format!("`{word}`"), len);
    }
    if c == '"' {
        let end = rest.get(1..).and_then(|r| r.find('"')).map_or(rest.len(), |e| e + 2);
        let lit = rest.get(..end).unwrap_or(rest);
        return (format!("string {lit}"), end);
    }
    (format!("`{c}`"), c.len_utf8())
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// "did you mean" for a misspelt keyword.
fn suggestion(rest: &str, expected: &[&str]) -> Option<String> {
    let word: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    if word.is_empty() {
        return None;
    }
    let wanted = |kw: &str| expected.iter().any(|e| e.contains(&format!("`{kw}`")));
    let best = crate::keywords::KEYWORDS
        .iter()
        .filter(|kw| wanted(kw))
        .map(|kw| (edit_distance(kw, &word), *kw))
        .filter(|(d, kw)| *d > 0 && *d <= 2.min(kw.len() / 2 + 1))
        .min();
    best.map(|(_, kw)| format!("did you mean `{kw}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_handles_json_escapes() {
        assert_eq!(unescape(r#"a\"b\\c\/\n\u0041"#).unwrap(), "a\"b\\c/\nA");
        assert_eq!(unescape(r"\ud83d\ude00").unwrap(), "😀");
        assert!(unescape(r"\q").is_err());
        assert!(unescape(r"\u12").is_err());
        assert!(unescape(r"\ud83d").is_err());
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("allow", "alow"), 1);
        assert_eq!(edit_distance("zone", "zone"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}

#[cfg(test)]
#[path = "grammar_tests.rs"]
mod grammar_tests;
