//! Cedar export of the rule layer: decision graph → Cedar policies, a Cedar schema and
//! diagnostics for what Cedar cannot express exactly (docs/cedar.md has the mapping).
//!
//! Warden's rules error on a missing value or a kind mismatch, and an erroring
//! `deny` denies; Cedar skips an erroring policy. So every rule condition `e` is
//! translated into two Cedar expressions that never error: `T(e)` ("`e` is true")
//! and `F(e)` ("`e` is false"); `allow when e` becomes `permit … when { T(e) }`
//! and `deny when e` becomes `forbid … unless { F(e) }`, which fires when `e`
//! holds or errors. Values of unknown kind (claims, resource properties, body
//! and context fields) are tagged records (`Value`) with one optional attribute
//! per JSON kind, so every kind test is a `has` test and strict validation holds.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::Value as Json;

use crate::graph::{CmpOp, Endpoint, EndpointKind, Expr, ExprId, Graph, Key, Origin, StepKind};

/// The code of an export diagnostic: a construct Cedar cannot express exactly.
pub const UNSUPPORTED: &str = "W0401";

/// What [`to_cedar`] produces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CedarExport {
    /// Cedar policies (one `permit`/`forbid` per scope step and rule).
    pub policies: String,
    /// The Cedar schema (human-readable syntax) the policies validate against in strict mode.
    pub schema: String,
    /// Constructs left out of the export, one per rule.
    pub diagnostics: Vec<CedarDiagnostic>,
    /// Every attribute the policies read: what a request encoder fills in.
    pub reads: Vec<CedarRead>,
}

/// One attribute the exported policies read, and where it lives in the Cedar request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CedarRead {
    /// `claims`, `body`, `context`, `resource` (a resource type's property),
    /// `query`, `headers` or `path`.
    pub root: &'static str,
    /// For `resource`: the resource type.
    pub resource_type: Option<String>,
    /// The attribute path in Warden (`claim.act.sub` is `["act", "sub"]`).
    pub path: Vec<String>,
    /// The key in the Cedar record: the name, or for a nested path its JSON
    /// pointer in the `*_paths` record.
    pub key: String,
}

/// A rule the export could not translate exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CedarDiagnostic {
    /// Always [`UNSUPPORTED`].
    pub code: &'static str,
    /// The endpoint id.
    pub endpoint: String,
    /// The rule id.
    pub rule: String,
    /// `file:line:column` of the rule.
    pub location: String,
    /// What Cedar cannot express, lower case, with the construct in backticks.
    pub message: String,
}

impl CedarExport {
    /// Whether every rule of `endpoint` was exported exactly.
    pub fn is_exact(&self, endpoint: &str) -> bool {
        !self.diagnostics.iter().any(|d| d.endpoint == endpoint)
    }
}

/// The Cedar namespace of the export.
pub const NAMESPACE: &str = "Warden";

/// Where a value of unknown kind lives in the Cedar request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Root {
    Claims,
    Resource,
    Body,
    Context,
}

impl Root {
    /// The Cedar record of top-level names and the record of nested paths.
    fn records(self) -> (&'static str, &'static str) {
        match self {
            Root::Claims => ("principal.claims", "principal.claim_paths"),
            Root::Resource => ("resource.properties", "resource.property_paths"),
            Root::Body => ("context.body", "context.body_paths"),
            Root::Context => ("context.context", "context.context_paths"),
        }
    }
}

/// The JSON pointer (RFC 6901) of a nested path: the key of `*_paths` records.
pub fn pointer(first: &str, rest: &[String]) -> String {
    let mut out = String::new();
    for part in std::iter::once(first).chain(rest.iter().map(String::as_str)) {
        out.push('/');
        out.push_str(&part.replace('~', "~0").replace('/', "~1"));
    }
    out
}

/// Names the rules read, collected while translating; they become the schema's attributes.
#[derive(Default)]
struct Names {
    /// (root, record key, attribute path) of every value of unknown kind.
    dynamic: BTreeSet<(Root, String, Vec<String>)>,
    /// Per resource type, its property keys and paths.
    resource: BTreeSet<(String, String, Vec<String>)>,
    query: BTreeSet<String>,
    headers: BTreeSet<String>,
    params: BTreeSet<String>,
}

