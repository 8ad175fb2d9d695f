//! Expression evaluation over the decision graph, with LANGUAGE.md's error semantics:
//! touching a missing value or a value of the wrong type is an error, which the
//! caller turns into "does not allow" (allow rules) or "denies" (deny rules).

use std::borrow::Cow;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use regex::Regex;
use serde_json::Value;
use warden_compiler::graph::{CmpOp, Expr, ExprId, Graph, Key};

/// Why an expression has no value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvalError {
    /// An attribute the request does not carry.
    Missing(String),
    /// A value of the wrong type for its operator or function.
    Type(String),
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvalError::Missing(what) => write!(f, "{what} is missing"),
            EvalError::Type(what) => write!(f, "{what}"),
        }
    }
}

/// A graph with its regexes and CIDR ranges compiled once, ready to evaluate.
#[derive(Debug)]
pub struct Prepared {
    /// The graph.
    pub graph: Graph,
    /// The graph's revision, shared by every decision it makes.
    pub revision: std::sync::Arc<str>,
    regexes: Vec<Regex>,
    cidrs: Vec<IpNet>,
    /// Each zone's transport requirements, compiled.
    pub transports: Vec<super::transport::Transport>,
    /// Per limit, a fingerprint of its definition (name, rate, stage, keys as
    /// written, IPv6 prefix): the limiter's bucket namespace, the same across reloads while
    /// the definition is unchanged.
    pub limit_ids: Vec<u64>,
    /// Per ban, a fingerprint of its definition (as [`Prepared::limit_ids`]).
    pub ban_ids: Vec<u64>,
    /// Per ban, the networks it never bans.
    pub ban_except: Vec<Vec<IpNet>>,
    /// The headers that carry credentials ([`crate::secrets::secret_headers`]).
    pub secret_headers: Vec<String>,
    /// Per ban, whether its key reads a credential, so is never shown.
    pub ban_key_hidden: Vec<bool>,
}

/// See [`Prepared::limit_ids`]: the fingerprint the compiler stored, or, for a
/// graph written before it was stored, the same digest computed here.
fn limit_id(g: &Graph, l: &warden_compiler::graph::Limit) -> u64 {
    use warden_compiler::fingerprint;
    fingerprint::as_u64(&l.fingerprint).or_else(|| fingerprint::as_u64(&fingerprint::limit(g, l))).unwrap_or_default()
}

/// Why a graph cannot be prepared for evaluation. The compiler checks all of
/// these, so they mean a graph written by hand or by another tool.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// A regex of the table does not build within the compiler's limits.
    #[error("regex `{pattern}`: {reason}")]
    Regex {
        /// The pattern as stored.
        pattern: String,
        /// Why it does not build.
        reason: String,
    },
    /// A range of the table, or a zone's network, is not a CIDR range.
    #[error("`{0}` is not a CIDR range")]
    Cidr(String),
    /// A zone's mTLS peer glob does not parse.
    #[error("peer glob `{glob}`: {reason}")]
    PeerGlob {
        /// The glob as stored.
        glob: String,
        /// Why it does not parse.
        reason: String,
    },
    /// Route lookup binary-searches the hosts: they must be sorted, unique,
    /// lower-case names, then at most one any-host trie.
    #[error("the route index's hosts are not sorted, unique, lower-case names followed by the any-host trie")]
    HostOrder,
}

/// See [`GraphError::HostOrder`].
fn hosts_in_order(g: &Graph) -> bool {
    let hosts = &g.routes.hosts;
    let lower = hosts.iter().all(|h| h.host.as_deref().is_none_or(|n| !n.bytes().any(|b| b.is_ascii_uppercase())));
    let sorted = hosts.windows(2).all(|w| match w {
        [a, b] => match (&a.host, &b.host) {
            (Some(a), Some(b)) => a < b,
            (Some(_), None) => true,
            (None, _) => false,
        },
        _ => true,
    });
    lower && sorted
}

