//! Rate limits: GCRA (the generic cell rate algorithm) over a bounded in-process store,
//! behind the [`Limiter`] trait so a shared backend (Redis) can take its place.
//!
//! A limit of N per period with burst B admits one request every `T = period / N`
//! on average and up to B at once: each key keeps a theoretical arrival time
//! (TAT); a request at `now` is admitted when `max(TAT, now) + T - now <= B·T`.
//! A denied request does not move the TAT, so waiting `retry_after` always
//! admits the next one.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher as _};
use std::sync::Mutex;

use siphasher::sip128::{Hasher128 as _, SipHasher24};

/// What a limit allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// N requests…
    pub count: u64,
    /// …per this many milliseconds…
    pub period_ms: u64,
    /// …with bursts of up to this many.
    pub burst: u64,
}

impl Rate {
    /// Milliseconds between requests on average (at least 1 µs, in ns).
    fn interval_ns(self) -> u128 {
        (u128::from(self.period_ms) * 1_000_000 / u128::from(self.count.max(1))).max(1)
    }
}

/// The outcome of consuming one unit of a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Admitted.
    pub allowed: bool,
    /// `ratelimit-limit`: the burst.
    pub limit: u64,
    /// `ratelimit-remaining`: requests still admitted right now.
    pub remaining: u64,
    /// `ratelimit-reset`: milliseconds until the bucket is full again.
    pub reset_ms: u64,
    /// `retry-after` when denied: milliseconds until a request is admitted.
    pub retry_after_ms: u64,
}

/// What [`Limiter::ban`] did: until when (Unix ms) the key is banned, and
/// which offence that is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BanSet {
    /// The ban ends then.
    pub until_ms: u64,
    /// 1 for a first offence, 2 for the next one remembered, …
    pub offences: u32,
    /// The ban started now; `false` when one was already in force (another
    /// replica, or a race, got there first): that one stands, unchanged.
    pub started: bool,
}

/// The terms of a ban about to start ([`Limiter::ban`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BanTerms<'a> {
    /// How long a first offence is banned, in ms.
    pub length_ms: u64,
    /// The longest ban, in ms (repeat offences double up to it).
    pub max_ms: u64,
    /// The ban's counting period, in ms (the count starts again after a ban).
    pub period_ms: u64,
    /// The key for people (see [`key_text`]), kept with the record for listings.
    pub shown: &'a str,
}

/// The length of ban number `offences` (1, 2, …): `length_ms` doubled for each
/// earlier offence, at most `max_ms` (and never less than `length_ms`).
pub fn ban_length(length_ms: u64, max_ms: u64, offences: u32) -> u64 {
    let doubled = length_ms.saturating_mul(1u64.checked_shl(offences.saturating_sub(1)).unwrap_or(u64::MAX));
    doubled.min(max_ms.max(length_ms))
}

/// The distinct values of one key in one window, as a HyperLogLog++ sketch
/// of precision [`SKETCH_PRECISION`] (sparse while small, at most about 1 KiB).
struct Sketch {
    window: u64,
    hll: hyperloglogplus::HyperLogLogPlus<str, std::collections::hash_map::RandomState>,
}

/// 2^10 registers: a standard error of about 3 % once dense; exact-ish below.
const SKETCH_PRECISION: u8 = 10;

/// A ban held in process.
#[derive(Clone, Debug)]
struct BanRecord {
    until_ms: u64,
    offences: u32,
    /// Forgotten after this (the offence count with it).
    remember_until_ms: u64,
    /// The ban's fingerprint, and its key for people.
    ban: u64,
    key: Box<str>,
}

/// A ban in force, as an operator lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HeldBan {
    /// What lifts it ([`Limiter::lift`]): opaque, the store's own.
    pub id: String,
    /// The ban's fingerprint (`Prepared::ban_ids`).
    pub ban: u64,
    /// Its key's values, for people.
    pub key: String,
    /// It ends then (Unix ms).
    pub until_ms: u64,
    /// Which offence it is.
    pub offences: u32,
}

/// What stands for the values of a ban's key that reads a credential.
pub const HIDDEN_KEY: &str = "(hidden: the key reads a credential)";

/// The longest key text kept for people ([`key_text`]), in characters.
pub const KEY_TEXT_CHARS: usize = 128;

/// A ban's key for people: the values, strings without their quotes, a
/// missing one as `(missing)`, control characters escaped (a key is caller
/// input, and ends up in logs and terminals), at most [`KEY_TEXT_CHARS`]
/// characters (`…` when cut).
pub fn key_text(key: &str) -> String {
    let parts: Vec<String> = key
        .split('\u{1f}')
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p == "\u{0}missing" {
                "(missing)".to_owned()
            } else {
                serde_json::from_str::<String>(p).unwrap_or_else(|_| p.to_owned())
            }
        })
        .collect();
    let mut out = String::new();
    for c in parts.join(", ").chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    match out.char_indices().nth(KEY_TEXT_CHARS) {
        Some((cut, _)) => {
            out.truncate(cut);
            out.push('…');
            out
        }
        None => out,
    }
}

/// A shared limit store could not answer in time (unreachable, timed out, or
/// skipped while it is backing off after a failure). The engine then follows
/// the limit's `on_backend_error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackendError;

