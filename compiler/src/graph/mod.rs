//! The decision graph: the typed, versioned IR the engine evaluates (not the AST).
//!
//! Everything is referenced by index: zones, issuers, limits, schemas, data,
//! credential tables, expressions, regexes and CIDRs live in flat tables, so
//! the engine prepares each once (compiles regexes, parses CIDRs and keys) and
//! evaluates many times. Routes are found through a trie per host; each
//! endpoint (route or resource action) is a flat list of steps in the order of
//! LANGUAGE.md's decision table, and every step keeps its source and rule id.
//!
//! The types are split by what they describe: the tables of declarations
//! (`tables`), expressions (`expr`), endpoints and their steps
//! (`endpoint`), and the route index with its lookup (`routes`). All are
//! re-exported here, so `graph::Endpoint` and the like are the paths to use.

mod endpoint;
mod expr;
mod routes;
mod tables;

use serde::{Deserialize, Serialize};
pub use warden_language::ast::{Algorithm, BackendErrorPolicy, CmpOp, Format, Method};

pub use self::endpoint::{AllowRule, Auth, BodyAccept, Endpoint, EndpointKind, Mint, ResourceType, Step, StepKind};
pub use self::expr::{Expr, Key};
pub use self::routes::{
    HostRoutes, MethodEndpoint, ParamSpans, RouteIndex, RouteMatch, TrieNode, WideIndex, param_value,
};
pub use self::tables::{
    Ban, CredentialTable, DEFAULT_IPV6_PREFIX, DataDoc, Introspect, Issuer, KeySource, Limit, LimitStage, Schema,
    SchemaField, SchemaType, SecretSource, Zone,
};

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
    /// Bans.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bans: Vec<Ban>,
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
