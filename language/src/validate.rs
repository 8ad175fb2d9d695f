//! Structural checks of one file's AST: duplicates, missing required settings,
//! constraints that do not fit their type, values out of range.
//!
//! These need nothing beyond the file itself. Checks across files (unknown
//! names, route conflicts, types of attributes) belong to the compiler.

use crate::ast::visit::{self, Visit};
use crate::ast::*;
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// Runs every structural check on one file.
pub fn file(file: &File) -> Vec<Diagnostic> {
    let mut v = Validator { diags: Vec::new(), asked: false };
    for decl in &file.decls {
        match decl {
            Decl::Zone(z) => v.zone(z),
            Decl::Limit(l) => v.limit(l),
            Decl::Ban(b) => v.ban(b),
            Decl::Schema(s) => v.schema(s),
            Decl::Data(_) => {}
            Decl::Api(a) => v.api(a),
            Decl::Resource(r) => v.resource(r),
            Decl::Exchange(x) => v.exchange(x),
            Decl::Test(t) => v.visit_test(t),
        }
    }
    v.diags
}

struct Validator {
    diags: Vec<Diagnostic>,
    /// In a test: a `request` or `check` came before (so an `expect` has something to judge).
    asked: bool,
}

/// Remembers the first occurrence of each kind of setting in one block.
/// The claims of a minted token that Warden writes itself (RFC 9068 and RFC
/// 8693's `act`, `cnf`), which a `mint` block cannot set.
pub const RESERVED_CLAIMS: &[&str] =
    &["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "client_id", "act", "cnf", "typ"];

struct Seen<'a> {
    first: Vec<(&'a str, Span)>,
}

impl<'a> Seen<'a> {
    fn new() -> Seen<'a> {
        Seen { first: Vec::new() }
    }

    /// Records `what` at `span`; returns the first span if it was seen before.
    fn add(&mut self, what: &'a str, span: Span) -> Option<Span> {
        if let Some(&(_, first)) = self.first.iter().find(|(w, _)| *w == what) {
            return Some(first);
        }
        self.first.push((what, span));
        None
    }

    fn has(&self, what: &str) -> bool {
        self.first.iter().any(|(w, _)| *w == what)
    }
}

impl Validator {
    fn duplicate(&mut self, what: &str, place: &str, span: Span, first: Span) {
        self.diags.push(
            Diagnostic::error(codes::DUPLICATE_SETTING, span, format!("`{what}` is given twice in this {place}"))
                .with_label("second time")
                .with_related(first, "first here")
                .with_help(if ["audience", "algorithms", "network", "require mtls", "scope"].contains(&what) {
                    format!("keep one `{what}` and list every value in it, separated by commas")
                } else {
                    format!("keep one `{what}`")
                }),
        );
    }

    fn zone(&mut self, zone: &Zone) {
        // An opaque token names no issuer: with two that introspect, it would
        // be sent to one that did not issue it (a token leaked to another party).
        let introspecting: Vec<&Issuer> = zone
            .items
            .iter()
            .filter_map(|i| if let ZoneItem::Issuer(x) = &i.node { Some(x) } else { None })
            .filter(|x| x.items.iter().any(|i| matches!(i.node, IssuerItem::Introspect { .. })))
            .collect();
        if let [first, second, ..] = introspecting.as_slice() {
            self.diags.push(
                Diagnostic::error(
                    codes::DUPLICATE_SETTING,
                    second.url.span,
                    format!("a second issuer of zone `{}` introspects", zone.name.name),
                )
                .with_related(first.url.span, "the first")
                .with_label("an opaque token names no issuer: it would be sent to one that did not issue it")
                .with_help("keep `introspect` on one issuer of the zone; give the other issuer a zone of its own"),
            );
        }
        let mut seen = Seen::new();
        let mut issuers: Vec<&Str> = Vec::new();
        for item in &zone.items {
            let what = match &item.node {
                ZoneItem::Issuer(issuer) => {
                    if let Some(first) = issuers.iter().find(|i| i.value == issuer.url.value) {
                        self.diags.push(
                            Diagnostic::error(
                                codes::DUPLICATE_SETTING,
                                issuer.url.span,
                                format!("issuer `{}` is declared twice in zone `{}`", issuer.url.value, zone.name.name),
                            )
                            .with_related(first.span, "first here")
                            .with_help("merge the two issuer blocks; list several audiences with commas"),
                        );
                    }
                    issuers.push(&issuer.url);
                    self.issuer(issuer);
                    continue;
                }
                ZoneItem::RequireTls => "require tls",
                ZoneItem::RequireBound => "require bound",
                ZoneItem::RequireMtls { .. } => "require mtls",
                ZoneItem::Network { cidrs } => {
                    self.non_empty_strings(cidrs, "network address");
                    "network"
                }
            };
            if let Some(first) = seen.add(what, item.span) {
                self.duplicate(what, "zone", item.span, first);
            }
        }
    }

