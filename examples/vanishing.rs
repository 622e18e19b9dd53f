//! The chapter's act 3: the error signal of a deep layer is a product of local derivatives, and
//! with the sigmoid, whose derivative never exceeds 1/4, that product collapses.
//!
//! ```text
//! cargo run --release --example vanishing
//! ```
//!
//! Builds stacks of 1 to 10 layers of 16 sigmoid units, and the same with relu, each followed by
//! a linear readout (half squared error). Weights are Xavier-normal for sigmoid and He-normal for
//! relu, from the same seed. For each depth, it averages over 256 random samples:
//!
//! - `|δ|`: the mean magnitude of the error signal `δ = dL/dz` of every layer (layer 1 is next
//!   to the input, the readout last);
//! - `f'`: the mean local derivative `f'(z)` of every layer;
//! - `∏f'`: the product of the mean local derivatives from the layer up to the top, next to the
//!   chapter's bound `0.25^k` for `k` sigmoid layers crossed.
//!
//! With the sigmoid each mean `f'` is below 1/4, so `∏f'` stays under `0.25^k` (the example checks
//! it) and `|δ|` shrinks by about that factor per layer: ten layers down, almost nothing is left.
//! With relu, `f'` is 1 on active units and 0 on the others; the mean is about 1/2 (half the
//! units are off), but He's initialisation doubles the weights' variance to make up for exactly
//! that, so `|δ|` holds its size through the stack.
//!
//! It writes `target/examples-out/vanishing.svg`: error-signal magnitude by layer for the 10-layer
//! stacks and the products of derivatives against `0.25^k`, on a log scale, sigmoid against relu.

// The generated `new` takes one argument per layer: eleven for the deepest stacks.

mod common;

use std::error::Error;

use backprop::{Elementwise, Init, Network, Rng, network};
use plotters::prelude::*;

/// Units per layer, and inputs.
const WIDTH: usize = 16;
const SAMPLES: usize = 256;
const SEED: u64 = 8;

/// What one layer shows, averaged over the samples.
#[derive(Clone, Copy, Default)]
struct LayerStat {
    /// Mean `|δ|`.
    delta: f64,
    /// Mean `f'(z)`.
    slope: f64,
}

/// A stack that can report its layers' error signals and local derivatives.
trait Probe: Network<f64> {
    const ACTIVATION: &'static str;
    /// Per layer, input side first (the readout excluded); and the readout's `|δ|`.
    fn probe(&self, x: &[f64; WIDTH], t: f64, stats: &mut Vec<LayerStat>) -> f64;
}

/// Declares a stack of the given layers, all `Dense<WIDTH, $act>`, then a linear readout.
macro_rules! stack {
    ($name:ident, $act:ident, $($layer:ident)+) => {
        network! {
            /// A stack of equal layers and a linear readout.
            #[loss(HalfSquaredError)]
            pub struct $name {
                input: WIDTH,
                $($layer: Dense<WIDTH, $act>,)+
                readout: Dense<1, Identity>,
            }
        }

        impl Probe for $name<f64> {
            const ACTIVATION: &'static str = stringify!($act);

            fn probe(&self, x: &[f64; WIDTH], t: f64, stats: &mut Vec<LayerStat>) -> f64 {
                let mut trace = <Self as Network<f64>>::new_trace();
                let mut grads = Self::zeroed();
                self.forward_trace(x, &mut trace);
                self.backward(&mut trace, &[t], &mut grads);
                stats.clear();
                $(
                    let layer = &trace.$layer;
                    let n = layer.z.len() as f64;
                    stats.push(LayerStat {
                        delta: layer.delta.iter().map(|d| d.abs()).sum::<f64>() / n,
                        slope: layer.z.iter().zip(&layer.a).map(|(&z, &a)| <backprop::$act as Elementwise>::df(z, a)).sum::<f64>() / n,
                    });
                )+
                trace.readout.delta[0].abs()
            }
        }
    };
}

