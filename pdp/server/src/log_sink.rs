//! Where decision log lines go (`[decision_log] sink`): standard output; a
//! file, rotated past `max_bytes` (`path.1` the newest of `max_files` kept,
//! renamed, never truncated, so a chained log goes on in the next file); or
//! an HTTP endpoint that takes batches of NDJSON (`[decision_log.http]`:
//! a log shipper's HTTP input, Vector, Fluent Bit, a SIEM), gzip'd, retried
//! with doubling pauses. Memory stays bounded: one batch in hand, and the
//! writer's queue in front of it (lines beyond it are dropped and counted by
//! the service); a batch that fails every retry is dropped and counted.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use tokio::io::AsyncWriteExt as _;
use tokio::time::Instant;

use crate::config::{DecisionLog, HttpSink, Sink};

/// What the HTTP sink counts, for `/metrics`.
#[derive(Clone, Debug, Default)]
pub struct SinkCounters {
    /// Lines the endpoint accepted.
    pub sent: Counter,
    /// Lines dropped after every retry.
    pub failed: Counter,
}

/// An open sink.
pub enum Writer {
    /// Standard output.
    Stdout(tokio::io::Stdout),
    /// A file.
    File(FileSink),
    /// Batches over HTTP.
    Http(Box<Batches>),
}

/// A file sink and its rotation.
pub struct FileSink {
    file: tokio::fs::File,
    path: PathBuf,
    written: u64,
    max_bytes: u64,
    max_files: u32,
}

/// The HTTP sink's batch in hand.
pub struct Batches {
    client: reqwest::Client,
    config: HttpSink,
    token: Option<String>,
    batch: Vec<u8>,
    lines: u64,
    /// When the batch in hand must go, at the latest.
    due: Option<Instant>,
    counters: SinkCounters,
}

impl Writer {
    /// Opens the sink `config` names (`None` when it is off). Errors say what
    /// and where (never a token).
    pub async fn open(config: &DecisionLog, counters: SinkCounters) -> Result<Option<Writer>, String> {
        Ok(Some(match config.sink {
            Sink::Off => return Ok(None),
            Sink::Stdout => Writer::Stdout(tokio::io::stdout()),
            Sink::File => {
                let path = config.path.clone().unwrap_or_default();
                let file = open_append(&path).await.map_err(|e| format!("`{}`: {e}", path.display()))?;
                let written = file.metadata().await.map_or(0, |m| m.len());
                Writer::File(FileSink { file, path, written, max_bytes: config.max_bytes, max_files: config.max_files })
            }
            Sink::Http => {
                let http = config.http.clone().ok_or("`[decision_log.http]` is missing")?;
                let token = crate::config::read_token(http.token_file.as_deref(), "decision_log.http.token_file")?;
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_millis(http.timeout_ms))
                    .build()
                    .map_err(|e| format!("the decision log's HTTP client: {e}"))?;
                Writer::Http(Box::new(Batches {
                    client,
                    config: http,
                    token,
                    batch: Vec::new(),
                    lines: 0,
                    due: None,
                    counters,
                }))
            }
        }))
    }

    /// Writes one line (ending in `\n`); `idle` when no other line waits, so
    /// a file or standard output is flushed.
    pub async fn write(&mut self, line: &str, idle: bool) -> std::io::Result<()> {
        match self {
            Writer::Stdout(out) => {
                out.write_all(line.as_bytes()).await?;
                if idle {
                    out.flush().await?;
                }
                Ok(())
            }
            Writer::File(f) => f.write(line, idle).await,
            Writer::Http(b) => {
                b.batch.extend_from_slice(line.as_bytes());
                b.lines += 1;
                if b.due.is_none() {
                    b.due = Some(Instant::now() + Duration::from_millis(b.config.batch_interval_ms));
                }
                if b.lines >= b.config.batch_lines as u64 {
                    b.send().await;
                }
                Ok(())
            }
        }
    }

    /// When the batch in hand must be sent (HTTP only).
    pub fn due(&self) -> Option<Instant> {
        match self {
            Writer::Http(b) => b.due,
            _ => None,
        }
    }

    /// Sends the batch in hand (its time has come, or the service stops).
    pub async fn flush(&mut self) {
        if let Writer::Http(b) = self {
            b.send().await;
        }
    }
}

async fn open_append(path: &Path) -> std::io::Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new().create(true).append(true).open(path).await
}

impl FileSink {
    async fn write(&mut self, line: &str, idle: bool) -> std::io::Result<()> {
        self.file.write_all(line.as_bytes()).await?;
        self.written += line.len() as u64;
        if self.max_bytes > 0 && self.written >= self.max_bytes {
            self.rotate().await?;
        } else if idle {
            self.file.flush().await?;
        }
        Ok(())
    }

    /// `path` becomes `path.1`, `path.1` becomes `path.2`, … (the oldest
    /// beyond `max_files` goes), and a new `path` is opened.
    async fn rotate(&mut self) -> std::io::Result<()> {
        self.file.flush().await?;
        self.file.sync_all().await?;
        let numbered = |n: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{n}"));
            PathBuf::from(p)
        };
        let _ = tokio::fs::remove_file(numbered(self.max_files)).await;
        for n in (1..self.max_files).rev() {
            let _ = tokio::fs::rename(numbered(n), numbered(n + 1)).await;
        }
        tokio::fs::rename(&self.path, numbered(1)).await?;
        self.file = open_append(&self.path).await?;
        self.written = 0;
        Ok(())
    }
}

impl Batches {
    /// POSTs the batch in hand, retried with doubling pauses; counted as sent
    /// or failed. The batch is gone either way.
    async fn send(&mut self) {
        let (body, lines) = (std::mem::take(&mut self.batch), std::mem::take(&mut self.lines));
        self.due = None;
        if lines == 0 {
            return;
        }
        let body = if self.config.gzip {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            match gz.write_all(&body).and_then(|()| gz.finish()) {
                Ok(b) => b,
                Err(_) => body,
            }
        } else {
            body
        };
        let mut pause = Duration::from_millis(200);
        for attempt in 0..=self.config.retries {
            let mut req =
                self.client.post(&self.config.url).header("content-type", "application/x-ndjson").body(body.clone());
            if self.config.gzip {
                req = req.header("content-encoding", "gzip");
            }
            if let Some(t) = &self.token {
                req = req.bearer_auth(t);
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => {
                    self.counters.sent.inc_by(lines);
                    return;
                }
                // A request the endpoint refuses for what it is will be refused again.
                Ok(r) if r.status().is_client_error() && r.status() != 429 && r.status() != 408 => {
                    tracing::warn!(
                        "the decision log endpoint refused a batch of {lines} lines ({}); dropped",
                        r.status()
                    );
                    break;
                }
                _ if attempt < self.config.retries => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(10));
                }
                Ok(r) => tracing::warn!(
                    "the decision log endpoint answered {} to a batch of {lines} lines after every retry; dropped",
                    r.status()
                ),
                Err(e) => tracing::warn!(
                    "a batch of {lines} decision log lines could not be sent after every retry ({}); dropped",
                    if e.is_timeout() { "timed out".to_owned() } else { "the endpoint is unreachable".to_owned() }
                ),
            }
        }
        self.counters.failed.inc_by(lines);
    }
}
