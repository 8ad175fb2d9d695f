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
    #[serde(deserialize_with = "object::request")]
    pub request: RequestPart,
    /// Where it came from: asserted by the caller, which only callers allowed
    /// to assert may do (`[callers]`).
    #[serde(default, deserialize_with = "object::source")]
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
    #[serde(deserialize_with = "object::resource")]
    pub resource: ResourcePart,
    /// The action.
    pub action: String,
    /// The asserted subject.
    #[serde(default, deserialize_with = "object::subject")]
    pub subject: Option<SubjectPart>,
    /// Or a bearer token.
    #[serde(default)]
    pub token: Option<String>,
    /// Extra context.
    #[serde(default)]
    pub context: Option<Value>,
    /// The calling service's address and principal, asserted: only callers
    /// allowed to assert may give it; otherwise the connection says who calls.
    #[serde(default, deserialize_with = "object::source")]
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

/// The members of the check formats that are JSON objects, read only from
/// objects. Serde's derived `Deserialize` also reads a struct from a JSON array
/// of its fields in order (`"source": [null, null]`), which the documented
/// formats do not allow: these refuse it, naming the member. The object's
/// members are handed straight to the struct as they are read (no
/// intermediate tree), so an object costs what it cost before.
pub(crate) mod object {
    use std::marker::PhantomData;

    use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

    use super::{RequestPart, ResourcePart, SourcePart, SubjectPart};

    /// Reads a `T` from a JSON object only; `what` names it in the error
    /// ("`source`", "each of `evaluations`").
    pub(crate) struct ObjectOf<T> {
        what: &'static str,
        kind: PhantomData<fn() -> T>,
    }

    impl<T> ObjectOf<T> {
        pub(crate) fn new(what: &'static str) -> ObjectOf<T> {
            ObjectOf { what, kind: PhantomData }
        }
    }

    impl<'de, T: de::Deserialize<'de>> Visitor<'de> for ObjectOf<T> {
        type Value = T;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{} to be a JSON object", self.what)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<T, A::Error> {
            Err(de::Error::custom(format_args!("{} must be a JSON object, not an array", self.what)))
        }
    }

    impl<'de, T: de::Deserialize<'de>> DeserializeSeed<'de> for ObjectOf<T> {
        type Value = T;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
            // `any`, not `map`: an array reaches `visit_seq` and its own message.
            d.deserialize_any(self)
        }
    }

    /// An optional object: `null` (or absent, with `#[serde(default)]`) is `None`.
    struct OptionalObjectOf<T>(ObjectOf<T>);

    impl<'de, T: de::Deserialize<'de>> Visitor<'de> for OptionalObjectOf<T> {
        type Value = Option<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.expecting(f)
        }

        fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
            self.0.deserialize(d).map(Some)
        }
    }

    /// A list of objects: the list's name, and what names each item.
    struct ListOf<T>(&'static str, &'static str, PhantomData<fn() -> T>);

    impl<'de, T: de::Deserialize<'de>> Visitor<'de> for ListOf<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{} to be a JSON list of objects", self.0)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            // No capacity from the size hint: the body's length bounds the list.
            let mut out = Vec::new();
            while let Some(item) = seq.next_element_seed(ObjectOf::<T>::new(self.1))? {
                out.push(item);
            }
            Ok(out)
        }
    }

    /// A required object member, `what` naming it.
    pub(crate) fn required<'de, D: Deserializer<'de>, T: de::Deserialize<'de>>(
        d: D,
        what: &'static str,
    ) -> Result<T, D::Error> {
        ObjectOf::new(what).deserialize(d)
    }

    /// An optional object member, `what` naming it.
    pub(crate) fn optional<'de, D: Deserializer<'de>, T: de::Deserialize<'de>>(
        d: D,
        what: &'static str,
    ) -> Result<Option<T>, D::Error> {
        d.deserialize_option(OptionalObjectOf(ObjectOf::new(what)))
    }

    /// A list whose items are objects, `what` naming the list and `each` an item.
    pub(crate) fn list<'de, D: Deserializer<'de>, T: de::Deserialize<'de>>(
        d: D,
        what: &'static str,
        each: &'static str,
    ) -> Result<Vec<T>, D::Error> {
        d.deserialize_seq(ListOf(what, each, PhantomData))
    }

    /// `request`.
    pub(super) fn request<'de, D: Deserializer<'de>>(d: D) -> Result<RequestPart, D::Error> {
        required(d, "`request`")
    }

    /// `source`.
    pub(super) fn source<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SourcePart>, D::Error> {
        optional(d, "`source`")
    }

    /// `resource`.
    pub(super) fn resource<'de, D: Deserializer<'de>>(d: D) -> Result<ResourcePart, D::Error> {
        required(d, "`resource`")
    }

    /// `subject`.
    pub(super) fn subject<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SubjectPart>, D::Error> {
        optional(d, "`subject`")
    }
}

