//! Differential test of the Cedar export (docs/cedar.md): Warden's rule layer
//! ([`rule_layer`]) and Cedar's `Authorizer::is_authorized` on the exported
//! policies must decide every generated request alike, for the example policy
//! sets and for generated ones. The exported policies must validate in strict
//! mode, and Cedar must never report an evaluation error (every access is guarded).

// A plain `main` (`harness = false` in Cargo.toml), so that `cargo test` always
// shows the case count: libtest would capture it from a passing test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{Authorizer, Context, Entities, EntityUid, PolicySet as CedarPolicies, Request, Schema};
use cedar_policy::{ValidationMode, Validator};
use serde_json::{Map, Value, json};
use warden_compiler::cedar::{CedarExport, NAMESPACE, canonical_json, resource_entity, to_cedar, whole};
use warden_compiler::graph::{Endpoint, EndpointKind, Expr, Graph};
use warden_compiler::{Loader, PolicySet, SourceFile, compile};
use warden_engine::eval::{Facts, Prepared};
use warden_engine::run::rule_layer;

/// The seed of this run's generator: fixed, so a failure reproduces; printed with it.
const SEED: u64 = 0x5eed_ced0_2026;
/// Requests per exactly exported endpoint of an example policy set.
const EXAMPLE_CASES: usize = 400;
/// Generated policy sets, and requests per endpoint of each.
const GENERATED_SETS: usize = 60;
const GENERATED_CASES: usize = 60;

struct DirLoader(PathBuf);

impl Loader for DirLoader {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.0.join(path)).map_err(|e| e.to_string())
    }
}

/// SplitMix64: small, seedable, good enough to pick test values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap()
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn example(name: &str) -> Graph {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies").join(name);
    warden_project::compile_dir(&dir).unwrap_or_else(|e| panic!("{name}: {e}")).graph
}

/// The export parsed and validated in strict mode against its own schema.
struct Cedar {
    export: CedarExport,
    policies: CedarPolicies,
    schema: Schema,
}

fn cedar(g: &Graph, what: &str) -> Cedar {
    let export = to_cedar(g);
    let policies = CedarPolicies::from_str(&export.policies)
        .unwrap_or_else(|e| panic!("{what}: exported policies do not parse: {e:?}\n{}", export.policies));
    let (schema, _) = Schema::from_cedarschema_str(&export.schema)
        .unwrap_or_else(|e| panic!("{what}: exported schema does not parse: {e:?}\n{}", export.schema));
    let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
    let errors: Vec<String> = result.validation_errors().map(|e| format!("{e}")).collect();
    assert!(
        errors.is_empty(),
        "{what}: strict validation failed:\n{}\n{}\n{}",
        errors.join("\n"),
        export.policies,
        export.schema
    );
    Cedar { export, policies, schema }
}

/// A JSON value as the schema's tagged `Value` record (docs/cedar.md).
fn tagged(v: &Value) -> Value {
    match v {
        Value::String(s) => json!({"str": s}),
        Value::Number(n) => json!({"num": whole(n).expect("the generator makes whole numbers only")}),
        Value::Bool(b) => json!({"bool": b}),
        Value::Null => json!({"nil": true}),
        Value::Array(items) => {
            let strs: Vec<&Value> = items.iter().filter(|i| i.is_string()).collect();
            let nums: Vec<i64> = items.iter().filter_map(|i| i.as_number().and_then(whole)).collect();
            let bools: Vec<&Value> = items.iter().filter(|i| i.is_boolean()).collect();
            json!({"list": {"strs": strs, "nums": nums, "bools": bools, "nils": items.iter().any(Value::is_null),
                "json": canonical_json(v).unwrap()}})
        }
        Value::Object(map) => {
            json!({"obj": {"keys": map.keys().collect::<Vec<_>>(), "json": canonical_json(v).unwrap()}})
        }
    }
}

/// The value at a Warden attribute path (fields only), if present.
fn at<'v>(root: Option<&'v Value>, path: &[String]) -> Option<&'v Value> {
    let mut v = root?;
    for k in path {
        v = v.as_object()?.get(k)?;
    }
    Some(v)
}

