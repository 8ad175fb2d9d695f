//! The steps of an endpoint in LANGUAGE.md's decision-table order (transport, limits,
//! authentication, scopes, body, deny and allow rules), stopping at the first denial;
//! and [`rule_layer`], the scope and rule steps alone.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{Map, Value};
use warden_compiler::graph::{
    AllowRule, Auth, BackendErrorPolicy, BodyAccept, Endpoint, ExprId, LimitStage, Mint, StepKind,
};
use warden_language::reason::Reason;

use super::{BACKEND_ERROR_RETRY_MS, Engine, HttpRequest};
use crate::credentials;
use crate::decision::{Decision, MintRequest};
use crate::eval::{EvalError, Facts, Prepared, eval, eval_bool};
use crate::inline::InlineStr;
use crate::json;
use crate::limits::{BackendError, BanTerms, Rate};
use crate::schema;

/// What authentication established.
pub(super) struct Identity {
    pub(super) claims: Arc<Map<String, Value>>,
    /// The issuer whose scope claim lists the scopes (`scope` when none).
    pub(super) issuer: Option<u32>,
}

impl Engine {
    pub(super) fn run_steps(
        &self,
        ep: &Endpoint,
        facts: Facts<'_>,
        req: &HttpRequest,
        identity: &mut Option<Identity>,
        parsed_body: &mut Option<Value>,
    ) -> Decision {
        let g = &self.prepared.graph;
        let realm = g.zones.get(ep.zone as usize).map_or("warden", |z| z.name.as_str());
        let mut allowed: Option<Decision> = None;
        // In an exchange: the calling service, once the subject token took its
        // place, and what the rules read of it (`context.client`).
        let mut actor: Option<String> = None;
        let mut exchange: Option<Value> = None;
        // The limits' keys, one after the other in one buffer.
        let mut key = KeyBuf::default();
        for step in &ep.steps {
            // The rule id is copied only into the decision that names it.
            let rule = || Some(step.rule.clone());
            match &step.kind {
                StepKind::Transport { .. } => {
                    if let Some(t) = self.prepared.transports.get(ep.zone as usize)
                        && let Err((reason, detail)) = t.check(&req.scheme, req.peer.as_deref(), req.source_ip)
                    {
                        return Decision::new(reason, detail, rule());
                    }
                }
                StepKind::Limit { limit, stage } => {
                    let Some(l) = g.limits.get(*limit as usize) else { continue };
                    // Post-auth keys read the identity established by then.
                    let facts = Facts { claims: identity.as_ref().map(|i| &*i.claims), ..facts };
                    // A missing key counts in one shared bucket: omitting it is no way around a limit.
                    let _ = self.write_key(&l.keys, l.ipv6_prefix, &facts, req, &mut key);
                    let rate = Rate { count: l.count, period_ms: l.period_ms, burst: l.burst };
                    let id = self.prepared.limit_ids.get(*limit as usize).copied().unwrap_or(u64::from(*limit));
                    let outcome = match self.limiter.consume(id, key.as_str(), rate, req.now_ms) {
                        Ok(outcome) => outcome,
                        Err(BackendError) => match l.on_backend_error {
                            BackendErrorPolicy::Allow => continue,
                            BackendErrorPolicy::Deny => {
                                return Decision::new(
                                    Reason::RateLimited,
                                    format!(
                                        "limit `{}` could not be checked (rate-limit backend unavailable; \
                                         on_backend_error deny)",
                                        l.name
                                    ),
                                    rule(),
                                )
                                .with_retry_after(BACKEND_ERROR_RETRY_MS);
                            }
                        },
                    };
                    if !outcome.allowed {
                        let stage =
                            if *stage == LimitStage::PreAuth { "before authentication" } else { "for this caller" };
                        return Decision::new(
                            Reason::RateLimited,
                            format!("limit `{}` is exhausted {stage}", l.name),
                            rule(),
                        )
                        .with_rate_limit(&outcome);
                    }
                }
                StepKind::Ban { ban } => {
                    let Some(b) = g.bans.get(*ban as usize) else { continue };
                    if self.ban_exempt(*ban, req) {
                        continue;
                    }
                    let facts = rule_facts(facts, identity.as_ref(), parsed_body.as_ref(), None);
                    // A request without any of the key is nobody's: never banned (banning
                    // the missing value would shut out everyone who lacks it).
                    if !self.write_key(&b.keys, b.ipv6_prefix, &facts, req, &mut key) {
                        continue;
                    }
                    let id = self.prepared.ban_ids.get(*ban as usize).copied().unwrap_or_default();
                    let (detail, retry_ms) = match self.limiter.banned(id, key.as_str(), req.now_ms) {
                        Ok(None) => continue,
                        Ok(Some(until)) => {
                            let left = until.saturating_sub(req.now_ms);
                            (format!("banned by `{}` for another {} s", b.name, left.div_ceil(1_000)), left)
                        }
                        Err(BackendError) => match b.on_backend_error {
                            BackendErrorPolicy::Allow => continue,
                            BackendErrorPolicy::Deny => (
                                format!(
                                    "ban `{}` could not be checked (backend unavailable; on_backend_error deny)",
                                    b.name
                                ),
                                BACKEND_ERROR_RETRY_MS,
                            ),
                        },
                    };
                    let mut d = Decision::new(Reason::Banned, detail, rule()).with_retry_after(retry_ms);
                    d.status = b.status;
                    return d;
                }
                StepKind::Authenticate(auth) => match self.authenticate(auth, req, Some(ep.zone)) {
                    Ok(id) => *identity = Some(id),
                    Err((reason, detail)) => {
                        let d = Decision::new(reason, detail, rule());
                        return match auth {
                            // A client authenticates with HTTP Basic (RFC 6749 §2.3.1):
                            // the challenge names the scheme it must use (RFC 7617).
                            Auth::ClientSecret { .. } => d.with_basic_challenge(realm),
                            _ => d.with_challenge(realm, None),
                        };
                    }
                },
                StepKind::Subject { issuers } => {
                    match self.authenticate(&Auth::Bearer { issuers: issuers.clone() }, req, Some(ep.zone)) {
                        Ok(subject) => {
                            let caller = identity.take().and_then(|i| {
                                let claims = &i.claims;
                                ["sub", "client_id"]
                                    .iter()
                                    .find_map(|c| claims.get(*c).and_then(Value::as_str))
                                    .map(str::to_owned)
                            });
                            actor = caller.or_else(|| req.peer.clone());
                            let mut context = Map::new();
                            if let Some(a) = &actor {
                                context.insert("client".to_owned(), Value::String(a.clone()));
                            }
                            exchange = Some(Value::Object(context));
                            *identity = Some(subject);
                        }
                        Err((reason, detail)) => return Decision::new(reason, detail, rule()),
                    }
                }
                StepKind::Scopes { all, any_of } => {
                    let granted = identity.as_ref().map(|i| granted(g, i));
                    if let Err(needed) = scope_step(granted.as_ref(), all, any_of) {
                        let detail = format!("the request needs scope `{needed}`");
                        return Decision::new(Reason::InsufficientScope, detail, rule())
                            .with_challenge(realm, Some(&needed));
                    }
                }
                StepKind::Body { accept, max_bytes } => match self.body(accept, *max_bytes, req) {
                    Ok(v) => *parsed_body = v,
                    Err((reason, detail)) => return Decision::new(reason, detail, rule()),
                },
                StepKind::Deny(e) => {
                    let facts = rule_facts(facts, identity.as_ref(), parsed_body.as_ref(), exchange.as_ref());
                    if let Some(d) = deny_step(&self.prepared, &facts, *e, &step.rule) {
                        return d;
                    }
                }
                StepKind::Allow(rules) => {
                    let facts = rule_facts(facts, identity.as_ref(), parsed_body.as_ref(), exchange.as_ref());
                    let d = allow_step(&self.prepared, &facts, rules, &step.rule);
                    if !d.allow {
                        return d;
                    }
                    allowed = Some(d);
                }
                StepKind::UpstreamHeader { name, value } => {
                    let facts = rule_facts(facts, identity.as_ref(), parsed_body.as_ref(), exchange.as_ref());
                    // A value that cannot be computed is left out, never sent empty;
                    // its name is kept so a door can strip the client's own copy.
                    if let Some(d) = allowed.as_mut() {
                        match eval(&self.prepared, &facts, *value) {
                            Ok(v) => {
                                let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                                d.headers.push((name.clone(), text));
                            }
                            Err(_) => d.unset_headers.push(name.clone()),
                        }
                    }
                }
                StepKind::Mint(m) => {
                    let Some(d) = allowed.as_mut() else { continue };
                    let facts = rule_facts(facts, identity.as_ref(), parsed_body.as_ref(), exchange.as_ref());
                    let granted = identity.as_ref().map(|i| granted(g, i));
                    let acting = actor.as_deref().or(req.peer.as_deref());
                    match mint_request(&self.prepared, &facts, m, granted.as_ref(), acting) {
                        Ok(request) => d.mint = Some(Box::new(request)),
                        Err(detail) => return Decision::new(Reason::MintClaimMissing, detail, rule()),
                    }
                }
            }
        }
        allowed
            .unwrap_or_else(|| Decision::new(Reason::NoAllowRule, "no allow rule holds", Some(ep.id.as_str().into())))
    }