/// Whether a JSON text is an array (its first byte past JSON whitespace is
/// `[`): a check must be an object, and serde's derived `Deserialize` would
/// read an array of its fields in order. One look at the first byte, so the
/// body is still parsed once.
pub fn is_json_array(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) == Some(&b'[')
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
    if is_json_array(bytes) {
        return Err(CheckError::NotObject("it is a JSON array".to_owned()));
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
    #![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

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
    fn an_array_in_place_of_an_object_is_refused() {
        let err = |body: &str| parse_check(body.as_bytes()).unwrap_err().to_string();
        // A whole check as an array, with or without whitespace before it.
        assert_eq!(
            err(r#"[{"method": "GET", "scheme": "https", "path": "/x"}]"#),
            "the check is not a JSON object: it is a JSON array"
        );
        assert!(err(" \n\t[null, null]").contains("not a JSON object"));
        // A member that is an object, given as an array of its fields in order.
        let http = r#"{"request": {"method": "GET", "scheme": "https", "host": "id.example.com", "path": "/v1/me"},
            "source": [null, null]}"#;
        assert!(err(http).contains("`source` must be a JSON object"), "{}", err(http));
        let request = r#"{"request": ["GET", "https", "h", "/x"]}"#;
        assert!(err(request).contains("`request` must be a JSON object"), "{}", err(request));
        let resource = r#"{"resource": {"type": "note", "id": "n7"}, "action": "read", "source": [null, null]}"#;
        assert!(err(resource).starts_with("malformed resource check: `source` must be a JSON object"));
        let resource = r#"{"resource": ["note", "n7"], "action": "read"}"#;
        assert!(err(resource).contains("`resource` must be a JSON object"), "{}", err(resource));
        let subject = r#"{"resource": {"type": "note"}, "action": "read", "subject": ["ada"]}"#;
        assert!(err(subject).contains("`subject` must be a JSON object"), "{}", err(subject));
        // Other types are still refused, naming the member.
        let text = r#"{"request": {"method": "GET", "scheme": "https", "path": "/x"}, "source": "x"}"#;
        assert!(err(text).contains("expected `source` to be a JSON object"), "{}", err(text));
        // Straight from serde too (`warden eval`, the HTTP door), not only through `parse_check`.
        assert!(serde_json::from_str::<CheckRequest>(http).is_err());
        assert!(serde_json::from_str::<ResourceCheck>(resource).is_err());
    }

    #[test]
    fn objects_null_and_absent_members_still_parse() {
        let with_source = br#"{"request": {"method": "GET", "scheme": "https", "path": "/x"},
            "source": {"ip": "192.0.2.1", "principal": "spiffe://a"}}"#;
        let AnyCheck::Http(c) = parse_check(with_source).unwrap() else { panic!("not an HTTP check") };
        assert_eq!(c.request.path, "/x");
        assert_eq!(c.source.unwrap().principal.as_deref(), Some("spiffe://a"));
        for body in [
            &br#"{"request": {"method": "GET", "scheme": "https", "path": "/x"}, "source": null}"#[..],
            br#"  {"request": {"method": "GET", "scheme": "https", "path": "/x"}}"#,
        ] {
            let AnyCheck::Http(c) = parse_check(body).unwrap() else { panic!("not an HTTP check") };
            assert!(c.source.is_none());
        }
        let resource = br#"{"resource": {"type": "note", "id": "n7", "properties": {"a": 1}}, "action": "read",
            "subject": {"id": "ada", "properties": {"role": "admin"}}, "source": {"ip": "192.0.2.1"}, "subject": null}"#;
        // A member given twice is still refused inside the object reader.
        assert!(parse_check(resource).unwrap_err().to_string().contains("duplicate field `subject`"));
        let resource = br#"{"resource": {"type": "note", "id": "n7", "properties": {"a": 1}}, "action": "read",
            "subject": {"id": "ada", "properties": {"role": "admin"}}, "source": {"ip": "192.0.2.1"}}"#;
        let AnyCheck::Resource(c) = parse_check(resource).unwrap() else { panic!("not a resource check") };
        assert_eq!((c.resource.kind.as_str(), c.resource.id.as_str()), ("note", "n7"));
        assert_eq!(c.subject.unwrap().properties["role"], "admin");
        assert!(c.source.unwrap().ip.is_some());
        // Unknown fields inside a member are still refused.
        let unknown = br#"{"request": {"method": "GET", "scheme": "https", "path": "/x"}, "source": {"port": 1}}"#;
        assert!(parse_check(unknown).unwrap_err().to_string().contains("unknown field `port`"));
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
