//! Fetching `jwks url` key sets for `warden serve`: an HTTP(S) client (reqwest on the
//! service's tokio runtime) with a short connect and total timeout, the body capped at
//! [`MAX_JWKS_BYTES`] while it is read, `http`/`https` only, few redirects and never
//! from `https` to `http`. Good documents are cached by URL across reloads, so a new
//! revision starts with the last good keys. A refresher thread keeps the keys of the
//! revision in service fresh. A token with an unknown `kid` starts a refetch as a
//! task on the runtime and its request waits for it (at most
//! [`crate::engine::jwt::UNKNOWN_KID_WAIT_MS`]) inside `block_in_place`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;

use super::config::Jwks as JwksConfig;
use super::state::{Service, now_ms};
use crate::engine::jwt::{FetchDone, JwksFetcher, MAX_JWKS_BYTES, check_jwks};

/// How often the refresher looks for due fetches.
pub const REFRESH_TICK: Duration = Duration::from_millis(250);

/// URLs whose last good document is kept (policies name few; reloads may change them).
const MAX_CACHED_URLS: usize = 256;

/// Fetch outcomes, registered by the service's metrics.
#[derive(Clone, Debug, Default)]
pub struct FetchCounters {
    /// Good documents fetched.
    pub fetched: Counter,
    /// Failed fetches (network, status, size, not a usable JWKS).
    pub failed: Counter,
}

/// A document and when it was fetched (Unix ms).
struct Cached {
    body: Vec<u8>,
    at_ms: u64,
}

/// The last good document of each URL.
type Cache = Arc<Mutex<HashMap<String, Cached>>>;

/// The service's [`JwksFetcher`]. Its `fetch` blocks the calling thread (at most the
/// timeout and a second) while the request runs on the runtime: the verifier calls
/// it from the reload and refresher threads only. For an unknown `kid`,
/// `fetch_then` spawns the request on the runtime and returns at once, and `wait`
/// lets the request's thread block for the (bounded) wait.
///
/// Why a task and a wait rather than the request fetching on its own thread: the
/// fetch has its own timeout (`jwks.timeout_ms`, up to a minute), longer than a
/// request may wait, and a fetch that outlives the wait should still land so that
/// the next request finds the new keys; a task is exactly that and holds no thread.
/// Why not the refresher thread: it fetches one issuer after another, so a slow
/// issuer would hold up another's rotation, and waking it would be one more
/// signal between threads for nothing.
pub struct HttpFetcher {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
    timeout: Duration,
    cache: Cache,
    counters: FetchCounters,
}

impl HttpFetcher {
    /// A fetcher that runs its requests on `runtime`. Fails when `ca_file` cannot be
    /// read or holds no certificate, or the client cannot be built.
    pub fn new(
        config: &JwksConfig,
        runtime: tokio::runtime::Handle,
        counters: FetchCounters,
    ) -> Result<HttpFetcher, String> {
        let timeout = Duration::from_millis(config.timeout_ms.max(1));
        let max_redirects = config.max_redirects;
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            let downgrade =
                attempt.url().scheme() != "https" && attempt.previous().iter().any(|u| u.scheme() == "https");
            if attempt.previous().len() > max_redirects {
                attempt.error("too many redirects")
            } else if !matches!(attempt.url().scheme(), "http" | "https") || downgrade {
                attempt.error("a redirect away from http(s), or from https to http, is not followed")
            } else {
                attempt.follow()
            }
        });
        let mut builder = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(redirects)
            .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &config.ca_file {
            let pem =
                std::fs::read(path).map_err(|e| format!("cannot read `jwks.ca_file` `{}`: {e}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("`jwks.ca_file` `{}` is not PEM: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!("`jwks.ca_file` `{}` holds no certificate", path.display()));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let client = builder.build().map_err(|e| format!("cannot build the JWKS client: {}", describe(&e)))?;
        Ok(HttpFetcher { client, runtime, timeout, cache: Arc::new(Mutex::new(HashMap::new())), counters })
    }

    /// One GET of `url` within the timeout, ready to run on the runtime; an error
    /// when the URL is not one that is fetched.
    fn request(&self, url: &str) -> Result<impl Future<Output = Result<Vec<u8>, String>> + Send + 'static, String> {
        let parsed = url::Url::parse(url).map_err(|_| "not a URL".to_owned())?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("only `http` and `https` URLs are fetched".to_owned());
        }
        let (client, timeout) = (self.client.clone(), self.timeout);
        Ok(async move {
            tokio::time::timeout(timeout, get(client, parsed)).await.unwrap_or_else(|_| Err("timed out".to_owned()))
        })
    }

    /// Runs one GET on the runtime and waits for it here.
    fn get_blocking(&self, url: &str) -> Result<Vec<u8>, String> {
        let request = self.request(url)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = tx.send(request.await);
        });
        rx.recv_timeout(self.timeout.saturating_add(Duration::from_secs(1)))
            .unwrap_or_else(|_| Err("timed out".to_owned()))
    }
}

