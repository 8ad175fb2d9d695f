//! Who is asking: the identity a connection proves (its TCP peer, the principal
//! of its verified client certificate, whether it used TLS), set once per
//! connection by the accept loop, and the `[callers]` rules that say which
//! callers may assert a judged request's `source` and whose `X-Forwarded-For`
//! is read. The PDP trusts what it verified, never what a caller wrote.

use std::net::{IpAddr, SocketAddr};

use glob::{MatchOptions, Pattern};
use ipnet::IpNet;

use super::config::Callers;
use crate::engine::eval::parse_cidr;

/// The connection a request came on, as the server verified it. Every request
/// the listeners serve carries one (a request extension); a request without
/// one (a bug, or a router called without the accept loop) has no identity and
/// may assert nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A network connection.
    Conn {
        /// The TCP peer.
        peer: SocketAddr,
        /// The principal of the client certificate the TLS handshake verified
        /// against the listener's `client_ca`: its SPIFFE URI SAN, else its first
        /// DNS SAN.
        principal: Option<String>,
        /// The connection used TLS (the listener's scheme is `https`).
        tls: bool,
    },
    /// The PDP's own process (`warden eval`, the SDK's embedded mode): what it
    /// says is its own assertion, so it may assert `source`; its resource checks
    /// are judged as `https`.
    InProcess,
    /// A request that reached a handler without the accept loop's extension:
    /// nothing is known of it, so it may assert nothing and has no address.
    Unknown,
}

impl Caller {
    /// The scheme a resource check is judged with: the listener's.
    pub fn scheme(&self) -> &'static str {
        match self {
            Caller::Conn { tls: false, .. } | Caller::Unknown => "http",
            Caller::Conn { tls: true, .. } | Caller::InProcess => "https",
        }
    }

    /// The verified principal, if any.
    pub fn principal(&self) -> Option<&str> {
        match self {
            Caller::Conn { principal, .. } => principal.as_deref(),
            Caller::InProcess | Caller::Unknown => None,
        }
    }

    /// The caller of a request: the accept loop's extension, else [`Caller::Unknown`].
    pub fn of(extension: Option<&Caller>) -> Caller {
        extension.cloned().unwrap_or(Caller::Unknown)
    }
}

/// Why a check's source cannot be settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The caller asserted a `source` it may not assert (403).
    NotAllowed(String),
    /// A forwarding header is malformed (400).
    Malformed(String),
}

/// The message of a refused assertion.
fn not_allowed() -> Refused {
    Refused::NotAllowed(
        "this caller may not assert `source`: list its certificate's principal in `callers.assert_principals` \
         (or, without a client certificate, its network in `callers.assert_networks`)"
            .to_owned(),
    )
}

/// `*` stays within one `/`-separated part, as in a zone's `require mtls peer`.
const PRINCIPAL_MATCH: MatchOptions =
    MatchOptions { case_sensitive: true, require_literal_separator: true, require_literal_leading_dot: false };

/// The `[callers]` rules, compiled.
#[derive(Clone, Debug, Default)]
pub struct CallerRules {
    assert_principals: Vec<Pattern>,
    assert_networks: Vec<IpNet>,
    trusted_proxies: Vec<IpNet>,
    /// Where a trusted proxy passes the client's certificate to forward auth.
    client_cert_header: Option<String>,
    /// Proxies that verify the certificates they pass on: from them, its
    /// name becomes the peer.
    client_cert_peer: Vec<IpNet>,
}

