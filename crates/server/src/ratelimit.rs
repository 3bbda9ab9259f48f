//! Rate limits live in the service layer's authentication ([`dbcloud_app::auth::ratelimit`]).

pub use dbcloud_app::auth::ratelimit::*;
