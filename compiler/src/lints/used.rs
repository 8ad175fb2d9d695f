//! Names referred to anywhere in a set (zones, limits, bans, schemas, data), for
//! `unused-declaration`: one walk of the AST with the language's visitor.

use std::collections::BTreeSet;

use warden_language::ast::visit::{walk_api, walk_exchange, walk_expr, walk_resource, walk_stmt, walk_type_expr};
use warden_language::ast::*;

/// Names referred to anywhere in the set.
#[derive(Default)]
pub(super) struct Used<'a> {
    pub(super) zones: BTreeSet<&'a str>,
    pub(super) limits: BTreeSet<&'a str>,
    pub(super) bans: BTreeSet<&'a str>,
    pub(super) schemas: BTreeSet<&'a str>,
    pub(super) data: BTreeSet<&'a str>,
}

impl<'a> Used<'a> {
    pub(super) fn collect(decls: &[(usize, &'a Decl)]) -> Used<'a> {
        let mut u = Used::default();
        for &(_, decl) in decls {
            u.visit_decl(decl);
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

    fn visit_type_expr(&mut self, t: &'a TypeExpr) {
        if let TypeKind::Named(n) = &t.kind {
            self.schemas.insert(&n.name);
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
