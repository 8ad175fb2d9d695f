//! The SDK's own check and decision types, and their conversion to and from the
//! `warden.v1` messages (the only place the SDK builds protobuf messages).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::pb;

/// Where a request came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Source {
    /// The client's address, when known.
    pub ip: Option<IpAddr>,
    /// The verified TLS peer principal (e.g. a SPIFFE id), when there is one.
    pub principal: Option<String>,
}

/// An HTTP request to judge (`Check`, as `POST /v1/check`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HttpCheck {
    /// The method (`GET`, …).
    pub method: String,
    /// `http` or `https`; empty means `https`.
    pub scheme: String,
    /// The `Host` the client asked for (may carry a port).
    pub host: String,
    /// Path and query, as sent.
    pub path: String,
    /// Headers; names are case-insensitive (Warden lower-cases them).
    pub headers: BTreeMap<String, String>,
    /// The raw body, when it is sent along.
    pub body: Option<Vec<u8>>,
    /// Where the request came from.
    pub source: Source,
}

impl HttpCheck {
    /// A check of `method path` on `host`, over `https`, with no headers.
    pub fn new(method: &str, host: &str, path: &str) -> HttpCheck {
        HttpCheck {
            method: method.to_owned(),
            scheme: "https".to_owned(),
            host: host.to_owned(),
            path: path.to_owned(),
            ..HttpCheck::default()
        }
    }

    /// The same check with one more header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> HttpCheck {
        self.headers.insert(name.to_ascii_lowercase(), value.to_owned());
        self
    }
}

/// Header values are credentials (`authorization`, cookies, API keys): only the
/// names are shown.
impl std::fmt::Debug for HttpCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpCheck")
            .field("method", &self.method)
            .field("scheme", &self.scheme)
            .field("host", &self.host)
            .field("path", &self.path)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body_bytes", &self.body.as_ref().map(Vec::len))
            .field("source", &self.source)
            .finish()
    }
}

/// The subject a service asserts (its id becomes `claim.sub`, its properties
/// the other claims).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    /// The subject's id.
    pub id: String,
    /// Its other claims.
    pub properties: Map<String, Value>,
}

/// May a subject do an action on a resource (`CheckResource`, as
/// `POST /v1/check/resource`).
#[derive(Clone, Default, PartialEq)]
pub struct ResourceCheck {
    /// The resource's type (a `resource` block of the policy).
    pub resource_type: String,
    /// The resource's id.
    pub resource_id: String,
    /// The resource's attributes (`resource.…`).
    pub properties: Map<String, Value>,
    /// The action.
    pub action: String,
    /// The asserted subject, for `auth asserted`.
    pub subject: Option<Subject>,
    /// A bearer token, for `auth bearer`.
    pub token: Option<String>,
    /// Extra context (a JSON object).
    pub context: Option<Map<String, Value>>,
    /// Who is asking.
    pub source: Source,
}

impl ResourceCheck {
    /// A check of `action` on the resource `resource_type`/`resource_id`.
    pub fn new(resource_type: &str, resource_id: &str, action: &str) -> ResourceCheck {
        ResourceCheck {
            resource_type: resource_type.to_owned(),
            resource_id: resource_id.to_owned(),
            action: action.to_owned(),
            ..ResourceCheck::default()
        }
    }
}

/// The token is never shown.
impl std::fmt::Debug for ResourceCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceCheck")
            .field("resource_type", &self.resource_type)
            .field("resource_id", &self.resource_id)
            .field("properties", &self.properties)
            .field("action", &self.action)
            .field("subject", &self.subject)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("context", &self.context)
            .field("source", &self.source)
            .finish()
    }
}

/// One item of a batch.
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// An HTTP request.
    Http(HttpCheck),
    /// A resource action.
    Resource(ResourceCheck),
}

/// Warden's answer, as every front door gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Allowed.
    pub allow: bool,
    /// The HTTP status to answer with (200 on allow).
    pub status: u16,
    /// The snake_case reason code (`allowed`, `credentials_missing`, …).
    pub reason: String,
    /// A sentence saying why.
    pub detail: String,
    /// The deciding rule, when there is one.
    pub rule: Option<String>,
    /// The policy revision that decided.
    pub revision: String,
    /// The decision's id (also in Warden's decision log).
    pub decision_id: String,
    /// On allow, the upstream headers; on deny, the challenge and rate-limit
    /// headers to answer with.
    pub headers: BTreeMap<String, String>,
    /// On allow, upstream headers the policy declares but could not fill (a
    /// claim the token lacks): remove any copy the client sent.
    pub unset_headers: Vec<String>,
}

impl Decision {
    /// The denial that stands for "no answer" when failing closed: status 503,
    /// reason `unavailable`, `detail` saying why.
    ///
    /// ```
    /// let d = warden_sdk::Decision::unavailable("warden is down");
    /// assert!(!d.allow);
    /// assert_eq!((d.status, d.reason.as_str()), (503, "unavailable"));
    /// ```
    pub fn unavailable(detail: &str) -> Decision {
        Decision {
            allow: false,
            status: 503,
            reason: "unavailable".to_owned(),
            detail: detail.to_owned(),
            ..Decision::default()
        }
    }

