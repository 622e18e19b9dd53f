//! Checking one layer of the spec: its name, kind, arguments and options, and the shape it
//! takes and gives (through its kind's row in `kinds.rs`).

use proc_macro2::{Span, TokenStream};
use syn::{Attribute, Ident};

use crate::ctxt::Ctxt;
use crate::kinds::{self, Kind, Op, Opt};
use crate::model::{
    Activation, ActivationModel, Args, KEYWORDS, Layer, Padding, RESERVED_FIELDS, Shape, SizeModel,
    check_size, lookup, nearest, unknown,
};
use crate::parse::{LayerArgs, LayerSyntax, OptionSyntax, ShapeSyntax, Size};

/// What flows into a layer: the shape, and where it comes from.
pub(crate) struct Flow {
    pub(crate) shape: Shape,
    /// "the network's input", "the output of `pool1`".
    pub(crate) source: String,
    /// The kind of the layer it comes from.
    pub(crate) kind: Option<&'static Kind>,
}

/// Where a layer sits: the network, its input (`None` after an error before it), and whether it
/// is the last layer written.
pub(crate) struct At<'a> {
    pub(crate) network: &'a Ident,
    pub(crate) private: &'a TokenStream,
    pub(crate) flow: Option<Flow>,
    pub(crate) is_output: bool,
}

