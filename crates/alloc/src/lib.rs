//! mimalloc, the allocator of the `dbcloud` binary (its `#[global_allocator]`, and the API
//! benchmark's), and its settings. This is the workspace's only crate with `unsafe` code:
//! the two calls into mimalloc's C API below; every other crate forbids it.
//!
//! A request allocates and frees many small buffers across worker threads; mimalloc serves them at about two thirds of glibc's CPU cost (`cargo bench -p
//! dbcloud-server --bench api`). Two settings keep its memory close to glibc's: no
//! transparent huge pages (cargo feature `no_thp`: a 2 MiB page per touched region would
//! count whole in the resident set), and freed memory given back to the OS at once
//! ([`tune`]) rather than after a delay that an idle server never reaches.

#![deny(unsafe_op_in_unsafe_fn)]

use std::os::raw::{c_int, c_long};

pub use mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v3's `mimalloc.h` (the Rust bindings name only older
/// options): milliseconds before freed memory is purged (default 1000 in v3's options table; 0 = at once).
const MI_OPTION_PURGE_DELAY: c_int = 15;

/// Applies the settings; call first thing in `main` (harmless when another allocator is the
/// global one).
pub fn tune() {
    // SAFETY: sets a documented option of the linked mimalloc; any value is valid.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0 as c_long) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_is_mimallocs_purge_delay() {
        // SAFETY: reads an option.
        let get = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(
            get(),
            1000,
            "mimalloc v3's default purge delay is 1000 ms (no other option has that default): is the option index wrong for this mimalloc?"
        );
        tune();
        assert_eq!(get(), 0);
    }
}