    /// The allow that stands for "no answer" when failing open: status 200,
    /// reason `unavailable`, no upstream headers.
    pub fn fail_open(detail: &str) -> Decision {
        Decision { allow: true, status: 200, ..Decision::unavailable(detail) }
    }

    /// The denial of a request that cannot be judged at all (status 400,
    /// reason `bad_request`): never an allow, whatever the fail mode.
    pub fn bad_request(detail: &str) -> Decision {
        Decision {
            allow: false,
            status: 400,
            reason: "bad_request".to_owned(),
            detail: detail.to_owned(),
            ..Decision::default()
        }
    }

    /// The JSON body a denial is answered with:
    /// `{"allow": false, "status", "reason", "detail", "decision_id"}`.
    pub fn deny_body(&self) -> Value {
        serde_json::json!({"allow": false, "status": self.status, "reason": self.reason,
            "detail": self.detail, "decision_id": self.decision_id})
    }
}

/// What a caller does when Warden gives no answer (down, unreachable, too slow).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailMode {
    /// No answer is a denial ([`Decision::unavailable`], 503). The default.
    #[default]
    Closed,
    /// No answer is an allow ([`Decision::fail_open`]), with no upstream headers.
    Open,
}

impl FailMode {
    /// The decision to act on for `result`: the answer, or when there was none
    /// ([`crate::Error::is_no_answer`]) the fail mode's. A request Warden refused
    /// to judge (`InvalidArgument`) is denied 400 in both modes.
    ///
    /// ```
    /// use warden_sdk::{Error, FailMode};
    /// let down: Result<warden_sdk::Decision, Error> = Err(Error::Unavailable("connection refused".into()));
    /// assert_eq!(FailMode::Closed.resolve(down.clone()).status, 503);
    /// assert!(FailMode::Open.resolve(down).allow);
    /// ```
    pub fn resolve(self, result: Result<Decision, crate::Error>) -> Decision {
        match result {
            Ok(d) => d,
            Err(e) if e.is_no_answer() => match self {
                FailMode::Closed => Decision::unavailable(&e.to_string()),
                FailMode::Open => Decision::fail_open(&e.to_string()),
            },
            Err(e) => Decision::bad_request(&e.to_string()),
        }
    }
}

fn json_text(m: &Map<String, Value>) -> String {
    if m.is_empty() { String::new() } else { Value::Object(m.clone()).to_string() }
}

fn source(s: &Source) -> pb::Source {
    pb::Source {
        ip: s.ip.map(|ip| ip.to_string()).unwrap_or_default(),
        principal: s.principal.clone().unwrap_or_default(),
        certificate: String::new(),
    }
}

impl From<&HttpCheck> for pb::CheckRequest {
    fn from(c: &HttpCheck) -> pb::CheckRequest {
        pb::CheckRequest {
            request: Some(pb::HttpRequest {
                method: c.method.clone(),
                scheme: c.scheme.clone(),
                host: c.host.clone(),
                path: c.path.clone(),
                headers: c.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                body: c.body.clone(),
            }),
            source: Some(source(&c.source)),
        }
    }
}

impl From<&ResourceCheck> for pb::ResourceCheckRequest {
    fn from(c: &ResourceCheck) -> pb::ResourceCheckRequest {
        pb::ResourceCheckRequest {
            resource: Some(pb::Resource {
                r#type: c.resource_type.clone(),
                id: c.resource_id.clone(),
                properties_json: json_text(&c.properties),
            }),
            action: c.action.clone(),
            subject: c
                .subject
                .as_ref()
                .map(|s| pb::Subject { id: s.id.clone(), properties_json: json_text(&s.properties) }),
            token: c.token.clone().unwrap_or_default(),
            context_json: c.context.as_ref().map(|m| Value::Object(m.clone()).to_string()).unwrap_or_default(),
            source: Some(source(&c.source)),
        }
    }
}

impl From<&Check> for pb::BatchItem {
    fn from(c: &Check) -> pb::BatchItem {
        pb::BatchItem {
            check: Some(match c {
                Check::Http(h) => pb::batch_item::Check::Http(h.into()),
                Check::Resource(r) => pb::batch_item::Check::Resource(r.into()),
            }),
        }
    }
}

impl From<pb::CheckResponse> for Decision {
    fn from(r: pb::CheckResponse) -> Decision {
        Decision {
            allow: r.allow,
            // A status out of range is not a status Warden sends; it cannot be an allow.
            status: u16::try_from(r.status).unwrap_or(500),
            reason: r.reason,
            detail: r.detail,
            rule: Some(r.rule).filter(|s| !s.is_empty()),
            revision: r.revision,
            decision_id: r.decision_id,
            headers: r.headers.into_iter().collect(),
            unset_headers: r.unset_headers,
        }
    }
}
