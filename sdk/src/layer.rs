//! The tower middleware: [`WardenLayer`] turns each incoming HTTP request into a
//! `Check`, answers a denial itself and passes an allowed request on with the
//! decision's upstream headers.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use tower::{Layer, Service};

use crate::check::{Decision, FailMode, HttpCheck, Source};
use crate::client::Decide;

/// The verified TLS peer of the incoming connection (e.g. a SPIFFE id), for a
/// service that terminates mutual TLS itself: put it in the request's extensions
/// and the layer sends it as `source.principal`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerPrincipal(pub String);

#[derive(Debug)]
struct Settings {
    fail_mode: FailMode,
    scheme: String,
    body_limit: Option<usize>,
    reserved: Vec<HeaderName>,
}

/// A tower [`Layer`] that asks Warden about every request before the inner
/// service sees it.
///
/// What Warden is told: the method, the path and query, the `Host` header (or
/// the URI's authority), every header (repeated names joined with `,`; a
/// repeated `authorization`, `content-type` or forwarding header is a 400), the
/// scheme set by [`WardenLayer::scheme`] (default `https`: the service is
/// assumed to sit behind TLS termination), the client's address when the
/// request carries an [`axum::extract::ConnectInfo<SocketAddr>`] extension (axum
/// adds it with `into_make_service_with_connect_info::<SocketAddr>()`), a
/// [`PeerPrincipal`] extension as the peer, and the body only with
/// [`WardenLayer::body_limit`].
///
/// On deny the layer answers with the decision's status and headers,
/// `x-warden-decision-id`, and the JSON body `{"allow": false, "status",
/// "reason", "detail", "decision_id"}`; the inner service is not called. On
/// allow it sets the decision's upstream headers on the request (replacing any
/// the client sent), removes the declared ones Warden could not fill
/// ([`Decision::unset_headers`]), adds the [`Decision`] to the request's extensions and calls
/// the inner service. No answer from Warden follows the [`FailMode`] (closed by
/// default: 503 `unavailable`).
#[derive(Clone, Debug)]
pub struct WardenLayer<D> {
    decider: D,
    settings: Arc<Settings>,
}

impl<D: Decide> WardenLayer<D> {
    /// A layer asking `decider` (a [`crate::Client`] or the embedded mode).
    pub fn new(decider: D) -> WardenLayer<D> {
        WardenLayer {
            decider,
            settings: Arc::new(Settings {
                fail_mode: FailMode::Closed,
                scheme: "https".to_owned(),
                body_limit: None,
                reserved: Vec::new(),
            }),
        }
    }

    fn with(mut self, f: impl FnOnce(&mut Settings)) -> WardenLayer<D> {
        let mut s = Settings {
            fail_mode: self.settings.fail_mode,
            scheme: self.settings.scheme.clone(),
            body_limit: self.settings.body_limit,
            reserved: self.settings.reserved.clone(),
        };
        f(&mut s);
        self.settings = Arc::new(s);
        self
    }

    /// What to do when Warden gives no answer.
    #[must_use]
    pub fn fail_mode(self, mode: FailMode) -> WardenLayer<D> {
        self.with(|s| s.fail_mode = mode)
    }

    /// The scheme the service is reached with (`https` by default).
    #[must_use]
    pub fn scheme(self, scheme: &str) -> WardenLayer<D> {
        self.with(|s| s.scheme = scheme.to_owned())
    }

    /// Sends the body along (for `body` checks) when it is at most `limit` bytes;
    /// a larger body is refused 413 `body_too_large` without asking. The body is
    /// read whole before the decision and handed on to the inner service. Without
    /// this, no body is sent: a route that checks bodies then refuses any request
    /// that announces one.
    #[must_use]
    pub fn body_limit(self, limit: usize) -> WardenLayer<D> {
        self.with(|s| s.body_limit = Some(limit))
    }

    /// Headers only Warden may set (the policy's `upstream header`s, e.g.
    /// `x-customer-id`): the client's copies are removed before the request is
    /// judged and passed on, so a route that sets none never lets a client-made
    /// value through (a route that declares one but cannot fill it is covered
    /// without this: see [`Decision::unset_headers`]). Names that are not header
    /// names are ignored.
    #[must_use]
    pub fn reserved_headers(self, names: &[&str]) -> WardenLayer<D> {
        let names: Vec<HeaderName> = names.iter().filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok()).collect();
        self.with(|s| s.reserved = names)
    }
}

impl<S, D: Clone> Layer<S> for WardenLayer<D> {
    type Service = WardenService<S, D>;

