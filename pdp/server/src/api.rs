//! The JSON check formats of SERVICE.md (`/v1/check`, `/v1/check/resource`) and their
//! conversion to the engine's requests: the one place these shapes are defined, shared
//! by `warden eval` and the HTTP front door, and the one place every door's judged
//! HTTP request is normalised and bounded ([`http_request`], [`Bounds`]).

use std::net::IpAddr;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::engine::run::{HttpRequest, ResourceRequest};

/// Bounds on what one judged request may carry (`[check_limits]` in the
/// service's config), the same at every door; defaults follow Envoy (100
/// headers, 60 KiB of headers) and nginx (8 KiB for a request line or a header).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Bounds {
    /// Most headers (after repeated names are merged).
    pub max_headers: usize,
    /// Largest header, name and value together, in bytes (`host` included).
    pub max_header_bytes: usize,
    /// Largest sum of all headers' names and values, in bytes.
    pub max_headers_bytes: usize,
    /// Longest path with its query, in bytes.
    pub max_target_bytes: usize,
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds { max_headers: 100, max_header_bytes: 8 << 10, max_headers_bytes: 60 << 10, max_target_bytes: 8 << 10 }
    }
}

impl Bounds {
    /// Checks the bounds themselves: each between 1 and 1 MiB (a million headers).
    pub fn validate(&self) -> Result<(), String> {
        for (name, n) in [
            ("check_limits.max_headers", self.max_headers),
            ("check_limits.max_header_bytes", self.max_header_bytes),
            ("check_limits.max_headers_bytes", self.max_headers_bytes),
            ("check_limits.max_target_bytes", self.max_target_bytes),
        ] {
            if n == 0 || n > 1 << 20 {
                return Err(format!("`{name}` is {n}; expected 1 to 1048576"));
            }
        }
        Ok(())
    }
}

/// `POST /v1/check`: an HTTP request to judge.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The request.
    pub request: RequestPart,
    /// Where it came from: asserted by the caller, which only callers allowed
    /// to assert may do (`[callers]`).
    #[serde(default)]
    pub source: Option<SourcePart>,
}

/// The judged request.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestPart {
    /// Method.
    pub method: String,
    /// `http` or `https`: required (the door that saw the request knows it).
    pub scheme: String,
    /// Host header.
    #[serde(default)]
    pub host: String,
    /// Path and query.
    pub path: String,
    /// Headers in the order given (names are lower-cased later; a name given
    /// twice is kept twice, so that [`http_request`] can refuse or merge it).
    #[serde(default, deserialize_with = "pairs_in_order")]
    pub headers: Vec<(String, String)>,
    /// The raw body text.
    #[serde(default)]
    pub body: Option<String>,
}

/// A JSON object's members as pairs, duplicates kept.
fn pairs_in_order<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    struct Pairs;
    impl<'de> serde::de::Visitor<'de> for Pairs {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object of header names to text values")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(pair) = map.next_entry::<String, String>()? {
                out.push(pair);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Pairs)
}

/// The network source and TLS peer, as a caller asserts them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcePart {
    /// Source address.
    #[serde(default)]
    pub ip: Option<IpAddr>,
    /// Verified peer principal.
    #[serde(default)]
    pub principal: Option<String>,
    /// The client certificate (PEM or URL-encoded PEM): its thumbprint is what
    /// a certificate-bound token (RFC 8705) must name.
    #[serde(default)]
    pub certificate: Option<String>,
}

impl SourcePart {
    /// Asserts nothing at all (every field absent or empty).
    pub fn is_empty(&self) -> bool {
        self.ip.is_none()
            && self.principal.as_deref().is_none_or(str::is_empty)
            && self.certificate.as_deref().is_none_or(str::is_empty)
    }

