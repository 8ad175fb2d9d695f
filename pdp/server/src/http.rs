//! The HTTP front door (axum): `/v1/check`, `/v1/check/resource`, `/v1/check/batch`,
//! `/v1/forward-auth`, AuthZEN (`authzen.rs`), and the operations endpoints. Malformed checks are a 400 with
//! a JSON error naming the problem, never an allow.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::json;

use super::caller::{Caller, Refused};
use super::decide::{Check, Door, Undecided, decide, decide_all};
use super::state::{Service, now_ms};
use crate::api::{AnyCheck, CheckRequest, ResourceCheck, http_request};
use crate::engine::run::HttpRequest;

/// What the handlers share.
#[derive(Clone)]
pub struct Http {
    /// The service (its `[callers]` rules and `[check_limits]` included).
    pub service: Arc<Service>,
    /// The listener speaks TLS (for the URLs AuthZEN metadata gives).
    pub tls: bool,
    /// The base URL AuthZEN metadata gives (else the caller's `Host`).
    pub authzen_base_url: Option<String>,
    /// This Warden as a token issuer (`[issuer]`), whose keys it publishes.
    pub issuer: Option<Arc<crate::signing::Issuer>>,
}

/// The body of a JSON API call: `application/json` only (415 otherwise), at
/// most the router's body limit (413), read into one buffer sized from
/// `Content-Length` up front, so a large check is held once, not grown by
/// doubling and then copied.
pub struct JsonBody(pub Vec<u8>);

impl<S: Send + Sync> axum::extract::FromRequest<S> for JsonBody {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, _: &S) -> Result<JsonBody, Response> {
        use http_body_util::BodyExt as _;
        require_json(req.headers()).map_err(|(status, why)| error(status, why))?;
        let max = req.extensions().get::<BodyLimit>().map_or(DEFAULT_BODY_LIMIT, |l| l.0);
        let announced = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let too_large = || error(StatusCode::PAYLOAD_TOO_LARGE, format!("the check is larger than {max} bytes"));
        if announced.is_some_and(|n| n > max) {
            return Err(too_large());
        }
        let mut buf = Vec::with_capacity(announced.unwrap_or(0));
        let mut body = req.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| error(StatusCode::BAD_REQUEST, "the check could not be read"))?;
            if let Some(data) = frame.data_ref() {
                if buf.len() + data.len() > max {
                    return Err(too_large());
                }
                buf.extend_from_slice(data);
            }
        }
        Ok(JsonBody(buf))
    }
}

/// The largest JSON API body, set on every request by the router.
#[derive(Clone, Copy, Debug)]
struct BodyLimit(usize);

/// Without the router's extension (a handler called on its own).
const DEFAULT_BODY_LIMIT: usize = 16 << 20;

/// The caller of a request, as the accept loop verified it ([`Caller::Unknown`]
/// when the request did not come through it).
pub struct CallerOf(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for CallerOf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<CallerOf, Self::Rejection> {
        Ok(CallerOf(Caller::of(parts.extensions.get::<Caller>())))
    }
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
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/openid-configuration", get(openid_configuration))
        .route("/oauth/token", post(super::exchange::token))
        .route("/v1/policy", get(policy))
        .route("/v1/bans", get(bans))
        .route("/v1/bans/{id}", axum::routing::delete(lift_ban))
        .route("/openapi.json", get(openapi))
        .merge(probes())
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::Extension(BodyLimit(max_body_bytes)))
        .layer(axum::middleware::from_fn(move |req: axum::extract::Request, next: axum::middleware::Next| async move {
            match tokio::time::timeout(timeout, next.run(req)).await {
                Ok(response) => response,
                Err(_) => error(
                    StatusCode::REQUEST_TIMEOUT,
                    "the request was not received and decided within `http.request_timeout_ms`",
                ),
            }
        }))
        .with_state(http)
}

/// The OpenAPI 3.1 document of this HTTP API (the book's
/// `docs/reference/openapi.json`, checked against this server by schemathesis).
const OPENAPI: &str = include_str!("../../../docs/reference/openapi.json");

