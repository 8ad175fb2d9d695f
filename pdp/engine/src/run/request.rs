//! What the engine judges: an HTTP request or a resource action in the engine's own
//! terms (each door converts to them at its edge), and the [`TokenVerifier`] it asks.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{Map, Value};
use warden_language::reason::Reason;

/// An HTTP request to judge, in the engine's own terms (transports convert to it).
#[derive(Clone, Debug, Default)]
pub struct HttpRequest {
    /// Method, upper case.
    pub method: String,
    /// `http` or `https`.
    pub scheme: String,
    /// Host, possibly with a port.
    pub host: String,
    /// Path and query as received.
    pub target: String,
    /// Headers with lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
    /// The source address.
    pub source_ip: Option<IpAddr>,
    /// The verified peer principal, when the gateway terminated mutual TLS.
    pub peer: Option<String>,
    /// The SHA-256 thumbprint (base64url, RFC 8705 `x5t#S256`) of the client
    /// certificate the gateway saw, when a trusted door passed it on.
    pub certificate: Option<String>,
    /// Now, in milliseconds since the Unix epoch (a virtual clock in tests).
    pub now_ms: u64,
    /// A subject asserted by the calling service (`auth asserted`): its claims.
    pub asserted: Option<Map<String, Value>>,
    /// A bearer token handed over as such (a resource check's `token`), for
    /// `auth bearer` to verify exactly as given, not wrapped in a header.
    pub bearer: Option<String>,
    /// The resource of a resource check (`resource.…`).
    pub resource: Option<Value>,
    /// The context of a resource check (`context.…`).
    pub context: Option<Value>,
}

/// A resource check ("may this subject do ACTION on this resource?"), as AuthZEN asks it.
#[derive(Clone, Debug, Default)]
pub struct ResourceRequest {
    /// Resource type.
    pub resource_type: String,
    /// Resource id (`resource.id`).
    pub resource_id: String,
    /// Resource properties (`resource.…`).
    pub properties: Map<String, Value>,
    /// The action.
    pub action: String,
    /// The asserted subject: id and properties (`claim.sub`, `claim.…`).
    pub subject: Option<(String, Map<String, Value>)>,
    /// Or a bearer token for the subject.
    pub token: Option<String>,
    /// Extra context (`context.…`).
    pub context: Option<Value>,
    /// How the caller reached the service: `https` when it used TLS.
    pub scheme: String,
    /// The calling service's verified principal.
    pub peer: Option<String>,
    /// The calling service's address.
    pub source_ip: Option<IpAddr>,
    /// Now, in milliseconds since the Unix epoch.
    pub now_ms: u64,
}

/// A token exchange (RFC 8693): who asks, the token to exchange, and the zone
/// (named by its audience, or a resource URI equal to it) the new token is for.
#[derive(Clone, Debug, Default)]
pub struct ExchangeRequest {
    /// The `audience` or `resource` the caller names.
    pub audience: String,
    /// `subject_token`.
    pub subject_token: String,
    /// `scope`: the scopes asked for (none: those the exchange's `mint` gives).
    pub scope: Option<Vec<String>>,
    /// The caller's `authorization` header (`Basic …` for `client_secret`).
    pub authorization: Option<String>,
    /// Other headers the caller sent (an `api_key` header).
    pub headers: Vec<(String, String)>,
    /// `https` when the caller used TLS.
    pub scheme: String,
    /// The calling service's verified principal (its client certificate).
    pub peer: Option<String>,
    /// The calling service's address.
    pub source_ip: Option<IpAddr>,
    /// Now, in milliseconds since the Unix epoch.
    pub now_ms: u64,
}

/// A verified bearer token: its claims and the issuer (index) that signed it.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedToken {
    /// The token's claims (shared with the token cache).
    pub claims: Arc<Map<String, Value>>,
    /// Index of the issuer in the graph.
    pub issuer: u32,
}

/// Verifies bearer tokens against the issuers a step trusts. The JWT
/// implementation lives beside the engine; the engine only asks.
pub trait TokenVerifier: Send + Sync {
    /// The token's claims, or the reason and a detail (never the token).
    fn verify(&self, token: &str, issuers: &[u32], now_ms: u64) -> Result<VerifiedToken, (Reason, String)>;

    /// Changes whenever the keys change (a fetched JWKS replaced the old one), so
    /// that a cache of verified tokens forgets tokens a retired key signed.
    fn keys_generation(&self) -> u64 {
        0
    }
}

impl<T: TokenVerifier + ?Sized> TokenVerifier for Arc<T> {
    fn verify(&self, token: &str, issuers: &[u32], now_ms: u64) -> Result<VerifiedToken, (Reason, String)> {
        (**self).verify(token, issuers, now_ms)
    }

    fn keys_generation(&self) -> u64 {
        (**self).keys_generation()
    }
}
