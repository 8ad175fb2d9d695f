//! Lints: one fixture policy set per lint, each its own test, where every line marked
//! `// expect: CODE` must get that lint and no other line may get any; rendered output
//! is snapshotted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

mod common;

use std::collections::BTreeSet;

use common::{DirLoader, dir_name, example_dir, fixture_dir, fixture_dirs, load};
use warden_compiler::{PolicySet, compile, lints};
use warden_language::{Color, LineIndex, render};

/// `(file, line, code)` for every `// expect: CODE` comment.
fn expected(set: &PolicySet) -> BTreeSet<(usize, usize, String)> {
    let mut out = BTreeSet::new();
    for (file, f) in set.files.iter().enumerate() {
        for (n, line) in f.text.lines().enumerate() {
            if let Some((_, codes)) = line.split_once("// expect:") {
                for code in codes.split(',') {
                    out.insert((file, n + 1, code.trim().to_owned()));
                }
            }
        }
    }
    out
}

common::fixture_tests! {
    #[expect(non_snake_case, reason = "each test is named after its fixture directory, code first")]
    check = lint_fixture;
    W0301_client_credential_without_channel,
    W0302_mixed_auth_on_path,
    W0303_auth_overridden_in_route,
    W0304_credential_route_without_pre_auth_limit,
    W0305_body_without_schema,
    W0306_hmac_without_mtls,
    W0307_jwks_over_plain_http,
    W0308_interchangeable_zones,
    W0309_unused_declaration,
    W0310_constant_rule,
    W0311_shadowed_route,
    W0312_unused_suppression,
    W0313_malformed_suppression,
    W0314_long_lived_minted_token,
    W0315_sensitive_claim_minted,
    W0316_introspection_over_plain_http,
    W0317_open_endpoint,
    W0318_unrestricted_network,
    W0319_subsumed_allow,
    W0320_limit_key_always_missing,
}

/// The fixture `name` compiles without errors, fires lints exactly where it
/// is marked, and renders as snapshotted.
fn lint_fixture(name: &str) {
    let dir = fixture_dir("lints", name);
    let set = load(&dir);
    let (graph, errors) =
        compile(&set, &DirLoader(dir.clone())).unwrap_or_else(|d| panic!("{name} does not compile: {d:#?}"));
    assert!(errors.is_empty(), "{name}: {errors:#?}");
    // The lints that are off by default are on in their own fixtures.
    let levels = if lints::OFF_BY_DEFAULT.iter().any(|code| name.starts_with(code)) {
        lints::Levels::default().with_exposure()
    } else {
        lints::Levels::default()
    };
    let found = lints::lint_at(&set, &graph, &levels);
    let fired: BTreeSet<(usize, usize, String)> = found
        .iter()
        .map(|d| {
            let f = &set.files[d.file];
            let line = LineIndex::new(&f.text).line_col(&f.text, d.diagnostic.span.start()).line;
            (d.file, line, d.diagnostic.code.as_str().to_owned())
        })
        .collect();
    assert_eq!(fired, expected(&set), "{name}: lints fired (left) differ from the `// expect:` marks (right)");
    let rendered: Vec<String> = found
        .iter()
        .map(|d| render(&d.diagnostic, &set.files[d.file].path, &set.files[d.file].text, Color::Never))
        .collect();
    insta::assert_snapshot!(name, rendered.join("\n"));
}

#[test]
fn every_fixture_directory_has_a_test_and_every_lint_a_fixture() {
    let dirs: Vec<String> = fixture_dirs("lints").iter().map(|d| dir_name(d)).collect();
    assert_eq!(dirs, FIXTURES, "fixture directories (left) differ from the tests generated (right)");
    for lint in lints::ALL {
        let prefix = format!("{}_", lint.code);
        assert!(FIXTURES.iter().any(|f| f.starts_with(&prefix)), "no fixture for {} ({})", lint.code, lint.name);
    }
    for fixture in FIXTURES {
        assert!(
            lints::ALL.iter().any(|l| fixture.starts_with(&format!("{}_", l.code))),
            "{fixture} is named after no lint"
        );
    }
}

#[test]
fn every_lint_is_documented() {
    let mut codes = BTreeSet::new();
    for lint in lints::ALL {
        assert!(lint.code.as_str().starts_with('W'), "{}", lint.code);
        assert!(codes.insert(lint.code), "duplicate code {}", lint.code);
        assert!(lint.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{}", lint.name);
        // What it flags, why it matters, an example.
        assert!(
            lint.explanation.len() > 150
                && (lint.explanation.contains("Example") || lint.explanation.contains("such as")),
            "{}",
            lint.name
        );
        assert!(!lint.fix.is_empty());
        assert_eq!(lints::info(lint.code.as_str()).map(|l| l.name), Some(lint.name));
    }
}

#[test]
fn example_policy_sets_are_lint_clean() {
    for name in ["bank", "identity", "todo", "trust"] {
        let dir = example_dir(name);
        let set = load(&dir);
        let (graph, _) = compile(&set, &DirLoader(dir)).unwrap();
        // The lints that are off by default are on in their own fixtures.
        let levels = if lints::OFF_BY_DEFAULT.iter().any(|code| name.starts_with(code)) {
            lints::Levels::default().with_exposure()
        } else {
            lints::Levels::default()
        };
        let found = lints::lint_at(&set, &graph, &levels);
        assert!(found.is_empty(), "{name}: {found:#?}");
    }
}