impl Prepared {
    /// Compiles the graph's regexes and ranges. The compiler has checked them;
    /// a graph from elsewhere that holds a bad one is refused.
    pub fn new(mut graph: Graph) -> Result<Prepared, GraphError> {
        // A graph read back from JSON has no hashed wide nodes: hash them again.
        graph.routes.index_wide_nodes();
        let regexes = graph
            .regexes
            .iter()
            .map(|r| {
                warden_compiler::check::build_regex(r)
                    .map_err(|e| GraphError::Regex { pattern: r.clone(), reason: e.to_string() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cidrs = graph
            .cidrs
            .iter()
            .map(|c| parse_cidr(c).ok_or_else(|| GraphError::Cidr(c.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        let transports = graph
            .zones
            .iter()
            .map(|z| super::transport::Transport::new(z.require_tls, z.mtls_peers.as_deref(), &z.networks))
            .collect::<Result<Vec<_>, _>>()?;
        if !hosts_in_order(&graph) {
            return Err(GraphError::HostOrder);
        }
        let limit_ids = graph.limits.iter().map(|l| limit_id(&graph, l)).collect();
        let ban_ids = graph
            .bans
            .iter()
            .map(|b| {
                use warden_compiler::fingerprint;
                fingerprint::as_u64(&b.fingerprint)
                    .or_else(|| fingerprint::as_u64(&fingerprint::ban(&graph, b)))
                    .unwrap_or_default()
            })
            .collect();
        let ban_except = graph
            .bans
            .iter()
            .map(|b| {
                b.except
                    .iter()
                    .map(|c| parse_cidr(c).ok_or_else(|| GraphError::Cidr(c.clone())))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let revision = graph.revision.as_str().into();
        let secret_headers = crate::secrets::secret_headers(&graph);
        let ban_key_hidden =
            graph.bans.iter().map(|b| crate::secrets::ban_key_hidden(&graph, &secret_headers, b)).collect();
        Ok(Prepared {
            graph,
            revision,
            regexes,
            cidrs,
            transports,
            limit_ids,
            ban_ids,
            ban_except,
            secret_headers,
            ban_key_hidden,
        })
    }
}

impl Prepared {
    /// A compiled regex of the graph's table.
    pub fn regex(&self, index: u32) -> Option<&Regex> {
        self.regexes.get(index as usize)
    }
}

/// `10.0.0.0/8`, or a bare address as a one-address range.
pub fn parse_cidr(text: &str) -> Option<IpNet> {
    IpNet::from_str(text.trim()).ok().or_else(|| IpAddr::from_str(text.trim()).ok().map(IpNet::from))
}

/// What expressions can read about one request.
#[derive(Clone, Copy, Debug, Default)]
pub struct Facts<'a> {
    /// Claims of the authenticated identity (an object), if any.
    pub claims: Option<&'a serde_json::Map<String, Value>>,
    /// Route parameter values, in the endpoint's order.
    pub params: &'a [&'a str],
    /// Route parameter names, in the same order.
    pub param_names: &'a [String],
    /// Query parameters (first value wins).
    pub query: &'a [(String, String)],
    /// Headers with lower-case names.
    pub headers: &'a [(String, String)],
    /// The parsed JSON body.
    pub body: Option<&'a Value>,
    /// Resource properties (resource checks).
    pub resource: Option<&'a Value>,
    /// Context of a resource check.
    pub context: Option<&'a Value>,
    /// The TLS peer's principal.
    pub peer: Option<&'a str>,
    /// The source address.
    pub source_ip: Option<&'a str>,
    /// Method, canonical path, host, scheme.
    pub method: &'a str,
    /// Canonical path.
    pub path: &'a str,
    /// Host (lower case, without port).
    pub host: &'a str,
    /// `http` or `https`.
    pub scheme: &'a str,
}

/// What an expression evaluates to: JSON (borrowed from the request or the
/// graph, or computed), or text borrowed from the request (a path parameter,
/// a header, the host), so that reading one copies nothing.
#[derive(Clone, Debug, PartialEq)]
pub enum Val<'v> {
    /// A JSON value.
    Json(Cow<'v, Value>),
    /// A string, borrowed.
    Str(&'v str),
}

impl Val<'_> {
    /// The value as JSON (a borrowed string is copied).
    pub fn into_value(self) -> Value {
        match self {
            Val::Json(v) => v.into_owned(),
            Val::Str(s) => Value::String(s.to_owned()),
        }
    }

    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self.view() {
            View::Str(s) => Some(s),
            View::Json(_) => None,
        }
    }

    fn view(&self) -> View<'_> {
        match self {
            Val::Str(s) => View::Str(s),
            Val::Json(v) => View::of(v),
        }
    }
}

impl Val<'_> {
    /// Writes the value as compact JSON, as `serde_json` writes it (strings
    /// quoted and escaped): a limit key's text, the same however the value
    /// is held.
    pub fn write_json<W: std::fmt::Write>(&self, out: &mut W) -> std::fmt::Result {
        match self.view() {
            // Nothing to escape (the usual case): the text between quotes.
            View::Str(s) if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) => {
                out.write_char('"')?;
                out.write_str(s)?;
                out.write_char('"')
            }
            View::Str(s) => serde_json::to_writer(FmtWriter(out), s).map_err(|_| std::fmt::Error),
            View::Json(v) => write!(out, "{v}"),
        }
    }
}

/// See [`Val::write_json`].
impl std::fmt::Display for Val<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.write_json(f)
    }
}

/// `serde_json`'s writer over a `fmt::Write`: it writes whole characters, so
/// every chunk is UTF-8.
struct FmtWriter<'a, W>(&'a mut W);

