//! The service's policy source when `[bundle]` is set: the set is served from
//! `DIR/active`, a symbolic link to the unpacked set of the last good bundle
//! (swapped atomically, as Kubernetes swaps a mounted ConfigMap's `..data`).
//! At start the bundle kept in `DIR` is verified again and unpacked afresh;
//! then the registry is polled (interval plus jitter): an unchanged tag costs
//! one `HEAD` (an `https://` bundle file, one conditional `GET`); a new
//! digest is pulled by digest, opened against the
//! configured keys, unpacked and compiled, and only a bundle whose sources
//! compile to the revision its manifest names is kept, linked and loaded.
//! Anything else leaves the last good set serving and is said in
//! `/v1/status` (`bundle.last_error`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Bundle;
use super::registry::Registry;
use crate::config::BundleConfig;
use crate::state::{Service, now_ms};

/// The bundle kept: its bytes, and what it was.
const KEPT: &str = "last-good.bundle";
const KEPT_META: &str = "last-good.json";
/// The link the service loads.
const ACTIVE: &str = "active";
/// Where unpacked sets live.
const SETS: &str = "sets";

/// What `/v1/status` says of the bundle source.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Status {
    /// `oci://…`.
    pub url: String,
    /// The manifest digest of the bundle in service.
    pub digest: Option<String>,
    /// Its revision.
    pub revision: Option<String>,
    /// The key id that signed it.
    pub signed_by: Option<String>,
    /// When it was activated (Unix ms).
    pub activated_at_ms: Option<u64>,
    /// When the registry last answered a poll (Unix ms).
    #[serde(default)]
    pub last_poll_ms: Option<u64>,
    /// Why the last poll or activation failed, if it did (cleared by the next success).
    #[serde(default)]
    pub last_error: Option<String>,
}

/// The bundle source of a service.
pub struct Source {
    config: BundleConfig,
    keys: Value,
    registry: Registry,
    /// Shared with the service, for `/v1/status`.
    pub status: Arc<Mutex<Status>>,
    /// The digest last refused: not pulled again until the tag names another.
    refused: Mutex<Option<String>>,
    /// An `https://` bundle file's client, and the credentials for either.
    files: super::registry::FileServer,
    credentials: Option<(String, String)>,
}