stack!(Sigmoid1, Sigmoid, l1);
stack!(Sigmoid2, Sigmoid, l1 l2);
stack!(Sigmoid3, Sigmoid, l1 l2 l3);
stack!(Sigmoid4, Sigmoid, l1 l2 l3 l4);
stack!(Sigmoid5, Sigmoid, l1 l2 l3 l4 l5);
stack!(Sigmoid6, Sigmoid, l1 l2 l3 l4 l5 l6);
stack!(Sigmoid7, Sigmoid, l1 l2 l3 l4 l5 l6 l7);
stack!(Sigmoid8, Sigmoid, l1 l2 l3 l4 l5 l6 l7 l8);
stack!(Sigmoid9, Sigmoid, l1 l2 l3 l4 l5 l6 l7 l8 l9);
stack!(Sigmoid10, Sigmoid, l1 l2 l3 l4 l5 l6 l7 l8 l9 l10);
stack!(Relu1, Relu, l1);
stack!(Relu2, Relu, l1 l2);
stack!(Relu3, Relu, l1 l2 l3);
stack!(Relu4, Relu, l1 l2 l3 l4);
stack!(Relu5, Relu, l1 l2 l3 l4 l5);
stack!(Relu6, Relu, l1 l2 l3 l4 l5 l6);
stack!(Relu7, Relu, l1 l2 l3 l4 l5 l6 l7);
stack!(Relu8, Relu, l1 l2 l3 l4 l5 l6 l7 l8);
stack!(Relu9, Relu, l1 l2 l3 l4 l5 l6 l7 l8 l9);
stack!(Relu10, Relu, l1 l2 l3 l4 l5 l6 l7 l8 l9 l10);

/// One stack's averages: per layer (input side first), and the readout's `|δ|`.
struct Depth {
    layers: Vec<LayerStat>,
    readout: f64,
}

impl Depth {
    /// `∏ f'` from layer `l` (0-based) to the top.
    fn product_from(&self, l: usize) -> f64 {
        self.layers[l..].iter().map(|s| s.slope).product()
    }
}

/// Initialises a stack from the seed (Xavier for sigmoid, He for relu) and averages its layers'
/// statistics over random samples.
fn measure<N: Probe>() -> Depth {
    let init = if N::ACTIVATION == "Relu" { Init::HeNormal } else { Init::XavierNormal };
    let net: N = init.network(SEED);
    let mut rng = Rng::new(SEED + 1);
    let mut layers = Vec::new();
    let mut sums: Vec<LayerStat> = Vec::new();
    let mut readout = 0.0;
    for _ in 0..SAMPLES {
        let x: [f64; WIDTH] = core::array::from_fn(|_| rng.uniform(-1.0, 1.0));
        let t = rng.uniform(-1.0, 1.0);
        readout += net.probe(&x, t, &mut layers);
        sums.resize(layers.len(), LayerStat::default());
        for (s, l) in sums.iter_mut().zip(&layers) {
            s.delta += l.delta;
            s.slope += l.slope;
        }
    }
    let n = SAMPLES as f64;
    Depth {
        layers: sums.iter().map(|s| LayerStat { delta: s.delta / n, slope: s.slope / n }).collect(),
        readout: readout / n,
    }
}

