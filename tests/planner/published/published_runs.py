#!/usr/bin/env python3
"""pp plan's predicted step time against published measured runs, each with its layout fixed.

Usage: published_runs.py PP [RUNS_JSON] [--markdown] [--bound B]
Plans every row of RUNS_JSON (default: runs.json beside this script) with `pp plan ... --json`,
prints row, predicted, measured, error (predicted / measured - 1), pp's own choice for the same
model, GPUs and batch (every choice auto: its predicted step time), and the mean and max of the
absolute errors; exits 1 when a row's absolute error exceeds its max_abs_error (or B for every row,
--bound 0 showing that the check can fail) or a plan fails.
"""
import json
import os
import subprocess
import sys


def predict(pp, row):
    cmd = [pp, "plan", "--model", row["model"], "--cluster", row["cluster"], "--gpus", str(row["gpus"]),
           "--global-batch", str(row["global_batch"]), "--seq-len", str(row["seq_len"]), "--top", "1",
           "--json"] + row["flags"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {done.returncode}: {done.stderr.strip()}")
    plan = json.loads(done.stdout)
    versus = plan.get("versus_auto", {})
    return plan["predicted"]["step_time_s"], versus.get("step_time_s"), versus.get("layout", "")


def main():
    argv = sys.argv[1:]
    bound = None
    if "--bound" in argv:
        i = argv.index("--bound")
        bound = float(argv[i + 1])
        del argv[i:i + 2]
    args = [a for a in argv if not a.startswith("--")]
    markdown = "--markdown" in argv
    pp = args[0]
    path = args[1] if len(args) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs.json")
    rows = json.load(open(path))["rows"]
    failed, errors = False, []
    print("| run | predicted s | measured s | error | bound | pp's own choice |" if markdown else
          f"{'run':<58} {'predicted s':>11} {'measured s':>10} {'error':>7} {'bound':>6} {'auto s':>7}")
    if markdown:
        print("|---|---|---|---|---|---|")
    for row in rows:
        if bound is not None:
            row["max_abs_error"] = bound
        try:
            predicted, auto_s, auto_layout = predict(pp, row)
        except RuntimeError as e:
            print(f"{row['name']}: {e}", file=sys.stderr)
            failed = True
            continue
        measured = row["measured_step_time_s"]
        error = predicted / measured - 1
        errors.append(abs(error))
        over = abs(error) > row["max_abs_error"]
        failed |= over
        mark = "  OVER" if over else ""
        if markdown:
            own = f"{auto_s:.2f} s: {auto_layout}" if auto_s else ""
            print(f"| {row['name']} | {predicted:.2f} | {measured:.2f} | {100 * error:+.1f}% | "
                  f"{100 * row['max_abs_error']:.0f}% | {own} |")
        else:
            own = f"{auto_s:>7.2f}" if auto_s else ""
            print(f"{row['name']:<58} {predicted:>11.2f} {measured:>10.2f} {100 * error:>+6.1f}% "
                  f"{100 * row['max_abs_error']:>5.0f}% {own}{mark}")
    if errors:
        print(f"mean absolute error {100 * sum(errors) / len(errors):.1f}%, max {100 * max(errors):.1f}% "
              f"over {len(errors)} rows")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
