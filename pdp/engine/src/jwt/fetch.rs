//! Fetching `jwks url` key sets: the [`JwksFetcher`] the service supplies, each URL
//! issuer's fetch bookkeeping, the coalesced refetch for an unknown `kid`, and the one
//! place a fetched document replaces an issuer's keys.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use arc_swap::ArcSwap;
use jsonwebtoken::DecodingKey;
use sha2::{Digest as _, Sha256};
use warden_compiler::graph::Algorithm;

use super::keys::{JwksError, KeySet, parse_jwks};

/// Fetches a JWKS document by URL. The service supplies one over HTTP(S) with a
/// short timeout; the engine never opens connections itself.
pub trait JwksFetcher: Send + Sync {
    /// The document's bytes, or why it could not be had (no secrets in the text).
    /// May wait on the network when [`JwksFetcher::fetch_then`] is overridden:
    /// the verifier then calls it from [`JwksVerifier::refresh_due`] only, never
    /// while verifying a token.
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String>;

    /// Fetches `url` because a token names a `kid` its issuer's keys do not hold,
    /// and hands the outcome to `done` on whatever thread the fetch ends. The
    /// token's request waits for `done` at most [`UNKNOWN_KID_WAIT_MS`], so a
    /// fetcher whose `fetch` waits on the network starts the fetch elsewhere and
    /// returns at once (the service's spawns it on its runtime). Dropping `done`
    /// without calling it counts as a failed fetch. The default fetches on the
    /// calling thread, which suits fetchers that never wait on the network.
    fn fetch_then(&self, url: &str, done: FetchDone) {
        done(self.fetch(url));
    }

    /// Runs `wait`, which blocks the calling thread (at most
    /// [`UNKNOWN_KID_WAIT_MS`]) until the refetch for an unknown `kid` ends. The
    /// service's fetcher runs it where blocking a thread is allowed; the default
    /// calls it as it is. A fetcher that cannot let the thread block may return
    /// without calling it: the token is then judged with the keys held now.
    fn wait(&self, wait: &mut dyn FnMut()) {
        wait();
    }

    /// The last good document fetched from `url` and when (Unix ms), without any
    /// I/O. A verifier built later (a policy reload) starts with it, so a reload
    /// neither refetches a fresh document nor starts without keys when the issuer
    /// is down.
    fn cached(&self, _url: &str) -> Option<(Vec<u8>, u64)> {
        None
    }
}

/// Receives the outcome of [`JwksFetcher::fetch_then`].
pub type FetchDone = Box<dyn FnOnce(Result<Vec<u8>, String>) + Send>;

/// A token whose `kid` is unknown waits at most this long for the refetch of its
/// issuer's keys, then is judged with whatever keys the issuer holds.
pub const UNKNOWN_KID_WAIT_MS: u64 = 500;

/// An unknown `kid` starts at most one refetch per issuer in this period, counted
/// from the last refetch an unknown `kid` started (the start-up and periodic
/// fetches do not count, so a rotation soon after either is still picked up).
/// Unknown `kid`s inside the period, once that refetch has ended, are refused at
/// once: made-up `kid`s cost one fetch per issuer per period at most.
pub const UNKNOWN_KID_REFETCH_MS: u64 = 5_000;

/// At most this many requests per issuer wait for an unknown `kid`'s refetch;
/// more are refused at once. Each waiting request holds a thread, so an issuer
/// that is slow to answer cannot make made-up `kid`s hold an unbounded number.
pub const MAX_UNKNOWN_KID_WAITERS: usize = 64;

/// After a failed periodic fetch, the next one waits the issuer's refresh period
/// or this, whichever is shorter.
pub const RETRY_AFTER_FAILURE_MS: u64 = 30_000;

