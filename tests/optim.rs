//! Each optimizer's update rule, three steps on a tiny network, against literal values.
//!
//! The expected parameters come from an independent implementation, `tests/reference/optim.py`:
//! the algorithm boxes of PyTorch's documentation for `torch.optim.SGD`, `Adam` and `AdamW`,
//! in 50-digit decimal arithmetic (Python's `decimal`), run once and recorded here. The network
//! is `z = W x + b` (identity output, half squared error), trained on the mean gradient of two
//! samples per step; the test compares all six parameters after each of three steps to 1e-12.
// The reference values keep the 21 digits the decimal computation printed; the compiler rounds
// them once to the nearest f64.
#![allow(clippy::excessive_precision)]

use backprop::error::{Setting, SettingError};
use backprop::{Adam, AdamW, Dense, Momentum, Network, Optimizer, Params, Sgd, network};

network! {
    /// Two inputs, two linear outputs.
    #[loss(HalfSquaredError)]
    pub struct Tiny {
        input: 2,
        out: Dense<2, Identity>,
    }
}

const XS: [[f64; 2]; 2] = [[1.0, 2.0], [-1.5, 0.5]];
const TS: [[f64; 2]; 2] = [[0.5, -1.0], [1.0, 0.25]];

fn tiny() -> Tiny<f64> {
    Tiny::new(Dense::new([[0.5, -0.25], [0.125, 1.0]], [0.1, -0.2]))
}

/// Three steps of `opt` from [`tiny`], each parameter checked against `expected` after each step.
fn check<O: Optimizer<f64, Tiny<f64>>>(name: &str, mut opt: O, expected: &[[f64; 6]; 3]) {
    let mut net = tiny();
    let mut grads = Tiny::zeroed();
    for (step, want) in expected.iter().enumerate() {
        net.backward_batch(&XS, &TS, &mut grads);
        opt.step(&mut net, &grads);
        for (i, (&got, &want)) in net.params().iter().zip(want).enumerate() {
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                "{name}, step {}, parameter {i}: got {got:.17e}, expected {want:.17e}",
                step + 1
            );
        }
    }
}

#[test]
fn sgd() {
    check("SGD", Sgd::new(0.1).unwrap(), &SGD_LR_0_1);
    check("SGD with weight decay", Sgd::new(0.1).unwrap().weight_decay(0.01).unwrap(), &SGD_WD);
}

#[test]
fn sgd_equals_the_fused_training_step() {
    // The generated `train_step_batch` and the optimizer agree exactly.
    let (mut a, mut b) = (tiny(), tiny());
    let mut grads = Tiny::zeroed();
    for _ in 0..3 {
        a.train_step_batch(&XS, &TS, 0.1, &mut grads);
        b.backward_batch(&XS, &TS, &mut grads);
        Sgd::new(0.1).unwrap().step(&mut b, &grads);
    }
    assert_eq!(a, b);
}

#[test]
fn momentum() {
    check("momentum", Momentum::new(0.1, 0.9).unwrap(), &MOMENTUM);
    check(
        "momentum, dampening, weight decay",
        Momentum::new(0.1, 0.9).unwrap().dampening(0.5).unwrap().weight_decay(0.01).unwrap(),
        &MOMENTUM_DAMPENED_WD,
    );
    check("Nesterov", Momentum::nesterov(0.1, 0.9).unwrap(), &NESTEROV);
}

#[test]
fn adam() {
    check("Adam", Adam::new(0.1).unwrap(), &ADAM);
    check("Adam with L2", Adam::new(0.1).unwrap().weight_decay(0.1).unwrap(), &ADAM_L2);
    check(
        "Adam, betas and eps",
        Adam::new(0.05).unwrap().betas(0.8, 0.99).unwrap().eps(1e-3).unwrap(),
        &ADAM_BETAS_EPS,
    );
}

#[test]
fn adamw() {
    check("AdamW", AdamW::new(0.1).unwrap().weight_decay(0.1).unwrap(), &ADAMW);
}

