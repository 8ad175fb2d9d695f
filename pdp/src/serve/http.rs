//! The HTTP front door (axum): `/v1/check`, `/v1/check/resource`, `/v1/check/batch`,
//! `/v1/forward-auth`, AuthZEN (`authzen.rs`), and the operations endpoints. Malformed checks are a 400 with
//! a JSON error naming the problem, never an allow.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use ipnet::IpNet;
use serde_json::{Value, json};

use super::state::{Loaded, Service, now_ms};
use crate::api::{AnyCheck, CheckRequest, ResourceCheck};
use crate::engine::decision::Decision;
use crate::engine::run::HttpRequest;

/// What the handlers share.
#[derive(Clone)]
pub struct Http {
    /// The service.
    pub service: Arc<Service>,
    /// Callers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<IpNet>>,
    /// The listener speaks TLS (for the URLs AuthZEN metadata gives).
    pub tls: bool,
    /// The base URL AuthZEN metadata gives (else the caller's `Host`).
    pub authzen_base_url: Option<String>,
}

/// The router. Each request, body read included, must finish within `timeout`
/// (a client trickling its body gets a 408).
pub fn router(http: Http, max_body_bytes: usize, timeout: std::time::Duration) -> Router {
    Router::new()
        .route("/v1/check", post(check))
        .route("/v1/check/resource", post(check_resource))
        .route("/v1/check/batch", post(check_batch))
        .route("/v1/forward-auth", any(forward_auth))
        .route("/access/v1/evaluation", post(super::authzen::evaluation))
        .route("/access/v1/evaluations", post(super::authzen::evaluations))
        .route("/.well-known/authzen-configuration", get(super::authzen::configuration))
        .route("/v1/policy", get(policy))
        .route("/healthz", get(|| async { axum::Json(json!({"status": "ok"})) }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn(move |req: axum::extract::Request, next: axum::middleware::Next| async move {
            match tokio::time::timeout(timeout, next.run(req)).await {
                Ok(response) => response,
                Err(_) => error(StatusCode::REQUEST_TIMEOUT, "the request was not received in time"),
            }
        }))
        .with_state(http)
}

/// A JSON error answer.
pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": message.into()}))).into_response()
}

/// The answer while no policy is loaded.
pub(super) fn no_policy() -> Response {
    error(StatusCode::SERVICE_UNAVAILABLE, "no policy is loaded")
}

fn decide_http(s: &Service, loaded: &Loaded, c: &CheckRequest, door: &str) -> Decision {
    let start = Instant::now();
    let req = c.to_engine(now_ms());
    let d = loaded.engine.check_http(&req);
    s.finish(&d, door, (&req.method, &req.host, &req.target), req.source_ip, start);
    d
}

fn decide_resource(s: &Service, loaded: &Loaded, c: &ResourceCheck, door: &str) -> Decision {
    let start = Instant::now();
    let req = c.to_engine(now_ms(), "https");
    let d = loaded.engine.check_resource(&req);
    s.finish(&d, door, (&req.action, "", &req.resource_type), req.source_ip, start);
    d
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("malformed {what}: {e}"))
}

async fn check(State(h): State<Http>, body: Bytes) -> Response {
    let c: CheckRequest = match parse(&body, "check") {
        Ok(c) => c,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match h.service.current() {
        Some(loaded) => axum::Json(decide_http(&h.service, &loaded, &c, "http")).into_response(),
        None => no_policy(),
    }
}

async fn check_resource(State(h): State<Http>, body: Bytes) -> Response {
    let c: ResourceCheck = match parse(&body, "resource check") {
        Ok(c) => c,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match h.service.current() {
        Some(loaded) => axum::Json(decide_resource(&h.service, &loaded, &c, "http")).into_response(),
        None => no_policy(),
    }
}

/// Most checks in one batch.
const MAX_BATCH: usize = 1_000;

async fn check_batch(State(h): State<Http>, body: Bytes) -> Response {
    let items: Vec<Value> = match parse(&body, "batch (expected a JSON list of checks)") {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    if items.len() > MAX_BATCH {
        return error(StatusCode::BAD_REQUEST, format!("a batch holds at most {MAX_BATCH} checks"));
    }
    let mut checks = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let bytes = item.to_string();
        match crate::api::parse_check(bytes.as_bytes()) {
            Ok(c) => checks.push(c),
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("check {i}: {e}")),
        }
    }
    // The whole batch is decided on one revision.
    let Some(loaded) = h.service.current() else { return no_policy() };
    let mut out = Vec::with_capacity(checks.len());
    for c in &checks {
        out.push(match c {
            AnyCheck::Http(c) => decide_http(&h.service, &loaded, c, "http_batch"),
            AnyCheck::Resource(c) => decide_resource(&h.service, &loaded, c, "http_batch"),
        });
    }
    axum::Json(out).into_response()
}

/// The one value that the headers `names` (alternative spellings of one field)
/// give. Two different values, across spellings or repeated, are an error: a
/// gateway that sets one spelling may pass a client's other spelling on, and
/// the client must not choose what is judged.
fn one_of<'h>(headers: &'h HeaderMap, names: &[&str], what: &str) -> Result<Option<&'h str>, String> {
    let mut found: Option<&str> = None;
    for name in names {
        for value in headers.get_all(*name) {
            let v = value.to_str().map_err(|_| format!("`{what}` is not text"))?;
            match found {
                Some(f) if f != v => {
                    return Err(format!(
                        "the gateway sent conflicting `{what}` values (`{}`); set every spelling or remove the client's",
                        names.join("`, `")
                    ));
                }
                _ => found = Some(v),
            }
        }
    }
    Ok(found.filter(|v| !v.is_empty()))
}

