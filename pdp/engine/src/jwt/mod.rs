//! Bearer JWT verification (jsonwebtoken on aws-lc-rs) against the issuers of a zone:
//! compact JWS only, algorithm allowlist per issuer, key by `kid` from the issuer's
//! JWKS (never from the token), `exp` required, `nbf`/`iat` honoured with leeway,
//! `iss` and `aud` checked, tokens over 8 KiB refused, duplicate payload keys refused,
//! any `crit` header refused (no JWS extension is understood). A token whose `kid`
//! a `jwks url` issuer does not hold waits (bounded) for one coalesced refetch.

mod fetch;
mod keys;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use base64::Engine as _;
use jsonwebtoken::{Algorithm as JwsAlg, DecodingKey};
use serde_json::Value;
use warden_compiler::graph::{Algorithm, Graph, KeySource, SecretSource};
use warden_language::reason::Reason;

pub use self::fetch::{
    FetchDone, JwksFetcher, MAX_UNKNOWN_KID_WAITERS, RETRY_AFTER_FAILURE_MS, UNKNOWN_KID_REFETCH_MS,
    UNKNOWN_KID_WAIT_MS,
};
use self::fetch::{FetchState, Flight, IssuerKeys, install};
use self::keys::KeySet;
pub use self::keys::{JwksError, MAX_JWKS_BYTES, check_jwks};
use super::json::{self, JsonLimits};
use super::run::{TokenVerifier, VerifiedToken};

/// Largest token accepted.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Claims and headers are small: tighter limits than bodies.
const TOKEN_JSON: JsonLimits =
    JsonLimits { depth: 8, string_bytes: 4096, array_items: 256, object_keys: 128, values: 4096 };

