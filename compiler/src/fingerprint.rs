//! The fingerprint of a rate limit: a digest of its definition (name, rate,
//! burst, stage, IPv6 prefix and key expressions, with every slot and index
//! resolved to the name it stands for), computed when lowering and stored in
//! the graph. A store of rate-limit state (in process, or shared in Redis)
//! counts under it, so a reload that leaves a limit's definition alone keeps
//! its buckets, and nothing but the definition moves it: not the Graphviz
//! picture, not the order of other declarations, not slot numbers.

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::graph::{Ban, Expr, ExprId, Graph, Key, Limit};

/// The fingerprint of `limit` in `g`: 16 hex digits (the first 8 bytes of a
/// SHA-256 over the canonical JSON of its definition, keys sorted).
pub fn limit(g: &Graph, limit: &Limit) -> String {
    let definition = json!({
        "name": limit.name,
        "count": limit.count,
        "period_ms": limit.period_ms,
        "burst": limit.burst,
        "stage": limit.stage,
        "ipv6_prefix": limit.ipv6_prefix,
        "keys": limit.keys.iter().map(|&k| canonical(g, k, 0)).collect::<Vec<_>>(),
    });
    let mut text = String::new();
    write_sorted(&definition, &mut text);
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The fingerprint of `ban` in `g`, as [`limit`]'s: what counts, per what, and
/// how long; a reload that leaves it alone keeps its counts and bans.
pub fn ban(g: &Graph, ban: &Ban) -> String {
    let definition = json!({
        "ban": ban.name,
        "count": ban.count,
        "period_ms": ban.period_ms,
        "stage": ban.stage,
        "ipv6_prefix": ban.ipv6_prefix,
        "statuses": ban.statuses,
        "reasons": ban.reasons,
        "distinct": ban.distinct.map(|d| canonical(g, d, 0)),
        "alert_only": ban.alert_only,
        "keys": ban.keys.iter().map(|&k| canonical(g, k, 0)).collect::<Vec<_>>(),
    });
    let mut text = String::new();
    write_sorted(&definition, &mut text);
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Compact JSON with every object's keys in byte order, whatever order the
/// map holds them in: serde_json keeps insertion order when any crate of the
/// build turns on its `preserve_order` feature, and the fingerprint must not
/// depend on which crates were built with the compiler.
fn write_sorted(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(item) = map.get(k) {
                    write_sorted(item, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The fingerprint as the number a limit store counts under.
pub fn as_u64(fingerprint: &str) -> Option<u64> {
    u64::from_str_radix(fingerprint, 16).ok().filter(|_| fingerprint.len() == 16)
}

fn path(keys: &[Key]) -> Value {
    Value::Array(
        keys.iter()
            .map(|k| match k {
                Key::Field(f) => json!({"field": f}),
                Key::Index(i) => json!({"index": i}),
            })
            .collect(),
    )
}

/// An expression as a JSON tree with names in place of slots and indexes.
/// Expressions are as deep as their source, which the parser bounds; the guard
/// only stops a hand-made graph from recursing without end.
fn canonical(g: &Graph, id: ExprId, depth: usize) -> Value {
    if depth > 256 {
        return json!("deep");
    }
    let c = |i: ExprId| canonical(g, i, depth + 1);
    let all = |items: &[ExprId]| Value::Array(items.iter().map(|&i| c(i)).collect());
    let name = |table: &[String], slot: u32| table.get(slot as usize).cloned().unwrap_or_default();
    let Some(e) = g.exprs.get(id as usize) else { return json!("missing") };
    match e {
        Expr::Const(v) => json!({"const": v}),
        Expr::Claim { slot, path: p } => json!({"claim": name(&g.names.claims, *slot), "path": path(p)}),
        Expr::PathParam(i) => json!({"path_param": i}),
        Expr::PathNamed(n) => json!({"path": n}),
        Expr::Query(slot) => json!({"query": name(&g.names.queries, *slot)}),
        Expr::Header(slot) => json!({"header": name(&g.names.headers, *slot)}),
        Expr::Body(p) => json!({"body": path(p)}),
        Expr::Resource(p) => json!({"resource": path(p)}),
        Expr::Context(p) => json!({"context": path(p)}),
        Expr::Data { doc, path: p } => {
            json!({"data": g.data.get(*doc as usize).map_or("", |d| d.name.as_str()), "path": path(p)})
        }
        Expr::PeerPrincipal => json!("peer.principal"),
        Expr::SourceIp => json!("source.ip"),
        Expr::RequestMethod => json!("request.method"),
        Expr::RequestPath => json!("request.path"),
        Expr::RequestHost => json!("request.host"),
        Expr::RequestScheme => json!("request.scheme"),
        Expr::Root(root) => json!({"root": root}),
        Expr::Index { base, key } => json!({"index": [c(*base), c(*key)]}),
        Expr::List(items) => json!({"list": all(items)}),
        Expr::Not(i) => json!({"not": c(*i)}),
        Expr::And(items) => json!({"and": all(items)}),
        Expr::Or(items) => json!({"or": all(items)}),
        Expr::Cmp { op, lhs, rhs } => json!({"cmp": op.as_str(), "args": [c(*lhs), c(*rhs)]}),
        Expr::Has(i) => json!({"has": c(*i)}),
        Expr::StartsWith(a, b) => json!({"starts_with": [c(*a), c(*b)]}),
        Expr::EndsWith(a, b) => json!({"ends_with": [c(*a), c(*b)]}),
        Expr::Lower(a) => json!({"lower": c(*a)}),
        Expr::Len(a) => json!({"len": c(*a)}),
        Expr::Matches(a, re) => json!({"matches": c(*a), "regex": g.regexes.get(*re as usize)}),
        Expr::InCidr(a, cidr) => json!({"in_cidr": c(*a), "cidr": g.cidrs.get(*cidr as usize)}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_written_in_byte_order_whatever_the_map_holds() {
        let mut map = serde_json::Map::new();
        for k in ["stage", "burst", "name", "Z", "keys"] {
            map.insert(k.to_owned(), json!([1, {"b": true, "a": "x\"y"}]));
        }
        let mut out = String::new();
        write_sorted(&Value::Object(map), &mut out);
        let item = r#"[1,{"a":"x\"y","b":true}]"#;
        assert_eq!(out, format!(r#"{{"Z":{item},"burst":{item},"keys":{item},"name":{item},"stage":{item}}}"#));
    }
}
