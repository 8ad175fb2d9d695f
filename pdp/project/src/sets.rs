//! Directories of policy sets: `policies/` holds one set per subdirectory, and the
//! commands that work on one set refuse a directory that holds several.

use std::path::{Path, PathBuf};

use crate::source::collect;

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

/// The sets under `dir` when there are several (see [`policy_sets`]): compiled
/// as one they would clash or mix, so the commands and the service that work
/// on one set name them and stop.
pub fn several_sets(dir: &Path) -> Option<Vec<PathBuf>> {
    let sets = policy_sets(dir);
    (sets.len() > 1).then_some(sets)
}

/// The root of the policy set holding the file `path`: its directory, or the
/// highest ancestor reached through directories that directly hold `.warden`
/// files (so a file in `bank/tests/` belongs to the `bank` set). The language
/// server and `warden check`/`lint FILE…` find a file's set this way.
pub fn set_of(path: &Path) -> PathBuf {
    let holds_policies = |dir: &Path| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.filter_map(Result::ok).any(|e| e.path().extension().is_some_and(|x| x == "warden"))
        })
    };
    let mut root = path.parent().map(Path::to_path_buf).unwrap_or_default();
    for _ in 0..32 {
        match root.parent() {
            Some(parent) if !parent.as_os_str().is_empty() && holds_policies(parent) => root = parent.to_path_buf(),
            _ => break,
        }
    }
    root
}

/// The sets `paths` name, each once, in order: a directory is
/// [`policy_sets`] of it, a file the set it belongs to ([`set_of`]). This
/// is what `warden check` and `warden lint` take, so a pre-commit hook can
/// pass the changed files.
pub fn sets_of(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut sets: Vec<PathBuf> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for path in paths {
        let found = if path.is_file() && path.extension().is_some_and(|x| x == "warden") {
            let root = set_of(path);
            vec![if root.as_os_str().is_empty() { PathBuf::from(".") } else { root }]
        } else {
            policy_sets(path)
        };
        for set in found {
            // One set named twice (`a.warden b.warden`, or `bank bank/a.warden`) is checked once.
            let key = std::fs::canonicalize(&set).unwrap_or_else(|_| set.clone());
            if !seen.contains(&key) {
                seen.push(key);
                sets.push(set);
            }
        }
    }
    sets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "zone z {}\n").unwrap();
    }

    #[test]
    fn a_directory_of_sets_is_several_and_a_set_is_one() {
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join("a/one.warden"));
        write(&tmp.path().join("b/two.warden"));
        std::fs::create_dir_all(tmp.path().join("empty")).unwrap();
        assert_eq!(several_sets(tmp.path()), Some(vec![tmp.path().join("a"), tmp.path().join("b")]));
        assert_eq!(several_sets(&tmp.path().join("a")), None);
        // A file beside the subdirectories makes the directory one set.
        write(&tmp.path().join("top.warden"));
        assert_eq!(policy_sets(tmp.path()), vec![tmp.path().to_path_buf()]);
    }

    #[test]
    fn files_are_checked_as_the_set_they_belong_to() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        write(&t.join("sets/bank/main.warden"));
        write(&t.join("sets/bank/tests/login.warden"));
        write(&t.join("sets/todo/todo.warden"));
        // A file in a subdirectory belongs to the set above it.
        assert_eq!(set_of(&t.join("sets/bank/tests/login.warden")), t.join("sets/bank"));
        assert_eq!(set_of(&t.join("sets/bank/main.warden")), t.join("sets/bank"));
        // Files of one set are one set; a directory of sets is its sets; each once.
        let named = [
            t.join("sets/bank/tests/login.warden"),
            t.join("sets/bank/main.warden"),
            t.join("sets/todo/todo.warden"),
            t.join("sets"),
        ];
        assert_eq!(sets_of(&named), vec![t.join("sets/bank"), t.join("sets/todo")]);
        // Something that is neither is kept, so that its error is reported.
        assert_eq!(sets_of(&[t.join("missing")]), vec![t.join("missing")]);
    }
}