    /// The source address and principal it asserts.
    pub fn asserted(&self) -> (Option<IpAddr>, Option<String>) {
        (self.ip.map(|ip| ip.to_canonical()), self.principal.clone().filter(|p| !p.is_empty()))
    }
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
    /// The calling service's address and principal, asserted: only callers
    /// allowed to assert may give it; otherwise the connection says who calls.
    #[serde(default)]
    pub source: Option<SourcePart>,
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

/// Why a check cannot be judged: the door answers 400 (`INVALID_ARGUMENT`, an
/// ext_authz denial) with this text, never an allow. No header value, token or
/// body is quoted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// Not a JSON object.
    #[error("the check is not a JSON object: {0}")]
    NotObject(String),
    /// A resource check that does not fit its format.
    #[error("malformed resource check: {0}")]
    MalformedResource(String),
    /// An HTTP check that does not fit its format.
    #[error("malformed check: {0}")]
    Malformed(String),
    /// No method or no path.
    #[error("the request needs a `method` and a `path`")]
    NoMethodOrPath,
    /// No scheme: the same request must get the same answer at every door.
    #[error("the request has no `scheme` (`http` or `https`)")]
    NoScheme,
    /// Over `check_limits.max_target_bytes`.
    #[error("the path and query are longer than {0} bytes")]
    TargetTooLong(usize),
    /// A host over `check_limits.max_header_bytes`.
    #[error("the host is longer than {0} bytes")]
    HostTooLong(usize),
    /// Over `check_limits.max_headers_bytes`.
    #[error("the headers are larger than {0} bytes in all")]
    HeadersTooLarge(usize),
    /// One header (merged) over `check_limits.max_header_bytes`.
    #[error("header `{0}` is larger than {1} bytes")]
    HeaderTooLarge(String, usize),
    /// Over `check_limits.max_headers`.
    #[error("the request carries more than {0} headers")]
    TooManyHeaders(usize),
    /// A header that may appear once (credentials, framing, forwarding) appeared again.
    #[error("the request carries more than one `{0}` header")]
    RepeatedHeader(String),
    /// No resource type or no action.
    #[error("a resource check needs `resource.type` and `action`")]
    NoResourceTypeOrAction,
    /// `resource.id` and `resource.properties.id` both given.
    #[error("the resource names its id twice (`resource.id` and `resource.properties.id`)")]
    ResourceIdTwice,
    /// `context` that is not an object.
    #[error("`context` must be a JSON object")]
    ContextNotObject,
}

/// Parses a check in either format; the error names the problem. Parsed
/// straight from the bytes (no intermediate JSON tree), so a field given twice
/// is refused here as on `/v1/check`, whichever way the check arrives.
pub fn parse_check(bytes: &[u8]) -> Result<AnyCheck, CheckError> {
    /// Only tells the two formats apart.
    #[derive(Deserialize)]
    struct Probe {
        resource: Option<serde::de::IgnoredAny>,
    }
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| CheckError::NotObject(e.to_string()))?;
    if probe.resource.is_some() {
        serde_json::from_slice(bytes).map(AnyCheck::Resource).map_err(|e| CheckError::MalformedResource(e.to_string()))
    } else {
        serde_json::from_slice(bytes).map(AnyCheck::Http).map_err(|e| CheckError::Malformed(e.to_string()))
    }
}

/// Headers whose repetition (in any letter case) is refused rather than
/// merged: the credentials, the body's framing and type, and the forwarding
/// headers. A gateway and the upstream may each pick a different copy, so
/// Warden must not judge one of them.
const SINGLE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "content-type",
    "content-length",
    "transfer-encoding",
    "host",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-method",
    "x-forwarded-uri",
    "x-original-method",
    "x-original-uri",
    "x-real-ip",
];

/// The headers of a judged request: names lower-cased, a repeated name merged
/// (`, `; `; ` for `cookie`, which HTTP/2 splits) in the order given, except
/// [`SINGLE_HEADERS`], whose repetition is an error; within [`Bounds`].
pub fn merge_headers(
    headers: impl IntoIterator<Item = (String, String)>,
    bounds: &Bounds,
) -> Result<Vec<(String, String)>, CheckError> {
    // A linear search: at most `max_headers` names, usually a dozen, where a
    // map per request would cost more than it saves.
    let mut out: Vec<(String, String)> = Vec::new();
    let mut total = 0usize;
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        total = total.saturating_add(name.len() + value.len());
        if total > bounds.max_headers_bytes {
            return Err(CheckError::HeadersTooLarge(bounds.max_headers_bytes));
        }
        match out.iter().position(|(n, _)| *n == name) {
            Some(i) => {
                if SINGLE_HEADERS.contains(&name.as_str()) {
                    return Err(CheckError::RepeatedHeader(name));
                }
                let Some((_, v)) = out.get_mut(i) else { continue };
                v.push_str(if name == "cookie" { "; " } else { ", " });
                v.push_str(&value);
                if name.len() + v.len() > bounds.max_header_bytes {
                    return Err(CheckError::HeaderTooLarge(name, bounds.max_header_bytes));
                }
            }
            None => {
                if name.len() + value.len() > bounds.max_header_bytes {
                    return Err(CheckError::HeaderTooLarge(name, bounds.max_header_bytes));
                }
                if out.len() >= bounds.max_headers {
                    return Err(CheckError::TooManyHeaders(bounds.max_headers));
                }
                out.push((name, value));
            }
        }
    }
    Ok(out)
}

