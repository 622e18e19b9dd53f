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
//!
//! A syntax error stops parsing (syn reports the first one); every message says what was
//! expected, at the token where it was not found.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Ident, Token, Visibility, braced};

/// The whole invocation as the proc macro receives it from the shim.
pub struct Invocation {
    /// The path of the `backprop` crate (`$crate` from the shim).
    pub krate: TokenStream,
    /// The spec.
    pub spec: Spec,
}

impl Parse for Invocation {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let shim = "expected `$crate ;` before the spec: use `backprop::network!`, not this hidden macro";
        let krate = input.call(syn::Path::parse_mod_style).map_err(|e| syn::Error::new(e.span(), shim))?;
        if !input.peek(Token![;]) {
            return Err(input.error(shim));
        }
        input.parse::<Token![;]>()?;
        Ok(Self { krate: krate.into_token_stream(), spec: input.parse()? })
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
        let vis: Visibility = input.parse()?;
        if !input.peek(Token![struct]) {
            let message = "expected `struct`: a network is declared as `pub struct Name { input: N, ... }`";
            // At the end of the input, point at the last token there is, if any.
            let last = match &vis {
                Visibility::Inherited => attrs.last().map(|a: &Attribute| a.pound_token.span),
                vis => Some(syn::spanned::Spanned::span(vis)),
            };
            return Err(match last {
                Some(span) if input.is_empty() => syn::Error::new(span, message),
                _ => input.error(message),
            });
        }
        let struct_token = input.parse::<Token![struct]>()?;
        if !input.peek(Ident) {
            let message = "expected the network's name after `struct`";
            // At the end of the input syn would point at the whole invocation: point at `struct`.
            return Err(if input.is_empty() {
                syn::Error::new(struct_token.span, message)
            } else {
                input.error(message)
            });
        }
        let name: Ident = input.parse()?;
        if input.peek(Token![<]) {
            return Err(input.error(
                "remove the generic parameters: the network's scalar type parameter `T = f32` is generated",
            ));
        }
        if input.peek(Token![where]) {
            return Err(input.error(
                "a `where` clause is not supported: a network has no generic parameters of yours (its scalar type `T = f32` is generated); remove it",
            ));
        }
        if !input.peek(syn::token::Brace) {
            let message = format!(
                "expected `{{` and the network's entries after `{name}`, as in `{{ input: 2, output: Dense<1, Sigmoid> }}`"
            );
            return Err(if input.is_empty() {
                syn::Error::new(name.span(), message)
            } else {
                input.error(message)
            });
        }
        let content;
        let brace = braced!(content in input);
        let mut entries = Punctuated::new();
        while !content.is_empty() {
            entries.push_value(content.parse::<Entry>()?);
            if content.is_empty() {
                break;
            }
            if !content.peek(Token![,]) {
                return Err(content.error("expected `,` after this entry: entries are separated by commas"));
            }
            entries.push_punct(content.parse()?);
        }
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the network's `{ ... }`; remove them"));
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
        // Keywords are accepted here so that the model can say why they cannot name a layer.
        let name = input.call(Ident::parse_any).map_err(|e| {
            syn::Error::new(e.span(), "expected an entry: `input: N` or `name: Dense<N, Activation>`")
        })?;
        if !input.peek(Token![:]) || input.peek(Token![::]) {
            return Err(input.error(format!("expected `:` after `{name}`, as in `{name}: Dense<8, Relu>`")));
        }
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
    /// The size and activation; `None` for a kind that is not one of `kinds::KINDS`, whose
    /// arguments are skipped unread (they may be any syntax, as in `Dropout<0.5>`), so that the
    /// model reports the unknown kind alone, with the other errors of the spec.
    pub args: Option<LayerArgs>,
}

/// `<N, Activation>` of a layer of a known kind.
pub struct LayerArgs {
    pub size: Size,
    /// A built-in activation's name (`Relu`) or the path to a user's type (`crate::Swish`).
    pub activation: syn::Path,
}