    fn issuer(&mut self, issuer: &Issuer) {
        // A signed answer (RFC 9701) is verified with the issuer's keys.
        let has_keys =
            issuer.items.iter().any(|i| matches!(i.node, IssuerItem::JwksFile(_) | IssuerItem::JwksUrl { .. }));
        for item in &issuer.items {
            if let IssuerItem::Introspect { signed: true, .. } = item.node
                && !has_keys
            {
                self.diags.push(
                    Diagnostic::error(
                        codes::MISSING_SETTING,
                        item.span,
                        format!("issuer `{}` introspects with signed answers but has no `jwks`", issuer.url.value),
                    )
                    .with_label("a signed introspection answer is verified with the issuer's keys")
                    .with_help("add `jwks url \"…\"` (the issuer's JWKS), or drop `signed`"),
                );
            }
        }
        let mut seen = Seen::new();
        for item in &issuer.items {
            if let Some(first) = seen.add(item.node.keyword(), item.span) {
                self.duplicate(item.node.keyword(), "issuer", item.span, first);
            }
            match &item.node {
                IssuerItem::Audience(values) => self.non_empty_strings(values, "audience"),
                // Token times are whole seconds (RFC 7519): a fraction would be dropped.
                IssuerItem::Leeway(d) if d.millis() % 1_000 != 0 => self.diags.push(
                    Diagnostic::error(codes::OUT_OF_RANGE, d.span, "a leeway is whole seconds")
                        .with_label("token times (`exp`, `nbf`, `iat`) are whole seconds")
                        .with_help("write `leeway 0s`, `leeway 1s` or more"),
                ),
                IssuerItem::Leeway(d) if d.millis() > 10 * 60_000 => self.diags.push(
                    Diagnostic::error(
                        codes::OUT_OF_RANGE,
                        d.span,
                        "a leeway over 10m lets expired tokens through for too long",
                    )
                    .with_help("clock skew is seconds, not minutes: `leeway 30s` is the default"),
                ),
                IssuerItem::Introspect { cache: Some(d), .. } if d.millis() > 3_600_000 => self.diags.push(
                    Diagnostic::error(
                        codes::OUT_OF_RANGE,
                        d.span,
                        "an introspection answer kept over 1h outlives a revocation for too long",
                    )
                    .with_help("keep answers for seconds or minutes: the default is `cache 60s`"),
                ),
                IssuerItem::Introspect { stale_for: Some(d), .. } if d.millis() > 3_600_000 || d.millis() < 1_000 => {
                    self.diags.push(
                        Diagnostic::error(
                            codes::OUT_OF_RANGE,
                            d.span,
                            "a stale introspection answer may serve for 1s to 1h past its `cache`",
                        )
                        .with_help("an outage is ridden out for minutes: the default is `stale 5m`"),
                    );
                }
                IssuerItem::JwksUrl { refresh: Some(d), .. } if d.millis() < 1_000 => self.diags.push(
                    Diagnostic::error(codes::OUT_OF_RANGE, d.span, "a JWKS refresh under 1s would hammer the issuer")
                        .with_help("refresh every few minutes, as in `refresh 5m`"),
                ),
                _ => {}
            }
        }
        // HS* verifies with a shared secret only: with a JWKS, an attacker who
        // knows a public key could sign with it as the HMAC secret.
        let algorithms: Vec<&Spanned<Algorithm>> = issuer
            .items
            .iter()
            .filter_map(|i| if let IssuerItem::Algorithms(a) = &i.node { Some(a) } else { None })
            .flatten()
            .collect();
        let hmac: Vec<&&Spanned<Algorithm>> = algorithms.iter().filter(|a| a.node.is_hmac()).collect();
        if let Some(first) = hmac.first() {
            if seen.has("jwks") {
                self.diags.push(
                    Diagnostic::error(codes::ALGORITHM_KEY_MISMATCH, first.span, format!("`{}` with a JWKS", first.node.as_str()))
                        .with_label("HS* never verifies with public keys")
                        .with_help("list asymmetric algorithms for a JWKS, or move HS* to an issuer with `secret file` or `secret env`"),
                );
            } else if !seen.has("secret") {
                self.diags.push(
                    Diagnostic::error(
                        codes::ALGORITHM_KEY_MISMATCH,
                        first.span,
                        format!("`{}` without a secret", first.node.as_str()),
                    )
                    .with_help("add `secret file \"…\"` or `secret env \"…\"` to the issuer"),
                );
            }
        } else if let Some(secret) =
            issuer.items.iter().find(|i| matches!(i.node, IssuerItem::SecretFile(_) | IssuerItem::SecretEnv(_)))
        {
            self.diags.push(
                Diagnostic::error(
                    codes::ALGORITHM_KEY_MISMATCH,
                    secret.span,
                    "a secret, but no HS* algorithm to use it",
                )
                .with_help("list `algorithms HS256` (or remove the secret)"),
            );
        }
        if !seen.has("audience") {
            self.diags.push(
                Diagnostic::error(
                    codes::MISSING_SETTING,
                    issuer.url.span,
                    format!("issuer `{}` has no `audience`", issuer.url.value),
                )
                .with_label("tokens of any audience would be accepted")
                .with_help("add `audience \"https://api.example\"`: a zone accepts only tokens issued for it"),
            );
        }
        if !seen.has("jwks") && !seen.has("secret") && !seen.has("introspect") {
            self.diags.push(
                Diagnostic::error(
                    codes::MISSING_SETTING,
                    issuer.url.span,
                    format!("issuer `{}` has no keys", issuer.url.value),
                )
                .with_label("signatures could not be checked")
                .with_help(
                    "add `jwks file \"keys/idp.jwks.json\"`, `jwks url \"https://…/jwks.json\"` or `introspect url …`",
                ),
            );
        }
    }