/// The engine's request for an HTTP request described by any front door (JSON,
/// `warden.v1` gRPC, Envoy ext_authz, forward auth): the one place methods are
/// upper-cased, schemes lower-cased (an empty one is an error: the same request
/// gets the same answer at every door) and headers merged ([`merge_headers`]),
/// within [`Bounds`], so every door judges the same request the same way.
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
    bounds: &Bounds,
) -> Result<HttpRequest, CheckError> {
    if method.is_empty() || target.is_empty() {
        return Err(CheckError::NoMethodOrPath);
    }
    if scheme.is_empty() {
        return Err(CheckError::NoScheme);
    }
    if target.len() > bounds.max_target_bytes {
        return Err(CheckError::TargetTooLong(bounds.max_target_bytes));
    }
    if host.len() > bounds.max_header_bytes {
        return Err(CheckError::HostTooLong(bounds.max_header_bytes));
    }
    Ok(HttpRequest {
        method: method.to_ascii_uppercase(),
        scheme: scheme.to_ascii_lowercase(),
        host: host.to_owned(),
        target: target.to_owned(),
        headers: merge_headers(headers, bounds)?,
        body,
        // `::ffff:a.b.c.d` is `a.b.c.d`: one address, one rate-limit key, one CIDR answer.
        source_ip: source_ip.map(|ip| ip.to_canonical()),
        peer: peer.filter(|p| !p.is_empty()),
        now_ms,
        ..HttpRequest::default()
    })
}

impl CheckRequest {
    /// The engine's request, at `now_ms`, with the source the door settled on
    /// (the asserted one, when the caller may assert). The body is moved, not copied.
    pub fn into_engine(
        self,
        source: (Option<IpAddr>, Option<String>),
        now_ms: u64,
        bounds: &Bounds,
    ) -> Result<HttpRequest, CheckError> {
        let r = self.request;
        http_request(
            &r.method,
            &r.scheme,
            &r.host,
            &r.path,
            r.headers,
            r.body.map(String::into_bytes),
            source,
            now_ms,
            bounds,
        )
    }
}

/// The engine's resource check. `resource.id` is given once: a
/// `resource.properties.id` beside a non-empty `resource.id` is refused (one
/// would silently override the other). An empty subject id asserts no one
/// (`auth asserted` denies).
#[expect(clippy::too_many_arguments, reason = "one argument per field of the judged check")]
pub fn resource_request(
    resource: ResourcePart,
    action: String,
    subject: Option<SubjectPart>,
    token: Option<String>,
    context: Option<Value>,
    (source_ip, peer): (Option<IpAddr>, Option<String>),
    scheme: &str,
    now_ms: u64,
) -> Result<ResourceRequest, CheckError> {
    if resource.kind.is_empty() || action.is_empty() {
        return Err(CheckError::NoResourceTypeOrAction);
    }
    if !resource.id.is_empty() && resource.properties.contains_key("id") {
        return Err(CheckError::ResourceIdTwice);
    }
    if context.as_ref().is_some_and(|c| !c.is_object()) {
        return Err(CheckError::ContextNotObject);
    }
    Ok(ResourceRequest {
        resource_type: resource.kind,
        resource_id: resource.id,
        properties: resource.properties,
        action,
        subject: subject.filter(|s| !s.id.is_empty()).map(|s| (s.id, s.properties)),
        token: token.filter(|t| !t.is_empty()),
        context,
        scheme: scheme.to_owned(),
        peer: peer.filter(|p| !p.is_empty()),
        source_ip: source_ip.map(|ip| ip.to_canonical()),
        now_ms,
    })
}

