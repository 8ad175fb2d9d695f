//! The OpenID AuthZEN Authorization API 1.0 front door: `POST /access/v1/evaluation`,
//! `POST /access/v1/evaluations` (with `execute_all`, `deny_on_first_deny` and
//! `permit_on_first_permit`) and `GET /.well-known/authzen-configuration`. An
//! evaluation is a resource check with an asserted subject; a resource of type
//! `route` whose id is a path is the api route check with `action.name` as the method.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::caller::Caller;
use super::decide::{Check, Door, decide};
use super::http::{Bad, CallerOf, Http, JsonBody, error, forwarded_for, no_policy, parse_object, refused, undecided};
use super::state::{Service, now_ms};
use crate::api::{ResourcePart, SubjectPart, http_request, object, resource_request};
use crate::engine::decision::Decision;

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
/// Its parts are JSON objects (an array in place of one is refused, see
/// [`object`]); a `context` that is not an object is refused by [`problem`].
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct Evaluation {
    #[serde(default, deserialize_with = "subject")]
    subject: Option<Entity>,
    #[serde(default, deserialize_with = "action")]
    action: Option<Action>,
    #[serde(default, deserialize_with = "resource")]
    resource: Option<Entity>,
    context: Option<Value>,
}

fn subject<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Entity>, D::Error> {
    object::optional(d, "`subject`")
}

fn action<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Action>, D::Error> {
    object::optional(d, "`action`")
}

fn resource<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Entity>, D::Error> {
    object::optional(d, "`resource`")
}

fn evaluations_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Evaluation>, D::Error> {
    object::list(d, "`evaluations`", "each of `evaluations`")
}

fn options<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Options, D::Error> {
    object::required(d, "`options`")
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
    #[serde(default, deserialize_with = "evaluations_list")]
    evaluations: Vec<Evaluation>,
    #[serde(default, deserialize_with = "options")]
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

/// Who asks: the caller's address (through trusted proxies) and verified
/// principal, and the scheme of its connection. AuthZEN carries no source of
/// its own: the caller is the peer of every evaluation it asks.
#[derive(Clone, Debug)]
struct Asker {
    source: (Option<IpAddr>, Option<String>),
    scheme: &'static str,
}

impl Asker {
    fn new(s: &Service, caller: &Caller, headers: &HeaderMap) -> Result<Asker, Bad> {
        let source = s.callers.resource_source(caller, None, forwarded_for(headers)).map_err(refused)?;
        Ok(Asker { source, scheme: caller.scheme() })
    }
}

/// One evaluation in the engine's terms.
fn check(s: &Service, (subject, action, resource, context): Complete, asker: &Asker) -> Result<Check, String> {
    if resource.kind == "route" && resource.id.starts_with('/') {
        // The api route check: the method is the action, the path the id; the
        // host and headers may come with the resource's properties. The scheme
        // and the peer are the caller's connection, as for every evaluation.
        if resource.properties.contains_key("scheme") {
            return Err("a route evaluation is judged with the scheme of the caller's connection; \
                        remove `resource.properties.scheme`"
                .to_owned());
        }
        let host = resource.properties.get("host").and_then(Value::as_str).unwrap_or("");
        let headers = resource
            .properties
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| h.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect::<Vec<_>>())
            .unwrap_or_default();
        let mut req = http_request(
            &action.name,
            asker.scheme,
            host,
            &resource.id,
            headers,
            None,
            asker.source.clone(),
            now_ms(),
            &s.bounds,
        )
        .map_err(|e| e.to_string())?;
        let mut claims = subject.properties;
        claims.insert("sub".to_owned(), Value::String(subject.id));
        req.asserted = Some(claims);
        req.context = context;
        return Ok(Check::Http(req));
    }
    let resource = ResourcePart { kind: resource.kind, id: resource.id, properties: resource.properties };
    let subject = SubjectPart { id: subject.id, properties: subject.properties };
    resource_request(resource, action.name, Some(subject), None, context, asker.source.clone(), asker.scheme, now_ms())
        .map(Check::Resource)
        .map_err(|e| e.to_string())
}

