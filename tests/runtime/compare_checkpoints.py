#!/usr/bin/env python3
"""Compares two safetensors checkpoints tensor by tensor (F32 only, standard library only).

Usage: compare_checkpoints.py A B [--tolerance T | --tolerance weights=T1,exp_avg=T2,exp_avg_sq=T3]
                                  [--skip-prefix P]
Prints the worst relative error ||a - b|| / ||b|| of each kind of tensor (the weights, AdamW's
first moments "*.exp_avg", its second moments "*.exp_avg_sq") and exits 1 when a tensor exceeds
its kind's tolerance or the two files hold different tensor names or shapes. One number sets
every kind's tolerance. docs/run.md ("How close is exact") derives the tolerances the tests use.

The key-bias third of every attn.c_attn.bias (and of its optimizer state) is compared apart: its
gradient is exactly zero in exact arithmetic (a key bias adds the same amount to every score of
a query's row, which the softmax removes), so on every layout it holds round-off that AdamW
scales up to steps of size lr. Those entries must stay round-off sized (|x| < 1e-5) in both
files instead of agreeing with each other.
"""
import argparse
import array
import json
import math
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: {name} is {info['dtype']}, expected F32")
        begin, end = info["data_offsets"]
        values = array.array("f")
        values.frombytes(data[begin:end])
        if sys.byteorder != "little":
            values.byteswap()
        tensors[name] = (tuple(info["shape"]), values)
    return tensors


KINDS = ("weights", "exp_avg", "exp_avg_sq")


def kind_of(name):
    for suffix in ("exp_avg_sq", "exp_avg"):
        if name.endswith("." + suffix):
            return suffix
    return "weights"


def parse_tolerance(text):
    if "=" not in text:
        return {kind: float(text) for kind in KINDS}
    tolerance = {}
    for part in text.split(","):
        kind, value = part.split("=")
        if kind not in KINDS:
            raise SystemExit(f"--tolerance: unknown kind '{kind}' (one of {', '.join(KINDS)})")
        tolerance[kind] = float(value)
    missing = set(KINDS) - set(tolerance)
    if missing:
        raise SystemExit(f"--tolerance: no value for {', '.join(sorted(missing))}")
    return tolerance


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--tolerance", default="1e-5")
    parser.add_argument("--skip-prefix", default="")
    args = parser.parse_args()
    a, b = read(args.a), read(args.b)
    keep = lambda names: {n for n in names if not (args.skip_prefix and n.startswith(args.skip_prefix))}
    if keep(a) != keep(b):
        print(f"different tensors: only in A {sorted(keep(a) - keep(b))[:5]}, only in B {sorted(keep(b) - keep(a))[:5]}")
        return 1
    tolerance = parse_tolerance(args.tolerance)
    worst = {kind: (0.0, "") for kind in KINDS}
    for name in sorted(keep(a)):
        (shape_a, va), (shape_b, vb) = a[name], b[name]
        if shape_a != shape_b:
            print(f"{name}: shape {shape_a} vs {shape_b}")
            return 1
        if "attn.c_attn.bias" in name and len(va) % 3 == 0:
            third = len(va) // 3
            key_a, key_b = va[third:2 * third], vb[third:2 * third]
            if max(map(abs, list(key_a) + list(key_b))) >= 1e-5:
                print(f"{name}: the key bias is not round-off sized")
                return 1
            va = va[:third] + va[2 * third:]
            vb = vb[:third] + vb[2 * third:]
        diff = math.sqrt(sum((x - y) ** 2 for x, y in zip(va, vb)))
        norm = math.sqrt(sum(y * y for y in vb)) or 1.0
        kind = kind_of(name)
        if diff / norm > worst[kind][0]:
            worst[kind] = (diff / norm, name)
    parts = [f"{kind} {err:.2e} ({where or 'all equal'})" for kind, (err, where) in worst.items()]
    print(f"worst relative error: {'; '.join(parts)} over {len(keep(a))} tensors")
    over = [kind for kind, (err, _) in worst.items() if err > tolerance[kind]]
    if over:
        print("over the tolerance: " + ", ".join(f"{k} (limit {tolerance[k]:.1e})" for k in over))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
