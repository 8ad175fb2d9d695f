//! W0320 `limit-key-always-missing`: a limit key that an endpoint never has,
//! so it separates no caller there (a missing key counts in one shared
//! bucket, LANGUAGE.md); and a ban whose key an endpoint that counts it
//! never has (a key with no value is nobody's: never counted, never banned).

use warden_language::Code;

use super::context::Context;
use super::{LintInfo, warn_at};
use crate::FileDiagnostic;
use crate::dot::render_expr;
use crate::graph::{Auth, Endpoint, Expr, ExprId, Graph, StepKind};

/// a limit key an endpoint never has
pub const LIMIT_KEY_ALWAYS_MISSING: LintInfo = LintInfo {
    code: Code("W0320"),
    name: "limit-key-always-missing",
    summary: "a limit key an endpoint never has",
    explanation: "Flags a limit counted at an endpoint where one of its keys can never have a value: a claim on a route with `auth none`, a path parameter the route does not have. A missing key counts in one bucket shared by every caller, so such a key separates nobody: when every key is missing, one client can exhaust the limit for all. Example: `limit per_user = 10 per 1m by claim.sub` on a `auth none` login route. Flags a ban the same way at an endpoint that counts it (`ban NAME`): there a key with no value at all is nobody's, so the ban never counts nor bans anyone at that endpoint.",
    fix: "key the limit or ban by something the endpoint has (`source.ip`, a header), or count another one there",
};

/// Why `key` has no value at `ep`, if it never does.
fn missing(graph: &Graph, ep: &Endpoint, key: ExprId) -> Option<&'static str> {
    let anonymous = ep.steps.iter().any(|s| matches!(s.kind, StepKind::Authenticate(Auth::None)));
    match graph.exprs.get(key as usize)? {
        Expr::Claim { .. } if anonymous => Some("the endpoint takes no credential, so it has no claims"),
        Expr::Root(root) if root == "claim" && anonymous => {
            Some("the endpoint takes no credential, so it has no claims")
        }
        Expr::PathNamed(name) if !ep.params.contains(name) => Some("the route has no such path parameter"),
        _ => None,
    }
}

/// Every limit step with a key its endpoint never has.
pub(super) fn check(cx: &Context<'_>, out: &mut Vec<FileDiagnostic>) {
    let graph = cx.graph;
    for ep in &graph.endpoints {
        for step in &ep.steps {
            let StepKind::Limit { limit, .. } = &step.kind else { continue };
            let Some(l) = graph.limits.get(*limit as usize) else { continue };
            let gone: Vec<(ExprId, &str)> =
                l.keys.iter().filter_map(|&k| missing(graph, ep, k).map(|why| (k, why))).collect();
            let Some(&(first, why)) = gone.first() else { continue };
            let message = if gone.len() == l.keys.len() {
                format!(
                    "every caller of `{}` shares one bucket of limit `{}`: its key `{}` is always missing here ({why})",
                    ep.id,
                    l.name,
                    render_expr(graph, first)
                )
            } else {
                format!(
                    "key `{}` of limit `{}` is always missing at `{}` ({why}): it separates no caller",
                    render_expr(graph, first),
                    l.name,
                    ep.id
                )
            };
            warn_at(out, &LIMIT_KEY_ALWAYS_MISSING, &step.origin, message);
        }
    }
    bans(graph, out);
}

/// Every ban counted at an endpoint where one of its keys never has a
/// value: said once per ban, at its declaration, naming the endpoints.
fn bans(graph: &Graph, out: &mut Vec<FileDiagnostic>) {
    for (b, ban) in graph.bans.iter().enumerate() {
        let mut never: Vec<&str> = Vec::new();
        let mut partly: Vec<&str> = Vec::new();
        let mut why = "";
        let mut first = None;
        for ep in graph.endpoints.iter().filter(|ep| ep.bans.contains(&(b as u32))) {
            let gone: Vec<(ExprId, &str)> =
                ban.keys.iter().filter_map(|&k| missing(graph, ep, k).map(|w| (k, w))).collect();
            let Some(&(k, w)) = gone.first() else { continue };
            (why, first) = (w, first.or(Some(k)));
            if gone.len() == ban.keys.len() { never.push(&ep.id) } else { partly.push(&ep.id) }
        }
        let Some(first) = first else { continue };
        let list = |ids: &[&str]| {
            let shown: Vec<String> = ids.iter().take(3).map(|id| format!("`{id}`")).collect();
            let more = ids.len().saturating_sub(3);
            if more > 0 { format!("{} and {more} more", shown.join(", ")) } else { shown.join(", ") }
        };
        let key = render_expr(graph, first);
        let message = if never.is_empty() {
            format!(
                "key `{key}` of ban `{}` is always missing at {} ({why}): it separates no caller",
                ban.name,
                list(&partly)
            )
        } else {
            format!(
                "ban `{}` never counts at {}: its key `{key}` is always missing there ({why}), and a request without its key is nobody's",
                ban.name,
                list(&never)
            )
        };
        warn_at(out, &LIMIT_KEY_ALWAYS_MISSING, &ban.origin, message);
    }
}
