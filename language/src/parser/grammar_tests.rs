//! Grammar-rule tests: each rule accepts what LANGUAGE.md writes, consuming the whole
//! input, and rejects near misses. One `accepts`/`rejects` helper per direction.

use pest::Parser as _;

use super::{Grammar, Rule};

/// The rule matches `input` from its first to its last byte.
fn accepts(rule: Rule, input: &str) {
    match Grammar::parse(rule, input) {
        Ok(mut pairs) => {
            let pair = pairs.next().unwrap_or_else(|| panic!("{rule:?} produced nothing for {input:?}"));
            assert_eq!(pair.as_str(), input, "{rule:?} did not consume all of {input:?}");
        }
        Err(err) => panic!("{rule:?} rejected {input:?}:\n{err}"),
    }
}

/// The rule fails, or stops before the end of `input`.
fn rejects(rule: Rule, input: &str) {
    if let Ok(mut pairs) = Grammar::parse(rule, input) {
        let consumed = pairs.next().map_or(0, |p| p.as_str().len());
        assert!(consumed < input.len(), "{rule:?} accepted {input:?}");
    }
}

#[test]
fn keywords_need_a_word_boundary() {
    accepts(Rule::kw_zone, "zone");
    rejects(Rule::kw_zone, "zones");
    accepts(Rule::kw_min, "min");
    rejects(Rule::kw_min, "min_len");
}

