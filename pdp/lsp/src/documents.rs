//! The documents the editor has open (their unsaved text) and the policy sets they belong
//! to, read through `warden-project` with open buffers over the files on disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use warden_language::Diagnostic;
use warden_project::{collect, read};

/// The text of every open document, by path.
#[derive(Default)]
pub(crate) struct Documents {
    open: HashMap<PathBuf, String>,
}

impl Documents {
    /// Records the text of an opened or changed document.
    pub(crate) fn set(&mut self, path: PathBuf, text: String) {
        self.open.insert(path, text);
    }

    /// Forgets a closed document: its file on disk counts again.
    pub(crate) fn close(&mut self, path: &Path) {
        self.open.remove(path);
    }

    /// The text of a file: the open buffer, else the file on disk.
    pub(crate) fn text(&self, path: &Path) -> Option<String> {
        match self.open.get(path) {
            Some(text) => Some(text.clone()),
            None => {
                let source = read(path);
                source.error.is_none().then_some(source.text)
            }
        }
    }

    /// The files of the set under `root` (open buffers over disk), plus
    /// `path` itself when it is open but not saved there yet.
    pub(crate) fn load(&self, root: &Path, path: &Path) -> LoadedSet {
        let mut paths = collect(root).unwrap_or_default();
        if !paths.iter().any(|p| p == path) && self.open.contains_key(path) {
            paths.push(path.to_path_buf());
        }
        let mut files = Vec::new();
        let mut unreadable = Vec::new();
        for p in paths {
            match self.open.get(&p) {
                Some(text) => files.push((p, text.clone())),
                None => {
                    let source = read(&p);
                    if let Some(err) = source.error {
                        unreadable.push((files.len(), err));
                    }
                    files.push((p, source.text));
                }
            }
        }
        LoadedSet { root: root.to_path_buf(), files, unreadable }
    }
}

/// One policy set as the editor sees it.
pub(crate) struct LoadedSet {
    /// The set's directory.
    pub(crate) root: PathBuf,
    /// Every file with its text, in the order `warden-project` lists them.
    pub(crate) files: Vec<(PathBuf, String)>,
    /// Files that could not be read or decoded: their diagnostics alone are shown.
    pub(crate) unreadable: Vec<(usize, Diagnostic)>,
}

/// The root of the policy set holding `path` (see [`warden_project::set_of`]).
pub(crate) fn set_root(path: &Path) -> PathBuf {
    warden_project::set_of(path)
}
