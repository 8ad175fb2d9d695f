//! The Cedar export: snapshots of every example policy set, and the translation
//! of single rules (guards for missing values and kind mismatches, diagnostics).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

mod common;

use std::path::PathBuf;

use common::{DirLoader, example_dir, load};
use warden_compiler::cedar::{CedarExport, to_cedar};
use warden_compiler::graph::Graph;
use warden_compiler::{PolicySet, SourceFile, compile};

fn example(name: &str) -> Graph {
    let dir = example_dir(name);
    compile(&load(&dir), &DirLoader(dir)).unwrap_or_else(|d| panic!("{name}: {d:#?}")).0
}

/// Exports one resource action with these rules.
fn export(rules: &str) -> CedarExport {
    let text = format!(
        "zone z {{\n  require tls\n}}\n\nresource doc in zone z {{\n  auth asserted\n  action read {{\n{rules}\n  }}\n}}\n"
    );
    let set = PolicySet { files: vec![SourceFile::new("t.warden", text)] };
    let g = compile(&set, &DirLoader(PathBuf::from("/nonexistent"))).unwrap_or_else(|d| panic!("{d:#?}")).0;
    to_cedar(&g)
}

#[test]
fn cedar_export_of_every_example_policy_set() {
    for name in ["bank", "identity", "todo", "trust"] {
        let out = to_cedar(&example(name));
        let diags: Vec<String> = out
            .diagnostics
            .iter()
            .map(|d| format!("{} {} {}: {}", d.location, d.code, d.endpoint, d.message))
            .collect();
        insta::assert_snapshot!(
            format!("cedar_{name}"),
            format!("{}\n---- schema\n{}\n---- diagnostics\n{}\n", out.policies, out.schema, diags.join("\n"))
        );
    }
}

#[test]
fn a_deny_fires_on_a_missing_value_or_a_kind_mismatch() {
    let out = export("    deny when claim.banned == true\n    allow");
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    // `forbid … unless { F(e) }`: only "present, a boolean, and not true" escapes it.
    assert!(
        out.policies.contains(
            "unless { (principal.claims has banned && principal.claims.banned has bool && principal.claims.banned.bool != true) };"
        ),
        "{}",
        out.policies
    );
}

#[test]
fn an_allow_needs_the_kind_its_comparison_expects() {
    let out = export("    allow when claim.level >= 3");
    assert!(
        out.policies.contains(
            "when { (principal.claims has level && principal.claims.level has num && principal.claims.level.num >= 3) };"
        ),
        "{}",
        out.policies
    );
}

#[test]
fn patterns_escape_the_cedar_wildcard() {
    let out = export("    allow when starts_with(claim.sub, \"a*b\")");
    assert!(out.policies.contains(r#"principal.claims.sub.str like "a\*b*""#), "{}", out.policies);
}

#[test]
fn a_substring_with_a_control_character_is_searched_for_as_written() {
    // Not `like "**"`, which would hold for every string.
    let out = export("    allow when \"a\\nb\" in claim.sub");
    assert!(out.policies.contains(r#"principal.claims.sub.str like "*a\u{a}b*""#), "{}", out.policies);
    assert!(!out.policies.contains(r#""**""#), "{}", out.policies);
}

#[test]
fn an_unsupported_allow_is_left_out_with_a_diagnostic() {
    let out = export("    allow when matches(claim.sub, \"^a\")");
    assert_eq!(out.diagnostics.len(), 1);
    assert_eq!(out.diagnostics[0].code, "W0401");
    assert_eq!(out.diagnostics[0].endpoint, "doc.read");
    assert_eq!(out.diagnostics[0].location, "t.warden:8:5");
    assert!(out.diagnostics[0].message.contains("`matches`"), "{}", out.diagnostics[0].message);
    assert!(!out.policies.contains("permit"), "{}", out.policies);
    assert!(!out.is_exact("doc.read"));
}

#[test]
fn an_unsupported_deny_forbids_everything() {
    let out = export("    deny when lower(claim.sub) == \"root\"\n    allow");
    assert_eq!(out.diagnostics.len(), 1);
    assert!(out.diagnostics[0].message.contains("`lower`"), "{}", out.diagnostics[0].message);
    assert!(
        out.policies.contains(
            "@id(\"doc.read#1\")\nforbid (principal, action == Warden::Action::\"doc.read\", resource is Warden::Resource_doc);"
        ),
        "{}",
        out.policies
    );
}
