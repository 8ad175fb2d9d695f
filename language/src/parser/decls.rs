//! The builder's rules for declarations: zones and issuers, limits, schemas and their types,
//! data, apis with routes and path templates, resources with actions.

use pest::iterators::Pair;

use super::{Builder, Rule, is_identifier, kids, missing_ident, missing_str};
use crate::ast::*;
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::span::Span;

impl Builder<'_> {
    pub(super) fn file(&self, pairs: pest::iterators::Pairs<'_, Rule>) -> Vec<Decl> {
        let mut decls = Vec::new();
        for p in pairs {
            let decl = match p.as_rule() {
                Rule::zone => Decl::Zone(self.zone(p)),
                Rule::limit_decl => Decl::Limit(self.limit(p)),
                Rule::ban_decl => Decl::Ban(self.ban(p)),
                Rule::schema => Decl::Schema(self.schema(p)),
                Rule::data_decl => Decl::Data(self.data(p)),
                Rule::api => Decl::Api(self.api(p)),
                Rule::resource => Decl::Resource(self.resource(p)),
                Rule::exchange => Decl::Exchange(self.exchange(p)),
                Rule::test => Decl::Test(self.test(p)),
                _ => continue,
            };
            decls.push(decl);
        }
        decls
    }

    pub(super) fn zone(&self, pair: Pair<'_, Rule>) -> Zone {
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
                            Rule::require_bound => ZoneItem::RequireBound,
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

    pub(super) fn issuer(&self, pair: Pair<'_, Rule>) -> Issuer {
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
                            Rule::introspect => {
                                let url = self.next_string(&mut parts, item_span);
                                let client = self.next_string(&mut parts, item_span);
                                let (secret_in_file, secret) = match parts.next() {
                                    Some(p) => {
                                        let in_file = p.as_rule() == Rule::introspect_file;
                                        (in_file, self.next_string(&mut kids(p), item_span))
                                    }
                                    None => (false, missing_str(item_span)),
                                };
                                let (mut cache, mut always, mut signed, mut stale) = (None, false, false, false);
                                let mut stale_for = None;
                                for option in parts {
                                    match option.as_rule() {
                                        Rule::introspect_cache => {
                                            cache = kids(option).next().map(|d| self.duration(d));
                                        }
                                        Rule::introspect_always => always = true,
                                        Rule::introspect_signed => signed = true,
                                        Rule::introspect_on_error => {
                                            if let Some(st) =
                                                kids(option).find(|p| p.as_rule() == Rule::introspect_stale)
                                            {
                                                stale = true;
                                                stale_for = kids(st)
                                                    .find(|d| d.as_rule() == Rule::duration)
                                                    .map(|d| self.duration(d));
                                            }
                                        }
                                        _ => {}
                                    }
                                }
                                IssuerItem::Introspect {
                                    url,
                                    client,
                                    secret_in_file,
                                    secret,
                                    cache,
                                    always,
                                    signed,
                                    stale,
                                    stale_for,
                                }
                            }
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

    pub(super) fn algorithm(&self, pair: Pair<'_, Rule>) -> Option<Spanned<Algorithm>> {
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

    /// `on_backend_error allow|deny`, of a limit or a ban.
    fn backend_error(&self, p: Pair<'_, Rule>) -> Spanned<BackendErrorPolicy> {
        let at = self.span(&p);
        let deny = p.into_inner().any(|k| k.as_rule() == Rule::kw_deny);
        Spanned::new(if deny { BackendErrorPolicy::Deny } else { BackendErrorPolicy::Allow }, at)
    }

    pub(super) fn limit(&self, pair: Pair<'_, Rule>) -> Limit {
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
                Rule::backend_error => on_backend_error = Some(self.backend_error(p)),
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

    pub(super) fn ban(&self, pair: Pair<'_, Rule>) -> Ban {
        let span = self.span(&pair);
        let (mut name, mut count, mut keys, mut ipv6_prefix) = (None, None, Vec::new(), None);
        let (mut outcomes, mut durations, mut max, mut status) = (Vec::new(), Vec::new(), None, None);
        let (mut except, mut on_backend_error, mut distinct, mut alert_only) = (Vec::new(), None, None, false);
        for p in kids(pair) {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                Rule::integer => count = Some(self.integer(p)),
                Rule::ban_outcomes => {
                    for o in kids(p) {
                        let at = self.span(&o);
                        let Some(inner) = kids(o).next() else { continue };
                        let outcome = if inner.as_rule() == Rule::integer {
                            Outcome::Status(self.integer(inner).node)
                        } else {
                            Outcome::Reason(inner.as_str().to_owned())
                        };
                        outcomes.push(Spanned::new(outcome, at));
                    }
                }
                Rule::duration => durations.push(self.duration(p)),
                Rule::ban_distinct => distinct = kids(p).next().map(|e| self.expr(e)),
                Rule::ban_alert => alert_only = true,
                Rule::limit_keys => keys = kids(p).map(|e| self.expr(e)).collect(),
                Rule::ipv6_prefix => ipv6_prefix = kids(p).next().map(|i| self.integer(i)),
                Rule::ban_max => max = kids(p).find(|d| d.as_rule() == Rule::duration).map(|d| self.duration(d)),
                Rule::ban_status => status = kids(p).find(|i| i.as_rule() == Rule::integer).map(|i| self.integer(i)),
                Rule::ban_except => except = kids(p).flat_map(|l| self.strings(l)).collect(),
                Rule::backend_error => on_backend_error = Some(self.backend_error(p)),
                _ => {}
            }
        }
        let zero = Duration { value: 0, unit: DurationUnit::Seconds, span };
        let mut durations = durations.into_iter();
        let period = durations.next().unwrap_or(zero);
        Ban {
            doc: self.doc_before(span.start()),
            name: name.unwrap_or_else(|| missing_ident(span)),
            count: count.unwrap_or(Spanned::new(0, span)),
            distinct,
            outcomes,
            period,
            keys,
            ipv6_prefix,
            length: durations.next(),
            alert_only,
            max,
            status,
            except,
            on_backend_error,
            span,
        }
    }

    pub(super) fn schema(&self, pair: Pair<'_, Rule>) -> Schema {
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

    pub(super) fn field(&self, pair: Pair<'_, Rule>) -> Field {
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

    pub(super) fn type_expr(&self, pair: Pair<'_, Rule>) -> TypeExpr {
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

    pub(super) fn format(&self, pair: Pair<'_, Rule>) -> Option<Format> {
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

    pub(super) fn data(&self, pair: Pair<'_, Rule>) -> Data {
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

    pub(super) fn api(&self, pair: Pair<'_, Rule>) -> Api {
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

    pub(super) fn check_prefix(&self, prefix: &Str) {
        let v = &prefix.value;
        // Request paths are decoded and normalised before matching, so a `%`
        // escape or a `.`/`..` segment in a prefix could never match.
        let bad = !v.starts_with('/')
            || v.ends_with('/')
            || v.contains("//")
            || v.contains(['{', '}', '?', '#', '%'])
            || v.split('/').any(|s| s == "." || s == "..");
        if bad {
            self.error(
                Diagnostic::error(codes::INVALID_PATH, prefix.span, format!("`{v}` is not a valid api prefix"))
                    .with_label("invalid prefix")
                    .with_help("a prefix is literal, decoded path segments: it starts with `/`, does not end with `/`, and has no parameters, `%` escapes, or `.` and `..` segments"),
            );
        }
    }

    pub(super) fn route(&self, pair: Pair<'_, Rule>) -> Route {
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
    pub(super) fn template(&self, path: &Str) -> Vec<PathSegment> {
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

    pub(super) fn resource(&self, pair: Pair<'_, Rule>) -> Resource {
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

    pub(super) fn exchange(&self, pair: Pair<'_, Rule>) -> Exchange {
        let span = self.span(&pair);
        let mut idents = Vec::new();
        let mut stmts = Vec::new();
        let mut body = span;
        for p in kids(pair) {
            match p.as_rule() {
                Rule::ident => idents.push(self.ident(p)),
                Rule::block => {
                    body = self.span(&p);
                    stmts = self.block(p);
                }
                _ => {}
            }
        }
        let mut idents = idents.into_iter();
        Exchange {
            doc: self.doc_before(span.start()),
            name: idents.next().unwrap_or_else(|| missing_ident(span)),
            zone: idents.next().unwrap_or_else(|| missing_ident(span)),
            stmts,
            span,
            body,
        }
    }

    pub(super) fn action(&self, pair: Pair<'_, Rule>) -> Action {
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
}
