#!/usr/bin/env bash
# The tray app's targets under Xvfb: launch to tray ready, idle memory of the whole process
# tree (tray only, model unloaded), idle CPU with a watched folder (goal: < 1 % of a core
# over a minute), and hotkey to draft window ready. Medians of N runs.
#
#   ./scripts/bench-app.sh [RUNS]     (needs: Xvfb, xdotool, xclip; scripts/setup.sh built the app)
#   IDLE_SECS=60                      how long the idle CPU is measured
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
BIN="${CARGO_TARGET_DIR:-target}/release/frugal-app"
CLI="${CARGO_TARGET_DIR:-target}/release/frugal"
IDLE_SECS=${IDLE_SECS:-60}
[ -x "$BIN" ] || { echo "build first: scripts/setup.sh" >&2; exit 1; }
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/run" && chmod 700 "$work/run"
printf 'ledger = "%s/ledger.sqlite3"\n[model]\npath = "%s/models/SmolLM2-135M-Instruct.Q4_1.gguf"\n[index]\ndir = "%s/index"\n' "$work" "$PWD" "$work" > "$work/config.toml"
export DISPLAY=:$((150 + RANDOM % 100)) HOME="$work" XDG_RUNTIME_DIR="$work/run" FRUGAL_TIMINGS=1
Xvfb "$DISPLAY" -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 &
sleep 1

