//! Bearer JWT verification (jsonwebtoken on aws-lc-rs) against the issuers of a zone:
//! compact JWS only, algorithm allowlist per issuer, key by `kid` from the issuer's
//! JWKS (never from the token), `exp` required, `nbf`/`iat` honoured with leeway,
//! `iss` and `aud` checked, tokens over 8 KiB refused, duplicate payload keys refused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm as JwsAlg, DecodingKey};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use warden_compiler::graph::{Algorithm, Graph, KeySource, SecretSource};
use warden_language::reason::Reason;

use super::json::{self, JsonLimits};
use super::run::{TokenVerifier, VerifiedToken};

/// Largest token accepted.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Claims and headers are small: tighter limits than bodies.
const TOKEN_JSON: JsonLimits =
    JsonLimits { depth: 8, string_bytes: 4096, array_items: 256, object_keys: 128, values: 4096 };

/// Fetches a JWKS document by URL. The service supplies one over HTTP(S) with a
/// short timeout; the engine never opens connections itself.
pub trait JwksFetcher: Send + Sync {
    /// The document's bytes, or why it could not be had (no secrets in the text).
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String>;

    /// True when [`JwksFetcher::fetch`] waits on the network. Token verification
    /// then never calls it: an unknown `kid` only asks the next
    /// [`JwksVerifier::refresh_due`] to refetch (same 30 s limit) and the token is
    /// refused `key_unknown` meanwhile, so a slow issuer cannot stall a request.
    fn blocks(&self) -> bool {
        false
    }

    /// The last good document fetched from `url` and when (Unix ms), without any
    /// I/O. A verifier built later (a policy reload) starts with it, so a reload
    /// neither refetches a fresh document nor starts without keys when the issuer
    /// is down.
    fn cached(&self, _url: &str) -> Option<(Vec<u8>, u64)> {
        None
    }
}

/// An unknown `kid` triggers at most one refetch per issuer in this period.
pub const REFETCH_INTERVAL_MS: u64 = 30_000;

/// Largest JWKS document accepted from a URL.
pub const MAX_JWKS_BYTES: usize = 1 << 20;

/// Public keys of one issuer, replaced as a whole on refresh.
#[derive(Default)]
struct KeySet {
    /// `kid` → key and the JWK's `alg`, when it names one.
    by_kid: HashMap<String, (Arc<DecodingKey>, Option<JwsAlg>)>,
    /// Keys without a `kid`.
    anonymous: Vec<(Arc<DecodingKey>, Option<JwsAlg>)>,
}

