#!/usr/bin/env bash
# pp run's Llama against an independent one: llama_reference.py (Hugging Face LlamaForCausalLM's
# semantics in float64 numpy, written from modeling_llama.py) makes a BF16 checkpoint with Hugging
# Face names and large enough weights that attention is far from uniform; pp run loads it (tp 2 x
# pp 2, 4 ranks, and one rank) and its first-step loss must equal the reference's to float32
# round-off (relative 1e-5; measured 5e-7 on one rank, 1.1e-6 at tp 2 x pp 2). Negative controls: the reference with
# interleaved rotary pairs, with query head h on kv head h % Hkv, or without Llama 3's rope scaling
# differs by over 10x that tolerance (measured 7e-4, 5e-3, 6e-3), so the check sees each
# convention.
# Usage: test_llama_reference.sh <path-to-pp> <tests/runtime dir>
set -u
PP=$1
HERE=$2
# shellcheck source=run_test_lib.sh
source "$HERE/run_test_lib.sh"
PY=/usr/bin/python3  # Debian's, with python3-numpy (scripts/setup.sh)
CONFIG="$HERE/../../configs/models/llama-tiny.json"
REF="$HERE/llama_reference.py"

if ! "$PY" -c 'import numpy' 2>/dev/null; then
  not_ok "numpy for the reference" "$PY lacks numpy: run scripts/setup.sh (python3-numpy)"
  echo "$passed passed, $failed failed"
  exit 1
fi
"$PY" "$REF" init "$CONFIG" "$TMP/init.safetensors" --seed 7
reference_loss=$("$PY" "$REF" loss "$CONFIG" "$TMP/init.safetensors" "$TMP/tokens.bin" --batch 8 --seq 32)

# close A B TOL: |A - B| <= TOL |B|
close() { python3 -c 'import sys; a, b, t = map(float, sys.argv[1:]); sys.exit(0 if abs(a - b) <= t * abs(b) else 1)' "$@"; }

for layout in "1:1:1" "4:2:2"; do
  IFS=: read -r np tp stages <<< "$layout"
  name="llama-tp$tp-pp$stages"
  MODEL=llama-tiny TP=$tp plan "$name" "$np" --pp "$stages" --microbatch-size 2 --schedule 1f1b --ckpt-interval 0 || continue
  if mpi "$np" run --plan "$TMP/$name.json" --data "$TMP/tokens.bin" --steps 1 --json \
       --load "$TMP/init.safetensors" >"$TMP/$name.out" 2>"$TMP/$name.err"; then
    loss=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["losses"][0])' "$TMP/$name.out")
    if close "$loss" "$reference_loss" 1e-5; then
      ok "tp $tp x pp $stages: a Hugging Face-named BF16 Llama checkpoint loads; loss $loss, reference $reference_loss"
    else
      not_ok "tp $tp x pp $stages against the reference" "pp $loss, reference $reference_loss"
    fi
  else
    not_ok "pp run $name" "$(tail -3 "$TMP/$name.err")"
  fi
done

for variant in interleaved-rope kv-modulo no-rope-scaling; do
  other=$("$PY" "$REF" loss "$CONFIG" "$TMP/init.safetensors" "$TMP/tokens.bin" --batch 8 --seq 32 --variant "$variant")
  if ! close "$other" "$reference_loss" 1e-4; then
    ok "the reference with $variant differs ($other against $reference_loss)"
  else
    not_ok "negative control $variant" "$other is within 1e-4 of $reference_loss: the check would hardly see it"
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