async fn openapi() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// What probes and scrapers read: liveness, readiness, metrics, status.
fn probes() -> Router<Http> {
    Router::new()
        .route("/healthz", get(|| async { axum::Json(json!({"status": "ok"})) }))
        .route("/readyz", get(ready))
        .route("/v1/status", get(|State(h): State<Http>| async move { axum::Json(h.service.status()) }))
        .route("/metrics", get(metrics))
}

/// The diagnostics listener (`[diagnostics]`): only what probes and
/// scrapers read (and `/v1/policy`), never a check, so it can go without
/// the client certificates the check listeners demand.
pub fn diagnostics_router(http: Http, timeout: std::time::Duration) -> Router {
    probes()
        .route("/v1/policy", get(policy))
        .layer(DefaultBodyLimit::max(1 << 10))
        .layer(axum::middleware::from_fn(move |req: axum::extract::Request, next: axum::middleware::Next| async move {
            tokio::time::timeout(timeout, next.run(req))
                .await
                .unwrap_or_else(|_| error(StatusCode::REQUEST_TIMEOUT, "not answered within `http.request_timeout_ms`"))
        }))
        .with_state(http)
}

/// How long verifiers may keep the published documents: a `next` key is
/// published for longer than this before it signs.
const PUBLISHED_MAX_AGE: &str = "public, max-age=300";

/// This Warden's public signing keys; 404 when it issues no tokens.
async fn jwks(State(h): State<Http>) -> Response {
    published(h.issuer.as_deref().map(crate::signing::Issuer::jwks))
}

/// The discovery document of this Warden as an issuer; 404 when it issues no tokens.
async fn openid_configuration(State(h): State<Http>) -> Response {
    published(h.issuer.as_deref().map(crate::signing::Issuer::discovery))
}

fn published(document: Option<serde_json::Value>) -> Response {
    match document {
        Some(doc) => ([(axum::http::header::CACHE_CONTROL, PUBLISHED_MAX_AGE)], axum::Json(doc)).into_response(),
        None => error(StatusCode::NOT_FOUND, "this Warden issues no tokens (`[issuer]` is not configured)"),
    }
}

/// A JSON error answer.
pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": message.into()}))).into_response()
}

/// The answer while no policy is loaded.
pub(super) fn no_policy() -> Response {
    error(StatusCode::SERVICE_UNAVAILABLE, "no policy is loaded")
}

/// The answer while a decision could not be made.
pub(super) fn undecided(_: Undecided) -> Response {
    error(StatusCode::SERVICE_UNAVAILABLE, "the decision could not be made")
}

/// A check the door refuses before deciding: the status and why.
pub(super) type Bad = (StatusCode, String);

/// A source the caller may not assert (403) or a malformed forwarding header (400).
pub(super) fn refused(r: Refused) -> Bad {
    match r {
        Refused::NotAllowed(why) => (StatusCode::FORBIDDEN, why),
        Refused::Malformed(why) => (StatusCode::BAD_REQUEST, why),
    }
}

/// The JSON APIs take `application/json` only: a web page can POST a form or
/// `text/plain` to a local PDP without the browser asking first, but not JSON.
pub(super) fn require_json(headers: &HeaderMap) -> Result<(), Bad> {
    let media = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = media.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the check must be sent as `Content-Type: application/json`".to_owned(),
        ))
    }
}

/// The `X-Forwarded-For` lines of a request, in order.
pub(super) fn forwarded_for(headers: &HeaderMap) -> Vec<&str> {
    headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect()
}

/// A JSON body of the check APIs and AuthZEN; the error names `what` was malformed.
pub(crate) fn parse<'a, T: serde::Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("malformed {what}: {e}"))
}

/// A JSON body whose documented format is an object: an array is refused here
/// (serde's derived `Deserialize` would read one as the fields in order), by
/// its first byte, so the body is still parsed once.
pub(crate) fn parse_object<'a, T: serde::Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<T, String> {
    if crate::api::is_json_array(body) {
        return Err(format!("malformed {what}: the {what} must be a JSON object, not an array"));
    }
    parse(body, what)
}

/// An HTTP check in the engine's terms, with the source the caller may assert.
fn http_check(s: &Service, caller: &Caller, c: CheckRequest) -> Result<Check, Bad> {
    let source = s.callers.http_source(caller, c.source.as_ref()).map_err(refused)?;
    let certificate = c.source.as_ref().and_then(|p| p.certificate.clone());
    let mut req = c.into_engine(source, now_ms(), &s.bounds).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    crate::certificate::apply(&mut req, certificate.as_deref()).map_err(|e| (StatusCode::BAD_REQUEST, e))?;
    Ok(Check::Http(req))
}

