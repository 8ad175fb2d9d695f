//! The policy test runner (`warden test`, the playground): runs the `test`
//! blocks of a policy set against its compiled graph, with real tokens signed by
//! per-run keys, a fresh rate limit state and a virtual clock per test. Pure:
//! the keys come from the caller's crypto library through [`Keys`].

use std::collections::BTreeSet;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value, json};
use sha2::Digest as _;
use warden_compiler::graph::{Algorithm, Graph, KeySource, Method, RouteMatch};
use warden_compiler::{PolicySet, SourceFile};
use warden_language::ast::{
    self, CheckItem, Decl, Expectation, RequestItem, StepKind, TokenSpec, TokenVariant, ValueKind,
};
use warden_language::span::LineIndex;

use crate::decision::Decision;
use crate::eval::Prepared;
use crate::jwt::JwksVerifier;
use crate::limits::Memory;
use crate::path::normalise;
use crate::run::{Engine, ExchangeRequest, HttpRequest, ResourceRequest};

/// Where every test's virtual clock starts (2027-01-15).
const START_MS: u64 = 1_800_000_000_000;

/// The result of one test.
#[derive(Clone, Debug)]
pub struct TestResult {
    /// Test name.
    pub name: String,
    /// File it is in.
    pub file: String,
    /// Failed expectations and steps, in order, each starting with the
    /// `file:line:col` of the step at fault (empty: passed).
    pub failures: Vec<String>,
    /// How long it ran.
    pub duration: std::time::Duration,
}

/// Where a test's steps are, for its failures.
struct Place<'a> {
    path: &'a str,
    text: &'a str,
    lines: LineIndex,
}

impl Place<'_> {
    /// `file:line:col` of a byte offset.
    fn at(&self, offset: u32) -> String {
        let lc = self.lines.line_col(self.text, offset as usize);
        format!("{}:{}:{}", self.path, lc.line, lc.column)
    }
}

/// Every test's result and which endpoints were exercised.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// One per test run.
    pub results: Vec<TestResult>,
    /// Endpoint ids that some request or check reached.
    pub covered: BTreeSet<String>,
    /// Rule ids that decided something.
    pub rules: BTreeSet<String>,
}

/// A signing key made for one run: its algorithm (RS256 or ES256), its public
/// half as a JWK, and JWS signatures.
pub trait SigningKey {
    /// RS256 or ES256.
    fn algorithm(&self) -> Algorithm;
    /// The public key as a JWK, with `kid`, `use` and `alg`.
    fn jwk(&self, kid: &str) -> Value;
    /// The JWS signature of `message` (for ES256, the fixed-width `r || s`).
    fn sign(&self, message: &[u8]) -> Vec<u8>;
}

