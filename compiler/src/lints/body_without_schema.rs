//! W0305 `body-without-schema`: a request body accepted without a schema.

use warden_language::Code;
use warden_language::ast::{BodySpec, StmtKind};

use super::context::Context;
use super::{LintInfo, warn};
use crate::FileDiagnostic;

/// a request body accepted without a schema
pub const BODY_WITHOUT_SCHEMA: LintInfo = LintInfo {
    code: Code("W0305"),
    name: "body-without-schema",
    summary: "a request body accepted without a schema",
    explanation: "Flags `body json` without a schema and `body any`. Unvalidated input is how injection and mass-assignment reach a service; a schema rejects unknown fields, wrong types and oversized strings at the gateway (seed 004: validate all incoming data). Example: `route POST \"/users\" { body json max 4KiB; allow }`.",
    fix: "declare a schema and write `body json SchemaName`",
};

/// Every `body json` without a schema and every `body any`.
pub(super) fn check(cx: &Context<'_>, out: &mut Vec<FileDiagnostic>) {
    for s in &cx.statements {
        let message = match &s.stmt.node {
            StmtKind::Body(BodySpec::Json { schema: None, .. }) => "a JSON body is accepted without a schema",
            StmtKind::Body(BodySpec::Any { .. }) => "any body is accepted, unchecked",
            _ => continue,
        };
        warn(out, s.file, &BODY_WITHOUT_SCHEMA, s.stmt.span, message.to_owned());
    }
}
