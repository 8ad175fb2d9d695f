//! Cedar export of the rule layer: decision graph → Cedar policies, a Cedar schema and
//! diagnostics for what Cedar cannot express exactly (docs/cedar.md has the mapping).
//!
//! Warden's rules error on a missing value or a kind mismatch, and an erroring
//! `deny` denies; Cedar skips an erroring policy. So every rule condition `e` is
//! translated into two Cedar expressions that never error: `T(e)` ("`e` is true")
//! and `F(e)` ("`e` is false"); `allow when e` becomes `permit … when { T(e) }`
//! and `deny when e` becomes `forbid … unless { F(e) }`, which fires when `e`
//! holds or errors. Values of unknown kind (claims, resource properties, body
//! and context fields) are tagged records (`Value`) with one optional attribute
//! per JSON kind, so every kind test is a `has` test and strict validation holds.
//!
//! The steps: `translate.rs` builds each condition as a Cedar expression tree
//! (`expr.rs`; every simplification is made on the tree), this module puts the
//! trees into the typed policies of `policy.rs`, and `schema.rs` builds the
//! schema from the names the translation read; both are printed only at the
//! end, by their `Display`.

mod expr;
mod policy;
mod schema;
mod translate;

use serde_json::Value as Json;

use self::expr::{Expr as Cedar, Method};
use self::policy::{Condition, Effect, Item, Policies, Policy, Scope, Section};
use self::translate::{Cx, Names};
use crate::graph::{Endpoint, EndpointKind, Graph, Origin, StepKind};

/// The code of an export diagnostic: a construct Cedar cannot express exactly.
pub const UNSUPPORTED: &str = "W0401";

/// What [`to_cedar`] produces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CedarExport {
    /// Cedar policies (one `permit`/`forbid` per scope step and rule).
    pub policies: String,
    /// The Cedar schema (human-readable syntax) the policies validate against in strict mode.
    pub schema: String,
    /// Constructs left out of the export, one per rule.
    pub diagnostics: Vec<CedarDiagnostic>,
    /// Every attribute the policies read: what a request encoder fills in.
    pub reads: Vec<CedarRead>,
}

/// One attribute the exported policies read, and where it lives in the Cedar request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CedarRead {
    /// `claims`, `body`, `context`, `resource` (a resource type's property),
    /// `query`, `headers` or `path`.
    pub root: &'static str,
    /// For `resource`: the resource type.
    pub resource_type: Option<String>,
    /// The attribute path in Warden (`claim.act.sub` is `["act", "sub"]`).
    pub path: Vec<String>,
    /// The key in the Cedar record: the name, or for a nested path its JSON
    /// pointer in the `*_paths` record.
    pub key: String,
}

/// A rule the export could not translate exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CedarDiagnostic {
    /// Always [`UNSUPPORTED`].
    pub code: &'static str,
    /// The endpoint id.
    pub endpoint: String,
    /// The rule id.
    pub rule: String,
    /// `file:line:column` of the rule.
    pub location: String,
    /// What Cedar cannot express, lower case, with the construct in backticks.
    pub message: String,
}

impl CedarExport {
    /// Whether every rule of `endpoint` was exported exactly.
    pub fn is_exact(&self, endpoint: &str) -> bool {
        !self.diagnostics.iter().any(|d| d.endpoint == endpoint)
    }
}

/// The Cedar namespace of the export.
pub const NAMESPACE: &str = "Warden";

/// The JSON pointer (RFC 6901) of a nested path: the key of `*_paths` records.
pub fn pointer(first: &str, rest: &[String]) -> String {
    let mut out = String::new();
    for part in std::iter::once(first).chain(rest.iter().map(String::as_str)) {
        out.push('/');
        out.push_str(&part.replace('~', "~0").replace('/', "~1"));
    }
    out
}

/// JSON text with object keys sorted and whole numbers written without a
/// fraction: how lists and objects are compared (`Value.list.json`,
/// `Value.obj.json`). `None` when a number is not a whole number that fits
/// in 64 bits (Cedar has no other numbers).
pub fn canonical_json(v: &Json) -> Option<String> {
    Some(match v {
        Json::Null | Json::Bool(_) | Json::String(_) => v.to_string(),
        Json::Number(n) => whole(n)?.to_string(),
        Json::Array(items) => {
            let parts: Option<Vec<String>> = items.iter().map(canonical_json).collect();
            format!("[{}]", parts?.join(","))
        }
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut parts = Vec::new();
            for k in keys {
                parts.push(format!("{}:{}", Json::String(k.clone()), canonical_json(map.get(k)?)?));
            }
            format!("{{{}}}", parts.join(","))
        }
    })
}

/// A JSON number as a Cedar `Long`, if it is a whole number in range.
pub fn whole(n: &serde_json::Number) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    #[expect(clippy::cast_possible_truncation, reason = "checked: whole and within the range of i64")]
    if f.fract() == 0.0 && (-9.2e18..=9.2e18).contains(&f) { Some(f as i64) } else { None }
}

/// The entity type of an endpoint's resource.
fn endpoint_entity(ep: &Endpoint) -> String {
    match &ep.kind {
        EndpointKind::Route { .. } => "Route".to_owned(),
        EndpointKind::Action { resource, .. } => resource_entity(resource),
        EndpointKind::Exchange { .. } => "Exchange".to_owned(),
    }
}