/// A translated value: its Cedar expression, the condition under which it has
/// a value (a conjunction of `has` tests, never erroring), and its kind.
#[derive(Clone, Debug)]
struct Val {
    code: String,
    guard: Guard,
    kind: Kind,
}

#[derive(Clone, Debug, PartialEq)]
enum Guard {
    Always,
    Never,
    When(String),
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Str,
    Long,
    Bool,
    Null,
    /// A tagged `Value` record: kind known only at run time.
    Dynamic,
    /// A constant list or object (from `data` or a literal).
    Const(Json),
}

type Tr<T> = Result<T, String>;

/// Renders a Cedar string literal.
fn lit(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A `like` pattern matching `prefix` + `text` + `suffix` literally (`*` escaped).
fn like(text: &str, star_before: bool, star_after: bool) -> String {
    let inner = lit(text);
    let inner = inner.get(1..inner.len().saturating_sub(1)).unwrap_or("").replace('*', "\\*");
    format!("\"{}{inner}{}\"", if star_before { "*" } else { "" }, if star_after { "*" } else { "" })
}

const RESERVED: &[&str] =
    &["true", "false", "if", "then", "else", "in", "is", "like", "has", "permit", "forbid", "when", "unless"];

fn attr(base: &str, name: &str) -> String {
    if is_ident(name) { format!("{base}.{name}") } else { format!("{base}[{}]", lit(name)) }
}

fn has(base: &str, name: &str) -> String {
    if is_ident(name) { format!("{base} has {name}") } else { format!("{base} has {}", lit(name)) }
}

fn is_ident(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&name)
        && !name.starts_with("__cedar")
}

fn and(parts: &[String]) -> String {
    // Nested conjunctions are flattened and repeated guards written once (order kept:
    // a guard still comes before the accesses it protects).
    let mut flat: Vec<String> = Vec::new();
    for p in parts {
        for q in split_top(p, " && ").unwrap_or_else(|| vec![p.clone()]) {
            if !flat.contains(&q) {
                flat.push(q);
            }
        }
    }
    let parts: Vec<&String> = flat.iter().filter(|p| p.as_str() != "true").collect();
    if parts.iter().any(|p| p.as_str() == "false") {
        return "false".to_owned();
    }
    match parts.as_slice() {
        [] => "true".to_owned(),
        [one] => (*one).clone(),
        many => format!("({})", many.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(" && ")),
    }
}

/// The operands of `(a SEP b SEP c)` when `e` is one bracketed chain of `sep` alone.
fn split_top(e: &str, sep: &str) -> Option<Vec<String>> {
    let inner = e.strip_prefix('(')?.strip_suffix(')')?;
    if !balanced(inner) {
        return None;
    }
    let other = if sep == " && " { " || " } else { " && " };
    let (mut depth, mut in_str, mut escaped) = (0i32, false, false);
    let (mut out, mut start) = (Vec::new(), 0usize);
    for (i, c) in inner.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_str => escaped = true,
            '"' => in_str = !in_str,
            '(' | '[' if !in_str => depth += 1,
            ')' | ']' if !in_str => depth -= 1,
            _ if depth == 0 && !in_str => {
                let rest = inner.get(i..).unwrap_or("");
                if rest.starts_with(other) {
                    return None;
                }
                if rest.starts_with(sep) {
                    out.push(inner.get(start..i).unwrap_or("").to_owned());
                    start = i + sep.len();
                }
            }
            _ => {}
        }
    }
    out.push(inner.get(start..).unwrap_or("").to_owned());
    Some(out)
}

fn or(parts: &[String]) -> String {
    let parts: Vec<&String> = parts.iter().filter(|p| p.as_str() != "false").collect();
    if parts.iter().any(|p| p.as_str() == "true") {
        return "true".to_owned();
    }
    match parts.as_slice() {
        [] => "false".to_owned(),
        [one] => (*one).clone(),
        many => format!("({})", many.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(" || ")),
    }
}

