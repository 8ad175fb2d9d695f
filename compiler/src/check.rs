//! Whole-set semantic checks: declarations and references, referenced files,
//! regexes, CIDRs, globs and URLs, route conflicts, expression types.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;

use warden_language::ast::*;
use warden_language::{Diagnostic, Span, edit_distance};

use crate::codes;
use crate::{FileDiagnostic, Loader, PolicySet};

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

/// Runs every whole-set check. Assumes every file parsed without errors.
pub fn check(set: &PolicySet, loader: &dyn Loader) -> Vec<FileDiagnostic> {
    let mut c = Checker { set, loader, out: Vec::new(), file: 0, symbols: Symbols::default(), loaded: HashSet::new() };
    c.collect();
    for (file, f) in set.files.iter().enumerate() {
        c.file = file;
        for decl in &f.parsed.file.decls {
            c.decl(decl);
        }
    }
    c.route_conflicts();
    c.out
}

/// A declaration and the file it is in.
type Decl2<'a, T> = (usize, &'a T);

#[derive(Default)]
struct Symbols<'a> {
    zones: BTreeMap<&'a str, Decl2<'a, Zone>>,
    limits: BTreeMap<&'a str, Decl2<'a, Limit>>,
    schemas: BTreeMap<&'a str, Decl2<'a, Schema>>,
    data: BTreeMap<&'a str, Decl2<'a, Data>>,
    apis: BTreeMap<&'a str, Decl2<'a, Api>>,
    resources: BTreeMap<&'a str, Decl2<'a, Resource>>,
    tests: BTreeMap<&'a str, Decl2<'a, Test>>,
}

struct Checker<'a> {
    set: &'a PolicySet,
    loader: &'a dyn Loader,
    out: Vec<FileDiagnostic>,
    file: usize,
    symbols: Symbols<'a>,
    /// Referenced files already checked (each is reported once).
    loaded: HashSet<(String, &'static str)>,
}

/// What a statement block is attached to, for attribute checks.
#[derive(Clone, Copy)]
enum Place<'a> {
    /// A limit's key.
    LimitKey,
    /// An api-level statement (applies to every route).
    Api { auth: Option<&'a AuthMethod> },
    /// A route.
    Route { template: &'a [PathSegment], body: Option<&'a Schema>, auth: Option<&'a AuthMethod> },
    /// A resource or action statement.
    Action { auth: Option<&'a AuthMethod> },
}

/// Types known at compile time; `Unknown` is anything (claims, data…).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Unknown,
    Str,
    Num,
    Bool,
    List,
    Object,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Unknown => "a value",
            Ty::Str => "a string",
            Ty::Num => "a number",
            Ty::Bool => "a boolean",
            Ty::List => "a list",
            Ty::Object => "an object",
        }
    }

    fn known(self) -> bool {
        self != Ty::Unknown
    }
}

