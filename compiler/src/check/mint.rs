//! `mint`: the zone a token is minted for exists, trusts exactly one issuer
//! (this Warden) and is not the zone the request is in; the endpoint has an
//! authenticated caller; and every claim copies something Warden verified.

use warden_language::ast::*;
use warden_language::{Diagnostic, Span};

use super::Checker;
use super::exprs::Place;
use crate::codes;

/// The first part of `e` that reads what nobody verified (a header, the
/// query, the body, the network source, a resource check's attributes), with
/// its root.
fn unverified(e: &Expr) -> Option<(Root, Span)> {
    match &e.kind {
        ExprKind::Str(_) | ExprKind::Number { .. } | ExprKind::Bool(_) => None,
        ExprKind::Attr { root, path } => match root.node {
            Root::Claim | Root::Path | Root::Peer | Root::Data => {
                path.iter().find_map(|s| if let SegmentKind::Index(i) = &s.kind { unverified(i) } else { None })
            }
            _ => Some((root.node, e.span)),
        },
        ExprKind::Access { base, path } => unverified(base).or_else(|| {
            path.iter().find_map(|s| if let SegmentKind::Index(i) = &s.kind { unverified(i) } else { None })
        }),
        ExprKind::List(items) | ExprKind::And(items) | ExprKind::Or(items) | ExprKind::Call { args: items, .. } => {
            items.iter().find_map(unverified)
        }
        ExprKind::Not(inner) | ExprKind::Paren(inner) => unverified(inner),
        ExprKind::Compare { lhs, rhs, .. } => unverified(lhs).or_else(|| unverified(rhs)),
    }
}

impl<'a> Checker<'a> {
    /// A `mint` statement of an endpoint in `zone`.
    pub(super) fn mint(&mut self, mint: &Mint, span: Span, place: Place<'a>, zone: Option<&'a Zone>) {
        if let Some(target) = self.zone_ref(&mint.zone) {
            self.mint_target(mint, target, zone);
        }
        let auth = match place {
            Place::Api { auth } | Place::Route { auth, .. } | Place::Action { auth } => auth,
            Place::LimitKey | Place::BanValue => None,
        };
        if matches!(auth, Some(AuthMethod::None)) {
            self.push(
                Diagnostic::error(codes::MINT_UNTRUSTED, span, "`mint` on an endpoint with `auth none`")
                    .with_label("there is no verified caller to mint a token for")
                    .with_help("authenticate the caller first: a minted token carries its subject"),
            );
        }
        for item in &mint.items {
            let MintItem::Claim { name, value } = &item.node else { continue };
            self.expr(value, place);
            if let Some((root, at)) = unverified(value) {
                self.push(
                    Diagnostic::error(
                        codes::MINT_UNTRUSTED,
                        at,
                        format!("claim `{}` copies `{}`, which nobody verified", name.name, root.as_str()),
                    )
                    .with_label("the caller wrote this")
                    .with_help(
                        "a minted token carries only what Warden verified: `claim.*`, `path.*`, `peer.*`, \
                         `data.*` and constants",
                    ),
                );
            }
        }
    }

    /// The zone a token is minted for: one issuer, not the request's own zone.
    fn mint_target(&mut self, mint: &Mint, target: &'a Zone, zone: Option<&'a Zone>) {
        let issuers: Vec<&Issuer> = target
            .items
            .iter()
            .filter_map(|i| if let ZoneItem::Issuer(issuer) = &i.node { Some(issuer) } else { None })
            .collect();
        if zone.is_some_and(|z| z.name.name == target.name.name) {
            self.push(
                Diagnostic::error(
                    codes::MINT_UNTRUSTED,
                    mint.zone.span,
                    format!("`mint` for zone `{}`, the zone the request is already in", target.name.name),
                )
                .with_label("a minted token would be accepted where it was minted")
                .with_help("mint for the zone behind this one, which trusts this Warden as its only issuer"),
            );
        } else if issuers.len() != 1 {
            let found = if issuers.is_empty() {
                "no issuer".to_owned()
            } else {
                format!(
                    "{} issuers ({})",
                    issuers.len(),
                    issuers.iter().map(|i| format!("`{}`", i.url.value)).collect::<Vec<_>>().join(", ")
                )
            };
            self.push(
                Diagnostic::error(
                    codes::MINT_UNTRUSTED,
                    mint.zone.span,
                    format!("`mint` for zone `{}`, which trusts {found}", target.name.name),
                )
                .with_label("must trust this Warden alone")
                .with_help(
                    "give the zone one issuer, this Warden: its `[issuer] url`, with `jwks url \
                     \"<that url>/.well-known/jwks.json\"`",
                ),
            );
        }
    }
}