fn not(e: &str) -> String {
    match e {
        "true" => "false".to_owned(),
        "false" => "true".to_owned(),
        e if e.starts_with('!') => e
            .strip_prefix("!(")
            .and_then(|x| x.strip_suffix(')'))
            .filter(|x| balanced(x))
            .map_or_else(|| format!("!({e})"), str::to_owned),
        e if e.starts_with('(') && e.ends_with(')') && e.get(1..e.len() - 1).is_some_and(balanced) => format!("!{e}"),
        e => format!("!({e})"),
    }
}

/// Whether brackets in `e` close in order (so `!(e)` can be unwrapped to `e`).
fn balanced(e: &str) -> bool {
    let mut depth = 0i32;
    let mut in_str = false;
    let mut escaped = false;
    for c in e.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_str => escaped = true,
            '"' => in_str = !in_str,
            '(' | '[' if !in_str => depth += 1,
            ')' | ']' if !in_str => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

impl Guard {
    fn code(&self) -> String {
        match self {
            Guard::Always => "true".to_owned(),
            Guard::Never => "false".to_owned(),
            Guard::When(c) => c.clone(),
        }
    }
}

/// The condition that a dynamic value is of one JSON kind (`str`, `num`, …).
fn kind_test(v: &Val, tag: &str) -> String {
    and(&[v.guard.code(), format!("{} has {tag}", v.code)])
}

struct Cx<'g> {
    g: &'g Graph,
    ep: &'g Endpoint,
    names: Names,
    resource_type: Option<String>,
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
        Ok(Val { code: attr(record, &key), guard: Guard::When(has(record, &key)), kind: Kind::Dynamic })
    }

    fn string(code: String, guard: Guard) -> Val {
        Val { code, guard, kind: Kind::Str }
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
                    Self::string(String::new(), Guard::Never)
                }
            }
            Expr::Query(slot) => {
                let q = name(&g.names.queries, slot);
                self.names.query.insert(q.clone());
                Self::string(attr("context.query", &q), Guard::When(has("context.query", &q)))
            }
            Expr::Header(slot) => {
                let h = name(&g.names.headers, slot);
                self.names.headers.insert(h.clone());
                Self::string(attr("context.headers", &h), Guard::When(has("context.headers", &h)))
            }
            Expr::PeerPrincipal => Self::string("context.peer".to_owned(), Guard::When("context has peer".to_owned())),
            Expr::SourceIp => {
                Self::string("context.source_ip".to_owned(), Guard::When("context has source_ip".to_owned()))
            }
            Expr::RequestMethod => Self::string("context.request.method".to_owned(), Guard::Always),
            Expr::RequestPath => Self::string("context.request.path".to_owned(), Guard::Always),
            Expr::RequestHost => Self::string("context.request.host".to_owned(), Guard::Always),
            Expr::RequestScheme => Self::string("context.request.scheme".to_owned(), Guard::Always),
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
                        None => return Ok(Val { code: String::new(), guard: Guard::Never, kind: Kind::Null }),
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
        Self::string(attr("context.path", param), Guard::When(has("context.path", param)))
    }

    /// `T(e)` and `F(e)`: "evaluates to true" and "evaluates to false", neither ever erroring.
    fn cond(&mut self, id: ExprId) -> Tr<(String, String)> {
        match self.expr(id)?.clone() {
            Expr::Not(a) => {
                let (t, f) = self.cond(a)?;
                Ok((f, t))
            }
            Expr::And(items) => {
                let mut all_true: Vec<String> = Vec::new();
                let mut falses = Vec::new();
                for i in items {
                    let (t, f) = self.cond(i)?;
                    let mut prefix = all_true.clone();
                    prefix.push(f);
                    falses.push(and(&prefix));
                    all_true.push(t);
                }
                Ok((and(&all_true), or(&falses)))
            }
            Expr::Or(items) => {
                let mut all_false: Vec<String> = Vec::new();
                let mut trues = Vec::new();
                for i in items {
                    let (t, f) = self.cond(i)?;
                    let mut prefix = all_false.clone();
                    prefix.push(t);
                    trues.push(and(&prefix));
                    all_false.push(f);
                }
                Ok((or(&trues), and(&all_false)))
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
                let g = v.guard.code();
                Ok((g.clone(), not(&g)))
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
                let Kind::Str = p.kind else {
                    return Err("`starts_with`/`ends_with` with a pattern that is not a constant string".to_owned());
                };
                let Some(text) = const_str(self.g, b) else {
                    return Err("`starts_with`/`ends_with` with a pattern computed at run time".to_owned());
                };
                let pattern = like(&text, !starts, starts);
                let (ok, code) = as_kind(&s, Kind::Str, "str");
                match ok {
                    None => Ok(("false".to_owned(), "false".to_owned())),
                    Some(ok) => Ok((
                        and(&[ok.clone(), format!("{code} like {pattern}")]),
                        and(&[ok, format!("!({code} like {pattern})")]),
                    )),
                }
            }
            _ => {
                let v = self.value(id)?;
                let (ok, code) = as_kind(&v, Kind::Bool, "bool");
                match ok {
                    None => Ok(("false".to_owned(), "false".to_owned())),
                    Some(ok) => Ok((and(&[ok.clone(), code.clone()]), and(&[ok, not(&code)]))),
                }
            }
        }
    }
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
    let (code, kind) = match v {
        Json::String(s) => (lit(s), Kind::Str),
        Json::Bool(b) => (b.to_string(), Kind::Bool),
        Json::Null => ("true".to_owned(), Kind::Null),
        Json::Number(n) => match whole(n) {
            Some(i) => (i.to_string(), Kind::Long),
            None => return Err(format!("the number `{n}` (Cedar has whole numbers only)")),
        },
        Json::Array(_) | Json::Object(_) => (String::new(), Kind::Const(v.clone())),
    };
    Ok(Val { code, guard: Guard::Always, kind })
}