impl<W: std::fmt::Write> std::io::Write for FmtWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = std::str::from_utf8(buf).map_err(std::io::Error::other)?;
        self.0.write_str(text).map_err(std::io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A value seen for an operator: every string as `&str`, whichever way it is held.
#[derive(Clone, Copy)]
enum View<'a> {
    Str(&'a str),
    Json(&'a Value),
}

impl<'a> View<'a> {
    fn of(v: &'a Value) -> View<'a> {
        match v {
            Value::String(s) => View::Str(s),
            other => View::Json(other),
        }
    }
}

type Out<'v> = Result<Val<'v>, EvalError>;

/// Evaluates one expression. Recursion is bounded by the expression depth the
/// parser allows (64 brackets); the guard below only protects against a
/// hand-made graph.
pub fn eval<'v>(p: &'v Prepared, facts: &'v Facts<'v>, id: ExprId) -> Out<'v> {
    eval_at(p, facts, id, 0)
}

/// Evaluates a rule condition to a boolean.
pub fn eval_bool(p: &Prepared, facts: &Facts<'_>, id: ExprId) -> Result<bool, EvalError> {
    match eval(p, facts, id)?.view() {
        View::Json(Value::Bool(b)) => Ok(*b),
        other => Err(EvalError::Type(format!("a condition is {}, not a boolean", kind(other)))),
    }
}

fn kind(v: View<'_>) -> &'static str {
    match v {
        View::Str(_) | View::Json(Value::String(_)) => "a string",
        View::Json(Value::Null) => "null",
        View::Json(Value::Bool(_)) => "a boolean",
        View::Json(Value::Number(_)) => "a number",
        View::Json(Value::Array(_)) => "a list",
        View::Json(Value::Object(_)) => "an object",
    }
}

fn owned<'v>(v: Value) -> Out<'v> {
    Ok(Val::Json(Cow::Owned(v)))
}

fn boolean<'v>(b: bool) -> Out<'v> {
    owned(Value::Bool(b))
}

fn string(s: &str) -> Out<'_> {
    Ok(Val::Str(s))
}

/// Follows `path` into `at`; `what` names the value read, for the error only
/// (built when a step is missing, never on success).
fn follow<'v>(mut at: &'v Value, path: &[Key], what: &dyn Fn() -> String) -> Out<'v> {
    for key in path {
        let next = match (key, at) {
            (Key::Field(f), Value::Object(map)) => map.get(f),
            (Key::Index(i), Value::Array(items)) => usize::try_from(*i).ok().and_then(|i| items.get(i)),
            _ => None,
        };
        at = next.ok_or_else(|| EvalError::Missing(what()))?;
    }
    Ok(Val::Json(Cow::Borrowed(at)))
}

