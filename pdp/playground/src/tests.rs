//! The playground's answers, natively: the same functions the page calls
//! through WebAssembly, on the example sets and on broken input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use serde_json::{Value, json};

use crate::api;

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The files of the example set `name`, as the page sends them.
fn example(name: &str) -> String {
    let sets = parse(&api::examples());
    let set = sets.as_array().unwrap().iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no {name}"));
    set["files"].to_string()
}

#[test]
fn the_examples_are_the_sets_of_policies_and_each_checks_and_passes_its_tests() {
    let sets = parse(&api::examples());
    let names: Vec<&str> = sets.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["bank", "identity", "todo", "trust"]);
    for name in names {
        let files = example(name);
        // Key sets and data files come along with the policies.
        let paths: Vec<String> =
            parse(&files).as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap().to_owned()).collect();
        if name == "bank" {
            assert!(
                paths.contains(&"keys/idp.jwks.json".to_owned()) && paths.contains(&"data/tellers.json".to_owned())
            );
        }
        let checked = parse(&api::check(&files));
        assert_eq!(checked["ok"], true, "{name}: {checked}");
        assert!(checked["revision"].as_str().is_some_and(|r| r.len() >= 16), "{checked}");
        let run = parse(&api::run_tests(&files));
        let results = run["results"].as_array().unwrap();
        assert!(results.len() >= 3, "{name}: {run}");
        let failed: Vec<&Value> = results.iter().filter(|r| !r["failures"].as_array().unwrap().is_empty()).collect();
        assert!(failed.is_empty(), "{name}: {failed:?}");
        assert_eq!(run["ok"], true);
        let coverage = run["coverage"].as_array().unwrap();
        assert!(coverage.iter().any(|c| c["kind"] == "endpoint" && c["covered"] == true), "{name}");
    }
}

#[test]
fn the_revision_does_not_depend_on_the_order_the_page_lists_files_in() {
    let files = parse(&example("bank"));
    let mut reversed = files.as_array().unwrap().clone();
    reversed.reverse();
    let forward = parse(&api::check(&files.to_string()));
    let backward = parse(&api::check(&Value::Array(reversed).to_string()));
    assert_eq!(forward["revision"], backward["revision"]);
    assert!(forward["revision"].is_string());
}

#[test]
fn a_broken_line_is_reported_where_it_is_and_the_fix_clears_it() {
    let policy =
        "zone edge {\n  require tls\n}\n\napi a in zone edge {\n  auth none\n  route GET \"/x {\n    allow\n  }\n}\n";
    let files = json!([{"path": "main.warden", "text": policy}]).to_string();
    let checked = parse(&api::check(&files));
    assert_eq!(checked["ok"], false);
    let d = &checked["diagnostics"][0];
    assert_eq!((d["code"].as_str(), d["severity"].as_str()), (Some("E0101"), Some("error")), "{checked}");
    assert_eq!(
        (d["path"].as_str(), d["line"].as_u64(), d["column"].as_u64()),
        (Some("main.warden"), Some(7), Some(13))
    );
    let fixed = json!([{"path": "main.warden", "text": policy.replace("\"/x {", "\"/x\" {")}]).to_string();
    let checked = parse(&api::check(&fixed));
    assert_eq!(checked["ok"], true, "{checked}");
    assert!(checked["diagnostics"].as_array().unwrap().iter().all(|d| d["severity"] == "warning"));
}

