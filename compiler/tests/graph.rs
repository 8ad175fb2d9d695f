//! The decision graph: snapshots for every example policy set, and focused tests of
//! constant folding, sub-expression sharing, step order and route lookup.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

mod common;

use std::path::PathBuf;

use common::{DirLoader, example_dir, load};
use serde_json::json;
use warden_compiler::graph::{
    Auth, EndpointKind, Expr, Graph, LimitStage, Method, ParamSpans, RouteMatch, StepKind, param_value,
};
use warden_compiler::{PolicySet, SourceFile, compile};

fn example(name: &str) -> Graph {
    let dir = example_dir(name);
    compile(&load(&dir), &DirLoader(dir)).unwrap_or_else(|d| panic!("{name}: {d:#?}")).0
}

/// Compiles one in-memory file against a zone with no referenced files.
fn compile_one(body: &str) -> Graph {
    let text = format!("zone z {{\n  require tls\n}}\n\n{body}");
    let set = PolicySet { files: vec![SourceFile::new("t.warden", text)] };
    compile(&set, &DirLoader(PathBuf::from("/nonexistent"))).unwrap_or_else(|d| panic!("{d:#?}")).0
}

fn route(rules: &str) -> String {
    format!("api a in zone z {{\n  auth none\n  route GET \"/x/{{id}}\" {{\n{rules}\n  }}\n}}\n")
}

fn allows(g: &Graph, endpoint: usize) -> Vec<Option<u32>> {
    g.endpoints[endpoint]
        .steps
        .iter()
        .find_map(|s| {
            if let StepKind::Allow(rules) = &s.kind { Some(rules.iter().map(|r| r.when).collect()) } else { None }
        })
        .unwrap()
}

#[test]
fn graph_of_every_example_policy_set() {
    for name in ["bank", "identity", "todo", "trust"] {
        let g = example(name);
        assert_eq!(g.version, 1);
        assert_eq!(g.revision.len(), 64);
        // The JSON round-trips: the engine can load what the compiler writes.
        let text = serde_json::to_string(&g).unwrap();
        assert_eq!(serde_json::from_str::<Graph>(&text).unwrap(), g);
        insta::assert_json_snapshot!(format!("graph_{name}"), g);
    }
}

#[test]
fn constants_fold() {
    let g = compile_one(&route(
        "    allow when 1 < 2\n    allow when lower(\"ABC\") == \"abc\" and path.id == \"7\"\n    allow when not true\n    allow when len([1, 2, 3]) == 3 or path.id == \"x\"",
    ));
    let when = allows(&g, 0);
    // `1 < 2` is `allow`.
    assert_eq!(when[0], None);
    // The folded `true` drops out of the `and`, leaving the comparison alone.
    let Some(Expr::Cmp { .. }) = g.exprs.get(when[1].unwrap() as usize) else { panic!("{:?}", g.exprs) };
    // `not true` is the constant false.
    assert_eq!(g.exprs[when[2].unwrap() as usize], Expr::Const(json!(false)));
    // A true first operand decides an `or`, which makes the rule a plain `allow`.
    assert_eq!(when[3], None);
}

#[test]
fn folding_keeps_errors_that_evaluation_order_would_raise() {
    // `claim.x == 1 and false`: the comparison may error (missing claim) before
    // `false` is reached, and an erroring deny denies; so it is not folded away.
    let g = compile_one(&route("    deny when path.id == \"1\" and false\n    allow"));
    let deny =
        g.endpoints[0].steps.iter().find_map(|s| if let StepKind::Deny(e) = s.kind { Some(e) } else { None }).unwrap();
    let Expr::And(items) = &g.exprs[deny as usize] else { panic!("{:?}", g.exprs[deny as usize]) };
    assert_eq!(items.len(), 2);
    // …but a leading `false` decides at once.
    let g = compile_one(&route("    deny when false and path.id == \"1\"\n    allow"));
    let deny =
        g.endpoints[0].steps.iter().find_map(|s| if let StepKind::Deny(e) = s.kind { Some(e) } else { None }).unwrap();
    assert_eq!(g.exprs[deny as usize], Expr::Const(json!(false)));
}

