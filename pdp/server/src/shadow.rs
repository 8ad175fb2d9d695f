//! Shadow mode (`[shadow] policies = "DIR"`): a candidate policy set judged
//! beside the live one on every check, off the request path, never changing
//! an answer. After the live decision, the door's check is queued (bounded:
//! a full queue drops the job and counts it) for a worker thread that judges
//! it with the candidate and compares: agreements and disagreements are
//! counted in metrics (`warden_shadow_checks_total{outcome}`,
//! `warden_shadow_disagreements_total{endpoint,direction}`), each
//! disagreement is a decision log line, and `/v1/policy` shows the candidate
//! with its counts.
//!
//! The candidate has its own rate-limit state and no introspection: a check
//! it cannot judge the way the live set did (an opaque token it cannot ask
//! about, a request with a DPoP proof, which is good once and which the live
//! decision used, a rate-limited decision) is counted as skipped, never as a
//! disagreement. It mints nothing. The queue is bounded in jobs and in input
//! bytes ([`MAX_QUEUED_BYTES`]); the door copies a check only when it fits.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde_json::{Value, json};
use warden_engine::limits::Memory;
use warden_engine::run::Engine;
use warden_language::reason::Reason;

use crate::decide::Check;
use crate::state::now_ms;

/// Jobs waiting at most (the default of `[shadow] queue`).
pub const QUEUE: usize = 10_000;

/// Rate-limit keys the candidate holds at most.
const CANDIDATE_KEYS: usize = 100_000;

/// Input bytes waiting at most (bodies, headers): beyond, a check is not
/// judged again (counted as dropped), so a flood of large requests cannot
/// grow the queue's memory.
pub const MAX_QUEUED_BYTES: usize = 64 << 20;

/// `warden_shadow_checks_total` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `agree`, `disagree`, `skipped` (could not be judged alike) or `dropped` (queue full).
    pub outcome: &'static str,
}

/// `warden_shadow_disagreements_total` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DisagreementLabels {
    /// The endpoint the candidate judged it at (or the live one's).
    pub endpoint: String,
    /// `allow_to_deny`, `deny_to_allow` or `deny_to_deny`.
    pub direction: &'static str,
}

/// The counters shadow mode reports through.
#[derive(Clone, Debug, Default)]
pub struct ShadowMetrics {
    /// Checks by outcome.
    pub outcomes: Family<OutcomeLabels, Counter>,
    /// Disagreements by endpoint and direction.
    pub disagreements: Family<DisagreementLabels, Counter>,
}

/// One check to judge again.
pub struct Job {
    /// What was judged.
    pub check: Check,
    /// The live decision's id.
    pub decision_id: String,
    /// The live decision.
    pub allow: bool,
    /// Its status.
    pub status: u16,
    /// Its reason.
    pub reason: Reason,
    /// Its deciding rule.
    pub rule: Option<String>,
}

/// The candidate in service.
struct Candidate {
    engine: Engine,
    revision: String,
    loaded_at_ms: u64,
}

/// Shadow mode's state.
pub struct Shadow {
    /// The candidate's directory.
    pub policies: PathBuf,
    candidate: ArcSwapOption<Candidate>,
    last_error: Mutex<Option<String>>,
    tx: SyncSender<(Job, usize)>,
    fetcher: Option<Arc<dyn warden_engine::jwt::JwksFetcher>>,
    metrics: ShadowMetrics,
    log: Option<tokio::sync::mpsc::Sender<String>>,
    agreed: AtomicU64,
    disagreed: AtomicU64,
    skipped: AtomicU64,
    dropped: AtomicU64,
    /// Jobs and input bytes in the queue now, and the most jobs it takes.
    queued: AtomicUsize,
    queued_bytes: AtomicUsize,
    capacity: usize,
}

