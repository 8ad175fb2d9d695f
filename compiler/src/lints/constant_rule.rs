//! W0310 `constant-rule`: a rule that is always true or never true.

use warden_language::{Code, Span};

use super::context::Context;
use super::{LintInfo, warn};
use crate::FileDiagnostic;
use crate::graph::{Expr, StepKind};

/// a rule that is always true or never true
pub const CONSTANT_RULE: LintInfo = LintInfo {
    code: Code("W0310"),
    name: "constant-rule",
    summary: "a rule that is always true or never true",
    explanation: "Flags `allow when …` and `deny when …` whose condition folds to a constant, such as `allow when 1 < 2` (an unconditional allow in disguise) or `deny when \"a\" == \"b\"` (a deny that never fires). Such a rule usually hides a typo.",
    fix: "write the condition you meant, or write `allow` / remove the rule",
};

/// Every `deny` and `allow` rule whose condition folded to a constant, read
/// from the graph (an `allow when` whose condition folded to `true` has none
/// left there, so its source text says it had one).
pub(super) fn check(cx: &Context<'_>, out: &mut Vec<FileDiagnostic>) {
    let graph = cx.graph;
    for ep in &graph.endpoints {
        for step in &ep.steps {
            let source = step.origin.source as usize;
            let span = Span { start: step.origin.span[0], end: step.origin.span[1] };
            match &step.kind {
                StepKind::Deny(e) => {
                    if let Some(Expr::Const(v)) = graph.exprs.get(*e as usize) {
                        let always = if *v == serde_json::Value::Bool(true) { "always denies" } else { "never denies" };
                        warn(
                            out,
                            source,
                            &CONSTANT_RULE,
                            span,
                            format!("this `deny` {always}: its condition is the constant `{v}`"),
                        );
                    }
                }
                StepKind::Allow(rules) => {
                    for rule in rules {
                        let span = Span { start: rule.origin.span[0], end: rule.origin.span[1] };
                        let text =
                            cx.set.files.get(rule.origin.source as usize).map(|f| span.text(&f.text)).unwrap_or("");
                        // `when` as a word of the statement (`allow when(…)`, a tab
                        // before it): a plain `allow` has no other word but itself.
                        let written_condition =
                            text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).any(|w| w == "when");
                        match rule.when.and_then(|w| graph.exprs.get(w as usize)) {
                            Some(Expr::Const(v)) => warn(
                                out,
                                rule.origin.source as usize,
                                &CONSTANT_RULE,
                                span,
                                format!("this `allow` never allows: its condition is the constant `{v}`"),
                            ),
                            None if written_condition => warn(
                                out,
                                rule.origin.source as usize,
                                &CONSTANT_RULE,
                                span,
                                "this `allow` always allows: its condition is always true".to_owned(),
                            ),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
}
