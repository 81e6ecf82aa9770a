//! Panics already found and reported, so that a run keeps searching past
//! them instead of stopping at the first input that hits one again.
//!
//! A known panic unwinds to [`guard`], which drops the input; any other
//! panic aborts as usual (libFuzzer's crash). Set `WSCAP_FUZZ_STRICT=1` to
//! treat known panics as crashes too (to check a fix: the reproducers in
//! `fuzz/README.md` must then pass). Remove an entry once its bug is fixed.

use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

/// (source file suffix, first line, last line, message fragment).
const KNOWN: &[(&str, u32, u32, &str)] = &[
    // Empty: the two panics found so far (a 64-bit length near 2^64 in
    // `decoder.rs`, an empty snaplen-cut piece in `stream.rs`) are fixed;
    // their reproducers in `repro/` must pass under WSCAP_FUZZ_STRICT=1.
];

fn known(info: &PanicHookInfo<'_>) -> bool {
    let Some(loc) = info.location() else {
        return false;
    };
    let msg = info
        .payload()
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| info.payload().downcast_ref::<&str>().copied())
        .unwrap_or("");
    KNOWN.iter().any(|&(file, lo, hi, frag)| {
        loc.file().ends_with(file) && (lo..=hi).contains(&loc.line()) && msg.contains(frag)
    })
}

fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("WSCAP_FUZZ_STRICT").is_some() {
            return;
        }
        let prev = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !known(info) {
                prev(info);
            }
        }));
    });
}

/// Runs `f`; `None` if it hit a known panic.
pub fn guard<R>(f: impl FnOnce() -> R) -> Option<R> {
    install();
    panic::catch_unwind(AssertUnwindSafe(f)).ok()
}
