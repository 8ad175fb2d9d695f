//! Rate limits: GCRA (the generic cell rate algorithm) over a bounded in-process store,
//! behind the [`Limiter`] trait so a shared backend (Redis) can take its place.
//!
//! A limit of N per period with burst B admits one request every `T = period / N`
//! on average and up to B at once: each key keeps a theoretical arrival time
//! (TAT); a request at `now` is admitted when `max(TAT, now) + T - now <= B·T`.
//! A denied request does not move the TAT, so waiting `retry_after` always
//! admits the next one.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;

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

/// The in-process limiter: shards of `key → TAT`, at most `max_keys` in all.
/// When a shard is full, keys whose bucket is already full again (TAT in the
/// past: they hold no information) go first, then the longest idle ones.
pub struct Memory {
    shards: Vec<Mutex<HashMap<(u64, String), u128>>>,
    per_shard: usize,
    hasher: std::collections::hash_map::RandomState,
}

impl Memory {
    /// A limiter holding at most `max_keys` keys.
    pub fn new(max_keys: usize) -> Memory {
        let n = 16;
        Memory {
            shards: (0..n).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: (max_keys / n).max(1),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    fn shard(&self, limit: u64, key: &str) -> &Mutex<HashMap<(u64, String), u128>> {
        let i = usize::try_from(self.hasher.hash_one((limit, key)) % self.shards.len() as u64).unwrap_or(0);
        // `i` is below the length by construction.
        &self.shards[i.min(self.shards.len() - 1)]
    }
}

impl Limiter for Memory {
    fn consume(&self, limit: u64, key: &str, rate: Rate, now_ms: u64) -> Result<Outcome, BackendError> {
        let shard = self.shard(limit, key);
        let mut map = shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = (limit, key.to_owned());
        let (tat, outcome) = gcra(map.get(&id).copied(), rate, now_ms);
        if let Some(tat) = tat {
            if !map.contains_key(&id) && map.len() >= self.per_shard {
                let now = u128::from(now_ms) * 1_000_000;
                map.retain(|_, t| *t > now);
                if map.len() >= self.per_shard {
                    // Still full: drop the key whose bucket refills soonest (the most idle).
                    if let Some(oldest) = map.iter().min_by_key(|(_, t)| **t).map(|(k, _)| k.clone()) {
                        map.remove(&oldest);
                    }
                }
            }
            map.insert(id, tat);
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
}
