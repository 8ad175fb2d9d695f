//! Build information for `warden --version` (the target triple, the profile and
//! the compiler), and the table of `warden explain`: every page of
//! `docs/reference/diagnostics/` named after a code, included as it is.

use std::path::Path;

fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown target".to_owned());
    let profile = std::env::var("PROFILE").unwrap_or_else(|_| "unknown profile".to_owned());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let rustc_version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "rustc (version unknown)".to_owned(), |v| v.trim().to_owned());
    println!("cargo:rustc-env=WARDEN_BUILD_TARGET={target}");
    println!("cargo:rustc-env=WARDEN_BUILD_PROFILE={profile}");
    println!("cargo:rustc-env=WARDEN_BUILD_RUSTC={rustc_version}");
    explanations();
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
}

/// Writes `$OUT_DIR/explanations.rs`: `(code, page)` for each page of the
/// book's diagnostics folder named after a code (`E0209.md`), sorted by code.
fn explanations() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/reference/diagnostics");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut pages: Vec<(String, String)> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter_map(|p| {
                    let stem = p.file_stem()?.to_str()?.to_owned();
                    let is_code = p.extension()? == "md"
                        && stem.len() == 5
                        && (stem.starts_with('E') || stem.starts_with('W'))
                        && stem[1..].bytes().all(|b| b.is_ascii_digit());
                    is_code.then(|| (stem, p.display().to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    pages.sort();
    let mut table = String::from("&[\n");
    for (code, path) in pages {
        table.push_str(&format!("    ({code:?}, include_str!({path:?})),\n"));
    }
    table.push_str("]\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".to_owned())).join("explanations.rs");
    if let Err(e) = std::fs::write(&out, table) {
        println!("cargo:warning=cannot write {}: {e}", out.display());
    }
}