/// A resource check in the engine's terms: the caller is its source.
fn resource_check(s: &Service, caller: &Caller, xff: &[&str], c: ResourceCheck) -> Result<Check, Bad> {
    let source = s.callers.resource_source(caller, c.source.as_ref(), xff.iter().copied()).map_err(refused)?;
    c.into_engine(source, caller.scheme(), now_ms())
        .map(Check::Resource)
        .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))
}

async fn check(State(h): State<Http>, CallerOf(caller): CallerOf, JsonBody(body): JsonBody) -> Response {
    let c: CheckRequest = match parse_object(&body, "check") {
        Ok(c) => c,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    drop(body);
    answer_one(&h.service, http_check(&h.service, &caller, c)).await
}

/// Decides one check of `/v1/check` or `/v1/check/resource`, or answers why not.
async fn answer_one(s: &Arc<Service>, check: Result<Check, Bad>) -> Response {
    let check = match check {
        Ok(c) => c,
        Err((status, why)) => return error(status, why),
    };
    let Some(loaded) = s.current() else { return no_policy() };
    match decide(s, loaded, check, Door::Http).await {
        Ok(d) => axum::Json(d).into_response(),
        Err(u) => undecided(u),
    }
}

async fn check_resource(
    State(h): State<Http>,
    CallerOf(caller): CallerOf,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Response {
    let c: ResourceCheck = match parse_object(&body, "resource check") {
        Ok(c) => c,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    answer_one(&h.service, resource_check(&h.service, &caller, &forwarded_for(&headers), c)).await
}

/// Most checks in one batch.
const MAX_BATCH: usize = 1_000;

async fn check_batch(
    State(h): State<Http>,
    CallerOf(caller): CallerOf,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Response {
    // Each item is parsed from its own bytes, exactly as `/v1/check` parses a
    // check (a field given twice is refused the same way).
    let items: Vec<&serde_json::value::RawValue> = match parse(&body, "batch (expected a JSON list of checks)") {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    if items.len() > MAX_BATCH {
        return error(StatusCode::BAD_REQUEST, format!("a batch holds at most {MAX_BATCH} checks"));
    }
    let xff = forwarded_for(&headers);
    let mut checks = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let parsed = match crate::api::parse_check(item.get().as_bytes()) {
            Ok(c) => c,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("check {i}: {e}")),
        };
        let check = match parsed {
            AnyCheck::Http(c) => http_check(&h.service, &caller, c),
            AnyCheck::Resource(c) => resource_check(&h.service, &caller, &xff, c),
        };
        match check {
            Ok(c) => checks.push(c),
            Err((status, why)) => return error(status, format!("check {i}: {why}")),
        }
    }
    // The whole batch is decided on one revision.
    let Some(loaded) = h.service.current() else { return no_policy() };
    match decide_all(&h.service, loaded, checks, Door::HttpBatch).await {
        Ok(out) => axum::Json(out).into_response(),
        Err(u) => undecided(u),
    }
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
/// `X-Original-*` headers the gateway sets. The client's address is the TCP
/// peer, or, when the peer is a trusted proxy, read from `X-Forwarded-For`
/// right to left ([`super::caller::CallerRules::client_ip`]).
fn forwarded(s: &Service, headers: &HeaderMap, caller: &Caller) -> Result<HttpRequest, String> {
    let method = one_of(headers, &["x-forwarded-method", "x-original-method"], "X-Forwarded-Method")?
        .ok_or("the gateway sent no `X-Forwarded-Method` (or `X-Original-Method`)")?;
    let target = one_of(headers, &["x-forwarded-uri", "x-original-uri"], "X-Forwarded-Uri")?
        .ok_or("the gateway sent no `X-Forwarded-Uri` (or `X-Original-URI`)")?;
    let host = match one_of(headers, &["x-forwarded-host"], "X-Forwarded-Host")? {
        Some(h) => h,
        None => one_of(headers, &["host"], "Host")?.unwrap_or(""),
    };
    // No default: a gateway that does not say which scheme the client used
    // would make `require tls` answer differently here than at other doors.
    let scheme = one_of(headers, &["x-forwarded-proto"], "X-Forwarded-Proto")?
        .ok_or("the gateway sent no `X-Forwarded-Proto`")?;
    let source_ip = match caller {
        Caller::Conn { peer, .. } => {
            let xff = one_of(headers, &["x-forwarded-for"], "X-Forwarded-For")?;
            Some(s.callers.client_ip(peer.ip(), xff)?)
        }
        Caller::InProcess | Caller::Unknown => None,
    };
    // The judged request's own headers: everything but the forwarding ones, one
    // pair per line, so that `http_request` merges and refuses repeated names as
    // every door does. A value that is not text is kept (lossily) rather than
    // dropped, so `has(header…)` sees what the upstream will see.
    let cert_header = s.callers.client_cert_header();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        let n = name.as_str();
        if n.starts_with("x-forwarded-")
            || n.starts_with("x-original-")
            || n == "host"
            || n == "content-length"
            || Some(n) == cert_header
        {
            continue;
        }
        pairs.push((n.to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()));
    }
    let mut req = http_request(method, scheme, host, target, pairs, None, (source_ip, None), now_ms(), &s.bounds)
        .map_err(|e| e.to_string())?;
    // The client certificate the gateway terminated, from a trusted proxy only.
    if let Some(name) = s.callers.certificate_header(caller) {
        let text = one_of(headers, &[name], name)?;
        crate::certificate::apply(&mut req, text)?;
        if s.callers.certificate_names_peer(caller) {
            crate::certificate::apply_peer(&mut req, text)?;
        }
    }
    Ok(req)
}

async fn forward_auth(State(h): State<Http>, CallerOf(caller): CallerOf, headers: HeaderMap) -> Response {
    let req = match forwarded(&h.service, &headers, &caller) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let Some(loaded) = h.service.current() else { return no_policy() };
    let d = match decide(&h.service, loaded, Check::Http(req), Door::ForwardAuth).await {
        Ok(d) => d,
        Err(u) => return undecided(u),
    };
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

/// The bans in force (at most 1,000, soonest to end first), for operators:
/// only callers that may assert a source (`[callers]`), since a ban's key
/// names an address or a subject.
async fn bans(State(h): State<Http>, CallerOf(caller): CallerOf) -> Response {
    if !h.service.callers.may_assert(&caller) {
        return error(StatusCode::FORBIDDEN, "listing bans is for the callers `[callers]` allows to assert a source");
    }
    // A shared store is listed by SCAN: off the async workers.
    let service = Arc::clone(&h.service);
    let listed = tokio::task::spawn_blocking(move || service.held_bans(1_000)).await;
    match listed.unwrap_or_else(|_| Err("listing the bans failed".to_owned())) {
        Ok(list) => axum::Json(json!({"bans": list})).into_response(),
        Err(why) => error(StatusCode::SERVICE_UNAVAILABLE, &why),
    }
}

/// Lifts one ban (by the `id` `/v1/bans` gave), forgetting its offences.
async fn lift_ban(
    State(h): State<Http>,
    CallerOf(caller): CallerOf,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    if !h.service.callers.may_assert(&caller) {
        return error(StatusCode::FORBIDDEN, "lifting bans is for the callers `[callers]` allows to assert a source");
    }
    let service = Arc::clone(&h.service);
    let lifted = tokio::task::spawn_blocking(move || service.lift_ban(&id).map(|l| l.then_some(id))).await;
    match lifted.unwrap_or_else(|_| Err("lifting the ban failed".to_owned())) {
        Ok(Some(id)) => axum::Json(json!({"lifted": id})).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no ban has this id"),
        Err(why) => error(StatusCode::SERVICE_UNAVAILABLE, &why),
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use http_body_util::BodyExt as _;

    /// The router on the book's bank policy, as `warden serve` builds it.
    fn bank() -> Router {
        let policies = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/bank");
        let service = Arc::new(Service::new(policies, 1_000, None));
        service.reload().unwrap();
        router(
            Http { service, tls: false, authzen_base_url: None, issuer: None },
            1 << 20,
            std::time::Duration::from_secs(5),
        )
    }

    /// The status and JSON answer of a POST of `body` to `path`, asked in
    /// process (a caller that may assert a source).
    async fn post(app: &Router, path: &str, body: &str) -> (StatusCode, serde_json::Value) {
        let mut req = axum::http::Request::post(path)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_owned()))
            .unwrap();
        req.extensions_mut().insert(Caller::InProcess);
        let r = tower::ServiceExt::oneshot(app.clone(), req).await.unwrap();
        let status = r.status();
        let bytes = r.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn an_array_in_place_of_an_object_is_a_400() {
        let app = bank();
        let me = r#"{"method":"GET","scheme":"https","host":"id.example.com","path":"/v1/me"}"#;
        for (path, body, needle) in [
            ("/v1/check", format!(r#"{{"request":{me},"source":[null,null]}}"#), "`source` must be a JSON object"),
            ("/v1/check", r#"[{"method":"GET","scheme":"https","path":"/x"}]"#.to_owned(), "must be a JSON object"),
            ("/v1/check", r#"{"request":["GET","https","h","/x"]}"#.to_owned(), "`request` must be a JSON object"),
            (
                "/v1/check/resource",
                r#"{"resource":{"type":"note","id":"n7"},"action":"read","source":[null,null]}"#.to_owned(),
                "`source` must be a JSON object",
            ),
            ("/v1/check/resource", r#"[{"type":"note","id":"n7"},"read"]"#.to_owned(), "must be a JSON object"),
            (
                "/v1/check/resource",
                r#"{"resource":["note","n7"],"action":"read"}"#.to_owned(),
                "`resource` must be a JSON object",
            ),
            (
                "/v1/check/resource",
                r#"{"resource":{"type":"note"},"action":"read","subject":["ada",{}]}"#.to_owned(),
                "`subject` must be a JSON object",
            ),
            ("/v1/check/batch", format!(r#"[{{"request":{me},"source":[null,null]}}]"#), "check 0: "),
            ("/v1/check/batch", format!(r#"[{{"request":{me}}},[{me}]]"#), "check 1: the check is not a JSON object"),
            (
                "/access/v1/evaluation",
                r#"{"subject":["user","ada"],"action":{"name":"read"},"resource":{"type":"doc","id":"1"}}"#.to_owned(),
                "`subject` must be a JSON object",
            ),
            (
                "/access/v1/evaluations",
                r#"{"subject":{"type":"user","id":"ada"},"action":{"name":"read"},"evaluations":[["doc","1"]]}"#
                    .to_owned(),
                "each of `evaluations` must be a JSON object",
            ),
        ] {
            let (status, answer) = post(&app, path, &body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {answer}");
            let e = answer["error"].as_str().unwrap();
            assert!(e.contains(needle), "{path} {body}: {e}");
            assert!(answer.get("allow").is_none() && answer.get("decision").is_none());
        }
    }

    #[tokio::test]
    async fn objects_are_still_judged() {
        let app = bank();
        let me = r#"{"method":"GET","scheme":"https","host":"id.example.com","path":"/v1/me"}"#;
        for (path, body) in [
            ("/v1/check", format!(r#"{{"request":{me},"source":{{"ip":"192.0.2.1"}}}}"#)),
            ("/v1/check", format!(r#"{{"request":{me},"source":null}}"#)),
            ("/v1/check", format!(r#" {{"request":{me}}}"#)),
            ("/v1/check/resource", r#"{"resource":{"type":"note","id":"n7"},"action":"read"}"#.to_owned()),
            (
                "/v1/check/resource",
                r#"{"resource":{"type":"note","id":"n7"},"action":"read","subject":{"id":"ada"}}"#.to_owned(),
            ),
        ] {
            let (status, answer) = post(&app, path, &body).await;
            assert_eq!(status, StatusCode::OK, "{path} {body}: {answer}");
            assert!(answer["allow"].is_boolean(), "{answer}");
        }
        let (status, answer) = post(&app, "/v1/check/batch", &format!(r#"[{{"request":{me}}}]"#)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer.as_array().map(Vec::len), Some(1));
        let (status, answer) = post(
            &app,
            "/access/v1/evaluations",
            r#"{"subject":{"type":"user","id":"ada"},"action":{"name":"read"},"evaluations":[{"resource":{"type":"doc","id":"1"}}]}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert!(answer["evaluations"][0]["decision"].is_boolean(), "{answer}");
    }
}