#[test]
fn identical_sub_expressions_are_stored_once() {
    let text = "api a in zone z {\n  auth none\n  route GET \"/a/{id}\" {\n    allow when path.id == \"1\" and header[\"x-t\"] == \"t\"\n  }\n  route GET \"/b/{id}\" {\n    allow when header[\"x-t\"] == \"t\"\n  }\n}\n";
    let g = compile_one(text);
    let a = allows(&g, 0)[0].unwrap();
    let b = allows(&g, 1)[0].unwrap();
    let Expr::And(items) = &g.exprs[a as usize] else { panic!() };
    // The second route's whole condition is the first route's second operand.
    assert_eq!(items[1], b);
    // And names are slots, not strings, in the expression.
    assert_eq!(g.names.headers, ["x-t"]);
    assert!(matches!(g.exprs.iter().find(|e| matches!(e, Expr::Header(_))), Some(Expr::Header(0))));
    // Path parameters resolve to their position in the route.
    assert!(g.exprs.contains(&Expr::PathParam(0)));
}

#[test]
fn steps_follow_the_decision_table() {
    let text = "limit pre = 5 per 1m by source.ip\nlimit post = 5 per 1m by claim.sub\nschema S {\n  a: string\n}\n\nzone e {\n  issuer \"https://idp.example\" {\n    jwks url \"https://idp.example/jwks\"\n    audience \"https://api.example\"\n  }\n}\n\napi a in zone e {\n  auth bearer\n  limit post, pre\n  route POST \"/x\" {\n    scope \"x:write\"\n    body json S max 1KiB\n    allow when body.a == claim.a\n    deny when claim.blocked == true\n    upstream header \"x-sub\" = claim.sub\n  }\n}\n";
    let g = compile_one(text);
    let kinds: Vec<String> = g.endpoints[0]
        .steps
        .iter()
        .map(|s| match &s.kind {
            StepKind::Transport { .. } => "transport".to_owned(),
            StepKind::Limit { stage: LimitStage::PreAuth, .. } => "pre-limit".to_owned(),
            StepKind::Limit { stage: LimitStage::PostAuth, .. } => "post-limit".to_owned(),
            StepKind::Authenticate(_) => "auth".to_owned(),
            StepKind::Scopes { .. } => "scopes".to_owned(),
            StepKind::Body { max_bytes, .. } => format!("body {max_bytes}"),
            StepKind::Deny(_) => "deny".to_owned(),
            StepKind::Allow(_) => "allow".to_owned(),
            StepKind::UpstreamHeader { .. } => "header".to_owned(),
            StepKind::Mint(m) => format!("mint {}", m.zone),
            StepKind::Subject { .. } => "subject".to_owned(),
            StepKind::Ban { ban } => format!("ban {ban}"),
        })
        .collect();
    assert_eq!(kinds, ["pre-limit", "auth", "scopes", "post-limit", "body 1024", "deny", "allow", "header"]);
    // Rule ids number the rules in source order.
    assert_eq!(g.endpoints[0].id, "a.POST /x");
    assert_eq!(&*g.endpoints[0].steps[5].rule, "a.POST /x#2");
}

#[test]
fn bans_counted_anywhere_in_a_zone_are_checked_on_every_endpoint_of_it() {
    let text = "limit pre = 5 per 1m by source.ip\nban by_ip = 3 of 401, secret_invalid per 1m by source.ip for 10m max 1h status 429 except \"10.0.0.0/8\"\nban by_sub = 3 of 403 per 1m by claim.sub for 5m\n\nzone e {\n  issuer \"https://idp.example\" {\n    jwks url \"https://idp.example/jwks\"\n    audience \"https://api.example\"\n  }\n}\n\nzone other {\n  require tls\n}\n\napi a in zone e {\n  auth bearer\n  limit pre\n  route POST \"/login\" {\n    ban by_ip, by_sub\n    allow\n  }\n  route GET \"/x\" {\n    allow\n  }\n}\n\napi b in zone other {\n  host \"b.example\"\n  auth none\n  route GET \"/y\" {\n    allow\n  }\n}\n";
    let g = compile_one(text);
    let kinds = |ep: usize| -> Vec<String> {
        g.endpoints[ep]
            .steps
            .iter()
            .map(|s| match &s.kind {
                StepKind::Ban { ban } => format!("ban {}", g.bans[*ban as usize].name),
                StepKind::Limit { .. } => "limit".to_owned(),
                StepKind::Authenticate(_) => "auth".to_owned(),
                StepKind::Allow(_) => "allow".to_owned(),
                StepKind::Body { .. } => "body".to_owned(),
                other => format!("{other:?}"),
            })
            .collect()
    };
    // Counted at the login route, checked on both routes of the zone: a key
    // of the request before the limits, a key of the identity after authentication.
    for ep in [0, 1] {
        assert_eq!(kinds(ep), ["ban by_ip", "limit", "auth", "ban by_sub", "body", "allow"], "{ep}");
    }
    assert_eq!((g.endpoints[0].bans.as_slice(), g.endpoints[1].bans.as_slice()), (&[0, 1][..], &[][..]));
    // Another zone is not touched.
    assert_eq!(kinds(2), ["Transport { require_tls: true, mtls_peers: None, networks: [] }", "auth", "body", "allow"]);
    let b = &g.bans[0];
    assert_eq!(
        (b.count, b.period_ms, b.length_ms, b.max_ms, b.status, b.statuses.as_slice(), b.reasons.as_slice()),
        (3, 60_000, 600_000, 3_600_000, 429, &[401][..], &["secret_invalid".to_owned()][..])
    );
    assert_eq!(
        (b.stage, g.bans[1].stage, b.except.as_slice()),
        (LimitStage::PreAuth, LimitStage::PostAuth, &["10.0.0.0/8".to_owned()][..])
    );
    assert_eq!(b.fingerprint.len(), 16);
}

