//! The SDK against a real `warden serve` on loopback and against the embedded
//! mode: the client and `POST /v1/check` agree, both modes decide alike on the
//! example policies, the layer answers like the gateways, and a Warden that is
//! down or silent fails closed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use http::{HeaderMap, Request, Response};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use warden_e2e::Warden;
use warden_e2e::idp::{TestIdp, bank_with_test_idp};
use warden_sdk::{
    Check, Client, ClientConfig, Decide, Decision, Embedded, Error, FailMode, HttpCheck, ResourceCheck, Source,
    Subject, WardenLayer,
};

const HOST: &str = "api.bank.example";
const TODO_PEER: &str = "spiffe://todo.example/ns/todo/api";

fn client(w: &Warden) -> Client {
    ClientConfig::new(&format!("http://{}", w.grpc)).deadline(Duration::from_secs(5)).build().unwrap()
}

fn customer_token(idp: &TestIdp, customer: &str, scope: &str) -> String {
    let t = idp.mint(&json!({"sub": format!("customer-{customer}"), "customer_id": customer,
        "scope": scope, "client_id": "app"}));
    format!("Bearer {t}")
}

/// The bank checks of the gateway tests: no token, own account, a transfer, the
/// wrong scope, another customer's account, plain http.
fn bank_checks(idp: &TestIdp) -> Vec<HttpCheck> {
    let own = customer_token(idp, "42", "accounts:read");
    let payments = customer_token(idp, "42", "payments:read");
    let mut plain = HttpCheck::new("GET", HOST, "/v1/accounts/42").header("authorization", &own);
    plain.scheme = "http".to_owned();
    vec![
        HttpCheck::new("GET", HOST, "/v1/accounts/42"),
        HttpCheck::new("GET", HOST, "/v1/accounts/42").header("authorization", &own),
        HttpCheck::new("GET", HOST, "/v1/transfers/t-1").header("authorization", &payments),
        HttpCheck::new("GET", HOST, "/v1/accounts/42").header("authorization", &payments),
        HttpCheck::new("GET", HOST, "/v1/accounts/43").header("authorization", &own),
        plain,
    ]
}

/// What must agree between two decisions of the same request (ids differ).
fn key(d: &Decision) -> (bool, u16, String, String, Vec<(String, String)>) {
    let headers = d.headers.iter().filter(|(n, _)| !n.starts_with("ratelimit")).map(|(n, v)| (n.clone(), v.clone()));
    (d.allow, d.status, d.reason.clone(), d.revision.clone(), headers.collect())
}

