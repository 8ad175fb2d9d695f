//! Declarations that endpoints refer to by index: zones with their issuers,
//! schemas and their types, and limits (keys lowered, stage decided).

use warden_language::ast::{
    self, Algorithm, BackendErrorPolicy, Builtin, Constraint, IssuerItem, TypeExpr, TypeKind, ZoneItem,
};

use super::exprs::{Table, pre_auth_key};
use super::{
    DEFAULT_INTROSPECT_CACHE_MS, DEFAULT_LEEWAY_MS, DEFAULT_REFRESH_MS, DEFAULT_STALE_MS, Lowerer, Scope, len_u32,
};
use crate::graph::{self, ExprId, KeySource, LimitStage, SchemaField, SchemaType, SecretSource, StepKind};

impl<'a> Lowerer<'a> {
    /// A zone and its issuers, each issuer added to the issuer table.
    pub(super) fn zone(&mut self, zone: &'a ast::Zone) {
        let id = len_u32(&self.g.zones);
        self.zones.insert(&zone.name.name, id);
        let mut out = graph::Zone {
            name: zone.name.name.clone(),
            require_tls: false,
            mtls_peers: None,
            networks: Vec::new(),
            issuers: Vec::new(),
            require_bound: false,
            origin: self.origin(zone.name.span),
        };
        for item in &zone.items {
            match &item.node {
                ZoneItem::RequireTls => out.require_tls = true,
                ZoneItem::RequireBound => out.require_bound = true,
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
            introspect: None,
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
                } => {
                    out.introspect = Some(graph::Introspect {
                        url: url.value.clone(),
                        client: client.value.clone(),
                        secret: if *secret_in_file {
                            SecretSource::File(secret.value.clone())
                        } else {
                            SecretSource::Env(secret.value.clone())
                        },
                        cache_ms: cache.as_ref().map_or(DEFAULT_INTROSPECT_CACHE_MS, ast::Duration::millis),
                        always: *always,
                        signed: *signed,
                        stale_ms: if *stale {
                            stale_for.as_ref().map_or(DEFAULT_STALE_MS, ast::Duration::millis)
                        } else {
                            0
                        },
                    });
                }
            }
        }
        out
    }

    /// A schema, its field types with their constraints folded in.
    pub(super) fn schema(&mut self, schema: &ast::Schema) -> graph::Schema {
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

    /// A ban: its keys lowered (checked before authentication when they read
    /// only the request), its outcomes split into statuses and reasons.
    pub(super) fn ban(&mut self, ban: &'a ast::Ban) {
        let scope = Scope { params: &[] };
        let keys: Vec<ExprId> = ban.keys.iter().map(|k| self.expr(k, scope)).collect();
        let distinct = ban.distinct.as_ref().map(|d| self.expr(d, scope));
        let pre = ban.keys.iter().all(pre_auth_key);
        let (mut statuses, mut reasons) = (Vec::new(), Vec::new());
        for o in &ban.outcomes {
            match &o.node {
                ast::Outcome::Status(s) => statuses.push(u16::try_from(*s).unwrap_or(u16::MAX)),
                ast::Outcome::Reason(r) => reasons.push(r.clone()),
            }
        }
        let id = len_u32(&self.g.bans);
        self.bans.insert(&ban.name.name, id);
        // An alert is said once per period and key: its record lasts a period.
        let length_ms = if ban.alert_only {
            ban.period.millis()
        } else {
            ban.length.as_ref().map_or(ban.period.millis(), ast::Duration::millis)
        };
        self.g.bans.push(graph::Ban {
            name: ban.name.name.clone(),
            count: ban.count.node,
            period_ms: ban.period.millis(),
            keys,
            ipv6_prefix: ban
                .ipv6_prefix
                .as_ref()
                .map_or(graph::DEFAULT_IPV6_PREFIX, |p| u8::try_from(p.node.min(128)).unwrap_or(128)),
            stage: if pre { LimitStage::PreAuth } else { LimitStage::PostAuth },
            after_body: ban.keys.iter().any(reads_body),
            distinct,
            statuses,
            reasons,
            length_ms,
            max_ms: ban.max.as_ref().map_or(length_ms, ast::Duration::millis),
            status: ban.status.as_ref().map_or(403, |s| u16::try_from(s.node).unwrap_or(403)),
            alert_only: ban.alert_only,
            except: ban.except.iter().map(|c| c.value.trim().to_owned()).collect(),
            on_backend_error: ban.on_backend_error.as_ref().map_or(BackendErrorPolicy::Allow, |p| p.node),
            fingerprint: String::new(),
            origin: self.origin(ban.name.span),
        });
    }

    /// Puts a check of every ban counted in a zone into each endpoint of the
    /// zone: before the pre-auth limits (a key of the request), right after
    /// authentication (a key of the identity; at a token exchange, after the
    /// subject token), or after the body (a key that reads it).
    pub(super) fn enforce_bans(&mut self) {
        for e in 0..self.g.endpoints.len() {
            let zone = self.g.endpoints[e].zone;
            let mut bans: Vec<u32> = Vec::new();
            for other in &self.g.endpoints {
                if other.zone == zone {
                    for &b in &other.bans {
                        if !bans.contains(&b) {
                            bans.push(b);
                        }
                    }
                }
            }
            bans.sort_unstable();
            for b in bans.into_iter().rev() {
                let Some(ban) = self.g.bans.get(b as usize) else { continue };
                if ban.alert_only {
                    continue;
                }
                let (stage, origin, after_body) = (ban.stage, ban.origin, ban.after_body);
                let ep = &mut self.g.endpoints[e];
                let at = match stage {
                    // Keyed by the body: right after it is read (an endpoint without
                    // one has no such key, and the ban never holds there).
                    _ if after_body => ep
                        .steps
                        .iter()
                        .position(|s| matches!(s.kind, StepKind::Body { .. }))
                        .map_or(ep.steps.len(), |i| i + 1),
                    LimitStage::PreAuth => {
                        ep.steps.iter().position(|s| !matches!(s.kind, StepKind::Transport { .. })).unwrap_or(0)
                    }
                    // After the identity is known: a token exchange's subject when it
                    // has one (the identity its answers are counted against).
                    LimitStage::PostAuth => ep
                        .steps
                        .iter()
                        .rposition(|s| matches!(s.kind, StepKind::Authenticate(_) | StepKind::Subject { .. }))
                        .map_or(ep.steps.len(), |i| i + 1),
                };
                let step = graph::Step { kind: StepKind::Ban { ban: b }, rule: ep.id.as_str().into(), origin };
                ep.steps.insert(at, step);
            }
        }
    }

    /// A limit: its keys lowered, counted before authentication when they read only the request.
    pub(super) fn limit(&mut self, limit: &'a ast::Limit) {
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
}

/// Whether `e` reads the request body.
fn reads_body(e: &ast::Expr) -> bool {
    use ast::{ExprKind, Root, SegmentKind};
    let path = |p: &[ast::Segment]| {
        p.iter().any(|s| match &s.kind {
            SegmentKind::Index(i) => reads_body(i),
            SegmentKind::Field(_) => false,
        })
    };
    match &e.kind {
        ExprKind::Attr { root, path: p } => root.node == Root::Body || path(p),
        ExprKind::Str(_) | ExprKind::Number { .. } | ExprKind::Bool(_) => false,
        ExprKind::List(items) | ExprKind::And(items) | ExprKind::Or(items) => items.iter().any(reads_body),
        ExprKind::Call { args, .. } => args.iter().any(reads_body),
        ExprKind::Not(i) | ExprKind::Paren(i) => reads_body(i),
        ExprKind::Compare { lhs, rhs, .. } => reads_body(lhs) || reads_body(rhs),
        ExprKind::Access { base, path: p } => reads_body(base) || path(p),
    }
}