#[test]
fn a_mint_is_the_last_step_with_the_target_zone_issuer_and_audience() {
    let text = "zone edge {\n  issuer \"https://idp.example\" {\n    jwks url \"https://idp.example/jwks\"\n    audience \"https://api.example\"\n  }\n}\n\nzone internal {\n  issuer \"https://edge.example\" {\n    jwks url \"https://edge.example/.well-known/jwks.json\"\n    audience \"internal\", \"internal-2\"\n  }\n}\n\napi a in zone edge {\n  auth bearer\n  mint for zone internal {\n    claim tenant = \"acme\"\n  }\n  route GET \"/x/{id}\" {\n    scope \"x:read\"\n    scope any \"y:a\", \"y:b\"\n    allow\n    upstream header \"x-sub\" = claim.sub\n    mint for zone internal {\n      claim account = path.id\n      lifetime 90s\n      header \"x-internal-token\"\n    }\n  }\n  route GET \"/y\" {\n    allow\n  }\n}\n";
    let g = compile_one(text);
    let mint = |ep: usize| match g.endpoints[ep].steps.last().map(|s| &s.kind) {
        Some(StepKind::Mint(m)) => m.clone(),
        other => panic!("endpoint {ep} ends with {other:?}"),
    };
    // The route's own mint replaces the api's; its scopes are the route's.
    let x = mint(0);
    assert_eq!(
        (x.zone.as_str(), x.issuer.as_str(), x.audience.as_str()),
        ("internal", "https://edge.example", "internal")
    );
    assert_eq!((x.lifetime_s, x.header.as_deref()), (90, Some("x-internal-token")));
    assert_eq!(x.claims.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["account"]);
    assert_eq!(g.exprs[x.claims[0].1 as usize], Expr::PathParam(0));
    assert_eq!(x.scopes, ["x:read", "y:a", "y:b"]);
    // The api's mint applies to a route without its own, with the defaults.
    let y = mint(1);
    assert_eq!((y.lifetime_s, y.header.as_deref(), y.scopes.len()), (60, None, 0));
    assert_eq!(y.claims.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["tenant"]);
}

#[test]
fn an_exchange_is_an_endpoint_that_verifies_the_caller_then_the_subject_token() {
    let text = "zone edge {\n  require tls\n  network \"10.0.0.0/8\"\n  issuer \"https://idp.example\" {\n    jwks url \"https://idp.example/jwks\"\n    audience \"https://api.example\"\n  }\n}\n\nzone internal {\n  issuer \"https://edge.example\" {\n    jwks url \"https://edge.example/.well-known/jwks.json\"\n    audience \"internal\"\n  }\n}\n\nexchange orders from zone edge {\n  auth mtls\n  scope \"orders:read\"\n  deny when claim.blocked == true\n  allow when context.client == \"spiffe://example/orders\"\n  mint for zone internal\n}\n";
    let g = compile_one(text);
    let ep = &g.endpoints[0];
    assert_eq!((ep.id.as_str(), &ep.kind), ("exchange.orders", &EndpointKind::Exchange { name: "orders".to_owned() }));
    let kinds: Vec<&str> = ep
        .steps
        .iter()
        .map(|s| match &s.kind {
            StepKind::Authenticate(Auth::Mtls) => "caller",
            StepKind::Subject { issuers } if g.issuers[issuers[0] as usize].iss == "https://idp.example" => "subject",
            StepKind::Scopes { .. } => "scopes",
            StepKind::Body { .. } => "body",
            StepKind::Deny(_) => "deny",
            StepKind::Allow(_) => "allow",
            StepKind::Mint(m) if m.audience == "internal" => "mint",
            other => panic!("unexpected step {other:?}"),
        })
        .collect();
    // No transport step: the subject zone's `require tls` and `network` speak
    // of its own requests, not of a service asking Warden for a token; and no
    // body step: an exchange has no body to judge.
    assert_eq!(kinds, ["caller", "subject", "scopes", "deny", "allow", "mint"]);
}

