//! `warden serve` configuration: a TOML file where every setting has a default, so
//! `warden serve --policies DIR` alone runs. Unknown keys are refused with their line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole file.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The policy set directory.
    pub policies: PathBuf,
    /// The HTTP listener.
    pub http: Listener,
    /// The gRPC listener (`warden.v1`, Envoy ext_authz, health, reflection).
    pub grpc: GrpcListener,
    /// Rate-limit state.
    pub limits: Limits,
    /// Who may assert a judged request's `source`, and whose
    /// `X-Forwarded-For` is read (`serve/caller.rs`).
    pub callers: Callers,
    /// Bounds on what one judged request may carry, at every door.
    pub check_limits: crate::api::Bounds,
    /// Forward auth (nginx, Caddy, Traefik).
    pub forward_auth: ForwardAuth,
    /// OpenID AuthZEN.
    pub authzen: AuthZen,
    /// The decision log.
    pub decision_log: DecisionLog,
    /// Hot reload.
    pub reload: Reload,

    /// Fetching `jwks url` key sets.
    pub jwks: Jwks,
    /// This Warden as a token issuer: its URL and signing keys, published at
    /// `/.well-known/jwks.json` and `/.well-known/openid-configuration`.
    pub issuer: Option<crate::signing::IssuerConfig>,
    /// A candidate set judged beside the live one (shadow mode).
    pub shadow: Option<Shadow>,
    /// Webhooks for bans started.
    pub alerts: crate::alerts::AlertsConfig,
    /// Policies from a signed bundle in an OCI registry, in place of `policies`.
    pub bundle: Option<BundleConfig>,
    /// A listener for probes and scrapers only, without TLS.
    pub diagnostics: Diagnostics,
    /// The service's own log lines.
    pub log: crate::telemetry::LogConfig,
    /// OpenTelemetry traces over OTLP (off when absent).
    pub traces: Option<crate::telemetry::TracesConfig>,
    /// `/v1/status` pushed to a URL (off when absent).
    pub status: Option<StatusPush>,
}

/// `[status]`: what `/v1/status` says, POSTed as JSON to `url` every
/// `interval_ms` (and once at start), like OPA's status plugin, so a fleet's
/// revisions can be gathered in one place.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusPush {
    /// `https://…` (plain `http://` only to a loopback address).
    pub url: String,
    /// How often.
    #[serde(default = "status_interval_ms")]
    pub interval_ms: u64,
    /// Bound on one POST.
    #[serde(default = "status_timeout_ms")]
    pub timeout_ms: u64,
    /// A file holding a bearer token sent as `authorization`.
    pub token_file: Option<PathBuf>,
}

fn status_interval_ms() -> u64 {
    60_000
}

fn status_timeout_ms() -> u64 {
    5_000
}

/// The bearer token in the file a `token_file` setting names (`setting`, for
/// the error), trimmed; `None` when the setting is absent. The error names
/// the file, never what it holds.
pub fn read_token(file: Option<&Path>, setting: &str) -> Result<Option<String>, String> {
    file.map(|p| {
        std::fs::read_to_string(p)
            .map(|t| t.trim().to_owned())
            .map_err(|e| format!("cannot read `{setting}` `{}`: {e}", p.display()))
    })
    .transpose()
}

/// Whether `url` is https, or http to a loopback address.
fn https_or_loopback(url: &url::Url) -> bool {
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    url.scheme() == "https" || (url.scheme() == "http" && loopback)
}

/// `[diagnostics]`: a listener of its own for `/healthz`, `/readyz`,
/// `/metrics`, `/v1/status` and `/v1/policy`, plain HTTP, so that kubelet
/// probes and Prometheus reach it while the check listeners demand client
/// certificates. Off unless `addr` is set; it answers no check.
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Diagnostics {
    /// Where it listens (`0.0.0.0:9090` in a pod).
    pub addr: Option<SocketAddr>,
}

/// `[bundle]`: the policy set comes from a signed bundle in an OCI registry,
/// polled; a bundle is activated only once its signature verifies with
/// `keys` and its sources compile to the revision its manifest names. The
/// last good one is kept in `dir`, so a restart with the registry down
/// still serves it.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleConfig {
    /// `oci://HOST[:PORT]/REPO:TAG`, or the `https://` URL of a bundle file.
    pub url: String,
    /// The JWKS whose keys may sign bundles (`warden keys public`).
    pub keys: PathBuf,
    /// Where the last good bundle and its unpacked set are kept.
    #[serde(default = "bundle_dir")]
    pub dir: PathBuf,
    /// How often the tag is looked up.
    #[serde(default = "bundle_poll_ms")]
    pub poll_interval_ms: u64,
    /// Up to this much more, at random, so replicas do not poll in step.
    #[serde(default = "bundle_jitter_ms")]
    pub jitter_ms: u64,
    /// Bound on connecting to the registry and on each read.
    #[serde(default = "bundle_timeout_ms")]
    pub timeout_ms: u64,
    /// Plain HTTP to the registry (a registry on loopback); HTTPS otherwise.
    #[serde(default)]
    pub plain_http: bool,
    /// A registry user, with `password_file`.
    pub username: Option<String>,
    /// The file holding that user's password (never the password itself here).
    pub password_file: Option<PathBuf>,
}

