//! W0314 `long-lived-minted-token` and W0315 `sensitive-claim-minted`: a
//! `mint` whose token outlives its purpose, or carries personal data out of
//! the zone that verified it.

use warden_language::Code;
use warden_language::ast::{Decl, ExprKind, Mint, MintItem, Root, SegmentKind, StmtKind};

use super::context::Context;
use super::{LintInfo, warn};
use crate::FileDiagnostic;

/// a minted token that lives longer than 5 minutes
pub const LONG_LIVED_MINTED_TOKEN: LintInfo = LintInfo {
    code: Code("W0314"),
    name: "long-lived-minted-token",
    summary: "a minted token that lives longer than 5 minutes",
    explanation: "Flags `mint … { lifetime D }` with D over 5 minutes. A token minted for the zone behind the gateway travels with one request; whoever copies it from a log or a compromised service can replay it in that zone until it expires (seed 002: short-lived end-to-end trust tokens). Warden reuses a minted token for most of its lifetime, so a short lifetime costs few signatures. Example: `mint for zone internal { lifetime 1h }`.",
    fix: "keep minted tokens short-lived: the default is `60s`; at most `5m`",
};

/// a minted token that copies a claim that names personal data
pub const SENSITIVE_CLAIM_MINTED: LintInfo = LintInfo {
    code: Code("W0315"),
    name: "sensitive-claim-minted",
    summary: "a minted token that copies personal data (email, phone, address…)",
    explanation: "Flags a `claim` of a `mint` block whose name, or the name of the claim it copies, is personal data: the OpenID Connect profile claims (`name`, `given_name`, `family_name`, `middle_name`, `nickname`, `email`, `phone_number`, `address`, `birthdate`, `gender`, `picture`, `locale`, `zoneinfo`) and common identifiers (`ssn`, `national_id`, `tax_id`, `passport`, `iban`, `card_number`, `date_of_birth`, `dob`). A token that leaves the gateway is readable by every service and log it passes; seed 003 §3 asks that it carry identifiers, not data. Example: `claim email = claim.email`.",
    fix: "copy an opaque identifier (`claim.sub`, a customer id) and let the service look the data up",
};

/// Longest lifetime W0314 lets through, in milliseconds.
const LONGEST_MS: u64 = 5 * 60_000;

/// Claim names W0315 treats as personal data (compared without case, `-` as `_`).
const SENSITIVE: &[&str] = &[
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "email",
    "phone_number",
    "phone",
    "address",
    "birthdate",
    "gender",
    "picture",
    "locale",
    "zoneinfo",
    "ssn",
    "national_id",
    "tax_id",
    "passport",
    "iban",
    "card_number",
    "date_of_birth",
    "dob",
];

fn sensitive(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('-', "_");
    SENSITIVE.contains(&name.as_str())
}

/// Every `mint` of the set (in apis, resources and exchanges) with its file.
fn mints<'a>(cx: &Context<'a>) -> Vec<(usize, &'a Mint)> {
    let mut out: Vec<(usize, &'a Mint)> = Vec::new();
    for s in &cx.statements {
        if let StmtKind::Mint(m) = &s.stmt.node {
            out.push((s.file, m));
        }
    }
    for &(file, decl) in &cx.decls {
        if let Decl::Exchange(x) = decl {
            out.extend(
                x.stmts.iter().filter_map(|s| if let StmtKind::Mint(m) = &s.node { Some((file, m)) } else { None }),
            );
        }
    }
    out
}

/// Every `mint` lifetime over 5 minutes.
pub(super) fn check(cx: &Context<'_>, out: &mut Vec<FileDiagnostic>) {
    for (file, mint) in mints(cx) {
        for item in &mint.items {
            if let MintItem::Lifetime(d) = &item.node
                && d.millis() > LONGEST_MS
            {
                let message = format!("the token minted for zone `{}` lives longer than 5 minutes", mint.zone.name);
                warn(out, file, &LONG_LIVED_MINTED_TOKEN, d.span, message);
            }
        }
    }
}

/// Every minted claim named like personal data, or copied from one.
pub(super) fn check_sensitive(cx: &Context<'_>, out: &mut Vec<FileDiagnostic>) {
    for (file, mint) in mints(cx) {
        for item in &mint.items {
            let MintItem::Claim { name, value } = &item.node else { continue };
            let source = match &value.kind {
                ExprKind::Attr { root, path } if root.node == Root::Claim => {
                    path.first().and_then(|seg| match &seg.kind {
                        SegmentKind::Field(f) => Some(f.as_str()),
                        SegmentKind::Index(_) => None,
                    })
                }
                _ => None,
            };
            let hit = if sensitive(&name.name) { Some(name.name.as_str()) } else { source.filter(|s| sensitive(s)) };
            if let Some(what) = hit {
                let message = format!("the token minted for zone `{}` carries `{what}`, personal data", mint.zone.name);
                warn(out, file, &SENSITIVE_CLAIM_MINTED, item.span, message);
            }
        }
    }
}
