//! The gRPC front door (tonic + prost): `warden.v1.Decision` from the shared
//! `.proto`, Envoy's `envoy.service.auth.v3.Authorization/Check` (ext_authz),
//! `grpc.health.v1.Health` and server reflection. Protobuf messages are turned
//! into the engine's requests here and nowhere else.

use std::net::IpAddr;
use std::sync::Arc;

use envoy_types::ext_authz::v3::pb as authz;
use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use envoy_types::pb::envoy::config::core::v3::{HeaderValue, HeaderValueOption};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::HttpRequest as EnvoyHttp;
use envoy_types::pb::envoy::r#type::v3::HttpStatus;
use envoy_types::pb::google::protobuf::{Struct, Value as PbValue, value::Kind};
use envoy_types::pb::google::rpc;
use serde_json::{Map, Value};
use tonic::{Request, Response, Status};

use super::caller::{Caller, Refused};
use super::decide::{Check, Door, decide, decide_all};
use super::state::{Loaded, Service, now_ms};
use crate::api::{ResourcePart, SourcePart, SubjectPart, http_request, resource_request};
use crate::engine::decision::Decision;
use crate::engine::run::HttpRequest;

/// The generated `warden.v1` code (`warden-proto`, shared with the SDK).
pub use warden_proto as pb;

/// Most checks in one `CheckBatch` (as over HTTP).
const MAX_BATCH: usize = 1_000;

/// The gRPC services over one [`Service`].
#[derive(Clone)]
pub struct Grpc {
    /// The service.
    pub service: Arc<Service>,
}

/// The router serving every gRPC service, and the reporter that sets what
/// `grpc.health.v1` answers. Messages larger than `max_message_bytes` are refused
/// by tonic before they are decoded.
pub fn router(grpc: Grpc, max_message_bytes: usize) -> (axum::Router, tonic_health::server::HealthReporter) {
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let mut routes = tonic::service::Routes::new(
        pb::decision_server::DecisionServer::new(grpc.clone()).max_decoding_message_size(max_message_bytes),
    )
    .add_service(authz::AuthorizationServer::new(grpc).max_decoding_message_size(max_message_bytes))
    .add_service(health_service);
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1();
    if let Ok(r) = reflection {
        routes = routes.add_service(r);
    }
    (routes.prepare().into_axum_router(), reporter)
}

/// Marks the gRPC services serving (a policy is loaded) or not, for `grpc.health.v1`.
pub async fn set_health(reporter: &tonic_health::server::HealthReporter, serving: bool) {
    let status = if serving { tonic_health::ServingStatus::Serving } else { tonic_health::ServingStatus::NotServing };
    for name in ["", "warden.v1.Decision", "envoy.service.auth.v3.Authorization"] {
        reporter.set_service_status(name, status).await;
    }
}

fn no_policy() -> Status {
    Status::unavailable("no policy is loaded")
}

fn parse_ip(s: &str) -> Result<Option<IpAddr>, Status> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<IpAddr>()
        .map(|ip| Some(ip.to_canonical()))
        .map_err(|_| Status::invalid_argument(format!("`source.ip`: `{s}` is not an IP address")))
}

fn json_object(text: &str, what: &str) -> Result<Map<String, Value>, Status> {
    if text.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Status::invalid_argument(format!("`{what}` is not a JSON object"))),
        Err(e) => Err(Status::invalid_argument(format!("`{what}` is not JSON: {e}"))),
    }
}

/// The source a `warden.v1` message asserts (empty fields assert nothing).
fn asserted(source: Option<&pb::Source>) -> Result<Option<SourcePart>, Status> {
    let Some(s) = source else { return Ok(None) };
    let part = SourcePart {
        ip: parse_ip(&s.ip)?,
        principal: Some(s.principal.clone()).filter(|p| !p.is_empty()),
        certificate: Some(s.certificate.clone()).filter(|c| !c.is_empty()),
    };
    Ok(Some(part).filter(|p| !p.is_empty()))
}

fn refused(r: Refused) -> Status {
    match r {
        Refused::NotAllowed(why) => Status::permission_denied(why),
        Refused::Malformed(why) => Status::invalid_argument(why),
    }
}

/// The `X-Forwarded-For` metadata of a call, in order.
fn forwarded_for(metadata: &tonic::metadata::MetadataMap) -> Vec<&str> {
    metadata.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect()
}