    fn non_empty_strings(&mut self, values: &[Str], what: &str) {
        for v in values.iter().filter(|v| v.value.trim().is_empty()) {
            self.diags.push(Diagnostic::error(codes::OUT_OF_RANGE, v.span, format!("empty {what}")));
        }
    }

    fn limit(&mut self, limit: &Limit) {
        if limit.count.node == 0 {
            self.diags.push(
                Diagnostic::error(codes::OUT_OF_RANGE, limit.count.span, "a limit of 0 requests lets nothing through")
                    .with_help("to refuse every request, use `deny when true` on the route instead"),
            );
        }
        if limit.period.millis() == 0 {
            self.diags.push(Diagnostic::error(
                codes::OUT_OF_RANGE,
                limit.period.span,
                "a limit's period must be longer than 0",
            ));
        }
        if let Some(burst) = &limit.burst
            && burst.node == 0
        {
            self.diags.push(Diagnostic::error(codes::OUT_OF_RANGE, burst.span, "a burst of 0 lets nothing through"));
        }
        if let Some(prefix) = &limit.ipv6_prefix
            && prefix.node > 128
        {
            self.diags.push(
                Diagnostic::error(
                    codes::OUT_OF_RANGE,
                    prefix.span,
                    format!("an IPv6 prefix of `{}` bits is longer than an address", prefix.node),
                )
                .with_help("use 0 to 128: 64 (the default) keys a client by its /64, 128 by its whole address"),
            );
        }
        for key in &limit.keys {
            self.visit_expr(key);
        }
    }

