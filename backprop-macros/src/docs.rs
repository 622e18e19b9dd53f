//! The doc comments of the expansion that describe the layers: every shape with its sizes as
//! written (or computed from them), so that `cargo doc` of a network says what each field holds.

use crate::kinds::Op;
use crate::model::{Layer, Shape, SizeModel};

/// The doc comment of a layer's field: its kind, shapes, activation and parameters. `previous`
/// is the layer before it, if any.
pub fn layer(l: &Layer, previous: Option<&Layer>) -> String {
    let (name, kind, act) = (&l.name, l.kind, l.activation.text());
    let (input, output) = (l.input.text(), l.output.text());
    match kind.op {
        Op::Dense => {
            let (i, o) = (l.input.len().shown, &l.size.shown);
            let flattened = match (l.input.rank(), previous) {
                (1, _) => String::new(),
                (_, Some(p)) => format!(
                    "; it reads the {input} output of `{}` flattened (channel by channel, row by row)",
                    p.name
                ),
                (_, None) => {
                    format!(
                        "; it reads the network's {input} input flattened (channel by channel, row by row)"
                    )
                }
            };
            format!(
                " Layer `{name}`: {} {i} → {o}, {act}{flattened}. Weights `[[T; {i}]; {o}]` (row `o` feeds neuron `o`), biases `[T; {o}]`.",
                kind.describe
            )
        }
        Op::Conv => {
            let (f, k, c) = (&l.args.sizes[0].shown, &l.args.sizes[1].shown, &l.input.dims[0].shown);
            let (window, weights, index) = if kind.axes == 2 {
                (
                    format!("{k} × {k}"),
                    format!("[[[[T; {k}]; {k}]; {c}]; {f}]"),
                    "`w[f][c][i][j]`: filter, input channel, kernel row and column",
                )
            } else {
                (
                    k.to_string(),
                    format!("[[[T; {k}]; {c}]; {f}]"),
                    "`w[f][c][j]`: filter, input channel, kernel position",
                )
            };
            format!(
                " Layer `{name}`: {} {input} → {output}, {f} filters of {window} over {c} channels, stride {}, padding {}, {act}. Weights `{weights}` ({index}), biases `[T; {f}]` (one per filter).",
                kind.describe,
                l.args.stride.shown,
                l.args.padding.name()
            )
        }
        Op::Pool => {
            let k = &l.args.sizes[0].shown;
            let window = if kind.axes == 2 { format!("{k} × {k}") } else { k.to_string() };
            format!(
                " Layer `{name}`: {} {input} → {output}, windows of {window} at stride {}: `{}` → `{}`. No parameters.",
                kind.describe,
                l.args.stride.shown,
                l.input.array_text(),
                l.output.array_text()
            )
        }
        Op::GlobalPool => format!(
            " Layer `{name}`: {} {input} → {output}, the mean of each channel: `{}` → `{}`. No parameters.",
            kind.describe,
            l.input.array_text(),
            l.output.array_text()
        ),
    }
}

/// The doc comment of a layer's trace: the shape of its `z`, `a` and `delta`.
pub fn trace(l: &Layer) -> String {
    let index = match l.output.rank() {
        1 => return format!(" Layer `{}`: `z`, `a` and `delta`, each `[T; {}]`.", l.name, l.size.shown),
        2 => "`[channel][position]`",
        _ => "`[channel][row][column]`",
    };
    format!(" Layer `{}`: `z`, `a` and `delta`, each `{}`, indexed {index}.", l.name, l.output.array_text())
}

/// "2 → 2 (hidden Sigmoid) → 1 (output Sigmoid)"; a shaped layer shows its kind too:
/// "[1, 28, 28] → [6, 24, 24] (conv1 Conv2d Relu) → [6, 12, 12] (pool1 MaxPool2d) → ...".
pub fn architecture(input: &Shape, layers: &[Layer]) -> String {
    std::iter::once(input.text())
        .chain(layers.iter().map(|l| match (l.kind.op, l.kind.has_activation()) {
            (Op::Dense, _) => format!("{} ({} {})", l.size.shown, l.name, l.activation.text()),
            (_, true) => format!("{} ({} {} {})", l.output.text(), l.name, l.kind.name, l.activation.text()),
            (_, false) => format!("{} ({} {})", l.output.text(), l.name, l.kind.name),
        }))
        .collect::<Vec<_>>()
        .join(" → ")
}

/// The doc comments of the trace's `input` and `input_grad`.
pub fn input(shape: &Shape) -> (String, String) {
    let len: SizeModel = shape.len();
    if shape.rank() == 1 {
        return (
            format!(" The input `x`, `[T; {}]`.", len.shown),
            format!(" The input gradient `dL/dx`, `[T; {}]`, written by backward.", len.shown),
        );
    }
    let layout = format!(
        "the {} input, flattened channel by channel, row by row (the first layer reads it as `{}`)",
        shape.text(),
        shape.array_text()
    );
    (
        format!(" The input `x`, `[T; {}]`: {layout}.", len.shown),
        format!(" The input gradient `dL/dx`, `[T; {}]`, written by backward: {layout}.", len.shown),
    )
}
