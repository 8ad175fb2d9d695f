//! W0302 `mixed-auth-on-path`: routes of one path with different authentication methods.

use std::collections::BTreeSet;

use warden_language::Code;

use super::context::Context;
use super::{LintInfo, warn};
use crate::FileDiagnostic;

/// routes of one path with different authentication methods
pub const MIXED_AUTH_ON_PATH: LintInfo = LintInfo {
    code: Code("W0302"),
    name: "mixed-auth-on-path",
    summary: "routes of one path with different authentication methods",
    explanation: "Flags a path (host and path shape) whose routes use different `auth` methods, such as `GET /accounts/{id}` with `auth bearer` and `DELETE /accounts/{id}` with `auth none`. A resource should never be reachable by a weaker method than its siblings (seed 003); a method mix-up is a classic way to leave one verb unprotected.",
    fix: "use one authentication method for every route of the path",
};

/// Every route of a path whose `auth` differs from the first route's, when
/// the path's routes do not all use one method.
pub(super) fn check(cx: &Context<'_>, out: &mut Vec<FileDiagnostic>) {
    for routes in cx.paths.values() {
        let auths: BTreeSet<&str> = routes.iter().map(|r| r.3).collect();
        if auths.len() > 1 {
            for &(file, span, ref method, auth) in routes.iter().skip(1) {
                if routes.first().is_some_and(|first| first.3 != auth) {
                    warn(
                        out,
                        file,
                        &MIXED_AUTH_ON_PATH,
                        span,
                        format!(
                            "`{method}` uses `auth {auth}` where another route of this path uses `auth {}`",
                            routes.first().map_or("", |f| f.3)
                        ),
                    );
                }
            }
        }
    }
}
