#!/usr/bin/env bash
# Quick start, step 2: run every test (unit, contract, engine on the real default model,
# end-to-end CLI tests). Expects scripts/setup.sh to have run once.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f models/SmolLM2-135M-Instruct.Q4_1.gguf ] && [ -f models/all-MiniLM-L6-v2.f16.gguf ] && [ -f models/ggml-tiny.en-q8_0.bin ] || { echo "run scripts/setup.sh first (a default model is missing)" >&2; exit 1; }
# The speech helper is a binary the tests run (beside `frugal`); `cargo test` alone builds
# only its test harness.
cargo build --release --locked -p frugal-whisper
# One test at a time: each test process runs llama.cpp with one thread per core, and two of
# them side by side on 2 cores oversubscribe the CPU (generation measured 3.6x slower).
cargo test --release --locked --workspace --all-targets -- --test-threads=1 "$@"
cargo test --release --locked --workspace --doc