pub(crate) fn check_layer(
    cx: &mut Ctxt,
    attrs: Vec<Attribute>,
    name: Ident,
    syntax: LayerSyntax,
    previous: &[Layer],
    at: At<'_>,
) -> Option<Layer> {
    let mut ok = true;
    let text = name.to_string();
    let bare = text.strip_prefix("r#").unwrap_or(&text);
    if RESERVED_FIELDS.contains(&bare) {
        cx.error_at(
            name.span(),
            format!(
                "`{bare}` names a field of the generated trace; rename the layer, for example `{bare}_layer`"
            ),
        );
        ok = false;
    } else if KEYWORDS.contains(&bare) || text.starts_with("r#") {
        cx.error_at(
            name.span(),
            format!(
                "`{bare}` is a Rust keyword and cannot name a layer; rename it, for example `{bare}_layer`"
            ),
        );
        ok = false;
    } else if previous.iter().any(|l| l.name == name) {
        cx.error_at(
            name.span(),
            format!("duplicate layer name `{name}`: every layer needs its own name; rename this one"),
        );
        ok = false;
    }
    let LayerSyntax { kind: kind_ident, args } = syntax;
    let (Some(kind), Some(LayerArgs { angle, sizes, activation, options })) =
        (kinds::find(&kind_ident), args)
    else {
        cx.error_at(kind_ident.span(), kinds::unknown(&kind_ident));
        return None;
    };
    if !angle && !kind.params().is_empty() {
        cx.error_at(
            kind_ident.span(),
            format!(
                "`{kind_ident}` needs its arguments: a layer is written `{}`, as in {}",
                kind.syntax,
                kind.example()
            ),
        );
        return None;
    }
    let activation_span = activation.as_ref().map_or_else(
        || kind_ident.span(),
        |a| a.segments.last().map_or_else(Span::call_site, |s| s.ident.span()),
    );
    let activation = match activation {
        None => Some(ActivationModel::Builtin(Activation::Identity)),
        Some(activation) => match activation.get_ident() {
            // A bare name is one of the DSL's: a user's type is written as a path (`crate::Swish`).
            Some(ident) => match lookup(ident, &Activation::ALL) {
                Some(a) => Some(ActivationModel::Builtin(a)),
                None => {
                    let mut message = unknown("activation", ident, &Activation::ALL);
                    if nearest(&ident.to_string(), Activation::ALL.iter().map(|(n, _)| *n)).is_none() {
                        message += &format!(
                            "; for an activation of your own, write the path to its type, such as `crate::{ident}` (a type implementing `backprop::Activation`)"
                        );
                    }
                    cx.error_at(ident.span(), message);
                    None
                }
            },
            None => Some(ActivationModel::Custom(activation)),
        },
    };
    let whats = kind.params().iter().filter_map(|p| match p {
        kinds::Param::Size(what) => Some(*what),
        kinds::Param::Activation => None,
    });
    let sizes: Vec<Option<SizeModel>> =
        sizes.iter().zip(whats).map(|(size, what)| check_size(cx, size, what)).collect();
    let options = check_layer_options(cx, kind, options);
    if kind.op != Op::Dense && activation.as_ref().is_some_and(|a| a.is(Activation::Softmax)) {
        cx.error_at(
            activation_span,
            format!(
                "softmax is for the output `Dense` layer only: on `{name}`, a `{}`, it would normalise each row of each channel on its own; use Relu, Tanh, Sigmoid, LeakyRelu, Softplus or Identity",
                kind.name
            ),
        );
        ok = false;
    }
    if at.is_output && kind.op != Op::Dense {
        cx.error_at(
            kind_ident.span(),
            format!(
                "the output layer `{name}` is a `{}`, but the output layer must be `Dense`: the loss compares a vector of outputs with the targets; add one after it, for example `output: Dense<10, Softmax>`",
                kind.name
            ),
        );
        ok = false;
    }
    let sizes: Option<Vec<SizeModel>> = sizes.into_iter().collect();
    let (Some(activation), Some(sizes), Some((stride, padding)), true) = (activation, sizes, options, ok)
    else {
        return None;
    };
    let stride_written = stride.is_some();
    let stride = stride.unwrap_or_else(|| match kind.op {
        Op::Pool => sizes[0].clone(),
        _ => SizeModel::literal(1),
    });
    let args = Args { sizes, stride, stride_written, padding };
    let (input, output, checks) = match at.flow {
        Some(flow) => {
            let lcx = kinds::LayerCx {
                network: at.network,
                layer: &name,
                kind,
                kind_span: kind_ident.span(),
                private: at.private,
                input: &flow.shape,
                source: flow.source,
                source_kind: flow.kind,
                args: &args,
            };
            let (output, checks) = kinds::output(cx, &lcx)?;
            (flow.shape, output, checks)
        }
        // The input is unknown after an error before this layer: a dense layer's output is
        // known all the same (the model is never expanded: an error was recorded).
        None if kind.op == Op::Dense => {
            let output = Shape { dims: vec![args.sizes[0].clone()] };
            (output.clone(), output, Vec::new())
        }
        None => return None,
    };
    if output.literal_len().is_some_and(|n| n > u128::from(u32::MAX)) {
        cx.error_at(
            name.span(),
            format!(
                "`{name}` outputs {} = {} values, more than fit in 32 bits ({}), the smallest `usize` of the targets backprop supports; make it smaller",
                output.text(),
                output.literal_len().unwrap_or(0),
                u32::MAX
            ),
        );
        return None;
    }
    let size = output.len();
    Some(Layer {
        attrs,
        name,
        kind,
        args,
        input,
        output,
        size,
        activation,
        activation_span,
        is_output: at.is_output,
        checks,
    })
}

/// `[C, L]` or `[C, H, W]`, every size positive.
pub(crate) fn check_input_shape(cx: &mut Ctxt, shape: ShapeSyntax) -> Option<Shape> {
    let forms = "`input: [C, L]` (channels, length) or `input: [C, H, W]` (channels, height, width)";
    let whats: &[&str] = match shape.dims.len() {
        0 => {
            cx.error_at(
                shape.bracket.span.join(),
                format!("empty input shape: write {forms}, or `input: N` for a vector of N values"),
            );
            return None;
        }
        1 => {
            let size = shape.dims[0].tokens();
            cx.error_spanned_by(
                &shape.tokens,
                format!("a vector input is written without brackets, `input: {size}`; a shape is {forms}"),
            );
            return None;
        }
        2 => &["input channels", "input length"],
        3 => &["input channels", "input height", "input width"],
        n => {
            let extra: TokenStream = shape.dims[3..].iter().map(Size::tokens).collect();
            cx.error_spanned_by(
                extra,
                format!(
                    "an input shape has 2 or 3 sizes, {forms}, but this one has {n}; remove the extra sizes"
                ),
            );
            return None;
        }
    };
    let dims: Vec<Option<SizeModel>> =
        shape.dims.iter().zip(whats).map(|(d, what)| check_size(cx, d, what)).collect();
    let shape = Shape { dims: dims.into_iter().collect::<Option<_>>()? };
    if shape.literal_len().is_some_and(|n| n > u128::from(u32::MAX)) {
        cx.error_spanned_by(
            shape.dims.iter().map(|d| d.tokens.clone()).collect::<TokenStream>(),
            format!(
                "the input {} has {} values, more than fit in 32 bits ({}), the smallest `usize` of the targets backprop supports",
                shape.text(),
                shape.literal_len().unwrap_or(0),
                u32::MAX
            ),
        );
        return None;
    }
    Some(shape)
}

