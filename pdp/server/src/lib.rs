//! `warden serve` (`warden-server`): the decision service. Loads the policy directory, publishes it,
//! watches it (notify, debounced, compiled off the request path; `SIGHUP` forces a
//! reload), keeps `jwks url` key sets fresh (`jwks.rs`), writes the decision log
//! through a bounded queue, and serves HTTP and gRPC (each on its own port, each
//! optionally over TLS or mutual TLS) until SIGTERM/SIGINT, finishing in-flight
//! calls before exiting.

pub mod alerts;
pub mod api;
pub mod audit;
pub mod authzen;
pub mod bundle;
pub mod caller;
pub mod capture;
pub mod certificate;
pub mod config;
pub mod decide;
pub mod exchange;
pub mod grpc;
pub mod http;
pub mod introspect;
pub mod jwks;
pub mod limits_redis;
pub mod log_sink;
pub mod mint;
pub mod shadow;
pub mod signing;
pub mod state;
pub mod telemetry;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

/// The engine, under the name the modules use.
pub(crate) use warden_engine as engine;

use std::net::SocketAddr;
use std::path::PathBuf;

use hyper_util::rt::TokioIo;
use warden_project::{Reloader, WatchError, WatchOptions};

use self::config::{Config, Sink};
use self::state::Service;

/// Why the service did not start (nothing was left half-started).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The async runtime could not be built.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// A listener's TLS settings (the message names the file at fault).
    #[error("{0}")]
    Tls(String),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why not.
        source: std::io::Error,
    },
    /// The decision log file could not be opened.
    #[error("cannot open the decision log `{}`: {source}", path.display())]
    Log {
        /// The file.
        path: PathBuf,
        /// Why not.
        source: std::io::Error,
    },
    /// The `[callers]` rules.
    #[error("{0}")]
    Callers(String),
    /// The shared rate-limit backend.
    #[error(transparent)]
    Limits(#[from] limits_redis::RedisError),
    /// The `[jwks]` client.
    #[error("{0}")]
    Jwks(String),
    /// `[issuer]`: its URL or a signing key (the message names the file at fault).
    #[error("{0}")]
    Issuer(String),
    /// The alerts client could not be built.
    #[error("{0}")]
    Alerts(String),
    /// The shadow worker could not start.
    #[error("cannot start the shadow worker: {0}")]
    Shadow(std::io::Error),
    /// The policy directory cannot be watched.
    #[error(transparent)]
    Watch(#[from] WatchError),
    /// `[bundle]`: its keys, credentials or directory.
    #[error("{0}")]
    Bundle(String),
    /// The decision log's sink could not be opened.
    #[error("the decision log: {0}")]
    LogSink(String),
    /// `[status]`: its token file or client.
    #[error("{0}")]
    Status(String),
    /// `[log]` or `[traces]`.
    #[error("{0}")]
    Telemetry(String),
}

/// Runs the service until a shutdown signal. Errors at start-up are returned.
pub fn run(config: Config) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(ServeError::Runtime)?;
    rt.block_on(serve(config))
}

async fn serve(config: Config) -> Result<(), ServeError> {
    let telemetry = telemetry::init(&config.log, config.traces.as_ref()).map_err(ServeError::Telemetry)?;
    let result = serve_with(config).await;
    // Spans still waiting are sent before the process ends.
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    result
}

