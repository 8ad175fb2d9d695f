//! Graph → Cedar expression tree: each rule condition `e` of the decision graph
//! becomes `T(e)` ("`e` evaluates to true") and `F(e)` ("`e` evaluates to
//! false"), two Cedar expressions that never error (docs/cedar.md).
//!
//! Warden errors on a missing value or a kind mismatch, where Cedar skips the
//! policy or answers `false`; so every access is guarded by `has` tests (a
//! value's [`Guard`]), and a value of unknown kind is a `Value` record read
//! through the attribute named after the kind it is tested for. When neither
//! `T(e)` nor `F(e)` holds, Warden's evaluation errors. A construct Cedar cannot
//! express is an `Err` naming it.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::expr::{CmpOp as Op, Expr as Cedar, Pattern};
use super::schema::Tag;
use super::{canonical_json, pointer, whole};
use crate::graph::{CmpOp, Endpoint, Expr, ExprId, Graph, Key};

/// A translation, or what Cedar cannot express (lower case, construct in backticks).
pub(super) type Tr<T> = Result<T, String>;

/// Where a value of unknown kind lives in the Cedar request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Root {
    Claims,
    Resource,
    Body,
    Context,
}

impl Root {
    /// The Cedar record of top-level names and the record of nested paths.
    fn records(self) -> (Cedar, Cedar) {
        let (base, flat, nested) = match self {
            Root::Claims => (Cedar::principal(), "claims", "claim_paths"),
            Root::Resource => (Cedar::resource(), "properties", "property_paths"),
            Root::Body => (Cedar::context(), "body", "body_paths"),
            Root::Context => (Cedar::context(), "context", "context_paths"),
        };
        (base.clone().attr(flat), base.attr(nested))
    }

    /// Its name in a [`super::CedarRead`].
    pub(super) fn name(self) -> &'static str {
        match self {
            Root::Claims => "claims",
            Root::Resource => "resource",
            Root::Body => "body",
            Root::Context => "context",
        }
    }
}

/// Names the rules read, collected while translating; they become the schema's attributes.
#[derive(Default)]
pub(super) struct Names {
    /// (root, record key, attribute path) of every value of unknown kind.
    pub(super) dynamic: BTreeSet<(Root, String, Vec<String>)>,
    /// Per resource type, its property keys and paths.
    pub(super) resource: BTreeSet<(String, String, Vec<String>)>,
    /// Query parameters.
    pub(super) query: BTreeSet<String>,
    /// Header names.
    pub(super) headers: BTreeSet<String>,
    /// Route parameters.
    pub(super) params: BTreeSet<String>,
}

/// A translated value: the condition under which it has a value, and its kind
/// with the Cedar expression that reads it.
#[derive(Clone, Debug)]
struct Val {
    guard: Guard,
    kind: Kind,
}

/// When a value is present.
#[derive(Clone, Debug, PartialEq)]
enum Guard {
    Always,
    /// Never: a path parameter the route does not have, a `data` path that leads nowhere.
    Never,
    /// When this `has` test holds (it never errors).
    When(Cedar),
}

impl Guard {
    fn expr(&self) -> Cedar {
        match self {
            Guard::Always => Cedar::Bool(true),
            Guard::Never => Cedar::Bool(false),
            Guard::When(c) => c.clone(),
        }
    }
}

/// The kind of a value, with the Cedar expression of that type reading it.
#[derive(Clone, Debug)]
enum Kind {
    Str(Cedar),
    Long(Cedar),
    Bool(Cedar),
    /// `null`: nothing to read.
    Null,
    /// A tagged `Value` record: kind known only at run time.
    Dynamic(Cedar),
    /// A constant list or object (from `data` or a literal).
    Const(Json),
}

/// The condition that the dynamic value read by `code` (present when `guard`
/// holds) is of the kind `tag`.
fn kind_test(guard: &Guard, code: &Cedar, tag: Tag) -> Cedar {
    Cedar::and([guard.expr(), code.clone().has(tag.name())])
}

/// Translates the conditions of one endpoint, collecting the names they read.
pub(super) struct Cx<'g> {
    pub(super) g: &'g Graph,
    pub(super) ep: &'g Endpoint,
    pub(super) names: Names,
    pub(super) resource_type: Option<String>,
}