    /// A token's binding (its `cnf`): `x5t#S256` (RFC 8705) must be the
    /// thumbprint of the client certificate the gateway saw; `jkt` (RFC 9449)
    /// needs the `DPoP` scheme and a valid proof by that key, used once. A
    /// binding Warden cannot read is refused, never ignored; with `require`,
    /// so is a token without one.
    fn binding(
        &self,
        claims: &Map<String, Value>,
        token: &str,
        dpop_scheme: bool,
        require: bool,
        req: &HttpRequest,
    ) -> Result<(), (Reason, String)> {
        let not_bound = |why: &str| Err((Reason::TokenNotBound, why.to_owned()));
        let cnf = match claims.get("cnf") {
            None if require => return not_bound("this zone takes only sender-constrained tokens (`cnf`)"),
            None if dpop_scheme => return not_bound("the `DPoP` scheme with a token bound to no key"),
            None => return Ok(()),
            Some(Value::Object(cnf)) => cnf,
            Some(_) => return not_bound("the token's `cnf` is not an object"),
        };
        match (cnf.get("x5t#S256"), cnf.get("jkt")) {
            (Some(Value::String(want)), _) => match req.certificate.as_deref() {
                Some(seen) if seen == want => Ok(()),
                Some(_) => not_bound("the token is bound to another client certificate"),
                None => not_bound("the token is bound to a client certificate, and none was presented"),
            },
            (Some(_), _) => not_bound("the token's `cnf.x5t#S256` is not a string"),
            (None, Some(Value::String(jkt))) => self.dpop(jkt, token, dpop_scheme, req),
            (None, Some(_)) => not_bound("the token's `cnf.jkt` is not a string"),
            (None, None) => not_bound("the token's `cnf` names no binding Warden can check"),
        }
    }

