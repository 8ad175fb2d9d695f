//! Access analysis: the access matrix of a compiled set (for every route,
//! resource action and exchange: who may call it, with what credential,
//! scopes, transport and network, under which remaining rules) and the
//! difference of two matrices ([`diff`]). Read from the graph only, so it is
//! what the engine enforces; the policy's own text is shown where the set is
//! at hand.
//!
//! Exact for what the graph states outright (credentials, issuers and their
//! audiences, scopes, transport, networks, limits, bodies, which rules exist
//! and which fold to constants). Conditions are compared as written (their
//! canonical rendering), not solved: two conditions that mean the same but
//! are written differently count as a change, and a rule reading a regular
//! expression or a data document is marked inexact.

pub mod diff;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::PolicySet;
use crate::dot::render_expr_in;
use crate::graph::{
    Auth, BackendErrorPolicy, BodyAccept, Endpoint, Expr, ExprId, Graph, Issuer, KeySource, LimitStage, Origin,
    SecretSource, StepKind,
};

/// The access matrix of one set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Matrix {
    /// The revision it was computed from.
    pub revision: String,
    /// Every endpoint, in graph order.
    pub endpoints: Vec<Access>,
    /// Every limit's definition.
    pub limits: Vec<LimitDef>,
}

/// A limit as declared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LimitDef {
    /// Its name.
    pub name: String,
    /// Requests per period.
    pub count: u64,
    /// The period, in milliseconds.
    pub period_ms: u64,
    /// The burst.
    pub burst: u64,
    /// Its keys, rendered.
    pub keys: Vec<String>,
    /// The IPv6 prefix a `source.ip` key keeps.
    pub ipv6_prefix: u8,
    /// `on_backend_error allow` (a shared store that cannot answer lets requests through).
    pub fails_open: bool,
}

/// Who may reach one endpoint, and how.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Access {
    /// The endpoint's stable id (`api.GET /path`, `resource.action`, `exchange NAME`).
    pub endpoint: String,
    /// Its zone.
    pub zone: String,
    /// Where it is declared (`file:line`).
    pub at: String,
    /// The credential a caller presents.
    pub credential: Credential,
    /// For a token exchange: the issuers whose subject tokens it takes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_issuers: Option<Vec<IssuerRef>>,
    /// Scopes every caller holds.
    pub scopes: Vec<String>,
    /// Groups of which a caller holds one each (`scope any`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes_any_of: Vec<Vec<String>>,
    /// `require tls`.
    pub tls: bool,
    /// `require mtls`: the peer globs (empty: any certificate of the CA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtls_peers: Option<Vec<String>>,
    /// Source networks (empty: any address).
    pub networks: Vec<String>,
    /// Limits counted, `name (stage)`.
    pub limits: Vec<String>,
    /// What body is taken.
    pub body: String,
    /// Whether any request can be allowed.
    pub reach: Reach,
    /// The `allow` rules that can hold (an unconditional one has no condition).
    pub allow: Vec<Rule>,
    /// The `deny` rules that can hold.
    pub deny: Vec<Rule>,
    /// Why the conditions cannot be judged exactly (a regular expression, a data lookup).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inexact: Vec<String>,
    /// The data documents its rules read, each with a digest of its content.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    /// The token it mints for the zone behind, rendered (zone, audience,
    /// scopes, lifetime, claims, binding, header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mint: Option<String>,
    /// The headers it adds to an allowed request, `name = expression`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<String>,
    /// The bans it enforces, each with its definition.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub bans: BTreeMap<String, String>,
}

/// The credential an endpoint takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Credential {
    /// Nobody: `auth none`.
    Anonymous,
    /// A token of one of these issuers.
    Bearer {
        /// The issuers, with the audiences each is accepted for.
        issuers: Vec<IssuerRef>,
    },
    /// HTTP Basic against a client table.
    ClientSecret {
        /// The table's file.
        table: String,
        /// Each client id with a digest of its entry (a secret replaced changes it).
        clients: BTreeMap<String, String>,
    },
    /// An API key header against a key table.
    ApiKey {
        /// The header.
        header: String,
        /// The table's file.
        table: String,
        /// A digest of each entry (key hash and claims).
        keys: Vec<String>,
    },
    /// The peer's verified certificate.
    Mtls,
    /// A subject the calling service asserts.
    Asserted,
}