impl Cx<'_> {
    fn expr(&self, id: ExprId) -> Tr<&Expr> {
        self.g.exprs.get(id as usize).ok_or_else(|| format!("expression {id} is not in the graph"))
    }

    fn dynamic(&mut self, root: Root, first: &str, path: &[Key]) -> Tr<Val> {
        let mut rest = Vec::new();
        for k in path {
            match k {
                Key::Field(f) => rest.push(f.clone()),
                Key::Index(i) => return Err(format!("a list index `[{i}]` in an attribute path")),
            }
        }
        let (flat, nested) = root.records();
        let (record, key) = if rest.is_empty() { (flat, first.to_owned()) } else { (nested, pointer(first, &rest)) };
        let full: Vec<String> = std::iter::once(first.to_owned()).chain(rest.iter().cloned()).collect();
        if root == Root::Resource {
            let rt = self.resource_type.clone().unwrap_or_default();
            self.names.resource.insert((rt, key.clone(), full));
        } else {
            self.names.dynamic.insert((root, key.clone(), full));
        }
        Ok(Val { guard: Guard::When(record.clone().has(&key)), kind: Kind::Dynamic(record.attr(&key)) })
    }

    /// A string attribute of `record`, absent when the request has none.
    fn optional_string(record: Cedar, name: &str) -> Val {
        Val { guard: Guard::When(record.clone().has(name)), kind: Kind::Str(record.attr(name)) }
    }

    /// A string attribute of `context.request`, always present.
    fn request(name: &str) -> Val {
        Val { guard: Guard::Always, kind: Kind::Str(Cedar::context().attr("request").attr(name)) }
    }

    fn value(&mut self, id: ExprId) -> Tr<Val> {
        let g = self.g;
        let name = |table: &[String], slot: u32| table.get(slot as usize).cloned().unwrap_or_default();
        Ok(match self.expr(id)?.clone() {
            Expr::Const(v) => constant(&v)?,
            Expr::Claim { slot, path } => self.dynamic(Root::Claims, &name(&g.names.claims, slot), &path)?,
            Expr::Resource(path) => match path.split_first() {
                Some((Key::Field(first), rest)) => self.dynamic(Root::Resource, first, rest)?,
                _ => return Err("`resource` as a whole or indexed by position".to_owned()),
            },
            Expr::Body(path) => match path.split_first() {
                Some((Key::Field(first), rest)) => self.dynamic(Root::Body, first, rest)?,
                _ => return Err("`body` as a whole or indexed by position".to_owned()),
            },
            Expr::Context(path) => match path.split_first() {
                Some((Key::Field(first), rest)) => self.dynamic(Root::Context, first, rest)?,
                _ => return Err("`context` as a whole or indexed by position".to_owned()),
            },
            Expr::PathParam(i) => {
                let param = self.ep.params.get(i as usize).cloned().ok_or("a path parameter out of range")?;
                self.path_param(&param)
            }
            Expr::PathNamed(param) => {
                if self.ep.params.contains(&param) {
                    self.path_param(&param)
                } else {
                    // Never present, so never read.
                    Val { guard: Guard::Never, kind: Kind::Str(Cedar::context().attr("path").attr(&param)) }
                }
            }
            Expr::Query(slot) => {
                let q = name(&g.names.queries, slot);
                self.names.query.insert(q.clone());
                Self::optional_string(Cedar::context().attr("query"), &q)
            }
            Expr::Header(slot) => {
                let h = name(&g.names.headers, slot);
                self.names.headers.insert(h.clone());
                Self::optional_string(Cedar::context().attr("headers"), &h)
            }
            Expr::PeerPrincipal => Self::optional_string(Cedar::context(), "peer"),
            Expr::SourceIp => Self::optional_string(Cedar::context(), "source_ip"),
            Expr::RequestMethod => Self::request("method"),
            Expr::RequestPath => Self::request("path"),
            Expr::RequestHost => Self::request("host"),
            Expr::RequestScheme => Self::request("scheme"),
            Expr::Data { doc, path } => {
                let d = g.data.get(doc as usize).ok_or("a data document out of range")?;
                let mut at = &d.value;
                for k in &path {
                    let next = match (k, at) {
                        (Key::Field(f), Json::Object(m)) => m.get(f),
                        (Key::Index(i), Json::Array(items)) => usize::try_from(*i).ok().and_then(|i| items.get(i)),
                        _ => None,
                    };
                    match next {
                        Some(v) => at = v,
                        None => return Ok(Val { guard: Guard::Never, kind: Kind::Null }),
                    }
                }
                constant(at)?
            }
            Expr::Root(root) => return Err(format!("`{root}` as a whole")),
            Expr::Index { .. } => return Err("an index computed at run time (`e[k]`)".to_owned()),
            Expr::List(_) => return Err("a list with computed items".to_owned()),
            Expr::Lower(_) => return Err("`lower` (Cedar has no case mapping)".to_owned()),
            Expr::Len(_) => return Err("`len` (Cedar has no length of strings or sets)".to_owned()),
            Expr::Matches(..) => return Err("`matches` (Cedar has no regular expressions)".to_owned()),
            Expr::InCidr(..) => return Err("`in_cidr` (exported only as a condition of its own)".to_owned()),
            Expr::Not(_)
            | Expr::And(_)
            | Expr::Or(_)
            | Expr::Cmp { .. }
            | Expr::Has(_)
            | Expr::StartsWith(..)
            | Expr::EndsWith(..) => return Err("a condition used as a value".to_owned()),
        })
    }

    fn path_param(&mut self, param: &str) -> Val {
        self.names.params.insert(param.to_owned());
        Self::optional_string(Cedar::context().attr("path"), param)
    }

    /// `T(e)` and `F(e)`: "evaluates to true" and "evaluates to false", neither ever erroring.
    pub(super) fn cond(&mut self, id: ExprId) -> Tr<(Cedar, Cedar)> {
        match self.expr(id)?.clone() {
            Expr::Not(a) => {
                let (t, f) = self.cond(a)?;
                Ok((f, t))
            }
            // Left to right, stopping at the first false: false when some item is,
            // after all the items before it were true.
            Expr::And(items) => {
                let mut all_true: Vec<Cedar> = Vec::new();
                let mut falses = Vec::new();
                for i in items {
                    let (t, f) = self.cond(i)?;
                    falses.push(Cedar::and(all_true.iter().cloned().chain([f])));
                    all_true.push(t);
                }
                Ok((Cedar::and(all_true), Cedar::or(falses)))
            }
            Expr::Or(items) => {
                let mut all_false: Vec<Cedar> = Vec::new();
                let mut trues = Vec::new();
                for i in items {
                    let (t, f) = self.cond(i)?;
                    trues.push(Cedar::and(all_false.iter().cloned().chain([t])));
                    all_false.push(f);
                }
                Ok((Cedar::or(trues), Cedar::and(all_false)))
            }
            Expr::Has(a) => {
                let v = self.value(a)?;
                if !matches!(
                    self.expr(a)?,
                    Expr::Claim { .. }
                        | Expr::Resource(_)
                        | Expr::Body(_)
                        | Expr::Context(_)
                        | Expr::Query(_)
                        | Expr::Header(_)
                        | Expr::PathNamed(_)
                        | Expr::PathParam(_)
                        | Expr::PeerPrincipal
                        | Expr::SourceIp
                        | Expr::Data { .. }
                ) {
                    return Err("`has` of a computed value".to_owned());
                }
                let g = v.guard.expr();
                Ok((g.clone(), Cedar::not(g)))
            }
            Expr::Cmp { op, lhs, rhs } => {
                let a = self.value(lhs)?;
                let b = self.value(rhs)?;
                compare(op, &a, &b)
            }
            Expr::StartsWith(a, b) | Expr::EndsWith(a, b) => {
                let starts = matches!(self.expr(id)?, Expr::StartsWith(..));
                let s = self.value(a)?;
                let p = self.value(b)?;
                let Kind::Str(_) = p.kind else {
                    return Err("`starts_with`/`ends_with` with a pattern that is not a constant string".to_owned());
                };
                let Some(text) = const_str(self.g, b) else {
                    return Err("`starts_with`/`ends_with` with a pattern computed at run time".to_owned());
                };
                let pattern = if starts { Pattern::starting_with(&text) } else { Pattern::ending_with(&text) };
                match as_kind(&s, Tag::Str) {
                    None => Ok(neither()),
                    Some((ok, code)) => {
                        let like = code.like(pattern);
                        Ok((Cedar::and([ok.clone(), like.clone()]), Cedar::and([ok, Cedar::not(like)])))
                    }
                }
            }
            _ => {
                let v = self.value(id)?;
                match as_kind(&v, Tag::Bool) {
                    None => Ok(neither()),
                    Some((ok, code)) => {
                        Ok((Cedar::and([ok.clone(), code.clone()]), Cedar::and([ok, Cedar::not(code)])))
                    }
                }
            }
        }
    }
}

