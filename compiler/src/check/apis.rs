//! Apis and resources: each endpoint's effective `auth` and body schema,
//! its statements (limits, schemas, rule conditions, upstream headers), and
//! authentication methods that the endpoint's zone cannot support.

use warden_language::ast::*;
use warden_language::{Diagnostic, Span};

use super::Checker;
use super::exprs::{Place, Ty};
use super::reach::any_allow;
use crate::codes;

/// The last `auth` of the statements: a route's own comes after its api's.
fn auth_of<'s>(stmts: impl Iterator<Item = &'s Stmt>) -> Option<&'s AuthMethod> {
    stmts.filter_map(|s| if let StmtKind::Auth(m) = &s.node { Some(m) } else { None }).last()
}

impl<'a> Checker<'a> {
    /// An api: its zone, its statements, and each route with its effective `auth` and body.
    pub(super) fn api(&mut self, api: &'a Api) {
        let zone = self.zone_ref(&api.zone);
        let api_stmts: Vec<&'a Stmt> =
            api.items.iter().filter_map(|i| if let ApiItem::Stmt(s) = i { Some(s) } else { None }).collect();
        let api_auth = auth_of(api_stmts.iter().copied());
        let api_allows = any_allow(api_stmts.iter().copied());
        self.stmts(api_stmts.iter().copied(), Place::Api { auth: api_auth }, zone);
        self.api_has_routes(api);
        for item in &api.items {
            if let ApiItem::Route(route) = item {
                let auth = auth_of(route.stmts.iter()).or(api_auth);
                self.route_has_auth(route, auth);
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
                self.route_can_allow(route, api_allows);
            }
        }
    }

    /// A resource: its zone, its statements, and each action with its effective `auth`.
    pub(super) fn resource(&mut self, resource: &'a Resource) {
        let zone = self.zone_ref(&resource.zone);
        let stmts: Vec<&'a Stmt> =
            resource.items.iter().filter_map(|i| if let ResourceItem::Stmt(s) = i { Some(s) } else { None }).collect();
        let auth = auth_of(stmts.iter().copied());
        let allows = any_allow(stmts.iter().copied());
        self.stmts(stmts.iter().copied(), Place::Action { auth }, zone);
        self.resource_has_actions(resource);
        for item in &resource.items {
            if let ResourceItem::Action(action) = item {
                let auth = auth_of(action.stmts.iter()).or(auth);
                self.action_has_auth(resource, action, auth);
                self.stmts(action.stmts.iter(), Place::Action { auth }, zone);
                self.action_can_allow(resource, action, allows);
            }
        }
    }

    /// A block of statements: referenced limits and schemas, rule conditions and header values.
    pub(super) fn stmts<'s>(&mut self, stmts: impl Iterator<Item = &'s Stmt>, place: Place<'a>, zone: Option<&'a Zone>)
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
                StmtKind::Ban(names) => {
                    for name in names {
                        if !self.symbols.bans.contains_key(name.name.as_str()) {
                            self.unknown(
                                codes::UNKNOWN_BAN,
                                "ban",
                                &name.name,
                                name.span,
                                self.symbols.bans.keys().copied().collect(),
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
                StmtKind::Mint(mint) => self.mint(mint, stmt.span, place, zone),
                _ => {}
            }
        }
    }

    /// An `auth` method against what its zone provides, and the credential files it reads.
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
            AuthMethod::ClientSecret { file } => self.client_file(file),
            AuthMethod::ApiKey { file, .. } => self.api_key_file(file),
            AuthMethod::Asserted | AuthMethod::None => {}
        }
    }
}
