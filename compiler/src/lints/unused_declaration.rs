//! W0309 `unused-declaration`: a zone, limit, schema or data that nothing uses.

use warden_language::Code;
use warden_language::ast::Decl;

use super::context::Context;
use super::used::Used;
use super::{LintInfo, warn};
use crate::FileDiagnostic;

/// a zone, limit, schema or data that nothing uses
pub const UNUSED_DECLARATION: LintInfo = LintInfo {
    code: Code("W0309"),
    name: "unused-declaration",
    summary: "a zone, limit, ban, schema or data that nothing uses",
    explanation: "Flags declarations nothing refers to. An unused limit usually means a route that was meant to be limited is not; an unused schema, a body that was meant to be validated is not. Example: `limit login_per_ip = 5 per 1m by source.ip` declared, but no route says `limit login_per_ip`.",
    fix: "use it where it was meant to apply, or remove it",
};

/// Every zone, limit, ban, schema and data declaration that no name refers to.
pub(super) fn check(cx: &Context<'_>, out: &mut Vec<FileDiagnostic>) {
    let used = Used::collect(&cx.decls);
    for &(file, decl) in &cx.decls {
        let names = match decl {
            Decl::Zone(_) => &used.zones,
            Decl::Limit(_) => &used.limits,
            Decl::Ban(_) => &used.bans,
            Decl::Schema(_) => &used.schemas,
            Decl::Data(_) => &used.data,
            _ => continue,
        };
        let Some(name) = decl.name() else { continue };
        if !names.contains(name.name.as_str()) {
            let message = format!("{} `{}` is never used", decl.keyword(), name.name);
            warn(out, file, &UNUSED_DECLARATION, name.span, message);
        }
    }
}
