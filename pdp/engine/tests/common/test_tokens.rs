//! What the engine tests share: a stand-in for the JWT verifier
//! (`test:<claims JSON>` is a valid token of the step's first issuer; anything
//! else is a bad signature), and an engine over one policy text that reads no
//! file.

#![allow(dead_code, reason = "each test file uses what it needs")]

use std::sync::Arc;

use serde_json::{Map, Value};
use warden_compiler::{Loader, PolicySet, SourceFile, compile};
use warden_engine::eval::Prepared;
use warden_engine::limits::{Limiter, Memory};
use warden_engine::run::{Engine, TokenVerifier, VerifiedToken};
use warden_language::reason::Reason;

/// See the module.
pub struct TestTokens;

impl TokenVerifier for TestTokens {
    fn verify(&self, token: &str, issuers: &[u32], _now_ms: u64) -> Result<VerifiedToken, (Reason, String)> {
        let claims: Map<String, Value> = token
            .strip_prefix("test:")
            .and_then(|c| serde_json::from_str(c).ok())
            .ok_or((Reason::SignatureInvalid, "test token rejected".to_owned()))?;
        Ok(VerifiedToken { claims: claims.into(), issuer: issuers.first().copied().unwrap_or(0) })
    }
}

/// A loader with no files: keys come from URLs nobody fetches in these tests.
pub struct NoFiles;

impl Loader for NoFiles {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        Err(format!("no file `{path}` in this test"))
    }
}

/// An engine over `policy` (one file), with `limiter` and [`TestTokens`].
pub fn engine_with(policy: &str, limiter: Arc<dyn Limiter>) -> Engine {
    let set = PolicySet { files: vec![SourceFile::new("test.warden".to_owned(), policy.to_owned())] };
    let (graph, _) = compile(&set, &NoFiles).unwrap_or_else(|d| panic!("the test policy does not compile: {d:#?}"));
    let prepared = Prepared::new(graph).unwrap_or_else(|e| panic!("{e}"));
    Engine::new(prepared, limiter, Arc::new(TestTokens))
}

/// [`engine_with`] an in-process limiter of 1,000 keys.
pub fn engine_of(policy: &str) -> Engine {
    engine_with(policy, Arc::new(Memory::new(1_000)))
}
