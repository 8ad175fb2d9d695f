//! Names referred to anywhere in a set (zones, limits, bans, schemas, data), for
//! `unused-declaration`: one walk of the AST with the language's visitor.

use std::collections::BTreeSet;

use warden_language::ast::visit::{
    walk_api, walk_exchange, walk_expr, walk_resource, walk_schema, walk_stmt, walk_type_expr,
};
use warden_language::ast::*;

/// Names referred to anywhere in the set.
#[derive(Default)]
pub(super) struct Used<'a> {
    pub(super) zones: BTreeSet<&'a str>,
    pub(super) limits: BTreeSet<&'a str>,
    pub(super) bans: BTreeSet<&'a str>,
    pub(super) schemas: BTreeSet<&'a str>,
    pub(super) data: BTreeSet<&'a str>,
    /// The schema whose fields are being walked, if any.
    in_schema: Option<&'a str>,
    /// `(schema, schema one of its fields names)`: a schema is used when a
    /// used one names it, not merely when any schema (itself…) does.
    schema_edges: Vec<(&'a str, &'a str)>,
}

impl<'a> Used<'a> {
    pub(super) fn collect(decls: &[(usize, &'a Decl)]) -> Used<'a> {
        let mut u = Used::default();
        for &(_, decl) in decls {
            u.visit_decl(decl);
        }
        // The schemas a body names, then every schema they name, transitively.
        loop {
            let reached: Vec<&'a str> = u
                .schema_edges
                .iter()
                .filter(|(from, to)| u.schemas.contains(from) && !u.schemas.contains(to))
                .map(|(_, to)| *to)
                .collect();
            if reached.is_empty() {
                break;
            }
            u.schemas.extend(reached);
        }
        u
    }
}

impl<'a> Visit<'a> for Used<'a> {
    fn visit_api(&mut self, api: &'a Api) {
        self.zones.insert(&api.zone.name);
        walk_api(self, api);
    }

    fn visit_exchange(&mut self, exchange: &'a Exchange) {
        self.zones.insert(&exchange.zone.name);
        walk_exchange(self, exchange);
    }

    fn visit_resource(&mut self, resource: &'a Resource) {
        self.zones.insert(&resource.zone.name);
        walk_resource(self, resource);
    }

    /// A declaration that only a policy test names is still unused.
    fn visit_test(&mut self, _test: &'a Test) {}

    fn visit_stmt(&mut self, s: &'a Stmt) {
        match &s.node {
            StmtKind::Limit(names) => names.iter().for_each(|n| {
                self.limits.insert(&n.name);
            }),
            StmtKind::Ban(names) => names.iter().for_each(|n| {
                self.bans.insert(&n.name);
            }),
            StmtKind::Body(BodySpec::Json { schema: Some(n), .. }) => {
                self.schemas.insert(&n.name);
            }
            StmtKind::Mint(m) => {
                self.zones.insert(&m.zone.name);
            }
            _ => {}
        }
        walk_stmt(self, s);
    }

    fn visit_schema(&mut self, schema: &'a Schema) {
        self.in_schema = Some(&schema.name.name);
        walk_schema(self, schema);
        self.in_schema = None;
    }

    fn visit_type_expr(&mut self, t: &'a TypeExpr) {
        if let TypeKind::Named(n) = &t.kind {
            match self.in_schema {
                Some(owner) => self.schema_edges.push((owner, &n.name)),
                None => {
                    self.schemas.insert(&n.name);
                }
            }
        }
        walk_type_expr(self, t);
    }

    fn visit_expr(&mut self, e: &'a Expr) {
        if let ExprKind::Attr { root, path } = &e.kind
            && root.node == Root::Data
            && let Some(Segment { kind: SegmentKind::Field(name), .. }) = path.first()
        {
            self.data.insert(name);
        }
        walk_expr(self, e);
    }
}
