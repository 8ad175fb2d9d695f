//! Focused parser behaviour: precedence, doc comments, spans, error recovery, messages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use warden_language::ast::*;
use warden_language::format::expr;
use warden_language::{check, codes, parse};

/// Parses `allow when EXPR` in a route and returns the expression.
fn rule_expr(text: &str) -> Expr {
    let source = format!("api a in zone z {{\n  route GET \"/x\" {{\n    allow when {text}\n  }}\n}}\n");
    let parsed = check(&source);
    assert!(parsed.diagnostics.is_empty(), "{text}: {:#?}", parsed.diagnostics);
    let Some(Decl::Api(api)) = parsed.file.decls.into_iter().next() else { panic!("no api") };
    let Some(ApiItem::Route(route)) = api.items.into_iter().next() else { panic!("no route") };
    let Some(StmtKind::Allow(Some(e))) = route.stmts.into_iter().next().map(|s| s.node) else { panic!("no allow") };
    e
}

/// The expression with explicit grouping: `(a and b)` for every operator node.
fn grouped(e: &Expr) -> String {
    match &e.kind {
        ExprKind::And(items) => format!("({})", items.iter().map(grouped).collect::<Vec<_>>().join(" and ")),
        ExprKind::Or(items) => format!("({})", items.iter().map(grouped).collect::<Vec<_>>().join(" or ")),
        ExprKind::Not(inner) => format!("(not {})", grouped(inner)),
        ExprKind::Compare { op, lhs, rhs } => format!("({} {} {})", grouped(lhs), op.node.as_str(), grouped(rhs)),
        ExprKind::Paren(inner) => grouped(inner),
        _ => expr(e),
    }
}

fn check_precedence(input: &str, expect: &str) {
    assert_eq!(grouped(&rule_expr(input)), expect, "grouping of `{input}`");
}

#[test]
fn precedence_or_and_not_comparison() {
    check_precedence("claim.a or claim.b and claim.c", "(claim.a or (claim.b and claim.c))");
    check_precedence("claim.a and claim.b or claim.c", "((claim.a and claim.b) or claim.c)");
    check_precedence("not claim.a == 1", "(not (claim.a == 1))");
    check_precedence("not claim.a and claim.b", "((not claim.a) and claim.b)");
    check_precedence("claim.x not in [1, 2] or claim.y in data.t", "((claim.x not in [1, 2]) or (claim.y in data.t))");
    check_precedence("(claim.a or claim.b) and claim.c", "((claim.a or claim.b) and claim.c)");
}

#[test]
fn and_chains_are_flat() {
    let e = rule_expr("claim.a and claim.b and claim.c and claim.d");
    let ExprKind::And(items) = e.kind else { panic!("not an and") };
    assert_eq!(items.len(), 4);
    // A parenthesised `and` stays a separate node.
    let e = rule_expr("claim.a and (claim.b and claim.c)");
    let ExprKind::And(items) = e.kind else { panic!("not an and") };
    assert_eq!(items.len(), 2);
}

#[test]
fn attributes_collect_their_path() {
    let e = rule_expr("claim[\"https://ns/roles\"][0].name == \"x\"");
    let ExprKind::Compare { lhs, .. } = e.kind else { panic!() };
    let ExprKind::Attr { root, path } = lhs.kind else { panic!() };
    assert_eq!(root.node, Root::Claim);
    assert_eq!(path.len(), 3);
    assert!(matches!(&path[2].kind, SegmentKind::Field(f) if f == "name"));
}

#[test]
fn spans_point_at_the_source() {
    let source = "limit per_ip = 5 per 1m by source.ip // why\n";
    let parsed = parse(source);
    let Some(Decl::Limit(limit)) = parsed.file.decls.first() else { panic!() };
    assert_eq!(limit.name.span.text(source), "per_ip");
    assert_eq!(limit.period.span.text(source), "1m");
    assert_eq!(limit.keys[0].span.text(source), "source.ip");
    // The trailing comment is not part of the declaration.
    assert_eq!(limit.span.text(source), "limit per_ip = 5 per 1m by source.ip");
    assert_eq!(limit.period.millis(), 60_000);
}

