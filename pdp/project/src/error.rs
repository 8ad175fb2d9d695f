//! Why a policy set did not load: typed, with the diagnostics as data (file, span,
//! code, message) so each caller renders them its own way: excerpts for people,
//! located JSON for `/v1/policy` and tools.

use std::path::PathBuf;

use warden_compiler::FileDiagnostic;
use warden_language::diagnostic::Located;
use warden_language::{Color, LineIndex};

/// Why a policy set could not be read or compiled.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The directory (or file) could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// What was read.
        path: PathBuf,
        /// Why not.
        source: std::io::Error,
    },
    /// Walking the directory failed part way.
    #[error("cannot walk `{}`: {source}", path.display())]
    Walk {
        /// The set's directory.
        path: PathBuf,
        /// Why not.
        source: walkdir::Error,
    },
    /// A symbolic link in the set could not be followed.
    #[error("cannot follow the link `{}`: {source}", path.display())]
    Link {
        /// The link.
        path: PathBuf,
        /// Why not.
        source: std::io::Error,
    },
    /// A policy file is a link that leads out of the set.
    #[error("`{}` is a link to a file outside the policy set", .0.display())]
    LinkOutside(PathBuf),
    /// No policy file at all.
    #[error("no `.warden` files under `{}`", .0.display())]
    Empty(PathBuf),
    /// Files that could not be read or decoded, or diagnostics with errors.
    #[error("{}", .0.render(Color::Never))]
    Diagnostics(Problems),
}

impl LoadError {
    /// The diagnostics, when that is why the set did not load.
    pub fn problems(&self) -> Option<&Problems> {
        match self {
            LoadError::Diagnostics(p) => Some(p),
            _ => None,
        }
    }
}

/// One file of a set, as its diagnostics refer to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProblemFile {
    /// The path as shown to the user.
    pub path: String,
    /// Its text (the valid prefix, for a file that did not decode).
    pub text: String,
}

/// Diagnostics of a policy set, by file: data, not text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Problems {
    /// The files the diagnostics point into.
    pub files: Vec<ProblemFile>,
    /// The diagnostics, in the order they were found; `file` indexes `files`.
    pub diagnostics: Vec<FileDiagnostic>,
}

impl Problems {
    /// Every diagnostic rendered with its excerpt (`file:line:col` first), as
    /// `warden check` prints them.
    pub fn render(&self, color: Color) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            let (path, text) = self.files.get(d.file).map_or(("?", ""), |f| (f.path.as_str(), f.text.as_str()));
            out.push_str(&warden_language::render(&d.diagnostic, path, text, color));
        }
        out
    }

    /// Every diagnostic resolved to lines and columns (the JSON shape of
    /// `warden check --format json`).
    pub fn located(&self) -> Vec<Located<'_>> {
        let indexes: Vec<LineIndex> = self.files.iter().map(|f| LineIndex::new(&f.text)).collect();
        self.diagnostics
            .iter()
            .filter_map(|d| {
                let f = self.files.get(d.file)?;
                let index = indexes.get(d.file)?;
                Some(Located::new(&d.diagnostic, &f.path, &f.text, index))
            })
            .collect()
    }
}
