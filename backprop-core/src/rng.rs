//! A small, fast, seedable generator: the same seed gives the same numbers on every target.

use crate::error::RngError;

/// The most words [`RandomSource::below`] draws before it gives up rejection sampling and returns
/// its last candidate: a uniform source needs more than this with probability below `2⁻⁶⁴`.
pub const MAX_REJECTIONS: u32 = 64;

/// SplitMix64 (Steele, Lea and Flood, 2014): 64 bits of state, one multiply-xorshift chain per
/// output, passes BigCrush. Enough for initialisation, shuffling and random probe directions; not
/// for cryptography.
///
/// ```
/// use backprop_core::Rng;
/// let mut a = Rng::new(42);
/// let mut b = Rng::new(42);
/// assert_eq!(a.next_u64(), b.next_u64());
/// let u = a.next_f64();
/// assert!((0.0..1.0).contains(&u));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator from a seed (any value, zero included).
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, with 53 random bits.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        RandomSource::next_f64(self)
    }

    /// Uniform in `[low, high)`.
    #[inline]
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        RandomSource::uniform(self, low, high)
    }

    /// Standard normal (mean 0, variance 1), by the Box-Muller transform.
    pub fn normal(&mut self) -> f64 {
        RandomSource::normal(self)
    }

    /// Uniform in `0..n` without modulo bias (Lemire's method); `0` when `n` is `0`. See
    /// [`RandomSource::below`].
    pub fn below(&mut self, n: usize) -> usize {
        RandomSource::below(self, n)
    }

    /// `+1` or `-1`, each with probability one half.
    #[inline]
    pub fn sign(&mut self) -> f64 {
        if self.next_u64() >> 63 == 0 { 1.0 } else { -1.0 }
    }
}

/// A source of random 64-bit words: [`Rng`], and with the `rand_core` feature any
/// `rand_core::RngCore` (0.9), for example a microcontroller's hardware generator.
///
/// The initialisers ([`Init`](crate::Init)) and [`shuffle`] take any source. Every derived value
/// (uniform, normal, bounded integer) is computed from the words in `f64` with `libm`, so the
/// same words give the same values on every target.
///
/// ```
/// use backprop_core::{RandomSource, Rng};
/// /// A source that counts: not random, but a source all the same.
/// struct Counter(u64);
/// impl RandomSource for Counter {
///     fn next_u64(&mut self) -> u64 {
///         self.0 += 1;
///         self.0 << 40
///     }
/// }
/// let mut c = Counter(0);
/// assert!(c.next_f64() < 1.0);
/// let mut r = Rng::new(3);
/// assert!(RandomSource::below(&mut r, 10) < 10);
/// ```
pub trait RandomSource {
    /// The next 64 random bits.
    fn next_u64(&mut self) -> u64;

    /// Uniform in `[0, 1)`, from the top 53 bits of one word.
    #[inline]
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[low, high)`.
    #[inline]
    fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next_f64()
    }

    /// Standard normal (mean 0, variance 1), by the Box-Muller transform (two words per value;
    /// the sine half is not kept, so a value depends only on the two words drawn for it).
    fn normal(&mut self) -> f64 {
        // 1 - u is in (0, 1], so the logarithm is finite.
        let u = 1.0 - self.next_f64();
        let v = self.next_f64();
        libm::sqrt(-2.0 * libm::log(u)) * libm::cos(core::f64::consts::TAU * v)
    }

    /// Uniform in `0..n` without modulo bias (Lemire's method); `0` when `n` is `0`.
    ///
    /// The work is bounded whatever the source: Lemire's method rejects a word with probability
    /// below `n / 2⁶⁴` (at most one half), and after [`MAX_REJECTIONS`] rejected words in a row,
    /// which a uniform source does with probability below `2⁻⁶⁴`, the last candidate is returned
    /// as it is (still in `0..n`, only no longer exactly uniform). A source stuck at one word
    /// thus gives a fixed value instead of an endless loop.
    ///
    /// An implementation that overrides this must return a value in `0..n` (`0` for `n = 0`);
    /// [`shuffle`] checks it and returns an [`RngError`] otherwise.
    ///
    /// ```
    /// use backprop_core::RandomSource;
    /// /// A broken source: always the same word.
    /// struct Stuck;
    /// impl RandomSource for Stuck {
    ///     fn next_u64(&mut self) -> u64 { 0 }
    /// }
    /// assert_eq!(Stuck.below(3), 0); // 64 words rejected, then the last candidate
    /// ```
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let n = n as u64;
        let threshold = n.wrapping_neg() % n;
        let mut candidate = 0;
        for _ in 0..MAX_REJECTIONS {
            let product = u128::from(self.next_u64()) * u128::from(n);
            candidate = (product >> 64) as usize;
            if product as u64 >= threshold {
                break;
            }
        }
        candidate
    }
}

