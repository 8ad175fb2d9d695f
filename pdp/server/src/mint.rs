//! Signing the tokens policies mint (`mint for zone …`): a JWT access token
//! (RFC 9068, `typ: at+jwt`) signed with `[issuer]`'s active key, kept and
//! reused for the first half of its lifetime, so a hot route signs once per
//! caller and claims rather than once per request.
//!
//! The JWS compact form (RFC 7515 §7.1) is written here over an aws-lc-rs key
//! pair parsed once at start-up: `jsonwebtoken::encode` would parse the
//! PKCS#8 key again for every signature (and takes RSA keys only as PKCS#1).

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use warden_engine::decision::MintRequest;

use crate::signing::{Algorithm, Issuer};

/// Tokens kept for reuse at most.
pub const CACHE_ENTRIES: usize = 10_000;

/// A token whose request and text together are larger than this is signed
/// each time, never kept: with [`CACHE_ENTRIES`], the cache holds at most
/// about 40 MiB.
const CACHE_ENTRY_BYTES: usize = 4 << 10;

/// The parsed private half of the active key.
enum KeyPair {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
    Rs256(RsaKeyPair),
}

/// One kept token.
struct Kept {
    token: std::sync::Arc<str>,
    /// Its `exp` (Unix seconds).
    exp: u64,
    /// Unix ms after which it is not handed out again.
    reuse_until_ms: u64,
}

/// A token handed out: the compact JWS, its `exp` (Unix seconds), and
/// whether it was signed now or reused.
pub type Token = (std::sync::Arc<str>, u64, Minted);

/// Whether a token was signed now or reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Minted {
    /// Signed for this request.
    Signed,
    /// Reused from the cache.
    Cached,
}

/// A minted token's `exp`: its lifetime from now, and never after the token it
/// was minted from expires.
fn expiry(request: &MintRequest, now_ms: u64) -> u64 {
    let exp = (now_ms / 1_000).saturating_add(request.lifetime_s);
    request.not_after.map_or(exp, |limit| exp.min(limit))
}

/// Signs minted tokens with this Warden's active key.
pub struct Minter {
    url: String,
    kid: String,
    alg: Algorithm,
    key: KeyPair,
    rng: SystemRandom,
    cache: Mutex<HashMap<Vec<u8>, Kept>>,
}

