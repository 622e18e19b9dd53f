//! The chapter's toy network, step by step: the forward pass that stores, the output error
//! signal, the master formula `dL/dw = delta · a`, the hidden error signals, and the vanishing
//! factor of act 3.
//!
//! Run with `cargo run --release --example toy`.

use backprop::{Dense, network};

network! {
    /// Two inputs, two sigmoid hidden neurons, one sigmoid output (act 2 of the chapter).
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
        hidden: Dense<2, Sigmoid>,
        output: Dense<1, Sigmoid>,
    }
}

network! {
    /// A chain of seven single sigmoid neurons (act 3 of the chapter).
    #[loss(HalfSquaredError)]
    pub struct Chain {
        input: 1,
        l1: Dense<1, Sigmoid>,
        l2: Dense<1, Sigmoid>,
        l3: Dense<1, Sigmoid>,
        l4: Dense<1, Sigmoid>,
        l5: Dense<1, Sigmoid>,
        l6: Dense<1, Sigmoid>,
        l7: Dense<1, Sigmoid>,
    }
}

fn main() {
    println!("Act 2: the error signal and the two passes\n");
    let net =
        Toy::<f64>::new(Dense::new([[0.4, 0.2], [-0.2, 0.4]], [0.0, 0.0]), Dense::new([[0.5, -0.4]], [0.1]));
    let x = [1.0, 0.5];
    let t = [1.0];
    println!("weights: hidden W = {:?}, b = {:?}", net.hidden.w, net.hidden.b);
    println!("         output W = {:?}, b = {:?}", net.output.w, net.output.b);
    println!("input x = {x:?}, target t = {t:?}\n");

    println!("Forward pass (stores every z and a):");
    let mut trace = ToyTrace::zeroed();
    let y = net.forward_trace(&x, &mut trace);
    for j in 0..2 {
        let n = j + 1;
        show(&format!("z_h{n} = w_h{n}·x + b_h{n}"), trace.hidden.z[j], "");
        show(&format!("a_h{n} = σ(z_h{n})"), trace.hidden.a[j], "");
    }
    show("z_o = w_o·a_h + b_o", trace.output.z[0], "");
    show("y = σ(z_o)", y[0], "");

    println!("\nBackward pass (propagates the error signal δ = ∂L/∂z):");
    let mut grads = Toy::zeroed();
    let loss = net.backward(&mut trace, &t, &mut grads);
    let delta_o = trace.output.delta[0];
    show("L = ½ (y - t)²", loss, "");
    show("δ_o = (y - t) · y (1 - y)", delta_o, "");
    show("∂L/∂w_o1 = δ_o · a_h1", grads.output.w[0][0], "the master formula");
    show("∂L/∂w_o2 = δ_o · a_h2", grads.output.w[0][1], "");
    for j in 0..2 {
        let (n, delta_h) = (j + 1, trace.hidden.delta[j]);
        let ratio = format!("δ_h{n} / δ_o = {:.4}", delta_h / delta_o);
        show(&format!("δ_h{n} = δ_o · w_o{n} · σ'(z_h{n})"), delta_h, &ratio);
    }
    show("∂L/∂w_h11 = δ_h1 · x1", grads.hidden.w[0][0], "");
    show("∂L/∂x1 = Σ_j w_hj1 · δ_hj", trace.input_grad[0], "");
    show("∂L/∂x2 = Σ_j w_hj2 · δ_hj", trace.input_grad[1], "");
    println!("  The hidden error signals are about ten times smaller than the output's.");

    println!("\nAct 3: the product that collapses");
    // Every neuron centred at z = 0, where σ' is at its maximum 0.25: the first neuron gets
    // input 0, each later one weight 1 and bias -0.5 (its input is σ(0) = 0.5).
    let centred = |b: f64| Dense::new([[1.0]], [b]);
    let chain = Chain::<f64>::new(
        centred(0.0),
        centred(-0.5),
        centred(-0.5),
        centred(-0.5),
        centred(-0.5),
        centred(-0.5),
        centred(-0.5),
    );
    let mut trace = ChainTrace::zeroed();
    chain.forward_trace(&[0.0], &mut trace);
    let mut grads = Chain::zeroed();
    chain.backward(&mut trace, &[1.0], &mut grads);
    let deltas = [
        trace.l7.delta[0],
        trace.l6.delta[0],
        trace.l5.delta[0],
        trace.l4.delta[0],
        trace.l3.delta[0],
        trace.l2.delta[0],
        trace.l1.delta[0],
    ];
    println!("  σ'(0) = 0.25 is the largest slope of the sigmoid; weights are 1.");
    for k in [3, 6] {
        println!(
            "  after {k} layers: δ ratio = {:.9}, bound 0.25^{k} = {:.9}",
            deltas[k] / deltas[0],
            0.25f64.powi(k as i32)
        );
    }
    println!("  With relu, whose slope is 1 where it is active, the factor would stay 1.");
}

/// One line: the quantity with its formula, its value, and a remark.
fn show(formula: &str, value: f64, remark: &str) {
    let remark = if remark.is_empty() { String::new() } else { format!("   ({remark})") };
    println!("  {formula:<30} = {value:>9.6}{remark}");
}
