#!/usr/bin/env bash
# Faults under load, on one machine, with the real service jars and a broker from
# `seqctl local --stages none`. For each scenario: a fresh stack (broker + one instance of each
# service, topics with 4 partitions), N requests sent with `seqctl send`, the fault injected
# while they are generated, then every result checked against `seqctl generate`.
#
#   loadtest/chaos.sh [SCENARIO ...] [-n N] [--model NAME] [--inputs FILE] [--sampled]
#
# Scenarios (default: all of them, in this order):
#   decoder   the decoder starts once every request is encoded (a backlog, so that its batch is
#             full), is killed with -9 after about a tenth of the results, and starts again
#   encoder   kill -9 the encoder after about a third of the records it encodes, start it again
#   broker    kill -9 the broker after about a third of the results, start it again on its data
#   scale     start a second instance of every stage under load (rebalance), stop the first
#             tokenizer and decoder (rebalance), start them again (rebalance)
#
# Prints what it does on stderr, one line per scenario, and a last line that sums them up:
#   N sent, N completed, 0 lost, 0 duplicated, outputs identical
# followed by one about the token events:
#   token events: N, 0 duplicated, 0 outputs not spelled by their events
# Exits non-zero if any result is lost, duplicated or different.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib/stack.sh

scenarios=()
n=300
model=itn-seq2seq
inputs=""
gen_opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --inputs) inputs="$2"; shift 2 ;;
    --sampled) gen_opts=(--temperature 0.8 --top-p 0.95 --seed 7); shift ;;
    decoder|encoder|broker|scale) scenarios+=("$1"); shift ;;
    -h|--help) sed -n 2,27p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#scenarios[@]} -gt 0 ] || scenarios=(decoder encoder broker scale)

base="$(mktemp -d /tmp/seq-chaos-XXXX)"
trap 'stack_cleanup 2>/dev/null; rm -rf "$base"' EXIT
log() { echo "[$(date +%T)] $*" >&2; }

# Inputs: N sentences of the test split unless a file is given.
if [ -n "$inputs" ]; then head -n "$n" "$inputs" > "$base/inputs.txt"; else head -n "$n" models/eval/itn-test.tsv | cut -f1 > "$base/inputs.txt"; fi
n=$(wc -l < "$base/inputs.txt")
log "reference: seqctl generate --model $model ${gen_opts[*]:-} on $n inputs"
./seqctl generate --model "$model" --device cpu "${gen_opts[@]}" < "$base/inputs.txt" 2>/dev/null > "$base/reference.jsonl"

# Waits until the metric on the named instance reaches a value (or the send finished).
wait_metric() {
  local name="$1" metric="$2" target="$3" v
  for _ in $(seq 1 3000); do
    v=$(stack_metric "$(cat "$STACK_WORK/pids/$name.http")" "$metric")
    awk -v v="$v" -v t="$target" 'BEGIN {exit !(v >= t)}' && return 0
    kill -0 "$send_pid" 2>/dev/null || return 0
    sleep 0.1
  done
}

http_of() { cat "$STACK_WORK/pids/$1.http"; }