fn eval_at<'v>(p: &'v Prepared, f: &'v Facts<'v>, id: ExprId, depth: usize) -> Out<'v> {
    if depth > 512 {
        return Err(EvalError::Type("expression too deep".to_owned()));
    }
    let g = &p.graph;
    let Some(expr) = g.exprs.get(id as usize) else {
        return Err(EvalError::Type(format!("no expression {id}")));
    };
    let sub = |i: ExprId| eval_at(p, f, i, depth + 1);
    let name = |table: &'v [String], slot: u32| table.get(slot as usize).map_or("?", String::as_str);
    match expr {
        Expr::Const(v) => Ok(Val::Json(Cow::Borrowed(v))),
        Expr::Claim { slot, path } => {
            let claim = name(&g.names.claims, *slot);
            let what = || format!("`claim.{claim}`");
            let value = f.claims.and_then(|c| c.get(claim)).ok_or_else(|| EvalError::Missing(what()))?;
            follow(value, path, &what)
        }
        Expr::PathParam(i) => f
            .params
            .get(*i as usize)
            .map_or_else(|| Err(EvalError::Missing("a path parameter".to_owned())), |v| string(v)),
        Expr::PathNamed(param) => f
            .param_names
            .iter()
            .position(|n| n == param)
            .and_then(|i| f.params.get(i))
            .map_or_else(|| Err(EvalError::Missing(format!("`path.{param}`"))), |v| string(v)),
        Expr::Query(slot) => {
            let q = name(&g.names.queries, *slot);
            f.query
                .iter()
                .find(|(k, _)| k == q)
                .map_or_else(|| Err(EvalError::Missing(format!("`query.{q}`"))), |(_, v)| string(v))
        }
        Expr::Header(slot) => {
            let h = name(&g.names.headers, *slot);
            f.headers
                .iter()
                .find(|(k, _)| k == h)
                .map_or_else(|| Err(EvalError::Missing(format!("header `{h}`"))), |(_, v)| string(v))
        }
        Expr::Body(path) => follow(f.body.ok_or_else(|| EvalError::Missing("the body".to_owned()))?, path, &|| {
            "a body field".to_owned()
        }),
        Expr::Resource(path) => {
            follow(f.resource.ok_or_else(|| EvalError::Missing("the resource".to_owned()))?, path, &|| {
                "a resource property".to_owned()
            })
        }
        Expr::Context(path) => {
            let context = f.context.ok_or_else(|| EvalError::Missing("the context".to_owned()))?;
            follow(context, path, &|| "a context value".to_owned())
        }
        Expr::Data { doc, path } => {
            let d = g.data.get(*doc as usize).ok_or_else(|| EvalError::Missing("a data document".to_owned()))?;
            follow(&d.value, path, &|| format!("a value of `data.{}`", d.name))
        }
        Expr::PeerPrincipal => f.peer.map_or_else(|| Err(EvalError::Missing("`peer.principal`".to_owned())), string),
        Expr::SourceIp => f.source_ip.map_or_else(|| Err(EvalError::Missing("`source.ip`".to_owned())), string),
        Expr::RequestMethod => string(f.method),
        Expr::RequestPath => string(f.path),
        Expr::RequestHost => string(f.host),
        Expr::RequestScheme => string(f.scheme),
        Expr::Root(root) => {
            let whole = |v: Option<&'v Value>, what: &str| {
                v.map_or_else(|| Err(EvalError::Missing(format!("the {what}"))), |v| Ok(Val::Json(Cow::Borrowed(v))))
            };
            match root.as_str() {
                "claim" => f.claims.map_or_else(
                    || Err(EvalError::Missing("the claims".to_owned())),
                    |c| owned(Value::Object(c.clone())),
                ),
                "body" => whole(f.body, "body"),
                "resource" => whole(f.resource, "resource"),
                "context" => whole(f.context, "context"),
                "query" => {
                    owned(Value::Object(f.query.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()))
                }
                "header" => {
                    owned(Value::Object(f.headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()))
                }
                other => Err(EvalError::Type(format!("`{other}` cannot be used as a whole"))),
            }
        }
        Expr::Index { base, key } => {
            let base = sub(*base)?;
            let key = sub(*key)?;
            let found = match (base.view(), key.view()) {
                (View::Json(Value::Object(map)), View::Str(k)) => map.get(k).cloned(),
                (View::Json(Value::Array(items)), View::Json(Value::Number(n))) => {
                    n.as_u64().and_then(|i| usize::try_from(i).ok()).and_then(|i| items.get(i)).cloned()
                }
                (b, k) => return Err(EvalError::Type(format!("cannot index {} with {}", kind(b), kind(k)))),
            };
            found.map_or_else(|| Err(EvalError::Missing("an indexed value".to_owned())), owned)
        }
        Expr::List(items) => {
            owned(Value::Array(items.iter().map(|i| sub(*i).map(Val::into_value)).collect::<Result<_, _>>()?))
        }
        Expr::Not(i) => match sub(*i)?.view() {
            View::Json(Value::Bool(b)) => boolean(!b),
            other => Err(EvalError::Type(format!("`not` needs a boolean, found {}", kind(other)))),
        },
        Expr::And(items) | Expr::Or(items) => {
            let is_and = matches!(expr, Expr::And(_));
            for i in items {
                match sub(*i)?.view() {
                    View::Json(Value::Bool(b)) if *b != is_and => return boolean(*b),
                    View::Json(Value::Bool(_)) => {}
                    other => {
                        return Err(EvalError::Type(format!(
                            "`{}` needs booleans, found {}",
                            if is_and { "and" } else { "or" },
                            kind(other)
                        )));
                    }
                }
            }
            boolean(is_and)
        }
        Expr::Cmp { op, lhs, rhs } => {
            let a = sub(*lhs)?;
            let b = sub(*rhs)?;
            compare(*op, a.view(), b.view()).map(Value::Bool).map(|v| Val::Json(Cow::Owned(v)))
        }
        Expr::Has(i) => match sub(*i) {
            Ok(_) => boolean(true),
            Err(EvalError::Missing(_)) => boolean(false),
            Err(e) => Err(e),
        },
        Expr::StartsWith(a, b) | Expr::EndsWith(a, b) => {
            let (a, b) = (sub(*a)?, sub(*b)?);
            match (a.view(), b.view()) {
                (View::Str(s), View::Str(x)) => {
                    boolean(if matches!(expr, Expr::StartsWith(..)) { s.starts_with(x) } else { s.ends_with(x) })
                }
                (x, y) => Err(EvalError::Type(format!(
                    "starts_with/ends_with need strings, found {} and {}",
                    kind(x),
                    kind(y)
                ))),
            }
        }
        Expr::Lower(a) => match sub(*a)?.view() {
            View::Str(s) => owned(Value::String(s.to_lowercase())),
            other => Err(EvalError::Type(format!("`lower` needs a string, found {}", kind(other)))),
        },
        Expr::Len(a) => match sub(*a)?.view() {
            View::Str(s) => owned(Value::from(s.chars().count())),
            View::Json(Value::Array(v)) => owned(Value::from(v.len())),
            View::Json(Value::Object(m)) => owned(Value::from(m.len())),
            other => Err(EvalError::Type(format!("`len` needs a string, list or object, found {}", kind(other)))),
        },
        Expr::Matches(a, re) => match sub(*a)?.view() {
            View::Str(s) => {
                let re = p.regexes.get(*re as usize).ok_or_else(|| EvalError::Type("unknown regex".to_owned()))?;
                boolean(re.is_match(s))
            }
            other => Err(EvalError::Type(format!("`matches` needs a string, found {}", kind(other)))),
        },
        Expr::InCidr(a, c) => match sub(*a)?.view() {
            View::Str(s) => {
                let net = p.cidrs.get(*c as usize).ok_or_else(|| EvalError::Type("unknown range".to_owned()))?;
                let ip =
                    IpAddr::from_str(s.trim()).map_err(|_| EvalError::Type(format!("`{s}` is not an IP address")))?;
                boolean(net.contains(&ip))
            }
            other => Err(EvalError::Type(format!("`in_cidr` needs a string, found {}", kind(other)))),
        },
    }
}

