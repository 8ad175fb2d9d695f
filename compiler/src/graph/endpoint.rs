//! Endpoints (routes and resource actions) as flat lists of steps in the
//! order of LANGUAGE.md's decision table, and resource types with their
//! actions.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{ExprId, LimitStage, Method, Origin};

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
    /// The bans its denials count toward (`ban NAME` statements).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bans: Vec<u32>,
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
    /// A token exchange (`POST /oauth/token`).
    Exchange {
        /// Its name.
        name: String,
    },
}

/// One step, with the rule id and source it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// What to check.
    pub kind: StepKind,
    /// Stable rule id for explanations (`api.GET /p#2`); shared, so a
    /// decision names it without copying it.
    pub rule: Arc<str>,
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
    /// Before step 3 (a key of the request) or after step 4 (a key of the
    /// identity): the key is banned now (`banned`).
    Ban {
        /// Ban index.
        ban: u32,
    },
    /// Step 4: establish the identity.
    Authenticate(Auth),
    /// Step 4 of an exchange: the subject token, verified against these
    /// issuers, becomes the identity; who authenticated before is the actor.
    Subject {
        /// Issuer indexes.
        issuers: Vec<u32>,
    },
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
    /// Step 9: a token for the zone behind this one, signed by this Warden.
    Mint(Mint),
}

/// `mint for zone …`: what the engine computes for the signer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mint {
    /// The zone the token is for.
    pub zone: String,
    /// Its `iss`: the target zone's one issuer, which must be this Warden.
    pub issuer: String,
    /// Its `aud`: that issuer's first audience in the target zone.
    pub audience: String,
    /// The claims the policy copies, in the order written.
    pub claims: Vec<(String, ExprId)>,
    /// The scopes the token may carry: those of these the caller has.
    pub scopes: Vec<String>,
    /// Seconds from `iat` to `exp`.
    pub lifetime_s: u64,
    /// The header that carries the token bare; `None`: `authorization: Bearer …`.
    pub header: Option<String>,
    /// `cnf.x5t#S256`: the thumbprint of the certificate it is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
}

/// One `allow` rule: unconditional when `when` is `None`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowRule {
    /// Condition.
    pub when: Option<ExprId>,
    /// Rule id (shared, as [`Step::rule`]).
    pub rule: Arc<str>,
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
