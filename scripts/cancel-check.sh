#!/usr/bin/env bash
# A cancel during a long generation, through the gateway and with `seqctl cancel`: the request
# must end with finish_reason "cancelled" within one second, its output being the tokens streamed
# until then, and seq.stream must hold no event of it after that.
#
#   scripts/cancel-check.sh [--models-dir DIR] [--model NAME] [--max-tokens N] [--after K]
# A long generation needs a model that does not stop early: the random-weight packages of
# loadtest/bench-size.sh never emit EOS (default: loadtest/target/size-models, model
# gpt2-small-random, 128 tokens (its limit), the cancel after 20 events).
set -euo pipefail
cd "$(dirname "$0")/.."
models=loadtest/target/size-models model=gpt2-small-random max=128 after=20 port=19975 http=18097
while [ $# -gt 0 ]; do
  case "$1" in
    --models-dir) models="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --max-tokens) max="$2"; shift 2 ;;
    --after) after="$2"; shift 2 ;;
    *) echo "usage: $0 [--models-dir DIR] [--model NAME] [--max-tokens N] [--after K]" >&2; exit 2 ;;
  esac
done
[ -f "$models/$model/model.json" ] || { echo "cancel-check: no package $models/$model (loadtest/bench-size.sh --size gpt2-small makes it)" >&2; exit 2; }
work=$(mktemp -d /tmp/seq-cancel-check-XXXX)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
./seqctl local --port "$port" --http-port "$http" --models-dir "$models" --threads 1 --data-dir "$work/local" > "$work/local.log" 2>&1 &
pid=$!
for _ in $(seq 1 480); do grep -q '^ready' "$work/local.log" && break; sleep 0.5; done
grep -q '^ready' "$work/local.log" || { tail -20 "$work/local.log" >&2; exit 1; }
base="http://127.0.0.1:$http/v1"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
status=0

# stream a request; after K events, cancel it by $1 (gateway | seqctl); report the time from the
# cancel to the final chunk (gateway: as the streaming client sees it; seqctl: from the cancel's
# publication to the result's timestamp, as seqctl cancel reports it)
check() {
  local how="$1" id="" n=0 cancel_pid= cancelled_at=0 final="" final_at=0
  exec 3< <(curl -sN "$base/completions" -H 'Content-Type: application/json' \
    -d "{\"model\":\"$model\",\"prompt\":\"only seven percent replied\",\"max_tokens\":$max,\"stream\":true}")
  while IFS= read -r line <&3; do
    case "$line" in
      id:*) ;;
      "data: [DONE]") break ;;
      data:*)
        if [ -z "$id" ]; then id=$(sed -E 's/.*"id":"([^"]+)".*/\1/' <<< "$line"); fi
        if grep -q '"finish_reason":null' <<< "$line"; then
          n=$((n + 1))
          if [ "$n" = "$after" ]; then
            cancelled_at=$(now_ms)
            if [ "$how" = gateway ]; then curl -s -X POST "$base/completions/$id/cancel" > /dev/null
            else ./seqctl cancel --bootstrap "localhost:$port" --timeout 10 "$id" 2>/dev/null > "$work/cancel.json" & cancel_pid=$!; fi
          fi
        else
          final="$line"; final_at=$(now_ms)
        fi ;;
    esac
  done
  exec 3<&-
  local reason generated ms
  reason=$(sed -E 's/.*"finish_reason":"([^"]+)".*/\1/' <<< "$final")
  generated=$(sed -E 's/.*"completion_tokens":([0-9]+).*/\1/' <<< "$final")
  ms=$((final_at - cancelled_at))
  if [ "$how" = seqctl ]; then
    # from when seqctl published the cancel (its own start-up, a JVM's, not counted) to the result
    wait "$cancel_pid" || true
    ms=$(sed -E 's/.*"ms_after_cancel":(-?[0-9]+).*/\1/' "$work/cancel.json")
    grep -q '"finish_reason":"cancelled"' "$work/cancel.json" || { echo "seqctl cancel printed: $(cat "$work/cancel.json")"; status=1; }
  fi
  # every token event of the request on seq.stream, after the stream ended
  local events
  events=$(./seqctl tail --bootstrap "localhost:$port" --topic seq.stream --from-beginning --idle 3 2>/dev/null | grep -c "\"id\":\"$id\"" || true)
  echo "$how: cancel after $after of $max tokens: finish_reason $reason after ${ms} ms; $generated tokens generated, $n streamed, $events on seq.stream"
  if [ "$reason" != cancelled ] || [ "$ms" -gt 1000 ] || [ "$generated" != "$n" ] || [ "$events" != "$n" ]; then
    echo "FAIL $how"; status=1
  fi
}
check gateway
check seqctl
[ $status = 0 ] && echo "cancel-check: passed" || echo "cancel-check: FAILED"
exit $status