impl CallerRules {
    /// Compiles the config's `[callers]` (and the older
    /// `forward_auth.trusted_proxies`); errors name the bad entry.
    pub fn new(callers: &Callers, more_proxies: &[String]) -> Result<CallerRules, String> {
        let nets = |list: &[String], what: &str| {
            list.iter()
                .map(|n| parse_cidr(n).ok_or_else(|| format!("`{what}`: `{n}` is not a CIDR range")))
                .collect::<Result<Vec<_>, _>>()
        };
        let assert_principals = callers
            .assert_principals
            .iter()
            .map(|g| {
                Pattern::new(g).map_err(|e| format!("`callers.assert_principals`: `{g}` is not a glob: {}", e.msg))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut trusted_proxies = nets(&callers.trusted_proxies, "callers.trusted_proxies")?;
        trusted_proxies.extend(nets(more_proxies, "forward_auth.trusted_proxies")?);
        Ok(CallerRules {
            assert_principals,
            assert_networks: nets(&callers.assert_networks, "callers.assert_networks")?,
            trusted_proxies,
            client_cert_header: None,
            client_cert_peer: Vec::new(),
        })
    }

    /// May this caller assert the `source` of the request it asks about? A
    /// caller with a verified certificate may when its principal is listed in
    /// `assert_principals`; one without, when its TCP peer is in
    /// `assert_networks`. The PDP's own process always may.
    pub fn may_assert(&self, caller: &Caller) -> bool {
        match caller {
            Caller::InProcess => true,
            Caller::Unknown => false,
            Caller::Conn { principal: Some(p), .. } => {
                self.assert_principals.iter().any(|g| g.matches_with(p, PRINCIPAL_MATCH))
            }
            Caller::Conn { principal: None, peer, .. } => {
                let ip = peer.ip().to_canonical();
                self.assert_networks.iter().any(|n| n.contains(&ip))
            }
        }
    }

    /// Reads the client certificate forward auth is given from `header`
    /// (`[forward_auth] client_cert_header`), from trusted proxies only.
    #[must_use]
    pub fn with_client_cert_header(mut self, header: Option<String>) -> CallerRules {
        self.client_cert_header = header;
        self
    }

    /// Names the proxies (`[forward_auth] client_cert_peer_proxies`) whose
    /// certificate header also names the peer; errors name the bad entry.
    pub fn with_client_cert_peer(mut self, proxies: &[String]) -> Result<CallerRules, String> {
        self.client_cert_peer = proxies
            .iter()
            .map(|n| {
                parse_cidr(n)
                    .ok_or_else(|| format!("`forward_auth.client_cert_peer_proxies`: `{n}` is not a CIDR range"))
            })
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// Whether the certificate this caller passes on names the peer: it is
    /// one of `client_cert_peer_proxies` (a narrower list than the trusted
    /// proxies: those whose `X-Forwarded-For` is read need not verify
    /// certificates), connected over TCP.
    pub fn certificate_names_peer(&self, caller: &Caller) -> bool {
        match caller {
            Caller::Conn { peer, .. } => {
                let ip = peer.ip().to_canonical();
                self.client_cert_peer.iter().any(|n| n.contains(&ip))
            }
            Caller::InProcess | Caller::Unknown => false,
        }
    }

    /// The header in which this forward-auth caller passes the client's
    /// certificate: the configured one when the caller is a trusted proxy,
    /// else none (a client that reached Warden itself could write any
    /// certificate there).
    pub fn certificate_header(&self, caller: &Caller) -> Option<&str> {
        let name = self.client_cert_header.as_deref()?;
        match caller {
            Caller::Conn { peer, .. } if self.is_trusted_proxy(peer.ip().to_canonical()) => Some(name),
            Caller::InProcess => Some(name),
            Caller::Conn { .. } | Caller::Unknown => None,
        }
    }

    /// The configured client-certificate header, if any.
    pub fn client_cert_header(&self) -> Option<&str> {
        self.client_cert_header.as_deref()
    }

    /// The TCP peer is a trusted proxy (its `X-Forwarded-For` is read).
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted_proxies.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: the TCP peer, or, when the peer is a trusted
    /// proxy, the right-most `X-Forwarded-For` hop that is not a trusted proxy
    /// (read right to left: each trusted proxy appended the address it saw, and
    /// everything left of the first untrusted hop was written by the client).
    /// `xff` holds the header's values in order; a hop that is not an address
    /// is an error, never skipped.
    pub fn client_ip<'a>(&self, peer: IpAddr, xff: impl IntoIterator<Item = &'a str>) -> Result<IpAddr, String> {
        let peer = peer.to_canonical();
        if !self.is_trusted_proxy(peer) {
            return Ok(peer);
        }
        let hops: Vec<&str> = xff.into_iter().flat_map(|v| v.split(',')).map(str::trim).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let ip =
                parse_hop(hop).ok_or_else(|| format!("`X-Forwarded-For` holds `{hop}`, which is not an address"))?;
            client = ip;
            if !self.is_trusted_proxy(ip) {
                break;
            }
        }
        Ok(client)
    }
}

impl CallerRules {
    /// The source of a judged HTTP request (`/v1/check`, gRPC `Check`, ext_authz):
    /// the one `asserted` by a caller that may assert, else none (a request
    /// whose client Warden does not know: `network` and `require mtls` deny it).
    pub fn http_source(
        &self,
        caller: &Caller,
        asserted: Option<&crate::api::SourcePart>,
    ) -> Result<(Option<IpAddr>, Option<String>), Refused> {
        match asserted.filter(|s| !s.is_empty()) {
            None => Ok((None, None)),
            Some(s) if self.may_assert(caller) => Ok(s.asserted()),
            Some(_) => Err(not_allowed()),
        }
    }

