//! A verified-token cache in front of a [`TokenVerifier`]: a repeated token costs a
//! hash, a lookup and a comparison, not a signature check. Keyed by a randomly
//! seeded 64-bit hash (foldhash) of the token and the issuers asked about, and
//! an entry is used only when its token and issuers are exactly the ones asked
//! about (the hash only finds the entry; it never stands for the token). Bounded
//! in entries and in bytes (an estimate of each entry's token and claims),
//! evicting the least recently used entry in constant time; an entry is never
//! used at or after the token's `exp` (plus the issuer's leeway, which the inner
//! verifier already allowed for when it accepted it). When the inner verifier's
//! keys change (a refetched JWKS), every entry is forgotten, so a token signed by
//! a retired key is not accepted from the cache.

use std::sync::Mutex;

use std::hash::{BuildHasher, Hasher};

use serde_json::Value;
use warden_language::reason::Reason;

use super::limits::{Lru, Prehashed};
use super::run::{TokenVerifier, VerifiedToken};

/// The default byte budget of the cache: 64 MiB.
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;

/// The cache.
pub struct CachingVerifier<V> {
    inner: V,
    capacity: usize,
    max_bytes: usize,
    /// Seeds the entries' hashes: random per cache, so nobody can aim two
    /// tokens at one slot (and only verified tokens are ever held).
    seed: foldhash::fast::RandomState,
    entries: Mutex<Entries>,
}

/// The cached tokens and the key generation they were verified under.
struct Entries {
    generation: u64,
    map: Lru<u64, Entry, Prehashed>,
    /// The sum of the entries' estimated sizes.
    bytes: usize,
}

/// One verified token.
struct Entry {
    /// The token itself, compared in full before the entry is used.
    token: Box<str>,
    /// The issuers it was verified against.
    issuers: Box<[u32]>,
    verified: VerifiedToken,
    /// Not used at or after this instant (the token's `exp`).
    until_ms: u64,
    /// Estimated memory held (see [`entry_bytes`]).
    bytes: usize,
}

impl Entries {
    fn remove(&mut self, key: &u64) {
        if let Some(e) = self.map.remove(key) {
            self.bytes = self.bytes.saturating_sub(e.bytes);
        }
    }

    fn clear(&mut self) {
        self.map.clear();
        self.bytes = 0;
    }
}

impl<V: TokenVerifier> CachingVerifier<V> {
    /// Caches at most `capacity` verified tokens in at most [`DEFAULT_MAX_BYTES`].
    pub fn new(inner: V, capacity: usize) -> CachingVerifier<V> {
        CachingVerifier::with_max_bytes(inner, capacity, DEFAULT_MAX_BYTES)
    }

    /// Caches at most `capacity` verified tokens whose estimated sizes add up to
    /// at most `max_bytes`. A token whose claims alone would take more than a
    /// sixteenth of that is not cached (it is verified each time) so that one
    /// huge token cannot push out many ordinary ones.
    pub fn with_max_bytes(inner: V, capacity: usize, max_bytes: usize) -> CachingVerifier<V> {
        CachingVerifier {
            inner,
            capacity: capacity.max(1),
            max_bytes,
            seed: foldhash::fast::RandomState::default(),
            entries: Mutex::new(Entries { generation: 0, map: Lru::with_hasher(Prehashed), bytes: 0 }),
        }
    }

    /// Tokens held (for metrics and tests).
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.map.len())
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The estimated bytes held (at most the budget).
    pub fn bytes(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.bytes)
    }
}

impl<V> CachingVerifier<V> {
    /// Where the entry for `token` and `issuers` lives (not proof that it is theirs).
    fn key(&self, token: &str, issuers: &[u32]) -> u64 {
        let mut h = self.seed.build_hasher();
        h.write(token.as_bytes());
        h.write_usize(issuers.len());
        for &i in issuers {
            h.write_u32(i);
        }
        h.finish()
    }
}

/// Per entry beyond its token and claims: the key, the index and list slots,
/// the shared map's allocation.
const ENTRY_OVERHEAD: usize = 160;