/// Where limit state lives. Implementations must be safe to share between threads.
pub trait Limiter: Send + Sync {
    /// Consumes one unit of `rate` for `key` (the evaluated key values) of the
    /// limit whose fingerprint is `limit` (see `Prepared::limit_ids`: equal for an
    /// unchanged definition, so buckets outlive a policy reload) at `now_ms`.
    /// A shared backend may use its own clock instead of `now_ms` (one clock for
    /// every replica). Runs on the request path: an implementation that does I/O
    /// must bound it and answer [`BackendError`] rather than wait.
    fn consume(&self, limit: u64, key: &str, rate: Rate, now_ms: u64) -> Result<Outcome, BackendError>;
    /// How many keys are held in process (for the metrics; 0 for a shared store).
    fn keys(&self) -> usize;
    /// How many bans are in force in process at `now_ms` (for the metrics; 0
    /// for a shared store): a count, without listing them.
    fn bans_in_force(&self, now_ms: u64) -> usize {
        let _ = now_ms;
        0
    }
    /// Until when (Unix ms) `key` is banned by the ban whose fingerprint is
    /// `ban`, if it is at `now_ms`. A store that keeps no bans cannot tell.
    fn banned(&self, ban: u64, key: &str, now_ms: u64) -> Result<Option<u64>, BackendError> {
        let _ = (ban, key, now_ms);
        Err(BackendError)
    }
    /// Bans `key` from `now_ms`: for `length_ms`, doubled for each earlier
    /// offence still remembered, at most `max_ms`. Until when, and which
    /// offence this is (1 for the first). Offences are remembered for
    /// `max_ms` (at least `length_ms`) after a ban ends. A ban already in
    /// force is left as it is (`started: false`). A ban that starts forgets
    /// the key's count and distinct values: after it, counting starts again.
    fn ban(&self, ban: u64, key: &str, now_ms: u64, terms: &BanTerms<'_>) -> Result<BanSet, BackendError> {
        let _ = (ban, key, now_ms, terms);
        Err(BackendError)
    }
    /// Adds `value` to the distinct values seen for `key` under ban `ban`
    /// in the current window of `period_ms`; how many distinct values the
    /// window holds now (an estimate: a HyperLogLog sketch, bounded per key).
    fn distinct(&self, ban: u64, key: &str, value: &str, period_ms: u64, now_ms: u64) -> Result<u64, BackendError> {
        let _ = (ban, key, value, period_ms, now_ms);
        Err(BackendError)
    }
    /// The bans in force at `now_ms`, at most `max` of them.
    fn held_bans(&self, now_ms: u64, max: usize) -> Result<Vec<HeldBan>, BackendError> {
        let _ = (now_ms, max);
        Err(BackendError)
    }
    /// Lifts the ban `id` names ([`HeldBan::id`]), forgetting its offences
    /// and its key's count; whether there was one.
    fn lift(&self, id: &str) -> Result<bool, BackendError> {
        let _ = id;
        Err(BackendError)
    }
    /// Forgets every key (tests start from empty state).
    fn clear(&self);
}

/// GCRA for one key: the new TAT when admitted, and the outcome.
pub fn gcra(tat_ns: Option<u128>, rate: Rate, now_ms: u64) -> (Option<u128>, Outcome) {
    let now = u128::from(now_ms) * 1_000_000;
    let t = rate.interval_ns();
    let tau = t * u128::from(rate.burst.max(1));
    let tat = tat_ns.map_or(now, |x| x.max(now));
    let new_tat = tat + t;
    let ms = |ns: u128| u64::try_from(ns.div_ceil(1_000_000)).unwrap_or(u64::MAX);
    if new_tat - now > tau {
        let outcome = Outcome {
            allowed: false,
            limit: rate.burst,
            remaining: 0,
            reset_ms: ms(tat - now),
            retry_after_ms: ms(new_tat - tau - now),
        };
        return (None, outcome);
    }
    let remaining = u64::try_from((tau - (new_tat - now)) / t).unwrap_or(0);
    (
        Some(new_tat),
        Outcome { allowed: true, limit: rate.burst, remaining, reset_ms: ms(new_tat - now), retry_after_ms: 0 },
    )
}

/// The in-process limiter: shards of `key digest → TAT`, at most `max_keys` in all.
///
/// A key is held as a 16-byte digest, never as its text: SipHash-2-4 with a
/// 128-bit output, under a random key of this store, of the limit's
/// fingerprint and the key values. A key of 200 kB costs what a key of 10
/// bytes does, and without the store's key nobody can craft two keys that
/// share a bucket: SipHash is a keyed pseudo-random function (the one the
/// standard library's `HashMap` relies on against hash flooding). A salted
/// SHA-256 did the same job at several times the cost. When a shard is full, its least recently used key
/// goes, in constant time.
pub struct Memory {
    shards: Vec<Mutex<Lru<KeyDigest, u128, DigestHasher>>>,
    per_shard: usize,
    hasher: SipHasher24,
    /// Bans, as bounded as the buckets; and how many are held, so that a
    /// store with none answers without a lock.
    bans: Vec<Mutex<BanShard>>,
    held_bans: std::sync::atomic::AtomicUsize,
    /// Distinct-value sketches, a sixteenth as many as the buckets per shard
    /// (each is larger), least recently used forgotten first.
    sketches: Vec<Mutex<Lru<KeyDigest, Sketch, DigestHasher>>>,
}

/// The number of shards: contention stays low without many locks.
const SHARDS: usize = 16;

/// A key's digest: what [`Memory`] stores instead of the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct KeyDigest([u8; 16]);