/// Equality where `1` and `1.0` are the same number.
fn equal(a: View<'_>, b: View<'_>) -> bool {
    match (a, b) {
        (View::Str(x), View::Str(y)) => x == y,
        (View::Json(Value::Number(x)), View::Json(Value::Number(y))) => x.as_f64() == y.as_f64(),
        (View::Json(x), View::Json(y)) => x == y,
        _ => false,
    }
}

fn compare(op: CmpOp, a: View<'_>, b: View<'_>) -> Result<bool, EvalError> {
    match op {
        // Values of different kinds are a type mismatch, which errors (LANGUAGE.md):
        // `claim.banned == true` with `"banned": "yes"` is neither true nor false,
        // so a deny rule built on it denies.
        CmpOp::Eq | CmpOp::Ne if kind(a) != kind(b) => {
            Err(EvalError::Type(format!("`{}` cannot compare {} and {}", op.as_str(), kind(a), kind(b))))
        }
        CmpOp::Eq => Ok(equal(a, b)),
        CmpOp::Ne => Ok(!equal(a, b)),
        CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => {
            let ord = match (a, b) {
                (View::Json(Value::Number(x)), View::Json(Value::Number(y))) => {
                    x.as_f64().zip(y.as_f64()).and_then(|(x, y)| x.partial_cmp(&y))
                }
                (View::Str(x), View::Str(y)) => Some(x.cmp(y)),
                _ => None,
            };
            let ord = ord.ok_or_else(|| {
                EvalError::Type(format!("`{}` cannot order {} and {}", op.as_str(), kind(a), kind(b)))
            })?;
            Ok(match op {
                CmpOp::Lt => ord.is_lt(),
                CmpOp::Le => ord.is_le(),
                CmpOp::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
        CmpOp::In | CmpOp::NotIn => {
            let found = match (a, b) {
                (_, View::Json(Value::Array(items))) => items.iter().any(|i| equal(a, View::of(i))),
                (View::Str(k), View::Json(Value::Object(map))) => map.contains_key(k),
                (View::Str(sub), View::Str(s)) => s.contains(sub),
                _ => {
                    return Err(EvalError::Type(format!(
                        "`{}` cannot look for {} in {}",
                        op.as_str(),
                        kind(a),
                        kind(b)
                    )));
                }
            };
            Ok(if op == CmpOp::In { found } else { !found })
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use warden_compiler::graph::StepKind;

    use super::*;

    /// Compiles a one-route policy and returns the prepared graph and its rule conditions, in order.
    fn rules(conditions: &[&str]) -> (Prepared, Vec<ExprId>) {
        let body: String = conditions.iter().map(|c| format!("    allow when {c}\n")).collect();
        let text = format!(
            "zone z {{\n  require tls\n}}\n\napi a in zone z {{\n  auth asserted\n  route GET \"/x/{{id}}\" {{\n{body}  }}\n}}\n"
        );
        let prepared = crate::test_support::prepare(&text);
        let ids = prepared.graph.endpoints[0]
            .steps
            .iter()
            .find_map(|s| {
                if let StepKind::Allow(r) = &s.kind { Some(r.iter().map(|r| r.when.unwrap()).collect()) } else { None }
            })
            .unwrap();
        (prepared, ids)
    }

    #[test]
    fn conditions_evaluate_with_missing_and_type_errors() {
        let (p, ids) = rules(&[
            "header[\"x-tier\"] == \"gold\"",
            "path.id in [\"1\", \"2\"]",
            "in_cidr(source.ip, \"10.0.0.0/8\")",
            "matches(header[\"x-tier\"], \"^go\")",
            "query.view == \"full\" or header[\"x-tier\"] == \"gold\"",
            "has(query.view)",
            "len(header[\"x-tier\"]) > 3",
            "query.view == \"full\" and header[\"x-tier\"] == \"gold\"",
        ]);
        let headers = vec![("x-tier".to_owned(), "gold".to_owned())];
        let params = ["2"];
        let facts = Facts {
            headers: &headers,
            params: &params,
            source_ip: Some("10.1.2.3"),
            method: "GET",
            path: "/x/2",
            host: "h",
            scheme: "https",
            ..Facts::default()
        };
        let results: Vec<Result<bool, EvalError>> = ids.iter().map(|&i| eval_bool(&p, &facts, i)).collect();
        assert_eq!(results[0], Ok(true));
        assert_eq!(results[1], Ok(true));
        assert_eq!(results[2], Ok(true));
        assert_eq!(results[3], Ok(true));
        // `or` stops at an error: the missing query value is not skipped over.
        assert_eq!(results[4], Err(EvalError::Missing("`query.view`".to_owned())));
        assert_eq!(results[5], Ok(false));
        assert_eq!(results[6], Ok(true));
        assert!(matches!(results[7], Err(EvalError::Missing(_))));
    }

    #[test]
    fn wrong_types_at_run_time_are_errors() {
        let (p, ids) = rules(&["claim.level > 3", "in_cidr(header[\"x-ip\"], \"10.0.0.0/8\")"]);
        let claims = json!({"level": "high"});
        let headers = vec![("x-ip".to_owned(), "not-an-ip".to_owned())];
        let facts = Facts { claims: claims.as_object(), headers: &headers, ..Facts::default() };
        assert!(matches!(eval_bool(&p, &facts, ids[0]), Err(EvalError::Type(_))));
        assert!(matches!(eval_bool(&p, &facts, ids[1]), Err(EvalError::Type(_))));
    }

    #[test]
    fn path_parameters_by_name_are_missing_when_absent() {
        let mut g = rules(&["claim.x == 1"]).0.graph;
        g.exprs.push(Expr::PathNamed("account_id".to_owned()));
        let id = u32::try_from(g.exprs.len() - 1).unwrap();
        let p = Prepared::new(g).unwrap();
        let names = vec!["account_id".to_owned()];
        let values = ["42"];
        let with = Facts { params: &values, param_names: &names, ..Facts::default() };
        assert_eq!(eval(&p, &with, id).unwrap(), Val::Str("42"));
        let without = Facts::default();
        assert_eq!(eval(&p, &without, id), Err(EvalError::Missing("`path.account_id`".to_owned())));
    }

    #[test]
    fn regexes_are_built_within_the_compiler_limits() {
        let mut g = rules(&["matches(path.id, \"^\\\\w{1,16}$\")"]).0.graph;
        assert_eq!(g.regexes, ["^\\w{1,16}$"]);
        // About 3.2 MB compiled: within the `regex` crate's default 10 MiB, over
        // the 1 MiB `warden check` allows, so a graph from elsewhere holding it
        // is refused rather than built.
        g.regexes.push("^\\w{1,64}$".to_owned());
        match Prepared::new(g) {
            Ok(_) => panic!("a regex over the size limit was built"),
            Err(err) => assert!(err.to_string().contains("size limit of 1048576"), "{err}"),
        }
    }

    #[test]
    fn numbers_compare_by_value() {
        let cmp = |op, a: Value, b: Value| compare(op, View::of(&a), View::of(&b));
        assert!(cmp(CmpOp::Eq, json!(1), json!(1.0)).unwrap());
        assert!(cmp(CmpOp::In, json!(2), json!([1.0, 2.0])).unwrap());
        assert!(cmp(CmpOp::In, json!("ell"), json!("hello")).unwrap());
        assert!(cmp(CmpOp::NotIn, json!("k"), json!({"a": 1})).unwrap());
        assert!(cmp(CmpOp::Lt, json!(true), json!(1)).is_err());
    }

    /// A string borrowed from the request and the same string as JSON are one
    /// value to every operator, and print as the same JSON text.
    #[test]
    fn borrowed_strings_are_json_strings() {
        let json = json!("gold");
        let views = [View::Str("gold"), View::of(&json)];
        for a in views {
            for b in views {
                assert!(compare(CmpOp::Eq, a, b).unwrap());
                assert!(compare(CmpOp::Le, a, b).unwrap());
                assert!(compare(CmpOp::In, a, b).unwrap());
            }
        }
        let list = json!(["silver", "gold"]);
        assert!(compare(CmpOp::In, View::Str("gold"), View::of(&list)).unwrap());
        assert!(compare(CmpOp::Eq, View::Str("1"), View::of(&json!(1))).is_err());
        assert!(!compare(CmpOp::In, View::Str("1"), View::of(&json!([1]))).unwrap());
        // Quotes, backslashes, control characters and non-ASCII text: the
        // text of a limit key must not depend on how the value was held.
        let tricky: String = (0u8..0x80).map(char::from).chain("é€😀\u{2028}".chars()).collect();
        for text in [tricky.as_str(), "", "plain", "a\"b\\c"] {
            let borrowed = Val::Str(text).to_string();
            assert_eq!(borrowed, Value::String(text.to_owned()).to_string(), "{text:?}");
            assert_eq!(Val::Json(Cow::Owned(json!(text))).to_string(), borrowed, "{text:?}");
            assert_eq!(Val::Str(text).into_value(), json!(text));
        }
    }
}