impl BundleConfig {
    /// The bundle at `url` signed by a key of `keys`, every other setting its default.
    pub fn new(url: String, keys: PathBuf) -> BundleConfig {
        BundleConfig {
            url,
            keys,
            dir: bundle_dir(),
            poll_interval_ms: bundle_poll_ms(),
            jitter_ms: bundle_jitter_ms(),
            timeout_ms: bundle_timeout_ms(),
            plain_http: false,
            username: None,
            password_file: None,
        }
    }
}

fn bundle_dir() -> PathBuf {
    PathBuf::from("warden-bundle")
}

fn bundle_poll_ms() -> u64 {
    30_000
}

fn bundle_jitter_ms() -> u64 {
    5_000
}

fn bundle_timeout_ms() -> u64 {
    10_000
}

/// `[shadow]`: a candidate policy set judged beside the live one on every
/// check, off the request path, never changing an answer.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Shadow {
    /// The candidate's directory.
    pub policies: PathBuf,
    /// Checks waiting at most; beyond, a check is not judged again (counted).
    #[serde(default = "shadow_queue")]
    pub queue: usize,
}

fn shadow_queue() -> usize {
    crate::shadow::QUEUE
}

impl Default for Config {
    fn default() -> Config {
        Config {
            policies: PathBuf::from("policies"),
            http: Listener::default(),
            grpc: GrpcListener::default(),
            limits: Limits::default(),
            callers: Callers::default(),
            check_limits: crate::api::Bounds::default(),
            forward_auth: ForwardAuth::default(),
            authzen: AuthZen::default(),
            decision_log: DecisionLog::default(),
            reload: Reload::default(),

            jwks: Jwks::default(),
            issuer: None,
            shadow: None,
            alerts: crate::alerts::AlertsConfig::default(),
            bundle: None,
            diagnostics: Diagnostics::default(),
            log: crate::telemetry::LogConfig::default(),
            traces: None,
            status: None,
        }
    }
}

/// A listener.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Listener {
    /// Address to bind.
    pub addr: SocketAddr,
    /// Largest request body the check APIs read.
    pub max_body_bytes: usize,
    /// A connection that does not send a request head within this many
    /// milliseconds is closed.
    pub header_timeout_ms: u64,
    /// A request (its body read and its decision included) that takes longer
    /// than this many milliseconds is answered 408.
    pub request_timeout_ms: u64,
    /// A connection with no request in flight for this many milliseconds is
    /// closed (HTTP/1.1 keep-alive and HTTP/2 alike; PINGs do not count).
    pub idle_timeout_ms: u64,
    /// TLS (and mutual TLS); plain text when absent.
    pub tls: Option<Tls>,
    /// Connections held at once; beyond it new connections are closed.
    pub max_connections: usize,
}

impl Default for Listener {
    fn default() -> Listener {
        Listener {
            addr: SocketAddr::from(([127, 0, 0, 1], 8181)),
            max_body_bytes: 16 << 20,
            header_timeout_ms: 10_000,
            request_timeout_ms: 30_000,
            idle_timeout_ms: 120_000,
            tls: None,
            max_connections: 20_000,
        }
    }
}

/// The gRPC listener.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcListener {
    /// Serve gRPC at all.
    pub enabled: bool,
    /// Address to bind (a port of its own; HTTP is not served on it).
    pub addr: SocketAddr,
    /// Largest message decoded.
    pub max_message_bytes: usize,
    /// A connection that sends nothing (or does not finish its TLS handshake)
    /// within this many milliseconds is closed.
    pub header_timeout_ms: u64,
    /// A call that takes longer than this many milliseconds is cancelled.
    pub request_timeout_ms: u64,
    /// A connection with no call in flight for this many milliseconds is
    /// closed (PINGs do not count).
    pub idle_timeout_ms: u64,
    /// TLS (and mutual TLS); plain text (h2c) when absent.
    pub tls: Option<Tls>,
    /// Connections held at once; beyond it new connections are closed.
    pub max_connections: usize,
}

impl Default for GrpcListener {
    fn default() -> GrpcListener {
        GrpcListener {
            enabled: true,
            addr: SocketAddr::from(([127, 0, 0, 1], 9191)),
            max_message_bytes: 4 << 20,
            header_timeout_ms: 10_000,
            request_timeout_ms: 30_000,
            idle_timeout_ms: 120_000,
            tls: None,
            max_connections: 20_000,
        }
    }
}

/// TLS settings of a listener. Relative paths are relative to the working directory.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// The server certificate chain (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
    /// CA certificates (PEM) that client certificates must chain to. When set,
    /// every client must present a valid certificate (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