/// One request to both engines: the facts of Warden's rule layer.
#[derive(Debug)]
struct Case {
    claims: Map<String, Value>,
    params: Vec<String>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    resource: Option<Value>,
    context: Option<Value>,
    peer: Option<String>,
    source_ip: Option<String>,
    method: String,
    path: String,
}

/// The Cedar request for a case (the mapping of docs/cedar.md).
fn cedar_request(c: &Cedar, ep: &Endpoint, case: &Case) -> (Request, Entities) {
    let claims = Value::Object(case.claims.clone());
    let mut records: std::collections::BTreeMap<&str, Map<String, Value>> = std::collections::BTreeMap::new();
    for name in [
        "claims",
        "claim_paths",
        "properties",
        "property_paths",
        "body",
        "body_paths",
        "context",
        "context_paths",
        "query",
        "headers",
        "path",
    ] {
        records.insert(name, Map::new());
    }
    let rtype = match &ep.kind {
        EndpointKind::Action { resource, .. } => Some(resource.clone()),
        EndpointKind::Route { .. } | EndpointKind::Exchange { .. } => None,
    };
    for read in &c.export.reads {
        let nested = read.path.len() > 1;
        let (record, value) = match read.root {
            "claims" => (if nested { "claim_paths" } else { "claims" }, at(Some(&claims), &read.path).map(tagged)),
            "body" => (if nested { "body_paths" } else { "body" }, at(case.body.as_ref(), &read.path).map(tagged)),
            "context" => {
                (if nested { "context_paths" } else { "context" }, at(case.context.as_ref(), &read.path).map(tagged))
            }
            "resource" if read.resource_type == rtype => (
                if nested { "property_paths" } else { "properties" },
                at(case.resource.as_ref(), &read.path).map(tagged),
            ),
            "resource" => continue,
            "query" => ("query", case.query.iter().find(|(k, _)| *k == read.key).map(|(_, v)| json!(v))),
            "headers" => ("headers", case.headers.iter().find(|(k, _)| *k == read.key).map(|(_, v)| json!(v))),
            "path" => ("path", ep.params.iter().position(|p| *p == read.key).map(|i| json!(case.params[i]))),
            other => panic!("unknown root {other}"),
        };
        if let Some(v) = value {
            records.get_mut(record).unwrap().insert(read.key.clone(), v);
        }
    }
    let scopes: Vec<String> = match case.claims.get("scope") {
        Some(Value::String(s)) => s.split(' ').map(str::to_owned).collect(),
        Some(Value::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    };
    let subject = json!({"uid": {"type": format!("{NAMESPACE}::Subject"), "id": "subject"}, "parents": [],
        "attrs": {"claims": records["claims"], "claim_paths": records["claim_paths"], "scopes": scopes}});
    let (resource_uid, resource) = match &rtype {
        Some(rt) => {
            let ty = format!("{NAMESPACE}::{}", resource_entity(rt));
            (
                json!({"type": ty, "id": "resource"}),
                json!({"uid": {"type": ty, "id": "resource"}, "parents": [],
                "attrs": {"properties": records["properties"], "property_paths": records["property_paths"]}}),
            )
        }
        None => {
            let ty = format!("{NAMESPACE}::Route");
            (json!({"type": ty, "id": ep.id}), json!({"uid": {"type": ty, "id": ep.id}, "parents": [], "attrs": {}}))
        }
    };
    let entities = Entities::from_json_value(json!([subject, resource]), Some(&c.schema))
        .unwrap_or_else(|e| panic!("entities do not fit the schema: {e:?}"));
    let mut context = json!({
        "path": records["path"], "query": records["query"], "headers": records["headers"],
        "body": records["body"], "body_paths": records["body_paths"],
        "context": records["context"], "context_paths": records["context_paths"],
        "request": {"method": case.method, "path": case.path, "host": "api.example", "scheme": "https"},
    });
    if let Some(p) = &case.peer {
        context["peer"] = json!(p);
    }
    if let Some(ip) = &case.source_ip {
        context["source_ip"] = json!(ip);
    }
    let action = EntityUid::from_json(json!({"type": format!("{NAMESPACE}::Action"), "id": ep.id})).unwrap();
    let context = Context::from_json_value(context, Some((&c.schema, &action)))
        .unwrap_or_else(|e| panic!("context does not fit the schema: {e:?}"));
    let principal = EntityUid::from_json(json!({"type": format!("{NAMESPACE}::Subject"), "id": "subject"})).unwrap();
    let resource = EntityUid::from_json(resource_uid).unwrap();
    let request = Request::new(principal, action, resource, context, Some(&c.schema))
        .unwrap_or_else(|e| panic!("request does not fit the schema: {e:?}"));
    (request, entities)
}

/// Strings and numbers the policy mentions, and variations, so generated values hit the rules.
fn pool(g: &Graph) -> (Vec<String>, Vec<i64>) {
    fn collect(v: &Value, strs: &mut Vec<String>, nums: &mut Vec<i64>) {
        match v {
            Value::String(s) => strs.push(s.clone()),
            Value::Number(n) => nums.extend(whole(n)),
            Value::Array(items) => items.iter().for_each(|i| collect(i, strs, nums)),
            Value::Object(m) => m.iter().for_each(|(k, v)| {
                strs.push(k.clone());
                collect(v, strs, nums);
            }),
            _ => {}
        }
    }
    let mut strs = vec!["u-1".to_owned(), "42".to_owned(), String::new(), "a*b".to_owned(), "admin".to_owned()];
    let mut nums = vec![0, 1, 3, -2, 100];
    for e in &g.exprs {
        if let Expr::Const(v) = e {
            collect(v, &mut strs, &mut nums);
        }
    }
    for d in &g.data {
        collect(&d.value, &mut strs, &mut nums);
    }
    strs.truncate(64);
    let extra: Vec<String> = strs.iter().take(16).map(|s| format!("x{s}y")).collect();
    strs.extend(extra);
    strs.sort();
    strs.dedup();
    nums.sort_unstable();
    nums.dedup();
    (strs, nums)
}

fn value(rng: &mut Rng, strs: &[String], nums: &[i64], depth: usize) -> Value {
    match rng.below(if depth > 1 { 4 } else { 7 }) {
        0 | 1 => json!(rng.pick(strs)),
        2 => json!(rng.pick(nums)),
        3 => json!(rng.chance(50)),
        4 => Value::Null,
        5 => Value::Array((0..rng.below(4)).map(|_| value(rng, strs, nums, depth + 1)).collect()),
        _ => Value::Object(
            (0..rng.below(3)).map(|_| (rng.pick(strs).clone(), value(rng, strs, nums, depth + 1))).collect(),
        ),
    }
}

/// An object with some of the names read (top-level and nested), random values, some missing.
fn object(rng: &mut Rng, paths: &[Vec<String>], strs: &[String], nums: &[i64]) -> Value {
    let mut out = Value::Object(Map::new());
    for path in paths {
        if rng.chance(25) {
            continue;
        }
        let mut at = &mut out;
        for (i, k) in path.iter().enumerate() {
            let Value::Object(map) = at else { break };
            if i + 1 == path.len() {
                map.insert(k.clone(), value(rng, strs, nums, 0));
                break;
            }
            let next = map.entry(k.clone()).or_insert_with(|| Value::Object(Map::new()));
            at = next;
        }
    }
    out
}

fn case(rng: &mut Rng, c: &Cedar, ep: &Endpoint, strs: &[String], nums: &[i64]) -> Case {
    let paths = |root: &str| -> Vec<Vec<String>> {
        c.export.reads.iter().filter(|r| r.root == root).map(|r| r.path.clone()).collect()
    };
    let mut claims = object(rng, &paths("claims"), strs, nums).as_object().cloned().unwrap();
    let scope_pool = [
        "accounts:read",
        "accounts:admin",
        "payments:write",
        "payments:read",
        "ledger:read",
        "ledger:write",
        "profile:read",
        "users:lock",
        "todo:read",
        "todo:write",
    ];
    if rng.chance(85) {
        let n = rng.below(4);
        let chosen: Vec<&str> = (0..n).map(|_| *rng.pick(&scope_pool)).collect();
        claims.insert("scope".to_owned(), if rng.chance(50) { json!(chosen.join(" ")) } else { json!(chosen) });
    }
    let names = |root: &str| -> Vec<String> {
        c.export.reads.iter().filter(|r| r.root == root).map(|r| r.key.clone()).collect()
    };
    let pick_str = |rng: &mut Rng| rng.pick(strs).clone();
    Case {
        claims,
        params: ep.params.iter().map(|_| pick_str(rng)).collect(),
        query: names("query").into_iter().filter_map(|n| rng.chance(70).then(|| (n, pick_str(rng)))).collect(),
        headers: names("headers").into_iter().filter_map(|n| rng.chance(70).then(|| (n, pick_str(rng)))).collect(),
        body: rng.chance(90).then(|| object(rng, &paths("body"), strs, nums)),
        resource: rng.chance(95).then(|| object(rng, &paths("resource"), strs, nums)),
        context: rng.chance(90).then(|| object(rng, &paths("context"), strs, nums)),
        peer: rng.chance(80).then(|| pick_str(rng)),
        source_ip: rng.chance(80).then(|| rng.pick(&["10.1.2.3", "198.51.100.7", "not-an-ip"]).to_string()),
        method: rng.pick(&["GET", "POST", "read"]).to_string(),
        path: rng.pick(&["/x", "/v1/accounts/42"]).to_string(),
    }
}

/// Cases run and how many of them were allowed, across the whole test.
static ALLOWED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs `cases` requests per endpoint; returns (cases on exactly exported endpoints,
/// endpoints that are not, where Cedar is only checked never to allow more).
fn differential(g: &Graph, what: &str, rng: &mut Rng, cases: usize) -> (usize, usize) {
    let c = cedar(g, what);
    let prepared = Prepared::new(g.clone()).unwrap();
    let (strs, nums) = pool(g);
    let authorizer = Authorizer::new();
    let mut run = 0;
    let mut skipped = 0;
    for ep in &g.endpoints {
        // A token exchange issues a token: it is not exported to Cedar at all.
        if matches!(ep.kind, EndpointKind::Exchange { .. }) {
            skipped += 1;
            continue;
        }
        // An endpoint with a rule Cedar cannot express is only checked to be
        // exported fail closed: Cedar may deny more, never allow more.
        let exact = c.export.is_exact(&ep.id);
        if !exact {
            skipped += 1;
        }
        for _ in 0..cases {
            let case = case(rng, &c, ep, &strs, &nums);
            let params: Vec<&str> = case.params.iter().map(String::as_str).collect();
            let facts = Facts {
                claims: Some(&case.claims),
                params: &params,
                param_names: &ep.params,
                query: &case.query,
                headers: &case.headers,
                body: case.body.as_ref(),
                resource: case.resource.as_ref(),
                context: case.context.as_ref(),
                peer: case.peer.as_deref(),
                source_ip: case.source_ip.as_deref(),
                method: &case.method,
                path: &case.path,
                host: "api.example",
                scheme: "https",
            };
            let warden = rule_layer(&prepared, ep, &facts, case.claims.get("scope"));
            let (request, entities) = cedar_request(&c, ep, &case);
            let answer = authorizer.is_authorized(&request, &c.policies, &entities);
            let cedar_allows = answer.decision() == cedar_policy::Decision::Allow;
            let errors: Vec<String> = answer.diagnostics().errors().map(|e| format!("{e}")).collect();
            let agree = if exact { warden.allow == cedar_allows } else { warden.allow || !cedar_allows };
            if !agree || !errors.is_empty() {
                panic!(
                    "{what}: Warden and Cedar disagree (seed {SEED:#x})\nendpoint: {}\nrequest: {case:#?}\nwarden: {} ({:?}: {})\ncedar: {:?}, errors {errors:?}\npolicies:\n{}",
                    ep.id,
                    warden.allow,
                    warden.reason,
                    warden.detail,
                    answer.decision(),
                    c.export.policies
                );
            }
            if !exact {
                continue;
            }
            if cedar_allows {
                ALLOWED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            run += 1;
        }
    }
    (run, skipped)
}

/// A random rule condition over claims, resource properties, context and request values.
fn condition(rng: &mut Rng, attrs: &[&str], depth: usize) -> String {
    let consts = ["\"u-1\"", "\"admin\"", "3", "0", "true", "null", "[\"u-1\", \"admin\"]", "[1, 3]", "\"a*b\""];
    let operand = |rng: &mut Rng| -> String {
        if rng.chance(60) { rng.pick(attrs).to_string() } else { rng.pick(&consts).to_string() }
    };
    let leaf = |rng: &mut Rng| -> String {
        match rng.below(6) {
            0 => format!("has({})", rng.pick(attrs)),
            1 => format!("{} {} {}", rng.pick(attrs), rng.pick(&["<", "<=", ">", ">="]), rng.pick(&["3", "0", "-1"])),
            2 => format!("{} {} {}", operand(rng), rng.pick(&["in", "not in"]), rng.pick(attrs)),
            3 => format!("{}({}, \"ad\")", rng.pick(&["starts_with", "ends_with"]), rng.pick(attrs)),
            4 => rng.pick(&attrs[..3]).to_string(),
            _ => format!("{} {} {}", rng.pick(attrs), rng.pick(&["==", "!="]), operand(rng)),
        }
    };
    if depth == 0 || rng.chance(40) {
        return leaf(rng);
    }
    match rng.below(3) {
        0 => format!("not ({})", condition(rng, attrs, depth - 1)),
        1 => format!("({}) and ({})", condition(rng, attrs, depth - 1), condition(rng, attrs, depth - 1)),
        _ => format!("({}) or ({})", condition(rng, attrs, depth - 1), condition(rng, attrs, depth - 1)),
    }
}

/// Attributes of resource actions and of routes (the first three are read as conditions too).
const ACTION_ATTRS: &[&str] = &[
    "claim.flag",
    "resource.level",
    "context.mode",
    "claim.sub",
    "claim.level",
    "claim.roles",
    "claim.org.id",
    "resource.owner",
    "resource.tags",
    "resource.meta.owner",
    "context.env.tier",
    "peer.principal",
    "request.method",
];
const ROUTE_ATTRS: &[&str] = &[
    "claim.flag",
    "body.flag",
    "body.meta.on",
    "claim.sub",
    "claim.roles",
    "claim.level",
    "path.id",
    "query.q",
    "header[\"x-h\"]",
    "body.owner",
    "body.items",
    "body.meta.level",
    "source.ip",
];

fn rules(rng: &mut Rng, attrs: &[&str]) -> String {
    let mut rules = String::new();
    if rng.chance(30) {
        rules.push_str(&format!("    scope \"{}\"\n", rng.pick(&["accounts:read", "todo:write"])));
    }
    for _ in 0..rng.below(3) {
        rules.push_str(&format!("    deny when {}\n", condition(rng, attrs, 2)));
    }
    for _ in 0..1 + rng.below(2) {
        if rng.chance(10) {
            rules.push_str("    allow\n");
        } else {
            rules.push_str(&format!("    allow when {}\n", condition(rng, attrs, 2)));
        }
    }
    rules
}

/// A random policy set: a resource with three actions and an api with two routes.
fn generated_set(rng: &mut Rng) -> String {
    let mut actions = String::new();
    for a in 0..3 {
        actions.push_str(&format!("  action a{a} {{\n{}  }}\n", rules(rng, ACTION_ATTRS)));
    }
    let mut routes = String::new();
    for (i, path) in ["/items/{id}", "/items/{id}/parts"].iter().enumerate() {
        let method = if i == 0 { "POST" } else { "PUT" };
        routes.push_str(&format!("  route {method} \"{path}\" {{\n{}  }}\n", rules(rng, ROUTE_ATTRS)));
    }
    format!(
        "zone z {{\n  require tls\n}}\n\nresource doc in zone z {{\n  auth asserted\n{actions}}}\n\napi web in zone z {{\n  auth asserted\n{routes}}}\n"
    )
}

fn warden_and_cedar_agree() {
    let started = std::time::Instant::now();
    let mut rng = Rng(SEED);
    let mut total = 0;
    for name in ["bank", "identity", "todo", "trust"] {
        let (run, skipped) = differential(&example(name), name, &mut rng, EXAMPLE_CASES);
        println!("cedar_diff: {name}: {run} cases, {skipped} endpoints not exported exactly");
        assert!(run > 0, "{name}: no endpoint was exported exactly");
        total += run;
    }
    let (mut sets, mut refused, mut skipped) = (0, 0, 0);
    let mut generated = 0;
    for i in 0..GENERATED_SETS {
        // A set the compiler refuses (static type errors such as `request.method < 3`
        // are its to catch) is drawn again.
        let (g, text) = loop {
            let text = generated_set(&mut rng);
            let set = PolicySet { files: vec![SourceFile::new("gen.warden", text.clone())] };
            match compile(&set, &DirLoader(PathBuf::from("/nonexistent"))) {
                Ok((g, _)) => break (g, text),
                Err(d) => {
                    assert!(d.iter().any(|d| d.diagnostic.is_error()), "{text}");
                    refused += 1;
                }
            }
        };
        sets += 1;
        let (run, not_exact) = differential(&g, &format!("generated set {i}:\n{text}"), &mut rng, GENERATED_CASES);
        generated += run;
        skipped += not_exact;
    }
    total += generated;
    println!(
        "cedar_diff: generated: {sets} sets ({refused} more refused by the compiler), {generated} cases, {skipped} endpoints not exported exactly"
    );
    let allowed = ALLOWED.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "cedar_diff: {total} cases agree ({allowed} allowed, {} denied; seed {SEED:#x}) in {:.1?}",
        total - allowed,
        started.elapsed()
    );
    // Both answers must be common, or agreement would say little.
    assert!(allowed * 10 >= total && (total - allowed) * 10 >= total, "{allowed} of {total} allowed");
    assert!(generated >= 5_000, "too few generated cases: {generated}");
    assert!(total >= 10_000, "too few cases: {total}");
}

/// The request of docs/cedar.md, as written there: allowed, and denied once the tenants differ.
fn the_documented_request_is_decided_as_documented() {
    let c = cedar(&example("todo"), "todo");
    let entities = |tenant: &str| {
        json!([
            {"uid": {"type": "Warden::Subject", "id": "subject"}, "parents": [],
             "attrs": {"claims": {"sub": {"str": "u-1"}, "tenant": {"str": "acme"}}, "claim_paths": {}, "scopes": []}},
            {"uid": {"type": "Warden::Resource_todo", "id": "resource"}, "parents": [],
             "attrs": {"properties": {"owner": {"str": "u-1"}, "tenant": {"str": tenant}}, "property_paths": {}}}
        ])
    };
    let context = json!({"path": {}, "query": {}, "headers": {}, "body": {}, "body_paths": {},
        "context": {}, "context_paths": {}, "request": {"method": "read", "path": "", "host": "", "scheme": "https"}});
    let decide = |tenant: &str| {
        let action: EntityUid = r#"Warden::Action::"todo.read""#.parse().unwrap();
        let request = Request::new(
            r#"Warden::Subject::"subject""#.parse().unwrap(),
            action.clone(),
            r#"Warden::Resource_todo::"resource""#.parse().unwrap(),
            Context::from_json_value(context.clone(), Some((&c.schema, &action))).unwrap(),
            Some(&c.schema),
        )
        .unwrap();
        let entities = Entities::from_json_value(entities(tenant), Some(&c.schema)).unwrap();
        Authorizer::new().is_authorized(&request, &c.policies, &entities).decision()
    };
    assert_eq!(decide("acme"), cedar_policy::Decision::Allow);
    assert_eq!(decide("other"), cedar_policy::Decision::Deny);
}

fn main() {
    the_documented_request_is_decided_as_documented();
    println!("cedar_diff: the documented request is decided as documented");
    warden_and_cedar_agree();
}
