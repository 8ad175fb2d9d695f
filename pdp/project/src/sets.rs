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
}
