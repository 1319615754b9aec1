#!/usr/bin/env bash
# A live meeting, recorded and summarized on this machine, timed from Stop to the summary:
#   scripts/bench-record.sh MEETING.txt [MINUTES]   (default 30)
# Two espeak-ng voices speak the meeting's words (tests/speech/make-meeting.sh): the first
# speaker into a null sink whose monitor is the microphone, the second out of the default
# output, whose monitor is the system's sound — a call as Frugal hears it. `frugal record`
# records both for MINUTES, transcribing as it goes; at Stop the rest of the transcript is
# finished and `frugal --local-only summarize` summarizes it on the default model.
# Prints: audio length, Stop → transcript, transcript → summary, Stop → summary, and the
# peak RSS of `frugal` and of its `frugal-whisper` helper, sampled every second.
# Needs pulseaudio, pactl, paplay, espeak-ng, sox (scripts/setup.sh installs them).
set -euo pipefail
meeting=$1; minutes=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
frugal=${FRUGAL:-${CARGO_TARGET_DIR:-$root/target}/release/frugal}
work=$(mktemp -d /tmp/frugal-bench-record.XXXXXX)
seconds=$((minutes * 60))

# The script: the meeting's lines as `Name: line`, repeated until the words fill MINUTES
# (espeak-ng speaks ≈ 170 words a minute), with only its two first speakers' voices.
python3 - "$meeting" "$seconds" > "$work/script.txt" <<'EOF'
import re, sys
from pathlib import Path
meeting, seconds = sys.argv[1], int(sys.argv[2])
lines, names = [], []
for raw in Path(meeting).read_text(encoding="utf-8").splitlines():
    if ":" not in raw or raw.startswith(("WEBVTT", "NOTE")) or "-->" in raw:
        continue
    name, text = raw.split(":", 1)
    text = re.sub(r"\{[a-z]+\}", " ", text).replace("_", "").replace(" '", "'")
    text = " ".join(re.sub(r"\s+([.,?!])", r"\1", text).split())
    if len(re.findall(r"[A-Za-z]", text)) < 2:
        continue
    name = name.strip()
    if name not in names:
        names.append(name)
    # Two sides of a call: everyone after the first speaker is "the others".
    lines.append(("Me" if name == names[0] else "Others", text))
words, out = 0, []
while words < seconds * 3.2:
    for who, text in lines:
        out.append(f"{who}: {text}")
        words += len(text.split())
        if words >= seconds * 3.2:
            break
print("\n".join(out))
EOF
echo "making the speech ($(wc -w < "$work/script.txt") words)…" >&2
"$root/tests/speech/make-meeting.sh" "$work/script.txt" "$work/speech" >/dev/null
audio=$(soxi -D "$work/speech/Me.wav")
echo "audio: ${audio%.*} s" >&2

# A private sound server: frugal_test is the default output, fake_mic's monitor the
# default source.
export XDG_RUNTIME_DIR=$work/run PULSE_RUNTIME_PATH=$work/run/pulse
mkdir -p "$XDG_RUNTIME_DIR"
pulseaudio -n --daemonize=no --exit-idle-time=-1 --disallow-exit \
  -L module-native-protocol-unix -L "module-null-sink sink_name=frugal_test" \
  -L "module-null-sink sink_name=fake_mic" 2>/dev/null &
pulse=$!
trap 'kill $pulse 2>/dev/null || true' EXIT
for _ in $(seq 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
pactl set-default-sink frugal_test
pactl set-default-source fake_mic.monitor

# A config of its own, with the repository's default models.
cat > "$work/config.toml" <<EOF
[model]
path = "$root/models/SmolLM2-135M-Instruct.Q4_1.gguf"
[transcribe]
model = "$root/models/ggml-tiny.en-q8_0.bin"
[index]
dir = "$work/index"
EOF
export XDG_DATA_HOME=$work/data

mkdir -p "$work/meetings"
"$frugal" --config "$work/config.toml" record --dir "$work/meetings" --seconds "$seconds" \
  > "$work/record.out" 2> "$work/record.err" &
rec=$!
# Stop: when the recording's time is up (it stops by the clock, from its start).
stop=$(python3 -c "import time; print(time.time() + $seconds)")
sleep 1.5
paplay --device=fake_mic "$work/speech/Me.wav" &
a=$!
paplay --device=frugal_test "$work/speech/Others.wav" &
b=$!

# Peak RSS of frugal and its helper, once a second, until the recording stops.
peak_frugal=0; peak_helper=0
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
while kill -0 $rec 2>/dev/null; do
  r=$(rss $rec); ((r > peak_frugal)) && peak_frugal=$r
  for h in $(pgrep -P $rec frugal-whisper || true); do r=$(rss "$h"); ((r > peak_helper)) && peak_helper=$r; done
  sleep 1
done
wait $rec
transcribed=$(date +%s.%N)
kill $a $b 2>/dev/null || true
vtt=$(ls "$work"/meetings/*.vtt)
"$frugal" --config "$work/config.toml" --local-only summarize "$vtt" > "$work/summary.md" 2> "$work/summarize.err" \
  || { cat "$work/summarize.err" >&2; exit 1; }
summarized=$(date +%s.%N)
python3 - "$stop" "$transcribed" "$summarized" "$peak_frugal" "$peak_helper" "$vtt" <<'EOF'
import sys
stop, transcribed, summarized = map(float, sys.argv[1:4])
frugal, helper = int(sys.argv[4]) / 1024, int(sys.argv[5]) / 1024
cues = open(sys.argv[6]).read().count("-->")
print(f"Stop → transcript finished: {transcribed - stop:.1f} s ({cues} cues)")
print(f"transcript → summary: {summarized - transcribed:.1f} s")
print(f"Stop → summary: {summarized - stop:.1f} s")
print(f"peak RSS while recording: frugal {frugal:.0f} MB, frugal-whisper {helper:.0f} MB")
EOF
grep -h "recorded\|transcri" "$work/record.err" | tail -3
echo "files in $work" >&2