impl Shadow {
    /// Shadow mode over the set in `policies`, with a worker thread and a
    /// queue of `queue` jobs; disagreements go to `log`. Loads nothing yet
    /// (see [`Shadow::reload`]).
    pub fn start(
        policies: PathBuf,
        queue: usize,
        fetcher: Option<Arc<dyn warden_engine::jwt::JwksFetcher>>,
        metrics: ShadowMetrics,
        log: Option<tokio::sync::mpsc::Sender<String>>,
    ) -> std::io::Result<Arc<Shadow>> {
        let (tx, rx) = std::sync::mpsc::sync_channel(queue.max(1));
        let shadow = Arc::new(Shadow {
            policies,
            candidate: ArcSwapOption::empty(),
            last_error: Mutex::new(None),
            tx,
            fetcher,
            metrics,
            log,
            agreed: AtomicU64::new(0),
            disagreed: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
            queued_bytes: AtomicUsize::new(0),
            capacity: queue.max(1),
        });
        let worker = Arc::downgrade(&shadow);
        std::thread::Builder::new().name("warden-shadow".to_owned()).spawn(move || work(&worker, &rx))?;
        Ok(shadow)
    }

    /// Compiles the candidate and, when it compiles, puts it in service; a
    /// set that fails keeps the previous candidate (the error is kept for
    /// `/v1/policy`). Blocking: call it off the request path.
    pub fn reload(&self) -> Result<String, String> {
        let built = (|| {
            let compiled = warden_project::compile_dir(&self.policies).map_err(|e| e.to_string())?;
            let revision = compiled.graph.revision.clone();
            let limiter = Arc::new(Memory::new(CANDIDATE_KEYS));
            let engine = warden_project::engine(compiled.graph, &compiled.loader, limiter, self.fetcher.clone())
                .map_err(|e| e.to_string())?;
            if let Some(verifier) = engine.jwks() {
                crate::jwks::report(&verifier.refresh_due(now_ms()));
            }
            Ok::<_, String>(Candidate { engine, revision, loaded_at_ms: now_ms() })
        })();
        let mut error = self.last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match built {
            Ok(candidate) => {
                let revision = candidate.revision.clone();
                self.candidate.store(Some(Arc::new(candidate)));
                *error = None;
                Ok(revision)
            }
            Err(why) => {
                *error = Some(why.clone());
                Err(why)
            }
        }
    }

    /// Whether a check of about `bytes` of input would be taken: a candidate
    /// is loaded and the queue has room for it, in jobs and in bytes. When
    /// not, the check is counted (skipped or dropped) here, before the door
    /// copies anything.
    pub fn accepts(&self, bytes: usize) -> bool {
        if self.candidate.load().is_none() {
            self.count("skipped", &self.skipped);
            return false;
        }
        let full = self.queued.load(Ordering::Relaxed) >= self.capacity
            || self.queued_bytes.load(Ordering::Relaxed).saturating_add(bytes) > MAX_QUEUED_BYTES;
        if full {
            self.count("dropped", &self.dropped);
        }
        !full
    }