/// An issuer as a zone trusts it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct IssuerRef {
    /// Its `iss`.
    pub iss: String,
    /// The audiences accepted.
    pub audiences: Vec<String>,
    /// Its tokens must be sender-constrained (`require bound`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub bound: bool,
    /// How its tokens are trusted: keys (a digest of a key set file, or its
    /// URL), secret source, algorithms, leeway, scopes claim, introspection.
    pub trust: BTreeMap<String, String>,
}

/// Whether an endpoint can allow anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    /// No request is ever allowed (no `allow` can hold, or a `deny` always holds).
    Never,
    /// Allowed under the rules' conditions.
    Conditional,
    /// Every request that passes authentication, scopes, limits and body is allowed.
    Always,
}

/// One rule as the engine holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Its condition, rendered canonically (`None`: unconditional).
    pub when: Option<String>,
    /// The rule as the policy writes it, when the set is at hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written: Option<String>,
    /// Where (`file:line`).
    pub at: String,
}

impl Credential {
    /// In words, for reports.
    pub fn describe(&self) -> String {
        match self {
            Credential::Anonymous => "anyone (no credential)".to_owned(),
            Credential::Bearer { issuers } => {
                let list: Vec<String> = issuers.iter().map(IssuerRef::describe).collect();
                format!("a token of {}", list.join(" or "))
            }
            Credential::ClientSecret { table, clients } => {
                format!("a client secret of `{table}` ({} clients)", clients.len())
            }
            Credential::ApiKey { header, table, keys } => {
                format!("an API key (`{header}`) of `{table}` ({} keys)", keys.len())
            }
            Credential::Mtls => "a client certificate".to_owned(),
            Credential::Asserted => "a subject the calling service asserts".to_owned(),
        }
    }
}

impl IssuerRef {
    /// `iss` with its audiences.
    pub fn describe(&self) -> String {
        format!(
            "`{}` (audience {}){}",
            self.iss,
            self.audiences.join(", "),
            if self.bound { ", sender-constrained" } else { "" }
        )
    }
}

impl Access {
    /// The endpoint with its credential, scopes and network in one line.
    pub fn who(&self) -> String {
        let mut parts = vec![self.credential.describe()];
        if let Some(subject) = &self.subject_issuers {
            let list: Vec<String> = subject.iter().map(IssuerRef::describe).collect();
            parts.push(format!("exchanging a token of {}", list.join(" or ")));
        }
        if !self.scopes.is_empty() {
            parts.push(format!("scope {}", self.scopes.join(" ")));
        }
        for group in &self.scopes_any_of {
            parts.push(format!("one of scope {}", group.join(" | ")));
        }
        if let Some(peers) = &self.mtls_peers {
            parts.push(if peers.is_empty() {
                "over mTLS".to_owned()
            } else {
                format!("over mTLS as {}", peers.join(" | "))
            });
        }
        parts.push(if self.networks.is_empty() {
            "from any address".to_owned()
        } else {
            format!("from {}", self.networks.join(", "))
        });
        parts.join(", ")
    }
}

/// The access matrix of `graph`; with `set`, rules also as the policy writes them.
pub fn matrix(graph: &Graph, set: Option<&PolicySet>) -> Matrix {
    let limits = graph
        .limits
        .iter()
        .map(|l| LimitDef {
            name: l.name.clone(),
            count: l.count,
            period_ms: l.period_ms,
            burst: l.burst,
            keys: l.keys.iter().map(|&k| render_expr_in(graph, k, &[])).collect(),
            ipv6_prefix: l.ipv6_prefix,
            fails_open: l.on_backend_error == BackendErrorPolicy::Allow,
        })
        .collect();
    Matrix {
        revision: graph.revision.clone(),
        endpoints: graph.endpoints.iter().map(|e| access(graph, set, e)).collect(),
        limits,
    }
}

