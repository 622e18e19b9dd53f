//! Large networks built in place on the heap (feature `alloc`, on by default with `std`).
//!
//! A 784-128-10 network is 407 kB; a [`Trainer`] with Adam holds four of them. Built by value
//! (`Trainer::new(net, AdamW::new(lr))`, then `Box::new`), each passes through the stack first,
//! which overflows a thread's stack or a small main stack. The constructors here allocate zeroed
//! memory and fill it in place, so nothing of the network's size is ever on the stack.
//!
//! ```
//! use backprop::{network, AdamW, Init, Rng, Trainer};
//! use backprop_core::boxed_zeroed;
//! network! {
//!     /// MNIST-sized.
//!     #[loss(SoftmaxCrossEntropy)]
//!     pub struct Mnist { input: 784, hidden: Dense<128, Relu>, output: Dense<10, Softmax> }
//! }
//! let mut net = boxed_zeroed::<f32, Mnist>();
//! Init::Auto.apply(&mut *net, &mut Rng::new(7)); // in place
//! let mut optimizer = AdamW::boxed(1e-3);
//! optimizer.weight_decay = 1e-4; // a field, not the by-value builder
//! let trainer = Trainer::boxed(net, optimizer);
//! assert_eq!(trainer.steps(), 0);
//! ```

use alloc::alloc::{Layout, alloc_zeroed, handle_alloc_error};
use alloc::boxed::Box;

use crate::{Adam, AdamW, Momentum, Network, Optimizer, Params, Scalar, Trainer};

/// A `Box<X>` of all-zero bits, allocated directly on the heap.
///
/// # Safety
///
/// All-zero bits must be a valid value of `X`.
unsafe fn zeroed_box<X>() -> Box<X> {
    let layout = Layout::new::<X>();
    if layout.size() == 0 {
        // SAFETY: a dangling, aligned pointer is a valid box of a zero-sized type, whose only
        // value (no bits) the caller vouches for.
        return unsafe { Box::from_raw(core::ptr::NonNull::<X>::dangling().as_ptr()) };
    }
    // SAFETY: the layout's size is not zero.
    let ptr = unsafe { alloc_zeroed(layout) };
    if ptr.is_null() {
        handle_alloc_error(layout);
    }
    // SAFETY: `ptr` was allocated by the global allocator with `X`'s layout, and holds zero
    // bits, a valid `X` by the caller's promise.
    unsafe { Box::from_raw(ptr.cast::<X>()) }
}

/// A network (or any [`Params`] value: a gradient, a layer) whose parameters are all zero,
/// allocated directly on the heap: [`Network::zeroed`] without the trip through the stack.
///
/// ```
/// use backprop_core::{boxed_zeroed, Dense, Params};
/// let layer = boxed_zeroed::<f64, Dense<f64, 784, 128>>();
/// assert!(layer.params().iter().all(|&p| p == 0.0));
/// ```
pub fn boxed_zeroed<T: Scalar, P: Params<T>>() -> Box<P> {
    // SAFETY: by the `Params` contract `P` is exactly `LEN` values of `T` (`f32` or `f64`) and
    // nothing else, and all-zero bits are `+0.0` in both.
    unsafe { zeroed_box::<P>() }
}

macro_rules! boxed_adam {
    ($name:ident, $decay:literal) => {
        impl<T: Scalar, N: Network<T>> $name<T, N> {
            /// As [`new`](Self::new), built in place on the heap (its moments `m` and `v` have
            /// the network's size). Change the other settings through the fields.
            pub fn boxed(lr: T) -> Box<Self> {
                // SAFETY: every field is a scalar `T` (zero is `0.0`), an `N: Params<T>` (all
                // `T`s, see `boxed_zeroed`) or the `u64` step count: all-zero bits are valid.
                let mut adam = unsafe { zeroed_box::<Self>() };
                adam.lr = lr;
                adam.beta1 = T::from_f64(0.9);
                adam.beta2 = T::from_f64(0.999);
                adam.eps = T::from_f64(1e-8);
                adam.weight_decay = T::from_f64($decay);
                adam
            }
        }
    };
}

boxed_adam!(Adam, 0.0);
boxed_adam!(AdamW, 1e-2);

impl<T: Scalar, N: Network<T>> Momentum<T, N> {
    /// As [`new`](Self::new), built in place on the heap (its velocity has the network's size).
    /// Change the other settings through the fields.
    pub fn boxed(lr: T, momentum: T) -> Box<Self> {
        // SAFETY: every field is a scalar `T`, an `N: Params<T>` or a `bool` (zero is `false`):
        // all-zero bits are valid.
        let mut optimizer = unsafe { zeroed_box::<Self>() };
        optimizer.lr = lr;
        optimizer.momentum = momentum;
        optimizer
    }
}

impl<T: Scalar, N: Network<T>, O: Optimizer<T, N>> Trainer<T, N, O> {
    /// As [`new`](Self::new), built in place on the heap from a network and an optimizer that
    /// are already there ([`boxed_zeroed`], [`AdamW::boxed`]): the network and the optimizer's
    /// state are moved from heap to heap, the gradient is allocated zeroed.
    pub fn boxed(net: Box<N>, optimizer: Box<O>) -> Box<Self> {
        let mut trainer = Box::<Self>::new_uninit();
        let this = trainer.as_mut_ptr();
        // SAFETY: `this` points to an allocation for a `Self`; each field is written exactly once
        // through a raw field pointer (no reference to uninitialised memory is made):
        // - `net` and `optimizer` are moved bitwise out of their boxes, whose memory is then
        //   freed without dropping the values (`Box<MaybeUninit<_>>`), which is a move;
        // - `grads` is all-zero bits, a valid `N` by the `Params` contract (see `boxed_zeroed`);
        // - the step count is written, and the `PhantomData` needs no bytes.
        // All fields are then initialised, so the box holds a valid `Self`.
        unsafe {
            let net = Box::into_raw(net);
            (&raw mut (*this).net).copy_from_nonoverlapping(net, 1);
            drop(Box::from_raw(net.cast::<core::mem::MaybeUninit<N>>()));
            let optimizer = Box::into_raw(optimizer);
            (&raw mut (*this).optimizer).copy_from_nonoverlapping(optimizer, 1);
            drop(Box::from_raw(optimizer.cast::<core::mem::MaybeUninit<O>>()));
            (&raw mut (*this).grads).write_bytes(0, 1);
            (&raw mut (*this).steps).write(0);
            (&raw mut (*this)._scalar).write(core::marker::PhantomData);
            trainer.assume_init()
        }
    }
}