impl KeySet {
    fn from_jwks(jwks: &Value) -> Option<KeySet> {
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

    fn len(&self) -> usize {
        self.by_kid.len() + self.anonymous.len()
    }
}

/// Checks a fetched JWKS document as the verifier would before using it: at most
/// [`MAX_JWKS_BYTES`], JSON within the default limits, a JWKS with at least one
/// usable signing key. The number of usable keys, or why not (no document text).
pub fn check_jwks(bytes: &[u8]) -> Result<usize, String> {
    parse_jwks(bytes).map(|keys| keys.len())
}

fn parse_jwks(bytes: &[u8]) -> Result<KeySet, String> {
    if bytes.len() > MAX_JWKS_BYTES {
        return Err("the JWKS document is larger than 1 MiB".to_owned());
    }
    let doc = json::parse(bytes, JsonLimits::default())
        .map_err(|e| format!("the JWKS document is not acceptable JSON: {e}"))?;
    let keys = KeySet::from_jwks(&doc).ok_or("the document is not a JWKS")?;
    if keys.len() == 0 {
        return Err("the JWKS holds no usable key".to_owned());
    }
    Ok(keys)
}

/// Fetch bookkeeping of a URL issuer.
#[derive(Default)]
struct FetchState {
    /// When the last attempt started (successful or not), or was asked for by an
    /// unknown `kid`.
    last_attempt_ms: Option<u64>,
    /// When the keys were last fetched successfully.
    last_success_ms: Option<u64>,
    /// An unknown `kid` asked for a refetch that [`JwksVerifier::refresh_due`] owes.
    wanted: bool,
    /// SHA-256 of the document the keys came from (an unchanged document does not
    /// replace them).
    doc_hash: Option<[u8; 32]>,
}

/// One issuer's verification material.
struct IssuerKeys {
    iss: String,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    leeway_s: i64,
    keys: ArcSwap<KeySet>,
    /// `jwks url` issuers: where to fetch and how often to refresh.
    url: Option<(String, u64)>,
    fetch: Mutex<FetchState>,
    secret: Option<DecodingKey>,
}

/// Verifies tokens with the issuers' keys: JWKS files carried by the graph, and
/// `jwks url` documents fetched through a [`JwksFetcher`] (on [`JwksVerifier::refresh_due`]
/// and, at most once per [`REFETCH_INTERVAL_MS`], when a token names an unknown `kid`).
/// A failed fetch keeps the keys held before.
pub struct JwksVerifier {
    issuers: Vec<IssuerKeys>,
    fetcher: Option<Arc<dyn JwksFetcher>>,
    /// Rises whenever an issuer's keys are replaced (see [`TokenVerifier::keys_generation`]).
    generation: AtomicU64,
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
    /// Loads every issuer's JWKS file from the graph; `secret` reads HS* secrets
    /// (from a policy file or the environment) and is asked once per issuer.
    /// `jwks url` issuers start without keys (see [`JwksVerifier::with_fetcher`]).
    pub fn new(graph: &Graph, secret: &dyn Fn(&SecretSource) -> Option<Vec<u8>>) -> JwksVerifier {
        let issuers = graph
            .issuers
            .iter()
            .map(|i| {
                let (keys, url) = match &i.keys {
                    Some(KeySource::File { jwks, .. }) => (KeySet::from_jwks(jwks).unwrap_or_default(), None),
                    Some(KeySource::Url { url, refresh_ms }) => (KeySet::default(), Some((url.clone(), *refresh_ms))),
                    None => (KeySet::default(), None),
                };
                IssuerKeys {
                    iss: i.iss.clone(),
                    audiences: i.audiences.clone(),
                    algorithms: i.algorithms.clone(),
                    leeway_s: i64::try_from(i.leeway_ms / 1000).unwrap_or(i64::MAX),
                    keys: ArcSwap::from_pointee(keys),
                    url,
                    fetch: Mutex::new(FetchState::default()),
                    secret: i.secret.as_ref().and_then(secret).map(|s| DecodingKey::from_secret(&s)),
                }
            })
            .collect();
        JwksVerifier { issuers, fetcher: None, generation: AtomicU64::new(0) }
    }

    /// Fetches `jwks url` documents through `fetcher`. URL issuers start with the
    /// document the fetcher holds for their URL ([`JwksFetcher::cached`]), as of
    /// when it was fetched; call [`JwksVerifier::refresh_due`] once before serving
    /// so that the others (and stale ones) are fetched.
    #[must_use]
    pub fn with_fetcher(mut self, fetcher: Arc<dyn JwksFetcher>) -> JwksVerifier {
        for issuer in &self.issuers {
            let Some((url, _)) = &issuer.url else { continue };
            if let Some((bytes, at_ms)) = fetcher.cached(url) {
                let _ = self.install(issuer, &bytes, at_ms);
            }
        }
        self.fetcher = Some(fetcher);
        self
    }

    /// Fetches the JWKS of every URL issuer whose refresh period has passed since
    /// its last successful fetch (or that never had one), and of those whose
    /// unknown `kid` asked for it. After a failed attempt the next one waits the
    /// refresh period or [`REFETCH_INTERVAL_MS`], whichever is shorter. Returns
    /// the failures as `(iss, why)`; a failed issuer keeps its old keys.
    pub fn refresh_due(&self, now_ms: u64) -> Vec<(String, String)> {
        let mut failures = Vec::new();
        for issuer in &self.issuers {
            let Some((_, refresh_ms)) = &issuer.url else { continue };
            let go = issuer.fetch.lock().is_ok_and(|mut state| {
                let retry_after = (*refresh_ms).min(REFETCH_INTERVAL_MS);
                let stale = state.last_success_ms.is_none_or(|t| now_ms >= t.saturating_add(*refresh_ms));
                let resting = state.last_attempt_ms.is_some_and(|t| now_ms < t.saturating_add(retry_after));
                let go = state.wanted || (stale && !resting);
                if go {
                    state.wanted = false;
                    state.last_attempt_ms = Some(now_ms);
                }
                go
            });
            if go && let Some(Err(why)) = self.fetch_now(issuer, now_ms) {
                failures.push((issuer.iss.clone(), why));
            }
        }
        failures
    }

