#!/usr/bin/env python3
"""An independent Llama (Hugging Face LlamaForCausalLM semantics) in float64 numpy, for checking
pp run's Llama against it.

  llama_reference.py init CONFIG OUT [--seed S]
      writes random weights with Hugging Face Llama names as BF16 safetensors, large enough that
      attention is far from uniform (so rotary embeddings and head grouping matter to the loss)
  llama_reference.py loss CONFIG WEIGHTS TOKENS --batch B --seq T [--variant V]
      prints the mean token cross-entropy of the global batch of step 0 (window i: the T + 1
      tokens from token i*T, inputs the first T, targets the last T), as pp run reads its data.
      --variant breaks one convention on purpose (a negative control): "interleaved-rope" pairs
      dims (2i, 2i+1) instead of (i, i + d/2); "kv-modulo" maps query head h to kv head h % Hkv
      instead of h // (Hq / Hkv); "no-rope-scaling" ignores rope_scaling.

Written from Hugging Face's modeling_llama.py and the Llama 3 rope scaling, not from pp's code.
Needs numpy (Debian: python3-numpy).
"""
import argparse
import json
import math
import struct

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        if info["dtype"] == "F32":
            a = np.frombuffer(raw, dtype="<f4").astype(np.float64)
        elif info["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        else:
            raise SystemExit(f"{path}: {name} has dtype {info['dtype']}")
        out[name] = a.reshape(info["shape"])
    return out


def write_bf16_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        bits = (np.ascontiguousarray(a, dtype=np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
        header[name] = {"dtype": "BF16", "shape": list(a.shape), "data_offsets": [offset, offset + len(bits)]}
        blobs.append(bits)
        offset += len(bits)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def shapes(cfg):
    c, hd = cfg["hidden_size"], cfg["hidden_size"] // cfg["num_attention_heads"]
    q, kv, i, v = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd, cfg["intermediate_size"], cfg["vocab_size"]
    out = {"model.embed_tokens.weight": (v, c), "model.norm.weight": (c,)}
    if not cfg.get("tie_word_embeddings", False):
        out["lm_head.weight"] = (v, c)
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        out.update({p + "input_layernorm.weight": (c,), p + "post_attention_layernorm.weight": (c,),
                    p + "self_attn.q_proj.weight": (q, c), p + "self_attn.k_proj.weight": (kv, c),
                    p + "self_attn.v_proj.weight": (kv, c), p + "self_attn.o_proj.weight": (c, q),
                    p + "mlp.gate_proj.weight": (i, c), p + "mlp.up_proj.weight": (i, c),
                    p + "mlp.down_proj.weight": (c, i)})
    return out


def init(cfg, seed):
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, shape in shapes(cfg).items():
        if len(shape) == 1:
            tensors[name] = 1.0 + 0.1 * rng.standard_normal(shape)
        else:
            std = 1.0 if ("q_proj" in name or "k_proj" in name) else 0.1
            tensors[name] = std * rng.standard_normal(shape)
    return tensors


def inv_freq(cfg, variant):
    d = cfg["hidden_size"] // cfg["num_attention_heads"]
    freq = 1.0 / cfg.get("rope_theta", 10000.0) ** (np.arange(0, d, 2) / d)
    s = cfg.get("rope_scaling")
    if not s or variant == "no-rope-scaling":
        return freq
    old, low, high, factor = (s["original_max_position_embeddings"], s["low_freq_factor"], s["high_freq_factor"],
                              s["factor"])
    wavelen = 2 * math.pi / freq
    smooth = (old / wavelen - low) / (high - low)
    scaled = np.where(wavelen > old / low, freq / factor, freq)
    middle = (wavelen <= old / low) & (wavelen >= old / high)
    return np.where(middle, (1 - smooth) * freq / factor + smooth * freq, scaled)


def rope(x, cfg, variant):  # x (B, H, T, d)
    t, d = x.shape[2], x.shape[3]
    angles = np.arange(t)[:, None] * inv_freq(cfg, variant)[None, :]  # (T, d/2)
    cos, sin = np.cos(angles), np.sin(angles)
    if variant == "interleaved-rope":
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2], out[..., 1::2] = a * cos - b * sin, b * cos + a * sin
        return out
    a, b = x[..., : d // 2], x[..., d // 2:]
    return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)


def rmsnorm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def attention(h, w, p, cfg, variant):
    bsz, t, _ = h.shape
    hq, hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = cfg["hidden_size"] // hq
    q = (h @ w[p + "self_attn.q_proj.weight"].T).reshape(bsz, t, hq, d).transpose(0, 2, 1, 3)
    k = (h @ w[p + "self_attn.k_proj.weight"].T).reshape(bsz, t, hkv, d).transpose(0, 2, 1, 3)
    v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(bsz, t, hkv, d).transpose(0, 2, 1, 3)
    q, k = rope(q, cfg, variant), rope(k, cfg, variant)
    kv_of = [(hh % hkv) if variant == "kv-modulo" else hh // (hq // hkv) for hh in range(hq)]
    k, v = k[:, kv_of], v[:, kv_of]
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d)
    scores = np.where(np.tril(np.ones((t, t), dtype=bool)), scores, -np.inf)
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    out = (scores / scores.sum(-1, keepdims=True)) @ v  # (B, H, T, d)
    return out.transpose(0, 2, 1, 3).reshape(bsz, t, hq * d) @ w[p + "self_attn.o_proj.weight"].T


def loss(cfg, w, inputs, targets, variant):
    eps = cfg.get("rms_norm_eps", 1e-6)
    x = w["model.embed_tokens.weight"][inputs]
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        x = x + attention(rmsnorm(x, w[p + "input_layernorm.weight"], eps), w, p, cfg, variant)
        h = rmsnorm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate, up = h @ w[p + "mlp.gate_proj.weight"].T, h @ w[p + "mlp.up_proj.weight"].T
        x = x + (gate / (1 + np.exp(-gate)) * up) @ w[p + "mlp.down_proj.weight"].T
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    logits = rmsnorm(x, w["model.norm.weight"], eps) @ head.T
    logits -= logits.max(-1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -np.take_along_axis(logp, targets[..., None], -1).mean()


def tokens(path):
    raw = open(path, "rb").read()
    if len(raw) >= 1024 and struct.unpack("<i", raw[:4])[0] == 20240520:
        raw = raw[1024:]
    return np.frombuffer(raw, dtype="<u2").astype(np.int64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["init", "loss"])
    ap.add_argument("config")
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--seq", type=int)
    ap.add_argument("--variant", default="")
    a = ap.parse_args()
    cfg = json.load(open(a.config))
    if a.command == "init":
        write_bf16_safetensors(a.paths[0], init(cfg, a.seed))
        return
    weights, data = read_safetensors(a.paths[0]), tokens(a.paths[1])
    windows = np.stack([data[np.arange(i * a.seq, i * a.seq + a.seq + 1) % len(data)] for i in range(a.batch)])
    print(f"{loss(cfg, weights, windows[:, :-1], windows[:, 1:], a.variant):.10f}")


if __name__ == "__main__":
    main()
