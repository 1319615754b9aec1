#!/usr/bin/env bash
# Summary figures on the default model, read in place from ../shared/eval (never copied):
#   - a ≈5k-token meeting: total time and time to the first model token
#   - the same meeting forced through map-reduce (half the context) vs the single pass
#   - a ≈2-hour meeting (three transcripts back to back, ≈25k tokens) through map-reduce
#   - grounding on every fixture and eval meeting: share of action items kept
set -euo pipefail
cd "$(dirname "$0")/.."
EVAL="${FRUGAL_EVAL:-../shared/eval/meetings}"
MODEL="${1:-models/SmolLM2-135M-Instruct.Q4_1.gguf}"
BIN="${CARGO_TARGET_DIR:-target}/release/frugal"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
printf '[model]\ncontext = 4096\n' > "$TMP/half.toml"
run() { "$BIN" --config "$1" --model "$MODEL" summarize --json "$2" 2>/dev/null; }
fig() { python3 -c "import json,sys; d=json.load(open('$1')); print(d['chunks'], d['first_token_ms'], d['total_ms'], len(d['action_items']), len(d['dropped']))"; }

M5K="$EVAL/ami-IS1001c_concept-design.txt"
TOKENS=$("$BIN" --model "$MODEL" chat --json --max-tokens 1 --file "$M5K" | python3 -c "import json,sys; print(json.load(sys.stdin)['usage']['prompt_tokens'])")
run "$TMP/none.toml" "$M5K" > "$TMP/single.json"
run "$TMP/half.toml" "$M5K" > "$TMP/mapreduce.json"
cat "$EVAL/senedd-cype-committee_covid-children-health-evidence.txt" "$M5K" "$EVAL/ami-ES2005a_kickoff-excerpt.txt" > "$TMP/two-hours.txt"
LONG_TOKENS=$("$BIN" --model "$MODEL" --config "$TMP/none.toml" chat --json --max-tokens 1 --file "$TMP/two-hours.txt" 2>/dev/null \
  | python3 -c "import json,sys; print(json.load(sys.stdin)['usage']['prompt_tokens'])" || echo "n/a (over the context, as expected)")
run "$TMP/none.toml" "$TMP/two-hours.txt" > "$TMP/long.json"

read -r c1 f1 t1 _ _ <<<"$(fig "$TMP/single.json")"
read -r c2 f2 t2 _ _ <<<"$(fig "$TMP/mapreduce.json")"
read -r c3 f3 t3 _ _ <<<"$(fig "$TMP/long.json")"
echo "5k meeting ($TOKENS prompt tokens): single pass ${c1} chunk, first token ${f1} ms, total ${t1} ms"
echo "same meeting, context 4096: ${c2} chunks, first token ${f2} ms, total ${t2} ms -> map-reduce overhead x$(python3 -c "print(round($t2/$t1,2))")"
echo "2-hour meeting ($(wc -w < "$TMP/two-hours.txt") words): ${c3} chunks, first token ${f3} ms, total ${t3} ms"

kept=0; dropped=0
for f in tests/fixtures/meetings/* "$EVAL"/*; do
  run "$TMP/none.toml" "$f" > "$TMP/q.json" || continue
  read -r _ _ _ k d <<<"$(fig "$TMP/q.json")"
  kept=$((kept + k)); dropped=$((dropped + d))
  echo "  $(basename "$f"): $k action items kept, $d dropped by grounding"
done
echo "action items whose owner and task are grounded in the transcript: $kept of $((kept + dropped))"
