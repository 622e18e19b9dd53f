//! A user crate with strict rustc lints: the generated code adds no warning to it. (`unsafe_code`
//! included: the one `unsafe impl` is the macro's, justified by its `SAFETY:` doc, and rustc does
//! not charge it to a crate that forbids unsafe code.)
#![deny(
    warnings,
    missing_docs,
    missing_debug_implementations,
    unused_qualifications,
    unused_results,
    rust_2018_idioms,
    trivial_casts,
    trivial_numeric_casts,
    unused_import_braces,
    unused_lifetimes,
    single_use_lifetimes,
    variant_size_differences,
    non_ascii_idents,
    let_underscore_drop,
    unsafe_code
)]

/// Networks, public.
pub mod nets {
    /// A constant size.
    pub const HIDDEN: usize = 3;

    backprop::network! {
        /// A network under strict lints.
        #[loss(BinaryCrossEntropy)]
        pub struct Strict {
            input: 2,
            hidden: Dense<HIDDEN, Relu>,
            wide: Dense<{ 2 * HIDDEN }, LeakyRelu>,
            output: Dense<1, Sigmoid>,
        }
    }
}

fn main() {
    let mut net = nets::Strict::<f64>::zeroed();
    let loss = net.train_step(&[1.0, 0.5], &[1.0], 0.1);
    assert!(loss > 0.0);
}
