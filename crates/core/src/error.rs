//! The domain error type, shared by the store, the provisioner and every API surface.

use dbcloud_types::{Code, FieldViolation};

/// Result with the domain [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, in the one vocabulary of stable codes.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The request is malformed; `violations` names the offending fields.
    #[error("{message}")]
    InvalidArgument {
        /// Message naming the field(s).
        message: String,
        /// One entry per offending field.
        violations: Vec<FieldViolation>,
    },
    /// The object does not exist (or is not visible to the caller).
    #[error("{0} not found")]
    NotFound(String),
    /// A unique name or entry already exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// The object's state does not allow the change.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A concurrent change won a race (write conflict); retrying may succeed.
    #[error("{0}")]
    Aborted(String),
    /// The cluster runs an operation that this change must wait for.
    #[error("{message}")]
    Busy {
        /// Message naming the cluster and what it is doing.
        message: String,
        /// Seconds after which a retry may succeed.
        retry_after_secs: u64,
    },
    /// An `Idempotency-Key` was reused with a different request.
    #[error("invalid argument: Idempotency-Key: already used for a different request")]
    IdempotencyKeyReused,
    /// The caller lacks the permission.
    #[error("permission denied")]
    PermissionDenied,
    /// No valid credential.
    #[error("unauthenticated")]
    Unauthenticated,
    /// Rate limit or quota exceeded.
    #[error("{message}")]
    ResourceExhausted {
        /// Message.
        message: String,
        /// Seconds to wait before retrying.
        retry_after_secs: u64,
    },
    /// The backing store is unavailable.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A server fault. The detail is for the log only, never for the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A validation error for one field.
    pub fn field(field: impl Into<String>, description: impl Into<String>) -> Self {
        let field = field.into();
        let description = description.into();
        Error::InvalidArgument { message: format!("invalid argument: {field}: {description}"), violations: vec![FieldViolation { field, description }] }
    }

    /// A validation error that is not about one field (e.g. a malformed body).
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidArgument { message: message.into(), violations: vec![] }
    }

    /// The cluster `id` is busy with an operation in state `state`.
    pub fn busy(id: uuid::Uuid, state: impl std::fmt::Display) -> Self {
        Error::Busy { message: format!("cluster {id} is busy ({state}); retry when the running operation ends"), retry_after_secs: 1 }
    }

    /// The stable code of this error.
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidArgument { .. } => Code::InvalidArgument,
            Error::NotFound(_) => Code::NotFound,
            Error::AlreadyExists(_) => Code::AlreadyExists,
            Error::FailedPrecondition(_) => Code::FailedPrecondition,
            Error::Aborted(_) | Error::Busy { .. } => Code::Aborted,
            Error::IdempotencyKeyReused => Code::InvalidArgument,
            Error::PermissionDenied => Code::PermissionDenied,
            Error::Unauthenticated => Code::Unauthenticated,
            Error::ResourceExhausted { .. } => Code::ResourceExhausted,
            Error::Unavailable(_) => Code::Unavailable,
            Error::Internal(_) => Code::Internal,
        }
    }
}

/// Collects validation failures of one request so they are reported together.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a failure of `field`.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation { field: field.into(), description: description.into() });
    }

    /// Records the outcome of a check: `Err(description)` becomes a violation, `Ok(v)` gives `Some(v)`.
    pub fn check<T>(&mut self, field: &str, r: std::result::Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e);
                None
            }
        }
    }

    /// `Ok(())` when nothing failed, else one error naming every failed field.
    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let parts: Vec<String> = self.0.iter().map(|v| format!("{}: {}", v.field, v.description)).collect();
        Err(Error::InvalidArgument { message: format!("invalid argument: {}", parts.join("; ")), violations: self.0 })
    }
}
