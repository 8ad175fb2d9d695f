//! A verified-token cache in front of a [`TokenVerifier`]: a repeated token costs a
//! hash and a lookup, not a signature check. Keyed by the SHA-256 of the token and
//! the issuers asked about (never the token itself); bounded in size; an entry is
//! never used at or after the token's `exp` (plus the issuer's leeway, which the
//! inner verifier already allowed for when it accepted it).

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use warden_language::reason::Reason;

use super::run::{TokenVerifier, VerifiedToken};

/// The cache.
pub struct CachingVerifier<V> {
    inner: V,
    capacity: usize,
    entries: Mutex<HashMap<[u8; 32], (VerifiedToken, u64)>>,
}

impl<V: TokenVerifier> CachingVerifier<V> {
    /// Caches at most `capacity` verified tokens.
    pub fn new(inner: V, capacity: usize) -> CachingVerifier<V> {
        CachingVerifier { inner, capacity: capacity.max(1), entries: Mutex::new(HashMap::new()) }
    }

    /// Tokens held (for metrics and tests).
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |m| m.len())
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn key(token: &str, issuers: &[u32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(token.as_bytes());
    for i in issuers {
        h.update(i.to_le_bytes());
    }
    h.finalize().into()
}

impl<V: TokenVerifier> TokenVerifier for CachingVerifier<V> {
    fn verify(&self, token: &str, issuers: &[u32], now_ms: u64) -> Result<VerifiedToken, (Reason, String)> {
        let k = key(token, issuers);
        if let Ok(map) = self.entries.lock()
            && let Some((verified, until_ms)) = map.get(&k)
            && now_ms < *until_ms
        {
            return Ok(verified.clone());
        }
        // Failures are not cached: a bad token is cheap to refuse again (no signature
        // check happens before the header, issuer and algorithm pass).
        let verified = self.inner.verify(token, issuers, now_ms)?;
        let exp_ms =
            verified.claims.get("exp").and_then(serde_json::Value::as_f64).map_or(0, |e| (e.max(0.0) * 1000.0) as u64);
        if exp_ms > now_ms
            && let Ok(mut map) = self.entries.lock()
        {
            if map.len() >= self.capacity {
                map.retain(|_, (_, until)| *until > now_ms);
                if map.len() >= self.capacity {
                    // Still full: drop the entry that expires first.
                    if let Some(first) = map.iter().min_by_key(|(_, (_, until))| *until).map(|(k, _)| *k) {
                        map.remove(&first);
                    }
                }
            }
            map.insert(k, (verified.clone(), exp_ms));
        }
        Ok(verified)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::{Map, json};

    use super::*;

    /// Counts how often it is really asked; `exp` is the token's text.
    struct Counting(AtomicUsize);

    impl TokenVerifier for Counting {
        fn verify(&self, token: &str, _: &[u32], _: u64) -> Result<VerifiedToken, (Reason, String)> {
            self.0.fetch_add(1, Ordering::Relaxed);
            let exp: u64 = token.parse().map_err(|_| (Reason::TokenMalformed, String::new()))?;
            let mut claims = Map::new();
            claims.insert("exp".to_owned(), json!(exp));
            Ok(VerifiedToken { claims: claims.into(), issuer: 0 })
        }
    }

    #[test]
    fn repeats_are_served_from_the_cache_until_exp() {
        let c = CachingVerifier::new(Counting(AtomicUsize::new(0)), 10);
        for _ in 0..5 {
            assert!(c.verify("100", &[0], 50_000).is_ok());
        }
        assert_eq!(c.inner.0.load(Ordering::Relaxed), 1);
        // At `exp` the entry is not used: the inner verifier decides again.
        let _ = c.verify("100", &[0], 100_000);
        assert_eq!(c.inner.0.load(Ordering::Relaxed), 2);
        // Another issuer set is another key.
        let _ = c.verify("100", &[1], 50_000);
        assert_eq!(c.inner.0.load(Ordering::Relaxed), 3);
        // Failures are not cached.
        assert!(c.verify("bad", &[0], 0).is_err());
        assert!(c.verify("bad", &[0], 0).is_err());
        assert_eq!(c.inner.0.load(Ordering::Relaxed), 5);
        // Held: the token for issuers [0] and for [1]; the failures are not.
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn size_stays_bounded() {
        let c = CachingVerifier::new(Counting(AtomicUsize::new(0)), 100);
        for exp in 1_000..11_000u64 {
            let _ = c.verify(&exp.to_string(), &[0], 0);
        }
        assert!(c.len() <= 100, "{}", c.len());
    }
}