    /// Number of keys an issuer (by its `iss`) holds now; for metrics and tests.
    pub fn key_count(&self, iss: &str) -> usize {
        self.issuers.iter().filter(|i| i.iss == iss).map(|i| i.keys.load().len()).sum()
    }

    /// Counts key replacements (for caches of verified tokens, and tests).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// An unknown `kid` of a URL issuer: refetch now (a fetcher that does not
    /// block) or ask the next [`JwksVerifier::refresh_due`] to (one that does);
    /// at most once per [`REFETCH_INTERVAL_MS`] since the last attempt either way.
    fn unknown_kid(&self, issuer: &IssuerKeys, now_ms: u64) {
        let Some(fetcher) = &self.fetcher else { return };
        if issuer.url.is_none() {
            return;
        }
        let Ok(mut state) = issuer.fetch.lock() else { return };
        if state.last_attempt_ms.is_some_and(|t| now_ms < t.saturating_add(REFETCH_INTERVAL_MS)) {
            return;
        }
        state.last_attempt_ms = Some(now_ms);
        if fetcher.blocks() {
            state.wanted = true;
        } else {
            drop(state);
            let _ = self.fetch_now(issuer, now_ms);
        }
    }

    /// Fetches one issuer's JWKS and installs it (the caller has claimed the
    /// attempt); `None` when the issuer has no URL or there is no fetcher.
    fn fetch_now(&self, issuer: &IssuerKeys, now_ms: u64) -> Option<Result<(), String>> {
        let (url, _) = issuer.url.as_ref()?;
        let fetcher = self.fetcher.as_ref()?;
        Some(fetcher.fetch(url).and_then(|bytes| self.install(issuer, &bytes, now_ms)))
    }

    /// Replaces an issuer's keys with those of `bytes` (fetched at `at_ms`) when
    /// the document is acceptable; an unchanged document only counts as fresh.
    fn install(&self, issuer: &IssuerKeys, bytes: &[u8], at_ms: u64) -> Result<(), String> {
        let hash: [u8; 32] = Sha256::digest(bytes).into();
        let same = issuer.fetch.lock().is_ok_and(|s| s.doc_hash == Some(hash));
        if !same {
            let keys = parse_jwks(bytes)?;
            issuer.keys.store(Arc::new(keys));
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        if let Ok(mut state) = issuer.fetch.lock() {
            state.doc_hash = Some(hash);
            state.last_success_ms = Some(state.last_success_ms.map_or(at_ms, |t| t.max(at_ms)));
        }
        Ok(())
    }
}

/// The key for a token: by `kid`, or the only key when the token names none.
fn select(keys: &KeySet, kid: Option<&str>) -> Option<(Arc<DecodingKey>, Option<JwsAlg>)> {
    match kid {
        Some(kid) => keys.by_kid.get(kid).cloned(),
        None if keys.len() == 1 => keys.by_kid.values().chain(keys.anonymous.iter()).next().cloned(),
        None => None,
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
        let held: Option<Arc<DecodingKey>>;
        let key = if alg.is_hmac() {
            issuer.secret.as_ref()
        } else {
            let kid = header.get("kid").and_then(Value::as_str);
            let found = select(&issuer.keys.load(), kid);
            // An unknown `kid` may mean the issuer rotated its keys: refetch (rate-limited).
            let found = match found {
                None if kid.is_some() => {
                    self.unknown_kid(issuer, now_ms);
                    select(&issuer.keys.load(), kid)
                }
                found => found,
            };
            held = match found {
                // A JWK that names its algorithm is used for that algorithm only.
                Some((_, Some(jwk_alg))) if jwk_alg != jws_alg(alg) => None,
                Some((key, _)) => Some(key),
                None => None,
            };
            held.as_deref()
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
        Ok(VerifiedToken { claims: Arc::new(claims), issuer: index })
    }

    fn keys_generation(&self) -> u64 {
        self.generation()
    }
}
