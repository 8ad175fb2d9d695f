//! Loading a policy set: reading every file of it ([`load_set`]) and compiling it
//! ([`compile_dir`]), without printing; problems come back as [`LoadError`].

use std::path::Path;

use warden_compiler::{FileDiagnostic, PolicySet};

use crate::LoadError;
use crate::error::{ProblemFile, Problems};
use crate::source::{FsLoader, SourceFile, collect, read};

/// Reads every `*.warden` file of the set under `dir`. A file that cannot be
/// read or decoded makes the whole set [`LoadError::Diagnostics`], one
/// diagnostic per such file (the others are not compiled half-way).
pub fn load_set(dir: &Path) -> Result<PolicySet, LoadError> {
    let paths = collect(dir)?;
    if paths.is_empty() {
        return Err(LoadError::Empty(dir.to_path_buf()));
    }
    let sources: Vec<SourceFile> = paths.iter().map(|p| read(p)).collect();
    if sources.iter().any(|s| s.error.is_some()) {
        let mut problems = Problems::default();
        for (i, s) in sources.into_iter().enumerate() {
            if let Some(diagnostic) = s.error.clone() {
                problems.diagnostics.push(FileDiagnostic { file: i, diagnostic });
            }
            problems.files.push(ProblemFile { path: s.display(), text: s.text });
        }
        return Err(LoadError::Diagnostics(problems));
    }
    let files = sources.into_iter().map(|s| warden_compiler::SourceFile::new(s.display(), s.text)).collect();
    Ok(PolicySet { files })
}

/// A policy set read and compiled from a directory.
pub struct Compiled {
    /// The sources.
    pub set: PolicySet,
    /// Reads the files the sources refer to.
    pub loader: FsLoader,
    /// The decision graph.
    pub graph: warden_compiler::graph::Graph,
    /// Lints and other warnings.
    pub warnings: Vec<FileDiagnostic>,
}

/// The diagnostics of a set that did not compile, with the set's files.
pub fn problems(set: &PolicySet, diagnostics: Vec<FileDiagnostic>) -> Problems {
    let files = set.files.iter().map(|f| ProblemFile { path: f.path.clone(), text: f.text.clone() }).collect();
    Problems { files, diagnostics }
}

/// Compiles a set read from `dir` (whose referenced files are read from there).
pub fn compile_set(set: PolicySet, dir: &Path) -> Result<Compiled, Problems> {
    let loader = FsLoader::for_set(dir);
    match warden_compiler::compile(&set, &loader) {
        Ok((graph, warnings)) => Ok(Compiled { set, loader, graph, warnings }),
        Err(diags) => Err(problems(&set, diags)),
    }
}

/// Reads and compiles the policy set under `dir` without printing anything.
pub fn compile_dir(dir: &Path) -> Result<Compiled, LoadError> {
    compile_set(load_set(dir)?, dir).map_err(LoadError::Diagnostics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_undecodable_file_fails_the_set_with_every_file_kept() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.warden"), "zone a {}\n").unwrap();
        std::fs::write(tmp.path().join("b.warden"), b"zone b {\xff}\n").unwrap();
        let Err(LoadError::Diagnostics(p)) = load_set(tmp.path()) else { panic!("an undecodable file loaded") };
        assert_eq!(p.files.len(), 2);
        assert!(p.files[1].path.ends_with("b.warden"));
        assert_eq!(p.diagnostics.len(), 1);
        assert_eq!(
            (p.diagnostics[0].file, p.diagnostics[0].diagnostic.code),
            (1, warden_language::codes::INVALID_UTF8)
        );
    }

    #[test]
    fn a_set_that_does_not_compile_gives_located_diagnostics() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("a.warden"),
            "api a in zone nowhere {\n  auth none\n  route GET \"/x\" {\n    allow\n  }\n}\n",
        )
        .unwrap();
        let err = compile_dir(tmp.path()).err().unwrap();
        let located = err.problems().unwrap().located();
        assert_eq!(located.len(), 1, "{err}");
        assert!(located[0].file.ends_with("a.warden"));
        assert_eq!((located[0].line, located[0].column), (1, 15), "{err}");
        // The rendered form is what `warden check` prints: location first.
        assert!(err.to_string().contains("a.warden:1:15"), "{err}");
    }

    #[test]
    fn no_policy_files_is_its_own_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = compile_dir(tmp.path()).err().unwrap();
        assert!(matches!(err, LoadError::Empty(_)), "{err}");
        assert_eq!(err.to_string(), format!("no `.warden` files under `{}`", tmp.path().display()));
    }
}
