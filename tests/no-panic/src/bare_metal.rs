//! The bare-metal entry point and the panic handler of the link proofs (`tests/no-panic`, and
//! `tests/int-only`, which includes this file by path): `_start` calls the crate's `run` forever,
//! and the panic handler calls a function that exists nowhere.

/// The entry point the linker starts from (`ld.lld`'s default, `_start`).
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    loop {
        super::run();
    }
}

unsafe extern "Rust" {
    /// Defined nowhere: referencing it from reachable code fails the link.
    fn backprop_hot_path_reached_a_panic() -> !;
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: never called in a linked binary; if a call to it were reachable, there would be
    // no binary, because the symbol is undefined.
    unsafe { backprop_hot_path_reached_a_panic() }
}