/// `(Some(condition that v has the kind), Cedar expression of that kind)`;
/// `None` when it never can.
fn as_kind(v: &Val, want: Kind, tag: &str) -> (Option<String>, String) {
    if v.guard == Guard::Never {
        return (None, String::new());
    }
    match &v.kind {
        Kind::Dynamic => (Some(kind_test(v, tag)), format!("{}.{tag}", v.code)),
        k if *k == want => (Some(v.guard.code()), v.code.clone()),
        _ => (None, String::new()),
    }
}

fn tag_of(k: &Kind) -> Option<&'static str> {
    match k {
        Kind::Str => Some("str"),
        Kind::Long => Some("num"),
        Kind::Bool => Some("bool"),
        Kind::Null => Some("nil"),
        _ => None,
    }
}

/// A comparison. Warden errors on a kind mismatch where Cedar answers `false`,
/// so each side is first tested for the kind the other has.
fn compare(op: CmpOp, a: &Val, b: &Val) -> Tr<(String, String)> {
    if a.guard == Guard::Never || b.guard == Guard::Never {
        return Ok(("false".to_owned(), "false".to_owned()));
    }
    match op {
        CmpOp::Eq | CmpOp::Ne => {
            let (t, f) = equal(a, b)?;
            Ok(if op == CmpOp::Eq { (t, f) } else { (f, t) })
        }
        CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => {
            let known_long = matches!(a.kind, Kind::Long) || matches!(b.kind, Kind::Long);
            let any_str = matches!(a.kind, Kind::Str) || matches!(b.kind, Kind::Str);
            if any_str || !known_long {
                return Err(format!("`{}` on strings (Cedar orders whole numbers only)", op.as_str()));
            }
            let (Some(ga), ca) = as_kind(a, Kind::Long, "num") else { return Ok(("false".into(), "false".into())) };
            let (Some(gb), cb) = as_kind(b, Kind::Long, "num") else { return Ok(("false".into(), "false".into())) };
            let holds = format!("{ca} {} {cb}", op.as_str());
            Ok((and(&[ga.clone(), gb.clone(), holds.clone()]), and(&[ga, gb, format!("!({holds})")])))
        }
        CmpOp::In | CmpOp::NotIn => {
            let (t, f) = member(a, b)?;
            Ok(if op == CmpOp::In { (t, f) } else { (f, t) })
        }
    }
}

