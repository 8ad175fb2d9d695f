//! The step runner: one request through route lookup and an endpoint's steps, in
//! LANGUAGE.md's decision-table order, stopping at the first denial.

mod request;
mod steps;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use warden_compiler::graph::{Endpoint, EndpointKind, Method, RouteMatch, StepKind, param_value};
use warden_language::reason::Reason;

use super::decision::{Decision, DecisionId};
use super::eval::{Facts, Prepared};
use super::inline::InlineStr;
use super::json::JsonLimits;
use super::limits::Limiter;
use super::path::normalise;

/// `retry-after` of a request denied because its limit could not be checked
/// (`on_backend_error deny`): about the limiter's back-off before it tries again.
const BACKEND_ERROR_RETRY_MS: u64 = 1_000;

pub use self::request::{ExchangeRequest, HttpRequest, ResourceRequest, TokenVerifier, VerifiedToken};
use self::steps::Identity;
pub use self::steps::rule_layer;

/// Evaluates requests against one prepared graph.
pub struct Engine {
    prepared: Prepared,
    limiter: Arc<dyn Limiter>,
    verifier: Arc<dyn TokenVerifier>,
    /// The JWKS verifier behind `verifier`, for refreshing `jwks url` keys.
    jwks: Option<Arc<super::jwt::JwksVerifier>>,
    /// Asks issuers about opaque tokens (`introspect url …`); none: such a
    /// token is `introspection_unavailable`.
    introspector: Option<Arc<dyn super::introspect::Introspector>>,
    /// Body JSON limits (overridable in the server config).
    pub json_limits: JsonLimits,
}

static DECISIONS: AtomicU64 = AtomicU64::new(0);

/// The process id, read once (`getpid` is a system call).
static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// This process's id; 0 in a browser, where there are no processes (and
/// `std::process::id` panics).
fn process_id() -> u32 {
    #[cfg(not(target_arch = "wasm32"))]
    return std::process::id();
    #[cfg(target_arch = "wasm32")]
    return 0;
}

/// `{now_ms:012x}-{pid:08x}-{counter:08x}`, written inline (at most 42 bytes).
fn decision_id(now_ms: u64) -> DecisionId {
    let pid = *PID.get_or_init(process_id);
    let n = DECISIONS.fetch_add(1, Ordering::Relaxed);
    let mut id = DecisionId::new();
    // 16 + 1 + 8 + 1 + 16 bytes at most: always fits.
    let _ = id.push_hex(now_ms, 12);
    let _ = id.write_str("-");
    let _ = id.push_hex(u64::from(pid), 8);
    let _ = id.write_str("-");
    let _ = id.push_hex(n, 8);
    id
}

/// An IP address as text, inline: the `source.ip` fact of every decision
/// without a heap allocation (the longest address is 45 bytes).
fn ip_text(ip: std::net::IpAddr) -> InlineStr<48> {
    let mut t = InlineStr::new();
    let _ = t.push_ip(ip);
    t
}

impl Engine {
    /// An engine over a prepared graph, a limiter and a token verifier.
    pub fn new(prepared: Prepared, limiter: Arc<dyn Limiter>, verifier: Arc<dyn TokenVerifier>) -> Engine {
        Engine { prepared, limiter, verifier, jwks: None, introspector: None, json_limits: JsonLimits::default() }
    }

    /// Asks `introspector` about opaque tokens of issuers with `introspect url`.
    #[must_use]
    pub fn with_introspector(mut self, introspector: Arc<dyn super::introspect::Introspector>) -> Engine {
        self.introspector = Some(introspector);
        self
    }

    /// Remembers the JWKS verifier that `verifier` uses (possibly through a
    /// cache), so the service can refresh its `jwks url` keys.
    #[must_use]
    pub fn with_jwks(mut self, jwks: Arc<super::jwt::JwksVerifier>) -> Engine {
        self.jwks = Some(jwks);
        self
    }

    /// The JWKS verifier given to [`Engine::with_jwks`].
    pub fn jwks(&self) -> Option<&super::jwt::JwksVerifier> {
        self.jwks.as_deref()
    }

    /// The same, shared (an introspector verifies signed answers with it).
    pub fn jwks_shared(&self) -> Option<Arc<super::jwt::JwksVerifier>> {
        self.jwks.clone()
    }