impl std::hash::Hash for KeyDigest {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Already a keyed hash: its first eight bytes are as good as any hash of it.
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

/// Hashes a [`KeyDigest`] by taking its bytes as they are (they are already
/// uniformly spread and unpredictable without the store's keys).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `KeyDigest`; fold anything else in anyway.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Builds [`DigestHasher`]s for keys that are already well-spread hashes (a
/// [`KeyDigest`], the token cache's seeded 64-bit hash): the key's own bits
/// are its hash, with no second pass.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Prehashed;

impl BuildHasher for Prehashed {
    type Hasher = DigestHasher;

    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(0)
    }
}

impl BuildHasher for DigestHasher {
    type Hasher = DigestHasher;

    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(0)
    }
}

impl Memory {
    /// A limiter holding at most `max_keys` keys.
    pub fn new(max_keys: usize) -> Memory {
        Memory::with_shards(max_keys, SHARDS)
    }

    /// `max_keys` split over `shards` locks (one in tests, to see the eviction order).
    fn with_shards(max_keys: usize, shards: usize) -> Memory {
        let shards = shards.max(1);
        Memory {
            shards: (0..shards).map(|_| Mutex::new(Lru::with_hasher(DigestHasher(0)))).collect(),
            per_shard: (max_keys / shards).max(1),
            hasher: random_hasher(),
            bans: (0..shards)
                .map(|_| Mutex::new(BanShard { records: Lru::with_hasher(DigestHasher(0)), swept_ms: 0 }))
                .collect(),
            held_bans: std::sync::atomic::AtomicUsize::new(0),
            sketches: (0..shards).map(|_| Mutex::new(Lru::with_hasher(DigestHasher(0)))).collect(),
        }
    }

    fn digest(&self, limit: u64, key: &str) -> KeyDigest {
        let mut h = self.hasher;
        h.write(&limit.to_le_bytes());
        h.write(key.as_bytes());
        KeyDigest(h.finish128().as_bytes())
    }

    fn shard(&self, digest: &KeyDigest) -> &Mutex<Lru<KeyDigest, u128, DigestHasher>> {
        // The last byte picks the shard, so the map's hash (the first eight) still
        // spreads the keys of one shard evenly.
        &self.shards[usize::from(digest.0[15]) % self.shards.len()]
    }
}

/// A SipHash keyed with 128 unpredictable bits: the standard library seeds
/// each `RandomState` from the operating system's random source, and the
/// values it hashes to under its secret key are as unpredictable.
fn random_hasher() -> SipHasher24 {
    let state = std::collections::hash_map::RandomState::new();
    SipHasher24::new_with_keys(state.hash_one(0u8), state.hash_one(1u8))
}

impl Limiter for Memory {
    fn consume(&self, limit: u64, key: &str, rate: Rate, now_ms: u64) -> Result<Outcome, BackendError> {
        let digest = self.digest(limit, key);
        let mut lru = self.shard(&digest).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(tat) = lru.get_mut(&digest) {
            // Known key (now the most recently used, denied or not: a key being
            // refused is the last one to forget).
            let (new_tat, outcome) = gcra(Some(*tat), rate, now_ms);
            if let Some(new_tat) = new_tat {
                *tat = new_tat;
            }
            return Ok(outcome);
        }
        let (tat, outcome) = gcra(None, rate, now_ms);
        if let Some(tat) = tat {
            if lru.len() >= self.per_shard {
                lru.pop_lru();
            }
            lru.insert(digest, tat);
        }
        Ok(outcome)
    }

