//! Opaque list cursors: keyset pagination on time-ordered ids, so a page costs the same
//! however long the list is.

use crate::{Error, Result};
use uuid::Uuid;

/// Largest page a list returns.
pub const MAX_PAGE_SIZE: u32 = 500;
/// Page size when none is asked for.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// Encodes the id of the last item of a page as the cursor for the next page.
pub fn encode(last_id: Uuid) -> String {
    format!("c1.{}", last_id.simple())
}

/// Decodes a cursor; a malformed one is a 400 naming `cursor`. Only the exact form
/// [`encode`] makes is accepted (32 lower-case hex digits), so one position has one cursor.
pub fn decode(cursor: &str) -> Result<Uuid> {
    cursor
        .strip_prefix("c1.")
        .filter(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .and_then(|s| Uuid::try_parse(s).ok())
        .ok_or_else(|| Error::field("cursor", "malformed cursor; pass the next_cursor of a previous page"))
}

/// Checks a requested page size (1..=MAX_PAGE_SIZE, default DEFAULT_PAGE_SIZE).
pub fn page_size(limit: Option<u32>) -> Result<u32> {
    match limit {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
        Some(_) => Err(Error::field("limit", format!("must be between 1 and {MAX_PAGE_SIZE}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects_garbage() {
        let id = crate::new_id();
        assert_eq!(decode(&encode(id)).unwrap(), id);
        assert!(decode("nope").is_err());
        assert!(decode("c1.zz").is_err());
        assert!(decode(&format!("c1.{}", id.hyphenated())).is_err(), "another spelling of the same id");
        assert!(decode(&encode(id).to_uppercase().replace("C1.", "c1.")).is_err());
        assert!(page_size(Some(0)).is_err());
        assert!(page_size(Some(MAX_PAGE_SIZE + 1)).is_err());
        assert_eq!(page_size(None).unwrap(), DEFAULT_PAGE_SIZE);
    }
}
