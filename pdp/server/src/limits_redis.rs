//! Shared rate limits in Redis (`[limits] backend = "redis://…"`): the engine's
//! [`Limiter`] over GCRA in one atomic Lua script, so that every replica of the
//! service enforces one limit.
//!
//! - The script runs by `EVALSHA` (the `redis` crate's `Script`: loaded on first
//!   use and again whenever Redis answers `NOSCRIPT`, after a restart or a
//!   `SCRIPT FLUSH`).
//! - The clock is Redis's (`TIME` inside the script), not the replica's, so
//!   replicas with skewed clocks still share one bucket consistently. The
//!   bucket's theoretical arrival time is kept in microseconds, which a Lua
//!   number (a double) holds exactly.
//! - Keys are `warden:{<limit fingerprint>:<sha-256 of the key values>}`: the
//!   whole key is a hash tag, so a Redis Cluster routes the one-key script to
//!   one slot, and key values (claims, addresses) never appear in key names.
//!   Each key expires when its bucket is full again (`PX`), so idle buckets
//!   cost nothing.
//! - `consume` is synchronous and on the request path: every connect, read
//!   and write is bounded by `timeout_ms`; idle connections are pooled. After a
//!   failure Redis is skipped for `backoff_ms` (each limit answers from its
//!   `on_backend_error` at once), then tried again: recovery needs no restart.
//! - Bans (`ban` in the policy) live beside the buckets: a ban's count is a
//!   bucket of its own, and a banned key's record (`…}:ban`, a hash of its end
//!   and offence count, kept for the longest ban after the end) shares the
//!   bucket's hash tag. Every replica sees a ban the moment it is set. The
//!   record keeps the key's values for people (`engine::limits::key_text`,
//!   at most 128 characters; hidden when the key reads a credential), so an
//!   operator's listing says who is banned.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use sha2::{Digest, Sha256};

use crate::engine::limits::{BackendError, Limiter, Outcome, Rate};

/// GCRA over one key, atomically. `KEYS[1]`: the bucket; `ARGV[1]`: the
/// emission interval T in µs; `ARGV[2]`: the burst B. Returns `{allowed,
/// remaining, reset_ms, retry_after_ms}` with the in-process limiter's meaning
/// (see `engine::limits::gcra`).
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tau = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now) or now
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now > tau then
  return {0, 0, math.ceil((tat - now) / 1000), math.ceil((new_tat - tau - now) / 1000)}
end
local reset = math.ceil((new_tat - now) / 1000)
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', reset)
return {1, math.floor((tau - (new_tat - now)) / interval), reset, 0}
";

/// Whether a key is banned. `KEYS[1]`: the ban record. Returns the end of the
/// ban (Unix ms, Redis's clock) or 0.
const BANNED: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local u = tonumber(redis.call('HGET', KEYS[1], 'until'))
if u and u > now then return u end
return 0
";

/// Bans a key. `KEYS[1]`: the ban record; `KEYS[2]`: the ban's count
/// bucket; `KEYS[3]`: the current window's distinct-value sketch;
/// `ARGV[1]`: the length in ms; `ARGV[2]`: the longest ban in ms; `ARGV[3]`:
/// the key for people; `ARGV[4]`: the ban's fingerprint. A ban in force is
/// left as it is; one that starts forgets the count and the sketch. The
/// record is kept (with the offence count) for the longest ban after this
/// one ends. Returns `{until, offences, started}`.
const BAN: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = redis.call('HMGET', KEYS[1], 'until', 'offences')
local u0 = tonumber(held[1])
if u0 and u0 > now then return {string.format('%.0f', u0), tonumber(held[2]) or 1, 0} end
local length = tonumber(ARGV[1])
local max = math.max(tonumber(ARGV[2]), length)
local offences = (tonumber(held[2]) or 0) + 1
local len = length * (2 ^ math.min(offences - 1, 60))
if len > max then len = max end
local u = now + len
redis.call('HSET', KEYS[1], 'until', string.format('%.0f', u), 'offences', offences, 'key', ARGV[3], 'ban', ARGV[4])
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', len + max))
redis.call('DEL', KEYS[2], KEYS[3])
return {string.format('%.0f', u), offences, 1}
";

