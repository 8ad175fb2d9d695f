//! Expressions: names resolved to slots and indexes, constants folded
//! (keeping evaluation order), identical nodes interned once; and which
//! limit keys can be counted before authentication.

use warden_language::ast::{self, CmpOp, ExprKind, Func, Root, Segment, SegmentKind};

use super::{Lowerer, Scope, len_u32};
use crate::graph::{Expr, ExprId, Key};

impl Lowerer<'_> {
    /// The index of `value` in one of the graph's string tables, added once.
    pub(super) fn table(&mut self, table: Table, value: String) -> u32 {
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

    /// The id of an identical expression already stored, or of `e` added.
    pub(super) fn intern(&mut self, e: Expr) -> ExprId {
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

    /// Lowers an expression, folding what is constant.
    pub(super) fn expr(&mut self, e: &ast::Expr, scope: Scope<'_>) -> ExprId {
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

/// The string tables of the graph that expressions index into.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Table {
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