    fn layer(&self, inner: S) -> WardenService<S, D> {
        WardenService { inner, decider: self.decider.clone(), settings: self.settings.clone() }
    }
}

/// The service [`WardenLayer`] wraps around an inner service.
#[derive(Clone, Debug)]
pub struct WardenService<S, D> {
    inner: S,
    decider: D,
    settings: Arc<Settings>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, D, B, ResBody> Service<Request<B>> for WardenService<S, D>
where
    S: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    D: Decide,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    ResBody: From<Bytes> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The clone that was driven to readiness serves this call.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let decider = self.decider.clone();
        let settings = self.settings.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            for name in &settings.reserved {
                parts.headers.remove(name);
            }
            let mut check = match describe(&parts, &settings) {
                Ok(c) => c,
                Err(why) => return Ok(deny(&Decision::bad_request(&why))),
            };
            let body = match settings.body_limit {
                None => Body::new(body),
                Some(limit) => match read_body(body, limit, &parts.headers).await {
                    Ok(bytes) => {
                        check.body = Some(bytes.to_vec());
                        Body::from(bytes)
                    }
                    Err(d) => return Ok(deny(&d)),
                },
            };
            let decision = settings.fail_mode.resolve(decider.check(&check).await);
            if !decision.allow {
                return Ok(deny(&decision));
            }
            // A declared upstream header Warden could not fill must not come
            // from the client either.
            for name in &decision.unset_headers {
                if let Ok(n) = HeaderName::from_bytes(name.as_bytes()) {
                    parts.headers.remove(n);
                }
            }
            for (name, value) in &decision.headers {
                if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                    parts.headers.insert(n, v);
                }
            }
            parts.extensions.insert(decision);
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}

/// The check for a request's head.
fn describe(parts: &http::request::Parts, settings: &Settings) -> Result<HttpCheck, String> {
    let host = match parts.headers.get(HOST) {
        Some(h) => h.to_str().map_err(|_| "the `host` header is not text".to_owned())?.to_owned(),
        None => parts.uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_default(),
    };
    let mut check = HttpCheck {
        method: parts.method.as_str().to_owned(),
        scheme: settings.scheme.clone(),
        host,
        path: parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
        ..HttpCheck::default()
    };
    for name in parts.headers.keys() {
        // A repeated security header is refused, as every door of `warden
        // serve` refuses it: the service and Warden might each read another copy.
        if single(name.as_str()) && parts.headers.get_all(name).iter().nth(1).is_some() {
            return Err(format!("the request carries more than one `{name}` header"));
        }
        let mut joined = String::new();
        for v in parts.headers.get_all(name) {
            let v = v.to_str().map_err(|_| format!("header `{name}` is not text"))?;
            if !joined.is_empty() {
                joined.push(',');
            }
            joined.push_str(v);
        }
        check.headers.insert(name.as_str().to_owned(), joined);
    }
    check.source = Source {
        ip: parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()),
        principal: parts.extensions.get::<PeerPrincipal>().map(|p| p.0.clone()),
    };
    Ok(check)
}

/// Headers that must not repeat: credentials, the body's type and framing,
/// forwarding headers (as `warden serve` has them).
fn single(name: &str) -> bool {
    matches!(
        name,
        "authorization"
            | "proxy-authorization"
            | "content-type"
            | "content-length"
            | "transfer-encoding"
            | "host"
            | "forwarded"
            | "x-real-ip"
            | "x-original-method"
            | "x-original-uri"
    ) || name.starts_with("x-forwarded-")
}

fn too_large(limit: usize) -> Decision {
    Decision {
        allow: false,
        status: 413,
        reason: "body_too_large".to_owned(),
        detail: format!("the body is larger than {limit} bytes"),
        ..Decision::default()
    }
}

/// The whole body, at most `limit` bytes.
async fn read_body<B>(body: B, limit: usize, headers: &http::HeaderMap) -> Result<Bytes, Decision>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let announced = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(too_large(limit));
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(limit)),
        Err(_) => Err(Decision::bad_request("the body could not be read")),
    }
}

/// The answer to a denied request.
fn deny<ResBody: From<Bytes>>(d: &Decision) -> Response<ResBody> {
    let status = StatusCode::from_u16(d.status).ok().filter(|s| !s.is_success()).unwrap_or(StatusCode::FORBIDDEN);
    let mut response = Response::new(ResBody::from(Bytes::from(d.deny_body().to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in &d.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            headers.insert(n, v);
        }
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(id) = HeaderValue::from_str(&d.decision_id)
        && !d.decision_id.is_empty()
    {
        headers.insert(HeaderName::from_static("x-warden-decision-id"), id);
    }
    response
}
