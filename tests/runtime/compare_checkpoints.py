#!/usr/bin/env python3
"""Compares two safetensors checkpoints tensor by tensor (F32 only, standard library only).

Usage: compare_checkpoints.py A B [--tolerance 1e-5] [--prefix-skip optimizer.]
Prints the worst relative error ||a - b|| / ||b|| and exits 1 when any tensor exceeds the
tolerance or the two files hold different tensor names or shapes.

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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    parser.add_argument("--skip-prefix", default="")
    args = parser.parse_args()
    a, b = read(args.a), read(args.b)
    keep = lambda names: {n for n in names if not (args.skip_prefix and n.startswith(args.skip_prefix))}
    if keep(a) != keep(b):
        print(f"different tensors: only in A {sorted(keep(a) - keep(b))[:5]}, only in B {sorted(keep(b) - keep(a))[:5]}")
        return 1
    worst, worst_name = 0.0, ""
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
        if diff / norm > worst:
            worst, worst_name = diff / norm, name
    print(f"worst relative error {worst:.3e} ({worst_name or 'all equal'}) over {len(keep(a))} tensors")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