impl Source {
    /// Reads the keys and the registry credentials, makes `dir`, and
    /// unpacks the kept bundle, if any, once it verifies again; the
    /// directory the service loads (`DIR/active`).
    pub fn prepare(config: &BundleConfig) -> Result<(Source, PathBuf), String> {
        let keys = std::fs::read(&config.keys)
            .map_err(|e| format!("cannot read `bundle.keys` `{}`: {e}", config.keys.display()))?;
        let keys: Value = serde_json::from_slice(&keys)
            .ok()
            .filter(|v: &Value| v.get("keys").is_some_and(Value::is_array))
            .ok_or_else(|| {
                format!("`bundle.keys` `{}` is not a JWKS (an object with `keys`)", config.keys.display())
            })?;
        let credentials = match (&config.username, &config.password_file) {
            (Some(user), Some(file)) => {
                let password = std::fs::read_to_string(file)
                    .map_err(|e| format!("cannot read `bundle.password_file` `{}`: {e}", file.display()))?;
                Some((user.clone(), password.trim_end_matches(['\r', '\n']).to_owned()))
            }
            _ => None,
        };
        std::fs::create_dir_all(config.dir.join(SETS))
            .map_err(|e| format!("cannot make `bundle.dir` `{}`: {e}", config.dir.display()))?;
        let timeout = Duration::from_millis(config.timeout_ms);
        let registry = Registry::new(config.plain_http, timeout, credentials.clone());
        let files = super::registry::FileServer::new(timeout)?;
        let status = Status { url: config.url.clone(), ..Status::default() };
        let source = Source {
            config: config.clone(),
            keys,
            registry,
            status: Arc::new(Mutex::new(status)),
            refused: Mutex::new(None),
            files,
            credentials,
        };
        source.restore();
        Ok((source, config.dir.join(ACTIVE)))
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The kept bundle, verified and unpacked again (what is on disk is not
    /// trusted for having been written by us).
    fn restore(&self) {
        let dir = &self.config.dir;
        let Ok(bytes) = std::fs::read(dir.join(KEPT)) else { return };
        let meta: Option<Status> =
            std::fs::read(dir.join(KEPT_META)).ok().and_then(|b| serde_json::from_slice(&b).ok());
        match self.unpack(&bytes) {
            Ok((bundle, set)) => {
                if let Err(e) = link(dir, &set) {
                    tracing::warn!("the kept bundle cannot be linked: {e}");
                    return;
                }
                let mut status = self.status();
                status.digest = meta.and_then(|m| m.digest);
                status.revision = Some(bundle.manifest.revision.clone());
                status.signed_by = bundle.signed_by.clone();
                tracing::info!("the kept bundle (revision {}) verified; serving it", bundle.manifest.revision);
            }
            Err(e) => tracing::warn!("the kept bundle in `{}` is refused: {e}", dir.display()),
        }
    }

    /// Opens `bytes` against the keys, unpacks it under `DIR/sets/`, and
    /// compiles it: the bundle and its set's directory, when its revision
    /// is the manifest's.
    fn unpack(&self, bytes: &[u8]) -> Result<(Bundle, PathBuf), String> {
        let bundle = Bundle::open(bytes, Some(&self.keys)).map_err(|e| e.to_string())?;
        let name = format!("{}-{}", bundle.manifest.revision.get(..16).unwrap_or("set"), now_ms());
        let set = self.config.dir.join(SETS).join(name);
        bundle.extract(&set).map_err(|e| format!("cannot unpack the bundle into `{}`: {e}", set.display()))?;
        let compiled = warden_project::compile_dir(&set);
        let revision = match compiled {
            Ok(c) => c.graph.revision,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&set);
                return Err(format!("the bundle's set does not compile here:\n{e}"));
            }
        };
        if revision != bundle.manifest.revision {
            let _ = std::fs::remove_dir_all(&set);
            return Err(format!(
                "the bundle's set compiles to revision {revision}, not the {} its manifest names",
                bundle.manifest.revision
            ));
        }
        Ok((bundle, set))
    }

    /// One poll: the tag's digest and, when it changed, the new bundle
    /// pulled, checked, kept, linked and loaded. Blocking steps run off the
    /// async workers.
    pub async fn poll(self: &Arc<Self>, service: &Arc<Service>) {
        let result = self.try_poll(service).await;
        let mut status = self.status();
        match result {
            Ok(()) => {
                status.last_poll_ms = Some(now_ms());
                status.last_error = None;
            }
            Err(e) => {
                if status.last_error.as_deref() != Some(e.as_str()) {
                    tracing::warn!("bundle `{}`: {e}; the set in service stays", self.config.url);
                }
                status.last_error = Some(e);
            }
        }
    }

    async fn try_poll(self: &Arc<Self>, service: &Arc<Service>) -> Result<(), String> {
        let refused = || self.refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (digest, bytes) = if self.config.url.starts_with("oci://") {
            let digest = self.registry.digest(&self.config.url).await?;
            if self.status().digest.as_deref() == Some(digest.as_str()) {
                return Ok(());
            }
            if refused().as_deref() == Some(digest.as_str()) {
                // Still the bundle refused before: the error stands, nothing is pulled.
                return Err(self.status().last_error.clone().unwrap_or_default());
            }
            let bytes = self.registry.pull(&self.config.url, &digest).await?;
            (digest, bytes)
        } else {
            let Some((digest, bytes)) = self.files.fetch(&self.config.url, self.credentials.as_ref()).await? else {
                return Ok(());
            };
            if self.status().digest.as_deref() == Some(digest.as_str()) {
                return Ok(());
            }
            if refused().as_deref() == Some(digest.as_str()) {
                return Err(self.status().last_error.clone().unwrap_or_default());
            }
            (digest, bytes)
        };
        let this = Arc::clone(self);
        let service = Arc::clone(service);
        let pulled = digest.clone();
        let activated = tokio::task::spawn_blocking(move || this.activate(&bytes, &pulled, &service))
            .await
            .map_err(|_| "activating the bundle failed".to_owned())?;
        let activated = activated.map_err(|(refuse, e)| {
            if refuse {
                *refused() = Some(digest);
            }
            e
        })?;
        tracing::info!("bundle `{}` activated, revision {activated}", self.config.url);
        Ok(())
    }

