//! Pest errors turned into messages in words: what was expected (rules named as a reader
//! would, members of a group collapsed to the group), what was found, and a "did you mean".

use pest::error::{ErrorVariant, InputLocation};

use super::Rule;
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use crate::suggest::keyword_suggestion;

/// How a grammar rule reads in an error message, and the group it belongs to.
fn describe(rule: Rule) -> Option<(&'static str, Option<&'static str>)> {
    use Rule::*;
    const DECL: Option<&str> =
        Some("a declaration (`zone`, `limit`, `ban`, `schema`, `data`, `api`, `resource`, `exchange` or `test`)");
    const STMT: Option<&str> = Some("a statement (`auth`, `scope`, `limit`, `body`, `allow`, `deny`…)");
    const ISSUER: Option<&str> =
        Some("an issuer setting (`jwks`, `audience`, `algorithms`, `leeway`, `scopes from` or `secret`)");
    const ZONE: Option<&str> = Some("a zone setting (`issuer`, `require` or `network`)");
    const MINT: Option<&str> = Some("a mint setting (`claim`, `scope`, `lifetime`, `header` or `bind certificate`)");
    const CONSTRAINT: Option<&str> = Some("a constraint such as `max_len` or `pattern`");
    const STEP: Option<&str> = Some("a test step (`request`, `check`, `expect`, `repeat` or `wait`)");
    const REQ: Option<&str> = Some("a request setting such as `ip`, `token`, `header` or `json`");
    const OP: Option<&str> = Some("an operator");
    const EXPR: Option<&str> = Some("an expression");
    const AUTH: Option<&str> =
        Some("an authentication method (`bearer`, `mtls`, `client_secret`, `api_key`, `asserted` or `none`)");
    let d = match rule {
        zone | kw_zone => ("`zone`", DECL),
        limit_decl => ("`limit`", DECL),
        schema => ("`schema`", DECL),
        data_decl => ("`data`", DECL),
        api => ("`api`", DECL),
        resource => ("`resource`", DECL),
        exchange => ("`exchange`", DECL),
        test => ("`test`", DECL),
        issuer => ("`issuer`", ZONE),
        require_tls | require_mtls | require_bound => ("`require`", ZONE),
        network => ("`network`", ZONE),
        jwks_file | jwks_url => ("`jwks`", ISSUER),
        audience => ("`audience`", ISSUER),
        algorithms => ("`algorithms`", ISSUER),
        leeway => ("`leeway`", ISSUER),
        scopes_from => ("`scopes from`", ISSUER),
        secret_file | secret_env => ("`secret`", ISSUER),
        introspect | introspect_file | introspect_env => ("`introspect`", ISSUER),
        auth => ("`auth`", STMT),
        scope => ("`scope`", STMT),
        use_limit => ("`limit`", STMT),
        body_stmt => ("`body`", STMT),
        allow => ("`allow`", STMT),
        deny => ("`deny`", STMT),
        upstream_header => ("`upstream header`", STMT),
        mint => ("`mint`", STMT),
        mint_claim => ("`claim`", MINT),
        mint_scope => ("`scope`", MINT),
        mint_lifetime => ("`lifetime`", MINT),
        mint_header => ("`header`", MINT),
        mint_bind => ("`bind certificate`", MINT),
        host => ("`host`", STMT),
        prefix => ("`prefix`", STMT),
        route => ("`route`", STMT),
        action => ("`action`", STMT),
        field => ("a field such as `name: string`", None),
        c_min | c_max | c_min_len | c_max_len | c_min_items | c_max_items | c_pattern | c_format => {
            ("a constraint", CONSTRAINT)
        }
        t_request => ("`request`", STEP),
        t_check => ("`check`", STEP),
        t_exchange => ("`exchange`", STEP),
        t_expect => ("`expect`", STEP),
        t_repeat => ("`repeat`", STEP),
        t_wait => ("`wait`", STEP),
        r_ip => ("`ip`", REQ),
        r_peer => ("`peer`", REQ),
        r_header => ("`header`", REQ),
        r_json => ("`json`", REQ),
        r_body => ("`body`", REQ),
        r_basic => ("`basic`", REQ),
        r_cert => ("`certificate`", REQ),
        r_dpop => ("`dpop`", REQ),
        r_token => ("`token`", REQ),
        c_subject => ("`subject`", REQ),
        c_resource => ("`resource`", REQ),
        c_context => ("`context`", REQ),
        zone_body | issuer_body | schema_body | api_body | resource_body | block | test_body | req_body
        | check_body => ("`{`", None),
        backend_error => ("`on_backend_error`", None),
        ipv6_prefix => ("`ipv6_prefix`", None),
        burst => ("`burst`", None),
        limit_keys => ("a key such as `source.ip`", None),
        body_max => ("`max`", None),
        body_json | body_none | body_any => ("`json`, `any` or `none`", None),
        scope_any => ("`any`", None),
        auth_bearer => ("`bearer`", AUTH),
        auth_mtls => ("`mtls`", AUTH),
        auth_client_secret => ("`client_secret`", AUTH),
        auth_api_key => ("`api_key`", AUTH),
        auth_asserted => ("`asserted`", AUTH),
        auth_none => ("`none`", AUTH),
        pair => ("a `key: value` pair", None),
        tv_expired | tv_not_yet_valid | tv_wrong_key | tv_alg | tv_raw => ("a token variant", None),
        kw_schema => ("`schema`", DECL),
        kw_data => ("`data`", DECL),
        kw_api => ("`api`", DECL),
        kw_test => ("`test`", DECL),
        kw_issuer => ("`issuer`", ZONE),
        kw_require => ("`require`", ZONE),
        kw_network => ("`network`", ZONE),
        kw_jwks => ("`jwks`", ISSUER),
        kw_audience => ("`audience`", ISSUER),
        kw_algorithms => ("`algorithms`", ISSUER),
        kw_leeway => ("`leeway`", ISSUER),
        kw_scopes => ("`scopes`", ISSUER),
        kw_secret => ("`secret`", ISSUER),
        kw_auth => ("`auth`", STMT),
        kw_scope => ("`scope`", STMT),
        kw_body => ("`body`", STMT),
        kw_allow => ("`allow`", STMT),
        kw_deny => ("`deny`", STMT),
        kw_upstream => ("`upstream`", STMT),
        kw_host => ("`host`", STMT),
        kw_prefix => ("`prefix`", STMT),
        kw_route => ("`route`", STMT),
        kw_action => ("`action`", STMT),
        kw_limit => ("`limit`", STMT),
        kw_resource => ("`resource`", DECL),
        kw_min | kw_max | kw_min_len | kw_max_len | kw_min_items | kw_max_items | kw_pattern | kw_format => {
            ("a constraint", CONSTRAINT)
        }
        kw_request => ("`request`", STEP),
        kw_check => ("`check`", STEP),
        kw_expect => ("`expect`", STEP),
        kw_repeat => ("`repeat`", STEP),
        kw_wait => ("`wait`", STEP),
        kw_ip => ("`ip`", REQ),
        kw_token => ("`token`", REQ),
        kw_json => ("`json`", None),
        kw_basic => ("`basic`", REQ),
        kw_subject => ("`subject`", REQ),
        kw_context => ("`context`", REQ),
        kw_mtls => ("`mtls`", AUTH),
        kw_bearer => ("`bearer`", AUTH),
        kw_client_secret => ("`client_secret`", AUTH),
        kw_api_key => ("`api_key`", AUTH),
        kw_asserted => ("`asserted`", AUTH),
        kw_none => ("`none`", AUTH),
        kw_file => ("`file`", None),
        kw_url => ("`url`", None),
        kw_env => ("`env`", None),
        kw_tls => ("`tls`", None),
        kw_peer => ("`peer`", None),
        kw_per => ("`per`", None),
        kw_burst => ("`burst`", None),
        kw_by => ("`by`", None),
        kw_on_backend_error => ("`on_backend_error`", None),
        kw_ipv6_prefix => ("`ipv6_prefix`", None),
        kw_open => ("`open`", None),
        kw_enum => ("`enum`", None),
        kw_in => ("`in`", None),
        kw_any => ("`any`", None),
        kw_when => ("`when`", None),
        kw_from => ("`from`", None),
        kw_refresh => ("`refresh`", None),
        kw_header => ("`header`", None),
        kw_expired | kw_not_yet_valid | kw_wrong_key | kw_alg | kw_raw => ("a token variant", None),
        kw_content_type => ("`content_type`", None),
        ident | name => ("an identifier", None),
        string | string_list => ("a string", None),
        number => ("a number", None),
        integer => ("a whole number", None),
        boolean => ("`true` or `false`", None),
        null => ("`null`", None),
        duration => ("a duration such as `30s`", None),
        size => ("a size such as `16KiB`", None),
        method => ("an HTTP method such as `GET`", None),
        format_name => ("a format name", None),
        optional => ("`?`", None),
        op_or | op_and | op_eq | op_ne | op_le | op_ge | op_lt | op_gt | op_in | op_not_in => ("an operator", OP),
        op_not | list | call | paren | postfix_expr | expr => ("an expression", EXPR),
        object => ("an object `{ … }`", None),
        array => ("a list `[ … ]`", None),
        field_access | index => ("`.` or `[`", None),
        enum_type | array_type | named_type | type_expr => ("a type", None),
        e_allow | e_deny | e_header => ("`allow`, `deny` or `header`", None),
        EOI => ("the end of the file", DECL),
        _ => return None,
    };
    Some(d)
}

