//! int8 quantization, bit for bit against an independent reference: `tests/reference/quant_ref.py`
//! implements the same arithmetic in numpy (the integer path of TensorFlow Lite Micro: per-channel
//! symmetric weights, gemmlowp double-rounding requantization, tables for sigmoid, tanh and the
//! other elementwise activations, an integer softmax) and wrote `tests/data/quant/*.quant.txt`:
//! every quantization parameter, and the int8 outputs of every test input. Here the networks are
//! quantized from the same float files and calibration inputs, and every integer must agree.

use std::io::Read as _;
use std::path::Path;

use backprop::quant::{QActivation, QDense, QParams};
use backprop::{Naming, Safetensors, network};

network! {
    /// Tanh, then sigmoid: two tables.
    #[loss(BinaryCrossEntropy)]
    #[quantized(SmallInt8)]
    pub struct Small { input: 3, hidden: Dense<5, Tanh>, output: Dense<2, Sigmoid> }
}

network! {
    /// LeakyRelu and Softplus through tables, then identity.
    #[loss(HalfSquaredError)]
    #[quantized(ActsInt8)]
    pub struct Acts { input: 4, l0: Dense<6, LeakyRelu>, l1: Dense<5, Softplus>, l2: Dense<3, Identity> }
}

network! {
    /// Relu, tanh, softmax, trained on iris.
    #[loss(SoftmaxCrossEntropy)]
    #[quantized(IrisInt8)]
    pub struct Iris { input: 4, first: Dense<8, Relu>, second: Dense<6, Tanh>, out: Dense<3, Softmax> }
}

network! {
    /// The digits classifier trained in Python.
    #[loss(SoftmaxCrossEntropy)]
    #[quantized(DigitsInt8)]
    pub struct Digits { input: 64, hidden: Dense<32, Relu>, output: Dense<10, Softmax> }
}

/// One layer block of a reference file.
#[derive(Default, Debug)]
struct LayerRef {
    activation: String,
    zq: (f64, i32),
    out: (f64, i32),
    w: Vec<i64>,
    b: Vec<i64>,
    multiplier: Vec<i64>,
    shift: Vec<i64>,
    table: Option<Vec<i64>>,
    exp_table: Option<Vec<i64>>,
}

/// A test input: its floats (when written), its int8 form and the int8 output.
type Sample = (Option<Vec<f64>>, Vec<i64>, Vec<i64>);

#[derive(Default, Debug)]
struct Reference {
    source: String,
    naming: String,
    input: (f64, i32),
    layers: Vec<LayerRef>,
    calibrate: Vec<Vec<f64>>,
    /// `(float input if written, int8 input, int8 output)`.
    samples: Vec<Sample>,
    int8_accuracy: Option<(usize, usize)>,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn reference(model: &str) -> Reference {
    let text = std::fs::read_to_string(root().join(format!("tests/data/quant/{model}.quant.txt"))).unwrap();
    let ints = |s: &str| s.split_whitespace().map(|v| v.parse::<i64>().unwrap()).collect::<Vec<_>>();
    let floats = |s: &str| s.split_whitespace().map(|v| v.parse::<f64>().unwrap()).collect::<Vec<_>>();
    let params = |s: &str| {
        let v: Vec<&str> = s.split_whitespace().collect();
        (v[0].parse::<f64>().unwrap(), v[1].parse::<i32>().unwrap())
    };
    let mut r = Reference::default();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        let layer = r.layers.last_mut();
        match key {
            "model" | "end" | "range_z" | "range_a" => {}
            "source" => {
                let v: Vec<&str> = rest.split_whitespace().collect();
                (r.source, r.naming) = (v[0].to_string(), v[2].to_string());
            }
            "input" => r.input = params(rest),
            "layer" => r.layers.push(LayerRef {
                activation: rest.split_whitespace().nth(1).unwrap().into(),
                ..LayerRef::default()
            }),
            "zq" => layer.unwrap().zq = params(rest),
            "out" => layer.unwrap().out = params(rest),
            "w" => layer.unwrap().w = ints(rest),
            "b" => layer.unwrap().b = ints(rest),
            "multiplier" => layer.unwrap().multiplier = ints(rest),
            "shift" => layer.unwrap().shift = ints(rest),
            "table" => layer.unwrap().table = Some(ints(rest)),
            "exp_table" => layer.unwrap().exp_table = Some(ints(rest)),
            "calibrate" => r.calibrate.push(floats(rest)),
            "sample" => {
                let parts: Vec<&str> = rest.split(" -> ").collect();
                let x = (parts[0].trim() != "-").then(|| floats(parts[0]));
                r.samples.push((x, ints(parts[1]), ints(parts[2])));
            }
            "accuracy" => {
                let v: Vec<&str> = rest.split_whitespace().collect();
                r.int8_accuracy = Some((v[4].parse().unwrap(), v[5].parse().unwrap()));
            }
            other => panic!("{model}: unknown line key `{other}`"),
        }
    }
    r
}

