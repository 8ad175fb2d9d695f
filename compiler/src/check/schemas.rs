//! Schemas: field types that name no schema, regex constraints, and
//! schemas that require themselves.

use std::collections::HashSet;

use warden_language::Diagnostic;
use warden_language::ast::*;

use super::Checker;
use crate::codes;

impl<'a> Checker<'a> {
    /// A schema: its field types, and required fields that lead back to itself.
    pub(super) fn schema(&mut self, schema: &'a Schema) {
        for field in &schema.fields {
            self.type_expr(&field.ty);
        }
        // A required field whose type leads back to this schema can never be satisfied.
        let mut stack = vec![schema.name.name.as_str()];
        if let Some(path) = self.required_cycle(schema, &mut stack, &mut HashSet::new()) {
            self.push(
                Diagnostic::error(
                    codes::RECURSIVE_SCHEMA,
                    schema.name.span,
                    format!("schema `{}` contains itself: {path}", schema.name.name),
                )
                .with_help("make one field on the cycle optional (`field?: …`) or a list"),
            );
        }
    }

    /// A path of required fields from `stack[0]` back to itself. Each schema is
    /// explored once per search (`visited`), so the search is linear; depth is
    /// capped at 32, deeper than any body may nest.
    fn required_cycle(
        &self,
        schema: &'a Schema,
        stack: &mut Vec<&'a str>,
        visited: &mut HashSet<&'a str>,
    ) -> Option<String> {
        for field in schema.fields.iter().filter(|f| !f.optional) {
            let TypeKind::Named(name) = &field.ty.kind else { continue };
            let Some(&(_, next)) = self.symbols.schemas.get(name.name.as_str()) else { continue };
            if stack.first() == Some(&name.name.as_str()) {
                stack.push(name.name.as_str());
                return Some(stack.join(" → "));
            }
            if !visited.insert(name.name.as_str()) || stack.len() > 32 {
                continue;
            }
            stack.push(name.name.as_str());
            if let Some(path) = self.required_cycle(next, stack, visited) {
                return Some(path);
            }
            stack.pop();
        }
        None
    }

    /// A field type: named schemas exist, `pattern` constraints compile.
    fn type_expr(&mut self, ty: &TypeExpr) {
        match &ty.kind {
            TypeKind::Named(name) => {
                if Builtin::parse(&name.name).is_none() && !self.symbols.schemas.contains_key(name.name.as_str()) {
                    self.unknown(
                        codes::UNKNOWN_SCHEMA,
                        "schema",
                        &name.name,
                        name.span,
                        self.symbols.schemas.keys().copied().collect(),
                    );
                }
            }
            TypeKind::Enum(_) => {}
            TypeKind::Array(inner) => self.type_expr(inner),
        }
        for c in &ty.constraints {
            if let Constraint::Pattern(p) = &c.node {
                self.regex(p);
            }
        }
    }
}
