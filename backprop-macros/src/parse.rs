//! Stage 1: the syntax of a `network!` spec, parsed with every span kept and no meaning given.
//!
//! ```text
//! $crate ;                                  // passed by the facade's `network!` shim
//! /// docs and other attributes              // passed through to the generated struct
//! #[loss(HalfSquaredError)]                  // consumed: the loss
//! #[network(crate = ::path)]                 // consumed: options
//! pub struct Toy {
//!     input: 2,                              // the input size
//!     hidden: Dense<2, Sigmoid>,             // name: Kind<size, Activation>
//!     output: Dense<1, Sigmoid>,
//! }
//! ```

use proc_macro2::{TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, Token, Visibility, braced};

/// The whole invocation as the proc macro receives it from the shim.
pub struct Invocation {
    /// The path of the `backprop` crate (`$crate` from the shim).
    pub krate: TokenStream,
    /// The spec.
    pub spec: Spec,
}

impl Parse for Invocation {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut krate = TokenStream::new();
        while !input.peek(Token![;]) {
            if input.is_empty() {
                return Err(input.error("expected `$crate ;` before the spec (use `backprop::network!`)"));
            }
            krate.extend([input.parse::<TokenTree>()?]);
        }
        input.parse::<Token![;]>()?;
        Ok(Self { krate, spec: input.parse()? })
    }
}

/// `attrs vis struct Name { entries }`.
pub struct Spec {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub brace: syn::token::Brace,
    pub entries: Punctuated<Entry, Token![,]>,
}

impl Parse for Spec {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        input.parse::<Token![struct]>()?;
        let name = input.parse()?;
        let content;
        let brace = braced!(content in input);
        let entries = content.parse_terminated(Entry::parse, Token![,])?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the network's `{ ... }`"));
        }
        Ok(Self { attrs, vis, name, brace, entries })
    }
}

/// `name: value`, one line of the spec.
pub struct Entry {
    pub attrs: Vec<Attribute>,
    pub name: Ident,
    pub value: EntryValue,
}

impl Parse for Entry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let name = input.call(syn::ext::IdentExt::parse_any)?;
        input.parse::<Token![:]>()?;
        let value = input.parse()?;
        Ok(Self { attrs, name, value })
    }
}

/// The value of an entry: a size (`input: 2`) or a layer (`hidden: Dense<2, Sigmoid>`).
pub enum EntryValue {
    Size(Size),
    Layer(LayerSyntax),
}

impl Parse for EntryValue {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Ident) && input.peek2(Token![<]) {
            Ok(Self::Layer(input.parse()?))
        } else {
            Ok(Self::Size(input.parse()?))
        }
    }
}

/// `Kind<size, Activation>`.
pub struct LayerSyntax {
    pub kind: Ident,
    pub size: Size,
    pub activation: Ident,
}

impl Parse for LayerSyntax {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let kind = input.parse()?;
        input.parse::<Token![<]>()?;
        let size = input.parse()?;
        input.parse::<Token![,]>()?;
        let activation = input.parse()?;
        input.parse::<Token![>]>()?;
        Ok(Self { kind, size, activation })
    }
}

/// A size: the tokens of a constant expression, up to the next `,` or `>` at this level
/// (`2`, `HIDDEN`, `2 * HIDDEN`, `{ N + 1 }`). Its meaning is decided in `model.rs`.
pub struct Size {
    pub tokens: TokenStream,
}

impl Parse for Size {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut tokens = TokenStream::new();
        while !input.is_empty() && !input.peek(Token![,]) && !input.peek(Token![>]) {
            tokens.extend([input.parse::<TokenTree>()?]);
        }
        if tokens.is_empty() {
            return Err(input.error("expected a size: an integer literal or a constant expression"));
        }
        Ok(Self { tokens })
    }
}