/// `(T, F)` of a condition that always errors.
fn neither() -> (Cedar, Cedar) {
    (Cedar::Bool(false), Cedar::Bool(false))
}

/// The string value of a constant expression, if it is one.
fn const_str(g: &Graph, id: ExprId) -> Option<String> {
    match g.exprs.get(id as usize)? {
        Expr::Const(Json::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// A constant as a Cedar value.
fn constant(v: &Json) -> Tr<Val> {
    let kind = match v {
        Json::String(s) => Kind::Str(Cedar::Str(s.clone())),
        Json::Bool(b) => Kind::Bool(Cedar::Bool(*b)),
        Json::Null => Kind::Null,
        Json::Number(n) => match whole(n) {
            Some(i) => Kind::Long(Cedar::Long(i)),
            None => return Err(format!("the number `{n}` (Cedar has whole numbers only)")),
        },
        Json::Array(_) | Json::Object(_) => Kind::Const(v.clone()),
    };
    Ok(Val { guard: Guard::Always, kind })
}

/// `Some((condition that v has the kind, Cedar expression of that kind))`;
/// `None` when it never can.
fn as_kind(v: &Val, tag: Tag) -> Option<(Cedar, Cedar)> {
    if v.guard == Guard::Never {
        return None;
    }
    match (&v.kind, tag) {
        (Kind::Dynamic(code), _) => Some((kind_test(&v.guard, code, tag), code.clone().attr(tag.name()))),
        (Kind::Str(code), Tag::Str) | (Kind::Long(code), Tag::Num) | (Kind::Bool(code), Tag::Bool) => {
            Some((v.guard.expr(), code.clone()))
        }
        _ => None,
    }
}

/// A comparison. Warden errors on a kind mismatch where Cedar answers `false`,
/// so each side is first tested for the kind the other has.
fn compare(op: CmpOp, a: &Val, b: &Val) -> Tr<(Cedar, Cedar)> {
    if a.guard == Guard::Never || b.guard == Guard::Never {
        return Ok(neither());
    }
    let order = match op {
        CmpOp::Eq | CmpOp::Ne => {
            let (t, f) = equal(a, b)?;
            return Ok(if op == CmpOp::Eq { (t, f) } else { (f, t) });
        }
        CmpOp::In | CmpOp::NotIn => {
            let (t, f) = member(a, b)?;
            return Ok(if op == CmpOp::In { (t, f) } else { (f, t) });
        }
        CmpOp::Lt => Op::Lt,
        CmpOp::Le => Op::Le,
        CmpOp::Gt => Op::Gt,
        CmpOp::Ge => Op::Ge,
    };
    let known_long = matches!(a.kind, Kind::Long(_)) || matches!(b.kind, Kind::Long(_));
    let any_str = matches!(a.kind, Kind::Str(_)) || matches!(b.kind, Kind::Str(_));
    if any_str || !known_long {
        return Err(format!("`{}` on strings (Cedar orders whole numbers only)", op.as_str()));
    }
    let (Some((ga, ca)), Some((gb, cb))) = (as_kind(a, Tag::Num), as_kind(b, Tag::Num)) else {
        return Ok(neither());
    };
    let holds = ca.cmp(order, cb);
    Ok((Cedar::and([ga.clone(), gb.clone(), holds.clone()]), Cedar::and([ga, gb, Cedar::not(holds)])))
}

/// `==` or `!=`.
fn eq_op(eq: bool) -> Op {
    if eq { Op::Eq } else { Op::Ne }
}

/// `a == b` as `(T, F)`: values of different kinds make neither hold (an error).
fn equal(a: &Val, b: &Val) -> Tr<(Cedar, Cedar)> {
    Ok(match (&a.kind, &b.kind) {
        (Kind::Dynamic(ca), Kind::Dynamic(cb)) => {
            // Equal when both are of one kind and equal in it.
            let both = |tag: Tag, eq: bool| -> Cedar {
                let (ta, tb) = (kind_test(&a.guard, ca, tag), kind_test(&b.guard, cb, tag));
                let (va, vb) = (ca.clone().attr(tag.name()), cb.clone().attr(tag.name()));
                match (tag, eq) {
                    (Tag::Nil, true) => Cedar::and([ta, tb]),
                    (Tag::Nil, false) => Cedar::Bool(false),
                    (Tag::List | Tag::Obj, _) => Cedar::and([ta, tb, va.attr("json").cmp(eq_op(eq), vb.attr("json"))]),
                    _ => Cedar::and([ta, tb, va.cmp(eq_op(eq), vb)]),
                }
            };
            (Cedar::or(Tag::ALL.map(|t| both(t, true))), Cedar::or(Tag::ALL.map(|t| both(t, false))))
        }
        (Kind::Dynamic(code), _) => (against(&a.guard, code, b, true)?, against(&a.guard, code, b, false)?),
        (_, Kind::Dynamic(code)) => (against(&b.guard, code, a, true)?, against(&b.guard, code, a, false)?),
        (Kind::Const(_), _) | (_, Kind::Const(_)) => {
            return Err("`==` between a constant list or object and a value of fixed kind".to_owned());
        }
        (Kind::Null, Kind::Null) => (Cedar::and([a.guard.expr(), b.guard.expr()]), Cedar::Bool(false)),
        (Kind::Str(ca), Kind::Str(cb)) | (Kind::Long(ca), Kind::Long(cb)) | (Kind::Bool(ca), Kind::Bool(cb)) => {
            let ok = [a.guard.expr(), b.guard.expr()];
            (
                Cedar::and(ok.iter().cloned().chain([ca.clone().cmp(Op::Eq, cb.clone())])),
                Cedar::and(ok.into_iter().chain([ca.clone().cmp(Op::Ne, cb.clone())])),
            )
        }
        _ => neither(),
    })
}

/// `d == k` (`eq`) or `d != k` where `d` is the dynamic value read by `code`
/// (present when `guard` holds) and `k` has a kind known when compiling.
fn against(guard: &Guard, code: &Cedar, k: &Val, eq: bool) -> Tr<Cedar> {
    let op = eq_op(eq);
    Ok(match &k.kind {
        Kind::Null => {
            if eq {
                Cedar::and([k.guard.expr(), kind_test(guard, code, Tag::Nil)])
            } else {
                Cedar::Bool(false)
            }
        }
        Kind::Const(c) => {
            let tag = if c.is_array() { Tag::List } else { Tag::Obj };
            let canon = canonical_json(c).ok_or("`==` on a list or object holding numbers Cedar cannot represent")?;
            Cedar::and([
                kind_test(guard, code, tag),
                code.clone().attr(tag.name()).attr("json").cmp(op, Cedar::Str(canon)),
            ])
        }
        Kind::Str(kc) | Kind::Long(kc) | Kind::Bool(kc) => {
            let tag = match k.kind {
                Kind::Long(_) => Tag::Num,
                Kind::Bool(_) => Tag::Bool,
                _ => Tag::Str,
            };
            Cedar::and([k.guard.expr(), kind_test(guard, code, tag), code.clone().attr(tag.name()).cmp(op, kc.clone())])
        }
        // Two dynamic values are compared kind by kind in `equal`.
        Kind::Dynamic(_) => return Err("`==` between two values of unknown kind".to_owned()),
    })
}

/// A Cedar set literal of the items of one kind, or `None` when there are none.
fn set_of(items: &[Json], tag: Tag) -> Option<Cedar> {
    let parts: Vec<Cedar> = items
        .iter()
        .filter_map(|i| match (tag, i) {
            (Tag::Str, Json::String(s)) => Some(Cedar::Str(s.clone())),
            (Tag::Num, Json::Number(n)) => whole(n).map(Cedar::Long),
            (Tag::Bool, Json::Bool(b)) => Some(Cedar::Bool(*b)),
            _ => None,
        })
        .collect();
    if parts.is_empty() { None } else { Some(Cedar::Set(parts)) }
}

/// `a in b`: list membership, object key or substring, by the kind of `b`.
fn member(a: &Val, b: &Val) -> Tr<(Cedar, Cedar)> {
    if matches!(a.kind, Kind::Const(_)) {
        return Err("`in` with a list or object on the left".to_owned());
    }
    let constant = match &a.kind {
        Kind::Str(code) => matches!(code, Cedar::Str(_)),
        Kind::Long(_) | Kind::Bool(_) | Kind::Null => true,
        Kind::Dynamic(_) | Kind::Const(_) => false,
    };
    match &b.kind {
        Kind::Const(Json::Array(items)) => {
            if items.iter().any(|i| i.is_array() || i.is_object() || i.as_number().is_some_and(|n| whole(n).is_none()))
            {
                return Err("`in` over a list holding lists, objects or numbers Cedar cannot represent".to_owned());
            }
            let present = a.guard.expr();
            let mut hits = Vec::new();
            for tag in [Tag::Str, Tag::Num, Tag::Bool] {
                if let Some((ok, code)) = as_kind(a, tag)
                    && let Some(set) = set_of(items, tag)
                {
                    hits.push(Cedar::and([ok, set.contains(code)]));
                }
            }
            if items.iter().any(Json::is_null) {
                match &a.kind {
                    Kind::Null => hits.push(present.clone()),
                    Kind::Dynamic(code) => hits.push(kind_test(&a.guard, code, Tag::Nil)),
                    _ => {}
                }
            }
            let t = Cedar::or(hits);
            Ok((t.clone(), Cedar::and([present, Cedar::not(t)])))
        }
        Kind::Const(Json::Object(map)) => {
            let keys: Vec<Json> = map.keys().map(|k| Json::String(k.clone())).collect();
            let Some((ok, code)) = as_kind(a, Tag::Str) else { return Ok(neither()) };
            let t = match set_of(&keys, Tag::Str) {
                Some(set) => Cedar::and([ok.clone(), set.contains(code)]),
                None => Cedar::Bool(false),
            };
            Ok((t.clone(), Cedar::and([ok, Cedar::not(t)])))
        }
        Kind::Str(_) | Kind::Dynamic(_) if constant => {
            // The left side is a constant: substring tests become `like` patterns.
            let mut t = Vec::new();
            let mut f = Vec::new();
            if let Kind::Str(needle @ Cedar::Str(s)) = &a.kind {
                let pattern = Pattern::containing(s);
                if let Some((ok, code)) = as_kind(b, Tag::Str) {
                    let like = code.like(pattern);
                    t.push(Cedar::and([ok.clone(), like.clone()]));
                    f.push(Cedar::and([ok, Cedar::not(like)]));
                }
                if let Kind::Dynamic(code) = &b.kind {
                    let obj = kind_test(&b.guard, code, Tag::Obj);
                    let key = code.clone().attr("obj").attr("keys").contains(needle.clone());
                    t.push(Cedar::and([obj.clone(), key.clone()]));
                    f.push(Cedar::and([obj, Cedar::not(key)]));
                }
            }
            if let Kind::Dynamic(code) = &b.kind {
                let list = kind_test(&b.guard, code, Tag::List);
                let items = code.clone().attr("list");
                let contains = match &a.kind {
                    Kind::Str(needle) => items.attr("strs").contains(needle.clone()),
                    Kind::Long(needle) => items.attr("nums").contains(needle.clone()),
                    Kind::Bool(needle) => items.attr("bools").contains(needle.clone()),
                    _ => items.attr("nils"),
                };
                t.push(Cedar::and([list.clone(), contains.clone()]));
                f.push(Cedar::and([list, Cedar::not(contains)]));
            }
            Ok((Cedar::or(t), Cedar::or(f)))
        }
        _ => Err("`in` whose right side may be a string searched for a value computed at run time".to_owned()),
    }
}
