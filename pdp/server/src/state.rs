//! The running service's state: the published policy (an `ArcSwap`, replaced whole by
//! a reload that compiled), the rate-limit store shared across reloads, metrics and
//! the decision log. Requests load the current policy once and finish on it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arc_swap::ArcSwapOption;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde::Serialize;

use warden_engine::decision::Decision;
use warden_engine::limits::{Limiter, Memory};
use warden_engine::run::Engine;
use warden_project::{LoadError, compile_dir};

use crate::config::Backend;
use crate::decide::Door;

/// A compiled policy in service.
pub struct Loaded {
    /// The engine over it.
    pub engine: Engine,
    /// Its revision.
    pub revision: String,
    /// When it was published (Unix ms).
    pub loaded_at_ms: u64,
    /// Its source files.
    pub files: Vec<String>,
}

/// Why a reload published nothing (the previous revision stays in service).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The set could not be read or did not compile.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The compiled graph could not be prepared for evaluation.
    #[error("the graph cannot be loaded: {0}")]
    Graph(#[from] warden_engine::eval::GraphError),
    /// An issuer's introspection cannot be set up (its secret cannot be read).
    #[error("{0}")]
    Introspection(String),
}

impl ReloadError {
    /// The diagnostics (file, line, column, code, message), when that is why.
    pub fn problems(&self) -> Option<&warden_project::Problems> {
        match self {
            ReloadError::Load(e) => e.problems(),
            ReloadError::Graph(_) | ReloadError::Introspection(_) => None,
        }
    }
}

/// The bundle source's state as gauges.
#[derive(Clone, Debug, Default)]
struct BundleGauges {
    last_poll: Gauge,
    activated: Gauge,
    error: Gauge,
}

/// Decision counter labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    /// `allow` or `deny`.
    pub result: &'static str,
    /// The reason code.
    pub reason: &'static str,
}

/// Reload counter labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `ok` or `failed`.
    pub result: String,
}

/// Ban counter labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BanLabels {
    /// The ban's name.
    pub ban: String,
}

/// Minted-token counter labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MintLabels {
    /// The zone the token is for.
    pub zone: String,
    /// `signed` (a new signature) or `cached` (a kept token reused).
    pub result: &'static str,
}

/// Revision gauge labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RevisionLabels {
    /// The revision.
    pub revision: String,
}

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    latency: Histogram,
    reloads: Family<ReloadLabels, Counter>,
    revision: Family<RevisionLabels, Gauge>,
    limit_keys: Gauge,
    limit_backend_errors: Counter,
    log_drops: Counter,
    jwks: super::jwks::FetchCounters,
    minted: Family<MintLabels, Counter>,
    shadow: super::shadow::ShadowMetrics,
    bans: Family<BanLabels, Counter>,
    detections: Family<BanLabels, Counter>,
    bans_active: Gauge,
    alerts: super::alerts::AlertCounters,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::default();
        let decisions = Family::<DecisionLabels, Counter>::default();
        let latency = Histogram::new(exponential_buckets(0.000_001, 2.0, 24));
        let reloads = Family::<ReloadLabels, Counter>::default();
        let revision = Family::<RevisionLabels, Gauge>::default();
        let limit_keys = Gauge::default();
        let log_drops = Counter::default();
        let limit_backend_errors = Counter::default();
        registry.register("warden_decisions", "Decisions by result and reason", decisions.clone());
        registry.register("warden_decision_seconds", "Time to decide, in seconds", latency.clone());
        registry.register("warden_reloads", "Policy reloads by result", reloads.clone());
        registry.register("warden_policy_revision", "The revision in service (value 1)", revision.clone());
        registry.register("warden_rate_limit_keys", "Rate-limit keys held", limit_keys.clone());
        registry.register(
            "warden_rate_limit_backend_errors",
            "Rate-limit checks the shared backend did not answer (each followed its limit's on_backend_error)",
            limit_backend_errors.clone(),
        );
        registry.register("warden_decision_log_drops", "Decision log lines dropped (queue full)", log_drops.clone());
        let jwks = super::jwks::FetchCounters::default();
        registry.register("warden_jwks_fetches", "JWKS documents fetched for `jwks url` issuers", jwks.fetched.clone());
        registry.register(
            "warden_jwks_fetch_failures",
            "JWKS fetches that failed (old keys kept)",
            jwks.failed.clone(),
        );
        let minted = Family::<MintLabels, Counter>::default();
        registry.register(
            "warden_tokens_minted",
            "Tokens handed to allowed requests by `mint`, by zone: newly signed or reused",
            minted.clone(),
        );
        let shadow = super::shadow::ShadowMetrics::default();
        registry.register(
            "warden_shadow_checks",
            "Checks judged again by the shadow candidate, by outcome (agree, disagree, skipped, dropped)",
            shadow.outcomes.clone(),
        );
        registry.register(
            "warden_shadow_disagreements",
            "Checks the shadow candidate judged otherwise, by endpoint and direction",
            shadow.disagreements.clone(),
        );
        let bans = Family::<BanLabels, Counter>::default();
        registry.register("warden_bans", "Bans started (a key crossed a ban's threshold), by ban", bans.clone());
        let detections = Family::<BanLabels, Counter>::default();
        registry.register(
            "warden_detections",
            "Thresholds crossed by `alert` rules (said, not enforced), by rule",
            detections.clone(),
        );
        let bans_active = Gauge::default();
        registry.register(
            "warden_bans_active",
            "Bans in force in this process's store (0 with Redis)",
            bans_active.clone(),
        );
        let alerts = super::alerts::AlertCounters::default();
        registry.register("warden_alerts_sent", "Alerts a webhook accepted", alerts.sent.clone());
        registry.register("warden_alerts_failed", "Alerts given up after every retry", alerts.failed.clone());
        registry.register("warden_alerts_dropped", "Alerts dropped (queue full)", alerts.dropped.clone());
        Metrics {
            alerts,
            bans,
            detections,
            bans_active,
            registry,
            decisions,
            latency,
            reloads,
            revision,
            limit_keys,
            limit_backend_errors,
            log_drops,
            jwks,
            minted,
            shadow,
        }
    }
}

