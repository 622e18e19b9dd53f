"""Check that a network's safetensors export, read back with the Python package, is exact.

Usage, from the repository root:

    python tests/reference/safetensors_check.py DIR
    python tests/reference/safetensors_check.py --self-test

The Rust tests write, for each reference file `<stem>.safetensors` they load, the network's
export to `DIR/<stem>.safetensors` (F32 for an f32 network, F64 for an f64 network; the same
tensor names, shapes and layout convention as the original). For every `*.safetensors` in DIR
this script finds the original with the same stem in tests/data/safetensors/, examples/data/ or
examples/cortex-m/baked/ and checks:

  * the export is a well-formed safetensors file, read strictly by our own parser (the header
    starts with '{', no duplicate names, only the keys dtype/shape/data_offsets in an entry,
    "__metadata__" absent or a map of strings, offsets contiguous from 0 to the end of the file),
    because the Python package accepts files that the format does not allow;
  * the export's dtype is F32 or F64, the same for every tensor;
  * `safetensors.numpy.load_file` loads the export, and gives the same names, shapes and
    values as our parser;
  * the set of names and every shape equal the original's;
  * every exported value equals the original value converted to the export dtype, bit for
    bit: F16/BF16/F32 -> F32 or F64 and F64 -> F64 are exact; F64 -> F32 rounds to nearest,
    ties to even (`np.float32(original)`).

The original is loaded with `safetensors.numpy.load_file`, except a BF16 original, which numpy
cannot hold; that one is parsed by our own reader. The script prints one line per file and exits
with status 1 on any mismatch (2 on a usage error, or when DIR holds no export).

`--self-test` exports every reference file with the Python package (`save_file`) to a temporary
directory (F32 for F16/BF16/F32 originals, F64 and, under another name, F32 for F64 originals),
checks that all pass, then that a single flipped bit, a missing tensor, a changed shape and a
duplicated name are each caught.
"""

import json
import os
import shutil
import struct
import sys
import tempfile

import numpy as np

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SEARCH = [os.path.join(ROOT, "tests", "data", "safetensors"), os.path.join(ROOT, "examples", "data"),
          os.path.join(ROOT, "examples", "cortex-m", "baked")]
SIZE = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}
NP = {"F16": np.float16, "F32": np.float32, "F64": np.float64}
UINT = {np.float32: np.uint32, np.float64: np.uint64}


