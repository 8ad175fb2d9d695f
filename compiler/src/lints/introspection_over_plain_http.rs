//! W0316 `introspection-over-plain-http`: an `introspect url` asked over plain http.

use warden_language::Code;
use warden_language::ast::IssuerItem;

use super::context::Context;
use super::{LintInfo, warn};
use crate::FileDiagnostic;

/// an `introspect url` asked over plain http
pub const INTROSPECTION_OVER_HTTP: LintInfo = LintInfo {
    code: Code("W0316"),
    name: "introspection-over-plain-http",
    summary: "an `introspect url` asked over plain http",
    explanation: "Flags `introspect url \"http://…\"`. Warden's client secret travels in clear (HTTP Basic) with every question, and whoever can tamper with the connection can answer `active: true` for any token they make up (`signed` answers stop forged ones, and a replayed one is refused when it is older than the question, but not the leak). Example: `introspect url \"http://idp.example/introspect\" client \"warden\" secret env \"S\"`.",
    fix: "ask the introspection endpoint over `https://`",
};

/// Every `introspect url` that starts with `http://`.
pub(super) fn check(cx: &Context<'_>, out: &mut Vec<FileDiagnostic>) {
    for (file, _, issuer) in cx.issuers() {
        for setting in &issuer.items {
            if let IssuerItem::Introspect { url, .. } = &setting.node
                && url.value.to_ascii_lowercase().starts_with("http://")
            {
                warn(
                    out,
                    file,
                    &INTROSPECTION_OVER_HTTP,
                    url.span,
                    format!("the introspection endpoint `{}` is asked over plain http", url.value),
                );
            }
        }
    }
}