/// One decision log line: never the token, a secret or the body.
#[derive(Serialize)]
pub struct LogLine<'a> {
    /// Unix ms.
    pub time_ms: u64,
    /// The decision's id.
    pub decision_id: &'a str,
    /// The revision that decided.
    pub revision: &'a str,
    /// `http`, `forward_auth`, `grpc`, …
    pub door: Door,
    /// What was judged: method, host and path of a request, or the type, id
    /// and action of a resource check.
    #[serde(flatten)]
    pub judged: Judged<'a>,
    /// The authenticated subject (`sub`), when authentication ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<&'a str>,
    /// The OAuth client (`client_id`, else `azp`), when the credentials name one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<&'a str>,
    /// Source address.
    pub source_ip: Option<String>,
    /// Allowed.
    pub allow: bool,
    /// Status.
    pub status: u16,
    /// Reason code.
    pub reason: warden_language::reason::Reason,
    /// Deciding rule.
    pub rule: Option<&'a str>,
    /// Microseconds spent deciding.
    pub latency_us: u64,
    /// The judged input, when `[decision_log] capture` asks for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<serde_json::Value>,
    /// The W3C trace id of the decision's span, when traces are on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// What a decision log line says was judged.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(untagged)]
pub enum Judged<'a> {
    /// An HTTP request (every door but resource checks).
    Http {
        /// Method.
        method: &'a str,
        /// Host.
        host: &'a str,
        /// Path without the query.
        path: &'a str,
    },
    /// A resource check (`/v1/check/resource`, `CheckResource`, AuthZEN).
    Resource {
        /// The resource's type.
        resource_type: &'a str,
        /// The resource's id.
        resource_id: &'a str,
        /// The action.
        action: &'a str,
    },
    /// A token exchange (`POST /oauth/token`).
    Exchange {
        /// The audience (or resource) the new token is for.
        audience: &'a str,
        /// `token_exchange`: what was asked for.
        grant: &'static str,
    },
}