pub(super) fn syntax_error(err: &pest::error::Error<Rule>, text: &str, base: usize) -> Diagnostic {
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let mut expected: Vec<&'static str> = Vec::new();
    let mut push = |s: &'static str| {
        if !expected.contains(&s) {
            expected.push(s);
        }
    };
    if let ErrorVariant::ParsingError { positives, .. } = &err.variant {
        // Collapse a group to its description when two or more members are expected.
        let described: Vec<(&'static str, Option<&'static str>)> =
            positives.iter().filter_map(|r| describe(*r)).collect();
        let groups: Vec<&'static str> = described
            .iter()
            .filter_map(|(_, g)| *g)
            .filter(|g| described.iter().filter(|(_, other)| other == &Some(*g)).count() >= 2)
            .collect();
        for (word, group) in &described {
            match group {
                Some(g) if groups.contains(g) => push(g),
                _ if groups.iter().any(|g| g.contains(word)) => {}
                _ => push(word),
            }
        }
    }
    if let Some(attempts) = err.parse_attempts() {
        for token in attempts.expected_tokens() {
            {
                let token = token.to_string();
                let word: Option<&'static str> = match token.as_str() {
                    "{" => Some("`{`"),
                    "}" => Some("`}`"),
                    "(" => Some("`(`"),
                    ")" => Some("`)`"),
                    "[" => Some("`[`"),
                    "]" => Some("`]`"),
                    "," => Some("`,`"),
                    "=" => Some("`=`"),
                    ":" => Some("`:`"),
                    ";" => Some("a newline or `;`"),
                    _ => None,
                };
                if let Some(word) = word {
                    push(word);
                }
            }
        }
    }
    // `(` and `[` start expressions: say "an expression" once.
    if expected.contains(&"an expression") {
        expected.retain(|e| !["`(`", "`[`"].contains(e));
    }
    // A newline, `;` and `}` all end a statement: say so once.
    let ends = ["a newline or `;`", "`}`"];
    if expected.contains(&ends[0]) {
        expected.retain(|e| !ends.contains(e));
        expected.push("the end of the statement");
    }
    let rest = text.get(pos..).unwrap_or("");
    let (found, len) = found_at(rest);
    let start = base + pos;
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", join_or(&expected))
    };
    let mut diag =
        Diagnostic::error(codes::SYNTAX, Span::new(start, start + len), message).with_label("unexpected here");
    if let Some(help) = keyword_suggestion(rest, &expected) {
        diag = diag.with_help(help);
    }
    diag
}

/// Describes what stands at the error position and how long it is.
fn found_at(rest: &str) -> (String, usize) {
    let Some(c) = rest.chars().next() else {
        return ("the end of the file".to_owned(), 0);
    };
    if c == '\n' || c == '\r' {
        return ("the end of the line".to_owned(), 0);
    }
    if c.is_ascii_alphanumeric() || c == '_' {
        let word: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.').collect();
        let word = word.trim_end_matches('.').to_owned();
        let len = word.len();
        return (format!("`{word}`"), len);
    }
    if c == '"' {
        let end = rest.get(1..).and_then(|r| r.find('"')).map_or(rest.len(), |e| e + 2);
        let lit = rest.get(..end).unwrap_or(rest);
        return (format!("string {lit}"), end);
    }
    (format!("`{c}`"), c.len_utf8())
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