/// Where rate-limit state lives: `memory` (in process, the default) or
/// `redis://[user:password@]host[:port][/db]`, one limit shared by every replica
/// using that Redis.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Backend {
    /// In process.
    Memory,
    /// In the Redis at this URL (checked to be a `redis://` URL).
    Redis(String),
}

impl schemars::JsonSchema for Backend {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Backend".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "`memory` (in process), or `redis://[user:password@]host[:port][/db]` (shared by every replica)",
            "pattern": "^(memory|redis://.+)$",
        })
    }
}

impl TryFrom<String> for Backend {
    type Error = String;

    fn try_from(text: String) -> Result<Backend, String> {
        if text == "memory" {
            return Ok(Backend::Memory);
        }
        if text.starts_with("redis://") && url::Url::parse(&text).is_ok() {
            return Ok(Backend::Redis(text));
        }
        Err(format!(
            "`limits.backend` is `{}`; expected `memory` or a `redis://host[:port][/db]` URL",
            super::limits_redis::redact(&text)
        ))
    }
}

/// The URL without its password: a config is printed in errors and debug output.
impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Memory => f.write_str("Memory"),
            Backend::Redis(url) => f.debug_tuple("Redis").field(&super::limits_redis::redact(url)).finish(),
        }
    }
}

/// Where rate-limit state lives.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// In process or in a shared Redis.
    pub backend: Backend,
    /// In process: most keys held at once (older idle buckets are evicted).
    pub max_keys: usize,
    /// Redis: bound on connecting and on each round trip, in milliseconds. A
    /// slower answer is a backend error (the limit's `on_backend_error`).
    pub timeout_ms: u64,
    /// Redis: idle connections kept open.
    pub pool: usize,
    /// Redis: after a failure, how long limits answer from `on_backend_error`
    /// without trying Redis, in milliseconds.
    pub backoff_ms: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { backend: Backend::Memory, max_keys: 1_000_000, timeout_ms: 50, pool: 16, backoff_ms: 1_000 }
    }
}

/// Who may assert a judged request's `source` (`/v1/check`, gRPC `Check`,
/// Envoy ext_authz, and the optional `source` of resource checks), and whose
/// `X-Forwarded-For` is read. A caller with a verified client certificate may
/// assert when its principal matches `assert_principals`; a caller without one,
/// when its address is in `assert_networks` (loopback by default, so a gateway
/// or the quick start on the same host works, and nothing remote does until it
/// is listed). A check from anyone else that carries `source` is refused (403).
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Callers {
    /// Globs over verified client-certificate principals (`*` within one `/` part).
    pub assert_principals: Vec<String>,
    /// CIDR ranges of callers without a verified certificate.
    pub assert_networks: Vec<String>,
    /// CIDR ranges of proxies whose `X-Forwarded-For` is read, right to left,
    /// to find the client's address (forward auth, resource checks, AuthZEN).
    pub trusted_proxies: Vec<String>,
}

impl Default for Callers {
    fn default() -> Callers {
        Callers {
            assert_principals: Vec::new(),
            assert_networks: vec!["127.0.0.0/8".to_owned(), "::1/128".to_owned()],
            trusted_proxies: Vec::new(),
        }
    }
}

/// Forward auth settings.
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardAuth {
    /// The older spelling of `callers.trusted_proxies` (both are read).
    pub trusted_proxies: Vec<String>,
    /// The request header in which a trusted proxy passes the client's
    /// certificate (PEM or URL-encoded PEM: nginx `$ssl_client_escaped_cert`),
    /// for certificate-bound tokens (RFC 8705). Read only from trusted proxies.
    pub client_cert_header: Option<String>,
    /// Proxies (CIDR ranges) that verify client certificates against a CA
    /// (nginx `ssl_verify_client on|optional` with `ssl_client_certificate`,
    /// never `optional_no_ca`): from them, the certificate's SPIFFE URI SAN,
    /// else its first DNS SAN, becomes the judged request's peer
    /// (`peer.principal`, `auth mtls`, `require mtls`). Empty by default: a
    /// certificate nobody verified proves no name, and a trusted proxy (whose
    /// `X-Forwarded-For` is read) need not be one that verifies.
    pub client_cert_peer_proxies: Vec<String>,
}

/// AuthZEN settings.
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AuthZen {
    /// The base URL `/.well-known/authzen-configuration` publishes (e.g.
    /// `https://pdp.example.com`); when unset, the scheme and `Host` the caller used.
    pub base_url: Option<String>,
}

/// Where the decision log goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sink {
    /// Nowhere.
    Off,
    /// Standard output.
    Stdout,
    /// The file at `path`.
    File,
    /// Batches POSTed to `[decision_log.http] url`.
    Http,
}

