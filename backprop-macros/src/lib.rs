//! The `network!` procedural macro of [`backprop`](https://docs.rs/backprop).
//!
//! Do not depend on this crate: use `backprop::network!`, a `macro_rules!` shim that passes
//! `$crate` here, so generated code finds its runtime even when `backprop` is renamed.
//!
//! The macro runs in three stages, private modules: `parse` (syntax, spans kept), `model`
//! (checks, every error collected), `expand` (glue code calling `backprop-core`'s kernels; never
//! fails). The first two form the front end, `front`, which returns `Ok` or `Err` for any token
//! stream and never panics (a property test in this crate feeds it random and mutated specs).
//! The model checks each layer in `layers`, with the shapes of `shape` and each kind's row of
//! `kinds` (its arguments, core type and output shape); `docs` writes the layers' doc comments.

mod bake;
mod ctxt;
mod docs;
mod expand;
mod kinds;
mod layers;
mod model;
mod parse;
mod quantize;
mod shape;
mod tokens;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;
use proc_macro2::Ident;
use quote::ToTokens;

/// Implementation of `backprop::network!`; see that macro for the syntax.
#[doc(hidden)]
#[proc_macro]
pub fn network_impl(input: TokenStream) -> TokenStream {
    expand_invocation(input.into()).into()
}

/// Parse, check and expand one invocation; errors become `compile_error!`s inside a stand-in
/// for the network, so that other code naming it keeps compiling.
fn expand_invocation(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    match front(input) {
        Ok(model) => expand::expand(&model),
        Err(failure) => expand::fallback(failure.stand_in.as_ref(), &failure.error),
    }
}

/// Why an invocation has no model: every error found, and the network's visibility and name
/// when they could be read, for the stand-in.
struct Failure {
    error: syn::Error,
    stand_in: Option<(proc_macro2::TokenStream, Ident)>,
}

/// The front end: parse (stops at the first syntax error) then check (collects every semantic
/// error). Total: returns for every token stream, without panicking.
fn front(input: proc_macro2::TokenStream) -> Result<model::Model, Failure> {
    let invocation = match syn::parse2::<parse::Invocation>(input.clone()) {
        Ok(invocation) => invocation,
        Err(error) => return Err(Failure { error, stand_in: parse::find_name(input) }),
    };
    let stand_in = Some((invocation.spec.vis.to_token_stream(), invocation.spec.name.clone()));
    let mut cx = ctxt::Ctxt::default();
    let model = model::Model::from_spec(&mut cx, invocation.krate, invocation.spec);
    match (cx.check(), model) {
        (Ok(()), Some(model)) => Ok(model),
        (Err(error), _) => Err(Failure { error, stand_in }),
        // `from_spec` returns `None` only after recording an error; should that ever be broken,
        // say so at the invocation rather than panic.
        (Ok(()), None) => Err(Failure {
            error: syn::Error::new(
                proc_macro2::Span::call_site(),
                "backprop-macros: internal error: invalid spec without a diagnostic; please report this",
            ),
            stand_in,
        }),
    }
}
