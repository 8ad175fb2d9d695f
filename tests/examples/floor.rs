//! The load benchmark's floor (`tests/bench/load.sh`): a trivial axum server whose
//! `POST /v1/check` parses the body as JSON and answers a small fixed JSON object,
//! over HTTP/1.1 and HTTP/2 with prior knowledge (h2c) on one port. It runs on the
//! runtime `warden serve` runs on (multi-thread, one worker per core), binds with
//! the same accept queue and sets `TCP_NODELAY` on each connection as Warden does,
//! so what separates the two under the same load is Warden's own work.
//!   floor ADDR        (e.g. 127.0.0.1:18282)

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::routing::post;
use axum::serve::ListenerExt as _;
use serde_json::{Value, json};

fn main() -> Result<(), String> {
    let addr: SocketAddr =
        std::env::args().nth(1).ok_or("usage: floor ADDR")?.parse().map_err(|e| format!("the address: {e}"))?;
    // As `warden_server::run`: the default multi-thread runtime (a worker per core).
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(serve(addr))
}

async fn serve(addr: SocketAddr) -> Result<(), String> {
    let app = axum::Router::new().route(
        "/v1/check",
        post(|body: Bytes| async move {
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            axum::Json(json!({"allow": v.is_object(), "status": 200, "reason": "allowed"}))
        }),
    );
    // The accept queue `warden serve` asks for (4,096), so a burst of
    // connections is not dropped here and accepted there.
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() }
        .map_err(|e| e.to_string())?;
    socket.set_reuseaddr(true).map_err(|e| e.to_string())?;
    socket.bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let listener = socket.listen(4096).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    eprintln!("floor: HTTP/1.1 and h2c on {addr}");
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}