fn http_check(s: &Service, caller: &Caller, c: &pb::CheckRequest) -> Result<Check, Status> {
    let r = c.request.as_ref().ok_or_else(|| Status::invalid_argument("the check has no `request`"))?;
    let part = asserted(c.source.as_ref())?;
    let source = s.callers.http_source(caller, part.as_ref()).map_err(refused)?;
    let mut req = http_request(
        &r.method,
        &r.scheme,
        &r.host,
        &r.path,
        r.headers.iter().map(|(k, v)| (k.clone(), v.clone())),
        r.body.clone(),
        source,
        now_ms(),
        &s.bounds,
    )
    .map_err(invalid)?;
    let certificate = part.as_ref().and_then(|p| p.certificate.as_deref());
    crate::certificate::apply(&mut req, certificate).map_err(Status::invalid_argument)?;
    Ok(Check::Http(req))
}

/// A check that cannot be judged: `INVALID_ARGUMENT`, never an allow.
fn invalid(e: crate::api::CheckError) -> Status {
    Status::invalid_argument(e.to_string())
}

fn resource_check(s: &Service, caller: &Caller, xff: &[&str], c: &pb::ResourceCheckRequest) -> Result<Check, Status> {
    let r = c.resource.as_ref().ok_or_else(|| Status::invalid_argument("the check has no `resource`"))?;
    let subject = match &c.subject {
        Some(s) if !s.id.is_empty() => Some(SubjectPart {
            id: s.id.clone(),
            properties: json_object(&s.properties_json, "subject.properties_json")?,
        }),
        _ => None,
    };
    let context = if c.context_json.is_empty() {
        None
    } else {
        Some(Value::Object(json_object(&c.context_json, "context_json")?))
    };
    let source = s
        .callers
        .resource_source(caller, asserted(c.source.as_ref())?.as_ref(), xff.iter().copied())
        .map_err(refused)?;
    let resource = ResourcePart {
        kind: r.r#type.clone(),
        id: r.id.clone(),
        properties: json_object(&r.properties_json, "resource.properties_json")?,
    };
    resource_request(
        resource,
        c.action.clone(),
        subject,
        Some(c.token.clone()),
        context,
        source,
        caller.scheme(),
        now_ms(),
    )
    .map(Check::Resource)
    .map_err(invalid)
}

fn answer(d: Decision) -> pb::CheckResponse {
    pb::CheckResponse {
        allow: d.allow,
        status: u32::from(d.status),
        reason: d.reason.as_str().to_owned(),
        detail: d.detail.into_owned(),
        rule: d.rule.as_deref().unwrap_or_default().to_owned(),
        revision: d.revision.to_string(),
        decision_id: d.decision_id.to_string(),
        headers: d.headers.into_iter().collect(),
        unset_headers: d.unset_headers,
    }
}

impl Grpc {
    fn loaded(&self) -> Result<Arc<Loaded>, Status> {
        self.service.current().ok_or_else(no_policy)
    }

    async fn decide(&self, check: Check, door: Door) -> Result<Decision, Status> {
        decide(&self.service, self.loaded()?, check, door)
            .await
            .map_err(|_| Status::unavailable("the decision could not be made"))
    }
}

#[tonic::async_trait]
impl pb::decision_server::Decision for Grpc {
    async fn check(&self, request: Request<pb::CheckRequest>) -> Result<Response<pb::CheckResponse>, Status> {
        let caller = Caller::of(request.extensions().get::<Caller>());
        let check = http_check(&self.service, &caller, request.get_ref())?;
        Ok(Response::new(answer(self.decide(check, Door::Grpc).await?)))
    }

    async fn check_resource(
        &self,
        request: Request<pb::ResourceCheckRequest>,
    ) -> Result<Response<pb::CheckResponse>, Status> {
        let caller = Caller::of(request.extensions().get::<Caller>());
        let check = resource_check(&self.service, &caller, &forwarded_for(request.metadata()), request.get_ref())?;
        Ok(Response::new(answer(self.decide(check, Door::Grpc).await?)))
    }

