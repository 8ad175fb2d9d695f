//! `POST /v1/check` through Warden's own HTTP router, in process (no socket),
//! beside the floor: an axum router whose handler parses the same body as JSON
//! and answers a fixed JSON object. Same runtime, same request, one run; the
//! ratio is what Warden's door adds on top of axum (parsing the check,
//! the decision, the decision log line and metrics, the answer). Every case
//! checks its answer before it is timed.
//!
//! `/v1/check/batch` with 100 such checks is timed beside the engine's own
//! decision of the same request (the performance issue's target: a batch
//! costs at most 1.5× the engine per check).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "benchmark setup")]
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes, to_bytes};
use axum::http::{Request, StatusCode};
use axum::routing::post;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use tower::ServiceExt as _;
use warden_server::api::{AnyCheck, parse_check};
use warden_server::http::{Http, router};
use warden_server::state::{Service, now_ms};

fn request(body: &str) -> Request<Body> {
    post_to("/v1/check", body)
}

fn post_to(path: &str, body: &str) -> Request<Body> {
    Request::post(path).header("content-type", "application/json").body(Body::from(body.to_owned())).unwrap()
}

/// Checks in the timed batch.
const BATCH: usize = 100;

/// Status and JSON body of one request through `app`.
async fn call(app: axum::Router, body: &str) -> (StatusCode, Value) {
    call_to(app, "/v1/check", body).await
}

async fn call_to(app: axum::Router, path: &str, body: &str) -> (StatusCode, Value) {
    let r = app.oneshot(post_to(path, body)).await.unwrap();
    let status = r.status();
    let bytes = to_bytes(r.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn bench(c: &mut Criterion) {
    // The load benchmark's policy (`warden_e2e::bench`), with a key of this run.
    let dir = tempfile::tempdir().unwrap();
    let token = warden_e2e::bench::write_policy(dir.path()).unwrap();
    let check = json!({"request": {"method": "GET", "scheme": "https", "host": "api.bench.example",
        "path": "/v1/accounts/42", "headers": {"authorization": format!("Bearer {token}")}}})
    .to_string();

    let service = Arc::new(Service::new(dir.path().to_path_buf(), 1_000, None));
    service.reload().unwrap();
    let loaded = service.current().unwrap();
    // The same check as the engine's request, as the door builds it.
    let AnyCheck::Http(parsed) = parse_check(check.as_bytes()).unwrap() else { panic!("not an HTTP check") };
    let engine_request = parsed.into_engine((None, None), now_ms(), &service.bounds).unwrap();
    let warden = router(
        Http { service: service.clone(), tls: false, authzen_base_url: None, issuer: None },
        1 << 20,
        Duration::from_secs(5),
    );
    let batch = format!("[{}]", vec![check.as_str(); BATCH].join(","));
    let floor = axum::Router::new().route(
        "/v1/check",
        post(|body: Bytes| async move {
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            axum::Json(json!({"allow": v.is_object(), "status": 200, "reason": "allowed"}))
        }),
    );

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // Before timing: Warden allows (the first call verifies and caches the
    // token), with its upstream header; the floor answers.
    let (status, answer) = rt.block_on(call(warden.clone(), &check));
    assert_eq!(
        (status, &answer["allow"], &answer["reason"]),
        (StatusCode::OK, &json!(true), &json!("allowed")),
        "{answer}"
    );
    assert_eq!(answer["headers"]["x-customer-id"], "42", "{answer}");
    let (status, answer) = rt.block_on(call(floor.clone(), &check));
    assert_eq!((status, &answer["allow"]), (StatusCode::OK, &json!(true)));
    let (status, answer) = rt.block_on(call_to(warden.clone(), "/v1/check/batch", &batch));
    assert_eq!(status, StatusCode::OK, "{answer}");
    let answers = answer.as_array().unwrap();
    assert_eq!(answers.len(), BATCH);
    assert!(answers.iter().all(|a| a["allow"] == json!(true) && a["reason"] == json!("allowed")), "{answer}");
    let d = loaded.engine.check_http(&engine_request);
    assert!(d.allow && d.headers.iter().any(|(n, v)| n == "x-customer-id" && v == "42"), "{d:?}");

    let mut g = c.benchmark_group("POST /v1/check in process");
    g.bench_function("warden, cached-token allow", |b| {
        b.iter(|| black_box(rt.block_on(warden.clone().oneshot(request(&check))).unwrap().status()))
    });
    g.bench_function("axum floor, parse and answer JSON", |b| {
        b.iter(|| black_box(rt.block_on(floor.clone().oneshot(request(&check))).unwrap().status()))
    });
    g.finish();

    let mut g = c.benchmark_group("per check");
    g.bench_function(format!("warden /v1/check/batch of {BATCH}, per check"), |b| {
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            for _ in 0..iters {
                let r = rt.block_on(warden.clone().oneshot(post_to("/v1/check/batch", &batch))).unwrap();
                let body = rt.block_on(to_bytes(r.into_body(), 1 << 24)).unwrap();
                black_box(body);
            }
            start.elapsed() / u32::try_from(BATCH).unwrap()
        })
    });
    g.bench_function("engine decision of the same request", |b| {
        b.iter(|| black_box(loaded.engine.check_http(&engine_request)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
