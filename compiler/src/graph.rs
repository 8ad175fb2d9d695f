//! The decision graph: the typed, versioned IR the engine evaluates (not the AST).
//!
//! Everything is referenced by index: zones, issuers, limits, schemas, data,
//! credential tables, expressions, regexes and CIDRs live in flat tables, so
//! the engine prepares each once (compiles regexes, parses CIDRs and keys) and
//! evaluates many times. Routes are found through a trie per host; each
//! endpoint (route or resource action) is a flat list of steps in the order of
//! LANGUAGE.md's decision table, and every step keeps its source and rule id.

use serde::{Deserialize, Serialize};
pub use warden_language::ast::{Algorithm, BackendErrorPolicy, CmpOp, Format, Method};

/// The graph format version; bumped on any incompatible change.
pub const GRAPH_VERSION: u32 = 1;

/// Index of an expression in [`Graph::exprs`].
pub type ExprId = u32;

/// A compiled policy set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// [`GRAPH_VERSION`] when written.
    pub version: u32,
    /// SHA-256 (hex) of every source and referenced file, with their paths.
    pub revision: String,
    /// Policy files, indexed by [`Origin::source`].
    pub sources: Vec<String>,
    /// Trust zones.
    pub zones: Vec<Zone>,
    /// Token issuers, referenced by zones and bearer steps.
    pub issuers: Vec<Issuer>,
    /// Rate limits.
    pub limits: Vec<Limit>,
    /// Body schemas.
    pub schemas: Vec<Schema>,
    /// Static JSON documents (`data.NAME`).
    pub data: Vec<DataDoc>,
    /// Client-secret and API-key tables.
    pub credentials: Vec<CredentialTable>,
    /// Regular expressions (`matches`), compiled once by the engine.
    pub regexes: Vec<String>,
    /// CIDR ranges (`in_cidr`), parsed once by the engine.
    pub cidrs: Vec<String>,
    /// Claim, header and query names that expressions read, by slot.
    pub names: Names,
    /// Every expression; identical sub-expressions are stored once.
    pub exprs: Vec<Expr>,
    /// Routes and resource actions.
    pub endpoints: Vec<Endpoint>,
    /// How requests find their route.
    pub routes: RouteIndex,
    /// Resource types and their actions.
    pub resources: Vec<ResourceType>,
}

/// Where something came from in the policy sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// Index into [`Graph::sources`].
    pub source: u32,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Byte range in the file.
    pub span: [u32; 2],
}

/// Names resolved to slots: the engine looks each up once per request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names {
    /// `claim.NAME`, by slot.
    pub claims: Vec<String>,
    /// `header["name"]` (lower case), by slot.
    pub headers: Vec<String>,
    /// `query.NAME`, by slot.
    pub queries: Vec<String>,
}

/// A trust zone's transport requirements and issuers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    /// Zone name.
    pub name: String,
    /// `require tls`.
    pub require_tls: bool,
    /// `require mtls [peer …]`: `Some` (possibly empty: any peer) when required.
    pub mtls_peers: Option<Vec<String>>,
    /// `network …` ranges; empty means any source.
    pub networks: Vec<String>,
    /// Trusted issuers.
    pub issuers: Vec<u32>,
    /// The declaration.
    pub origin: Origin,
}

/// One trusted token issuer within one zone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Issuer {
    /// Zone index.
    pub zone: u32,
    /// The `iss` value.
    pub iss: String,
    /// Where keys come from.
    pub keys: Option<KeySource>,
    /// Shared secret source (HS* only).
    pub secret: Option<SecretSource>,
    /// Accepted audiences.
    pub audiences: Vec<String>,
    /// Algorithm allowlist.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew allowance in milliseconds.
    pub leeway_ms: u64,
    /// Claim that holds scopes.
    pub scopes_claim: String,
    /// The declaration.
    pub origin: Origin,
}

/// A JWKS source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// A file of the policy set, with its content at compile time.
    File {
        /// Path relative to the policy set.
        path: String,
        /// The key set.
        jwks: serde_json::Value,
    },
    /// Fetched over HTTP(S) and refreshed.
    Url {
        /// The JWKS URL.
        url: String,
        /// Refresh period in milliseconds.
        refresh_ms: u64,
    },
}

/// Where an HMAC secret comes from (never its value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretSource {
    /// A file of the policy set.
    File(String),
    /// An environment variable of the service.
    Env(String),
}