/// `a == b` as `(T, F)`: values of different kinds make neither hold (an error).
fn equal(a: &Val, b: &Val) -> Tr<(String, String)> {
    let both = |tag: &str, eq: bool| -> String {
        let (ta, ca) = (kind_test(a, tag), format!("{}.{tag}", a.code));
        let (tb, cb) = (kind_test(b, tag), format!("{}.{tag}", b.code));
        match (tag, eq) {
            ("nil", true) => and(&[ta, tb]),
            ("nil", false) => "false".to_owned(),
            ("list" | "obj", _) => and(&[ta, tb, format!("{ca}.json {} {cb}.json", if eq { "==" } else { "!=" })]),
            _ => and(&[ta, tb, format!("{ca} {} {cb}", if eq { "==" } else { "!=" })]),
        }
    };
    let one = |d: &Val, k: &Val, eq: bool| -> Tr<String> {
        let op = if eq { "==" } else { "!=" };
        Ok(match &k.kind {
            Kind::Null => {
                if eq {
                    and(&[k.guard.code(), kind_test(d, "nil")])
                } else {
                    "false".to_owned()
                }
            }
            Kind::Const(c) => {
                let tag = if c.is_array() { "list" } else { "obj" };
                let canon =
                    canonical_json(c).ok_or("`==` on a list or object holding numbers Cedar cannot represent")?;
                and(&[kind_test(d, tag), format!("{}.{tag}.json {op} {}", d.code, lit(&canon))])
            }
            other => {
                let tag = tag_of(other).unwrap_or("str");
                and(&[k.guard.code(), kind_test(d, tag), format!("{}.{tag} {op} {}", d.code, k.code)])
            }
        })
    };
    Ok(match (&a.kind, &b.kind) {
        (Kind::Dynamic, Kind::Dynamic) => {
            let tags = ["str", "num", "bool", "nil", "list", "obj"];
            (or(&tags.map(|t| both(t, true))), or(&tags.map(|t| both(t, false))))
        }
        (Kind::Dynamic, _) => (one(a, b, true)?, one(a, b, false)?),
        (_, Kind::Dynamic) => (one(b, a, true)?, one(b, a, false)?),
        (Kind::Const(_), _) | (_, Kind::Const(_)) => {
            return Err("`==` between a constant list or object and a value of fixed kind".to_owned());
        }
        (Kind::Null, Kind::Null) => (and(&[a.guard.code(), b.guard.code()]), "false".to_owned()),
        (x, y) if x == y => {
            let ok = [a.guard.code(), b.guard.code()];
            (
                and(&[ok.to_vec(), vec![format!("{} == {}", a.code, b.code)]].concat()),
                and(&[ok.to_vec(), vec![format!("{} != {}", a.code, b.code)]].concat()),
            )
        }
        _ => ("false".to_owned(), "false".to_owned()),
    })
}

/// JSON text with object keys sorted and whole numbers written without a
/// fraction: how lists and objects are compared (`Value.list.json`,
/// `Value.obj.json`). `None` when a number is not a whole number that fits
/// in 64 bits (Cedar has no other numbers).
pub fn canonical_json(v: &Json) -> Option<String> {
    Some(match v {
        Json::Null | Json::Bool(_) | Json::String(_) => v.to_string(),
        Json::Number(n) => whole(n)?.to_string(),
        Json::Array(items) => {
            let parts: Option<Vec<String>> = items.iter().map(canonical_json).collect();
            format!("[{}]", parts?.join(","))
        }
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut parts = Vec::new();
            for k in keys {
                parts.push(format!("{}:{}", Json::String(k.clone()), canonical_json(map.get(k)?)?));
            }
            format!("{{{}}}", parts.join(","))
        }
    })
}

/// A JSON number as a Cedar `Long`, if it is a whole number in range.
pub fn whole(n: &serde_json::Number) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    #[expect(clippy::cast_possible_truncation, reason = "checked: whole and within the range of i64")]
    if f.fract() == 0.0 && (-9.2e18..=9.2e18).contains(&f) { Some(f as i64) } else { None }
}

/// A Cedar set literal of the items of one kind, or `None` when there are none.
fn set_of(items: &[Json], tag: &str) -> Option<String> {
    let parts: Vec<String> = items
        .iter()
        .filter_map(|i| match (tag, i) {
            ("str", Json::String(s)) => Some(lit(s)),
            ("num", Json::Number(n)) => whole(n).map(|n| n.to_string()),
            ("bool", Json::Bool(b)) => Some(b.to_string()),
            _ => None,
        })
        .collect();
    if parts.is_empty() { None } else { Some(format!("[{}]", parts.join(", "))) }
}