#[test]
fn defaults_are_pytorchs() {
    let sgd = Sgd::<f32>::default();
    assert_eq!((sgd.lr, sgd.weight_decay), (1e-3, 0.0));
    let m = Momentum::<f32, Tiny<f32>>::new(0.1, 0.9).unwrap();
    assert_eq!((m.dampening, m.weight_decay, m.nesterov), (0.0, 0.0, false));
    let adam = Adam::<f32, Tiny<f32>>::default();
    assert_eq!((adam.lr, adam.beta1, adam.beta2, adam.eps, adam.weight_decay), (1e-3, 0.9, 0.999, 1e-8, 0.0));
    let adamw = AdamW::<f32, Tiny<f32>>::default();
    assert_eq!(
        (adamw.lr, adamw.beta1, adamw.beta2, adamw.eps, adamw.weight_decay),
        (1e-3, 0.9, 0.999, 1e-8, 1e-2)
    );
}

#[test]
fn reset_and_try_step() {
    let mut adam = Adam::new(0.1).unwrap();
    let mut net = tiny();
    let mut grads = Tiny::zeroed();
    net.backward_batch(&XS, &TS, &mut grads);
    adam.step(&mut net, &grads);
    assert_eq!(adam.t, 1);
    Optimizer::<f64, Tiny<f64>>::reset(&mut adam);
    assert_eq!(adam.t, 0);
    assert!(adam.m.params().iter().chain(adam.v.params()).all(|&x| x == 0.0));

    // A gradient whose square overflows: v would become infinite, so nothing changes.
    let mut huge = Tiny::zeroed();
    huge.out.w[1][0] = 1e200;
    let (before, state) = (net.clone(), adam.clone());
    assert_eq!(adam.try_step(&mut net, &huge), Err(2));
    assert_eq!((net, adam), (before, state));

    let mut m = Momentum::new(1e300, 0.9).unwrap();
    let mut net = tiny();
    assert_eq!(m.try_step(&mut net, &huge), Err(2));
    assert!(!m.started);
    assert_eq!(net, tiny());
    assert_eq!(m.try_step(&mut net, &grads), Ok(()));
    assert!(m.started);
}

#[test]
fn every_setting_is_checked_at_construction() {
    let bad_rates = [0.0, -0.5, f32::NAN, f32::INFINITY, -0.0];
    for lr in bad_rates {
        let named = |e: SettingError| e.setting == Setting::LearningRate;
        assert!(Sgd::new(lr).is_err_and(named), "{lr}");
        assert!(Momentum::<f32, Tiny<f32>>::new(lr, 0.9).is_err_and(named), "{lr}");
        assert!(Momentum::<f32, Tiny<f32>>::nesterov(lr, 0.9).is_err_and(named), "{lr}");
        assert!(Adam::<f32, Tiny<f32>>::new(lr).is_err_and(named), "{lr}");
        assert!(AdamW::<f32, Tiny<f32>>::new(lr).is_err_and(named), "{lr}");
    }
    for mu in [1.0, -0.1, f32::NAN, 1.5] {
        let err = Momentum::<f32, Tiny<f32>>::new(0.1, mu).unwrap_err();
        assert_eq!((err.setting, err.expected), (Setting::Momentum, "in [0, 1)"), "{mu}");
    }
    assert_eq!(
        Momentum::<f32, Tiny<f32>>::nesterov(0.1, 0.0).unwrap_err().expected,
        "in (0, 1) with Nesterov momentum"
    );
    let m = Momentum::<f32, Tiny<f32>>::new(0.1, 0.9).unwrap();
    assert!(m.clone().dampening(1.0).is_ok() && m.clone().dampening(0.0).is_ok());
    for tau in [1.5, -0.5, f32::NAN] {
        assert_eq!(m.clone().dampening(tau).unwrap_err().setting, Setting::Dampening);
    }
    let n = Momentum::<f32, Tiny<f32>>::nesterov(0.1, 0.9).unwrap();
    assert_eq!(n.dampening(0.1).unwrap_err().expected, "0 with Nesterov momentum");
    for wd in [-1e-4, f32::NAN, f32::INFINITY] {
        assert_eq!(Sgd::new(0.1).unwrap().weight_decay(wd).unwrap_err().setting, Setting::WeightDecay);
        assert_eq!(m.clone().weight_decay(wd).unwrap_err().setting, Setting::WeightDecay);
        let adam = AdamW::<f32, Tiny<f32>>::new(0.1).unwrap();
        assert_eq!(adam.weight_decay(wd).unwrap_err().setting, Setting::WeightDecay);
    }
    let adam = Adam::<f32, Tiny<f32>>::new(0.1).unwrap();
    assert_eq!(adam.clone().betas(1.0, 0.999).unwrap_err().setting, Setting::Beta1);
    assert_eq!(adam.clone().betas(0.9, 1.0).unwrap_err().setting, Setting::Beta2);
    assert_eq!(adam.clone().betas(-0.1, 0.5).unwrap_err().setting, Setting::Beta1);
    // 0.999999999 rounds to 1 in f32: judged after the rounding.
    assert_eq!(adam.clone().betas(0.9, 0.999_999_999).unwrap_err().setting, Setting::Beta2);
    assert!(adam.clone().betas(0.0, 0.0).is_ok());
    for eps in [0.0, -1e-8, f32::NAN, f32::INFINITY] {
        assert_eq!(adam.clone().eps(eps).unwrap_err().setting, Setting::Eps);
    }
    // Defaults are valid.
    assert_eq!(Optimizer::<f32, Tiny<f32>>::check_settings(&Sgd::<f32>::default()), Ok(()));
    assert_eq!(Optimizer::<f32, Tiny<f32>>::check_settings(&Adam::<f32, Tiny<f32>>::default()), Ok(()));
    assert_eq!(Optimizer::<f32, Tiny<f32>>::check_settings(&AdamW::<f32, Tiny<f32>>::default()), Ok(()));
}

