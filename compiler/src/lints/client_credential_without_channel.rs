//! W0301 `client-credential-without-channel`: a client secret or API key accepted in a zone without
//! mTLS or a network allowlist.

use warden_language::Code;
use warden_language::ast::{AuthMethod, StmtKind, ZoneItem};

use super::context::Context;
use super::{LintInfo, warn};
use crate::FileDiagnostic;

/// a client secret or API key accepted in a zone without mTLS or a network allowlist
pub const CLIENT_CREDENTIAL_WITHOUT_CHANNEL: LintInfo = LintInfo {
    code: Code("W0301"),
    name: "client-credential-without-channel",
    summary: "a client secret or API key accepted in a zone without mTLS or a network allowlist",
    explanation: "Flags `auth client_secret` and `auth api_key` in a zone that has neither `require mtls` nor `network`. A client secret or API key is a long-lived bearer credential: whoever copies it is the client. Partners using the client credentials grant should be held to a secured channel as well (seed 000: \"client-credentials grant but only if the communication is secured via MTLS or IP-based filtering\"). Example: `zone partners { }` with `api p in zone partners { auth client_secret file \"clients.json\" }`.",
    fix: "add `require mtls peer \"spiffe://…\"` or `network \"198.51.100.0/24\"` to the zone",
};

/// Every `auth client_secret` and `auth api_key` whose zone has neither
/// `require mtls` nor `network`.
pub(super) fn check(cx: &Context<'_>, out: &mut Vec<FileDiagnostic>) {
    for s in &cx.statements {
        if let StmtKind::Auth(AuthMethod::ClientSecret { .. } | AuthMethod::ApiKey { .. }) = &s.stmt.node
            && let Some(zone) = s.zone
            && !zone.items.iter().any(|i| matches!(i.node, ZoneItem::RequireMtls { .. } | ZoneItem::Network { .. }))
        {
            warn(
                out,
                s.file,
                &CLIENT_CREDENTIAL_WITHOUT_CHANNEL,
                s.stmt.span,
                format!("zone `{}` accepts this credential from any client over any network", zone.name.name),
            );
        }
    }
}