/// Fetch bookkeeping of a URL issuer.
#[derive(Default)]
pub(super) struct FetchState {
    /// When [`JwksVerifier::refresh_due`] last started a fetch (successful or not).
    pub(super) last_attempt_ms: Option<u64>,
    /// When the fetch that brought the keys held now started (or, for a cached
    /// document, when it was fetched).
    pub(super) last_success_ms: Option<u64>,
    /// SHA-256 of the document the keys came from (an unchanged document does not
    /// replace them).
    pub(super) doc_hash: Option<[u8; 32]>,
    /// When the last refetch for an unknown `kid` started.
    pub(super) unknown_kid_ms: Option<u64>,
    /// A refetch for an unknown `kid` is under way.
    pub(super) in_flight: bool,
    /// Until when requests wait for that refetch: [`UNKNOWN_KID_WAIT_MS`] after it
    /// started, for the request that started it and for those that came later.
    pub(super) flight_deadline: Option<Instant>,
    /// Refetches for unknown `kid`s that have ended; a request waits until this
    /// moves past the value it saw.
    pub(super) ended: u64,
    /// Requests waiting for that refetch now.
    pub(super) waiting: usize,
}

/// One issuer's verification material.
pub(super) struct IssuerKeys {
    pub(super) iss: String,
    pub(super) audiences: Vec<String>,
    pub(super) algorithms: Vec<Algorithm>,
    pub(super) leeway_s: i64,
    pub(super) keys: ArcSwap<KeySet>,
    /// `jwks url` issuers: where to fetch and how often to refresh.
    pub(super) url: Option<(String, u64)>,
    pub(super) fetch: Mutex<FetchState>,
    /// Signalled when a refetch for an unknown `kid` ends.
    pub(super) refetched: Condvar,
    pub(super) secret: Option<DecodingKey>,
}

impl IssuerKeys {
    /// The fetch bookkeeping. A panic elsewhere while it was held leaves it
    /// consistent (every update is a plain store), so a poisoned lock is used as is.
    pub(super) fn state(&self) -> MutexGuard<'_, FetchState> {
        self.fetch.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One refetch for an unknown `kid`, handed to the fetcher. Dropping it ends the
/// refetch and wakes the requests waiting for it, whether the fetcher called it
/// with a document, with an error, or not at all, so no request waits on a
/// refetch that was lost.
pub(super) struct Flight {
    pub(super) issuer: Arc<IssuerKeys>,
    pub(super) generation: Arc<AtomicU64>,
    pub(super) at_ms: u64,
}

impl Flight {
    pub(super) fn land(self, got: Result<Vec<u8>, String>) {
        // A failed fetch keeps the keys held before; the waiting requests are
        // judged with them.
        if let Ok(bytes) = got {
            let _ = install(&self.issuer, &self.generation, &bytes, self.at_ms);
        }
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        let mut state = self.issuer.state();
        state.in_flight = false;
        state.ended = state.ended.wrapping_add(1);
        drop(state);
        self.issuer.refetched.notify_all();
    }
}

/// Replaces an issuer's keys with those of `bytes` (fetched at `at_ms`) when the
/// document is acceptable; an unchanged document only counts as fresh. A document
/// whose fetch started before that of the keys held now is older than they are
/// and changes nothing (the periodic refresh and an unknown `kid`'s refetch may
/// overlap). Done under the issuer's lock, so two installs never interleave.
pub(super) fn install(issuer: &IssuerKeys, generation: &AtomicU64, bytes: &[u8], at_ms: u64) -> Result<(), JwksError> {
    let hash: [u8; 32] = Sha256::digest(bytes).into();
    let mut state = issuer.state();
    if state.last_success_ms.is_some_and(|t| at_ms < t) {
        return Ok(());
    }
    if state.doc_hash != Some(hash) {
        let keys = parse_jwks(bytes)?;
        issuer.keys.store(Arc::new(keys));
        generation.fetch_add(1, Ordering::AcqRel);
    }
    state.doc_hash = Some(hash);
    state.last_success_ms = Some(at_ms);
    Ok(())
}