    fn keys(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map_or(0, |m| m.len())).sum()
    }

    fn clear(&self) {
        for s in &self.shards {
            s.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        }
        for s in &self.bans {
            s.lock().unwrap_or_else(std::sync::PoisonError::into_inner).records.clear();
        }
        for s in &self.sketches {
            s.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        }
        self.held_bans.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    fn banned(&self, ban: u64, key: &str, now_ms: u64) -> Result<Option<u64>, BackendError> {
        use std::sync::atomic::Ordering;
        if self.held_bans.load(Ordering::Relaxed) == 0 {
            return Ok(None);
        }
        let digest = self.digest(ban, key);
        let mut bans = self.ban_shard(&digest).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match bans.records.peek(&digest).map(|r| (r.until_ms, r.remember_until_ms)) {
            Some((until, _)) if now_ms < until => Ok(Some(until)),
            Some((_, remember)) if now_ms >= remember => {
                bans.records.remove(&digest);
                self.held_bans.fetch_sub(1, Ordering::Relaxed);
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    fn ban(&self, ban: u64, key: &str, now_ms: u64, terms: &BanTerms<'_>) -> Result<BanSet, BackendError> {
        use std::sync::atomic::Ordering;
        let digest = self.digest(ban, key);
        let mut shard = self.ban_shard(&digest).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let offences = match shard.records.peek(&digest) {
            Some(r) if now_ms < r.until_ms => {
                return Ok(BanSet { until_ms: r.until_ms, offences: r.offences, started: false });
            }
            Some(r) if now_ms < r.remember_until_ms => r.offences.saturating_add(1),
            _ => 1,
        };
        let until_ms = now_ms.saturating_add(ban_length(terms.length_ms, terms.max_ms, offences));
        let record = BanRecord {
            until_ms,
            offences,
            remember_until_ms: until_ms.saturating_add(terms.max_ms.max(terms.length_ms)),
            ban,
            key: terms.shown.chars().take(KEY_TEXT_CHARS + 1).collect::<String>().into(),
        };
        if shard.records.peek(&digest).is_none() {
            if shard.records.len() >= self.per_shard {
                shard.make_room(now_ms, &self.held_bans);
            }
            self.held_bans.fetch_add(1, Ordering::Relaxed);
        }
        shard.records.insert(digest, record);
        drop(shard);
        self.forget_count(&digest);
        Ok(BanSet { until_ms, offences, started: true })
    }

    fn held_bans(&self, now_ms: u64, max: usize) -> Result<Vec<HeldBan>, BackendError> {
        Ok(self.list_bans(now_ms, max))
    }

    fn bans_in_force(&self, now_ms: u64) -> usize {
        if self.held_bans.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            return 0;
        }
        self.bans
            .iter()
            .map(|s| {
                let shard = s.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                shard.records.iter().filter(|(_, r)| now_ms < r.until_ms).count()
            })
            .sum()
    }

    fn distinct(&self, ban: u64, key: &str, value: &str, period_ms: u64, now_ms: u64) -> Result<u64, BackendError> {
        use hyperloglogplus::HyperLogLog as _;
        // The digest of the ban's record and count: a ban that starts forgets all three.
        let digest = self.digest(ban, key);
        let window = now_ms / period_ms.max(1);
        let cap = (self.per_shard / 16).max(16);
        let shard = &self.sketches[usize::from(digest.0[15]) % self.sketches.len()];
        let mut sketches = shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fresh = || {
            hyperloglogplus::HyperLogLogPlus::new(SKETCH_PRECISION, std::collections::hash_map::RandomState::new())
                .map_err(|_| BackendError)
        };
        let count = match sketches.get_mut(&digest) {
            Some(s) => {
                if s.window != window {
                    *s = Sketch { window, hll: fresh()? };
                }
                s.hll.insert(value);
                s.hll.count()
            }
            None => {
                if sketches.len() >= cap {
                    sketches.pop_lru();
                }
                let mut s = Sketch { window, hll: fresh()? };
                s.hll.insert(value);
                let count = s.hll.count();
                sketches.insert(digest, s);
                count
            }
        };
        Ok(count.round() as u64)
    }

    fn lift(&self, id: &str) -> Result<bool, BackendError> {
        use std::sync::atomic::Ordering;
        let bytes: Option<Vec<u8>> =
            (0..id.len()).step_by(2).map(|i| id.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
        let Some(Ok(digest)) = bytes.filter(|b| id.len() == 32 && b.len() == 16).map(<[u8; 16]>::try_from) else {
            return Ok(false);
        };
        let digest = KeyDigest(digest);
        let removed =
            self.ban_shard(&digest).lock().unwrap_or_else(std::sync::PoisonError::into_inner).records.remove(&digest);
        if removed.is_some() {
            self.held_bans.fetch_sub(1, Ordering::Relaxed);
            self.forget_count(&digest);
        }
        Ok(removed.is_some())
    }
}

impl Memory {
    /// The bans in force at `now_ms`, at most `max`, soonest to end first.
    pub fn list_bans(&self, now_ms: u64, max: usize) -> Vec<HeldBan> {
        let mut out = Vec::new();
        for shard in &self.bans {
            let bans = shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for (digest, r) in bans.records.iter() {
                if now_ms < r.until_ms {
                    let id: String = digest.0.iter().map(|b| format!("{b:02x}")).collect();
                    out.push(HeldBan {
                        id,
                        ban: r.ban,
                        key: r.key.to_string(),
                        until_ms: r.until_ms,
                        offences: r.offences,
                    });
                }
            }
        }
        out.sort_by(|a, b| (a.until_ms, &a.id).cmp(&(b.until_ms, &b.id)));
        out.truncate(max);
        out
    }

    fn ban_shard(&self, digest: &KeyDigest) -> &Mutex<BanShard> {
        &self.bans[usize::from(digest.0[15]) % self.bans.len()]
    }

    /// Forgets the count and the distinct values kept under a ban's `digest`.
    fn forget_count(&self, digest: &KeyDigest) {
        self.shard(digest).lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(digest);
        let sketches = &self.sketches[usize::from(digest.0[15]) % self.sketches.len()];
        sketches.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(digest);
    }
}

/// One shard of the bans held in process.
struct BanShard {
    records: Lru<KeyDigest, BanRecord, DigestHasher>,
    /// When the shard was last swept of forgettable records (Unix ms).
    swept_ms: u64,
}

impl BanShard {
    /// Room for one more record in a full shard: first the records whose
    /// offences may be forgotten (at most one sweep a second: a flood of bans
    /// costs no more than the eviction), else the least recently used.
    fn make_room(&mut self, now_ms: u64, held: &std::sync::atomic::AtomicUsize) {
        use std::sync::atomic::Ordering;
        if now_ms >= self.swept_ms.saturating_add(1_000) {
            self.swept_ms = now_ms;
            let stale: Vec<KeyDigest> =
                self.records.iter().filter(|(_, r)| now_ms >= r.remember_until_ms).map(|(d, _)| *d).collect();
            for d in &stale {
                self.records.remove(d);
            }
            held.fetch_sub(stale.len(), Ordering::Relaxed);
            if !stale.is_empty() {
                return;
            }
        }
        if self.records.pop_lru().is_some() {
            held.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// No neighbour in [`Lru`]'s list.
const NIL: usize = usize::MAX;

/// A map that knows which of its entries was used least recently, for bounded
/// stores: every operation, evicting included, takes constant time. The entries
/// live in one dense vector linked from most to least recently used; the map
/// points into it.
pub(crate) struct Lru<K, V, S = std::collections::hash_map::RandomState> {
    index: HashMap<K, usize, S>,
    nodes: Vec<Node<K, V>>,
    /// Most recently used.
    head: usize,
    /// Least recently used.
    tail: usize,
}

struct Node<K, V> {
    key: K,
    value: V,
    prev: usize,
    next: usize,
}

impl<K: std::hash::Hash + Eq + Copy, V> Lru<K, V> {
    /// An empty map.
    #[cfg(test)]
    pub(crate) fn new() -> Lru<K, V> {
        Lru::with_hasher(std::collections::hash_map::RandomState::new())
    }
}

impl<K: std::hash::Hash + Eq + Copy, V, S: BuildHasher> Lru<K, V, S> {
    /// An empty map hashing keys with `hasher`.
    pub(crate) fn with_hasher(hasher: S) -> Lru<K, V, S> {
        Lru { index: HashMap::with_hasher(hasher), nodes: Vec::new(), head: NIL, tail: NIL }
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The value of `key`, leaving the order as it is.
    pub(crate) fn peek(&self, key: &K) -> Option<&V> {
        let i = *self.index.get(key)?;
        self.nodes.get(i).map(|n| &n.value)
    }

    /// The value of `key`, which becomes the most recently used.
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let i = *self.index.get(key)?;
        self.unlink(i);
        self.push_front(i);
        self.nodes.get_mut(i).map(|n| &mut n.value)
    }

    /// Sets `key` to `value`, now the most recently used; the value it replaces.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(&i) = self.index.get(&key) {
            self.unlink(i);
            self.push_front(i);
            return self.nodes.get_mut(i).map(|n| std::mem::replace(&mut n.value, value));
        }
        let i = self.nodes.len();
        self.nodes.push(Node { key, value, prev: NIL, next: NIL });
        self.index.insert(key, i);
        self.push_front(i);
        None
    }

    /// Removes `key`; its value.
    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let i = self.index.remove(key)?;
        self.take(i).map(|(_, v)| v)
    }

    /// Removes the least recently used entry.
    pub(crate) fn pop_lru(&mut self) -> Option<(K, V)> {
        if self.tail == NIL {
            return None;
        }
        let i = self.tail;
        let key = self.nodes.get(i)?.key;
        self.index.remove(&key);
        self.take(i)
    }

    /// Every entry, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.nodes.iter().map(|n| (&n.key, &n.value))
    }

    /// Forgets everything (and gives the memory back).
    pub(crate) fn clear(&mut self) {
        self.index.clear();
        self.index.shrink_to_fit();
        self.nodes = Vec::new();
        self.head = NIL;
        self.tail = NIL;
    }

    /// Unlinks node `i` (already out of the index) and fills its hole with the
    /// last node, so the vector stays dense.
    fn take(&mut self, i: usize) -> Option<(K, V)> {
        self.unlink(i);
        let last = self.nodes.len().checked_sub(1)?;
        if i != last
            && let Some((prev, next, key)) = self.nodes.get(last).map(|n| (n.prev, n.next, n.key))
        {
            // The last node moves to `i`: repoint its neighbours and its index entry.
            match self.nodes.get_mut(prev) {
                Some(p) => p.next = i,
                None => self.head = i,
            }
            match self.nodes.get_mut(next) {
                Some(n) => n.prev = i,
                None => self.tail = i,
            }
            if let Some(slot) = self.index.get_mut(&key) {
                *slot = i;
            }
        }
        if i > last {
            return None;
        }
        let node = self.nodes.swap_remove(i);
        Some((node.key, node.value))
    }

    fn unlink(&mut self, i: usize) {
        let Some(node) = self.nodes.get_mut(i) else { return };
        let (prev, next) = (node.prev, node.next);
        node.prev = NIL;
        node.next = NIL;
        match self.nodes.get_mut(prev) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match self.nodes.get_mut(next) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
    }

    fn push_front(&mut self, i: usize) {
        let old = self.head;
        if let Some(node) = self.nodes.get_mut(i) {
            node.prev = NIL;
            node.next = old;
        }
        match self.nodes.get_mut(old) {
            Some(h) => h.prev = i,
            None => self.tail = i,
        }
        self.head = i;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "the in-process store never fails")]

    use super::*;

    const FIVE_PER_MINUTE: Rate = Rate { count: 5, period_ms: 60_000, burst: 5 };

    #[test]
    fn five_per_minute_then_one_every_twelve_seconds() {
        let m = Memory::new(1_000);
        for i in 0..5 {
            let o = m.consume(0, "203.0.113.9", FIVE_PER_MINUTE, 1_000).unwrap();
            assert!(o.allowed, "request {i}");
            assert_eq!(o.remaining, 4 - i);
        }
        let denied = m.consume(0, "203.0.113.9", FIVE_PER_MINUTE, 1_000).unwrap();
        assert!(!denied.allowed);
        assert_eq!(denied.retry_after_ms, 12_000);
        assert_eq!(denied.remaining, 0);
        // Denials do not push the next admission further away.
        assert!(!m.consume(0, "203.0.113.9", FIVE_PER_MINUTE, 12_999).unwrap().allowed);
        assert!(m.consume(0, "203.0.113.9", FIVE_PER_MINUTE, 13_000).unwrap().allowed);
        // Other keys and other limits have their own buckets.
        assert!(m.consume(0, "198.51.100.1", FIVE_PER_MINUTE, 1_000).unwrap().allowed);
        assert!(m.consume(1, "203.0.113.9", FIVE_PER_MINUTE, 1_000).unwrap().allowed);
    }

    #[test]
    fn burst_above_rate() {
        let rate = Rate { count: 100, period_ms: 1_000, burst: 200 };
        let m = Memory::new(10);
        let admitted = (0..300).filter(|_| m.consume(0, "c", rate, 0).unwrap().allowed).count();
        assert_eq!(admitted, 200);
        // 10 ms later, one more (100 per second).
        assert!(m.consume(0, "c", rate, 10).unwrap().allowed);
        assert!(!m.consume(0, "c", rate, 10).unwrap().allowed);
    }

    #[test]
    fn memory_stays_bounded_whatever_the_number_of_keys() {
        let m = Memory::new(1_000);
        for i in 0..100_000u64 {
            m.consume(0, &i.to_string(), FIVE_PER_MINUTE, i).unwrap();
        }
        assert!(m.keys() <= 1_000, "{} keys held", m.keys());
        // A recent key is still limited after the flood.
        for _ in 0..5 {
            m.consume(0, "victim", FIVE_PER_MINUTE, 100_000).unwrap();
        }
        assert!(!m.consume(0, "victim", FIVE_PER_MINUTE, 100_000).unwrap().allowed);
    }

    /// The remaining count after one more request: 4 for a fresh key at five per
    /// minute, fewer for a key the store still holds.
    fn remaining_after_one(m: &Memory, key: &str, now_ms: u64) -> u64 {
        m.consume(0, key, FIVE_PER_MINUTE, now_ms).unwrap().remaining
    }

    #[test]
    fn a_key_is_held_as_a_fixed_size_digest() {
        // The store's type says it: a 16-byte digest per key, whatever the key.
        let m = Memory::new(1_000);
        let shard: &Mutex<Lru<KeyDigest, u128, DigestHasher>> = &m.shards[0];
        assert!(shard.lock().unwrap().len() == 0);
        assert_eq!(std::mem::size_of::<KeyDigest>(), 16);
        // Long keys that differ only after a 100 kB prefix are still separate buckets.
        let prefix = "k".repeat(100_000);
        let (a, b) = (format!("{prefix}a"), format!("{prefix}b"));
        for _ in 0..5 {
            assert!(m.consume(0, &a, FIVE_PER_MINUTE, 0).unwrap().allowed);
        }
        assert!(!m.consume(0, &a, FIVE_PER_MINUTE, 0).unwrap().allowed);
        assert!(m.consume(0, &b, FIVE_PER_MINUTE, 0).unwrap().allowed);
        assert_eq!(m.keys(), 2);
        // 1,000 keys of 100 kB each: held as 1,000 digests.
        for i in 0..1_000 {
            m.consume(1, &format!("{prefix}{i}"), FIVE_PER_MINUTE, 0).unwrap();
        }
        assert!(m.keys() <= 1_000);
    }

    #[test]
    fn the_same_key_of_two_limiters_or_two_limits_differs() {
        // The hash key is per store, the limit fingerprint is part of the digest.
        let m = Memory::new(100);
        let other = Memory::new(100);
        assert_ne!(m.digest(0, "k"), other.digest(0, "k"));
        assert_ne!(m.digest(0, "k"), m.digest(1, "k"));
        assert_eq!(m.digest(7, "k"), m.digest(7, "k"));
    }

    #[test]
    fn a_full_store_forgets_the_least_recently_used_keys() {
        let m = Memory::with_shards(100, 1);
        for i in 0..100 {
            assert_eq!(remaining_after_one(&m, &format!("old{i}"), 0), 4);
        }
        // `old0` is used again, so it is now the most recent.
        assert_eq!(remaining_after_one(&m, "old0", 0), 3);
        for i in 0..50 {
            assert_eq!(remaining_after_one(&m, &format!("new{i}"), 0), 4);
        }
        assert_eq!(m.keys(), 100);
        // Kept: `old0` (third request), `old51`… (second request), the new keys.
        assert_eq!(remaining_after_one(&m, "old0", 0), 2);
        for i in 51..100 {
            assert_eq!(remaining_after_one(&m, &format!("old{i}"), 0), 3, "old{i}");
        }
        for i in 0..50 {
            assert_eq!(remaining_after_one(&m, &format!("new{i}"), 0), 3, "new{i}");
        }
        // Forgotten: `old1`…`old50`, the least recently used (a fresh bucket again).
        assert_eq!(remaining_after_one(&m, "old1", 0), 4);
        assert_eq!(remaining_after_one(&m, "old50", 0), 4);
        assert_eq!(m.keys(), 100);
    }

    #[test]
    fn new_keys_over_a_full_store_evict_in_constant_time() {
        // 200,000 new keys over a full 100,000-key store: each insert evicts one key
        // without scanning the shard (the old store scanned ~6,000 keys per insert).
        let m = Memory::new(100_000);
        for i in 0..300_000u64 {
            assert!(m.consume(0, &i.to_string(), FIVE_PER_MINUTE, 0).unwrap().allowed);
        }
        assert!(m.keys() <= 100_000 && m.keys() > 90_000, "{} keys held", m.keys());
        // The most recent keys are held.
        assert_eq!(remaining_after_one(&m, "299999", 0), 3);
    }

    /// Ban terms with a one-minute counting period, shown as `k`.
    fn terms(length_ms: u64, max_ms: u64) -> BanTerms<'static> {
        BanTerms { length_ms, max_ms, period_ms: 60_000, shown: "k" }
    }

    #[test]
    fn bans_grow_on_repeat_offences_and_are_forgotten_in_time() {
        assert_eq!(
            (ban_length(600, 3_600, 1), ban_length(600, 3_600, 2), ban_length(600, 3_600, 4)),
            (600, 1_200, 3_600)
        );
        assert_eq!(ban_length(600, 100, 1), 600, "never shorter than the length");
        assert_eq!(ban_length(600, u64::MAX, 200), u64::MAX);
        let m = Memory::new(100);
        assert_eq!(m.banned(7, "k", 0), Ok(None));
        let first = m.ban(7, "k", 1_000, &terms(600, 3_600)).unwrap();
        assert_eq!(first, BanSet { until_ms: 1_600, offences: 1, started: true });
        assert_eq!((m.banned(7, "k", 1_599), m.banned(7, "k", 1_600)), (Ok(Some(1_600)), Ok(None)));
        // Another ban, another key: not banned.
        assert_eq!((m.banned(8, "k", 1_100), m.banned(7, "j", 1_100)), (Ok(None), Ok(None)));
        // Remembered for `max` after it ends: the next is twice as long.
        assert_eq!(
            m.ban(7, "k", 2_000, &terms(600, 3_600)).unwrap(),
            BanSet { until_ms: 3_200, offences: 2, started: true }
        );
        // Forgotten after that: a first offence again.
        assert_eq!(m.banned(7, "k", 3_200 + 3_600), Ok(None));
        assert_eq!(m.ban(7, "k", 3_200 + 3_600, &terms(600, 3_600)).unwrap().offences, 1);
    }

    #[test]
    fn bans_in_force_are_listed_with_their_key_and_lifted_by_id() {
        let m = Memory::new(100);
        for (key, at) in [("\"198.51.100.7\"\u{1f}", 1_000), ("\"u-1\"\u{1f}\u{0}missing\u{1f}", 1_100)] {
            let shown = key_text(key);
            m.ban(7, key, at, &BanTerms { shown: &shown, ..terms(600, 600) }).unwrap();
        }
        let held = m.held_bans(1_200, 10).unwrap();
        let keys: Vec<(&str, u64)> = held.iter().map(|b| (b.key.as_str(), b.until_ms)).collect();
        assert_eq!(keys, [("198.51.100.7", 1_600), ("u-1, (missing)", 1_700)]);
        assert_eq!((held[0].ban, held[0].offences, held[0].id.len()), (7, 1, 32));
        // Over: not listed.
        assert_eq!(m.held_bans(1_650, 10).unwrap().len(), 1);
        // Lifted: gone, and its offences with it.
        assert_eq!(m.lift(&held[0].id), Ok(true));
        assert_eq!((m.lift(&held[0].id), m.lift("not-an-id")), (Ok(false), Ok(false)));
        assert_eq!(m.banned(7, "\"198.51.100.7\"\u{1f}", 1_200), Ok(None));
        assert_eq!(m.ban(7, "\"198.51.100.7\"\u{1f}", 1_300, &terms(600, 600)).unwrap().offences, 1);
    }

    #[test]
    fn a_ban_in_force_stands_unchanged_and_a_new_one_starts_the_count_again() {
        let m = Memory::new(1_000);
        let rate = Rate { count: 3, period_ms: 60_000, burst: 2 };
        // Two denials counted, one distinct value seen, then the ban starts.
        assert!(m.consume(7, "k", rate, 1_000).unwrap().allowed);
        assert!(m.consume(7, "k", rate, 1_000).unwrap().allowed);
        assert!(!m.consume(7, "k", rate, 1_000).unwrap().allowed);
        assert_eq!(m.distinct(7, "k", "alice", 60_000, 1_000), Ok(1));
        assert_eq!(
            m.ban(7, "k", 1_000, &terms(600, 3_600)).unwrap(),
            BanSet { until_ms: 1_600, offences: 1, started: true }
        );
        // While it holds, banning again changes nothing: no second offence, no longer ban.
        assert_eq!(
            m.ban(7, "k", 1_300, &terms(600, 3_600)).unwrap(),
            BanSet { until_ms: 1_600, offences: 1, started: false }
        );
        assert_eq!(m.banned(7, "k", 1_599), Ok(Some(1_600)));
        // The count and the distinct values were forgotten when it started.
        assert_eq!(m.consume(7, "k", rate, 1_700).unwrap().remaining, 1);
        assert_eq!(m.distinct(7, "k", "bob", 60_000, 1_700), Ok(1));
        // Lifting forgets the count too (and the offences).
        assert_eq!(m.ban(7, "k", 1_800, &terms(600, 3_600)).unwrap().offences, 2);
        let id = m.held_bans(1_800, 1).unwrap().remove(0).id;
        assert_eq!(m.lift(&id), Ok(true));
        assert_eq!(m.consume(7, "k", rate, 1_900).unwrap().remaining, 1);
        assert_eq!(m.ban(7, "k", 1_900, &terms(600, 3_600)).unwrap().offences, 1);
        assert_eq!(m.bans_in_force(1_900), 1);
        assert_eq!(m.bans_in_force(2_500), 0);
    }

    #[test]
    fn key_text_escapes_control_characters_and_is_bounded() {
        // The key as the engine writes it: JSON, whose escapes decode to control characters.
        assert_eq!(key_text("\"a\\nb\\u001b[31m\"\u{1f}"), "a\\nb\\u{1b}[31m");
        let long = format!("\"{}\"\u{1f}", "x".repeat(500));
        let shown = key_text(&long);
        assert_eq!(shown.chars().count(), KEY_TEXT_CHARS + 1);
        assert!(shown.ends_with('…'), "{shown}");
        assert_eq!(key_text("\"é\"\u{1f}7\u{1f}"), "é, 7");
    }

    #[test]
    fn a_full_ban_store_first_forgets_bans_long_over() {
        let m = Memory::with_shards(4, 1);
        // One ban long over (remembered until 2_200), then three in force till much later.
        m.ban(1, "old", 1_000, &terms(600, 600)).unwrap();
        for k in ["a", "b", "c"] {
            m.ban(1, k, 1_000, &terms(60_000, 60_000)).unwrap();
        }
        // Used after "old", so "old" is not the least recently used: the sweep finds it anyway.
        assert_eq!(m.banned(1, "a", 1_100), Ok(Some(61_000)));
        m.ban(1, "d", 5_000, &terms(60_000, 60_000)).unwrap();
        for k in ["a", "b", "c", "d"] {
            assert!(m.banned(1, k, 5_000).unwrap().is_some(), "{k} forgotten");
        }
        assert_eq!(m.held_bans.load(std::sync::atomic::Ordering::Relaxed), 4);
    }

    #[test]
    fn distinct_values_are_estimated_per_key_and_window_in_bounded_sketches() {
        let m = Memory::with_shards(16 * 16, 1);
        // Small counts are exact: the same value is one.
        for _ in 0..5 {
            assert_eq!(m.distinct(1, "ip-a", "alice", 60_000, 1_000), Ok(1));
        }
        for i in 2..=40u64 {
            assert_eq!(m.distinct(1, "ip-a", &format!("account-{i}"), 60_000, 1_000), Ok(i));
        }
        // Another key, another window: counted apart.
        assert_eq!(m.distinct(1, "ip-b", "alice", 60_000, 1_000), Ok(1));
        assert_eq!(m.distinct(1, "ip-a", "alice", 60_000, 61_000), Ok(1));
        // Many values for one key: one sketch, an estimate. Precision 10 has a
        // standard error of 1.04/√1024 ≈ 3.3 %, and the sketch's hash is seeded
        // at random per run: within four standard errors (13 %) but for about one
        // run in 15,000 (±5 % failed one run in a few).
        let mut last = 0;
        for i in 0..100_000u64 {
            last = m.distinct(2, "ip-c", &i.to_string(), 60_000, 1_000).unwrap();
        }
        assert!((87_000..=113_000).contains(&last), "{last}");
        // A flood of keys: at most the cap of sketches (a sixteenth of the buckets, at least 16).
        for i in 0..10_000u64 {
            m.distinct(3, &i.to_string(), "v", 60_000, 1_000).unwrap();
        }
        let held: usize = m.sketches.iter().map(|s| s.lock().unwrap().len()).sum();
        assert_eq!(held, 16);
    }

    #[test]
    fn a_flood_of_bans_stays_within_the_store_bound() {
        let m = Memory::with_shards(64, 1);
        for i in 0..10_000u64 {
            m.ban(1, &i.to_string(), 1_000, &terms(60_000, 60_000)).unwrap();
        }
        let held: usize = m.bans.iter().map(|s| s.lock().unwrap().records.len()).sum();
        assert_eq!(held, 64);
        assert_eq!(m.held_bans.load(std::sync::atomic::Ordering::Relaxed), 64);
        // The newest are kept, the oldest evicted.
        assert_eq!(m.banned(1, "9999", 2_000), Ok(Some(61_000)));
        assert_eq!(m.banned(1, "0", 2_000), Ok(None));
        m.clear();
        assert_eq!(m.banned(1, "9999", 2_000), Ok(None));
    }

    #[test]
    fn clear_forgets_every_key() {
        let m = Memory::new(100);
        remaining_after_one(&m, "a", 0);
        m.clear();
        assert_eq!(m.keys(), 0);
        assert_eq!(remaining_after_one(&m, "a", 0), 4);
    }

    /// The LRU map against a plain list kept in use order, over a long mixed run.
    #[test]
    fn lru_matches_a_simple_model() {
        let mut lru: Lru<u32, u32> = Lru::new();
        // Most recently used last.
        let mut model: Vec<(u32, u32)> = Vec::new();
        let mut seed = 0x2545_f491_u64;
        for step in 0..20_000u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let key = u32::try_from(seed % 64).unwrap();
            match seed % 5 {
                0 | 1 => {
                    let old = model.iter().position(|(k, _)| *k == key).map(|i| model.remove(i).1);
                    model.push((key, step));
                    assert_eq!(lru.insert(key, step), old);
                }
                2 => {
                    let got = lru.get_mut(&key).map(|v| *v);
                    let want = model.iter().position(|(k, _)| *k == key).map(|i| {
                        let e = model.remove(i);
                        model.push(e);
                        e.1
                    });
                    assert_eq!(got, want);
                }
                3 => {
                    let want = model.iter().position(|(k, _)| *k == key).map(|i| model.remove(i).1);
                    assert_eq!(lru.remove(&key), want);
                }
                _ => {
                    let want = if model.is_empty() { None } else { Some(model.remove(0)) };
                    assert_eq!(lru.pop_lru(), want);
                }
            }
            assert_eq!(lru.len(), model.len());
        }
        // Draining gives the model's order.
        for want in model {
            assert_eq!(lru.pop_lru(), Some(want));
        }
        assert_eq!(lru.pop_lru(), None);
        lru.insert(1, 1);
        lru.clear();
        assert_eq!(lru.len(), 0);
        assert_eq!(lru.pop_lru(), None);
    }
}