/// Counts a distinct value. `KEYS[1]`: the window's sketch (a Redis
/// HyperLogLog); `ARGV[1]`: the value's digest; `ARGV[2]`: the window in ms.
/// Returns how many distinct values the window holds.
const DISTINCT: &str = r"
redis.call('PFADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('PFCOUNT', KEYS[1])
";

/// Settings of the Redis limiter.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `redis://[user:password@]host[:port][/db]`.
    pub url: String,
    /// Bound on connecting and on each round trip.
    pub timeout: Duration,
    /// Idle connections kept.
    pub pool: usize,
    /// How long Redis is skipped after a failure.
    pub backoff: Duration,
}

/// The Redis limiter. See the module documentation.
pub struct Redis {
    client: redis::Client,
    script: redis::Script,
    banned: redis::Script,
    ban: redis::Script,
    distinct: redis::Script,
    settings: Settings,
    /// The URL without its password, for messages.
    shown: String,
    idle: Mutex<Vec<redis::Connection>>,
    /// Until when Redis is skipped after a failure.
    down_until: Mutex<Option<Instant>>,
    errors: Counter,
}

/// `url` with any password replaced by `***`, for errors and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        // Unparseable: show the scheme and host part only, never what may be credentials.
        Err(_) => match url.split_once("://") {
            Some((scheme, rest)) => {
                format!("{scheme}://{}", rest.rsplit_once('@').map_or(rest, |(_, host)| host))
            }
            None => "(not a URL)".to_owned(),
        },
    }
}

/// Why a Redis backend was refused at start-up (the URL shown without its password).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RedisError {
    /// Not a `redis://` URL.
    #[error(
        "`limits.backend`: `{0}` is neither `memory` nor a `redis://` URL (TLS and Unix sockets are not supported)"
    )]
    NotRedis(String),
    /// Not a URL.
    #[error("`limits.backend`: `{0}` is not a valid URL: {1}")]
    NotUrl(String, url::ParseError),
    /// A URL the Redis client refuses.
    #[error("`limits.backend`: `{0}` is not a valid Redis URL ({1})")]
    NotRedisUrl(String, String),
    /// No time at all for a round trip.
    #[error("`limits.timeout_ms` must be at least 1")]
    ZeroTimeout,
}

impl Redis {
    /// A limiter over the Redis at `settings.url`, counting backend errors in
    /// `errors`. Refuses a URL that is not a plain `redis://` URL; does not
    /// connect (a Redis down at start-up is a backend error like any other).
    pub fn new(settings: Settings, errors: Counter) -> Result<Redis, RedisError> {
        let shown = redact(&settings.url);
        if !settings.url.starts_with("redis://") {
            return Err(RedisError::NotRedis(shown));
        }
        if let Err(e) = url::Url::parse(&settings.url) {
            return Err(RedisError::NotUrl(shown, e));
        }
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|e| RedisError::NotRedisUrl(shown.clone(), format!("{:?}", e.kind())))?;
        if settings.timeout.is_zero() {
            return Err(RedisError::ZeroTimeout);
        }
        Ok(Redis {
            client,
            script: redis::Script::new(GCRA),
            banned: redis::Script::new(BANNED),
            ban: redis::Script::new(BAN),
            distinct: redis::Script::new(DISTINCT),
            settings,
            shown,
            idle: Mutex::new(Vec::new()),
            down_until: Mutex::new(None),
            errors,
        })
    }

    /// The URL without its password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The Redis key of a bucket.
    fn bucket(limit: u64, key: &str) -> String {
        let digest = Sha256::digest(key.as_bytes());
        let mut out = format!("warden:{{{limit:016x}:");
        for b in digest.iter().take(16) {
            out.push_str(&format!("{b:02x}"));
        }
        out.push('}');
        out
    }

    /// The sketch of the window `now_ms` falls in, under the ban's `bucket`.
    fn sketch(bucket: &str, period_ms: u64, now_ms: u64) -> String {
        format!("{bucket}:d{}", now_ms / period_ms.max(1))
    }

    fn connection(&self) -> redis::RedisResult<redis::Connection> {
        if let Some(c) = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop() {
            return Ok(c);
        }
        let c = self.client.get_connection_with_timeout(self.settings.timeout)?;
        c.set_read_timeout(Some(self.settings.timeout))?;
        c.set_write_timeout(Some(self.settings.timeout))?;
        Ok(c)
    }

    /// Runs `f` on a pooled connection, returning the connection to the pool
    /// only when it answered (one that timed out may still deliver the late
    /// reply to the next caller); skips Redis during a back-off.
    fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, BackendError> {
        let skipping = self
            .down_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|until| Instant::now() < until);
        if skipping {
            self.errors.inc();
            return Err(BackendError);
        }
        let result = self.connection().and_then(|mut c| {
            let out = f(&mut c)?;
            let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if idle.len() < self.settings.pool {
                idle.push(c);
            }
            Ok(out)
        });
        result.map_err(|e| {
            self.errors.inc();
            self.fail(&e);
            BackendError
        })
    }

    fn fail(&self, error: &redis::RedisError) {
        let mut down = self.down_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        // One log line per back-off window: the first failure opens it.
        if down.is_none_or(|until| until <= now) {
            tracing::warn!(
                "rate-limit backend `{}` failed ({}); limits follow `on_backend_error` for {} ms, then Redis is tried again",
                self.shown,
                describe(error),
                self.settings.backoff.as_millis()
            );
        }
        *down = Some(now + self.settings.backoff);
        drop(down);
        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }
}

