//! What the lints read, gathered once per set: declarations in file order,
//! limits by name, every statement with where it is written, and
//! every route with its api's host, prefix and shared statements.

use std::collections::BTreeMap;

use warden_language::ast::*;

use super::paths::{self, PathKey, PathRoute};
use crate::PolicySet;
use crate::graph::Graph;

/// A policy set that compiled, with its graph and the indexes lints share.
pub(super) struct Context<'a> {
    /// The set's files.
    pub(super) set: &'a PolicySet,
    /// The graph the set compiled to.
    pub(super) graph: &'a Graph,
    /// Every declaration with its file, in file order.
    pub(super) decls: Vec<(usize, &'a Decl)>,
    /// Limits by name.
    pub(super) limits: BTreeMap<&'a str, &'a Limit>,
    /// Every statement of every api, route, resource and action, in file order.
    pub(super) statements: Vec<Statement<'a>>,
    /// Every route of every api, in file order.
    pub(super) routes: Vec<RouteSite<'a>>,
    /// Routes grouped by host and path shape.
    pub(super) paths: BTreeMap<PathKey, Vec<PathRoute>>,
}

/// Where a statement is written.
#[derive(Clone, Copy)]
pub(super) enum Owner<'a> {
    /// At api level: it applies to every route.
    Api,
    /// In a route.
    Route(&'a Route),
    /// At resource level: it applies to every action.
    Resource,
    /// In an action.
    Action(&'a Action),
}

/// One statement and what surrounds it.
pub(super) struct Statement<'a> {
    /// The file it is in.
    pub(super) file: usize,
    /// The zone of its api or resource, when that zone exists.
    pub(super) zone: Option<&'a Zone>,
    /// Where it is written.
    pub(super) owner: Owner<'a>,
    /// The statement.
    pub(super) stmt: &'a Stmt,
}

/// One route of an api.
pub(super) struct RouteSite<'a> {
    /// The file it is in.
    pub(super) file: usize,
    /// The api's `host`, lower case.
    pub(super) host: Option<String>,
    /// The api's `prefix`, empty when it has none.
    pub(super) prefix: String,
    /// The api's own statements, which apply to every route.
    pub(super) shared: Vec<&'a Stmt>,
    /// The route.
    pub(super) route: &'a Route,
}

impl<'a> RouteSite<'a> {
    /// The statements that apply to the route: its api's, then its own.
    pub(super) fn stmts(&self) -> Vec<&'a Stmt> {
        self.shared.iter().copied().chain(self.route.stmts.iter()).collect()
    }

    /// The keyword of the route's effective `auth` (the last one written),
    /// `bearer` when none is.
    pub(super) fn auth(&self) -> &'static str {
        self.stmts()
            .iter()
            .rev()
            .find_map(|s| if let StmtKind::Auth(m) = &s.node { Some(m.keyword()) } else { None })
            .unwrap_or("bearer")
    }
}

impl<'a> Context<'a> {
    /// Gathers what the lints read from `set`, which compiled to `graph`.
    pub(super) fn new(set: &'a PolicySet, graph: &'a Graph) -> Context<'a> {
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
        let mut statements = Vec::new();
        let mut routes = Vec::new();
        for &(file, decl) in &decls {
            match decl {
                Decl::Api(api) => {
                    let zone = zones.get(api.zone.name.as_str()).copied();
                    let shared: Vec<&Stmt> = api
                        .items
                        .iter()
                        .filter_map(|i| if let ApiItem::Stmt(s) = i { Some(s) } else { None })
                        .collect();
                    let host = api.items.iter().find_map(|i| {
                        if let ApiItem::Host(h) = i { Some(h.node.value.to_ascii_lowercase()) } else { None }
                    });
                    let prefix = api
                        .items
                        .iter()
                        .find_map(|i| if let ApiItem::Prefix(p) = i { Some(p.node.value.clone()) } else { None })
                        .unwrap_or_default();
                    for &stmt in &shared {
                        statements.push(Statement { file, zone, owner: Owner::Api, stmt });
                    }
                    for item in &api.items {
                        let ApiItem::Route(route) = item else { continue };
                        for stmt in &route.stmts {
                            statements.push(Statement { file, zone, owner: Owner::Route(route), stmt });
                        }
                        routes.push(RouteSite {
                            file,
                            host: host.clone(),
                            prefix: prefix.clone(),
                            shared: shared.clone(),
                            route,
                        });
                    }
                }
                Decl::Resource(resource) => {
                    let zone = zones.get(resource.zone.name.as_str()).copied();
                    for item in &resource.items {
                        match item {
                            ResourceItem::Stmt(stmt) => {
                                statements.push(Statement { file, zone, owner: Owner::Resource, stmt });
                            }
                            ResourceItem::Action(action) => {
                                for stmt in &action.stmts {
                                    statements.push(Statement { file, zone, owner: Owner::Action(action), stmt });
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let paths = paths::by_path(&routes);
        Context { set, graph, decls, limits, statements, routes, paths }
    }

    /// Every issuer of every zone with the zone and its file, in file order.
    pub(super) fn issuers(&self) -> Vec<(usize, &'a Zone, &'a Issuer)> {
        let mut out = Vec::new();
        for &(file, decl) in &self.decls {
            let Decl::Zone(zone) = decl else { continue };
            for item in &zone.items {
                if let ZoneItem::Issuer(issuer) = &item.node {
                    out.push((file, zone, issuer));
                }
            }
        }
        out
    }
}