/// The keys a run signs with, made by the crypto library of the program that
/// runs it (aws-lc-rs for the CLI, pure-Rust crates in the browser).
pub trait Keys {
    /// A fresh key for `algorithm`, or `None` when this library cannot make one.
    fn generate(&self, algorithm: Algorithm) -> Option<Box<dyn SigningKey>>;
    /// HMAC-SHA256 of `message` with `key` (tokens that claim an HS* algorithm).
    fn hmac_sha256(&self, key: &[u8], message: &[u8]) -> Vec<u8>;
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The time now, where the platform has a monotonic clock (a browser's
/// wasm32 has none: tests there report no duration).
fn clock() -> Option<std::time::Instant> {
    #[cfg(not(target_arch = "wasm32"))]
    return Some(std::time::Instant::now());
    #[cfg(target_arch = "wasm32")]
    return None;
}

/// A key and the JWS it signs.
type Signer = Box<dyn SigningKey>;

/// A compact JWS of `claims` under `header`, signed by `key`.
fn jws(key: &dyn SigningKey, header: &Value, claims: &Value) -> String {
    let message = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signature = key.sign(message.as_bytes());
    format!("{message}.{}", b64(&signature))
}

/// A key for the first algorithm of the allowlist `keys` can make.
fn for_algorithms(keys: &dyn Keys, algs: &[Algorithm]) -> Option<(Signer, Algorithm)> {
    algs.iter()
        .find(|a| matches!(a, Algorithm::RS256 | Algorithm::ES256))
        .and_then(|alg| keys.generate(*alg).map(|k| (k, *alg)))
}

/// Test values (`{ a: 1 }`) as JSON.
fn value(v: &ast::Value) -> Value {
    match &v.kind {
        ValueKind::Str(s) => Value::String(s.clone()),
        ValueKind::Number { value, .. } => serde_json::Number::from_f64(*value).map_or(Value::Null, |n| {
            if value.fract() == 0.0 && value.abs() < 9.0e15 { Value::from(*value as i64) } else { Value::Number(n) }
        }),
        ValueKind::Bool(b) => Value::Bool(*b),
        ValueKind::Null => Value::Null,
        ValueKind::Array(items) => Value::Array(items.iter().map(value).collect()),
        ValueKind::Object(entries) => Value::Object(entries.iter().map(|(k, v)| (k.name.clone(), value(v))).collect()),
    }
}

fn object(v: Option<&ast::Value>) -> Map<String, Value> {
    match v.map(value) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

struct Runner<'g> {
    graph: &'g Graph,
    keys: &'g dyn Keys,
    engine_graph: Graph,
    signers: Vec<Option<(Signer, Algorithm)>>,
    stranger: Option<Signer>,
    /// The run's DPoP key (`dpop` in a request), and how many proofs it made.
    dpop: Option<Signer>,
    proofs: std::cell::Cell<u64>,
}

impl Runner<'_> {
    fn engine(&self) -> Result<Engine, String> {
        let verifier = JwksVerifier::new(&self.engine_graph, &|_| None);
        let prepared = Prepared::new(self.engine_graph.clone()).map_err(|e| e.to_string())?;
        Ok(Engine::new(prepared, Arc::new(Memory::new(100_000)), Arc::new(verifier)))
    }

    /// The issuers of the zone a request or check reaches.
    /// The issuers of the zone a request or check reaches; every issuer when it
    /// reaches none (a token for a request that will get a 404 still has to be minted).
    fn zone_issuers(&self, endpoint: Option<u32>) -> Vec<u32> {
        match endpoint
            .and_then(|e| self.graph.endpoints.get(e as usize))
            .and_then(|e| self.graph.zones.get(e.zone as usize))
        {
            Some(z) => z.issuers.clone(),
            None => (0..u32::try_from(self.graph.issuers.len()).unwrap_or(0)).collect(),
        }
    }

    /// The run's DPoP key as a JWK, and its RFC 7638 thumbprint.
    fn dpop_key(&self) -> Result<(&Signer, Map<String, Value>, String), String> {
        let key = self.dpop.as_ref().ok_or("no DPoP key could be made")?;
        let Value::Object(mut jwk) = key.jwk("") else { return Err("no DPoP key could be made".to_owned()) };
        for extra in ["kid", "use", "alg"] {
            jwk.remove(extra);
        }
        let jkt = crate::dpop::thumbprint(&jwk)?;
        Ok((key, jwk, jkt))
    }

    /// A fresh DPoP proof (RFC 9449) by the run's key for `req` and `token`.
    fn dpop_proof(&self, req: &HttpRequest, token: &str) -> Result<String, String> {
        let (key, jwk, _) = self.dpop_key()?;
        let n = self.proofs.get();
        self.proofs.set(n + 1);
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
        let claims = json!({
            "jti": format!("warden-test-{n}"),
            "htm": req.method,
            "htu": crate::dpop::htu(&req.scheme, &req.host, &req.target),
            "iat": req.now_ms / 1_000,
            "ath": b64(&sha2::Sha256::digest(token.as_bytes())),
        });
        Ok(jws(key.as_ref(), &header, &claims))
    }

    fn mint(&self, spec: &TokenSpec, issuers: &[u32], now_ms: u64) -> Result<String, String> {
        self.mint_with(spec, issuers, now_ms, None)
    }

    /// [`Runner::mint`], with `cnf` added to the claims unless they have one.
    fn mint_with(&self, spec: &TokenSpec, issuers: &[u32], now_ms: u64, cnf: Option<Value>) -> Result<String, String> {
        if let Some(ast::Spanned { node: TokenVariant::Raw(text), .. }) = &spec.variant {
            return Ok(text.value.clone());
        }
        let mut claims = object(spec.claims.as_ref());
        if let Some(cnf) = cnf {
            claims.entry("cnf").or_insert(cnf);
        }
        let issuer = match claims.get("iss").and_then(Value::as_str) {
            Some(iss) => {
                issuers.iter().copied().find(|&i| self.graph.issuers.get(i as usize).is_some_and(|x| x.iss == iss))
            }
            None if issuers.len() == 1 => issuers.first().copied(),
            None => None,
        };
        let Some(issuer) = issuer.or_else(|| issuers.first().copied()) else {
            return Err("no issuer to mint a token for: the route's zone trusts none".to_owned());
        };
        let Some(meta) = self.graph.issuers.get(issuer as usize) else { return Err("unknown issuer".to_owned()) };
        let now = now_ms / 1000;
        claims.entry("iss").or_insert_with(|| Value::String(meta.iss.clone()));
        if let Some(aud) = meta.audiences.first() {
            claims.entry("aud").or_insert_with(|| Value::String(aud.clone()));
        }
        claims.entry("iat").or_insert(json!(now));
        claims.entry("exp").or_insert(json!(now + 300));
        let Some(Some((signer, alg))) = self.signers.get(issuer as usize) else {
            return Err(format!("cannot mint for issuer `{}`: none of its algorithms is RS256 or ES256", meta.iss));
        };
        let mut header = json!({"alg": alg.as_str(), "typ": "JWT", "kid": "warden-test"});
        let mut signer = signer;
        match spec.variant.as_ref().map(|v| &v.node) {
            Some(TokenVariant::Expired) => {
                claims.insert("iat".to_owned(), json!(now.saturating_sub(7200)));
                claims.insert("exp".to_owned(), json!(now.saturating_sub(3600)));
            }
            Some(TokenVariant::NotYetValid) => {
                claims.insert("nbf".to_owned(), json!(now + 3600));
                claims.insert("exp".to_owned(), json!(now + 7200));
            }
            Some(TokenVariant::WrongKey) => {
                signer = self.stranger.as_ref().ok_or("no key to sign with")?;
                header["alg"] = json!(signer.algorithm().as_str());
            }
            Some(TokenVariant::Alg(name)) => {
                // Claims the named algorithm; HS* is keyed with a throwaway secret.
                header["alg"] = json!(name.value);
                if name.value.starts_with("HS") {
                    let message = format!(
                        "{}.{}",
                        b64(header.to_string().as_bytes()),
                        b64(Value::Object(claims).to_string().as_bytes())
                    );
                    let tag = self.keys.hmac_sha256(b"warden-test-secret", message.as_bytes());
                    return Ok(format!("{message}.{}", b64(&tag)));
                }
            }
            _ => {}
        }
        Ok(jws(signer.as_ref(), &header, &Value::Object(claims)))
    }

    fn run_test(&self, test: &ast::Test, file: &SourceFile, report: &mut Report) -> TestResult {
        let started = clock();
        let place = Place { path: &file.path, text: &file.text, lines: LineIndex::new(&file.text) };
        let mut result = TestResult {
            name: test.name.value.clone(),
            file: file.path.clone(),
            failures: Vec::new(),
            duration: std::time::Duration::ZERO,
        };
        match self.engine() {
            Ok(engine) => {
                let mut state = State { now_ms: START_MS, last: None, step: 0 };
                self.steps(&test.steps, &engine, &mut state, &mut result, report, &place);
            }
            Err(err) => {
                result.failures.push(format!("{}: the graph cannot be loaded: {err}", place.at(test.span.start)));
            }
        }
        result.duration = started.map(|s| s.elapsed()).unwrap_or_default();
        result
    }

    fn steps(
        &self,
        steps: &[ast::Step],
        engine: &Engine,
        state: &mut State,
        result: &mut TestResult,
        report: &mut Report,
        place: &Place<'_>,
    ) {
        for step in steps {
            let at = || place.at(step.span.start);
            match &step.node {
                StepKind::Wait(d) => state.now_ms = state.now_ms.saturating_add(d.millis()),
                StepKind::Repeat { count, steps, .. } => {
                    for _ in 0..count.node {
                        self.steps(steps, engine, state, result, report, place);
                    }
                }
                StepKind::Request(r) => {
                    state.step += 1;
                    match self.http(r, state.now_ms) {
                        Ok((req, _)) => {
                            let d = engine.check_http(&req);
                            record(&d, report);
                            state.last = Some(d);
                        }
                        Err(e) => {
                            result.failures.push(format!("{}: request {}: {e}", at(), state.step));
                            state.last = None;
                        }
                    }
                }
                StepKind::Exchange(x) => {
                    state.step += 1;
                    match self.exchange(x, state.now_ms) {
                        Ok(req) => {
                            let d = engine.check_exchange(&req);
                            record(&d, report);
                            state.last = Some(d);
                        }
                        Err(e) => {
                            result.failures.push(format!("{}: exchange {}: {e}", at(), state.step));
                            state.last = None;
                        }
                    }
                }
                StepKind::Check(c) => {
                    state.step += 1;
                    match self.resource(c, state.now_ms) {
                        Ok(req) => {
                            let d = engine.check_resource(&req);
                            record(&d, report);
                            state.last = Some(d);
                        }
                        Err(e) => {
                            result.failures.push(format!("{}: check {}: {e}", at(), state.step));
                            state.last = None;
                        }
                    }
                }
                StepKind::Expect(e) => {
                    let Some(d) = &state.last else { continue };
                    if let Some(failure) = expectation(e, d) {
                        result.failures.push(format!("{}: step {}: {failure}", at(), state.step));
                    }
                }
            }
        }
    }

    fn http(&self, r: &ast::Request, now_ms: u64) -> Result<(HttpRequest, Option<u32>), String> {
        let url = r.url.value.as_str();
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
            ("https", rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            ("http", rest)
        } else {
            ("https", url)
        };
        let (host, target) = if url.starts_with('/') {
            (String::new(), rest.to_owned())
        } else {
            match rest.find('/') {
                Some(i) => (rest.get(..i).unwrap_or("").to_owned(), rest.get(i..).unwrap_or("/").to_owned()),
                None => (rest.to_owned(), "/".to_owned()),
            }
        };
        let mut req = HttpRequest {
            method: r.method.node.as_str().to_owned(),
            scheme: scheme.to_owned(),
            host: host.clone(),
            target,
            now_ms,
            ..HttpRequest::default()
        };
        // A path without a host goes to the first host whose routes have it.
        if req.host.is_empty()
            && let Some(h) =
                self.graph.routes.hosts.iter().filter_map(|h| h.host.clone()).find(|h| self.endpoint(&req, h).is_some())
        {
            req.host = h;
        }
        let endpoint = self.endpoint(&req, &req.host.clone());
        let dpop = r.items.iter().any(|i| i.node == RequestItem::Dpop);
        for item in &r.items {
            match &item.node {
                RequestItem::Ip(ip) => req.source_ip = Some(address(ip)?),
                RequestItem::Peer(p) => req.peer = Some(p.value.clone()),
                RequestItem::Certificate(t) => req.certificate = Some(t.value.clone()),
                // Made once the token is known, below.
                RequestItem::Dpop => {}
                RequestItem::Header { name, value } => {
                    req.headers.push((name.value.to_ascii_lowercase(), value.value.clone()))
                }
                RequestItem::Json(v) => {
                    req.headers.push(("content-type".to_owned(), "application/json".to_owned()));
                    req.body = Some(value(v).to_string().into_bytes());
                }
                RequestItem::Body { text, content_type } => {
                    if let Some(ct) = content_type {
                        req.headers.push(("content-type".to_owned(), ct.value.clone()));
                    }
                    req.body = Some(text.value.clone().into_bytes());
                }
                RequestItem::Basic { client, secret } => {
                    req.headers.push(("authorization".to_owned(), basic(client, secret)));
                }
                RequestItem::Token(spec) => {
                    if dpop {
                        let cnf = json!({"jkt": self.dpop_key()?.2});
                        let token = self.mint_with(spec, &self.zone_issuers(endpoint), now_ms, Some(cnf))?;
                        req.headers.push(("authorization".to_owned(), format!("DPoP {token}")));
                    } else {
                        let token = self.mint(spec, &self.zone_issuers(endpoint), now_ms)?;
                        req.headers.push(("authorization".to_owned(), format!("Bearer {token}")));
                    }
                }
            }
        }
        if dpop {
            let token = req
                .headers
                .iter()
                .find_map(|(n, v)| if n == "authorization" { v.strip_prefix("DPoP ") } else { None })
                .ok_or("`dpop` needs the request's `token`")?
                .to_owned();
            let proof = self.dpop_proof(&req, &token)?;
            req.headers.push(("dpop".to_owned(), proof));
        }
        Ok((req, endpoint))
    }

    fn endpoint(&self, req: &HttpRequest, host: &str) -> Option<u32> {
        let path = normalise(&req.target).ok()?;
        match self.graph.routes.lookup(host, Method::parse(&req.method)?, &path.segments) {
            RouteMatch::Found { endpoint, .. } => Some(endpoint),
            _ => None,
        }
    }

    /// A token exchange: the subject `token` is minted for the zone the
    /// exchange of that audience takes tokens from.
    fn exchange(&self, x: &ast::ExchangeCall, now_ms: u64) -> Result<ExchangeRequest, String> {
        let endpoint = self.graph.endpoints.iter().position(|ep| {
            matches!(ep.kind, warden_compiler::graph::EndpointKind::Exchange { .. })
                && ep.steps.iter().any(
                    |s| matches!(&s.kind, warden_compiler::graph::StepKind::Mint(m) if m.audience == x.audience.value),
                )
        });
        let endpoint = endpoint.and_then(|e| u32::try_from(e).ok());
        let mut req = ExchangeRequest {
            audience: x.audience.value.clone(),
            scheme: "https".to_owned(),
            now_ms,
            ..ExchangeRequest::default()
        };
        for item in &x.items {
            match &item.node {
                RequestItem::Ip(ip) => req.source_ip = Some(address(ip)?),
                RequestItem::Peer(p) => req.peer = Some(p.value.clone()),
                RequestItem::Header { name, value } => {
                    req.headers.push((name.value.to_ascii_lowercase(), value.value.clone()))
                }
                RequestItem::Basic { client, secret } => req.authorization = Some(basic(client, secret)),
                RequestItem::Token(spec) => {
                    req.subject_token = self.mint(spec, &self.zone_issuers(endpoint), now_ms)?
                }
                RequestItem::Json(_) | RequestItem::Body { .. } => {
                    return Err("a token exchange has no body".to_owned());
                }
                RequestItem::Certificate(_) | RequestItem::Dpop => {
                    return Err("the caller of a token exchange authenticates with `peer` or `basic`".to_owned());
                }
            }
        }
        Ok(req)
    }

    fn resource(&self, c: &ast::Check, now_ms: u64) -> Result<ResourceRequest, String> {
        let endpoint = self
            .graph
            .resources
            .iter()
            .find(|r| r.name == c.resource_type.name)
            .and_then(|r| r.actions.iter().find(|(a, _)| *a == c.action.name).map(|(_, e)| *e));
        let mut req = ResourceRequest {
            resource_type: c.resource_type.name.clone(),
            action: c.action.name.clone(),
            scheme: "https".to_owned(),
            now_ms,
            ..ResourceRequest::default()
        };
        for item in &c.items {
            match &item.node {
                CheckItem::Ip(ip) => req.source_ip = Some(address(ip)?),
                CheckItem::Peer(p) => req.peer = Some(p.value.clone()),
                CheckItem::Subject { id, properties } => {
                    req.subject = Some((id.value.clone(), object(properties.as_ref())))
                }
                CheckItem::Resource { id, properties } => {
                    req.resource_id = id.value.clone();
                    req.properties = object(properties.as_ref());
                }
                CheckItem::Context(v) => req.context = Some(value(v)),
                CheckItem::Token(spec) => req.token = Some(self.mint(spec, &self.zone_issuers(endpoint), now_ms)?),
            }
        }
        Ok(req)
    }
}

/// A test's `ip "…"`.
fn address(ip: &ast::Str) -> Result<std::net::IpAddr, String> {
    ip.value.parse().map_err(|_| format!("`{}` is not an IP address", ip.value))
}

/// The `authorization` value of a test's `basic "ID", "SECRET"`.
fn basic(client: &ast::Str, secret: &ast::Str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", client.value, secret.value));
    format!("Basic {encoded}")
}

struct State {
    now_ms: u64,
    last: Option<Decision>,
    step: usize,
}

fn record(d: &Decision, report: &mut Report) {
    if let Some(rule) = &d.rule {
        report.rules.insert(rule.to_string());
        report.covered.insert(rule.split('#').next().unwrap_or(rule).to_owned());
    }
}

fn describe(d: &Decision) -> String {
    let verdict = if d.allow { "allow".to_owned() } else { format!("deny {} {}", d.status, d.reason) };
    match &d.rule {
        Some(rule) => format!("{verdict} (rule `{rule}`: {})", d.detail),
        None => format!("{verdict} ({})", d.detail),
    }
}

fn expectation(e: &Expectation, d: &Decision) -> Option<String> {
    match e {
        Expectation::Allow if d.allow => None,
        Expectation::Allow => Some(format!("expected allow, got {}", describe(d))),
        Expectation::Deny { status, reason } => {
            let ok = !d.allow
                && status.as_ref().is_none_or(|s| s.node == d.status)
                && reason.as_ref().is_none_or(|r| r.node == d.reason);
            if ok {
                return None;
            }
            let mut want = "deny".to_owned();
            if let Some(s) = status {
                want.push_str(&format!(" {}", s.node));
            }
            if let Some(r) = reason {
                want.push_str(&format!(" {}", r.node));
            }
            Some(format!("expected {want}, got {}", describe(d)))
        }
        Expectation::Header { name, value } => match d.header(&name.value) {
            Some(v) if v == value.value => None,
            Some(v) => Some(format!("expected header `{}` = `{}`, got `{v}`", name.value, value.value)),
            None => Some(format!(
                "expected header `{}` = `{}`, got no such header ({})",
                name.value,
                value.value,
                describe(d)
            )),
        },
    }
}

/// Runs every test of `set` (whose name contains `filter`, when given) against `graph`.
pub fn run(set: &PolicySet, graph: &Graph, filter: Option<&str>, keys: &dyn Keys) -> Report {
    let runner = runner(graph, keys);
    let mut report = Report::default();
    for f in &set.files {
        for decl in &f.parsed.file.decls {
            let Decl::Test(test) = decl else { continue };
            if filter.is_some_and(|s| !test.name.value.contains(s)) {
                continue;
            }
            let result = runner.run_test(test, f, &mut report);
            report.results.push(result);
        }
    }
    report
}

/// Judges captured inputs again (`warden replay`): `graph`'s issuers trust
/// keys of this run, and a token with the captured claims is signed by the
/// key of the issuer it names.
pub struct Replayer<'g>(Runner<'g>);

