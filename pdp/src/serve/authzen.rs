//! The OpenID AuthZEN Authorization API 1.0 front door: `POST /access/v1/evaluation`,
//! `POST /access/v1/evaluations` (with `execute_all`, `deny_on_first_deny` and
//! `permit_on_first_permit`) and `GET /.well-known/authzen-configuration`. An
//! evaluation is a resource check with an asserted subject; a resource of type
//! `route` whose id is a path is the api route check with `action.name` as the method.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::http::{Http, error, no_policy};
use super::state::{Loaded, Service, now_ms};
use crate::api::http_request;
use crate::engine::decision::Decision;
use crate::engine::run::ResourceRequest;

/// Most evaluations in one `/access/v1/evaluations` call (as a batch).
const MAX_EVALUATIONS: usize = 1_000;

/// A subject or a resource.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct Entity {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    #[serde(default)]
    properties: Map<String, Value>,
}

/// The action.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct Action {
    name: String,
}

/// One evaluation; in `/evaluations` each part defaults to the request's own.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct Evaluation {
    subject: Option<Entity>,
    action: Option<Action>,
    resource: Option<Entity>,
    context: Option<Value>,
}

/// How `/evaluations` combines its answers.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Semantic {
    #[default]
    ExecuteAll,
    DenyOnFirstDeny,
    PermitOnFirstPermit,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct Options {
    #[serde(default)]
    evaluations_semantic: Semantic,
}

#[derive(Clone, Debug, Deserialize)]
struct Evaluations {
    #[serde(flatten)]
    defaults: Evaluation,
    #[serde(default)]
    evaluations: Vec<Evaluation>,
    #[serde(default)]
    options: Options,
}

/// What is wrong with an evaluation once defaults fill its gaps, if anything;
/// checked without copying anything.
fn problem(e: &Evaluation, defaults: &Evaluation) -> Option<String> {
    let subject = e.subject.as_ref().or(defaults.subject.as_ref());
    let action = e.action.as_ref().or(defaults.action.as_ref());
    let resource = e.resource.as_ref().or(defaults.resource.as_ref());
    let context = e.context.as_ref().or(defaults.context.as_ref());
    let (Some(subject), Some(action), Some(resource)) = (subject, action, resource) else {
        let missing = if subject.is_none() {
            "subject"
        } else if action.is_none() {
            "action"
        } else {
            "resource"
        };
        return Some(format!("the evaluation has no `{missing}`"));
    };
    if subject.id.is_empty() || action.name.is_empty() || resource.kind.is_empty() {
        return Some("`subject.id`, `action.name` and `resource.type` must not be empty".to_owned());
    }
    if context.is_some_and(|c| !c.is_object()) {
        return Some("`context` must be a JSON object".to_owned());
    }
    None
}

/// The evaluation with every part present (call [`problem`] first).
fn complete(e: Evaluation, defaults: &Evaluation) -> Result<Complete, String> {
    if let Some(why) = problem(&e, defaults) {
        return Err(why);
    }
    let subject = e.subject.or_else(|| defaults.subject.clone()).ok_or("the evaluation has no `subject`")?;
    let action = e.action.or_else(|| defaults.action.clone()).ok_or("the evaluation has no `action`")?;
    let resource = e.resource.or_else(|| defaults.resource.clone()).ok_or("the evaluation has no `resource`")?;
    Ok((subject, action, resource, e.context.or_else(|| defaults.context.clone())))
}

/// One complete evaluation.
type Complete = (Entity, Action, Entity, Option<Value>);

/// Decides one evaluation; `caller` is the calling service's address (the source
/// of a resource check).
fn decide(s: &Service, loaded: &Loaded, (subject, action, resource, context): Complete, caller: IpAddr) -> Decision {
    let start = Instant::now();
    if resource.kind == "route" && resource.id.starts_with('/') {
        // The api route check: the method is the action, the path the id; the
        // host and headers may come with the resource's properties.
        let host = resource.properties.get("host").and_then(Value::as_str).unwrap_or("");
        let headers = resource
            .properties
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| h.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect::<Vec<_>>())
            .unwrap_or_default();
        // A route check is judged as if it came over TLS unless the resource says otherwise.
        let scheme = resource.properties.get("scheme").and_then(Value::as_str).unwrap_or("https");
        let mut req =
            http_request(&action.name, scheme, host, &resource.id, headers, None, (Some(caller), None), now_ms());
        let mut claims = subject.properties;
        claims.insert("sub".to_owned(), Value::String(subject.id));
        req.asserted = Some(claims);
        req.context = context;
        let d = loaded.engine.check_http(&req);
        s.finish(&d, "authzen", (&req.method, &req.host, &req.target), req.source_ip, start);
        return d;
    }
    let req = ResourceRequest {
        resource_type: resource.kind,
        resource_id: resource.id,
        properties: resource.properties,
        action: action.name,
        subject: Some((subject.id, subject.properties)),
        token: None,
        context,
        scheme: "https".to_owned(),
        peer: None,
        source_ip: Some(caller),
        now_ms: now_ms(),
    };
    let d = loaded.engine.check_resource(&req);
    s.finish(&d, "authzen", (&req.action, "", &req.resource_type), req.source_ip, start);
    d
}

