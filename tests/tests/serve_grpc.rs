//! End-to-end tests of every front door of `warden serve` on `policies/bank` (with a
//! per-run IdP key): the same request judged over HTTP `/v1/check`, gRPC
//! `warden.v1.Decision/Check`, Envoy ext_authz (a real tonic client) and forward
//! auth gives the same decision; batch, resource checks, AuthZEN, gRPC health and
//! reflection; bad input on the gRPC port is refused while others are served.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests: a failure aborts the test")]

use std::collections::HashMap;
use std::io::Write as _;

use envoy_types::pb::envoy::config::core::v3::{Address, SocketAddress, address, socket_address};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest as EnvoyHttp, Peer, Request};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest as EnvoyCheck};
use serde_json::{Value, json};
use warden_e2e::idp::{TestIdp, bank_with_test_idp};
use warden_e2e::{Warden, request};
use warden_server::grpc::pb;
use warden_server::grpc::pb::decision_client::DecisionClient;

const SOURCE_IP: &str = "198.51.100.7";

/// One judged request, described once and sent through every door.
struct Case {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    token: Option<String>,
    body: Option<String>,
}

fn cases(idp: &TestIdp) -> Vec<Case> {
    let reader = idp.mint(&json!({"sub": "u-42", "customer_id": "42", "scope": "accounts:read", "client_id": "app"}));
    let payer = idp.mint(&json!({"sub": "u-42", "customer_id": "42", "scope": "payments:read payments:write",
        "client_id": "app"}));
    let transfer = json!({"from_account": "42", "amount": 12.5, "currency": "EUR",
        "payee": {"name": "Ada", "iban": "DE89370400440532013000"}})
    .to_string();
    vec![
        Case { name: "own account", method: "GET", path: "/v1/accounts/42", token: Some(reader.clone()), body: None },
        Case {
            name: "another customer's account",
            method: "GET",
            path: "/v1/accounts/43",
            token: Some(reader.clone()),
            body: None,
        },
        Case { name: "no token", method: "GET", path: "/v1/accounts/42", token: None, body: None },
        Case { name: "wrong scope", method: "GET", path: "/v1/transfers/t-1", token: Some(reader.clone()), body: None },
        Case {
            name: "upstream header",
            method: "GET",
            path: "/v1/transfers/t-1",
            token: Some(payer.clone()),
            body: None,
        },
        Case { name: "no such route", method: "GET", path: "/v1/nothing", token: Some(reader.clone()), body: None },
        Case {
            name: "tampered token",
            method: "GET",
            path: "/v1/accounts/42",
            token: Some(format!("{reader}x")),
            body: None,
        },
        Case {
            name: "transfer",
            method: "POST",
            path: "/v1/transfers",
            token: Some(payer.clone()),
            body: Some(transfer),
        },
        Case {
            name: "transfer with a smuggled field",
            method: "POST",
            path: "/v1/transfers",
            token: Some(payer),
            body: Some(json!({"from_account": "42", "amount": 1, "currency": "EUR", "admin": true}).to_string()),
        },
    ]
}

fn headers(c: &Case) -> Vec<(String, String)> {
    let mut h = vec![("x-request-source".to_owned(), "e2e".to_owned())];
    if let Some(t) = &c.token {
        h.push(("authorization".to_owned(), format!("Bearer {t}")));
    }
    if c.body.is_some() {
        h.push(("content-type".to_owned(), "application/json".to_owned()));
    }
    h
}

/// What must agree across doors: everything but the decision id and the
/// rate-limit counters (each door's request is counted).
fn essence(d: &Value) -> Value {
    let headers: serde_json::Map<String, Value> = d["headers"]
        .as_object()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("ratelimit"))
        .collect();
    json!({"allow": d["allow"], "status": d["status"], "reason": d["reason"], "detail": d["detail"],
        "rule": d["rule"], "revision": d["revision"], "headers": headers})
}

