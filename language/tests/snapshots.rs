//! Snapshot tests: the AST of every example policy, the rendered diagnostics of every
//! broken fixture, and the formatter's output for every format fixture.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::Path;

use warden_language::{Color, check, format::format_source, render};

/// Reads a fixture, normalising nothing: what is on disk is what is parsed.
fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// The path shown in rendered diagnostics: `<folder>/<file>`, stable across machines.
fn short(path: &Path) -> String {
    let dir = path.parent().and_then(Path::file_name).map(|d| d.to_string_lossy().into_owned()).unwrap_or_default();
    let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    format!("{dir}/{file}")
}

#[test]
fn ast_of_every_example_policy() {
    insta::glob!("../../policies", "**/*.warden", |path| {
        let source = read(path);
        let parsed = check(&source);
        assert!(parsed.diagnostics.is_empty(), "{}: {:#?}", path.display(), parsed.diagnostics);
        insta::assert_yaml_snapshot!(parsed.file);
    });
}

#[test]
fn diagnostics_of_every_broken_fixture() {
    insta::glob!("fixtures/broken/*.warden", |path| {
        let source = read(path);
        let parsed = check(&source);
        assert!(parsed.has_errors(), "{} should be rejected", path.display());
        let rendered: Vec<String> =
            parsed.diagnostics.iter().map(|d| render(d, &short(path), &source, Color::Never)).collect();
        insta::assert_snapshot!(rendered.join("\n"));
    });
}

#[test]
fn formatter_output_of_every_format_fixture() {
    insta::glob!("fixtures/format/*.warden", |path| {
        let source = read(path);
        let formatted = format_source(&source).unwrap_or_else(|d| panic!("{}: {d:#?}", path.display()));
        insta::assert_snapshot!(formatted);
    });
}
