//! W0317 `open-endpoint` and W0318 `unrestricted-network`: what anyone can
//! reach. Off by default (public routes and open zones are often meant);
//! `warden analyze` always reports them, and a set that wants every such
//! exposure justified turns them on in its `warden.toml` and silences each
//! with a reason (`// warden: allow W0317 "the health check is public"`).

use warden_language::{Code, Span};

use super::context::Context;
use super::{LintInfo, warn};
use crate::FileDiagnostic;
use crate::analysis::{Credential, Reach};
use crate::graph::Origin;

/// an endpoint anyone can reach without a credential
pub const OPEN_ENDPOINT: LintInfo = LintInfo {
    code: Code("W0317"),
    name: "open-endpoint",
    summary: "an endpoint anyone can reach without a credential",
    explanation: "Flags a route, action or exchange with `auth none` that some request can be allowed through. Such an endpoint is the whole attack surface of the zone for an anonymous caller: its limits, schema and rules are all that stand in the way. Off by default; `warden analyze` reports it. Example: `route POST \"/login\" { auth none; allow }`.",
    fix: "take a credential, or keep it public and say why: `// warden: allow W0317 \"reason\"`",
};

/// a zone open to every address while others are limited to networks
pub const UNRESTRICTED_NETWORK: LintInfo = LintInfo {
    code: Code("W0318"),
    name: "unrestricted-network",
    summary: "a zone open to every address while others are limited to networks",
    explanation: "Flags a zone without `network` whose endpoints can allow requests, in a set where another zone is limited to networks: its endpoints are reachable from outside every declared network. Off by default; `warden analyze` reports it. Example: `zone partners { network \"198.51.100.0/24\" }` beside `zone admin { require mtls }`.",
    fix: "add `network …` to the zone, or say why it is open: `// warden: allow W0318 \"reason\"`",
};

fn span(origin: &Origin) -> Span {
    Span { start: origin.span[0], end: origin.span[1] }
}

/// Every endpoint with `auth none` that can allow.
pub(super) fn check_open(cx: &Context<'_>, out: &mut Vec<FileDiagnostic>) {
    let matrix = crate::analysis::matrix(cx.graph, None);
    for (ep, access) in cx.graph.endpoints.iter().zip(&matrix.endpoints) {
        if access.credential == Credential::Anonymous && access.reach != Reach::Never {
            warn(
                out,
                ep.origin.source as usize,
                &OPEN_ENDPOINT,
                span(&ep.origin),
                format!("`{}` is reachable without a credential", ep.id),
            );
        }
    }
}

/// Every zone without networks, with endpoints that can allow, when another zone has networks.
pub(super) fn check_network(cx: &Context<'_>, out: &mut Vec<FileDiagnostic>) {
    let graph = cx.graph;
    let limited: Vec<&str> = graph.zones.iter().filter(|z| !z.networks.is_empty()).map(|z| z.name.as_str()).collect();
    if limited.is_empty() {
        return;
    }
    let matrix = crate::analysis::matrix(graph, None);
    for (index, zone) in graph.zones.iter().enumerate() {
        if !zone.networks.is_empty() {
            continue;
        }
        let open = graph
            .endpoints
            .iter()
            .zip(&matrix.endpoints)
            .filter(|(ep, a)| ep.zone as usize == index && a.reach != Reach::Never)
            .count();
        if open > 0 {
            warn(
                out,
                zone.origin.source as usize,
                &UNRESTRICTED_NETWORK,
                span(&zone.origin),
                format!(
                    "zone `{}` admits every address to {open} endpoint{} while {} {} limited to networks",
                    zone.name,
                    if open == 1 { "" } else { "s" },
                    limited.iter().map(|z| format!("`{z}`")).collect::<Vec<_>>().join(", "),
                    if limited.len() == 1 { "is" } else { "are" }
                ),
            );
        }
    }
}
