//! The service's own logs and traces. Logs go through `tracing` to stderr, as
//! text or one JSON object a line (`[log] format`), filtered by `[log]
//! filter` or the `WARDEN_LOG` environment variable (the `RUST_LOG` syntax).
//! With `[traces]`, each request to a door is a span whose parent is the
//! caller's W3C `traceparent` (an HTTP header, or gRPC metadata, which
//! travels as one), each decision a child span with its route, reason,
//! decision id and revision, exported over OTLP/gRPC in batches. Without
//! `[traces]` no span is made at all: [`enabled`] is one relaxed load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// The target of Warden's trace spans (exported, never printed).
pub const TARGET: &str = "warden_trace";

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether traces are exported (`[traces]`).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// `[log]`.
#[derive(Clone, Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// What is logged, in the `RUST_LOG` syntax (`info`, `warn,warden_server=debug`);
    /// `WARDEN_LOG` in the environment wins.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig { format: LogFormat::Text, filter: "info".to_owned() }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// For people.
    #[default]
    Text,
    /// One JSON object a line, for log shippers.
    Json,
}

/// `[traces]`: OpenTelemetry traces over OTLP/gRPC.
#[derive(Clone, Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TracesConfig {
    /// The collector's OTLP/gRPC endpoint (`http://otel-collector:4317`).
    pub endpoint: String,
    /// `service.name` of the spans.
    #[serde(default = "service_name")]
    pub service_name: String,
    /// The share of traces without a sampled parent that are kept (0 to 1);
    /// a caller's sampling decision is followed.
    #[serde(default = "ratio")]
    pub sample_ratio: f64,
    /// How long spans wait to be sent in a batch, at most.
    #[serde(default = "delay")]
    pub batch_delay_ms: u64,
    /// Bound on one export.
    #[serde(default = "export_timeout")]
    pub timeout_ms: u64,
}

fn service_name() -> String {
    "warden".to_owned()
}

fn ratio() -> f64 {
    1.0
}

fn delay() -> u64 {
    1_000
}

fn export_timeout() -> u64 {
    10_000
}

/// What [`init`] set up, to flush at the end.
pub struct Telemetry {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

/// Installs the log writer and, with `traces`, the OTLP exporter. Must run
/// inside the service's Tokio runtime (the gRPC exporter needs it).
pub fn init(log: &LogConfig, traces: Option<&TracesConfig>) -> Result<Telemetry, String> {
    let filter = match std::env::var("WARDEN_LOG") {
        Ok(f) if !f.is_empty() => EnvFilter::try_new(&f).map_err(|e| format!("`WARDEN_LOG`: {e}"))?,
        _ => EnvFilter::try_new(&log.filter).map_err(|e| format!("`log.filter`: {e}"))?,
    };
    // The spans are for the exporter only: never printed.
    let not_spans = tracing_subscriber::filter::filter_fn(|m| m.target() != TARGET);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false);
    let fmt = match log.format {
        LogFormat::Text => fmt.with_ansi(false).with_filter(filter).with_filter(not_spans.clone()).boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).with_filter(filter).with_filter(not_spans).boxed(),
    };
    let (otel, provider) = match traces {
        None => (None, None),
        Some(t) => {
            use opentelemetry_otlp::WithExportConfig as _;
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(t.endpoint.clone())
                .with_timeout(Duration::from_millis(t.timeout_ms))
                .build()
                .map_err(|e| format!("`traces.endpoint`: {e}"))?;
            let batch = opentelemetry_sdk::trace::BatchConfigBuilder::default()
                .with_scheduled_delay(Duration::from_millis(t.batch_delay_ms))
                .with_max_queue_size(8_192)
                .build();
            let processor =
                opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter).with_batch_config(batch).build();
            let sampler = opentelemetry_sdk::trace::Sampler::ParentBased(Box::new(
                opentelemetry_sdk::trace::Sampler::TraceIdRatioBased(t.sample_ratio),
            ));
            let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_span_processor(processor)
                .with_sampler(sampler)
                .with_resource(opentelemetry_sdk::Resource::builder().with_service_name(t.service_name.clone()).build())
                .build();
            let tracer = provider.tracer("warden");
            let only_spans = tracing_subscriber::filter::Targets::new().with_target(TARGET, tracing::Level::INFO);
            (Some(tracing_opentelemetry::layer().with_tracer(tracer).with_filter(only_spans)), Some(provider))
        }
    };
    tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init()
        .map_err(|e| format!("cannot install the log writer: {e}"))?;
    ENABLED.store(provider.is_some(), Ordering::Relaxed);
    Ok(Telemetry { provider })
}

impl Telemetry {
    /// Sends the spans still waiting (at the end of the service).
    pub fn shutdown(self) {
        if let Some(p) = self.provider {
            let _ = p.shutdown_with_timeout(Duration::from_secs(5));
        }
    }
}

/// Reads a `traceparent` (and `tracestate`) from request headers.
struct Headers<'a>(&'a axum::http::HeaderMap);

impl opentelemetry::propagation::Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}

/// The span of one request to a door, its parent the caller's W3C trace
/// context when it sent one; a disabled span when traces are off.
pub fn request_span(headers: &axum::http::HeaderMap, method: &str, path: &str) -> tracing::Span {
    if !enabled() {
        return tracing::Span::none();
    }
    use opentelemetry::propagation::TextMapPropagator as _;
    let parent = opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&Headers(headers));
    let span = tracing::info_span!(target: TARGET, "warden.request", otel.name = %format!("{method} {path}"),
        otel.kind = "server", http.request.method = %method, url.path = %path);
    let _ = span.set_parent(parent);
    span
}

/// The trace id (hex) of the span in force, when traces are on.
pub fn trace_id() -> Option<String> {
    if !enabled() {
        return None;
    }
    let cx = tracing::Span::current().context();
    let id = cx.span().span_context().trace_id();
    (id != opentelemetry::trace::TraceId::INVALID).then(|| id.to_string())
}