#[test]
fn fields_written_directly_are_caught_by_check_settings() {
    let mut adam = Adam::<f64, Tiny<f64>>::new(0.1).unwrap();
    adam.eps = 0.0;
    assert_eq!(Optimizer::check_settings(&adam).unwrap_err().setting, Setting::Eps);
    let mut m = Momentum::<f64, Tiny<f64>>::nesterov(0.1, 0.9).unwrap();
    m.dampening = 0.5;
    assert_eq!(Optimizer::check_settings(&m).unwrap_err().setting, Setting::Dampening);
    let mut sgd = Sgd::new(0.1).unwrap();
    assert!(Optimizer::<f64, Tiny<f64>>::set_learning_rate(&mut sgd, -1.0).is_err());
    assert_eq!(sgd.lr, 0.1, "a refused rate changes nothing");
}

// Generated by `python3 tests/reference/optim.py`.
const SGD_LR_0_1: [[f64; 6]; 3] = [
    [
        3.86874999999999993859e-1,
        -1.65624999999999996010e-1,
        -3.15625000000000089685e-2,
        7.10937499999999985342e-1,
        2.08750000000000011033e-1,
        -3.39375000000000017729e-1,
    ],
    [
        2.89578124999999989482e-1,
        -1.05703124999999994527e-1,
        -1.48101562500000013507e-1,
        5.10507812499999980107e-1,
        2.93250000000000013968e-1,
        -4.32593750000000019523e-1,
    ],
    [
        2.06459374999999986585e-1,
        -6.29960937499999944079e-2,
        -2.35506640625000015409e-1,
        3.71605468749999979908e-1,
        3.59377343750000015295e-1,
        -4.94350390625000018850e-1,
    ],
];
const SGD_WD: [[f64; 6]; 3] = [
    [
        3.86374999999999993821e-1,
        -1.65374999999999995991e-1,
        -3.16875000000000089781e-2,
        7.09937499999999985265e-1,
        2.08650000000000011020e-1,
        -3.39175000000000017703e-1,
    ],
    [
        2.88754874999999989429e-1,
        -1.05297124999999994500e-1,
        -1.48107062500000013494e-1,
        5.08993187499999980016e-1,
        2.92907600000000013924e-1,
        -4.31952700000000019440e-1,
    ],
    [
        2.05447213249999986531e-1,
        -6.24768184999999943747e-2,
        -2.35252449500000015359e-1,
        3.69823920874999979820e-1,
        3.58704944900000015212e-1,
        -4.93152302300000018704e-1,
    ],
];
const MOMENTUM: [[f64; 6]; 3] = [
    [
        3.86874999999999993859e-1,
        -1.65624999999999996010e-1,
        -3.15625000000000089685e-2,
        7.10937499999999985342e-1,
        2.08750000000000011033e-1,
        -3.39375000000000017729e-1,
    ],
    [
        1.87765624999999981444e-1,
        -2.97656249999999890626e-2,
        -2.89007812500000025055e-1,
        2.50351562499999960496e-1,
        3.91125000000000021316e-1,
        -5.58031250000000028581e-1,
    ],
    [
        -6.03062500000000351098e-2,
        1.13207031250000017527e-1,
        -5.72092578125000042277e-1,
        -2.23308593750000061841e-1,
        5.99564843750000033117e-1,
        -7.75037890625000037156e-1,
    ],
];
const MOMENTUM_DAMPENED_WD: [[f64; 6]; 3] = [
    [
        3.86374999999999993821e-1,
        -1.65374999999999995991e-1,
        -3.16875000000000089781e-2,
        7.09937499999999985265e-1,
        2.08650000000000011020e-1,
        -3.39175000000000017703e-1,
    ],
    [
        2.35302437499999983541e-1,
        -5.91735624999999897583e-2,
        -2.30916031250000022795e-1,
        3.48409093749999962939e-1,
        3.48563800000000019806e-1,
        -5.10821350000000027602e-1,
    ],
    [
        6.13073783124999700938e-2,
        5.10860703750000172079e-2,
        -4.42992374875000038795e-1,
        -2.18916822812500612868e-2,
        5.01023376225000030444e-1,
        -6.82918605575000037870e-1,
    ],
];
const NESTEROV: [[f64; 6]; 3] = [
    [
        2.85062499999999985820e-1,
        -8.96874999999999905458e-2,
        -1.72468750000000020517e-1,
        4.50781249999999965731e-1,
        3.06625000000000018381e-1,
        -4.64812500000000026788e-1,
    ],
    [
        3.56332812499999698496e-2,
        5.06929687500000144002e-2,
        -4.52268515625000035187e-1,
        -1.26136718750000504667e-2,
        5.13795000000000028759e-1,
        -6.75894687500000032070e-1,
    ],
    [
        -2.01722912500000042947e-1,
        1.38687683593750012963e-1,
        -6.53216352734375039236e-1,
        -2.79875316406250042409e-1,
        6.78372450781250033217e-1,
        -7.80675360546875024579e-1,
    ],
];
const ADAM: [[f64; 6]; 3] = [
    [
        4.00000000883977887187e-1,
        -1.50000001185185165587e-1,
        2.50000006387225452594e-2,
        9.00000000345945939198e-1,
        1.99999999080459789673e-1,
        -2.99999999282511232564e-1,
    ],
    [
        3.00474917659626380015e-1,
        -5.28396702431173614198e-2,
        -7.44131435127215809793e-2,
        8.00661596695014187646e-1,
        2.98495663894343279727e-1,
        -3.99300819600596440928e-1,
    ],
    [
        2.01848875993348913866e-1,
        3.73236566720288894212e-2,
        -1.72703588389030443385e-1,
        7.02606372368919432692e-1,
        3.93727077122627750825e-1,
        -4.97236424496036670490e-1,
    ],
];
const ADAM_L2: [[f64; 6]; 3] = [
    [
        4.00000000846560833843e-1,
        -1.50000001151079117890e-1,
        2.50000006336633567702e-2,
        9.00000000334378258744e-1,
        1.99999999071925773776e-1,
        -2.99999999272065536056e-1,
    ],
    [
        3.00498541415347539902e-1,
        -5.28753282147849126497e-2,
        -7.43762741637948859879e-2,
        8.00652340052315642125e-1,
        2.98363053582388861860e-1,
        -3.99229290667380330259e-1,
    ],
    [
        2.01944453009728469738e-1,
        3.71520914609365411714e-2,
        -1.72550912698848875301e-1,
        7.02567341045703921694e-1,
        3.93117575619032850690e-1,
        -4.96934483366841646138e-1,
    ],
];
const ADAM_BETAS_EPS: [[f64; 6]; 3] = [
    [
        4.50044159858688449425e-1,
        -2.00059189109203903711e-1,
        7.50319157424399557364e-2,
        9.50017291315436819082e-1,
        1.49954065227377132806e-1,
        -2.49964151281591696972e-1,
    ],
    [
        4.00260081132615371799e-1,
        -1.50786147698016835181e-1,
        2.52667255691267823325e-2,
        9.00257050667332512360e-1,
        1.99490699384395587715e-1,
        -2.99695438813229142595e-1,
    ],
    [
        3.50774538331591561059e-1,
        -1.02807662309617640189e-1,
        -2.41439316262662887509e-2,
        8.50887965643398981484e-1,
        2.48260920025706734785e-1,
        -3.49016723253893482135e-1,
    ],
];
const ADAMW: [[f64; 6]; 3] = [
    [
        3.95000000883977886632e-1,
        -1.47500001185185165310e-1,
        2.37500006387225451207e-2,
        8.90000000345945938088e-1,
        1.98999999080459789506e-1,
        -2.97999999282511232231e-1,
    ],
    [
        2.91559900791342654427e-1,
        -4.88832220945805653207e-2,
        -7.58617766006996171965e-2,
        7.81811422983219376426e-1,
        2.95470257365254697352e-1,
        -3.94265320130063560333e-1,
    ],
    [
        1.90114898202716945835e-1,
        4.17948919053551707790e-2,
        -1.73285686492861885840e-1,
        6.76080414989490722470e-1,
        3.87664530585316264398e-1,
        -4.88097772639520765691e-1,
    ],
];

