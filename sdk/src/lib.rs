//! Warden SDK: a client and tower middleware that ask Warden for decisions over
//! the shared `warden.v1` proto, or answer them in-process (feature `embedded`).
//!
//! - [`Client`] (remote mode) calls `warden.v1.Decision` (`Check`,
//!   `CheckResource`, `CheckBatch`) of a `warden serve` over gRPC: h2c, TLS or
//!   mutual TLS ([`ClientConfig`]), a deadline per call, and retries only of a
//!   *refused connection* (nothing was sent, so nothing was decided or counted
//!   against a rate limit). A call that may have reached Warden is never retried.
//! - `Embedded` (feature `embedded`) answers the same [`Decide`] trait from a
//!   policy directory, hot-reloaded, through the handler `warden serve` itself
//!   runs, so both modes give the same decision for the same check.
//! - [`WardenLayer`] is a tower `Layer` (axum or any tower service) that turns each
//!   request into a `Check`: a denial is answered with the decision's status,
//!   headers and JSON body; an allowed request goes on with the upstream headers.
//! - No answer is an [`Error`] ([`Error::Unavailable`], [`Error::DeadlineExceeded`]);
//!   [`FailMode`] turns it into a decision, closed (503 `unavailable`) by default.
//!
//! A service protected by the layer, asking a sidecar `warden serve`:
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use warden_sdk::{Client, WardenLayer};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let warden = Client::connect_lazy("http://127.0.0.1:9191")?;
//! let app: Router = Router::new()
//!     .route("/v1/accounts/{id}", get(|| async { "account" }))
//!     // Only Warden sets `x-customer-id`: a client's copy never gets through.
//!     .layer(WardenLayer::new(warden).reserved_headers(&["x-customer-id"]));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! // `ConnectInfo` gives the layer the client's address (`source.ip`).
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
//! # Ok(()) }
//! ```
//!
//! One check through the client, with a deadline, failing closed:
//!
//! ```no_run
//! use std::time::Duration;
//! use warden_sdk::{ClientConfig, Decide, FailMode, HttpCheck};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let warden = ClientConfig::new("https://warden.internal:9191")
//!     .ca_pem(&std::fs::read("/etc/warden/ca.pem")?)
//!     .identity_pem(&std::fs::read("/etc/svc/client.pem")?, &std::fs::read("/etc/svc/client.key")?)
//!     .deadline(Duration::from_millis(100))
//!     .build()?;
//! let check = HttpCheck::new("GET", "api.bank.example", "/v1/accounts/42").header("authorization", "Bearer eyJ…");
//! let decision = FailMode::Closed.resolve(warden.check(&check).await);
//! println!("{} {} {}", decision.allow, decision.status, decision.reason);
//! # Ok(()) }
//! ```
//!
//! The layer in-process, over the embedded mode (this one runs): the to-do
//! policy has no HTTP routes, so every request is refused before the handler runs.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tower::ServiceExt as _;
//! use warden_sdk::{Embedded, WardenLayer};
//!
//! let pdp = Embedded::open(concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/todo").as_ref())?;
//! let app = axum::Router::new().fallback(|| async { "reached" }).layer(WardenLayer::new(pdp));
//! let request = http::Request::builder().uri("/todos/t-1").header("host", "todo.example").body(axum::body::Body::empty())?;
//! let answer = app.oneshot(request).await?;
//! assert_eq!(answer.status(), 404);
//! assert_eq!(answer.headers()["content-type"], "application/json");
//! # Ok(()) }
//! ```

pub mod check;
pub mod client;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod error;
pub mod layer;

pub use check::{Check, Decision, FailMode, HttpCheck, ResourceCheck, Source, Subject};
pub use client::{Client, ClientConfig, Decide};
#[cfg(feature = "embedded")]
pub use embedded::Embedded;
pub use error::Error;
pub use layer::{PeerPrincipal, WardenLayer, WardenService};

/// The `warden.v1` messages and client (`warden-proto`, the types `warden
/// serve` itself uses).
pub use warden_proto as pb;