fn over_http(w: &Warden, c: &Case) -> Value {
    let hs: serde_json::Map<String, Value> = headers(c).into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let mut request = json!({"method": c.method, "scheme": "https", "host": "api.bank.example", "path": c.path,
        "headers": hs});
    if let Some(b) = &c.body {
        request["body"] = json!(b);
    }
    let r = w.post_json("/v1/check", &json!({"request": request, "source": {"ip": SOURCE_IP}})).unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json().unwrap()
}

fn pb_check(c: &Case) -> pb::CheckRequest {
    pb::CheckRequest {
        request: Some(pb::HttpRequest {
            method: c.method.to_owned(),
            scheme: "https".to_owned(),
            host: "api.bank.example".to_owned(),
            path: c.path.to_owned(),
            headers: headers(c).into_iter().collect(),
            body: c.body.clone().map(String::into_bytes),
        }),
        source: Some(pb::Source { ip: SOURCE_IP.to_owned(), ..Default::default() }),
    }
}

fn from_pb(d: &pb::CheckResponse) -> Value {
    json!({"allow": d.allow, "status": d.status, "reason": d.reason, "detail": d.detail,
        "rule": if d.rule.is_empty() { Value::Null } else { json!(d.rule) }, "revision": d.revision,
        "decision_id": d.decision_id, "headers": d.headers})
}

