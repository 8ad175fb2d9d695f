//! Lowering: a checked policy set (ASTs plus referenced files) → the decision graph.
//!
//! Names are resolved to indexes and slots, expressions are folded and
//! interned (an identical sub-expression is stored once), and each route or
//! action becomes a flat list of steps in decision-table order. Lowering runs
//! only on a set without errors; where it still meets something unexpected it
//! skips it rather than panic.

use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};
use warden_language::ast::{
    self, Algorithm, Api, ApiItem, AuthMethod, BackendErrorPolicy, BodySpec, Builtin, CmpOp, Constraint, Decl,
    ExprKind, Func, IssuerItem, Method, PathSegment, Resource, ResourceItem, Root, Segment, SegmentKind, Stmt,
    StmtKind, TypeExpr, TypeKind, ZoneItem,
};
use warden_language::{LineIndex, Span};

use crate::graph::{
    self, AllowRule, Auth, BodyAccept, CredentialTable, DataDoc, Endpoint, EndpointKind, Expr, ExprId, GRAPH_VERSION,
    Graph, HostRoutes, Key, KeySource, LimitStage, MethodEndpoint, Names, Origin, ResourceType, RouteIndex,
    SchemaField, SchemaType, SecretSource, Step, StepKind, TrieNode,
};
use crate::{Loader, PolicySet};

/// Default largest body (LANGUAGE.md: 1 MiB).
pub const DEFAULT_MAX_BODY: u64 = 1 << 20;
/// Default clock-skew allowance.
const DEFAULT_LEEWAY_MS: u64 = 30_000;
/// Default JWKS refresh period.
const DEFAULT_REFRESH_MS: u64 = 5 * 60_000;

/// Lowers a policy set that [`crate::diagnostics`] found no errors in.
pub fn lower(set: &PolicySet, loader: &dyn Loader) -> Graph {
    let mut l = Lowerer {
        set,
        loader,
        lines: set.files.iter().map(|f| LineIndex::new(&f.text)).collect(),
        file: 0,
        g: Graph {
            version: GRAPH_VERSION,
            revision: String::new(),
            sources: set.files.iter().map(|f| f.path.clone()).collect(),
            zones: Vec::new(),
            issuers: Vec::new(),
            limits: Vec::new(),
            schemas: Vec::new(),
            data: Vec::new(),
            credentials: Vec::new(),
            regexes: Vec::new(),
            cidrs: Vec::new(),
            names: Names::default(),
            exprs: Vec::new(),
            endpoints: Vec::new(),
            routes: RouteIndex::default(),
            resources: Vec::new(),
        },
        interned: HashMap::new(),
        zones: BTreeMap::new(),
        limits: BTreeMap::new(),
        schemas: BTreeMap::new(),
        data: BTreeMap::new(),
        credentials: HashMap::new(),
        referenced: BTreeMap::new(),
        pending: Vec::new(),
        tables: HashMap::new(),
    };
    l.run();
    l.g
}

struct Lowerer<'a> {
    set: &'a PolicySet,
    loader: &'a dyn Loader,
    lines: Vec<LineIndex>,
    file: usize,
    g: Graph,
    interned: HashMap<String, ExprId>,
    zones: BTreeMap<&'a str, u32>,
    limits: BTreeMap<&'a str, u32>,
    schemas: BTreeMap<&'a str, u32>,
    data: BTreeMap<&'a str, u32>,
    credentials: HashMap<String, u32>,
    /// Referenced files and their bytes, for the revision.
    referenced: BTreeMap<String, Vec<u8>>,
    /// Routes for the index: host, full segments, method, endpoint.
    pending: Vec<(Option<String>, Vec<PathSegment>, Method, u32)>,
    /// Where each string already stands in its table.
    tables: HashMap<(Table, String), u32>,
}

/// What an expression may refer to.
#[derive(Clone, Copy)]
struct Scope<'s> {
    params: &'s [String],
}