impl<'g> Replayer<'g> {
    /// A replayer for `graph`. Its issuers introspect nothing: a captured
    /// token is signed again as a JWT from its claims (the answer an issuer
    /// gave, for an opaque one), and the run's keys verify it.
    pub fn new(graph: &'g Graph, keys: &'g dyn Keys) -> Replayer<'g> {
        let mut runner = runner(graph, keys);
        for issuer in &mut runner.engine_graph.issuers {
            issuer.introspect = None;
        }
        Replayer(runner)
    }

    /// An engine over the graph that counts limits with `limiter`.
    pub fn engine(&self, limiter: Arc<dyn crate::limits::Limiter>) -> Result<Engine, String> {
        let verifier = JwksVerifier::new(&self.0.engine_graph, &|_| None);
        let prepared = Prepared::new(self.0.engine_graph.clone()).map_err(|e| e.to_string())?;
        Ok(Engine::new(prepared, limiter, Arc::new(verifier)))
    }

    /// A token with exactly `claims`, signed by the run's key of the issuer
    /// its `iss` names; by a key no issuer trusts when the graph has no such
    /// issuer (so it is refused, as the real one would be).
    pub fn token(&self, claims: &Map<String, Value>) -> Result<String, String> {
        let iss = claims.get("iss").and_then(Value::as_str).ok_or("the captured claims name no issuer")?;
        let issuer = self.0.graph.issuers.iter().position(|i| i.iss == iss);
        let (signer, alg) = match issuer.and_then(|i| self.0.signers.get(i)) {
            Some(Some((signer, alg))) => (signer, alg.as_str()),
            Some(None) => {
                return Err(format!("cannot sign for issuer `{iss}`: none of its algorithms is RS256 or ES256"));
            }
            None => {
                let stranger = self.0.stranger.as_ref().ok_or("no key to sign with")?;
                (stranger, stranger.algorithm().as_str())
            }
        };
        let header = json!({"alg": alg, "typ": "JWT", "kid": "warden-test"});
        Ok(jws(signer.as_ref(), &header, &Value::Object(claims.clone())))
    }
}