tree_rss_kb() { # RSS of a process and all its descendants, each counted once
  local total=0 p todo=("$1") seen=()
  while [ ${#todo[@]} -gt 0 ]; do
    p=${todo[0]}; todo=("${todo[@]:1}"); seen+=("$p")
    total=$((total + $(awk '/^VmRSS/ {print $2}' /proc/"$p"/status 2>/dev/null || echo 0)))
    for c in $(pgrep -P "$p" || true); do todo+=("$c"); done
  done
  echo "$total"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
tree_cpu_ticks() { # user + system CPU of a process and its descendants, in clock ticks
  local total=0 p todo=("$1")
  while [ ${#todo[@]} -gt 0 ]; do
    p=${todo[0]}; todo=("${todo[@]:1}")
    total=$((total + $(awk '{print $14 + $15}' /proc/"$p"/stat 2>/dev/null || echo 0)))
    for c in $(pgrep -P "$p" || true); do todo+=("$c"); done
  done
  echo "$total"
}

# Idle CPU with a watched folder of 2,000 notes (indexed first with the CLI): the tray app
# must do nothing while nothing changes. The same for `frugal index watch`, as a second line.
# Its own config and index, so the launch and memory runs below watch nothing, as before.
mkdir -p "$work/notes/sub"
for i in $(seq 1000); do echo "note $i about the quarterly plan" > "$work/notes/n$i.md"; echo "sub note $i" > "$work/notes/sub/s$i.txt"; done
printf '[model]\npath = "%s/models/SmolLM2-135M-Instruct.Q4_1.gguf"\n[index]\ndir = "%s/idle-index"\n' "$PWD" "$work" > "$work/idle.toml"
"$CLI" --config "$work/idle.toml" index add "$work/notes" >/dev/null
idle_cpu() { # PID: percent of one core used over IDLE_SECS, and index commits meanwhile
  local c0 c1 m0 m1
  c0=$(tree_cpu_ticks "$1"); m0=$(stat -c %Y "$work/idle-index/tantivy/meta.json")
  sleep "$IDLE_SECS"
  c1=$(tree_cpu_ticks "$1"); m1=$(stat -c %Y "$work/idle-index/tantivy/meta.json")
  awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v s="$IDLE_SECS" 'BEGIN {printf "%.2f %% of a core", 100 * t / hz / s}'
  [ "$m0" = "$m1" ] && echo ", no index commit" || echo ", the index was rewritten"
}
"$BIN" --config "$work/idle.toml" 2>"$work/idle.log" &
pid=$!
for _ in $(seq 600); do grep -q "tray ready" "$work/idle.log" 2>/dev/null && break; sleep 0.05; done
grep -q "tray ready" "$work/idle.log" || { echo "the tray app did not start: $(tail -3 "$work/idle.log")" >&2; exit 1; }
sleep 10
idle_app=$(idle_cpu "$pid")
kill "$pid"; wait "$pid" 2>/dev/null || true
"$CLI" --config "$work/idle.toml" index watch >/dev/null 2>&1 &
pid=$!
sleep 10
idle_watch=$(idle_cpu "$pid")
kill "$pid"; wait "$pid" 2>/dev/null || true

launch=(); wall=(); idle=(); hot=(); shown=(); mapped=(); after=(); cold=(); warm=()
for i in $(seq "$RUNS"); do
  log="$work/app-$i.log"
  t0=$(date +%s%N)
  "$BIN" --config "$work/config.toml" 2>"$log" &
  pid=$!
  until grep -q "tray ready" "$log" 2>/dev/null; do sleep 0.005; done
  t1=$(date +%s%N)
  wall+=($(( (t1 - t0) / 1000000 )))
  launch+=($(sed -n 's/.*tray ready \([0-9]*\) ms.*/\1/p' "$log"))
  sleep 4
  idle+=($(tree_rss_kb "$pid"))
  printf -- '- tell Sam the design review moved to Friday 10am\n- same room B2.14\n' | xclip -selection clipboard
  k0=$(date +%s%N)
  xdotool key --clearmodifiers ctrl+shift+space
  # Shown: the X server has the draft window mapped (polled from outside, ~5 ms steps).
  for _ in $(seq 400); do xdotool search --onlyvisible --name "Frugal — Draft" >/dev/null 2>&1 && break; sleep 0.003; done
  k1=$(date +%s%N)
  mapped+=($(( (k1 - k0) / 1000000 )))
  for _ in $(seq 400); do grep -q "draft window ready" "$log" && break; sleep 0.01; done
  shown+=($(sed -n 's/.*draft window shown \([0-9]*\) ms.*/\1/p' "$log" | head -1))
  hot+=($(sed -n 's/.*draft window ready \([0-9]*\) ms.*/\1/p' "$log" | head -1))
  # The window drafts the clipboard's text as it opens (model cold: it loads now); the hotkey
  # again drafts in the open window with the model warm.
  for _ in $(seq 3000); do [ "$(grep -c 'first draft token' "$log")" -ge 1 ] && break; sleep 0.01; done
  cold+=($(sed -n 's/.*first draft token \([0-9]*\) ms.*/\1/p' "$log" | head -1))
  for _ in $(seq 6000); do grep -q 'draft finished' "$log" && break; sleep 0.01; done
  sleep 1
  printf -- '- ask Dana to rotate the staging credentials today\n- Tom is blocked until then\n' | xclip -selection clipboard
  xdotool key --clearmodifiers ctrl+shift+space
  for _ in $(seq 3000); do [ "$(grep -c 'first draft token' "$log")" -ge 2 ] && break; sleep 0.01; done
  warm+=($(sed -n 's/.*first draft token \([0-9]*\) ms.*/\1/p' "$log" | sed -n 2p))
  sleep 1
  after+=($(tree_rss_kb "$pid"))
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
echo "runs: $RUNS (Xvfb, software GL); idle RSS samples (kB): ${idle[*]}"
echo "launch → tray ready (in-process, from main): median $(printf '%s\n' "${launch[@]}" | median) ms"
echo "launch → tray ready (wall clock, from exec):  median $(printf '%s\n' "${wall[@]}" | median) ms"
echo "idle RSS, whole process tree, no window:      median $(( $(printf '%s\n' "${idle[@]}" | median | cut -d. -f1) / 1024 )) MB"
echo "idle CPU, tray app watching 2,000 files:      $idle_app (over ${IDLE_SECS} s; goal < 1 %)"
echo "idle CPU, frugal index watch, same folder:    $idle_watch (over ${IDLE_SECS} s)"
if [ -n "${hot[*]:-}" ]; then
  echo "hotkey → draft window shown (in-process):    median $(printf '%s\n' "${shown[@]}" | median) ms"
  echo "xdotool key → window mapped (from outside):  median $(printf '%s\n' "${mapped[@]}" | median) ms"
  echo "hotkey → draft page loaded, asks for text:   median $(printf '%s\n' "${hot[@]}" | median) ms"
else
  echo "hotkey → draft window ready:                 not measured (the hotkey did not reach the app)"
fi
[ -n "${cold[*]:-}" ] && echo "hotkey → first draft token, model cold:      median $(printf '%s\n' "${cold[@]}" | median) ms"
[ -n "${warm[*]:-}" ] && echo "hotkey → first draft token, model warm:      median $(printf '%s\n' "${warm[@]}" | median) ms"
echo "RSS with the draft window open (tree):        median $(( $(printf '%s\n' "${after[@]}" | median | cut -d. -f1) / 1024 )) MB"
