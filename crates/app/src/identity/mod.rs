//! Identity and access: API keys, service accounts, users and role grants. Nobody creates
//! a key, grant or service account with more authority than they hold.

pub mod accounts;
pub mod grants;
pub mod keys;
pub mod users;