    /// The graph being evaluated.
    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// Decides one HTTP request.
    pub fn check_http(&self, req: &HttpRequest) -> Decision {
        let mut d = self.http(req);
        d.revision = self.prepared.revision.clone();
        d.decision_id = decision_id(req.now_ms);
        d
    }

    /// Decides one resource check.
    pub fn check_resource(&self, req: &ResourceRequest) -> Decision {
        let mut d = self.resource(req);
        d.revision = self.prepared.revision.clone();
        d.decision_id = decision_id(req.now_ms);
        d
    }

    /// Decides one token exchange: the exchange whose `mint` is for the zone
    /// `req.audience` names, run as an endpoint (the caller, the subject
    /// token, the rules, the claims of the new token). `RouteNotFound` when no
    /// exchange mints for that audience.
    pub fn check_exchange(&self, req: &ExchangeRequest) -> Decision {
        let mut d = self.exchange(req);
        d.revision = self.prepared.revision.clone();
        d.decision_id = decision_id(req.now_ms);
        if let (Some(m), Some(asked)) = (d.mint.as_mut(), &req.scope) {
            // RFC 8693 §2.1: `scope` narrows what is issued, never widens it.
            let kept: Vec<&str> = m
                .claims
                .get("scope")
                .and_then(Value::as_str)
                .map(|s| s.split(' ').filter(|s| asked.iter().any(|a| a == s)).collect())
                .unwrap_or_default();
            if kept.is_empty() {
                m.claims.remove("scope");
            } else {
                let kept = kept.join(" ");
                m.claims.insert("scope".to_owned(), Value::String(kept));
            }
        }
        d
    }

    fn exchange(&self, r: &ExchangeRequest) -> Decision {
        let g = &self.prepared.graph;
        let found = g.endpoints.iter().find(|ep| {
            matches!(ep.kind, EndpointKind::Exchange { .. })
                && ep.steps.iter().any(|s| matches!(&s.kind, StepKind::Mint(m) if m.audience == r.audience))
        });
        let Some(ep) = found else {
            return Decision::new(Reason::RouteNotFound, "no exchange issues tokens for this audience", None);
        };
        let mut headers = r.headers.clone();
        if let Some(a) = &r.authorization {
            headers.push(("authorization".to_owned(), a.clone()));
        }
        let req = HttpRequest {
            method: "POST".to_owned(),
            scheme: r.scheme.clone(),
            host: String::new(),
            target: String::new(),
            headers,
            bearer: Some(r.subject_token.clone()),
            body: None,
            source_ip: r.source_ip,
            peer: r.peer.clone(),
            certificate: None,
            now_ms: r.now_ms,
            asserted: None,
            resource: None,
            context: None,
        };
        let source = req.source_ip.map(ip_text);
        let facts = Facts {
            peer: req.peer.as_deref(),
            source_ip: source.as_ref().map(InlineStr::as_str),
            method: "POST",
            ..Facts::default()
        };
        self.steps(ep, facts, &req)
    }

    fn resource(&self, r: &ResourceRequest) -> Decision {
        let g = &self.prepared.graph;
        let Some(rtype) = g.resources.iter().find(|t| t.name == r.resource_type) else {
            return Decision::new(Reason::RouteNotFound, format!("no resource type `{}`", r.resource_type), None);
        };
        let Some(&(_, endpoint)) = rtype.actions.iter().find(|(a, _)| *a == r.action) else {
            return Decision::new(
                Reason::MethodNotAllowed,
                format!("resource `{}` has no action `{}`", r.resource_type, r.action),
                None,
            );
        };
        let Some(ep) = g.endpoints.get(endpoint as usize) else {
            return Decision::new(Reason::RouteNotFound, "no such action", None);
        };
        let mut properties = r.properties.clone();
        properties.entry("id").or_insert_with(|| Value::String(r.resource_id.clone()));
        let asserted = r.subject.as_ref().map(|(id, props)| {
            let mut claims = props.clone();
            claims.insert("sub".to_owned(), Value::String(id.clone()));
            claims
        });
        let req = HttpRequest {
            method: "POST".to_owned(),
            scheme: r.scheme.clone(),
            host: String::new(),
            target: String::new(),
            headers: Vec::new(),
            bearer: r.token.clone(),
            body: None,
            source_ip: r.source_ip,
            peer: r.peer.clone(),
            certificate: None,
            now_ms: r.now_ms,
            asserted,
            resource: Some(Value::Object(properties)),
            context: r.context.clone(),
        };
        let source = req.source_ip.map(ip_text);
        let facts = Facts {
            resource: req.resource.as_ref(),
            context: req.context.as_ref(),
            peer: req.peer.as_deref(),
            source_ip: source.as_ref().map(InlineStr::as_str),
            method: &r.action,
            ..Facts::default()
        };
        self.steps(ep, facts, &req)
    }