total_sent=0; total_done=0; total_lost=0; total_dup=0; total_diff=0; total_events=0; total_stream_dup=0; total_stream_bad=0
for sc in "${scenarios[@]}"; do
  work="$base/$sc"
  port=$((19600 + RANDOM % 300))
  stack_init "$work" "$port" 4
  log "== $sc: broker on localhost:$port, one instance of each stage"
  stack_broker_start
  stack_start tokenizer tok-1 18281
  stack_start embedding emb-1 18282
  stack_start encoder enc-1 18283
  [ "$sc" = decoder ] || stack_start decoder dec-1 18284
  for p in 18281 18282 18283; do stack_wait_ready "$p"; done
  [ "$sc" = decoder ] || stack_wait_ready 18284

  log "$sc: sending $n requests"
  ./seqctl send --bootstrap "localhost:$port" --model "$model" "${gen_opts[@]}" --timeout 900 --linger 15 --stream \
    < "$base/inputs.txt" > "$work/results.jsonl" 2> "$work/send.err" &
  send_pid=$!
  third=$(( (n + 2) / 3 ))
  case "$sc" in
    decoder)
      # a decoder that keeps up with arrivals holds only a few sequences when it is killed: start it
      # on a backlog of every request, so that the kill lands on a full batch
      # (for a decoder-only model, the embedding stage writes the decoder's input)
      if grep -q '"architecture": *"decoder-only"' "models/$model/model.json" 2> /dev/null; then
        feeder=(emb-1 18282 seq_embedding_records_total)
      else
        feeder=(enc-1 18283 seq_encoder_records_total)
      fi
      wait_metric "${feeder[0]}" "${feeder[2]}" "$n"
      stack_start decoder dec-1 18284
      stack_wait_ready 18284
      log "decoder: started on $(stack_metric "${feeder[1]}" "${feeder[2]}") encoded requests"
      # killed early (a tenth of the results): a full batch of these models finishes in seconds
      wait_metric dec-1 seq_decoder_finished_sequences_total "$(( (n + 9) / 10 ))"
      finished_at_kill=$(stack_metric 18284 seq_decoder_finished_sequences_total)
      active_at_kill=$(stack_metric 18284 seq_decoder_active_sequences)
      stack_kill dec-1 KILL
      log "decoder: $finished_at_kill finished, $active_at_kill active; killed with -9"
      stack_start decoder dec-1 18284
      stack_wait_ready 18284
      wait_metric dec-1 seq_decoder_resumed_sequences_total 1
      log "decoder: restarted; resumed from stored state: $(stack_metric 18284 seq_decoder_resumed_sequences_total) sequences"
      ;;
    encoder)
      wait_metric enc-1 seq_encoder_records_total "$third"
      log "encoder: $(stack_metric 18283 seq_encoder_records_total) records encoded; kill -9"
      stack_kill enc-1 KILL
      stack_start encoder enc-1 18283
      stack_wait_ready 18283
      log "encoder: restarted"
      ;;
    broker)
      wait_metric dec-1 seq_decoder_finished_sequences_total "$third"
      log "broker: $(stack_metric 18284 seq_decoder_finished_sequences_total) results; kill -9 the broker"
      stack_broker_kill KILL
      sleep 3
      stack_broker_start
      log "broker: restarted on its data"
      ;;
    scale)
      wait_metric dec-1 seq_decoder_finished_sequences_total $(( n / 5 ))
      log "scale: starting a second instance of every stage"
      stack_start tokenizer tok-2 18291
      stack_start embedding emb-2 18292
      stack_start encoder enc-2 18293
      stack_start decoder dec-2 18294
      for p in 18291 18292 18293 18294; do stack_wait_ready "$p"; done
      log "scale: stopping the first tokenizer and decoder (SIGTERM)"
      stack_kill tok-1 TERM
      stack_kill dec-1 TERM
      sleep 5
      log "scale: starting them again"
      stack_start tokenizer tok-1 18281
      stack_start decoder dec-1 18284
      stack_wait_ready 18281
      stack_wait_ready 18284
      ;;
  esac
  status=0
  wait "$send_pid" || status=$?
  summary=$(grep -E '^[0-9]+ sent, ' "$work/send.err" | tail -1 || true)
  read -r sent done lost dup < <(echo "$summary" | awk -F'[ ,]+' '{print $1, $3, $5, $7}')
  diff_count=$(python3 scripts/lib/results.py diff "$base/reference.jsonl" "$work/results.jsonl")
  read -r events stream_dup stream_bad < <(python3 scripts/lib/results.py events "$work/results.jsonl" "$work/send.err")
  if [ "$sc" = decoder ]; then
    resumed=$(stack_metric 18284 seq_decoder_resumed_sequences_total)
    log "decoder: the restarted instance resumed $resumed sequences from their stored tokens"
    if [ "${finished_at_kill%.*}" -ge "$n" ] || [ "${resumed%.*}" -lt 1 ]; then
      log "decoder: the kill landed after the last result or nothing was resumed: the scenario tested nothing"
      total_diff=$((total_diff + 1))
    fi
  fi
  log "$sc: token events: $events, $stream_dup duplicated, $stream_bad outputs not spelled by their events"
  total_events=$((total_events + events)); total_stream_dup=$((total_stream_dup + stream_dup)); total_stream_bad=$((total_stream_bad + stream_bad))
  log "$sc: ${summary:-no summary from seqctl send (exit $status)}; $diff_count outputs differ from seqctl generate"
  if [ -z "$summary" ]; then tail -5 "$work/send.err" >&2; sent=$n; done=0; lost=$n; dup=0; fi
  total_sent=$((total_sent + sent)); total_done=$((total_done + done)); total_lost=$((total_lost + lost))
  total_dup=$((total_dup + dup)); total_diff=$((total_diff + diff_count))
  stack_cleanup
done

verdict="outputs identical"
[ "$total_diff" -eq 0 ] || verdict="$total_diff outputs differ"
echo "$total_sent sent, $total_done completed, $total_lost lost, $total_dup duplicated, $verdict"
echo "token events: $total_events, $total_stream_dup duplicated, $total_stream_bad outputs not spelled by their events"
[ "$total_lost" -eq 0 ] && [ "$total_dup" -eq 0 ] && [ "$total_diff" -eq 0 ] && [ "$total_stream_dup" -eq 0 ] && [ "$total_stream_bad" -eq 0 ]
