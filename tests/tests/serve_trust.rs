//! End-to-end tests of who may say what to `warden serve` (the hardening of
//! docs/serve.md, "Who is asking"): a resource check's peer is its caller's own
//! connection, never what the caller wrote; only the callers `[callers]` allows
//! may assert an HTTP check's `source`; `X-Forwarded-For` is read right to left
//! past trusted proxies; every door needs a scheme; the JSON APIs take JSON only;
//! one request gets one answer (no ambiguous duplicates, no silent overrides).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests: a failure aborts the test")]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use warden_e2e::pki::{Pki, https_request};
use warden_e2e::{Probe, Warden, request};
use warden_server::grpc::pb;
use warden_server::grpc::pb::decision_client::DecisionClient;

const POLICY: &str = r#"/// The office network only.
zone office {
  network "10.1.0.0/16"
}

/// Anyone.
zone open {
}

api intranet in zone office {
  host "intra.example"
  auth none

  route GET "/wiki" {
    allow
  }
}

api public in zone open {
  host "pub.example"
  auth none

  route GET "/hello" {
    allow
    upstream header "x-name" = header["x-user"]
  }
}
"#;

fn policy_dir(dir: &Path) -> PathBuf {
    let p = dir.join("set");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("set.warden"), POLICY).unwrap();
    p
}