    /// RFC 9449 §7: a DPoP-bound token comes with the `DPoP` scheme and a
    /// proof by the key `jkt` names, for this request and token, not seen
    /// before (the limiter is the replay store: shared with Redis, and a
    /// store that cannot answer refuses).
    fn dpop(&self, jkt: &str, token: &str, dpop_scheme: bool, req: &HttpRequest) -> Result<(), (Reason, String)> {
        let invalid = |why: String| Err((Reason::DpopProofInvalid, why));
        if !dpop_scheme {
            return Err((Reason::TokenNotBound, "a DPoP-bound token is sent with the `DPoP` scheme".to_owned()));
        }
        let Some(proof) = Self::header(req, "dpop") else {
            return invalid("a DPoP-bound token needs a `DPoP` proof".to_owned());
        };
        let uri = crate::dpop::htu(&req.scheme, &req.host, &req.target);
        let target = crate::dpop::Target { method: &req.method, uri: &uri, access_token: token, now_ms: req.now_ms };
        let proof = match crate::dpop::verify(proof, &target) {
            Ok(p) => p,
            Err(why) => return invalid(why),
        };
        if proof.jkt != jkt {
            return Err((Reason::TokenNotBound, "the DPoP proof is signed by another key than the token's".to_owned()));
        }
        let key = format!("{jkt}.{}", proof.jti);
        // This process's own store, which never forgets a proof early, then
        // the rate-limit store, which replicas share with Redis.
        match crate::dpop::ReplayStore::global().first_use(&key, req.now_ms) {
            Ok(true) => {}
            Ok(false) => return invalid("the DPoP proof was used before (its `jti`)".to_owned()),
            Err(why) => return invalid(why),
        }
        let rate = Rate { count: 1, period_ms: crate::dpop::REMEMBER_MS, burst: 1 };
        match self.limiter.consume(DPOP_REPLAY, &key, rate, req.now_ms) {
            Ok(o) if o.allowed => Ok(()),
            Ok(_) => invalid("the DPoP proof was used before (its `jti`)".to_owned()),
            Err(_) => invalid("the DPoP replay store cannot be reached, so the proof is refused".to_owned()),
        }
    }

    /// The zone's `require bound`.
    fn require_bound(&self, zone: u32) -> bool {
        self.prepared.graph.zones.get(zone as usize).is_some_and(|z| z.require_bound)
    }

