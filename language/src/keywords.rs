//! Every keyword of the language, in one list that a test checks against
//! `grammar.pest` (each `kw_…` rule's text): the parser's "did you mean"
//! suggestions and the language server's completion both read it, so neither
//! misses a keyword the grammar has.

/// The keywords, in the grammar's order.
pub const KEYWORDS: &[&str] = &[
    "zone",
    "issuer",
    "jwks",
    "file",
    "url",
    "refresh",
    "audience",
    "algorithms",
    "leeway",
    "scopes",
    "from",
    "secret",
    "env",
    "require",
    "tls",
    "mtls",
    "peer",
    "network",
    "limit",
    "per",
    "burst",
    "by",
    "on_backend_error",
    "ipv6_prefix",
    "schema",
    "open",
    "enum",
    "min",
    "max",
    "min_len",
    "max_len",
    "pattern",
    "format",
    "min_items",
    "max_items",
    "data",
    "api",
    "in",
    "host",
    "prefix",
    "route",
    "resource",
    "action",
    "auth",
    "bearer",
    "client_secret",
    "api_key",
    "header",
    "asserted",
    "none",
    "scope",
    "any",
    "body",
    "json",
    "allow",
    "deny",
    "when",
    "upstream",
    "test",
    "request",
    "check",
    "expect",
    "repeat",
    "wait",
    "ip",
    "token",
    "expired",
    "not_yet_valid",
    "wrong_key",
    "alg",
    "raw",
    "basic",
    "content_type",
    "subject",
    "context",
    "mint",
    "for",
    "claim",
    "lifetime",
    "exchange",
    "bind",
    "certificate",
    "bound",
    "dpop",
    "introspect",
    "client",
    "cache",
    "always",
    "signed",
    "on_introspection_error",
    "stale",
    "ban",
    "of",
    "except",
    "status",
    "distinct",
    "alert",
];

/// The word operators of expressions (`op_…` rules), which completion offers
/// beside the keywords.
pub const WORD_OPERATORS: &[&str] = &["and", "or", "not", "in"];

#[cfg(test)]
mod tests {
    use super::KEYWORDS;

    /// The text of every `kw_NAME = @{ "text" … }` rule of the grammar.
    fn grammar_keywords() -> Vec<String> {
        include_str!("grammar.pest")
            .lines()
            .filter(|l| l.starts_with("kw_"))
            .filter_map(|l| l.split('"').nth(1).map(str::to_owned))
            .collect()
    }

    #[test]
    fn the_list_is_the_grammars() {
        let grammar = grammar_keywords();
        assert!(grammar.len() > 50, "the grammar's keywords were read: {grammar:?}");
        let missing: Vec<&String> = grammar.iter().filter(|k| !KEYWORDS.contains(&k.as_str())).collect();
        assert!(missing.is_empty(), "keywords of grammar.pest missing from KEYWORDS: {missing:?}");
        let extra: Vec<&&str> = KEYWORDS.iter().filter(|k| !grammar.iter().any(|g| g == **k)).collect();
        assert!(extra.is_empty(), "KEYWORDS that grammar.pest does not have: {extra:?}");
    }

    /// The editor's TextMate grammar highlights every keyword: each appears
    /// in one of its `\\b(a|b|…)\\b` alternations.
    #[test]
    fn the_editor_grammar_highlights_every_keyword() {
        let text = include_str!("../../editor-support/vscode/syntaxes/warden.tmLanguage.json");
        let words: Vec<&str> = text
            .split("\\\\b(")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
            .flat_map(|alternation| alternation.split('|'))
            .collect();
        assert!(words.len() > 50, "the alternations were read: {words:?}");
        let missing: Vec<&&str> = KEYWORDS.iter().filter(|k| !words.contains(k)).collect();
        assert!(missing.is_empty(), "keywords the editor grammar does not highlight: {missing:?}");
    }
}