impl ResourceCheck {
    /// The engine's request, at `now_ms`, with the caller's address and
    /// principal and the scheme of the connection it asked on.
    pub fn into_engine(
        self,
        source: (Option<IpAddr>, Option<String>),
        scheme: &str,
        now_ms: u64,
    ) -> Result<ResourceRequest, CheckError> {
        resource_request(self.resource, self.action, self.subject, self.token, self.context, source, scheme, now_ms)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn repeated_security_headers_are_refused_in_any_case() {
        let b = Bounds::default();
        let pairs = |l: &[(&str, &str)]| l.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>();
        let err = merge_headers(pairs(&[("Authorization", "Bearer a"), ("authorization", "Bearer b")]), &b);
        assert_eq!(err.unwrap_err(), CheckError::RepeatedHeader("authorization".to_owned()));
        assert_eq!(
            CheckError::RepeatedHeader("authorization".to_owned()).to_string(),
            "the request carries more than one `authorization` header"
        );
        assert!(merge_headers(pairs(&[("Content-Length", "1"), ("content-length", "1")]), &b).is_err());
        assert!(merge_headers(pairs(&[("X-Forwarded-For", "1.2.3.4"), ("x-forwarded-for", "1.2.3.4")]), &b).is_err());
        let ok = merge_headers(pairs(&[("Accept", "a"), ("accept", "b"), ("Cookie", "x=1"), ("cookie", "y=2")]), &b);
        assert_eq!(ok.unwrap(), pairs(&[("accept", "a, b"), ("cookie", "x=1; y=2")]));
    }

    #[test]
    fn bounds_hold() {
        let b = Bounds { max_headers: 2, max_header_bytes: 16, max_headers_bytes: 30, max_target_bytes: 10 };
        let h = |n: usize| (0..n).map(|i| (format!("h{i}"), "v".to_owned())).collect::<Vec<_>>();
        assert!(merge_headers(h(2), &b).is_ok());
        assert_eq!(merge_headers(h(3), &b).unwrap_err(), CheckError::TooManyHeaders(2));
        assert_eq!(
            merge_headers([("a".to_owned(), "x".repeat(16))], &b).unwrap_err(),
            CheckError::HeaderTooLarge("a".to_owned(), 16)
        );
        let big = [("a".to_owned(), "x".repeat(14)), ("b".to_owned(), "x".repeat(14)), ("c".to_owned(), "x".into())];
        assert_eq!(merge_headers(big, &b).unwrap_err(), CheckError::HeadersTooLarge(30));
        let req = |target: &str, scheme: &str| {
            http_request("get", scheme, "h", target, Vec::new(), None, (None, None), 0, &b)
        };
        assert_eq!(req("/0123456789", "https").unwrap_err(), CheckError::TargetTooLong(10));
        assert_eq!(req("/a", "").unwrap_err(), CheckError::NoScheme);
        assert_eq!(CheckError::NoScheme.to_string(), "the request has no `scheme` (`http` or `https`)");
        assert_eq!(req("/a", "HTTPS").unwrap().scheme, "https");
    }

    #[test]
    fn a_field_given_twice_is_refused_by_parse_check() {
        let twice = br#"{"request": {"method": "GET", "scheme": "https", "path": "/a", "path": "/b"}}"#;
        assert!(parse_check(twice).unwrap_err().to_string().contains("duplicate field `path`"));
        let no_scheme = br#"{"request": {"method": "GET", "path": "/a"}}"#;
        assert!(parse_check(no_scheme).unwrap_err().to_string().contains("missing field `scheme`"));
        let resource = br#"{"resource": {"type": "doc", "id": "1"}, "action": "read", "action": "write"}"#;
        assert!(parse_check(resource).unwrap_err().to_string().contains("duplicate field `action`"));
        let ok = br#"{"resource": {"type": "doc", "id": "1"}, "action": "read"}"#;
        assert!(matches!(parse_check(ok).unwrap(), AnyCheck::Resource(_)));
    }

    #[test]
    fn resource_id_is_given_once() {
        let check = |id: &str| ResourceCheck {
            resource: ResourcePart {
                kind: "doc".to_owned(),
                id: id.to_owned(),
                properties: Map::from_iter([("id".to_owned(), Value::from("other"))]),
            },
            action: "read".to_owned(),
            subject: None,
            token: None,
            context: None,
            source: None,
        };
        assert_eq!(check("1").into_engine((None, None), "https", 0).unwrap_err(), CheckError::ResourceIdTwice);
        assert_eq!(check("").into_engine((None, None), "https", 0).unwrap().properties["id"], "other");
    }
}
