//! Bearer JWT verification (jsonwebtoken on aws-lc-rs) against the issuers of a zone:
//! compact JWS only, algorithm allowlist per issuer, key by `kid` from the issuer's
//! JWKS (never from the token), `exp` required, `nbf`/`iat` honoured with leeway,
//! `iss` and `aud` checked, tokens over 8 KiB refused, duplicate payload keys refused.

use std::collections::HashMap;

use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm as JwsAlg, DecodingKey};
use serde_json::{Map, Value};
use warden_compiler::graph::{Algorithm, Graph, KeySource, SecretSource};
use warden_language::reason::Reason;

use super::json::{self, JsonLimits};
use super::run::{TokenVerifier, VerifiedToken};

/// Largest token accepted.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Claims and headers are small: tighter limits than bodies.
const TOKEN_JSON: JsonLimits = JsonLimits { depth: 8, string_bytes: 4096, array_items: 256, object_keys: 128 };

/// One issuer's verification material.
struct IssuerKeys {
    iss: String,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    leeway_s: i64,
    /// `kid` → key (and the JWK's `alg`, when it names one).
    keys: HashMap<String, (DecodingKey, Option<String>)>,
    /// Keys without a `kid`.
    anonymous: Vec<(DecodingKey, Option<String>)>,
    secret: Option<DecodingKey>,
}

/// Verifies tokens with the keys a graph carries (JWKS files) and the secrets
/// the service provides. Fetching `jwks url` sources comes with the service.
pub struct JwksVerifier {
    issuers: Vec<IssuerKeys>,
}

fn b64(part: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).ok()
}

fn jws_alg(a: Algorithm) -> JwsAlg {
    match a {
        Algorithm::RS256 => JwsAlg::RS256,
        Algorithm::RS384 => JwsAlg::RS384,
        Algorithm::RS512 => JwsAlg::RS512,
        Algorithm::PS256 => JwsAlg::PS256,
        Algorithm::PS384 => JwsAlg::PS384,
        Algorithm::PS512 => JwsAlg::PS512,
        Algorithm::ES256 => JwsAlg::ES256,
        Algorithm::ES384 => JwsAlg::ES384,
        Algorithm::EdDSA => JwsAlg::EdDSA,
        Algorithm::HS256 => JwsAlg::HS256,
        Algorithm::HS384 => JwsAlg::HS384,
        Algorithm::HS512 => JwsAlg::HS512,
    }
}

impl JwksVerifier {
    /// Loads every issuer's JWKS from the graph; `secret` reads HS* secrets
    /// (from a policy file or the environment) and is asked once per issuer.
    pub fn new(graph: &Graph, secret: &dyn Fn(&SecretSource) -> Option<Vec<u8>>) -> JwksVerifier {
        let issuers = graph
            .issuers
            .iter()
            .map(|i| {
                let mut keys = HashMap::new();
                let mut anonymous = Vec::new();
                if let Some(KeySource::File { jwks, .. }) = &i.keys
                    && let Ok(set) = serde_json::from_value::<JwkSet>(jwks.clone())
                {
                    for jwk in &set.keys {
                        let Ok(key) = DecodingKey::from_jwk(jwk) else { continue };
                        let alg = jwk.common.key_algorithm.map(|a| format!("{a:?}"));
                        match &jwk.common.key_id {
                            Some(kid) => {
                                keys.insert(kid.clone(), (key, alg));
                            }
                            None => anonymous.push((key, alg)),
                        }
                    }
                }
                IssuerKeys {
                    iss: i.iss.clone(),
                    audiences: i.audiences.clone(),
                    algorithms: i.algorithms.clone(),
                    leeway_s: i64::try_from(i.leeway_ms / 1000).unwrap_or(i64::MAX),
                    keys,
                    anonymous,
                    secret: i.secret.as_ref().and_then(secret).map(|s| DecodingKey::from_secret(&s)),
                }
            })
            .collect();
        JwksVerifier { issuers }
    }
}

