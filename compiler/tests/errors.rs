//! Whole-set checks: every example policy set is clean, and every error fixture (a
//! directory that is one policy set, each its own test) is rejected with the
//! snapshotted diagnostics.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

mod common;

use std::path::{Path, PathBuf};

use common::{DirLoader, dir_name, example_dir, fixture_dir, fixture_dirs, load};
use warden_compiler::{PolicySet, SourceFile, diagnostics};
use warden_language::{Color, render};

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
    for set in ["bank", "identity", "todo", "trust"] {
        let dir = example_dir(set);
        let (errors, text) = rendered(&load(&dir), &dir);
        assert_eq!(errors, 0, "{set}:\n{text}");
        assert_eq!(text, "", "{set} has warnings:\n{text}");
    }
}

common::fixture_tests! {
    check = error_fixture;
    attributes_out_of_place,
    auth_mismatch,
    duplicate_zone_across_files,
    exchange_invalid,
    invalid_regex_cidr_glob_url,
    malformed_files,
    mint_untrusted,
    missing_auth,
    missing_files,
    never_allows,
    private_jwks,
    recursive_schema,
    regex_too_large,
    route_conflict_across_apis,
    type_mismatches,
    unknown_ban,
    unknown_body_field,
    unknown_data,
    unknown_limit_and_schema,
    unknown_resource_in_test,
    unknown_zone,
}

/// The fixture `name` is rejected with the snapshotted diagnostics.
fn error_fixture(name: &str) {
    let dir = fixture_dir("errors", name);
    let (errors, text) = rendered(&load(&dir), &dir);
    assert!(errors > 0, "{name} should be rejected");
    insta::assert_snapshot!(name, text);
}

#[test]
fn every_fixture_directory_has_a_test() {
    let dirs: Vec<String> = fixture_dirs("errors").iter().map(|d| dir_name(d)).collect();
    assert_eq!(dirs, FIXTURES, "fixture directories (left) differ from the tests generated (right)");
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

#[test]
fn schema_cycle_search_is_not_exponential() {
    // Each schema has two required fields of the next: a search without memory
    // would walk 2^40 paths. There is no cycle, so nothing is reported.
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!("schema S{i} {{\n  a: S{n}\n  b: S{n}\n}}\n\n", n = i + 1));
    }
    text.push_str("schema S40 {\n  x: string\n}\n");
    let set = PolicySet { files: vec![SourceFile::new("s.warden", text)] };
    let diags = diagnostics(&set, &DirLoader(PathBuf::from("/nonexistent")));
    assert!(diags.is_empty(), "{diags:#?}");
}
