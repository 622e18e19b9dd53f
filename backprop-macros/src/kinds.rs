//! The layer kinds of the DSL: one row each. Everything else the macro writes about a layer goes
//! through `backprop-core`'s `Layer` trait, so a new kind is a row here and a type in the core.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Ident;

/// One layer kind: how it is written, and the core type and output shape it becomes.
pub struct Kind {
    /// The name in the spec, which is also the core type's name (`Dense`).
    pub name: &'static str,
    /// How a layer of this kind is written, for messages.
    pub syntax: &'static str,
    /// The core type of a layer, given the path to the runtime, the input shape's size and the
    /// layer's size (both as const generic arguments).
    pub ty: fn(private: &TokenStream, input: &TokenStream, size: &TokenStream) -> TokenStream,
    /// The output shape of one sample, given the layer's size as written.
    pub output: fn(size: &TokenStream) -> TokenStream,
    /// A phrase for doc comments: "dense 2 → 3".
    pub describe: &'static str,
}

/// Every kind the spec knows.
pub const KINDS: &[Kind] = &[Kind {
    name: "Dense",
    syntax: "Dense<N, Activation>",
    ty: |private, input, size| quote!(#private::Dense<T, #input, #size>),
    output: |size| quote!([T; #size]),
    describe: "dense",
}];

/// The kind written as `ident`, if there is one.
pub fn find(ident: &Ident) -> Option<&'static Kind> {
    KINDS.iter().find(|k| ident == k.name)
}

/// "unknown layer kind `Dropout`; the kinds are: `Dense<N, Activation>`", with a spelling hint
/// when one is close.
pub fn unknown(ident: &Ident) -> String {
    let written = ident.to_string();
    let list = KINDS.iter().map(|k| format!("`{}`", k.syntax)).collect::<Vec<_>>().join(", ");
    match crate::model::nearest(&written, KINDS.iter().map(|k| k.name)) {
        Some(best) => format!("unknown layer kind `{written}`; did you mean `{best}`? The kinds are: {list}"),
        None => format!("unknown layer kind `{written}`; the kinds are: {list}"),
    }
}
