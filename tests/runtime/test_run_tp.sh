#!/usr/bin/env bash
# pp run with tensor parallelism under mpirun (up to 8 oversubscribed ranks): tp 2 and 4 with and
# without sequence parallelism, and tp x pp x dp = 2 x 2 x 2 under 1f1b, interleaved and zb-h1,
# each ends at the weights of a single-rank run (float32 round-off, the tolerances of
# run_test_lib.sh: tensor parallelism only reorders sums); global-norm clipping counts every tensor
# once; a checkpoint saved under one layout resumes under three others to the weights of an
# uninterrupted run; pp plan's own choice on cpu-local runs; for llama-tiny, tied embeddings too.
# MODEL (default gpt2-tiny) picks the model. Usage: test_run_tp.sh <path-to-pp> <tests/runtime dir>
set -u
PP=$1
HERE=$2
# shellcheck source=run_test_lib.sh
source "$HERE/run_test_lib.sh"

reference || exit 1

TP=2 against tp2-sp 2 --pp 1 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0
TP=4 against tp4-sp 4 --pp 1 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0
TP=2 against tp2-no-sp 2 --pp 1 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0 --no-sequence-parallel
TP=4 against tp4-no-sp 4 --pp 1 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0 --no-sequence-parallel
TP=2 against 3d-1f1b 8 --pp 2 --dp 2 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0
TP=2 against 3d-interleaved 8 --pp 2 --dp 2 --microbatch-size 2 --schedule interleaved --virtual-stages 2 --ckpt-interval 0
TP=2 against 3d-zb-h1-recompute 8 --pp 2 --dp 2 --microbatch-size 2 --schedule zb-h1 --ckpt-interval 1
TP=2 against 3d-1f1b-no-sp 8 --pp 2 --dp 2 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0 --no-sequence-parallel

# The plans' messages are 1/tp of a micro-batch's activation: the same p2p volume per rank pair.
if python3 - "$TMP/3d-1f1b.json" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
assert plan["tp"] == 2 and plan["pp"] == 2 and plan["dp"] == 2 and plan["sequence_parallel"] is True
PY
then ok "the 3d plan is tp 2 x pp 2 x dp 2 with sequence parallelism"; else not_ok "the 3d plan's layout"; fi

# Clipping: the norm over tp x pp x dp counts each tensor once. Counting a replicated tensor tp
# times or a tied copy twice changes the clip factor by percents, far over this tolerance; the
# looser weights tolerance covers the clipped update's division by a reordered norm.
mpi 1 run --plan "$TMP/single.json" --data "$TMP/tokens.bin" --steps $STEPS --quiet --grad-clip 0.05 \
  --save "$TMP/clip-1.safetensors" 2>"$TMP/clip-1.err"
mpi 8 run --plan "$TMP/3d-1f1b.json" --data "$TMP/tokens.bin" --steps $STEPS --quiet --grad-clip 0.05 \
  --save "$TMP/clip-8.safetensors" 2>"$TMP/clip-8.err"
if result=$(python3 "$HERE/compare_checkpoints.py" "$TMP/clip-8.safetensors" "$TMP/clip-1.safetensors" \
            --tolerance "weights=1e-3,exp_avg=1e-3,exp_avg_sq=2e-3" 2>&1) &&
   ! python3 "$HERE/compare_checkpoints.py" "$TMP/clip-1.safetensors" "$TMP/single.safetensors" \
            --tolerance "weights=1e-3,exp_avg=1e-3,exp_avg_sq=2e-3" >/dev/null 2>&1; then
  ok "clipping over tp x pp x dp matches one rank, and clipping is active ($result)"
else
  not_ok "clipping over tp x pp x dp" "$result" "$(tail -2 "$TMP/clip-8.err")"
fi