impl Matrix {
    /// Writes every `file:line` relative to the set's directory `dir` (the
    /// sources are named as they were found, `dir/file.warden`), so that two
    /// copies of a set read alike.
    pub fn relative_to(&mut self, dir: &str) {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        let strip = |at: &mut String| {
            if let Some(rest) = at.strip_prefix(&prefix) {
                *at = rest.to_owned();
            }
        };
        for a in &mut self.endpoints {
            strip(&mut a.at);
            a.allow.iter_mut().chain(a.deny.iter_mut()).for_each(|r| strip(&mut r.at));
        }
    }
}

/// How `issuer` is trusted, setting by setting.
fn trust(issuer: &Issuer) -> BTreeMap<String, String> {
    let mut t = BTreeMap::new();
    let source = |s: &SecretSource| match s {
        SecretSource::File(p) => format!("file {p}"),
        SecretSource::Env(v) => format!("env {v}"),
    };
    match &issuer.keys {
        Some(KeySource::File { path, jwks }) => {
            t.insert("keys".to_owned(), format!("file {path} (sha256 {})", digest(jwks)));
        }
        Some(KeySource::Url { url, .. }) => {
            t.insert("keys".to_owned(), format!("url {url}"));
        }
        None => {}
    }
    if let Some(secret) = &issuer.secret {
        t.insert("secret".to_owned(), source(secret));
    }
    let algorithms: Vec<&str> = issuer.algorithms.iter().map(|a| a.as_str()).collect();
    t.insert("algorithms".to_owned(), algorithms.join(" "));
    t.insert("leeway".to_owned(), format!("{} ms", issuer.leeway_ms));
    t.insert("scopes from".to_owned(), issuer.scopes_claim.clone());
    if let Some(i) = &issuer.introspect {
        t.insert(
            "introspect".to_owned(),
            format!(
                "url {} client {} secret {} cache {} ms{}{} stale {} ms",
                i.url,
                i.client,
                source(&i.secret),
                i.cache_ms,
                if i.always { " always" } else { "" },
                if i.signed { " signed" } else { "" },
                i.stale_ms
            ),
        );
    }
    t
}

