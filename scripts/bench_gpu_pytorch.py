#!/usr/bin/env python3
"""PyTorch's GPT-2 training step on this GPU, as the baseline for pp run's (scripts/bench_gpu.sh).

The same model as pp run trains (GPT-2: learned positions, pre-LayerNorm, GELU tanh, tied head,
no dropout), the same step (forward, backward, AdamW), in float32 (optionally TF32 matrix
products), eager with SDPA attention or torch.compile'd. Prints one JSON line per mode:
{"mode", "tf32", "tokens_per_s", "step_ms"} (the mean of the steps after the warm-up).

Usage: bench_gpu_pytorch.py [--batch 8] [--seq 1024] [--steps 10] [--warmup 3] [--tf32]
                            [--modes eager,compile]
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c, heads):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(c)
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.ln_2 = nn.LayerNorm(c)
        self.c_fc = nn.Linear(c, 4 * c)
        self.mlp_proj = nn.Linear(4 * c, c)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT2(nn.Module):
    def __init__(self, vocab=50257, positions=1024, c=768, layers=12, heads=12):
        super().__init__()
        self.wte = nn.Embedding(vocab, c)
        self.wpe = nn.Embedding(positions, c)
        self.blocks = nn.ModuleList(Block(c, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(c)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
        for blk in self.blocks:
            for proj in (blk.c_proj, blk.mlp_proj):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * layers))

    def forward(self, idx, targets):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t, device=idx.device))
        for blk in self.blocks:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.T
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def measure(mode, args):
    torch.manual_seed(1337)
    model = GPT2().cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    step_fn = model if mode == "eager" else torch.compile(model)
    idx = torch.randint(0, 50257, (args.batch, args.seq), device="cuda")
    tgt = torch.randint(0, 50257, (args.batch, args.seq), device="cuda")
    times = []
    for i in range(args.warmup + args.steps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = step_fn(idx, tgt)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        torch.cuda.synchronize()
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    step_s = sum(times) / len(times)
    return {"mode": mode, "tf32": args.tf32, "batch": args.batch, "seq": args.seq,
            "tokens_per_s": args.batch * args.seq / step_s, "step_ms": 1e3 * step_s,
            "device": torch.cuda.get_device_name(), "torch": torch.__version__}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--tf32", action="store_true")
    p.add_argument("--modes", default="eager,compile")
    args = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    for mode in args.modes.split(","):
        print(json.dumps(measure(mode, args)), flush=True)


if __name__ == "__main__":
    main()