impl<'a> Lowerer<'a> {
    fn decls(&self) -> impl Iterator<Item = (usize, &'a Decl)> + use<'a> {
        let set: &'a PolicySet = self.set;
        set.files.iter().enumerate().flat_map(|(i, f)| f.parsed.file.decls.iter().map(move |d| (i, d)))
    }

    fn origin(&self, span: Span) -> Origin {
        let (line, column) = match (self.lines.get(self.file), self.set.files.get(self.file)) {
            (Some(index), Some(f)) => {
                let pos = index.line_col(&f.text, span.start());
                (pos.line, pos.column)
            }
            _ => (0, 0),
        };
        Origin {
            source: u32::try_from(self.file).unwrap_or(u32::MAX),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
            span: [span.start, span.end],
        }
    }

    fn read_json(&mut self, path: &str) -> serde_json::Value {
        let bytes = self.loader.read(path).unwrap_or_default();
        let value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        self.referenced.insert(path.to_owned(), bytes);
        sorted(value)
    }

    fn run(&mut self) {
        // Declarations that others refer to get their indexes first.
        for (file, decl) in self.decls() {
            self.file = file;
            match decl {
                Decl::Zone(z) => self.zone(z),
                Decl::Schema(s) => {
                    let id = len_u32(&self.schemas);
                    self.schemas.insert(&s.name.name, id);
                }
                Decl::Data(d) => {
                    let value = self.read_json(&d.path.value);
                    let id = len_u32(&self.g.data);
                    self.data.insert(&d.name.name, id);
                    self.g.data.push(DataDoc { name: d.name.name.clone(), path: d.path.value.clone(), value });
                }
                _ => {}
            }
        }
        for (file, decl) in self.decls() {
            self.file = file;
            match decl {
                Decl::Schema(s) => {
                    let schema = self.schema(s);
                    self.g.schemas.push(schema);
                }
                Decl::Limit(limit) => self.limit(limit),
                _ => {}
            }
        }
        for (file, decl) in self.decls() {
            self.file = file;
            match decl {
                Decl::Api(api) => self.api(api),
                Decl::Resource(resource) => self.resource(resource),
                _ => {}
            }
        }
        self.route_index();
        let prints: Vec<String> = self.g.limits.iter().map(|l| crate::fingerprint::limit(&self.g, l)).collect();
        for (l, print) in self.g.limits.iter_mut().zip(prints) {
            l.fingerprint = print;
        }
        self.g.revision = self.revision();
    }

    /// A digest of content only: each file's text with its path relative to
    /// the set (see [`relative_paths`]), and each referenced file's bytes with
    /// the path the policy wrote. So `warden compile policies/bank`, the same
    /// set loaded as `/srv/policies/bank/` by the service, and a copy of it
    /// elsewhere, all carry the same revision.
    fn revision(&self) -> String {
        let mut h = Sha256::new();
        let mut feed = |name: &str, bytes: &[u8]| {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        let paths: Vec<&str> = self.set.files.iter().map(|f| f.path.as_str()).collect();
        for (f, path) in self.set.files.iter().zip(relative_paths(&paths)) {
            feed(&path, f.text.as_bytes());
        }
        for (path, bytes) in &self.referenced {
            feed(path, bytes);
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    // ------------------------------------------------------------ zones

    fn zone(&mut self, zone: &'a ast::Zone) {
        let id = len_u32(&self.g.zones);
        self.zones.insert(&zone.name.name, id);
        let mut out = graph::Zone {
            name: zone.name.name.clone(),
            require_tls: false,
            mtls_peers: None,
            networks: Vec::new(),
            issuers: Vec::new(),
            origin: self.origin(zone.name.span),
        };
        for item in &zone.items {
            match &item.node {
                ZoneItem::RequireTls => out.require_tls = true,
                ZoneItem::RequireMtls { peers } => {
                    out.mtls_peers.get_or_insert_with(Vec::new).extend(peers.iter().map(|p| p.value.clone()));
                }
                ZoneItem::Network { cidrs } => out.networks.extend(cidrs.iter().map(|c| c.value.trim().to_owned())),
                ZoneItem::Issuer(issuer) => {
                    let issuer = self.issuer(issuer, id);
                    out.issuers.push(len_u32(&self.g.issuers));
                    self.g.issuers.push(issuer);
                }
            }
        }
        self.g.zones.push(out);
    }

    fn issuer(&mut self, issuer: &ast::Issuer, zone: u32) -> graph::Issuer {
        let mut out = graph::Issuer {
            zone,
            iss: issuer.url.value.clone(),
            keys: None,
            secret: None,
            audiences: Vec::new(),
            algorithms: vec![Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA],
            leeway_ms: DEFAULT_LEEWAY_MS,
            scopes_claim: "scope".to_owned(),
            origin: self.origin(issuer.url.span),
        };
        for item in &issuer.items {
            match &item.node {
                IssuerItem::JwksFile(path) => {
                    let jwks = self.read_json(&path.value);
                    out.keys = Some(KeySource::File { path: path.value.clone(), jwks });
                }
                IssuerItem::JwksUrl { url, refresh } => {
                    out.keys = Some(KeySource::Url {
                        url: url.value.clone(),
                        refresh_ms: refresh.as_ref().map_or(DEFAULT_REFRESH_MS, ast::Duration::millis),
                    });
                }
                IssuerItem::Audience(values) => out.audiences.extend(values.iter().map(|v| v.value.clone())),
                IssuerItem::Algorithms(algs) => out.algorithms = algs.iter().map(|a| a.node).collect(),
                IssuerItem::Leeway(d) => out.leeway_ms = d.millis(),
                IssuerItem::ScopesFrom(claim) => out.scopes_claim = claim.value.clone(),
                IssuerItem::SecretFile(path) => {
                    // Neither the secret nor a hash of it enters the graph or the
                    // revision (which decisions carry): only where it comes from.
                    out.secret = Some(SecretSource::File(path.value.clone()));
                }
                IssuerItem::SecretEnv(var) => out.secret = Some(SecretSource::Env(var.value.clone())),
            }
        }
        out
    }

    // ------------------------------------------------------------ schemas and limits

    fn schema(&mut self, schema: &ast::Schema) -> graph::Schema {
        graph::Schema {
            name: schema.name.name.clone(),
            open: schema.open,
            fields: schema
                .fields
                .iter()
                .map(|f| SchemaField { name: f.name.name.clone(), optional: f.optional, ty: self.schema_type(&f.ty) })
                .collect(),
        }
    }

    fn schema_type(&mut self, ty: &TypeExpr) -> SchemaType {
        let num = |kw: &str| {
            ty.constraints.iter().rev().find_map(|c| match (&c.node, kw) {
                (Constraint::Min(n), "min") | (Constraint::Max(n), "max") => Some(n.value),
                _ => None,
            })
        };
        let int = |kw: &str| {
            ty.constraints.iter().rev().find_map(|c| match (&c.node, kw) {
                (Constraint::MinLen(n), "min_len")
                | (Constraint::MaxLen(n), "max_len")
                | (Constraint::MinItems(n), "min_items")
                | (Constraint::MaxItems(n), "max_items") => Some(*n),
                _ => None,
            })
        };
        match &ty.kind {
            TypeKind::Enum(values) => SchemaType::Enum(values.iter().map(|v| v.value.clone()).collect()),
            TypeKind::Array(inner) => SchemaType::Array {
                items: Box::new(self.schema_type(inner)),
                min_items: int("min_items"),
                max_items: int("max_items"),
            },
            TypeKind::Named(name) => match Builtin::parse(&name.name) {
                Some(Builtin::String) => {
                    let pattern = ty.constraints.iter().rev().find_map(|c| match &c.node {
                        Constraint::Pattern(p) => Some(p.value.clone()),
                        _ => None,
                    });
                    SchemaType::String {
                        min_len: int("min_len"),
                        max_len: int("max_len"),
                        pattern: pattern.map(|p| self.table(Table::Regex, p)),
                        format: ty.constraints.iter().rev().find_map(|c| match &c.node {
                            Constraint::Format(f) => Some(*f),
                            _ => None,
                        }),
                    }
                }
                Some(Builtin::Integer) => SchemaType::Integer { min: num("min"), max: num("max") },
                Some(Builtin::Number) => SchemaType::Number { min: num("min"), max: num("max") },
                Some(Builtin::Boolean) => SchemaType::Boolean,
                Some(Builtin::Any) => SchemaType::Any,
                None => self.schemas.get(name.name.as_str()).map_or(SchemaType::Any, |&id| SchemaType::Ref(id)),
            },
        }
    }

    fn limit(&mut self, limit: &'a ast::Limit) {
        let scope = Scope { params: &[] };
        let keys: Vec<ExprId> = limit.keys.iter().map(|k| self.expr(k, scope)).collect();
        let pre = limit.keys.iter().all(pre_auth_key);
        let id = len_u32(&self.g.limits);
        self.limits.insert(&limit.name.name, id);
        self.g.limits.push(graph::Limit {
            name: limit.name.name.clone(),
            count: limit.count.node,
            period_ms: limit.period.millis(),
            burst: limit.burst.as_ref().map_or(limit.count.node, |b| b.node),
            keys,
            // Validation has refused a prefix above 128.
            ipv6_prefix: limit
                .ipv6_prefix
                .as_ref()
                .map_or(graph::DEFAULT_IPV6_PREFIX, |p| u8::try_from(p.node.min(128)).unwrap_or(128)),
            stage: if pre { LimitStage::PreAuth } else { LimitStage::PostAuth },
            on_backend_error: limit.on_backend_error.as_ref().map_or(BackendErrorPolicy::Allow, |p| p.node),
            // Set once every expression is lowered (names resolved).
            fingerprint: String::new(),
            origin: self.origin(limit.name.span),
        });
    }

    // ------------------------------------------------------------ endpoints

    fn api(&mut self, api: &'a Api) {
        let Some(&zone) = self.zones.get(api.zone.name.as_str()) else { return };
        let prefix =
            api.items.iter().find_map(|i| if let ApiItem::Prefix(p) = i { Some(p.node.value.clone()) } else { None });
        let shared: Vec<&'a Stmt> =
            api.items.iter().filter_map(|i| if let ApiItem::Stmt(s) = i { Some(s) } else { None }).collect();
        let host = api
            .items
            .iter()
            .find_map(|i| if let ApiItem::Host(h) = i { Some(h.node.value.to_ascii_lowercase()) } else { None });
        let prefix_segments: Vec<PathSegment> = prefix
            .as_deref()
            .map(|p| p.split('/').filter(|s| !s.is_empty()).map(|s| PathSegment::Literal(s.to_owned())).collect())
            .unwrap_or_default();
        for item in &api.items {
            let ApiItem::Route(route) = item else { continue };
            let segments: Vec<PathSegment> = prefix_segments.iter().chain(route.template.iter()).cloned().collect();
            self.pending.push((host.clone(), segments, route.method.node, len_u32(&self.g.endpoints)));
            let path = format!(
                "{}{}",
                prefix.clone().unwrap_or_default(),
                if route.path.value == "/" && prefix.is_some() { "" } else { route.path.value.as_str() }
            );
            let id = format!("{}.{} {}", api.name.name, route.method.node.as_str(), path);
            let params: Vec<String> = route
                .template
                .iter()
                .filter_map(|s| match s {
                    PathSegment::Param(p) | PathSegment::Tail(p) => Some(p.clone()),
                    PathSegment::Literal(_) => None,
                })
                .collect();
            let kind = EndpointKind::Route { api: api.name.name.clone(), method: route.method.node, path };
            let span = route.method.span.to(route.path.span);
            self.endpoint(id, kind, zone, params, &shared, &route.stmts, span);
        }
    }

    fn resource(&mut self, resource: &'a Resource) {
        let Some(&zone) = self.zones.get(resource.zone.name.as_str()) else { return };
        let shared: Vec<&'a Stmt> =
            resource.items.iter().filter_map(|i| if let ResourceItem::Stmt(s) = i { Some(s) } else { None }).collect();
        let mut actions = Vec::new();
        for item in &resource.items {
            let ResourceItem::Action(action) = item else { continue };
            let id = format!("{}.{}", resource.name.name, action.name.name);
            let kind = EndpointKind::Action { resource: resource.name.name.clone(), action: action.name.name.clone() };
            actions.push((action.name.name.clone(), len_u32(&self.g.endpoints)));
            self.endpoint(id, kind, zone, Vec::new(), &shared, &action.stmts, action.name.span);
        }
        actions.sort();
        self.g.resources.push(ResourceType { name: resource.name.name.clone(), zone, actions });
    }

    #[expect(clippy::too_many_arguments, reason = "one call per endpoint kind; a struct would only rename the list")]
    fn endpoint(
        &mut self,
        id: String,
        kind: EndpointKind,
        zone: u32,
        params: Vec<String>,
        shared: &[&'a Stmt],
        own: &'a [Stmt],
        span: Span,
    ) {
        let origin = self.origin(span);
        let stmts: Vec<&'a Stmt> = shared.iter().copied().chain(own.iter()).collect();
        let step = |kind: StepKind, rule: &str, origin: Origin| Step { kind, rule: rule.to_owned(), origin };
        let mut steps = Vec::new();

        if let Some(z) = self.g.zones.get(zone as usize)
            && (z.require_tls || z.mtls_peers.is_some() || !z.networks.is_empty())
        {
            let kind = StepKind::Transport {
                require_tls: z.require_tls,
                mtls_peers: z.mtls_peers.clone(),
                networks: z.networks.clone(),
            };
            steps.push(step(kind, &id, z.origin));
        }

        // Limits, each once, in the order written; split by stage.
        let mut limits: Vec<(u32, Origin)> = Vec::new();
        for s in &stmts {
            if let StmtKind::Limit(names) = &s.node {
                for name in names {
                    if let Some(&l) = self.limits.get(name.name.as_str())
                        && !limits.iter().any(|(x, _)| *x == l)
                    {
                        limits.push((l, self.origin(name.span)));
                    }
                }
            }
        }
        let stage_of = |g: &Graph, l: u32| g.limits.get(l as usize).map_or(LimitStage::PostAuth, |x| x.stage);
        for &(l, o) in &limits {
            if stage_of(&self.g, l) == LimitStage::PreAuth {
                steps.push(step(StepKind::Limit { limit: l, stage: LimitStage::PreAuth }, &id, o));
            }
        }

        // The last `auth` wins (a route's own comes after the api's).
        let auth_stmt =
            stmts.iter().rev().find_map(|s| if let StmtKind::Auth(m) = &s.node { Some((m, s.span)) } else { None });
        let (auth, auth_origin) = match auth_stmt {
            Some((m, span)) => (self.auth(m, zone), self.origin(span)),
            None => (self.default_auth(zone), origin),
        };
        steps.push(step(StepKind::Authenticate(auth), &id, auth_origin));

        let mut all: Vec<String> = Vec::new();
        let mut any_of: Vec<Vec<String>> = Vec::new();
        let mut scope_origin = None;
        for s in &stmts {
            if let StmtKind::Scope { any, scopes } = &s.node {
                scope_origin.get_or_insert(self.origin(s.span));
                let values: Vec<String> = scopes.iter().map(|v| v.value.clone()).collect();
                if *any {
                    any_of.push(values);
                } else {
                    for v in values {
                        if !all.contains(&v) {
                            all.push(v);
                        }
                    }
                }
            }
        }
        if let Some(o) = scope_origin {
            steps.push(step(StepKind::Scopes { all, any_of }, &id, o));
        }

        for &(l, o) in &limits {
            if stage_of(&self.g, l) == LimitStage::PostAuth {
                steps.push(step(StepKind::Limit { limit: l, stage: LimitStage::PostAuth }, &id, o));
            }
        }

        let body =
            stmts.iter().rev().find_map(|s| if let StmtKind::Body(b) = &s.node { Some((b, s.span)) } else { None });
        let (accept, max, body_origin) = match body {
            Some((BodySpec::Json { schema, max }, span)) => (
                BodyAccept::Json { schema: schema.as_ref().and_then(|n| self.schemas.get(n.name.as_str()).copied()) },
                max.as_ref().map_or(DEFAULT_MAX_BODY, ast::Size::bytes),
                self.origin(span),
            ),
            Some((BodySpec::Any { max }, span)) => {
                (BodyAccept::Any, max.as_ref().map_or(DEFAULT_MAX_BODY, ast::Size::bytes), self.origin(span))
            }
            Some((BodySpec::None, span)) => (BodyAccept::None, 0, self.origin(span)),
            None => (BodyAccept::Any, DEFAULT_MAX_BODY, origin),
        };
        steps.push(step(StepKind::Body { accept, max_bytes: max }, &id, body_origin));

        // Rules: every deny first (a deny beats any allow), then the allows together.
        let scope = Scope { params: &params };
        let mut allows = Vec::new();
        let mut n = 0;
        for s in &stmts {
            match &s.node {
                StmtKind::Deny(e) => {
                    n += 1;
                    let e = self.expr(e, scope);
                    steps.push(step(StepKind::Deny(e), &format!("{id}#{n}"), self.origin(s.span)));
                }
                StmtKind::Allow(e) => {
                    n += 1;
                    let when = e.as_ref().map(|e| self.expr(e, scope));
                    // `allow when true` is `allow`.
                    let when = when
                        .filter(|&w| self.g.exprs.get(w as usize) != Some(&Expr::Const(serde_json::Value::Bool(true))));
                    allows.push(AllowRule { when, rule: format!("{id}#{n}"), origin: self.origin(s.span) });
                }
                _ => {}
            }
        }
        let allow_origin = allows.first().map_or(origin, |a| a.origin);
        steps.push(step(StepKind::Allow(allows), &id, allow_origin));

        for s in &stmts {
            if let StmtKind::UpstreamHeader { name, value } = &s.node {
                let value = self.expr(value, scope);
                steps.push(step(
                    StepKind::UpstreamHeader { name: name.value.to_ascii_lowercase(), value },
                    &id,
                    self.origin(s.span),
                ));
            }
        }
        self.g.endpoints.push(Endpoint { id, kind, zone, params, steps, origin });
    }

    fn default_auth(&self, zone: u32) -> Auth {
        // The checker refuses an endpoint without `auth`; this is only a fallback.
        Auth::Bearer { issuers: self.g.zones.get(zone as usize).map(|z| z.issuers.clone()).unwrap_or_default() }
    }

    fn auth(&mut self, method: &AuthMethod, zone: u32) -> Auth {
        match method {
            AuthMethod::Bearer => self.default_auth(zone),
            AuthMethod::Mtls => Auth::Mtls,
            AuthMethod::ClientSecret { file } => Auth::ClientSecret { table: self.credentials(&file.value) },
            AuthMethod::ApiKey { header, file } => {
                Auth::ApiKey { header: header.value.to_ascii_lowercase(), table: self.credentials(&file.value) }
            }
            AuthMethod::Asserted => Auth::Asserted,
            AuthMethod::None => Auth::None,
        }
    }

    fn credentials(&mut self, path: &str) -> u32 {
        if let Some(&id) = self.credentials.get(path) {
            return id;
        }
        let entries = self.read_json(path);
        let id = len_u32(&self.g.credentials);
        self.g.credentials.push(CredentialTable { path: path.to_owned(), entries });
        self.credentials.insert(path.to_owned(), id);
        id
    }

    // ------------------------------------------------------------ route index

    fn route_index(&mut self) {
        let mut roots: BTreeMap<Option<String>, u32> = BTreeMap::new();
        let mut nodes: Vec<TrieNode> = Vec::new();
        let pending = std::mem::take(&mut self.pending);
        for (host, segments, method, endpoint) in pending {
            let root = *roots.entry(host).or_insert_with(|| {
                nodes.push(TrieNode::default());
                len_u32(&nodes) - 1
            });
            let mut at = root;
            let mut tail = false;
            for seg in &segments {
                let next = match seg {
                    PathSegment::Literal(lit) => {
                        let existing = nodes.get(at as usize).and_then(|n| {
                            let i = n.literals.binary_search_by(|(l, _)| l.as_str().cmp(lit)).ok()?;
                            n.literals.get(i).map(|(_, c)| *c)
                        });
                        match existing {
                            Some(c) => c,
                            None => {
                                nodes.push(TrieNode::default());
                                let c = len_u32(&nodes) - 1;
                                if let Some(n) = nodes.get_mut(at as usize) {
                                    let pos = n.literals.partition_point(|(l, _)| l < lit);
                                    n.literals.insert(pos, (lit.clone(), c));
                                }
                                c
                            }
                        }
                    }
                    PathSegment::Param(_) => match nodes.get(at as usize).and_then(|n| n.param) {
                        Some(c) => c,
                        None => {
                            nodes.push(TrieNode::default());
                            let c = len_u32(&nodes) - 1;
                            if let Some(n) = nodes.get_mut(at as usize) {
                                n.param = Some(c);
                            }
                            c
                        }
                    },
                    PathSegment::Tail(_) => {
                        tail = true;
                        break;
                    }
                };
                at = next;
            }
            if let Some(n) = nodes.get_mut(at as usize) {
                let list = if tail { &mut n.tail } else { &mut n.methods };
                list.push(MethodEndpoint { method, endpoint });
                // Exact methods before `ANY`.
                list.sort_by_key(|m| (m.method == Method::Any, m.method));
            }
        }
        // Hosts with their own routes first, then the any-host trie.
        let mut hosts: Vec<HostRoutes> =
            roots.iter().filter(|(h, _)| h.is_some()).map(|(h, r)| HostRoutes { host: h.clone(), root: *r }).collect();
        if let Some(&r) = roots.get(&None) {
            hosts.push(HostRoutes { host: None, root: r });
        }
        self.g.routes = RouteIndex { hosts, nodes };
    }

    // ------------------------------------------------------------ expressions

    /// The index of `value` in one of the graph's string tables, added once.
    fn table(&mut self, table: Table, value: String) -> u32 {
        if let Some(&i) = self.tables.get(&(table, value.clone())) {
            return i;
        }
        let list = match table {
            Table::Regex => &mut self.g.regexes,
            Table::Cidr => &mut self.g.cidrs,
            Table::Claim => &mut self.g.names.claims,
            Table::Header => &mut self.g.names.headers,
            Table::Query => &mut self.g.names.queries,
        };
        list.push(value.clone());
        let i = len_u32(list) - 1;
        self.tables.insert((table, value), i);
        i
    }

    fn intern(&mut self, e: Expr) -> ExprId {
        let key = serde_json::to_string(&e).unwrap_or_default();
        if let Some(&id) = self.interned.get(&key) {
            return id;
        }
        let id = len_u32(&self.g.exprs);
        self.g.exprs.push(e);
        self.interned.insert(key, id);
        id
    }

    fn constant(&self, id: ExprId) -> Option<&serde_json::Value> {
        match self.g.exprs.get(id as usize) {
            Some(Expr::Const(v)) => Some(v),
            _ => None,
        }
    }

    fn keys(&mut self, path: &[Segment], scope: Scope<'_>) -> Result<Vec<Key>, Vec<ExprId>> {
        let mut keys = Vec::new();
        for seg in path {
            match &seg.kind {
                SegmentKind::Field(f) => keys.push(Key::Field(f.clone())),
                SegmentKind::Index(e) => {
                    let id = self.expr(e, scope);
                    match self.constant(id) {
                        Some(serde_json::Value::String(s)) => keys.push(Key::Field(s.clone())),
                        Some(serde_json::Value::Number(n)) if n.as_i64().is_some() => {
                            keys.push(Key::Index(n.as_i64().unwrap_or(0)))
                        }
                        _ => return Err(Vec::new()),
                    }
                }
            }
        }
        Ok(keys)
    }

    fn expr(&mut self, e: &ast::Expr, scope: Scope<'_>) -> ExprId {
        let node = match &e.kind {
            ExprKind::Str(s) => Expr::Const(serde_json::Value::String(s.clone())),
            ExprKind::Number { value, .. } => Expr::Const(number(*value)),
            ExprKind::Bool(b) => Expr::Const(serde_json::Value::Bool(*b)),
            ExprKind::Paren(inner) => return self.expr(inner, scope),
            ExprKind::List(items) => {
                let ids: Vec<ExprId> = items.iter().map(|i| self.expr(i, scope)).collect();
                let consts: Option<Vec<serde_json::Value>> = ids.iter().map(|&i| self.constant(i).cloned()).collect();
                match consts {
                    Some(values) => Expr::Const(serde_json::Value::Array(values)),
                    None => Expr::List(ids),
                }
            }
            ExprKind::Attr { root, path } => return self.attr(root.node, path, scope),
            ExprKind::Access { base, path } => {
                let base = self.expr(base, scope);
                return self.index_chain(base, path, scope);
            }
            ExprKind::Not(inner) => {
                let id = self.expr(inner, scope);
                match self.constant(id) {
                    Some(serde_json::Value::Bool(b)) => Expr::Const(serde_json::Value::Bool(!b)),
                    _ => Expr::Not(id),
                }
            }
            ExprKind::And(items) | ExprKind::Or(items) => {
                let is_and = matches!(e.kind, ExprKind::And(_));
                return self.logic(is_and, items, scope);
            }
            ExprKind::Compare { op, lhs, rhs } => {
                let l = self.expr(lhs, scope);
                let r = self.expr(rhs, scope);
                match (self.constant(l), self.constant(r)) {
                    (Some(a), Some(b)) => match fold_compare(op.node, a, b) {
                        Some(v) => Expr::Const(serde_json::Value::Bool(v)),
                        None => Expr::Cmp { op: op.node, lhs: l, rhs: r },
                    },
                    _ => Expr::Cmp { op: op.node, lhs: l, rhs: r },
                }
            }
            ExprKind::Call { func, args } => {
                let ids: Vec<ExprId> = args.iter().map(|a| self.expr(a, scope)).collect();
                let a = ids.first().copied().unwrap_or(0);
                let b = ids.get(1).copied().unwrap_or(0);
                let ca = self.constant(a).cloned();
                let cb = self.constant(b).cloned();
                match func.node {
                    Func::Has => Expr::Has(a),
                    Func::Lower => match ca {
                        Some(serde_json::Value::String(s)) => Expr::Const(serde_json::Value::String(s.to_lowercase())),
                        _ => Expr::Lower(a),
                    },
                    Func::Len => match ca.as_ref().and_then(const_len) {
                        Some(n) => Expr::Const(serde_json::Value::from(n)),
                        None => Expr::Len(a),
                    },
                    Func::StartsWith | Func::EndsWith => match (ca, cb) {
                        (Some(serde_json::Value::String(s)), Some(serde_json::Value::String(p))) => {
                            let v = if func.node == Func::StartsWith { s.starts_with(&p) } else { s.ends_with(&p) };
                            Expr::Const(serde_json::Value::Bool(v))
                        }
                        _ if func.node == Func::StartsWith => Expr::StartsWith(a, b),
                        _ => Expr::EndsWith(a, b),
                    },
                    Func::Matches => {
                        let pattern = cb.and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                        Expr::Matches(a, self.table(Table::Regex, pattern))
                    }
                    Func::InCidr => {
                        let cidr = cb.and_then(|v| v.as_str().map(|s| s.trim().to_owned())).unwrap_or_default();
                        Expr::InCidr(a, self.table(Table::Cidr, cidr))
                    }
                }
            }
        };
        self.intern(node)
    }

    /// `and`/`or` with folding that keeps evaluation order: constants that
    /// cannot change the result are dropped; a deciding constant ends the
    /// list only when nothing before it could error.
    fn logic(&mut self, is_and: bool, items: &[ast::Expr], scope: Scope<'_>) -> ExprId {
        let neutral = serde_json::Value::Bool(is_and);
        let decisive = serde_json::Value::Bool(!is_and);
        let mut kept: Vec<ExprId> = Vec::new();
        for item in items {
            let id = self.expr(item, scope);
            match self.constant(id) {
                Some(v) if *v == neutral => {}
                Some(v) if *v == decisive => {
                    if kept.is_empty() {
                        return self.intern(Expr::Const(decisive));
                    }
                    kept.push(id);
                    break;
                }
                _ => kept.push(id),
            }
        }
        match kept.len() {
            0 => self.intern(Expr::Const(neutral)),
            1 => kept.first().copied().unwrap_or(0),
            _ => self.intern(if is_and { Expr::And(kept) } else { Expr::Or(kept) }),
        }
    }

    /// `base.a[k]…` with keys computed at run time: one `Index` node per segment.
    fn index_chain(&mut self, mut at: ExprId, path: &[Segment], scope: Scope<'_>) -> ExprId {
        for seg in path {
            let key = match &seg.kind {
                SegmentKind::Field(f) => self.intern(Expr::Const(serde_json::Value::String(f.clone()))),
                SegmentKind::Index(k) => self.expr(k, scope),
            };
            at = self.intern(Expr::Index { base: at, key });
        }
        at
    }

    fn attr(&mut self, root: Root, path: &[Segment], scope: Scope<'_>) -> ExprId {
        // A dynamic index (`data.partners[claim.client_id].peer`): the constant
        // part before it is resolved as usual, the rest is indexed at run time.
        let Ok(keys) = self.keys(path, scope) else {
            let split = path
                .iter()
                .position(|seg| match &seg.kind {
                    SegmentKind::Field(_) => false,
                    SegmentKind::Index(e) => {
                        let id = self.expr(e, scope);
                        !matches!(self.constant(id), Some(serde_json::Value::String(_) | serde_json::Value::Number(_)))
                    }
                })
                .unwrap_or(path.len());
            let (prefix, rest) = path.split_at(split);
            let base = if prefix.is_empty() {
                self.intern(Expr::Root(root.as_str().to_owned()))
            } else {
                self.attr(root, prefix, scope)
            };
            return self.index_chain(base, rest, scope);
        };
        let first = keys.first().and_then(|k| if let Key::Field(f) = k { Some(f.clone()) } else { None });
        let rest: Vec<Key> = keys.iter().skip(1).cloned().collect();
        let node = match (root, first) {
            (Root::Claim, Some(name)) => Expr::Claim { slot: self.table(Table::Claim, name), path: rest },
            (Root::Path, Some(name)) => match scope.params.iter().position(|p| *p == name) {
                Some(i) => Expr::PathParam(u32::try_from(i).unwrap_or(u32::MAX)),
                None => Expr::PathNamed(name),
            },
            (Root::Query, Some(name)) => Expr::Query(self.table(Table::Query, name)),
            (Root::Header, Some(name)) => Expr::Header(self.table(Table::Header, name.to_ascii_lowercase())),
            (Root::Data, Some(name)) => match self.data.get(name.as_str()) {
                Some(&doc) => Expr::Data { doc, path: rest },
                None => Expr::Const(serde_json::Value::Null),
            },
            (Root::Body, _) => Expr::Body(keys),
            (Root::Resource, _) => Expr::Resource(keys),
            (Root::Context, _) => Expr::Context(keys),
            (Root::Peer, Some(_)) => Expr::PeerPrincipal,
            (Root::Source, Some(_)) => Expr::SourceIp,
            (Root::Request, Some(name)) => match name.as_str() {
                "method" => Expr::RequestMethod,
                "path" => Expr::RequestPath,
                "host" => Expr::RequestHost,
                _ => Expr::RequestScheme,
            },
            (root, _) => Expr::Root(root.as_str().to_owned()),
        };
        self.intern(node)
    }
}

/// True when a limit key reads only what is known before authentication.
pub fn pre_auth_key(e: &ast::Expr) -> bool {
    match &e.kind {
        ExprKind::Attr { root, path } => {
            matches!(root.node, Root::Source | Root::Header | Root::Path | Root::Query | Root::Request)
                && pre_auth_path(path)
        }
        ExprKind::Str(_) | ExprKind::Number { .. } | ExprKind::Bool(_) => true,
        ExprKind::List(items) | ExprKind::And(items) | ExprKind::Or(items) => items.iter().all(pre_auth_key),
        ExprKind::Call { args, .. } => args.iter().all(pre_auth_key),
        ExprKind::Not(i) | ExprKind::Paren(i) => pre_auth_key(i),
        ExprKind::Compare { lhs, rhs, .. } => pre_auth_key(lhs) && pre_auth_key(rhs),
        ExprKind::Access { base, path } => pre_auth_key(base) && pre_auth_path(path),
    }
}

fn pre_auth_path(path: &[Segment]) -> bool {
    path.iter().all(|s| match &s.kind {
        SegmentKind::Index(i) => pre_auth_key(i),
        SegmentKind::Field(_) => true,
    })
}

/// The files' paths without the directories they all share, `/`-separated:
/// `policies/bank/main.warden` and `policies/bank/keys/x.warden` become
/// `main.warden` and `keys/x.warden`, however the set's directory was
/// spelled (relative, absolute, `./`, a trailing `/`). The directories are
/// those of the file names as given, so the result does not depend on the
/// file system or on the current directory.
fn relative_paths(paths: &[&str]) -> Vec<String> {
    let split = |p: &str| -> Vec<String> {
        p.split(['/', '\\']).filter(|c| !c.is_empty() && *c != ".").map(str::to_owned).collect()
    };
    let parts: Vec<Vec<String>> = paths.iter().map(|p| split(p)).collect();
    // Only directories are shared: the last part of each path is its file name.
    let dirs = |p: &Vec<String>| p.len().saturating_sub(1);
    let mut shared = parts.iter().map(dirs).min().unwrap_or(0);
    if let Some(first) = parts.first() {
        for p in parts.iter().skip(1) {
            shared = shared.min(first.iter().zip(p).take_while(|(a, b)| a == b).count());
        }
    }
    parts.iter().map(|p| p.get(shared..).unwrap_or_default().join("/")).collect()
}

fn len_u32<T>(items: &(impl Len<T> + ?Sized)) -> u32 {
    u32::try_from(items.count()).unwrap_or(u32::MAX)
}

/// Anything with a length (vectors and maps), for index allocation.
trait Len<T> {
    fn count(&self) -> usize;
}

impl<T> Len<T> for Vec<T> {
    fn count(&self) -> usize {
        self.len()
    }
}

impl<K, V> Len<(K, V)> for BTreeMap<K, V> {
    fn count(&self) -> usize {
        self.len()
    }
}

/// The string tables of the graph that expressions index into.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Table {
    Regex,
    Cidr,
    Claim,
    Header,
    Query,
}

/// A JSON number: an integer when the value is whole.
fn number(v: f64) -> serde_json::Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        serde_json::Value::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

fn const_len(v: &serde_json::Value) -> Option<u64> {
    let n = match v {
        serde_json::Value::String(s) => s.chars().count(),
        serde_json::Value::Array(a) => a.len(),
        serde_json::Value::Object(o) => o.len(),
        _ => return None,
    };
    u64::try_from(n).ok()
}

/// Folds a comparison of two constants; `None` when it must be left to run time
/// (mismatched types, which the checker already refused where it could see them).
fn fold_compare(op: CmpOp, a: &serde_json::Value, b: &serde_json::Value) -> Option<bool> {
    use serde_json::Value as V;
    let ord = match (a, b) {
        (V::Number(x), V::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (V::String(x), V::String(y)) => Some(x.cmp(y)),
        _ => None,
    };
    match op {
        CmpOp::Eq => Some(json_eq(a, b)),
        CmpOp::Ne => Some(!json_eq(a, b)),
        CmpOp::Lt => ord.map(|o| o.is_lt()),
        CmpOp::Le => ord.map(|o| o.is_le()),
        CmpOp::Gt => ord.map(|o| o.is_gt()),
        CmpOp::Ge => ord.map(|o| o.is_ge()),
        CmpOp::In | CmpOp::NotIn => {
            let found = match b {
                V::Array(items) => items.iter().any(|i| json_eq(a, i)),
                V::Object(map) => a.as_str().map(|k| map.contains_key(k))?,
                V::String(s) => a.as_str().map(|sub| s.contains(sub))?,
                _ => return None,
            };
            Some(if op == CmpOp::In { found } else { !found })
        }
    }
}

/// Equality where `1` and `1.0` are the same number.
fn json_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a, b) {
        (serde_json::Value::Number(x), serde_json::Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// The value with every object's keys in sorted order, so the graph is the same
/// whether or not serde_json keeps insertion order (a feature another crate in
/// the build may switch on).
fn sorted(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(String, serde_json::Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        serde_json::Value::Array(items) => serde_json::Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