    /// Establishes the identity `auth` says; a bearer token's binding (RFC
    /// 8705 certificate, RFC 9449 DPoP key) is checked too, with `zone`'s
    /// `require bound` when given.
    fn authenticate(&self, auth: &Auth, req: &HttpRequest, zone: Option<u32>) -> Result<Identity, (Reason, String)> {
        let g = &self.prepared.graph;
        let plain = |claims| Ok(Identity { claims: Arc::new(claims), issuer: None });
        match auth {
            Auth::None => plain(Map::new()),
            Auth::Mtls => match req.peer.as_deref().filter(|p| !p.is_empty()) {
                Some(p) => plain(Map::from_iter([("sub".to_owned(), Value::String(p.to_owned()))])),
                None => Err((Reason::CredentialsMissing, "a client certificate is required".to_owned())),
            },
            Auth::Asserted => match &req.asserted {
                Some(claims) => plain(claims.clone()),
                None => Err((Reason::CredentialsMissing, "the calling service asserted no subject".to_owned())),
            },
            Auth::ClientSecret { table } => {
                let Some(basic) = credentials::basic(Self::header(req, "authorization")) else {
                    return Err((
                        Reason::CredentialsMissing,
                        "client credentials (HTTP Basic) are required".to_owned(),
                    ));
                };
                let (client, secret) = basic.map_err(|r| (r, "the Basic credentials are malformed".to_owned()))?;
                let table = g.credentials.get(*table as usize).map_or(&Value::Null, |t| &t.entries);
                let claims = credentials::client_secret(table, &client, &secret)
                    .map_err(|r| (r, "the client credentials were not accepted".to_owned()))?;
                plain(claims)
            }
            Auth::ApiKey { header, table } => {
                let Some(key) = Self::header(req, header) else {
                    return Err((Reason::CredentialsMissing, format!("header `{header}` is required")));
                };
                let table = g.credentials.get(*table as usize).map_or(&Value::Null, |t| &t.entries);
                plain(credentials::api_key(table, key).map_err(|r| (r, "the API key was not accepted".to_owned()))?)
            }
            Auth::Bearer { issuers } => {
                // The token, and whether it came with the `DPoP` scheme (RFC 9449 §7.1).
                let (token, dpop_scheme) = match (&req.bearer, Self::header(req, "authorization")) {
                    // A resource check's token: verified as given.
                    (Some(token), _) if !token.is_empty() => (token.as_str(), false),
                    (Some(_), _) | (None, None) => {
                        return Err((Reason::CredentialsMissing, "a bearer token is required".to_owned()));
                    }
                    (None, Some(value)) => match value.split_once(' ') {
                        Some((scheme, token))
                            if (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("dpop"))
                                && !token.trim().is_empty() =>
                        {
                            (token.trim(), scheme.eq_ignore_ascii_case("dpop"))
                        }
                        _ => return Err((Reason::CredentialsMissing, "a bearer token is required".to_owned())),
                    },
                };
                let require = zone.is_some_and(|z| self.require_bound(z));
                // An opaque token, where an issuer of the zone introspects: asked of it.
                let introspecting = issuers
                    .iter()
                    .copied()
                    .find(|&i| g.issuers.get(i as usize).is_some_and(|x| x.introspect.is_some()));
                let ask = introspecting.filter(|&i| {
                    crate::introspect::is_opaque(token)
                        || g.issuers.get(i as usize).is_some_and(|x| {
                            x.introspect.as_ref().is_some_and(|s| s.always)
                                && crate::introspect::asked_of(token, x, issuers, &g.issuers)
                        })
                });
                if let Some(i) = ask {
                    if token.len() > crate::jwt::MAX_TOKEN_BYTES {
                        return Err((Reason::TokenMalformed, "the token is too large".to_owned()));
                    }
                    let Some(introspector) = &self.introspector else {
                        return Err((
                            Reason::IntrospectionUnavailable,
                            "this service introspects no tokens".to_owned(),
                        ));
                    };
                    let answer = introspector
                        .introspect(i, token, req.now_ms)
                        .map_err(|why| (Reason::IntrospectionUnavailable, why))?;
                    if let Some(issuer) = g.issuers.get(i as usize) {
                        crate::introspect::check(&answer, issuer, req.now_ms)?;
                    }
                    self.binding(&answer, token, dpop_scheme, require, req)?;
                    return Ok(Identity { claims: answer, issuer: Some(i) });
                }
                let verified = self.verifier.verify(token, issuers, req.now_ms)?;
                self.binding(&verified.claims, token, dpop_scheme, require, req)?;
                Ok(Identity { claims: verified.claims, issuer: Some(verified.issuer) })
            }
        }
    }

