//! Bad safetensors files are errors that name what is wrong, never panics, and leave the network
//! as it was: one test per kind of damage, then many random and mutated files.

use backprop::safetensors::{Dims, SafeTensors, Syntax};
use backprop::serialize::HeaderName;
use backprop::{Naming, Params as _, Rng, Safetensors, SafetensorsError, network};

network! {
    /// 2 → 3 → 1, small enough to write its files by hand.
    #[loss(HalfSquaredError)]
    pub struct Tiny { input: 2, hidden: Dense<3, Tanh>, output: Dense<1, Identity> }
}

/// A file of `header` (padded with spaces to 8 bytes) and `data`.
fn file(header: &str, data: &[u8]) -> Vec<u8> {
    let padded = header.len().next_multiple_of(8);
    let mut out = (padded as u64).to_le_bytes().to_vec();
    out.extend(header.as_bytes());
    out.resize(8 + padded, b' ');
    out.extend(data);
    out
}

/// The tensors of `Tiny` as F32, with `hidden.weight` described by `weight` (JSON of the entry).
fn tiny_header(weight: &str) -> String {
    format!(
        r#"{{"hidden.weight":{weight},"hidden.bias":{{"dtype":"F32","shape":[3],"data_offsets":[24,36]}},"output.weight":{{"dtype":"F32","shape":[1,3],"data_offsets":[36,48]}},"output.bias":{{"dtype":"F32","shape":[1],"data_offsets":[48,52]}}}}"#
    )
}

const GOOD_WEIGHT: &str = r#"{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]}"#;

fn values(n: usize) -> Vec<u8> {
    (0..n).flat_map(|i| (i as f32 * 0.25 - 1.0).to_le_bytes()).collect()
}

fn good() -> Vec<u8> {
    file(&tiny_header(GOOD_WEIGHT), &values(13))
}

fn name(s: &str) -> HeaderName {
    HeaderName::new(s.as_bytes())
}

/// Loading `bytes` fails with what `check` accepts, and leaves a non-zero network untouched.
#[track_caller]
fn fails(bytes: &[u8], check: impl Fn(&SafetensorsError) -> bool) {
    let mut net = Tiny::<f32>::zeroed();
    net.hidden.w[0][1] = 3.5;
    let before = net.clone();
    let err = net.load_safetensors(bytes, Naming::Layers).expect_err("a bad file");
    assert!(check(&err), "unexpected error: {err:?} ({err})");
    assert_eq!(net, before, "the network changed on {err}");
}

#[test]
fn the_good_file_loads() {
    let mut net = Tiny::<f64>::zeroed();
    net.load_safetensors(&good(), Naming::Layers).unwrap();
    assert_eq!(net.hidden.w, [[-1.0, -0.75], [-0.5, -0.25], [0.0, 0.25]]);
    assert_eq!(net.output.b, [2.0]);
}

#[test]
fn truncated_and_oversized_headers() {
    let good = good();
    for len in 0..good.len() {
        fails(&good[..len], |e| {
            matches!(
                e,
                SafetensorsError::Truncated { .. }
                    | SafetensorsError::Offsets { .. }
                    | SafetensorsError::Unindexed { .. }
            )
        });
    }
    let mut huge = good.clone();
    huge[..8].copy_from_slice(&(100_000_001u64).to_le_bytes());
    fails(&huge, |e| *e == SafetensorsError::HeaderTooLarge { len: 100_000_001 });
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    fails(&huge, |e| matches!(e, SafetensorsError::HeaderTooLarge { .. }));
    let mut long = good.clone();
    long[..8].copy_from_slice(&(good.len() as u64).to_le_bytes());
    fails(&long, |e| matches!(e, SafetensorsError::Truncated { .. }));
}

