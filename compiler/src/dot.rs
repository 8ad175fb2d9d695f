//! Graphviz output of a decision graph: zones → apis and resources → routes and actions → steps
//! (and the [`Drawing`] that the SVG picture of `svg.rs` draws too).

use std::fmt::Write as _;

use crate::graph::{Auth, BodyAccept, EndpointKind, Expr, ExprId, Graph, Key, LimitStage, StepKind};

/// What a picture of the graph shows, before any layout: the zones, the apis,
/// resources and exchanges (groups) in their zones, and each endpoint with its
/// steps in order. Both the `dot` document and the SVG picture draw this.
pub(crate) struct Drawing {
    /// The picture's title (the revision).
    pub title: String,
    /// Each zone's label.
    pub zones: Vec<String>,
    /// Each group's label and zone, in order of first appearance.
    pub groups: Vec<(String, u32)>,
    /// Each endpoint, in graph order.
    pub endpoints: Vec<DrawnEndpoint>,
}

/// An endpoint of a [`Drawing`].
pub(crate) struct DrawnEndpoint {
    /// Index into [`Drawing::groups`].
    pub group: usize,
    /// `GET /path`, `action read`, `exchange name`.
    pub label: String,
    /// Each step's label, in order.
    pub steps: Vec<String>,
}

/// The drawing of a graph.
pub(crate) fn drawing(g: &Graph) -> Drawing {
    let zones = g
        .zones
        .iter()
        .map(|zone| {
            let mut label = format!("zone {}", zone.name);
            if zone.require_tls {
                label.push_str("\nrequire tls");
            }
            if let Some(peers) = &zone.mtls_peers {
                label.push_str(&format!("\nrequire mtls {}", peers.join(", ")));
            }
            if !zone.networks.is_empty() {
                label.push_str(&format!("\nnetwork {}", zone.networks.join(", ")));
            }
            for &i in &zone.issuers {
                if let Some(issuer) = g.issuers.get(i as usize) {
                    label.push_str(&format!("\nissuer {} (aud {})", issuer.iss, issuer.audiences.join(", ")));
                }
            }
            label
        })
        .collect();
    let mut groups: Vec<(String, u32)> = Vec::new();
    let mut endpoints = Vec::new();
    for ep in &g.endpoints {
        let (group, label) = match &ep.kind {
            EndpointKind::Route { api, method, path } => (format!("api {api}"), format!("{} {path}", method.as_str())),
            EndpointKind::Action { resource, action } => (format!("resource {resource}"), format!("action {action}")),
            EndpointKind::Exchange { name } => ("token exchange".to_owned(), format!("exchange {name}")),
        };
        let gi = match groups.iter().position(|(name, _)| *name == group) {
            Some(i) => i,
            None => {
                groups.push((group, ep.zone));
                groups.len() - 1
            }
        };
        let steps = ep.steps.iter().map(|step| step_label(g, &step.kind)).collect();
        endpoints.push(DrawnEndpoint { group: gi, label, steps });
    }
    Drawing { title: format!("revision {}", short(&g.revision)), zones, groups, endpoints }
}

/// Renders the graph as a `dot` document (`dot -Tsvg` draws it).
pub fn to_dot(g: &Graph) -> String {
    let d = drawing(g);
    let mut out = String::new();
    let _ = writeln!(out, "digraph warden {{");
    let _ = writeln!(out, "  graph [rankdir=LR, fontname=\"Helvetica\", label={}, labelloc=t];", quote(&d.title));
    let _ = writeln!(out, "  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=10];");
    let _ = writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=9];");
    for (zi, label) in d.zones.iter().enumerate() {
        let _ = writeln!(out, "  z{zi} [label={}, shape=folder, style=filled, fillcolor=\"#e8eef7\"];", quote(label));
    }
    let mut drawn = vec![false; d.groups.len()];
    for (ei, ep) in d.endpoints.iter().enumerate() {
        let gi = ep.group;
        if let (Some(seen @ false), Some((group, zone))) = (drawn.get_mut(gi), d.groups.get(gi)) {
            let _ = writeln!(out, "  g{gi} [label={}, shape=component];", quote(group));
            let _ = writeln!(out, "  z{zone} -> g{gi};");
            *seen = true;
        }
        let _ = writeln!(out, "  e{ei} [label={}, style=\"rounded,bold\"];", quote(&ep.label));
        let _ = writeln!(out, "  g{gi} -> e{ei};");
        let mut prev = format!("e{ei}");
        for (si, step) in ep.steps.iter().enumerate() {
            let node = format!("e{ei}s{si}");
            let _ = writeln!(out, "  {node} [label={}];", quote(step));
            let _ = writeln!(out, "  {prev} -> {node};");
            prev = node;
        }
    }
    let _ = writeln!(out, "}}");
    out
}