    fn ban(&mut self, ban: &Ban) {
        let out_of_range = |span, message: String, help: &str| {
            Diagnostic::error(codes::OUT_OF_RANGE, span, message).with_help(help.to_owned())
        };
        if !(1..=1_000_000).contains(&ban.count.node) {
            self.diags.push(out_of_range(
                ban.count.span,
                format!("a ban after {} denials: expected 1 to 1000000", ban.count.node),
                "count the denials that start a ban, as in `ban login = 10 of 401 per 1m …`",
            ));
        }
        if !(1_000..=86_400_000).contains(&ban.period.millis()) {
            self.diags.push(out_of_range(
                ban.period.span,
                "a ban counts denials over 1s to 1d".to_owned(),
                "as in `per 1m`",
            ));
        }
        let length = ban.length.as_ref().map_or(0, Duration::millis);
        if let Some(l) = &ban.length
            && !(1_000..=2_592_000_000).contains(&l.millis())
        {
            self.diags.push(out_of_range(l.span, "a ban lasts 1s to 30d".to_owned(), "as in `for 15m`"));
        }
        if let Some(max) = &ban.max
            && (max.millis() < length || max.millis() > 2_592_000_000)
        {
            self.diags.push(out_of_range(
                max.span,
                "a ban's `max` is at least its length and at most 30d".to_owned(),
                "repeat offences double the length up to `max`, as in `for 15m max 24h`",
            ));
        }
        if let Some(status) = &ban.status
            && status.node != 403
            && status.node != 429
        {
            self.diags.push(out_of_range(
                status.span,
                format!("a banned request is answered 403 or 429, not {}", status.node),
                "`status 429` with `retry-after`, or 403 (the default)",
            ));
        }
        if let Some(prefix) = &ban.ipv6_prefix
            && prefix.node > 128
        {
            self.diags.push(out_of_range(
                prefix.span,
                format!("an IPv6 prefix of `{}` bits is longer than an address", prefix.node),
                "use 0 to 128: 64 (the default) keys a client by its /64",
            ));
        }
        for outcome in &ban.outcomes {
            match &outcome.node {
                Outcome::Status(s) if !(400..=599).contains(s) => self.diags.push(out_of_range(
                    outcome.span,
                    format!("a ban counts denials: `{s}` is not a 4xx or 5xx status"),
                    "count statuses such as 401 and 403, or reasons such as `secret_invalid`",
                )),
                Outcome::Reason(r) => match crate::reason::Reason::parse(r) {
                    None => self.diags.push(
                        Diagnostic::error(codes::UNKNOWN_REASON, outcome.span, format!("`{r}` is not a reason"))
                            .with_help("a reason of the decision table, such as `secret_invalid` or `token_expired`"),
                    ),
                    Some(crate::reason::Reason::Allowed | crate::reason::Reason::Banned) => {
                        self.diags.push(out_of_range(
                            outcome.span,
                            format!("a ban cannot count `{r}`"),
                            "count denials that say an attacker is at work, such as `secret_invalid`",
                        ))
                    }
                    Some(_) => {}
                },
                Outcome::Status(_) => {}
            }
        }
        if ban.distinct.is_none() && ban.outcomes.is_empty() {
            self.diags.push(out_of_range(
                ban.count.span,
                "a ban counts denials (`of 401, …`) or distinct values (`distinct body.login`)".to_owned(),
                "to count every request, use a limit",
            ));
        }
        if let Some(d) = &ban.distinct {
            self.visit_expr(d);
        }
        for key in &ban.keys {
            self.visit_expr(key);
        }
    }

    fn schema(&mut self, schema: &Schema) {
        let mut names: Vec<&Key> = Vec::new();
        for field in &schema.fields {
            if let Some(first) = names.iter().find(|k| k.name == field.name.name) {
                self.diags.push(
                    Diagnostic::error(
                        codes::DUPLICATE_FIELD,
                        field.name.span,
                        format!("field `{}` is declared twice in schema `{}`", field.name.name, schema.name.name),
                    )
                    .with_label("second declaration")
                    .with_related(first.span, "first here")
                    .with_help("remove one of them"),
                );
            }
            names.push(&field.name);
            self.type_expr(&field.ty);
        }
    }