fn envoy_check(c: &Case) -> EnvoyCheck {
    let mut hs: HashMap<String, String> = headers(c).into_iter().collect();
    // Envoy passes HTTP/2 pseudo-headers too; they are not the request's headers.
    hs.insert(":authority".to_owned(), "api.bank.example".to_owned());
    hs.insert(":method".to_owned(), c.method.to_owned());
    EnvoyCheck {
        attributes: Some(AttributeContext {
            source: Some(Peer {
                address: Some(Address {
                    address: Some(address::Address::SocketAddress(SocketAddress {
                        address: SOURCE_IP.to_owned(),
                        port_specifier: Some(socket_address::PortSpecifier::PortValue(40_000)),
                        ..Default::default()
                    })),
                }),
                ..Default::default()
            }),
            request: Some(Request {
                time: None,
                http: Some(EnvoyHttp {
                    method: c.method.to_owned(),
                    path: c.path.to_owned(),
                    host: "api.bank.example".to_owned(),
                    scheme: "https".to_owned(),
                    headers: hs,
                    body: c.body.clone().unwrap_or_default(),
                    protocol: "HTTP/2".to_owned(),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }),
    }
}

/// The decision an ext_authz answer carries: status, headers and (on deny) the JSON body.
fn from_envoy(
    r: &envoy_types::pb::envoy::service::auth::v3::CheckResponse,
) -> (bool, u16, HashMap<String, String>, Value) {
    let code = r.status.as_ref().map_or(-1, |s| s.code);
    let meta = r.dynamic_metadata.as_ref().expect("dynamic metadata");
    assert!(meta.fields.contains_key("decision_id") && meta.fields.contains_key("reason"));
    match r.http_response.as_ref().expect("an http response") {
        HttpResponse::OkResponse(ok) => {
            assert_eq!(code, 0);
            let h = ok.headers.iter().filter_map(|o| o.header.as_ref()).map(|h| (h.key.clone(), h.value.clone()));
            (true, 200, h.collect(), Value::Null)
        }
        HttpResponse::DeniedResponse(denied) => {
            assert_ne!(code, 0, "a denial must not carry status OK");
            let status = u16::try_from(denied.status.as_ref().expect("a status").code).unwrap();
            let h = denied.headers.iter().filter_map(|o| o.header.as_ref()).map(|h| (h.key.clone(), h.value.clone()));
            (false, status, h.collect(), serde_json::from_str(&denied.body).expect("a JSON body"))
        }
        other => panic!("unexpected answer {other:?}"),
    }
}

fn trusting_config(dir: &std::path::Path) -> String {
    let config = dir.join("warden.toml");
    std::fs::write(&config, "[forward_auth]\ntrusted_proxies = [\"127.0.0.1/32\"]\n").unwrap();
    config.to_string_lossy().into_owned()
}

#[test]
fn every_front_door_gives_the_same_decision() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("bank");
    let idp = bank_with_test_idp(&policies).unwrap();
    let config = trusting_config(dir.path());
    let w = Warden::start(&policies, &["--config", &config]).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let endpoint = format!("http://{}", w.grpc);
    let mut grpc = rt.block_on(DecisionClient::connect(endpoint.clone())).unwrap();
    let mut envoy = rt.block_on(AuthorizationClient::connect(endpoint)).unwrap();

    let mut seen = Vec::new();
    for c in cases(&idp) {
        let http = over_http(&w, &c);
        let g = from_pb(&rt.block_on(grpc.check(pb_check(&c))).unwrap().into_inner());
        assert_eq!(essence(&http), essence(&g), "{}: HTTP and gRPC disagree", c.name);
        assert_ne!(http["decision_id"], g["decision_id"], "each decision has its own id");

        let (allow, status, envoy_headers, body) =
            from_envoy(&rt.block_on(envoy.check(envoy_check(&c))).unwrap().into_inner());
        assert_eq!((allow, u64::from(status)), (http["allow"] == true, http["status"].as_u64().unwrap()), "{}", c.name);
        for (k, v) in http["headers"].as_object().unwrap() {
            if !k.starts_with("ratelimit") {
                assert_eq!(envoy_headers.get(k), v.as_str().map(str::to_owned).as_ref(), "{}: header {k}", c.name);
            }
        }
        if !allow {
            assert_eq!(body["reason"], http["reason"], "{}", c.name);
        }

        // Forward auth carries no body: compare the body-less cases.
        if c.body.is_none() {
            let mut fh = vec![
                ("x-forwarded-method", c.method.to_owned()),
                ("x-forwarded-uri", c.path.to_owned()),
                ("x-forwarded-host", "api.bank.example".to_owned()),
                ("x-forwarded-proto", "https".to_owned()),
                ("x-forwarded-for", format!("{SOURCE_IP}, 10.0.0.1")),
            ];
            if let Some(t) = &c.token {
                fh.push(("authorization", format!("Bearer {t}")));
            }
            let fh: Vec<(&str, &str)> = fh.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = request(w.http, "GET", "/v1/forward-auth", &fh, None).unwrap();
            assert_eq!(u64::from(r.status), http["status"].as_u64().unwrap(), "{}: forward auth", c.name);
            if r.status != 200 {
                assert_eq!(r.json().unwrap()["reason"], http["reason"], "{}", c.name);
            }
            for (k, v) in http["headers"].as_object().unwrap() {
                if !k.starts_with("ratelimit") {
                    assert_eq!(r.header(k), v.as_str(), "{}: forward-auth header {k}", c.name);
                }
            }
        }
        seen.push((c.name, http["allow"].clone(), http["status"].clone(), http["reason"].clone()));
    }
    // The cases mean what their names say (so the agreement above is not vacuous).
    let expect = [
        ("own account", true, 200, "allowed"),
        ("another customer's account", false, 403, "no_allow_rule"),
        ("no token", false, 401, "credentials_missing"),
        ("wrong scope", false, 403, "insufficient_scope"),
        ("upstream header", true, 200, "allowed"),
        ("no such route", false, 404, "route_not_found"),
        ("tampered token", false, 401, "signature_invalid"),
        ("transfer", true, 200, "allowed"),
        ("transfer with a smuggled field", false, 400, "body_invalid"),
    ];
    for ((name, allow, status, reason), want) in seen.iter().zip(expect) {
        assert_eq!(
            (*name, allow.as_bool().unwrap(), status.as_u64().unwrap(), reason.as_str().unwrap()),
            (want.0, want.1, want.2, want.3)
        );
    }
    let upstream = over_http(&w, &cases(&idp)[4]);
    assert_eq!(upstream["headers"]["x-customer-id"], "42");
}

#[test]
fn grpc_batch_resource_health_reflection_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("bank");
    let idp = bank_with_test_idp(&policies).unwrap();
    std::fs::write(policies.join("whoami.warden"), warden_e2e::idp::WHOAMI_POLICY).unwrap();
    let w = Warden::start(&policies, &[]).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let endpoint = format!("http://{}", w.grpc);
    let mut grpc = rt.block_on(DecisionClient::connect(endpoint.clone())).unwrap();

    // CheckBatch answers in order, like the HTTP batch.
    let all = cases(&idp);
    let items: Vec<pb::BatchItem> =
        all.iter().map(|c| pb::BatchItem { check: Some(pb::batch_item::Check::Http(pb_check(c))) }).collect();
    let batch = rt.block_on(grpc.check_batch(pb::BatchRequest { checks: items })).unwrap().into_inner();
    assert_eq!(batch.decisions.len(), all.len());
    let statuses: Vec<u32> = batch.decisions.iter().map(|d| d.status).collect();
    assert_eq!(statuses, [200, 403, 401, 403, 200, 404, 401, 200, 400]);

    // A batch with one malformed item decides nothing.
    let bad = pb::BatchRequest {
        checks: vec![
            pb::BatchItem { check: Some(pb::batch_item::Check::Http(pb_check(&all[0]))) },
            pb::BatchItem { check: None },
        ],
    };
    let err = rt.block_on(grpc.check_batch(bad)).unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("check 1"), "{}", err.message());

    // Malformed checks are INVALID_ARGUMENT, never an allow.
    let err = rt.block_on(grpc.check(pb::CheckRequest { request: None, source: None })).unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let mut bad_ip = pb_check(&all[0]);
    bad_ip.source = Some(pb::Source { ip: "not-an-ip".to_owned(), ..Default::default() });
    let err = rt.block_on(grpc.check(bad_ip)).unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("`not-an-ip`"), "{}", err.message());

    // A resource check over gRPC equals the same check over HTTP (the internal
    // ledger resource of policies/bank, asked with a bearer token of the wrong zone).
    let rc = pb::ResourceCheckRequest {
        resource: Some(pb::Resource {
            r#type: "nothing".to_owned(),
            id: "1".to_owned(),
            properties_json: String::new(),
        }),
        action: "read".to_owned(),
        subject: Some(pb::Subject { id: "u-1".to_owned(), properties_json: "{\"tenant\": \"t\"}".to_owned() }),
        ..Default::default()
    };
    let g = from_pb(&rt.block_on(grpc.check_resource(rc)).unwrap().into_inner());
    let h = w
        .post_json(
            "/v1/check/resource",
            &json!({"resource": {"type": "nothing", "id": "1"}, "action": "read",
                "subject": {"id": "u-1", "properties": {"tenant": "t"}}}),
        )
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(essence(&g), essence(&h));
    assert_eq!(g["reason"], "route_not_found");
    let err = rt
        .block_on(grpc.check_resource(pb::ResourceCheckRequest {
            resource: Some(pb::Resource {
                r#type: "todo".to_owned(),
                id: "1".to_owned(),
                properties_json: "[1]".to_owned(),
            }),
            action: "read".to_owned(),
            ..Default::default()
        }))
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("not a JSON object"), "{}", err.message());

    // ext_authz without HTTP attributes: denied in the answer itself (400), so
    // even an Envoy with failure_mode_allow denies.
    let mut envoy = rt.block_on(AuthorizationClient::connect(endpoint.clone())).unwrap();
    let r = rt.block_on(envoy.check(EnvoyCheck { attributes: None })).unwrap().into_inner();
    assert_eq!(r.status.as_ref().map(|s| s.code), Some(i32::from(tonic::Code::InvalidArgument)));
    match r.http_response {
        Some(HttpResponse::DeniedResponse(d)) => assert_eq!(d.status.map(|s| s.code), Some(400)),
        other => panic!("expected a denial, got {other:?}"),
    }

    // An allowed request whose declared upstream header has no value (no
    // `customer_id` claim): Envoy is told to remove the client's own copy.
    let staff = idp.mint(&json!({"sub": "teller-1", "scope": "accounts:read", "client_id": "branch"}));
    let whoami = Case { name: "whoami", method: "GET", path: "/v1/whoami", token: Some(staff), body: None };
    let mut ask = envoy_check(&whoami);
    if let Some(http) = ask.attributes.as_mut().and_then(|a| a.request.as_mut()).and_then(|r| r.http.as_mut()) {
        http.headers.insert("x-customer-id".to_owned(), "99".to_owned());
    }
    let r = rt.block_on(envoy.check(ask)).unwrap().into_inner();
    match r.http_response {
        Some(HttpResponse::OkResponse(ok)) => {
            assert_eq!(ok.headers_to_remove, ["x-customer-id"]);
            assert!(ok.headers.iter().all(|h| h.header.as_ref().is_none_or(|h| h.key != "x-customer-id")));
        }
        other => panic!("expected an allow, got {other:?}"),
    }
    let customer = idp.mint(&json!({"sub": "u-42", "customer_id": "42", "client_id": "app"}));
    let whoami = Case { name: "whoami", method: "GET", path: "/v1/whoami", token: Some(customer), body: None };
    match rt.block_on(envoy.check(envoy_check(&whoami))).unwrap().into_inner().http_response {
        Some(HttpResponse::OkResponse(ok)) => {
            assert!(ok.headers_to_remove.is_empty());
            let set: Vec<(String, String)> =
                ok.headers.iter().filter_map(|h| h.header.as_ref()).map(|h| (h.key.clone(), h.value.clone())).collect();
            assert_eq!(set, [("x-customer-id".to_owned(), "42".to_owned())]);
        }
        other => panic!("expected an allow, got {other:?}"),
    }

    // Health: serving once the policy is loaded.
    let channel = rt.block_on(tonic::transport::Endpoint::from_shared(endpoint).unwrap().connect()).unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for service in ["", "warden.v1.Decision", "envoy.service.auth.v3.Authorization"] {
        let s = rt
            .block_on(health.check(tonic_health::pb::HealthCheckRequest { service: service.to_owned() }))
            .unwrap()
            .into_inner();
        assert_eq!(s.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32, "{service}");
    }

    // Reflection lists the decision API.
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(channel);
    let ask = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = rt.block_on(reflection.server_reflection_info(tokio_stream_once(ask))).unwrap().into_inner();
    let first = rt.block_on(answers.message()).unwrap().expect("a reflection answer");
    let Some(MessageResponse::ListServicesResponse(list)) = first.message_response else { panic!("not a list") };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.contains(&"warden.v1.Decision".to_owned()), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health".to_owned()), "{names:?}");

    // Garbage on the gRPC port: the connection is dropped, the server goes on.
    let mut s = std::net::TcpStream::connect(w.grpc).unwrap();
    s.write_all(b"GARBAGE\r\n\r\n\x00\x01\x02 not http/2 at all").unwrap();
    drop(s);
    let mut raw = std::net::TcpStream::connect(w.grpc).unwrap();
    raw.write_all(&[0u8; 64]).unwrap();
    drop(raw);
    let again = rt.block_on(grpc.check(pb_check(&all[0]))).unwrap().into_inner();
    assert!(again.allow);
    assert_eq!(w.get("/healthz").unwrap().status, 200);
}

/// A request stream of one message (the reflection API is bidirectional).
fn tokio_stream_once<T: Send + 'static>(item: T) -> impl tonic::codegen::tokio_stream::Stream<Item = T> {
    tonic::codegen::tokio_stream::iter(std::iter::once(item))
}