class Mismatch(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise Mismatch(msg)


def parse_strict(path):
    """Own strict reader: returns ({name: array}, {name: dtype}, metadata). BF16 comes back as
    float32 (exact), the other dtypes as themselves."""
    raw = open(path, "rb").read()
    need(len(raw) >= 8, "shorter than 8 bytes")
    (n,) = struct.unpack("<Q", raw[:8])
    need(8 + n <= len(raw), f"header length {n} past the end of the file")
    hdr = raw[8:8 + n]
    need(hdr[:1] == b"{", "header does not start with '{'")

    def no_dupes(pairs):
        keys = [k for k, _ in pairs]
        need(len(keys) == len(set(keys)), f"duplicate key in header: {sorted(k for k in keys if keys.count(k) > 1)}")
        return dict(pairs)

    try:
        header = json.loads(hdr.decode("utf-8"), object_pairs_hook=no_dupes)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Mismatch(f"header is not JSON: {e}")
    need(isinstance(header, dict), "header is not an object")
    meta = header.pop("__metadata__", None)
    if "__metadata__" in hdr.decode("utf-8"):
        need(isinstance(meta, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()),
             "__metadata__ is not a map of strings")
    data = raw[8 + n:]
    values, dtypes, spans = {}, {}, []
    for name, e in header.items():
        need(isinstance(e, dict) and set(e) == {"dtype", "shape", "data_offsets"}, f"{name}: bad entry {e}")
        dt, shape, off = e["dtype"], e["shape"], e["data_offsets"]
        need(dt in SIZE, f"{name}: dtype {dt} is not a float dtype")
        need(isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape), f"{name}: bad shape")
        need(isinstance(off, list) and len(off) == 2 and all(isinstance(o, int) for o in off), f"{name}: bad offsets")
        b, end = off
        count = int(np.prod(shape, dtype=np.int64))
        need(0 <= b <= end <= len(data) and end - b == count * SIZE[dt], f"{name}: offsets {off} do not fit")
        chunk = data[b:end]
        if dt == "BF16":
            v = (np.frombuffer(chunk, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            v = np.frombuffer(chunk, np.dtype(NP[dt]).newbyteorder("<")).astype(NP[dt])
        values[name], dtypes[name] = v.reshape(shape), dt
        spans.append((b, end))
    pos = 0
    for b, end in sorted(spans):
        need(b == pos, "tensor data is not contiguous (gap or overlap)")
        pos = end
    need(pos == len(data), f"{len(data) - pos} bytes of data belong to no tensor")
    return values, dtypes, meta


def load_original(path):
    """Original values (np arrays of the file's dtype; BF16 as exact float32) and dtypes."""
    _, dtypes, _ = parse_strict(path)
    if "BF16" in dtypes.values():
        vals, _, _ = parse_strict(path)
        return vals, dtypes
    import safetensors.numpy as stn
    return stn.load_file(path), dtypes


def find_original(stem):
    for d in SEARCH:
        p = os.path.join(d, stem + ".safetensors")
        if os.path.isfile(p):
            return p
    return None


def check_file(export_path):
    stem = os.path.basename(export_path)[:-len(".safetensors")]
    orig_path = find_original(stem)
    need(orig_path is not None, f"no original named {stem}.safetensors in {', '.join(os.path.relpath(d, ROOT) for d in SEARCH)}")
    ovals, odtypes = load_original(orig_path)
    evals, edtypes, _ = parse_strict(export_path)
    kinds = set(edtypes.values())
    need(len(kinds) == 1 and kinds <= {"F32", "F64"}, f"export dtypes {sorted(kinds)}: want all F32 or all F64")
    edt = kinds.pop()
    import safetensors.numpy as stn
    pvals = stn.load_file(export_path)
    need(set(pvals) == set(evals), "the package and our parser disagree on the names")
    for k in evals:
        need(pvals[k].dtype == NP[edt] and pvals[k].shape == evals[k].shape
             and pvals[k].tobytes() == evals[k].tobytes(), f"{k}: the package and our parser disagree")
    need(set(pvals) == set(ovals),
         f"names differ: missing {sorted(set(ovals) - set(pvals))}, extra {sorted(set(pvals) - set(ovals))}")
    target = NP[edt]
    for k in sorted(ovals):
        o, e = ovals[k], pvals[k]
        need(o.shape == e.shape, f"{k}: shape {list(e.shape)}, original {list(o.shape)}")
        want = o.astype(target)  # exact widening, or F64 -> F32 round to nearest even
        bad = np.flatnonzero(want.view(UINT[target]).ravel() != e.view(UINT[target]).ravel())
        if bad.size:
            i = int(bad[0])
            raise Mismatch(f"{k}: {bad.size} value(s) differ, first at flat index {i}: "
                           f"exported {float(e.ravel()[i])!r}, original {odtypes[k]} {float(o.ravel()[i])!r} -> {edt} {float(want.ravel()[i])!r}")
    src = "/".join(sorted(set(odtypes.values())))
    return (f"ok   {stem}.safetensors: {len(pvals)} tensors, {sum(v.size for v in pvals.values())} values, "
            f"{src} -> {edt} exact (original {os.path.relpath(orig_path, ROOT)})")


def check_dir(d, quiet=False):
    files = sorted(f for f in os.listdir(d) if f.endswith(".safetensors"))
    if not files:
        print(f"no .safetensors files in {d}")
        return 2
    failed = 0
    for f in files:
        try:
            line = check_file(os.path.join(d, f))
        except Mismatch as e:
            line = f"FAIL {f}: {e}"
            failed += 1
        except Exception as e:  # a file the package itself refuses
            line = f"FAIL {f}: {type(e).__name__}: {e}"
            failed += 1
        if not quiet:
            print(line)
    if not quiet:
        print(f"{len(files) - failed} passed, {failed} failed")
    return 1 if failed else 0


def self_test():
    import safetensors.numpy as stn
    originals = []
    for d in SEARCH:
        originals += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".safetensors")]
    with tempfile.TemporaryDirectory() as tmp:
        good = os.path.join(tmp, "good")
        os.makedirs(good)
        for p in originals:
            vals, dts = load_original(p)
            stem = os.path.basename(p)[:-len(".safetensors")]
            wide = np.float64 if "F64" in dts.values() else np.float32
            stn.save_file({k: v.astype(wide) for k, v in vals.items()}, os.path.join(good, stem + ".safetensors"))
        print(f"-- exports of {len(originals)} reference files written by safetensors.numpy.save_file:")
        assert check_dir(good) == 0, "self-test: good exports must pass"

        # F64 originals exported as F32 (rounded): must pass too
        narrow = os.path.join(tmp, "narrow")
        os.makedirs(narrow)
        for p in originals:
            vals, dts = load_original(p)
            if "F64" in dts.values():
                stem = os.path.basename(p)[:-len(".safetensors")]
                stn.save_file({k: v.astype(np.float32) for k, v in vals.items()}, os.path.join(narrow, stem + ".safetensors"))
        print("-- F64 originals exported as F32:")
        assert check_dir(narrow) == 0, "self-test: F64 -> F32 exports must pass"

        def variant(name, mutate):
            d = os.path.join(tmp, name)
            os.makedirs(d)
            for f in os.listdir(good):
                shutil.copy(os.path.join(good, f), d)
            target = os.path.join(d, "small-bf16.safetensors")
            mutate(target)
            rc = check_dir(d, quiet=True)
            msg = check_line(target)
            print(f"-- {name}: exit {rc}: {msg}")
            assert rc == 1, f"self-test: {name} not caught"

        def check_line(p):
            try:
                return check_file(p)
            except Exception as e:
                return f"FAIL {type(e).__name__}: {e}"

        def flip_bit(p):
            raw = bytearray(open(p, "rb").read())
            raw[-1] ^= 0x01  # bit 24 of the last value (an exponent bit of an F32)
            open(p, "wb").write(bytes(raw))

        def flip_low_bit(p):
            raw = bytearray(open(p, "rb").read())
            (n,) = struct.unpack("<Q", raw[:8])
            raw[8 + n] ^= 0x01  # the lowest mantissa bit of the first value
            open(p, "wb").write(bytes(raw))

        def drop_tensor(p):
            v = stn.load_file(p)
            v.pop("output.bias")
            stn.save_file(v, p)

        def reshape(p):
            v = stn.load_file(p)
            v["hidden.weight"] = np.ascontiguousarray(v["hidden.weight"].T)  # [3, 5] instead of [5, 3]
            stn.save_file(v, p)

        def duplicate(p):
            raw = open(p, "rb").read()
            (n,) = struct.unpack("<Q", raw[:8])
            h = json.loads(raw[8:8 + n])
            e = json.dumps(h["output.bias"], separators=(",", ":"))
            text = raw[8:8 + n].rstrip().decode()
            text = text[:-1] + ',"output.bias":' + e + "}"  # same entry twice: the package keeps the last
            text += " " * ((-len(text)) % 8)
            open(p, "wb").write(struct.pack("<Q", len(text)) + text.encode() + raw[8 + n:])

        variant("one exponent bit flipped", flip_bit)
        variant("one low bit flipped", flip_low_bit)
        variant("tensor missing", drop_tensor)
        variant("shape transposed", reshape)
        variant("duplicate name", duplicate)
    print("self-test passed")
    return 0


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    if argv[1] == "--self-test":
        return self_test()
    return check_dir(argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