/// The original request of a forward-auth call, from the `X-Forwarded-*` /
/// `X-Original-*` headers the gateway sets.
fn forwarded(h: &Http, headers: &HeaderMap, peer: SocketAddr) -> Result<HttpRequest, String> {
    let method = one_of(headers, &["x-forwarded-method", "x-original-method"], "X-Forwarded-Method")?
        .ok_or("the gateway sent no `X-Forwarded-Method` (or `X-Original-Method`)")?;
    let target = one_of(headers, &["x-forwarded-uri", "x-original-uri"], "X-Forwarded-Uri")?
        .ok_or("the gateway sent no `X-Forwarded-Uri` (or `X-Original-URI`)")?;
    let host = match one_of(headers, &["x-forwarded-host"], "X-Forwarded-Host")? {
        Some(h) => h,
        None => one_of(headers, &["host"], "Host")?.unwrap_or(""),
    };
    let scheme = one_of(headers, &["x-forwarded-proto"], "X-Forwarded-Proto")?.unwrap_or("http").to_ascii_lowercase();
    let peer_ip = peer.ip().to_canonical();
    let trusted = h.trusted_proxies.iter().any(|n| n.contains(&peer_ip));
    let source_ip: Option<IpAddr> = if trusted {
        match one_of(headers, &["x-forwarded-for"], "X-Forwarded-For")? {
            Some(xff) => Some(
                xff.split(',')
                    .next()
                    .map(str::trim)
                    .and_then(|a| a.parse::<IpAddr>().ok())
                    .map(|a| a.to_canonical())
                    .ok_or("`X-Forwarded-For` does not start with an IP address")?,
            ),
            None => Some(peer_ip),
        }
    } else {
        Some(peer_ip)
    };
    // The judged request's own headers: everything but the forwarding ones.
    // Repeated names are joined with `, ` (as HTTP allows and as Envoy does),
    // and a value that is not text is kept (lossily) rather than dropped, so
    // `has(header…)` sees what the upstream will see.
    let mut pairs: Vec<(String, String)> = Vec::new();
    for name in headers.keys() {
        let n = name.as_str();
        if n.starts_with("x-forwarded-") || n.starts_with("x-original-") || n == "host" || n == "content-length" {
            continue;
        }
        let values: Vec<String> =
            headers.get_all(name).iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect();
        if n == "authorization" && values.len() > 1 {
            return Err("the request carries more than one `Authorization` header".to_owned());
        }
        pairs.push((n.to_owned(), values.join(", ")));
    }
    Ok(HttpRequest {
        method: method.to_ascii_uppercase(),
        scheme,
        host: host.to_owned(),
        target: target.to_owned(),
        headers: pairs,
        source_ip,
        now_ms: now_ms(),
        ..HttpRequest::default()
    })
}

async fn forward_auth(
    State(h): State<Http>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let req = match forwarded(&h, &headers, peer) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let Some(loaded) = h.service.current() else { return no_policy() };
    let start = Instant::now();
    let d = loaded.engine.check_http(&req);
    h.service.finish(&d, "forward_auth", (&req.method, &req.host, &req.target), req.source_ip, start);
    let status = StatusCode::from_u16(d.status).unwrap_or(StatusCode::FORBIDDEN);
    let mut response = if d.allow {
        StatusCode::OK.into_response()
    } else {
        (
            status,
            axum::Json(json!({"allow": false, "status": d.status, "reason": d.reason, "detail": d.detail,
            "decision_id": d.decision_id})),
        )
            .into_response()
    };
    for (name, value) in &d.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name.as_str()), HeaderValue::try_from(value.as_str())) {
            response.headers_mut().insert(n, v);
        }
    }
    if let Ok(v) = HeaderValue::try_from(d.decision_id.as_str()) {
        response.headers_mut().insert("x-warden-decision-id", v);
    }
    response
}

async fn policy(State(h): State<Http>) -> Response {
    axum::Json(h.service.policy_status()).into_response()
}

async fn ready(State(h): State<Http>) -> Response {
    match h.service.current() {
        Some(l) => axum::Json(json!({"status": "ready", "revision": l.revision})).into_response(),
        None => error(StatusCode::SERVICE_UNAVAILABLE, "no policy is loaded"),
    }
}

async fn metrics(State(h): State<Http>) -> Response {
    let mut r = h.service.metrics_text().into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}