/// A runner for `graph`: one key per issuer, trusted in place of its JWKS.
fn runner<'g>(graph: &'g Graph, keys: &'g dyn Keys) -> Runner<'g> {
    // One key per issuer for the run, trusted in place of the issuer's JWKS.
    let signers: Vec<Option<(Signer, Algorithm)>> =
        graph.issuers.iter().map(|i| for_algorithms(keys, &i.algorithms)).collect();
    let mut engine_graph = graph.clone();
    for (issuer, signer) in engine_graph.issuers.iter_mut().zip(&signers) {
        let jwks = match signer {
            Some((s, _)) => json!({"keys": [s.jwk("warden-test")]}),
            None => json!({"keys": []}),
        };
        issuer.keys = Some(KeySource::File { path: "<test keys>".to_owned(), jwks });
    }
    // A key no issuer trusts, of the first issuer's algorithm where one can be made.
    let stranger = match signers.iter().flatten().next() {
        Some((_, Algorithm::RS256)) => keys.generate(Algorithm::RS256),
        _ => None,
    }
    .or_else(|| keys.generate(Algorithm::ES256));
    let dpop = keys.generate(Algorithm::ES256);
    Runner { graph, keys, engine_graph, signers, stranger, dpop, proofs: std::cell::Cell::new(0) }
}