fn short(revision: &str) -> &str {
    revision.get(..12).unwrap_or(revision)
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn step_label(g: &Graph, step: &StepKind) -> String {
    match step {
        StepKind::Subject { issuers } => {
            let names: Vec<&str> =
                issuers.iter().filter_map(|&i| g.issuers.get(i as usize)).map(|i| i.iss.as_str()).collect();
            format!("subject token of {}", names.join(", "))
        }
        StepKind::Transport { require_tls, mtls_peers, networks } => {
            let mut parts = Vec::new();
            if *require_tls {
                parts.push("tls".to_owned());
            }
            if let Some(peers) = mtls_peers {
                parts.push(if peers.is_empty() {
                    "mtls".to_owned()
                } else {
                    format!("mtls peer {}", peers.join(", "))
                });
            }
            if !networks.is_empty() {
                parts.push(format!("network {}", networks.join(", ")));
            }
            format!("transport: {}", parts.join("; "))
        }
        StepKind::Limit { limit, stage } => {
            let name = g.limits.get(*limit as usize).map_or("?", |l| l.name.as_str());
            let stage = match stage {
                LimitStage::PreAuth => "pre-auth",
                LimitStage::PostAuth => "post-auth",
            };
            format!("limit {name} ({stage})")
        }
        StepKind::Ban { ban } => {
            let b = g.bans.get(*ban as usize);
            format!(
                "ban {} ({}{} of {} per {} ms)",
                b.map_or("?", |b| b.name.as_str()),
                b.map_or(0, |b| b.count),
                b.and_then(|b| b.distinct).map(|d| format!(" distinct {}", render_expr(g, d))).unwrap_or_default(),
                b.map_or_else(String::new, |b| {
                    let mut o: Vec<String> = b.statuses.iter().map(u16::to_string).collect();
                    o.extend(b.reasons.iter().cloned());
                    o.join(", ")
                }),
                b.map_or(0, |b| b.period_ms)
            )
        }
        StepKind::Authenticate(auth) => match auth {
            Auth::Bearer { issuers } => {
                let names: Vec<&str> =
                    issuers.iter().filter_map(|i| g.issuers.get(*i as usize)).map(|i| i.iss.as_str()).collect();
                format!("auth bearer\n{}", names.join("\n"))
            }
            Auth::Mtls => "auth mtls".to_owned(),
            Auth::ClientSecret { table } => {
                format!("auth client_secret {}", g.credentials.get(*table as usize).map_or("?", |t| t.path.as_str()))
            }
            Auth::ApiKey { header, .. } => format!("auth api_key {header}"),
            Auth::Asserted => "auth asserted".to_owned(),
            Auth::None => "auth none".to_owned(),
        },
        StepKind::Scopes { all, any_of } => {
            let mut parts: Vec<String> = all.clone();
            parts.extend(any_of.iter().map(|group| format!("any of ({})", group.join(", "))));
            format!("scope {}", parts.join(", "))
        }
        StepKind::Body { accept, max_bytes } => {
            let what = match accept {
                BodyAccept::Json { schema: Some(s) } => {
                    format!("json {}", g.schemas.get(*s as usize).map_or("?", |s| s.name.as_str()))
                }
                BodyAccept::Json { schema: None } => "json".to_owned(),
                BodyAccept::Any => "any".to_owned(),
                BodyAccept::None => return "body none".to_owned(),
            };
            format!("body {what} ≤ {max_bytes} B")
        }
        StepKind::Deny(e) => format!("deny when {}", render_expr(g, *e)),
        StepKind::Allow(rules) if rules.is_empty() => "no allow rule".to_owned(),
        StepKind::Allow(rules) => {
            let lines: Vec<String> = rules
                .iter()
                .map(|r| match r.when {
                    Some(e) => format!("allow when {}", render_expr(g, e)),
                    None => "allow".to_owned(),
                })
                .collect();
            lines.join("\n")
        }
        StepKind::UpstreamHeader { name, value } => format!("upstream {name} = {}", render_expr(g, *value)),
        StepKind::Mint(m) => {
            let claims: Vec<String> = m.claims.iter().map(|(n, e)| format!("{n} = {}", render_expr(g, *e))).collect();
            format!(
                "mint for {} (aud {}, {}s{}{})",
                m.zone,
                m.audience,
                m.lifetime_s,
                if m.scopes.is_empty() { String::new() } else { format!(", scope {}", m.scopes.join(" ")) },
                if claims.is_empty() { String::new() } else { format!("; {}", claims.join(", ")) }
            )
        }
    }
}

/// An expression of the graph in policy syntax (for explanations and pictures).
pub fn render_expr(g: &Graph, id: ExprId) -> String {
    render(g, id, 0, &[])
}

/// The same, inside an endpoint whose route parameters are `params`
/// (positional `path` reads are written by name).
pub fn render_expr_in(g: &Graph, id: ExprId, params: &[String]) -> String {
    render(g, id, 0, params)
}

fn keys(path: &[Key]) -> String {
    path.iter()
        .map(|k| match k {
            Key::Field(f) if warden_language::is_identifier(f) => format!(".{f}"),
            Key::Field(f) => format!("[{}]", warden_language::format::quote(f)),
            Key::Index(i) => format!("[{i}]"),
        })
        .collect()
}

fn render(g: &Graph, id: ExprId, depth: usize, params: &[String]) -> String {
    // Expressions are at most as deep as the source (bounded by the parser); the
    // guard only keeps a hand-made graph from recursing without end.
    if depth > 256 {
        return "…".to_owned();
    }
    let r = |i: ExprId| render(g, i, depth + 1, params);
    let name = |table: &[String], slot: u32| table.get(slot as usize).cloned().unwrap_or_else(|| "?".to_owned());
    match g.exprs.get(id as usize) {
        None => "?".to_owned(),
        Some(e) => match e {
            Expr::Const(v) => v.to_string(),
            Expr::Claim { slot, path } => format!("claim.{}{}", name(&g.names.claims, *slot), keys(path)),
            Expr::PathParam(i) => match params.get(*i as usize) {
                Some(name) => format!("path.{name}"),
                None => format!("path#{i}"),
            },
            Expr::PathNamed(name) => format!("path.{name}"),
            Expr::Query(slot) => format!("query.{}", name(&g.names.queries, *slot)),
            Expr::Header(slot) => format!("header[\"{}\"]", name(&g.names.headers, *slot)),
            Expr::Body(path) => format!("body{}", keys(path)),
            Expr::Resource(path) => format!("resource{}", keys(path)),
            Expr::Context(path) => format!("context{}", keys(path)),
            Expr::Data { doc, path } => {
                format!("data.{}{}", g.data.get(*doc as usize).map_or("?", |d| d.name.as_str()), keys(path))
            }
            Expr::PeerPrincipal => "peer.principal".to_owned(),
            Expr::SourceIp => "source.ip".to_owned(),
            Expr::RequestMethod => "request.method".to_owned(),
            Expr::RequestPath => "request.path".to_owned(),
            Expr::RequestHost => "request.host".to_owned(),
            Expr::RequestScheme => "request.scheme".to_owned(),
            Expr::Root(root) => root.clone(),
            Expr::Index { base, key } => format!("{}[{}]", r(*base), r(*key)),
            Expr::List(items) => format!("[{}]", items.iter().map(|i| r(*i)).collect::<Vec<_>>().join(", ")),
            Expr::Not(i) => format!("not {}", r(*i)),
            Expr::And(items) => format!("({})", items.iter().map(|i| r(*i)).collect::<Vec<_>>().join(" and ")),
            Expr::Or(items) => format!("({})", items.iter().map(|i| r(*i)).collect::<Vec<_>>().join(" or ")),
            Expr::Cmp { op, lhs, rhs } => format!("{} {} {}", r(*lhs), op.as_str(), r(*rhs)),
            Expr::Has(i) => format!("has({})", r(*i)),
            Expr::StartsWith(a, b) => format!("starts_with({}, {})", r(*a), r(*b)),
            Expr::EndsWith(a, b) => format!("ends_with({}, {})", r(*a), r(*b)),
            Expr::Lower(a) => format!("lower({})", r(*a)),
            Expr::Len(a) => format!("len({})", r(*a)),
            Expr::Matches(a, re) => {
                format!("matches({}, {:?})", r(*a), g.regexes.get(*re as usize).map_or("?", |s| s.as_str()))
            }
            Expr::InCidr(a, c) => {
                format!("in_cidr({}, {:?})", r(*a), g.cidrs.get(*c as usize).map_or("?", |s| s.as_str()))
            }
        },
    }
}
