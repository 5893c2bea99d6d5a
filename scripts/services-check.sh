#!/usr/bin/env bash
# Runs the four services as separate processes (their quarkus-run.jar, configured only by
# environment variables) against a broker from `seqctl local --stages none`, sends inputs to
# both models with `seqctl send`, and checks every output against `seqctl generate`.
#   scripts/services-check.sh [INPUT_FILE]     (default: the first 40 lines of models/eval/heldout.tsv)
# Prints one summary line per model and exits non-zero on any difference or missing result.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="$(mktemp -d /tmp/seq-services-XXXX)"
port="${SEQ_CHECK_PORT:-19400}"
pids=()
ports=()
cleanup() {
  # services first, the broker last, so that they can leave their groups cleanly
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill "${pids[$i]}" 2>/dev/null || true
    [ "$i" -gt 0 ] || sleep 5
  done
  sleep 2
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

if [ $# -ge 1 ]; then cp "$1" "$work/inputs.txt"; else cut -f1 models/eval/heldout.tsv | head -40 > "$work/inputs.txt"; fi
for s in tokenizer embedding encoder decoder; do
  [ -f "services/$s/target/quarkus-app/quarkus-run.jar" ] || { echo "building the services..." >&2; ./mvnw -q -B -DskipTests install >&2; break; }
done

./seqctl local --port "$port" --stages none --data-dir "$work/broker" > "$work/broker.log" 2>&1 &
pids+=($!)
for i in $(seq 1 120); do grep -q '^ready' "$work/broker.log" && break; sleep 1; done
grep -q '^ready' "$work/broker.log" || { echo "broker did not start" >&2; cat "$work/broker.log" >&2; exit 1; }

http=8181
for s in tokenizer embedding encoder decoder; do
  KAFKA_BOOTSTRAP_SERVERS="localhost:$port" SEQ_MODELS_DIR="$root/models" SEQ_DEVICE=cpu SEQ_HTTP_PORT=$http \
    SEQ_INSTANCE_ID="check-$s" SEQ_STATE_DIR="$work/state-$s" \
    java -jar "services/$s/target/quarkus-app/quarkus-run.jar" > "$work/$s.log" 2>&1 &
  pids+=($!)
  ports+=("$http")
  http=$((http + 1))
done
for p in "${ports[@]}"; do
  for i in $(seq 1 120); do curl -sf "localhost:$p/q/health/ready" > /dev/null && break; sleep 1; done
  curl -sf "localhost:$p/q/health/ready" > /dev/null || { echo "service on port $p not ready" >&2; tail -20 "$work"/*.log >&2; exit 1; }
done
echo "broker and 4 services ready" >&2

status=0
for model in itn-seq2seq itn-gpt; do
  ./seqctl generate --model "$model" --device cpu < "$work/inputs.txt" 2>/dev/null \
    | python3 -c 'import sys,json; [print(json.dumps([r["input"], r.get("output"), r.get("error") is not None])) for r in map(json.loads, sys.stdin)]' > "$work/$model.generate"
  ./seqctl send --bootstrap "localhost:$port" --model "$model" --timeout 300 < "$work/inputs.txt" 2>/dev/null \
    | python3 -c 'import sys,json; [print(json.dumps([r["input"], r.get("output"), r.get("error") is not None])) for r in map(json.loads, sys.stdin)]' > "$work/$model.send" || status=1
  n=$(wc -l < "$work/inputs.txt"); same=$(python3 - "$work/$model.generate" "$work/$model.send" <<'PY'
import sys, json
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
print(sum(1 for x, y in zip(a, b) if x == y) if len(a) == len(b) else 0)
PY
)
  echo "$model: $n sent, $(wc -l < "$work/$model.send") results, $same identical to seqctl generate"
  [ "$same" = "$n" ] || status=1
done
# every neural stage reports its own work on /q/metrics
for pair in "${ports[1]}:seq_embedding_records_total" "${ports[2]}:seq_encoder_records_total" "${ports[3]}:seq_decoder_tokens_total"; do
  value=$(curl -sf "localhost:${pair%%:*}/q/metrics" | awk -v m="${pair#*:}" '$1 == m {print $2}')
  echo "${pair#*:} $value"
  awk -v v="${value:-0}" 'BEGIN {exit !(v > 0)}' || status=1
done
exit $status
