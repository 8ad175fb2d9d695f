//! W0311 `shadowed-route`: a route that another route always answers first.

use std::collections::BTreeSet;

use warden_language::Code;

use super::context::Context;
use super::{LintInfo, warn};
use crate::FileDiagnostic;

/// a route that another route always answers first
pub const SHADOWED_ROUTE: LintInfo = LintInfo {
    code: Code("W0311"),
    name: "shadowed-route",
    summary: "a route that another route always answers first",
    explanation: "Flags a route that can never be reached for some or all requests: an `ANY` route whose path already has a route for every method, or a route of an api without a host whose exact twin exists in an api with a host (on that host, the twin answers). Example: `api a { host \"api.example\"; route GET \"/x\" {…} }` and `api b { route GET \"/x\" {…} }`.",
    fix: "remove the shadowed route, or give the apis distinct hosts or prefixes",
};

/// Per path: every `ANY` route when each of the seven methods has its own
/// route, then, for an api without a host, every route that an api with a
/// host has an exact twin of.
pub(super) fn check(cx: &Context<'_>, out: &mut Vec<FileDiagnostic>) {
    for ((host, path_shape), routes) in &cx.paths {
        let exact: BTreeSet<&str> = routes.iter().map(|r| r.2.as_str()).filter(|m| *m != "ANY").collect();
        if exact.len() >= 7 {
            for &(file, span, ref method, _) in routes.iter().filter(|r| r.2 == "ANY") {
                warn(
                    out,
                    file,
                    &SHADOWED_ROUTE,
                    span,
                    format!("`{method}` is never reached: every method of this path has its own route"),
                );
            }
        }
        if host.is_none() {
            for ((other_host, other_shape), others) in &cx.paths {
                let Some(other_host) = other_host else { continue };
                if other_shape != path_shape {
                    continue;
                }
                for &(file, span, ref method, _) in routes {
                    if others.iter().any(|o| o.2 == *method) {
                        warn(
                            out,
                            file,
                            &SHADOWED_ROUTE,
                            span,
                            format!(
                                "on host `{other_host}`, `{method}` of this path is answered by another api's route"
                            ),
                        );
                    }
                }
            }
        }
    }
}