    /// Unpacks and checks `bytes`, keeps them, links their set and reloads
    /// the service; the revision in service. An error says whether the
    /// bundle itself is refused (not pulled again) or activating it failed
    /// here (tried again at the next poll).
    fn activate(&self, bytes: &[u8], digest: &str, service: &Service) -> Result<String, (bool, String)> {
        let (bundle, set) = self.unpack(bytes).map_err(|e| (true, e))?;
        self.keep_and_load(&bundle, &set, bytes, digest, service).map_err(|e| (false, e))
    }

    fn keep_and_load(
        &self,
        bundle: &Bundle,
        set: &Path,
        bytes: &[u8],
        digest: &str,
        service: &Service,
    ) -> Result<String, String> {
        let dir = &self.config.dir;
        let meta = Status {
            url: self.config.url.clone(),
            digest: Some(digest.to_owned()),
            revision: Some(bundle.manifest.revision.clone()),
            signed_by: bundle.signed_by.clone(),
            activated_at_ms: Some(now_ms()),
            last_poll_ms: None,
            last_error: None,
        };
        let meta_json = serde_json::to_vec(&meta).map_err(|e| e.to_string())?;
        write_atomically(&dir.join(KEPT), bytes).map_err(|e| format!("cannot keep the bundle: {e}"))?;
        write_atomically(&dir.join(KEPT_META), &meta_json).map_err(|e| format!("cannot keep the bundle: {e}"))?;
        let previous = std::fs::read_link(dir.join(ACTIVE)).ok();
        link(dir, set).map_err(|e| format!("cannot link the bundle's set: {e}"))?;
        let revision = service.reload().map_err(|e| format!("the bundle's set did not load: {e}"))?;
        {
            let mut status = self.status();
            status.digest = meta.digest;
            status.revision = Some(revision.clone());
            status.signed_by = meta.signed_by;
            status.activated_at_ms = meta.activated_at_ms;
        }
        // The set before the last one is no longer needed.
        if let Ok(entries) = std::fs::read_dir(dir.join(SETS)) {
            for entry in entries.flatten() {
                let path = entry.path();
                let keep = path == set || previous.as_ref().is_some_and(|p| dir.join(p) == path);
                if !keep {
                    let _ = std::fs::remove_dir_all(&path);
                }
            }
        }
        Ok(revision)
    }

    /// Polls until the process ends: at once, then every interval plus jitter.
    pub fn spawn(self: Arc<Self>, service: Arc<Service>) {
        tokio::spawn(async move {
            loop {
                self.poll(&service).await;
                let jitter = if self.config.jitter_ms == 0 { 0 } else { random_u64() % (self.config.jitter_ms + 1) };
                tokio::time::sleep(Duration::from_millis(self.config.poll_interval_ms + jitter)).await;
            }
        });
    }
}

/// Points `DIR/active` at `set` (relative, so the directory can move), atomically.
fn link(dir: &Path, set: &Path) -> std::io::Result<()> {
    let target = set.strip_prefix(dir).unwrap_or(set);
    let tmp = dir.join(format!(".{ACTIVE}.{}", now_ms()));
    let _ = std::fs::remove_file(&tmp);
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, &tmp)?;
    #[cfg(not(unix))]
    return Err(std::io::Error::other("bundles need symbolic links (Unix)"));
    std::fs::rename(&tmp, dir.join(ACTIVE))
}

/// Writes `bytes` to `path` through a temporary file and a rename: a crash
/// leaves the old file or the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// A random number, for the jitter.
fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    u64::from_le_bytes(bytes)
}
