//! Asking the CPU for memory a little before it is needed.
//!
//! A busy capture interleaves the packets of a thousand connections or
//! more: each packet finds its connection's state out of the cache, and
//! without a hint the core waits on every such miss in turn. Both sides
//! of the pipeline know which connection comes next (the reader from the
//! next packets' headers, the analysis from the next calls of its batch),
//! so they ask for it while the current one is worked on.

/// Asks for the `lines` cache lines from `p` on. A hint only: it never
/// faults, whatever the address, and changes nothing observable.
#[inline(always)]
pub fn lines<T: ?Sized>(p: &T, lines: usize) {
    let p = (p as *const T).cast::<u8>();
    for i in 0..lines {
        line(p.wrapping_add(i * 64));
    }
}

#[inline(always)]
fn line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch reads nothing the program sees and cannot
        // fault, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
