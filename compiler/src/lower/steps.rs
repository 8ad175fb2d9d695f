//! Endpoints: each route and resource action becomes a flat list of steps in
//! decision-table order (transport, pre-auth limits, authentication, scopes,
//! post-auth limits, body, rules, upstream headers, the token minted).

use warden_language::Span;
use warden_language::ast::{
    self, Api, ApiItem, AuthMethod, BodySpec, MintItem, PathSegment, Resource, ResourceItem, Stmt, StmtKind,
};

use super::{DEFAULT_MAX_BODY, Lowerer, Scope, len_u32};
use crate::graph::{
    AllowRule, Auth, BodyAccept, CredentialTable, Endpoint, EndpointKind, Expr, Graph, LimitStage, Mint, Origin,
    ResourceType, Step, StepKind,
};

/// A minted token's lifetime when the policy names none.
pub const DEFAULT_MINT_LIFETIME_S: u64 = 60;

impl<'a> Lowerer<'a> {
    /// Every route of an api, as an endpoint queued for the route index.
    pub(super) fn api(&mut self, api: &'a Api) {
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

    /// An exchange, as an endpoint of its subject tokens' zone: the calling
    /// service authenticates, then the subject token is verified, then the
    /// rules and the `mint`.
    pub(super) fn exchange(&mut self, x: &'a ast::Exchange) {
        let Some(&zone) = self.zones.get(x.zone.name.as_str()) else { return };
        let id = format!("exchange.{}", x.name.name);
        let kind = EndpointKind::Exchange { name: x.name.name.clone() };
        self.endpoint(id, kind, zone, Vec::new(), &[], &x.stmts, x.name.span);
    }

    /// Every action of a resource, as an endpoint, and the resource type.
    pub(super) fn resource(&mut self, resource: &'a Resource) {
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
    /// One endpoint: its steps in decision-table order.
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
        let step = |kind: StepKind, rule: &str, origin: Origin| Step { kind, rule: rule.into(), origin };
        let mut steps = Vec::new();

        // An exchange is asked of Warden itself: its subject zone's transport
        // rules speak of the zone's own requests, not of this one.
        let exchange = matches!(kind, EndpointKind::Exchange { .. });
        if let Some(z) = self.g.zones.get(zone as usize)
            && !exchange
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
        if exchange {
            let issuers = self.g.zones.get(zone as usize).map(|z| z.issuers.clone()).unwrap_or_default();
            steps.push(step(StepKind::Subject { issuers }, &id, origin));
        }

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
            steps.push(step(StepKind::Scopes { all: all.clone(), any_of: any_of.clone() }, &id, o));
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
        if !exchange {
            steps.push(step(StepKind::Body { accept, max_bytes: max }, &id, body_origin));
        }

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
                    allows.push(AllowRule { when, rule: format!("{id}#{n}").into(), origin: self.origin(s.span) });
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
        // The last `mint` wins (a route's own comes after the api's).
        if let Some((mint, span)) =
            stmts.iter().rev().find_map(|s| if let StmtKind::Mint(m) = &s.node { Some((m, s.span)) } else { None })
            && let Some(kind) = self.mint(mint, scope, &all, &any_of)
        {
            steps.push(step(StepKind::Mint(kind), &id, self.origin(span)));
        }
        // The bans its denials count toward, each once, in the order written.
        let mut bans: Vec<u32> = Vec::new();
        for s in &stmts {
            if let StmtKind::Ban(names) = &s.node {
                for name in names {
                    if let Some(&b) = self.bans.get(name.name.as_str())
                        && !bans.contains(&b)
                    {
                        bans.push(b);
                    }
                }
            }
        }
        self.g.endpoints.push(Endpoint { id, kind, zone, params, steps, bans, origin });
    }

    /// A `mint`: the target zone's issuer and audience, the claims as
    /// expressions, the scopes it may carry (the endpoint's own when the
    /// block names none), its lifetime and header.
    fn mint(&mut self, mint: &ast::Mint, scope: Scope<'_>, all: &[String], any_of: &[Vec<String>]) -> Option<Mint> {
        let &target = self.zones.get(mint.zone.name.as_str())?;
        let issuer =
            self.g.zones.get(target as usize)?.issuers.first().and_then(|&i| self.g.issuers.get(i as usize))?;
        let (iss, audience) = (issuer.iss.clone(), issuer.audiences.first().cloned().unwrap_or_default());
        let mut out = Mint {
            zone: mint.zone.name.clone(),
            issuer: iss,
            audience,
            claims: Vec::new(),
            scopes: Vec::new(),
            lifetime_s: DEFAULT_MINT_LIFETIME_S,
            header: None,
            bind: None,
        };
        let mut scopes = None;
        for item in &mint.items {
            match &item.node {
                MintItem::Claim { name, value } => {
                    let value = self.expr(value, scope);
                    out.claims.push((name.name.clone(), value));
                }
                MintItem::Scope(list) => scopes = Some(list.iter().map(|s| s.value.clone()).collect()),
                MintItem::Lifetime(d) => out.lifetime_s = d.millis().div_ceil(1_000),
                MintItem::Header(name) => out.header = Some(name.value.to_ascii_lowercase()),
                MintItem::Bind(t) => out.bind = Some(t.value.clone()),
            }
        }
        out.scopes = scopes.unwrap_or_else(|| {
            let mut s: Vec<String> = all.to_vec();
            for v in any_of.iter().flatten() {
                if !s.contains(v) {
                    s.push(v.clone());
                }
            }
            s
        });
        Some(out)
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

    /// The index of a credential table, read and added once per path.
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
}
