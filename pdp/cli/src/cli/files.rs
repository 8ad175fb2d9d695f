//! The CLI's view of policy sets: `warden-project`'s loading, with its problems printed.

use std::path::Path;

pub use warden_project::{FsLoader, collect, read, sets_of};
use warden_project::{LoadError, Problems};

use super::out::errln;

/// Reads the policy set under `dir`. Prints why and returns `None` when there
/// is nothing to read; returns `Err` with the diagnostics of the files that
/// cannot be read or decoded.
pub fn load_set(dir: &Path) -> Option<Result<warden_compiler::PolicySet, Problems>> {
    match warden_project::load_set(dir) {
        Ok(set) => Some(Ok(set)),
        Err(LoadError::Diagnostics(problems)) => Some(Err(problems)),
        Err(other) => {
            errln!("error: {other}");
            None
        }
    }
}

/// True, after saying so, when `dir` holds several policy sets (see
/// [`policy_sets`]): the commands that work on one set (`compile`, `test`,
/// `eval`, `serve`) name the sets and stop, with `advice` (say, `test one of
/// them`) on what to do instead.
pub fn several_sets(dir: &Path, advice: &str) -> bool {
    let Some(sets) = warden_project::several_sets(dir) else { return false };
    let names: Vec<String> = sets.iter().map(|s| format!("`{}`", s.display())).collect();
    errln!("error: `{}` holds several policy sets ({}); {advice}", dir.display(), names.join(", "));
    true
}

/// Loads every policy set `paths` name (see [`sets_of`]: a directory's sets,
/// a file's set) and runs `diagnose` on each that loaded (with its directory). The flag is true
/// when a set could not be read at all (already reported); the other sets
/// are still returned.
pub fn load_sets(
    paths: &[std::path::PathBuf],
    diagnose: impl Fn(&Path, &warden_compiler::PolicySet, &FsLoader) -> Vec<warden_compiler::FileDiagnostic>,
) -> (Vec<super::report::SetResult>, bool) {
    let mut sets = Vec::new();
    let mut unloadable = false;
    for dir in sets_of(paths) {
        let Some(loaded) = load_set(&dir) else {
            unloadable = true;
            continue;
        };
        let diags = match &loaded {
            Ok(set) => diagnose(&dir, set, &FsLoader::for_set(&dir)),
            Err(_) => Vec::new(),
        };
        sets.push((dir, loaded, diags));
    }
    (sets, unloadable)
}

/// Loads one policy set and compiles it, printing every problem. `None` when
/// it cannot be read or has errors.
pub fn compile_set(dir: &Path) -> Option<warden_project::Compiled> {
    let problems = match load_set(dir)? {
        Err(problems) => problems,
        Ok(set) => match warden_project::compile_set(set, dir) {
            Ok(compiled) => return Some(compiled),
            Err(problems) => {
                super::report::human(&super::report::from_problems(&problems));
                errln!("error: `{}` was not compiled", dir.display());
                return None;
            }
        },
    };
    super::report::human(&super::report::from_problems(&problems));
    None
}