/// An estimate of the memory an entry holds: its fixed cost, its token and
/// issuers, and its claims, walked (strings at their length, every value and
/// map entry at its in-memory size). Near enough to bound the cache; not an
/// allocator's exact count.
fn entry_bytes(token: &str, issuers: &[u32], claims: &serde_json::Map<String, Value>) -> usize {
    fn value(v: &Value) -> usize {
        let own = std::mem::size_of::<Value>();
        match v {
            Value::String(s) => own + s.len(),
            Value::Array(items) => own + items.iter().map(value).sum::<usize>(),
            Value::Object(map) => own + object(map),
            Value::Null | Value::Bool(_) | Value::Number(_) => own,
        }
    }
    fn object(map: &serde_json::Map<String, Value>) -> usize {
        // A map entry: its key string, its value, and the tree's per-entry share.
        map.iter().map(|(k, v)| std::mem::size_of::<String>() + k.len() + 16 + value(v)).sum()
    }
    ENTRY_OVERHEAD + token.len() + std::mem::size_of_val(issuers) + object(claims)
}

impl<V: TokenVerifier> TokenVerifier for CachingVerifier<V> {
    fn verify(&self, token: &str, issuers: &[u32], now_ms: u64) -> Result<VerifiedToken, (Reason, String)> {
        let k = self.key(token, issuers);
        let generation = self.inner.keys_generation();
        if let Ok(mut entries) = self.entries.lock() {
            if entries.generation != generation {
                entries.clear();
                entries.generation = generation;
            }
            // Only this very token for these very issuers; an expired entry is
            // not used, nor made more recent: it goes first.
            if entries.map.peek(&k).is_some_and(|e| now_ms < e.until_ms && *e.token == *token && *e.issuers == *issuers)
                && let Some(entry) = entries.map.get_mut(&k)
            {
                return Ok(entry.verified.clone());
            }
        }
        // Failures are not cached: a bad token is cheap to refuse again (no signature
        // check happens before the header, issuer and algorithm pass).
        let verified = self.inner.verify(token, issuers, now_ms)?;
        let exp_ms =
            verified.claims.get("exp").and_then(serde_json::Value::as_f64).map_or(0, |e| (e.max(0.0) * 1000.0) as u64);
        let bytes = entry_bytes(token, issuers, &verified.claims);
        // Keys replaced while verifying: the answer is right for this request,
        // but not worth keeping.
        if exp_ms > now_ms
            && bytes <= self.max_bytes / 16
            && self.inner.keys_generation() == generation
            && let Ok(mut entries) = self.entries.lock()
            && entries.generation == generation
        {
            // Another request may have cached the same token meanwhile, or another
            // token may hold the slot (the new one takes it).
            entries.remove(&k);
            while entries.map.len() >= self.capacity || entries.bytes + bytes > self.max_bytes {
                match entries.map.pop_lru() {
                    Some((_, old)) => entries.bytes = entries.bytes.saturating_sub(old.bytes),
                    None => break,
                }
            }
            if entries.bytes + bytes <= self.max_bytes {
                entries.bytes += bytes;
                let entry = Entry {
                    token: token.into(),
                    issuers: issuers.into(),
                    verified: verified.clone(),
                    until_ms: exp_ms,
                    bytes,
                };
                entries.map.insert(k, entry);
            }
        }
        Ok(verified)
    }

    fn keys_generation(&self) -> u64 {
        self.inner.keys_generation()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test assertions")]

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

    /// Like `Counting`, with a `pad` claim of `pad` bytes in every token.
    struct Padded {
        calls: AtomicUsize,
        pad: usize,
    }

    impl TokenVerifier for Padded {
        fn verify(&self, token: &str, _: &[u32], _: u64) -> Result<VerifiedToken, (Reason, String)> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let exp: u64 = token.parse().map_err(|_| (Reason::TokenMalformed, String::new()))?;
            let mut claims = Map::new();
            claims.insert("exp".to_owned(), json!(exp));
            claims.insert("pad".to_owned(), json!("x".repeat(self.pad)));
            Ok(VerifiedToken { claims: claims.into(), issuer: 0 })
        }
    }

    #[test]
    fn the_byte_budget_holds() {
        let budget = 256 * 1024;
        let c = CachingVerifier::with_max_bytes(Padded { calls: AtomicUsize::new(0), pad: 10_000 }, 10_000, budget);
        for exp in 1_000..2_000u64 {
            assert!(c.verify(&exp.to_string(), &[0], 0).is_ok());
            assert!(c.bytes() <= budget, "{} bytes", c.bytes());
        }
        // Far fewer than the 10,000 entries allowed: the bytes ran out first.
        assert!(c.len() >= 20 && c.len() <= 26, "{} entries", c.len());
        assert!(c.bytes() > budget - 11_000, "{} bytes", c.bytes());
        // The most recent is held: served without asking.
        let calls = c.inner.calls.load(Ordering::Relaxed);
        assert!(c.verify("1999", &[0], 0).is_ok());
        assert_eq!(c.inner.calls.load(Ordering::Relaxed), calls);
    }

