//! One issuer's public keys as a JWKS document gives them: signing keys only, by `kid`,
//! and the checks a fetched document passes before it replaces the keys held.

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm as JwsAlg, DecodingKey};
use serde_json::Value;

use crate::json::{self, JsonLimits};

/// Largest JWKS document accepted from a URL.
pub const MAX_JWKS_BYTES: usize = 1 << 20;

/// Why a JWKS document is refused (never its text).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// Over [`MAX_JWKS_BYTES`].
    #[error("the JWKS document is larger than 1 MiB")]
    TooLarge,
    /// Not JSON within the default limits.
    #[error("the JWKS document is not acceptable JSON: {0}")]
    Json(#[from] json::JsonError),
    /// JSON, but not a JWKS.
    #[error("the document is not a JWKS")]
    NotJwks,
    /// A JWKS without a key that can verify a signature.
    #[error("the JWKS holds no usable key")]
    NoUsableKey,
}

/// Public keys of one issuer, replaced as a whole on refresh.
#[derive(Default)]
pub(super) struct KeySet {
    /// `kid` → key and the JWK's `alg`, when it names one.
    pub(super) by_kid: HashMap<String, (Arc<DecodingKey>, Option<JwsAlg>)>,
    /// Keys without a `kid`.
    pub(super) anonymous: Vec<(Arc<DecodingKey>, Option<JwsAlg>)>,
}

impl KeySet {
    pub(super) fn from_jwks(jwks: &Value) -> Option<KeySet> {
        let set = serde_json::from_value::<JwkSet>(jwks.clone()).ok()?;
        let mut keys = KeySet::default();
        for jwk in &set.keys {
            // Only signing keys: a JWK marked `use: enc`, or naming an algorithm
            // that is not a JWS one (`RSA-OAEP`…), never verifies a token.
            if matches!(jwk.common.public_key_use, Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)) {
                continue;
            }
            let alg = match jwk.common.key_algorithm {
                Some(a) => match a.to_string().parse::<JwsAlg>() {
                    Ok(alg) => Some(alg),
                    Err(_) => continue,
                },
                None => None,
            };
            let Ok(key) = DecodingKey::from_jwk(jwk).map(Arc::new) else { continue };
            match &jwk.common.key_id {
                Some(kid) => {
                    keys.by_kid.insert(kid.clone(), (key, alg));
                }
                None => keys.anonymous.push((key, alg)),
            }
        }
        Some(keys)
    }

    pub(super) fn len(&self) -> usize {
        self.by_kid.len() + self.anonymous.len()
    }
}

/// Checks a fetched JWKS document as the verifier would before using it: at most
/// [`MAX_JWKS_BYTES`], JSON within the default limits, a JWKS with at least one
/// usable signing key. The number of usable keys, or why not (no document text).
pub fn check_jwks(bytes: &[u8]) -> Result<usize, JwksError> {
    parse_jwks(bytes).map(|keys| keys.len())
}

pub(super) fn parse_jwks(bytes: &[u8]) -> Result<KeySet, JwksError> {
    if bytes.len() > MAX_JWKS_BYTES {
        return Err(JwksError::TooLarge);
    }
    let doc = json::parse(bytes, JsonLimits::default())?;
    let keys = KeySet::from_jwks(&doc).ok_or(JwksError::NotJwks)?;
    if keys.len() == 0 {
        return Err(JwksError::NoUsableKey);
    }
    Ok(keys)
}
