//! W0307 `jwks-over-plain-http`: a `jwks url` fetched over plain http.

use warden_language::Code;
use warden_language::ast::IssuerItem;

use super::context::Context;
use super::{LintInfo, warn};
use crate::FileDiagnostic;

/// a `jwks url` fetched over plain http
pub const JWKS_OVER_HTTP: LintInfo = LintInfo {
    code: Code("W0307"),
    name: "jwks-over-plain-http",
    summary: "a `jwks url` fetched over plain http",
    explanation: "Flags `jwks url \"http://…\"`. Whoever can tamper with the connection can replace the keys and then sign any token they like. Example: `jwks url \"http://idp.example/jwks.json\"`.",
    fix: "fetch the key set over `https://`",
};

/// Every `jwks url` that starts with `http://`.
pub(super) fn check(cx: &Context<'_>, out: &mut Vec<FileDiagnostic>) {
    for (file, _, issuer) in cx.issuers() {
        for setting in &issuer.items {
            if let IssuerItem::JwksUrl { url, .. } = &setting.node
                && url.value.to_ascii_lowercase().starts_with("http://")
            {
                warn(
                    out,
                    file,
                    &JWKS_OVER_HTTP,
                    url.span,
                    format!("the key set `{}` is fetched over plain http", url.value),
                );
            }
        }
    }
}
