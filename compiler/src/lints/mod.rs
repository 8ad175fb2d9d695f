//! Lints: policies that compile but are probably unsafe or wrong (`W03xx`), each with
//! a stable code, a name that says the pattern it flags, an explanation and a fix hint.
//!
//! One module per lint holds its [`LintInfo`] and its check; [`lint`] runs
//! every check over a `Context` built once per set (declarations, limits by name,
//! every statement and route with what surrounds it) and reports in a stable
//! order. Helpers more than one lint needs live beside them: `paths` (routes
//! grouped by host and path shape) and `used` (names referred to anywhere).
//! Then `suppressions` applies the inline `// warden: allow CODE "reason"`
//! comments to what the checks found.

mod context;
mod levels;
mod paths;
mod used;

pub use self::levels::{Level, Levels, OFF_BY_DEFAULT};

mod auth_overridden_in_route;
mod body_without_schema;
mod client_credential_without_channel;
mod constant_rule;
mod credential_route_without_pre_auth_limit;
mod exposure;
mod hmac_without_mtls;
mod interchangeable_zones;
mod introspection_over_plain_http;
mod jwks_over_plain_http;
mod limit_key_always_missing;
mod minted_token;
mod mixed_auth_on_path;
mod shadowed_route;
mod subsumed_allow;
mod suppressions;
mod unused_declaration;

use warden_language::{Code, Diagnostic, Span};

use self::context::Context;
use crate::graph::Graph;
use crate::{FileDiagnostic, PolicySet};

/// A lint's documentation.
#[derive(Clone, Copy, Debug)]
pub struct LintInfo {
    /// Stable code.
    pub code: Code,
    /// Kebab-case name of the pattern it flags.
    pub name: &'static str,
    /// One line: what it flags.
    pub summary: &'static str,
    /// What it does, why it matters, an example.
    pub explanation: &'static str,
    /// How to fix it.
    pub fix: &'static str,
}

/// A lint's check: adds what it finds in the set to the list.
type Check = fn(&Context<'_>, &mut Vec<FileDiagnostic>);

/// The registry: each lint's module and its [`LintInfo`], in code order. One
/// list makes [`ALL`] and the checks [`lint`] runs, so they cannot disagree.
macro_rules! registry {
    ($($module:ident::$id:ident => $check:ident,)* ; $($pass:ident::$pass_id:ident,)*) => {
        $(pub use self::$module::$id;)*
        $(pub use self::$pass::$pass_id;)*

        /// Every lint: the checks in code order, then those of the passes.
        pub const ALL: &[LintInfo] = &[$($id,)* $($pass_id,)*];

        /// Every lint's check, in the order of [`ALL`].
        const CHECKS: &[Check] = &[$($module::$check),*];

        /// How many of [`ALL`] are checks (the rest come from the passes).
        #[cfg(test)]
        const CHECK_COUNT: usize = [$(stringify!($id)),*].len();
    };
}

registry! {
    client_credential_without_channel::CLIENT_CREDENTIAL_WITHOUT_CHANNEL => check,
    mixed_auth_on_path::MIXED_AUTH_ON_PATH => check,
    auth_overridden_in_route::AUTH_OVERRIDDEN_IN_ROUTE => check,
    credential_route_without_pre_auth_limit::CREDENTIAL_ROUTE_WITHOUT_LIMIT => check,
    body_without_schema::BODY_WITHOUT_SCHEMA => check,
    hmac_without_mtls::HMAC_WITHOUT_MTLS => check,
    jwks_over_plain_http::JWKS_OVER_HTTP => check,
    interchangeable_zones::INTERCHANGEABLE_ZONES => check,
    unused_declaration::UNUSED_DECLARATION => check,
    constant_rule::CONSTANT_RULE => check,
    shadowed_route::SHADOWED_ROUTE => check,
    minted_token::LONG_LIVED_MINTED_TOKEN => check,
    minted_token::SENSITIVE_CLAIM_MINTED => check_sensitive,
    introspection_over_plain_http::INTROSPECTION_OVER_HTTP => check,
    exposure::OPEN_ENDPOINT => check_open,
    exposure::UNRESTRICTED_NETWORK => check_network,
    subsumed_allow::SUBSUMED_ALLOW => check,
    limit_key_always_missing::LIMIT_KEY_ALWAYS_MISSING => check,
    ;
    // Reported by the pass that runs after every check (`suppressions::apply`).
    suppressions::UNUSED_SUPPRESSION,
    suppressions::MALFORMED_SUPPRESSION,
}

/// Looks up a lint by code.
pub fn info(code: &str) -> Option<&'static LintInfo> {
    ALL.iter().find(|l| l.code.as_str() == code)
}

/// Adds a warning of `lint` in `file`, with the lint's fix as its help.
fn warn(out: &mut Vec<FileDiagnostic>, file: usize, lint: &LintInfo, span: Span, message: String) {
    out.push(FileDiagnostic { file, diagnostic: Diagnostic::warning(lint.code, span, message).with_help(lint.fix) });
}

/// Adds a warning of `lint` where a graph node was written (`origin`).
fn warn_at(out: &mut Vec<FileDiagnostic>, lint: &LintInfo, origin: &crate::graph::Origin, message: String) {
    warn(out, origin.source as usize, lint, Span { start: origin.span[0], end: origin.span[1] }, message);
}

/// Runs every lint over a policy set that compiled to `graph`, each at its
/// default level.
pub fn lint(set: &PolicySet, graph: &Graph) -> Vec<FileDiagnostic> {
    lint_at(set, graph, &Levels::default())
}

/// Runs every lint over a policy set that compiled to `graph`, at the levels
/// the set chose (`[lints]` of its `warden.toml`).
pub fn lint_at(set: &PolicySet, graph: &Graph, levels: &Levels) -> Vec<FileDiagnostic> {
    let cx = Context::new(set, graph);
    let mut out = Vec::new();
    for check in CHECKS {
        check(&cx, &mut out);
    }
    // A lint that is off is not there to be silenced.
    levels.drop_off(&mut out);
    // `// warden: allow CODE "reason"` silences what the checks found.
    suppressions::apply(set, &mut out, levels);
    levels.apply(&mut out);
    // The same endpoint-level rule is lowered once per route of an api; report it once.
    out.sort_by(|a, b| {
        (a.file, a.diagnostic.span.start, a.diagnostic.code).cmp(&(b.file, b.diagnostic.span.start, b.diagnostic.code))
    });
    out.dedup_by(|a, b| {
        a.file == b.file && a.diagnostic.span == b.diagnostic.span && a.diagnostic.code == b.diagnostic.code
    });
    out
}

#[cfg(test)]
mod tests {
    use super::ALL;

    #[test]
    fn the_registry_is_in_code_order() {
        let codes: Vec<&str> = ALL.iter().map(|l| l.code.as_str()).collect();
        let (checks, passes) = codes.split_at(super::CHECK_COUNT);
        for part in [checks, passes] {
            let mut sorted = part.to_vec();
            sorted.sort_unstable();
            assert_eq!(part, sorted);
        }
        let mut distinct = codes.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), codes.len(), "{codes:?}");
    }
}