fn config(dir: &Path, text: &str) -> String {
    let p = dir.join("warden.toml");
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

fn path(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

fn post(w: &Warden, at: &str, body: &Value) -> (u16, Value) {
    let r = w.post_json(at, body).unwrap();
    (r.status, r.json().unwrap_or(Value::Null))
}

fn wiki(source: Option<Value>) -> Value {
    let mut c = json!({"request": {"method": "GET", "scheme": "https", "host": "intra.example", "path": "/wiki"}});
    if let Some(s) = source {
        c["source"] = s;
    }
    c
}

async fn grpc(w: &Warden) -> DecisionClient<tonic::transport::Channel> {
    DecisionClient::connect(format!("http://{}", w.grpc)).await.unwrap()
}

fn grpc_wiki(ip: &str) -> pb::CheckRequest {
    pb::CheckRequest {
        request: Some(pb::HttpRequest {
            method: "GET".to_owned(),
            scheme: "https".to_owned(),
            host: "intra.example".to_owned(),
            path: "/wiki".to_owned(),
            ..Default::default()
        }),
        source: Some(pb::Source { ip: ip.to_owned(), ..Default::default() }),
    }
}

/// A TLS config for both listeners, mutual TLS against the test CA.
fn mtls(pki: &Pki) -> String {
    let tls = format!(
        "cert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n",
        path(&pki.server_cert),
        path(&pki.server_key),
        path(&pki.ca)
    );
    format!("[http.tls]\n{tls}\n[grpc.tls]\n{tls}\n")
}

#[test]
fn a_resource_check_is_judged_as_its_caller() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path()).unwrap();
    let todo = warden_e2e::policies().join("todo");
    let cfg = config(dir.path(), &mtls(&pki));
    let w = Warden::start_with(&todo, &["--config", &cfg], Probe::Tcp).unwrap();
    let check = json!({"resource": {"type": "todo", "id": "t-1", "properties": {"owner": "u-1", "tenant": "acme"}},
        "action": "delete", "subject": {"id": "u-1", "properties": {"tenant": "acme"}}});
    let ask = |cert: &Path, key: &Path, at: &str, body: &Value| {
        let config = pki.client_config(Some((cert, key)), &[b"http/1.1"]).unwrap();
        let r = https_request(config, w.http, "POST", at, Some(body.to_string().as_bytes())).unwrap();
        (r.status, r.json().unwrap())
    };
    // The to-do service's own certificate: its workload may ask, and is allowed.
    let (status, d) = ask(&pki.service_cert, &pki.service_key, "/v1/check/resource", &check);
    assert_eq!((status, d["allow"].clone(), d["reason"].clone()), (200, json!(true), json!("allowed")), "{d}");
    // Another workload's certificate: its own principal is judged, not the zone's.
    let (status, d) = ask(&pki.client_cert, &pki.client_key, "/v1/check/resource", &check);
    assert_eq!((status, d["reason"].clone()), (200, json!("peer_not_allowed")), "{d}");
    // Writing the right principal into the check does not make it so: refused, not judged.
    let mut written = check.clone();
    written["source"] = json!({"principal": "spiffe://todo.example/ns/todo/api"});
    let (status, d) = ask(&pki.client_cert, &pki.client_key, "/v1/check/resource", &written);
    assert_eq!(status, 403, "{d}");
    assert!(d.get("allow").is_none() && d["error"].as_str().unwrap().contains("remove `source`"), "{d}");
    let (status, _) = ask(&pki.service_cert, &pki.service_key, "/v1/check/resource", &written);
    assert_eq!(status, 403);
    // AuthZEN reaches the mTLS zone with the right certificate, and only with it.
    let evaluation = json!({"subject": {"type": "user", "id": "u-1", "properties": {"tenant": "acme"}},
        "action": {"name": "delete"},
        "resource": {"type": "todo", "id": "t-1", "properties": {"owner": "u-1", "tenant": "acme"}}});
    let (status, d) = ask(&pki.service_cert, &pki.service_key, "/access/v1/evaluation", &evaluation);
    assert_eq!((status, d["decision"].clone()), (200, json!(true)), "{d}");
    let (_, d) = ask(&pki.client_cert, &pki.client_key, "/access/v1/evaluation", &evaluation);
    assert_eq!((d["decision"].clone(), d["context"]["reason"].clone()), (json!(false), json!("peer_not_allowed")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_never_reaches_an_mtls_zone() {
    let todo = warden_e2e::policies().join("todo");
    let w = Warden::start(&todo, &[]).unwrap();
    let check = json!({"resource": {"type": "todo", "id": "t-1", "properties": {"owner": "u-1", "tenant": "acme"}},
        "action": "delete", "subject": {"id": "u-1", "properties": {"tenant": "acme"}},
        "source": {"principal": "spiffe://todo.example/ns/todo/api"}});
    // The bypass as it was reported: a written principal over plain HTTP, from loopback.
    let (status, d) = post(&w, "/v1/check/resource", &check);
    assert_eq!(status, 403, "{d}");
    let mut plain = check.clone();
    plain.as_object_mut().unwrap().remove("source");
    let (status, d) = post(&w, "/v1/check/resource", &plain);
    assert_eq!((status, d["allow"].clone(), d["reason"].clone()), (200, json!(false), json!("mtls_required")));
    let evaluation = json!({"subject": {"type": "user", "id": "u-1", "properties": {"tenant": "acme"}},
        "action": {"name": "delete"},
        "resource": {"type": "todo", "id": "t-1", "properties": {"owner": "u-1", "tenant": "acme"}}});
    let (_, d) = post(&w, "/access/v1/evaluation", &evaluation);
    assert_eq!((d["decision"].clone(), d["context"]["reason"].clone()), (json!(false), json!("mtls_required")));
    // gRPC `CheckResource` the same way.
    let mut client = grpc(&w).await;
    let written = pb::ResourceCheckRequest {
        resource: Some(pb::Resource {
            r#type: "todo".to_owned(),
            id: "t-1".to_owned(),
            properties_json: r#"{"owner": "u-1", "tenant": "acme"}"#.to_owned(),
        }),
        action: "delete".to_owned(),
        subject: Some(pb::Subject { id: "u-1".to_owned(), properties_json: r#"{"tenant": "acme"}"#.to_owned() }),
        source: Some(pb::Source { principal: "spiffe://todo.example/ns/todo/api".to_owned(), ..Default::default() }),
        ..Default::default()
    };
    let err = client.check_resource(written.clone()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
    let d = client.check_resource(pb::ResourceCheckRequest { source: None, ..written }).await.unwrap().into_inner();
    assert_eq!((d.allow, d.reason.as_str()), (false, "mtls_required"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_callers_assert_an_http_checks_source() {
    let dir = tempfile::tempdir().unwrap();
    let set = policy_dir(dir.path());
    let office = json!({"ip": "10.1.2.3"});
    {
        // By default a caller on loopback may assert (the quick start, a gateway on the same host).
        let w = Warden::start(&set, &[]).unwrap();
        let (_, d) = post(&w, "/v1/check", &wiki(Some(office.clone())));
        assert_eq!(d["reason"], "allowed", "{d}");
        // Without a source the client is unknown: a network zone denies.
        let (_, d) = post(&w, "/v1/check", &wiki(None));
        assert_eq!(d["reason"], "network_denied", "{d}");
        let d = grpc(&w).await.check(grpc_wiki("10.1.2.3")).await.unwrap().into_inner();
        assert_eq!(d.reason, "allowed");
    }
    // Nobody may assert: the same checks are refused at every door, never judged.
    let cfg = config(dir.path(), "[callers]\nassert_networks = []\n");
    let w = Warden::start(&set, &["--config", &cfg]).unwrap();
    let (status, d) = post(&w, "/v1/check", &wiki(Some(office.clone())));
    assert_eq!(status, 403, "{d}");
    assert!(d["error"].as_str().unwrap().contains("callers.assert_networks"), "{d}");
    let (status, d) = post(&w, "/v1/check/batch", &json!([wiki(None), wiki(Some(office))]));
    assert_eq!(status, 403, "{d}");
    assert!(d["error"].as_str().unwrap().starts_with("check 1: "), "{d}");
    let (_, d) = post(&w, "/v1/check", &wiki(None));
    assert_eq!(d["reason"], "network_denied");
    let err = grpc(&w).await.check(grpc_wiki("10.1.2.3")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    let answer = ext_authz(&w, "10.1.2.3", "https").await;
    assert_eq!(denied_status(&answer), Some(403), "{answer:?}");
}

#[test]
fn a_verified_principal_decides_who_may_assert() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path()).unwrap();
    let set = policy_dir(dir.path());
    let text = format!("{}\n[callers]\nassert_principals = [\"spiffe://gateways.example/*\"]\n", mtls(&pki));
    let cfg = config(dir.path(), &text);
    let w = Warden::start_with(&set, &["--config", &cfg], Probe::Tcp).unwrap();
    let ask = |cert: &Path, key: &Path| {
        let config = pki.client_config(Some((cert, key)), &[b"http/1.1"]).unwrap();
        let body = wiki(Some(json!({"ip": "10.1.2.3"}))).to_string();
        let r = https_request(config, w.http, "POST", "/v1/check", Some(body.as_bytes())).unwrap();
        (r.status, r.json().unwrap())
    };
    let (status, d) = ask(&pki.client_cert, &pki.client_key);
    assert_eq!((status, d["reason"].clone()), (200, json!("allowed")), "{d}");
    // A certificate not listed: refused, though it comes from loopback.
    let (status, d) = ask(&pki.service_cert, &pki.service_key);
    assert_eq!(status, 403, "{d}");
}

#[test]
fn forwarded_for_is_read_right_to_left_past_trusted_proxies() {
    let dir = tempfile::tempdir().unwrap();
    let set = policy_dir(dir.path());
    let cfg = config(dir.path(), "[callers]\ntrusted_proxies = [\"127.0.0.1/32\"]\n");
    let w = Warden::start(&set, &["--config", &cfg]).unwrap();
    let forward = |xff: &str| {
        let headers = [
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/wiki"),
            ("x-forwarded-host", "intra.example"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-for", xff),
        ];
        request(w.http, "GET", "/v1/forward-auth", &headers, None).unwrap().status
    };
    // The proxy appended the address it saw: that is the client.
    assert_eq!(forward("10.1.2.3"), 200);
    // The client wrote an office address itself; the proxy appended the real one.
    assert_eq!(forward("10.1.2.3, 198.51.100.7"), 403);
    // Past another trusted hop (the proxy itself, say).
    assert_eq!(forward("198.51.100.7, 10.1.2.3, 127.0.0.1"), 200);
    assert_eq!(forward("10.1.2.3, not-an-address"), 400);
}

async fn ext_authz(w: &Warden, ip: &str, scheme: &str) -> envoy_types::ext_authz::v3::pb::CheckResponse {
    use envoy_types::ext_authz::v3::pb::CheckRequest;
    use envoy_types::pb::envoy::config::core::v3::{Address, SocketAddress, address};
    use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
    use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Peer, Request};
    use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
    let mut client = AuthorizationClient::connect(format!("http://{}", w.grpc)).await.unwrap();
    let source = Peer {
        address: Some(Address {
            address: Some(address::Address::SocketAddress(SocketAddress {
                address: ip.to_owned(),
                ..Default::default()
            })),
        }),
        ..Default::default()
    };
    let http = HttpRequest {
        method: "GET".to_owned(),
        path: "/wiki".to_owned(),
        host: "intra.example".to_owned(),
        scheme: scheme.to_owned(),
        ..Default::default()
    };
    let attributes = AttributeContext {
        source: Some(source),
        request: Some(Request { http: Some(http), ..Default::default() }),
        ..Default::default()
    };
    client.check(CheckRequest { attributes: Some(attributes) }).await.unwrap().into_inner()
}

fn denied_status(r: &envoy_types::ext_authz::v3::pb::CheckResponse) -> Option<i32> {
    use envoy_types::ext_authz::v3::pb::HttpResponse;
    match &r.http_response {
        Some(HttpResponse::DeniedResponse(d)) => d.status.as_ref().map(|s| s.code),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_door_needs_a_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let w = Warden::start(&policy_dir(dir.path()), &[]).unwrap();
    let mut c = wiki(Some(json!({"ip": "10.1.2.3"})));
    c["request"].as_object_mut().unwrap().remove("scheme");
    let (status, d) = post(&w, "/v1/check", &c);
    assert_eq!(status, 400, "{d}");
    assert!(d["error"].as_str().unwrap().contains("missing field `scheme`"), "{d}");
    c["request"]["scheme"] = json!("");
    assert_eq!(post(&w, "/v1/check", &c).0, 400);
    let mut g = grpc_wiki("10.1.2.3");
    g.request.as_mut().unwrap().scheme = String::new();
    assert_eq!(grpc(&w).await.check(g).await.unwrap_err().code(), tonic::Code::InvalidArgument);
    assert_eq!(denied_status(&ext_authz(&w, "10.1.2.3", "").await), Some(400));
    assert_eq!(denied_status(&ext_authz(&w, "10.1.2.3", "https").await), None, "the same check with a scheme");
    let headers = [("x-forwarded-method", "GET"), ("x-forwarded-uri", "/hello"), ("x-forwarded-host", "pub.example")];
    let r = request(w.http, "GET", "/v1/forward-auth", &headers, None).unwrap();
    assert_eq!(r.status, 400);
    assert!(r.json().unwrap()["error"].as_str().unwrap().contains("X-Forwarded-Proto"));
}

#[test]
fn json_apis_take_json_only() {
    let dir = tempfile::tempdir().unwrap();
    let w = Warden::start(&policy_dir(dir.path()), &[]).unwrap();
    let body = wiki(None).to_string();
    for at in ["/v1/check", "/v1/check/batch", "/v1/check/resource", "/access/v1/evaluation", "/access/v1/evaluations"]
    {
        for media in [Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("multipart/form-data"), None]
        {
            let headers: Vec<(&str, &str)> = media.iter().map(|m| ("content-type", *m)).collect();
            let r = request(w.http, "POST", at, &headers, Some(body.as_bytes())).unwrap();
            assert_eq!(r.status, 415, "{at} {media:?}");
        }
    }
    let ok = request(
        w.http,
        "POST",
        "/v1/check",
        &[("content-type", "application/json; charset=utf-8")],
        Some(body.as_bytes()),
    );
    assert_eq!(ok.unwrap().status, 200);
    // The gRPC port takes gRPC only.
    let r = request(w.grpc, "POST", "/warden.v1.Decision/Check", &[("content-type", "application/json")], Some(b"{}"));
    assert_eq!(r.unwrap().status, 415);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_gets_one_answer() {
    let dir = tempfile::tempdir().unwrap();
    let w = Warden::start(&policy_dir(dir.path()), &[]).unwrap();
    let send = |at: &str, text: &str| {
        let r = request(w.http, "POST", at, &[("content-type", "application/json")], Some(text.as_bytes())).unwrap();
        (r.status, r.json().unwrap())
    };
    // A field given twice: refused alone and in a batch alike.
    let twice =
        r#"{"request": {"method": "GET", "scheme": "https", "host": "pub.example", "path": "/hello", "path": "/x"}}"#;
    let (status, d) = send("/v1/check", twice);
    assert_eq!(status, 400, "{d}");
    let (status, d) = send("/v1/check/batch", &format!("[{twice}]"));
    assert_eq!(status, 400, "{d}");
    assert!(d["error"].as_str().unwrap().contains("duplicate field `path`"), "{d}");
    // One id, said once.
    let (status, d) = send(
        "/v1/check/resource",
        r#"{"resource": {"type": "doc", "id": "1", "properties": {"id": "2"}}, "action": "read"}"#,
    );
    assert_eq!(status, 400, "{d}");
    // `Authorization` twice in different letter case: refused at every door.
    let hello = |headers: Value| {
        json!({"request": {"method": "GET", "scheme": "https", "host": "pub.example", "path": "/hello",
            "headers": headers}})
    };
    let (status, d) = post(&w, "/v1/check", &hello(json!({"Authorization": "Bearer a", "authorization": "Bearer b"})));
    assert_eq!(status, 400, "{d}");
    let mut g = grpc_wiki("");
    g.source = None;
    g.request.as_mut().unwrap().headers = [("Authorization", "Bearer a"), ("authorization", "Bearer b")]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into();
    assert_eq!(grpc(&w).await.check(g).await.unwrap_err().code(), tonic::Code::InvalidArgument);
    // The declared upstream header Warden could not fill is named, as over gRPC.
    let (_, d) = post(&w, "/v1/check", &hello(json!({})));
    assert_eq!((d["allow"].clone(), d["unset_headers"].clone()), (json!(true), json!(["x-name"])), "{d}");
    let (_, d) = post(&w, "/v1/check", &hello(json!({"x-user": "ada"})));
    assert_eq!(d["headers"]["x-name"], "ada", "{d}");
    assert!(d.get("unset_headers").is_none(), "{d}");
}

#[test]
fn what_a_check_carries_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let set = policy_dir(dir.path());
    let w = Warden::start(&set, &[]).unwrap();
    let hello = |headers: Value, path: &str| json!({"request": {"method": "GET", "scheme": "https", "host": "pub.example", "path": path, "headers": headers}});
    let big = "x".repeat(9 << 10);
    let (status, d) = post(&w, "/v1/check", &hello(json!({"x-user": big}), "/hello"));
    assert_eq!(status, 400, "{d}");
    assert!(d["error"].as_str().unwrap().contains("larger than 8192 bytes"), "{d}");
    let many: serde_json::Map<String, Value> = (0..101).map(|i| (format!("h{i}"), json!("v"))).collect();
    let (status, d) = post(&w, "/v1/check", &hello(Value::Object(many), "/hello"));
    assert!(status == 400 && d["error"].as_str().unwrap().contains("more than 100 headers"), "{d}");
    let long = format!("/hello?{}", "q".repeat(9 << 10));
    assert_eq!(post(&w, "/v1/check", &hello(json!({}), &long)).0, 400);
    drop(w);
    // The bounds are the config's.
    let cfg = config(dir.path(), "[check_limits]\nmax_header_bytes = 20000\nmax_target_bytes = 20000\n");
    let w = Warden::start(&set, &["--config", &cfg]).unwrap();
    let (_, d) = post(&w, "/v1/check", &hello(json!({"x-user": big}), &long));
    assert_eq!(d["reason"], "allowed", "{d}");
}
