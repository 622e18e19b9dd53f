//! How well a network does on a data set: loss, accuracy, predicted classes, confusion.

use crate::network::Network;
use crate::{Scalar, TrainError};

/// The index of the largest value (the first one on ties; NaN never wins). `0` for an empty slice.
///
/// ```
/// assert_eq!(backprop_core::metrics::argmax(&[0.1f32, 0.7, 0.2]), 1);
/// ```
pub fn argmax<T: Scalar>(values: &[T]) -> usize {
    let mut best: Option<(usize, T)> = None;
    for (i, &v) in values.iter().enumerate() {
        // `partial_cmp` with itself is `None` only for NaN.
        if v.partial_cmp(&v).is_some() && best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map_or(0, |(i, _)| i)
}

/// The class a vector stands for: its [`argmax`], or for a single output (a sigmoid with binary
/// cross-entropy) `1` if it is at least `0.5`, else `0`.
pub fn class_of<T: Scalar>(values: &[T]) -> usize {
    match values {
        [y] => usize::from(*y >= T::HALF),
        _ => argmax(values),
    }
}

/// The class the network predicts for `x` ([`class_of`] its output). See [`try_predict`] for an
/// output that is not finite.
pub fn predict<T: Scalar, N: Network<T>>(net: &N, x: &N::Input) -> usize {
    class_of(net.forward(x).as_ref())
}

/// The class the network predicts for `x`, or `None` if any of its outputs is infinite or NaN (a
/// network whose parameters went non-finite predicts nothing; [`class_of`] of a NaN output would
/// be class `0`).
///
/// ```
/// use backprop::{network, Dense};
/// use backprop::metrics::try_predict;
/// network! {
///     /// Two classes.
///     #[loss(SoftmaxCrossEntropy)]
///     pub struct Two { input: 1, output: Dense<2, Softmax> }
/// }
/// let mut net = Two::<f64>::new(Dense::new([[-1.0], [1.0]], [0.0, 0.0]));
/// assert_eq!(try_predict(&net, &[2.0]), Some(1));
/// net.output.b[0] = f64::NAN;
/// assert_eq!(try_predict(&net, &[2.0]), None);
/// ```
pub fn try_predict<T: Scalar, N: Network<T>>(net: &N, x: &N::Input) -> Option<usize> {
    let y = net.forward(x);
    let y = y.as_ref();
    y.iter().all(|v| v.is_finite()).then(|| class_of(y))
}

/// Mean loss and accuracy of a network on a data set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// The mean per-sample loss (summed in `f64`).
    pub loss: f64,
    /// The fraction of samples whose predicted class ([`try_predict`]) is the target's class
    /// ([`class_of`] the target), in `[0, 1]`. A sample whose output is not finite is wrong.
    pub accuracy: f64,
    /// Samples evaluated.
    pub samples: usize,
    /// Samples whose output had an infinite or NaN value (counted as wrong).
    pub non_finite: usize,
}

/// The mean loss and the accuracy of `net` on `inputs` and `targets`, or
/// [`TrainError::LengthMismatch`] when they are not as many. Both are `NaN` for an empty data set. A sample whose output is not finite counts as wrong
/// (and in [`Evaluation::non_finite`]), whatever its target.
///
/// ```
/// use backprop::{network, Dense};
/// use backprop::metrics::evaluate;
/// network! {
///     /// Two classes.
///     #[loss(SoftmaxCrossEntropy)]
///     pub struct Two { input: 1, output: Dense<2, Softmax> }
/// }
/// // Class 1 exactly when x > 0.
/// let mut net = Two::<f64>::new(Dense::new([[-1.0], [1.0]], [0.0, 0.0]));
/// let e = evaluate(&net, &[[2.0], [-1.0], [3.0]], &[[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])?;
/// assert_eq!(e.accuracy, 2.0 / 3.0);
/// assert_eq!((e.samples, e.non_finite), (3, 0));
/// net.output.b[1] = f64::NAN;
/// let e = evaluate(&net, &[[2.0], [-1.0], [3.0]], &[[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])?;
/// assert_eq!((e.accuracy, e.non_finite), (0.0, 3));
/// assert!(evaluate(&net, &[[2.0]], &[[0.0, 1.0], [1.0, 0.0]]).is_err()); // 1 input, 2 targets
/// # Ok::<(), backprop::TrainError>(())
/// ```
pub fn evaluate<T: Scalar, N: Network<T>>(
    net: &N,
    inputs: &[N::Input],
    targets: &[N::Output],
) -> Result<Evaluation, TrainError> {
    same_length(inputs, targets)?;
    let (mut loss, mut correct, mut samples, mut non_finite) = (0.0, 0usize, 0usize, 0usize);
    for (x, t) in inputs.iter().zip(targets) {
        loss += net.loss(x, t).to_f64();
        match try_predict(net, x) {
            Some(class) => correct += usize::from(class == class_of(t.as_ref())),
            None => non_finite += 1,
        }
        samples += 1;
    }
    let n = samples as f64;
    Ok(Evaluation { loss: loss / n, accuracy: correct as f64 / n, samples, non_finite })
}

