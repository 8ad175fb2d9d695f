//! The tests' stand-in for the JWT verifier: `test:<claims JSON>` is a valid
//! token of the step's first issuer; anything else is a bad signature.

use serde_json::{Map, Value};
use warden_engine::run::{TokenVerifier, VerifiedToken};
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
