//! Lints: policies that compile but are probably unsafe or wrong (`W03xx`), each with
//! a stable code, a name that says the pattern it flags, an explanation and a fix hint.

use std::collections::{BTreeMap, BTreeSet};

use warden_language::ast::*;
use warden_language::{Code, Diagnostic, Span};

use crate::graph::{Expr, Graph, StepKind};
use crate::{FileDiagnostic, PolicySet};

/// A lint's documentation.
#[derive(Clone, Copy, Debug)]
pub struct LintInfo {
    /// Stable code.
    pub code: Code,
    /// Kebab-case name of the pattern it flags.
    pub name: &'static str,
    /// One line: what it flags.
    pub summary: &'static str,
    /// What it does, why it matters, an example.
    pub explanation: &'static str,
    /// How to fix it.
    pub fix: &'static str,
}

macro_rules! lints {
    ($($id:ident = $code:literal, $name:literal, $summary:literal, $explanation:literal, $fix:literal;)*) => {
        $(
            #[doc = $summary]
            pub const $id: LintInfo = LintInfo { code: Code($code), name: $name, summary: $summary, explanation: $explanation, fix: $fix };
        )*
        /// Every lint, in code order.
        pub const ALL: &[LintInfo] = &[$($id),*];
    };
}

lints! {
    CLIENT_CREDENTIAL_WITHOUT_CHANNEL = "W0301", "client-credential-without-channel",
        "a client secret or API key accepted in a zone without mTLS or a network allowlist",
        "Flags `auth client_secret` and `auth api_key` in a zone that has neither `require mtls` nor `network`. A client secret or API key is a long-lived bearer credential: whoever copies it is the client. Partners using the client credentials grant should be held to a secured channel as well (seed 000: \"client-credentials grant but only if the communication is secured via MTLS or IP-based filtering\"). Example: `zone partners { }` with `api p in zone partners { auth client_secret file \"clients.json\" }`.",
        "add `require mtls peer \"spiffe://…\"` or `network \"198.51.100.0/24\"` to the zone";
    MIXED_AUTH_ON_PATH = "W0302", "mixed-auth-on-path",
        "routes of one path with different authentication methods",
        "Flags a path (host and path shape) whose routes use different `auth` methods, such as `GET /accounts/{id}` with `auth bearer` and `DELETE /accounts/{id}` with `auth none`. A resource should never be reachable by a weaker method than its siblings (seed 003); a method mix-up is a classic way to leave one verb unprotected.",
        "use one authentication method for every route of the path";
    AUTH_OVERRIDDEN_IN_ROUTE = "W0303", "auth-overridden-in-route",
        "`auth` set on a route or action instead of on its api or resource",
        "Flags `auth` inside a `route` or `action`. A route that changes how callers authenticate is easy to miss in review and makes one route weaker than the rest of its api (seed 003). Example: `api a { auth bearer; route GET \"/debug\" { auth none; allow } }`.",
        "move the route to an api whose `auth` it shares, and set `auth` once on that api";
    CREDENTIAL_ROUTE_WITHOUT_LIMIT = "W0304", "credential-route-without-pre-auth-limit",
        "a login, token, password or reset route without a pre-authentication rate limit",
        "Flags routes whose path looks like it takes credentials (`login`, `signin`, `token`, `password`, `reset`, `otp`, `mfa`, `register`, `signup`) and that have no limit keyed only by request data (source, header, path, query). Without one, an attacker can try passwords as fast as the service answers (seed 004: 5 login attempts per IP per minute). Example: `route POST \"/login\" { body json Credentials; allow }`.",
        "add a limit such as `limit login_per_ip = 5 per 1m by source.ip` and use it on the route";
    BODY_WITHOUT_SCHEMA = "W0305", "body-without-schema",
        "a request body accepted without a schema",
        "Flags `body json` without a schema and `body any`. Unvalidated input is how injection and mass-assignment reach a service; a schema rejects unknown fields, wrong types and oversized strings at the gateway (seed 004: validate all incoming data). Example: `route POST \"/users\" { body json max 4KiB; allow }`.",
        "declare a schema and write `body json SchemaName`";
    HMAC_WITHOUT_MTLS = "W0306", "hmac-without-mtls",
        "an HS256/384/512 algorithm in a zone without `require mtls`",
        "Flags an issuer that allows an HMAC algorithm in a zone that does not require mTLS. With HMAC, every party that can verify a token can also mint one: the shared secret has to be guarded like a private key, and the callers should be known. Asymmetric algorithms (RS256, ES256, EdDSA) avoid this (seeds 002/003). Example: `zone open { issuer \"https://idp\" { algorithms HS256 … } }`.",
        "use RS256, ES256 or EdDSA, or add `require mtls` to the zone";
    JWKS_OVER_HTTP = "W0307", "jwks-over-plain-http",
        "a `jwks url` fetched over plain http",
        "Flags `jwks url \"http://…\"`. Whoever can tamper with the connection can replace the keys and then sign any token they like. Example: `jwks url \"http://idp.example/jwks.json\"`.",
        "fetch the key set over `https://`";
    INTERCHANGEABLE_ZONES = "W0308", "interchangeable-zones",
        "two zones accept the same issuer and audience",
        "Flags two zones that trust the same issuer with a shared audience: a token issued for one is accepted by the other, so the zones are not separate trust zones at all (seed 001: end-to-end trust). Example: zones `edge` and `internal` both with `issuer \"https://idp\" { audience \"https://api\" }`.",
        "give each zone its own audience";
    UNUSED_DECLARATION = "W0309", "unused-declaration",
        "a zone, limit, schema or data that nothing uses",
        "Flags declarations nothing refers to. An unused limit usually means a route that was meant to be limited is not; an unused schema, a body that was meant to be validated is not. Example: `limit login_per_ip = 5 per 1m by source.ip` declared, but no route says `limit login_per_ip`.",
        "use it where it was meant to apply, or remove it";
    CONSTANT_RULE = "W0310", "constant-rule",
        "a rule that is always true or never true",
        "Flags `allow when …` and `deny when …` whose condition folds to a constant, such as `allow when 1 < 2` (an unconditional allow in disguise) or `deny when \"a\" == \"b\"` (a deny that never fires). Such a rule usually hides a typo.",
        "write the condition you meant, or write `allow` / remove the rule";
    SHADOWED_ROUTE = "W0311", "shadowed-route",
        "a route that another route always answers first",
        "Flags a route that can never be reached for some or all requests: an `ANY` route whose path already has a route for every method, or a route of an api without a host whose exact twin exists in an api with a host (on that host, the twin answers). Example: `api a { host \"api.example\"; route GET \"/x\" {…} }` and `api b { route GET \"/x\" {…} }`.",
        "remove the shadowed route, or give the apis distinct hosts or prefixes";
}

