//! Stable codes of the compiler's errors (`E02xx`): what needs the whole policy set to see.

use warden_language::Code;

/// A name declared twice in the policy set.
pub const DUPLICATE_DECLARATION: Code = Code("E0201");
/// A zone that is not declared.
pub const UNKNOWN_ZONE: Code = Code("E0202");
/// A limit that is not declared.
pub const UNKNOWN_LIMIT: Code = Code("E0203");
/// A schema (or type) that is not declared.
pub const UNKNOWN_SCHEMA: Code = Code("E0204");
/// A data document that is not declared.
pub const UNKNOWN_DATA: Code = Code("E0205");
/// A resource type or action that is not declared.
pub const UNKNOWN_RESOURCE: Code = Code("E0206");
/// Two routes that match exactly the same requests.
pub const ROUTE_CONFLICT: Code = Code("E0207");
/// `body.x` where the route's schema has no `x`.
pub const UNKNOWN_BODY_FIELD: Code = Code("E0208");
/// An operand whose type is wrong, known at compile time.
pub const TYPE_MISMATCH: Code = Code("E0209");
/// A regular expression that does not compile, or compiles larger than
/// [`crate::check::REGEX_SIZE_LIMIT`].
pub const INVALID_REGEX: Code = Code("E0210");
/// A CIDR or IP address that does not parse.
pub const INVALID_CIDR: Code = Code("E0211");
/// A peer glob that does not parse.
pub const INVALID_GLOB: Code = Code("E0212");
/// A URL that does not parse or has the wrong scheme.
pub const INVALID_URL: Code = Code("E0213");
/// A route or action that no request can ever be allowed through.
pub const NEVER_ALLOWS: Code = Code("E0214");
/// A referenced file that is missing, unreadable or malformed.
pub const BAD_FILE: Code = Code("E0215");
/// An attribute that cannot exist where it is used (`path.x` without `{x}`…).
pub const UNKNOWN_ATTRIBUTE: Code = Code("E0216");
/// An authentication method that cannot work in its zone.
pub const AUTH_MISMATCH: Code = Code("E0217");
/// A schema that contains itself without an optional field in between.
pub const RECURSIVE_SCHEMA: Code = Code("E0218");
/// A `mint` that could not issue a token its zone can trust: a target zone
/// with other issuers, the request's own zone, no verified caller, or a claim
/// copied from what the caller wrote.
pub const MINT_UNTRUSTED: Code = Code("E0219");
/// A ban that is not declared.
pub const UNKNOWN_BAN: Code = Code("E0220");

/// Every code with a one-line summary.
pub const ALL: &[(Code, &str)] = &[
    (DUPLICATE_DECLARATION, "a name declared twice in the policy set"),
    (UNKNOWN_ZONE, "a zone that is not declared"),
    (UNKNOWN_LIMIT, "a limit that is not declared"),
    (UNKNOWN_SCHEMA, "a schema that is not declared"),
    (UNKNOWN_DATA, "a data document that is not declared"),
    (UNKNOWN_RESOURCE, "a resource type or action that is not declared"),
    (ROUTE_CONFLICT, "two routes that match exactly the same requests"),
    (UNKNOWN_BODY_FIELD, "a body field the route's schema does not have"),
    (TYPE_MISMATCH, "an operand whose type is wrong, known at compile time"),
    (INVALID_REGEX, "a regular expression that does not compile or is too large"),
    (INVALID_CIDR, "a CIDR or IP address that does not parse"),
    (INVALID_GLOB, "a peer glob that does not parse"),
    (INVALID_URL, "a URL that does not parse or has the wrong scheme"),
    (NEVER_ALLOWS, "a route or action that can never allow a request"),
    (BAD_FILE, "a referenced file that is missing, unreadable or malformed"),
    (UNKNOWN_ATTRIBUTE, "an attribute that cannot exist where it is used"),
    (AUTH_MISMATCH, "an authentication method missing or unusable in its zone"),
    (RECURSIVE_SCHEMA, "a schema that contains itself"),
    (MINT_UNTRUSTED, "a minted token its zone could not trust"),
    (UNKNOWN_BAN, "a ban that is not declared"),
];