/// A short digest of a credential table's entries.
fn digest(entries: &serde_json::Value) -> String {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(entries.to_string().as_bytes());
    hash.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

fn at(graph: &Graph, origin: &Origin) -> String {
    let file = graph.sources.get(origin.source as usize).map_or("?", String::as_str);
    format!("{file}:{}", origin.line)
}

fn written(set: Option<&PolicySet>, origin: &Origin) -> Option<String> {
    let file = set?.files.get(origin.source as usize)?;
    let text = file.text.get(origin.span[0] as usize..origin.span[1] as usize)?;
    Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn issuers(graph: &Graph, list: &[u32], bound: bool) -> Vec<IssuerRef> {
    let mut out: Vec<IssuerRef> = list
        .iter()
        .filter_map(|&i| graph.issuers.get(i as usize))
        .map(|i| IssuerRef { iss: i.iss.clone(), audiences: i.audiences.clone(), bound, trust: trust(i) })
        .collect();
    out.sort();
    out
}

fn is_const(graph: &Graph, e: ExprId, value: bool) -> bool {
    matches!(graph.exprs.get(e as usize), Some(Expr::Const(serde_json::Value::Bool(b))) if *b == value)
}

/// Adds to `out` why `e` cannot be judged exactly, and to `data` each data
/// document it reads with a digest of its content.
fn opaque(graph: &Graph, e: ExprId, out: &mut Vec<String>, data: &mut BTreeMap<String, String>, depth: usize) {
    let Some(expr) = graph.exprs.get(e as usize) else { return };
    if depth > 256 {
        return;
    }
    let why = match expr {
        Expr::Matches(_, re) => {
            Some(format!("a regular expression ({})", graph.regexes.get(*re as usize).map_or("?", String::as_str)))
        }
        Expr::Data { doc, .. } => graph.data.get(*doc as usize).map(|d| {
            data.insert(d.name.clone(), digest(&d.value));
            format!("a lookup in data `{}`", d.name)
        }),
        _ => None,
    };
    if let Some(why) = why
        && !out.contains(&why)
    {
        out.push(why);
    }
    let mut go = |c: ExprId| opaque(graph, c, out, data, depth + 1);
    match expr {
        Expr::Index { base, key } => {
            go(*base);
            go(*key);
        }
        Expr::List(items) | Expr::And(items) | Expr::Or(items) => items.iter().for_each(|&c| go(c)),
        Expr::Not(a) | Expr::Has(a) | Expr::Lower(a) | Expr::Len(a) | Expr::Matches(a, _) | Expr::InCidr(a, _) => {
            go(*a);
        }
        Expr::Cmp { lhs, rhs, .. } => {
            go(*lhs);
            go(*rhs);
        }
        Expr::StartsWith(a, b) | Expr::EndsWith(a, b) => {
            go(*a);
            go(*b);
        }
        _ => {}
    }
}

fn access(graph: &Graph, set: Option<&PolicySet>, ep: &Endpoint) -> Access {
    let zone = graph.zones.get(ep.zone as usize);
    let bound = zone.is_some_and(|z| z.require_bound);
    let mut a = Access {
        endpoint: ep.id.clone(),
        zone: zone.map_or_else(String::new, |z| z.name.clone()),
        at: at(graph, &ep.origin),
        credential: Credential::Anonymous,
        subject_issuers: None,
        scopes: Vec::new(),
        scopes_any_of: Vec::new(),
        tls: false,
        mtls_peers: None,
        networks: Vec::new(),
        limits: Vec::new(),
        body: "none".to_owned(),
        reach: Reach::Never,
        allow: Vec::new(),
        deny: Vec::new(),
        inexact: Vec::new(),
        data: BTreeMap::new(),
        mint: None,
        upstream: Vec::new(),
        bans: BTreeMap::new(),
    };
    let rule = |when: Option<ExprId>, origin: &Origin| Rule {
        when: when.map(|e| render_expr_in(graph, e, &ep.params)),
        written: written(set, origin),
        at: at(graph, origin),
    };
    let mut deny_always = false;
    let mut unconditional = false;
    for step in &ep.steps {
        match &step.kind {
            StepKind::Transport { require_tls, mtls_peers, networks } => {
                a.tls = *require_tls;
                a.mtls_peers = mtls_peers.clone();
                a.networks = networks.clone();
            }
            StepKind::Limit { limit, stage } => {
                let name = graph.limits.get(*limit as usize).map_or("?", |l| l.name.as_str());
                let stage = if *stage == LimitStage::PreAuth { "pre-auth" } else { "post-auth" };
                a.limits.push(format!("{name} ({stage})"));
            }
            StepKind::Authenticate(auth) => {
                let table = |t: &u32| graph.credentials.get(*t as usize);
                let path = |t: &u32| table(t).map_or_else(String::new, |c| c.path.clone());
                let entries = |t: &u32| table(t).map_or(serde_json::Value::Null, |c| c.entries.clone());
                a.credential = match auth {
                    Auth::None => Credential::Anonymous,
                    Auth::Bearer { issuers: list } => Credential::Bearer { issuers: issuers(graph, list, bound) },
                    Auth::ClientSecret { table: t } => {
                        let entries = entries(t);
                        let clients = entries
                            .as_object()
                            .map(|o| o.iter().map(|(id, entry)| (id.clone(), digest(entry))).collect())
                            .unwrap_or_default();
                        Credential::ClientSecret { table: path(t), clients }
                    }
                    Auth::ApiKey { header, table: t } => {
                        let entries = entries(t);
                        let mut keys: Vec<String> = entries
                            .as_object()
                            .map(|o| o.iter().map(|(k, claims)| digest(&serde_json::json!([k, claims]))).collect())
                            .unwrap_or_default();
                        keys.sort();
                        Credential::ApiKey { header: header.clone(), table: path(t), keys }
                    }
                    Auth::Mtls => Credential::Mtls,
                    Auth::Asserted => Credential::Asserted,
                };
            }
            StepKind::Subject { issuers: list } => a.subject_issuers = Some(issuers(graph, list, bound)),
            StepKind::Scopes { all, any_of } => {
                a.scopes.extend(all.iter().cloned());
                a.scopes_any_of.extend(any_of.iter().cloned());
            }
            StepKind::Body { accept, max_bytes } => {
                a.body = match accept {
                    BodyAccept::None => "none".to_owned(),
                    BodyAccept::Any => format!("any, at most {max_bytes} bytes"),
                    BodyAccept::Json { schema: None } => format!("JSON, at most {max_bytes} bytes"),
                    BodyAccept::Json { schema: Some(s) } => format!(
                        "JSON `{}`, at most {max_bytes} bytes",
                        graph.schemas.get(*s as usize).map_or("?", |s| s.name.as_str())
                    ),
                };
            }
            StepKind::Deny(e) => {
                if is_const(graph, *e, false) {
                    continue;
                }
                deny_always |= is_const(graph, *e, true);
                opaque(graph, *e, &mut a.inexact, &mut a.data, 0);
                a.deny.push(rule(Some(*e), &step.origin));
            }
            StepKind::Allow(rules) => {
                for r in rules {
                    if r.when.is_some_and(|e| is_const(graph, e, false)) {
                        continue;
                    }
                    let when = r.when.filter(|&e| !is_const(graph, e, true));
                    unconditional |= when.is_none();
                    if let Some(e) = when {
                        opaque(graph, e, &mut a.inexact, &mut a.data, 0);
                    }
                    a.allow.push(rule(when, &r.origin));
                }
            }
            StepKind::Ban { ban } => {
                if let Some(b) = graph.bans.get(*ban as usize) {
                    let mut outcomes: Vec<String> = b.statuses.iter().map(u16::to_string).collect();
                    outcomes.extend(b.reasons.iter().cloned());
                    let keys: Vec<String> = b.keys.iter().map(|&k| render_expr_in(graph, k, &[])).collect();
                    let distinct =
                        b.distinct.map(|d| format!(" distinct {}", render_expr_in(graph, d, &[]))).unwrap_or_default();
                    a.bans.insert(
                        b.name.clone(),
                        format!(
                            "{}{distinct} of {} per {} ms by {} for {} ms (max {} ms), status {}{}",
                            b.count,
                            if outcomes.is_empty() { "every answer".to_owned() } else { outcomes.join(", ") },
                            b.period_ms,
                            keys.join(", "),
                            b.length_ms,
                            b.max_ms,
                            b.status,
                            if b.except.is_empty() {
                                String::new()
                            } else {
                                format!(", except {}", b.except.join(", "))
                            }
                        ),
                    );
                }
            }
            StepKind::UpstreamHeader { name, value } => {
                opaque(graph, *value, &mut a.inexact, &mut a.data, 0);
                a.upstream.push(format!("{name} = {}", render_expr_in(graph, *value, &ep.params)));
            }
            StepKind::Mint(m) => {
                let claims: Vec<String> = m
                    .claims
                    .iter()
                    .map(|(n, e)| {
                        opaque(graph, *e, &mut a.inexact, &mut a.data, 0);
                        format!("{n} = {}", render_expr_in(graph, *e, &ep.params))
                    })
                    .collect();
                a.mint = Some(format!(
                    "for zone {} (aud {}), scope [{}], {} s, claims [{}]{}{}",
                    m.zone,
                    m.audience,
                    m.scopes.join(" "),
                    m.lifetime_s,
                    claims.join(", "),
                    m.bind.as_ref().map(|b| format!(", bound to {b}")).unwrap_or_default(),
                    m.header.as_ref().map(|h| format!(", in header {h}")).unwrap_or_default()
                ));
            }
        }
    }
    a.scopes.sort();
    a.scopes.dedup();
    a.reach = if deny_always || a.allow.is_empty() {
        Reach::Never
    } else if unconditional && a.deny.is_empty() {
        Reach::Always
    } else {
        Reach::Conditional
    };
    a
}

/// The matrix as Markdown: one table row per endpoint.
pub fn markdown(m: &Matrix) -> String {
    let mut out = format!("# Access matrix\n\nRevision `{}`.\n\n", short(&m.revision));
    out.push_str("| endpoint | zone | who | reach | rules |\n|---|---|---|---|---|\n");
    for a in &m.endpoints {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            a.endpoint,
            a.zone,
            cell(&a.who()),
            reach_word(a.reach),
            cell(&rules_line(a))
        ));
    }
    let inexact: Vec<&Access> = m.endpoints.iter().filter(|a| !a.inexact.is_empty()).collect();
    if !inexact.is_empty() {
        out.push_str("\nNot judged exactly (the conditions are shown, not solved):\n\n");
        for a in inexact {
            out.push_str(&format!("- `{}`: {}\n", a.endpoint, a.inexact.join("; ")));
        }
    }
    out
}