/// What a coverage item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Covers {
    /// A route or an action (an endpoint): some request or check reached it.
    Endpoint,
    /// An `allow` or `deny` rule: it decided some request.
    Rule,
}

/// One route, action or rule, where it is written, and whether a test covered it.
#[derive(Clone, Debug)]
pub struct Covered {
    /// Endpoint or rule.
    pub kind: Covers,
    /// Its id (`api.GET /p`, `api.GET /p#2`).
    pub id: String,
    /// The file it is written in.
    pub file: String,
    /// Its 1-based line.
    pub line: u32,
    /// Whether a test covered it.
    pub covered: bool,
}

/// Every endpoint and rule of `graph`, in graph order, with whether `report`'s
/// tests covered it.
pub fn coverage(graph: &Graph, report: &Report) -> Vec<Covered> {
    let file = |o: &warden_compiler::graph::Origin| graph.sources.get(o.source as usize).cloned().unwrap_or_default();
    let mut out = Vec::new();
    for e in &graph.endpoints {
        let covered = report.covered.contains(&e.id);
        out.push(Covered {
            kind: Covers::Endpoint,
            id: e.id.clone(),
            file: file(&e.origin),
            line: e.origin.line,
            covered,
        });
        for step in &e.steps {
            let rules: Vec<(&str, &warden_compiler::graph::Origin)> = match &step.kind {
                warden_compiler::graph::StepKind::Deny(_) => vec![(&*step.rule, &step.origin)],
                warden_compiler::graph::StepKind::Allow(rules) => rules.iter().map(|r| (&*r.rule, &r.origin)).collect(),
                _ => Vec::new(),
            };
            for (id, origin) in rules {
                out.push(Covered {
                    kind: Covers::Rule,
                    id: id.to_owned(),
                    file: file(origin),
                    line: origin.line,
                    covered: report.rules.contains(id),
                });
            }
        }
    }
    out
}