/// `a in b`: list membership, object key or substring, by the kind of `b`.
fn member(a: &Val, b: &Val) -> Tr<(String, String)> {
    if matches!(a.kind, Kind::Const(_)) {
        return Err("`in` with a list or object on the left".to_owned());
    }
    let constant = match a.kind {
        Kind::Str => a.code.starts_with('"'),
        Kind::Long | Kind::Bool | Kind::Null => true,
        _ => false,
    };
    match (&a.kind, &b.kind) {
        (_, Kind::Const(Json::Array(items))) => {
            if items.iter().any(|i| i.is_array() || i.is_object() || i.as_number().is_some_and(|n| whole(n).is_none()))
            {
                return Err("`in` over a list holding lists, objects or numbers Cedar cannot represent".to_owned());
            }
            let present = a.guard.code();
            let mut hits = Vec::new();
            for tag in ["str", "num", "bool"] {
                let want = match tag {
                    "str" => Kind::Str,
                    "num" => Kind::Long,
                    _ => Kind::Bool,
                };
                if let (Some(ok), code) = as_kind(a, want, tag)
                    && let Some(set) = set_of(items, tag)
                {
                    hits.push(and(&[ok, format!("{set}.contains({code})")]));
                }
            }
            if items.iter().any(Json::is_null) {
                match a.kind {
                    Kind::Null => hits.push(present.clone()),
                    Kind::Dynamic => hits.push(kind_test(a, "nil")),
                    _ => {}
                }
            }
            let t = or(&hits);
            Ok((t.clone(), and(&[present, not(&t)])))
        }
        (_, Kind::Const(Json::Object(map))) => {
            let keys: Vec<Json> = map.keys().map(|k| Json::String(k.clone())).collect();
            let (Some(ok), code) = as_kind(a, Kind::Str, "str") else { return Ok(("false".into(), "false".into())) };
            let t = match set_of(&keys, "str") {
                Some(set) => and(&[ok.clone(), format!("{set}.contains({code})")]),
                None => "false".to_owned(),
            };
            Ok((t.clone(), and(&[ok, not(&t)])))
        }
        (_, Kind::Str | Kind::Dynamic) if constant => {
            // The left side is a constant: substring tests become `like` patterns.
            let mut t = Vec::new();
            let mut f = Vec::new();
            if let Kind::Str = a.kind {
                let s = unlit(&a.code);
                let pattern = like(&s, true, true);
                if let (Some(ok), code) = as_kind(b, Kind::Str, "str") {
                    t.push(and(&[ok.clone(), format!("{code} like {pattern}")]));
                    f.push(and(&[ok, format!("!({code} like {pattern})")]));
                }
                if b.kind == Kind::Dynamic {
                    let obj = kind_test(b, "obj");
                    t.push(and(&[obj.clone(), format!("{}.obj.keys.contains({})", b.code, a.code)]));
                    f.push(and(&[obj, not(&format!("{}.obj.keys.contains({})", b.code, a.code))]));
                }
            }
            if b.kind == Kind::Dynamic {
                let list = kind_test(b, "list");
                let contains = match a.kind {
                    Kind::Str => format!("{}.list.strs.contains({})", b.code, a.code),
                    Kind::Long => format!("{}.list.nums.contains({})", b.code, a.code),
                    Kind::Bool => format!("{}.list.bools.contains({})", b.code, a.code),
                    _ => format!("{}.list.nils", b.code),
                };
                t.push(and(&[list.clone(), contains.clone()]));
                f.push(and(&[list, not(&contains)]));
            }
            Ok((or(&t), or(&f)))
        }
        _ => Err("`in` whose right side may be a string searched for a value computed at run time".to_owned()),
    }
}

/// The text of a Cedar string literal written by [`lit`].
fn unlit(code: &str) -> String {
    serde_json::from_str::<String>(code).unwrap_or_default()
}

/// The entity type of an endpoint's resource.
fn endpoint_entity(ep: &Endpoint) -> String {
    match &ep.kind {
        EndpointKind::Route { .. } => "Route".to_owned(),
        EndpointKind::Action { resource, .. } => resource_entity(resource),
    }
}