fn bad(reason: Reason, detail: &str) -> (Reason, String) {
    (reason, detail.to_owned())
}

impl TokenVerifier for JwksVerifier {
    fn verify(&self, token: &str, issuers: &[u32], now_ms: u64) -> Result<VerifiedToken, (Reason, String)> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(bad(Reason::TokenMalformed, "the token is larger than 8 KiB"));
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(bad(Reason::TokenMalformed, "the token is not a compact JWS"));
        };
        let header = b64(h)
            .and_then(|b| json::parse(&b, TOKEN_JSON).ok())
            .ok_or(bad(Reason::TokenMalformed, "the token header is not valid"))?;
        let payload = b64(p)
            .and_then(|b| json::parse(&b, TOKEN_JSON).ok())
            .ok_or(bad(Reason::TokenMalformed, "the token payload is not valid (or has a key twice)"))?;
        let Value::Object(claims) = payload else {
            return Err(bad(Reason::TokenMalformed, "the token payload is not an object"));
        };
        // The issuer must be one this zone trusts; keys come from its JWKS only
        // (`jwk`, `jku`, `x5u` in the header are never read).
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or(bad(Reason::IssuerUntrusted, "the token names no issuer"))?;
        let Some((index, issuer)) =
            issuers.iter().filter_map(|&i| self.issuers.get(i as usize).map(|k| (i, k))).find(|(_, k)| k.iss == iss)
        else {
            return Err(bad(Reason::IssuerUntrusted, "the token's issuer is not trusted in this zone"));
        };
        let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("");
        let Some(alg) = Algorithm::parse(alg_name).filter(|a| issuer.algorithms.contains(a)) else {
            return Err(bad(Reason::AlgorithmNotAllowed, "the token's algorithm is not allowed for its issuer"));
        };
        let key = if alg.is_hmac() {
            issuer.secret.as_ref()
        } else {
            let kid = header.get("kid").and_then(Value::as_str);
            match kid {
                Some(kid) => issuer.keys.get(kid).map(|(k, _)| k),
                // Without a `kid`, only an unambiguous key will do.
                None if issuer.keys.len() + issuer.anonymous.len() == 1 => {
                    issuer.keys.values().chain(issuer.anonymous.iter()).next().map(|(k, _)| k)
                }
                None => None,
            }
        };
        let key = key.ok_or(bad(Reason::KeyUnknown, "no key of the issuer matches the token"))?;
        let message = token.get(..h.len() + 1 + p.len()).unwrap_or("");
        match jsonwebtoken::crypto::verify(sig, message.as_bytes(), key, jws_alg(alg)) {
            Ok(true) => {}
            _ => return Err(bad(Reason::SignatureInvalid, "the token's signature does not verify")),
        }
        let now = i64::try_from(now_ms / 1000).unwrap_or(i64::MAX);
        let time = |name: &str| claims.get(name).map(|v| v.as_f64().map(|f| f as i64));
        match time("exp") {
            None | Some(None) => return Err(bad(Reason::TokenMalformed, "the token has no numeric `exp`")),
            Some(Some(exp)) if exp.saturating_add(issuer.leeway_s) <= now => {
                return Err(bad(Reason::TokenExpired, "the token has expired"));
            }
            _ => {}
        }
        for name in ["nbf", "iat"] {
            match time(name) {
                Some(None) => return Err(bad(Reason::TokenMalformed, "a time claim of the token is not a number")),
                Some(Some(t)) if t.saturating_sub(issuer.leeway_s) > now => {
                    return Err(bad(Reason::TokenNotYetValid, "the token is not valid yet"));
                }
                _ => {}
            }
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => issuer.audiences.contains(a),
            Some(Value::Array(list)) => {
                list.iter().filter_map(Value::as_str).any(|a| issuer.audiences.iter().any(|x| x == a))
            }
            _ => false,
        };
        if !aud_ok {
            return Err(bad(Reason::AudienceMismatch, "the token was not issued for this zone's audience"));
        }
        Ok(VerifiedToken { claims: Map::clone(&claims), issuer: index })
    }
}