/// A parameter whose gradient becomes zero (a weight on an input that is always zero, such as a
/// blank pixel): its momentum and moments decay, and are flushed to zero rather than held as
/// subnormal numbers, which cost a slow path on every operation on x86 (see `backprop::optim`).
/// Checked in `f32` after every one of 3,000 steps, for every optimizer with state.
#[test]
fn decaying_state_is_flushed_not_subnormal() {
    fn normal_or_zero(values: &[f32]) -> bool {
        values.iter().all(|v| *v == 0.0 || v.abs() >= f32::MIN_POSITIVE)
    }
    let mut grads = Tiny::<f32>::zeroed();
    grads.params_mut().copy_from_slice(&[1.0, -1.0, 0.5, 2.0, 0.25, -0.5]);
    let zero = Tiny::<f32>::zeroed();
    let (mut a, mut b, mut c) = (Tiny::<f32>::zeroed(), Tiny::<f32>::zeroed(), Tiny::<f32>::zeroed());
    let mut adam = Adam::new(0.01f32).unwrap();
    let mut adamw = AdamW::new(0.01f32).unwrap();
    let mut momentum = Momentum::new(0.01f32, 0.9).unwrap();
    adam.step(&mut a, &grads);
    adamw.step(&mut b, &grads);
    momentum.step(&mut c, &grads);
    let moved = a.params().to_vec();
    assert!(moved.iter().all(|&p| p != 0.0), "the first step moved every parameter");
    for step in 0..3000 {
        adam.step(&mut a, &zero);
        adamw.step(&mut b, &zero);
        momentum.step(&mut c, &zero);
        let states = [adam.m.params(), adam.v.params(), adamw.m.params(), adamw.v.params()];
        assert!(states.iter().all(|s| normal_or_zero(s)), "Adam moment subnormal after step {step}");
        assert!(normal_or_zero(momentum.velocity.params()), "velocity subnormal after step {step}");
    }
    // The first moments and the velocity decayed all the way, and reached zero exactly.
    for state in [adam.m.params(), adamw.m.params(), momentum.velocity.params()] {
        assert!(state.iter().all(|&m| m == 0.0), "{state:?}");
    }
    assert!(a.params().iter().chain(c.params()).all(|p| p.is_finite()));
}
