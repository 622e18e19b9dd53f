//! The weights baked into the Cortex-M firmware (`examples/cortex-m/src/baked.rs` and
//! `baked/xor.bin`, written by `cargo run --release --example bake_xor`) are consistent with
//! each other and with the host: the host's outputs of the baked network are the predictions
//! recorded in the file, which the firmware compares its own outputs against.

use backprop::{ParamBytes, Params};

#[allow(dead_code)]
#[path = "../examples/cortex-m/src/xor.rs"]
mod xor;

// Generated: rustfmt leaves it as written.
#[rustfmt::skip]
#[path = "../examples/cortex-m/src/baked.rs"]
mod baked;

use xor::Xor;

#[test]
fn host_outputs_of_the_baked_network_are_the_recorded_predictions() {
    let predictions = xor::predictions(&baked::BAKED);
    for (y, recorded) in predictions.iter().zip(baked::HOST_PREDICTIONS) {
        assert!((y - recorded).abs() <= 1e-6, "host {y} vs recorded {recorded}: rerun the bake_xor example");
    }
    for (y, t) in predictions.iter().zip(xor::TARGETS) {
        assert_eq!(*y > 0.5, t[0] > 0.5, "the baked network solves XOR: {predictions:?}");
    }
    assert!(xor::mean_loss(&baked::BAKED) < xor::TARGET_LOSS);
    assert!((xor::mean_loss(&baked::BAKED) - baked::HOST_LOSS).abs() <= 1e-6);
    assert!((1..=xor::MAX_EPOCHS).contains(&baked::HOST_EPOCHS));
}

#[test]
fn serialised_bytes_are_the_baked_network() {
    let bytes = include_bytes!("../examples/cortex-m/baked/xor.bin");
    assert_eq!(bytes.len(), Xor::<f32>::SERIALIZED_LEN);
    let loaded = Xor::<f32>::from_bytes(bytes).expect("the baked bytes load");
    for (a, b) in loaded.params().iter().zip(baked::BAKED.params()) {
        assert_eq!(a.to_bits(), b.to_bits());
    }
    assert_eq!(baked::BAKED_PARAMS, Xor::<f32>::PARAMS);
}

#[test]
fn training_on_the_host_converges_as_the_firmware_does() {
    let mut net = xor::initial();
    let epochs = xor::train(&mut net, |_, _| {}).expect("XOR converges");
    assert!(epochs < xor::MAX_EPOCHS);
    assert!(xor::mean_loss(&net) < xor::TARGET_LOSS);
}

#[test]
fn the_pytorch_network_baked_by_the_macro_gives_pythons_outputs() {
    let text = include_str!("../examples/cortex-m/baked/xor-pytorch.expected.txt");
    let python: Vec<f64> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_once(" -> ").expect("`inputs -> output`").1.trim().parse().unwrap())
        .collect();
    assert_eq!(python.len(), 4);
    let ours = xor::predictions(&Xor::PYTORCH);
    for ((y, p), recorded) in ours.iter().zip(&python).zip(baked::PYTORCH_PREDICTIONS) {
        assert!((f64::from(*y) - p).abs() <= 1e-6, "firmware network {y} vs Python {p}");
        assert_eq!(recorded, *p as f32, "baked.rs is stale: rerun the bake_xor example");
    }
    for (y, t) in ours.iter().zip(xor::TARGETS) {
        assert_eq!(*y > 0.5, t[0] > 0.5, "{ours:?}");
    }
}