/// The matrix for people: a block per endpoint.
pub fn human(m: &Matrix) -> String {
    let mut out = String::new();
    for a in &m.endpoints {
        out.push_str(&format!("{}  [zone {}]  {}\n", a.endpoint, a.zone, a.at));
        out.push_str(&format!("  who:    {}\n", a.who()));
        if a.tls {
            out.push_str("  transport: TLS required\n");
        }
        if !a.limits.is_empty() {
            out.push_str(&format!("  limits: {}\n", a.limits.join(", ")));
        }
        out.push_str(&format!("  body:   {}\n", a.body));
        if let Some(m) = &a.mint {
            out.push_str(&format!("  mints:  {m}\n"));
        }
        for h in &a.upstream {
            out.push_str(&format!("  upstream header {h}\n"));
        }
        out.push_str(&format!("  reach:  {}\n", reach_word(a.reach)));
        for d in &a.deny {
            out.push_str(&format!("  deny   {}  ({})\n", shown(d), d.at));
        }
        for r in &a.allow {
            out.push_str(&format!("  allow  {}  ({})\n", shown(r), r.at));
        }
        if !a.inexact.is_empty() {
            out.push_str(&format!("  inexact: {}\n", a.inexact.join("; ")));
        }
        out.push('\n');
    }
    out
}

