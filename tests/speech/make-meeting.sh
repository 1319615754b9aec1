#!/usr/bin/env bash
# Speaks a `Name: line` script with espeak-ng, one voice per speaker, and mixes it with sox:
#   make-meeting.sh SCRIPT OUTDIR
# writes OUTDIR/mono.wav (everyone, 16 kHz mono), OUTDIR/stereo.wav (with two speakers:
# the first left, the second right, as a two-channel call recording), OUTDIR/<speaker>.wav
# (each speaker alone, silent while others talk) and OUTDIR/reference.txt (the words, for
# word error rates). Voices alternate between two espeak-ng voices.
# sox runs without dither (-D), so the same script gives the same audio, bit for bit.
# Lines follow each other with a pause of 0.4 s; a second speaker's line starts 0.4 s after
# the other's ends, so the tracks are at different offsets within one timeline.
set -euo pipefail
script=$1; out=$2
mkdir -p "$out"
voices=("en-us+m3" "en-gb+f3")
declare -A voice_of
speakers=()
n=0; : > "$out/reference.txt"
while IFS= read -r line; do
  [[ -z "$line" || "$line" == \#* ]] && continue
  name=${line%%:*}; text=${line#*: }
  if [[ -z "${voice_of[$name]:-}" ]]; then voice_of[$name]=${voices[${#speakers[@]} % 2]}; speakers+=("$name"); fi
  espeak-ng -v "${voice_of[$name]}" -s 165 -w "$out/line$n.raw.wav" "$text"
  sox -D "$out/line$n.raw.wav" -r 16000 -c 1 -b 16 "$out/line$n.wav" pad 0 0.4
  echo "$name" > "$out/line$n.who"
  echo "$text" >> "$out/reference.txt"
  n=$((n + 1))
done < "$script"
# One track per speaker: their lines, silence of the same length where the other speaks.
for s in "${speakers[@]}"; do
  parts=()
  for ((i = 0; i < n; i++)); do
    if [[ "$(cat "$out/line$i.who")" == "$s" ]]; then parts+=("$out/line$i.wav"); else
      sox -D "$out/line$i.wav" "$out/line$i.silent.wav" vol 0; parts+=("$out/line$i.silent.wav"); fi
  done
  sox -D "${parts[@]}" "$out/$s.wav"
done
# One speaker at a time: mixed at full volume, nothing clips.
if ((${#speakers[@]} == 1)); then cp "$out/${speakers[0]}.wav" "$out/mono.wav"; else
  mix=(); for s in "${speakers[@]}"; do mix+=(-v 1 "$out/$s.wav"); done
  sox -D -m "${mix[@]}" "$out/mono.wav"
fi
if ((${#speakers[@]} == 2)); then sox -D -M "$out/${speakers[0]}.wav" "$out/${speakers[1]}.wav" "$out/stereo.wav"; fi
rm -f "$out"/line*
