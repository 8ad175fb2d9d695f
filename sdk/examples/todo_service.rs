//! A small axum to-do service protected by Warden in embedded mode: the
//! [`WardenLayer`] judges every request against `sdk/examples/todo_api` (routes,
//! rate limit), and the handlers ask `policies/todo` through the client whether
//! the user may read or delete the item they loaded (owner, sharing, tenant).
//!
//! ```sh
//! cargo run -p warden-sdk --example todo_service   # listens on 127.0.0.1:3000
//! curl -i -H 'x-demo-user: u-1' localhost:3000/todos/t-1        # 200: the owner
//! curl -i -H 'x-demo-user: u-2' localhost:3000/todos/t-1        # 200: shared with u-2
//! curl -i -H 'x-demo-user: u-4' localhost:3000/todos/t-1        # 403 no_allow_rule
//! curl -i -X DELETE -H 'x-demo-user: u-2' localhost:3000/todos/t-1   # 403: sharing is read-only
//! curl -i localhost:3000/elsewhere                              # 404 route_not_found (from the layer)
//! ```
//!
//! Both policy directories are watched: edit them while it runs. For the sidecar
//! mode, run one `warden serve` per set (the two are separate sets: compiled
//! together they clash), say `--policies sdk/examples/todo_api` on the default
//! ports and `--policies policies/todo --http 127.0.0.1:8182 --grpc 127.0.0.1:9192`,
//! and swap each `Embedded::open(…)` for a `Client` of its gRPC port. A remote
//! Warden judges a resource check as its caller: `policies/todo` requires the
//! service's own certificate, so that client must connect over mutual TLS with
//! it (`ClientConfig::new(…).ca_pem(…).identity_pem(cert, key).build()`).
//! `x-demo-user` stands in for real authentication (a verified token) to keep
//! the example free of keys: never trust such a header in a real service.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use warden_sdk::{Decide, Embedded, FailMode, ResourceCheck, Source, Subject, WardenLayer};

/// The service's own workload identity, which `policies/todo` requires of callers.
const SELF_PRINCIPAL: &str = "spiffe://todo.example/ns/todo/api";

/// The service's state: its items and the decision point it asks.
#[derive(Clone)]
struct App {
    items: Arc<BTreeMap<String, Map<String, Value>>>,
    pdp: Embedded,
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// May the user named by `x-demo-user` do `action` on item `id`? `Ok` with the
/// item, or the answer to send.
async fn authorize(app: &App, headers: &HeaderMap, id: &str, action: &str) -> Result<Value, Response> {
    let Some(item) = app.items.get(id) else {
        return Err((StatusCode::NOT_FOUND, axum::Json(json!({"error": "no such item"}))).into_response());
    };
    let user = headers.get("x-demo-user").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mut check = ResourceCheck::new("todo", id, action);
    check.properties = item.clone();
    check.subject =
        Some(Subject { id: user.to_owned(), properties: object(json!({"tenant": "acme", "roles": ["user"]})) });
    check.source = Source { ip: None, principal: Some(SELF_PRINCIPAL.to_owned()) };
    let decision = FailMode::Closed.resolve(app.pdp.check_resource(&check).await);
    if decision.allow {
        return Ok(Value::Object(item.clone()));
    }
    let status = StatusCode::from_u16(decision.status).unwrap_or(StatusCode::FORBIDDEN);
    Err((status, axum::Json(decision.deny_body())).into_response())
}

async fn read(State(app): State<App>, UrlPath(id): UrlPath<String>, headers: HeaderMap) -> Response {
    match authorize(&app, &headers, &id, "read").await {
        Ok(item) => axum::Json(item).into_response(),
        Err(denied) => denied,
    }
}

async fn delete(State(app): State<App>, UrlPath(id): UrlPath<String>, headers: HeaderMap) -> Response {
    match authorize(&app, &headers, &id, "delete").await {
        // The example's items are fixed: say what would happen.
        Ok(_) => (StatusCode::ACCEPTED, axum::Json(json!({"deleted": id}))).into_response(),
        Err(denied) => denied,
    }
}

/// The service: its routes, behind the layer (so tests can call it without a socket).
fn router(app: App, api: Embedded) -> Router {
    // Plain http on loopback here; behind TLS termination keep the default `https`.
    let layer = WardenLayer::new(api).scheme("http");
    Router::new().route("/todos/{id}", get(read).delete(delete)).with_state(app).layer(layer)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let api = Embedded::open(&here.join("examples/todo_api"))?;
    let pdp = Embedded::open(&here.join("../policies/todo"))?;
    let mut items = BTreeMap::new();
    items.insert("t-1".to_owned(), object(json!({"owner": "u-1", "tenant": "acme", "shared_with": ["u-2"]})));
    items.insert("t-2".to_owned(), object(json!({"owner": "u-9", "tenant": "globex"})));
    let app = router(App { items: Arc::new(items), pdp }, api);
    let addr = std::env::var("TODO_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("to-do service on http://{addr}");
    // The client's address reaches the layer as `ConnectInfo<SocketAddr>`.
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
    Ok(())
}