/// A rate limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Limit {
    /// Limit name.
    pub name: String,
    /// N per period.
    pub count: u64,
    /// Period in milliseconds.
    pub period_ms: u64,
    /// Burst (N when not written).
    pub burst: u64,
    /// Key expressions.
    pub keys: Vec<ExprId>,
    /// A key that is `source.ip` holds an IPv6 address's first this many bits
    /// (0 to 128); IPv4 addresses are keyed whole. Absent from graphs written
    /// before the setting existed, which mean the default.
    #[serde(default = "default_ipv6_prefix")]
    pub ipv6_prefix: u8,
    /// Pre-auth (keys read only the request) or post-auth.
    pub stage: LimitStage,
    /// What to do when a shared backend is unreachable.
    pub on_backend_error: BackendErrorPolicy,
    /// The digest of the definition that rate-limit state is counted under
    /// ([`crate::fingerprint::limit`]); empty in graphs written before it was
    /// stored, for which the engine computes it.
    #[serde(default)]
    pub fingerprint: String,
    /// The declaration.
    pub origin: Origin,
}

/// The IPv6 prefix a `source.ip` limit key keeps when the limit does not say:
/// a /64, what one subscriber is usually given.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;

fn default_ipv6_prefix() -> u8 {
    DEFAULT_IPV6_PREFIX
}

/// When a limit is counted (LANGUAGE.md steps 3 and 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitStage {
    /// Before authentication: keys use only source, header, path, query, request.
    PreAuth,
    /// After scopes: keys use the identity.
    PostAuth,
}

/// A body schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Schema name.
    pub name: String,
    /// Accepts undeclared fields.
    pub open: bool,
    /// Fields in declaration order.
    pub fields: Vec<SchemaField>,
}

/// One field of a schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SchemaField {
    /// Field name.
    pub name: String,
    /// May be absent.
    pub optional: bool,
    /// Type and constraints.
    pub ty: SchemaType,
}

/// A schema type with its constraints folded in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaType {
    /// A string.
    String {
        /// Fewest characters.
        min_len: Option<u64>,
        /// Most characters.
        max_len: Option<u64>,
        /// Index into [`Graph::regexes`].
        pattern: Option<u32>,
        /// A format to check.
        format: Option<Format>,
    },
    /// A whole number.
    Integer {
        /// Smallest value.
        min: Option<f64>,
        /// Largest value.
        max: Option<f64>,
    },
    /// Any number.
    Number {
        /// Smallest value.
        min: Option<f64>,
        /// Largest value.
        max: Option<f64>,
    },
    /// `true` or `false`.
    Boolean,
    /// Anything.
    Any,
    /// One of these strings.
    Enum(Vec<String>),
    /// A list.
    Array {
        /// Item type.
        items: Box<SchemaType>,
        /// Fewest items.
        min_items: Option<u64>,
        /// Most items.
        max_items: Option<u64>,
    },
    /// Another schema, by index.
    Ref(u32),
}

/// A `data` document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataDoc {
    /// Data name.
    pub name: String,
    /// Path relative to the policy set.
    pub path: String,
    /// The JSON value at compile time.
    pub value: serde_json::Value,
}

/// Credentials checked by `client_secret` and `api_key`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CredentialTable {
    /// Path relative to the policy set.
    pub path: String,
    /// The table's JSON: client id → SHA-256 hex, or key SHA-256 hex → claims.
    pub entries: serde_json::Value,
}

/// A compiled expression node. Children are [`ExprId`]s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    /// A constant (after folding).
    Const(serde_json::Value),
    /// `claim.NAME…`, by slot in [`Names::claims`].
    Claim {
        /// Slot.
        slot: u32,
        /// Fields or constant indexes after the name.
        path: Vec<Key>,
    },
    /// `path.NAME`: the route parameter at this position.
    PathParam(u32),
    /// `path.NAME` where the position is not known when compiling (limit
    /// keys, api-level rules on routes without that parameter): looked up by
    /// name in the endpoint's parameters, missing when absent.
    PathNamed(String),
    /// `query.NAME`, by slot.
    Query(u32),
    /// `header["name"]`, by slot.
    Header(u32),
    /// `body.…`
    Body(Vec<Key>),
    /// `resource.…`
    Resource(Vec<Key>),
    /// `context.…`
    Context(Vec<Key>),
    /// `data.NAME…`
    Data {
        /// Index into [`Graph::data`].
        doc: u32,
        /// Fields or constant indexes after the name.
        path: Vec<Key>,
    },
    /// `peer.principal`
    PeerPrincipal,
    /// `source.ip`
    SourceIp,
    /// `request.method`
    RequestMethod,
    /// `request.path`
    RequestPath,
    /// `request.host`
    RequestHost,
    /// `request.scheme`
    RequestScheme,
    /// A whole root (`claim`, `query`…) as an object.
    Root(String),
    /// `base[key]` with a key computed at run time.
    Index {
        /// The container.
        base: ExprId,
        /// The key.
        key: ExprId,
    },
    /// `[a, b]` with non-constant items.
    List(Vec<ExprId>),
    /// `not e`
    Not(ExprId),
    /// Left to right, stops at the first false.
    And(Vec<ExprId>),
    /// Left to right, stops at the first true.
    Or(Vec<ExprId>),
    /// A comparison.
    Cmp {
        /// Operator.
        op: CmpOp,
        /// Left.
        lhs: ExprId,
        /// Right.
        rhs: ExprId,
    },
    /// `has(attr)`: the attribute is present.
    Has(ExprId),
    /// `starts_with(s, p)`
    StartsWith(ExprId, ExprId),
    /// `ends_with(s, p)`
    EndsWith(ExprId, ExprId),
    /// `lower(s)`
    Lower(ExprId),
    /// `len(x)`
    Len(ExprId),
    /// `matches(s, REGEX)`, regex by index.
    Matches(ExprId, u32),
    /// `in_cidr(ip, CIDR)`, range by index.
    InCidr(ExprId, u32),
}

