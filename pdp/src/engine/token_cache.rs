//! A verified-token cache in front of a [`TokenVerifier`]: a repeated token costs a
//! hash and a lookup, not a signature check. Keyed by the SHA-256 of the token and
//! the issuers asked about (never the token itself); bounded in size; an entry is
//! never used at or after the token's `exp` (plus the issuer's leeway, which the
//! inner verifier already allowed for when it accepted it). When the inner
//! verifier's keys change (a refetched JWKS), every entry is forgotten, so a
//! token signed by a retired key is not accepted from the cache.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use warden_language::reason::Reason;

use super::run::{TokenVerifier, VerifiedToken};

/// The cache.
pub struct CachingVerifier<V> {
    inner: V,
    capacity: usize,
    entries: Mutex<Entries>,
}

/// The cached tokens and the key generation they were verified under.
#[derive(Default)]
struct Entries {
    generation: u64,
    map: HashMap<[u8; 32], (VerifiedToken, u64)>,
}

impl<V: TokenVerifier> CachingVerifier<V> {
    /// Caches at most `capacity` verified tokens.
    pub fn new(inner: V, capacity: usize) -> CachingVerifier<V> {
        CachingVerifier { inner, capacity: capacity.max(1), entries: Mutex::new(Entries::default()) }
    }

    /// Tokens held (for metrics and tests).
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.map.len())
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
        let generation = self.inner.keys_generation();
        if let Ok(mut entries) = self.entries.lock() {
            if entries.generation != generation {
                entries.map.clear();
                entries.generation = generation;
            }
            if let Some((verified, until_ms)) = entries.map.get(&k)
                && now_ms < *until_ms
            {
                return Ok(verified.clone());
            }
        }
        // Failures are not cached: a bad token is cheap to refuse again (no signature
        // check happens before the header, issuer and algorithm pass).
        let verified = self.inner.verify(token, issuers, now_ms)?;
        let exp_ms =
            verified.claims.get("exp").and_then(serde_json::Value::as_f64).map_or(0, |e| (e.max(0.0) * 1000.0) as u64);
        // Keys replaced while verifying: the answer is right for this request,
        // but not worth keeping.
        if exp_ms > now_ms
            && self.inner.keys_generation() == generation
            && let Ok(mut entries) = self.entries.lock()
            && entries.generation == generation
        {
            let map = &mut entries.map;
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

    fn keys_generation(&self) -> u64 {
        self.inner.keys_generation()
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

    /// Accepts tokens while `valid` holds; its keys change when `generation` rises.
    struct Rotating {
        valid: std::sync::atomic::AtomicBool,
        generation: std::sync::atomic::AtomicU64,
    }

    impl TokenVerifier for Rotating {
        fn verify(&self, _: &str, _: &[u32], _: u64) -> Result<VerifiedToken, (Reason, String)> {
            if !self.valid.load(Ordering::Relaxed) {
                return Err((Reason::KeyUnknown, String::new()));
            }
            let mut claims = Map::new();
            claims.insert("exp".to_owned(), json!(1_000));
            Ok(VerifiedToken { claims: claims.into(), issuer: 0 })
        }

        fn keys_generation(&self) -> u64 {
            self.generation.load(Ordering::Relaxed)
        }
    }

    #[test]
    fn new_keys_empty_the_cache() {
        let c = CachingVerifier::new(Rotating { valid: true.into(), generation: 0.into() }, 10);
        assert!(c.verify("t", &[0], 0).is_ok());
        // The key is retired, but the keys have not changed yet: the cache answers.
        c.inner.valid.store(false, Ordering::Relaxed);
        assert!(c.verify("t", &[0], 0).is_ok());
        // A refetched key set: the token is verified again, and refused.
        c.inner.generation.store(1, Ordering::Relaxed);
        assert_eq!(c.verify("t", &[0], 0).map(|_| ()).map_err(|(r, _)| r), Err(Reason::KeyUnknown));
        assert_eq!(c.keys_generation(), 1);
        assert!(c.is_empty());
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
