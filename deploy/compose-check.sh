#!/usr/bin/env bash
# The compose stack, for real, on this machine: makes sure a Docker engine runs (installs and
# starts one as root with apt if none answers), builds the images when they are missing (on a
# base made from Debian packages where eclipse-temurin cannot be pulled; on seqstream/kafka where
# apache/kafka cannot), brings docker-compose.yml up with host networking
# (deploy/compose-host-network.yml: all traffic on loopback), waits until every service is healthy,
# and for each model sends N requests with `seqctl send --stream`, kills the decoder container
# with SIGKILL while they are in flight, starts it again, and checks every result against
# `seqctl generate` and every token event; then asks the gateway container for 20 completions and
# 20 streams, checked the same way. Tears everything down (and stops a dockerd it started).
#
#   deploy/compose-check.sh [-n 200] [--model NAME]... [--rebuild] [--keep]
#
#   -n N        requests per model (default 200, sentences of the test split)
#   --model M   only this model (repeatable; default itn-seq2seq and itn-gpt)
#   --rebuild   build the images even if they exist
#   --keep      leave the stack running
#
# Progress goes to stderr; the last lines, as loadtest/chaos.sh prints them:
#   N sent, N completed, 0 lost, 0 duplicated, outputs identical
#   token events: N, 0 duplicated, 0 outputs not spelled by their events
# Exits non-zero when anything is lost, duplicated or different, or the stack does not come up.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib/docker.sh

n=200 models=() rebuild=0 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n="$2"; shift 2 ;;
    --model) models+=("$2"); shift 2 ;;
    --rebuild) rebuild=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compose-check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#models[@]} -gt 0 ] || models=(itn-seq2seq itn-gpt)

started=$(date +%s)
log() { echo "[$(date +%T)] $*" >&2; }
project=seqstream-check
work=$(mktemp -d /tmp/seq-compose-check-XXXX)
# docker-compose.yml with deploy/compose-host-network.yml over it, less the published ports (with
# the host's network they are the host's own, and compose v1 refuses both together)
compose() { docker_compose -p "$project" -f "$work/compose.yml" "$@"; }
cleanup() {
  if [ "$keep" = 0 ] && docker info > /dev/null 2>&1; then
    compose down -v --remove-orphans > "$work/down.log" 2>&1 || tail -3 "$work/down.log" >&2
  fi
  docker_stop_started
  rm -rf "$work"
}
trap cleanup EXIT

docker_ensure
if ! docker compose version > /dev/null 2>&1 && ! command -v docker-compose > /dev/null; then
  log "installing docker-compose (v1) with apt"
  apt-get install -y -q docker-compose > "$work/apt.log" 2>&1 || { apt-get update -q && apt-get install -y -q docker-compose; } >> "$work/apt.log" 2>&1
fi
log "Docker $(docker version -f '{{.Server.Version}}'), $(docker_compose version 2>/dev/null | head -1)"

have() { docker image inspect "$1" > /dev/null 2>&1 || docker pull -q "$1" > /dev/null 2>&1; }
tag="${SEQ_IMAGE_TAG:-0.1.0}" prefix="${SEQ_IMAGE_PREFIX:-seqstream}"
kafka_version=$(sed -n 's|.*<kafka.version>\(.*\)</kafka.version>.*|\1|p' pom.xml)
base="${SEQ_BASE_IMAGE:-eclipse-temurin:17-jre}"
if ! have "$base"; then
  base=seqstream/jre:17
  if ! docker image inspect "$base" > /dev/null 2>&1; then
    log "eclipse-temurin:17-jre cannot be pulled: building $base from Debian packages (deploy/images/base.sh)"
    deploy/images/base.sh --tag "$base"
  fi
fi
export KAFKA_IMAGE="${KAFKA_IMAGE:-apache/kafka:$kafka_version}"
have "$KAFKA_IMAGE" || KAFKA_IMAGE="$prefix/kafka:$kafka_version"
missing=0
for image in "$prefix"/{tokenizer,embedding,encoder,decoder,gateway}:"$tag" "$KAFKA_IMAGE"; do
  docker image inspect "$image" > /dev/null 2>&1 || missing=1