/// A field name or constant index in an attribute path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    /// `.name` or `["name"]`
    Field(String),
    /// `[0]`
    Index(i64),
}

/// A route or resource action, ready to evaluate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Stable id: `api.METHOD /full/path` or `resource.action`.
    pub id: String,
    /// What it is.
    pub kind: EndpointKind,
    /// Zone index.
    pub zone: u32,
    /// Route parameter names, in path order (`path.x` reads by position).
    pub params: Vec<String>,
    /// Steps in decision-table order.
    pub steps: Vec<Step>,
    /// The route or action.
    pub origin: Origin,
}

/// A route or an action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    /// An HTTP route of an api.
    Route {
        /// Api name.
        api: String,
        /// Method.
        method: Method,
        /// Path template with the api prefix.
        path: String,
    },
    /// An action of a resource type.
    Action {
        /// Resource type.
        resource: String,
        /// Action name.
        action: String,
    },
}

/// One step, with the rule id and source it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// What to check.
    pub kind: StepKind,
    /// Stable rule id for explanations (`api.GET /p#2`).
    pub rule: String,
    /// Source.
    pub origin: Origin,
}

/// The checks of LANGUAGE.md's decision table, steps 2 to 9.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Step 2: the zone's transport requirements.
    Transport {
        /// `require tls`.
        require_tls: bool,
        /// `require mtls`: peer globs (empty: any certificate).
        mtls_peers: Option<Vec<String>>,
        /// Source allowlist (empty: any).
        networks: Vec<String>,
    },
    /// Steps 3 and 6: consume one unit of a limit.
    Limit {
        /// Limit index.
        limit: u32,
        /// Which stage.
        stage: LimitStage,
    },
    /// Step 4: establish the identity.
    Authenticate(Auth),
    /// Step 5: scopes.
    Scopes {
        /// Every one is required.
        all: Vec<String>,
        /// From each group, one is required (`scope any`).
        any_of: Vec<Vec<String>>,
    },
    /// Step 7: the body.
    Body {
        /// What is accepted.
        accept: BodyAccept,
        /// Largest body in bytes.
        max_bytes: u64,
    },
    /// Step 8: a `deny` rule: denies when it holds or errors.
    Deny(ExprId),
    /// Step 8: the `allow` rules: allows when any holds (an erroring one does not).
    Allow(Vec<AllowRule>),
    /// Step 9: headers added to an allowed request.
    UpstreamHeader {
        /// Header name.
        name: String,
        /// Its value.
        value: ExprId,
    },
}

/// One `allow` rule: unconditional when `when` is `None`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowRule {
    /// Condition.
    pub when: Option<ExprId>,
    /// Rule id.
    pub rule: String,
    /// Source.
    pub origin: Origin,
}

/// How the caller authenticates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// A JWT from one of these issuers.
    Bearer {
        /// Issuer indexes.
        issuers: Vec<u32>,
    },
    /// The peer certificate's principal.
    Mtls,
    /// HTTP Basic against a client table.
    ClientSecret {
        /// Credential table index.
        table: u32,
    },
    /// An API key header against a key table.
    ApiKey {
        /// Header (lower case).
        header: String,
        /// Credential table index.
        table: u32,
    },
    /// The calling service asserts the subject.
    Asserted,
    /// Nobody.
    None,
}

/// Accepted bodies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyAccept {
    /// JSON, optionally against a schema (by index).
    Json {
        /// Schema index.
        schema: Option<u32>,
    },
    /// Any media type.
    Any,
    /// No body at all.
    None,
}

/// Routes by host, then path segments (a trie), then method.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteIndex {
    /// Hosts with their own routes first (sorted), then `None`: apis without a host.
    pub hosts: Vec<HostRoutes>,
    /// Trie nodes; `HostRoutes::root` and children index here.
    pub nodes: Vec<TrieNode>,
}

/// The trie of one host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRoutes {
    /// Lower-case host, or `None` for any host.
    pub host: Option<String>,
    /// Root node.
    pub root: u32,
}

