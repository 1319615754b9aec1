#!/usr/bin/env bash
# Release bundles of the tray app: a .deb and an AppImage (Tauri's bundler
# CLI, fetched by npx from npm). The AppImage step downloads AppRun and linuxdeploy from GitHub; on a
# machine without that access, build the .deb alone: ./scripts/bundle.sh deb
set -euo pipefail
cd "$(dirname "$0")/.."
(cd ui && npm install --no-audit --no-fund --loglevel=error && npm run build --silent)
cd src-tauri && npx --yes @tauri-apps/cli@2 build --ci --bundles "${1:-deb,appimage}"
ls -la "${CARGO_TARGET_DIR:-../target}"/release/bundle/*/ 2>/dev/null
