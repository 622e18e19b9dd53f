//! The layer kinds of the DSL: one row each, and what a row means: the arguments a kind takes,
//! the core type it becomes, its output shape given its input shape, and the checks that the
//! shapes fit. Everything else the macro writes about a layer goes through `backprop-core`'s
//! `Layer` trait, so a new kind is a row here and a type in the core.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::Ident;

use crate::ctxt::Ctxt;
use crate::model::{Args, Padding, Shape, SizeModel};
use crate::tokens::const_arg;

/// What a kind computes; the arguments and the shapes follow from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `z = W x + b`, on its input flattened: `Dense<N, Activation>`.
    Dense,
    /// A convolution: `Kind<Filters, Kernel, Activation, stride = S, padding = Valid|Same>`.
    Conv,
    /// Max or average pooling: `Kind<Window, stride = S>`, the stride the window by default.
    Pool,
    /// The mean of each channel: `Kind`, no arguments.
    GlobalPool,
}

/// One layer kind: how it is written, and the core type and output shape it becomes.
pub struct Kind {
    /// The name in the spec, which is also the core type's name (`Conv2d`).
    pub name: &'static str,
    /// How a layer of this kind is written, for messages.
    pub syntax: &'static str,
    /// The sizes of an example, for messages (`8, 3`).
    pub example_sizes: &'static str,
    pub op: Op,
    /// The axes of its input after the channels: 1 (`[C, L]`) or 2 (`[C, H, W]`); 0 for a dense
    /// layer, which takes any shape, flattened.
    pub axes: usize,
    /// A phrase for doc comments: "2-d convolution".
    pub describe: &'static str,
}

/// Every kind the spec knows.
pub const KINDS: &[Kind] = &[
    Kind {
        name: "Dense",
        syntax: "Dense<N, Activation>",
        example_sizes: "8",
        op: Op::Dense,
        axes: 0,
        describe: "dense",
    },
    Kind {
        name: "Conv1d",
        syntax: "Conv1d<Filters, Kernel, Activation, stride = S, padding = Valid|Same>",
        example_sizes: "8, 3",
        op: Op::Conv,
        axes: 1,
        describe: "1-d convolution",
    },
    Kind {
        name: "Conv2d",
        syntax: "Conv2d<Filters, Kernel, Activation, stride = S, padding = Valid|Same>",
        example_sizes: "8, 3",
        op: Op::Conv,
        axes: 2,
        describe: "2-d convolution",
    },
    Kind {
        name: "MaxPool1d",
        syntax: "MaxPool1d<Window, stride = S>",
        example_sizes: "2",
        op: Op::Pool,
        axes: 1,
        describe: "1-d max pooling",
    },
    Kind {
        name: "MaxPool2d",
        syntax: "MaxPool2d<Window, stride = S>",
        example_sizes: "2",
        op: Op::Pool,
        axes: 2,
        describe: "2-d max pooling",
    },
    Kind {
        name: "AvgPool1d",
        syntax: "AvgPool1d<Window, stride = S>",
        example_sizes: "2",
        op: Op::Pool,
        axes: 1,
        describe: "1-d average pooling",
    },
    Kind {
        name: "AvgPool2d",
        syntax: "AvgPool2d<Window, stride = S>",
        example_sizes: "2",
        op: Op::Pool,
        axes: 2,
        describe: "2-d average pooling",
    },
    Kind {
        name: "GlobalAvgPool1d",
        syntax: "GlobalAvgPool1d",
        example_sizes: "",
        op: Op::GlobalPool,
        axes: 1,
        describe: "1-d global average pooling",
    },
    Kind {
        name: "GlobalAvgPool2d",
        syntax: "GlobalAvgPool2d",
        example_sizes: "",
        op: Op::GlobalPool,
        axes: 2,
        describe: "2-d global average pooling",
    },
];

/// A positional argument of a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// A size, named as messages name it ("layer size").
    Size(&'static str),
    /// The activation.
    Activation,
}