    fn type_expr(&mut self, ty: &TypeExpr) {
        let kind = match &ty.kind {
            TypeKind::Named(name) => Builtin::parse(&name.name).map(|b| (b, name.name.as_str())),
            TypeKind::Enum(values) => {
                let mut seen: Vec<&Str> = Vec::new();
                for v in values {
                    if let Some(first) = seen.iter().find(|s| s.value == v.value) {
                        self.diags.push(
                            Diagnostic::error(codes::DUPLICATE_KEY, v.span, format!("`{}` is listed twice", v.value))
                                .with_related(first.span, "first here"),
                        );
                    }
                    seen.push(v);
                }
                Some((Builtin::String, "enum"))
            }
            TypeKind::Array(inner) => {
                self.type_expr(inner);
                None
            }
        };
        let is_array = matches!(ty.kind, TypeKind::Array(_));
        // A name that is no built-in names a schema: an object, which no
        // constraint applies to (its fields carry their own).
        let schema = match &ty.kind {
            TypeKind::Named(name) if kind.is_none() => Some(name.name.as_str()),
            _ => None,
        };
        let mut seen = Seen::new();
        let mut min: Option<f64> = None;
        let mut max: Option<f64> = None;
        let mut min_len: Option<u64> = None;
        let mut max_len: Option<u64> = None;
        let mut min_items: Option<u64> = None;
        let mut max_items: Option<u64> = None;
        for c in &ty.constraints {
            if let Some(first) = seen.add(c.node.keyword(), c.span) {
                self.duplicate(c.node.keyword(), "type", c.span, first);
            }
            let fits = match &c.node {
                Constraint::Min(n) => {
                    min = Some(n.value);
                    matches!(kind, Some((Builtin::Integer | Builtin::Number, _)))
                }
                Constraint::Max(n) => {
                    max = Some(n.value);
                    matches!(kind, Some((Builtin::Integer | Builtin::Number, _)))
                }
                Constraint::MinLen(n) => {
                    min_len = Some(*n);
                    matches!(kind, Some((Builtin::String, "string")))
                }
                Constraint::MaxLen(n) => {
                    max_len = Some(*n);
                    matches!(kind, Some((Builtin::String, "string")))
                }
                Constraint::Pattern(_) | Constraint::Format(_) => matches!(kind, Some((Builtin::String, "string"))),
                Constraint::MinItems(n) => {
                    min_items = Some(*n);
                    is_array
                }
                Constraint::MaxItems(n) => {
                    max_items = Some(*n);
                    is_array
                }
            };
            let judged = kind.is_some() || is_array || schema.is_some();
            if judged && !fits {
                let ty_name = match (&kind, schema) {
                    (Some((_, name)), _) => format!("`{name}`"),
                    (None, Some(name)) => format!("schema `{name}`"),
                    (None, None) => "a list".to_owned(),
                };
                let help = match &c.node {
                    _ if schema.is_some() => {
                        "a schema is an object: constrain its fields in its own declaration, or the list of it with `min_items`/`max_items` after the `]`"
                    }
                    Constraint::Min(_) | Constraint::Max(_) => {
                        "`min` and `max` bound numbers; use `min_len`/`max_len` for strings and `min_items`/`max_items` for lists"
                    }
                    Constraint::MinLen(_) | Constraint::MaxLen(_) => {
                        "`min_len` and `max_len` bound strings; use `min_items`/`max_items` for lists and `min`/`max` for numbers"
                    }
                    Constraint::MinItems(_) | Constraint::MaxItems(_) => {
                        "`min_items` and `max_items` bound lists; write them after the `]`"
                    }
                    Constraint::Pattern(_) | Constraint::Format(_) => "`pattern` and `format` apply to `string` fields",
                };
                self.diags.push(
                    Diagnostic::error(
                        codes::CONSTRAINT_MISMATCH,
                        c.span,
                        format!("`{}` does not apply to {ty_name}", c.node.keyword()),
                    )
                    .with_label("does not fit the type")
                    .with_help(help),
                );
            }
        }
        let pairs = [
            (min.zip(max).is_some_and(|(a, b)| a > b), "min", "max"),
            (min_len.zip(max_len).is_some_and(|(a, b)| a > b), "min_len", "max_len"),
            (min_items.zip(max_items).is_some_and(|(a, b)| a > b), "min_items", "max_items"),
        ];
        for (bad, lo, hi) in pairs {
            if bad {
                self.diags.push(
                    Diagnostic::error(codes::OUT_OF_RANGE, ty.span, format!("`{lo}` is larger than `{hi}`"))
                        .with_label("no value can satisfy both")
                        .with_help(format!("make `{lo}` at most `{hi}`")),
                );
            }
        }
    }