#[test]
fn a_request_is_allowed_or_denied_with_its_reason_and_a_token_signed_here() {
    let files = example("bank");
    let ask = |request: Value| parse(&api::decide(&files, &request.to_string()));
    let allowed = ask(json!({"method": "GET", "url": "https://api.bank.example/v1/accounts/42",
        "headers": {}, "source_ip": "203.0.113.7",
        "claims": {"sub": "u-1", "customer_id": "42", "scope": "accounts:read"}}));
    assert_eq!(allowed["ok"], true, "{allowed}");
    assert_eq!(allowed["decision"]["allow"], true, "{allowed}");
    assert_eq!(allowed["decision"]["reason"], "allowed");
    // The token is a JWT of the bank's edge issuer, filled in from the zone.
    let token = allowed["token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3);
    let another = ask(json!({"method": "GET", "url": "https://api.bank.example/v1/accounts/43",
        "claims": {"sub": "u-1", "customer_id": "42", "scope": "accounts:read"}}));
    assert_eq!(
        (another["decision"]["allow"].as_bool(), another["decision"]["reason"].as_str()),
        (Some(false), Some("no_allow_rule"))
    );
    let no_token = ask(json!({"method": "GET", "url": "https://api.bank.example/v1/accounts/42"}));
    assert_eq!(no_token["decision"]["reason"], "credentials_missing", "{no_token}");
    assert_eq!(no_token["decision"]["status"], 401);
    // A token of an issuer the set does not know is signed by a key nobody trusts.
    let stranger = ask(json!({"method": "GET", "url": "https://api.bank.example/v1/accounts/42",
        "claims": {"iss": "https://evil.example", "sub": "u-1", "customer_id": "42", "scope": "accounts:read"}}));
    assert_eq!(stranger["decision"]["allow"], false, "{stranger}");
    // A set without issuers has no key to sign a token with: said so.
    let none = json!([{"path": "main.warden", "text": "zone z {\n  require tls\n}\n\napi a in zone z {\n  auth none\n  route GET \"/x\" {\n    allow\n  }\n}\n"}]);
    let answer = parse(&api::decide(
        &none.to_string(),
        &json!({"method": "GET", "url": "/x", "claims": {"sub": "u"}}).to_string(),
    ));
    assert!(answer["error"].as_str().unwrap().contains("trusts no token issuer"), "{answer}");
    // What cannot be judged is said, not guessed.
    let bad = ask(json!({"method": "GET", "url": "not a url"}));
    assert_eq!(bad["ok"], false);
    assert!(bad["error"].as_str().unwrap().contains("not a URL"), "{bad}");
}

#[test]
fn formatting_lays_a_file_out_or_says_why_not() {
    let formatted = parse(&api::format("zone edge {   require tls }\n"));
    assert_eq!(formatted["ok"], true);
    assert_eq!(formatted["text"], "zone edge {\n  require tls\n}\n");
    let broken = parse(&api::format("zone edge {\n  require \"tls\n}\n"));
    assert_eq!(broken["ok"], false);
    assert_eq!(broken["diagnostics"][0]["line"], 2, "{broken}");
}

#[test]
fn the_graph_is_drawn_and_the_issuers_listed() {
    let files = example("bank");
    let drawn = parse(&api::graph_svg(&files));
    assert_eq!(drawn["ok"], true);
    let svg = drawn["svg"].as_str().unwrap();
    assert!(svg.starts_with("<svg ") && svg.contains("GET /v1/accounts/{account_id}"), "{}", &svg[..200]);
    let issuers = parse(&api::issuers(&files));
    assert!(issuers.as_array().unwrap().iter().any(|i| i["iss"] == "https://idp.bank.example"), "{issuers}");
}

#[test]
fn input_out_of_bounds_or_outside_the_set_is_refused() {
    let answer = |files: Value| parse(&api::check(&files.to_string()));
    let escaping = answer(json!([{"path": "../etc/passwd", "text": ""}, {"path": "a.warden", "text": ""}]));
    assert!(escaping["error"].as_str().unwrap().contains("not a path inside the set"), "{escaping}");
    let twice = answer(json!([{"path": "a.warden", "text": ""}, {"path": "a.warden", "text": ""}]));
    assert!(twice["error"].as_str().unwrap().contains("given twice"));
    let many: Vec<Value> = (0..=api::MAX_FILES).map(|i| json!({"path": format!("f{i}.warden"), "text": ""})).collect();
    assert!(answer(Value::Array(many))["error"].as_str().unwrap().contains("at most"));
    let big = answer(json!([{"path": "a.warden", "text": "x".repeat(api::MAX_BYTES + 1)}]));
    assert!(big["error"].as_str().unwrap().contains("MiB"));
    assert_eq!(parse(&api::check("not json"))["ok"], false);
    assert_eq!(answer(json!([{"path": "keys.json", "text": "{}"}]))["error"], "no `.warden` file");
}