fn json_check(c: &HttpCheck) -> Value {
    json!({"request": {"method": c.method, "scheme": c.scheme, "host": c.host, "path": c.path,
        "headers": c.headers}, "source": {"ip": c.source.ip.map(|i| i.to_string())}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_and_embedded_agree_with_http_check_on_bank() {
    let dir = tempfile::tempdir().unwrap();
    let idp = bank_with_test_idp(dir.path()).unwrap();
    let w = Warden::start(dir.path(), &[]).unwrap();
    let remote = client(&w);
    let embedded = Embedded::open(dir.path()).unwrap();
    let checks = bank_checks(&idp);
    let mut reasons = Vec::new();
    for c in &checks {
        let over_grpc = remote.check(c).await.unwrap();
        let over_http = w.post_json("/v1/check", &json_check(c)).unwrap();
        assert_eq!(over_http.status, 200);
        let h = over_http.json().unwrap();
        let over_http = Decision {
            allow: h["allow"].as_bool().unwrap(),
            status: u16::try_from(h["status"].as_u64().unwrap()).unwrap(),
            reason: h["reason"].as_str().unwrap().to_owned(),
            revision: h["revision"].as_str().unwrap().to_owned(),
            headers: serde_json::from_value(h["headers"].clone()).unwrap_or_default(),
            ..Decision::default()
        };
        assert_eq!(key(&over_grpc), key(&over_http), "{c:?}");
        let in_process = embedded.check(c).await.unwrap();
        assert_eq!(key(&over_grpc), key(&in_process), "{c:?}");
        assert!(!over_grpc.decision_id.is_empty());
        reasons.push(over_grpc.reason.clone());
    }
    assert_eq!(
        reasons,
        ["credentials_missing", "allowed", "allowed", "insufficient_scope", "no_allow_rule", "tls_required"]
    );
    // The transfer's upstream header comes from the verified token.
    let transfer = remote.check(&checks[2]).await.unwrap();
    assert_eq!(transfer.headers.get("x-customer-id").map(String::as_str), Some("42"));

    // A batch answers in order, on one revision, alike in both modes.
    let batch: Vec<Check> = checks.iter().cloned().map(Check::Http).collect();
    let a = remote.check_batch(&batch).await.unwrap();
    let b = embedded.check_batch(&batch).await.unwrap();
    assert_eq!(a.len(), checks.len());
    assert_eq!(a.iter().map(key).collect::<Vec<_>>(), b.iter().map(key).collect::<Vec<_>>());
    assert_eq!(a[0].reason, "credentials_missing");

    // A check Warden cannot judge is an error, never an allow (and no fail mode opens it).
    let bad = HttpCheck::new("", HOST, "/v1/accounts/42");
    let err = remote.check(&bad).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert!(matches!(embedded.check(&bad).await.unwrap_err(), Error::InvalidArgument(_)));
    assert_eq!(FailMode::Open.resolve(Err(err)).status, 400);
}

/// The principal of the test PKI's gateway certificate (`Pki::client_cert`).
const OTHER_PEER: &str = "spiffe://gateways.example/edge";

/// Resource checks of the to-do service, the reason each gets, and the peer
/// that asks: the embedded mode is told the peer (`source`, its own process's
/// assertion); a remote Warden sees it in the client certificate of the call.
fn todo_checks() -> Vec<(ResourceCheck, &'static str, Option<&'static str>)> {
    let obj = |v: Value| v.as_object().cloned().unwrap();
    let check = |action: &str, user: &str, roles: Value, item: Value| {
        let mut c = ResourceCheck::new("todo", "t-1", action);
        c.properties = obj(item);
        c.subject = Some(Subject { id: user.to_owned(), properties: obj(json!({"tenant": "acme", "roles": roles})) });
        c
    };
    let item = json!({"owner": "u-1", "tenant": "acme", "shared_with": ["u-2"]});
    let p = Some(TODO_PEER);
    vec![
        (check("read", "u-1", json!(["user"]), item.clone()), "allowed", p),
        (check("read", "u-2", json!(["user"]), item.clone()), "allowed", p),
        (check("read", "u-4", json!(["user"]), item.clone()), "no_allow_rule", p),
        (check("edit", "u-2", json!(["user"]), item.clone()), "no_allow_rule", p),
        (
            check("edit", "u-1", json!(["user"]), json!({"owner": "u-1", "tenant": "acme", "archived": true})),
            "denied_by_rule",
            p,
        ),
        (check("delete", "u-9", json!(["admin"]), item.clone()), "allowed", p),
        (check("delete", "u-9", json!(["admin"]), json!({"owner": "u-1", "tenant": "other"})), "denied_by_rule", p),
        (check("read", "u-1", json!(["user"]), item.clone()), "mtls_required", None),
        (check("read", "u-1", json!(["user"]), item), "peer_not_allowed", Some(OTHER_PEER)),
    ]
}

/// `check` as the embedded mode is asked it: with the peer as its source.
fn told(check: &ResourceCheck, peer: Option<&str>) -> ResourceCheck {
    let mut c = check.clone();
    c.source = Source { ip: None, principal: peer.map(str::to_owned) };
    c
}

/// A `warden serve` of `policies/todo` whose gRPC listener takes mutual TLS
/// with the test PKI, and clients presenting the to-do service's certificate
/// and the gateway's.
fn todo_over_mtls(dir: &std::path::Path) -> (Warden, Client, Client) {
    let pki = warden_e2e::pki::Pki::new(dir).unwrap();
    let path = |p: &std::path::Path| p.to_string_lossy().replace('\\', "/");
    let config = dir.join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[grpc.tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n",
            path(&pki.server_cert),
            path(&pki.server_key),
            path(&pki.ca)
        ),
    )
    .unwrap();
    let todo = warden_e2e::policies().join("todo");
    let w = Warden::start(&todo, &["--config", &config.to_string_lossy()]).unwrap();
    let read = |p: &std::path::Path| std::fs::read(p).unwrap();
    let with = |cert: &std::path::Path, key: &std::path::Path| {
        ClientConfig::new(&format!("https://{}", w.grpc))
            .deadline(Duration::from_secs(5))
            .ca_pem(&read(&pki.ca))
            .domain_name("localhost")
            .identity_pem(&read(cert), &read(key))
            .build()
            .unwrap()
    };
    let service = with(&pki.service_cert, &pki.service_key);
    let gateway = with(&pki.client_cert, &pki.client_key);
    (w, service, gateway)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_and_remote_agree_on_todo_resource_checks() {
    let dir = tempfile::tempdir().unwrap();
    let (_w, service, gateway) = todo_over_mtls(dir.path());
    let todo = warden_e2e::policies().join("todo");
    let plain_w = Warden::start(&todo, &[]).unwrap();
    let plain = client(&plain_w);
    let embedded = Embedded::open(&todo).unwrap();
    for (c, reason, peer) in todo_checks() {
        let remote = match peer {
            Some(TODO_PEER) => &service,
            Some(_) => &gateway,
            None => &plain,
        };
        let a = remote.check_resource(&c).await.unwrap();
        let b = embedded.check_resource(&told(&c, peer)).await.unwrap();
        assert_eq!(a.reason, reason, "{c:?}");
        assert_eq!(a.allow, reason == "allowed", "{c:?}");
        assert_eq!(key(&a), key(&b), "{c:?}");
    }
    let ours: Vec<_> = todo_checks().into_iter().filter(|c| c.2 == Some(TODO_PEER)).collect();
    let batch: Vec<Check> = ours.iter().map(|(c, _, _)| Check::Resource(c.clone())).collect();
    let told_batch: Vec<Check> = ours.iter().map(|(c, _, p)| Check::Resource(told(c, *p))).collect();
    let a = service.check_batch(&batch).await.unwrap();
    let b = embedded.check_batch(&told_batch).await.unwrap();
    assert_eq!(a.iter().map(|d| d.reason.as_str()).collect::<Vec<_>>(), ours.iter().map(|c| c.1).collect::<Vec<_>>());
    assert_eq!(a.iter().map(key).collect::<Vec<_>>(), b.iter().map(key).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_warden_refuses_a_written_peer() {
    let dir = tempfile::tempdir().unwrap();
    let (_w, _, gateway) = todo_over_mtls(dir.path());
    let (check, _, _) = todo_checks().remove(0);
    // The gateway's certificate, and the to-do service's principal written in:
    // an error, never a decision, and never an allow whatever the fail mode.
    let err = gateway.check_resource(&told(&check, Some(TODO_PEER))).await.unwrap_err();
    assert!(err.to_string().contains("remove `source`"), "{err:?}");
    assert!(!FailMode::Closed.resolve(Err(err)).allow);
}

/// The protected service: counts its calls and echoes the `x-customer-id` values it got.
fn app(hits: Arc<AtomicUsize>) -> Router {
    Router::new().fallback(get(move |headers: HeaderMap| {
        let hits = hits.clone();
        async move {
            hits.fetch_add(1, Ordering::SeqCst);
            let ids: Vec<&str> = headers.get_all("x-customer-id").iter().filter_map(|v| v.to_str().ok()).collect();
            axum::Json(json!({"x-customer-id": ids}))
        }
    }))
}

fn request(path: &str, headers: &[(&str, &str)], from: &str) -> Request<Body> {
    let mut r = Request::builder().uri(path).header("host", HOST);
    for (n, v) in headers {
        r = r.header(*n, *v);
    }
    let mut r = r.body(Body::empty()).unwrap();
    let addr: SocketAddr = format!("{from}:40000").parse().unwrap();
    r.extensions_mut().insert(ConnectInfo(addr));
    r
}

async fn body_json(r: Response<Body>) -> Value {
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

async fn layer_like_the_gateways<D: Decide>(decider: D, idp: &TestIdp) {
    let hits = Arc::new(AtomicUsize::new(0));
    let layer = WardenLayer::new(decider.clone()).reserved_headers(&["x-customer-id"]);
    let svc = app(hits.clone()).layer(layer);
    let own = customer_token(idp, "42", "accounts:read");
    let payments = customer_token(idp, "42", "payments:read");

    let r = svc.clone().oneshot(request("/v1/accounts/42", &[], "127.0.0.1")).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"edge\"");
    assert!(r.headers().contains_key("x-warden-decision-id"));
    let b = body_json(r).await;
    assert_eq!((b["allow"].clone(), b["reason"].clone()), (json!(false), json!("credentials_missing")));
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    // Own account: allowed; a client-sent x-customer-id on a route that sets none is gone.
    let r = svc
        .clone()
        .oneshot(request("/v1/accounts/42", &[("authorization", &own), ("x-customer-id", "99")], "127.0.0.1"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(body_json(r).await["x-customer-id"], json!([]));
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // A transfer: the upstream header from the token, once, whatever the client sent.
    let r = svc
        .clone()
        .oneshot(request("/v1/transfers/t-1", &[("authorization", &payments), ("x-customer-id", "99")], "127.0.0.1"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(body_json(r).await["x-customer-id"], json!(["42"]));

    let r =
        svc.clone().oneshot(request("/v1/accounts/42", &[("authorization", &payments)], "127.0.0.1")).await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=\"edge\", error=\"insufficient_scope\", scope=\"accounts:read\""
    );
    assert_eq!(body_json(r).await["reason"], "insufficient_scope");
    let r = svc.clone().oneshot(request("/v1/accounts/43", &[("authorization", &own)], "127.0.0.1")).await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(body_json(r).await["reason"], "no_allow_rule");
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // Plain http, said honestly: the zone's `require tls` refuses it.
    let plain = app(hits.clone()).layer(WardenLayer::new(decider).scheme("http"));
    let r = plain.oneshot(request("/v1/accounts/42", &[("authorization", &own)], "127.0.0.1")).await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(body_json(r).await["reason"], "tls_required");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer_answers_like_the_gateways_remote_and_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let idp = bank_with_test_idp(dir.path()).unwrap();
    let w = Warden::start(dir.path(), &[]).unwrap();
    layer_like_the_gateways(client(&w), &idp).await;
    layer_like_the_gateways(Embedded::open(dir.path()).unwrap(), &idp).await;
}

const TINY: &str = r#"limit tiny = 1 per 1m by source.ip

zone open {
}

api probe in zone open {
  host "api.bank.example"
  prefix "/p"
  auth none
  limit tiny

  route GET "/ping" {
    allow
  }
}
"#;

async fn retry_after<D: Decide>(decider: D, from: &str) {
    let hits = Arc::new(AtomicUsize::new(0));
    let svc = app(hits.clone()).layer(WardenLayer::new(decider));
    let r = svc.clone().oneshot(request("/p/ping", &[], from)).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = svc.clone().oneshot(request("/p/ping", &[], from)).await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "retry-after {retry}");
    assert_eq!(r.headers()["ratelimit-limit"], "1");
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(body_json(r).await["reason"], "rate_limited");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // Another address has a bucket of its own.
    let r = svc.oneshot(request("/p/ping", &[], "203.0.113.99")).await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_denial_carries_retry_after_through_the_layer() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.warden"), TINY).unwrap();
    let w = Warden::start(dir.path(), &[]).unwrap();
    retry_after(client(&w), "203.0.113.5").await;
    retry_after(Embedded::open(dir.path()).unwrap(), "203.0.113.6").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_fails_closed() {
    let port = warden_e2e::free_port().unwrap();
    let down = ClientConfig::new(&format!("http://127.0.0.1:{port}")).deadline(Duration::from_secs(2)).build().unwrap();
    let start = Instant::now();
    let err = down.check(&HttpCheck::new("GET", HOST, "/v1/accounts/42")).await.unwrap_err();
    assert!(matches!(&err, Error::Unavailable(m) if m.contains("refused")), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    let err = down.check_resource(&ResourceCheck::new("todo", "t-1", "read")).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");

    let hits = Arc::new(AtomicUsize::new(0));
    let r = app(hits.clone())
        .layer(WardenLayer::new(down.clone()))
        .oneshot(request("/v1/accounts/42", &[], "127.0.0.1"))
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(body_json(r).await["reason"], "unavailable");
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    // Failing open is a choice: the request is passed on.
    let r = app(hits.clone())
        .layer(WardenLayer::new(down).fail_mode(FailMode::Open))
        .oneshot(request("/v1/accounts/42", &[], "127.0.0.1"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_a_deadline_exceeded() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            conns.push(s);
        }
    });
    let silent = ClientConfig::new(&format!("http://{addr}")).deadline(Duration::from_millis(300)).build().unwrap();
    let start = Instant::now();
    let err = silent.check(&HttpCheck::new("GET", HOST, "/v1/accounts/42")).await.unwrap_err();
    let took = start.elapsed();
    assert_eq!(err, Error::DeadlineExceeded(300));
    assert!(took >= Duration::from_millis(250) && took < Duration::from_secs(2), "{took:?}");

    let hits = Arc::new(AtomicUsize::new(0));
    let r = app(hits.clone())
        .layer(WardenLayer::new(silent))
        .oneshot(request("/v1/accounts/42", &[], "127.0.0.1"))
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    held.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_mode_reloads_a_changed_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.warden"), TINY).unwrap();
    let pdp = Embedded::open(dir.path()).unwrap();
    let before = pdp.revision();
    let ping = HttpCheck::new("GET", HOST, "/p/pong");
    assert_eq!(pdp.check(&ping).await.unwrap().status, 404);
    std::fs::write(dir.path().join("tiny.warden"), TINY.replace("\"/ping\"", "\"/pong\"")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while pdp.revision() == before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(pdp.revision(), before);
    assert!(pdp.check(&ping).await.unwrap().allow);
    // A broken change is not published: the last good revision keeps deciding.
    let good = pdp.revision();
    std::fs::write(dir.path().join("tiny.warden"), "api {").unwrap();
    assert!(matches!(pdp.reload(), Err(Error::Policy(_))));
    assert_eq!(pdp.revision(), good);
    let mut other = ping.clone();
    other.source.ip = Some("203.0.113.7".parse().unwrap());
    assert!(pdp.check(&other).await.unwrap().allow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_to_warden() {
    let dir = tempfile::tempdir().unwrap();
    let (w, service, _) = todo_over_mtls(dir.path());
    let (check, reason, _) = todo_checks().remove(0);
    let d = service.check_resource(&check).await.unwrap();
    assert_eq!((d.allow, d.reason.as_str()), (true, reason));
    // Without a client certificate the handshake fails: no answer, never an allow.
    let pki_ca = std::fs::read(dir.path().join("ca.pem")).unwrap();
    let without = ClientConfig::new(&format!("https://{}", w.grpc))
        .deadline(Duration::from_secs(5))
        .ca_pem(&pki_ca)
        .domain_name("localhost")
        .build()
        .unwrap();
    let err = without.check_resource(&check).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    assert!(!FailMode::Closed.resolve(Err(err)).allow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layer_sends_a_bounded_body_and_hands_it_on() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.warden"), TINY).unwrap();
    let pdp = Embedded::open(dir.path()).unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = hits.clone();
    let echo = Router::new().fallback(move |body: axum::body::Bytes| {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            body
        }
    });
    let svc = echo.layer(WardenLayer::new(pdp).body_limit(8));
    let with_body = |body: &'static str, from: &str| {
        let mut r = request("/p/ping", &[], from);
        *r.body_mut() = Body::from(body);
        r
    };
    let r = svc.clone().oneshot(with_body("0123456789abcdef", "203.0.113.20")).await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(body_json(r).await["reason"], "body_too_large");
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    let r = svc.oneshot(with_body("hello", "203.0.113.21")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.into_body().collect().await.unwrap().to_bytes(), "hello");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

async fn unset_upstream_header_is_stripped<D: Decide>(decider: D, idp: &TestIdp) {
    // No `reserved_headers`: the decision itself names the header to remove.
    let hits = Arc::new(AtomicUsize::new(0));
    let svc = app(hits.clone()).layer(WardenLayer::new(decider));
    let teller = format!("Bearer {}", idp.mint(&json!({"sub": "teller-1", "client_id": "branch"})));
    let r = svc
        .clone()
        .oneshot(request("/v1/whoami", &[("authorization", &teller), ("x-customer-id", "99")], "198.51.100.7"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(body_json(r).await["x-customer-id"], json!([]), "the client's copy reached the service");
    let customer = customer_token(idp, "42", "");
    let r = svc
        .oneshot(request("/v1/whoami", &[("authorization", &customer), ("x-customer-id", "99")], "198.51.100.7"))
        .await
        .unwrap();
    assert_eq!(body_json(r).await["x-customer-id"], json!(["42"]));
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_header_warden_could_not_fill_is_removed_in_both_modes() {
    let dir = tempfile::tempdir().unwrap();
    let idp = bank_with_test_idp(dir.path()).unwrap();
    std::fs::write(dir.path().join("whoami.warden"), warden_e2e::idp::WHOAMI_POLICY).unwrap();
    let w = Warden::start(dir.path(), &[]).unwrap();
    let mut c = HttpCheck::new("GET", HOST, "/v1/whoami")
        .header("authorization", &format!("Bearer {}", idp.mint(&json!({"sub": "teller-1"}))));
    c.source = Source { ip: "198.51.100.7".parse().ok(), principal: None };
    let d = client(&w).check(&c).await.unwrap();
    assert!(d.allow);
    assert_eq!(d.unset_headers, ["x-customer-id"]);
    unset_upstream_header_is_stripped(client(&w), &idp).await;
    unset_upstream_header_is_stripped(Embedded::open(dir.path()).unwrap(), &idp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layer_refuses_a_repeated_authorization_header() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.warden"), TINY).unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let svc = app(hits.clone()).layer(WardenLayer::new(Embedded::open(dir.path()).unwrap()));
    let twice = [("authorization", "Bearer a"), ("authorization", "Bearer b")];
    let r = svc.clone().oneshot(request("/p/ping", &twice, "203.0.113.8")).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(body_json(r).await["reason"], "bad_request");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the service was not called");
    // Once is fine (the route takes no credentials, and is allowed).
    let r = svc.oneshot(request("/p/ping", &twice[..1], "203.0.113.8")).await.unwrap();
    assert_eq!(r.status(), 200);
}
