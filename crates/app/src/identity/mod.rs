//! Identity and access: API keys, service accounts, users and role grants. Nobody creates
//! a key, grant or service account with more authority than they hold.

pub mod accounts;
pub mod grants;
pub mod keys;
pub mod me;
pub mod membership;
pub mod principals;
pub mod users;

/// A referenced object that does not exist is a bad field of the request (400 naming
/// `field`), not a missing object of the path; other errors (an unavailable store) stay.
pub(crate) fn missing_as_field(e: dbcloud_core::Error, field: &str) -> dbcloud_core::Error {
    match e {
        dbcloud_core::Error::NotFound(what) => dbcloud_core::Error::field(field, format!("{what} not found")),
        other => other,
    }
}
