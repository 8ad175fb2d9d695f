//! W0304 `credential-route-without-pre-auth-limit`: a login, token, password or reset route without
//! a pre-authentication rate limit.

use warden_language::Code;
use warden_language::ast::StmtKind;

use super::context::Context;
use super::{LintInfo, warn};
use crate::FileDiagnostic;

/// a login, token, password or reset route without a pre-authentication rate limit
pub const CREDENTIAL_ROUTE_WITHOUT_LIMIT: LintInfo = LintInfo {
    code: Code("W0304"),
    name: "credential-route-without-pre-auth-limit",
    summary: "a login, token, password or reset route without a pre-authentication rate limit",
    explanation: "Flags routes whose path looks like it takes credentials (`login`, `signin`, `token`, `password`, `reset`, `otp`, `mfa`, `register`, `signup`) and that have no limit keyed only by request data (source, header, path, query). Without one, an attacker can try passwords as fast as the service answers (seed 004: 5 login attempts per IP per minute). Example: `route POST \"/login\" { body json Credentials; allow }`.",
    fix: "add a limit such as `limit login_per_ip = 5 per 1m by source.ip` and use it on the route",
};

/// Words of a path that takes credentials.
const CREDENTIAL_WORDS: [&str; 11] =
    ["login", "signin", "sign-in", "token", "password", "reset", "otp", "mfa", "register", "signup", "sign-up"];

/// Every route whose path looks like it takes credentials and that uses no
/// limit counted before authentication.
pub(super) fn check(cx: &Context<'_>, out: &mut Vec<FileDiagnostic>) {
    for site in &cx.routes {
        let route = site.route;
        let span = route.method.span.to(route.path.span);
        let full = format!("{}{}", site.prefix, route.path.value).to_ascii_lowercase();
        let looks = CREDENTIAL_WORDS
            .iter()
            .any(|w| full.split(['/', '-', '_', '.']).any(|part| part == *w) || full.contains(&format!("/{w}")));
        let pre_limited = site.stmts().iter().any(|s| match &s.node {
            StmtKind::Limit(names) => names
                .iter()
                .any(|n| cx.limits.get(n.name.as_str()).is_some_and(|l| l.keys.iter().all(crate::lower::pre_auth_key))),
            _ => false,
        });
        if looks && !pre_limited {
            warn(
                out,
                site.file,
                &CREDENTIAL_ROUTE_WITHOUT_LIMIT,
                span,
                format!(
                    "route `{} {full}` takes credentials but has no pre-authentication limit",
                    route.method.node.as_str()
                ),
            );
        }
    }
}