#[test]
fn doc_comments_attach_to_the_next_declaration() {
    let source = "/// Public APIs.\n/// Second line.\nzone edge {\n  /// The IdP.\n  issuer \"i\" {\n    jwks file \"k\"\n    audience \"a\"\n  }\n}\n// plain\nlimit l = 1 per 1s by source.ip\n";
    let parsed = check(source);
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let Some(Decl::Zone(zone)) = parsed.file.decls.first() else { panic!() };
    assert_eq!(zone.doc.as_ref().map(|d| d.text.as_str()), Some("Public APIs.\nSecond line."));
    let Some(ZoneItem::Issuer(issuer)) = zone.items.first().map(|i| &i.node) else { panic!() };
    assert_eq!(issuer.doc.as_ref().map(|d| d.text.as_str()), Some("The IdP."));
    // A plain `//` comment is not documentation.
    assert!(parsed.file.decls[1].doc().is_none());
}

#[test]
fn several_mistakes_in_one_file_are_all_reported() {
    let source = "limit a = 1 per 1x by source.ip\nzone z {\n  require tsl\n}\napi b in zone z {\n  route get \"/x\" {\n    allow\n  }\n}\nlimit c = 1 per 1s by source.ip\n";
    let parsed = check(source);
    let codes: Vec<&str> = parsed.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["E0104", "E0102", "E0107"]);
    // The declarations without mistakes still parse.
    assert!(parsed.file.decls.iter().any(|d| matches!(d, Decl::Limit(l) if l.name.name == "c")));
}

#[test]
fn messages_name_what_was_expected_in_words() {
    let parsed = check("limit a = 5 per 1m source.ip\n");
    assert_eq!(parsed.diagnostics.len(), 1);
    let d = &parsed.diagnostics[0];
    assert_eq!(d.code, codes::SYNTAX);
    assert_eq!(d.message, "expected `burst` or `by`, found `source.ip`");
    let parsed = check("zonee edge {}\n");
    assert_eq!(parsed.diagnostics[0].help.as_deref(), Some("did you mean `zone`?"));
    assert!(!parsed.diagnostics[0].message.contains("kw_"), "{}", parsed.diagnostics[0].message);
}

#[test]
fn route_templates_split_into_segments() {
    let source = "api a in zone z {\n  route GET \"/files/{owner}/all/{*rest}\" {\n    allow\n  }\n  route GET \"/\" {\n    allow\n  }\n}\n";
    let parsed = check(source);
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let Some(Decl::Api(api)) = parsed.file.decls.first() else { panic!() };
    let routes: Vec<&Route> =
        api.items.iter().filter_map(|i| if let ApiItem::Route(r) = i { Some(r) } else { None }).collect();
    assert_eq!(
        routes[0].template,
        [
            PathSegment::Literal("files".into()),
            PathSegment::Param("owner".into()),
            PathSegment::Literal("all".into()),
            PathSegment::Tail("rest".into())
        ]
    );
    assert!(routes[1].template.is_empty());
}

#[test]
fn sizes_durations_and_numbers_keep_their_values() {
    let source = "api a in zone z {\n  route POST \"/x\" {\n    body json max 16KiB\n    allow when claim.amount <= 0.01\n  }\n}\nlimit l = 100 per 1s burst 200 by claim.client_id on_backend_error deny\n";
    let parsed = check(source);
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let Some(Decl::Api(api)) = parsed.file.decls.first() else { panic!() };
    let Some(ApiItem::Route(route)) = api.items.first() else { panic!() };
    let StmtKind::Body(BodySpec::Json { max: Some(size), schema: None }) = &route.stmts[0].node else { panic!() };
    assert_eq!(size.bytes(), 16 * 1024);
    let Some(Decl::Limit(limit)) = parsed.file.decls.get(1) else { panic!() };
    assert_eq!(limit.burst.as_ref().map(|b| b.node), Some(200));
    assert_eq!(limit.on_backend_error.as_ref().map(|p| p.node), Some(BackendErrorPolicy::Deny));
    assert_eq!(limit.ipv6_prefix, None);
}