/// Counts a fetch's outcome, caches a good document under its URL, and words a
/// failure with the URL redacted.
fn record(
    cache: &Mutex<HashMap<String, Cached>>,
    counters: &FetchCounters,
    url: &str,
    got: Result<Vec<u8>, String>,
) -> Result<Vec<u8>, String> {
    match got {
        Ok(body) => {
            counters.fetched.inc();
            if let Ok(mut cache) = cache.lock() {
                if cache.len() >= MAX_CACHED_URLS && !cache.contains_key(url) {
                    let oldest = cache.iter().min_by_key(|(_, c)| c.at_ms).map(|(u, _)| u.clone());
                    if let Some(oldest) = oldest {
                        cache.remove(&oldest);
                    }
                }
                cache.insert(url.to_owned(), Cached { body: body.clone(), at_ms: now_ms() });
            }
            Ok(body)
        }
        Err(why) => {
            counters.failed.inc();
            Err(format!("`{}`: {why}", redact(url)))
        }
    }
}

/// One GET: a 2xx answer whose body, read chunk by chunk, stays within
/// [`MAX_JWKS_BYTES`] and is a JWKS with a usable key.
async fn get(client: reqwest::Client, url: url::Url) -> Result<Vec<u8>, String> {
    let mut response = client
        .get(url)
        .header("accept", "application/jwk-set+json, application/json")
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the server answered {status}"));
    }
    let too_large = || format!("the document is larger than {MAX_JWKS_BYTES} bytes");
    if response.content_length().is_some_and(|n| n > MAX_JWKS_BYTES as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        if body.len().saturating_add(chunk.len()) > MAX_JWKS_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    check_jwks(&body).map_err(|e| e.to_string())?;
    Ok(body)
}

/// A reqwest error in words, without the URL (it may carry credentials).
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_redirect() {
        "redirect refused"
    } else if e.is_body() || e.is_decode() {
        "cannot read the body"
    } else if e.is_builder() {
        "bad request"
    } else {
        "request failed"
    };
    // The innermost cause says most (`connection refused`, `invalid peer certificate…`).
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut last = None;
    while let Some(c) = cause {
        last = Some(c.to_string());
        cause = c.source();
    }
    match last {
        Some(detail) if !detail.contains("://") => format!("{what}: {detail}"),
        _ => what.to_owned(),
    }
}

/// `url` fit for a log line: no user, password, query or fragment.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

impl JwksFetcher for HttpFetcher {
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        record(&self.cache, &self.counters, url, self.get_blocking(url))
    }

    fn fetch_then(&self, url: &str, done: FetchDone) {
        let (cache, counters, url) = (self.cache.clone(), self.counters.clone(), url.to_owned());
        match self.request(&url) {
            // Should the runtime be shutting down, the task (and `done` with it) is
            // dropped, which the verifier takes as a failed fetch.
            Ok(request) => {
                self.runtime.spawn(async move {
                    let got = request.await;
                    done(record(&cache, &counters, &url, got));
                });
            }
            Err(why) => done(record(&cache, &counters, &url, Err(why))),
        }
    }

    /// Requests are decided on the runtime's worker threads. Blocking one for the
    /// wait would stall every task queued on it, so on a multi-thread runtime the
    /// wait runs inside `block_in_place`, which hands the worker's tasks to another
    /// thread meanwhile. On a current-thread runtime `block_in_place` panics, and
    /// blocking the only thread would keep the fetch itself from running: there the
    /// request does not wait (it is judged with the keys held now, and the fetch
    /// still lands for the next one). Off any runtime (tests, tools), it just waits.
    fn wait(&self, wait: &mut dyn FnMut()) {
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
            Ok(_) => {}
            Err(_) => wait(),
        }
    }

    fn cached(&self, url: &str) -> Option<(Vec<u8>, u64)> {
        let cache = self.cache.lock().ok()?;
        cache.get(url).map(|c| (c.body.clone(), c.at_ms))
    }
}

/// Logs failed fetches on stderr: issuer, URL (redacted) and reason.
pub fn report(failures: &[(String, String)]) {
    for (iss, why) in failures {
        tracing::warn!("cannot fetch the JWKS of issuer `{iss}`: {why}; its keys stay as they were");
    }
}

/// The same failure (issuer and reason) is logged again after this long; the
/// failure counter has every one.
const REPEAT_LOG_AFTER: Duration = Duration::from_secs(60);

/// Logs failures like [`report`], but a failure that repeats (an issuer down with
/// `refresh 1s`) only once per [`REPEAT_LOG_AFTER`].
#[derive(Default)]
struct Quiet {
    logged: HashMap<(String, String), std::time::Instant>,
}

impl Quiet {
    fn report(&mut self, failures: Vec<(String, String)>, now: std::time::Instant) {
        self.logged.retain(|_, at| now.duration_since(*at) < REPEAT_LOG_AFTER);
        let fresh: Vec<(String, String)> = failures.into_iter().filter(|f| !self.logged.contains_key(f)).collect();
        report(&fresh);
        for f in fresh {
            self.logged.insert(f, now);
        }
    }
}

/// Refreshes the `jwks url` keys of the revision in service every [`REFRESH_TICK`]
/// on a thread of its own (fetches block; requests never wait for them): keys whose
/// `refresh` period has passed. Unknown `kid`s do not wait for it (see
/// [`HttpFetcher`]).
pub fn spawn_refresher(service: Arc<Service>) {
    let spawned = std::thread::Builder::new().name("warden-jwks".to_owned()).spawn(move || {
        let mut quiet = Quiet::default();
        loop {
            std::thread::sleep(REFRESH_TICK);
            if let Some(loaded) = service.current()
                && let Some(verifier) = loaded.engine.jwks()
            {
                quiet.report(verifier.refresh_due(now_ms()), std::time::Instant::now());
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the JWKS refresher: {e}; `jwks url` keys are fetched at reloads only");
    }
}

#[cfg(test)]
mod tests;