    /// The source of a resource check (HTTP, gRPC, AuthZEN): the caller itself,
    /// its address (through trusted proxies' `X-Forwarded-For`) and its verified
    /// principal. A resource check asks about the caller's own access, so no
    /// network caller may assert another `source`, whatever `[callers]` says;
    /// only the PDP's own process (which has no connection) may.
    pub fn resource_source<'a>(
        &self,
        caller: &Caller,
        asserted: Option<&crate::api::SourcePart>,
        xff: impl IntoIterator<Item = &'a str>,
    ) -> Result<(Option<IpAddr>, Option<String>), Refused> {
        match (caller, asserted.filter(|s| !s.is_empty())) {
            (Caller::InProcess, Some(s)) => Ok(s.asserted()),
            (_, Some(_)) => Err(Refused::NotAllowed(
                "a resource check is judged with its caller's own connection (verified client certificate and \
                 address); remove `source`"
                    .to_owned(),
            )),
            (Caller::Conn { peer, principal, .. }, None) => {
                let ip = self.client_ip(peer.ip(), xff).map_err(Refused::Malformed)?;
                Ok((Some(ip), principal.clone()))
            }
            (Caller::InProcess | Caller::Unknown, None) => Ok((None, None)),
        }
    }
}

/// One `X-Forwarded-For` hop: an address, possibly with a port (`1.2.3.4:80`,
/// `[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    hop.parse::<SocketAddr>().ok().map(|s| s.ip().to_canonical())
}

