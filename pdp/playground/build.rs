//! Embeds the example policy sets of `policies/` (every file of each set, by
//! its path in the set) for the playground's examples menu.

use std::path::{Path, PathBuf};

fn files(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(root, &path, out);
        } else if let Ok(relative) = path.strip_prefix(root) {
            out.push((relative.to_string_lossy().replace('\\', "/"), path.clone()));
        }
    }
}

fn main() {
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    println!("cargo:rerun-if-changed={}", policies.display());
    let mut sets: Vec<PathBuf> = std::fs::read_dir(&policies)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    sets.sort();
    let mut table = String::from("&[\n");
    for set in sets {
        let name = set.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut found = Vec::new();
        files(&set, &set, &mut found);
        table.push_str(&format!("    ({name:?}, &[\n"));
        for (relative, path) in found {
            table.push_str(&format!("        ({relative:?}, include_str!({:?})),\n", path.display().to_string()));
        }
        table.push_str("    ]),\n");
    }
    table.push_str("]\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".to_owned())).join("examples.rs");
    if let Err(e) = std::fs::write(&out, table) {
        println!("cargo:warning=cannot write {}: {e}", out.display());
    }
}