/// The options of a layer: each known to its kind, at most once. Returns the stride as written
/// and the padding (`Valid` unless written), or `None` after an error.
fn check_layer_options(
    cx: &mut Ctxt,
    kind: &Kind,
    options: Vec<OptionSyntax>,
) -> Option<(Option<SizeModel>, Padding)> {
    let mut ok = true;
    let mut seen: Vec<Opt> = Vec::new();
    let (mut stride, mut padding) = (None, Padding::Valid);
    for OptionSyntax { name, value } in options {
        let written = name.to_string();
        let Some(&opt) = kind.options().iter().find(|o| name == o.name()) else {
            let message = if kind.options().is_empty() {
                let elsewhere = if Opt::ALL.iter().any(|o| name == o.name()) {
                    format!("; `{written}` is an option of convolutions and pools")
                } else {
                    String::new()
                };
                format!("unknown option `{written}`: `{}` takes no options{elsewhere}", kind.name)
            } else {
                let hint = nearest(&written, kind.options().iter().map(|o| o.name()))
                    .map_or_else(String::new, |best| format!("did you mean `{best}`? "));
                format!("unknown option `{written}`; {hint}{}", kinds::options_phrase(kind))
            };
            cx.error_at(name.span(), message);
            ok = false;
            continue;
        };
        if seen.contains(&opt) {
            cx.error_at(
                name.span(),
                format!("duplicate option `{written}`; keep only one `{written} = ...`"),
            );
            ok = false;
            continue;
        }
        seen.push(opt);
        match opt {
            Opt::Stride => {
                let last = value.clone().into_iter().last().map_or_else(|| name.span(), |t| t.span());
                match Size::from_tokens(value, last, "stride") {
                    Ok(size) => {
                        stride = check_size(cx, &size, "stride");
                        ok &= stride.is_some();
                    }
                    Err(e) => {
                        cx.syn_error(e);
                        ok = false;
                    }
                }
            }
            Opt::Padding => {
                let paddings = [("Valid", Padding::Valid), ("Same", Padding::Same)];
                let fix = "the paddings are `Valid` (none, the default: every output sees a whole window) and `Same` (zeros around the input, `ceil(n / stride)` outputs)";
                match syn::parse2::<Ident>(value.clone()) {
                    Ok(ident) => match lookup(&ident, &paddings) {
                        Some(p) => padding = p,
                        None => {
                            let message = match nearest(&ident.to_string(), paddings.iter().map(|(n, _)| *n))
                            {
                                Some(best) => format!(
                                    "unknown padding `{ident}`; did you mean `{best}`? The {}",
                                    &fix[4..]
                                ),
                                None => format!("unknown padding `{ident}`; {fix}"),
                            };
                            cx.error_at(ident.span(), message);
                            ok = false;
                        }
                    },
                    Err(_) => {
                        cx.error_spanned_by(
                            &value,
                            format!("expected `Valid` or `Same` after `padding =`; {fix}"),
                        );
                        ok = false;
                    }
                }
            }
        }
    }
    ok.then_some((stride, padding))
}