/// Decides one evaluation on the policy in service.
fn decide_one(s: &Service, e: Complete, caller: IpAddr) -> Response {
    match s.current() {
        Some(loaded) => axum::Json(answer(&decide(s, &loaded, e, caller))).into_response(),
        None => no_policy(),
    }
}

/// AuthZEN's answer: the decision, and Warden's reason in the context.
fn answer(d: &Decision) -> Value {
    let mut context = json!({"decision_id": d.decision_id, "reason": d.reason, "status": d.status,
        "revision": d.revision});
    if !d.allow
        && let Some(c) = context.as_object_mut()
    {
        c.insert("reason_admin".to_owned(), json!({"en": d.detail}));
    }
    json!({"decision": d.allow, "context": context})
}

/// Echoes `X-Request-ID` as AuthZEN asks.
fn with_request_id(mut response: Response, headers: &HeaderMap) -> Response {
    if let Some(id) = headers.get("x-request-id") {
        response.headers_mut().insert("x-request-id", id.clone());
    }
    response
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("malformed {what}: {e}"))
}

/// `POST /access/v1/evaluation`.
pub async fn evaluation(
    State(h): State<Http>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let response = match parse::<Evaluation>(&body, "evaluation").and_then(|e| complete(e, &Evaluation::default())) {
        Err(e) => error(StatusCode::BAD_REQUEST, e),
        Ok(e) => decide_one(&h.service, e, peer.ip().to_canonical()),
    };
    with_request_id(response, &headers)
}

/// `POST /access/v1/evaluations`. Without an `evaluations` list it is one
/// evaluation (and answers like `/evaluation`); short-circuiting semantics stop
/// at the deciding answer, which is the last in the list.
pub async fn evaluations(
    State(h): State<Http>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let response = match parse::<Evaluations>(&body, "evaluations") {
        Err(e) => error(StatusCode::BAD_REQUEST, e),
        Ok(req) if req.evaluations.is_empty() => match complete(req.defaults, &Evaluation::default()) {
            Err(e) => error(StatusCode::BAD_REQUEST, e),
            Ok(e) => decide_one(&h.service, e, peer.ip().to_canonical()),
        },
        Ok(req) if req.evaluations.len() > MAX_EVALUATIONS => {
            error(StatusCode::BAD_REQUEST, format!("at most {MAX_EVALUATIONS} evaluations in one call"))
        }
        Ok(req) => run_all(&h.service, req, peer.ip().to_canonical()),
    };
    with_request_id(response, &headers)
}

/// Most bytes of defaults copied into the evaluations of one call: defaults are
/// copied into each evaluation, so a large default subject times many
/// evaluations must not turn a small body into gigabytes.
const MAX_DEFAULT_COPIES_BYTES: usize = 64 << 20;

fn run_all(s: &Service, req: Evaluations, caller: IpAddr) -> Response {
    // Every evaluation is validated before any is decided.
    for (i, e) in req.evaluations.iter().enumerate() {
        if let Some(why) = problem(e, &req.defaults) {
            return error(StatusCode::BAD_REQUEST, format!("evaluation {i}: {why}"));
        }
    }
    let defaults_bytes = serde_json::to_vec(&req.defaults).map_or(usize::MAX, |v| v.len());
    if defaults_bytes.saturating_mul(req.evaluations.len()) > MAX_DEFAULT_COPIES_BYTES {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "the defaults ({defaults_bytes} bytes) are too large to repeat over {} evaluations",
                req.evaluations.len()
            ),
        );
    }
    // The whole call is decided on one revision.
    let Some(loaded) = s.current() else { return no_policy() };
    let semantic = req.options.evaluations_semantic;
    let mut out = Vec::with_capacity(req.evaluations.len());
    for e in req.evaluations {
        // Validated above; copies of the defaults are made one at a time.
        let Ok(e) = complete(e, &req.defaults) else { continue };
        let d = decide(s, &loaded, e, caller);
        out.push(answer(&d));
        let stop = match semantic {
            Semantic::ExecuteAll => false,
            Semantic::DenyOnFirstDeny => !d.allow,
            Semantic::PermitOnFirstPermit => d.allow,
        };
        if stop {
            break;
        }
    }
    axum::Json(json!({"evaluations": out})).into_response()
}

/// `GET /.well-known/authzen-configuration`: the PDP's metadata, with URLs on
/// the configured base URL or, when none is set, the one the caller used.
pub async fn configuration(State(h): State<Http>, uri: axum::http::Uri, headers: HeaderMap) -> Response {
    let base = match &h.authzen_base_url {
        Some(b) => b.trim_end_matches('/').to_owned(),
        None => {
            // HTTP/2 names the host in `:authority` (the URI), HTTP/1.1 in `Host`.
            let host = uri
                .authority()
                .map(|a| a.as_str())
                .or_else(|| headers.get("host").and_then(|v| v.to_str().ok()))
                .unwrap_or("localhost");
            format!("{}://{host}", if h.tls { "https" } else { "http" })
        }
    };
    axum::Json(json!({
        "policy_decision_point": base,
        "access_evaluation_endpoint": format!("{base}/access/v1/evaluation"),
        "access_evaluations_endpoint": format!("{base}/access/v1/evaluations"),
    }))
    .into_response()
}
