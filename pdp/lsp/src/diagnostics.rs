//! Diagnostics of a policy set for the editor: the compiler's checks and the lints, as
//! `warden lint` reports them, published per file (an empty list clears a fixed file).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use lsp_server::Notification;
use lsp_types::{Diagnostic as LspDiagnostic, PublishDiagnosticsParams};
use warden_compiler::{FileDiagnostic, lints};
use warden_language::{Diagnostic, LineIndex};
use warden_project::FsLoader;

use crate::documents::{Documents, LoadedSet, set_root};
use crate::to_proto;

/// Errors and lints of a set, each with the index of its file.
pub(crate) fn check(set: &LoadedSet) -> Vec<(usize, Diagnostic)> {
    if !set.unreadable.is_empty() {
        return set.unreadable.clone();
    }
    let policy = warden_compiler::PolicySet {
        files: set
            .files
            .iter()
            .map(|(path, text)| warden_compiler::SourceFile::new(path.display().to_string(), text.clone()))
            .collect(),
    };
    let loader = FsLoader::for_set(&set.root);
    let diags: Vec<FileDiagnostic> = match warden_compiler::compile(&policy, &loader) {
        Ok((graph, mut diags)) => {
            // The set's `[lints]` levels; a `warden.toml` that cannot be read
            // leaves the defaults (`warden lint` says what is wrong with it).
            let levels = warden_project::lint_levels(&set.root).unwrap_or_default();
            diags.extend(lints::lint_at(&policy, &graph, &levels));
            diags
        }
        Err(diags) => diags,
    };
    diags.into_iter().map(|d| (d.file, d.diagnostic)).collect()
}

/// Per policy set, the files diagnostics were last published for, so that
/// files that left the set or were fixed are cleared.
#[derive(Default)]
pub(crate) struct Published {
    by_root: HashMap<PathBuf, Vec<PathBuf>>,
}

impl Published {
    /// Checks the policy set `path` belongs to and publishes diagnostics for
    /// each of its files (an empty list clears a file's old ones).
    pub(crate) fn publish(&mut self, documents: &Documents, path: &Path) -> Vec<Notification> {
        let root = set_root(path);
        let set = documents.load(&root, path);
        let mut by_file: BTreeMap<PathBuf, Vec<LspDiagnostic>> = BTreeMap::new();
        for (file, _) in &set.files {
            by_file.insert(file.clone(), Vec::new());
        }
        for (file, diagnostic) in check(&set) {
            if let Some((file_path, text)) = set.files.get(file) {
                let index = LineIndex::new(text);
                let lsp = to_proto::diagnostic(&diagnostic, text, &index, file_path);
                by_file.entry(file_path.clone()).or_default().push(lsp);
            }
        }
        let previous = self.by_root.insert(root, by_file.keys().cloned().collect()).unwrap_or_default();
        for gone in previous {
            by_file.entry(gone).or_default();
        }
        by_file
            .into_iter()
            .filter_map(|(file, diagnostics)| {
                let uri = to_proto::uri(&file)?;
                Some(Notification::new(
                    "textDocument/publishDiagnostics".to_owned(),
                    PublishDiagnosticsParams { uri, diagnostics, version: None },
                ))
            })
            .collect()
    }
}
