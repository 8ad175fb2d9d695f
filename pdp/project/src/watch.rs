//! Watching a policy set: one notify watcher over its directory (recursively: the
//! policy files and the files they refer to), debounced, that runs the reload on a
//! thread of its own, so requests never wait for a compile. The service and the
//! SDK's embedded mode both reload through it.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use notify::Watcher as _;

/// Why a directory cannot be watched.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch `{}`: {source}", path.display())]
pub struct WatchError {
    /// The directory.
    pub path: PathBuf,
    /// Why not.
    #[source]
    pub source: notify::Error,
}

/// How a [`Reloader`] reacts to the directory.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// Watch the directory (off: reload on [`Trigger::pull`] only).
    pub watch: bool,
    /// How long the directory must be quiet before the reload runs.
    pub debounce: Duration,
    /// A path whose changes are not policy changes (a decision log written
    /// inside the set would otherwise cause a reload per decision).
    pub ignore: Option<PathBuf>,
}

/// Asks the [`Reloader`] for a reload (`SIGHUP`, say).
#[derive(Clone, Debug)]
pub struct Trigger(mpsc::Sender<()>);

impl Trigger {
    /// Asks for a reload; false once the reloader has stopped.
    pub fn pull(&self) -> bool {
        self.0.send(()).is_ok()
    }
}

/// Runs a reload after each burst of changes; stops when it and every
/// [`Trigger`] are dropped.
pub struct Reloader {
    trigger: Trigger,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader").field("watching", &self._watcher.is_some()).finish()
    }
}

impl Reloader {
    /// Calls `reload` on a thread of its own after each change under `dir` (when
    /// `options.watch`) and each [`Trigger::pull`], once `options.debounce` has
    /// passed without another. Events that only read, and events only on
    /// `options.ignore`, are not changes.
    pub fn start(
        dir: &Path,
        options: WatchOptions,
        mut reload: impl FnMut() + Send + 'static,
    ) -> Result<Reloader, WatchError> {
        let (tx, rx) = mpsc::channel::<()>();
        let watcher = if options.watch {
            let ignore = options.ignore.as_ref().and_then(|p| std::path::absolute(p).ok());
            let events = tx.clone();
            let fail = |source| WatchError { path: dir.to_path_buf(), source };
            let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if let Ok(e) = event
                    && !e.kind.is_access()
                    && !(ignore.is_some() && e.paths.iter().all(|p| std::path::absolute(p).ok() == ignore))
                {
                    let _ = events.send(());
                }
            })
            .map_err(fail)?;
            watcher.watch(dir, notify::RecursiveMode::Recursive).map_err(fail)?;
            Some(watcher)
        } else {
            None
        };
        let debounce = options.debounce;
        std::thread::spawn(move || {
            while rx.recv().is_ok() {
                while rx.recv_timeout(debounce).is_ok() {}
                reload();
            }
        });
        Ok(Reloader { trigger: Trigger(tx), _watcher: watcher })
    }

    /// A handle that asks for a reload.
    pub fn trigger(&self) -> Trigger {
        self.trigger.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::Receiver;

    use super::*;

    const WAIT: Duration = Duration::from_secs(10);

    fn start(dir: &Path, watch: bool, ignore: Option<PathBuf>) -> (Reloader, Receiver<()>) {
        let (tx, rx) = mpsc::channel();
        let options = WatchOptions { watch, debounce: Duration::from_millis(50), ignore };
        let r = Reloader::start(dir, options, move || {
            let _ = tx.send(());
        })
        .unwrap();
        (r, rx)
    }

    #[test]
    fn a_change_reloads_once_after_the_debounce() {
        let tmp = tempfile::tempdir().unwrap();
        let (_r, reloads) = start(tmp.path(), true, None);
        std::fs::write(tmp.path().join("a.warden"), "zone a {}\n").unwrap();
        reloads.recv_timeout(WAIT).unwrap();
    }

    #[test]
    fn the_ignored_path_does_not_reload_and_a_policy_change_does() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("decisions.log");
        let (_r, reloads) = start(tmp.path(), true, Some(log.clone()));
        for i in 0..20 {
            std::fs::write(&log, format!("line {i}\n")).unwrap();
        }
        std::fs::write(tmp.path().join("a.warden"), "zone a {}\n").unwrap();
        reloads.recv_timeout(WAIT).unwrap();
        // The writes to the log before the policy change caused no reload of
        // their own: nothing else arrives once the directory is quiet.
        assert!(reloads.recv_timeout(Duration::from_millis(500)).is_err());
    }

    #[test]
    fn a_trigger_reloads_without_a_watcher() {
        let tmp = tempfile::tempdir().unwrap();
        let (r, reloads) = start(tmp.path(), false, None);
        std::fs::write(tmp.path().join("a.warden"), "zone a {}\n").unwrap();
        assert!(reloads.recv_timeout(Duration::from_millis(500)).is_err(), "not watching, yet reloaded");
        assert!(r.trigger().pull());
        reloads.recv_timeout(WAIT).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope");
        let options = WatchOptions { watch: true, debounce: Duration::from_millis(50), ignore: None };
        let err = Reloader::start(&missing, options, || {}).unwrap_err();
        assert!(err.to_string().starts_with(&format!("cannot watch `{}`", missing.display())), "{err}");
    }
}
