#!/usr/bin/env bash
# Every GPU figure of the project as one JSON on stdout, within 8 minutes on one GPU (README, "Performance").
#
#   bench/gpu.sh                    # this checkout's .venv (or $PYTHON), on the GPU
#   bench/gpu.sh --wheels DIR       # a Python with torch, no network: the missing packages from DIR
#   bench/gpu.sh --dry              # tiny shapes on the CPU (tests/test_gpu_bench.py runs it)
#   bench/gpu.sh --out FILE         # also write the JSON to FILE
#   bench/gpu.sh --keep DIR         # keep each part's JSON and log in DIR (what a cut-off run leaves)
#
# Parts, most wanted first (each under its own time limit; a part that fails or runs out of time is
# recorded, not fatal):
#   train_step          bench/train_step.py: sd15, 768 x 768, 12 and 24 frames: plain diffusers vs the trainer's
#                       step as configured (train.stage=joint: everything trains; sd15's train.latent_cache: the
#                       batch brings its latents); GPU allocations capped at 79 GiB (an H100 80GB's usable
#                       memory) on a larger card, here and in every train_ part. 24 frames answers "does the
#                       paper's clip length train on one 80 GB GPU"
#   train_step_motion   the same at 12 frames with train.stage=motion (the ancestor's video stage: only the motion
#                       modules train)
#   codec_memory        bench/codec_memory.py: the sd15 VAE's memory at 768 px (encode 12 and 4 frames, one frame's
#                       decode forward and backward), measured beside what bench/memory_plan.py's count gives
#   tiny_learns         bench/tiny_learns.py: the tiny learning test (smoke.yaml, held-out metrics) on the GPU
#   metrics             bench/metrics_bench.py on the GPU: FID Inception, I3D, ours vs pytorch-fid (random
#                       weights where the offline weight files are absent: timing only, the JSON says so)
#   train_encoding      train_step_motion's step at 12 frames with train.latent_cache=false: the VAE encodes the
#                       clip in the step, as before the cache (not in --dry)
#   train_channels_last train_step_motion's step at 12 frames with train.channels_last=true
#   train_8bit          train_step's joint step at 12 frames with train.optimizer=adamw_8bit (8-bit moments)
# train.compile is not a part: compiling the sd15 UNets did not finish in 90 s on the H200, more than the
# 8 minutes allow; time it alone: python bench/train_step.py --device cuda --preset sd15 --size 768 --frames 12
# --skip-plain train.stage=motion train.compile=true. Nor is the optimiser alone (three optimisers on joint's 2.15 B
# parameters): python bench/optimizer_step.py --preset sd15 --size 768 --device cuda
# --wheels DIR: every wheel (and source archive) in DIR goes into the folder .bench-site (or $BENCH_SITE), put
# on PYTHONPATH ahead of the Python's own packages, with pip --no-index --find-links DIR --no-deps --target;
# the Python's own torch is used. What to put in DIR: README, "Performance" (bench/gpu-requirements.txt for
# a PyTorch image with the usual scientific packages; requirements.lock for a bare Python).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DRY=0; WHEELS=""; OUT=""; KEEP=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry) DRY=1; shift ;;
    --wheels) WHEELS="${2:?--wheels needs a folder}"; shift 2 ;;
    --out) OUT="${2:?--out needs a file}"; shift 2 ;;
    --keep) KEEP="${2:?--keep needs a folder}"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "error: bench/gpu.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -z "$WHEELS" ] && [ -x "$REPO/.venv/bin/python" ]; then PY="$REPO/.venv/bin/python"; else PY=python3; fi
