//! The CLI's view of policy sets: loading with printed errors, and directories of sets.

use std::path::{Path, PathBuf};

pub use warden_cli::files::{FsLoader, SourceFile, collect, read};

use super::out::errln;

/// Reads the policy set under `dir`. Prints why and returns `None` when there
/// is nothing to read; returns `Err` with the files when some cannot be read
/// or decoded (their diagnostics are in `error`).
pub fn load_set(dir: &Path) -> Option<Result<warden_compiler::PolicySet, Vec<SourceFile>>> {
    let paths = match collect(dir) {
        Ok(paths) if paths.is_empty() => {
            errln!("error: no `.warden` files under `{}`", dir.display());
            return None;
        }
        Ok(paths) => paths,
        Err(message) => {
            errln!("error: {message}");
            return None;
        }
    };
    let sources: Vec<SourceFile> = paths.iter().map(|p| read(p)).collect();
    if sources.iter().any(|s| s.error.is_some()) {
        return Some(Err(sources));
    }
    let files = sources.into_iter().map(|s| warden_compiler::SourceFile::new(s.display(), s.text)).collect();
    Some(Ok(warden_compiler::PolicySet { files }))
}

/// The policy sets under `dir`: `dir` itself when it holds `.warden` files
/// directly (or is a file); otherwise each subdirectory that holds any, so
/// that `warden check policies/` checks every example set on its own.
pub fn policy_sets(dir: &Path) -> Vec<PathBuf> {
    let direct = |d: &Path| {
        std::fs::read_dir(d)
            .map(|entries| {
                entries.filter_map(Result::ok).any(|e| {
                    e.file_type().is_ok_and(|t| t.is_file()) && e.path().extension().is_some_and(|x| x == "warden")
                })
            })
            .unwrap_or(false)
    };
    if !dir.is_dir() || direct(dir) {
        return vec![dir.to_path_buf()];
    }
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| {
                    e.file_type().is_ok_and(|t| t.is_dir()) && !e.file_name().to_string_lossy().starts_with('.')
                })
                .map(|e| e.path())
                // A directory that cannot be walked is kept, so its error is reported.
                .filter(|p| collect(p).map_or(true, |files| !files.is_empty()))
                .collect()
        })
        .unwrap_or_default();
    subdirs.sort();
    if subdirs.is_empty() { vec![dir.to_path_buf()] } else { subdirs }
}

/// True, after saying so, when `dir` holds several policy sets (see
/// [`policy_sets`]): compiled as one they would clash or mix, so the commands
/// that work on one set (`compile`, `test`, `eval`, `serve`) name the sets
/// and stop, with `advice` (say, `test one of them`) on what to do instead.
pub fn several_sets(dir: &Path, advice: &str) -> bool {
    let sets = policy_sets(dir);
    if sets.len() < 2 {
        return false;
    }
    let names: Vec<String> = sets.iter().map(|s| format!("`{}`", s.display())).collect();
    errln!("error: `{}` holds several policy sets ({}); {advice}", dir.display(), names.join(", "));
    true
}

/// Loads every policy set under `dir` (see [`policy_sets`]) and runs
/// `diagnose` on each that loaded. The flag is true when a set could not be
/// read at all (already reported); the other sets are still returned.
pub fn load_sets(
    dir: &Path,
    diagnose: impl Fn(&warden_compiler::PolicySet, &FsLoader) -> Vec<warden_compiler::FileDiagnostic>,
) -> (Vec<super::report::SetResult>, bool) {
    let mut sets = Vec::new();
    let mut unloadable = false;
    for dir in policy_sets(dir) {
        let Some(loaded) = load_set(&dir) else {
            unloadable = true;
            continue;
        };
        let diags = match &loaded {
            Ok(set) => diagnose(set, &FsLoader::for_set(&dir)),
            Err(_) => Vec::new(),
        };
        sets.push((dir, loaded, diags));
    }
    (sets, unloadable)
}

/// Loads one policy set and compiles it, printing every problem. `None` when
/// it cannot be read or has errors; otherwise the set, its loader, the graph
/// and the warnings.
pub fn compile_set(
    dir: &Path,
) -> Option<(warden_compiler::PolicySet, FsLoader, warden_compiler::graph::Graph, Vec<warden_compiler::FileDiagnostic>)>
{
    let set = match load_set(dir)? {
        Err(sources) => {
            super::report::human(&super::report::unreadable(&sources));
            return None;
        }
        Ok(set) => set,
    };
    let loader = FsLoader::for_set(dir);
    match warden_compiler::compile(&set, &loader) {
        Ok((graph, warnings)) => Some((set, loader, graph, warnings)),
        Err(diags) => {
            super::report::human(&super::report::by_file(&set, diags));
            errln!("error: `{}` was not compiled", dir.display());
            None
        }
    }
}