# A checkpoint outlives its layout: 2 steps on tp 2, 2 more on tp 2 x pp 2 x dp 2 interleaved, 2
# more on tp 4 without sequence parallelism, 2 more on pp 4 = 8 steps on one rank.
TP=1 plan pp4 4 --pp 4 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0
mpi 1 run --plan "$TMP/single.json" --data "$TMP/tokens.bin" --steps 8 --quiet --save "$TMP/straight.safetensors" 2>"$TMP/m0.err"
mpi 2 run --plan "$TMP/tp2-sp.json" --data "$TMP/tokens.bin" --steps 2 --quiet --save "$TMP/moved.safetensors" 2>"$TMP/m1.err"
mpi 8 run --plan "$TMP/3d-interleaved.json" --data "$TMP/tokens.bin" --steps 4 --quiet --save "$TMP/moved.safetensors" --resume 2>"$TMP/m2.err"
mpi 4 run --plan "$TMP/tp4-no-sp.json" --data "$TMP/tokens.bin" --steps 6 --quiet --save "$TMP/moved.safetensors" --resume 2>"$TMP/m3.err"
mpi 4 run --plan "$TMP/pp4.json" --data "$TMP/tokens.bin" --steps 8 --quiet --save "$TMP/moved.safetensors" --resume 2>"$TMP/m4.err"
if result=$(python3 "$HERE/compare_checkpoints.py" "$TMP/moved.safetensors" "$TMP/straight.safetensors" \
            --tolerance "$TOL" 2>&1); then
  ok "saved under tp 2, resumed under tp2xpp2xdp2, tp 4 without SP and pp 4: the uninterrupted run's weights ($result)"
else
  not_ok "resume under other layouts" "$result" "$(tail -2 "$TMP/m2.err" "$TMP/m3.err" "$TMP/m4.err")"
fi

# pp plan chooses freely on cpu-local (tp included) and what it chooses runs.
if "$PP" plan --model "${MODEL:-gpt2-tiny}" --cluster cpu-local --gpus 4 --global-batch 8 --seq-len 32 \
     -o "$TMP/auto.json" >/dev/null 2>"$TMP/auto.plan.err"; then
  ranks=$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print(p["tp"]*p["pp"]*p["dp"])' "$TMP/auto.json")
  if mpi "$ranks" run --plan "$TMP/auto.json" --data "$TMP/tokens.bin" --steps 1 --quiet 2>"$TMP/auto.err"; then
    ok "pp plan's choice on cpu-local ($(python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print("tp %d pp %d dp %d" % (p["tp"], p["pp"], p["dp"]))' "$TMP/auto.json")) runs"
  else
    not_ok "pp plan's choice runs" "$(tail -3 "$TMP/auto.err")"
  fi
else
  not_ok "pp plan on cpu-local" "$(cat "$TMP/auto.plan.err")"
fi

# Llama with tied embeddings: the head's pieces of model.embed_tokens are summed with the
# embedding's across the first and last stage, per tp rank.
if [ "${MODEL:-}" = llama-tiny ]; then
  sed 's/"tie_word_embeddings": false/"tie_word_embeddings": true/; s/"pp_name": "llama-tiny"/"pp_name": "llama-tiny-tied"/' \
    "$HERE/../../configs/models/llama-tiny.json" > "$TMP/llama-tied.json"
  MODEL="$TMP/llama-tied.json" reference || true
  MODEL="$TMP/llama-tied.json" TP=2 against tied-tp2-pp2 4 --pp 2 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0
fi

# A plan whose tp does not fit the model or the job ends with a one-line error, never a hang.
python3 - "$TMP/tp2-sp.json" "$TMP/tp3.json" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
plan["tp"] = 3
json.dump(plan, open(sys.argv[2], "w"))
PY
expect_failure "tp 3 not dividing the heads" "tp 3 does not divide" 3 run --plan "$TMP/tp3.json" --data "$TMP/tokens.bin" --steps 1
expect_failure "rank count not tp x pp x dp" "needs tp x pp x dp = 2 x 1 x 1" 3 run --plan "$TMP/tp2-sp.json" --data "$TMP/tokens.bin" --steps 1

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