/// The service.
pub struct Service {
    /// The policy directory.
    pub policies: PathBuf,
    current: ArcSwapOption<Loaded>,
    limiter: Arc<dyn Limiter>,
    last_error: Mutex<Option<Arc<ReloadError>>>,
    reload_lock: Mutex<()>,
    metrics: Metrics,
    log: Option<tokio::sync::mpsc::Sender<String>>,
    started: Instant,
    /// Counts decisions (for the tests of the log).
    pub decisions: AtomicU64,
    /// Fetches `jwks url` key sets for every engine built (none: URL issuers hold no keys).
    jwks: Option<Arc<super::jwks::HttpFetcher>>,
    /// Who may assert a check's `source`; whose `X-Forwarded-For` is read.
    pub callers: super::caller::CallerRules,
    /// What one judged request may carry, at every door.
    pub bounds: crate::api::Bounds,
    /// Signs what policies mint (`[issuer]`); none: a set that mints is refused.
    minter: Option<Arc<super::mint::Minter>>,
    /// Where introspection calls run, and their timeout (none: opaque tokens
    /// are `introspection_unavailable`).
    introspection: Option<(tokio::runtime::Handle, std::time::Duration)>,
    /// What of each input the decision log carries.
    pub capture: super::config::Capture,
    /// What captured input leaves out beyond credentials (`[decision_log.mask]`).
    pub mask: super::config::Mask,
    /// The candidate judged beside the live set (`[shadow]`).
    pub shadow: Option<Arc<super::shadow::Shadow>>,
    /// Where bans started are sent (`[alerts]`).
    alerts: Option<super::alerts::Alerts>,
    /// The bundle source's state (`[bundle]`), for `/v1/status`.
    bundle: Option<Arc<Mutex<super::bundle::poll::Status>>>,
    /// The listeners, as they were bound (for `/v1/status`).
    listeners: Mutex<Vec<serde_json::Value>>,
    /// The bundle source's state in `/metrics`.
    bundle_gauges: Option<BundleGauges>,
}