#[track_caller]
fn same_params(what: &str, ours: QParams, theirs: (f64, i32)) {
    assert_eq!(ours.zero_point, theirs.1, "{what}: zero point");
    // Scales come from float forward passes summed in different orders: ~1 ulp apart at most.
    let err = (ours.scale - theirs.0).abs() / theirs.0.abs();
    assert!(err <= 1e-12, "{what}: scale {} vs {} (relative {err:e})", ours.scale, theirs.0);
}

fn check_layer<const I: usize, const O: usize>(
    model: &str,
    k: usize,
    ours: &QDense<I, O>,
    theirs: &LayerRef,
) {
    let what = |s: &str| format!("{model} layer {k} ({}): {s}", theirs.activation);
    if theirs.activation != "Relu" {
        same_params(&what("z params"), ours.z, theirs.zq);
    }
    same_params(&what("output params"), ours.output, theirs.out);
    let w: Vec<i64> = ours.w.iter().flatten().map(|&v| i64::from(v)).collect();
    assert_eq!(w, theirs.w, "{}", what("weights"));
    assert_eq!(ours.b.map(i64::from).to_vec(), theirs.b, "{}", what("biases"));
    assert_eq!(ours.multiplier.map(i64::from).to_vec(), theirs.multiplier, "{}", what("multipliers"));
    assert_eq!(ours.shift.map(i64::from).to_vec(), theirs.shift, "{}", what("shifts"));
    match (&ours.activation, &theirs.table, &theirs.exp_table) {
        (QActivation::Table(t), Some(table), None) => {
            assert_eq!(t.map(i64::from).to_vec(), *table, "{}", what("table"));
        }
        (QActivation::Softmax(t), None, Some(table)) => {
            assert_eq!(t.map(i64::from).to_vec(), *table, "{}", what("exponential table"));
        }
        (QActivation::Clamp { .. }, None, None) => {}
        (ours, _, _) => panic!("{}: {ours:?} against the reference's tables", what("activation")),
    }
}

/// Loads the reference's float file into `N<f64>`.
fn float<N: Safetensors<f64>>(r: &Reference) -> N {
    let naming = if r.naming == "Sequential" { Naming::Sequential } else { Naming::Layers };
    let mut net = N::zeroed();
    net.load_safetensors(&std::fs::read(root().join(&r.source)).unwrap(), naming).unwrap();
    net
}

fn rows<const N: usize>(values: &[Vec<f64>]) -> Vec<[f64; N]> {
    values.iter().map(|v| v.as_slice().try_into().unwrap()).collect()
}

/// Every sample: the quantized input and the int8 output agree; returns the int8 outputs.
fn check_samples<const I: usize, const O: usize>(
    model: &str,
    r: &Reference,
    quantize: impl Fn(&[f64; I]) -> [i8; I],
    forward: impl Fn(&[i8; I]) -> [i8; O],
) {
    for (n, (x, x_q, y_q)) in r.samples.iter().enumerate() {
        let input: [i8; I] = match x {
            Some(x) => {
                let q = quantize(&x.as_slice().try_into().unwrap());
                assert_eq!(q.map(i64::from).to_vec(), *x_q, "{model} sample {n}: quantized input");
                q
            }
            None => x_q.iter().map(|&v| i8::try_from(v).unwrap()).collect::<Vec<_>>().try_into().unwrap(),
        };
        assert_eq!(forward(&input).map(i64::from).to_vec(), *y_q, "{model} sample {n}: int8 output");
    }
}