/// Decides one evaluation on the policy in service.
async fn decide_one(s: &Arc<Service>, e: Complete, asker: &Asker) -> Response {
    let check = match check(s, e, asker) {
        Ok(c) => c,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    let Some(loaded) = s.current() else { return no_policy() };
    match decide(s, loaded, check, Door::AuthZen).await {
        Ok(d) => axum::Json(answer(&d)).into_response(),
        Err(u) => undecided(u),
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

/// `POST /access/v1/evaluation`.
pub async fn evaluation(
    State(h): State<Http>,
    CallerOf(caller): CallerOf,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Response {
    let response = match Asker::new(&h.service, &caller, &headers) {
        Err((status, why)) => error(status, why),
        Ok(asker) => {
            match parse_object::<Evaluation>(&body, "evaluation").and_then(|e| complete(e, &Evaluation::default())) {
                Err(e) => error(StatusCode::BAD_REQUEST, e),
                Ok(e) => decide_one(&h.service, e, &asker).await,
            }
        }
    };
    with_request_id(response, &headers)
}

/// `POST /access/v1/evaluations`. Without an `evaluations` list it is one
/// evaluation (and answers like `/evaluation`); short-circuiting semantics stop
/// at the deciding answer, which is the last in the list.
pub async fn evaluations(
    State(h): State<Http>,
    CallerOf(caller): CallerOf,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Response {
    let response = match Asker::new(&h.service, &caller, &headers) {
        Err((status, why)) => error(status, why),
        Ok(asker) => match parse_object::<Evaluations>(&body, "evaluations") {
            Err(e) => error(StatusCode::BAD_REQUEST, e),
            Ok(req) if req.evaluations.is_empty() => match complete(req.defaults, &Evaluation::default()) {
                Err(e) => error(StatusCode::BAD_REQUEST, e),
                Ok(e) => decide_one(&h.service, e, &asker).await,
            },
            Ok(req) if req.evaluations.len() > MAX_EVALUATIONS => {
                error(StatusCode::BAD_REQUEST, format!("at most {MAX_EVALUATIONS} evaluations in one call"))
            }
            Ok(req) => run_all(&h.service, req, &asker).await,
        },
    };
    with_request_id(response, &headers)
}

/// Most bytes of defaults copied into the evaluations of one call: defaults are
/// copied into each evaluation, so a large default subject times many
/// evaluations must not turn a small body into gigabytes.
const MAX_DEFAULT_COPIES_BYTES: usize = 64 << 20;

async fn run_all(s: &Arc<Service>, req: Evaluations, asker: &Asker) -> Response {
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
    // Every evaluation becomes a check before any is decided: one that cannot
    // be judged refuses the call, and nothing was counted.
    let mut checks = Vec::with_capacity(req.evaluations.len());
    for (i, e) in req.evaluations.into_iter().enumerate() {
        let c = complete(e, &req.defaults).and_then(|e| check(s, e, asker));
        match c {
            Ok(c) => checks.push(c),
            Err(why) => return error(StatusCode::BAD_REQUEST, format!("evaluation {i}: {why}")),
        }
    }
    // The whole call is decided on one revision.
    let Some(loaded) = s.current() else { return no_policy() };
    let semantic = req.options.evaluations_semantic;
    let mut out = Vec::with_capacity(checks.len());
    for c in checks {
        let d = match decide(s, loaded.clone(), c, Door::AuthZen).await {
            Ok(d) => d,
            Err(u) => return undecided(u),
        };
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn evaluation(body: &str) -> Result<Evaluation, String> {
        parse_object(body.as_bytes(), "evaluation")
    }

    fn evaluations(body: &str) -> Result<Evaluations, String> {
        parse_object(body.as_bytes(), "evaluations")
    }

    #[test]
    fn an_array_in_place_of_an_object_is_refused() {
        let ok = r#""subject": {"type": "user", "id": "ada"}, "action": {"name": "read"},
            "resource": {"type": "doc", "id": "1"}"#;
        // The whole evaluation.
        let e = evaluation(r#"[{"type": "user", "id": "ada"}, {"name": "read"}, {"type": "doc", "id": "1"}]"#);
        assert_eq!(e.unwrap_err(), "malformed evaluation: the evaluation must be a JSON object, not an array");
        assert!(evaluations("[]").unwrap_err().contains("must be a JSON object"));
        // Each part, in `/evaluation` and as a default or an item of `/evaluations`.
        for (part, body) in [
            (
                "subject",
                r#"{"subject": ["user", "ada"], "action": {"name": "read"}, "resource": {"type": "doc", "id": "1"}}"#,
            ),
            (
                "action",
                r#"{"subject": {"type": "user", "id": "ada"}, "action": ["read"], "resource": {"type": "doc", "id": "1"}}"#,
            ),
            (
                "resource",
                r#"{"subject": {"type": "user", "id": "ada"}, "action": {"name": "read"}, "resource": ["doc", "1"]}"#,
            ),
        ] {
            let needle = format!("`{part}` must be a JSON object");
            assert!(evaluation(body).unwrap_err().contains(&needle), "{body}");
            assert!(evaluations(body).unwrap_err().contains(&needle), "{body}");
            let item = format!(r#"{{"evaluations": [{body}]}}"#);
            assert!(evaluations(&item).unwrap_err().contains(&needle), "{item}");
        }
        let item = format!(r#"{{{ok}, "evaluations": [["user", "ada"]]}}"#);
        assert!(evaluations(&item).unwrap_err().contains("each of `evaluations` must be a JSON object"));
        let options = format!(r#"{{{ok}, "evaluations": [{{}}], "options": ["deny_on_first_deny"]}}"#);
        assert!(evaluations(&options).unwrap_err().contains("`options` must be a JSON object"));
        // A context that is not an object is refused once defaults are applied.
        let context = format!(r#"{{{ok}, "context": [1]}}"#);
        assert_eq!(
            complete(evaluation(&context).unwrap(), &Evaluation::default()).unwrap_err(),
            "`context` must be a JSON object"
        );
    }

    #[test]
    fn objects_still_parse() {
        let ok = r#""subject": {"type": "user", "id": "ada", "properties": {"role": "admin"}}, "action": {"name": "read"},
            "resource": {"type": "doc", "id": "1"}, "context": {"time": 1}"#;
        let (subject, action, resource, context) =
            complete(evaluation(&format!("{{{ok}}}")).unwrap(), &Evaluation::default()).unwrap();
        assert_eq!((subject.id.as_str(), action.name.as_str(), resource.kind.as_str()), ("ada", "read", "doc"));
        assert_eq!(subject.properties["role"], "admin");
        assert_eq!(context.unwrap()["time"], 1);
        let batch = format!(
            r#"{{{ok}, "evaluations": [{{}}, {{"action": {{"name": "write"}}, "subject": null}}],
                "options": {{"evaluations_semantic": "deny_on_first_deny"}}}}"#
        );
        let req = evaluations(&batch).unwrap();
        assert_eq!(req.evaluations.len(), 2);
        assert_eq!(req.options.evaluations_semantic, Semantic::DenyOnFirstDeny);
        assert_eq!(req.defaults.subject.as_ref().unwrap().id, "ada");
        let second = complete(req.evaluations[1].clone(), &req.defaults).unwrap();
        assert_eq!((second.0.id.as_str(), second.1.name.as_str()), ("ada", "write"));
        // Without `evaluations` or `options`, the defaults are the one evaluation.
        let single = evaluations(&format!("{{{ok}}}")).unwrap();
        assert!(single.evaluations.is_empty());
        assert_eq!(single.options.evaluations_semantic, Semantic::ExecuteAll);
        assert!(complete(single.defaults, &Evaluation::default()).is_ok());
    }
}