/// Where decisions are logged.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionLog {
    /// `off`, `stdout` or `file`.
    pub sink: Sink,
    /// The file, for `sink = "file"`.
    pub path: Option<PathBuf>,
    /// Queue length; decisions beyond it are dropped and counted.
    pub queue: usize,
    /// What of each judged input a line carries, for `warden replay`.
    pub capture: Capture,
    /// Chain the lines (each carries a sequence number and the SHA-256 of
    /// the line before it), for `warden audit verify`.
    pub chain: bool,
    /// With `[issuer]`: a signed checkpoint every this many lines.
    pub checkpoint_every: u64,
    /// …and at most this long after the last line, in milliseconds.
    pub checkpoint_interval_ms: u64,
    /// What captured input leaves out beyond the credentials it never keeps.
    pub mask: Mask,
    /// `sink = "file"`: the file is rotated past this many bytes (0: never).
    pub max_bytes: u64,
    /// …keeping this many rotated files (`path.1` the newest).
    pub max_files: u32,
    /// `sink = "http"`: where batches of lines are POSTed.
    pub http: Option<HttpSink>,
}

/// `[decision_log.mask]`: what of a captured input is never written, beyond
/// the credentials capture always leaves out.
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Mask {
    /// Headers left out (any case).
    pub headers: Vec<String>,
    /// Claims whose values are replaced by `redacted`.
    pub claims: Vec<String>,
    /// JSON pointers into a JSON body whose values are replaced by `redacted`
    /// (`/card/number`, `/items/0/iban`).
    pub body: Vec<String>,
}

/// `[decision_log.http]`: batches of lines POSTed as NDJSON.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpSink {
    /// `https://…` (plain `http://` only to a loopback address).
    pub url: String,
    /// A batch is sent once it holds this many lines…
    #[serde(default = "batch_lines")]
    pub batch_lines: usize,
    /// …or this long after its first line.
    #[serde(default = "batch_ms")]
    pub batch_interval_ms: u64,
    /// Compress batches (`content-encoding: gzip`).
    #[serde(default = "yes")]
    pub gzip: bool,
    /// Bound on one POST.
    #[serde(default = "sink_timeout_ms")]
    pub timeout_ms: u64,
    /// Attempts after the first, with doubling pauses; then the batch is dropped and counted.
    #[serde(default = "sink_retries")]
    pub retries: u32,
    /// A file holding a bearer token sent as `authorization` (never the token here).
    pub token_file: Option<PathBuf>,
}

fn batch_lines() -> usize {
    500
}

fn batch_ms() -> u64 {
    1_000
}

fn yes() -> bool {
    true
}

fn sink_timeout_ms() -> u64 {
    10_000
}

fn sink_retries() -> u32 {
    5
}

impl Default for DecisionLog {
    fn default() -> DecisionLog {
        DecisionLog {
            sink: Sink::Off,
            path: None,
            queue: 10_000,
            capture: Capture::None,
            chain: false,
            checkpoint_every: 1_000,
            checkpoint_interval_ms: 60_000,
            mask: Mask::default(),
            max_bytes: 0,
            max_files: 5,
            http: None,
        }
    }
}

/// The input a decision log line carries (`warden replay` evaluates it again).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Capture {
    /// Nothing but what every line says.
    #[default]
    None,
    /// The request without its body: method, host, target (with the query),
    /// headers but credentials, source, peer, certificate thumbprint, and the
    /// claims authentication established (never a token, secret or key).
    Request,
    /// The same, with a body of at most 64 KiB.
    RequestAndBody,
}

/// Hot reload settings.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Reload {
    /// Watch the policy directory.
    pub watch: bool,
    /// Quiet time after the last change before compiling, in milliseconds.
    pub debounce_ms: u64,
    /// How often the listeners' TLS files are read again for a rotated certificate.
    pub tls_check_ms: u64,
}

impl Default for Reload {
    fn default() -> Reload {
        Reload { watch: true, debounce_ms: 200, tls_check_ms: 5_000 }
    }
}

/// Fetching `jwks url` key sets (see `serve/jwks.rs`).
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Jwks {
    /// Connect and total time allowed for one fetch, in milliseconds.
    pub timeout_ms: u64,
    /// Extra trusted root certificates (PEM) for `https` issuers with a private
    /// CA, added to the system's roots. Relative to the working directory.
    pub ca_file: Option<PathBuf>,
    /// Redirects followed (never from `https` to `http`); 0 follows none.
    pub max_redirects: usize,
}

impl Default for Jwks {
    fn default() -> Jwks {
        Jwks { timeout_ms: 5_000, ca_file: None, max_redirects: 3 }
    }
}

/// Why a config file was refused: the file, the line and column when the
/// problem is at one place, and what is wrong (never a secret it holds).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", file.display(), at.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// 1-based line and column.
    pub at: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

/// The JSON Schema (draft 2020-12) of the config file, as `warden config
/// schema` prints it and `docs/config.schema.json` holds it (editors that
/// read TOML with a schema, such as taplo, complete and check with it).
pub fn schema() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap_or_default();
    if let Some(map) = schema.as_object_mut() {
        map.insert("title".to_owned(), serde_json::json!("warden serve configuration (warden.toml)"));
    }
    schema
}

