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

/// The value of an entry: a size (`input: 2`), a shape (`input: [1, 28, 28]`) or a layer
/// (`hidden: Dense<2, Sigmoid>`, `gap: GlobalAvgPool2d`).
pub enum EntryValue {
    Size(Size),
    Shape(ShapeSyntax),
    Layer(LayerSyntax),
}

impl Parse for EntryValue {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(syn::token::Bracket) {
            return Ok(Self::Shape(input.parse()?));
        }
        // A kind written without arguments (`GlobalAvgPool2d`) is a layer too, when it is followed
        // by the end of the entry; any other name is a size (a constant).
        let bare_kind = input.peek(Ident)
            && input.fork().parse::<Ident>().is_ok_and(|ident| crate::kinds::find(&ident).is_some())
            && (input.peek2(Token![,]) || is_last_token(input));
        if (input.peek(Ident) && input.peek2(Token![<])) || bare_kind {
            Ok(Self::Layer(input.parse()?))
        } else {
            Ok(Self::Size(input.parse()?))
        }
    }
}

/// Whether exactly one token is left.
fn is_last_token(input: ParseStream) -> bool {
    let fork = input.fork();
    fork.parse::<TokenTree>().is_ok() && fork.is_empty()
}

/// `[C, L]` or `[C, H, W]`: the shape of the input, its sizes as written (any number of them: the
/// model says what is wrong with the count).
pub struct ShapeSyntax {
    pub bracket: syn::token::Bracket,
    pub dims: Vec<Size>,
    /// The whole `[...]`, for messages.
    pub tokens: TokenStream,
}

impl Parse for ShapeSyntax {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let tokens = input.fork().parse::<TokenTree>()?.into_token_stream();
        let content;
        let bracket = syn::bracketed!(content in input);
        let dims = Punctuated::<Expr, Token![,]>::parse_terminated(&content)
            .map_err(|e| syn::Error::new(e.span(), format!("{e}; {SIZE_EXPECTED}")))?;
        Ok(Self { bracket, dims: dims.into_iter().map(|expr| Size { expr }).collect(), tokens })
    }
}

/// `Kind<arguments, options>`, or `Kind` alone.
pub struct LayerSyntax {
    pub kind: Ident,
    /// The arguments; `None` for a kind that is not one of `kinds::KINDS`, whose arguments are
    /// skipped unread (they may be any syntax, as in `Dropout<0.5>`), so that the model reports the
    /// unknown kind alone, with the other errors of the spec.
    pub args: Option<LayerArgs>,
}

/// The arguments of a layer of a known kind, in the order of the kind's parameters
/// (`kinds::Param`): its sizes, its activation if it has one, then its options.
pub struct LayerArgs {
    /// Whether `<...>` was written (`GlobalAvgPool2d` has none; `Dense` alone is missing them).
    pub angle: bool,
    /// The sizes, in the kind's order (`Conv2d`: filters, then kernel).
    pub sizes: Vec<Size>,
    /// A built-in activation's name (`Relu`) or the path to a user's type (`crate::Swish`).
    pub activation: Option<syn::Path>,
    /// `name = value` after the positional arguments, in the order written.
    pub options: Vec<OptionSyntax>,
}

/// `stride = 2`, `padding = Same`: the value as written (its meaning depends on the option,
/// decided in `model.rs`).
pub struct OptionSyntax {
    pub name: Ident,
    pub value: TokenStream,
}