    /// Checks one block of statements (route, action, api or resource level).
    fn stmts<'a>(&mut self, stmts: impl Iterator<Item = &'a Stmt>, place: &str) {
        let mut seen = Seen::new();
        for stmt in stmts {
            let single = match &stmt.node {
                StmtKind::Auth(_) => Some("auth"),
                StmtKind::Body(_) => Some("body"),
                StmtKind::Mint(_) => Some("mint"),
                _ => None,
            };
            if let Some(what) = single
                && let Some(first) = seen.add(what, stmt.span)
            {
                self.duplicate(what, place, stmt.span, first);
            }
            match &stmt.node {
                StmtKind::Scope { scopes, .. } => {
                    self.non_empty_strings(scopes, "scope");
                    for s in scopes.iter().filter(|s| s.value.contains(char::is_whitespace)) {
                        self.diags.push(
                            Diagnostic::error(
                                codes::OUT_OF_RANGE,
                                s.span,
                                format!("scope `{}` holds a space", s.value),
                            )
                            .with_help("scopes are single words; list several as `scope \"a\", \"b\"`"),
                        );
                    }
                }
                StmtKind::Allow(Some(e)) | StmtKind::Deny(e) => self.visit_expr(e),
                StmtKind::UpstreamHeader { name, value } => {
                    self.header_name(name);
                    self.visit_expr(value);
                }
                StmtKind::Auth(AuthMethod::ApiKey { header, .. }) => self.header_name(header),
                StmtKind::Mint(mint) => self.mint(mint),
                _ => {}
            }
        }
    }

    /// A `mint` block: each setting once, claim names distinct and not the
    /// ones Warden writes itself, a lifetime of 1 s to 1 d, a valid header.
    fn mint(&mut self, mint: &Mint) {
        let mut seen = Seen::new();
        let mut claims: Vec<(&str, Span)> = Vec::new();
        for item in &mint.items {
            let what = item.node.keyword();
            if what != "claim"
                && let Some(first) = seen.add(what, item.span)
            {
                self.duplicate(what, "mint", item.span, first);
            }
            match &item.node {
                MintItem::Claim { name, value } => {
                    if RESERVED_CLAIMS.contains(&name.name.as_str()) {
                        self.diags.push(
                            Diagnostic::error(
                                codes::OUT_OF_RANGE,
                                name.span,
                                format!("`{}` is a claim Warden writes itself", name.name),
                            )
                            .with_label("cannot be set by the policy")
                            .with_help(format!(
                                "Warden sets {} from its issuer, the target zone, the caller and the clock; \
                                 name the claim differently",
                                RESERVED_CLAIMS.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
                            )),
                        );
                    } else if name.name.is_empty() {
                        self.diags.push(Diagnostic::error(codes::OUT_OF_RANGE, name.span, "empty claim name"));
                    }
                    if let Some(&(_, first)) = claims.iter().find(|(n, _)| *n == name.name) {
                        self.diags.push(
                            Diagnostic::error(
                                codes::DUPLICATE_KEY,
                                name.span,
                                format!("claim `{}` is minted twice", name.name),
                            )
                            .with_label("second time")
                            .with_related(first, "first here"),
                        );
                    } else {
                        claims.push((&name.name, name.span));
                    }
                    self.visit_expr(value);
                }
                MintItem::Scope(scopes) => self.non_empty_strings(scopes, "scope"),
                MintItem::Lifetime(d) => {
                    if !(1_000..=86_400_000).contains(&d.millis()) {
                        self.diags.push(
                            Diagnostic::error(codes::OUT_OF_RANGE, d.span, "a minted token lives from 1s to 1d")
                                .with_help("tokens for the next zone are short-lived: the default is `60s`"),
                        );
                    }
                }
                MintItem::Header(name) => self.header_name(name),
                MintItem::Bind(t) => {
                    // 32 bytes of SHA-256 are 43 base64url characters, without padding.
                    let b64url = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
                    if t.value.len() != 43 || !t.value.chars().all(b64url) {
                        self.diags.push(
                            Diagnostic::error(
                                codes::OUT_OF_RANGE,
                                t.span,
                                format!("`{}` is not a SHA-256 certificate thumbprint", t.value),
                            )
                            .with_help(
                                "write the certificate's `x5t#S256`: 43 base64url characters, as \
                                 `openssl x509 -in next-hop.pem -outform DER | openssl dgst -sha256 -binary | basenc --base64url | tr -d =` prints",
                            ),
                        );
                    }
                }
            }
        }
    }

    fn header_name(&mut self, name: &Str) {
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.value.is_empty() || !name.value.chars().all(token) {
            self.diags.push(
                Diagnostic::error(
                    codes::INVALID_HEADER_NAME,
                    name.span,
                    format!("`{}` is not a valid header name", name.value),
                )
                .with_help("header names are letters, digits and `-`, as in `x-customer-id`"),
            );
        } else if name.value.chars().any(|c| c.is_ascii_uppercase()) {
            self.diags.push(
                Diagnostic::error(
                    codes::INVALID_HEADER_NAME,
                    name.span,
                    format!("header name `{}` is not lower case", name.value),
                )
                .with_help(format!(
                    "header names are compared in lower case: write `{}`",
                    name.value.to_ascii_lowercase()
                )),
            );
        }
    }

    fn api(&mut self, api: &Api) {
        let mut seen = Seen::new();
        for item in &api.items {
            let what = match item {
                ApiItem::Host(h) => {
                    if let Some((problem, help)) = host_problem(&h.node.value) {
                        self.diags.push(
                            Diagnostic::error(codes::INVALID_HOST, h.span, problem)
                                .with_label("no request has this host")
                                .with_help(help),
                        );
                    }
                    "host"
                }
                ApiItem::Prefix(_) => "prefix",
                ApiItem::Route(route) => {
                    self.stmts(route.stmts.iter(), "route");
                    continue;
                }
                ApiItem::Stmt(_) => continue,
            };
            if let Some(first) = seen.add(what, item.span()) {
                self.duplicate(what, "api", item.span(), first);
            }
        }
        let api_stmts = api.items.iter().filter_map(|i| match i {
            ApiItem::Stmt(s) => Some(s),
            _ => None,
        });
        self.stmts(api_stmts, "api");
    }

    /// An exchange: its statements, without those that speak of an HTTP
    /// request it does not have (a body, upstream headers).
    fn exchange(&mut self, exchange: &Exchange) {
        self.stmts(exchange.stmts.iter(), "exchange");
        for stmt in &exchange.stmts {
            if matches!(stmt.node, StmtKind::Body(_) | StmtKind::UpstreamHeader { .. }) {
                self.diags.push(
                    Diagnostic::error(codes::MISPLACED, stmt.span, format!("`{}` in an exchange", stmt.node.keyword()))
                        .with_label("a token exchange has no request body or upstream")
                        .with_help("an exchange holds `auth`, `scope`, `limit`, `allow`, `deny` and one `mint`"),
                );
            }
        }
    }

    /// `body json` where the check is about a resource: such a check has no
    /// request body, so every one would be denied `body_invalid`.
    fn no_json_body<'a>(&mut self, stmts: impl Iterator<Item = &'a Stmt>) {
        for stmt in stmts {
            if matches!(stmt.node, StmtKind::Body(BodySpec::Json { .. })) {
                self.diags.push(
                    Diagnostic::error(codes::MISPLACED, stmt.span, "`body json` in a resource or action")
                        .with_label("a resource check has no request body: every check would be denied")
                        .with_help("rules read what the check sends as `resource.…` and `context.…`"),
                );
            }
        }
    }

    fn resource(&mut self, resource: &Resource) {
        let mut actions: Vec<&Ident> = Vec::new();
        for item in &resource.items {
            if let ResourceItem::Action(action) = item {
                if let Some(first) = actions.iter().find(|a| a.name == action.name.name) {
                    self.diags.push(
                        Diagnostic::error(
                            codes::DUPLICATE_SETTING,
                            action.name.span,
                            format!(
                                "action `{}` is declared twice in resource `{}`",
                                action.name.name, resource.name.name
                            ),
                        )
                        .with_related(first.span, "first here")
                        .with_help("merge the two actions"),
                    );
                }
                actions.push(&action.name);
                self.stmts(action.stmts.iter(), "action");
                self.no_json_body(action.stmts.iter());
            }
        }
        self.no_json_body(resource.items.iter().filter_map(|i| match i {
            ResourceItem::Stmt(s) => Some(s),
            _ => None,
        }));
        let stmts = resource.items.iter().filter_map(|i| match i {
            ResourceItem::Stmt(s) => Some(s),
            _ => None,
        });
        self.stmts(stmts, "resource");
    }
}