done
if [ "$rebuild" = 1 ] || [ "$missing" = 1 ]; then
  log "building the images on $base (deploy/images/build.sh)"
  deploy/images/build.sh --tag "$tag" --prefix "$prefix" --base "$base" >&2
fi
export SEQ_IMAGE_TAG="$tag" SEQ_IMAGE_PREFIX="$prefix" SEQ_BASE_IMAGE="$base"
log "images: $prefix/<stage>:$tag on $base, Kafka $KAFKA_IMAGE"

SEQ_HOST_NAME=$(hostname) docker_compose -p "$project" -f docker-compose.yml -f deploy/compose-host-network.yml config \
  | awk '/^    ports:$/ {skip = 1; next} skip && /^(    -|      )/ {next} {skip = 0; print}' > "$work/compose.yml"
log "docker compose up (project $project, host networking)"
compose down -v --remove-orphans > /dev/null 2>&1 || true
compose up -d > "$work/up.log" 2>&1 || { cat "$work/up.log" >&2; exit 1; }
container() { compose ps -q "$1"; }
wait_healthy() {
  local s
  for s in kafka tokenizer embedding encoder decoder gateway; do
    for i in $(seq 1 360); do
      [ "$(docker inspect -f '{{.State.Health.Status}}' "$(container "$s")" 2>/dev/null)" = healthy ] && break
      if [ "$i" = 360 ]; then compose ps >&2; compose logs --tail 30 "$s" >&2; log "$s is not healthy after 180 s"; return 1; fi
      sleep 0.5
    done
  done
}
wait_healthy
log "all services healthy after $(( $(date +%s) - started )) s"