    #[test]
    fn a_token_too_big_for_its_share_is_not_cached() {
        // 20 kB of claims against a 256 KiB budget (a sixteenth is 16 KiB).
        let c = CachingVerifier::with_max_bytes(Padded { calls: AtomicUsize::new(0), pad: 20_000 }, 100, 256 * 1024);
        assert!(c.verify("1000", &[0], 0).is_ok());
        assert!(c.verify("1000", &[0], 0).is_ok());
        assert_eq!(c.inner.calls.load(Ordering::Relaxed), 2);
        assert!(c.is_empty());
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn the_least_recently_used_entry_goes_first() {
        let c = CachingVerifier::new(Counting(AtomicUsize::new(0)), 3);
        for t in ["1000", "2000", "3000"] {
            assert!(c.verify(t, &[0], 0).is_ok());
        }
        // `1000` is used again (it also expires first: not what decides).
        assert!(c.verify("1000", &[0], 0).is_ok());
        assert!(c.verify("4000", &[0], 0).is_ok());
        assert_eq!(c.inner.0.load(Ordering::Relaxed), 4);
        // Held: 1000, 3000, 4000.
        for t in ["1000", "3000", "4000"] {
            assert!(c.verify(t, &[0], 0).is_ok());
        }
        assert_eq!(c.inner.0.load(Ordering::Relaxed), 4);
        // `2000` went.
        assert!(c.verify("2000", &[0], 0).is_ok());
        assert_eq!(c.inner.0.load(Ordering::Relaxed), 5);
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn an_expired_entry_is_not_used_nor_made_recent() {
        let c = CachingVerifier::with_max_bytes(Padded { calls: AtomicUsize::new(0), pad: 100 }, 2, 1 << 20);
        assert!(c.verify("10", &[0], 0).is_ok());
        assert!(c.verify("20", &[0], 0).is_ok());
        let two = c.bytes();
        // At its `exp` the first is not used (the inner verifier is asked again).
        assert!(c.verify("10", &[0], 10_000).is_ok());
        assert_eq!(c.inner.calls.load(Ordering::Relaxed), 3);
        // Still the least recently used: a new token pushes it out, not `20`.
        assert!(c.verify("30", &[0], 10_000).is_ok());
        assert_eq!(c.inner.calls.load(Ordering::Relaxed), 4);
        assert!(c.verify("20", &[0], 10_000).is_ok());
        assert_eq!(c.inner.calls.load(Ordering::Relaxed), 4);
        assert_eq!(c.len(), 2);
        assert_eq!(c.bytes(), two);
    }

    #[test]
    fn an_entry_is_used_only_for_its_own_token_and_issuers() {
        let c = CachingVerifier::new(Counting(AtomicUsize::new(0)), 10);
        assert!(c.verify("2000", &[0], 0).is_ok());
        // Plant the cached claims of `2000` in the slot of `3000` (as if the two
        // hashed alike): `3000` is verified itself, and gets its own claims.
        let planted = {
            let mut entries = c.entries.lock().unwrap();
            let k = c.key("2000", &[0]);
            let entry = entries.map.remove(&k).unwrap();
            let planted = entry.verified.clone();
            entries.map.insert(c.key("3000", &[0]), entry);
            planted
        };
        let got = c.verify("3000", &[0], 0).unwrap();
        assert_eq!(c.inner.0.load(Ordering::Relaxed), 2);
        assert_eq!(got.claims.get("exp"), Some(&json!(3000)));
        assert_ne!(got, planted);
        // The same holds for the issuers: a token verified for issuer 0 and
        // planted under issuer 1's slot is verified again for issuer 1.
        {
            let mut entries = c.entries.lock().unwrap();
            let entry = entries.map.remove(&c.key("3000", &[0])).unwrap();
            entries.map.insert(c.key("3000", &[1]), entry);
        }
        assert!(c.verify("3000", &[1], 0).is_ok());
        assert_eq!(c.inner.0.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_key_change_forgets_the_bytes_too() {
        let c = CachingVerifier::new(Rotating { valid: true.into(), generation: 0.into() }, 10);
        assert!(c.verify("t", &[0], 0).is_ok());
        assert!(c.bytes() > 0);
        c.inner.generation.store(1, Ordering::Relaxed);
        assert!(c.verify("u", &[0], 0).is_ok());
        assert_eq!(c.len(), 1);
        let one = c.bytes();
        assert!(c.verify("t", &[0], 0).is_ok());
        assert_eq!(c.bytes(), 2 * one);
    }
}
