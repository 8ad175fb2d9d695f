//! The one place an engine is built over a compiled set: HS* secrets, JWKS files
//! and `jwks url` fetching, the verified-token cache and the limiter.

use std::sync::Arc;

use warden_compiler::graph::{Graph, SecretSource};
use warden_engine::eval::{GraphError, Prepared};
use warden_engine::jwt::{JwksFetcher, JwksVerifier};
use warden_engine::limits::Limiter;
use warden_engine::run::Engine;
use warden_engine::token_cache::CachingVerifier;

use crate::FsLoader;

/// Verified tokens the engine of [`engine`] keeps.
pub const TOKEN_CACHE_ENTRIES: usize = 100_000;

/// The engine over a compiled graph: HS* secrets read from the set's files or the
/// environment, JWKS files from the graph, `jwks url` documents through `fetcher`
/// (none: URL issuers hold no keys and their tokens are refused `key_unknown`), a
/// bounded verified-token cache, and `limiter` for rate limits. The CLI and the
/// service build engines only here. URL keys are not fetched here: see
/// [`warden_engine::jwt::JwksVerifier::refresh_due`] (reachable as
/// [`warden_engine::run::Engine::jwks`]).
pub fn engine(
    graph: Graph,
    loader: &FsLoader,
    limiter: Arc<dyn Limiter>,
    fetcher: Option<Arc<dyn JwksFetcher>>,
) -> Result<Engine, GraphError> {
    use warden_compiler::Loader as _;
    let secret = |source: &SecretSource| match source {
        SecretSource::File(path) => loader.read(path).ok(),
        SecretSource::Env(var) => std::env::var(var).ok().map(String::into_bytes),
    };
    let mut jwks = JwksVerifier::new(&graph, &secret);
    if let Some(fetcher) = fetcher {
        jwks = jwks.with_fetcher(fetcher);
    }
    let jwks = Arc::new(jwks);
    let verifier = CachingVerifier::new(jwks.clone(), TOKEN_CACHE_ENTRIES);
    let prepared = Prepared::new(graph)?;
    Ok(Engine::new(prepared, limiter, Arc::new(verifier)).with_jwks(jwks))
}
