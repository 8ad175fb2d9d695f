//! The Warden compiler: checks a whole policy set (names, types, files, route
//! conflicts) before anything is deployed.
//!
//! Input is the parsed files of one policy set plus a [`Loader`] for the
//! files they reference (JWKS, data, client lists); the compiler itself does
//! no I/O. Output is a list of diagnostics, each tied to the file it is in,
//! and, for a set without errors, the decision graph ([`graph::Graph`]).

pub mod analysis;
pub mod cedar;
pub mod check;
pub mod codes;
pub mod dot;
pub mod fingerprint;
pub mod graph;
pub mod lints;
pub mod lower;
pub mod svg;

use warden_language::{Diagnostic, LineIndex, Parsed};

/// One parsed policy file.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The path shown in diagnostics.
    pub path: String,
    /// The file's text.
    pub text: String,
    /// Its AST, comments and parse diagnostics.
    pub parsed: Parsed,
}

impl SourceFile {
    /// Parses and validates `text` as the file at `path`.
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> SourceFile {
        let text = text.into();
        let parsed = warden_language::check(&text);
        SourceFile { path: path.into(), text, parsed }
    }
}

/// A policy set: every `*.warden` file of one directory tree.
#[derive(Clone, Debug, Default)]
pub struct PolicySet {
    /// The files, in a stable order.
    pub files: Vec<SourceFile>,
}

/// Reads files a policy references, relative to the policy set's root.
pub trait Loader {
    /// The file's bytes, or a short reason it cannot be read.
    fn read(&self, path: &str) -> Result<Vec<u8>, String>;
}

/// A diagnostic with the index of the file (in [`PolicySet::files`]) it is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDiagnostic {
    /// Index into [`PolicySet::files`].
    pub file: usize,
    /// The diagnostic.
    pub diagnostic: Diagnostic,
}

impl PolicySet {
    /// `path:line:column` of an offset in one file, for messages that point
    /// at another file than the one the diagnostic is in.
    pub fn location(&self, file: usize, offset: usize) -> String {
        match self.files.get(file) {
            Some(f) => {
                let pos = LineIndex::new(&f.text).line_col(&f.text, offset);
                format!("{}:{}:{}", f.path, pos.line, pos.column)
            }
            None => String::from("?"),
        }
    }

    /// Every parse and validation diagnostic of every file.
    pub fn syntax_diagnostics(&self) -> Vec<FileDiagnostic> {
        self.files
            .iter()
            .enumerate()
            .flat_map(|(file, f)| {
                f.parsed.diagnostics.iter().map(move |d| FileDiagnostic { file, diagnostic: d.clone() })
            })
            .collect()
    }
}

/// Everything wrong with a policy set: syntax first; the whole-set checks run
/// only when every file parsed (otherwise a declaration lost to a syntax error
/// would show up as a flood of unknown names). Sorted by file and position.
pub fn diagnostics(set: &PolicySet, loader: &dyn Loader) -> Vec<FileDiagnostic> {
    let mut out = set.syntax_diagnostics();
    if !out.iter().any(|d| d.diagnostic.is_error()) {
        out.extend(check::check(set, loader));
    }
    out.sort_by(|a, b| {
        (a.file, a.diagnostic.span.start, a.diagnostic.span.end).cmp(&(
            b.file,
            b.diagnostic.span.start,
            b.diagnostic.span.end,
        ))
    });
    out.dedup();
    out
}

/// Checks a policy set and, when it has no errors, lowers it to the decision
/// graph. A set with errors produces no graph: nothing is half-applied.
pub fn compile(
    set: &PolicySet,
    loader: &dyn Loader,
) -> Result<(graph::Graph, Vec<FileDiagnostic>), Vec<FileDiagnostic>> {
    let diags = diagnostics(set, loader);
    if diags.iter().any(|d| d.diagnostic.is_error()) {
        return Err(diags);
    }
    Ok((lower::lower(set, loader), diags))
}
