//! The embedded mode (feature `embedded`): [`Embedded`] answers the [`Decide`] trait
//! in-process from a policy directory, hot-reloaded, through the very handler
//! `warden serve` runs for `warden.v1.Decision`, so both modes decide alike.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use warden_server::caller::Caller;
use warden_server::grpc::Grpc;
use warden_server::state::Service;

use crate::check::{Check, Decision, HttpCheck, ResourceCheck};
use crate::client::Decide;
use crate::error::Error;
use crate::pb;

/// Rate-limit keys held in-process (as `warden serve`'s default).
const MAX_KEYS: usize = 1_000_000;

/// How long the directory must be quiet before a change is compiled.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Decisions made in-process from a compiled policy directory.
///
/// The checks go through `warden serve`'s own `warden.v1.Decision` handler (the
/// message is handed over encoded, as over the wire), over one published policy
/// that a reload replaces whole: only a set that compiles is ever published, and
/// a failing change keeps the previous revision in service. Rate limits are
/// counted in this process. Issuers with `jwks url` hold no keys here (their
/// tokens are refused `key_unknown`): use `jwks file` for the embedded mode.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), warden_sdk::Error> {
/// use warden_sdk::{Decide, Embedded, ResourceCheck, Source, Subject};
/// let pdp = Embedded::open(concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/todo").as_ref())?;
/// let mut check = ResourceCheck::new("todo", "t1", "read");
/// check.properties = serde_json::json!({"owner": "alice", "tenant": "acme"}).as_object().cloned().unwrap_or_default();
/// let tenant = serde_json::json!({"tenant": "acme"}).as_object().cloned().unwrap_or_default();
/// check.subject = Some(Subject { id: "alice".into(), properties: tenant });
/// check.source = Source { ip: None, principal: Some("spiffe://todo.example/ns/todo/api".into()) };
/// assert!(pdp.check_resource(&check).await?.allow);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Embedded {
    grpc: Grpc,
    _reloader: Option<Arc<warden_project::Reloader>>,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded").field("policies", &self.grpc.service.policies).finish()
    }
}

impl Embedded {
    /// Compiles `dir` and watches it: a change is compiled after 200 ms of quiet
    /// on a thread of its own and published if it compiles. Fails when the set
    /// does not compile now, or the directory cannot be watched.
    pub fn open(dir: &Path) -> Result<Embedded, Error> {
        let mut e = Embedded::open_unwatched(dir)?;
        let service = e.grpc.service.clone();
        let options = warden_project::WatchOptions { watch: true, debounce: DEBOUNCE, ignore: None };
        // Stops with the last clone of this `Embedded`.
        let reloader = warden_project::Reloader::start(dir, options, move || {
            let _kept_previous_on_error = service.reload();
        })
        .map_err(|e| Error::Config(e.to_string()))?;
        e._reloader = Some(Arc::new(reloader));
        Ok(e)
    }

    /// Compiles `dir` once; [`Embedded::reload`] recompiles it.
    pub fn open_unwatched(dir: &Path) -> Result<Embedded, Error> {
        Embedded::start(Service::new(dir.to_path_buf(), MAX_KEYS, None))
    }

    /// [`Embedded::open_unwatched`], signing what the policy mints (`mint for
    /// zone …`) as `issuer`, as `warden serve` does with `[issuer]`. Fails when
    /// a key file is missing, public-only or of another algorithm (the message
    /// names the file, never its contents).
    pub fn open_minting(dir: &Path, issuer: &warden_server::signing::IssuerConfig) -> Result<Embedded, Error> {
        let issuer = warden_server::signing::Issuer::load(issuer).map_err(Error::Config)?;
        let minter = warden_server::mint::Minter::new(&issuer).map_err(Error::Config)?;
        Embedded::start(Service::new(dir.to_path_buf(), MAX_KEYS, None).with_minter(Arc::new(minter)))
    }

    fn start(service: Service) -> Result<Embedded, Error> {
        let service = Arc::new(service);
        service.reload().map_err(|e| Error::Policy(e.to_string()))?;
        Ok(Embedded { grpc: Grpc { service }, _reloader: None })
    }

    /// Recompiles the directory now; the new revision, or why it was not
    /// published (the previous one stays in service).
    pub fn reload(&self) -> Result<String, Error> {
        self.grpc.service.reload().map_err(|e| Error::Policy(e.to_string()))
    }

    /// The revision in service.
    pub fn revision(&self) -> String {
        self.grpc.service.current().map(|l| l.revision.clone()).unwrap_or_default()
    }
}

fn status(s: &tonic::Status) -> Error {
    Error::from_status(s, 0)
}

/// A call from this process: the embedded PDP is the service's own, so what the
/// service says of its client (`source`) is its own assertion.
fn in_process<T>(m: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(m);
    r.extensions_mut().insert(Caller::InProcess);
    r
}

impl Decide for Embedded {
    async fn check(&self, check: &HttpCheck) -> Result<Decision, Error> {
        use pb::decision_server::Decision as _;
        let m = pb::CheckRequest::from(check);
        let r = self.grpc.check(in_process(m)).await.map_err(|s| status(&s))?;
        Ok(Decision::from(r.into_inner()))
    }

    async fn check_resource(&self, check: &ResourceCheck) -> Result<Decision, Error> {
        use pb::decision_server::Decision as _;
        let m = pb::ResourceCheckRequest::from(check);
        let r = self.grpc.check_resource(in_process(m)).await.map_err(|s| status(&s))?;
        Ok(Decision::from(r.into_inner()))
    }

    async fn check_batch(&self, checks: &[Check]) -> Result<Vec<Decision>, Error> {
        use pb::decision_server::Decision as _;
        let m = pb::BatchRequest { checks: checks.iter().map(pb::BatchItem::from).collect() };
        let r = self.grpc.check_batch(in_process(m)).await.map_err(|s| status(&s))?;
        Ok(r.into_inner().decisions.into_iter().map(Decision::from).collect())
    }
}