impl Param {
    /// The argument's name in messages.
    pub fn what(self) -> &'static str {
        match self {
            Self::Size(what) => what,
            Self::Activation => "activation",
        }
    }
}

/// A named option, written `name = value` after the positional arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opt {
    Stride,
    Padding,
}

impl Opt {
    pub const ALL: [Opt; 2] = [Opt::Stride, Opt::Padding];

    pub fn name(self) -> &'static str {
        match self {
            Self::Stride => "stride",
            Self::Padding => "padding",
        }
    }

    pub fn syntax(self) -> &'static str {
        match self {
            Self::Stride => "`stride = S`",
            Self::Padding => "`padding = Valid|Same`",
        }
    }
}

impl Kind {
    /// The positional arguments, in order.
    pub fn params(&self) -> &'static [Param] {
        match self.op {
            Op::Dense => &[Param::Size("layer size"), Param::Activation],
            Op::Conv => &[Param::Size("number of filters"), Param::Size("kernel size"), Param::Activation],
            Op::Pool => &[Param::Size("window size")],
            Op::GlobalPool => &[],
        }
    }

    /// The named options it takes.
    pub fn options(&self) -> &'static [Opt] {
        match self.op {
            Op::Conv => &[Opt::Stride, Opt::Padding],
            Op::Pool => &[Opt::Stride],
            Op::Dense | Op::GlobalPool => &[],
        }
    }

    /// `` `Dense<8, Relu>` ``: an example of the kind, for messages.
    pub fn example(&self) -> String {
        self.example_with("Relu")
    }

    /// An example with the activation `activation` (if the kind has one).
    pub fn example_with(&self, activation: &str) -> String {
        match self.op {
            Op::Dense | Op::Conv => format!("`{}<{}, {activation}>`", self.name, self.example_sizes),
            Op::Pool => format!("`{}<{}>`", self.name, self.example_sizes),
            Op::GlobalPool => format!("`{}`", self.name),
        }
    }

    /// An example with an option: `` `Conv2d<8, 3, Relu, stride = 2>` ``.
    pub fn example_with_option(&self) -> String {
        match self.op {
            Op::Conv => format!("`{}<{}, Relu, stride = 2>`", self.name, self.example_sizes),
            Op::Pool => format!("`{}<{}, stride = 1>`", self.name, self.example_sizes),
            Op::Dense | Op::GlobalPool => self.example(),
        }
    }

    /// Whether a layer of this kind has an activation written (pools have none: `Identity`).
    pub fn has_activation(&self) -> bool {
        self.params().contains(&Param::Activation)
    }

    /// The rank of the input it needs (`None`: any, flattened).
    pub fn input_rank(&self) -> Option<usize> {
        (self.op != Op::Dense).then_some(self.axes + 1)
    }

    /// The kind that does the same on the other number of axes (`Conv1d` for `Conv2d`).
    fn twin(&self) -> Option<&'static Kind> {
        let other =
            if self.axes == 1 { self.name.replace("1d", "2d") } else { self.name.replace("2d", "1d") };
        KINDS.iter().find(|k| k.name == other && k.name != self.name)
    }

    /// The core type of a layer, `Dense<T, IN, OUT>` or `Conv2d<T, P, C, H, W, F, K, S, HO, WO>`.
    pub fn ty(&self, private: &TokenStream, input: &Shape, args: &Args, output: &Shape) -> TokenStream {
        let name = format_ident!("{}", self.name);
        let arg = |s: &SizeModel| const_arg(&s.tokens);
        let ins: Vec<TokenStream> = input.dims.iter().map(arg).collect();
        let outs: Vec<TokenStream> = output.dims.iter().skip(1).map(arg).collect();
        match self.op {
            Op::Dense => {
                let (i, o) = (arg(&input.len()), arg(&args.sizes[0]));
                quote!(#private::Dense<T, #i, #o>)
            }
            Op::Conv => {
                let padding = format_ident!("{}", args.padding.name());
                let (f, k, s) = (arg(&args.sizes[0]), arg(&args.sizes[1]), arg(&args.stride));
                quote!(#private::#name<T, #private::#padding, #(#ins,)* #f, #k, #s, #(#outs),*>)
            }
            Op::Pool => {
                let (k, s) = (arg(&args.sizes[0]), arg(&args.stride));
                quote!(#private::#name<T, #(#ins,)* #k, #s, #(#outs),*>)
            }
            Op::GlobalPool => quote!(#private::#name<T, #(#ins),*>),
        }
    }

    /// Its parameters, when every size they depend on is a literal.
    pub fn literal_params(&self, input: &Shape, args: &Args) -> Option<u128> {
        let lit = |s: &SizeModel| s.literal.map(u128::from);
        match self.op {
            Op::Dense => {
                let (i, o) = (lit(&input.len())?, lit(&args.sizes[0])?);
                Some(i * o + o)
            }
            Op::Conv => {
                let (c, f, k) = (lit(&input.dims[0])?, lit(&args.sizes[0])?, lit(&args.sizes[1])?);
                Some(f * c * k.pow(self.axes as u32) + f)
            }
            Op::Pool | Op::GlobalPool => Some(0),
        }
    }
}

/// "`stride = S`, `padding = Valid|Same`": the options of `kind`.
pub fn options_list(kind: &Kind) -> String {
    kind.options().iter().map(|o| o.syntax()).collect::<Vec<_>>().join(", ")
}

/// What to say of the options of `kind`: "its options are ..." or "it takes none".
pub fn options_phrase(kind: &Kind) -> String {
    match kind.options() {
        [] => format!("`{}` takes no options", kind.name),
        [one] => format!("the only option of `{}` is {}", kind.name, one.syntax()),
        _ => format!(
            "the options of `{}` are {}",
            kind.name,
            or_list(&kind.options().iter().map(|o| o.syntax().to_string()).collect::<Vec<_>>())
                .replace(" or ", " and ")
        ),
    }
}

/// The kind written as `ident`, if there is one.
pub fn find(ident: &Ident) -> Option<&'static Kind> {
    KINDS.iter().find(|k| ident == k.name)
}

/// "unknown layer kind `Dropout`; the kinds are: `Dense<N, Activation>`, ...", with a spelling
/// hint when one is close.
pub fn unknown(ident: &Ident) -> String {
    let written = ident.to_string();
    // One group per `Op`, in the order of the table: "`Conv1d` and `Conv2d` (`<...>`)".
    let mut groups: Vec<(Op, Vec<&Kind>)> = Vec::new();
    for kind in KINDS {
        match groups.iter_mut().find(|(op, _)| *op == kind.op) {
            Some((_, kinds)) => kinds.push(kind),
            None => groups.push((kind.op, vec![kind])),
        }
    }
    let list = groups
        .iter()
        .map(|(op, kinds)| {
            let names: Vec<String> = kinds.iter().map(|k| format!("`{}`", k.name)).collect();
            let names = or_list(&names).replace(" or ", " and ");
            match (op, kinds.first().and_then(|k| k.syntax.find('<'))) {
                (Op::Dense, _) => format!("`{}`", kinds[0].syntax),
                (_, Some(at)) => format!("{names} (`{}`)", &kinds[0].syntax[at..]),
                (_, None) => format!("{names} (no arguments)"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    match crate::model::nearest(&written, KINDS.iter().map(|k| k.name)) {
        Some(best) => format!("unknown layer kind `{written}`; did you mean `{best}`? The kinds are {list}"),
        None => format!("unknown layer kind `{written}`; the kinds are {list}"),
    }
}

/// A layer whose output shape is being computed, and what messages say of it.
pub struct LayerCx<'a> {
    pub network: &'a Ident,
    pub layer: &'a Ident,
    pub kind: &'static Kind,
    pub kind_span: Span,
    pub private: &'a TokenStream,
    pub input: &'a Shape,
    /// Where the input comes from: "the network's input" or "the output of `pool1`".
    pub source: String,
    /// What it comes from, when that explains a wrong rank: "`hidden` (Dense)".
    pub source_kind: Option<&'static Kind>,
    pub args: &'a Args,
}

/// The output shape of a layer, and the compile-time checks its sizes need when some are constant
/// expressions; `None` after recording in `cx` why the input does not fit.
pub fn output(cx: &mut Ctxt, l: &LayerCx<'_>) -> Option<(Shape, Vec<TokenStream>)> {
    let kind = l.kind;
    if let Some(rank) = kind.input_rank()
        && rank != l.input.rank()
    {
        cx.error_at(l.kind_span, wrong_rank(l, rank));
        return None;
    }
    let args = l.args;
    match kind.op {
        Op::Dense => Some((Shape { dims: vec![args.sizes[0].clone()] }, Vec::new())),
        Op::GlobalPool => Some((Shape { dims: vec![l.input.dims[0].clone()] }, Vec::new())),
        Op::Conv => window(cx, l, Some(&args.sizes[0]), &args.sizes[1]),
        Op::Pool => window(cx, l, None, &args.sizes[0]),
    }
}

/// Why the input of `l` has the wrong rank, and the fix.
fn wrong_rank(l: &LayerCx<'_>, rank: usize) -> String {
    let kind = l.kind;
    let needs = rank_phrase(rank);
    let has = l.input.describe();
    let fix = match (l.input.rank(), kind.twin()) {
        (1, _) if l.source_kind.is_none() => format!(
            "declare the input with its shape, `input: [{}]`, for example `input: [1, 28, 28]` for one 28 × 28 image",
            if rank == 3 { "C, H, W" } else { "C, L" }
        ),
        (1, _) if l.source_kind.is_some_and(|k| k.op == Op::GlobalPool) => {
            format!(
                "the global pool before it left one value per channel: remove `{}`, or move it up",
                l.layer
            )
        }
        (1, _) => {
            format!("convolutions and pools go before the dense layers: move `{}` up, or remove it", l.layer)
        }
        (_, Some(twin)) => format!("use `{}` instead", twin.name),
        _ => String::new(),
    };
    let from = match l.source_kind {
        Some(source) => format!("{} ({})", l.source, source.name),
        None => l.source.clone(),
    };
    format!("`{}` needs {needs} input, but its input is {has}, {from}; {fix}", kind.name)
}

/// "a channels × height × width (`[C, H, W]`)".
fn rank_phrase(rank: usize) -> &'static str {
    match rank {
        2 => "a channels × length (`[C, L]`)",
        _ => "a channels × height × width (`[C, H, W]`)",
    }
}

/// The names of the axes after the channels.
fn axis_names(axes: usize) -> &'static [&'static str] {
    if axes == 1 { &["length"] } else { &["height", "width"] }
}

/// What is dropped along an axis: "row", "column", "position".
fn axis_items(axis: &str) -> &'static str {
    match axis {
        "height" => "row",
        "width" => "column",
        _ => "position",
    }
}

/// A convolution (`filters` given) or a pool: the window `k` over every axis after the channels.
fn window(
    cx: &mut Ctxt,
    l: &LayerCx<'_>,
    filters: Option<&SizeModel>,
    k: &SizeModel,
) -> Option<(Shape, Vec<TokenStream>)> {
    let args = l.args;
    let same = args.padding == Padding::Same;
    let spatial = &l.input.dims[1..];
    let names = axis_names(spatial.len());
    let (noun, fix_padding) =
        if filters.is_some() { ("kernel", ", or `padding = Same`") } else { ("window", "") };
    let square = |v: &str| if spatial.len() == 2 { format!("{v} × {v}") } else { v.to_string() };
    let mut checks = Vec::new();
    let mut ok = true;
    if !same {
        let lits: Option<Vec<u64>> = spatial.iter().map(|d| d.literal).collect();
        match (lits, k.literal, args.stride.literal) {
            (Some(ns), Some(kv), Some(sv)) => {
                let smallest = ns.iter().copied().min().unwrap_or(0);
                if kv > smallest {
                    cx.error_spanned_by(
                        &k.tokens,
                        format!(
                            "the {noun} of `{}`, {}, is larger than its input, {} ({}); use a {noun} of at most {smallest}{fix_padding}",
                            l.layer,
                            square(&kv.to_string()),
                            l.input.describe(),
                            l.source
                        ),
                    );
                    ok = false;
                } else if let Some((axis, n)) =
                    names.iter().zip(&ns).find(|(_, n)| sv > 0 && !(**n - kv).is_multiple_of(sv))
                {
                    let dropped = (n - kv) % sv;
                    let items = axis_items(axis);
                    let lost = match dropped {
                        1 => format!(
                            "the last {items} of the input would never be seen (PyTorch drops it silently)"
                        ),
                        d => format!(
                            "the last {d} {items}s of the input would never be seen (PyTorch drops them silently)"
                        ),
                    };
                    let default_stride = !args.stride_written && l.kind.op == Op::Pool;
                    // A window of 1 pools nothing: not a fix.
                    let smallest_fix = if filters.is_some() { 1 } else { 2 };
                    let suggestions =
                        fitting_windows(&ns, kv, if default_stride { None } else { Some(sv) }, smallest_fix);
                    let mut fixes = Vec::new();
                    if filters.is_some() {
                        fixes.push("`padding = Same`".to_string());
                    }
                    fixes.push(if filters.is_some() { "stride 1" } else { "`stride = 1`" }.to_string());
                    if let Some(better) = suggestions {
                        fixes.push(format!("{noun} {better}"));
                    }
                    let what = if default_stride {
                        format!(
                            "the {noun} {} of `{}`, at its default stride {sv} (the window),",
                            square(&kv.to_string()),
                            l.layer
                        )
                    } else {
                        format!("the stride {sv} of `{}`", l.layer)
                    };
                    let message = format!(
                        "{what} does not fit its input, {} ({}): {axis} {n} - {noun} {kv} = {} is not a multiple of {sv}, so {lost}; use {}",
                        l.input.describe(),
                        l.source,
                        n - kv,
                        // "a, or b": the last fix may hold an "or" of its own.
                        match fixes.split_last() {
                            Some((last, rest)) if !rest.is_empty() =>
                                format!("{}, or {last}", rest.join(", ")),
                            _ => fixes.join(""),
                        }
                    );
                    if args.stride_written {
                        cx.error_spanned_by(&args.stride.tokens, message);
                    } else {
                        cx.error_spanned_by(&k.tokens, message);
                    }
                    ok = false;
                }
            }
            _ => {
                for (axis, n) in names.iter().zip(spatial) {
                    checks.push(fit_check(l, noun, axis, n, k));
                }
            }
        }
    }
    if !ok {
        return None;
    }
    let channels = filters.unwrap_or(&l.input.dims[0]).clone();
    let dims = std::iter::once(channels)
        .chain(spatial.iter().map(|n| output_len(l.private, n, k, &args.stride, same)))
        .collect();
    Some((Shape { dims }, checks))
}

/// "a, b or c".
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The windows nearest `k` below and above, from `from` up, that fit every axis of `ns` at stride
/// `stride` (the window itself when `None`): "4 or 6".
fn fitting_windows(ns: &[u64], k: u64, stride: Option<u64>, from: u64) -> Option<String> {
    let smallest = ns.iter().copied().min()?;
    let fits = |w: u64| ns.iter().all(|n| (n - w).is_multiple_of(stride.unwrap_or(w)));
    let below = (from..k).rev().find(|&w| fits(w));
    let above = (k + 1..=smallest).find(|&w| fits(w));
    match (below, above) {
        (Some(b), Some(a)) => Some(format!("{b} or {a}")),
        (Some(w), None) | (None, Some(w)) => Some(w.to_string()),
        (None, None) => None,
    }
}

/// The compile-time check of one axis of a valid window whose sizes are constant expressions,
/// spanned on the window's size: `k <= n && (n - k) % s == 0`, naming the layer.
fn fit_check(l: &LayerCx<'_>, noun: &str, axis: &str, n: &SizeModel, k: &SizeModel) -> TokenStream {
    let s = &l.args.stride;
    let span = k.tokens.clone().into_iter().next().map_or_else(Span::call_site, |t| t.span());
    // Function arguments: without the braces of a block (`unused_braces`), and without added
    // parentheses (`unused_parens`).
    // The stride is a method argument: no braces, no parentheses added.
    let (nt, kt, st) = (operand(&n.tokens), operand(&k.tokens), crate::tokens::array_len(&s.tokens));
    let fix = if noun == "kernel" {
        "`padding = Same`, stride 1, or another kernel"
    } else {
        "stride 1, or another window"
    };
    // A format string: the braces of a block size (`{ N - 1 }`) are escaped.
    let message = format!(
        "layer `{}` of network `{}`: its {noun} `{}` does not fit the {axis} of its input, `{}`, at stride `{}`: with no padding the {noun} must be at most the {axis}, and the stride must divide {axis} - {noun} (the last {}s would never be seen); use {fix}",
        l.layer,
        l.network,
        k.shown,
        n.shown,
        s.shown,
        axis_items(axis)
    )
    .replace('{', "{{")
    .replace('}', "}}");
    quote_spanned! {span=>
        const _: () = ::core::assert!(#kt <= #nt && (#nt - #kt).is_multiple_of(#st), #message);
    }
}

/// A size as an operand of `*`, `-` or `%`: without the braces of a block that holds one
/// expression (which `unused_braces` may flag), and in parentheses unless it is one token, a path
/// or a call.
pub fn operand(tokens: &TokenStream) -> TokenStream {
    let tokens = crate::tokens::array_len(tokens);
    let mut iter = tokens.clone().into_iter();
    let single = iter.next().is_some() && iter.next().is_none();
    let call =
        matches!(syn::parse2::<syn::Expr>(tokens.clone()), Ok(syn::Expr::Call(_) | syn::Expr::Path(_)));
    if single || call { tokens } else { quote!((#tokens)) }
}

/// The output positions of a window `k` at stride `s` over `n`: a literal when the sizes it
/// depends on are literals, else a call of the core's `output_len`.
fn output_len(private: &TokenStream, n: &SizeModel, k: &SizeModel, s: &SizeModel, same: bool) -> SizeModel {
    let literal = match (n.literal, k.literal, s.literal) {
        (Some(n), _, Some(s)) if same && s > 0 => Some(n.div_ceil(s)),
        (Some(n), Some(k), Some(s)) if !same && s > 0 && k <= n => Some((n - k) / s + 1),
        _ => None,
    };
    if let Some(v) = literal {
        return SizeModel {
            tokens: Literal::u64_unsuffixed(v).into_token_stream(),
            literal: Some(v),
            shown: v.to_string(),
        };
    }
    let padding = if same { quote!(Same) } else { quote!(Valid) };
    // Function arguments: without the braces of a block (`unused_braces`), and without added
    // parentheses (`unused_parens`).
    let arg = crate::tokens::array_len;
    let (nt, kt, st) = (arg(&n.tokens), arg(&k.tokens), arg(&s.tokens));
    let shown = match (same, s.literal) {
        (true, Some(1)) => n.shown.clone(),
        (true, _) => format!("ceil({} / {})", n.shown, s.shown),
        (false, Some(1)) => format!("{} - {} + 1", paren(&n.shown), paren(&k.shown)),
        (false, _) => format!("({} - {}) / {} + 1", paren(&n.shown), paren(&k.shown), paren(&s.shown)),
    };
    SizeModel {
        tokens: quote!(#private::output_len::<#private::#padding>(#nt, #kt, #st)),
        literal: None,
        shown,
    }
}

/// A formula in parentheses unless it is one word.
fn paren(text: &str) -> String {
    if text.chars().all(|c| c.is_alphanumeric() || c == '_') { text.to_string() } else { format!("({text})") }
}
