//! The SDK's error type: why a call produced no decision.

/// Why a call to Warden produced no decision. Messages never carry a token or
/// a header value of the judged request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No answer: Warden could not be reached (connection refused, TLS
    /// handshake failed, connection lost) or has no policy loaded.
    #[error("warden is unavailable: {0}")]
    Unavailable(String),
    /// No answer within the call's deadline.
    #[error("no decision within the deadline of {0} ms")]
    DeadlineExceeded(u64),
    /// Warden refused to judge the check (a malformed check); never an allow.
    #[error("warden refused the check: {0}")]
    InvalidArgument(String),
    /// The client is set up wrongly (an endpoint that is not a URI, bad PEM).
    #[error("client configuration: {0}")]
    Config(String),
    /// The embedded policy directory does not compile (rendered diagnostics).
    #[error("the policy set does not compile:\n{0}")]
    Policy(String),
    /// Another gRPC failure (its code and message).
    #[error("warden answered `{code}`: {message}")]
    Status {
        /// The gRPC code, as a name.
        code: String,
        /// The message.
        message: String,
    },
}

impl Error {
    /// True when no decision can have been made, so a fail mode applies:
    /// [`Error::Unavailable`], [`Error::DeadlineExceeded`] and gRPC failures
    /// other than `INVALID_ARGUMENT`.
    pub fn is_no_answer(&self) -> bool {
        !matches!(self, Error::InvalidArgument(_) | Error::Config(_) | Error::Policy(_))
    }

    /// The error for a gRPC status.
    pub(crate) fn from_status(s: &tonic::Status, deadline_ms: u64) -> Error {
        if caused_by::<tonic::TimeoutExpired>(s) {
            return Error::DeadlineExceeded(deadline_ms);
        }
        match s.code() {
            // A connection closed under the call (as a refused client certificate
            // closes it after a TLS 1.3 handshake) ends it as cancelled.
            tonic::Code::Unavailable | tonic::Code::Cancelled => Error::Unavailable(describe(s)),
            // A status with a cause was made by this side's transport (a status
            // from Warden carries none): the connection failed under the call.
            tonic::Code::Unknown if std::error::Error::source(s).is_some() => Error::Unavailable(describe(s)),
            tonic::Code::DeadlineExceeded => Error::DeadlineExceeded(deadline_ms),
            tonic::Code::InvalidArgument | tonic::Code::OutOfRange => Error::InvalidArgument(s.message().to_owned()),
            code => Error::Status { code: format!("{code:?}"), message: s.message().to_owned() },
        }
    }
}

/// The status message and the innermost cause (e.g. `Connection refused`).
fn describe(s: &tonic::Status) -> String {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(s);
    let mut last = None;
    while let Some(c) = cause {
        last = Some(c.to_string());
        cause = c.source();
    }
    match last {
        Some(l) if l != s.message() => format!("{}: {l}", s.message()),
        _ => s.message().to_owned(),
    }
}

/// True when an error of type `E` is in `s`'s chain of causes.
fn caused_by<E: std::error::Error + 'static>(s: &tonic::Status) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(s);
    while let Some(c) = cause {
        if c.is::<E>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// True when `s` failed because the connection was refused: nothing was sent,
/// so no decision (and no rate-limit count) can have been made.
pub(crate) fn connection_refused(s: &tonic::Status) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(s);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        cause = c.source();
    }
    false
}
