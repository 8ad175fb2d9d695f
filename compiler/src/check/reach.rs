//! Endpoints that can never allow a request or do not say how callers
//! authenticate: apis without routes, resources without actions, routes and
//! actions without `auth` or without any `allow` (here or on their api or
//! resource).

use warden_language::Diagnostic;
use warden_language::ast::*;

use super::Checker;
use crate::codes;

/// Whether any of the statements is an `allow` (conditional or not).
pub(super) fn any_allow<'s>(mut stmts: impl Iterator<Item = &'s Stmt>) -> bool {
    stmts.any(|s| matches!(s.node, StmtKind::Allow(_)))
}

impl Checker<'_> {
    /// An api without routes denies every request.
    pub(super) fn api_has_routes(&mut self, api: &Api) {
        if !api.items.iter().any(|i| matches!(i, ApiItem::Route(_))) {
            self.push(
                Diagnostic::error(codes::NEVER_ALLOWS, api.name.span, format!("api `{}` has no routes", api.name.name))
                    .with_label("every request to it is denied")
                    .with_help("add a `route`, or remove the api"),
            );
        }
    }

    /// A route whose effective `auth` (its own, else its api's) is missing.
    pub(super) fn route_has_auth(&mut self, route: &Route, auth: Option<&AuthMethod>) {
        if auth.is_none() {
            self.push(
                Diagnostic::error(
                    codes::AUTH_MISMATCH,
                    route.method.span.to(route.path.span),
                    format!("route `{} {}` has no `auth`", route.method.node.as_str(), route.path.value),
                )
                .with_label("how callers authenticate is not said")
                .with_help("add `auth bearer` (or another method, or `auth none` for public routes) to the api"),
            );
        }
    }

    /// A route with no `allow`, when its api has none either.
    pub(super) fn route_can_allow(&mut self, route: &Route, api_allows: bool) {
        if !api_allows && !any_allow(route.stmts.iter()) {
            self.push(
                Diagnostic::error(
                    codes::NEVER_ALLOWS,
                    route.method.span.to(route.path.span),
                    format!("route `{} {}` can never allow a request", route.method.node.as_str(), route.path.value),
                )
                .with_label("no `allow` here or on the api")
                .with_help("add `allow` or `allow when …`; to refuse the route entirely, remove it (requests are denied by default)"),
            );
        }
    }

    /// A resource without actions denies every check.
    pub(super) fn resource_has_actions(&mut self, resource: &Resource) {
        if !resource.items.iter().any(|i| matches!(i, ResourceItem::Action(_))) {
            self.push(
                Diagnostic::error(
                    codes::NEVER_ALLOWS,
                    resource.name.span,
                    format!("resource `{}` has no actions", resource.name.name),
                )
                .with_label("every check of it is denied")
                .with_help("add an `action`, or remove the resource"),
            );
        }
    }

    /// An action whose effective `auth` (its own, else its resource's) is missing.
    pub(super) fn action_has_auth(&mut self, resource: &Resource, action: &Action, auth: Option<&AuthMethod>) {
        if auth.is_none() {
            self.push(
                Diagnostic::error(
                    codes::AUTH_MISMATCH,
                    action.name.span,
                    format!("action `{}` of `{}` has no `auth`", action.name.name, resource.name.name),
                )
                .with_label("how callers authenticate is not said")
                .with_help("add `auth asserted` (or another method) to the resource"),
            );
        }
    }

    /// An action with no `allow`, when its resource has none either.
    pub(super) fn action_can_allow(&mut self, resource: &Resource, action: &Action, resource_allows: bool) {
        if !resource_allows && !any_allow(action.stmts.iter()) {
            self.push(
                Diagnostic::error(
                    codes::NEVER_ALLOWS,
                    action.name.span,
                    format!("action `{}` of `{}` can never allow a request", action.name.name, resource.name.name),
                )
                .with_label("no `allow` here or on the resource")
                .with_help("add `allow` or `allow when …`"),
            );
        }
    }
}
