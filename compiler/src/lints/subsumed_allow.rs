//! W0319 `subsumed-allow`: an `allow` that another `allow` of the same
//! endpoint already covers.

use warden_language::Code;

use super::context::Context;
use super::{LintInfo, warn_at};
use crate::FileDiagnostic;
use crate::graph::{AllowRule, Expr, Graph, StepKind};

/// an `allow` another `allow` of the endpoint already covers
pub const SUBSUMED_ALLOW: LintInfo = LintInfo {
    code: Code("W0319"),
    name: "subsumed-allow",
    summary: "an `allow` another `allow` of the endpoint already covers",
    explanation: "Flags an `allow` rule that adds nothing: the endpoint also has an unconditional `allow`, an `allow` with the same condition, or one whose condition is a part of this one's `and` (whenever this one holds, that one does). Often the narrower rule was meant to replace the wider one, which still lets everyone through. Example: `allow when claim.role == \"admin\"` beside `allow`.",
    fix: "remove the rule, or narrow the other one",
};

/// The rule of `rules` that makes `rule` redundant, if any.
fn covered_by<'a>(graph: &Graph, rules: &'a [AllowRule], index: usize) -> Option<&'a AllowRule> {
    let rule = rules.get(index)?;
    let when = rule.when?;
    let parts: &[u32] = match graph.exprs.get(when as usize) {
        Some(Expr::And(items)) => items,
        _ => &[],
    };
    rules.iter().enumerate().find_map(|(i, other)| {
        let covers = match other.when {
            None => true,
            Some(w) => (w == when && i < index) || parts.contains(&w),
        };
        (i != index && covers).then_some(other)
    })
}

/// Every such rule, read from the graph.
pub(super) fn check(cx: &Context<'_>, out: &mut Vec<FileDiagnostic>) {
    for ep in &cx.graph.endpoints {
        for step in &ep.steps {
            let StepKind::Allow(rules) = &step.kind else { continue };
            for (index, rule) in rules.iter().enumerate() {
                let Some(other) = covered_by(cx.graph, rules, index) else { continue };
                let what = if other.when.is_none() { "the unconditional `allow`" } else { "the `allow`" };
                warn_at(
                    out,
                    &SUBSUMED_ALLOW,
                    &rule.origin,
                    format!(
                        "this `allow` adds nothing to `{}`: {what} at line {} already holds whenever it does",
                        ep.id, other.origin.line
                    ),
                );
            }
        }
    }
}