async fn serve_with(mut config: Config) -> Result<(), ServeError> {
    // From a bundle: the set is the kept bundle's, unpacked afresh, and the
    // registry is polled once the service runs.
    let bundle = match &config.bundle {
        Some(b) => {
            let (source, active) = bundle::poll::Source::prepare(b).map_err(ServeError::Bundle)?;
            config.policies = active;
            config.reload.watch = false;
            Some(Arc::new(source))
        }
        None => None,
    };
    // Listener settings are checked before anything starts, so a bad certificate
    // is an error at start-up, not a listener that never comes.
    let http_tls = config.http.tls.as_ref().map(tls::Reloading::new).transpose().map_err(ServeError::Tls)?;
    let grpc_tls = config.grpc.tls.as_ref().map(tls::Reloading::new).transpose().map_err(ServeError::Tls)?;
    // Rotated certificates (cert-manager, SPIFFE) are picked up without a restart.
    let every = Duration::from_millis(config.reload.tls_check_ms);
    for (name, t) in [("HTTP", &http_tls), ("gRPC", &grpc_tls)] {
        if let Some(t) = t {
            t.clone().spawn_watch(name, every);
        }
    }
    let issuer = config.issuer.as_ref().map(signing::Issuer::load).transpose().map_err(ServeError::Issuer)?;
    // Checkpoints of a chained log are signed with the issuer's active key.
    let checkpoints = match (&issuer, config.decision_log.chain) {
        (Some(issuer), true) => Some(Arc::new(mint::Minter::new(issuer).map_err(ServeError::Issuer)?)),
        _ => None,
    };
    let sink_counters = log_sink::SinkCounters::default();
    let log = start_log(&config, checkpoints, sink_counters.clone()).await?;
    let callers = caller::CallerRules::new(&config.callers, &config.forward_auth.trusted_proxies)
        .map_err(ServeError::Callers)?
        .with_client_cert_header(config.forward_auth.client_cert_header.clone())
        .with_client_cert_peer(&config.forward_auth.client_cert_peer_proxies)
        .map_err(ServeError::Callers)?;
    let mut service = Service::with_limits(config.policies.clone(), &config.limits, log)?
        .with_doors(callers, config.check_limits)
        .with_capture(config.decision_log.capture, config.decision_log.mask.clone())
        .with_sink_counters(&sink_counters);
    if let Some(issuer) = &issuer {
        service = service.with_minter(Arc::new(mint::Minter::new(issuer).map_err(ServeError::Issuer)?));
    }
    let fetcher = jwks::HttpFetcher::new(&config.jwks, tokio::runtime::Handle::current(), service.jwks_counters())
        .map_err(ServeError::Jwks)?;
    let introspection_timeout = Duration::from_millis(config.jwks.timeout_ms);
    let mut service = service
        .with_jwks(Arc::new(fetcher))
        .with_introspection(tokio::runtime::Handle::current(), introspection_timeout);
    if config.alerts.enabled() {
        let counters = service.alert_counters();
        service = service.with_alerts(alerts::Alerts::start(&config.alerts, counters).map_err(ServeError::Alerts)?);
    }
    if let Some(shadow) = &config.shadow {
        service = service.with_shadow(shadow.policies.clone(), shadow.queue).map_err(ServeError::Shadow)?;
    }
    if let Some(source) = &bundle {
        service = service.with_bundle_status(source.status.clone());
    }
    let service = Arc::new(service);
    match service.reload() {
        Ok(rev) => tracing::info!("serving `{}` at revision {rev}", config.policies.display()),
        // Start anyway: /readyz says not ready until a reload succeeds.
        Err(e) => tracing::warn!("`{}` did not compile; not ready until it does:\n{e}", config.policies.display()),
    }
    // Reloads run on a thread of their own: requests never wait for them.
    let options = WatchOptions {
        watch: config.reload.watch,
        debounce: Duration::from_millis(config.reload.debounce_ms),
        ignore: config.decision_log.path.clone(),
    };
    let reloading = service.clone();
    let reloader = Reloader::start(&config.policies, options.clone(), move || {
        match reloading.reload() {
            Ok(rev) => tracing::info!("reloaded, revision {rev}"),
            Err(e) => tracing::warn!("reload failed; the previous revision stays in service:\n{e}"),
        }
        // `SIGHUP` reloads the shadow candidate too.
        if let Some(shadow) = &reloading.shadow {
            reload_shadow(shadow);
        }
    })?;
    spawn_sighup(reloader.trigger());
    // The candidate's own directory is watched as well.
    let _shadow_reloader = match service.shadow.clone() {
        Some(shadow) => {
            reload_shadow(&shadow);
            let dir = shadow.policies.clone();
            Some(Reloader::start(&dir, options, move || reload_shadow(&shadow))?)
        }
        None => None,
    };
    jwks::spawn_refresher(service.clone());
    if let Some(source) = bundle {
        source.spawn(service.clone());
    }
    if let Some(push) = &config.status {
        spawn_status_push(push, service.clone()).map_err(ServeError::Status)?;
    }

    let app = http::router(
        http::Http {
            service: service.clone(),
            tls: http_tls.is_some(),
            authzen_base_url: config.authzen.base_url.clone(),
            issuer: issuer.map(Arc::new),
        },
        config.http.max_body_bytes,
        Duration::from_millis(config.http.request_timeout_ms),
    )
    .layer(axum::middleware::from_fn(traced));
    let listener = listen(config.http.addr)?;
    let local = listener.local_addr().map_err(|source| ServeError::Listen { addr: config.http.addr, source })?;
    tracing::info!("HTTP on {}://{local}", if http_tls.is_some() { "https" } else { "http" });
    let client_certs = |t: &Option<config::Tls>| t.as_ref().is_some_and(|t| t.client_ca.is_some());
    service.add_listener("http", local, http_tls.is_some(), client_certs(&config.http.tls));

    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown().await;
        let _ = stop_tx.send(true);
    });
    let http_door = Door {
        header_timeout: Duration::from_millis(config.http.header_timeout_ms),
        idle_timeout: Duration::from_millis(config.http.idle_timeout_ms),
        tls: http_tls,
        max_connections: config.http.max_connections,
    };
    let grpc_server = if config.grpc.enabled {
        let (router, health) = grpc::router(grpc::Grpc { service: service.clone() }, config.grpc.max_message_bytes);
        // A call slower than the timeout is cancelled with DEADLINE_EXCEEDED.
        let timeout = Duration::from_millis(config.grpc.request_timeout_ms);
        let router = router.layer(axum::middleware::from_fn(traced)).layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                // gRPC only: a request of another media type (a browser's form
                // POST, say) is refused before any service sees it.
                let grpc = req
                    .headers()
                    .get(axum::http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("application/grpc"));
                if !grpc {
                    return axum::response::IntoResponse::into_response(axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
                }
                match tokio::time::timeout(timeout, next.run(req)).await {
                    Ok(response) => response,
                    Err(_) => tonic::Status::deadline_exceeded("the call took too long").into_http(),
                }
            },
        ));
        spawn_health(service.clone(), health);
        let l = listen(config.grpc.addr)?;
        let local = l.local_addr().map_err(|source| ServeError::Listen { addr: config.grpc.addr, source })?;
        tracing::info!("gRPC on {local}{}", if grpc_tls.is_some() { " (TLS)" } else { "" });
        service.add_listener("grpc", local, grpc_tls.is_some(), client_certs(&config.grpc.tls));
        let door = Door {
            header_timeout: Duration::from_millis(config.grpc.header_timeout_ms),
            idle_timeout: Duration::from_millis(config.grpc.idle_timeout_ms),
            tls: grpc_tls,
            max_connections: config.grpc.max_connections,
        };
        Some(serve_listener(l, router, door, stop.clone()))
    } else {
        None
    };
    let diagnostics = match config.diagnostics.addr {
        Some(addr) => {
            let l = listen(addr)?;
            let local = l.local_addr().map_err(|source| ServeError::Listen { addr, source })?;
            tracing::info!("diagnostics on http://{local}");
            service.add_listener("diagnostics", local, false, false);
            let app = http::diagnostics_router(
                http::Http { service: service.clone(), tls: false, authzen_base_url: None, issuer: None },
                Duration::from_millis(config.http.request_timeout_ms),
            );
            let door = Door {
                header_timeout: Duration::from_millis(config.http.header_timeout_ms),
                idle_timeout: Duration::from_millis(config.http.idle_timeout_ms),
                tls: None,
                max_connections: 256,
            };
            Some(serve_listener(l, app, door, stop.clone()))
        }
        None => None,
    };
    let http_server = serve_listener(listener, app, http_door, stop);
    let diagnostics = async move {
        if let Some(d) = diagnostics {
            d.await;
        }
    };
    match grpc_server {
        Some(g) => {
            tokio::join!(http_server, g, diagnostics);
        }
        None => {
            tokio::join!(http_server, diagnostics);
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// POSTs `/v1/status` to `[status] url` at start and every interval; a
/// failure is logged once until a POST succeeds again.
fn spawn_status_push(push: &config::StatusPush, service: Arc<Service>) -> Result<(), String> {
    let token = config::read_token(push.token_file.as_deref(), "status.token_file")?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(push.timeout_ms))
        .build()
        .map_err(|e| format!("the status client: {e}"))?;
    let (url, every) = (push.url.clone(), Duration::from_millis(push.interval_ms));
    tokio::spawn(async move {
        let mut failing = false;
        loop {
            let mut req = client.post(&url).json(&service.status());
            if let Some(t) = &token {
                req = req.bearer_auth(t);
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => failing = false,
                other => {
                    if !failing {
                        let why = other.map_or_else(|_| "unreachable".to_owned(), |r| r.status().to_string());
                        tracing::warn!(
                            "the status could not be pushed to `{url}` ({why}); trying again every interval"
                        );
                    }
                    failing = true;
                }
            }
            tokio::time::sleep(every).await;
        }
    });
    Ok(())
}

/// Runs a request to a door inside its trace span (its parent the caller's
/// `traceparent`; gRPC metadata are HTTP/2 headers); nothing when traces are off.
async fn traced(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use tracing::Instrument as _;
    if !telemetry::enabled() {
        return next.run(req).await;
    }
    let span = telemetry::request_span(req.headers(), req.method().as_str(), req.uri().path());
    next.run(req).instrument(span).await
}

/// Keeps `grpc.health.v1` in step with readiness: serving once a policy is loaded.
fn spawn_health(service: Arc<Service>, reporter: tonic_health::server::HealthReporter) {
    tokio::spawn(async move {
        let mut serving = None;
        loop {
            let now = service.current().is_some();
            if serving != Some(now) {
                grpc::set_health(&reporter, now).await;
                serving = Some(now);
            }
            if now {
                // A published policy is never withdrawn.
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
}

/// Binds a listener with a deep accept queue, so a burst of connections waits
/// for the accept loop instead of having its SYNs dropped (and retried a second later).
fn listen(addr: SocketAddr) -> Result<tokio::net::TcpListener, ServeError> {
    let fail = |source| ServeError::Listen { addr, source };
    let socket =
        if addr.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() }.map_err(fail)?;
    socket.set_reuseaddr(true).map_err(fail)?;
    socket.bind(addr).map_err(fail)?;
    socket.listen(4096).map_err(fail)
}

/// How a listener takes its connections.
struct Door {
    /// A client that sends no request head (or no TLS handshake) within this is cut off.
    header_timeout: Duration,
    /// A connection with no request in flight for this long is closed.
    idle_timeout: Duration,
    /// TLS, when configured.
    tls: Option<Arc<tls::Reloading>>,
    /// Connections held at once; beyond it new ones are closed at once.
    max_connections: usize,
}

/// What a connection is doing, for its idle timeout: requests in flight and
/// when the last one ended (ms since the connection's start).
#[derive(Default)]
struct Activity {
    in_flight: std::sync::atomic::AtomicUsize,
    last_ms: std::sync::atomic::AtomicU64,
}

/// Counts a request in flight until dropped (the response is made).
struct Busy {
    activity: Arc<Activity>,
    start: tokio::time::Instant,
}

impl Busy {
    fn new(activity: Arc<Activity>, start: tokio::time::Instant) -> Busy {
        activity.in_flight.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Busy { activity, start }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.activity.last_ms.store(ms, std::sync::atomic::Ordering::Release);
        self.activity.in_flight.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Accepts connections until `stop`, then lets in-flight requests finish (at
/// most 30 s). A client that does not send its request head (or finish its TLS
/// handshake) within `header_timeout` is disconnected, and a connection with
/// nothing in flight for `idle_timeout` is closed (gracefully: HTTP/2 gets a
/// GOAWAY), so idle or slow connections cannot pile up whatever the protocol.
/// HTTP/1.1 and HTTP/2 (gRPC) are both served. Each request carries its
/// connection's [`caller::Caller`]: the TCP peer, the principal of the client
/// certificate the handshake verified, and whether TLS was used.
async fn serve_listener(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    door: Door,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    use hyper_util::rt::{TokioExecutor, TokioTimer};
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(door.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20))
        .max_concurrent_streams(256);
    let (header_timeout, idle_timeout) = (door.header_timeout, door.idle_timeout);
    let slots = Arc::new(tokio::sync::Semaphore::new(door.max_connections));
    let mut stopping = stop.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                // Accept errors (e.g. out of file descriptors) are transient: go
                // on after a pause, so a full descriptor table does not spin a core.
                let Ok((stream, peer)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                // Over the cap, the connection is closed at once: memory stays
                // bounded and the accept queue keeps moving.
                let Ok(permit) = slots.clone().try_acquire_owned() else { continue };
                let _ = stream.set_nodelay(true);
                let (app, builder, tls, stop) = (app.clone(), builder.clone(), door.tls.clone(), stop.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    // A client that sends nothing at all is dropped too (the
                    // header timeout starts only once bytes arrive).
                    let mut first = [0u8; 1];
                    if !matches!(tokio::time::timeout(header_timeout, stream.peek(&mut first)).await, Ok(Ok(n)) if n > 0) {
                        return;
                    }
                    match tls.map(|t| t.acceptor()) {
                        Some(acceptor) => {
                            let Ok(Ok(stream)) = tokio::time::timeout(header_timeout, acceptor.accept(stream)).await else {
                                return;
                            };
                            // The handshake verified the chain against `client_ca`
                            // (when set): only then is there a peer certificate.
                            let principal = stream
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|chain| chain.first())
                                .and_then(|leaf| caller::principal(leaf.as_ref()));
                            let who = caller::Caller::Conn { peer, principal, tls: true };
                            serve_connection(builder, TokioIo::new(stream), app, who, idle_timeout, stop).await;
                        }
                        None => {
                            let who = caller::Caller::Conn { peer, principal: None, tls: false };
                            serve_connection(builder, TokioIo::new(stream), app, who, idle_timeout, stop).await;
                        }
                    }
                });
            }
            _ = stopping.wait_for(|stopped| *stopped) => break,
        }
    }
    drop(listener);
    // Every connection holds a slot until it ends: draining is getting them all back.
    let all = u32::try_from(door.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(30), slots.acquire_many(all)).await;
}

/// Serves one connection until it ends, closing it gracefully when it has had
/// nothing in flight for `idle_timeout` or when the server stops.
async fn serve_connection<I>(
    builder: hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    io: I,
    app: axum::Router,
    who: caller::Caller,
    idle_timeout: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let start = tokio::time::Instant::now();
    let activity = Arc::new(Activity::default());
    let (seen, peer) = (
        activity.clone(),
        match &who {
            caller::Caller::Conn { peer, .. } => Some(*peer),
            _ => None,
        },
    );
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        let busy = Busy::new(seen.clone(), start);
        req.extensions_mut().insert(who.clone());
        if let Some(peer) = peer {
            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        }
        let app = app.clone();
        async move {
            let response = tower::ServiceExt::oneshot(app, req.map(axum::body::Body::new)).await;
            drop(busy);
            response
        }
    });
    let conn = builder.serve_connection_with_upgrades(io, svc);
    tokio::pin!(conn);
    let tick = (idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let grace = loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            () = tokio::time::sleep(tick) => {
                let idle = activity.in_flight.load(std::sync::atomic::Ordering::Acquire) == 0 && {
                    let last = Duration::from_millis(activity.last_ms.load(std::sync::atomic::Ordering::Acquire));
                    start.elapsed().saturating_sub(last) >= idle_timeout
                };
                if idle {
                    break IDLE_GRACE;
                }
            }
            _ = stop.wait_for(|stopped| *stopped) => break STOP_GRACE,
        }
    };
    // Closing: HTTP/2 sends GOAWAY and waits for the client's PING answer
    // before its last frame, and HTTP/1.1 finishes the request in flight. A
    // client that never answers does not keep the connection: after a grace
    // period it is dropped.
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(grace, conn.as_mut()).await;
}