    async fn check_batch(&self, request: Request<pb::BatchRequest>) -> Result<Response<pb::BatchResponse>, Status> {
        let caller = Caller::of(request.extensions().get::<Caller>());
        let xff = forwarded_for(request.metadata());
        let items = &request.get_ref().checks;
        if items.len() > MAX_BATCH {
            return Err(Status::invalid_argument(format!("a batch holds at most {MAX_BATCH} checks")));
        }
        // Every item is validated before any is decided: a bad batch decides nothing.
        let mut checks = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = |s: Status| Status::new(s.code(), format!("check {i}: {}", s.message()));
            checks.push(match &item.check {
                Some(pb::batch_item::Check::Http(c)) => http_check(&self.service, &caller, c).map_err(at)?,
                Some(pb::batch_item::Check::Resource(c)) => {
                    resource_check(&self.service, &caller, &xff, c).map_err(at)?
                }
                None => return Err(Status::invalid_argument(format!("check {i} is empty"))),
            });
        }
        // The whole batch is decided on one revision.
        let decisions = decide_all(&self.service, self.loaded()?, checks, Door::GrpcBatch)
            .await
            .map_err(|_| Status::unavailable("the decision could not be made"))?;
        Ok(Response::new(pb::BatchResponse { decisions: decisions.into_iter().map(answer).collect() }))
    }
}

/// The judged request of an ext_authz call: method, path (with its query), host,
/// scheme, headers (pseudo-headers dropped), body, and the source peer's address
/// and principal from the `AttributeContext`, which only a caller allowed to
/// assert (`[callers]`) may send (`Err` with 403 otherwise).
fn envoy_request(s: &Service, caller: &Caller, c: &authz::CheckRequest) -> Result<HttpRequest, (u16, String)> {
    let bad = |why: &str| (400, why.to_owned());
    let attrs = c.attributes.as_ref().ok_or(bad("the check has no `attributes`"))?;
    let http: &EnvoyHttp = attrs
        .request
        .as_ref()
        .and_then(|r| r.http.as_ref())
        .ok_or(bad("the check has no HTTP attributes (`attributes.request.http`)"))?;
    let mut headers: Vec<(String, String)> = http.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    // With `encode_raw_headers`, Envoy sends `header_map` instead (repeated names
    // not combined): one pair each, merged (or refused) as at every door.
    for h in http.header_map.iter().flat_map(|m| &m.headers) {
        let value = if h.raw_value.is_empty() {
            h.value.clone()
        } else {
            String::from_utf8(h.raw_value.clone()).map_err(|_| (400, format!("header `{}` is not UTF-8", h.key)))?
        };
        headers.push((h.key.clone(), value));
    }
    headers.retain(|(k, _)| !k.starts_with(':'));
    let body = if !http.raw_body.is_empty() {
        Some(http.raw_body.clone())
    } else if !http.body.is_empty() {
        Some(http.body.clone().into_bytes())
    } else {
        None
    };
    let source = attrs.source.as_ref();
    let ip = source
        .and_then(|p| p.address.as_ref())
        .and_then(|a| a.address.as_ref())
        .and_then(|a| match a {
            authz::Address::SocketAddress(s) => Some(s.address.as_str()),
            _ => None,
        })
        .filter(|a| !a.is_empty());
    let source_ip = match ip {
        Some(a) => Some(
            a.parse::<IpAddr>()
                .map(|ip| ip.to_canonical())
                .map_err(|_| (400, format!("the source address `{a}` is not an IP address")))?,
        ),
        None => None,
    };
    let part = SourcePart {
        ip: source_ip,
        principal: source.map(|p| p.principal.clone()).filter(|p| !p.is_empty()),
        certificate: source.map(|p| p.certificate.clone()).filter(|c| !c.is_empty()),
    };
    let source = s.callers.http_source(caller, Some(&part)).map_err(|r| match r {
        Refused::NotAllowed(why) => (403, why),
        Refused::Malformed(why) => (400, why),
    })?;
    let mut req =
        http_request(&http.method, &http.scheme, &http.host, &http.path, headers, body, source, now_ms(), &s.bounds)
            .map_err(|why| (400, why.to_string()))?;
    // Envoy's `source.certificate`: the client's certificate, URL-encoded PEM.
    crate::certificate::apply(&mut req, part.certificate.as_deref()).map_err(|why| (400, why))?;
    Ok(req)
}

fn header_option(name: &str, value: &str, action: HeaderAppendAction) -> HeaderValueOption {
    #[expect(deprecated, reason = "`append` is deprecated in favour of `append_action`, but must be set")]
    HeaderValueOption {
        header: Some(HeaderValue { key: name.to_owned(), value: value.to_owned(), raw_value: Vec::new() }),
        append: None,
        append_action: action.into(),
        keep_empty_value: false,
    }
}