    /// Queues `job` of about `bytes` of input (after [`Shadow::accepts`]); a
    /// full queue drops it (counted). Never waits.
    pub fn offer(&self, job: Job, bytes: usize) {
        self.queued.fetch_add(1, Ordering::Relaxed);
        self.queued_bytes.fetch_add(bytes, Ordering::Relaxed);
        match self.tx.try_send((job, bytes)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.done(bytes);
                self.count("dropped", &self.dropped);
            }
        }
    }

    fn done(&self, bytes: usize) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
        self.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    fn count(&self, outcome: &'static str, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
        self.metrics.outcomes.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// What `/v1/policy` says of the candidate.
    pub fn status(&self) -> Value {
        let candidate = self.candidate.load();
        let error = self.last_error.lock().map(|e| e.clone()).unwrap_or(None);
        json!({
            "policies": self.policies.display().to_string(),
            "revision": candidate.as_ref().map(|c| c.revision.clone()),
            "loaded_at_ms": candidate.as_ref().map(|c| c.loaded_at_ms),
            "last_reload_error": error,
            "agreed": self.agreed.load(Ordering::Relaxed),
            "disagreed": self.disagreed.load(Ordering::Relaxed),
            "skipped": self.skipped.load(Ordering::Relaxed),
            "dropped": self.dropped.load(Ordering::Relaxed),
        })
    }

    /// Judges one job with the candidate and records the outcome.
    fn judge(&self, job: &Job) {
        let Some(candidate) = self.candidate.load_full() else {
            self.count("skipped", &self.skipped);
            return;
        };
        // Not judged at all: a rate-limited live decision (limits are counted
        // apart), and a DPoP proof (good once, and the live decision used it:
        // the candidate must not touch the replay store either).
        let dpop = matches!(&job.check, Check::Http(req) if req.headers.iter().any(|(n, _)| n == "dpop"));
        if job.reason == Reason::RateLimited || dpop {
            self.count("skipped", &self.skipped);
            return;
        }
        let d = match &job.check {
            Check::Http(req) => candidate.engine.check_http(req),
            Check::Resource(req) => candidate.engine.check_resource(req),
        };
        // What the candidate cannot judge as the live set did.
        let cannot = d.reason == Reason::IntrospectionUnavailable && d.reason != job.reason;
        if cannot || d.reason == Reason::RateLimited {
            self.count("skipped", &self.skipped);
            return;
        }
        let direction = match (job.allow, d.allow) {
            (true, false) => "allow_to_deny",
            (false, true) => "deny_to_allow",
            (false, false) if job.reason != d.reason || job.status != d.status => "deny_to_deny",
            _ => {
                self.count("agree", &self.agreed);
                return;
            }
        };
        self.count("disagree", &self.disagreed);
        let endpoint = d
            .rule
            .as_deref()
            .or(job.rule.as_deref())
            .map_or_else(|| "(no endpoint)".to_owned(), |r| r.split('#').next().unwrap_or(r).to_owned());
        self.metrics.disagreements.get_or_create(&DisagreementLabels { endpoint: endpoint.clone(), direction }).inc();
        if let Some(log) = &self.log {
            let line = json!({
                "time_ms": now_ms(),
                "decision_id": job.decision_id,
                "shadow": {
                    "revision": candidate.revision,
                    "endpoint": endpoint,
                    "direction": direction,
                    "allow": d.allow,
                    "status": d.status,
                    "reason": d.reason,
                    "rule": d.rule.as_deref(),
                },
                "live": {"allow": job.allow, "status": job.status, "reason": job.reason, "rule": job.rule},
            });
            // A full log queue drops the line, as it drops decisions.
            let _ = log.try_send(line.to_string());
        }
    }
}

/// The worker: judges jobs until the shadow is gone.
fn work(shadow: &std::sync::Weak<Shadow>, rx: &Receiver<(Job, usize)>) {
    while let Ok((job, bytes)) = rx.recv() {
        let Some(shadow) = shadow.upgrade() else { return };
        shadow.judge(&job);
        shadow.done(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_is_bounded_in_jobs_and_bytes_before_anything_is_copied() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/todo");
        let shadow = Shadow::start(dir, 2, None, ShadowMetrics::default(), None).unwrap();
        // No candidate yet: nothing is taken.
        assert!(!shadow.accepts(10));
        assert_eq!(shadow.skipped.load(Ordering::Relaxed), 1);
        shadow.reload().unwrap();
        assert!(shadow.accepts(10));
        // Larger than the byte budget: dropped before the door copies it.
        assert!(!shadow.accepts(MAX_QUEUED_BYTES + 1));
        // Full in jobs (the worker is held up by nothing here, so fill the count by hand).
        shadow.queued.store(2, Ordering::Relaxed);
        assert!(!shadow.accepts(10));
        assert_eq!(shadow.dropped.load(Ordering::Relaxed), 2);
        assert_eq!(shadow.status()["dropped"], 2);
    }
}
