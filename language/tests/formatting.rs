//! Formatter properties over every fixture and example policy: idempotent, and
//! the AST of the formatted text equals the original AST up to spans.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

mod common;

use std::path::{Path, PathBuf};

use warden_language::format::format_source;
use warden_language::parse;

use self::common::warden_files;

/// Every file that parses: format fixtures and the example policies.
fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    warden_files(&root.join("tests/fixtures/format"), &mut files);
    warden_files(&root.join("../policies"), &mut files);
    assert!(files.len() >= 10, "the corpus is unexpectedly small: {files:?}");
    files
}

/// The AST as JSON with every span (serialised as `"start..end"`) removed.
fn ast_without_spans(source: &str) -> serde_json::Value {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.retain(|key, v| {
                    let is_span = v.as_str().is_some_and(|s| {
                        s.split_once("..").is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok())
                    });
                    !(is_span || key == "span" || key == "body" && v.is_null())
                });
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let parsed = parse(source);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    let mut json = serde_json::to_value(&parsed.file).unwrap();
    strip(&mut json);
    json
}

#[test]
fn formatting_is_idempotent() {
    for path in corpus() {
        let source = std::fs::read_to_string(&path).unwrap();
        let once = format_source(&source).unwrap_or_else(|d| panic!("{}: {d:#?}", path.display()));
        let twice = format_source(&once).unwrap_or_else(|d| panic!("{} after formatting: {d:#?}", path.display()));
        assert_eq!(once, twice, "{} is not stable under formatting", path.display());
    }
}

#[test]
fn formatting_never_changes_meaning() {
    for path in corpus() {
        let source = std::fs::read_to_string(&path).unwrap();
        let formatted = format_source(&source).unwrap();
        assert_eq!(
            ast_without_spans(&source),
            ast_without_spans(&formatted),
            "{}: the formatted AST differs",
            path.display()
        );
    }
}

#[test]
fn formatting_keeps_every_comment() {
    for path in corpus() {
        let source = std::fs::read_to_string(&path).unwrap();
        let formatted = format_source(&source).unwrap();
        let comments = |text: &str| -> Vec<String> {
            let parsed = parse(text);
            parsed.comments.iter().map(|c| c.span.text(text).trim_end().to_owned()).collect()
        };
        assert_eq!(comments(&source), comments(&formatted), "{}: comments changed", path.display());
    }
}

#[test]
fn example_policies_are_formatted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let mut files = Vec::new();
    warden_files(&root, &mut files);
    for path in files {
        let source = std::fs::read_to_string(&path).unwrap();
        assert_eq!(format_source(&source).unwrap(), source, "{} is not in canonical layout", path.display());
    }
}

#[test]
fn formatter_refuses_a_file_with_errors() {
    let errors = format_source("zone edge {\n  require tsl\n}\n").unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code.as_str(), "E0102");
}

#[test]
fn a_trailing_comment_stays_with_the_last_statement_of_its_line() {
    let source =
        "api a in zone z {\n  auth none\n  route GET \"/x\" {\n    deny when claim.a == 1; allow // why\n  }\n}\n";
    let formatted = format_source(source).unwrap();
    assert_eq!(
        formatted,
        "api a in zone z {\n  auth none\n  route GET \"/x\" {\n    deny when claim.a == 1\n    allow  // why\n  }\n}\n"
    );
    // And a comment after the only statement of a line still trails it.
    let one = "api a in zone z {\n  auth none  // open\n  route GET \"/x\" {\n    allow\n  }\n}\n";
    assert_eq!(format_source(one).unwrap(), one);
}
