//! Graph expressions: one flat table of nodes whose children are
//! [`ExprId`]s, with names already resolved to slots and indexes.

use serde::{Deserialize, Serialize};

use super::{CmpOp, ExprId};

/// A compiled expression node. Children are [`ExprId`]s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    /// A constant (after folding).
    Const(serde_json::Value),
    /// `claim.NAME…`, by slot in [`Names::claims`](super::Names::claims).
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
        /// Index into [`Graph::data`](super::Graph::data).
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