/// Now as Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Service {
    /// A service over `policies` with no policy loaded yet.
    /// Rate limits are held in process (at most `max_keys` keys).
    pub fn new(policies: PathBuf, max_keys: usize, log: Option<tokio::sync::mpsc::Sender<String>>) -> Service {
        Service::assemble(policies, Metrics::new(), Arc::new(Memory::new(max_keys)), log)
    }

    /// A service whose rate limits live where `[limits]` says: in process, or
    /// in a shared Redis (a bad URL is refused here, at start-up).
    pub fn with_limits(
        policies: PathBuf,
        limits: &super::config::Limits,
        log: Option<tokio::sync::mpsc::Sender<String>>,
    ) -> Result<Service, super::limits_redis::RedisError> {
        let metrics = Metrics::new();
        let limiter: Arc<dyn Limiter> = match &limits.backend {
            Backend::Memory => Arc::new(Memory::new(limits.max_keys)),
            Backend::Redis(url) => {
                let settings = super::limits_redis::Settings {
                    url: url.clone(),
                    timeout: std::time::Duration::from_millis(limits.timeout_ms),
                    pool: limits.pool,
                    backoff: std::time::Duration::from_millis(limits.backoff_ms),
                };
                let redis = super::limits_redis::Redis::new(settings, metrics.limit_backend_errors.clone())?;
                tracing::info!("rate limits shared in Redis at {}", redis.shown());
                Arc::new(redis)
            }
        };
        Ok(Service::assemble(policies, metrics, limiter, log))
    }

    fn assemble(
        policies: PathBuf,
        metrics: Metrics,
        limiter: Arc<dyn Limiter>,
        log: Option<tokio::sync::mpsc::Sender<String>>,
    ) -> Service {
        Service {
            policies,
            current: ArcSwapOption::empty(),
            limiter,
            last_error: Mutex::new(None),
            reload_lock: Mutex::new(()),
            metrics,
            log,
            started: Instant::now(),
            decisions: AtomicU64::new(0),
            jwks: None,
            callers: super::caller::CallerRules::new(&super::config::Callers::default(), &[]).unwrap_or_default(),
            bounds: crate::api::Bounds::default(),
            minter: None,
            introspection: None,
            capture: super::config::Capture::None,
            mask: super::config::Mask::default(),
            shadow: None,
            alerts: None,
            bundle: None,
            listeners: Mutex::new(Vec::new()),
            bundle_gauges: None,
        }
    }

    /// Counts, in `/metrics`, what the decision log's HTTP sink sent and dropped.
    pub fn with_sink_counters(mut self, counters: &super::log_sink::SinkCounters) -> Service {
        self.metrics.registry.register(
            "warden_decision_log_sent_lines",
            "Decision log lines the HTTP sink delivered",
            counters.sent.clone(),
        );
        self.metrics.registry.register(
            "warden_decision_log_failed_lines",
            "Decision log lines the HTTP sink dropped after every retry",
            counters.failed.clone(),
        );
        self
    }

    /// Says in `/v1/status` where the set comes from when it is a bundle's.
    pub fn with_bundle_status(mut self, status: Arc<Mutex<super::bundle::poll::Status>>) -> Service {
        let gauges = BundleGauges::default();
        self.metrics.registry.register(
            "warden_bundle_last_poll_timestamp_seconds",
            "When the bundle registry last answered a poll (Unix seconds)",
            gauges.last_poll.clone(),
        );
        self.metrics.registry.register(
            "warden_bundle_activated_timestamp_seconds",
            "When the bundle in service was activated (Unix seconds)",
            gauges.activated.clone(),
        );
        self.metrics.registry.register(
            "warden_bundle_error",
            "1 while the last poll or activation failed (the last good bundle serves)",
            gauges.error.clone(),
        );
        self.bundle_gauges = Some(gauges);
        self.bundle = Some(status);
        self
    }

    /// A listener bound, as `/v1/status` lists it.
    pub fn add_listener(&self, name: &str, addr: std::net::SocketAddr, tls: bool, client_certificates: bool) {
        self.listeners.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(serde_json::json!({
            "name": name, "addr": addr.to_string(), "tls": tls, "client_certificates": client_certificates,
        }));
    }

    /// Judges every check again with a candidate set (`[shadow]`), off the
    /// request path; its disagreements go to the metrics and the decision log.
    pub fn with_shadow(mut self, policies: PathBuf, queue: usize) -> std::io::Result<Service> {
        let fetcher = self.jwks.clone().map(|f| f as Arc<dyn warden_engine::jwt::JwksFetcher>);
        let shadow =
            super::shadow::Shadow::start(policies, queue, fetcher, self.metrics.shadow.clone(), self.log.clone())?;
        self.shadow = Some(shadow);
        Ok(self)
    }

    /// Sends every ban started to `alerts`' webhooks.
    #[must_use]
    pub fn with_alerts(mut self, alerts: super::alerts::Alerts) -> Service {
        self.alerts = Some(alerts);
        self
    }

    /// The counters alerts report through.
    pub fn alert_counters(&self) -> super::alerts::AlertCounters {
        self.metrics.alerts.clone()
    }

    /// Writes `capture` of each judged input into the decision log.
    #[must_use]
    pub fn with_capture(mut self, capture: super::config::Capture, mask: super::config::Mask) -> Service {
        self.capture = capture;
        self.mask = mask;
        self
    }

    /// Asks issuers with `introspect url …` about opaque tokens, on `runtime`
    /// within `timeout`.
    #[must_use]
    pub fn with_introspection(mut self, runtime: tokio::runtime::Handle, timeout: std::time::Duration) -> Service {
        self.introspection = Some((runtime, timeout));
        self
    }

    /// Signs the tokens policies mint with `minter` (this Warden's `[issuer]`).
    #[must_use]
    pub fn with_minter(mut self, minter: Arc<super::mint::Minter>) -> Service {
        self.minter = Some(minter);
        self
    }

    /// On an allow that mints: signs (or reuses) the token and adds its
    /// header. A token that cannot be signed turns the allow into a denial.
    /// The token and its `exp`, when one was handed out.
    pub fn mint(&self, d: &mut Decision) -> Option<(Arc<str>, u64)> {
        let request = d.mint.take()?;
        if !d.allow {
            return None;
        }
        let signed = match &self.minter {
            Some(m) => m.token(&request, now_ms()),
            None => Err("this Warden has no `[issuer]` to sign with".to_owned()),
        };
        match signed {
            Ok((token, exp, how)) => {
                let result = match how {
                    super::mint::Minted::Signed => "signed",
                    super::mint::Minted::Cached => "cached",
                };
                self.metrics.minted.get_or_create(&MintLabels { zone: request.zone.clone(), result }).inc();
                let (name, value) = request.header_for(&token);
                // The minted token replaces whatever the client sent under that name.
                d.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
                d.headers.push((name, value));
                Some((token, exp))
            }
            Err(why) => {
                let rule = d.rule.clone();
                let kept = std::mem::replace(d, Decision::new(warden_language::reason::Reason::MintFailed, why, rule));
                d.revision = kept.revision;
                d.decision_id = kept.decision_id;
                d.claims = kept.claims;
                None
            }
        }
    }

    /// Sets the `[callers]` rules and the `[check_limits]` of the doors.
    #[must_use]
    pub fn with_doors(mut self, callers: super::caller::CallerRules, bounds: crate::api::Bounds) -> Service {
        self.callers = callers;
        self.bounds = bounds;
        self
    }

    /// Installs `fetcher` on every engine built from now on; its cache outlives reloads.
    #[must_use]
    pub fn with_jwks(mut self, fetcher: Arc<super::jwks::HttpFetcher>) -> Service {
        self.jwks = Some(fetcher);
        self
    }

    /// The counters a JWKS fetcher reports to (`/metrics`).
    pub fn jwks_counters(&self) -> super::jwks::FetchCounters {
        self.metrics.jwks.clone()
    }

    /// The policy in service, if any.
    pub fn current(&self) -> Option<Arc<Loaded>> {
        self.current.load_full()
    }

    /// Compiles the policy directory and, when it compiles, publishes it. A set
    /// that fails keeps the previous one in service; the error is kept for
    /// `/v1/policy` and returned. Blocking: call it off the request path.
    pub fn reload(&self) -> Result<String, Arc<ReloadError>> {
        let _one_at_a_time = self.reload_lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = self.build();
        let label = if result.is_ok() { "ok" } else { "failed" };
        self.metrics.reloads.get_or_create(&ReloadLabels { result: label.to_owned() }).inc();
        match result {
            Ok(loaded) => {
                let revision = loaded.revision.clone();
                self.metrics.revision.clear();
                self.metrics.revision.get_or_create(&RevisionLabels { revision: revision.clone() }).set(1);
                self.current.store(Some(Arc::new(loaded)));
                *self.last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
                Ok(revision)
            }
            Err(e) => {
                let e = Arc::new(e);
                *self.last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e.clone());
                Err(e)
            }
        }
    }

    fn build(&self) -> Result<Loaded, ReloadError> {
        let compiled = compile_dir(&self.policies)?;
        let revision = compiled.graph.revision.clone();
        let files = compiled.set.files.iter().map(|f| f.path.clone()).collect();
        let limiter = self.limiter.clone();
        let fetcher = self.jwks.clone().map(|f| f as Arc<dyn warden_engine::jwt::JwksFetcher>);
        for warning in self.cannot_mint(&compiled.graph) {
            tracing::warn!("{warning}");
        }
        let mut engine = warden_project::engine(compiled.graph, &compiled.loader, limiter, fetcher)?;
        if let Some((runtime, timeout)) = &self.introspection {
            use warden_compiler::Loader as _;
            let secret = |source: &warden_compiler::graph::SecretSource| match source {
                warden_compiler::graph::SecretSource::File(path) => compiled.loader.read(path).ok(),
                warden_compiler::graph::SecretSource::Env(var) => std::env::var(var).ok().map(String::into_bytes),
            };
            let introspector = super::introspect::HttpIntrospector::new(
                &engine.prepared().graph,
                &secret,
                engine.jwks_shared(),
                runtime.clone(),
                *timeout,
            )
            .map_err(ReloadError::Introspection)?;
            if let Some(i) = introspector {
                engine = engine.with_introspector(Arc::new(i));
            }
        }
        // URL keys are fetched before the revision is published (this runs on the
        // reload thread): those the fetcher's cache held fresh are not fetched again,
        // and an issuer that cannot be reached keeps the cached keys, if any.
        if let Some(verifier) = engine.jwks() {
            super::jwks::report(&verifier.refresh_due(now_ms()));
        }
        Ok(Loaded { engine, revision, loaded_at_ms: now_ms(), files })
    }

    /// What a set mints that this server cannot sign: no `[issuer]`, or a
    /// target zone that trusts another issuer URL. Such a set still loads (one
    /// set is often served by every tier, and only the edge signs), and those
    /// routes deny with `mint_failed`; the reload says so.
    fn cannot_mint(&self, graph: &warden_compiler::graph::Graph) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for ep in &graph.endpoints {
            for step in &ep.steps {
                let warden_compiler::graph::StepKind::Mint(m) = &step.kind else { continue };
                // Once per target zone: an api's `mint` is lowered into each of its routes.
                if seen.contains(&m.zone.as_str()) {
                    continue;
                }
                seen.push(&m.zone);
                let at = graph.sources.get(step.origin.source as usize).map_or("?", String::as_str);
                let at = format!("{at}:{}:{}", step.origin.line, step.origin.column);
                match &self.minter {
                    None => out.push(format!(
                        "{at}: `{}` mints tokens for zone `{}`, and this server has no `[issuer]` to sign them: \
                         it will deny with `mint_failed`",
                        ep.id, m.zone
                    )),
                    Some(minter) if minter.url() != m.issuer => out.push(format!(
                        "{at}: `{}` mints tokens for zone `{}`, which trusts the issuer `{}`; this server signs \
                         as `{}` (`[issuer] url`): it will deny with `mint_failed`",
                        ep.id,
                        m.zone,
                        m.issuer,
                        minter.url()
                    )),
                    Some(_) => {}
                }
            }
        }
        out
    }

    /// Counts a decision and sends its log line.
    pub fn record(&self, line: &LogLine<'_>, seconds: f64) {
        self.count(line.allow, line.reason, seconds);
        if let Some(tx) = &self.log
            && let Ok(text) = serde_json::to_string(line)
            && tx.try_send(text).is_err()
        {
            self.metrics.log_drops.inc();
        }
    }

    fn count(&self, allow: bool, reason: warden_language::reason::Reason, seconds: f64) {
        self.decisions.fetch_add(1, Ordering::Relaxed);
        let result = if allow { "allow" } else { "deny" };
        self.metrics.decisions.get_or_create(&DecisionLabels { result, reason: reason.as_str() }).inc();
        self.metrics.latency.observe(seconds);
    }

    /// Logs and counts a decision made at `start` on what was `judged` (an HTTP
    /// request's path may carry its query: it is cut off here).
    pub fn finish(
        &self,
        d: &Decision,
        door: Door,
        judged: Judged<'_>,
        ip: Option<std::net::IpAddr>,
        start: Instant,
        input: Option<serde_json::Value>,
    ) {
        let elapsed = start.elapsed();
        if self.log.is_none() {
            self.count(d.allow, d.reason, elapsed.as_secs_f64());
            self.ban_events(d);
            return;
        }
        let judged = match judged {
            Judged::Http { method, host, path } => {
                Judged::Http { method, host, path: path.split(['?', '#']).next().unwrap_or("") }
            }
            other @ (Judged::Resource { .. } | Judged::Exchange { .. }) => other,
        };
        let claim = |name: &str| d.claims.as_ref().and_then(|c| c.get(name)).and_then(serde_json::Value::as_str);
        let line = LogLine {
            time_ms: now_ms(),
            decision_id: &d.decision_id,
            revision: &d.revision,
            door,
            judged,
            sub: claim("sub"),
            client_id: claim("client_id").or_else(|| claim("azp")),
            source_ip: ip.map(|i| i.to_string()),
            allow: d.allow,
            status: d.status,
            reason: d.reason,
            rule: d.rule.as_deref(),
            latency_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            input,
            trace_id: crate::telemetry::trace_id(),
        };
        self.record(&line, elapsed.as_secs_f64());
        self.ban_events(d);
    }

    /// Each ban `d` started: counted, and an audit event of its own in the
    /// decision log, after the decision that started it.
    fn ban_events(&self, d: &Decision) {
        for b in &d.bans {
            let counter = if b.detection { &self.metrics.detections } else { &self.metrics.bans };
            counter.get_or_create(&BanLabels { ban: b.ban.clone() }).inc();
            if self.log.is_none() && self.alerts.is_none() {
                continue;
            }
            let event = serde_json::json!({
                "event": if b.detection { "detection" } else { "ban" },
                "time_ms": now_ms(),
                "decision_id": &*d.decision_id,
                "revision": &*d.revision,
                "ban": b.ban,
                "key": b.key,
                "until_ms": b.until_ms,
                "offences": b.offences,
            });
            if let Some(tx) = &self.log
                && tx.try_send(event.to_string()).is_err()
            {
                self.metrics.log_drops.inc();
            }
            if let Some(alerts) = &self.alerts {
                alerts.send(event);
            }
        }
    }

    /// The bans in force, at most `max`, each named by the loaded set's ban
    /// its fingerprint belongs to (`null` for a ban the set no longer has).
    pub fn held_bans(&self, max: usize) -> Result<Vec<serde_json::Value>, String> {
        let held = self.limiter.held_bans(now_ms(), max).map_err(|_| "the ban store did not answer".to_owned())?;
        let current = self.current();
        let rule = |ban: u64| {
            current.as_ref().and_then(|l| {
                let p = l.engine.prepared();
                p.ban_ids
                    .iter()
                    .position(|id| *id == ban)
                    .and_then(|i| p.graph.bans.get(i))
                    .map(|b| (b.name.clone(), b.alert_only))
            })
        };
        Ok(held
            .into_iter()
            .map(|b| {
                let (name, alert) = rule(b.ban).map_or((None, false), |(n, a)| (Some(n), a));
                serde_json::json!({
                    "id": b.id, "ban": name, "key": b.key, "until_ms": b.until_ms, "offences": b.offences,
                    // An `alert` rule's record: it only keeps the alert from repeating.
                    "alert_only": alert,
                })
            })
            .collect())
    }

    /// Lifts the ban `id` names; whether there was one.
    pub fn lift_ban(&self, id: &str) -> Result<bool, String> {
        let lifted = self.limiter.lift(id).map_err(|_| "the ban store did not answer".to_owned())?;
        if lifted {
            tracing::info!("ban `{id}` lifted");
            // An audit event, as the ban itself was.
            if let Some(tx) = &self.log {
                let event = serde_json::json!({"event": "ban_lifted", "time_ms": now_ms(), "id": id});
                if tx.try_send(event.to_string()).is_err() {
                    self.metrics.log_drops.inc();
                }
            }
        }
        Ok(lifted)
    }

    /// `/v1/policy`.
    pub fn policy_status(&self) -> serde_json::Value {
        let current = self.current();
        let error = self.last_error.lock().map(|e| e.clone()).unwrap_or(None);
        let diagnostics = error.as_deref().and_then(ReloadError::problems).map(warden_project::Problems::located);
        let diagnostics = serde_json::to_value(diagnostics).unwrap_or_default();
        serde_json::json!({
            "revision": current.as_ref().map(|c| c.revision.clone()),
            "loaded_at_ms": current.as_ref().map(|c| c.loaded_at_ms),
            "files": current.as_ref().map(|c| c.files.clone()).unwrap_or_default(),
            "last_reload_error": error.map(|e| e.to_string()),
            "last_reload_diagnostics": diagnostics,
            "uptime_s": self.started.elapsed().as_secs(),
            "shadow": self.shadow.as_ref().map(|s| s.status()),
        })
    }

    /// `/v1/status`: the revision in service and where it came from (a
    /// directory, or a bundle with its digest, signer and last poll).
    pub fn status(&self) -> serde_json::Value {
        let current = self.current();
        let source = match &self.bundle {
            Some(b) => {
                let b = b.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
                serde_json::json!({"kind": "bundle", "bundle": b})
            }
            None => serde_json::json!({"kind": "directory", "path": self.policies.display().to_string()}),
        };
        let error = self.last_error.lock().map(|e| e.as_ref().map(|e| e.to_string())).unwrap_or(None);
        let listeners = self.listeners.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        serde_json::json!({
            "revision": current.as_ref().map(|c| c.revision.clone()),
            "activated_at_ms": current.as_ref().map(|c| c.loaded_at_ms),
            "source": source,
            "last_reload_error": error,
            "listeners": listeners,
            "uptime_s": self.started.elapsed().as_secs(),
        })
    }

    /// `/metrics` in the Prometheus text format.
    pub fn metrics_text(&self) -> String {
        self.metrics.limit_keys.set(i64::try_from(self.limiter.keys()).unwrap_or(i64::MAX));
        // In process only (a count, no listing): a shared store is not scanned on every scrape.
        let active = self.limiter.bans_in_force(now_ms());
        self.metrics.bans_active.set(i64::try_from(active).unwrap_or(i64::MAX));
        if let (Some(g), Some(b)) = (&self.bundle_gauges, &self.bundle) {
            let b = b.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let seconds = |ms: Option<u64>| i64::try_from(ms.unwrap_or(0) / 1_000).unwrap_or(i64::MAX);
            g.last_poll.set(seconds(b.last_poll_ms));
            g.activated.set(seconds(b.activated_at_ms));
            g.error.set(i64::from(b.last_error.is_some()));
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.metrics.registry).is_err() {
            out.clear();
        }
        out
    }
}
