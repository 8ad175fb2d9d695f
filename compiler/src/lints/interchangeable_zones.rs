//! W0308 `interchangeable-zones`: two zones accept the same issuer and audience.

use warden_language::ast::IssuerItem;
use warden_language::{Code, Span};

use super::context::Context;
use super::{LintInfo, warn};
use crate::FileDiagnostic;

/// two zones accept the same issuer and audience
pub const INTERCHANGEABLE_ZONES: LintInfo = LintInfo {
    code: Code("W0308"),
    name: "interchangeable-zones",
    summary: "two zones accept the same issuer and audience",
    explanation: "Flags two zones that trust the same issuer with a shared audience: a token issued for one is accepted by the other, so the zones are not separate trust zones at all (seed 001: end-to-end trust). Example: zones `edge` and `internal` both with `issuer \"https://idp\" { audience \"https://api\" }`.",
    fix: "give each zone its own audience",
};

/// Every audience of an issuer that an earlier zone already trusts the same
/// issuer for.
pub(super) fn check(cx: &Context<'_>, out: &mut Vec<FileDiagnostic>) {
    let mut trusted: Vec<(usize, &str, &str, &str, Span)> = Vec::new(); // file, zone, iss, aud, span
    for (file, zone, issuer) in cx.issuers() {
        for setting in &issuer.items {
            if let IssuerItem::Audience(auds) = &setting.node {
                for aud in auds {
                    trusted.push((
                        file,
                        zone.name.name.as_str(),
                        issuer.url.value.as_str(),
                        aud.value.as_str(),
                        aud.span,
                    ));
                }
            }
        }
    }
    for (i, &(file, zone, iss, aud, span)) in trusted.iter().enumerate() {
        if let Some(&(_, first_zone, ..)) =
            trusted.iter().take(i).find(|&&(_, z, is, au, _)| z != zone && is == iss && au == aud)
        {
            warn(
                out,
                file,
                &INTERCHANGEABLE_ZONES,
                span,
                format!(
                    "zones `{first_zone}` and `{zone}` both accept tokens of `{iss}` for audience `{aud}`: they are interchangeable"
                ),
            );
        }
    }
}
