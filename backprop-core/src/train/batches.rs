//! Mini-batches of a data set in a shuffled order.

use crate::error::TrainError;

/// The mini-batches of one pass over a data set, in the order of an index array: each item is
/// `B` inputs and their `B` targets, copied into arrays (as the batch methods of [`Network`](crate::Network)
/// take them). Only full batches are yielded; the indices of the last `len % B` samples are in
/// [`remainder`](Batches::remainder) (PyTorch's `drop_last`, with the rest still at hand).
///
/// ```
/// use backprop_core::Rng;
/// use backprop_core::data::{batches, fill_indices, shuffle};
/// let inputs = [[0.0f32], [1.0], [2.0], [3.0], [4.0]];
/// let targets = [[0.0f32], [10.0], [20.0], [30.0], [40.0]];
/// let mut order = [0; 5];
/// fill_indices(&mut order);
/// shuffle(&mut order, &mut Rng::new(1));
/// let mut it = batches::<_, _, 2>(&inputs, &targets, &order).unwrap();
/// assert_eq!(it.len(), 2);
/// for (xs, ts) in &mut it {
///     for (x, t) in xs.iter().zip(&ts) {
///         assert_eq!(t[0], 10.0 * x[0]);
///     }
/// }
/// assert_eq!(it.remainder().len(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct Batches<'a, X, Y, const B: usize> {
    inputs: &'a [X],
    targets: &'a [Y],
    order: &'a [usize],
    next: usize,
}

/// The mini-batches of `B` samples of `inputs` and `targets` in the order `order` (indices into
/// both). An error if `inputs` and `targets` differ in length. `B = 0` does not compile.
///
/// Each batch is returned by value: `B` inputs and `B` targets on the stack of the caller of
/// `next` (for large batches of large inputs, gather them in place instead, as
/// [`Trainer::epoch`](crate::Trainer::epoch) does).
///
/// ```compile_fail
/// let xs = [[0.0f32]; 4];
/// let it = backprop_core::batches::<_, _, 0>(&xs, &xs, &[0, 1, 2, 3]); // B = 0
/// ```
///
/// # Panics
///
/// When an index of `order` is out of bounds, as slice indexing does.
pub fn batches<'a, X: Copy, Y: Copy, const B: usize>(
    inputs: &'a [X],
    targets: &'a [Y],
    order: &'a [usize],
) -> Result<Batches<'a, X, Y, B>, TrainError> {
    const { assert!(B > 0, "a batch of zero samples: B must be at least 1") };
    if inputs.len() != targets.len() {
        return Err(TrainError::LengthMismatch { inputs: inputs.len(), targets: targets.len() });
    }
    Ok(Batches { inputs, targets, order, next: 0 })
}

impl<'a, X: Copy, Y: Copy, const B: usize> Batches<'a, X, Y, B> {
    /// The indices left over after the full batches: fewer than `B`.
    pub fn remainder(&self) -> &'a [usize] {
        let full = self.order.len().checked_div(B).map_or(0, |batches| batches * B);
        &self.order[full..]
    }

    /// The indices of the next full batch, if there is one, and a step past it.
    pub(crate) fn advance(&mut self) -> Option<&'a [usize]> {
        let end = self.next.checked_add(B)?;
        if B == 0 || end > self.order.len() {
            return None;
        }
        let indices = &self.order[self.next..end];
        self.next = end;
        Some(indices)
    }
}

impl<X: Copy, Y: Copy, const B: usize> Iterator for Batches<'_, X, Y, B> {
    type Item = ([X; B], [Y; B]);

    fn next(&mut self) -> Option<Self::Item> {
        let idx = self.advance()?;
        Some((core::array::from_fn(|k| self.inputs[idx[k]]), core::array::from_fn(|k| self.targets[idx[k]])))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.order.len() - self.next.min(self.order.len())).checked_div(B).unwrap_or(0);
        (left, Some(left))
    }
}

impl<X: Copy, Y: Copy, const B: usize> ExactSizeIterator for Batches<'_, X, Y, B> {}
