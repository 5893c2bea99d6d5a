#!/usr/bin/env bash
# Runs the four services as separate processes (their quarkus-run.jar, configured only by
# environment variables) against a broker from `seqctl local --stages none`, sends inputs to
# both models with `seqctl send`, and checks every output against `seqctl generate`.
#   scripts/services-check.sh [INPUT_FILE]     (default: the first 40 lines of models/eval/heldout.tsv)
# Prints one summary line per model, each stage's work from its metrics, and the peak resident
# memory of every process; exits non-zero on any difference or missing result.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib/stack.sh
work="$(mktemp -d /tmp/seq-services-XXXX)"
trap 'stack_cleanup 2>/dev/null; rm -rf "$work"' EXIT
stack_init "$work" "${SEQ_CHECK_PORT:-19400}" 4

if [ $# -ge 1 ]; then cp "$1" "$work/inputs.txt"; else head -40 models/eval/heldout.tsv | cut -f1 > "$work/inputs.txt"; fi
stack_broker_start
stack_start tokenizer tokenizer 8181
stack_start embedding embedding 8182
stack_start encoder encoder 8183
stack_start decoder decoder 8184
for p in 8181 8182 8183 8184; do stack_wait_ready "$p"; done
echo "broker and 4 services ready" >&2

pairs() { python3 -c 'import sys,json; [print(json.dumps([r["input"], r.get("output"), r.get("error") is not None])) for r in map(json.loads, sys.stdin)]'; }
status=0
for model in itn-seq2seq itn-gpt; do
  ./seqctl generate --model "$model" --device cpu < "$work/inputs.txt" 2>/dev/null | pairs > "$work/$model.generate"
  ./seqctl send --bootstrap "localhost:$STACK_PORT" --model "$model" --timeout 300 < "$work/inputs.txt" 2>/dev/null \
    | pairs > "$work/$model.send" || status=1
  n=$(wc -l < "$work/inputs.txt")
  same=$(python3 - "$work/$model.generate" "$work/$model.send" <<'PY'
import sys, json
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
print(sum(1 for x, y in zip(a, b) if x == y) if len(a) == len(b) else 0)
PY
)
  echo "$model: $n sent, $(wc -l < "$work/$model.send") results, $same identical to seqctl generate"
  [ "$same" = "$n" ] || status=1
done
# every stage reports its own work on /q/metrics
for pair in 8181:seq_tokenizer_tokenized_total 8182:seq_embedding_records_total 8183:seq_encoder_records_total \
            8184:seq_decoder_tokens_total; do
  value=$(stack_metric "${pair%%:*}" "${pair#*:}")
  echo "${pair#*:} $value"
  awk -v v="$value" 'BEGIN {exit !(v > 0)}' || status=1
done
echo "peak RSS MB: broker $(stack_peak_rss broker), tokenizer $(stack_peak_rss tokenizer), embedding $(stack_peak_rss embedding)," \
  "encoder $(stack_peak_rss encoder), decoder $(stack_peak_rss decoder)"
exit $status
