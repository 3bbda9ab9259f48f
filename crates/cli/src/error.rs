//! Errors of the CLI and the process exit codes they map to.

use std::fmt;

/// Exit code: usage or configuration error.
pub const EXIT_USAGE: u8 = 1;
/// Exit code: the API refused the request (4xx other than 401/403/404).
pub const EXIT_API: u8 = 2;
/// Exit code: authentication or authorization failed (401/403).
pub const EXIT_AUTH: u8 = 3;
/// Exit code: not found (404).
pub const EXIT_NOT_FOUND: u8 = 4;
/// Exit code: a `--wait` ran out of time.
pub const EXIT_TIMEOUT: u8 = 5;
/// Exit code: server (5xx) or network error.
pub const EXIT_SERVER: u8 = 6;

/// An error of a CLI command.
#[derive(Debug)]
pub enum CliError {
    /// Bad usage or configuration.
    Usage(String),
    /// The API answered with an error.
    Api {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
        /// The `x-request-id` of the response.
        request_id: Option<String>,
    },
    /// Waiting for a state ran out of time.
    Timeout(String),
    /// Transport failure or an unusable response.
    Network(String),
}

impl CliError {
    /// The process exit code of this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Api { status, .. } => match status {
                401 | 403 => EXIT_AUTH,
                404 => EXIT_NOT_FOUND,
                400..=499 => EXIT_API,
                _ => EXIT_SERVER,
            },
            CliError::Timeout(_) => EXIT_TIMEOUT,
            CliError::Network(_) => EXIT_SERVER,
        }
    }

    /// A not-found error without a server response (e.g. a name that resolves to nothing).
    pub fn not_found(message: impl Into<String>) -> Self {
        CliError::Api { status: 404, message: message.into(), request_id: None }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Timeout(m) | CliError::Network(m) => f.write_str(m),
            CliError::Api { message, request_id: Some(id), .. } => write!(f, "{message} (request id {id})"),
            CliError::Api { message, request_id: None, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for CliError {}

/// Result of CLI operations.
pub type Result<T> = std::result::Result<T, CliError>;
