//! The memory floor of the W4 single-sample train step: its first layer's weights (784 × 128
//! `f32`, 401 kB) live in L2, not L1 (48 kB here), and a step must stream them twice: read once by
//! the forward pass (`W x`), then read and written once by the update (`W += step · delta xᵀ`). No
//! kernel can beat the time of those two streams, whatever its arithmetic; [`read`] and
//! [`read_modify_write`] time them alone, on 64-byte-aligned memory (the best case).
//!
//! Both are compiled for AVX2 when the CPU has it (checked at run time): 32-byte loads, two per
//! cycle, ask more than L2 can deliver, so the time measured is the memory's.

/// Rows and columns of the streamed matrix: W4's first layer.
pub const ROWS: usize = 128;
/// See [`ROWS`].
pub const COLS: usize = 784;

/// A matrix of W4's first-layer shape, 64-byte aligned.
#[repr(C, align(64))]
pub struct Matrix(pub [[f32; COLS]; ROWS]);

impl Matrix {
    /// On the heap, every entry `value`.
    pub fn boxed(value: f32) -> Box<Self> {
        let mut m = crate::workload::boxed_zeroed::<Self>();
        for row in &mut m.0 {
            row.fill(value);
        }
        m
    }
}

// SAFETY: one array of `f32`s (the alignment adds no padding: 784 × 128 × 4 bytes is a multiple
// of 64).
unsafe impl crate::workload::Zeroable for Matrix {}

/// The sum of every entry, in 8 independent accumulators of 8 lanes (so that the adds keep up with
/// the loads): one read of the whole matrix.
pub fn read(m: &Matrix) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { read_avx2(m) };
    }
    read_portable(m)
}

/// `m[o][i] += d[o] · x[i]`: one read and one write of the whole matrix, as the update does.
pub fn read_modify_write(m: &mut Matrix, x: &[f32; COLS], d: &[f32; ROWS]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { read_modify_write_avx2(m, x, d) };
    }
    read_modify_write_portable(m, x, d)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn read_avx2(m: &Matrix) -> f32 {
    read_portable(m)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn read_modify_write_avx2(m: &mut Matrix, x: &[f32; COLS], d: &[f32; ROWS]) {
    read_modify_write_portable(m, x, d)
}

#[inline(always)]
fn read_portable(m: &Matrix) -> f32 {
    let mut acc = [[0.0f32; 8]; 8];
    let (chunks, rest) = m.0.as_flattened().as_chunks::<64>();
    for chunk in chunks {
        for (acc, values) in acc.iter_mut().zip(chunk.as_chunks::<8>().0) {
            for (a, v) in acc.iter_mut().zip(values) {
                *a += v;
            }
        }
    }
    acc.as_flattened().iter().chain(rest).sum()
}

#[inline(always)]
fn read_modify_write_portable(m: &mut Matrix, x: &[f32; COLS], d: &[f32; ROWS]) {
    for (row, &d) in m.0.iter_mut().zip(d) {
        for (w, &x) in row.iter_mut().zip(x) {
            *w += d * x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_compute_what_they_say() {
        let mut m = Matrix::boxed(0.5);
        assert_eq!(read(&m), 0.5 * (ROWS * COLS) as f32);
        let x: [f32; COLS] = core::array::from_fn(|i| i as f32);
        let d: [f32; ROWS] = core::array::from_fn(|o| if o == 3 { 2.0 } else { 0.0 });
        read_modify_write(&mut m, &x, &d);
        assert_eq!(m.0[3][10], 0.5 + 20.0);
        assert_eq!(m.0[4][10], 0.5);
        assert_eq!(core::mem::align_of_val(&*m), 64);
    }
}