impl RandomSource for Rng {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        Rng::next_u64(self)
    }
}

#[cfg(feature = "rand_core")]
#[cfg_attr(docsrs, doc(cfg(feature = "rand_core")))]
impl<R: rand_core::RngCore + ?Sized> RandomSource for R {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        rand_core::RngCore::next_u64(self)
    }
}

/// Shuffles `items` in place, every order equally likely (Fisher-Yates, as Durstenfeld wrote it:
/// for `i` from the end down to `1`, swap item `i` with a uniform pick among `0..=i`).
///
/// `items.len() - 1` calls to [`RandomSource::below`], each bounded. An error if the source's
/// `below(i + 1)` returns a value above `i` (only an overriding implementation can): `items` is
/// then left a permutation of what it was, partly shuffled.
///
/// Shuffle an index array rather than the data when inputs and targets live in two arrays:
///
/// ```
/// use backprop_core::Rng;
/// use backprop_core::data::shuffle;
/// let mut order: [usize; 6] = core::array::from_fn(|i| i);
/// shuffle(&mut order, &mut Rng::new(42))?;
/// let mut sorted = order;
/// sorted.sort();
/// assert_eq!(sorted, [0, 1, 2, 3, 4, 5]);
/// # Ok::<(), backprop_core::error::RngError>(())
/// ```
pub fn shuffle<E, R: RandomSource + ?Sized>(items: &mut [E], rng: &mut R) -> Result<(), RngError> {
    for i in (1..items.len()).rev() {
        let j = rng.below(i + 1);
        // Item `i` with item `j < i` (`j == i` leaves it), through checked access: no panic path.
        let Some((last, head)) = items.get_mut(..=i).and_then(<[E]>::split_last_mut) else { break };
        match head.get_mut(j) {
            Some(other) => core::mem::swap(last, other),
            None if j == i => {}
            None => return Err(RngError::OutOfRange { value: j, bound: i + 1 }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_first_outputs() {
        // Reference values of SplitMix64 with seed 1234567 (from the published C reference).
        let mut r = Rng::new(1234567);
        assert_eq!(r.next_u64(), 6457827717110365317);
        assert_eq!(r.next_u64(), 3203168211198807973);
    }

    #[test]
    #[cfg_attr(miri, ignore = "safe code (no unsafe below it), slow under Miri")]
    fn moments_are_plausible() {
        let mut r = Rng::new(7);
        let n = 20_000;
        let (mut sum, mut sum_sq) = (0.0, 0.0);
        for _ in 0..n {
            let x = r.normal();
            sum += x;
            sum_sq += x * x;
        }
        let mean = sum / n as f64;
        let var = sum_sq / n as f64 - mean * mean;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "{mean} {var}");
        let mut counts = [0; 3];
        for _ in 0..3000 {
            counts[r.below(3)] += 1;
        }
        assert!(counts.iter().all(|&c| (900..1100).contains(&c)), "{counts:?}");
    }

    #[test]
    fn shuffle_matches_an_independent_implementation() {
        // Recorded once from a Python implementation of SplitMix64, Lemire's bounded integers
        // and the same Fisher-Yates loop (`for i in range(n-1, 0, -1): j = below(i+1)`),
        // written from the papers, not from this file.
        let mut order: [usize; 10] = core::array::from_fn(|i| i);
        shuffle(&mut order, &mut Rng::new(42)).unwrap();
        assert_eq!(order, SHUFFLED_42);
    }

    const SHUFFLED_42: [usize; 10] = [8, 3, 6, 5, 4, 0, 9, 2, 1, 7];

    #[test]
    #[cfg_attr(miri, ignore = "safe code (no unsafe below it), slow under Miri")]
    fn shuffle_is_a_uniform_permutation() {
        // Every one of the 6 orders of 3 items, 6000 times: each count within 5 sigma of 1000.
        let mut rng = Rng::new(9);
        let mut counts = [0u32; 6];
        for _ in 0..6000 {
            let mut v = [0u8, 1, 2];
            shuffle(&mut v, &mut rng).unwrap();
            let code = match v {
                [0, 1, 2] => 0,
                [0, 2, 1] => 1,
                [1, 0, 2] => 2,
                [1, 2, 0] => 3,
                [2, 0, 1] => 4,
                [2, 1, 0] => 5,
                _ => unreachable!("not a permutation: {v:?}"),
            };
            counts[code] += 1;
        }
        assert!(counts.iter().all(|&c| (850..1150).contains(&c)), "{counts:?}");
        let mut empty: [u8; 0] = [];
        shuffle(&mut empty, &mut rng).unwrap();
        let mut one = [7];
        shuffle(&mut one, &mut rng).unwrap();
        assert_eq!(one, [7]);
    }

    /// A source stuck at one word, whichever: `below` draws at most `MAX_REJECTIONS` words and
    /// returns a value in range, so a shuffle ends (with a permutation).
    #[test]
    fn a_stuck_source_gives_bounded_work() {
        struct Stuck(u64, u32);
        impl RandomSource for Stuck {
            fn next_u64(&mut self) -> u64 {
                self.1 += 1;
                self.0
            }
        }
        for word in [0, 1, u64::MAX, 1 << 63] {
            for n in [1, 2, 3, 7, 10, 1000, usize::MAX] {
                let mut source = Stuck(word, 0);
                assert!(source.below(n) < n, "{word} {n}");
                assert!(source.1 <= MAX_REJECTIONS, "{word} {n}: {} words", source.1);
            }
            let mut order: [usize; 50] = core::array::from_fn(|i| i);
            shuffle(&mut order, &mut Stuck(word, 0)).unwrap();
            let mut sorted = order;
            sorted.sort_unstable();
            assert!(sorted.iter().enumerate().all(|(i, &v)| i == v));
        }
        // The bound changes nothing for a uniform source: the recorded shuffle above still holds,
        // and `below` of a power of two never rejects.
        let mut r = Rng::new(1);
        let mut copy = r.clone();
        assert_eq!(r.below(8), (copy.next_u64() >> 61) as usize);
    }

    #[test]
    fn an_out_of_range_below_is_an_error() {
        struct Liar;
        impl RandomSource for Liar {
            fn next_u64(&mut self) -> u64 {
                0
            }
            fn below(&mut self, n: usize) -> usize {
                n
            }
        }
        let mut items = [1, 2, 3, 4];
        assert_eq!(shuffle(&mut items, &mut Liar), Err(RngError::OutOfRange { value: 4, bound: 4 }));
        assert_eq!(items, [1, 2, 3, 4]);
    }

    /// Any `rand_core::RngCore` is a source: here a generator that wraps SplitMix64 behind
    /// rand_core's trait gives exactly the values of the built-in one.
    #[cfg(feature = "rand_core")]
    #[test]
    fn rand_core_generators_are_sources() {
        struct Hardware(Rng);
        impl rand_core::RngCore for Hardware {
            fn next_u32(&mut self) -> u32 {
                (self.0.next_u64() >> 32) as u32
            }
            fn next_u64(&mut self) -> u64 {
                self.0.next_u64()
            }
            fn fill_bytes(&mut self, dst: &mut [u8]) {
                rand_core::impls::fill_bytes_via_next(self, dst)
            }
        }
        let mut hw = Hardware(Rng::new(42));
        let mut order: [usize; 10] = core::array::from_fn(|i| i);
        shuffle(&mut order, &mut hw).unwrap();
        assert_eq!(order, SHUFFLED_42);
        // Through a `&mut`, as a driver usually lends its generator.
        let mut hw = Hardware(Rng::new(5));
        let mut by_ref = &mut hw;
        let mut builtin = Rng::new(5);
        assert_eq!(RandomSource::normal(&mut by_ref), builtin.normal());
    }
}
