//! The one seam between the doors and the engine: a door turns its request into
//! [`Check`]s and calls [`decide`] (or [`decide_all`] for a batch, decided on one
//! revision), which times, logs and counts each decision. A large check is
//! decided on the blocking pool, so a slow decision never holds an async worker
//! (`/healthz` and small checks keep answering) and the door's request timeout
//! can answer while it runs.

use std::sync::Arc;
use std::time::Instant;

use super::state::{Judged, Loaded, Service};
use crate::engine::decision::Decision;
use crate::engine::run::{HttpRequest, ResourceRequest};

/// The front door a check came through (the decision log's `door`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(into = "&'static str")]
pub enum Door {
    /// `POST /v1/check`, `/v1/check/resource`.
    Http,
    /// `POST /v1/check/batch`.
    HttpBatch,
    /// `/v1/forward-auth`.
    ForwardAuth,
    /// AuthZEN evaluations.
    AuthZen,
    /// `warden.v1.Decision` `Check`, `CheckResource`.
    Grpc,
    /// `warden.v1.Decision` `CheckBatch`.
    GrpcBatch,
    /// Envoy ext_authz.
    ExtAuthz,
    /// `POST /oauth/token` (RFC 8693 token exchange).
    TokenExchange,
}

impl Door {
    /// The name the decision log gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Door::Http => "http",
            Door::HttpBatch => "http_batch",
            Door::ForwardAuth => "forward_auth",
            Door::AuthZen => "authzen",
            Door::Grpc => "grpc",
            Door::GrpcBatch => "grpc_batch",
            Door::ExtAuthz => "ext_authz",
            Door::TokenExchange => "token_exchange",
        }
    }
}

impl From<Door> for &'static str {
    fn from(door: Door) -> &'static str {
        door.as_str()
    }
}

/// One check in the engine's terms.
#[derive(Clone, Debug)]
pub enum Check {
    /// An HTTP request.
    Http(HttpRequest),
    /// A resource check.
    Resource(ResourceRequest),
}

impl Check {
    /// About how many bytes of input the engine will read.
    pub(crate) fn input_bytes(&self) -> usize {
        match self {
            Check::Http(r) => {
                r.target.len()
                    + r.host.len()
                    + r.headers.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>()
                    + r.body.as_ref().map_or(0, Vec::len)
            }
            // Properties and context were parsed from a bounded body; count them roughly.
            Check::Resource(r) => {
                r.resource_id.len()
                    + r.token.as_ref().map_or(0, String::len)
                    + r.properties.len().saturating_mul(64)
                    + r.subject.as_ref().map_or(0, |(id, p)| id.len() + p.len().saturating_mul(64))
                    + r.context.as_ref().map_or(0, |c| c.as_object().map_or(0, |o| o.len().saturating_mul(64)))
            }
        }
    }
}

/// Checks with at most this many bytes of input in all are decided on the async
/// worker: most checks (a token and a few headers) are this small, they take
/// microseconds, and a hop to the blocking pool would cost more than the
/// decision. A decision's time grows with its input (a policy's regex runs over
/// a header), so anything larger is decided off the workers.
pub const INLINE_BYTES: usize = 8 << 10;

/// The decision could not be made (the blocking task died): the door answers
/// with an error, never an allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Undecided;

/// Decides one check on `loaded`.
pub async fn decide(
    service: &Arc<Service>,
    loaded: Arc<Loaded>,
    check: Check,
    door: Door,
) -> Result<Decision, Undecided> {
    if check.input_bytes() <= INLINE_BYTES {
        return Ok(decide_now(service, &loaded, &check, door));
    }
    decide_all(service, loaded, vec![check], door).await?.pop().ok_or(Undecided)
}

/// Decides checks in order on one revision.
pub async fn decide_all(
    service: &Arc<Service>,
    loaded: Arc<Loaded>,
    checks: Vec<Check>,
    door: Door,
) -> Result<Vec<Decision>, Undecided> {
    let bytes: usize = checks.iter().map(Check::input_bytes).fold(0, usize::saturating_add);
    if bytes <= INLINE_BYTES {
        return Ok(checks.iter().map(|c| decide_now(service, &loaded, c, door)).collect());
    }
    // At most a few large decisions run at once (they are CPU-bound): the rest
    // wait here, asynchronously and under the door's request timeout, rather
    // than as threads of the blocking pool fighting for the cores.
    let _permit = off_worker_slots().acquire().await.map_err(|_| Undecided)?;
    let service = service.clone();
    // The request's trace span goes along to the blocking pool.
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _in = span.enter();
        checks.iter().map(|c| decide_now(&service, &loaded, c, door)).collect()
    })
    .await
    .map_err(|_| Undecided)
}

/// Large decisions that may run at once: twice the cores.
fn off_worker_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        tokio::sync::Semaphore::new(cores.saturating_mul(2).max(2))
    })
}

