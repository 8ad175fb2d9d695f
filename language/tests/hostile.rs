//! Hostile input: every file, however broken, gets diagnostics or a clean error,
//! never a panic or a stack overflow. Runs on the test harness's small thread stacks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use warden_language::{check, codes, decode, format::format_source, parse};

#[test]
fn empty_file_is_an_empty_policy() {
    let parsed = check("");
    assert!(parsed.diagnostics.is_empty());
    assert!(parsed.file.decls.is_empty());
    assert_eq!(format_source("").unwrap(), "");
}

#[test]
fn whitespace_and_comments_only() {
    let parsed = check("\n\n   \t\n// just a comment\n");
    assert!(parsed.diagnostics.is_empty());
    assert!(parsed.file.decls.is_empty());
}

#[test]
fn binary_file_is_refused_at_its_first_nul() {
    let mut bytes = b"\x7fELF\x02\x01\x01".to_vec();
    bytes.extend([0u8; 64]);
    bytes.extend((0..=255u8).cycle().take(4096));
    match decode(&bytes) {
        Err(diag) => assert_eq!(diag.code, codes::INVALID_UTF8),
        Ok(text) => {
            let parsed = parse(text);
            assert_eq!(parsed.diagnostics.len(), 1);
            assert_eq!(parsed.diagnostics[0].code, codes::BINARY_FILE);
        }
    }
    // Valid UTF-8 with a NUL in it is still not a policy file.
    let parsed = parse("zone a {}\n\0\0\0");
    assert_eq!(parsed.diagnostics.len(), 1);
    assert_eq!(parsed.diagnostics[0].code, codes::BINARY_FILE);
    assert_eq!(parsed.diagnostics[0].span.start, 10);
}

#[test]
fn invalid_utf8_reports_the_byte_offset() {
    let bytes = b"zone edge {\n  require tls \xff\xfe\n}\n";
    let diag = decode(bytes).unwrap_err();
    assert_eq!(diag.code, codes::INVALID_UTF8);
    assert_eq!(diag.span.start as usize, 26);
    assert!(diag.message.contains("byte 26"), "{}", diag.message);
}

#[test]
fn ten_megabytes_of_open_braces() {
    let source = "{".repeat(10 * 1024 * 1024);
    let parsed = parse(&source);
    // Larger than a policy file may be: one diagnostic, no scanning.
    assert_eq!(parsed.diagnostics.len(), 1);
    assert_eq!(parsed.diagnostics[0].code, codes::FILE_TOO_LARGE);
    // Just under the size cap: the scanner stops at the nesting limit.
    let source = "{".repeat(warden_language::MAX_FILE_BYTES - 1);
    let parsed = parse(&source);
    assert_eq!(parsed.diagnostics.len(), 1);
    assert_eq!(parsed.diagnostics[0].code, codes::NESTING_TOO_DEEP);
}

#[test]
fn ten_thousand_nested_parentheses() {
    let source = format!("limit deep = 1 per 1s by {}source.ip{}\n", "(".repeat(10_000), ")".repeat(10_000));
    let parsed = parse(&source);
    assert_eq!(parsed.diagnostics.len(), 1, "{:#?}", parsed.diagnostics);
    assert_eq!(parsed.diagnostics[0].code, codes::NESTING_TOO_DEEP);
}

#[test]
fn nesting_just_under_the_limit_parses_and_formats() {
    // 60 parentheses inside an api block and a route block: 62 levels.
    let inner = format!("{}claim.a == 1{}", "(".repeat(60), ")".repeat(60));
    let source = format!("api a in zone z {{\n  route GET \"/x\" {{\n    allow when {inner}\n  }}\n}}\n");
    let parsed = check(&source);
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    assert_eq!(format_source(&source).unwrap(), source);
}

#[test]
fn ten_thousand_nots() {
    let source = format!(
        "api a in zone z {{\n  route GET \"/x\" {{\n    allow when {}claim.a\n  }}\n}}\n",
        "not ".repeat(10_000)
    );
    let parsed = parse(&source);
    assert_eq!(parsed.diagnostics.len(), 1, "{:#?}", parsed.diagnostics);
    assert_eq!(parsed.diagnostics[0].code, codes::NESTING_TOO_DEEP);
}

#[test]
fn twenty_thousand_operands_stay_flat() {
    // A long `and` chain is one n-ary node, so nothing recurses per operand.
    let chain = vec!["claim.a == 1"; 20_000].join(" and ");
    let source = format!("api a in zone z {{\n  route GET \"/x\" {{\n    allow when {chain}\n  }}\n}}\n");
    let parsed = check(&source);
    assert!(parsed.diagnostics.is_empty());
    let formatted = format_source(&source).unwrap();
    assert_eq!(formatted, source);
}

#[test]
fn deeply_nested_test_values() {
    let source = format!(
        "test \"deep\" {{\n  request GET \"/x\" {{\n    json {}1{}\n  }}\n  expect allow\n}}\n",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    let parsed = parse(&source);
    assert_eq!(parsed.diagnostics.len(), 1);
    assert_eq!(parsed.diagnostics[0].code, codes::NESTING_TOO_DEEP);
}

#[test]
fn unbalanced_garbage_gives_diagnostics() {
    for source in ["}}}}", "))((", "zone {", "\"", "api a in zone z { route GET \"/x\" { allow when ( } }", "@#$%^&*"] {
        let parsed = check(source);
        assert!(parsed.has_errors(), "{source:?} should be rejected");
    }
}

#[test]
fn every_prefix_of_a_real_policy_is_handled() {
    // Truncating a valid file anywhere must give diagnostics, not a panic.
    let source = include_str!("fixtures/format/spec_declarations.warden");
    for (end, _) in source.char_indices().step_by(7) {
        let prefix = &source[..end];
        let parsed = check(prefix);
        let _ = format_source(prefix);
        for d in &parsed.diagnostics {
            assert!(d.span.end() <= prefix.len(), "span past the end for prefix of {end} bytes");
        }
    }
}

#[test]
fn long_comparison_chains_do_not_nest() {
    // `a == a == a …` and `a == not a == not a …` would nest once per operator.
    for op in ["==", "== not"] {
        let chain = vec!["claim.a"; 200_000].join(&format!(" {op} "));
        let source = format!("api a in zone z {{\n  route GET \"/x\" {{\n    allow when {chain}\n  }}\n}}\n");
        let parsed = check(&source);
        assert_eq!(parsed.diagnostics.len(), 1, "{op}: {:?}", parsed.diagnostics.first());
        assert_eq!(parsed.diagnostics[0].code, codes::CHAINED_COMPARISON);
    }
    // Many `not`s spread over one expression are refused too.
    let spread = vec!["not claim.a"; 100].join(" and ");
    let parsed = check(&format!("api a in zone z {{\n  route GET \"/x\" {{\n    allow when {spread}\n  }}\n}}\n"));
    assert_eq!(parsed.diagnostics[0].code, codes::NESTING_TOO_DEEP);
}
