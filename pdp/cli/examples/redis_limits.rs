//! Benchmark: latency of one rate-limit check (`Limiter::consume`) against a Redis,
//! next to the in-process limiter, as the engine calls it on the request path.
//!
//! ```text
//! redis-server --port 6390 --bind 127.0.0.1 --save '' --appendonly no &
//! cargo run --release -p warden-cli --example redis_limits -- redis://127.0.0.1:6390/0
//! ```
//!
//! Prints p50/p90/p99/p99.9 over 20,000 checks on one thread, then on four
//! threads sharing the limiter (and its connection pool).

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use warden_engine::limits::{Limiter, Memory, Rate};
use warden_server::limits_redis::{Redis, Settings};

const CHECKS: usize = 20_000;
const RATE: Rate = Rate { count: 1_000, period_ms: 1_000, burst: 1_000 };

fn run(limiter: &dyn Limiter, checks: usize, salt: usize) -> Result<Vec<Duration>, String> {
    let mut out = Vec::with_capacity(checks);
    for i in 0..checks {
        // 1,000 keys, as many clients behind one limit.
        let key = format!("198.51.{}.{}", salt, i % 1_000);
        let started = Instant::now();
        limiter.consume(42, &key, RATE, 0).map_err(|_| "the backend did not answer".to_owned())?;
        out.push(started.elapsed());
    }
    Ok(out)
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: f64| {
        let i = ((times.len() as f64 - 1.0) * q).round() as usize;
        times.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    println!(
        "{name:<28} n={:>6}  p50 {:>7.1} µs  p90 {:>7.1} µs  p99 {:>7.1} µs  p99.9 {:>7.1} µs",
        times.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(0.999)
    );
}

fn threads(limiter: Arc<dyn Limiter>, n: usize) -> Result<Vec<Duration>, String> {
    let handles: Vec<_> = (0..n)
        .map(|t| {
            let l = limiter.clone();
            std::thread::spawn(move || run(&*l, CHECKS / n, t + 10))
        })
        .collect();
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.join().map_err(|_| "a thread failed".to_owned())??);
    }
    Ok(all)
}

fn main() -> Result<(), String> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "redis://127.0.0.1:6379/0".to_owned());
    let settings = Settings { url, timeout: Duration::from_millis(50), pool: 16, backoff: Duration::from_secs(1) };
    let redis: Arc<dyn Limiter> = Arc::new(Redis::new(settings, Counter::default()).map_err(|e| e.to_string())?);
    let memory: Arc<dyn Limiter> = Arc::new(Memory::new(1_000_000));
    // Warm up: connections open, the script loaded.
    run(&*redis, 1_000, 0)?;
    report("memory, 1 thread", run(&*memory, CHECKS, 1)?);
    report("redis, 1 thread", run(&*redis, CHECKS, 1)?);
    report("memory, 4 threads", threads(memory, 4)?);
    report("redis, 4 threads", threads(redis, 4)?);
    Ok(())
}