/// Decides one check here and now, then logs and counts it (and hands it to
/// the shadow candidate, when there is one).
pub fn decide_now(service: &Service, loaded: &Loaded, check: &Check, door: Door) -> Decision {
    let d = decide_live(service, loaded, check, door);
    if let Some(shadow) = &service.shadow {
        let bytes = check.input_bytes();
        if shadow.accepts(bytes) {
            let job = crate::shadow::Job {
                check: check.clone(),
                decision_id: d.decision_id.to_string(),
                allow: d.allow,
                status: d.status,
                reason: d.reason,
                rule: d.rule.as_deref().map(str::to_owned),
            };
            shadow.offer(job, bytes);
        }
    }
    d
}

fn decide_live(service: &Service, loaded: &Loaded, check: &Check, door: Door) -> Decision {
    if !crate::telemetry::enabled() {
        return decide_untraced(service, loaded, check, door);
    }
    let span = tracing::info_span!(target: crate::telemetry::TARGET, "warden.check", otel.name = "warden.check",
        warden.door = door.as_str(), warden.revision = %loaded.revision, warden.decision_id = tracing::field::Empty,
        warden.allow = tracing::field::Empty, warden.status = tracing::field::Empty,
        warden.reason = tracing::field::Empty, warden.route = tracing::field::Empty);
    let d = span.in_scope(|| decide_untraced(service, loaded, check, door));
    span.record("warden.decision_id", &*d.decision_id);
    span.record("warden.allow", d.allow);
    span.record("warden.status", d.status);
    span.record("warden.reason", d.reason.as_str());
    if let Some(rule) = d.rule.as_deref() {
        span.record("warden.route", rule);
    }
    d
}

fn decide_untraced(service: &Service, loaded: &Loaded, check: &Check, door: Door) -> Decision {
    let start = Instant::now();
    match check {
        Check::Http(req) => {
            let mut d = loaded.engine.check_http(req);
            let _ = service.mint(&mut d);
            let judged = Judged::Http { method: &req.method, host: &req.host, path: &req.target };
            let input = crate::capture::input(
                check,
                &d,
                &loaded.engine.prepared().secret_headers,
                service.capture,
                &service.mask,
            );
            service.finish(&d, door, judged, req.source_ip, start, input);
            d
        }
        Check::Resource(req) => {
            let mut d = loaded.engine.check_resource(req);
            let _ = service.mint(&mut d);
            let judged = Judged::Resource {
                resource_type: &req.resource_type,
                resource_id: &req.resource_id,
                action: &req.action,
            };
            let input = crate::capture::input(
                check,
                &d,
                &loaded.engine.prepared().secret_headers,
                service.capture,
                &service.mask,
            );
            service.finish(&d, door, judged, req.source_ip, start, input);
            d
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// The log line `decide_now` writes for `check` on `policies/todo`.
    fn log_line(check: Check) -> Value {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/todo");
        let service = Service::new(dir, 100, Some(tx));
        service.reload().unwrap();
        let loaded = service.current().unwrap();
        decide_now(&service, &loaded, &check, Door::Http);
        serde_json::from_str(&rx.try_recv().unwrap()).unwrap()
    }

    #[test]
    fn a_resource_check_is_logged_with_its_type_id_and_action() {
        let mut props = serde_json::Map::new();
        props.insert("tenant".to_owned(), json!("acme"));
        let check = Check::Resource(ResourceRequest {
            resource_type: "todo".to_owned(),
            resource_id: "t1".to_owned(),
            properties: props.clone(),
            action: "read".to_owned(),
            subject: Some(("alice".to_owned(), props)),
            scheme: "https".to_owned(),
            ..ResourceRequest::default()
        });
        let line = log_line(check);
        assert_eq!(
            (&line["resource_type"], &line["resource_id"], &line["action"]),
            (&json!("todo"), &json!("t1"), &json!("read")),
            "{line}"
        );
        assert!(line.get("method").is_none() && line.get("path").is_none() && line.get("host").is_none(), "{line}");
        assert_eq!(line["door"], "http");
    }

    #[test]
    fn a_request_is_logged_with_its_method_host_and_path_without_the_query() {
        let check = Check::Http(HttpRequest {
            method: "GET".to_owned(),
            scheme: "https".to_owned(),
            host: "todo.example".to_owned(),
            target: "/todos/1?secret=x#frag".to_owned(),
            ..HttpRequest::default()
        });
        let line = log_line(check);
        assert_eq!(
            (&line["method"], &line["host"], &line["path"]),
            (&json!("GET"), &json!("todo.example"), &json!("/todos/1")),
            "{line}"
        );
        assert!(line.get("action").is_none() && line.get("resource_type").is_none(), "{line}");
    }
}
