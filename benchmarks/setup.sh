#!/usr/bin/env bash
# Create benchmarks/.venv with the peer libraries (NumPy, PyTorch CPU, JAX).
# Usage: bash benchmarks/setup.sh            (from the repo root or anywhere)
# Env:   PYTHON=python3.11                   interpreter for the venv
#        TORCH_INDEX_URL=...                 optional pip index for CPU-only torch wheels
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
py="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip)

if ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
  # 1) A CPU-only torch wheel in pip's find-links directories (e.g. /opt/wheels), if any.
  tag="cp$("$venv/bin/python" -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')"
  links="${PIP_FIND_LINKS:-} $("$venv/bin/python" -m pip config get global.find-links 2>/dev/null || true)"
  wheel=""
  for d in $links; do
    [ -d "$d" ] || continue
    w="$(ls -1 "$d"/torch-*+cpu-"$tag"-*.whl 2>/dev/null | sort -V | tail -n1 || true)"
    if [ -n "$w" ]; then wheel="$w"; break; fi
  done
  if [ -n "$wheel" ]; then
    echo "setup: installing local CPU-only torch wheel $wheel"
    "${pip[@]}" install "$wheel"
  elif [ -n "${TORCH_INDEX_URL:-}" ]; then
    echo "setup: installing torch from $TORCH_INDEX_URL"
    "${pip[@]}" install --index-url "$TORCH_INDEX_URL" torch
  fi
fi

# 2) numpy, threadpoolctl and (if not installed above) the default torch wheel.
"${pip[@]}" install -r "$here/requirements.txt"

# 3) JAX is optional: the benchmark skips it if it is not importable.
if ! "${pip[@]}" install -r "$here/requirements-jax.txt"; then
  echo "setup: WARNING: JAX could not be installed; peers.py will skip the jax peers" >&2
fi

"$venv/bin/python" - <<'PY'
import importlib
for m in ("numpy", "threadpoolctl", "torch", "jax"):
    try:
        mod = importlib.import_module(m)
        print(f"setup: {m} {getattr(mod, '__version__', '?')}")
    except Exception as e:  # noqa: BLE001
        print(f"setup: {m} not available ({e.__class__.__name__})")
PY
echo "setup: done. Run: $venv/bin/python $here/peers.py"
