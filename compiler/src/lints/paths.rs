//! Routes grouped by host and path shape, for the lints that compare the
//! routes of one path (`mixed-auth-on-path`, `shadowed-route`).

use std::collections::BTreeMap;

use warden_language::Span;

use super::context::RouteSite;
use crate::check::routes::path_shape;

/// A path as the path-level lints see it: the api's host (lower case, `None`
/// for any host) and the [`path_shape`] of the route's path.
pub(super) type PathKey = (Option<String>, String);

/// A route as the path-level lints see it: file, span, method, auth keyword.
pub(super) type PathRoute = (usize, Span, String, &'static str);

/// Every route under its host and path shape, in file order within each.
pub(super) fn by_path(routes: &[RouteSite<'_>]) -> BTreeMap<PathKey, Vec<PathRoute>> {
    let mut by_path: BTreeMap<PathKey, Vec<PathRoute>> = BTreeMap::new();
    for site in routes {
        let route = site.route;
        let span = route.method.span.to(route.path.span);
        by_path.entry((site.host.clone(), path_shape(&site.prefix, &route.template))).or_default().push((
            site.file,
            span,
            route.method.node.as_str().to_owned(),
            site.auth(),
        ));
    }
    by_path
}
