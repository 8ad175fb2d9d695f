//! The introspection cache's hit path against a cached JWT (issue 17's
//! target: within 2×): the same route decided through the server's decision
//! seam (`decide_now`) with a JWT the token cache holds, and with an opaque
//! token whose introspection answer is kept. The introspection endpoint is a
//! small axum server on loopback, asked once before timing. Every case checks
//! its decision first.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "benchmark setup")]
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use warden_engine::run::HttpRequest;
use warden_server::decide::{Check, Door, decide_now};
use warden_server::state::{Service, now_ms};

fn policy(endpoint: &str) -> String {
    format!(
        r#"zone jwt {{
  issuer "https://idp.bench.example" {{
    jwks file "idp.jwks.json"
    audience "https://api.bench.example"
    algorithms RS256
  }}
}}

zone opaque {{
  issuer "https://idp.bench.example" {{
    introspect url "{endpoint}" client "warden" secret file "introspection.secret" cache 10m
    audience "https://opaque.bench.example"
  }}
}}

api jwt in zone jwt {{
  host "jwt.bench.example"
  auth bearer
  route GET "/accounts/{{id}}" {{
    scope "accounts:read"
    allow when claim.customer_id == path.id
  }}
}}

api opaque in zone opaque {{
  host "opaque.bench.example"
  auth bearer
  route GET "/accounts/{{id}}" {{
    scope "accounts:read"
    allow when claim.customer_id == path.id
  }}
}}
"#
    )
}

fn get(host: &str, token: &str) -> Check {
    Check::Http(HttpRequest {
        method: "GET".to_owned(),
        scheme: "https".to_owned(),
        host: host.to_owned(),
        target: "/accounts/42".to_owned(),
        headers: vec![("authorization".to_owned(), format!("Bearer {token}"))],
        now_ms: now_ms(),
        ..HttpRequest::default()
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let asked = Arc::new(AtomicU64::new(0));
    let counter = asked.clone();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/introspect",
        axum::routing::post(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            async move {
                axum::Json(
                    json!({"active": true, "iss": "https://idp.bench.example", "aud": "https://opaque.bench.example",
                    "sub": "u-42", "customer_id": "42", "scope": "accounts:read", "exp": now_ms() / 1_000 + 3_600}),
                )
            }
        }),
    );
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let idp = warden_e2e::idp::TestIdp::new("https://idp.bench.example", "https://api.bench.example", "b1").unwrap();
    std::fs::write(dir.path().join("idp.jwks.json"), idp.jwks().to_string()).unwrap();
    std::fs::write(dir.path().join("introspection.secret"), "bench-secret").unwrap();
    std::fs::write(dir.path().join("bench.warden"), policy(&format!("http://{addr}/introspect"))).unwrap();
    let service = Arc::new(
        Service::new(dir.path().to_path_buf(), 1_000, None)
            .with_introspection(rt.handle().clone(), std::time::Duration::from_secs(2)),
    );
    service.reload().unwrap();
    let loaded = service.current().unwrap();
    let decide = |check: &Check| decide_now(&service, &loaded, check, Door::Http);

    let jwt =
        get("jwt.bench.example", &idp.mint(&json!({"sub": "u-42", "customer_id": "42", "scope": "accounts:read"})));
    let opaque = get("opaque.bench.example", "an-opaque-reference-token-of-43-characters");
    assert!(decide(&jwt).allow);
    let d = decide(&opaque);
    assert!(d.allow, "{d:?}");
    assert!(decide(&opaque).allow);
    assert_eq!(asked.load(Ordering::Relaxed), 1, "the second decision used the kept answer");

    let mut group = c.benchmark_group("introspection");
    group.bench_function("cached JWT", |b| b.iter(|| black_box(decide(black_box(&jwt)))));
    group.bench_function("kept introspection answer", |b| b.iter(|| black_box(decide(black_box(&opaque)))));
    group.finish();
    assert_eq!(asked.load(Ordering::Relaxed), 1, "never asked again while timed");
}

criterion_group!(benches, bench);
criterion_main!(benches);
