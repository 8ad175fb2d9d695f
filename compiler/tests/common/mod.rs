//! Test support shared by the compiler's integration tests: loading policy sets from disk.

#![allow(dead_code, unused_macros, unused_imports, reason = "each test file uses a part of this module")]

use std::path::{Path, PathBuf};

use warden_compiler::{Loader, PolicySet, SourceFile};

/// Reads referenced files from a directory, refusing `..` and absolute paths as the CLI does.
pub struct DirLoader(pub PathBuf);

impl Loader for DirLoader {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        if path.split('/').any(|part| part == "..") || path.starts_with('/') {
            return Err("paths must stay inside the policy set (no absolute paths, no `..`)".to_owned());
        }
        std::fs::read(self.0.join(path)).map_err(|_| "no such file".to_owned())
    }
}

/// Every `*.warden` file under `dir`, sorted, recursively.
pub fn warden_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            out.extend(warden_files(&path));
        } else if path.extension().is_some_and(|e| e == "warden") {
            out.push(path);
        }
    }
    out
}

/// Loads the policy set in `dir`, naming files `<dir name>/<relative path>`.
pub fn load(dir: &Path) -> PolicySet {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let files = warden_files(dir)
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            SourceFile::new(format!("{name}/{rel}"), std::fs::read_to_string(p).unwrap())
        })
        .collect();
    PolicySet { files }
}

/// The directory of an example policy set under `policies/`.
pub fn example_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies").join(name)
}

/// The fixture directory `tests/fixtures/<kind>/<name>`.
pub fn fixture_dir(kind: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(kind).join(name)
}

/// The fixture directories under `tests/fixtures/<kind>`, sorted.
pub fn fixture_dirs(kind: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(kind);
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

/// The name of a fixture directory.
pub fn dir_name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

/// One `#[test]` per fixture directory, named after it, each calling
/// `$check("<directory name>")`, and `const FIXTURES: &[&str]` listing them
/// (for the test that every directory has one). Attributes before `check`
/// go on every generated test.
macro_rules! fixture_tests {
    ($(#[$attr:meta])* check = $check:path; $($name:ident,)*) => {
        $crate::common::fixture_tests!(@tests [$(#[$attr])*] $check; $($name,)*);

        /// Every fixture directory that has a test, in order.
        const FIXTURES: &[&str] = &[$(stringify!($name)),*];
    };
    (@tests $attrs:tt $check:path; $($name:ident,)*) => {
        $($crate::common::fixture_tests!(@test $attrs $check, $name);)*
    };
    (@test [$($attrs:tt)*] $check:path, $name:ident) => {
        #[test]
        $($attrs)*
        fn $name() {
            $check(stringify!($name));
        }
    };
}
pub(crate) use fixture_tests;