#[test]
fn a_limit_keeps_its_ipv6_prefix_and_formats_it_back() {
    let source = "limit per_net = 5 per 1m by source.ip ipv6_prefix 56 on_backend_error deny\n";
    let parsed = check(source);
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let Some(Decl::Limit(limit)) = parsed.file.decls.first() else { panic!() };
    let prefix = limit.ipv6_prefix.as_ref().unwrap();
    assert_eq!(prefix.node, 56);
    assert_eq!(prefix.span.text(source), "56");
    assert_eq!(limit.on_backend_error.as_ref().map(|p| p.node), Some(BackendErrorPolicy::Deny));
    assert_eq!(warden_language::format::format_source(source).unwrap(), source);
    let spaced = "limit   per_net=5 per 1m by source.ip   ipv6_prefix   0\n";
    assert_eq!(
        warden_language::format::format_source(spaced).unwrap(),
        "limit per_net = 5 per 1m by source.ip ipv6_prefix 0\n"
    );
}

#[test]
fn an_ipv6_prefix_longer_than_an_address_is_refused_where_it_is_written() {
    let source = "limit per_net = 5 per 1m by source.ip ipv6_prefix 129\n";
    let parsed = check(source);
    assert_eq!(parsed.diagnostics.len(), 1, "{:#?}", parsed.diagnostics);
    let d = &parsed.diagnostics[0];
    assert_eq!(d.code, codes::OUT_OF_RANGE);
    assert_eq!(d.span.text(source), "129");
    assert!(check("limit per_net = 5 per 1m by source.ip ipv6_prefix 128\n").diagnostics.is_empty());
}

/// A `ban` or an `exchange` after a broken declaration is a declaration of
/// its own: it is still parsed and checked (its mistakes reported).
#[test]
fn ban_and_exchange_start_declarations_after_a_broken_one() {
    let source =
        "api a in zone z {\n  route GET \"/x {\n    allow\n  }\n}\n\nban b = 0 of 403 per 1m by source.ip for 1h\n";
    let parsed = warden_language::check(source);
    let codes: Vec<&str> = parsed.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert!(codes.contains(&"E0101"), "{codes:?}");
    assert!(codes.contains(&"E0128"), "the ban's zero count is reported too: {codes:?}");
    let source = "api a in zone z {\n  route GET \"/x {\n    allow\n  }\n}\n\nexchange e from zone edge {\n  auth mtls\n  allow\n  mint for zone z {\n    lifetime 0s\n  }\n}\n";
    let codes = codes_of(source);
    assert!(codes.iter().any(|c| c == "E0101") && codes.len() >= 2, "{codes:?}");
}

/// `expect deny 403 allowed` is one mistake (E0115: `allowed` is no denial's
/// reason), not also a status mismatch with contradictory advice.
#[test]
fn allowed_as_a_denial_reason_is_reported_once() {
    let source = "test \"t\" {\n  request GET \"https://h.example/x\"\n  expect deny 403 allowed\n}\n";
    let codes = codes_of(source);
    assert!(codes.iter().any(|c| c == "E0115"), "{codes:?}");
    assert!(!codes.iter().any(|c| c == "E0124"), "{codes:?}");
}

/// The codes `check` reports for `source`, in order.
fn codes_of(source: &str) -> Vec<String> {
    warden_language::check(source).diagnostics.iter().map(|d| d.code.as_str().to_owned()).collect()
}

/// Each diagnostic's code and the text it points at.
fn located<'a>(parsed: &'a warden_language::Parsed, source: &'a str) -> Vec<(&'a str, &'a str)> {
    parsed.diagnostics.iter().map(|d| (d.code.as_str(), &source[d.span.start as usize..d.span.end as usize])).collect()
}

/// A constraint on a field whose type is a schema (an object) does not
/// apply: E0121, not silently dropped. On a list of that schema, the list's
/// own bounds still apply.
#[test]
fn constraints_on_a_schema_typed_field_are_refused() {
    let source = "schema Payee {\n  name: string\n}\n\nschema Transfer {\n  payee: Payee max_len 3 min 1\n  payees: [Payee] min_items 1\n}\n";
    let parsed = warden_language::check(source);
    let found = located(&parsed, source);
    assert_eq!(found, [("E0121", "max_len 3"), ("E0121", "min 1")], "{:?}", parsed.diagnostics);
    assert!(parsed.diagnostics[0].message.contains("schema `Payee`"), "{}", parsed.diagnostics[0].message);
}

