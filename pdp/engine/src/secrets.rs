//! Which names hold credentials: headers a set reads credentials from, and
//! names (headers, query parameters, JSON members) that say they may hold
//! one. What such a name holds is never written to a log, a listing or an
//! alert.

use warden_compiler::graph::{Auth, Expr, ExprId, Graph, Key, StepKind};

/// Whether a header, query parameter or JSON member of this name may hold a
/// credential.
pub fn sensitive(name: &str) -> bool {
    const PARTS: &[&str] = &[
        "token",
        "secret",
        "password",
        "passwd",
        "auth",
        "session",
        "cookie",
        "credential",
        "api_key",
        "apikey",
        "api-key",
        "private",
    ];
    let name = name.to_ascii_lowercase();
    matches!(name.as_str(), "key" | "code" | "sig" | "signature") || PARTS.iter().any(|p| name.contains(p))
}

/// The headers that carry credentials in `graph`: the standard ones and
/// every `api_key` header of the set.
pub fn secret_headers(graph: &Graph) -> Vec<String> {
    let mut names: Vec<String> =
        ["authorization", "proxy-authorization", "cookie", "dpop", "x-api-key"].map(str::to_owned).to_vec();
    for ep in &graph.endpoints {
        for step in &ep.steps {
            if let StepKind::Authenticate(Auth::ApiKey { header, .. }) = &step.kind
                && !names.contains(header)
            {
                names.push(header.clone());
            }
        }
    }
    names
}

/// Whether ban `ban`'s key reads a credential anywhere in its expressions
/// (a secret header, a header, query parameter or body member whose name is
/// [`sensitive`], or a whole header root): its values are then never shown.
pub fn ban_key_hidden(graph: &Graph, secret_headers: &[String], ban: &warden_compiler::graph::Ban) -> bool {
    ban.keys.iter().any(|&k| reads_secret(graph, secret_headers, k, 0))
}

/// The name in `slot` of `names`, empty when there is none.
fn name(names: &[String], slot: u32) -> &str {
    names.get(slot as usize).map_or("", String::as_str)
}

fn reads_secret(graph: &Graph, secret_headers: &[String], id: ExprId, depth: u32) -> bool {
    let rec = |e: &ExprId| reads_secret(graph, secret_headers, *e, depth + 1);
    // Deeper than any expression the compiler lets through: say yes, never show it.
    if depth > 64 {
        return true;
    }
    match graph.exprs.get(id as usize) {
        Some(Expr::Header(slot)) => {
            let h = name(&graph.names.headers, *slot);
            secret_headers.iter().any(|s| s == h) || sensitive(h)
        }
        Some(Expr::Query(slot)) => sensitive(name(&graph.names.queries, *slot)),
        Some(Expr::Body(path)) => path.iter().any(|p| matches!(p, Key::Field(f) if sensitive(f))),
        Some(Expr::Root(root)) => matches!(root.as_str(), "header" | "query" | "body"),
        Some(Expr::Index { base, key }) => rec(base) || rec(key),
        Some(Expr::List(items) | Expr::And(items) | Expr::Or(items)) => items.iter().any(rec),
        Some(Expr::Cmp { lhs, rhs, .. }) => rec(lhs) || rec(rhs),
        Some(Expr::StartsWith(a, b) | Expr::EndsWith(a, b)) => rec(a) || rec(b),
        Some(
            Expr::Not(e) | Expr::Has(e) | Expr::Lower(e) | Expr::Len(e) | Expr::Matches(e, _) | Expr::InCidr(e, _),
        ) => rec(e),
        _ => false,
    }
}