/// How long an idle connection may take to say goodbye (nothing is in flight).
const IDLE_GRACE: Duration = Duration::from_secs(1);

/// How long a connection may take to finish its requests when the server stops.
const STOP_GRACE: Duration = Duration::from_secs(30);

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn spawn_sighup(trigger: warden_project::Trigger) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
        while hup.recv().await.is_some() {
            if !trigger.pull() {
                return;
            }
        }
    });
    #[cfg(not(unix))]
    drop(trigger);
}

fn reload_shadow(shadow: &shadow::Shadow) {
    match shadow.reload() {
        Ok(rev) => tracing::info!("shadow candidate `{}` at revision {rev}", shadow.policies.display()),
        Err(e) => tracing::warn!("shadow candidate `{}` did not load:\n{e}", shadow.policies.display()),
    }
}

/// Starts the decision log writer; `None` when the log is off. A chained log
/// (`chain = true`) seals every line (`audit.rs`) and, with `checkpoints`,
/// signs a checkpoint every `checkpoint_every` lines and after a quiet
/// `checkpoint_interval_ms`.
async fn start_log(
    config: &Config,
    checkpoints: Option<Arc<mint::Minter>>,
    counters: log_sink::SinkCounters,
) -> Result<Option<tokio::sync::mpsc::Sender<String>>, ServeError> {
    let c = &config.decision_log;
    let (mut chain, torn) = match (c.chain, c.sink, &c.path) {
        (false, ..) => (None, false),
        (true, Sink::File, Some(path)) => {
            let (chain, torn) =
                audit::Chain::resume(path).map_err(|source| ServeError::Log { path: path.clone(), source })?;
            (Some(chain), torn)
        }
        (true, ..) => (Some(audit::Chain::default()), false),
    };
    let Some(mut sink) = log_sink::Writer::open(c, counters).await.map_err(ServeError::LogSink)? else {
        return Ok(None);
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(c.queue.max(1));
    let (every, interval) = (c.checkpoint_every.max(1), Duration::from_millis(c.checkpoint_interval_ms.max(1)));
    tokio::spawn(async move {
        let sign = |payload: &serde_json::Value| match &checkpoints {
            Some(m) => m.sign_jws(audit::CHECKPOINT_TYP, payload),
            None => Err("no `[issuer]` key".to_owned()),
        };
        // Lines sealed since the last checkpoint.
        let mut unsigned: u64 = 0;
        // This run's `log_start` (its `seq`), which its checkpoints sign.
        let start = chain.as_ref().map_or(0, |ch| ch.seq);
        let checkpoint = |ch: &audit::Chain| ch.checkpoint_line(state::now_ms(), start, every, &sign);
        // A line torn by a crash is ended first, so that the next one does not join it.
        if torn && sink.write("\n", false).await.is_err() {
            tracing::error!("the decision log cannot be written; decision logging stops");
            return;
        }
        // A line to write before the next one queued, and whether it is a checkpoint.
        let mut pending: Option<(String, bool)> = chain
            .as_ref()
            .map(|_| (audit::Chain::start_line(state::now_ms(), checkpoints.as_ref().map(|_| every)), false));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let (line, is_checkpoint) = match pending.take() {
                Some(next) => next,
                None => tokio::select! {
                    next = rx.recv() => match next {
                        Some(line) => (line, false),
                        None => {
                            sink.flush().await;
                            break;
                        }
                    },
                    // A batch whose time has come goes out even when no line follows it.
                    () = tokio::time::sleep_until(sink.due().unwrap_or_else(tokio::time::Instant::now)), if sink.due().is_some() => {
                        sink.flush().await;
                        continue;
                    }
                    _ = tick.tick(), if checkpoints.is_some() && unsigned > 0 => {
                        match chain.as_ref().and_then(checkpoint) {
                            Some(line) => { unsigned = 0; (line, true) }
                            None => continue,
                        }
                    }
                },
            };
            let mut line = match &mut chain {
                Some(ch) => ch.seal(&line),
                None => line,
            };
            line.push('\n');
            let written = sink.write(&line, rx.is_empty()).await;
            if let Err(e) = written {
                // Said once, loudly: the log is off from here on (lines are dropped and counted).
                tracing::error!("the decision log cannot be written ({e}); decision logging stops");
                break;
            }
            if chain.is_some() && !is_checkpoint {
                unsigned += 1;
                if checkpoints.is_some() && unsigned >= every {
                    pending = chain.as_ref().and_then(checkpoint).map(|l| (l, true));
                    unsigned = 0;
                    tick.reset();
                }
            }
        }
    });
    Ok(Some(tx))
}
