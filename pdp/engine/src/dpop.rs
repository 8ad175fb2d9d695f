//! DPoP proofs (RFC 9449): the `DPoP` header of a request whose access token
//! is bound to a key (`cnf.jkt`). A proof is a JWT signed by that key, with
//! the public key in its header, naming the request (`htm`, `htu`), the
//! access token (`ath`), when (`iat`) and a unique `jti`. This module checks
//! one proof and gives its key's RFC 7638 thumbprint; the caller compares it
//! with the token's `cnf.jkt` and refuses a `jti` seen before (the replay
//! store is the limiter, so it is shared across replicas with Redis).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use sha2::Digest as _;

/// The longest proof read.
pub const MAX_PROOF_BYTES: usize = 8 << 10;
/// How old (or, for clock skew, how far ahead) a proof's `iat` may be.
pub const WINDOW_MS: u64 = 60_000;
/// The asymmetric algorithms a proof may use; `none` and HMAC never.
pub const ALGORITHMS: &[Algorithm] = &[
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// How long a proof's `jti` is remembered: longer than any proof is accepted
/// (`iat` up to [`WINDOW_MS`] ahead or behind), with a margin for clocks.
pub const REMEMBER_MS: u64 = 2 * WINDOW_MS + 60_000;

/// Proofs remembered at most by one process.
pub const REPLAY_ENTRIES: usize = 200_000;

/// The proofs this process has accepted (key digest → when it may be
/// forgotten), for the whole process so a reload does not forget them. It
/// never drops a proof before its time: when it is full of unexpired proofs it
/// refuses new ones (fail closed), so nobody can push a proof out by flooding
/// it (or the rate-limit store) and replay it.
pub struct ReplayStore {
    seen: std::sync::Mutex<std::collections::HashMap<u64, u64>>,
    /// When a full store was last swept of what it may forget: a full store
    /// is swept at most once a second, so a flood costs O(1) per proof.
    swept_ms: std::sync::atomic::AtomicU64,
    hasher: std::collections::hash_map::RandomState,
    capacity: usize,
}

impl ReplayStore {
    /// An empty store of `capacity` proofs.
    pub fn new(capacity: usize) -> ReplayStore {
        ReplayStore {
            seen: std::sync::Mutex::new(std::collections::HashMap::new()),
            swept_ms: std::sync::atomic::AtomicU64::new(0),
            hasher: std::collections::hash_map::RandomState::new(),
            capacity,
        }
    }

    /// The process's store.
    pub fn global() -> &'static ReplayStore {
        static STORE: std::sync::OnceLock<ReplayStore> = std::sync::OnceLock::new();
        STORE.get_or_init(|| ReplayStore::new(REPLAY_ENTRIES))
    }

    /// Records `key` at `now_ms`: `Ok(true)` the first time, `Ok(false)` for a
    /// replay, `Err` when the store is full of proofs still to be remembered.
    pub fn first_use(&self, key: &str, now_ms: u64) -> Result<bool, String> {
        use std::hash::BuildHasher as _;
        let digest = self.hasher.hash_one(key);
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(&until) = seen.get(&digest)
            && now_ms < until
        {
            return Ok(false);
        }
        if seen.len() >= self.capacity {
            use std::sync::atomic::Ordering;
            if now_ms >= self.swept_ms.load(Ordering::Relaxed).saturating_add(1_000) {
                self.swept_ms.store(now_ms, Ordering::Relaxed);
                seen.retain(|_, until| now_ms < *until);
            }
            if seen.len() >= self.capacity {
                return Err("too many DPoP proofs are remembered; try again shortly".to_owned());
            }
        }
        seen.insert(digest, now_ms.saturating_add(REMEMBER_MS));
        Ok(true)
    }

    /// Proofs remembered now.
    pub fn len(&self) -> usize {
        self.seen.lock().map_or(0, |s| s.len())
    }

    /// Nothing remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a valid proof says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// The RFC 7638 thumbprint of its key (what `cnf.jkt` must be).
    pub jkt: String,
    /// Its unique id (for the replay store).
    pub jti: String,
}

/// The request a proof must name.
pub struct Target<'a> {
    /// `htm`: the request's method.
    pub method: &'a str,
    /// `htu`: the request's URI without query or fragment, normalised (see [`htu`]).
    pub uri: &'a str,
    /// The access token it accompanies (`ath` is its SHA-256).
    pub access_token: &'a str,
    /// Now, Unix milliseconds.
    pub now_ms: u64,
}

/// `scheme://host[:port]/path` of a request, as a DPoP `htu` is compared
/// (RFC 9449 §4.3: no query or fragment; scheme and host in lower case; the
/// scheme's default port left out).
pub fn htu(scheme: &str, host: &str, target: &str) -> String {
    let scheme = scheme.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    let host = match (scheme.as_str(), host.rsplit_once(':')) {
        ("https", Some((h, "443"))) | ("http", Some((h, "80"))) => h.to_owned(),
        _ => host,
    };
    let path = target.split(['?', '#']).next().unwrap_or("");
    let path = if path.is_empty() { "/" } else { path };
    format!("{scheme}://{host}{path}")
}

