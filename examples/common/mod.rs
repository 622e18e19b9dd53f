//! What the examples (and the tests that use the real data) share: loading the bundled data
//! sets, a fixed-seed train/test split, and saving and loading weights.
// Each example uses only part of this module.
#![allow(dead_code)]

use std::error::Error;
use std::io::Read;
use std::path::{Path, PathBuf};

use backprop::data::{one_hot_all, shuffle};
use backprop::{Rng, TrainError};
use flate2::read::GzDecoder;

pub mod plot;

/// A data set in memory: inputs scaled to `[0, 1]`, one-hot targets, and the labels.
pub struct Dataset<const I: usize> {
    pub inputs: Vec<[f32; I]>,
    pub targets: Vec<[f32; 10]>,
    pub labels: Vec<u8>,
}

impl<const I: usize> Dataset<I> {
    /// The samples `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Self {
        Self {
            inputs: indices.iter().map(|&i| self.inputs[i]).collect(),
            targets: indices.iter().map(|&i| self.targets[i]).collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// A fixed-seed split: `test` samples for testing, the rest for training.
    pub fn split(&self, test: usize, seed: u64) -> (Self, Self) {
        let mut order: Vec<usize> = (0..self.len()).collect();
        shuffle(&mut order, &mut Rng::new(seed)).expect("Rng is a valid source");
        let (test_idx, train_idx) = order.split_at(test);
        (self.subset(train_idx), self.subset(test_idx))
    }
}

/// The examples' data directory.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join("data")
}

/// Where the examples write their outputs (weights, plots): `target/examples-out/`.
pub fn out_dir() -> Result<PathBuf, Box<dyn Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("examples-out");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn gunzip(path: &Path) -> Result<Vec<u8>, Box<dyn Error>> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot decompress {}: {e}", path.display()))?;
    Ok(bytes)
}

fn labelled<const I: usize>(inputs: Vec<[f32; I]>, labels: Vec<u8>) -> Result<Dataset<I>, TrainError> {
    let mut targets = vec![[0.0; 10]; labels.len()];
    one_hot_all(&labels, &mut targets)?;
    Ok(Dataset { inputs, targets, labels })
}

/// The 1,797 UCI digits: 8×8 pixels `0..=16`, scaled to `[0, 1]`.
pub fn load_digits() -> Result<Dataset<64>, Box<dyn Error>> {
    let path = data_dir().join("digits.csv.gz");
    let text = String::from_utf8(gunzip(&path)?)?;
    let (mut inputs, mut labels) = (Vec::new(), Vec::new());
    for (line_no, line) in text.lines().enumerate() {
        let values: Vec<u8> = line
            .split(',')
            .map(|v| v.trim().parse::<u8>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: line {}: {e}", path.display(), line_no + 1))?;
        let [pixels @ .., label] = &values[..] else { unreachable!("split yields at least one field") };
        let pixels: [u8; 64] = pixels.try_into().map_err(|_| {
            format!("{}: line {}: {} values, expected 65", path.display(), line_no + 1, values.len())
        })?;
        inputs.push(pixels.map(|p| f32::from(p) / 16.0));
        labels.push(*label);
    }
    if inputs.len() != 1797 {
        return Err(format!("{}: {} rows, expected 1797", path.display(), inputs.len()).into());
    }
    Ok(labelled(inputs, labels)?)
}

/// The 10,000 MNIST digits: 28×28 pixels `0..=255`, scaled to `[0, 1]`.
pub fn load_mnist() -> Result<Dataset<784>, Box<dyn Error>> {
    let path = data_dir().join("mnist-10k.bin.gz");
    let bytes = gunzip(&path)?;
    if bytes.len() != 10_000 * 785 {
        return Err(format!("{}: {} bytes, expected 7850000", path.display(), bytes.len()).into());
    }
    let (mut inputs, mut labels) = (Vec::new(), Vec::new());
    for record in bytes.chunks_exact(785) {
        labels.push(record[0]);
        inputs.push(core::array::from_fn(|i| f32::from(record[1 + i]) / 255.0));
    }
    Ok(labelled(inputs, labels)?)
}

/// The weights file: `BPW1`, the scalar tag (`4` for `f32`), the parameter count as a
/// little-endian `u32`, then every parameter as little-endian `f32`, in `params()` order.
const MAGIC: &[u8; 4] = b"BPW1";

pub fn save_weights(path: &Path, params: &[f32]) -> Result<(), Box<dyn Error>> {
    let mut bytes = Vec::with_capacity(9 + 4 * params.len());
    bytes.extend_from_slice(MAGIC);
    bytes.push(4);
    bytes.extend_from_slice(&u32::try_from(params.len())?.to_le_bytes());
    for p in params {
        bytes.extend_from_slice(&p.to_le_bytes());
    }
    std::fs::write(path, bytes)?;
    Ok(())
}

/// Reads a weights file into `params`, checking the header and the count.
pub fn load_weights(path: &Path, params: &mut [f32]) -> Result<(), Box<dyn Error>> {
    let bytes = std::fs::read(path)?;
    let bad = |what: &str| format!("{}: {what}", path.display());
    if bytes.len() < 9 || &bytes[..4] != MAGIC || bytes[4] != 4 {
        return Err(bad("not an f32 weights file").into());
    }
    let count = u32::from_le_bytes(bytes[5..9].try_into()?) as usize;
    if count != params.len() || bytes.len() != 9 + 4 * count {
        return Err(bad(&format!("{count} parameters, the network has {}", params.len())).into());
    }
    for (p, chunk) in params.iter_mut().zip(bytes[9..].chunks_exact(4)) {
        *p = f32::from_le_bytes(chunk.try_into()?);
    }
    Ok(())
}

/// The first largest of int8 outputs: the class an int8 network predicts.
pub fn first_max(y: &[i8]) -> usize {
    (0..y.len()).max_by_key(|&i| (y[i], std::cmp::Reverse(i))).unwrap_or(0)
}

/// Prints the int8 network's test accuracy next to the float network's; an error if int8 loses
/// more than half a point (issue 20's mark).
pub fn compare_int8<const I: usize>(
    float_accuracy: f64,
    test: &Dataset<I>,
    predict: impl Fn(&[f32; I]) -> usize,
) -> Result<f64, Box<dyn Error>> {
    let right =
        test.inputs.iter().zip(&test.labels).filter(|(x, label)| predict(x) == usize::from(**label)).count();
    let int8 = right as f64 / test.len() as f64;
    println!(
        "test accuracy: float {:.2}%, int8 {:.2}% ({right} of {}; {:+.2} points)",
        100.0 * float_accuracy,
        100.0 * int8,
        test.len(),
        100.0 * (int8 - float_accuracy)
    );
    if float_accuracy - int8 > 0.005 {
        return Err(format!(
            "int8 loses {:.2} points of accuracy, more than 0.5",
            100.0 * (float_accuracy - int8)
        )
        .into());
    }
    Ok(int8)
}

/// The 28×28 image moved `dx` pixels right and `dy` down, filling with zeros (background).
pub fn shift(image: &[f32; 784], dx: isize, dy: isize) -> [f32; 784] {
    let mut out = [0.0; 784];
    for y in 0..28 {
        for x in 0..28 {
            let (sx, sy) = (x - dx, y - dy);
            if (0..28).contains(&sx) && (0..28).contains(&sy) {
                out[(y * 28 + x) as usize] = image[(sy * 28 + sx) as usize];
            }
        }
    }
    out
}