fn string_value(s: &str) -> PbValue {
    PbValue { kind: Some(Kind::StringValue(s.to_owned())) }
}

/// `decision_id` and `reason` for the filters after ext_authz.
fn metadata(d: &Decision) -> Struct {
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("decision_id".to_owned(), string_value(&d.decision_id));
    fields.insert("reason".to_owned(), string_value(d.reason.as_str()));
    fields.insert("revision".to_owned(), string_value(&d.revision));
    Struct { fields: fields.into_iter().collect() }
}

/// Envoy's answer for a decision: `OK` with the upstream headers (replacing any
/// the client sent), or a denial with the decision's status, headers and a JSON body.
fn envoy_answer(d: &Decision) -> authz::CheckResponse {
    let (code, http_response) = if d.allow {
        let headers =
            d.headers.iter().map(|(n, v)| header_option(n, v, HeaderAppendAction::OverwriteIfExistsOrAdd)).collect();
        // A declared upstream header with no value: the client's copy must not
        // reach the upstream either.
        let headers_to_remove = d.unset_headers.clone();
        (
            tonic::Code::Ok,
            authz::HttpResponse::OkResponse(authz::OkHttpResponse { headers, headers_to_remove, ..Default::default() }),
        )
    } else {
        let mut headers: Vec<HeaderValueOption> =
            d.headers.iter().map(|(n, v)| header_option(n, v, HeaderAppendAction::OverwriteIfExistsOrAdd)).collect();
        headers.push(header_option("content-type", "application/json", HeaderAppendAction::OverwriteIfExistsOrAdd));
        headers.push(header_option("x-warden-decision-id", &d.decision_id, HeaderAppendAction::OverwriteIfExistsOrAdd));
        let body = serde_json::json!({"allow": false, "status": d.status, "reason": d.reason,
            "detail": d.detail, "decision_id": d.decision_id})
        .to_string();
        let code = match d.status {
            401 => tonic::Code::Unauthenticated,
            429 => tonic::Code::ResourceExhausted,
            _ => tonic::Code::PermissionDenied,
        };
        (
            code,
            authz::HttpResponse::DeniedResponse(authz::DeniedHttpResponse {
                status: Some(HttpStatus { code: i32::from(d.status) }),
                headers,
                body,
            }),
        )
    };
    authz::CheckResponse {
        status: Some(rpc::Status { code: code.into(), message: d.reason.as_str().to_owned(), details: Vec::new() }),
        dynamic_metadata: Some(metadata(d)),
        http_response: Some(http_response),
    }
}

/// A request Warden cannot judge (400), may not judge (403) or cannot judge
/// yet (503) is denied in the answer itself, not as a gRPC error, so even an
/// Envoy configured with `failure_mode_allow` denies it.
fn envoy_error(status: u16, code: tonic::Code, why: &str) -> authz::CheckResponse {
    let reason = match status {
        400 => "bad_request",
        403 => "forbidden",
        _ => "unavailable",
    };
    let body = serde_json::json!({"allow": false, "status": status, "reason": reason, "detail": why}).to_string();
    authz::CheckResponse {
        status: Some(rpc::Status { code: code.into(), message: why.to_owned(), details: Vec::new() }),
        dynamic_metadata: None,
        http_response: Some(authz::HttpResponse::DeniedResponse(authz::DeniedHttpResponse {
            status: Some(HttpStatus { code: i32::from(status) }),
            headers: vec![header_option(
                "content-type",
                "application/json",
                HeaderAppendAction::OverwriteIfExistsOrAdd,
            )],
            body,
        })),
    }
}

#[tonic::async_trait]
impl authz::Authorization for Grpc {
    async fn check(&self, request: Request<authz::CheckRequest>) -> Result<Response<authz::CheckResponse>, Status> {
        let caller = Caller::of(request.extensions().get::<Caller>());
        let req = match envoy_request(&self.service, &caller, request.get_ref()) {
            Ok(r) => r,
            Err((403, why)) => return Ok(Response::new(envoy_error(403, tonic::Code::PermissionDenied, &why))),
            Err((_, why)) => return Ok(Response::new(envoy_error(400, tonic::Code::InvalidArgument, &why))),
        };
        Ok(Response::new(match self.decide(Check::Http(req), Door::ExtAuthz).await {
            Ok(d) => envoy_answer(&d),
            Err(s) => envoy_error(503, tonic::Code::Unavailable, s.message()),
        }))
    }
}
