//! The compile-time behaviour of `network!`, through trybuild: every bad spec in `ui/fail` must
//! fail with exactly the errors of its `.stderr` snapshot, every program in `ui/pass` must
//! compile and run.
//!
//! Regenerate the snapshots after a deliberate change of a message or of the toolchain with
//! `TRYBUILD=overwrite cargo test -p backprop-macros --test compiletest`, then read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