    /// A limit's or ban's key for this request: each key's value as JSON
    /// (a `source.ip` from IPv6 as its network of `ipv6_prefix` bits), a
    /// missing one as a marker, separated by U+001F.
    /// Whether any had a value: a key with none is nobody's (and one missing
    /// part does not let a caller slip out of a ban keyed by the others).
    fn write_key(
        &self,
        keys: &[ExprId],
        ipv6_prefix: u8,
        facts: &Facts<'_>,
        req: &HttpRequest,
        key: &mut KeyBuf,
    ) -> bool {
        let g = &self.prepared.graph;
        key.clear();
        let mut present = keys.is_empty();
        for &k in keys {
            // `source.ip`, written as the JSON string it evaluates to. From
            // an IPv6 client: its network of `ipv6_prefix` bits, so one
            // subscriber's /64 is one bucket, not 2^64.
            if let Some(warden_compiler::graph::Expr::SourceIp) = g.exprs.get(k as usize)
                && let Some(ip) = req.source_ip
            {
                match ip {
                    // The address as the facts already hold it in text.
                    IpAddr::V4(v4) => {
                        let _ = match facts.source_ip {
                            Some(text) => key.write_char('"').and(key.write_str(text)).and(key.write_char('"')),
                            None => write!(key, "\"{v4}\""),
                        };
                    }
                    // Keyed whole, as the same client over IPv4 is.
                    IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                        Some(v4) => {
                            let _ = write!(key, "\"{v4}\"");
                        }
                        None => {
                            let bits = u32::from(ipv6_prefix.min(128));
                            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                            let net = std::net::Ipv6Addr::from(u128::from(v6) & mask);
                            let _ = write!(key, "\"{net}/{bits}\"");
                        }
                    },
                }
                let _ = key.write_char('\u{1f}');
                present = true;
                continue;
            }
            let _ = match eval(&self.prepared, facts, k) {
                Ok(v) => {
                    present = true;
                    v.write_json(key)
                }
                Err(_) => key.write_str("\u{0}missing"),
            };
            let _ = key.write_char('\u{1f}');
        }
        present
    }

    /// Whether the request's source is one ban `ban` never bans (`except`).
    fn ban_exempt(&self, ban: u32, req: &HttpRequest) -> bool {
        let (Some(ip), Some(nets)) = (req.source_ip, self.prepared.ban_except.get(ban as usize)) else { return false };
        let ip = ip.to_canonical();
        nets.iter().any(|n| n.contains(&ip))
    }

    /// After a denial at `ep`: counts it toward each ban of the endpoint whose
    /// outcomes it matches, and bans the key of each that crosses its
    /// threshold (recorded in `d.bans`). A ban keyed by the identity counts
    /// only denials after authentication (a 401 holds nobody to account).
    pub(super) fn count_bans(
        &self,
        ep: &Endpoint,
        facts: Facts<'_>,
        req: &HttpRequest,
        identity: Option<&Identity>,
        body: Option<&Value>,
        d: &mut Decision,
    ) {
        let g = &self.prepared.graph;
        let mut key = KeyBuf::default();
        for &b in &ep.bans {
            let Some(ban) = g.bans.get(b as usize) else { continue };
            // No outcomes (a `distinct` ban): every answer counts; else denials that match.
            let every = ban.statuses.is_empty() && ban.reasons.is_empty();
            let counts = every
                || (!d.allow
                    && (ban.statuses.contains(&d.status) || ban.reasons.iter().any(|r| r == d.reason.as_str())));
            // A ban's own answers count only where the rule names reason `banned`:
            // else retrying while banned would start the next ban the moment this one ends.
            let own = d.reason == Reason::Banned && !ban.reasons.iter().any(|r| r == Reason::Banned.as_str());
            // Keyed by the identity: only answers after authentication count (a 401
            // holds nobody to account, nor does a failed exchange hold its client).
            let unauthenticated = ban.stage == LimitStage::PostAuth && (identity.is_none() || d.status == 401);
            if !counts || own || unauthenticated || self.ban_exempt(b, req) {
                continue;
            }
            let facts = Facts { claims: identity.map(|i| &*i.claims), body: body.or(facts.body), ..facts };
            // Nor counted: a denial without the key is held against nobody.
            if !self.write_key(&ban.keys, ban.ipv6_prefix, &facts, req, &mut key) {
                continue;
            }
            let id = self.prepared.ban_ids.get(b as usize).copied().unwrap_or_default();
            // An alert is said once per period and key: not counted again meanwhile.
            if ban.alert_only && self.limiter.banned(id, key.as_str(), req.now_ms).is_ok_and(|u| u.is_some()) {
                continue;
            }
            let crossed = match ban.distinct {
                // N distinct values within the window: a value missing counts for nothing.
                Some(e) => match eval(&self.prepared, &facts, e) {
                    Ok(v) => {
                        let mut value = KeyBuf::default();
                        let _ = v.write_json(&mut value);
                        self.limiter
                            .distinct(id, key.as_str(), value.as_str(), ban.period_ms, req.now_ms)
                            .is_ok_and(|n| n >= ban.count)
                    }
                    Err(_) => false,
                },
                // N denials within the period: the N-th crosses a bucket of N-1.
                None => {
                    ban.count <= 1 || {
                        let rate = Rate { count: ban.count, period_ms: ban.period_ms, burst: ban.count - 1 };
                        self.limiter.consume(id, key.as_str(), rate, req.now_ms).is_ok_and(|o| !o.allowed)
                    }
                }
            };
            if !crossed {
                continue;
            }
            let shown = if self.prepared.ban_key_hidden.get(b as usize).copied().unwrap_or(true) {
                crate::limits::HIDDEN_KEY.to_owned()
            } else {
                crate::limits::key_text(key.as_str())
            };
            let terms =
                BanTerms { length_ms: ban.length_ms, max_ms: ban.max_ms, period_ms: ban.period_ms, shown: &shown };
            // Started now (not one already in force): an event to tell.
            if let Ok(set) = self.limiter.ban(id, key.as_str(), req.now_ms, &terms)
                && set.started
            {
                d.bans.push(crate::decision::BanStarted {
                    ban: ban.name.clone(),
                    key: shown,
                    until_ms: set.until_ms,
                    offences: set.offences,
                    detection: ban.alert_only,
                });
            }
        }
    }

    fn body(&self, accept: &BodyAccept, max: u64, req: &HttpRequest) -> Result<Option<Value>, (Reason, String)> {
        // The judged request's own headers say whether it has a body, even when
        // the door did not carry it (Envoy without `with_request_body`, a
        // caller that left `body` out): a body the engine cannot see is not
        // treated as no body.
        let announced = Self::header(req, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
        let chunked = Self::header(req, "transfer-encoding").is_some();
        if *accept != BodyAccept::None
            && let Some(n) = announced.filter(|n| *n > max)
        {
            return Err((Reason::BodyTooLarge, format!("the body ({n} bytes) is larger than {max} bytes")));
        }
        let Some(bytes) = req.body.as_deref().filter(|b| !b.is_empty()) else {
            if announced.is_some_and(|n| n > 0) || chunked {
                return match accept {
                    BodyAccept::None => Err((Reason::BodyTooLarge, "this route takes no body".to_owned())),
                    BodyAccept::Json { .. } => Err((
                        Reason::BodyInvalid,
                        "the request has a body that was not forwarded, so it cannot be checked".to_owned(),
                    )),
                    BodyAccept::Any => Ok(None),
                };
            }
            return match accept {
                BodyAccept::Json { schema: Some(_) } => {
                    Err((Reason::BodyInvalid, "a JSON body is required".to_owned()))
                }
                _ => Ok(None),
            };
        };
        if *accept == BodyAccept::None {
            return Err((Reason::BodyTooLarge, "this route takes no body".to_owned()));
        }
        if bytes.len() as u64 > max {
            return Err((Reason::BodyTooLarge, format!("the body is larger than {max} bytes")));
        }
        let media = Self::header(req, "content-type").unwrap_or("");
        let essence = media.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let is_json =
            essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"));
        if matches!(accept, BodyAccept::Json { .. }) && !is_json {
            return Err((Reason::UnsupportedMediaType, "the body must be `application/json`".to_owned()));
        }
        if !is_json {
            return Ok(None);
        }
        let value = json::parse(bytes, self.json_limits)
            .map_err(|e| (Reason::BodyInvalid, format!("the body is not acceptable JSON: {e}")))?;
        if let BodyAccept::Json { schema: Some(s) } = accept {
            schema::validate(&self.prepared, *s, &value)
                .map_err(|v| (Reason::BodyInvalid, format!("`{}`: {}", v.pointer, v.message)))?;
        }
        Ok(Some(value))
    }
}