impl std::fmt::Debug for Minter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minter").field("url", &self.url).field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Minter {
    /// The signer of one key (a bundle's signer), whatever its state.
    pub fn for_key(mut key: crate::signing::SigningKey) -> Result<Minter, String> {
        key.state = crate::signing::KeyState::Active;
        Minter::new(&Issuer { url: String::new(), keys: vec![key] })
    }

    /// The signer of `issuer`'s active key.
    pub fn new(issuer: &Issuer) -> Result<Minter, String> {
        let active = issuer.active().ok_or("`[issuer]` has no active key")?;
        let der = active.pkcs8_der();
        let bad = || format!("the active signing key `{}` cannot sign", active.kid);
        let key = match active.algorithm {
            Algorithm::ES256 => {
                KeyPair::Es256(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(|_| bad())?)
            }
            Algorithm::EdDSA => KeyPair::EdDsa(Ed25519KeyPair::from_pkcs8(der).map_err(|_| bad())?),
            Algorithm::RS256 => KeyPair::Rs256(RsaKeyPair::from_pkcs8(der).map_err(|_| bad())?),
        };
        Ok(Minter {
            url: issuer.url.clone(),
            kid: active.kid.clone(),
            alg: active.algorithm,
            key,
            rng: SystemRandom::new(),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The `iss` this Warden writes.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The token for `request` at `now_ms`: a kept one while it has more than
    /// half its lifetime left, else a new one. `Err` says why it cannot be
    /// signed (never with key material in it).
    pub fn token(&self, request: &MintRequest, now_ms: u64) -> Result<Token, String> {
        if request.issuer != self.url {
            return Err(format!(
                "the token for zone `{}` would be issued by `{}`, and this Warden is `{}`",
                request.zone, request.issuer, self.url
            ));
        }
        // The cache key is the whole request, compared exactly: two callers
        // never share a token, whatever their claims hash to.
        let key = serde_json::to_vec(request).map_err(|e| format!("cannot write the claims: {e}"))?;
        if let Some(kept) = self.lock().get(&key)
            && now_ms < kept.reuse_until_ms
        {
            return Ok((kept.token.clone(), kept.exp, Minted::Cached));
        }
        let exp = expiry(request, now_ms);
        let token: std::sync::Arc<str> = self.sign(request, now_ms)?.into();
        if key.len().saturating_add(token.len()) <= CACHE_ENTRY_BYTES {
            let half = exp.saturating_mul(1_000).saturating_sub(now_ms) / 2;
            let mut cache = self.lock();
            if cache.len() >= CACHE_ENTRIES {
                cache.retain(|_, k| now_ms < k.reuse_until_ms);
                if cache.len() >= CACHE_ENTRIES {
                    cache.clear();
                }
            }
            cache.insert(key, Kept { token: token.clone(), exp, reuse_until_ms: now_ms.saturating_add(half) });
        }
        Ok((token, exp, Minted::Signed))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Kept>> {
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new signed token: header, the registered claims, then the request's.
    fn sign(&self, request: &MintRequest, now_ms: u64) -> Result<String, String> {
        let failed = |what: &str| format!("cannot sign the token for zone `{}`: {what}", request.zone);
        let header = serde_json::json!({ "alg": self.alg.as_str(), "typ": "at+jwt", "kid": self.kid });
        let iat = now_ms / 1_000;
        let mut jti = [0u8; 16];
        self.rng.fill(&mut jti).map_err(|_| failed("no randomness"))?;
        let mut claims = Map::new();
        claims.insert("iss".to_owned(), Value::String(self.url.clone()));
        claims.insert("aud".to_owned(), Value::String(request.audience.clone()));
        claims.insert("iat".to_owned(), Value::from(iat));
        claims.insert("exp".to_owned(), Value::from(expiry(request, now_ms)));
        claims.insert("jti".to_owned(), Value::String(URL_SAFE_NO_PAD.encode(jti)));
        for (name, value) in &request.claims {
            claims.entry(name.clone()).or_insert_with(|| value.clone());
        }
        self.compact(&header, &Value::Object(claims)).map_err(failed)
    }

    /// A compact JWS of `payload` with the active key, `typ` in its header
    /// (the decision log's checkpoints).
    pub fn sign_jws(&self, typ: &str, payload: &Value) -> Result<String, String> {
        let header = serde_json::json!({ "alg": self.alg.as_str(), "typ": typ, "kid": self.kid });
        self.compact(&header, payload).map_err(|what| format!("cannot sign: {what}"))
    }

    /// `header.payload.signature`; `Err` names the part that failed.
    fn compact(&self, header: &Value, payload: &Value) -> Result<String, &'static str> {
        let b64 = |v: &Value| serde_json::to_vec(v).map(|bytes| URL_SAFE_NO_PAD.encode(bytes));
        let mut input = b64(header).map_err(|_| "header")?;
        input.push('.');
        input.push_str(&b64(payload).map_err(|_| "claims")?);
        let signature = match &self.key {
            KeyPair::Es256(k) => k.sign(&self.rng, input.as_bytes()).map_err(|_| "ES256")?.as_ref().to_vec(),
            KeyPair::EdDsa(k) => k.sign(input.as_bytes()).as_ref().to_vec(),
            KeyPair::Rs256(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &self.rng, input.as_bytes(), &mut sig).map_err(|_| "RS256")?;
                sig
            }
        };
        input.push('.');
        input.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(input)
    }

    /// Tokens kept now (see [`CACHE_ENTRIES`]).
    pub fn kept(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::signing::{Algorithm, IssuerConfig, KeyConfig, KeyState, generate_file};

    fn claims(token: &str) -> Value {
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }

    #[test]
    fn a_minted_token_never_outlives_the_one_it_was_minted_from_and_is_reused_within_half_its_life() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.pem");
        generate_file(Algorithm::ES256, &key).unwrap();
        let config = IssuerConfig {
            url: "https://edge.example".to_owned(),
            keys: vec![KeyConfig { file: key, algorithm: Algorithm::ES256, kid: None, state: KeyState::Active }],
        };
        let minter = Minter::new(&Issuer::load(&config).unwrap()).unwrap();
        let now_ms = 1_800_000_000_000u64;
        let mut claims_in = Map::new();
        claims_in.insert("sub".to_owned(), json!("u"));
        let mut request = MintRequest {
            zone: "internal".to_owned(),
            issuer: "https://edge.example".to_owned(),
            audience: "internal".to_owned(),
            claims: claims_in,
            lifetime_s: 60,
            not_after: Some(now_ms / 1_000 + 10),
            header: None,
        };
        let (token, exp, how) = minter.token(&request, now_ms).unwrap();
        assert_eq!((exp, how), (now_ms / 1_000 + 10, Minted::Signed));
        assert_eq!(claims(&token)["exp"], json!(now_ms / 1_000 + 10));
        // Reused for half of what is left (5 s), then signed again.
        assert_eq!(minter.token(&request, now_ms + 4_000).unwrap().2, Minted::Cached);
        assert_eq!(minter.token(&request, now_ms + 6_000).unwrap().2, Minted::Signed);
        // Without a limit, the lifetime.
        request.not_after = None;
        let (token, _, _) = minter.token(&request, now_ms).unwrap();
        assert_eq!(claims(&token)["exp"], json!(now_ms / 1_000 + 60));
        // Another issuer than this Warden's is refused.
        request.issuer = "https://other.example".to_owned();
        assert!(minter.token(&request, now_ms).is_err());
    }
}
