//! Heap allocations of one cached-token allow on `policies/bank`, counted by a
//! counting global allocator (`stats_alloc`): there are none.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

#[path = "common/bank.rs"]
mod bank;

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use warden_language::reason::Reason;

// Counts every allocation of the process; this file holds one test, so the
// harness is idle while it counts.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations and reallocations per call of `f`, over `n` calls.
fn allocations_per_call(n: usize, mut f: impl FnMut()) -> f64 {
    let region = Region::new(GLOBAL);
    for _ in 0..n {
        f();
    }
    let change = region.change();
    (change.allocations + change.reallocations) as f64 / n as f64
}

/// What a cached-token allow on the bank's `GET /v1/accounts/{id}` allocates:
/// nothing (29 before this test existed). Path segments and route parameters
/// are inline lists of borrowed text, `path.account_id` is read as a borrowed
/// string, the decision's id and revision are inline or shared.
const CEILING: f64 = 0.0;

#[test]
fn a_cached_token_allow_allocates_at_most_the_ceiling() {
    let (graph, key) = bank::bank();
    let engine = bank::cached_engine(&graph, 1_000, 1_000);
    let token = bank::token(&key, "u-1");
    let mut req = bank::request(&token, "/v1/accounts/42");
    // The first call verifies and caches the token and creates the buckets.
    let first = engine.check_http(&req);
    assert!(first.allow, "{first:?}");
    let mut decisions = Vec::with_capacity(100);
    let per_allow = allocations_per_call(100, || {
        req.now_ms += 1_000;
        decisions.push(engine.check_http(&req));
    });
    for d in &decisions {
        assert!(d.allow && d.reason == Reason::Allowed, "{d:?}");
    }
    println!("allocations per cached-token allow: {per_allow}");
    assert!(per_allow <= CEILING, "a cached-token allow makes {per_allow} allocations, more than {CEILING}");
}
