//! Step 2 of the decision table: the zone's transport requirements (`require tls`,
//! `require mtls [peer GLOB…]`, `network CIDR…`), checked with patterns and ranges
//! compiled once per graph.

use std::net::IpAddr;

use glob::{MatchOptions, Pattern};
use ipnet::IpNet;
use warden_language::reason::Reason;

use super::eval::parse_cidr;

/// A zone's transport requirements, compiled.
#[derive(Clone, Debug)]
pub struct Transport {
    require_tls: bool,
    /// `Some` when mTLS is required; empty: any client certificate.
    peers: Option<Vec<Pattern>>,
    networks: Vec<IpNet>,
}

/// `*` stays within one `/`-separated part of a principal, so
/// `spiffe://partners.example/*` does not admit `spiffe://partners.example/a/b`.
const PEER_MATCH: MatchOptions =
    MatchOptions { case_sensitive: true, require_literal_separator: true, require_literal_leading_dot: false };

impl Transport {
    /// Compiles a zone's requirements; the compiler has checked every pattern
    /// and range, so a bad one here means a hand-made graph and is refused.
    pub fn new(
        require_tls: bool,
        peers: Option<&[String]>,
        networks: &[String],
    ) -> Result<Transport, super::eval::GraphError> {
        use super::eval::GraphError;
        let peers = match peers {
            Some(globs) => Some(
                globs
                    .iter()
                    .map(|g| {
                        Pattern::new(g).map_err(|e| GraphError::PeerGlob { glob: g.clone(), reason: e.msg.to_owned() })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        let networks = networks
            .iter()
            .map(|n| parse_cidr(n).ok_or_else(|| GraphError::Cidr(n.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Transport { require_tls, peers, networks })
    }

    /// Checks one request: its scheme, the verified peer principal (if the
    /// gateway terminated mutual TLS) and its source address.
    pub fn check(&self, scheme: &str, peer: Option<&str>, source: Option<IpAddr>) -> Result<(), (Reason, String)> {
        let mutual = self.peers.is_some();
        if (self.require_tls || mutual) && !scheme.eq_ignore_ascii_case("https") {
            let reason = if self.require_tls { Reason::TlsRequired } else { Reason::MtlsRequired };
            return Err((reason, "the request did not arrive over https".to_owned()));
        }
        if let Some(globs) = &self.peers {
            let Some(principal) = peer.filter(|p| !p.is_empty()) else {
                return Err((Reason::MtlsRequired, "the zone requires a client certificate".to_owned()));
            };
            if !globs.is_empty() && !globs.iter().any(|g| g.matches_with(principal, PEER_MATCH)) {
                return Err((
                    Reason::PeerNotAllowed,
                    "the client certificate's principal is not allowed in this zone".to_owned(),
                ));
            }
        }
        if !self.networks.is_empty() {
            // An IPv4-mapped IPv6 address is the IPv4 address it carries.
            let ip = source.map(|ip| match ip {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
                v4 => v4,
            });
            if !ip.is_some_and(|ip| self.networks.iter().any(|n| n.contains(&ip))) {
                return Err((Reason::NetworkDenied, "the source address is not in the zone's networks".to_owned()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partners() -> Transport {
        let peers = vec!["spiffe://partners.bank.example/*".to_owned()];
        let nets = vec!["198.51.100.0/24".to_owned(), "2001:db8::/32".to_owned()];
        Transport::new(false, Some(&peers), &nets).unwrap()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn each_requirement_has_its_reason() {
        let t = partners();
        let peer = Some("spiffe://partners.bank.example/acme");
        assert_eq!(t.check("https", peer, ip("198.51.100.7")), Ok(()));
        assert_eq!(t.check("https", peer, ip("2001:db8::1")), Ok(()));
        assert_eq!(t.check("https", peer, ip("::ffff:198.51.100.7")), Ok(()));
        assert_eq!(t.check("http", peer, ip("198.51.100.7")).unwrap_err().0, Reason::MtlsRequired);
        assert_eq!(t.check("https", None, ip("198.51.100.7")).unwrap_err().0, Reason::MtlsRequired);
        assert_eq!(
            t.check("https", Some("spiffe://evil.example/acme"), ip("198.51.100.7")).unwrap_err().0,
            Reason::PeerNotAllowed
        );
        // `*` does not cross `/`.
        assert_eq!(
            t.check("https", Some("spiffe://partners.bank.example/a/b"), ip("198.51.100.7")).unwrap_err().0,
            Reason::PeerNotAllowed
        );
        assert_eq!(t.check("https", peer, ip("203.0.113.1")).unwrap_err().0, Reason::NetworkDenied);
        assert_eq!(t.check("https", peer, None).unwrap_err().0, Reason::NetworkDenied);
    }

    #[test]
    fn tls_only() {
        let t = Transport::new(true, None, &[]).unwrap();
        assert_eq!(t.check("https", None, None), Ok(()));
        assert_eq!(t.check("http", None, None).unwrap_err().0, Reason::TlsRequired);
        assert!(Transport::new(false, None, &["300.0.0.0/8".to_owned()]).is_err());
    }
}