fn shown(r: &Rule) -> String {
    match (&r.written, &r.when) {
        (Some(w), _) => w.clone(),
        (None, Some(c)) => format!("when {c}"),
        (None, None) => "(unconditional)".to_owned(),
    }
}

fn rules_line(a: &Access) -> String {
    let mut parts: Vec<String> =
        a.deny.iter().map(|d| format!("deny when {}", d.when.as_deref().unwrap_or("?"))).collect();
    parts.extend(a.allow.iter().map(|r| match &r.when {
        Some(c) => format!("allow when {c}"),
        None => "allow".to_owned(),
    }));
    if parts.is_empty() { "none".to_owned() } else { parts.join("; ") }
}

/// A word for a reach.
pub fn reach_word(r: Reach) -> &'static str {
    match r {
        Reach::Never => "never allowed",
        Reach::Conditional => "allowed when the rules hold",
        Reach::Always => "always allowed",
    }
}

/// Text safe in a Markdown table cell: no `|` or line break to end it, and
/// no `<` to open an HTML comment or tag that would hide what follows (rule
/// texts come from the policy under review; they are written outside code
/// spans, where the entity reads as `<`).
pub(crate) fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ").replace('<', "&lt;")
}

pub(crate) fn short(revision: &str) -> &str {
    revision.get(..12).unwrap_or(revision)
}

#[cfg(test)]
mod tests;
