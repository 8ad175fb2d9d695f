//! The AST visitor: it reaches every leaf of every fixture and example policy (the
//! serialised AST is the oracle), in source order, and walks expressions in pre-order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use warden_language::Span;
use warden_language::ast::visit::{self, Visit};
use warden_language::ast::{Decl, Doc, Duration, Expr, Ident, Key, Number, Size, Str, Test};
use warden_language::parse;

use self::common::warden_files;

/// Every fixture (broken ones give partial trees) and every example policy.
fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    warden_files(&root.join("tests/fixtures"), &mut files);
    warden_files(&root.join("../policies"), &mut files);
    assert!(files.len() >= 50, "the corpus is unexpectedly small: {files:?}");
    files
}

/// The kinds of leaves, as the visitor and the serialised AST name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Leaf {
    Doc,
    Ident,
    Str,
    Key,
    Number,
    Duration,
    Size,
}

/// Records every leaf with its span, in the order visited.
#[derive(Default)]
struct Leaves {
    seen: Vec<(Leaf, Span)>,
}

impl<'a> Visit<'a> for Leaves {
    fn visit_doc(&mut self, doc: &'a Doc) {
        self.seen.push((Leaf::Doc, doc.span));
    }
    fn visit_ident(&mut self, ident: &'a Ident) {
        self.seen.push((Leaf::Ident, ident.span));
    }
    fn visit_str(&mut self, s: &'a Str) {
        self.seen.push((Leaf::Str, s.span));
    }
    fn visit_key(&mut self, key: &'a Key) {
        self.seen.push((Leaf::Key, key.span));
    }
    fn visit_number(&mut self, number: &'a Number) {
        self.seen.push((Leaf::Number, number.span));
    }
    fn visit_duration(&mut self, duration: &'a Duration) {
        self.seen.push((Leaf::Duration, duration.span));
    }
    fn visit_size(&mut self, size: &'a Size) {
        self.seen.push((Leaf::Size, size.span));
    }
}

fn span_of(text: &str) -> Span {
    let (start, end) = text.split_once("..").unwrap();
    Span::new(start.parse().unwrap(), end.parse().unwrap())
}

/// The leaves of the serialised AST, told apart by their fields.
fn oracle(value: &Json, out: &mut Vec<(Leaf, Span)>) {
    match value {
        Json::Object(map) => {
            let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
            keys.sort_unstable();
            let leaf = match keys.as_slice() {
                ["span", "text"] => Some(Leaf::Doc),
                ["name", "span"] => Some(Leaf::Ident),
                ["span", "value"] => Some(Leaf::Str),
                ["name", "quoted", "span"] => Some(Leaf::Key),
                ["raw", "span", "value"] => Some(Leaf::Number),
                ["span", "unit", "value"] => match map["unit"].as_str() {
                    Some("Bytes" | "KiB" | "MiB" | "GiB") => Some(Leaf::Size),
                    _ => Some(Leaf::Duration),
                },
                _ => None,
            };
            if let Some(leaf) = leaf {
                out.push((leaf, span_of(map["span"].as_str().unwrap())));
            }
            for v in map.values() {
                oracle(v, out);
            }
        }
        Json::Array(items) => items.iter().for_each(|v| oracle(v, out)),
        _ => {}
    }
}

#[test]
fn every_leaf_is_visited_once_in_source_order() {
    let mut total = 0;
    for path in corpus() {
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed = parse(&text);
        let mut leaves = Leaves::default();
        leaves.visit_file(&parsed.file);

        let starts: Vec<usize> = leaves.seen.iter().map(|(_, s)| s.start()).collect();
        assert!(starts.is_sorted(), "{}: leaves visited out of source order: {:?}", path.display(), leaves.seen);

        let mut expected = Vec::new();
        oracle(&serde_json::to_value(&parsed.file).unwrap(), &mut expected);
        let mut seen = leaves.seen.clone();
        let key = |(leaf, span): &(Leaf, Span)| (span.start(), span.end(), *leaf);
        seen.sort_by_key(key);
        expected.sort_by_key(key);
        assert_eq!(seen, expected, "{}: the visitor and the serialised AST disagree", path.display());
        total += seen.len();
    }
    assert!(total > 1_000, "only {total} leaves in the corpus");
}

/// Records the text of every expression, in the order visited.
struct Exprs<'t> {
    text: &'t str,
    seen: Vec<&'t str>,
}

impl<'a> Visit<'a> for Exprs<'_> {
    fn visit_expr(&mut self, expr: &'a Expr) {
        self.seen.push(expr.span.text(self.text));
        visit::walk_expr(self, expr);
    }
}

#[test]
fn expressions_are_walked_parent_first_left_to_right() {
    let text = "limit l = 1 per 1s by source.ip, lower(header[\"x-k\"])\n\
                resource doc in zone z {\n  action read {\n    \
                allow when not (claim.a == \"x\") and lower(header[\"x-a\"]) in [\"a\", data.d[0]]\n  }\n}\n";
    let parsed = parse(text);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let mut exprs = Exprs { text, seen: Vec::new() };
    exprs.visit_file(&parsed.file);
    assert_eq!(
        exprs.seen,
        [
            "source.ip",
            "lower(header[\"x-k\"])",
            "header[\"x-k\"]",
            "\"x-k\"",
            "not (claim.a == \"x\") and lower(header[\"x-a\"]) in [\"a\", data.d[0]]",
            "not (claim.a == \"x\")",
            "(claim.a == \"x\")",
            "claim.a == \"x\"",
            "claim.a",
            "\"x\"",
            "lower(header[\"x-a\"]) in [\"a\", data.d[0]]",
            "lower(header[\"x-a\"])",
            "header[\"x-a\"]",
            "\"x-a\"",
            "[\"a\", data.d[0]]",
            "\"a\"",
            "data.d[0]",
            "0",
        ]
    );
}

/// Names only outside tests: an override that does not call `walk_test` prunes the walk.
#[derive(Default)]
struct NamesOutsideTests {
    names: Vec<String>,
}

impl<'a> Visit<'a> for NamesOutsideTests {
    fn visit_ident(&mut self, ident: &'a Ident) {
        self.names.push(ident.name.clone());
    }
    fn visit_test(&mut self, _test: &'a Test) {}
}

#[test]
fn an_override_decides_whether_to_descend() {
    let text = "resource doc in zone z {\n  action read {\n    allow\n  }\n}\n\
                test \"t\" {\n  check doc read\n  expect allow\n}\n";
    let parsed = parse(text);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let mut names = NamesOutsideTests::default();
    names.visit_file(&parsed.file);
    assert_eq!(names.names, ["doc", "z", "read"]);
    let mut all = Leaves::default();
    all.visit_file(&parsed.file);
    let idents: Vec<&str> = all.seen.iter().filter(|(l, _)| *l == Leaf::Ident).map(|(_, s)| s.text(text)).collect();
    assert_eq!(idents, ["doc", "z", "read", "doc", "read"]);
}

#[test]
fn declarations_name_themselves() {
    let text = "limit per_ip = 5 per 1m by source.ip\ntest \"a test\" {\n  wait 1s\n}\n";
    let parsed = parse(text);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let [limit, test] = parsed.file.decls.as_slice() else { panic!("two declarations expected") };
    assert_eq!(limit.name().map(|n| n.name.as_str()), Some("per_ip"));
    assert_eq!((limit.name_text(), limit.name_span().text(text)), ("per_ip", "per_ip"));
    assert!(matches!(test, Decl::Test(_)));
    assert_eq!(test.name(), None);
    assert_eq!((test.name_text(), test.name_span().text(text)), ("a test", "\"a test\""));
}
