//! Zones and their issuers: mTLS peer globs, network ranges, issuer and
//! JWKS URLs, and the key and secret files issuers reference (each checked
//! by [`literals`](super::literals) or [`files`](super::files)).

use warden_language::ast::*;

use super::Checker;

impl<'a> Checker<'a> {
    /// A zone: peer globs, network ranges and issuers.
    pub(super) fn zone(&mut self, zone: &'a Zone) {
        for item in &zone.items {
            match &item.node {
                ZoneItem::Issuer(issuer) => self.issuer(issuer),
                ZoneItem::RequireTls | ZoneItem::RequireBound => {}
                ZoneItem::RequireMtls { peers } => {
                    for peer in peers {
                        self.glob(peer);
                    }
                }
                ZoneItem::Network { cidrs } => {
                    for cidr in cidrs {
                        self.cidr(cidr);
                    }
                }
            }
        }
    }

    /// An issuer: its URL, and where its keys or secret come from.
    fn issuer(&mut self, issuer: &'a Issuer) {
        self.url(&issuer.url, "issuer");
        for item in &issuer.items {
            match &item.node {
                IssuerItem::JwksFile(path) => self.jwks_file(path),
                IssuerItem::JwksUrl { url, .. } => self.url(url, "JWKS"),
                IssuerItem::SecretFile(path) => self.secret_file(path),
                IssuerItem::Introspect { url, secret_in_file, secret, .. } => {
                    self.url(url, "introspection");
                    if *secret_in_file {
                        self.secret_file(secret);
                    }
                }
                _ => {}
            }
        }
    }
}