impl Parse for LayerSyntax {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let kind_ident: Ident = input.parse()?;
        let Some(kind) = crate::kinds::find(&kind_ident) else {
            input.parse::<Token![<]>()?;
            skip_to_closing_angle(input)?;
            return Ok(Self { kind: kind_ident, args: None });
        };
        let mut args = LayerArgs { angle: false, sizes: Vec::new(), activation: None, options: Vec::new() };
        if !input.peek(Token![<]) {
            return Ok(Self { kind: kind_ident, args: Some(args) });
        }
        if kind.params().is_empty() && kind.options().is_empty() {
            return Err(input.error(format!(
                "`{kind_ident}` takes no arguments: write it without `<...>`, as in `gap: {kind_ident}`"
            )));
        }
        input.parse::<Token![<]>()?;
        args.angle = true;
        let example = kind.example();
        let params = kind.params();
        for (i, param) in params.iter().enumerate() {
            let next = params.get(i + 1);
            match param {
                crate::kinds::Param::Size(what) => {
                    if is_option(input) {
                        return Err(input.error(format!(
                            "missing {what}: the options come after it; a layer is written `{}`, as in {example}",
                            kind.syntax
                        )));
                    }
                    let size = Size::parse_until_comma_or_gt(input, what)?;
                    if let Some(next) = next {
                        if input.peek(Token![>]) || input.is_empty() {
                            return Err(match &size.expr {
                                Expr::Path(path)
                                    if path.path.get_ident().is_some()
                                        && *next == crate::kinds::Param::Activation =>
                                {
                                    syn::Error::new_spanned(
                                        &size.expr,
                                        format!(
                                            "missing {what} before `{}`: a layer is written `{}`, as in {example}",
                                            size.tokens(),
                                            kind.syntax
                                        ),
                                    )
                                }
                                _ => input.error(format!(
                                    "missing {}: a layer is written `{}`, as in {example}",
                                    next.what(),
                                    kind.syntax
                                )),
                            });
                        }
                        if !input.peek(Token![,]) {
                            return Err(input.error(format!(
                                "expected `,` between the {what} and the {}, as in {example}",
                                next.what()
                            )));
                        }
                        input.parse::<Token![,]>()?;
                    }
                    args.sizes.push(size);
                }
                crate::kinds::Param::Activation => {
                    if !(input.peek(Ident::peek_any) || input.peek(Token![::])) || is_option(input) {
                        return Err(input.error(format!(
                            "expected an activation: a built-in name, as in {example}, or the path to your own type, as in {}",
                            kind.example_with("crate::Swish")
                        )));
                    }
                    let activation = input.parse::<syn::Path>().map_err(|e| {
                        syn::Error::new(
                            e.span(),
                            format!(
                                "{e}; an activation is a name such as `Relu` or a path such as `crate::Swish`"
                            ),
                        )
                    })?;
                    args.activation = Some(activation);
                }
            }
        }
        let mut last = params.last().map_or_else(|| "`<`".to_string(), |p| format!("the {}", p.what()));
        loop {
            if input.peek(Token![>]) {
                input.parse::<Token![>]>()?;
                break;
            }
            if input.peek(Token![,]) && input.peek2(Token![>]) {
                input.parse::<Token![,]>()?;
                input.parse::<Token![>]>()?;
                break;
            }
            if input.peek(Token![,]) && {
                let fork = input.fork();
                fork.parse::<Token![,]>().is_ok() && is_option(&fork)
            } {
                input.parse::<Token![,]>()?;
                let name = input.call(Ident::parse_any)?;
                input.parse::<Token![=]>()?;
                let value = tokens_until_comma_or_gt(input);
                if value.is_empty() {
                    return Err(input.error(format!(
                        "expected a value after `{name} =`; {}",
                        crate::kinds::options_phrase(kind)
                    )));
                }
                last = format!("`{name} = {value}`");
                args.options.push(OptionSyntax { name, value });
                continue;
            }
            let no_activation = !params.contains(&crate::kinds::Param::Activation)
                && input.peek(Token![,])
                && input.peek2(Ident);
            return Err(input.error(if kind.options().is_empty() {
                format!("expected `>` after {last}, as in {example}")
            } else {
                format!(
                    "expected `>` after {last}, or `,` and an option ({}), as in {}{}",
                    crate::kinds::options_list(kind),
                    kind.example_with_option(),
                    if no_activation { format!("; `{kind_ident}` has no activation") } else { String::new() }
                )
            }));
        }
        Ok(Self { kind: kind_ident, args: Some(args) })
    }
}

/// Whether `name =` (an option) comes next.
fn is_option(input: ParseStream) -> bool {
    input.peek(Ident::peek_any) && input.peek2(Token![=])
}

/// The tokens up to the next `,` or `>` at this level (groups are single tokens).
fn tokens_until_comma_or_gt(input: ParseStream) -> TokenStream {
    let mut tokens = TokenStream::new();
    while !input.is_empty() && !input.peek(Token![,]) && !input.peek(Token![>]) {
        match input.parse::<TokenTree>() {
            Ok(token) => tokens.extend([token]),
            Err(_) => break,
        }
    }
    tokens
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
    /// parser would take for a comparison), parsed as one expression; `what` names it in messages
    /// (`layer size`).
    fn parse_until_comma_or_gt(input: ParseStream, what: &str) -> syn::Result<Self> {
        let tokens = tokens_until_comma_or_gt(input);
        let Some(last) = tokens.clone().into_iter().last().map(|t| t.span()) else {
            return Err(input.error(SIZE_EXPECTED));
        };
        Self::from_tokens(tokens, last, what)
    }

    /// `tokens` (not empty; `last` is the span of the last one) parsed as one expression.
    pub fn from_tokens(tokens: TokenStream, last: proc_macro2::Span, what: &str) -> syn::Result<Self> {
        let parser = |stream: ParseStream| {
            let expr: Expr = stream.parse()?;
            if !stream.is_empty() {
                return Err(stream.error(format!("expected `,` after the {what}")));
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