/// Verifies tokens with the issuers' keys: JWKS files carried by the graph, and
/// `jwks url` documents fetched through a [`JwksFetcher`] (on [`JwksVerifier::refresh_due`]
/// and, at most once per [`UNKNOWN_KID_REFETCH_MS`] per issuer, when a token names an
/// unknown `kid`: the token waits for that refetch, at most [`UNKNOWN_KID_WAIT_MS`]).
/// A failed fetch keeps the keys held before.
pub struct JwksVerifier {
    issuers: Vec<Arc<IssuerKeys>>,
    fetcher: Option<Arc<dyn JwksFetcher>>,
    /// Rises whenever an issuer's keys are replaced (see [`TokenVerifier::keys_generation`]).
    /// Shared with the refetches under way, which may end on another thread.
    generation: Arc<AtomicU64>,
    /// How long a token with an unknown `kid` waits for its refetch
    /// ([`UNKNOWN_KID_WAIT_MS`]; tests lengthen it so as not to race it).
    unknown_kid_wait: Duration,
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
                Arc::new(IssuerKeys {
                    iss: i.iss.clone(),
                    audiences: i.audiences.clone(),
                    algorithms: i.algorithms.clone(),
                    leeway_s: i64::try_from(i.leeway_ms / 1000).unwrap_or(i64::MAX),
                    keys: ArcSwap::from_pointee(keys),
                    url,
                    fetch: Mutex::new(FetchState::default()),
                    refetched: Condvar::new(),
                    secret: i.secret.as_ref().and_then(secret).map(|s| DecodingKey::from_secret(&s)),
                })
            })
            .collect();
        JwksVerifier {
            issuers,
            fetcher: None,
            generation: Arc::new(AtomicU64::new(0)),
            unknown_kid_wait: Duration::from_millis(UNKNOWN_KID_WAIT_MS),
        }
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
                let _ = install(issuer, &self.generation, &bytes, at_ms);
            }
        }
        self.fetcher = Some(fetcher);
        self
    }

    /// Fetches the JWKS of every URL issuer whose refresh period has passed since
    /// its last successful fetch (or that never had one). After a failed attempt
    /// the next one waits the refresh period or [`RETRY_AFTER_FAILURE_MS`],
    /// whichever is shorter. Returns the failures as `(iss, why)`; a failed issuer
    /// keeps its old keys. Unknown `kid`s do not go through here: their refetch is
    /// started by the request (see [`JwksVerifier`]).
    pub fn refresh_due(&self, now_ms: u64) -> Vec<(String, String)> {
        let mut failures = Vec::new();
        let Some(fetcher) = &self.fetcher else { return failures };
        for issuer in &self.issuers {
            let Some((url, refresh_ms)) = &issuer.url else { continue };
            let go = {
                let mut state = issuer.state();
                let retry_after = (*refresh_ms).min(RETRY_AFTER_FAILURE_MS);
                let stale = state.last_success_ms.is_none_or(|t| now_ms >= t.saturating_add(*refresh_ms));
                let resting = state.last_attempt_ms.is_some_and(|t| now_ms < t.saturating_add(retry_after));
                let go = stale && !resting;
                if go {
                    state.last_attempt_ms = Some(now_ms);
                }
                go
            };
            if go
                && let Err(why) = fetcher
                    .fetch(url)
                    .and_then(|bytes| install(issuer, &self.generation, &bytes, now_ms).map_err(|e| e.to_string()))
            {
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

    /// Requests waiting now for an unknown `kid`'s refetch of `iss` (for tests).
    pub fn waiting(&self, iss: &str) -> usize {
        self.issuers.iter().filter(|i| i.iss == iss).map(|i| i.state().waiting).sum()
    }

    /// An unknown `kid` of a URL issuer may mean the issuer rotated its keys:
    /// refetch them and wait for the new ones, at most [`UNKNOWN_KID_WAIT_MS`]
    /// from the start of the refetch. The first unknown `kid` starts the refetch;
    /// those that come while it is under way wait for the same one (one fetch
    /// however many requests wait, and at most [`MAX_UNKNOWN_KID_WAITERS`] of
    /// them). Once it has ended, unknown `kid`s are refused without a wait until
    /// [`UNKNOWN_KID_REFETCH_MS`] after it started.
    fn unknown_kid(&self, issuer: &Arc<IssuerKeys>, now_ms: u64) {
        let (Some(fetcher), Some((url, _))) = (&self.fetcher, &issuer.url) else { return };
        let mut state = issuer.state();
        let ticket = state.ended;
        let start = !state.in_flight;
        if start {
            // A clock that went back does not keep refetches off for that long.
            let recent =
                state.unknown_kid_ms.is_some_and(|t| t <= now_ms && now_ms < t.saturating_add(UNKNOWN_KID_REFETCH_MS));
            if recent {
                return;
            }
            state.unknown_kid_ms = Some(now_ms);
            state.in_flight = true;
            state.flight_deadline = Some(Instant::now() + self.unknown_kid_wait);
        } else if state.waiting >= MAX_UNKNOWN_KID_WAITERS {
            return;
        }
        // A refetch slower than the wait is not waited for by those who come
        // late either: they share its deadline.
        let deadline = state.flight_deadline.unwrap_or_else(Instant::now);
        state.waiting += 1;
        drop(state);
        if start {
            let flight = Flight { issuer: issuer.clone(), generation: self.generation.clone(), at_ms: now_ms };
            fetcher.fetch_then(url, Box::new(move |got| flight.land(got)));
        }
        fetcher.wait(&mut || {
            let mut state = issuer.state();
            while state.ended == ticket {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                state = issuer.refetched.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
            }
        });
        issuer.state().waiting -= 1;
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

impl JwksVerifier {
    /// A JWS whose signature verifies with a key of one of `issuers` (the one
    /// its `iss` names), with its header and claims; nothing else is checked.
    /// `max_bytes` bounds the text.
    fn signed(
        &self,
        token: &str,
        issuers: &[u32],
        now_ms: u64,
        max_bytes: usize,
    ) -> Result<Signed<'_>, (Reason, String)> {
        if token.len() > max_bytes {
            return Err(bad(Reason::TokenMalformed, "the token is too large"));
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(bad(Reason::TokenMalformed, "the token is not a compact JWS"));
        };
        let header = b64(h)
            .and_then(|b| json::parse(&b, TOKEN_JSON).ok())
            .ok_or(bad(Reason::TokenMalformed, "the token header is not valid"))?;
        // RFC 7515 §4.1.11: a recipient must refuse a token whose `crit` names an
        // extension it does not understand. Warden understands none (not even
        // `b64`), so any `crit` is refused, and so is one that is not even a list
        // of names.
        if let Some(crit) = header.get("crit") {
            let names = crit.as_array().filter(|l| !l.is_empty() && l.iter().all(Value::is_string));
            return Err(bad(
                Reason::TokenMalformed,
                if names.is_some() {
                    "the token header marks extensions critical (`crit`), and Warden understands none"
                } else {
                    "the token header's `crit` is not a non-empty list of extension names"
                },
            ));
        }
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
        Ok(Signed { index, issuer, header, claims, hmac: alg.is_hmac() })
    }

    /// An RFC 9701 introspection answer of issuer `issuer` (its index in the
    /// graph): a JWT of type `token-introspection+jwt` that the issuer signed
    /// with one of its keys (never a shared secret), issued by it, for
    /// `client` (Warden's client id there), issued at most `max_age_s` ago
    /// (with the leeway: it was asked for a moment ago, so an older one is
    /// replayed), valid now (`nbf`, `exp` when it has them). Its
    /// `token_introspection` member is the answer. `Err` says what is wrong.
    pub fn introspection_answer(
        &self,
        jwt: &str,
        issuer: u32,
        client: &str,
        now_ms: u64,
        max_age_s: u64,
    ) -> Result<serde_json::Map<String, Value>, String> {
        let signed = self.signed(jwt.trim(), &[issuer], now_ms, MAX_SIGNED_ANSWER_BYTES).map_err(|(_, why)| {
            why.replace("the token's", "the signed answer's").replace("the token", "the signed answer")
        })?;
        if signed.hmac {
            return Err("the signed answer uses a shared-secret algorithm".to_owned());
        }
        let typ = signed.header.get("typ").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
        if typ != "token-introspection+jwt" && typ != "application/token-introspection+jwt" {
            return Err("the signed answer is not of type `token-introspection+jwt`".to_owned());
        }
        let mut claims = signed.claims;
        let for_us = match claims.get("aud") {
            Some(Value::String(a)) => a == client,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(client)),
            _ => false,
        };
        if !for_us {
            return Err("the signed answer is for another client".to_owned());
        }
        let now = i64::try_from(now_ms / 1000).unwrap_or(i64::MAX);
        let leeway = signed.issuer.leeway_s;
        let max_age = i64::try_from(max_age_s).unwrap_or(i64::MAX);
        match claims.get("iat").map(Value::as_f64) {
            Some(Some(iat)) if (iat as i64).saturating_sub(leeway) > now => {
                return Err("the signed answer was issued in the future".to_owned());
            }
            // It was asked for a moment ago: an older one is replayed.
            Some(Some(iat)) if (iat as i64).saturating_add(max_age).saturating_add(leeway) < now => {
                return Err("the signed answer is older than the question (replayed?)".to_owned());
            }
            Some(Some(_)) => {}
            _ => return Err("the signed answer has no numeric `iat`".to_owned()),
        }
        if claims.get("nbf").and_then(Value::as_f64).is_some_and(|nbf| (nbf as i64).saturating_sub(leeway) > now) {
            return Err("the signed answer is not valid yet".to_owned());
        }
        match claims.get("exp").map(Value::as_f64) {
            None => {}
            Some(Some(exp)) if (exp as i64).saturating_add(leeway) > now => {}
            Some(_) => return Err("the signed answer has expired".to_owned()),
        }
        match claims.remove("token_introspection") {
            Some(Value::Object(answer)) => Ok(answer),
            _ => Err("the signed answer holds no `token_introspection` object".to_owned()),
        }
    }
}

/// The longest RFC 9701 answer read: the answer itself is bounded by the
/// JSON limits of claims.
pub const MAX_SIGNED_ANSWER_BYTES: usize = 64 << 10;

/// A JWS whose signature verified, before its claims are checked.
struct Signed<'a> {
    index: u32,
    issuer: &'a Arc<IssuerKeys>,
    header: Value,
    claims: serde_json::Map<String, Value>,
    hmac: bool,
}

impl TokenVerifier for JwksVerifier {
    fn verify(&self, token: &str, issuers: &[u32], now_ms: u64) -> Result<VerifiedToken, (Reason, String)> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(bad(Reason::TokenMalformed, "the token is larger than 8 KiB"));
        }
        let Signed { index, issuer, claims, header, .. } = self.signed(token, issuers, now_ms, MAX_TOKEN_BYTES)?;
        // An introspection answer (RFC 9701) is about a token, not one.
        let typ = header.get("typ").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
        if typ.ends_with("token-introspection+jwt") {
            return Err(bad(Reason::TokenMalformed, "an introspection answer is not an access token"));
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
