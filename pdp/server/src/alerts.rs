//! Alerts (`[alerts]`): every ban started is POSTed as JSON to a webhook (the
//! ban's own from `[alerts.bans]`, else the default), off the request path. A
//! bounded queue takes the events (a full one drops and counts them: an
//! endpoint that hangs never slows a decision); one task sends them, each
//! within `timeout_ms`, retried `retries` times with a doubling pause, then
//! counted as failed.

use std::collections::BTreeMap;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use serde::Deserialize;
use serde_json::Value;

/// `[alerts]`.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Where every ban started is sent, unless its ban has its own.
    pub webhook: Option<String>,
    /// Per ban name, its own webhook.
    pub bans: BTreeMap<String, String>,
    /// One attempt's bound, in milliseconds.
    pub timeout_ms: u64,
    /// Attempts after the first.
    pub retries: u32,
    /// Events waiting at most.
    pub queue: usize,
}

impl Default for AlertsConfig {
    fn default() -> AlertsConfig {
        AlertsConfig { webhook: None, bans: BTreeMap::new(), timeout_ms: 2_000, retries: 3, queue: 1_000 }
    }
}

impl AlertsConfig {
    /// Whether any webhook is set.
    pub fn enabled(&self) -> bool {
        self.webhook.is_some() || !self.bans.is_empty()
    }

    /// What is wrong with it, if anything.
    pub fn validate(&self) -> Result<(), String> {
        for url in self.webhook.iter().chain(self.bans.values()) {
            let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                return Err(format!("`alerts`: `{url}` is not an http(s) URL"));
            }
        }
        if !(1..=60_000).contains(&self.timeout_ms) {
            return Err(format!("`alerts.timeout_ms` is {}; expected 1 to 60000", self.timeout_ms));
        }
        if self.retries > 10 {
            return Err(format!("`alerts.retries` is {}; expected 0 to 10", self.retries));
        }
        if !(1..=100_000).contains(&self.queue) {
            return Err(format!("`alerts.queue` is {}; expected 1 to 100000", self.queue));
        }
        Ok(())
    }
}

/// Alert counters.
#[derive(Clone, Debug, Default)]
pub struct AlertCounters {
    /// Sent (a 2xx answer).
    pub sent: Counter,
    /// Given up after every retry.
    pub failed: Counter,
    /// Dropped because the queue was full.
    pub dropped: Counter,
}

/// The sending side: hand events to [`Alerts::send`], never waiting.
#[derive(Clone, Debug)]
pub struct Alerts {
    tx: tokio::sync::mpsc::Sender<Value>,
    counters: AlertCounters,
}

impl Alerts {
    /// Starts the sender task on the current runtime.
    pub fn start(config: &AlertsConfig, counters: AlertCounters) -> Result<Alerts, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the alerts client: {e}"))?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Value>(config.queue.max(1));
        let config = config.clone();
        let task_counters = counters.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let ban = event.get("ban").and_then(Value::as_str).unwrap_or("");
                let Some(url) = config.bans.get(ban).or(config.webhook.as_ref()) else { continue };
                let mut pause = Duration::from_millis(500);
                let mut sent = false;
                for attempt in 0..=config.retries {
                    if attempt > 0 {
                        tokio::time::sleep(pause).await;
                        pause = pause.saturating_mul(2);
                    }
                    match client.post(url).json(&event).send().await {
                        Ok(r) if r.status().is_success() => {
                            sent = true;
                            break;
                        }
                        _ => {}
                    }
                }
                if sent {
                    task_counters.sent.inc();
                } else {
                    task_counters.failed.inc();
                    tracing::warn!("an alert could not be sent after {} attempts", config.retries + 1);
                }
            }
        });
        Ok(Alerts { tx, counters })
    }

    /// Queues `event`; a full queue drops it (counted). Never waits.
    pub fn send(&self, event: Value) {
        if self.tx.try_send(event).is_err() {
            self.counters.dropped.inc();
        }
    }
}
