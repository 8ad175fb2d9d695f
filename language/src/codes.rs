//! Stable codes of the diagnostics the language crate reports (`E0001`–`E0199`).
//!
//! A code never changes meaning. `E00xx` are about the file as a whole,
//! `E01xx` about its syntax and the shape of what was written.

use crate::diagnostic::Code;

/// The file is not valid UTF-8.
pub const INVALID_UTF8: Code = Code("E0001");
/// The file holds a NUL byte: it is not a text file.
pub const BINARY_FILE: Code = Code("E0002");
/// Brackets or `not`s nest deeper than the parser allows.
pub const NESTING_TOO_DEEP: Code = Code("E0003");
/// The file is larger than a policy file may be.
pub const FILE_TOO_LARGE: Code = Code("E0004");
/// The file could not be read.
pub const UNREADABLE: Code = Code("E0005");

/// A string literal is not closed on its line.
pub const UNTERMINATED_STRING: Code = Code("E0101");
/// Unexpected token: the parser expected something else here.
pub const SYNTAX: Code = Code("E0102");
/// A string literal holds an escape that JSON does not define.
pub const INVALID_ESCAPE: Code = Code("E0103");
/// A duration literal is malformed or out of range.
pub const INVALID_DURATION: Code = Code("E0104");
/// A size literal is malformed or out of range.
pub const INVALID_SIZE: Code = Code("E0105");
/// A number literal is out of range.
pub const INVALID_NUMBER: Code = Code("E0106");
/// An HTTP method that routes cannot name.
pub const INVALID_METHOD: Code = Code("E0107");
/// A route path template is malformed.
pub const INVALID_PATH: Code = Code("E0108");
/// A JWS algorithm Warden does not verify (`none` among them).
pub const UNKNOWN_ALGORITHM: Code = Code("E0109");
/// An expression names an attribute root that does not exist.
pub const UNKNOWN_ATTRIBUTE: Code = Code("E0110");
/// A call to a function that does not exist.
pub const UNKNOWN_FUNCTION: Code = Code("E0111");
/// A function called with the wrong number of arguments.
pub const WRONG_ARITY: Code = Code("E0112");
/// Comparisons chained without `and` (`a == b == c`).
pub const CHAINED_COMPARISON: Code = Code("E0113");
/// A `format` a schema cannot check.
pub const UNKNOWN_FORMAT: Code = Code("E0114");
/// A decision reason that does not exist.
pub const UNKNOWN_REASON: Code = Code("E0115");
/// An HTTP status a denial cannot have (outside 400–599).
pub const INVALID_STATUS: Code = Code("E0116");
/// A test request URL that is neither a path nor an http(s) URL.
pub const INVALID_TEST_URL: Code = Code("E0117");
/// A setting given twice where only one is allowed.
pub const DUPLICATE_SETTING: Code = Code("E0118");
/// A schema field declared twice.
pub const DUPLICATE_FIELD: Code = Code("E0119");
/// An object literal with the same key twice.
pub const DUPLICATE_KEY: Code = Code("E0120");
/// A constraint that does not apply to the field's type.
pub const CONSTRAINT_MISMATCH: Code = Code("E0121");
/// A test token written in a way that cannot be minted.
pub const INVALID_TOKEN: Code = Code("E0122");
/// `has()` given something other than an attribute.
pub const HAS_NEEDS_ATTRIBUTE: Code = Code("E0123");
/// `expect deny` with a status that its reason never has.
pub const STATUS_REASON_MISMATCH: Code = Code("E0124");
/// `repeat` with a count of zero or too large.
pub const INVALID_REPEAT: Code = Code("E0125");
/// A bracket that is not closed, closed twice or closed by the wrong kind.
pub const UNBALANCED: Code = Code("E0126");
/// A setting in a place where it means nothing (`ANY` in a test request…).
pub const MISPLACED: Code = Code("E0127");
/// A value out of the range the language allows (a zero limit…).
pub const OUT_OF_RANGE: Code = Code("E0128");
/// A block lacks a setting it must have (an issuer without `audience`…).
pub const MISSING_SETTING: Code = Code("E0129");
/// A header name that can never match (upper case, or not an HTTP token).
pub const INVALID_HEADER_NAME: Code = Code("E0130");
/// HS* algorithms with a JWKS, or without a secret; a secret without HS*.
pub const ALGORITHM_KEY_MISMATCH: Code = Code("E0131");
/// An api `host` that no request can have (a port, a trailing dot, a wildcard…).
pub const INVALID_HOST: Code = Code("E0132");

/// Every code with a one-line summary, for `--explain` and editor hovers.
pub const ALL: &[(Code, &str)] = &[
    (INVALID_UTF8, "the file is not valid UTF-8"),
    (BINARY_FILE, "the file holds a NUL byte: it is not a text file"),
    (NESTING_TOO_DEEP, "brackets or `not`s nest deeper than the parser allows"),
    (FILE_TOO_LARGE, "the file is larger than a policy file may be"),
    (UNREADABLE, "the file could not be read"),
    (UNTERMINATED_STRING, "a string literal is not closed on its line"),
    (SYNTAX, "the parser expected something else here"),
    (INVALID_ESCAPE, "a string literal holds an escape that JSON does not define"),
    (INVALID_DURATION, "a duration literal is malformed or out of range"),
    (INVALID_SIZE, "a size literal is malformed or out of range"),
    (INVALID_NUMBER, "a number literal is out of range"),
    (INVALID_METHOD, "an HTTP method that routes cannot name"),
    (INVALID_PATH, "a route path template is malformed"),
    (UNKNOWN_ALGORITHM, "a JWS algorithm Warden does not verify"),
    (UNKNOWN_ATTRIBUTE, "an expression names an attribute root that does not exist"),
    (UNKNOWN_FUNCTION, "a call to a function that does not exist"),
    (WRONG_ARITY, "a function called with the wrong number of arguments"),
    (CHAINED_COMPARISON, "comparisons chained without `and`"),
    (UNKNOWN_FORMAT, "a `format` a schema cannot check"),
    (UNKNOWN_REASON, "a decision reason that does not exist"),
    (INVALID_STATUS, "an HTTP status a denial cannot have"),
    (INVALID_TEST_URL, "a test request URL that is neither a path nor an http(s) URL"),
    (DUPLICATE_SETTING, "a setting given twice where only one is allowed"),
    (DUPLICATE_FIELD, "a schema field declared twice"),
    (DUPLICATE_KEY, "an object literal with the same key twice"),
    (CONSTRAINT_MISMATCH, "a constraint that does not apply to the field's type"),
    (INVALID_TOKEN, "a test token written in a way that cannot be minted"),
    (HAS_NEEDS_ATTRIBUTE, "`has()` given something other than an attribute"),
    (STATUS_REASON_MISMATCH, "`expect deny` with a status that its reason never has"),
    (INVALID_REPEAT, "`repeat` with a count of zero or too large"),
    (UNBALANCED, "a bracket that is not closed, or closed by the wrong kind"),
    (MISPLACED, "a setting in a place where it means nothing"),
    (OUT_OF_RANGE, "a value out of the range the language allows"),
    (MISSING_SETTING, "a block lacks a setting it must have"),
    (INVALID_HEADER_NAME, "a header name that can never match"),
    (ALGORITHM_KEY_MISMATCH, "HS* algorithms with a JWKS or without a secret, or a secret without HS*"),
    (INVALID_HOST, "an api `host` that no request can have"),
];