/// Token times are whole seconds: a leeway with a fraction of a second would
/// be cut to whole seconds without a word, so it is refused.
#[test]
fn a_leeway_is_whole_seconds() {
    let issuer = |leeway: &str| {
        format!(
            "zone z {{\n  issuer \"https://idp.example\" {{\n    jwks url \"https://idp.example/jwks\"\n    audience \"a\"\n    leeway {leeway}\n  }}\n}}\n"
        )
    };
    let codes = |leeway: &str| codes_of(&issuer(leeway));
    assert_eq!(codes("500ms"), ["E0128"]);
    assert_eq!(codes("1500ms"), ["E0128"]);
    assert!(codes("0s").is_empty() && codes("2000ms").is_empty() && codes("30s").is_empty());
}

/// An api `host` no request can have is refused (E0132): the engine compares
/// a request's host without its port and trailing dot, and `*` is no wildcard.
#[test]
fn a_host_no_request_can_have_is_refused() {
    let codes = |host: &str| -> Vec<String> {
        codes_of(&format!("api a in zone z {{\n  host {host:?}\n  route GET \"/x\" {{\n    allow\n  }}\n}}\n"))
    };
    for bad in [
        "",
        "api.example.com:8443",
        "api.example.com.",
        "*.example.com",
        "https://api.example.com",
        "a..b",
        "[::1",
        "[zz]",
    ] {
        assert_eq!(codes(bad), ["E0132"], "{bad:?}");
    }
    for good in ["api.example.com", "API.Example.com", "localhost", "10.0.0.1", "[2001:db8::1]", "svc_internal.local"] {
        assert!(codes(good).is_empty(), "{good:?}: {:?}", codes(good));
    }
}

/// `body json` in a resource or an action is refused (E0127): a resource
/// check carries no request body, so every check of it would be denied.
#[test]
fn a_json_body_in_a_resource_check_is_misplaced() {
    let source = "resource doc in zone z {\n  auth asserted\n  body json Doc\n  action read {\n    body json Doc\n    allow\n  }\n  action list {\n    body none\n    allow\n  }\n}\n";
    let parsed = warden_language::check(source);
    let found = located(&parsed, source);
    assert_eq!(found, [("E0127", "body json Doc"), ("E0127", "body json Doc")], "{:?}", parsed.diagnostics);
}

/// An api `prefix` is decoded, normalised path segments like a request's
/// path after normalisation: a `%` escape or a dot segment could never match.
#[test]
fn a_prefix_no_normalised_path_can_have_is_refused() {
    let codes = |prefix: &str| -> Vec<String> {
        codes_of(&format!("api a in zone z {{\n  prefix {prefix:?}\n  route GET \"/x\" {{\n    allow\n  }}\n}}\n"))
    };
    for bad in ["/v%201", "/v1/./x", "/v1/..", "/../v1", "v1", "/v1/"] {
        assert_eq!(codes(bad), ["E0108"], "{bad:?}");
    }
    for good in ["/v1", "/api/v1.2", "/a..b", "/.well-known"] {
        assert!(codes(good).is_empty(), "{good:?}: {:?}", codes(good));
    }
}

/// A test request with two credentials names the keywords there are
/// (`basic`, `token`), not a `credential` keyword that does not exist.
#[test]
fn two_credentials_in_a_test_request_name_basic_and_token() {
    let source = "test \"t\" {\n  request GET \"https://h.example/x\" {\n    basic \"c\", \"s\"\n    token { sub: \"u\" }\n  }\n  expect allow\n}\n";
    let parsed = warden_language::check(source);
    let d = parsed.diagnostics.iter().find(|d| d.code.as_str() == "E0118").expect("E0118");
    assert_eq!(d.message, "a request sends one credential: one `basic` or one `token`");
    assert_eq!(&source[d.span.start as usize..d.span.end as usize], "token { sub: \"u\" }");
}