fn print(activation: &str, depths: &[Depth]) {
    println!(
        "\n=== {activation}: error signal |δ| by layer (1 = next to the input), mean over {SAMPLES} samples ==="
    );
    for (k, d) in depths.iter().enumerate() {
        let k = k + 1;
        let deltas: String = d.layers.iter().map(|s| format!("{:>9.2e}", s.delta)).collect();
        println!("{k:>2} layers  |δ|: {deltas} | readout {:.2e}", d.readout);
        let slopes: String = d.layers.iter().map(|s| format!("{:>9.4}", s.slope)).collect();
        println!("           f' : {slopes}");
        let products: String = (0..k).map(|l| format!("{:>9.2e}", d.product_from(l))).collect();
        println!("          ∏f' : {products}   (from each layer to the top)");
        let bounds: String = (0..k).map(|l| format!("{:>9.2e}", 0.25f64.powi((k - l) as i32))).collect();
        println!("       0.25^k : {bounds}");
        println!(
            "           layer 1 / readout: |δ| ratio {:.2e}, ∏f' {:.2e}, 0.25^{k} = {:.2e}",
            d.layers[0].delta / d.readout,
            d.product_from(0),
            0.25f64.powi(k as i32)
        );
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let sigmoid = vec![
        measure::<Sigmoid1<f64>>(),
        measure::<Sigmoid2<f64>>(),
        measure::<Sigmoid3<f64>>(),
        measure::<Sigmoid4<f64>>(),
        measure::<Sigmoid5<f64>>(),
        measure::<Sigmoid6<f64>>(),
        measure::<Sigmoid7<f64>>(),
        measure::<Sigmoid8<f64>>(),
        measure::<Sigmoid9<f64>>(),
        measure::<Sigmoid10<f64>>(),
    ];
    let relu = vec![
        measure::<Relu1<f64>>(),
        measure::<Relu2<f64>>(),
        measure::<Relu3<f64>>(),
        measure::<Relu4<f64>>(),
        measure::<Relu5<f64>>(),
        measure::<Relu6<f64>>(),
        measure::<Relu7<f64>>(),
        measure::<Relu8<f64>>(),
        measure::<Relu9<f64>>(),
        measure::<Relu10<f64>>(),
    ];
    for (k, d) in sigmoid.iter().enumerate() {
        for l in 0..=k {
            let bound = 0.25f64.powi((k + 1 - l) as i32);
            if d.product_from(l) > bound {
                return Err(
                    format!("sigmoid, {} layers: ∏f' from layer {} is above 0.25^k", k + 1, l + 1).into()
                );
            }
        }
    }
    print("sigmoid (Xavier normal)", &sigmoid);
    print("relu (He normal)", &relu);

    let (s, r) = (&sigmoid[9], &relu[9]);
    println!(
        "\n10 layers, first layer: sigmoid |δ| {:.2e} ({:.1e} of the readout's), relu |δ| {:.2e} ({:.1e} of the readout's)",
        s.layers[0].delta,
        s.layers[0].delta / s.readout,
        r.layers[0].delta,
        r.layers[0].delta / r.readout
    );
    let svg = common::out_dir()?.join("vanishing.svg");
    plot(&svg, s, r)?;
    println!("plot: {}", svg.display());
    Ok(())
}

/// Left: `|δ|` by layer for the two 10-layer stacks. Right: `∏ f'` from each layer to the top,
/// with the bound `0.25^k`. Both on a log scale.
fn plot(path: &std::path::Path, sigmoid: &Depth, relu: &Depth) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (1000, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(500);
    let k = sigmoid.layers.len();
    let layer_axis = 1.0..(k + 1) as f64;
    let integer = |x: &f64| format!("{x:.0}");

    // Layer k + 1 is the readout.
    let deltas = |d: &Depth| -> Vec<(f64, f64)> {
        d.layers
            .iter()
            .map(|s| s.delta)
            .chain([d.readout])
            .enumerate()
            .map(|(i, v)| (i as f64 + 1.0, v))
            .collect()
    };
    let (ds, dr) = (deltas(sigmoid), deltas(relu));
    let lo = ds.iter().chain(&dr).map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = ds.iter().chain(&dr).map(|p| p.1).fold(0.0, f64::max);
    let mut chart = ChartBuilder::on(&left)
        .caption("Error signal |δ| by layer, 10-layer stacks", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(layer_axis.clone(), (lo / 2.0..hi * 2.0).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("layer (1 = next to the input, 11 = readout)")
        .x_label_formatter(&integer)
        .y_desc("mean |δ| (log scale)")
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .draw()?;
    for (name, color, points) in [("sigmoid", RED, &ds), ("relu", BLUE, &dr)] {
        chart
            .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)).point_size(3))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;

    let products =
        |d: &Depth| -> Vec<(f64, f64)> { (0..k).map(|l| (l as f64 + 1.0, d.product_from(l))).collect() };
    let bound: Vec<(f64, f64)> = (0..k).map(|l| (l as f64 + 1.0, 0.25f64.powi((k - l) as i32))).collect();
    let (ps, pr) = (products(sigmoid), products(relu));
    let lo = ps.iter().chain(&pr).chain(&bound).map(|p| p.1).fold(f64::INFINITY, f64::min);
    let mut chart = ChartBuilder::on(&right)
        .caption("Product of local derivatives f'(z), layer to top", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(1.0..k as f64, (lo / 2.0..2.0).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("layer (1 = next to the input)")
        .x_label_formatter(&integer)
        .y_desc("∏ mean f'(z) (log scale)")
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .draw()?;
    for (name, style, points) in [
        ("sigmoid", RED.stroke_width(2), &ps),
        ("relu", BLUE.stroke_width(2), &pr),
        ("bound 0.25^k", BLACK.stroke_width(1), &bound),
    ] {
        chart
            .draw_series(LineSeries::new(points.iter().copied(), style).point_size(3))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;
    root.present()?;
    Ok(())
}