/// A limit's key text: on the stack while it fits (the usual address or
/// client id), on the heap beyond.
#[derive(Default)]
struct KeyBuf {
    inline: InlineStr<256>,
    heap: Option<String>,
}

impl KeyBuf {
    fn as_str(&self) -> &str {
        self.heap.as_deref().unwrap_or(self.inline.as_str())
    }

    fn clear(&mut self) {
        self.inline.clear();
        if let Some(h) = &mut self.heap {
            h.clear();
        }
    }
}

impl std::fmt::Write for KeyBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if let Some(h) = &mut self.heap {
            h.push_str(s);
        } else if self.inline.write_str(s).is_err() {
            // Too long for the stack: move what is there to the heap.
            let mut h = String::with_capacity(self.inline.len() + s.len() + 256);
            h.push_str(self.inline.as_str());
            h.push_str(s);
            self.heap = Some(h);
        }
        Ok(())
    }
}

/// Step 9, `mint`: the claims of the token for the zone behind, or why it
/// cannot be minted (a claim the policy copies is missing: never a partial token).
fn mint_request(
    p: &Prepared,
    facts: &Facts<'_>,
    m: &Mint,
    granted: Option<&Scopes<'_>>,
    actor: Option<&str>,
) -> Result<MintRequest, String> {
    let incoming = facts.claims;
    let text = |name: &str| incoming.and_then(|c| c.get(name)).and_then(Value::as_str).filter(|s| !s.is_empty());
    // A client-credentials token names no user: its subject is the client (RFC 9068 §2.2).
    let Some(sub) = text("sub").or_else(|| text("client_id")).or_else(|| text("azp")) else {
        return Err(format!("the caller has no `sub` to mint a token for zone `{}` with", m.zone));
    };
    let mut claims = Map::new();
    claims.insert("sub".to_owned(), Value::String(sub.to_owned()));
    let client = text("client_id").or_else(|| text("azp")).unwrap_or(sub);
    claims.insert("client_id".to_owned(), Value::String(client.to_owned()));
    let scopes: Vec<&str> =
        m.scopes.iter().map(String::as_str).filter(|s| granted.is_some_and(|g| g.contains(s))).collect();
    if !scopes.is_empty() {
        claims.insert("scope".to_owned(), Value::String(scopes.join(" ")));
    }
    // RFC 8693 §4.1: the calling service (its certificate's principal, or in
    // an exchange the client that authenticated) acts for the subject; a chain
    // the incoming token already carried is kept inside.
    if let Some(actor) = actor.filter(|p| !p.is_empty() && *p != sub) {
        let mut act = Map::new();
        act.insert("sub".to_owned(), Value::String(actor.to_owned()));
        if let Some(prior) = incoming.and_then(|c| c.get("act")).filter(|a| a.is_object()) {
            act.insert("act".to_owned(), prior.clone());
        }
        claims.insert("act".to_owned(), Value::Object(act));
    }
    // RFC 8705 §3.1: only the holder of that certificate may present it.
    if let Some(thumbprint) = &m.bind {
        let mut cnf = Map::new();
        cnf.insert("x5t#S256".to_owned(), Value::String(thumbprint.clone()));
        claims.insert("cnf".to_owned(), Value::Object(cnf));
    }
    for (name, expr) in &m.claims {
        match eval(p, facts, *expr) {
            Ok(v) => {
                claims.insert(name.clone(), v.into_value());
            }
            Err(e) => {
                return Err(format!("claim `{name}` of the token for zone `{}` cannot be computed ({e})", m.zone));
            }
        }
    }
    Ok(MintRequest {
        zone: m.zone.clone(),
        issuer: m.issuer.clone(),
        audience: m.audience.clone(),
        claims,
        lifetime_s: m.lifetime_s,
        not_after: incoming.and_then(|c| c.get("exp")).and_then(Value::as_u64),
        header: m.header.clone(),
    })
}

