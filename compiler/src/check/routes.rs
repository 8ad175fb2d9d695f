//! Route conflicts across apis: two routes that match exactly the same
//! requests (same host, method and path shape).

use std::collections::BTreeMap;

use warden_language::ast::*;
use warden_language::{Diagnostic, Span};

use super::Checker;
use crate::{FileDiagnostic, codes};

impl Checker<'_> {
    /// Two routes that match exactly the same requests: same host, method and
    /// path shape (parameter names do not matter), prefix included.
    pub(super) fn route_conflicts(&mut self) {
        let mut seen: BTreeMap<RouteKey, (usize, Span, String)> = BTreeMap::new();
        let set = self.set;
        for (file, f) in set.files.iter().enumerate() {
            for decl in &f.parsed.file.decls {
                let Decl::Api(api) = decl else { continue };
                let host = api.items.iter().find_map(|i| {
                    if let ApiItem::Host(h) = i { Some(h.node.value.to_ascii_lowercase()) } else { None }
                });
                let prefix = api
                    .items
                    .iter()
                    .find_map(|i| if let ApiItem::Prefix(p) = i { Some(p.node.value.clone()) } else { None });
                for item in &api.items {
                    let ApiItem::Route(route) = item else { continue };
                    let shape = path_shape(prefix.as_deref().unwrap_or_default(), &route.template);
                    let shown = format!(
                        "{} {}{}",
                        route.method.node.as_str(),
                        prefix.clone().unwrap_or_default(),
                        route.path.value
                    );
                    let key = (host.clone(), route.method.node, shape);
                    let span = route.method.span.to(route.path.span);
                    match seen.get(&key) {
                        Some((first_file, first_span, first_shown)) => {
                            let at = set.location(*first_file, first_span.start());
                            self.out.push(FileDiagnostic {
                                file,
                                diagnostic: Diagnostic::error(
                                    codes::ROUTE_CONFLICT,
                                    span,
                                    format!("route `{shown}` matches exactly the same requests as `{first_shown}`"),
                                )
                                .with_label("conflicting route")
                                .with_help(format!(
                                    "the other route is at {at}; merge them, or tell them apart by host or path"
                                )),
                            });
                        }
                        None => {
                            seen.insert(key, (file, span, format!("{shown}` of api `{}", api.name.name)));
                        }
                    }
                }
            }
        }
    }
}

/// Host, method and path shape: two routes with the same key conflict.
type RouteKey = (Option<String>, Method, String);

/// A route's path shape with its api's prefix, parameter names left out
/// (`/v1/accounts/{}`, a tail `{*}`): two routes of one shape answer the same
/// requests. The route-conflict check and the path-level lints share it.
pub(crate) fn path_shape(prefix: &str, template: &[PathSegment]) -> String {
    let mut out = prefix.to_owned();
    for seg in template {
        out.push('/');
        match seg {
            PathSegment::Literal(l) => out.push_str(l),
            PathSegment::Param(_) => out.push_str("{}"),
            PathSegment::Tail(_) => out.push_str("{*}"),
        }
    }
    out
}
