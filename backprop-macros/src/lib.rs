//! The `network!` procedural macro of [`backprop`](https://docs.rs/backprop).
//!
//! Do not depend on this crate: use `backprop::network!`, a `macro_rules!` shim that passes
//! `$crate` here, so generated code finds its runtime even when `backprop` is renamed.
//!
//! The macro runs in three stages: [`parse`] (syntax, spans kept), [`model`] (checks, every error
//! collected), [`expand`] (glue code calling `backprop-core`'s kernels; never fails).

mod ctxt;
mod expand;
mod model;
mod parse;

use proc_macro::TokenStream;

/// Implementation of `backprop::network!`; see that macro for the syntax.
#[doc(hidden)]
#[proc_macro]
pub fn network_impl(input: TokenStream) -> TokenStream {
    expand_invocation(input.into()).into()
}

/// Parse, check and expand one invocation; errors become `compile_error!`s, with a stand-in for
/// the network so that other code naming it keeps compiling.
fn expand_invocation(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let invocation = match syn::parse2::<parse::Invocation>(input) {
        Ok(invocation) => invocation,
        Err(error) => return error.into_compile_error(),
    };
    let (vis, name) = (invocation.spec.vis.clone(), invocation.spec.name.clone());
    let mut cx = ctxt::Ctxt::default();
    let model = model::Model::from_spec(&mut cx, invocation.krate, invocation.spec);
    match (cx.check(), model) {
        (Ok(()), Some(model)) => expand::expand(&model),
        (Err(errors), _) => {
            let mut out = errors.into_compile_error();
            out.extend(expand::fallback(&vis, &name));
            out
        }
        (Ok(()), None) => unreachable!("a spec without a model always records an error"),
    }
}
