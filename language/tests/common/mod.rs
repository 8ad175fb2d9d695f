//! Helpers shared by the language's integration tests: the `.warden` files of a
//! directory tree, in a stable order.

use std::path::{Path, PathBuf};

/// Every `.warden` file under `dir` (sorted, depth first) appended to `out`; a
/// directory that cannot be read adds nothing.
pub fn warden_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            warden_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "warden") {
            out.push(path);
        }
    }
}