/// The replay store's "limit": one use of each proof `jti` per key, for
/// twice the window a proof's `iat` is accepted in.
const DPOP_REPLAY: u64 = u64::from_be_bytes(*b"dpop-jti");

/// What the rules, upstream headers and `mint` read: the request's facts
/// with the identity's claims, the parsed body, and in an exchange its
/// `context` (the calling service).
fn rule_facts<'f>(
    facts: Facts<'f>,
    identity: Option<&'f Identity>,
    body: Option<&'f Value>,
    exchange: Option<&'f Value>,
) -> Facts<'f> {
    Facts { claims: identity.map(|i| &*i.claims), body, context: exchange.or(facts.context), ..facts }
}

/// The scopes an identity holds: its issuer's scope claim (`scope` when it
/// came from no issuer).
fn granted<'i>(g: &warden_compiler::graph::Graph, i: &'i Identity) -> Scopes<'i> {
    let claim = i.issuer.and_then(|n| g.issuers.get(n as usize)).map_or("scope", |n| &n.scopes_claim);
    Scopes(i.claims.get(claim))
}

/// Step 5: `Err` with the scopes to ask for when `granted` lacks one.
fn scope_step(granted: Option<&Scopes<'_>>, all: &[String], any_of: &[Vec<String>]) -> Result<(), String> {
    let has = |s: &str| granted.is_some_and(|g| g.contains(s));
    let missing: Vec<&str> = all.iter().filter(|s| !has(s)).map(String::as_str).collect();
    let group = any_of.iter().find(|group| !group.iter().any(|s| has(s)));
    if !missing.is_empty() || group.is_some() {
        return Err(if missing.is_empty() {
            group.map(|g| g.join(" ")).unwrap_or_default()
        } else {
            missing.join(" ")
        });
    }
    Ok(())
}