/// One path position. Lookup tries the literal child, then the parameter
/// child, then the tail routes (most specific first), backtracking on a miss.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrieNode {
    /// Literal segments, sorted, for binary search.
    pub literals: Vec<(String, u32)>,
    /// `{param}` child.
    pub param: Option<u32>,
    /// Routes ending here.
    pub methods: Vec<MethodEndpoint>,
    /// Routes with a `{*tail}` here (matching one or more remaining segments).
    pub tail: Vec<MethodEndpoint>,
}

/// A method and the endpoint it leads to (`ANY` last).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodEndpoint {
    /// Method (`ANY` matches all).
    pub method: Method,
    /// Endpoint index.
    pub endpoint: u32,
}

/// A resource type and its actions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceType {
    /// Type name.
    pub name: String,
    /// Zone index.
    pub zone: u32,
    /// Action name → endpoint index, sorted by name.
    pub actions: Vec<(String, u32)>,
}

/// What a route lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteMatch {
    /// The endpoint and the path parameter values, in the endpoint's `params` order.
    Found {
        /// Endpoint index.
        endpoint: u32,
        /// Parameter values (a tail parameter holds the rest, `/`-joined).
        params: Vec<String>,
    },
    /// Some route has this path, none this method (405).
    MethodNotAllowed,
    /// No route has this path (404).
    NotFound,
}

impl RouteIndex {
    /// Finds the route for a host, method and decoded path segments. The
    /// host's own routes are tried before those of apis without a host;
    /// within a trie, literal beats parameter beats tail. Cost grows with
    /// the number of segments, not the number of routes.
    pub fn lookup(&self, host: &str, method: Method, segments: &[&str]) -> RouteMatch {
        let mut path_matched = false;
        for h in &self.hosts {
            if let Some(name) = &h.host
                && !name.eq_ignore_ascii_case(host)
            {
                continue;
            }
            match self.walk(h.root, method, segments) {
                RouteMatch::Found { endpoint, params } => return RouteMatch::Found { endpoint, params },
                RouteMatch::MethodNotAllowed => path_matched = true,
                RouteMatch::NotFound => {}
            }
        }
        if path_matched { RouteMatch::MethodNotAllowed } else { RouteMatch::NotFound }
    }

    fn walk(&self, root: u32, method: Method, segments: &[&str]) -> RouteMatch {
        // Depth-first, most specific child first; the stack holds (node, depth,
        // next alternative to try: 0 literal, 1 param, 2 tail, 3 done).
        let mut stack: Vec<(u32, usize, u8)> = vec![(root, 0, 0)];
        let mut params: Vec<String> = Vec::new();
        let mut path_matched = false;
        let pick = |list: &[MethodEndpoint]| {
            list.iter().find(|m| m.method == method || m.method == Method::Any).map(|m| m.endpoint)
        };
        while let Some(top) = stack.last_mut() {
            let (node_id, depth, alt) = *top;
            let Some(node) = self.nodes.get(node_id as usize) else { return RouteMatch::NotFound };
            top.2 += 1;
            match alt {
                0 if depth == segments.len() => {
                    if !node.methods.is_empty() {
                        path_matched = true;
                        if let Some(endpoint) = pick(&node.methods) {
                            return RouteMatch::Found { endpoint, params };
                        }
                    }
                }
                0 => {
                    let seg = segments.get(depth).copied().unwrap_or("");
                    if let Ok(i) = node.literals.binary_search_by(|(l, _)| l.as_str().cmp(seg))
                        && let Some(&(_, child)) = node.literals.get(i)
                    {
                        stack.push((child, depth + 1, 0));
                    }
                }
                // A parameter never matches an empty segment.
                1 if segments.get(depth).is_some_and(|s| !s.is_empty()) => {
                    if let Some(child) = node.param {
                        params.push(segments.get(depth).map(|s| (*s).to_owned()).unwrap_or_default());
                        stack.push((child, depth + 1, 0));
                    }
                }
                2 if depth < segments.len()
                    && !node.tail.is_empty()
                    && segments.get(depth..).is_some_and(|r| r.iter().any(|s| !s.is_empty())) =>
                {
                    path_matched = true;
                    if let Some(endpoint) = pick(&node.tail) {
                        params.push(segments.get(depth..).map(|rest| rest.join("/")).unwrap_or_default());
                        return RouteMatch::Found { endpoint, params };
                    }
                }
                1 | 2 => {}
                _ => {
                    stack.pop();
                    // Leaving a node entered through its parent's param edge drops that value.
                    if let Some(&(parent, _, parent_alt)) = stack.last()
                        && parent_alt == 2
                        && self.nodes.get(parent as usize).and_then(|p| p.param) == Some(node_id)
                    {
                        params.pop();
                    }
                }
            }
        }
        if path_matched { RouteMatch::MethodNotAllowed } else { RouteMatch::NotFound }
    }
}