/// The parameters' values of a lookup of `segs`.
fn values(segs: &[&str], params: &ParamSpans) -> Vec<String> {
    params.iter().map(|span| param_value(segs, span.clone()).into_owned()).collect()
}

#[test]
fn route_lookup_prefers_literal_then_parameter_then_tail() {
    let text = "api a in zone z {\n  host \"api.example\"\n  prefix \"/v1\"\n  auth none\n  route GET \"/files/{*rest}\" {\n    allow\n  }\n  route GET \"/files/{id}\" {\n    allow\n  }\n  route GET \"/files/latest\" {\n    allow\n  }\n  route POST \"/files/{id}/meta\" {\n    allow\n  }\n}\n\napi b in zone z {\n  auth none\n  route ANY \"/health\" {\n    allow\n  }\n}\n";
    let g = compile_one(text);
    let r = &g.routes;
    // The endpoint found for a host, method and path, with its parameters' values.
    let found = |host: &str, method: Method, segs: &[&str]| match r.lookup(host, method, segs) {
        RouteMatch::Found { endpoint, params } => (g.endpoints[endpoint as usize].id.clone(), values(segs, &params)),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        found("api.example", Method::Get, &["v1", "files", "latest"]),
        ("a.GET /v1/files/latest".to_owned(), vec![])
    );
    assert_eq!(
        found("API.example", Method::Get, &["v1", "files", "7"]),
        ("a.GET /v1/files/{id}".to_owned(), vec!["7".to_owned()])
    );
    assert_eq!(
        found("api.example", Method::Get, &["v1", "files", "7", "meta"]),
        ("a.GET /v1/files/{*rest}".to_owned(), vec!["7/meta".to_owned()])
    );
    assert_eq!(found("api.example", Method::Post, &["v1", "files", "9", "meta"]).1, vec!["9".to_owned()]);
    assert_eq!(r.lookup("api.example", Method::Delete, &["v1", "files", "7"]), RouteMatch::MethodNotAllowed);
    assert_eq!(r.lookup("other.example", Method::Get, &["v1", "files", "7"]), RouteMatch::NotFound);
    // An api without a host answers on every host, with any method for `ANY`.
    assert_eq!(found("anything", Method::Patch, &["health"]).0, "b.ANY /health");
    assert_eq!(r.lookup("api.example", Method::Get, &["v2"]), RouteMatch::NotFound);
    // An empty segment is never a parameter value.
    assert_eq!(r.lookup("api.example", Method::Get, &["v1", "files", ""]), RouteMatch::NotFound);
    // (`POST /files/{id}/meta` cannot bind the empty id; only the GET tail route matches the path.)
    assert_eq!(r.lookup("api.example", Method::Post, &["v1", "files", "", "meta"]), RouteMatch::MethodNotAllowed);
}

/// Paths shorter than the walk's inline stack and longer than it (a heap one)
/// find the same routes: a parameter, a tail, and nothing.
#[test]
fn route_lookup_is_the_same_for_short_and_very_long_paths() {
    for depth in [1usize, 14, 15, 16, 17, 40] {
        let lits: Vec<String> = (0..depth).map(|i| format!("s{i}")).collect();
        let path = lits.join("/");
        let text = format!(
            "api a in zone z {{\n  auth none\n  route GET \"/{path}/{{id}}\" {{\n    allow\n  }}\n  route GET \"/{path}/x/{{*rest}}\" {{\n    allow\n  }}\n}}\n"
        );
        let g = compile_one(&text);
        let mut segs: Vec<&str> = lits.iter().map(String::as_str).collect();
        segs.push("7");
        match g.routes.lookup("h", Method::Get, &segs) {
            RouteMatch::Found { endpoint, params } => {
                assert_eq!(g.endpoints[endpoint as usize].id, format!("a.GET /{path}/{{id}}"), "{depth}");
                assert_eq!(values(&segs, &params), ["7"], "{depth}");
            }
            other => panic!("{depth}: {other:?}"),
        }
        // The literal `x`, then the tail.
        segs.pop();
        segs.extend(["x", "y", "z"]);
        match g.routes.lookup("h", Method::Get, &segs) {
            RouteMatch::Found { params, .. } => assert_eq!(values(&segs, &params), ["y/z"], "{depth}"),
            other => panic!("{depth}: {other:?}"),
        }
        segs.truncate(depth);
        assert_eq!(g.routes.lookup("h", Method::Get, &segs), RouteMatch::NotFound, "{depth}");
    }
}

