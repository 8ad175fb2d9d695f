//! W0306 `hmac-without-mtls`: an HS256/384/512 algorithm in a zone without `require mtls`.

use warden_language::Code;
use warden_language::ast::{IssuerItem, ZoneItem};

use super::context::Context;
use super::{LintInfo, warn};
use crate::FileDiagnostic;

/// an HS256/384/512 algorithm in a zone without `require mtls`
pub const HMAC_WITHOUT_MTLS: LintInfo = LintInfo {
    code: Code("W0306"),
    name: "hmac-without-mtls",
    summary: "an HS256/384/512 algorithm in a zone without `require mtls`",
    explanation: "Flags an issuer that allows an HMAC algorithm in a zone that does not require mTLS. With HMAC, every party that can verify a token can also mint one: the shared secret has to be guarded like a private key, and the callers should be known. Asymmetric algorithms (RS256, ES256, EdDSA) avoid this (seeds 002/003). Example: `zone open { issuer \"https://idp\" { algorithms HS256 … } }`.",
    fix: "use RS256, ES256 or EdDSA, or add `require mtls` to the zone",
};

/// Every HMAC algorithm an issuer allows in a zone without `require mtls`.
pub(super) fn check(cx: &Context<'_>, out: &mut Vec<FileDiagnostic>) {
    for (file, zone, issuer) in cx.issuers() {
        if zone.items.iter().any(|i| matches!(i.node, ZoneItem::RequireMtls { .. })) {
            continue;
        }
        for setting in &issuer.items {
            let IssuerItem::Algorithms(algs) = &setting.node else { continue };
            for alg in algs.iter().filter(|a| a.node.is_hmac()) {
                warn(
                    out,
                    file,
                    &HMAC_WITHOUT_MTLS,
                    alg.span,
                    format!("`{}` in zone `{}`, which does not require mTLS", alg.node.as_str(), zone.name.name),
                );
            }
        }
    }
}