#[test]
fn literals() {
    accepts(Rule::string, r#""https://idp.bank.example""#);
    accepts(Rule::string, r#""with \"escapes\" and \u00e9""#);
    rejects(Rule::string, "\"unterminated");
    rejects(Rule::string, "\"line\nbreak\"");
    accepts(Rule::number, "42");
    accepts(Rule::number, "-1");
    accepts(Rule::number, "0.01");
    rejects(Rule::number, "1e5");
    accepts(Rule::integer, "100000");
    rejects(Rule::integer, "1.5");
    accepts(Rule::boolean, "true");
    rejects(Rule::boolean, "trueish");
    for d in ["500ms", "30s", "5m", "1h", "1d"] {
        accepts(Rule::duration, d);
    }
    for s in ["512B", "16KiB", "1MiB"] {
        accepts(Rule::size, s);
    }
    accepts(Rule::ident, "per_client");
    rejects(Rule::ident, "9lives");
}

#[test]
fn zones_and_issuers() {
    accepts(Rule::zone, "zone edge {\n  require tls\n}");
    accepts(
        Rule::zone,
        "zone partners {\n  require mtls peer \"spiffe://p/*\"\n  network \"198.51.100.0/24\", \"2001:db8::/32\"\n}",
    );
    accepts(Rule::zone, "zone internal { require mtls }");
    accepts(
        Rule::issuer,
        "issuer \"https://idp\" {\n  jwks url \"https://idp/jwks.json\" refresh 5m\n  audience \"a\", \"b\"\n  algorithms RS256, ES256, EdDSA\n  leeway 30s\n  scopes from \"scp\"\n}",
    );
    accepts(Rule::issuer, "issuer \"https://idp\" { secret env \"IDP_SECRET\"; audience \"a\" }");
    rejects(Rule::zone, "zone edge { require }");
}

#[test]
fn limits() {
    accepts(Rule::limit_decl, "limit login_per_ip = 5 per 1m by source.ip");
    accepts(Rule::limit_decl, "limit per_client = 100 per 1s burst 200 by claim.client_id");
    accepts(
        Rule::limit_decl,
        "limit per_tenant = 1000 per 1m by header[\"x-tenant\"], source.ip on_backend_error deny",
    );
    rejects(Rule::limit_decl, "limit x = 5 per 1m");
    rejects(Rule::limit_decl, "limit x = 5 per 1m by source.ip on_backend_error maybe");
    accepts(Rule::limit_decl, "limit per_net = 5 per 1m by source.ip ipv6_prefix 56");
    accepts(Rule::limit_decl, "limit per_net = 5 per 1m by source.ip, claim.sub ipv6_prefix 128 on_backend_error deny");
    // The prefix comes after the keys and before `on_backend_error`, and is a whole number.
    rejects(Rule::limit_decl, "limit x = 5 per 1m ipv6_prefix 56 by source.ip");
    rejects(Rule::limit_decl, "limit x = 5 per 1m by source.ip on_backend_error deny ipv6_prefix 56");
    rejects(Rule::limit_decl, "limit x = 5 per 1m by source.ip ipv6_prefix /56");
}

#[test]
fn schemas() {
    accepts(Rule::schema, "schema Payee {\n  name: string max_len 70\n  iban: string pattern \"^[A-Z]{2}\"\n}");
    accepts(
        Rule::schema,
        "schema Loose open {\n  tags?: [string max_len 5] max_items 10\n  currency: enum \"EUR\", \"USD\"\n  at: string format date-time\n}",
    );
    accepts(Rule::field, "\"x-id\": integer min -1 max 10");
    rejects(Rule::field, "name string");
}

#[test]
fn apis_routes_and_statements() {
    accepts(Rule::data_decl, "data tellers = file \"data/tellers.json\"");
    accepts(
        Rule::route,
        "route GET \"/accounts/{account_id}\" {\n  scope \"accounts:read\"\n  allow when claim.customer_id == path.account_id\n}",
    );
    accepts(Rule::route, "route ANY \"/files/{*rest}\" { allow }");
    accepts(Rule::auth, "auth bearer");
    accepts(Rule::auth, "auth client_secret file \"clients.json\"");
    accepts(Rule::auth, "auth api_key header \"x-api-key\" file \"keys.json\"");
    accepts(Rule::scope, "scope any \"a:read\", \"a:admin\"");
    accepts(Rule::use_limit, "limit per_client, per_ip");
    accepts(Rule::body_stmt, "body json Transfer max 16KiB");
    accepts(Rule::body_stmt, "body json max 2KiB");
    accepts(Rule::body_stmt, "body none");
    accepts(Rule::body_stmt, "body any max 1MiB");
    accepts(Rule::deny, "deny when claim.account_state == \"frozen\"");
    rejects(Rule::deny, "deny claim.x");
    accepts(Rule::upstream_header, "upstream header \"x-customer-id\" = claim.customer_id");
    accepts(Rule::mint, "mint for zone internal");
    accepts(Rule::mint, "mint for zone internal {}");
    accepts(
        Rule::mint,
        "mint for zone internal {\n  claim account = path.id\n  claim \"x-y\" = claim.sub\n  scope \"a\", \"b\"\n  lifetime 30s\n  header \"x-token\"\n}",
    );
    rejects(Rule::mint, "mint zone internal");
    rejects(Rule::mint, "mint for internal");
    accepts(Rule::api, "api accounts in zone edge {\n  host \"api.bank.example\"\n  prefix \"/v1\"\n  auth bearer\n}");
    accepts(
        Rule::resource,
        "resource account in zone partners {\n  auth asserted\n  action close { scope \"accounts:admin\"; allow when \"admin\" in claim.roles }\n}",
    );
}

#[test]
fn expressions() {
    for e in [
        "claim.customer_id == path.account_id",
        "claim[\"https://ns/x\"] != \"a\"",
        "claim.sub in data.tellers and not has(claim.frozen)",
        "starts_with(request.path, \"/v1\") or matches(claim.sub, \"^u-\")",
        "in_cidr(source.ip, \"10.0.0.0/8\")",
        "len(claim.roles) >= 1",
        "(claim.a or claim.b) and claim.c",
        "claim.x not in [1, 2, 3]",
        "claim.a and\n  claim.b",
        "lower(header[\"x-mode\"])[0]",
    ] {
        accepts(Rule::expr, e);
    }
    rejects(Rule::expr, "claim.a and");
    rejects(Rule::expr, "== 1");
}

#[test]
fn tests_and_values() {
    accepts(
        Rule::t_request,
        "request GET \"https://api.bank.example/v1/accounts/42\" {\n  ip \"198.51.100.7\"\n  token { sub: \"u-1\", scope: \"accounts:read\" }\n}",
    );
    accepts(
        Rule::t_request,
        "request POST \"/login\" { json { user: \"a\", password: \"p\" }; header \"x-a\" = \"b\" }",
    );
    accepts(Rule::r_token, "token expired { sub: \"u-1\" }");
    accepts(Rule::r_token, "token alg \"HS256\" { sub: \"u-1\" }");
    accepts(Rule::r_token, "token raw \"abc.def.ghi\"");
    accepts(
        Rule::t_check,
        "check account read {\n  subject \"u-1\" { roles: [\"user\"] }\n  resource \"a-1\" { owner: \"u-1\" }\n}",
    );
    accepts(Rule::t_expect, "expect deny 401 token_expired");
    accepts(Rule::t_expect, "expect header \"x-customer-id\" = \"42\"");
    accepts(Rule::t_repeat, "repeat 5 { request POST \"/login\"; expect allow }");
    accepts(Rule::t_wait, "wait 12s");
    accepts(Rule::object, "{\n  a: 1,\n  \"b-c\": [true, null, { d: -0.5 }],\n}");
    rejects(Rule::object, "{ a 1 }");
}