fi
"$PY" -c "import torch" 2>/dev/null || { echo "error: $PY has no torch (set PYTHON=...)" >&2; exit 2; }
SITE=""
if [ -n "$WHEELS" ]; then
  [ -d "$WHEELS" ] || { echo "error: --wheels $WHEELS: no such folder" >&2; exit 2; }
  # A folder on PYTHONPATH (not a venv: works for a system, venv or conda Python alike, and needs no
  # venv module). The machine's torch stays: torch, triton and the CUDA wheels are not installed.
  shopt -s nullglob
  DISTS=("$WHEELS"/*.whl "$WHEELS"/*.tar.gz)
  [ ${#DISTS[@]} -gt 0 ] || { echo "error: --wheels $WHEELS: no .whl or .tar.gz files in it" >&2; exit 2; }
  SITE="${BENCH_SITE:-$REPO/.bench-site}"
  mkdir -p "$SITE"
  if [ "$(cat "$SITE/.installed" 2>/dev/null)" != "$(ls "$WHEELS" | sha256sum)" ]; then  # later runs reuse SITE
    "$PY" -m pip install -q --disable-pip-version-check --no-index --find-links "$WHEELS" --no-deps --upgrade \
      --target "$SITE" "${DISTS[@]}" >&2
    ls "$WHEELS" | sha256sum > "$SITE/.installed"
  fi
fi

if [ -n "$KEEP" ]; then
  WORK="$KEEP"; mkdir -p "$WORK"
else
  WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
fi
export PYTHONPATH="$REPO${SITE:+:$SITE}${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1
START=$(date +%s)
PARTS="$WORK/parts.tsv"; : > "$PARTS"

part() {  # part NAME SECONDS command...: run one part under `timeout`, its JSON in $WORK/NAME.json
  local name=$1 limit=$2; shift 2
  local t0; t0=$(date +%s)
  local rc=0
  (cd "$REPO" && timeout "$limit" "$@" --json "$WORK/$name.json" > "$WORK/$name.log" 2>&1) || rc=$?
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - t0 ))" "$limit" >> "$PARTS"
  echo "gpu.sh: $name rc=$rc $(( $(date +%s) - t0 )) s" >&2
}

if [ "$DRY" = 1 ]; then  # the same scripts at tiny shapes on the CPU
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
  part train_step 120 "$PY" bench/train_step.py --device cpu --preset tiny --size 32 --frames 2 4 --steps 1
  part train_step_motion 60 "$PY" bench/train_step.py --device cpu --preset tiny --size 32 --frames 2 --steps 1 train.stage=motion train.latent_cache=true
  part codec_memory 60 "$PY" bench/codec_memory.py --size 128
  part tiny_learns 120 "$PY" bench/tiny_learns.py --device cpu --steps 3 --no-samples
  part metrics 120 "$PY" bench/metrics_bench.py --devices cpu --images 16 --clips 1 --skip-slow --skip-synthetic
  part train_channels_last 60 "$PY" bench/train_step.py --device cpu --preset tiny --size 32 --frames 2 --steps 1 --skip-plain train.stage=motion train.channels_last=true
  part train_8bit 60 "$PY" bench/train_step.py --device cpu --preset tiny --size 32 --frames 2 --steps 1 --skip-plain train.optimizer=adamw_8bit
else  # 480 s of limits in all (tests/test_gpu_bench.py). The H200 run of 2026-11-28 took 74 s for train_step at 12
  # and 24 frames with both of ours out of memory early (the FLOP counter's hold, since fixed): a joint step that fits
  # adds ~5 steps of ~1.6 and ~3.3 s. tiny_learns took 65 s, channels_last (motion, 12 frames, 2 steps) 27 s.
  STEP=("$PY" bench/train_step.py --device cuda --preset sd15 --size 768 --memory-limit-gib 79)
  part train_step 130 "${STEP[@]}" --frames 12 24 --steps 3
  part train_step_motion 65 "${STEP[@]}" --frames 12 --steps 3 train.stage=motion
  part codec_memory 35 "$PY" bench/codec_memory.py --device cuda
  part tiny_learns 75 "$PY" bench/tiny_learns.py --device cuda
  part metrics 70 "$PY" bench/metrics_bench.py --devices cuda --images 1024 --clips 4 --skip-slow --skip-synthetic
  part train_encoding 35 "${STEP[@]}" --frames 12 --steps 2 --skip-plain train.stage=motion train.latent_cache=false
  part train_channels_last 35 "${STEP[@]}" --frames 12 --steps 2 --skip-plain train.stage=motion train.channels_last=true
  part train_8bit 35 "${STEP[@]}" --frames 12 --steps 2 --skip-plain train.optimizer=adamw_8bit
fi

"$PY" - "$WORK" "$PARTS" "$DRY" "$START" "$OUT" <<'EOF'
import json, os, platform, subprocess, sys, time
from pathlib import Path

work, parts, dry, start, out = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4]), sys.argv[5]
import torch

def gpu() -> str | None:
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=20).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None

result = {"dry": dry, "machine": {"python": platform.python_version(), "torch": torch.__version__,
                                   "cuda": torch.version.cuda, "gpu": gpu(), "cpu_cores": os.cpu_count(),
                                   "loadavg": os.getloadavg()}, "parts": {}}
for line in parts.read_text().splitlines():
    name, rc, seconds, limit = line.split("\t")
    status = {"rc": int(rc), "seconds": int(seconds), "limit_s": int(limit), "timed_out": rc in ("124", "137")}
    figures = work / f"{name}.json"
    if figures.is_file():
        result[name] = json.loads(figures.read_text())
    else:
        status["log_tail"] = (work / f"{name}.log").read_text(errors="replace")[-1500:]
    result["parts"][name] = status
result["total_s"] = int(time.time()) - start
result["ok"] = all(p["rc"] == 0 for p in result["parts"].values())
text = json.dumps(result, indent=1)
print(text)
if out:
    Path(out).write_text(text)
EOF