/// Expressions and test steps are walked with the shared visitor; blocks of
/// settings and statements are checked above, where the order of their
/// diagnostics is decided.
impl<'a> Visit<'a> for Validator {
    /// `header["NAME"]` names a valid, lower-case header.
    fn visit_expr(&mut self, expr: &'a Expr) {
        if let ExprKind::Attr { root, path } = &expr.kind
            && root.node == Root::Header
            && let Some(Segment { kind: SegmentKind::Index(Expr { kind: ExprKind::Str(name), span }), .. }) =
                path.first()
        {
            self.header_name(&Str { value: name.clone(), span: *span });
        }
        visit::walk_expr(self, expr);
    }

    fn visit_test(&mut self, test: &'a Test) {
        self.asked = false;
        visit::walk_test(self, test);
    }

    /// Duplicate settings of a request or check; an `expect` before either.
    fn visit_step(&mut self, step: &'a Step) {
        match &step.node {
            StepKind::Request(request) => {
                self.asked = true;
                let mut seen = Seen::new();
                for item in &request.items {
                    let what = match &item.node {
                        RequestItem::Ip(_) => "ip",
                        RequestItem::Peer(_) => "peer",
                        RequestItem::Certificate(_) => "certificate",
                        RequestItem::Dpop => "dpop",
                        RequestItem::Header { .. } => continue,
                        RequestItem::Json(_) | RequestItem::Body { .. } => "body",
                        RequestItem::Basic { .. } | RequestItem::Token(_) => "credential",
                    };
                    if let Some(first) = seen.add(what, item.span) {
                        if what == "credential" {
                            // No keyword is called `credential`: name the two that are.
                            self.diags.push(
                                Diagnostic::error(
                                    codes::DUPLICATE_SETTING,
                                    item.span,
                                    "a request sends one credential: one `basic` or one `token`",
                                )
                                .with_label("second credential")
                                .with_related(first, "first here")
                                .with_help("keep one `basic` or one `token`"),
                            );
                        } else {
                            self.duplicate(what, "request", item.span, first);
                        }
                    }
                }
            }
            StepKind::Exchange(x) => {
                self.asked = true;
                let mut seen = Seen::new();
                for item in &x.items {
                    let what = match &item.node {
                        RequestItem::Ip(_) => "ip",
                        RequestItem::Peer(_) => "peer",
                        RequestItem::Certificate(_) => "certificate",
                        RequestItem::Dpop => "dpop",
                        RequestItem::Header { .. } => continue,
                        RequestItem::Basic { .. } => "basic",
                        RequestItem::Token(_) => "token",
                        RequestItem::Json(_) | RequestItem::Body { .. } => {
                            self.diags.push(
                                Diagnostic::error(codes::MISPLACED, item.span, "a token exchange has no body")
                                    .with_help("an exchange takes `token` (the subject token), `basic`, `peer`, `header` and `ip`"),
                            );
                            continue;
                        }
                    };
                    if let Some(first) = seen.add(what, item.span) {
                        self.duplicate(what, "exchange", item.span, first);
                    }
                }
            }
            StepKind::Check(check) => {
                self.asked = true;
                let mut seen = Seen::new();
                for item in &check.items {
                    let what = match &item.node {
                        CheckItem::Ip(_) => "ip",
                        CheckItem::Peer(_) => "peer",
                        CheckItem::Subject { .. } | CheckItem::Token(_) => "subject",
                        CheckItem::Resource { .. } => "resource",
                        CheckItem::Context(_) => "context",
                    };
                    if let Some(first) = seen.add(what, item.span) {
                        self.duplicate(what, "check", item.span, first);
                    }
                }
            }
            StepKind::Expect(_) if !self.asked => self.diags.push(
                Diagnostic::error(codes::MISPLACED, step.span, "`expect` before any `request` or `check`")
                    .with_label("nothing to expect of yet")
                    .with_help("put a `request` or `check` before the `expect`"),
            ),
            StepKind::Expect(_) | StepKind::Repeat { .. } | StepKind::Wait(_) => {}
        }
        // A `repeat` block's steps, in order.
        visit::walk_step(self, step);
    }
}