/// Step 8, one `deny` rule: the denial when it holds or errors.
fn deny_step(p: &Prepared, facts: &Facts<'_>, e: ExprId, rule: &Arc<str>) -> Option<Decision> {
    match eval_bool(p, facts, e) {
        Ok(false) => None,
        Ok(true) => Some(Decision::new(Reason::DeniedByRule, "a deny rule holds", Some(rule.clone()))),
        Err(err) => Some(Decision::new(
            Reason::DeniedByRule,
            format!("a deny rule could not be evaluated ({err}), so it denies"),
            Some(rule.clone()),
        )),
    }
}

/// Step 8, the `allow` rules: the allowing decision of the first that holds
/// (an erroring one does not), or the denial (`allow` tells which).
fn allow_step(p: &Prepared, facts: &Facts<'_>, rules: &[AllowRule], rule: &Arc<str>) -> Decision {
    let mut errors = Vec::new();
    let hit = rules.iter().find(|r| match r.when {
        None => true,
        Some(e) => match eval_bool(p, facts, e) {
            Ok(b) => b,
            Err(err) => {
                errors.push(err);
                false
            }
        },
    });
    match hit {
        Some(r) => Decision::new(Reason::Allowed, "allowed", Some(r.rule.clone())),
        None => {
            let detail = match errors.first() {
                Some(EvalError::Missing(what)) => format!("no allow rule holds ({what})"),
                Some(EvalError::Type(what)) => format!("no allow rule holds ({what})"),
                None => "no allow rule holds".to_owned(),
            };
            Decision::new(Reason::NoAllowRule, detail, Some(rule.clone()))
        }
    }
}

/// The rule layer of one endpoint alone (LANGUAGE.md steps 5 and 8, what the
/// Cedar export covers): scopes from `scopes` (a space-separated string or a
/// list of strings), then every `deny`, then the `allow`s, with the same step
/// functions as a full check. `facts` carries the identity's claims and the
/// parsed body; transport, limits, authentication and body checks are taken
/// as passed.
pub fn rule_layer(p: &Prepared, ep: &Endpoint, facts: &Facts<'_>, scopes: Option<&Value>) -> Decision {
    let mut allowed = None;
    for step in &ep.steps {
        match &step.kind {
            StepKind::Scopes { all, any_of } => {
                if let Err(needed) = scope_step(Some(&Scopes(scopes)), all, any_of) {
                    let detail = format!("the request needs scope `{needed}`");
                    return Decision::new(Reason::InsufficientScope, detail, Some(step.rule.clone()));
                }
            }
            StepKind::Deny(e) => {
                if let Some(d) = deny_step(p, facts, *e, &step.rule) {
                    return d;
                }
            }
            StepKind::Allow(rules) => {
                let d = allow_step(p, facts, rules, &step.rule);
                if !d.allow {
                    return d;
                }
                allowed = Some(d);
            }
            _ => {}
        }
    }
    allowed.unwrap_or_else(|| Decision::new(Reason::NoAllowRule, "no allow rule holds", Some(ep.id.as_str().into())))
}

/// The scopes a caller holds: a space-separated string or a list of strings.
pub(super) struct Scopes<'a>(Option<&'a Value>);

impl Scopes<'_> {
    fn contains(&self, scope: &str) -> bool {
        match self.0 {
            // RFC 6749 §3.3: scopes are separated by a space (%x20) and nothing
            // else; a tab or a newline is part of a scope, which then names no
            // scope the policy grants.
            Some(Value::String(s)) => s.split(' ').any(|x| x == scope),
            Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(scope)),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Scopes;

    #[test]
    fn scopes_are_split_on_a_plain_space_only() {
        let granted = json!("accounts:read  payments:read");
        assert!(Scopes(Some(&granted)).contains("accounts:read"));
        assert!(Scopes(Some(&granted)).contains("payments:read"));
        for other in
            ["accounts:read\tpayments:read", "accounts:read\npayments:read", "accounts:read\u{a0}payments:read"]
        {
            let granted = json!(other);
            assert!(!Scopes(Some(&granted)).contains("payments:read"), "{other:?}");
            assert!(!Scopes(Some(&granted)).contains("accounts:read"), "{other:?}");
        }
        let list = json!(["a", "b c"]);
        assert!(Scopes(Some(&list)).contains("b c") && !Scopes(Some(&list)).contains("b"));
    }
}