/// A node with many literal children is looked up through its hash index;
/// the same graph read back from JSON (no index) and indexed again finds the
/// same routes.
#[test]
fn wide_nodes_find_the_same_routes_hashed_or_not() {
    let mut text = String::from("api a in zone z {\n  auth none\n");
    for i in 0..100 {
        text.push_str(&format!("  route GET \"/r{i}/{{id}}\" {{\n    allow\n  }}\n"));
    }
    text.push_str("  route GET \"/{name}/x\" {\n    allow\n  }\n}\n");
    let hashed = compile_one(&text);
    let mut plain: Graph = serde_json::from_str(&serde_json::to_string(&hashed).unwrap()).unwrap();
    let mut reindexed = plain.clone();
    reindexed.routes.index_wide_nodes();
    for g in [&hashed, &plain, &reindexed] {
        for i in [0, 1, 42, 99] {
            let seg = format!("r{i}");
            match g.routes.lookup("h", Method::Get, &[seg.as_str(), "7"]) {
                RouteMatch::Found { endpoint, params } => {
                    assert_eq!(g.endpoints[endpoint as usize].id, format!("a.GET /r{i}/{{id}}"));
                    assert_eq!(values(&[seg.as_str(), "7"], &params), ["7"]);
                }
                other => panic!("{i}: {other:?}"),
            }
        }
        // Not a literal: the parameter branch.
        match g.routes.lookup("h", Method::Get, &["r100", "x"]) {
            RouteMatch::Found { endpoint, .. } => assert_eq!(g.endpoints[endpoint as usize].id, "a.GET /{name}/x"),
            other => panic!("{other:?}"),
        }
        assert_eq!(g.routes.lookup("h", Method::Get, &["r100", "7"]), RouteMatch::NotFound);
    }
    plain.routes.index_wide_nodes();
    assert_eq!(plain, hashed);
}

/// Many hosts are looked up through a hash of their names; a host asked in
/// upper case still finds its own (the hash holds lower-case names, so that
/// lookup binary-searches), as does the graph read back from JSON.
#[test]
fn many_hosts_find_their_own_routes_hashed_or_not() {
    let text: String = (0..40)
        .map(|h| format!("api a{h} in zone z {{\n  host \"h{h}.example\"\n  auth none\n  route GET \"/x\" {{\n    allow\n  }}\n}}\n\n"))
        .collect();
    let hashed = compile_one(&text);
    let plain: Graph = serde_json::from_str(&serde_json::to_string(&hashed).unwrap()).unwrap();
    for g in [&hashed, &plain] {
        for h in [0, 7, 39] {
            for host in [format!("h{h}.example"), format!("H{h}.EXAMPLE")] {
                match g.routes.lookup(&host, Method::Get, &["x"]) {
                    RouteMatch::Found { endpoint, .. } => {
                        assert_eq!(g.endpoints[endpoint as usize].id, format!("a{h}.GET /x"), "{host}");
                    }
                    other => panic!("{host}: {other:?}"),
                }
            }
        }
        assert_eq!(g.routes.lookup("h40.example", Method::Get, &["x"]), RouteMatch::NotFound);
    }
}

#[test]
fn a_set_with_errors_produces_no_graph() {
    let set = PolicySet {
        files: vec![SourceFile::new(
            "t.warden",
            "api a in zone nowhere {\n  auth none\n  route GET \"/x\" {\n    allow\n  }\n}\n",
        )],
    };
    let err = compile(&set, &DirLoader(PathBuf::from("/nonexistent"))).unwrap_err();
    assert_eq!(err[0].diagnostic.code.as_str(), "E0202");
}