#[test]
fn offsets_out_of_range_reversed_overlapping_or_leaving_gaps() {
    let tensor = |offsets: &str| format!(r#"{{"dtype":"F32","shape":[3,2],"data_offsets":{offsets}}}"#);
    fails(&file(&tiny_header(&tensor("[100,124]")), &values(13)), |e| {
        matches!(e, SafetensorsError::Offsets { begin: 100, .. })
    });
    fails(&file(&tiny_header(&tensor("[24,0]")), &values(13)), |e| {
        matches!(e, SafetensorsError::Offsets { .. })
    });
    fails(&file(&tiny_header(&tensor("[4,28]")), &values(13)), |e| {
        *e == SafetensorsError::Overlap { first: name("hidden.weight"), second: name("hidden.bias") }
    });
    // Bytes no tensor covers: at the end, or a gap.
    fails(&file(&tiny_header(GOOD_WEIGHT), &values(14)), |e| {
        *e == SafetensorsError::Unindexed { covered: 52, data: 56 }
    });
    let gap = file(&tiny_header(&tensor("[0,24]")).replace("[48,52]", "[52,56]"), &values(14));
    fails(&gap, |e| matches!(e, SafetensorsError::Unindexed { covered: 52, data: 56 }));
    // Offsets that do not span shape × dtype.
    fails(&file(&tiny_header(&tensor("[0,20]")), &values(13)), |e| {
        *e == SafetensorsError::Size { tensor: name("hidden.weight"), expected: 24, found: 20 }
    });
}

#[test]
fn dtypes_that_do_not_convert() {
    let weight = r#"{"dtype":"I32","shape":[3,2],"data_offsets":[0,24]}"#;
    fails(
        &file(&tiny_header(weight), &values(13)),
        |e| matches!(e, SafetensorsError::Dtype { tensor, dtype } if *tensor == name("hidden.weight") && dtype.name() == "I32"),
    );
    let weight = r#"{"dtype":"F33","shape":[3,2],"data_offsets":[0,24]}"#;
    fails(&file(&tiny_header(weight), &values(13)), |e| {
        matches!(e, SafetensorsError::Header { what: Syntax::UnknownDtype, .. })
    });
}

#[test]
fn missing_extra_and_duplicate_tensors() {
    let header = tiny_header(GOOD_WEIGHT).replace(
        r#""output.bias":{"dtype":"F32","shape":[1],"data_offsets":[48,52]}"#,
        r#""output.b":{"dtype":"F32","shape":[1],"data_offsets":[48,52]}"#,
    );
    fails(&file(&header, &values(13)), |e| *e == SafetensorsError::ExtraTensor { tensor: name("output.b") });
    let header = tiny_header(GOOD_WEIGHT)
        .replace(r#","output.bias":{"dtype":"F32","shape":[1],"data_offsets":[48,52]}"#, "");
    fails(&file(&header, &values(12)), |e| {
        *e == SafetensorsError::MissingTensor { tensor: name("output.bias"), layer: "output" }
    });
    let header = tiny_header(GOOD_WEIGHT).replace(r#""output.bias""#, r#""hidden.bias""#);
    fails(&file(&header, &values(13)), |e| {
        *e == SafetensorsError::DuplicateTensor { tensor: name("hidden.bias") }
    });
    let err =
        Tiny::<f32>::zeroed().load_safetensors(&file(&header, &values(13)), Naming::Layers).unwrap_err();
    assert_eq!(err.to_string(), "tensor `hidden.bias` appears twice");
}

#[test]
fn shapes_off_by_one_name_both_sides() {
    for (shape, data) in [("[3,1]", 12), ("[2,3]", 24), ("[4,2]", 32), ("[6]", 24), ("[3,2,1]", 24)] {
        let weight = format!(r#"{{"dtype":"F32","shape":{shape},"data_offsets":[0,{data}]}}"#);
        let header = tiny_header(&weight)
            .replace("[24,36]", &format!("[{data},{}]", data + 12))
            .replace("[36,48]", &format!("[{},{}]", data + 12, data + 24))
            .replace("[48,52]", &format!("[{},{}]", data + 24, data + 28));
        let bytes = file(&header, &values(data / 4 + 7));
        fails(
            &bytes,
            |e| matches!(e, SafetensorsError::Shape { tensor, network, .. } if *tensor == name("hidden.weight") && *network == Dims::new(&[3, 2])),
        );
        let err = Tiny::<f32>::zeroed().load_safetensors(&bytes, Naming::Layers).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("{} in the file, [3, 2] in the network", shape.replace(',', ", "))),
            "{err}"
        );
    }
}

#[test]
fn non_finite_values_in_the_file_or_after_rounding() {
    let mut data = values(13);
    data[4 * 7..4 * 8].copy_from_slice(&f32::NAN.to_le_bytes());
    fails(&file(&tiny_header(GOOD_WEIGHT), &data), |e| {
        *e == SafetensorsError::NonFinite { tensor: name("hidden.bias"), index: 1 }
    });
    // 1e300 is finite in F64 but not in an f32 network.
    let weight = r#"{"dtype":"F64","shape":[3,2],"data_offsets":[0,48]}"#;
    let header = tiny_header(weight)
        .replace("[24,36]", "[48,60]")
        .replace("[36,48]", "[60,72]")
        .replace("[48,52]", "[72,76]");
    let mut data: Vec<u8> =
        [0.5f64, 1e300, 0.0, 0.0, 0.0, 0.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    data.extend(values(7));
    fails(&file(&header, &data), |e| {
        *e == SafetensorsError::NonFinite { tensor: name("hidden.weight"), index: 1 }
    });
    let mut wide = Tiny::<f64>::zeroed();
    wide.load_safetensors(&file(&header, &data), Naming::Layers).unwrap();
    assert_eq!(wide.hidden.w[0], [0.5, 1e300]);
}

#[test]
fn what_the_python_package_accepts_and_the_format_does_not() {
    let good = tiny_header(GOOD_WEIGHT);
    let cases = [
        (format!(" {good}"), Syntax::HeaderObject),
        (good.replacen(r#"{"dtype""#, r#"{"extra":1,"dtype""#, 1), Syntax::UnknownField),
        (good.replacen('{', r#"{"__metadata__":null,"#, 1), Syntax::MetadataObject),
    ];
    for (header, what) in cases {
        fails(
            &file(&header, &values(13)),
            |e| matches!(e, SafetensorsError::Header { what: w, .. } if *w == what),
        );
    }
}

#[test]
fn writing_refuses_non_finite_parameters_and_short_buffers() {
    let mut net = Tiny::<f32>::zeroed();
    net.output.w[0][2] = f32::INFINITY;
    let mut buf = vec![0u8; 1024];
    assert_eq!(
        net.write_safetensors(Naming::Sequential, &mut buf),
        Err(SafetensorsError::NonFinite { tensor: name("2.weight"), index: 2 })
    );
    assert!(buf.iter().all(|&b| b == 0));
    net.output.w[0][2] = 1.0;
    let needed = Tiny::<f32>::safetensors_len(Naming::Layers).unwrap();
    assert_eq!(
        net.write_safetensors(Naming::Layers, &mut buf[..needed - 1]),
        Err(SafetensorsError::BufferTooSmall { needed, available: needed - 1 })
    );
    assert!(buf.iter().all(|&b| b == 0));
    assert_eq!(net.write_safetensors(Naming::Layers, &mut buf), Ok(needed));
    assert!(SafeTensors::parse(&buf[..needed]).is_ok());
}

/// Applies one random change to `bytes`.
fn mutate(bytes: &mut Vec<u8>, rng: &mut Rng) {
    const TOKENS: [&[u8]; 12] = [
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b"\"",
        b"\\",
        b"0",
        b"99999999999999999999",
        b"\"F16\"",
        b"\"__metadata__\"",
    ];
    if bytes.is_empty() {
        bytes.push(rng.below(256) as u8);
        return;
    }
    let at = rng.below(bytes.len());
    match rng.below(7) {
        0 => bytes[at] ^= 1 << rng.below(8),
        1 => bytes[at] = rng.below(256) as u8,
        2 => bytes.truncate(at),
        3 => {
            let token = TOKENS[rng.below(TOKENS.len())];
            bytes.splice(at..at, token.iter().copied());
        }
        4 => {
            let end = (at + 1 + rng.below(8)).min(bytes.len());
            bytes.drain(at..end);
        }
        5 => {
            // Another header length, near the real one.
            let len = u64::from_le_bytes(bytes.get(..8).and_then(|b| b.try_into().ok()).unwrap_or([0; 8]));
            let new = len.wrapping_add(rng.below(17) as u64).wrapping_sub(8);
            if bytes.len() >= 8 {
                bytes[..8].copy_from_slice(&new.to_le_bytes());
            }
        }
        _ => {
            // A digit of the header changed: shapes and offsets.
            if let Some(pos) = (at..bytes.len()).find(|&i| bytes[i].is_ascii_digit()) {
                bytes[pos] = b'0' + rng.below(10) as u8;
            }
        }
    }
}

#[test]
fn random_and_mutated_files_never_panic_and_never_half_load() {
    let mut rng = Rng::new(20_261_207);
    let mut seeds: Vec<Vec<u8>> = vec![good()];
    let other = Tiny::<f64>::zeroed();
    seeds.push(other.to_safetensors(Naming::Flax).unwrap());
    seeds.push(other.to_safetensors(Naming::Sequential).unwrap());
    let (mut loaded, mut rejected) = (0, 0);
    for round in 0..60_000 {
        let mut bytes = if round % 10 == 0 {
            (0..rng.below(96)).map(|_| rng.below(256) as u8).collect()
        } else {
            seeds[rng.below(seeds.len())].clone()
        };
        for _ in 0..1 + rng.below(4) {
            mutate(&mut bytes, &mut rng);
        }
        if let Ok(file) = SafeTensors::parse(&bytes) {
            for t in file.tensors() {
                std::hint::black_box(t.value(0));
            }
        }
        for naming in [Naming::Layers, Naming::Sequential, Naming::Flax] {
            let mut net = Tiny::<f32>::zeroed();
            net.params_mut().iter_mut().zip(0..).for_each(|(p, i)| *p = i as f32);
            let before = net.clone();
            match net.load_safetensors(&bytes, naming) {
                Ok(()) => loaded += 1,
                Err(e) => {
                    assert_eq!(net, before, "changed on {e}");
                    assert!(!e.to_string().is_empty());
                    rejected += 1;
                }
            }
        }
    }
    // Most mutations break the file; some (a changed weight byte) keep it loadable.
    assert!(loaded > 100 && rejected > 100_000, "loaded {loaded}, rejected {rejected}");
}