/// A proof's `htu` in the same form as [`htu`].
fn normalise_htu(text: &str) -> Option<String> {
    let (scheme, rest) = text.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, path) = rest.split_at(end);
    Some(htu(scheme, host, path))
}

/// Checks `proof` for `target`; `Err` says why it is refused.
pub fn verify(proof: &str, target: &Target<'_>) -> Result<Proof, String> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(format!("the DPoP proof is larger than {MAX_PROOF_BYTES} bytes"));
    }
    let raw_header = proof.split('.').next().unwrap_or("");
    let header: Map<String, Value> = URL_SAFE_NO_PAD
        .decode(raw_header)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("the DPoP proof is not a JWT")?;
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err("the DPoP proof's `typ` is not `dpop+jwt`".to_owned());
    }
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let alg = alg
        .parse::<Algorithm>()
        .ok()
        .filter(|a| ALGORITHMS.contains(a))
        .ok_or_else(|| format!("the DPoP proof's `alg` `{alg}` is not an asymmetric algorithm Warden takes"))?;
    let Some(Value::Object(jwk)) = header.get("jwk") else {
        return Err("the DPoP proof has no `jwk` in its header".to_owned());
    };
    // A private key in the header would mean the client gave its key away.
    if ["d", "p", "q", "dp", "dq", "qi", "k"].iter().any(|m| jwk.contains_key(*m)) {
        return Err("the DPoP proof's `jwk` holds a private key".to_owned());
    }
    let parsed: jsonwebtoken::jwk::Jwk = serde_json::from_value(Value::Object(jwk.clone()))
        .map_err(|_| "the DPoP proof's `jwk` is not a public key".to_owned())?;
    let key = DecodingKey::from_jwk(&parsed).map_err(|_| "the DPoP proof's `jwk` is not a public key".to_owned())?;
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Map<String, Value>>(proof, &key, &validation)
        .map_err(|_| "the DPoP proof's signature does not verify with its `jwk`".to_owned())?
        .claims;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
    let jti = text("jti").filter(|j| j.len() <= 256).ok_or("the DPoP proof has no `jti`")?;
    if text("htm") != Some(target.method) {
        return Err("the DPoP proof is for another method (`htm`)".to_owned());
    }
    if text("htu").and_then(normalise_htu).as_deref() != Some(target.uri) {
        return Err("the DPoP proof is for another URI (`htu`)".to_owned());
    }
    let iat_ms = claims.get("iat").and_then(Value::as_u64).ok_or("the DPoP proof has no `iat`")?.saturating_mul(1_000);
    if iat_ms.saturating_add(WINDOW_MS) < target.now_ms || iat_ms > target.now_ms.saturating_add(WINDOW_MS) {
        return Err("the DPoP proof's `iat` is outside the accepted window".to_owned());
    }
    let ath = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(target.access_token.as_bytes()));
    if text("ath") != Some(ath.as_str()) {
        return Err("the DPoP proof is for another access token (`ath`)".to_owned());
    }
    Ok(Proof { jkt: thumbprint(jwk)?, jti: jti.to_owned() })
}

/// RFC 7638: SHA-256 of the key's required members in lexicographic order,
/// base64url.
pub fn thumbprint(jwk: &Map<String, Value>) -> Result<String, String> {
    let member = |name: &str| {
        jwk.get(name).and_then(Value::as_str).ok_or_else(|| format!("the DPoP proof's `jwk` has no `{name}`"))
    };
    let names: &[&str] = match member("kty")? {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        other => return Err(format!("the DPoP proof's `jwk` is of type `{other}`")),
    };
    let mut canonical = Map::new();
    for name in names {
        canonical.insert((*name).to_owned(), Value::String(member(name)?.to_owned()));
    }
    // serde_json writes a map's keys in order without white space: RFC 7638 §3.
    let text = serde_json::to_string(&canonical).map_err(|e| e.to_string())?;
    Ok(URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(text.as_bytes())))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn htu_is_compared_without_query_default_port_or_case() {
        assert_eq!(htu("HTTPS", "API.Example:443", "/a/b?x=1#f"), "https://api.example/a/b");
        assert_eq!(htu("http", "api.example:8080", ""), "http://api.example:8080/");
        assert_eq!(normalise_htu("https://API.example:443/a/b?q").as_deref(), Some("https://api.example/a/b"));
        assert_eq!(normalise_htu("api.example/a"), None);
    }

    #[test]
    fn the_replay_store_refuses_replays_and_never_forgets_early() {
        let store = ReplayStore::new(2);
        assert_eq!(store.first_use("a", 0), Ok(true));
        assert_eq!(store.first_use("a", REMEMBER_MS - 1), Ok(false));
        assert_eq!(store.first_use("b", 1), Ok(true));
        // Full of proofs still to be remembered: a new one is refused, not let in
        // by pushing an old one out.
        assert!(store.first_use("c", 2).is_err());
        assert_eq!(store.first_use("a", 3), Ok(false));
        // Once they may be forgotten, there is room again.
        assert_eq!(store.first_use("c", REMEMBER_MS + 2_000), Ok(true));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn the_rfc_7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let jwk = json!({"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"});
        let Value::Object(jwk) = jwk else { panic!("an object") };
        assert_eq!(thumbprint(&jwk).unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }
}