/// Why no request can have `host` (as the engine compares it: the request's
/// port and trailing dot removed, letters in lower case), with a fix; `None`
/// when one can.
fn host_problem(host: &str) -> Option<(String, &'static str)> {
    if host.is_empty() {
        return Some(("an empty host".to_owned(), "write the name the requests are sent to, as in `api.example.com`"));
    }
    if host.contains('/') {
        return Some((
            format!("`{host}` is not a host name"),
            "write the name alone, as in `api.example.com`: no scheme and no path (use `prefix` for a path)",
        ));
    }
    if let Some(literal) = host.strip_prefix('[') {
        return match literal.strip_suffix(']').map(str::parse::<std::net::Ipv6Addr>) {
            Some(Ok(_)) => None,
            _ => Some((format!("`{host}` is not an IPv6 address in brackets"), "write it as in `[2001:db8::1]`")),
        };
    }
    if host.contains(':') {
        return Some((
            format!("`{host}` has a port"),
            "write the name without the port: a request's port is not part of its host here",
        ));
    }
    if host.contains('*') {
        return Some((
            format!("`{host}` has a `*`, which is not a wildcard here"),
            "name each host in an api of its own: `*` would only match a request whose host is written with a `*`",
        ));
    }
    if host.ends_with('.') {
        return Some((
            format!("`{host}` ends with a dot"),
            "write it without the trailing dot: a request's trailing dot is removed before hosts are compared",
        ));
    }
    let labels_ok = host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !labels_ok {
        return Some((
            format!("`{host}` is not a host name"),
            "a host name is dot-separated labels of letters, digits, `-` and `_` (at most 63 each, 253 in all)",
        ));
    }
    None
}