#[test]
fn small_tables_for_tanh_and_sigmoid() {
    let r = reference("small");
    let q = float::<Small<f64>>(&r).quantize(&rows::<3>(&r.calibrate)).unwrap();
    same_params("small input", q.input, r.input);
    check_layer("small", 0, &q.hidden, &r.layers[0]);
    check_layer("small", 1, &q.output, &r.layers[1]);
    check_samples("small", &r, |x| q.quantize_input(x), |x| q.forward(x));
}

#[test]
fn acts_leaky_relu_softplus_identity() {
    let r = reference("acts");
    let q = float::<Acts<f64>>(&r).quantize(&rows::<4>(&r.calibrate)).unwrap();
    same_params("acts input", q.input, r.input);
    check_layer("acts", 0, &q.l0, &r.layers[0]);
    check_layer("acts", 1, &q.l1, &r.layers[1]);
    check_layer("acts", 2, &q.l2, &r.layers[2]);
    check_samples("acts", &r, |x| q.quantize_input(x), |x| q.forward(x));
}

#[test]
fn iris_relu_tanh_softmax() {
    let r = reference("iris");
    let q = float::<Iris<f64>>(&r).quantize(&rows::<4>(&r.calibrate)).unwrap();
    same_params("iris input", q.input, r.input);
    check_layer("iris", 0, &q.first, &r.layers[0]);
    check_layer("iris", 1, &q.second, &r.layers[1]);
    check_layer("iris", 2, &q.out, &r.layers[2]);
    check_samples("iris", &r, |x| q.quantize_input(x), |x| q.forward(x));
}

/// The bundled digits: `(pixels / 16, label)` per row.
fn digits() -> Vec<([f64; 64], usize)> {
    let mut text = String::new();
    let file = std::fs::File::open(root().join("examples/data/digits.csv.gz")).unwrap();
    flate2::read::GzDecoder::new(file).read_to_string(&mut text).unwrap();
    text.lines()
        .map(|line| {
            let v: Vec<f64> = line.split(',').map(|s| s.trim().parse().unwrap()).collect();
            (std::array::from_fn(|i| v[i] / 16.0), v[64] as usize)
        })
        .collect()
}

#[test]
fn digits_relu_softmax_and_int8_accuracy() {
    let r = reference("digits");
    let data = digits();
    let calibration: Vec<[f64; 64]> =
        data.iter().enumerate().filter(|(i, _)| i % 5 != 0).map(|(_, d)| d.0).collect();
    let test: Vec<&([f64; 64], usize)> =
        data.iter().enumerate().filter(|(i, _)| i % 5 == 0).map(|(_, d)| d).collect();
    let q = float::<Digits<f64>>(&r).quantize(&calibration).unwrap();
    same_params("digits input", q.input, r.input);
    check_layer("digits", 0, &q.hidden, &r.layers[0]);
    check_layer("digits", 1, &q.output, &r.layers[1]);
    assert_eq!(r.samples.len(), test.len());
    for (n, ((x, _), (_, x_q, _))) in test.iter().zip(&r.samples).enumerate() {
        assert_eq!(q.quantize_input(x).map(i64::from).to_vec(), *x_q, "digits sample {n}: quantized input");
    }
    check_samples("digits", &r, |x| q.quantize_input(x), |x| q.forward(x));
    // The first largest output, as the reference's argmax.
    let predict = |y: [i8; 10]| (0..10).max_by_key(|&i| (y[i], std::cmp::Reverse(i))).unwrap();
    let right = test.iter().filter(|(x, label)| predict(q.forward(&q.quantize_input(x))) == *label).count();
    assert_eq!(Some((right, test.len())), r.int8_accuracy);
}