/// [`TrainError::LengthMismatch`] unless there are as many targets as inputs.
fn same_length<X, Y>(inputs: &[X], targets: &[Y]) -> Result<(), TrainError> {
    if inputs.len() == targets.len() {
        Ok(())
    } else {
        Err(TrainError::LengthMismatch { inputs: inputs.len(), targets: targets.len() })
    }
}

/// The fraction of samples classified right (see [`evaluate`]: a non-finite output is wrong;
/// inputs and targets must be as many).
pub fn accuracy<T: Scalar, N: Network<T>>(
    net: &N,
    inputs: &[N::Input],
    targets: &[N::Output],
) -> Result<f64, TrainError> {
    same_length(inputs, targets)?;
    let correct =
        inputs.iter().zip(targets).filter(|(x, t)| try_predict(net, x) == Some(class_of(t.as_ref()))).count();
    Ok(correct as f64 / inputs.len() as f64)
}

/// The mean per-sample loss (see [`evaluate`]; inputs and targets must be as many).
pub fn mean_loss<T: Scalar, N: Network<T>>(
    net: &N,
    inputs: &[N::Input],
    targets: &[N::Output],
) -> Result<f64, TrainError> {
    same_length(inputs, targets)?;
    let sum: f64 = inputs.iter().zip(targets).map(|(x, t)| net.loss(x, t).to_f64()).sum();
    Ok(sum / inputs.len() as f64)
}

/// The confusion matrix of a `K`-class classifier: `m[true][predicted]` counts samples.
/// Classes at or above `K`, and samples whose output is not finite (no prediction, see
/// [`try_predict`]), are not counted.
///
/// ```
/// use backprop::{network, Dense};
/// use backprop::metrics::confusion_matrix;
/// network! {
///     /// Two classes.
///     #[loss(SoftmaxCrossEntropy)]
///     pub struct Two { input: 1, output: Dense<2, Softmax> }
/// }
/// let net = Two::<f64>::new(Dense::new([[-1.0], [1.0]], [0.0, 0.0]));
/// let (xs, ts) = ([[2.0], [-1.0], [3.0]], [[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]);
/// let m = confusion_matrix::<f64, Two<f64>, 2>(&net, &xs, &ts)?;
/// assert_eq!(m, [[1, 1], [0, 1]]);
/// # Ok::<(), backprop::TrainError>(())
/// ```
pub fn confusion_matrix<T: Scalar, N: Network<T>, const K: usize>(
    net: &N,
    inputs: &[N::Input],
    targets: &[N::Output],
) -> Result<[[usize; K]; K], TrainError> {
    same_length(inputs, targets)?;
    let mut m = [[0; K]; K];
    for (x, t) in inputs.iter().zip(targets) {
        let (truth, Some(guess)) = (class_of(t.as_ref()), try_predict(net, x)) else { continue };
        if truth < K && guess < K {
            m[truth][guess] += 1;
        }
    }
    Ok(m)
}