/// The entity type of a resource type (prefixed so it cannot clash with `Subject`, `Route` or `Value`).
pub fn resource_entity(resource: &str) -> String {
    format!("Resource_{resource}")
}

/// Exports the rule layer of every route and action.
pub fn to_cedar(g: &Graph) -> CedarExport {
    let mut out = CedarExport::default();
    let mut names = Names::default();
    let mut policies = String::new();
    let _ = writeln!(policies, "// Cedar export of Warden revision {} (rule layer only; docs/cedar.md).", g.revision);
    for ep in &g.endpoints {
        let resource_type = match &ep.kind {
            EndpointKind::Action { resource, .. } => Some(resource.clone()),
            EndpointKind::Route { .. } => None,
        };
        let mut cx = Cx { g, ep, names: std::mem::take(&mut names), resource_type };
        for p in &ep.params {
            cx.names.params.insert(p.clone());
        }
        let scope = format!(
            "(principal, action == {NAMESPACE}::Action::{}, resource is {NAMESPACE}::{})",
            lit(&ep.id),
            endpoint_entity(ep)
        );
        let _ = writeln!(policies, "\n// {}", ep.id);
        for step in &ep.steps {
            match &step.kind {
                StepKind::Scopes { all, any_of } => {
                    let mut parts = Vec::new();
                    if !all.is_empty() {
                        let set: Vec<String> = all.iter().map(|s| lit(s)).collect();
                        parts.push(format!("principal.scopes.containsAll([{}])", set.join(", ")));
                    }
                    for group in any_of.iter().filter(|g| !g.is_empty()) {
                        let set: Vec<String> = group.iter().map(|s| lit(s)).collect();
                        parts.push(format!("principal.scopes.containsAny([{}])", set.join(", ")));
                    }
                    let _ = writeln!(
                        policies,
                        "@id({})\nforbid {scope}\nunless {{ {} }};",
                        lit(&format!("{}#scopes", step.rule)),
                        and(&parts)
                    );
                }
                StepKind::Deny(e) => match cx.cond(*e) {
                    Ok((_, f)) => {
                        let _ = writeln!(policies, "@id({})\nforbid {scope}\nunless {{ {f} }};", lit(&step.rule));
                    }
                    Err(what) => {
                        // Fail closed: a deny Cedar cannot express denies every request.
                        let _ = writeln!(
                            policies,
                            "// {UNSUPPORTED}: {what}; exported as an unconditional forbid (fail closed)\n@id({})\nforbid {scope};",
                            lit(&step.rule)
                        );
                        out.diagnostics.push(diag(g, ep, &step.rule, &step.origin, &what));
                    }
                },
                StepKind::Allow(rules) => {
                    for r in rules {
                        match r.when {
                            None => {
                                let _ = writeln!(policies, "@id({})\npermit {scope};", lit(&r.rule));
                            }
                            Some(e) => match cx.cond(e) {
                                Ok((t, _)) => {
                                    let _ =
                                        writeln!(policies, "@id({})\npermit {scope}\nwhen {{ {t} }};", lit(&r.rule));
                                }
                                Err(what) => {
                                    let _ = writeln!(
                                        policies,
                                        "// {UNSUPPORTED}: {what}; rule `{}` left out (it never allows)",
                                        r.rule
                                    );
                                    out.diagnostics.push(diag(g, ep, &r.rule, &r.origin, &what));
                                }
                            },
                        }
                    }
                }
                _ => {}
            }
        }
        names = cx.names;
    }
    out.policies = policies;
    out.schema = schema(g, &names);
    for (root, key, path) in &names.dynamic {
        let root = match root {
            Root::Claims => "claims",
            Root::Body => "body",
            Root::Context => "context",
            Root::Resource => "resource",
        };
        out.reads.push(CedarRead { root, resource_type: None, path: path.clone(), key: key.clone() });
    }
    for (rt, key, path) in &names.resource {
        out.reads.push(CedarRead {
            root: "resource",
            resource_type: Some(rt.clone()),
            path: path.clone(),
            key: key.clone(),
        });
    }
    for (root, set) in [("query", &names.query), ("headers", &names.headers), ("path", &names.params)] {
        for n in set {
            out.reads.push(CedarRead { root, resource_type: None, path: vec![n.clone()], key: n.clone() });
        }
    }
    out
}