/// The principal a verified client certificate names: its first `spiffe://`
/// URI SAN, else its first DNS SAN. `None` when the certificate cannot be
/// parsed or names neither (the connection then has no principal).
pub fn principal(cert_der: &[u8]) -> Option<String> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    let san = cert.subject_alternative_name().ok().flatten()?;
    let names = &san.value.general_names;
    let spiffe = names.iter().find_map(|n| match n {
        GeneralName::URI(u) if u.starts_with("spiffe://") => Some((*u).to_owned()),
        _ => None,
    });
    spiffe.or_else(|| {
        names.iter().find_map(|n| match n {
            GeneralName::DNSName(d) => Some((*d).to_owned()),
            _ => None,
        })
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn rules(principals: &[&str], networks: &[&str], proxies: &[&str]) -> CallerRules {
        let s = |l: &[&str]| l.iter().map(|x| (*x).to_owned()).collect();
        CallerRules::new(
            &Callers { assert_principals: s(principals), assert_networks: s(networks), trusted_proxies: s(proxies) },
            &[],
        )
        .unwrap()
    }

    fn conn(ip: &str, principal: Option<&str>) -> Caller {
        Caller::Conn {
            peer: SocketAddr::new(ip.parse().unwrap(), 5000),
            principal: principal.map(str::to_owned),
            tls: principal.is_some(),
        }
    }

    #[test]
    fn who_may_assert() {
        let r = rules(&["spiffe://example.org/gw/*"], &["127.0.0.0/8", "::1/128"], &[]);
        assert!(r.may_assert(&conn("127.0.0.1", None)));
        assert!(r.may_assert(&conn("::1", None)));
        assert!(r.may_assert(&conn("::ffff:127.0.0.1", None)));
        assert!(!r.may_assert(&conn("192.0.2.1", None)));
        assert!(r.may_assert(&conn("192.0.2.1", Some("spiffe://example.org/gw/edge"))));
        // A verified principal that is not listed may not, even from loopback:
        // a certificate says who the caller is, the network no longer counts.
        assert!(!r.may_assert(&conn("127.0.0.1", Some("spiffe://example.org/api"))));
        assert!(!r.may_assert(&conn("127.0.0.1", Some("spiffe://example.org/gw/a/b"))));
        assert!(r.may_assert(&Caller::InProcess));
        assert!(!rules(&[], &[], &[]).may_assert(&conn("127.0.0.1", None)));
    }

    #[test]
    fn forwarded_for_is_read_right_to_left_past_trusted_proxies() {
        let r = rules(&[], &[], &["10.0.0.0/8"]);
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        // The client wrote `6.6.6.6`; the trusted proxy appended what it saw.
        assert_eq!(r.client_ip(peer, ["6.6.6.6, 203.0.113.7"]).unwrap(), "203.0.113.7".parse::<IpAddr>().unwrap());
        assert_eq!(
            r.client_ip(peer, ["6.6.6.6, 203.0.113.7, 10.0.0.9"]).unwrap(),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        // Several header lines are one list, in order.
        assert_eq!(r.client_ip(peer, ["6.6.6.6", "203.0.113.7"]).unwrap(), "203.0.113.7".parse::<IpAddr>().unwrap());
        // Every hop trusted: the left-most.
        assert_eq!(r.client_ip(peer, ["10.0.0.5, 10.0.0.9"]).unwrap(), "10.0.0.5".parse::<IpAddr>().unwrap());
        assert_eq!(r.client_ip(peer, []).unwrap(), peer);
        assert_eq!(r.client_ip(peer, ["[2001:db8::1]:443"]).unwrap(), "2001:db8::1".parse::<IpAddr>().unwrap());
        assert!(r.client_ip(peer, ["nonsense, 203.0.113.7"]).is_ok(), "left of the first untrusted hop is not read");
        assert!(r.client_ip(peer, ["203.0.113.7, nonsense"]).is_err());
        // An untrusted peer's header is not read at all.
        let other: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(r.client_ip(other, ["203.0.113.7"]).unwrap(), other);
    }

    #[test]
    fn sources_are_settled_by_who_asks() {
        use crate::api::SourcePart;
        let r = rules(&["spiffe://example.org/gw"], &["127.0.0.0/8"], &[]);
        let written =
            SourcePart { principal: Some("spiffe://todo.example/ns/todo/api".to_owned()), ..SourcePart::default() };
        let gateway = conn("192.0.2.1", Some("spiffe://example.org/gw"));
        let stranger = conn("192.0.2.9", Some("spiffe://example.org/other"));
        // An HTTP check: an allowed caller's assertion is used; anyone else's refused.
        let asserted = (None, Some("spiffe://todo.example/ns/todo/api".to_owned()));
        assert_eq!(r.http_source(&gateway, Some(&written)).unwrap(), asserted);
        assert!(matches!(r.http_source(&stranger, Some(&written)), Err(Refused::NotAllowed(_))));
        assert_eq!(r.http_source(&stranger, None).unwrap(), (None, None));
        assert_eq!(r.http_source(&stranger, Some(&SourcePart::default())).unwrap(), (None, None));
        // A resource check: the caller is the source; nobody on the network may write one.
        let me = (Some("192.0.2.9".parse().unwrap()), Some("spiffe://example.org/other".to_owned()));
        assert_eq!(r.resource_source(&stranger, None, []).unwrap(), me);
        assert!(matches!(r.resource_source(&gateway, Some(&written), []), Err(Refused::NotAllowed(_))));
        assert!(matches!(r.resource_source(&conn("127.0.0.1", None), Some(&written), []), Err(Refused::NotAllowed(_))));
        assert_eq!(r.resource_source(&Caller::InProcess, Some(&written), []).unwrap(), asserted);
        assert_eq!(r.resource_source(&Caller::Unknown, None, []).unwrap(), (None, None));
        assert_eq!(Caller::Unknown.scheme(), "http");
        assert_eq!(stranger.scheme(), "https");
        assert_eq!(conn("127.0.0.1", None).scheme(), "http");
    }

    #[test]
    fn bad_rules_are_named() {
        let err = CallerRules::new(&Callers { assert_networks: vec!["nope".to_owned()], ..Callers::default() }, &[])
            .unwrap_err();
        assert!(err.contains("`callers.assert_networks`: `nope`"), "{err}");
    }
}
