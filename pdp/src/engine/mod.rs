//! The decision engine: evaluates a compiled decision graph for one request.
//!
//! Pure: no tokio, no protobuf, no axum types. Transports convert their
//! requests to the engine's own request type ([`run::HttpRequest`]) at the
//! edge. Bearer tokens are verified through [`run::TokenVerifier`].

pub mod credentials;
pub mod decision;
pub mod eval;
pub mod json;
pub mod jwt;
pub mod limits;
pub mod path;
pub mod run;
pub mod schema;
pub mod transport;