impl<'a> Checker<'a> {
    /// `exchange NAME from zone Z { … }`: Z verifies the subject tokens, the
    /// calling service authenticates itself (`mtls`, `client_secret` or
    /// `api_key`), and exactly one `mint` says what is issued.
    pub(super) fn exchange(&mut self, x: &'a Exchange) {
        let zone = self.zone_ref(&x.zone);
        if let Some(z) = zone
            && !z.items.iter().any(|i| matches!(i.node, ZoneItem::Issuer(_)))
        {
            self.push(
                Diagnostic::error(
                    codes::AUTH_MISMATCH,
                    x.zone.span,
                    format!("exchange from zone `{}`, which trusts no issuer", z.name.name),
                )
                .with_label("no subject token could ever be verified")
                .with_help("exchange the tokens of a zone that has an `issuer`"),
            );
        }
        let auth = x
            .stmts
            .iter()
            .filter_map(|s| if let StmtKind::Auth(m) = &s.node { Some((m, s.span)) } else { None })
            .next_back();
        match auth {
            None => self.push(
                Diagnostic::error(codes::AUTH_MISMATCH, x.name.span, format!("exchange `{}` has no `auth`", x.name.name))
                    .with_label("who may exchange is never left to a default")
                    .with_help("say how the calling service authenticates: `auth mtls`, `auth client_secret file \"…\"` or `auth api_key …`"),
            ),
            Some((AuthMethod::ClientSecret { file }, _)) => self.client_file(file),
            Some((AuthMethod::ApiKey { file, .. }, _)) => self.api_key_file(file),
            Some((AuthMethod::Mtls, _)) => {}
            Some((other, span)) => self.push(
                Diagnostic::error(
                    codes::AUTH_MISMATCH,
                    span,
                    format!("`auth {}` in an exchange", other.keyword()),
                )
                .with_label("the calling service must authenticate itself")
                .with_help("the subject token is what is exchanged; the caller uses `auth mtls`, `auth client_secret …` or `auth api_key …`"),
            ),
        }
        // The rules read the subject token's claims and the caller's certificate.
        let place = Place::Action { auth: Some(&AuthMethod::Bearer) };
        self.stmts(x.stmts.iter().filter(|s| !matches!(s.node, StmtKind::Auth(_))), place, zone);
        if !super::reach::any_allow(x.stmts.iter()) {
            self.push(
                Diagnostic::error(
                    codes::NEVER_ALLOWS,
                    x.name.span,
                    format!("exchange `{}` has no `allow`", x.name.name),
                )
                .with_label("it could never issue a token")
                .with_help("say who may exchange: `allow when context.client == \"…\"`, or `allow`"),
            );
        }
        if !x.stmts.iter().any(|s| matches!(s.node, StmtKind::Mint(_))) {
            self.push(
                Diagnostic::error(
                    codes::MINT_UNTRUSTED,
                    x.name.span,
                    format!("exchange `{}` mints nothing", x.name.name),
                )
                .with_label("an exchange answers with the token its `mint` describes")
                .with_help("add `mint for zone NAME { … }` for the zone the new token is for"),
            );
        }
    }

    /// Two exchanges that mint for one zone: a request names the zone (by its
    /// audience), so it must find one exchange.
    pub(super) fn exchange_targets(&mut self) {
        let mut seen: Vec<(&str, usize, Span)> = Vec::new();
        for (file, f) in self.set.files.iter().enumerate() {
            for decl in &f.parsed.file.decls {
                let Decl::Exchange(x) = decl else { continue };
                for stmt in &x.stmts {
                    let StmtKind::Mint(m) = &stmt.node else { continue };
                    if let Some(&(_, first_file, first)) = seen.iter().find(|(z, ..)| *z == m.zone.name) {
                        let at = self.set.location(first_file, first.start());
                        self.file = file;
                        self.push(
                            Diagnostic::error(
                                codes::DUPLICATE_DECLARATION,
                                m.zone.span,
                                format!("a second exchange mints for zone `{}` (the first is at {at})", m.zone.name),
                            )
                            .with_label("a token request names its zone by audience, and must find one exchange")
                            .with_help("merge the two exchanges; tell callers apart with `allow when` rules"),
                        );
                    } else {
                        seen.push((&m.zone.name, file, m.zone.span));
                    }
                }
            }
        }
    }
}