/// A Redis error in words, without the URL (which may carry a password).
fn describe(e: &redis::RedisError) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connection_refusal() {
        "connection refused".to_owned()
    } else if e.is_connection_dropped() || e.is_io_error() {
        "connection lost".to_owned()
    } else {
        format!("{:?}", e.kind())
    }
}

impl Limiter for Redis {
    fn consume(&self, limit: u64, key: &str, rate: Rate, _now_ms: u64) -> Result<Outcome, BackendError> {
        let bucket = Self::bucket(limit, key);
        let interval_us = (u128::from(rate.period_ms) * 1_000 / u128::from(rate.count.max(1))).max(1);
        let interval_us = u64::try_from(interval_us).unwrap_or(u64::MAX);
        let (allowed, remaining, reset_ms, retry_after_ms): (i64, u64, u64, u64) =
            self.with_connection(|c| self.script.key(&bucket).arg(interval_us).arg(rate.burst.max(1)).invoke(c))?;
        Ok(Outcome { allowed: allowed == 1, limit: rate.burst, remaining, reset_ms, retry_after_ms })
    }

    fn keys(&self) -> usize {
        0
    }

    fn clear(&self) {
        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }

    /// A ban record is `warden:{<ban>:<digest>}:ban`: the same hash tag as the
    /// ban's count bucket, so one slot of a Cluster holds both.
    fn banned(&self, ban: u64, key: &str, _now_ms: u64) -> Result<Option<u64>, BackendError> {
        let record = format!("{}:ban", Self::bucket(ban, key));
        let until: u64 = self.with_connection(|c| self.banned.key(&record).invoke(c))?;
        Ok((until > 0).then_some(until))
    }

    fn ban(
        &self,
        ban: u64,
        key: &str,
        now_ms: u64,
        terms: &crate::engine::limits::BanTerms<'_>,
    ) -> Result<crate::engine::limits::BanSet, BackendError> {
        let bucket = Self::bucket(ban, key);
        let record = format!("{bucket}:ban");
        let sketch = Self::sketch(&bucket, terms.period_ms, now_ms);
        let (until_ms, offences, started): (u64, u32, u8) = self.with_connection(|c| {
            self.ban
                .key(&record)
                .key(&bucket)
                .key(&sketch)
                .arg(terms.length_ms)
                .arg(terms.max_ms)
                .arg(terms.shown)
                .arg(format!("{ban:016x}"))
                .invoke(c)
        })?;
        Ok(crate::engine::limits::BanSet { until_ms, offences, started: started == 1 })
    }

