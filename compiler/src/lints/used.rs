//! Names referred to anywhere in a set (zones, limits, schemas, data), for
//! `unused-declaration`.

use std::collections::BTreeSet;

use warden_language::ast::*;

/// Names referred to anywhere in the set.
#[derive(Default)]
pub(super) struct Used<'a> {
    pub(super) zones: BTreeSet<&'a str>,
    pub(super) limits: BTreeSet<&'a str>,
    pub(super) schemas: BTreeSet<&'a str>,
    pub(super) data: BTreeSet<&'a str>,
}

impl<'a> Used<'a> {
    pub(super) fn collect(decls: &[(usize, &'a Decl)]) -> Used<'a> {
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
