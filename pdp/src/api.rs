//! The JSON check formats of SERVICE.md (`/v1/check`, `/v1/check/resource`) and their
//! conversion to the engine's requests: the one place these shapes are defined, shared
//! by `warden eval` and the HTTP front door.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::engine::run::{HttpRequest, ResourceRequest};

/// `POST /v1/check`: an HTTP request to judge.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The request.
    pub request: RequestPart,
    /// Where it came from.
    #[serde(default)]
    pub source: SourcePart,
}

/// The judged request.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestPart {
    /// Method.
    pub method: String,
    /// `http` or `https` (default `https`).
    #[serde(default = "https")]
    pub scheme: String,
    /// Host header.
    #[serde(default)]
    pub host: String,
    /// Path and query.
    pub path: String,
    /// Headers (names are lower-cased).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The raw body text.
    #[serde(default)]
    pub body: Option<String>,
}

fn https() -> String {
    "https".to_owned()
}

/// The network source and TLS peer.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcePart {
    /// Source address.
    #[serde(default)]
    pub ip: Option<IpAddr>,
    /// Verified peer principal.
    #[serde(default)]
    pub principal: Option<String>,
    /// Peer certificate (PEM); accepted, not yet used.
    #[serde(default)]
    pub certificate: Option<String>,
}

/// `POST /v1/check/resource`: may a subject do an action on a resource?
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceCheck {
    /// The resource.
    pub resource: ResourcePart,
    /// The action.
    pub action: String,
    /// The asserted subject.
    #[serde(default)]
    pub subject: Option<SubjectPart>,
    /// Or a bearer token.
    #[serde(default)]
    pub token: Option<String>,
    /// Extra context.
    #[serde(default)]
    pub context: Option<Value>,
    /// The calling service.
    #[serde(default)]
    pub source: SourcePart,
}

/// A resource.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcePart {
    /// Type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Id.
    #[serde(default)]
    pub id: String,
    /// Properties.
    #[serde(default)]
    pub properties: Map<String, Value>,
}

/// A subject.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectPart {
    /// Id (`claim.sub`).
    pub id: String,
    /// Properties (claims).
    #[serde(default)]
    pub properties: Map<String, Value>,
}

/// Either check, told apart by its fields.
#[derive(Clone, Debug)]
pub enum AnyCheck {
    /// An HTTP request.
    Http(CheckRequest),
    /// A resource check.
    Resource(ResourceCheck),
}

/// Parses a check in either format; the error names the problem.
pub fn parse_check(bytes: &[u8]) -> Result<AnyCheck, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("the check is not JSON: {e}"))?;
    if value.get("resource").is_some() {
        serde_json::from_value(value).map(AnyCheck::Resource).map_err(|e| format!("malformed resource check: {e}"))
    } else {
        serde_json::from_value(value).map(AnyCheck::Http).map_err(|e| format!("malformed check: {e}"))
    }
}

/// The engine's request for an HTTP request described by any front door (JSON,
/// `warden.v1` gRPC, Envoy ext_authz): the one place methods are upper-cased,
/// schemes lower-cased (empty means `https`) and header names lower-cased, so
/// every door judges the same request the same way.
#[expect(clippy::too_many_arguments, reason = "one argument per field of the judged request")]
pub fn http_request(
    method: &str,
    scheme: &str,
    host: &str,
    target: &str,
    headers: impl IntoIterator<Item = (String, String)>,
    body: Option<Vec<u8>>,
    (source_ip, peer): (Option<IpAddr>, Option<String>),
    now_ms: u64,
) -> HttpRequest {
    HttpRequest {
        method: method.to_ascii_uppercase(),
        scheme: if scheme.is_empty() { "https".to_owned() } else { scheme.to_ascii_lowercase() },
        host: host.to_owned(),
        target: target.to_owned(),
        headers: headers.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect(),
        body,
        // `::ffff:a.b.c.d` is `a.b.c.d`: one address, one rate-limit key, one CIDR answer.
        source_ip: source_ip.map(|ip| ip.to_canonical()),
        peer: peer.filter(|p| !p.is_empty()),
        now_ms,
        ..HttpRequest::default()
    }
}

impl CheckRequest {
    /// The engine's request, at `now_ms`.
    pub fn to_engine(&self, now_ms: u64) -> HttpRequest {
        let r = &self.request;
        http_request(
            &r.method,
            &r.scheme,
            &r.host,
            &r.path,
            r.headers.iter().map(|(k, v)| (k.clone(), v.clone())),
            r.body.as_ref().map(|b| b.clone().into_bytes()),
            (self.source.ip, self.source.principal.clone()),
            now_ms,
        )
    }
}

impl ResourceCheck {
    /// The engine's request, at `now_ms`. A service asking over TLS is `https`.
    pub fn to_engine(&self, now_ms: u64, scheme: &str) -> ResourceRequest {
        ResourceRequest {
            resource_type: self.resource.kind.clone(),
            resource_id: self.resource.id.clone(),
            properties: self.resource.properties.clone(),
            action: self.action.clone(),
            // An empty subject id asserts no one (as over gRPC): `auth asserted` denies.
            subject: self.subject.as_ref().filter(|s| !s.id.is_empty()).map(|s| (s.id.clone(), s.properties.clone())),
            token: self.token.clone(),
            context: self.context.clone(),
            scheme: scheme.to_owned(),
            peer: self.source.principal.clone().filter(|p| !p.is_empty()),
            source_ip: self.source.ip.map(|ip| ip.to_canonical()),
            now_ms,
        }
    }
}