    /// A window's sketch is `warden:{<ban>:<digest>}:d<window>` (the ban's
    /// hash tag), a Redis HyperLogLog of the values' digests (never a value
    /// in clear), gone two windows after it was last written.
    fn distinct(&self, ban: u64, key: &str, value: &str, period_ms: u64, now_ms: u64) -> Result<u64, BackendError> {
        let sketch = Self::sketch(&Self::bucket(ban, key), period_ms, now_ms);
        let digest: String = Sha256::digest(value.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect();
        let ttl = period_ms.saturating_mul(2).max(1);
        self.with_connection(|c| self.distinct.key(&sketch).arg(&digest).arg(ttl).invoke(c))
    }

    /// The records on this Redis (a Cluster: on the node the pool talks to),
    /// by `SCAN`: an operator's listing, never the request path.
    fn held_bans(&self, now_ms: u64, max: usize) -> Result<Vec<crate::engine::limits::HeldBan>, BackendError> {
        let records: Vec<(String, std::collections::HashMap<String, String>)> = self.with_connection(|c| {
            let mut out = Vec::new();
            let mut cursor: u64 = 0;
            // Bounded however large the database: at most 1,000 rounds of 1,000 keys.
            for _ in 0..1_000 {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg("warden:{*}:ban")
                    .arg("COUNT")
                    .arg(1000)
                    .query(c)?;
                for key in keys {
                    let fields: std::collections::HashMap<String, String> = redis::cmd("HGETALL").arg(&key).query(c)?;
                    out.push((key, fields));
                }
                cursor = next;
                if cursor == 0 || out.len() >= 100_000 {
                    break;
                }
            }
            Ok(out)
        })?;
        let mut out: Vec<crate::engine::limits::HeldBan> = records
            .into_iter()
            .filter_map(|(id, f)| {
                let until_ms: u64 = f.get("until")?.parse().ok()?;
                (until_ms > now_ms).then(|| crate::engine::limits::HeldBan {
                    ban: f.get("ban").and_then(|b| u64::from_str_radix(b, 16).ok()).unwrap_or_default(),
                    key: f.get("key").cloned().unwrap_or_default(),
                    offences: f.get("offences").and_then(|o| o.parse().ok()).unwrap_or(1),
                    until_ms,
                    id,
                })
            })
            .collect();
        out.sort_by(|a, b| (a.until_ms, &a.id).cmp(&(b.until_ms, &b.id)));
        out.truncate(max);
        Ok(out)
    }

    fn lift(&self, id: &str) -> Result<bool, BackendError> {
        // Only a ban record's name: never another key of the database.
        let inner = id.strip_prefix("warden:{").and_then(|r| r.strip_suffix("}:ban"));
        let valid = inner.is_some_and(|i| {
            i.len() == 16 + 1 + 32
                && i.bytes().enumerate().all(|(n, b)| if n == 16 { b == b':' } else { b.is_ascii_hexdigit() })
        });
        let (Some(bucket), true) = (id.strip_suffix(":ban"), valid) else {
            return Ok(false);
        };
        // The record, and the count (the distinct values went when the ban started).
        let removed: u64 = self.with_connection(|c| redis::cmd("DEL").arg(id).query(c))?;
        if removed > 0 {
            let _: Result<u64, _> = self.with_connection(|c| redis::cmd("DEL").arg(bucket).query(c));
        }
        Ok(removed > 0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic, reason = "a failed test aborts")]

    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(redact("redis://user:s3cret@cache:6379/0"), "redis://user:***@cache:6379/0");
        assert_eq!(redact("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
        assert_eq!(redact("redis://u:s3cret@[bad"), "redis://[bad");
        let Err(e) = Redis::new(
            Settings {
                url: "rediss://u:s3cret@cache".to_owned(),
                timeout: Duration::from_millis(50),
                pool: 1,
                backoff: Duration::from_secs(1),
            },
            Counter::default(),
        ) else {
            panic!("rediss:// accepted")
        };
        let e = e.to_string();
        assert!(e.contains("rediss://u:***@cache") && !e.contains("s3cret"), "{e}");
    }

    #[test]
    fn buckets_are_one_hash_tag() {
        let k = Redis::bucket(0xabc, "203.0.113.9\u{1f}");
        assert!(k.starts_with("warden:{0000000000000abc:") && k.ends_with('}'), "{k}");
        assert_eq!(k.len(), "warden:{".len() + 16 + 1 + 32 + 1);
        assert_ne!(k, Redis::bucket(0xabc, "203.0.113.8\u{1f}"));
    }

    #[test]
    fn an_unreachable_redis_is_a_backend_error_then_skipped() {
        // Port 1 on loopback: nothing listens, connecting is refused at once.
        let errors = Counter::default();
        let r = Redis::new(
            Settings {
                url: "redis://127.0.0.1:1/0".to_owned(),
                timeout: Duration::from_millis(50),
                pool: 2,
                backoff: Duration::from_secs(60),
            },
            errors.clone(),
        );
        let Ok(r) = r else { panic!("valid URL refused") };
        let rate = Rate { count: 5, period_ms: 60_000, burst: 5 };
        assert_eq!(r.consume(1, "k", rate, 0), Err(BackendError));
        let started = Instant::now();
        assert_eq!(r.consume(1, "k", rate, 0), Err(BackendError));
        // The second call is answered from the back-off, without trying to connect.
        assert!(started.elapsed() < Duration::from_millis(20), "{:?}", started.elapsed());
        assert_eq!(errors.get(), 2);
    }
}