fn diag(g: &Graph, ep: &Endpoint, rule: &str, origin: &Origin, what: &str) -> CedarDiagnostic {
    let file = g.sources.get(origin.source as usize).map_or("?", String::as_str);
    CedarDiagnostic {
        code: UNSUPPORTED,
        endpoint: ep.id.clone(),
        rule: rule.to_owned(),
        location: format!("{file}:{}:{}", origin.line, origin.column),
        message: format!("cedar cannot express {what} exactly in rule `{rule}`"),
    }
}

fn record(fields: &[(String, bool, String)]) -> String {
    if fields.is_empty() {
        return "{}".to_owned();
    }
    let parts: Vec<String> =
        fields.iter().map(|(n, opt, ty)| format!("{}{}: {ty}", lit(n), if *opt { "?" } else { "" })).collect();
    format!("{{ {} }}", parts.join(", "))
}

fn dyn_fields(names: &Names, root: Root, nested: bool) -> Vec<(String, bool, String)> {
    names
        .dynamic
        .iter()
        .filter(|(r, _, p)| *r == root && (p.len() > 1) == nested)
        .map(|(_, k, _)| (k.clone(), true, "Value".to_owned()))
        .collect()
}

fn schema(g: &Graph, names: &Names) -> String {
    let strings = |set: &BTreeSet<String>| -> Vec<(String, bool, String)> {
        set.iter().map(|n| (n.clone(), true, "String".to_owned())).collect()
    };
    let mut s = String::new();
    let _ = writeln!(s, "// Cedar schema of the Warden rule layer (docs/cedar.md).");
    let _ = writeln!(s, "namespace {NAMESPACE} {{");
    let _ = writeln!(s, "  // A JSON value: exactly one attribute, named after its kind.");
    let _ = writeln!(
        s,
        "  type Value = {{ str?: String, num?: Long, bool?: Bool, nil?: Bool, list?: {{ strs: Set<String>, nums: Set<Long>, bools: Set<Bool>, nils: Bool, json: String }}, obj?: {{ keys: Set<String>, json: String }} }};"
    );
    let _ = writeln!(
        s,
        "  entity Subject = {{ claims: {}, claim_paths: {}, scopes: Set<String> }};",
        record(&dyn_fields(names, Root::Claims, false)),
        record(&dyn_fields(names, Root::Claims, true))
    );
    let _ = writeln!(s, "  entity Route;");
    for rt in &g.resources {
        let fields = |nested: bool| -> Vec<(String, bool, String)> {
            names
                .resource
                .iter()
                .filter(|(r, _, p)| *r == rt.name && (p.len() > 1) == nested)
                .map(|(_, k, _)| (k.clone(), true, "Value".to_owned()))
                .collect()
        };
        let _ = writeln!(
            s,
            "  entity {} = {{ properties: {}, property_paths: {} }};",
            resource_entity(&rt.name),
            record(&fields(false)),
            record(&fields(true))
        );
    }
    let context = record(&[
        ("path".to_owned(), false, record(&strings(&names.params))),
        ("query".to_owned(), false, record(&strings(&names.query))),
        ("headers".to_owned(), false, record(&strings(&names.headers))),
        ("body".to_owned(), false, record(&dyn_fields(names, Root::Body, false))),
        ("body_paths".to_owned(), false, record(&dyn_fields(names, Root::Body, true))),
        ("context".to_owned(), false, record(&dyn_fields(names, Root::Context, false))),
        ("context_paths".to_owned(), false, record(&dyn_fields(names, Root::Context, true))),
        ("peer".to_owned(), true, "String".to_owned()),
        ("source_ip".to_owned(), true, "String".to_owned()),
        ("request".to_owned(), false, "{ method: String, path: String, host: String, scheme: String }".to_owned()),
    ]);
    let _ = writeln!(s, "  type RuleContext = {context};");
    for ep in &g.endpoints {
        let _ = writeln!(
            s,
            "  action {} appliesTo {{ principal: Subject, resource: {}, context: RuleContext }};",
            lit(&ep.id),
            endpoint_entity(ep)
        );
    }
    let _ = writeln!(s, "}}");
    s
}