/// The entity type of a resource type (prefixed so it cannot clash with `Subject`, `Route` or `Value`).
pub fn resource_entity(resource: &str) -> String {
    format!("Resource_{resource}")
}

/// Exports the rule layer of every route and action.
pub fn to_cedar(g: &Graph) -> CedarExport {
    let mut out = CedarExport::default();
    let mut names = Names::default();
    let mut policies = Policies { revision: g.revision.clone(), sections: Vec::new() };
    for ep in &g.endpoints {
        let resource_type = match &ep.kind {
            EndpointKind::Action { resource, .. } => Some(resource.clone()),
            EndpointKind::Route { .. } => None,
            // A token exchange issues a token: Cedar has nothing to decide it with.
            EndpointKind::Exchange { .. } => continue,
        };
        let mut cx = Cx { g, ep, names: std::mem::take(&mut names), resource_type };
        for p in &ep.params {
            cx.names.params.insert(p.clone());
        }
        let scope = Scope { action: ep.id.clone(), resource: endpoint_entity(ep) };
        let policy = |id: &str, effect, condition| {
            Item::Policy(Policy { id: id.to_owned(), effect, scope: scope.clone(), condition })
        };
        let mut items = Vec::new();
        for step in &ep.steps {
            match &step.kind {
                StepKind::Scopes { all, any_of } => {
                    let set = |scopes: &[String]| Cedar::Set(scopes.iter().map(|s| Cedar::Str(s.clone())).collect());
                    let held = Cedar::principal().attr("scopes");
                    let mut parts = Vec::new();
                    if !all.is_empty() {
                        parts.push(held.clone().call(Method::ContainsAll, set(all)));
                    }
                    for group in any_of.iter().filter(|g| !g.is_empty()) {
                        parts.push(held.clone().call(Method::ContainsAny, set(group)));
                    }
                    let id = format!("{}#scopes", step.rule);
                    items.push(policy(&id, Effect::Forbid, Some(Condition::Unless(Cedar::and(parts)))));
                }
                StepKind::Deny(e) => match cx.cond(*e) {
                    Ok((_, f)) => items.push(policy(&step.rule, Effect::Forbid, Some(Condition::Unless(f)))),
                    Err(what) => {
                        // Fail closed: a deny Cedar cannot express denies every request.
                        items.push(Item::Comment(format!(
                            "{UNSUPPORTED}: {what}; exported as an unconditional forbid (fail closed)"
                        )));
                        items.push(policy(&step.rule, Effect::Forbid, None));
                        out.diagnostics.push(diag(g, ep, &step.rule, &step.origin, &what));
                    }
                },
                StepKind::Allow(rules) => {
                    for r in rules {
                        let Some(e) = r.when else {
                            items.push(policy(&r.rule, Effect::Permit, None));
                            continue;
                        };
                        match cx.cond(e) {
                            Ok((t, _)) => items.push(policy(&r.rule, Effect::Permit, Some(Condition::When(t)))),
                            Err(what) => {
                                items.push(Item::Comment(format!(
                                    "{UNSUPPORTED}: {what}; rule `{}` left out (it never allows)",
                                    r.rule
                                )));
                                out.diagnostics.push(diag(g, ep, &r.rule, &r.origin, &what));
                            }
                        }
                    }
                }
                // Cedar answers yes or no; it has no obligations to carry out on an allow.
                StepKind::Mint(m) => items.push(Item::Comment(format!(
                    "warden mints a token for zone `{}` (aud `{}`) on allow; Cedar only decides, so this export mints nothing",
                    m.zone, m.audience
                ))),
                // Bans are state (denials counted over time): Cedar decides one request alone.
                StepKind::Ban { ban } => items.push(Item::Comment(format!(
                    "warden refuses keys banned by `{}` here (denials counted over time); Cedar keeps no state, so this export bans nothing",
                    g.bans.get(*ban as usize).map_or("?", |b| b.name.as_str())
                ))),
                _ => {}
            }
        }
        policies.sections.push(Section { endpoint: ep.id.clone(), items });
        names = cx.names;
    }
    out.policies = policies.to_string();
    out.schema = schema::schema(g, &names).to_string();
    out.reads = reads(&names);
    out
}

/// The attributes the policies read, from the names the translation collected.
fn reads(names: &Names) -> Vec<CedarRead> {
    let mut out = Vec::new();
    for (root, key, path) in &names.dynamic {
        out.push(CedarRead { root: root.name(), resource_type: None, path: path.clone(), key: key.clone() });
    }
    for (rt, key, path) in &names.resource {
        out.push(CedarRead { root: "resource", resource_type: Some(rt.clone()), path: path.clone(), key: key.clone() });
    }
    for (root, set) in [("query", &names.query), ("headers", &names.headers), ("path", &names.params)] {
        for n in set {
            out.push(CedarRead { root, resource_type: None, path: vec![n.clone()], key: n.clone() });
        }
    }
    out
}

fn diag(g: &Graph, ep: &Endpoint, rule: &str, origin: &Origin, what: &str) -> CedarDiagnostic {
    let file = g.sources.get(origin.source as usize).map_or("?", String::as_str);
    CedarDiagnostic {
        code: UNSUPPORTED,
        endpoint: ep.id.clone(),
        rule: rule.to_owned(),
        location: format!("{file}:{}:{}", origin.line, origin.column),
        message: format!("cedar cannot express {what} exactly in rule `{rule}`"),
    }
}
