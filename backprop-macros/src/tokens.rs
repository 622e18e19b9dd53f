//! Small token-building helpers: the expansion's paths and operands (`&below.a`, an activation's
//! or a loss's path, spans moved to the user's tokens), and the forms a size takes as a const
//! generic argument or an array length, which the layer kinds and shapes use too.

use proc_macro2::{Delimiter, Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};

use crate::model::{ActivationModel, Loss};

/// `&below.a`.
pub(crate) fn below_a(below: &Ident) -> TokenStream {
    quote!(&#below.a)
}

/// `&mut below.delta`.
pub(crate) fn below_delta(below: &Ident) -> TokenStream {
    quote!(&mut #below.delta)
}

/// `&mut tile`.
pub(crate) fn mut_ref(tile: &Ident) -> TokenStream {
    quote!(&mut #tile)
}

/// A built-in activation through the runtime's path; a user's as written.
pub(crate) fn activation_path(private: &TokenStream, activation: &ActivationModel) -> TokenStream {
    match activation {
        ActivationModel::Builtin(a) => {
            let ident = format_ident!("{}", a.name());
            quote!(#private::#ident)
        }
        ActivationModel::Custom(path) => path.to_token_stream(),
    }
}

/// `crate::Swish: ::backprop::__private::Activation`, every token located at the user's path (the
/// runtime's path keeps its own hygiene, so `$crate` still resolves).
pub(crate) fn activation_bound(private: &TokenStream, path: &TokenStream) -> TokenStream {
    let span = path.clone().into_iter().last().map_or_else(Span::call_site, |t| t.span());
    let bound = quote_spanned!(span=> #private::Activation);
    let bound = located_at(bound, span);
    quote_spanned!(span=> #path: #bound)
}

/// `tokens` with every span moved to `location`, each keeping its hygiene.
pub(crate) fn located_at(tokens: TokenStream, location: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Group(g) => {
                let mut group = proc_macro2::Group::new(g.delimiter(), located_at(g.stream(), location));
                group.set_span(g.span().located_at(location));
                TokenTree::Group(group)
            }
            mut other => {
                other.set_span(other.span().located_at(location));
                other
            }
        })
        .collect()
}

pub(crate) fn loss_path(private: &TokenStream, loss: Loss) -> TokenStream {
    let ident = format_ident!("{}", loss.name());
    quote!(#private::#ident)
}

/// A size as a const generic argument: a literal, a single name or a block as written, any
/// other expression inside braces (`Dense<T, { 2 * N }, 4>`), as Rust requires. An expression
/// that starts with a block (`{ 4 } + 4`) is also parenthesised, or the braces would make its
/// block a statement of their own.
pub(crate) fn const_arg(tokens: &TokenStream) -> TokenStream {
    let mut iter = tokens.clone().into_iter();
    match (iter.next(), iter.next()) {
        (Some(TokenTree::Literal(_) | TokenTree::Ident(_)), None) => tokens.clone(),
        (Some(TokenTree::Group(g)), None) if g.delimiter() == Delimiter::Brace => tokens.clone(),
        (Some(TokenTree::Group(g)), Some(_)) if g.delimiter() == Delimiter::Brace => quote!({ (#tokens) }),
        _ => quote!({ #tokens }),
    }
}

/// A size as an array length: as written, but for the braces of a block size that holds one
/// expression (`{ 2 * N }`), which an array length does not need (and `unused_braces` would flag).
pub(crate) fn array_len(tokens: &TokenStream) -> TokenStream {
    let mut iter = tokens.clone().into_iter();
    match (iter.next(), iter.next()) {
        (Some(TokenTree::Group(g)), None)
            if g.delimiter() == Delimiter::Brace && syn::parse2::<syn::Expr>(g.stream()).is_ok() =>
        {
            g.stream()
        }
        _ => tokens.clone(),
    }
}

/// Tokens as the user wrote them, for doc comments (`2`, `HIDDEN`, `2 * HIDDEN`).
pub(crate) fn text(tokens: &TokenStream) -> String {
    tokens.to_string()
}
