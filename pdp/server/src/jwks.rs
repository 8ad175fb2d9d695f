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
    check_jwks(&body)?;
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
        eprintln!("warden: cannot fetch the JWKS of issuer `{iss}`: {why}; its keys stay as they were");
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
        eprintln!("warden: cannot start the JWKS refresher: {e}; `jwks url` keys are fetched at reloads only");
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::net::{TcpListener, TcpStream};
    use std::time::Instant;

    use super::*;

    const JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#;

    /// A tiny HTTP server on loopback: each connection's request head is read, then
    /// `answer` gets the path and the stream. Returns the base URL.
    fn server(answer: impl Fn(&str, &mut TcpStream) + Send + Sync + 'static) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let answer = answer.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                        head.push(byte[0]);
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let path = text.split(' ').nth(1).unwrap_or("").to_owned();
                    answer(&path, &mut stream);
                });
            }
        });
        format!("http://{addr}")
    }

    fn respond(stream: &mut TcpStream, status: &str, body: &str) {
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
    }

    fn fetcher(rt: &tokio::runtime::Runtime, timeout_ms: u64) -> HttpFetcher {
        let config = JwksConfig { timeout_ms, ..JwksConfig::default() };
        HttpFetcher::new(&config, rt.handle().clone(), FetchCounters::default()).unwrap()
    }

    #[test]
    fn a_good_document_is_returned_counted_and_cached() {
        let rt = runtime();
        let base = server(|path, s| {
            if path == "/jwks.json" {
                respond(s, "200 OK", JWKS);
            } else {
                respond(s, "404 Not Found", "{}");
            }
        });
        let f = fetcher(&rt, 2_000);
        let url = format!("{base}/jwks.json");
        assert_eq!(f.cached(&url), None);
        let before = now_ms();
        assert_eq!(f.fetch(&url).unwrap(), JWKS.as_bytes());
        let (body, at) = f.cached(&url).unwrap();
        assert_eq!(body, JWKS.as_bytes());
        assert!(at >= before);
        assert_eq!((f.counters.fetched.get(), f.counters.failed.get()), (1, 0));

        // A 404 is a failure; the last good document stays cached under its URL.
        let err = f.fetch(&format!("{base}/gone.json")).unwrap_err();
        assert_eq!(err, format!("`{base}/gone.json`: the server answered 404 Not Found"));
        assert_eq!((f.counters.fetched.get(), f.counters.failed.get()), (1, 1));
        assert!(f.cached(&format!("{base}/gone.json")).is_none());
        assert!(f.cached(&url).is_some());
    }

    #[test]
    fn an_endless_body_is_cut_off_while_it_is_read() {
        let rt = runtime();
        // No content length, and more bytes than any cap: a client that read the
        // whole body first would never finish (and would report a timeout).
        let base = server(|_, s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n");
            let chunk = vec![b' '; 64 * 1024];
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(20) && s.write_all(&chunk).is_ok() {}
        });
        let f = fetcher(&rt, 10_000);
        let start = Instant::now();
        let err = f.fetch(&format!("{base}/big")).unwrap_err();
        assert!(err.ends_with(&format!("the document is larger than {MAX_JWKS_BYTES} bytes")), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
        // A declared length over the cap is refused before reading.
        let base = server(|_, s| {
            let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", MAX_JWKS_BYTES + 1);
        });
        let err = f.fetch(&format!("{base}/big")).unwrap_err();
        assert!(err.ends_with("larger than 1048576 bytes"), "{err}");
        assert_eq!(f.counters.failed.get(), 2);
    }

    #[test]
    fn a_server_that_never_answers_times_out() {
        let rt = runtime();
        let base = server(|_, s| {
            // Holds the connection open without a byte of answer.
            let mut sink = [0u8; 16];
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = s.read(&mut sink);
        });
        let f = fetcher(&rt, 300);
        let start = Instant::now();
        let err = f.fetch(&format!("{base}/jwks.json")).unwrap_err();
        assert!(err.contains("timed out"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    }

    #[test]
    fn garbage_and_empty_sets_are_refused() {
        let rt = runtime();
        let base = server(|path, s| match path {
            "/garbage" => respond(s, "200 OK", "<html>hello</html>"),
            "/truncated" => respond(s, "200 OK", r#"{"keys": [1, 2"#),
            _ => respond(s, "200 OK", r#"{"keys": []}"#),
        });
        let f = fetcher(&rt, 2_000);
        let err = f.fetch(&format!("{base}/garbage")).unwrap_err();
        assert!(err.contains("not acceptable JSON"), "{err}");
        let err = f.fetch(&format!("{base}/truncated")).unwrap_err();
        assert!(err.contains("not acceptable JSON"), "{err}");
        let err = f.fetch(&format!("{base}/empty")).unwrap_err();
        assert!(err.ends_with("the JWKS holds no usable key"), "{err}");
        assert_eq!((f.counters.fetched.get(), f.counters.failed.get()), (0, 3));
        assert!(f.cached(&format!("{base}/garbage")).is_none());
    }

    #[test]
    fn only_http_urls_and_no_secrets_in_errors() {
        let rt = runtime();
        let f = fetcher(&rt, 1_000);
        for url in ["file:///etc/passwd", "ftp://127.0.0.1/jwks.json", "gopher://x"] {
            let err = f.fetch(url).unwrap_err();
            assert!(err.ends_with("only `http` and `https` URLs are fetched"), "{err}");
        }
        assert!(f.fetch("not a url").unwrap_err().contains("not a URL"));
        // Credentials and query never reach the error (nor so the log).
        let base = server(|_, s| respond(s, "401 Unauthorized", "{}"));
        let url = base.replace("http://", "http://user:hunter2@") + "/jwks.json?token=s3cret#frag";
        let err = f.fetch(&url).unwrap_err();
        assert_eq!(err, format!("`{base}/jwks.json`: the server answered 401 Unauthorized"));
        // Nothing listens on a port just released: a connection error, still without secrets.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = f.fetch(&format!("http://u:hunter2@127.0.0.1:{port}/j?k=s3cret")).unwrap_err();
        assert!(err.contains("cannot connect"), "{err}");
        assert!(!err.contains("hunter2") && !err.contains("s3cret"), "{err}");
    }

    #[test]
    fn redirects_are_few() {
        let rt = runtime();
        let base = server(|path, s| match path {
            "/moved" => {
                let _ = s.write_all(
                    b"HTTP/1.1 302 Found\r\nlocation: /jwks.json\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
                );
            }
            "/jwks.json" => respond(s, "200 OK", JWKS),
            _ => {
                let _ = s.write_all(
                    b"HTTP/1.1 302 Found\r\nlocation: /loop\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
                );
            }
        });
        let f = fetcher(&rt, 2_000);
        assert_eq!(f.fetch(&format!("{base}/moved")).unwrap(), JWKS.as_bytes());
        let err = f.fetch(&format!("{base}/loop")).unwrap_err();
        assert!(err.contains("redirect refused"), "{err}");
        let none = JwksConfig { max_redirects: 0, ..JwksConfig::default() };
        let f = HttpFetcher::new(&none, rt.handle().clone(), FetchCounters::default()).unwrap();
        assert!(f.fetch(&format!("{base}/moved")).unwrap_err().contains("redirect refused"));
    }

    #[test]
    fn a_bad_ca_file_is_an_error_at_start() {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let missing = JwksConfig { ca_file: Some(dir.path().join("nope.pem")), ..JwksConfig::default() };
        let err = HttpFetcher::new(&missing, rt.handle().clone(), FetchCounters::default()).err().unwrap();
        assert!(err.starts_with("cannot read `jwks.ca_file`"), "{err}");
        std::fs::write(dir.path().join("empty.pem"), "no certificates here\n").unwrap();
        let empty = JwksConfig { ca_file: Some(dir.path().join("empty.pem")), ..JwksConfig::default() };
        let err = HttpFetcher::new(&empty, rt.handle().clone(), FetchCounters::default()).err().unwrap();
        assert!(err.contains("holds no certificate"), "{err}");
    }

    /// An HTTPS JWKS server on loopback (`localhost`) whose certificate a fresh CA
    /// signed; returns the port and the CA's PEM.
    fn https_server(rt: &tokio::runtime::Runtime) -> (u16, String) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "warden test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &rcgen::Issuer::from_params(&ca_params, &ca_key))
            .unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else { return };
                    let (mut head, mut buf) = (Vec::new(), [0u8; 1024]);
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(n) if n > 0 => head.extend_from_slice(&buf[..n]),
                            _ => return,
                        }
                    }
                    let answer =
                        format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{JWKS}", JWKS.len());
                    let _ = tls.write_all(answer.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        (port, ca.pem())
    }

    #[test]
    fn https_to_a_private_issuer_needs_its_ca_in_ca_file() {
        let rt = runtime();
        let (port, ca_pem) = https_server(&rt);
        let url = format!("https://localhost:{port}/jwks.json");
        // The system's roots do not know the test CA.
        let err = fetcher(&rt, 2_000).fetch(&url).unwrap_err();
        assert!(err.contains("cannot connect") && err.to_lowercase().contains("certificate"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca_pem).unwrap();
        let config =
            JwksConfig { ca_file: Some(dir.path().join("ca.pem")), timeout_ms: 2_000, ..JwksConfig::default() };
        let f = HttpFetcher::new(&config, rt.handle().clone(), FetchCounters::default()).unwrap();
        assert_eq!(f.fetch(&url).unwrap(), JWKS.as_bytes());
    }

    #[test]
    fn a_repeated_failure_is_logged_once_a_minute() {
        let mut quiet = Quiet::default();
        let t0 = Instant::now();
        let down = || vec![("https://idp.example".to_owned(), "`http://x/`: cannot connect".to_owned())];
        quiet.report(down(), t0);
        assert_eq!(quiet.logged.len(), 1);
        quiet.report(down(), t0 + Duration::from_secs(30));
        assert_eq!(quiet.logged.values().next(), Some(&t0), "not logged again within the minute");
        quiet.report(down(), t0 + Duration::from_secs(61));
        assert_eq!(quiet.logged.values().next(), Some(&(t0 + Duration::from_secs(61))));
        // Another reason is news.
        quiet.report(vec![("https://idp.example".to_owned(), "404".to_owned())], t0 + Duration::from_secs(62));
        assert_eq!(quiet.logged.len(), 2);
    }

    #[test]
    fn redact_drops_credentials_query_and_fragment() {
        assert_eq!(redact("https://a:b@idp.example:8443/k.json?x=1#f"), "https://idp.example:8443/k.json");
        assert_eq!(redact("::"), "(not a URL)");
    }
}
