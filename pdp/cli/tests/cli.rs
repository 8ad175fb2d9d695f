//! The `warden` binary end to end: `check` and `fmt` on the example policies and the
//! broken fixtures, exit codes as SERVICE.md says, and files left intact on failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use warden_language::{Color, check, render};

fn warden(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .env("NO_COLOR", "1")
        .current_dir(repo())
        .output()
        .expect("the warden binary runs")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A zone and one allowed route, `GET /x`: a set that lints clean.
const ONE_ROUTE: &str =
    "zone z {\n  require tls\n}\n\napi a in zone z {\n  auth none\n\n  route GET \"/x\" {\n    allow\n  }\n}\n";

/// A temporary policy set of `files` (name, text).
fn temp_set(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_accepts_every_example_policy_set() {
    for set in ["policies/bank", "policies/identity", "policies/todo", "policies/trust"] {
        let out = warden(&["check", set]);
        assert_eq!(out.status.code(), Some(0), "{set}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("no problems"), "{}", text(&out.stdout));
        assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    }
}

/// As a pre-commit hook calls them: the changed files, each checked as its
/// whole set, each set once.
#[test]
fn check_and_lint_take_files_and_check_each_set_once() {
    let files = ["policies/bank/tests/transfers.warden", "policies/bank/accounts.warden", "policies/todo"];
    for command in ["check", "lint"] {
        let mut args = vec![command];
        args.extend(files);
        let out = warden(&args);
        assert_eq!(out.status.code(), Some(0), "{command}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let summaries: Vec<&str> = stdout.lines().filter(|l| l.contains(" files checked")).collect();
        assert_eq!(summaries.len(), 2, "{command}: {stdout}");
        assert!(summaries[0].starts_with("policies/bank: ") && summaries[1].starts_with("policies/todo: "), "{stdout}");
    }
    // A file of a set with an error fails, and the error is in another file of its set.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("zones.warden"), "zone z {\n  require tls\n}\n").unwrap();
    std::fs::write(dir.path().join("api.warden"), "api a in zone y {\n  auth none\n}\n").unwrap();
    let out = warden(&["check", dir.path().join("zones.warden").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("api.warden:1:"), "{}", text(&out.stderr));
    // No path at all is a usage error.
    assert_eq!(warden(&["check"]).status.code(), Some(2));
}

#[test]
fn check_prints_each_broken_fixture_as_the_library_renders_it() {
    let dir = repo().join("language/tests/fixtures/broken");
    let mut fixtures: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    fixtures.sort();
    assert!(fixtures.len() >= 25);
    for fixture in fixtures {
        // A file is checked as the set it belongs to: each fixture alone in a directory.
        let alone = tempfile::tempdir().unwrap();
        let path = alone.path().join(fixture.file_name().unwrap());
        std::fs::copy(&fixture, &path).unwrap();
        let shown = path.to_string_lossy().into_owned();
        let out = warden(&["check", &shown]);
        assert_eq!(out.status.code(), Some(1), "{shown} should fail");
        let source = std::fs::read_to_string(&path).unwrap();
        let expected: String = check(&source)
            .diagnostics
            .iter()
            .map(|d| format!("{}\n", render(d, &shown, &source, Color::Never)))
            .collect();
        assert_eq!(text(&out.stderr), expected, "{shown}");
        // file:line:column comes first.
        assert!(text(&out.stderr).starts_with(&format!("{shown}:")), "{}", text(&out.stderr));
    }
}

#[test]
fn check_json_output_is_machine_readable() {
    let alone = tempfile::tempdir().unwrap();
    let file = alone.path().join("bad_duration.warden");
    std::fs::copy(repo().join("language/tests/fixtures/broken/bad_duration.warden"), &file).unwrap();
    let out = warden(&["check", file.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let diag = &json["diagnostics"][0];
    assert_eq!(diag["code"], "E0104");
    assert_eq!(diag["severity"], "error");
    assert_eq!(diag["line"], 5);
    assert_eq!(diag["column"], 12);
    assert_eq!(json["summary"]["errors"], 1);
}

#[test]
fn check_fails_cleanly_on_missing_empty_and_undecodable_input() {
    let out = warden(&["check", "no/such/dir"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: cannot read `no/such/dir`"), "{}", text(&out.stderr));

    let empty = tempfile::tempdir().unwrap();
    let out = warden(&["check", empty.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no `.warden` files"), "{}", text(&out.stderr));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("latin1.warden"), b"zone caf\xe9 {}\n").unwrap();
    std::fs::write(dir.path().join("ok.warden"), b"zone edge {}\n").unwrap();
    let out = warden(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("latin1.warden:1:9: error[E0001]: the file is not valid UTF-8 (byte 8)"), "{stderr}");
    assert!(text(&out.stdout).contains("2 files checked, 1 error"), "{}", text(&out.stdout));
}

#[test]
fn fmt_check_passes_on_the_example_policies() {
    let out = warden(&["fmt", "--check", "policies"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.stdout.is_empty());
}

#[test]
fn fmt_rewrites_and_check_reports_unformatted_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("messy.warden");
    std::fs::write(&file, "limit   a=5 per 1m by source.ip // keep me\nzone edge { require tls }\n").unwrap();
    let path = file.to_str().unwrap();

    let out = warden(&["fmt", "--check", path]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), format!("would reformat {path}\n"));

    let out = warden(&["fmt", path]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "limit a = 5 per 1m by source.ip  // keep me\n\nzone edge {\n  require tls\n}\n"
    );
    let out = warden(&["fmt", "--check", path]);
    assert_eq!(out.status.code(), Some(0));
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn fmt_leaves_a_file_with_errors_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.warden");
    let original = "zone edge {\n  require tsl\n}\n";
    std::fs::write(&file, original).unwrap();
    let out = warden(&["fmt", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error[E0102]"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original);
}

#[test]
fn fmt_formats_stdin_to_stdout() {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["fmt", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"data t=file \"t.json\"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "data t = file \"t.json\"\n");
}

#[test]
fn usage_errors_exit_with_two() {
    let out = warden(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    let out = warden(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn compile_emits_a_graph_that_round_trips() {
    let out = warden(&["compile", "policies/todo"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let graph: warden_compiler::graph::Graph = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(graph.version, warden_compiler::graph::GRAPH_VERSION);
    assert!(
        graph.endpoints.iter().any(|e| e.id == "todo.delete"),
        "{:?}",
        graph.endpoints.iter().map(|e| &e.id).collect::<Vec<_>>()
    );
}

#[test]
fn compile_dot_is_accepted_by_graphviz() {
    for set in ["policies/bank", "policies/identity", "policies/todo", "policies/trust"] {
        let dir = tempfile::tempdir().unwrap();
        let dot_file = dir.path().join("graph.dot");
        let out = warden(&["compile", set, "--emit", "dot", "-o", dot_file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{set}: {}", text(&out.stderr));
        // Debian's graphviz, installed by ./test.sh.
        let svg = Command::new("dot").arg("-Tsvg").arg(&dot_file).output().expect("graphviz `dot` is installed");
        assert!(svg.status.success(), "{set}: dot refused the graph: {}", text(&svg.stderr));
        assert!(text(&svg.stdout).contains("<svg"), "{set}: no SVG produced");
    }
}

#[test]
fn compile_svg_is_well_formed_svg_with_a_box_per_endpoint() {
    for set in ["policies/bank", "policies/identity", "policies/todo", "policies/trust"] {
        let dir = tempfile::tempdir().unwrap();
        let svg_file = dir.path().join("graph.svg");
        let out = warden(&["compile", set, "--emit", "svg", "-o", svg_file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{set}: {}", text(&out.stderr));
        // An XML parser that is not ours (Python's, in Debian's python3): the
        // root element and the endpoint boxes.
        let script = "import sys, xml.etree.ElementTree as E\n\
            r = E.parse(sys.argv[1]).getroot()\n\
            ns = '{http://www.w3.org/2000/svg}'\n\
            print(r.tag, sum(1 for g in r.iter(ns + 'g') if g.get('class') == 'endpoint'))";
        let parsed = Command::new("/usr/bin/python3").args(["-I", "-c", script]).arg(&svg_file).output().unwrap();
        assert!(parsed.status.success(), "{set}: not well-formed: {}", text(&parsed.stderr));
        let graph = warden(&["compile", set]);
        let endpoints =
            serde_json::from_slice::<serde_json::Value>(&graph.stdout).unwrap()["endpoints"].as_array().unwrap().len();
        assert_eq!(text(&parsed.stdout).trim(), format!("{{http://www.w3.org/2000/svg}}svg {endpoints}"), "{set}");
    }
}

#[test]
fn compile_cedar_writes_policies_and_a_schema_that_validate_in_strict_mode() {
    use cedar_policy::{PolicySet, Schema, ValidationMode, Validator};
    for set in ["policies/bank", "policies/identity", "policies/todo", "policies/trust"] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("warden.cedar");
        let out = warden(&["compile", set, "--emit", "cedar", "-o", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{set}: {}", text(&out.stderr));
        let policies: PolicySet = std::fs::read_to_string(&file).unwrap().parse().unwrap();
        let schema_text = std::fs::read_to_string(dir.path().join("warden.cedarschema")).unwrap();
        let (schema, _) = Schema::from_cedarschema_str(&schema_text).unwrap();
        let result = Validator::new(schema).validate(&policies, ValidationMode::Strict);
        let errors: Vec<String> = result.validation_errors().map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{set}: {errors:?}");
        // The schema alone, on stdout, is the same text.
        let out = warden(&["compile", set, "--emit", "cedar-schema"]);
        assert_eq!(text(&out.stdout), schema_text);
    }
    // The partner routes index data by a claim: named, and exported fail closed.
    let out = warden(&["compile", "policies/bank", "--emit", "cedar"]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("partners.warden:22:3: warning[W0401]: cedar cannot express an index computed at run time (`e[k]`) exactly in rule `partner_accounts.GET /v1/accounts/{account_id}/balance#1`"),
        "{stderr}"
    );
}

#[test]
fn compile_refuses_a_set_with_errors_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.warden"),
        "api a in zone nowhere {\n  auth none\n  route GET \"/x\" {\n    allow\n  }\n}\n",
    )
    .unwrap();
    let target = dir.path().join("graph.json");
    let out = warden(&["compile", dir.path().to_str().unwrap(), "-o", target.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error[E0202]: unknown zone `nowhere`"), "{}", text(&out.stderr));
    assert!(!target.exists());
}

#[test]
fn lint_is_clean_on_the_examples_and_denies_warnings_on_request() {
    // `policies/` holds four sets; each is linted on its own.
    let out = warden(&["lint", "policies", "--deny-warnings"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for set in ["bank", "identity", "todo", "trust"] {
        assert!(text(&out.stdout).contains(&format!("policies/{set}: ")), "{}", text(&out.stdout));
    }
    let fixture = "compiler/tests/fixtures/lints/W0305_body_without_schema";
    let out = warden(&["lint", fixture]);
    assert_eq!(out.status.code(), Some(0), "warnings alone do not fail: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("warning[W0305]"), "{}", text(&out.stderr));
    let out = warden(&["lint", fixture, "--deny-warnings"]);
    assert_eq!(out.status.code(), Some(1));
}

/// The parts of SARIF 2.1.0 that GitHub code scanning requires of an upload.
#[test]
fn lint_sarif_has_the_structure_code_scanning_requires() {
    let out = warden(&["lint", "compiler/tests/fixtures/lints/W0309_unused_declaration", "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["$schema"], "https://json.schemastore.org/sarif-2.1.0.json");
    let run = &log["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "warden");
    let rules = driver["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 7, "one per `// expect: W0309` line of the fixture");
    for result in results {
        let rule_id = result["ruleId"].as_str().unwrap();
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], rule_id, "ruleIndex points at the rule");
        assert!(["error", "warning", "note"].contains(&result["level"].as_str().unwrap()));
        assert!(!result["message"]["text"].as_str().unwrap().is_empty());
        let location = &result["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"].as_str().unwrap();
        assert!(uri.ends_with("a.warden") && !uri.contains('\\'), "{uri}");
        let region = &location["region"];
        for key in ["startLine", "startColumn", "endLine", "endColumn"] {
            assert!(region[key].as_u64().unwrap() >= 1, "{key} in {region}");
        }
    }
    let rule = &rules[0];
    assert_eq!(rule["id"], "W0309");
    assert_eq!(rule["name"], "unused-declaration");
    assert!(rule["fullDescription"]["text"].as_str().unwrap().contains("Example"));
    assert!(rule["help"]["text"].as_str().is_some());
    // The whole explanation, for viewers that show markdown; no placeholder links.
    let markdown = rule["help"]["markdown"].as_str().unwrap();
    assert!(markdown.contains("Example") && markdown.contains("**Fix:**"), "{markdown}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("example.invalid"));
}

#[test]
fn version_names_the_graph_format_and_the_build() {
    let out = warden(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    let version = text(&out.stdout);
    let graph = format!("graph format {}", warden_compiler::graph::GRAPH_VERSION);
    assert!(version.starts_with(&format!("warden {} (", env!("CARGO_PKG_VERSION"))), "{version}");
    assert!(version.contains(&graph) && version.contains("rustc "), "{version}");
}

#[test]
fn help_names_every_door_and_every_editor_feature() {
    let help = text(&warden(&["--help"]).stdout);
    for door in ["HTTP", "AuthZEN", "forward auth", "gRPC", "ext_authz"] {
        assert!(help.contains(door), "`warden --help` does not name {door}:\n{help}");
    }
    for feature in ["diagnostics", "formatting", "hover", "completion", "definition", "references", "outline"] {
        assert!(help.contains(feature), "`warden --help` does not name {feature}:\n{help}");
    }
}

/// `warden lint` with stdout and stderr on one pipe (a terminal, `2>&1`): the
/// diagnostics first, then the summary on its own last line.
#[test]
fn lint_prints_its_summary_after_the_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("orders.warden"),
        "zone edge {\n  network \"10.0.0.0/8\"\n}\n\napi orders in zone edge {\n  auth none\n  route POST \"/orders\" {\n    body json\n    allow\n  }\n}\n",
    )
    .unwrap();
    let (mut reader, writer) = std::io::pipe().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["lint", dir.path().to_str().unwrap()])
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .unwrap();
    let mut both = String::new();
    std::io::Read::read_to_string(&mut reader, &mut both).unwrap();
    child.wait().unwrap();
    let summary = format!("{}: 1 file checked, 0 errors, 1 warning\n", dir.path().display());
    assert!(both.ends_with(&summary), "{both}");
    assert!(both.contains("orders.warden:8:") && both.find("orders.warden:8:") < both.find(&summary), "{both}");
}

#[test]
fn referenced_files_cannot_leave_the_policy_set_through_links() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.json"), "{\"token\": \"do-not-leak\"}").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.json"), dir.path().join("data.json")).unwrap();
    std::fs::write(
        dir.path().join("a.warden"),
        "data leak = file \"data.json\"\n\nzone z {\n  require tls\n}\n\napi a in zone z {\n  auth none\n  route GET \"/x\" {\n    allow when source.ip in data.leak\n  }\n}\n",
    )
    .unwrap();
    let out = warden(&["compile", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("error[E0215]") && text(&out.stderr).contains("symbolic link"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stdout).contains("do-not-leak"));

    // A policy file that links out of the set is refused before it is read.
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.json"), dir.path().join("x.warden")).unwrap();
    let out = warden(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is a link to a file outside the policy set"), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("do-not-leak"));
}

#[test]
fn eval_prints_one_decision_for_a_check() {
    use std::io::Write as _;
    let run_with = |set: &str, check: &str, flags: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(["eval", set])
            .args(flags)
            .current_dir(repo())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(check.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let run = |set: &str, check: &str| run_with(set, check, &[]);
    let login = r#"{"request": {"method": "POST", "scheme": "https", "host": "id.example.com", "path": "/v1/login", "headers": {"Content-Type": "application/json"}, "body": "{\"login\": \"ada\", \"password\": \"pw\"}"}, "source": {"ip": "203.0.113.9"}}"#;
    let out = run("policies/identity", login);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (d["allow"].as_bool(), d["status"].as_u64(), d["reason"].as_str()),
        (Some(true), Some(200), Some("allowed"))
    );
    assert_eq!(d["rule"], "auth.POST /v1/login#1");
    let me = r#"{"request": {"method": "GET", "scheme": "https", "host": "id.example.com", "path": "/v1/me"}}"#;
    let out = run("policies/identity", me);
    assert_eq!(out.status.code(), Some(0), "a denial is a decision");
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["reason"], "credentials_missing");
    // `--fail-on-deny`: the same decision printed, and status 3; an allow is still 0.
    let out = run_with("policies/identity", me, &["--fail-on-deny"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["reason"], "credentials_missing");
    assert_eq!(run_with("policies/identity", login, &["--fail-on-deny"]).status.code(), Some(0));
    assert_eq!(d["headers"]["www-authenticate"], "Bearer realm=\"public\"");
    let resource = r#"{"resource": {"type": "todo", "id": "t-1", "properties": {"owner": "u-1", "tenant": "acme"}}, "action": "read", "subject": {"id": "u-1", "properties": {"tenant": "acme"}}, "source": {"principal": "spiffe://todo.example/ns/todo/api"}}"#;
    let d: serde_json::Value = serde_json::from_slice(&run("policies/todo", resource).stdout).unwrap();
    assert_eq!(d["allow"], true);
    // A malformed check is an error, never a decision.
    let out = run("policies/todo", r#"{"request": {}}"#);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("missing field `method`"), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
}

#[test]
fn the_example_policy_tests_pass_with_full_route_coverage() {
    for set in ["policies/bank", "policies/identity", "policies/todo", "policies/trust"] {
        let dir = tempfile::tempdir().unwrap();
        let junit = dir.path().join("junit.xml");
        let out = warden(&["test", set, "--coverage", "--junit", junit.to_str().unwrap()]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{set}:\n{stdout}{}", text(&out.stderr));
        assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
        assert!(!stdout.contains("never exercised"), "{set} leaves routes untested:\n{stdout}");
        let xml = std::fs::read_to_string(&junit).unwrap();
        assert!(xml.contains("<testsuite") && xml.contains("failures=\"0\""), "{xml}");
    }
}

#[test]
fn a_failing_policy_test_names_expected_and_actual() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.warden"),
        "zone z {\n  require tls\n}\n\nlimit per_ip = 1 per 1m by source.ip\n\napi a in zone z {\n  auth none\n  limit per_ip\n  route GET \"/x\" {\n    allow\n  }\n}\n\ntest \"second call is limited\" {\n  request GET \"https://h/x\" {\n    ip \"192.0.2.1\"\n  }\n  expect allow\n  request GET \"https://h/x\" {\n    ip \"192.0.2.1\"\n  }\n  expect allow\n}\n\ntest \"plain http\" {\n  request GET \"http://h/x\"\n  expect deny 403 tls_required\n}\n",
    )
    .unwrap();
    let out = warden(&["test", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("FAIL  second call is limited"), "{stdout}");
    assert!(stdout.contains("step 2: expected allow, got deny 429 rate_limited (rule `a.GET /x`"), "{stdout}");
    // The failure names the failing `expect` by file, line and column.
    let at = format!("{}:23:3: step 2: expected allow", dir.path().join("a.warden").display());
    assert!(stdout.contains(&at), "{stdout}");
    assert!(stdout.contains("ok    plain http"), "{stdout}");
    assert!(stdout.contains("1 passed, 1 failed"), "{stdout}");
    let out = warden(&["test", dir.path().to_str().unwrap(), "--filter", "plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

/// In CI, testing nothing is a failure (1) unless asked for, and a set that
/// cannot be tested (it does not compile) is told apart from a failed test (2).
#[test]
fn warden_test_fails_when_nothing_runs_and_tells_failures_from_broken_sets() {
    let dir = temp_set(&[("a.warden", ONE_ROUTE)]);
    let set = dir.path().to_str().unwrap();
    let out = warden(&["test", set]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr).trim_end(), format!("error: `{set}` has no tests (`--allow-empty` accepts that)"));
    assert_eq!(warden(&["test", set, "--allow-empty"]).status.code(), Some(0));

    std::fs::write(
        dir.path().join("t.warden"),
        "test \"plain http is refused\" {\n  request GET \"http://h/x\"\n  expect deny 403 tls_required\n}\n",
    )
    .unwrap();
    let junit = dir.path().join("junit.xml");
    let out = warden(&["test", set, "--junit", junit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let xml = std::fs::read_to_string(&junit).unwrap();
    // Times in seconds on the suite and on each case.
    assert!(xml.contains("tests=\"1\" failures=\"0\" time=\""), "{xml}");
    assert!(xml.contains("<testcase name=\"plain http is refused\"") && xml.contains("\" time=\"0."), "{xml}");
    let out = warden(&["test", set, "--filter", "nothing like it"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no test name contains `nothing like it`"), "{}", text(&out.stderr));
    assert_eq!(warden(&["test", set, "--filter", "nothing like it", "--allow-empty"]).status.code(), Some(0));

    // A set that does not compile: its tests cannot run.
    std::fs::write(dir.path().join("broken.warden"), "api b in zone nowhere {\n}\n").unwrap();
    let out = warden(&["test", set]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("nowhere"), "{}", text(&out.stderr));
}

#[test]
fn the_revision_does_not_depend_on_how_the_set_directory_is_spelled() {
    let absolute = std::fs::canonicalize(repo().join("policies/bank")).unwrap();
    let mut revisions = Vec::new();
    for spelling in ["policies/bank", "./policies/bank", absolute.to_str().unwrap(), "policies/bank/"] {
        let out = warden(&["compile", spelling]);
        assert_eq!(out.status.code(), Some(0), "{spelling}: {}", text(&out.stderr));
        let graph: warden_compiler::graph::Graph = serde_json::from_slice(&out.stdout).unwrap();
        // The paths the user sees stay as typed; only the revision ignores them.
        assert!(graph.sources.iter().all(|s| s.starts_with(spelling.trim_end_matches('/'))), "{:?}", graph.sources);
        revisions.push((spelling.to_owned(), graph.revision));
    }
    for (spelling, revision) in &revisions {
        assert_eq!(revision, &revisions[0].1, "`{spelling}` and `{}` differ", revisions[0].0);
    }
    // The service loads through `files::compile_dir`, from wherever its config points.
    let served = warden_project::compile_dir(&absolute).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(served.graph.revision, revisions[0].1);
}

#[test]
fn check_refuses_a_regex_over_the_size_limit_with_code_and_position() {
    for spelling in
        ["compiler/tests/fixtures/errors/regex_too_large", "./compiler/tests/fixtures/errors/regex_too_large/"]
    {
        let out = warden(&["check", spelling]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = text(&out.stderr);
        // Diagnostics name the file as the user spelled its directory.
        let at = format!(
            "{}/z.warden:16:37: error[E0210]: the regular expression is too large",
            spelling.trim_end_matches('/')
        );
        assert!(stderr.contains(&at), "{stderr}");
        assert!(stderr.contains("help: make it smaller"), "{stderr}");
    }
}

/// Runs `warden ARGS` with stdout, and stderr too when `both`, a pipe whose
/// reader is gone before the first byte is written (as behind `| head -1`).
fn with_reader_gone(args: &[&str], both: bool) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    command
        .args(args)
        .env("NO_COLOR", "1")
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(writer.try_clone().unwrap());
    if both {
        command.stderr(writer);
        let status = command.status().unwrap();
        (status.code(), String::new())
    } else {
        drop(writer);
        let out = command.stderr(Stdio::piped()).output().unwrap();
        (out.status.code(), text(&out.stderr))
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    let check = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        check.path(),
        r#"{"request": {"method": "GET", "scheme": "https", "host": "id.example.com", "path": "/v1/me"}}"#,
    )
    .unwrap();
    let check = check.path().to_str().unwrap();
    for args in [
        &["compile", "policies/bank"][..],
        &["compile", "policies/bank", "--emit", "dot"],
        &["test", "policies/bank", "--coverage"],
        &["eval", "policies/identity", check],
        &["check", "policies"],
        &["lint", "policies/todo", "--format", "sarif"],
    ] {
        let (code, stderr) = with_reader_gone(args, false);
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        // The command's own status: these all succeed.
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
    }
    // A failing command keeps its status, and so does one whose stderr is gone as well.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.warden"),
        "zone z {\n  require tls\n}\n\ntest \"t\" {\n  request GET \"https://h/x\"\n  expect allow\n}\n",
    )
    .unwrap();
    let (code, stderr) = with_reader_gone(&["test", dir.path().to_str().unwrap()], false);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(with_reader_gone(&["check", "compiler/tests/fixtures/errors/regex_too_large"], true).0, Some(1));
    assert_eq!(with_reader_gone(&["test", "policies/bank", "--coverage"], true).0, Some(0));
}

#[test]
fn any_other_failure_to_write_the_output_fails_the_command() {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["compile", "policies/todo"])
        .current_dir(repo())
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: cannot write the output: No space left on device"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn commands_on_one_set_name_the_sets_of_a_directory_that_holds_several() {
    let check = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(check.path(), r#"{"request": {"method": "GET", "host": "h", "path": "/"}}"#).unwrap();
    let sets = "`policies` holds several policy sets (`policies/bank`, `policies/identity`, `policies/todo`, `policies/trust`)";
    for (args, advice) in [
        (&["compile", "policies"][..], "compile one of them"),
        (&["test", "policies"], "test one of them"),
        (&["eval", "policies", check.path().to_str().unwrap()], "evaluate the check against one of them"),
    ] {
        let out = warden(args);
        // `warden test` exits 2 when its tests cannot run.
        let code = if args[0] == "test" { 2 } else { 1 };
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let stderr = text(&out.stderr);
        assert_eq!(stderr.trim_end(), format!("error: {sets}; {advice}"), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // `check` and `lint` check each set on its own.
    assert_eq!(warden(&["check", "policies"]).status.code(), Some(0));
    assert_eq!(warden(&["lint", "policies"]).status.code(), Some(0));
}

#[test]
fn serve_refuses_a_directory_of_several_sets_before_listening() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["serve", "--policies", "policies", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"])
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A bounded wait: a service that started would run until killed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    let status = status.unwrap_or_else(|| panic!("`warden serve` was still running after 20 s:\n{stderr}"));
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: `policies` holds several policy sets (`policies/bank`, `policies/identity`, `policies/todo`, `policies/trust`); serve one of them"),
        "{stderr}"
    );
    assert!(!stderr.contains("HTTP on"), "{stderr}");
}

#[test]
fn version_and_completions() {
    let out = warden(&["version"]);
    assert_eq!(out.status.code(), Some(0));
    let version = text(&out.stdout);
    let flag = text(&warden(&["--version"]).stdout);
    assert_eq!(version, flag, "`warden version` says what `--version` does");
    assert!(version.contains(&format!("graph format {}", warden_compiler::graph::GRAPH_VERSION)), "{version}");
    for (shell, marker) in [("bash", "_warden()"), ("zsh", "#compdef warden"), ("fish", "complete -c warden")] {
        let out = warden(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = text(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        // Every subcommand is offered.
        for sub in ["check", "lint", "test", "eval", "serve", "keys", "completions"] {
            assert!(script.contains(sub), "{shell} lacks {sub}");
        }
    }
    let out = warden(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "clap refuses an unknown shell");
}

/// Each hook of `.pre-commit-hooks.yaml` is a `warden` command that passes on
/// a good policy file and fails on a badly formatted or broken one, as
/// pre-commit runs it (the changed files appended).
#[test]
fn the_pre_commit_hooks_run_and_judge_files() {
    let hooks = std::fs::read_to_string(repo().join(".pre-commit-hooks.yaml")).unwrap();
    let entries: Vec<Vec<&str>> = hooks
        .lines()
        .filter_map(|l| l.trim().strip_prefix("entry: "))
        .map(|e| e.split_whitespace().collect())
        .collect();
    assert_eq!(entries.len(), 3, "{hooks}");
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good/a.warden");
    let ugly = dir.path().join("ugly/a.warden");
    let broken = dir.path().join("broken/a.warden");
    let set = ONE_ROUTE;
    let misaligned = set.replace("  auth none", "      auth none");
    let unknown_zone = set.replace("api a in zone z", "api a in zone nowhere");
    for (path, text) in [(&good, set), (&ugly, misaligned.as_str()), (&broken, unknown_zone.as_str())] {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    for entry in &entries {
        assert_eq!(entry[0], "warden", "{entry:?}");
        let run = |file: &Path| {
            let mut args: Vec<&str> = entry[1..].to_vec();
            args.push(file.to_str().unwrap());
            warden(&args).status.code()
        };
        assert_eq!(run(&good), Some(0), "{entry:?} on a good file");
        // `fmt` judges the layout only; `check` and `lint` the meaning only.
        let layout = entry[1] == "fmt";
        assert_eq!(run(&ugly), Some(if layout { 1 } else { 0 }), "{entry:?} on a badly formatted file");
        assert_eq!(run(&broken), Some(if layout { 0 } else { 1 }), "{entry:?} on a broken set");
    }
}

/// Coverage as JSON and LCOV text, and a threshold that fails the run: one
/// route of two exercised, one rule of three decided.
#[test]
fn coverage_is_written_as_json_and_lcov_and_can_gate_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.warden");
    std::fs::write(
        &file,
        "zone z {\n  require tls\n}\n\napi a in zone z {\n  auth none\n\n  route GET \"/x\" {\n    deny when header[\"x-block\"] == \"yes\"\n    allow\n  }\n\n  route GET \"/y\" {\n    allow\n  }\n}\n\ntest \"x\" {\n  request GET \"https://h/x\" {\n    header \"x-block\" = \"no\"\n  }\n  expect allow\n}\n",
    )
    .unwrap();
    let set = dir.path().to_str().unwrap();
    let json = dir.path().join("coverage.json");
    let lcov = dir.path().join("coverage.lcov");
    let out = warden(&[
        "test",
        set,
        "--coverage-json",
        json.to_str().unwrap(),
        "--lcov",
        lcov.to_str().unwrap(),
        "--coverage-min",
        "50",
    ]);
    assert_eq!(out.status.code(), Some(1), "one rule of three is under 50 %: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("coverage is below --coverage-min 50%: 50.0% of routes and actions, 33.3% of rules"),
        "{}",
        text(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        (&doc["endpoints"]["covered"], &doc["endpoints"]["total"]),
        (&serde_json::json!(1), &serde_json::json!(2)),
        "{doc}"
    );
    assert_eq!(
        (&doc["rules"]["covered"], &doc["rules"]["total"]),
        (&serde_json::json!(1), &serde_json::json!(3)),
        "{doc}"
    );
    let never: Vec<(&str, u64)> = doc["rules"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["covered"] == false)
        .map(|i| (i["id"].as_str().unwrap(), i["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(never, [("a.GET /x#1", 9), ("a.GET /y#1", 14)], "{doc}");
    // LCOV: the routes at lines 8 and 13, the rules at 9, 10 and 14.
    let shown = file.to_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(&lcov).unwrap(),
        format!("TN:warden\nSF:{shown}\nDA:8,1\nDA:9,0\nDA:10,1\nDA:13,0\nDA:14,0\nLF:5\nLH:2\nend_of_record\n")
    );
    // A lower threshold passes; a percentage over 100 is a usage error.
    assert_eq!(warden(&["test", set, "--coverage-min", "33"]).status.code(), Some(0));
    assert_eq!(warden(&["test", set, "--coverage-min", "101"]).status.code(), Some(2));
}

/// `warden test --watch` runs the tests, then again after each change, and
/// keeps watching through a change that breaks the set.
#[test]
fn warden_test_watch_runs_again_after_each_change() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.warden");
    let passing = format!(
        "{ONE_ROUTE}\ntest \"plain http\" {{\n  request GET \"http://h/x\"\n  expect deny 403 tls_required\n}}\n"
    );
    std::fs::write(&file, &passing).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["test", "--watch"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Lines until one contains `want` (at most 20 s).
    let until = |want: &str| -> Vec<String> {
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(line) if line.contains(want) => {
                    seen.push(line);
                    return seen;
                }
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        panic!("no line with `{want}` in {seen:?}");
    };
    until("1 passed, 0 failed");
    until("watching");
    // The expectation no longer holds: the next run fails.
    std::fs::write(&file, passing.replace("expect deny 403 tls_required", "expect allow")).unwrap();
    let lines = until("0 passed, 1 failed");
    assert!(lines.iter().any(|l| l.contains("changed: running the tests again")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("FAIL  plain http")), "{lines:?}");
    // Fixed again: it passes again.
    std::fs::write(&file, &passing).unwrap();
    until("1 passed, 0 failed");
    child.kill().unwrap();
    child.wait().unwrap();
    // Report files and --watch do not go together.
    let out = warden(&["test", "--watch", "--junit", "j.xml", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

/// A set's `warden.toml` sets its lints' levels: off, warn or error.
#[test]
fn lint_levels_come_from_the_sets_warden_toml() {
    let dir = temp_set(&[("a.warden", ONE_ROUTE), ("spare.warden", "zone spare {\n  require tls\n}\n")]);
    let set = dir.path().to_str().unwrap();
    let settings = dir.path().join("warden.toml");
    // By default the unused zone is a warning.
    let out = warden(&["lint", set]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("warning[W0309]"), "{}", text(&out.stderr));
    // An error: the run fails.
    std::fs::write(&settings, "[lints]\nunused-declaration = \"error\"\n").unwrap();
    let out = warden(&["lint", set]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error[W0309]: zone `spare` is never used"), "{}", text(&out.stderr));
    // Off: nothing to say, even with --deny-warnings.
    std::fs::write(&settings, "[lints]\nW0309 = \"off\"\n").unwrap();
    let out = warden(&["lint", set, "--deny-warnings"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("no problems"), "{}", text(&out.stdout));
    // A settings file that cannot be read fails the run and says where.
    std::fs::write(&settings, "[lints]\nW0309 = \"silent\"\n").unwrap();
    let out = warden(&["lint", set]);
    assert_eq!(out.status.code(), Some(1));
    let want = format!("error: {}:2:9: `silent` is no lint level (`off`, `warn` or `error`)", settings.display());
    assert!(text(&out.stderr).contains(&want), "{}", text(&out.stderr));
}

/// `warden test` presents a client certificate (`certificate "THUMBPRINT"`),
/// so policies with certificate-bound tokens (RFC 8705) can be tested offline.
#[test]
fn policy_tests_present_client_certificates_for_bound_tokens() {
    let bound = r#"{ sub: "u", cnf: { "x5t#S256": "c6x9lby-9WMH7aoQPE3aJ2Z9HQja5EJJhz8wDXioo68" } }"#;
    let set = temp_set(&[(
        "bound.warden",
        &format!(
            "zone edge {{\n  issuer \"https://idp.example\" {{\n    jwks url \"https://idp.example/jwks\"\n    audience \"https://api.example\"\n  }}\n  require bound\n}}\n\napi a in zone edge {{\n  host \"api.example\"\n  auth bearer\n\n  route GET \"/x\" {{\n    allow\n  }}\n}}\n\ntest \"bound\" {{\n  request GET \"https://api.example/x\" {{\n    token {bound}\n    certificate \"c6x9lby-9WMH7aoQPE3aJ2Z9HQja5EJJhz8wDXioo68\"\n  }}\n  expect allow\n  request GET \"https://api.example/x\" {{\n    token {bound}\n    certificate \"RLNdH-g68OBv4mZU_HWyU0otDqzP798uOo6_u9_OSYU\"\n  }}\n  expect deny 401 token_not_bound\n  request GET \"https://api.example/x\" {{\n    token {{ sub: \"u\" }}\n  }}\n  expect deny 401 token_not_bound\n}}\n"
        ),
    )]);
    let out = warden(&["test", set.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("1 passed, 0 failed"), "{}", text(&out.stdout));
}

/// `warden test` makes DPoP proofs (`dpop`): the request's token is bound to
/// a key of the run and goes with a fresh proof by it.
#[test]
fn policy_tests_make_dpop_proofs() {
    let set = temp_set(&[(
        "dpop.warden",
        "zone edge {\n  issuer \"https://idp.example\" {\n    jwks url \"https://idp.example/jwks\"\n    audience \"https://api.example\"\n  }\n  require bound\n}\n\napi a in zone edge {\n  host \"api.example\"\n  auth bearer\n\n  route GET \"/x\" {\n    allow\n  }\n}\n\ntest \"dpop\" {\n  request GET \"https://api.example/x?page=2\" {\n    token { sub: \"u\" }\n    dpop\n  }\n  expect allow\n  request GET \"https://api.example/x\" {\n    token { sub: \"u\" }\n  }\n  expect deny 401 token_not_bound\n  request GET \"https://api.example/x\" {\n    token { sub: \"u\", cnf: { jkt: \"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs\" } }\n    dpop\n  }\n  expect deny 401 token_not_bound\n}\n",
    )]);
    let out = warden(&["test", set.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("1 passed, 0 failed"), "{}", text(&out.stdout));
}