impl<'a> Checker<'a> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.out.push(FileDiagnostic { file: self.file, diagnostic });
    }

    fn collect(&mut self) {
        let set = self.set;
        for (file, f) in set.files.iter().enumerate() {
            self.file = file;
            for decl in &f.parsed.file.decls {
                let (kind, name, span, first) = match decl {
                    Decl::Zone(d) => (
                        "zone",
                        d.name.name.as_str(),
                        d.name.span,
                        insert(&mut self.symbols.zones, &d.name.name, file, d),
                    ),
                    Decl::Limit(d) => (
                        "limit",
                        d.name.name.as_str(),
                        d.name.span,
                        insert(&mut self.symbols.limits, &d.name.name, file, d),
                    ),
                    Decl::Schema(d) => (
                        "schema",
                        d.name.name.as_str(),
                        d.name.span,
                        insert(&mut self.symbols.schemas, &d.name.name, file, d),
                    ),
                    Decl::Data(d) => (
                        "data",
                        d.name.name.as_str(),
                        d.name.span,
                        insert(&mut self.symbols.data, &d.name.name, file, d),
                    ),
                    Decl::Api(d) => (
                        "api",
                        d.name.name.as_str(),
                        d.name.span,
                        insert(&mut self.symbols.apis, &d.name.name, file, d),
                    ),
                    Decl::Resource(d) => (
                        "resource",
                        d.name.name.as_str(),
                        d.name.span,
                        insert(&mut self.symbols.resources, &d.name.name, file, d),
                    ),
                    Decl::Test(d) => (
                        "test",
                        d.name.value.as_str(),
                        d.name.span,
                        insert(&mut self.symbols.tests, &d.name.value, file, d),
                    ),
                };
                if let Some((first_file, first_start)) = first {
                    let at = set.location(first_file, first_start);
                    self.push(
                        Diagnostic::error(
                            codes::DUPLICATE_DECLARATION,
                            span,
                            format!("{kind} `{name}` is declared twice"),
                        )
                        .with_label("second declaration")
                        .with_help(format!("the first is at {at}; rename one of them")),
                    );
                }
                if matches!(decl, Decl::Schema(_)) && Builtin::parse(name).is_some() {
                    self.push(
                        Diagnostic::error(codes::DUPLICATE_DECLARATION, span, format!("`{name}` is a built-in type"))
                            .with_help("give the schema another name"),
                    );
                }
            }
        }
    }

    fn decl(&mut self, decl: &'a Decl) {
        match decl {
            Decl::Zone(z) => self.zone(z),
            Decl::Limit(l) => {
                for key in &l.keys {
                    self.expr(key, Place::LimitKey);
                }
            }
            Decl::Schema(s) => self.schema(s),
            Decl::Data(d) => self.json_file(&d.path, "data", |_| Ok(())),
            Decl::Api(a) => self.api(a),
            Decl::Resource(r) => self.resource(r),
            Decl::Test(t) => self.test(t),
        }
    }

    // ------------------------------------------------------------ files

    /// Reads a referenced JSON file once and checks its shape.
    fn json_file(&mut self, path: &Str, what: &'static str, shape: impl Fn(&serde_json::Value) -> Result<(), String>) {
        if !self.loaded.insert((path.value.clone(), what)) {
            return;
        }
        let problem = match self.loader.read(&path.value) {
            Err(reason) => Some((format!("cannot read {what} file `{}`: {reason}", path.value), true)),
            Ok(bytes) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Err(err) => Some((format!("{what} file `{}` is not valid JSON: {err}", path.value), false)),
                Ok(value) => shape(&value).err().map(|why| (format!("{what} file `{}` {why}", path.value), false)),
            },
        };
        if let Some((message, unreadable)) = problem {
            let mut diag = Diagnostic::error(codes::BAD_FILE, path.span, message).with_label("referenced here");
            if unreadable {
                diag = diag.with_help("paths are relative to the policy set's root directory");
            }
            self.push(diag);
        }
    }

    // ------------------------------------------------------------ zones

    fn zone(&mut self, zone: &'a Zone) {
        for item in &zone.items {
            match &item.node {
                ZoneItem::Issuer(issuer) => self.issuer(issuer),
                ZoneItem::RequireTls => {}
                ZoneItem::RequireMtls { peers } => {
                    for peer in peers {
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
                ZoneItem::Network { cidrs } => {
                    for cidr in cidrs {
                        self.cidr(cidr);
                    }
                }
            }
        }
    }

    fn cidr(&mut self, cidr: &Str) {
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

    fn url(&mut self, url: &Str, what: &str) {
        let ok =
            url::Url::parse(&url.value).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok {
            self.push(
                Diagnostic::error(codes::INVALID_URL, url.span, format!("`{}` is not a valid {what} URL", url.value))
                    .with_help("write an absolute `https://` URL"),
            );
        }
    }

    fn issuer(&mut self, issuer: &'a Issuer) {
        self.url(&issuer.url, "issuer");
        for item in &issuer.items {
            match &item.node {
                IssuerItem::JwksFile(path) => self.json_file(path, "JWKS", |v| match v.get("keys") {
                    Some(serde_json::Value::Array(keys)) if !keys.is_empty() => {
                        // The key set is copied into the graph for every gateway:
                        // it must hold public keys only.
                        const PRIVATE: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "k", "oth"];
                        for key in keys {
                            if let Some(member) = PRIVATE.iter().find(|m| key.get(**m).is_some()) {
                                return Err(format!(
                                    "holds private key material (`{member}`); publish public keys only"
                                ));
                            }
                            if key.get("kty").and_then(|k| k.as_str()) == Some("oct") {
                                return Err(
                                    "holds a symmetric (`oct`) key; use `secret file` for HS* secrets".to_owned()
                                );
                            }
                        }
                        Ok(())
                    }
                    _ => Err("has no `keys` array with at least one key".to_owned()),
                }),
                IssuerItem::JwksUrl { url, .. } => self.url(url, "JWKS"),
                IssuerItem::SecretFile(path) => {
                    if !self.loaded.insert((path.value.clone(), "secret")) {
                        continue;
                    }
                    match self.loader.read(&path.value) {
                        Ok(bytes) if !bytes.is_empty() => {}
                        Ok(_) => self.push(Diagnostic::error(
                            codes::BAD_FILE,
                            path.span,
                            format!("secret file `{}` is empty", path.value),
                        )),
                        Err(reason) => self.push(
                            Diagnostic::error(
                                codes::BAD_FILE,
                                path.span,
                                format!("cannot read secret file `{}`: {reason}", path.value),
                            )
                            .with_help("paths are relative to the policy set's root directory"),
                        ),
                    }
                }
                _ => {}
            }
        }
    }

    // ------------------------------------------------------------ schemas

    fn schema(&mut self, schema: &'a Schema) {
        for field in &schema.fields {
            self.type_expr(&field.ty);
        }
        // A required field whose type leads back to this schema can never be satisfied.
        let mut stack = vec![schema.name.name.as_str()];
        if let Some(path) = self.required_cycle(schema, &mut stack, &mut HashSet::new()) {
            self.push(
                Diagnostic::error(
                    codes::RECURSIVE_SCHEMA,
                    schema.name.span,
                    format!("schema `{}` contains itself: {path}", schema.name.name),
                )
                .with_help("make one field on the cycle optional (`field?: …`) or a list"),
            );
        }
    }

    /// A path of required fields from `stack[0]` back to itself. Each schema is
    /// explored once per search (`visited`), so the search is linear; depth is
    /// capped at 32, deeper than any body may nest.
    fn required_cycle(
        &self,
        schema: &'a Schema,
        stack: &mut Vec<&'a str>,
        visited: &mut HashSet<&'a str>,
    ) -> Option<String> {
        for field in schema.fields.iter().filter(|f| !f.optional) {
            let TypeKind::Named(name) = &field.ty.kind else { continue };
            let Some(&(_, next)) = self.symbols.schemas.get(name.name.as_str()) else { continue };
            if stack.first() == Some(&name.name.as_str()) {
                stack.push(name.name.as_str());
                return Some(stack.join(" → "));
            }
            if !visited.insert(name.name.as_str()) || stack.len() > 32 {
                continue;
            }
            stack.push(name.name.as_str());
            if let Some(path) = self.required_cycle(next, stack, visited) {
                return Some(path);
            }
            stack.pop();
        }
        None
    }

    fn type_expr(&mut self, ty: &TypeExpr) {
        match &ty.kind {
            TypeKind::Named(name) => {
                if Builtin::parse(&name.name).is_none() && !self.symbols.schemas.contains_key(name.name.as_str()) {
                    self.unknown(
                        codes::UNKNOWN_SCHEMA,
                        "schema",
                        &name.name,
                        name.span,
                        self.symbols.schemas.keys().copied().collect(),
                    );
                }
            }
            TypeKind::Enum(_) => {}
            TypeKind::Array(inner) => self.type_expr(inner),
        }
        for c in &ty.constraints {
            if let Constraint::Pattern(p) = &c.node {
                self.regex(p);
            }
        }
    }

    fn regex(&mut self, pattern: &Str) {
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

    fn unknown(&mut self, code: warden_language::Code, kind: &str, name: &str, span: Span, known: Vec<&str>) {
        let close = known.iter().find(|k| edit_distance(k, name) <= 2);
        let help = match close {
            Some(k) => format!("did you mean `{k}`?"),
            None if known.is_empty() => format!("declare it: no {kind} is declared in this policy set"),
            None => format!("declared: {}", known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")),
        };
        self.push(
            Diagnostic::error(code, span, format!("unknown {kind} `{name}`"))
                .with_label(format!("no such {kind}"))
                .with_help(help),
        );
    }

    fn zone_ref(&mut self, zone: &Ident) -> Option<&'a Zone> {
        match self.symbols.zones.get(zone.name.as_str()) {
            Some(&(_, z)) => Some(z),
            None => {
                self.unknown(
                    codes::UNKNOWN_ZONE,
                    "zone",
                    &zone.name,
                    zone.span,
                    self.symbols.zones.keys().copied().collect(),
                );
                None
            }
        }
    }

    // ------------------------------------------------------------ apis and resources

    fn auth_of<'s>(stmts: impl Iterator<Item = &'s Stmt>) -> Option<&'s AuthMethod> {
        stmts.filter_map(|s| if let StmtKind::Auth(m) = &s.node { Some(m) } else { None }).last()
    }

    fn api(&mut self, api: &'a Api) {
        let zone = self.zone_ref(&api.zone);
        let api_stmts: Vec<&'a Stmt> =
            api.items.iter().filter_map(|i| if let ApiItem::Stmt(s) = i { Some(s) } else { None }).collect();
        let api_auth = Self::auth_of(api_stmts.iter().copied());
        let api_allows = api_stmts.iter().any(|s| matches!(s.node, StmtKind::Allow(_)));
        self.stmts(api_stmts.iter().copied(), Place::Api { auth: api_auth }, zone);
        if !api.items.iter().any(|i| matches!(i, ApiItem::Route(_))) {
            self.push(
                Diagnostic::error(codes::NEVER_ALLOWS, api.name.span, format!("api `{}` has no routes", api.name.name))
                    .with_label("every request to it is denied")
                    .with_help("add a `route`, or remove the api"),
            );
        }
        for item in &api.items {
            if let ApiItem::Route(route) = item {
                let auth = Self::auth_of(route.stmts.iter()).or(api_auth);
                if auth.is_none() {
                    self.push(
                        Diagnostic::error(
                            codes::AUTH_MISMATCH,
                            route.method.span.to(route.path.span),
                            format!("route `{} {}` has no `auth`", route.method.node.as_str(), route.path.value),
                        )
                        .with_label("how callers authenticate is not said")
                        .with_help(
                            "add `auth bearer` (or another method, or `auth none` for public routes) to the api",
                        ),
                    );
                }
                // The effective body is the last `body` of the api and the route, as
                // lowering takes it; rules are typed against its schema only.
                let body = api_stmts
                    .iter()
                    .copied()
                    .chain(route.stmts.iter())
                    .filter_map(|s| if let StmtKind::Body(b) = &s.node { Some(b) } else { None })
                    .next_back()
                    .and_then(|b| match b {
                        BodySpec::Json { schema: Some(name), .. } => {
                            self.symbols.schemas.get(name.name.as_str()).map(|&(_, s)| s)
                        }
                        _ => None,
                    });
                self.stmts(route.stmts.iter(), Place::Route { template: &route.template, body, auth }, zone);
                if !api_allows && !route.stmts.iter().any(|s| matches!(s.node, StmtKind::Allow(_))) {
                    self.push(
                        Diagnostic::error(
                            codes::NEVER_ALLOWS,
                            route.method.span.to(route.path.span),
                            format!("route `{} {}` can never allow a request", route.method.node.as_str(), route.path.value),
                        )
                        .with_label("no `allow` here or on the api")
                        .with_help("add `allow` or `allow when …`; to refuse the route entirely, remove it (requests are denied by default)"),
                    );
                }
            }
        }
    }

    fn resource(&mut self, resource: &'a Resource) {
        let zone = self.zone_ref(&resource.zone);
        let stmts: Vec<&'a Stmt> =
            resource.items.iter().filter_map(|i| if let ResourceItem::Stmt(s) = i { Some(s) } else { None }).collect();
        let auth = Self::auth_of(stmts.iter().copied());
        let allows = stmts.iter().any(|s| matches!(s.node, StmtKind::Allow(_)));
        self.stmts(stmts.iter().copied(), Place::Action { auth }, zone);
        if !resource.items.iter().any(|i| matches!(i, ResourceItem::Action(_))) {
            self.push(
                Diagnostic::error(
                    codes::NEVER_ALLOWS,
                    resource.name.span,
                    format!("resource `{}` has no actions", resource.name.name),
                )
                .with_label("every check of it is denied")
                .with_help("add an `action`, or remove the resource"),
            );
        }
        for item in &resource.items {
            if let ResourceItem::Action(action) = item {
                let auth = Self::auth_of(action.stmts.iter()).or(auth);
                if auth.is_none() {
                    self.push(
                        Diagnostic::error(
                            codes::AUTH_MISMATCH,
                            action.name.span,
                            format!("action `{}` of `{}` has no `auth`", action.name.name, resource.name.name),
                        )
                        .with_label("how callers authenticate is not said")
                        .with_help("add `auth asserted` (or another method) to the resource"),
                    );
                }
                self.stmts(action.stmts.iter(), Place::Action { auth }, zone);
                if !allows && !action.stmts.iter().any(|s| matches!(s.node, StmtKind::Allow(_))) {
                    self.push(
                        Diagnostic::error(
                            codes::NEVER_ALLOWS,
                            action.name.span,
                            format!(
                                "action `{}` of `{}` can never allow a request",
                                action.name.name, resource.name.name
                            ),
                        )
                        .with_label("no `allow` here or on the resource")
                        .with_help("add `allow` or `allow when …`"),
                    );
                }
            }
        }
    }

    fn stmts<'s>(&mut self, stmts: impl Iterator<Item = &'s Stmt>, place: Place<'a>, zone: Option<&'a Zone>)
    where
        'a: 's,
    {
        for stmt in stmts {
            match &stmt.node {
                StmtKind::Auth(method) => self.auth(method, stmt.span, zone),
                StmtKind::Limit(names) => {
                    for name in names {
                        if !self.symbols.limits.contains_key(name.name.as_str()) {
                            self.unknown(
                                codes::UNKNOWN_LIMIT,
                                "limit",
                                &name.name,
                                name.span,
                                self.symbols.limits.keys().copied().collect(),
                            );
                        }
                    }
                }
                StmtKind::Body(BodySpec::Json { schema: Some(name), .. })
                    if !self.symbols.schemas.contains_key(name.name.as_str()) =>
                {
                    self.unknown(
                        codes::UNKNOWN_SCHEMA,
                        "schema",
                        &name.name,
                        name.span,
                        self.symbols.schemas.keys().copied().collect(),
                    );
                }
                StmtKind::Allow(Some(e)) | StmtKind::Deny(e) => {
                    let ty = self.expr(e, place);
                    if ty.known() && ty != Ty::Bool {
                        self.push(
                            Diagnostic::error(
                                codes::TYPE_MISMATCH,
                                e.span,
                                format!("a rule's condition must be a boolean, found {}", ty.name()),
                            )
                            .with_help("compare it with something, as in `claim.x == \"y\"`"),
                        );
                    }
                }
                StmtKind::UpstreamHeader { value, .. } => {
                    self.expr(value, place);
                }
                _ => {}
            }
        }
    }

    fn auth(&mut self, method: &AuthMethod, span: Span, zone: Option<&'a Zone>) {
        match method {
            AuthMethod::Bearer => {
                if let Some(zone) = zone
                    && !zone.items.iter().any(|i| matches!(i.node, ZoneItem::Issuer(_)))
                {
                    self.push(
                        Diagnostic::error(
                            codes::AUTH_MISMATCH,
                            span,
                            format!("`auth bearer` in zone `{}`, which trusts no issuer", zone.name.name),
                        )
                        .with_label("no token could ever be accepted")
                        .with_help("add an `issuer` to the zone, or use another authentication method"),
                    );
                }
            }
            AuthMethod::Mtls => {
                if let Some(zone) = zone
                    && !zone.items.iter().any(|i| matches!(i.node, ZoneItem::RequireMtls { .. }))
                {
                    self.push(
                        Diagnostic::error(
                            codes::AUTH_MISMATCH,
                            span,
                            format!("`auth mtls` in zone `{}`, which does not require mTLS", zone.name.name),
                        )
                        .with_label("requests without a client certificate would have no identity")
                        .with_help("add `require mtls` to the zone"),
                    );
                }
            }
            AuthMethod::ClientSecret { file } => self.json_file(file, "client", |v| match v.as_object() {
                Some(map) if map.values().all(|h| h.as_str().is_some_and(is_sha256_hex)) => Ok(()),
                Some(_) => Err("must map each client id to the SHA-256 hex of its secret".to_owned()),
                None => Err("must be a JSON object".to_owned()),
            }),
            AuthMethod::ApiKey { file, .. } => self.json_file(file, "API key", |v| match v.as_object() {
                Some(map) if map.iter().all(|(k, c)| is_sha256_hex(k) && c.is_object()) => Ok(()),
                Some(_) => Err("must map the SHA-256 hex of each key to an object of claims".to_owned()),
                None => Err("must be a JSON object".to_owned()),
            }),
            AuthMethod::Asserted | AuthMethod::None => {}
        }
    }

    // ------------------------------------------------------------ expressions

    fn attr_error(&mut self, span: Span, message: String, help: &str) -> Ty {
        self.push(Diagnostic::error(codes::UNKNOWN_ATTRIBUTE, span, message).with_help(help.to_owned()));
        Ty::Unknown
    }

    fn expr(&mut self, e: &Expr, place: Place<'a>) -> Ty {
        match &e.kind {
            ExprKind::Str(_) => Ty::Str,
            ExprKind::Number { .. } => Ty::Num,
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::List(items) => {
                for i in items {
                    self.expr(i, place);
                }
                Ty::List
            }
            ExprKind::Attr { root, path } => {
                for seg in path {
                    if let SegmentKind::Index(i) = &seg.kind {
                        self.expr(i, place);
                    }
                }
                self.attr(root, path, e.span, place)
            }
            ExprKind::Access { base, path } => {
                self.expr(base, place);
                for seg in path {
                    if let SegmentKind::Index(i) = &seg.kind {
                        self.expr(i, place);
                    }
                }
                Ty::Unknown
            }
            ExprKind::Call { func, args } => self.call(func.node, args, place),
            ExprKind::Not(inner) => {
                let t = self.expr(inner, place);
                self.expect_bool(t, inner, "`not`");
                Ty::Bool
            }
            ExprKind::And(items) | ExprKind::Or(items) => {
                let word = if matches!(e.kind, ExprKind::And(_)) { "`and`" } else { "`or`" };
                for i in items {
                    let t = self.expr(i, place);
                    self.expect_bool(t, i, word);
                }
                Ty::Bool
            }
            ExprKind::Compare { op, lhs, rhs } => {
                let l = self.expr(lhs, place);
                let r = self.expr(rhs, place);
                self.compare(op, l, r, e.span);
                Ty::Bool
            }
            ExprKind::Paren(inner) => self.expr(inner, place),
        }
    }

    fn expect_bool(&mut self, t: Ty, e: &Expr, word: &str) {
        if t.known() && t != Ty::Bool {
            self.push(
                Diagnostic::error(codes::TYPE_MISMATCH, e.span, format!("{word} needs a boolean, found {}", t.name()))
                    .with_help("compare the value with something first"),
            );
        }
    }

    fn compare(&mut self, op: &Spanned<CmpOp>, l: Ty, r: Ty, span: Span) {
        let problem = match op.node {
            CmpOp::Eq | CmpOp::Ne if l.known() && r.known() && l != r => Some(format!(
                "`{}` compares {} with {}: it is always {}",
                op.node.as_str(),
                l.name(),
                r.name(),
                op.node == CmpOp::Ne
            )),
            CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => {
                let orderable = |t: Ty| matches!(t, Ty::Unknown | Ty::Num | Ty::Str);
                if !orderable(l) || !orderable(r) {
                    Some(format!("`{}` orders numbers or strings, not {} and {}", op.node.as_str(), l.name(), r.name()))
                } else if l.known() && r.known() && l != r {
                    Some(format!("`{}` compares {} with {}", op.node.as_str(), l.name(), r.name()))
                } else {
                    None
                }
            }
            CmpOp::In | CmpOp::NotIn => match r {
                Ty::Num | Ty::Bool => Some(format!(
                    "`{}` needs a list, an object or a string on its right, found {}",
                    op.node.as_str(),
                    r.name()
                )),
                Ty::Str if l.known() && l != Ty::Str => Some(format!(
                    "`{}` on a string looks for a substring, but the left side is {}",
                    op.node.as_str(),
                    l.name()
                )),
                _ => None,
            },
            _ => None,
        };
        if let Some(message) = problem {
            self.push(Diagnostic::error(codes::TYPE_MISMATCH, span, message).with_label("types known at compile time"));
        }
    }

    fn call(&mut self, func: Func, args: &[Expr], place: Place<'a>) -> Ty {
        let types: Vec<Ty> = args.iter().map(|a| self.expr(a, place)).collect();
        let want_str = |c: &mut Self, i: usize| {
            if let (Some(t), Some(a)) = (types.get(i), args.get(i))
                && t.known()
                && *t != Ty::Str
            {
                c.push(Diagnostic::error(
                    codes::TYPE_MISMATCH,
                    a.span,
                    format!("`{}` takes a string here, found {}", func.as_str(), t.name()),
                ));
            }
        };
        match func {
            Func::Has => Ty::Bool,
            Func::StartsWith | Func::EndsWith => {
                want_str(self, 0);
                want_str(self, 1);
                Ty::Bool
            }
            Func::Lower => {
                want_str(self, 0);
                Ty::Str
            }
            Func::Len => {
                if let (Some(t), Some(a)) = (types.first(), args.first())
                    && matches!(t, Ty::Num | Ty::Bool)
                {
                    self.push(Diagnostic::error(
                        codes::TYPE_MISMATCH,
                        a.span,
                        format!("`len` takes a string, list or object, found {}", t.name()),
                    ));
                }
                Ty::Num
            }
            Func::Matches | Func::InCidr => {
                want_str(self, 0);
                match args.get(1).map(|a| (&a.kind, a.span)) {
                    Some((ExprKind::Str(text), span)) => {
                        let lit = Str { value: text.clone(), span };
                        if func == Func::Matches { self.regex(&lit) } else { self.cidr(&lit) }
                    }
                    Some((_, span)) => self.push(
                        Diagnostic::error(
                            codes::TYPE_MISMATCH,
                            span,
                            format!("the second argument of `{}` must be a string literal", func.as_str()),
                        )
                        .with_help("patterns and ranges are compiled once, when the policy loads"),
                    ),
                    None => {}
                }
                Ty::Bool
            }
        }
    }

    fn attr(&mut self, root: &Spanned<Root>, path: &[Segment], span: Span, place: Place<'a>) -> Ty {
        let first_field = path.first().and_then(|s| match &s.kind {
            SegmentKind::Field(f) => Some(f.as_str()),
            SegmentKind::Index(Expr { kind: ExprKind::Str(s), .. }) => Some(s.as_str()),
            SegmentKind::Index(_) => None,
        });
        let in_action = matches!(place, Place::Action { .. });
        let auth = match place {
            Place::Api { auth } | Place::Route { auth, .. } | Place::Action { auth } => auth,
            Place::LimitKey => None,
        };
        match root.node {
            Root::Claim => {
                if matches!(auth, Some(AuthMethod::None)) {
                    return self.attr_error(
                        span,
                        "`claim` under `auth none` is always missing".to_owned(),
                        "with `auth none` there is no identity; test `source`, `header` or `request` instead",
                    );
                }
                Ty::Unknown
            }
            Root::Path => match place {
                Place::Route { template, .. } => {
                    let Some(name) = first_field else { return Ty::Str };
                    let known =
                        template.iter().any(|s| matches!(s, PathSegment::Param(p) | PathSegment::Tail(p) if p == name));
                    if !known {
                        let params: Vec<String> = template
                            .iter()
                            .filter_map(|s| match s {
                                PathSegment::Param(p) | PathSegment::Tail(p) => Some(format!("`{p}`")),
                                PathSegment::Literal(_) => None,
                            })
                            .collect();
                        let help = if params.is_empty() {
                            "this route has no parameters".to_owned()
                        } else {
                            format!("its parameters are {}", params.join(", "))
                        };
                        return self.attr_error(span, format!("the route has no path parameter `{name}`"), &help);
                    }
                    if path.len() > 1 {
                        return self.attr_error(
                            span,
                            format!("`path.{name}` is a string: it has no fields"),
                            "compare the whole parameter",
                        );
                    }
                    Ty::Str
                }
                Place::Action { .. } => self.attr_error(
                    span,
                    "`path` does not exist in a resource action".to_owned(),
                    "actions are asked about resources, not URLs; use `resource.…` or `context.…`",
                ),
                _ => Ty::Str,
            },
            Root::Query | Root::Header => {
                if path.len() > 1 {
                    return self.attr_error(
                        span,
                        format!("`{}` values are strings: they have no fields", root.node.as_str()),
                        "compare the whole value",
                    );
                }
                Ty::Str
            }
            Root::Request => match first_field {
                Some("method" | "path" | "host" | "scheme") if path.len() == 1 => Ty::Str,
                Some(other) => self.attr_error(
                    span,
                    format!("unknown attribute `request.{other}`"),
                    "`request` has `method`, `path`, `host` and `scheme`",
                ),
                None => Ty::Unknown,
            },
            Root::Source => match first_field {
                Some("ip") if path.len() == 1 => Ty::Str,
                Some(other) => {
                    self.attr_error(span, format!("unknown attribute `source.{other}`"), "`source` has `ip`")
                }
                None => Ty::Unknown,
            },
            Root::Peer => match first_field {
                Some("principal") if path.len() == 1 => Ty::Str,
                Some(other) => {
                    self.attr_error(span, format!("unknown attribute `peer.{other}`"), "`peer` has `principal`")
                }
                None => Ty::Unknown,
            },
            Root::Resource | Root::Context => {
                if !in_action {
                    return self.attr_error(
                        span,
                        format!("`{}` exists only in resource actions", root.node.as_str()),
                        "api routes are asked about HTTP requests; use `path`, `query`, `header` or `body`",
                    );
                }
                Ty::Unknown
            }
            Root::Data => {
                let Some(name) = first_field else { return Ty::Unknown };
                if !self.symbols.data.contains_key(name) {
                    self.unknown(codes::UNKNOWN_DATA, "data", name, span, self.symbols.data.keys().copied().collect());
                }
                Ty::Unknown
            }
            Root::Body => match place {
                Place::Route { body: Some(schema), .. } => self.body_path(schema, path),
                Place::LimitKey => self.attr_error(
                    span,
                    "a limit cannot be keyed by the body".to_owned(),
                    "limits are counted before the body is read; key them by `source`, `header`, `claim`…",
                ),
                Place::Action { .. } => {
                    self.attr_error(span, "`body` does not exist in a resource action".to_owned(), "use `context.…`")
                }
                _ => Ty::Unknown,
            },
        }
    }

    /// Follows `body.a.b` through the route's schema.
    fn body_path(&mut self, schema: &'a Schema, path: &[Segment]) -> Ty {
        let mut current: Option<&'a Schema> = Some(schema);
        let mut ty: Option<&'a TypeExpr> = None;
        for seg in path {
            let SegmentKind::Field(name) = &seg.kind else { return Ty::Unknown };
            let Some(s) = current else {
                return match ty.map(|t| &t.kind) {
                    Some(TypeKind::Named(n)) if n.name == "any" => Ty::Unknown,
                    Some(_) => self.attr_error(
                        seg.span,
                        format!("`{name}` is not a field: the value before it is not an object"),
                        "check the schema",
                    ),
                    None => Ty::Unknown,
                };
            };
            match s.fields.iter().find(|f| f.name.name == *name) {
                Some(field) => {
                    ty = Some(&field.ty);
                    current = match &field.ty.kind {
                        TypeKind::Named(n) => self.symbols.schemas.get(n.name.as_str()).map(|&(_, s)| s),
                        _ => None,
                    };
                }
                None if s.open => return Ty::Unknown,
                None => {
                    let fields: Vec<String> = s.fields.iter().map(|f| format!("`{}`", f.name.name)).collect();
                    self.push(
                        Diagnostic::error(
                            codes::UNKNOWN_BODY_FIELD,
                            seg.span,
                            format!("schema `{}` has no field `{name}`", s.name.name),
                        )
                        .with_label("not in the schema")
                        .with_help(format!("its fields are {}", fields.join(", "))),
                    );
                    return Ty::Unknown;
                }
            }
        }
        match ty.map(|t| &t.kind) {
            Some(TypeKind::Named(n)) => match Builtin::parse(&n.name) {
                Some(Builtin::String) => Ty::Str,
                Some(Builtin::Integer | Builtin::Number) => Ty::Num,
                Some(Builtin::Boolean) => Ty::Bool,
                Some(Builtin::Any) | None if current.is_none() => Ty::Unknown,
                _ => Ty::Object,
            },
            Some(TypeKind::Enum(_)) => Ty::Str,
            Some(TypeKind::Array(_)) => Ty::List,
            None => Ty::Object,
        }
    }

    // ------------------------------------------------------------ tests

    fn test(&mut self, test: &'a Test) {
        self.steps(&test.steps);
    }

    fn steps(&mut self, steps: &'a [Step]) {
        for step in steps {
            match &step.node {
                StepKind::Check(check) => match self.symbols.resources.get(check.resource_type.name.as_str()) {
                    None => self.unknown(
                        codes::UNKNOWN_RESOURCE,
                        "resource",
                        &check.resource_type.name,
                        check.resource_type.span,
                        self.symbols.resources.keys().copied().collect(),
                    ),
                    Some(&(_, resource)) => {
                        let actions: Vec<&str> = resource
                            .items
                            .iter()
                            .filter_map(
                                |i| if let ResourceItem::Action(a) = i { Some(a.name.name.as_str()) } else { None },
                            )
                            .collect();
                        if !actions.contains(&check.action.name.as_str()) {
                            self.unknown(
                                codes::UNKNOWN_RESOURCE,
                                "action",
                                &check.action.name,
                                check.action.span,
                                actions,
                            );
                        }
                    }
                },
                StepKind::Repeat { steps, .. } => self.steps(steps),
                _ => {}
            }
        }
    }

    // ------------------------------------------------------------ routes

    /// Two routes that match exactly the same requests: same host, method and
    /// path shape (parameter names do not matter), prefix included.
    fn route_conflicts(&mut self) {
        let mut seen: BTreeMap<RouteKey, (usize, Span, String)> = BTreeMap::new();
        let set = self.set;
        for (file, f) in set.files.iter().enumerate() {
            for decl in &f.parsed.file.decls {
                let Decl::Api(api) = decl else { continue };
                let host = api.items.iter().find_map(|i| {
                    if let ApiItem::Host(h) = i { Some(h.node.value.to_ascii_lowercase()) } else { None }
                });
                let prefix = api
                    .items
                    .iter()
                    .find_map(|i| if let ApiItem::Prefix(p) = i { Some(p.node.value.clone()) } else { None });
                for item in &api.items {
                    let ApiItem::Route(route) = item else { continue };
                    let mut shape = prefix.clone().unwrap_or_default();
                    for seg in &route.template {
                        shape.push('/');
                        match seg {
                            PathSegment::Literal(l) => shape.push_str(l),
                            PathSegment::Param(_) => shape.push_str("{}"),
                            PathSegment::Tail(_) => shape.push_str("{*}"),
                        }
                    }
                    let shown = format!(
                        "{} {}{}",
                        route.method.node.as_str(),
                        prefix.clone().unwrap_or_default(),
                        route.path.value
                    );
                    let key = (host.clone(), route.method.node, shape);
                    let span = route.method.span.to(route.path.span);
                    match seen.get(&key) {
                        Some((first_file, first_span, first_shown)) => {
                            let at = set.location(*first_file, first_span.start());
                            self.out.push(FileDiagnostic {
                                file,
                                diagnostic: Diagnostic::error(
                                    codes::ROUTE_CONFLICT,
                                    span,
                                    format!("route `{shown}` matches exactly the same requests as `{first_shown}`"),
                                )
                                .with_label("conflicting route")
                                .with_help(format!(
                                    "the other route is at {at}; merge them, or tell them apart by host or path"
                                )),
                            });
                        }
                        None => {
                            seen.insert(key, (file, span, format!("{shown}` of api `{}", api.name.name)));
                        }
                    }
                }
            }
        }
    }
}

/// Host, method and path shape: two routes with the same key conflict.
type RouteKey = (Option<String>, Method, String);

fn insert<'a, T>(
    map: &mut BTreeMap<&'a str, Decl2<'a, T>>,
    name: &'a str,
    file: usize,
    decl: &'a T,
) -> Option<(usize, usize)>
where
    T: Spanning,
{
    match map.get(name) {
        Some(&(first_file, first)) => Some((first_file, first.name_start())),
        None => {
            map.insert(name, (file, decl));
            None
        }
    }
}

/// Where a declaration's name starts, for "first declared at" messages.
trait Spanning {
    fn name_start(&self) -> usize;
}

macro_rules! spanning {
    ($($t:ty => $field:ident),*) => {
        $(impl Spanning for $t {
            fn name_start(&self) -> usize {
                self.$field.span.start()
            }
        })*
    };
}
spanning!(Zone => name, Limit => name, Schema => name, Data => name, Api => name, Resource => name, Test => name);

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}