    fn http(&self, req: &HttpRequest) -> Decision {
        let g = &self.prepared.graph;
        let path = match normalise(&req.target) {
            Ok(p) => p,
            Err(e) => return Decision::new(Reason::RouteNotFound, e.describe(), None),
        };
        let host = req
            .host
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(req.host.as_str(), |(h, _)| h);
        let host = host.trim_end_matches('.');
        // Lower case, copied only when it is not already.
        let host: std::borrow::Cow<'_, str> =
            if host.bytes().any(|b| b.is_ascii_uppercase()) { host.to_ascii_lowercase().into() } else { host.into() };
        let segments = &path.segments;
        // A method no route can name never matches, but its path may still (405).
        let method = Method::ALL
            .iter()
            .copied()
            .find(|m| m.as_str().eq_ignore_ascii_case(&req.method))
            .filter(|m| *m != Method::Any);
        let found = match method {
            Some(m) => g.routes.lookup(&host, m, segments),
            None => match g.routes.lookup(&host, Method::Get, segments) {
                RouteMatch::NotFound => RouteMatch::NotFound,
                _ => RouteMatch::MethodNotAllowed,
            },
        };
        let (endpoint, params) = match found {
            RouteMatch::Found { endpoint, params } => (endpoint, params),
            RouteMatch::MethodNotAllowed => {
                return Decision::new(
                    Reason::MethodNotAllowed,
                    format!("no route takes `{}` on this path", req.method),
                    None,
                );
            }
            RouteMatch::NotFound => return Decision::new(Reason::RouteNotFound, "no route matches the request", None),
        };
        let Some(ep) = g.endpoints.get(endpoint as usize) else {
            return Decision::new(Reason::RouteNotFound, "no route matches the request", None);
        };
        // Each parameter's text: its segment, borrowed (a tail of several is joined).
        let values: smallvec::SmallVec<[std::borrow::Cow<'_, str>; 6]> =
            params.into_iter().map(|span| param_value(segments, span)).collect();
        let params: smallvec::SmallVec<[&str; 6]> = values.iter().map(AsRef::as_ref).collect();
        let query: Vec<(String, String)> =
            path.query.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
        let canonical = path.canonical();
        let source = req.source_ip.map(ip_text);
        let facts = Facts {
            params: &params,
            param_names: &ep.params,
            query: &query,
            headers: &req.headers,
            peer: req.peer.as_deref(),
            source_ip: source.as_ref().map(InlineStr::as_str),
            method: &req.method,
            path: &canonical,
            host: &host,
            scheme: &req.scheme,
            ..Facts::default()
        };
        self.steps(ep, facts, req)
    }

    fn header<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
        req.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Runs an endpoint's steps; the decision carries the claims authentication
    /// established (for the decision log), whatever the outcome.
    fn steps(&self, ep: &Endpoint, facts: Facts<'_>, req: &HttpRequest) -> Decision {
        let mut identity: Option<Identity> = None;
        let mut body: Option<serde_json::Value> = None;
        let mut d = self.run_steps(ep, facts, req, &mut identity, &mut body);
        if !ep.bans.is_empty() && d.reason != Reason::Banned {
            self.count_bans(ep, facts, req, identity.as_ref(), body.as_ref(), &mut d);
        }
        d.claims = identity.map(|i| i.claims);
        d
    }

    /// The endpoint a decision came from, for explanations.
    pub fn endpoint_kind(&self, rule: &str) -> Option<&EndpointKind> {
        let id = rule.split('#').next().unwrap_or(rule);
        self.prepared.graph.endpoints.iter().find(|e| e.id == id).map(|e| &e.kind)
    }
}