/// Looks up a lint by code.
pub fn info(code: &str) -> Option<&'static LintInfo> {
    ALL.iter().find(|l| l.code.as_str() == code)
}

fn warn(lint: &LintInfo, span: Span, message: String) -> Diagnostic {
    Diagnostic::warning(lint.code, span, message).with_help(lint.fix)
}

/// Runs every lint over a policy set that compiled to `graph`.
pub fn lint(set: &PolicySet, graph: &Graph) -> Vec<FileDiagnostic> {
    let mut out = Vec::new();
    let mut push = |file: usize, diagnostic: Diagnostic| out.push(FileDiagnostic { file, diagnostic });
    let decls: Vec<(usize, &Decl)> =
        set.files.iter().enumerate().flat_map(|(i, f)| f.parsed.file.decls.iter().map(move |d| (i, d))).collect();
    let zones: BTreeMap<&str, &Zone> = decls
        .iter()
        .filter_map(|(_, d)| if let Decl::Zone(z) = d { Some((z.name.name.as_str(), z)) } else { None })
        .collect();
    let limits: BTreeMap<&str, &Limit> = decls
        .iter()
        .filter_map(|(_, d)| if let Decl::Limit(l) = d { Some((l.name.name.as_str(), l)) } else { None })
        .collect();

    // W0306, W0307, W0308: issuers.
    let mut trusted: Vec<(usize, &str, &str, &str, Span)> = Vec::new(); // file, zone, iss, aud, span
    for &(file, decl) in &decls {
        let Decl::Zone(zone) = decl else { continue };
        let mtls = zone.items.iter().any(|i| matches!(i.node, ZoneItem::RequireMtls { .. }));
        for item in &zone.items {
            let ZoneItem::Issuer(issuer) = &item.node else { continue };
            for setting in &issuer.items {
                match &setting.node {
                    IssuerItem::Algorithms(algs) if !mtls => {
                        for alg in algs.iter().filter(|a| a.node.is_hmac()) {
                            push(
                                file,
                                warn(
                                    &HMAC_WITHOUT_MTLS,
                                    alg.span,
                                    format!(
                                        "`{}` in zone `{}`, which does not require mTLS",
                                        alg.node.as_str(),
                                        zone.name.name
                                    ),
                                ),
                            );
                        }
                    }
                    IssuerItem::JwksUrl { url, .. } if url.value.to_ascii_lowercase().starts_with("http://") => {
                        push(
                            file,
                            warn(
                                &JWKS_OVER_HTTP,
                                url.span,
                                format!("the key set `{}` is fetched over plain http", url.value),
                            ),
                        );
                    }
                    IssuerItem::Audience(auds) => {
                        for aud in auds {
                            trusted.push((
                                file,
                                zone.name.name.as_str(),
                                issuer.url.value.as_str(),
                                aud.value.as_str(),
                                aud.span,
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    for (i, &(file, zone, iss, aud, span)) in trusted.iter().enumerate() {
        if let Some(&(_, first_zone, ..)) =
            trusted.iter().take(i).find(|&&(_, z, is, au, _)| z != zone && is == iss && au == aud)
        {
            push(
                file,
                warn(
                    &INTERCHANGEABLE_ZONES,
                    span,
                    format!(
                        "zones `{first_zone}` and `{zone}` both accept tokens of `{iss}` for audience `{aud}`: they are interchangeable"
                    ),
                ),
            );
        }
    }

    // Endpoint-level lints walk apis and resources.
    let mut by_path: BTreeMap<(Option<String>, String), Vec<PathRoute>> = BTreeMap::new();
    for &(file, decl) in &decls {
        match decl {
            Decl::Api(api) => {
                let zone = zones.get(api.zone.name.as_str()).copied();
                let shared: Vec<&Stmt> =
                    api.items.iter().filter_map(|i| if let ApiItem::Stmt(s) = i { Some(s) } else { None }).collect();
                let host = api.items.iter().find_map(|i| {
                    if let ApiItem::Host(h) = i { Some(h.node.value.to_ascii_lowercase()) } else { None }
                });
                let prefix = api
                    .items
                    .iter()
                    .find_map(|i| if let ApiItem::Prefix(p) = i { Some(p.node.value.clone()) } else { None })
                    .unwrap_or_default();
                for s in &shared {
                    stmt_lints(file, s, zone, &mut push);
                }
                for item in &api.items {
                    let ApiItem::Route(route) = item else { continue };
                    let span = route.method.span.to(route.path.span);
                    for s in &route.stmts {
                        if let StmtKind::Auth(_) = s.node {
                            push(
                                file,
                                warn(
                                    &AUTH_OVERRIDDEN_IN_ROUTE,
                                    s.span,
                                    format!(
                                        "route `{} {}` sets its own `auth`",
                                        route.method.node.as_str(),
                                        route.path.value
                                    ),
                                ),
                            );
                        }
                        stmt_lints(file, s, zone, &mut push);
                    }
                    let all: Vec<&Stmt> = shared.iter().copied().chain(route.stmts.iter()).collect();
                    let auth = all
                        .iter()
                        .rev()
                        .find_map(|s| if let StmtKind::Auth(m) = &s.node { Some(m.keyword()) } else { None })
                        .unwrap_or("bearer");
                    let shape = shape(&prefix, &route.template);
                    by_path.entry((host.clone(), shape)).or_default().push((
                        file,
                        span,
                        route.method.node.as_str().to_owned(),
                        auth,
                    ));
                    // W0304: credential-looking paths need a limit counted before authentication.
                    let full = format!("{prefix}{}", route.path.value).to_ascii_lowercase();
                    let looks = [
                        "login", "signin", "sign-in", "token", "password", "reset", "otp", "mfa", "register", "signup",
                        "sign-up",
                    ]
                    .iter()
                    .any(|w| {
                        full.split(['/', '-', '_', '.']).any(|part| part == *w) || full.contains(&format!("/{w}"))
                    });
                    let pre_limited = all.iter().any(|s| match &s.node {
                        StmtKind::Limit(names) => names.iter().any(|n| {
                            limits.get(n.name.as_str()).is_some_and(|l| l.keys.iter().all(crate::lower::pre_auth_key))
                        }),
                        _ => false,
                    });
                    if looks && !pre_limited {
                        push(
                            file,
                            warn(
                                &CREDENTIAL_ROUTE_WITHOUT_LIMIT,
                                span,
                                format!(
                                    "route `{} {full}` takes credentials but has no pre-authentication limit",
                                    route.method.node.as_str()
                                ),
                            ),
                        );
                    }
                }
            }
            Decl::Resource(resource) => {
                let zone = zones.get(resource.zone.name.as_str()).copied();
                for item in &resource.items {
                    match item {
                        ResourceItem::Stmt(s) => stmt_lints(file, s, zone, &mut push),
                        ResourceItem::Action(action) => {
                            for s in &action.stmts {
                                if let StmtKind::Auth(_) = s.node {
                                    push(
                                        file,
                                        warn(
                                            &AUTH_OVERRIDDEN_IN_ROUTE,
                                            s.span,
                                            format!("action `{}` sets its own `auth`", action.name.name),
                                        ),
                                    );
                                }
                                stmt_lints(file, s, zone, &mut push);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    // W0302 and W0311 need every route of a path together.
    for ((host, path_shape), routes) in &by_path {
        let methods: BTreeSet<&str> = routes.iter().map(|r| r.3).collect();
        if methods.len() > 1 {
            for &(file, span, ref method, auth) in routes.iter().skip(1) {
                if routes.first().is_some_and(|first| first.3 != auth) {
                    push(
                        file,
                        warn(
                            &MIXED_AUTH_ON_PATH,
                            span,
                            format!(
                                "`{method}` uses `auth {auth}` where another route of this path uses `auth {}`",
                                routes.first().map_or("", |f| f.3)
                            ),
                        ),
                    );
                }
            }
        }
        let exact: BTreeSet<&str> = routes.iter().map(|r| r.2.as_str()).filter(|m| *m != "ANY").collect();
        if exact.len() >= 7 {
            for &(file, span, ref method, _) in routes.iter().filter(|r| r.2 == "ANY") {
                push(
                    file,
                    warn(
                        &SHADOWED_ROUTE,
                        span,
                        format!("`{method}` is never reached: every method of this path has its own route"),
                    ),
                );
            }
        }
        if host.is_none() {
            for ((other_host, other_shape), others) in &by_path {
                let Some(other_host) = other_host else { continue };
                if other_shape != path_shape {
                    continue;
                }
                for &(file, span, ref method, _) in routes {
                    if others.iter().any(|o| o.2 == *method) {
                        push(
                            file,
                            warn(
                                &SHADOWED_ROUTE,
                                span,
                                format!(
                                    "on host `{other_host}`, `{method}` of this path is answered by another api's route"
                                ),
                            ),
                        );
                    }
                }
            }
        }
    }

    // W0309: unused declarations.
    let used = Used::collect(&decls);
    for &(file, decl) in &decls {
        let (kind, name, span, is_used) = match decl {
            Decl::Zone(z) => ("zone", &z.name.name, z.name.span, used.zones.contains(z.name.name.as_str())),
            Decl::Limit(l) => ("limit", &l.name.name, l.name.span, used.limits.contains(l.name.name.as_str())),
            Decl::Schema(s) => ("schema", &s.name.name, s.name.span, used.schemas.contains(s.name.name.as_str())),
            Decl::Data(d) => ("data", &d.name.name, d.name.span, used.data.contains(d.name.name.as_str())),
            _ => continue,
        };
        if !is_used {
            push(file, warn(&UNUSED_DECLARATION, span, format!("{kind} `{name}` is never used")));
        }
    }

    // W0310: rules that folded to a constant, read from the graph.
    for ep in &graph.endpoints {
        for step in &ep.steps {
            let source = step.origin.source as usize;
            let span = Span { start: step.origin.span[0], end: step.origin.span[1] };
            match &step.kind {
                StepKind::Deny(e) => {
                    if let Some(Expr::Const(v)) = graph.exprs.get(*e as usize) {
                        let always = if *v == serde_json::Value::Bool(true) { "always denies" } else { "never denies" };
                        push(
                            source,
                            warn(
                                &CONSTANT_RULE,
                                span,
                                format!("this `deny` {always}: its condition is the constant `{v}`"),
                            ),
                        );
                    }
                }
                StepKind::Allow(rules) => {
                    for rule in rules {
                        let span = Span { start: rule.origin.span[0], end: rule.origin.span[1] };
                        let text = set.files.get(rule.origin.source as usize).map(|f| span.text(&f.text)).unwrap_or("");
                        let written_condition = text.contains(" when ");
                        match rule.when.and_then(|w| graph.exprs.get(w as usize)) {
                            Some(Expr::Const(v)) => push(
                                rule.origin.source as usize,
                                warn(
                                    &CONSTANT_RULE,
                                    span,
                                    format!("this `allow` never allows: its condition is the constant `{v}`"),
                                ),
                            ),
                            None if written_condition => push(
                                rule.origin.source as usize,
                                warn(
                                    &CONSTANT_RULE,
                                    span,
                                    "this `allow` always allows: its condition is always true".to_owned(),
                                ),
                            ),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
    // The same endpoint-level rule is lowered once per route of an api; report it once.
    out.sort_by(|a, b| {
        (a.file, a.diagnostic.span.start, a.diagnostic.code).cmp(&(b.file, b.diagnostic.span.start, b.diagnostic.code))
    });
    out.dedup_by(|a, b| {
        a.file == b.file && a.diagnostic.span == b.diagnostic.span && a.diagnostic.code == b.diagnostic.code
    });
    out
}

fn stmt_lints(file: usize, s: &Stmt, zone: Option<&Zone>, push: &mut impl FnMut(usize, Diagnostic)) {
    match &s.node {
        StmtKind::Auth(AuthMethod::ClientSecret { .. } | AuthMethod::ApiKey { .. }) => {
            if let Some(zone) = zone
                && !zone.items.iter().any(|i| matches!(i.node, ZoneItem::RequireMtls { .. } | ZoneItem::Network { .. }))
            {
                push(
                    file,
                    warn(
                        &CLIENT_CREDENTIAL_WITHOUT_CHANNEL,
                        s.span,
                        format!("zone `{}` accepts this credential from any client over any network", zone.name.name),
                    ),
                );
            }
        }
        StmtKind::Body(BodySpec::Json { schema: None, .. }) => {
            push(file, warn(&BODY_WITHOUT_SCHEMA, s.span, "a JSON body is accepted without a schema".to_owned()))
        }
        StmtKind::Body(BodySpec::Any { .. }) => {
            push(file, warn(&BODY_WITHOUT_SCHEMA, s.span, "any body is accepted, unchecked".to_owned()))
        }
        _ => {}
    }
}

/// A route as the path-level lints see it: file, span, method, auth keyword.
type PathRoute = (usize, Span, String, &'static str);

/// Path shape with the prefix: `/v1/accounts/{}`.
fn shape(prefix: &str, template: &[PathSegment]) -> String {
    let mut out = prefix.to_owned();
    for seg in template {
        out.push('/');
        match seg {
            PathSegment::Literal(l) => out.push_str(l),
            PathSegment::Param(_) => out.push_str("{}"),
            PathSegment::Tail(_) => out.push_str("{*}"),
        }
    }
    out
}

/// Names referred to anywhere in the set.
#[derive(Default)]
struct Used<'a> {
    zones: BTreeSet<&'a str>,
    limits: BTreeSet<&'a str>,
    schemas: BTreeSet<&'a str>,
    data: BTreeSet<&'a str>,
}

impl<'a> Used<'a> {
    fn collect(decls: &[(usize, &'a Decl)]) -> Used<'a> {
        let mut u = Used::default();
        for &(_, decl) in decls {
            match decl {
                Decl::Api(api) => {
                    u.zones.insert(&api.zone.name);
                    for item in &api.items {
                        match item {
                            ApiItem::Stmt(s) => u.stmt(s),
                            ApiItem::Route(r) => r.stmts.iter().for_each(|s| u.stmt(s)),
                            _ => {}
                        }
                    }
                }
                Decl::Resource(res) => {
                    u.zones.insert(&res.zone.name);
                    for item in &res.items {
                        match item {
                            ResourceItem::Stmt(s) => u.stmt(s),
                            ResourceItem::Action(a) => a.stmts.iter().for_each(|s| u.stmt(s)),
                        }
                    }
                }
                Decl::Schema(s) => s.fields.iter().for_each(|f| u.ty(&f.ty)),
                Decl::Limit(l) => l.keys.iter().for_each(|k| u.expr(k)),
                _ => {}
            }
        }
        u
    }

    fn stmt(&mut self, s: &'a Stmt) {
        match &s.node {
            StmtKind::Limit(names) => names.iter().for_each(|n| {
                self.limits.insert(&n.name);
            }),
            StmtKind::Body(BodySpec::Json { schema: Some(n), .. }) => {
                self.schemas.insert(&n.name);
            }
            StmtKind::Allow(Some(e)) | StmtKind::Deny(e) | StmtKind::UpstreamHeader { value: e, .. } => self.expr(e),
            _ => {}
        }
    }

    fn ty(&mut self, t: &'a TypeExpr) {
        match &t.kind {
            TypeKind::Named(n) => {
                self.schemas.insert(&n.name);
            }
            TypeKind::Array(inner) => self.ty(inner),
            TypeKind::Enum(_) => {}
        }
    }

    fn expr(&mut self, e: &'a warden_language::ast::Expr) {
        match &e.kind {
            ExprKind::Attr { root, path } => {
                if root.node == Root::Data
                    && let Some(Segment { kind: SegmentKind::Field(name), .. }) = path.first()
                {
                    self.data.insert(name);
                }
                for seg in path {
                    if let SegmentKind::Index(i) = &seg.kind {
                        self.expr(i);
                    }
                }
            }
            ExprKind::Access { base, path } => {
                self.expr(base);
                for seg in path {
                    if let SegmentKind::Index(i) = &seg.kind {
                        self.expr(i);
                    }
                }
            }
            ExprKind::List(items) | ExprKind::And(items) | ExprKind::Or(items) => {
                items.iter().for_each(|i| self.expr(i))
            }
            ExprKind::Call { args, .. } => args.iter().for_each(|i| self.expr(i)),
            ExprKind::Not(i) | ExprKind::Paren(i) => self.expr(i),
            ExprKind::Compare { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            ExprKind::Str(_) | ExprKind::Number { .. } | ExprKind::Bool(_) => {}
        }
    }
}
