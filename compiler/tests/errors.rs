//! Whole-set checks: every example policy set is clean, and every error fixture (a
//! directory that is one policy set) is rejected with the snapshotted diagnostics.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::{Path, PathBuf};

use warden_compiler::{Loader, PolicySet, SourceFile, diagnostics};
use warden_language::{Color, render};

/// Reads referenced files from a fixture directory, refusing `..` as the CLI does.
struct DirLoader(PathBuf);

impl Loader for DirLoader {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        if path.split('/').any(|part| part == "..") || path.starts_with('/') {
            return Err("paths must stay inside the policy set (no absolute paths, no `..`)".to_owned());
        }
        std::fs::read(self.0.join(path)).map_err(|_| "no such file".to_owned())
    }
}

fn warden_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            warden_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "warden") {
            out.push(path);
        }
    }
}

/// Loads a policy set, naming files `<set>/<relative path>`.
fn load(dir: &Path) -> PolicySet {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let mut paths = Vec::new();
    warden_files(dir, &mut paths);
    let files = paths
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            SourceFile::new(format!("{name}/{rel}"), std::fs::read_to_string(p).unwrap())
        })
        .collect();
    PolicySet { files }
}

fn rendered(set: &PolicySet, dir: &Path) -> (usize, String) {
    let diags = diagnostics(set, &DirLoader(dir.to_path_buf()));
    let errors = diags.iter().filter(|d| d.diagnostic.is_error()).count();
    let text = diags
        .iter()
        .map(|d| {
            let f = &set.files[d.file];
            render(&d.diagnostic, &f.path, &f.text, Color::Never)
        })
        .collect::<Vec<_>>()
        .join("\n");
    (errors, text)
}

#[test]
fn example_policy_sets_are_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    for set in ["bank", "identity", "todo"] {
        let dir = root.join(set);
        let (errors, text) = rendered(&load(&dir), &dir);
        assert_eq!(errors, 0, "{set}:\n{text}");
        assert_eq!(text, "", "{set} has warnings:\n{text}");
    }
}

#[test]
fn every_error_fixture_is_rejected_as_snapshotted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/errors");
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    assert!(dirs.len() >= 15);
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let (errors, text) = rendered(&load(&dir), &dir);
        assert!(errors > 0, "{name} should be rejected");
        insta::assert_snapshot!(name.clone(), text);
    }
}

#[test]
fn set_checks_wait_for_syntax_errors_to_be_fixed() {
    // A zone lost to a syntax error must not make every api report an unknown zone.
    let set = PolicySet {
        files: vec![
            SourceFile::new("z.warden", "zone edge {\n  require tsl\n}\n"),
            SourceFile::new("a.warden", "api a in zone edge {\n  auth none\n  route GET \"/x\" {\n    allow\n  }\n}\n"),
        ],
    };
    let diags = diagnostics(&set, &DirLoader(PathBuf::from("/nonexistent")));
    let codes: Vec<&str> = diags.iter().map(|d| d.diagnostic.code.as_str()).collect();
    assert_eq!(codes, ["E0102"]);
}
