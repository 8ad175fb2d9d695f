//! Runs N cached-token allows on `policies/bank` in one function, for an
//! instruction count that does not move with the machine's load:
//! `valgrind --tool=callgrind --toggle-collect='*cached_allows*' target/release/examples/allow_instructions 10000`
//! counts only that function; the total divided by N is one allow.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a measuring tool: a failure aborts it")]

#[path = "../tests/common/bank.rs"]
mod bank;

use warden_engine::run::{Engine, HttpRequest};

/// `n` allows, one second apart (the bank's limits never trip); how many were allowed.
#[inline(never)]
fn cached_allows(engine: &Engine, req: &mut HttpRequest, n: u64) -> u64 {
    let mut allowed = 0;
    for _ in 0..n {
        req.now_ms += 1_000;
        allowed += u64::from(std::hint::black_box(engine.check_http(req)).allow);
    }
    allowed
}

fn main() {
    let n: u64 = std::env::args().nth(1).map_or(10_000, |a| a.parse().expect("N: a number of allows"));
    let (graph, key) = bank::bank();
    let engine = bank::cached_engine(&graph, 1_000_000, 100_000);
    let token = bank::token(&key, "u-1");
    let mut req = bank::request(&token, "/v1/accounts/42");
    // Verifies and caches the token, creates the buckets: not counted.
    assert!(engine.check_http(&req).allow);
    let allowed = cached_allows(&engine, &mut req, n);
    assert_eq!(allowed, n, "every request is an allow");
    println!("{n} cached-token allows");
}