#[test]
fn path_keys_of_limits_are_resolved_by_name() {
    let text = "limit per_account = 5 per 1m by path.account_id\n\napi a in zone z {\n  auth none\n  limit per_account\n  route GET \"/accounts/{account_id}\" {\n    allow\n  }\n}\n";
    let g = compile_one(text);
    let key = g.limits[0].keys[0];
    // Not one shared bucket (a constant): the parameter is read per request.
    assert_eq!(g.exprs[key as usize], Expr::PathNamed("account_id".to_owned()));
    assert_eq!(g.limits[0].stage, LimitStage::PreAuth);
}

#[test]
fn a_limit_carries_its_ipv6_prefix_into_the_graph() {
    let g =
        compile_one("limit per_net = 5 per 1m by source.ip\nlimit per_site = 5 per 1m by source.ip ipv6_prefix 48\n");
    assert_eq!(g.limits[0].ipv6_prefix, 64);
    assert_eq!(g.limits[1].ipv6_prefix, 48);
    // A graph written before the setting existed loads with the default.
    let mut value = serde_json::to_value(&g).unwrap();
    value["limits"][1].as_object_mut().unwrap().remove("ipv6_prefix");
    let old: Graph = serde_json::from_value(value).unwrap();
    assert_eq!(old.limits[1].ipv6_prefix, 64);
}

#[test]
fn the_revision_is_a_digest_of_content_not_of_where_the_set_was_loaded_from() {
    let dir = example_dir("bank");
    // (path inside the set, text) of each file.
    let files: Vec<(String, String)> =
        load(&dir).files.into_iter().map(|f| (f.path.trim_start_matches("bank/").to_owned(), f.text)).collect();
    let graph = |prefix: &str, files: &[(String, String)]| {
        let set = PolicySet {
            files: files.iter().map(|(rel, text)| SourceFile::new(format!("{prefix}{rel}"), text.clone())).collect(),
        };
        compile(&set, &DirLoader(dir.clone())).unwrap_or_else(|d| panic!("{d:#?}")).0
    };
    let want = graph("policies/bank/", &files).revision;
    for prefix in ["./policies/bank/", "/srv/warden/policies/bank/", "policies/bank//", "", "C:\\policies\\bank\\"] {
        let g = graph(prefix, &files);
        assert_eq!(g.revision, want, "`{prefix}`");
        // The sources keep the paths as given: diagnostics show what the user typed.
        assert!(g.sources.iter().all(|s| s.starts_with(prefix)), "{:?}", g.sources);
    }
    // What the files say, and where they are inside the set, still count.
    let mut edited = files.clone();
    edited[0].1.push_str("\n// an edit\n");
    assert_ne!(graph("policies/bank/", &edited).revision, want);
    let mut moved = files.clone();
    moved[0].0 = format!("moved/{}", moved[0].0);
    assert_ne!(graph("policies/bank/", &moved).revision, want);
}

#[test]
fn a_limit_fingerprint_is_its_definition_and_nothing_else() {
    let alone = compile_one("limit per_tenant = 5 per 1m by header[\"x-tenant\"], claim.sub\n");
    // Other declarations first: other header and claim slots, other limits.
    let crowded = compile_one(
        "limit other = 9 per 1s by header[\"x-other\"], claim.tenant, query.q\n\
         limit per_tenant = 5 per 1m by header[\"x-tenant\"], claim.sub\n",
    );
    let print = &alone.limits[0].fingerprint;
    assert_eq!(print.len(), 16, "{print}");
    assert_eq!(&crowded.limits[1].fingerprint, print, "slots and neighbours do not move it");
    assert_ne!(crowded.limits[0].fingerprint, *print);
    // Any part of the definition does.
    for changed in [
        "limit per_tenant = 6 per 1m by header[\"x-tenant\"], claim.sub\n",
        "limit per_tenant = 5 per 1m burst 9 by header[\"x-tenant\"], claim.sub\n",
        "limit per_tenant = 5 per 1m by header[\"x-tenant\"], claim.tenant\n",
        "limit per_tenant = 5 per 1m by claim.sub, header[\"x-tenant\"]\n",
        "limit per_tenant = 5 per 1m by header[\"x-tenant\"], claim.sub ipv6_prefix 48\n",
        "limit per_user = 5 per 1m by header[\"x-tenant\"], claim.sub\n",
    ] {
        assert_ne!(&compile_one(changed).limits[0].fingerprint, print, "{changed}");
    }
    // Rate-limit state in a shared Redis is counted under this value: it is
    // pinned, so that no change to how graphs are printed (Graphviz, the JSON
    // layout) can move it without this test saying so.
    assert_eq!(print, "1838317233fea308");
}