/// The prefix of the environment variables that set config values:
/// `WARDEN__HTTP__ADDR=0.0.0.0:8181` is `[http] addr`, `WARDEN__POLICIES` is
/// `policies`; a last part `__FILE` reads the value from that file
/// (`WARDEN__LIMITS__BACKEND__FILE=/run/secrets/redis-url`), so a secret
/// never sits in the TOML file or the environment.
pub const ENV_PREFIX: &str = "WARDEN__";

impl Config {
    /// Parses a config file's text with the `WARDEN__…` values of `env` over
    /// it ([`ENV_PREFIX`]); the error names the line and column (of the file)
    /// or the variable.
    pub fn parse_with_env(text: &str, file: &Path, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let ours: Vec<&(String, String)> = env.iter().filter(|(k, _)| k.starts_with(ENV_PREFIX)).collect();
        if ours.is_empty() {
            return Config::parse(text, file);
        }
        let fail = |message: String| ConfigError { file: file.to_path_buf(), at: None, message };
        let mut table: toml::Table = toml::from_str(text).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            at: e.span().map(|s| line_col(text, s.start)),
            message: e.message().to_owned(),
        })?;
        for (name, value) in ours {
            let mut path: Vec<String> = name[ENV_PREFIX.len()..].split("__").map(str::to_ascii_lowercase).collect();
            let value = if path.len() > 1 && path.last().is_some_and(|p| p == "file") {
                path.pop();
                let text = std::fs::read_to_string(value)
                    .map_err(|e| fail(format!("`{name}`: cannot read `{value}`: {e}")))?;
                toml::Value::String(text.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                // A TOML value when it is one (a number, `true`, an array), else the text.
                toml::from_str::<toml::Table>(&format!("v = {value}"))
                    .ok()
                    .and_then(|mut t| t.remove("v"))
                    .unwrap_or_else(|| toml::Value::String(value.clone()))
            };
            let Some((key, sections)) = path.split_last().filter(|(k, _)| !k.is_empty()) else {
                return Err(fail(format!("`{name}` names no setting")));
            };
            let mut at = &mut table;
            for section in sections {
                let entry = at.entry(section.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
                at = entry.as_table_mut().ok_or_else(|| fail(format!("`{name}`: `{section}` is not a section")))?;
            }
            at.insert(key.clone(), value);
        }
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| fail(format!("{} (with the `{ENV_PREFIX}…` environment)", e.message())))?;
        config.check().map_err(fail)?;
        Ok(config)
    }

    /// Parses a config file's text; the error names the line and column.
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            at: e.span().map(|s| line_col(text, s.start)),
            message: e.message().to_owned(),
        })?;
        config.check().map_err(|message| ConfigError { file: file.to_path_buf(), at: None, message })?;
        Ok(config)
    }

    /// The settings that one key alone cannot judge, and the numeric bounds.
    fn check(&self) -> Result<(), String> {
        let config = self;
        if config.decision_log.sink == Sink::File && config.decision_log.path.is_none() {
            return Err("`decision_log.sink = \"file\"` needs `path`".to_owned());
        }
        let d = &config.decision_log;
        match (&d.sink, &d.http) {
            (Sink::Http, None) => {
                return Err("`decision_log.sink = \"http\"` needs `[decision_log.http] url`".to_owned());
            }
            (Sink::Http, Some(h)) => {
                let url = url::Url::parse(&h.url).map_err(|e| format!("`decision_log.http.url`: {e}"))?;
                if !https_or_loopback(&url) {
                    return Err(
                        "`decision_log.http.url` must be https (plain http only to a loopback address)".to_owned()
                    );
                }
                if !(1..=100_000).contains(&h.batch_lines)
                    || !(1..=86_400_000).contains(&h.batch_interval_ms)
                    || !(1..=600_000).contains(&h.timeout_ms)
                    || h.retries > 20
                {
                    return Err("`decision_log.http`: batch_lines 1 to 100000, batch_interval_ms 1 to 86400000, timeout_ms 1 to 600000, retries at most 20".to_owned());
                }
            }
            _ => {}
        }
        if d.max_bytes != 0 && (d.max_bytes < 4_096 || d.max_files == 0 || d.max_files > 1_000) {
            return Err("`decision_log.max_bytes` must be 0 or at least 4096, with `max_files` 1 to 1000".to_owned());
        }
        for p in &d.mask.body {
            if !(p.is_empty() || p.starts_with('/')) {
                return Err(format!("`decision_log.mask.body`: `{p}` is not a JSON pointer (it starts with `/`)"));
            }
        }
        if let Some(p) = &config.status {
            let url = url::Url::parse(&p.url).map_err(|e| format!("`status.url`: {e}"))?;
            if !https_or_loopback(&url) {
                return Err("`status.url` must be https (plain http only to a loopback address)".to_owned());
            }
            if !(100..=86_400_000).contains(&p.interval_ms) || !(1..=600_000).contains(&p.timeout_ms) {
                return Err("`status.interval_ms` must be 100 to 86400000, `status.timeout_ms` 1 to 600000".to_owned());
            }
        }
        if let Some(t) = &config.traces {
            if !(t.endpoint.starts_with("http://") || t.endpoint.starts_with("https://")) {
                return Err(format!("`traces.endpoint` `{}` must be an http:// or https:// URL", t.endpoint));
            }
            if !(0.0..=1.0).contains(&t.sample_ratio) {
                return Err("`traces.sample_ratio` must be 0 to 1".to_owned());
            }
            if !(1..=600_000).contains(&t.batch_delay_ms) || !(1..=600_000).contains(&t.timeout_ms) {
                return Err("`traces.batch_delay_ms` and `traces.timeout_ms` must be 1 to 600000".to_owned());
            }
        }
        if let Some(b) = &config.bundle {
            crate::bundle::registry::check_url(&b.url, b.plain_http).map_err(|e| format!("`bundle.url`: {e}"))?;
            if !(100..=86_400_000).contains(&b.poll_interval_ms) || b.jitter_ms > 86_400_000 {
                return Err(
                    "`bundle.poll_interval_ms` must be 100 to 86400000, `bundle.jitter_ms` at most 86400000".to_owned()
                );
            }
            if !(1..=600_000).contains(&b.timeout_ms) {
                return Err("`bundle.timeout_ms` must be 1 to 600000".to_owned());
            }
            if b.username.is_some() != b.password_file.is_some() {
                return Err("`bundle.username` and `bundle.password_file` go together".to_owned());
            }
        }
        // Bounds that keep timers and queues from overflowing: a day, ten million lines.
        const DAY_MS: u64 = 86_400_000;
        for (name, ms) in [
            ("http.header_timeout_ms", config.http.header_timeout_ms),
            ("http.request_timeout_ms", config.http.request_timeout_ms),
            ("grpc.header_timeout_ms", config.grpc.header_timeout_ms),
            ("grpc.request_timeout_ms", config.grpc.request_timeout_ms),
            ("http.idle_timeout_ms", config.http.idle_timeout_ms),
            ("grpc.idle_timeout_ms", config.grpc.idle_timeout_ms),
            ("reload.debounce_ms", config.reload.debounce_ms),
            ("reload.tls_check_ms", config.reload.tls_check_ms),
        ] {
            if ms == 0 || ms > DAY_MS {
                return Err(format!("`{name}` is {ms}; expected 1 to {DAY_MS} (a day)"));
            }
        }
        for (name, n) in [
            ("http.max_connections", config.http.max_connections),
            ("grpc.max_connections", config.grpc.max_connections),
        ] {
            if n == 0 || n > 1_000_000 {
                return Err(format!("`{name}` is {n}; expected 1 to 1000000"));
            }
        }
        config.alerts.validate()?;
        if let Some(shadow) = &config.shadow
            && (shadow.queue == 0 || shadow.queue > 1_000_000)
        {
            return Err(format!("`shadow.queue` is {}; expected 1 to 1000000", shadow.queue));
        }
        let d = &config.decision_log;
        if d.chain && !(1..=1_000_000).contains(&d.checkpoint_every) {
            return Err(format!("`decision_log.checkpoint_every` is {}; expected 1 to 1000000", d.checkpoint_every));
        }
        if d.chain && !(100..=86_400_000).contains(&d.checkpoint_interval_ms) {
            return Err(format!(
                "`decision_log.checkpoint_interval_ms` is {}; expected 100 to 86400000",
                d.checkpoint_interval_ms
            ));
        }
        if config.decision_log.queue == 0 || config.decision_log.queue > 10_000_000 {
            return Err(format!("`decision_log.queue` is {}; expected 1 to 10000000", config.decision_log.queue));
        }
        super::caller::CallerRules::new(&config.callers, &config.forward_auth.trusted_proxies)
            .map_err(|e| e.to_string())?;
        if !config.forward_auth.client_cert_peer_proxies.is_empty() && config.forward_auth.client_cert_header.is_none()
        {
            return Err("`forward_auth.client_cert_peer_proxies` needs `forward_auth.client_cert_header`".to_owned());
        }
        super::caller::CallerRules::default()
            .with_client_cert_peer(&config.forward_auth.client_cert_peer_proxies)
            .map_err(|e| e.to_string())?;
        if let Some(h) = &config.forward_auth.client_cert_header {
            let token = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
            if h.is_empty() || !h.chars().all(token) {
                return Err(format!(
                    "`forward_auth.client_cert_header` is `{h}`; expected a lower-case header name such as `x-ssl-client-cert`"
                ));
            }
        }
        config.check_limits.validate()?;

        if !(1..=60_000).contains(&config.jwks.timeout_ms) {
            return Err(format!("`jwks.timeout_ms` is {}; expected 1 to 60000 milliseconds", config.jwks.timeout_ms));
        }
        let limits = &config.limits;
        // The Redis round trip is on the request path: at most ten seconds, and
        // far less in practice (the default is 50 ms).
        for (name, ms, max) in
            [("limits.timeout_ms", limits.timeout_ms, 10_000), ("limits.backoff_ms", limits.backoff_ms, 600_000)]
        {
            if !(1..=max).contains(&ms) {
                return Err(format!("`{name}` is {ms}; expected 1 to {max} milliseconds"));
            }
        }
        if limits.pool > 1_024 {
            return Err(format!("`limits.pool` is {}; at most 1024", limits.pool));
        }
        if config.jwks.max_redirects > 10 {
            return Err(format!("`jwks.max_redirects` is {}; at most 10", config.jwks.max_redirects));
        }
        Ok(())
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_keys() {
        let c = Config::parse("", Path::new("w.toml")).unwrap();
        assert_eq!(c.http.addr.port(), 8181);
        assert_eq!(c.decision_log.sink, Sink::Off);
        let err = Config::parse("policies = \"p\"\n\n[http]\naddr = \"127.0.0.1:1\"\nport = 3\n", Path::new("w.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("w.toml:5:1: "), "{err}");
        assert!(err.contains("unknown field `port`"), "{err}");
        let err = Config::parse("[decision_log]\nsink = \"syslog\"\n", Path::new("w.toml")).unwrap_err().to_string();
        assert!(err.contains("`syslog`"), "{err}");
        let err = Config::parse("[forward_auth]\ntrusted_proxies = [\"nope\"]\n", Path::new("w.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`forward_auth.trusted_proxies`: `nope` is not a CIDR range"), "{err}");
        let err = Config::parse("[http]\nheader_timeout_ms = 18446744073709551615\n", Path::new("w.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`http.header_timeout_ms`"), "{err}");
        let err = Config::parse("[decision_log]\nqueue = 0\n", Path::new("w.toml")).unwrap_err().to_string();
        assert!(err.contains("`decision_log.queue`"), "{err}");
        let c = Config::parse(
            "[grpc]\naddr = \"127.0.0.1:1\"\n[grpc.tls]\ncert = \"c\"\nkey = \"k\"\n",
            Path::new("w.toml"),
        )
        .unwrap();
        assert_eq!(c.grpc.tls.map(|t| t.cert), Some(std::path::PathBuf::from("c")));
        let err = Config::parse("[grpc.tls]\ncert = \"c\"\n", Path::new("w.toml")).unwrap_err().to_string();
        assert!(err.contains("missing field `key`"), "{err}");
    }

    #[test]
    fn callers_and_check_limits() {
        let c = Config::parse("", Path::new("w.toml")).unwrap();
        assert_eq!(c.callers.assert_networks, ["127.0.0.0/8", "::1/128"]);
        assert!(c.callers.assert_principals.is_empty() && c.callers.trusted_proxies.is_empty());
        assert_eq!((c.check_limits.max_headers, c.check_limits.max_header_bytes), (100, 8192));
        assert_eq!((c.http.idle_timeout_ms, c.grpc.idle_timeout_ms), (120_000, 120_000));
        let c = Config::parse(
            "[callers]\nassert_principals = [\"spiffe://x/*\"]\nassert_networks = []\n\n[check_limits]\nmax_headers = 20\n",
            Path::new("w.toml"),
        )
        .unwrap();
        assert_eq!((c.callers.assert_principals.len(), c.callers.assert_networks.len()), (1, 0));
        assert_eq!(c.check_limits.max_headers, 20);
        let err =
            Config::parse("[callers]\nassert_principals = [\"[\"]\n", Path::new("w.toml")).unwrap_err().to_string();
        assert!(err.contains("`callers.assert_principals`: `[` is not a glob"), "{err}");
        let err = Config::parse("[callers]\ntrusted_proxies = [\"x\"]\n", Path::new("w.toml")).unwrap_err().to_string();
        assert!(err.contains("`callers.trusted_proxies`: `x`"), "{err}");
        let err = Config::parse("[check_limits]\nmax_headers = 0\n", Path::new("w.toml")).unwrap_err().to_string();
        assert!(err.contains("`check_limits.max_headers` is 0"), "{err}");
        let err = Config::parse("[check_limits]\nmax_cookies = 1\n", Path::new("w.toml")).unwrap_err().to_string();
        assert!(err.starts_with("w.toml:2:1: ") && err.contains("unknown field `max_cookies`"), "{err}");
        let err = Config::parse("[grpc]\nidle_timeout_ms = 0\n", Path::new("w.toml")).unwrap_err().to_string();
        assert!(err.contains("`grpc.idle_timeout_ms` is 0"), "{err}");
        // A verified certificate names the peer only where it comes from a named header.
        assert!(c.forward_auth.client_cert_peer_proxies.is_empty());
        let err = Config::parse("[forward_auth]\nclient_cert_peer_proxies = [\"127.0.0.1/32\"]\n", Path::new("w.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`forward_auth.client_cert_peer_proxies` needs `forward_auth.client_cert_header`"),
            "{err}"
        );
        let err = Config::parse(
            "[forward_auth]\nclient_cert_header = \"x-ssl-client-cert\"\nclient_cert_peer_proxies = [\"nope\"]\n",
            Path::new("w.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`nope` is not a CIDR range"), "{err}");
        let c = Config::parse(
            "[forward_auth]\nclient_cert_header = \"x-ssl-client-cert\"\nclient_cert_peer_proxies = [\"127.0.0.1/32\"]\n",
            Path::new("w.toml"),
        )
        .unwrap();
        assert_eq!(c.forward_auth.client_cert_peer_proxies, ["127.0.0.1/32"]);
    }

    #[test]
    fn limits_table() {
        let c = Config::parse("", Path::new("w.toml")).unwrap();
        assert_eq!((&c.limits.backend, c.limits.timeout_ms, c.limits.pool), (&Backend::Memory, 50, 16));
        let c = Config::parse(
            "[limits]\nbackend = \"redis://u:p@10.0.0.5:6380/2\"\ntimeout_ms = 20\npool = 4\nbackoff_ms = 500\n",
            Path::new("w.toml"),
        )
        .unwrap();
        assert_eq!((c.limits.timeout_ms, c.limits.pool, c.limits.backoff_ms), (20, 4, 500));
        let err = Config::parse("[limits]\nbackend = \"memcached://u:s3cret@h\"\n", Path::new("w.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`limits.backend` is `memcached://u:***@h`") && !err.contains("s3cret"), "{err}");
        let err = Config::parse("[limits]\ntimeout_ms = 0\n", Path::new("w.toml")).unwrap_err().to_string();
        assert!(err.contains("`limits.timeout_ms` is 0"), "{err}");
        let err =
            Config::parse("[limits]\nbackend = \"redis://h\"\nttl = 3\n", Path::new("w.toml")).unwrap_err().to_string();
        assert!(err.starts_with("w.toml:3:1: ") && err.contains("unknown field `ttl`"), "{err}");
    }

    #[test]
    fn jwks_table() {
        let c = Config::parse("", Path::new("w.toml")).unwrap();
        assert_eq!((c.jwks.timeout_ms, c.jwks.ca_file, c.jwks.max_redirects), (5_000, None, 3));
        let c =
            Config::parse("[jwks]\ntimeout_ms = 800\nca_file = \"ca.pem\"\nmax_redirects = 0\n", Path::new("w.toml"))
                .unwrap();
        assert_eq!((c.jwks.timeout_ms, c.jwks.ca_file, c.jwks.max_redirects), (800, Some(PathBuf::from("ca.pem")), 0));
        let err =
            Config::parse("[jwks]\ntimeout_ms = 800\nrefresh = 3\n", Path::new("w.toml")).unwrap_err().to_string();
        assert!(err.starts_with("w.toml:3:1: "), "{err}");
        assert!(err.contains("unknown field `refresh`"), "{err}");
        let err = Config::parse("[jwks]\ntimeout_ms = 0\n", Path::new("w.toml")).unwrap_err().to_string();
        assert!(err.contains("`jwks.timeout_ms` is 0"), "{err}");
    }

    #[test]
    fn the_environment_sets_values_and_secrets_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("redis-url");
        std::fs::write(&secret, "redis://u:s3cret@cache:6379/0\n").unwrap();
        let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
        };
        let c = Config::parse_with_env(
            "[http]\nmax_connections = 10\n",
            Path::new("w.toml"),
            &env(&[
                ("WARDEN__HTTP__ADDR", "0.0.0.0:8181"),
                ("WARDEN__POLICIES", "/etc/warden/policies"),
                ("WARDEN__RELOAD__WATCH", "false"),
                ("WARDEN__DECISION_LOG__QUEUE", "77"),
                ("WARDEN__LIMITS__BACKEND__FILE", secret.to_str().unwrap()),
                // Not ours: a policy's `secret env`, the log filter.
                ("WARDEN_HS_KEY", "x"),
                ("WARDEN_LOG", "debug"),
            ]),
        )
        .unwrap();
        assert_eq!(c.http.addr.to_string(), "0.0.0.0:8181");
        assert_eq!((c.http.max_connections, c.reload.watch, c.decision_log.queue), (10, false, 77));
        assert_eq!(c.policies, PathBuf::from("/etc/warden/policies"));
        assert!(matches!(&c.limits.backend, Backend::Redis(u) if u == "redis://u:s3cret@cache:6379/0"));
        // A value the setting does not take names the variable; a missing file names the variable, never a secret.
        let err = Config::parse_with_env("", Path::new("w.toml"), &env(&[("WARDEN__HTTP__ADDR", "nowhere")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("WARDEN__") && err.contains("w.toml"), "{err}");
        let err = Config::parse_with_env(
            "",
            Path::new("w.toml"),
            &env(&[("WARDEN__LIMITS__BACKEND__FILE", "/nonexistent/secret")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`WARDEN__LIMITS__BACKEND__FILE`: cannot read `/nonexistent/secret`"), "{err}");
        let err = Config::parse_with_env("", Path::new("w.toml"), &env(&[("WARDEN__HTTP__NOPE", "1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope"), "{err}");
    }
}