impl Parse for LayerSyntax {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let kind: Ident = input.parse()?;
        input.parse::<Token![<]>()?;
        if crate::kinds::find(&kind).is_none() {
            skip_to_closing_angle(input)?;
            return Ok(Self { kind, args: None });
        }
        let example = format!("`{kind}<8, Relu>`");
        let size = Size::parse_until_comma_or_gt(input)?;
        if input.peek(Token![>]) {
            return Err(match &size.expr {
                Expr::Path(path) if path.path.get_ident().is_some() => syn::Error::new_spanned(
                    &size.expr,
                    format!(
                        "missing layer size before `{}`: a layer is written `{kind}<N, Activation>`, as in {example}",
                        size.tokens()
                    ),
                ),
                _ => input.error(format!(
                    "missing activation: a layer is written `{kind}<N, Activation>`, as in {example}"
                )),
            });
        }
        if !input.peek(Token![,]) {
            return Err(input
                .error(format!("expected `,` between the layer size and the activation, as in {example}")));
        }
        input.parse::<Token![,]>()?;
        if !(input.peek(Ident::peek_any) || input.peek(Token![::])) {
            return Err(input.error(format!(
                "expected an activation: a built-in name, as in {example}, or the path to your own type, as in `{kind}<8, crate::Swish>`"
            )));
        }
        let activation = input.parse::<syn::Path>().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("{e}; an activation is a name such as `Relu` or a path such as `crate::Swish`"),
            )
        })?;
        if !input.peek(Token![>]) {
            return Err(input.error(format!("expected `>` after the activation, as in {example}")));
        }
        input.parse::<Token![>]>()?;
        Ok(Self { kind, args: Some(LayerArgs { size, activation }) })
    }
}

/// Skips the tokens after a `<` up to and including its matching `>` (groups are single tokens;
/// `<` and `>` nest).
fn skip_to_closing_angle(input: ParseStream) -> syn::Result<()> {
    let mut depth = 1usize;
    while !input.is_empty() {
        let token: TokenTree = input.parse()?;
        if let TokenTree::Punct(p) = &token {
            match p.as_char() {
                '<' => depth += 1,
                '>' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }
    Err(input.error("expected `>` to close the layer's `<`"))
}

/// A size: a constant expression (`2`, `HIDDEN`, `2 * HIDDEN`, `{ N + 1 }`), parsed as an
/// expression so that a missing comma after it is caught here. Its meaning is decided in
/// `model.rs`; its type is checked by the compiler.
pub struct Size {
    pub expr: Expr,
}

const SIZE_EXPECTED: &str =
    "expected a size: an integer literal such as `8`, or a constant expression such as `HIDDEN`";

impl Size {
    /// The tokens as written.
    pub fn tokens(&self) -> TokenStream {
        self.expr.to_token_stream()
    }

    /// A size inside `Dense<...>`: the tokens up to the next `,` or `>` (which an expression
    /// parser would take for a comparison), parsed as one expression.
    fn parse_until_comma_or_gt(input: ParseStream) -> syn::Result<Self> {
        let mut tokens = TokenStream::new();
        let mut last = None;
        while !input.is_empty() && !input.peek(Token![,]) && !input.peek(Token![>]) {
            let token: TokenTree = input.parse()?;
            last = Some(token.span());
            tokens.extend([token]);
        }
        let Some(last) = last else { return Err(input.error(SIZE_EXPECTED)) };
        let parser = |stream: ParseStream| {
            let expr: Expr = stream.parse()?;
            if !stream.is_empty() {
                return Err(stream.error("expected `,` after the layer size"));
            }
            Ok(expr)
        };
        syn::parse::Parser::parse2(parser, tokens).map(|expr| Self { expr }).map_err(|e| {
            // At the end of the tokens syn has no token to point at: use the last one.
            let span = if e.to_string().starts_with("unexpected end of input") { last } else { e.span() };
            syn::Error::new(span, format!("{e}; {SIZE_EXPECTED}"))
        })
    }
}

impl Parse for Size {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.is_empty() || input.peek(Token![,]) {
            return Err(input.error(SIZE_EXPECTED));
        }
        let expr =
            input.parse::<Expr>().map_err(|e| syn::Error::new(e.span(), format!("{e}; {SIZE_EXPECTED}")))?;
        Ok(Self { expr })
    }
}

/// For the stand-in emitted after a syntax error: the visibility and name of the network, found
/// leniently (`vis struct Name`) in tokens that did not parse.
pub fn find_name(input: TokenStream) -> Option<(TokenStream, Ident)> {
    let tokens: Vec<TokenTree> = input.into_iter().collect();
    let position = tokens.iter().position(|t| matches!(t, TokenTree::Ident(i) if i == "struct"))?;
    let TokenTree::Ident(name) = tokens.get(position + 1)? else { return None };
    let mut vis = TokenStream::new();
    let before = &tokens[..position];
    match before {
        [.., TokenTree::Ident(p), TokenTree::Group(g)]
            if p == "pub" && g.delimiter() == proc_macro2::Delimiter::Parenthesis =>
        {
            vis.extend([TokenTree::Ident(p.clone()), TokenTree::Group(g.clone())]);
        }
        [.., TokenTree::Ident(p)] if p == "pub" => vis.extend([TokenTree::Ident(p.clone())]),
        _ => {}
    }
    Some((vis, name.clone()))
}