metric() { curl -fs "localhost:${2:-8084}/q/metrics" 2>/dev/null | awk -v m="$1" '$1 == m {print $2; f=1} END {if (!f) print 0}'; }
at_least() { awk -v v="$1" -v t="$2" 'BEGIN {exit !(v >= t)}'; }
wait_decoder_healthy() {
  for i in $(seq 1 360); do
    [ "$(docker inspect -f '{{.State.Health.Status}}' "$(container decoder)")" = healthy ] && return 0
    sleep 0.5
  done
  log "the decoder did not become healthy again"; return 1
}
head -n "$n" models/eval/itn-test.tsv | cut -f1 > "$work/inputs.txt"
n=$(wc -l < "$work/inputs.txt")
total_sent=0 total_done=0 total_lost=0 total_dup=0 total_diff=0 total_events=0 total_stream_dup=0 total_stream_bad=0
for model in "${models[@]}"; do
  ./seqctl generate --model "$model" --device cpu < "$work/inputs.txt" 2> /dev/null > "$work/$model.reference.jsonl"
  # a decoder that keeps up with arrivals holds only a few sequences when it is killed: it starts on
  # a backlog of every request, so that the kill lands on a full batch (the stage that writes the
  # decoder's input is the embedding for a decoder-only model, the encoder otherwise)
  if grep -q '"architecture": *"decoder-only"' "models/$model/model.json"; then
    feeder=(seq_embedding_records_total 8082)
  else
    feeder=(seq_encoder_records_total 8083)
  fi
  encoded_before=$(metric "${feeder[@]}")
  docker stop "$(container decoder)" > /dev/null
  log "$model: decoder stopped; sending $n requests"
  ./seqctl send --bootstrap localhost:9092 --model "$model" --timeout 900 --linger 15 --stream \
    < "$work/inputs.txt" > "$work/$model.results.jsonl" 2> "$work/$model.send.err" &
  send_pid=$!
  for _ in $(seq 1 3000); do
    at_least "$(metric "${feeder[@]}")" $((${encoded_before%.*} + n)) && break
    kill -0 "$send_pid" 2> /dev/null || break
    sleep 0.1
  done
  docker start "$(container decoder)" > /dev/null
  wait_decoder_healthy
  log "$model: decoder started on $(awk -v a="$(metric "${feeder[@]}")" -v b="$encoded_before" 'BEGIN {print a - b}') encoded requests"
  # killed early (after a tenth of the results: a full batch of these models finishes in seconds)
  # and while it holds sequences (it may hold none for a moment, between two polls)
  for _ in $(seq 1 3000); do
    at_least "$(metric seq_decoder_finished_sequences_total)" $(( (n + 9) / 10 )) \
      && at_least "$(metric seq_decoder_active_sequences)" $(( n < 64 ? (n + 7) / 8 : 8 )) && break
    kill -0 "$send_pid" 2> /dev/null || break
    sleep 0.1
  done
  done_at_kill=$(metric seq_decoder_finished_sequences_total); done_at_kill=${done_at_kill%.*}
  log "$model: $done_at_kill results, $(metric seq_decoder_active_sequences) sequences active: docker kill -s KILL decoder"
  docker kill -s KILL "$(container decoder)" > /dev/null
  docker start "$(container decoder)" > /dev/null
  wait_decoder_healthy
  resumed=0
  for _ in $(seq 1 600); do
    resumed=$(metric seq_decoder_resumed_sequences_total)
    at_least "$resumed" 1 && break
    kill -0 "$send_pid" 2> /dev/null || break
    sleep 0.1
  done
  log "$model: decoder healthy again; it resumed ${resumed%.*} sequences from their stored tokens"
  status=0
  wait "$send_pid" || status=$?
  summary=$(grep -E '^[0-9]+ sent, ' "$work/$model.send.err" | tail -1 || true)
  if [ -z "$summary" ]; then
    tail -5 "$work/$model.send.err" >&2
    sent=$n done=0 lost=$n dup=0
  else
    read -r sent done lost dup < <(echo "$summary" | awk -F'[ ,]+' '{print $1, $3, $5, $7}')
  fi
  diff_count=$(python3 scripts/lib/results.py diff "$work/$model.reference.jsonl" "$work/$model.results.jsonl")
  read -r events stream_dup stream_bad < <(python3 scripts/lib/results.py events "$work/$model.results.jsonl" "$work/$model.send.err")
  if [ "$done_at_kill" -ge "$n" ] || [ "${resumed%.*}" -lt 1 ]; then
    log "$model: the kill landed after the last result or nothing was resumed: the check tested nothing"
    diff_count=$((diff_count + 1))
  fi
  log "$model: ${summary:-no summary from seqctl send (exit $status)}; $diff_count outputs differ from seqctl generate"
  log "$model: token events: $events, $stream_dup duplicated, $stream_bad outputs not spelled by their events"
  gateway_diff=$(python3 scripts/lib/results.py gateway http://localhost:8080 "$model" "$work/inputs.txt" "$work/$model.reference.jsonl" 20)
  log "$model: gateway (localhost:8080): $gateway_diff of 20 completions and 20 streams differ from seqctl generate"
  diff_count=$((diff_count + gateway_diff))
  total_sent=$((total_sent + sent)) total_done=$((total_done + done)) total_lost=$((total_lost + lost))
  total_dup=$((total_dup + dup)) total_diff=$((total_diff + diff_count))
  total_events=$((total_events + events)) total_stream_dup=$((total_stream_dup + stream_dup)) total_stream_bad=$((total_stream_bad + stream_bad))
done

log "done in $(( $(date +%s) - started )) s"
verdict="outputs identical"
[ "$total_diff" -eq 0 ] || verdict="$total_diff outputs differ"
echo "token events: $total_events, $total_stream_dup duplicated, $total_stream_bad outputs not spelled by their events"
echo "$total_sent sent, $total_done completed, $total_lost lost, $total_dup duplicated, $verdict"
[ "$total_lost" -eq 0 ] && [ "$total_dup" -eq 0 ] && [ "$total_diff" -eq 0 ] && [ "$total_stream_dup" -eq 0 ] && [ "$total_stream_bad" -eq 0 ]
