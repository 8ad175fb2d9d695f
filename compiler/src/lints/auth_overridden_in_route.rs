//! W0303 `auth-overridden-in-route`: `auth` set on a route or action instead of on its api or resource.

use warden_language::Code;
use warden_language::ast::StmtKind;

use super::context::{Context, Owner};
use super::{LintInfo, warn};
use crate::FileDiagnostic;

/// `auth` set on a route or action instead of on its api or resource
pub const AUTH_OVERRIDDEN_IN_ROUTE: LintInfo = LintInfo {
    code: Code("W0303"),
    name: "auth-overridden-in-route",
    summary: "`auth` set on a route or action instead of on its api or resource",
    explanation: "Flags `auth` inside a `route` or `action`. A route that changes how callers authenticate is easy to miss in review and makes one route weaker than the rest of its api (seed 003). Example: `api a { auth bearer; route GET \"/debug\" { auth none; allow } }`.",
    fix: "move the route to an api whose `auth` it shares, and set `auth` once on that api",
};

/// Every `auth` written in a route or an action.
pub(super) fn check(cx: &Context<'_>, out: &mut Vec<FileDiagnostic>) {
    for s in &cx.statements {
        if !matches!(s.stmt.node, StmtKind::Auth(_)) {
            continue;
        }
        let message = match s.owner {
            Owner::Route(route) => {
                format!("route `{} {}` sets its own `auth`", route.method.node.as_str(), route.path.value)
            }
            Owner::Action(action) => format!("action `{}` sets its own `auth`", action.name.name),
            Owner::Api | Owner::Resource => continue,
        };
        warn(out, s.file, &AUTH_OVERRIDDEN_IN_ROUTE, s.stmt.span, message);
    }
}
