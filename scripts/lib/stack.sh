# Shell functions that run the pipeline as separate processes on one machine: a broker from
# `seqctl local --stages none` and the four services' quarkus-run.jar, configured only by
# environment variables. Sourced by scripts/services-check.sh and loadtest/chaos.sh.
#
#   stack_init WORK_DIR BROKER_PORT [PARTITIONS]
#   stack_broker_start / stack_broker_kill          the broker (same port and data each time)
#   stack_start STAGE NAME HTTP_PORT                one service instance, named NAME
#   stack_kill NAME [SIGNAL]                        default SIGKILL
#   stack_wait_ready HTTP_PORT                      until /q/health/ready answers 200
#   stack_metric HTTP_PORT METRIC                   a value from /q/metrics (0 if absent)
#   stack_peak_rss NAME                             peak resident memory of NAME's process, in MB
#   stack_cleanup                                   stops everything, services first
#
# STACK_JAVA_OPTS: JVM options of every service. Default: as in the images, -Xmx256m
# -XX:+UseSerialGC, and for the decoder -Xmx128m -XX:MaxDirectMemorySize=384m -XX:+UseSerialGC (its KV cache lives
# in direct buffers, its heap stays small); STACK_DECODER_JAVA_OPTS replaces the decoder's alone.
# MALLOC_ARENA_MAX=2 as in the images: glibc's per-thread malloc arenas otherwise hold ~200 MB of
# freed native memory in a busy decoder. STACK_MODELS_DIR: the services' model packages (models/).

STACK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

stack_init() {
  STACK_WORK="$1"
  STACK_PORT="$2"
  STACK_PARTITIONS="${3:-4}"
  mkdir -p "$STACK_WORK/pids" "$STACK_WORK/logs"
  for s in tokenizer embedding encoder decoder; do
    if [ ! -f "$STACK_ROOT/services/$s/target/quarkus-app/quarkus-run.jar" ]; then
      echo "building the services..." >&2
      (cd "$STACK_ROOT" && ./mvnw -q -B -DskipTests install >&2)
      break
    fi
  done
}

stack_broker_start() {
  ( (cd "$STACK_ROOT" && exec ./seqctl local --port "$STACK_PORT" --stages none --partitions "$STACK_PARTITIONS" \
     --data-dir "$STACK_WORK/broker" >> "$STACK_WORK/logs/broker.log" 2>&1) &
   echo $! > "$STACK_WORK/pids/broker")
  local n
  n=$(grep -c '^ready' "$STACK_WORK/logs/broker.log" 2>/dev/null || true)
  for _ in $(seq 1 240); do
    [ "$(grep -c '^ready' "$STACK_WORK/logs/broker.log" 2>/dev/null || true)" -gt "${n:-0}" ] && return 0
    sleep 0.5
  done
  echo "the broker did not start; its log:" >&2
  tail -30 "$STACK_WORK/logs/broker.log" >&2
  return 1
}

stack_broker_kill() {
  stack_kill broker "${1:-KILL}"
}

stack_java_opts() {
  if [ "$1" = decoder ]; then echo "${STACK_DECODER_JAVA_OPTS:--Xmx128m -XX:MaxDirectMemorySize=384m -XX:+UseSerialGC}"; else echo "-Xmx256m -XX:+UseSerialGC"; fi
}

stack_start() {
  local stage="$1" name="$2" http="$3"
  echo "$http" > "$STACK_WORK/pids/$name.http"
  # in a subshell, so that killing it is no job of the calling shell's to report
  (MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" KAFKA_BOOTSTRAP_SERVERS="localhost:$STACK_PORT" SEQ_MODELS_DIR="${STACK_MODELS_DIR:-$STACK_ROOT/models}" SEQ_DEVICE=cpu SEQ_ONNX_THREADS="${SEQ_ONNX_THREADS:-0}" \
    SEQ_HTTP_PORT="$http" SEQ_INSTANCE_ID="$name" SEQ_STATE_DIR="$STACK_WORK/state-$name" \
    exec java ${STACK_JAVA_OPTS-$(stack_java_opts "$stage")} -jar "$STACK_ROOT/services/$stage/target/quarkus-app/quarkus-run.jar" \
    >> "$STACK_WORK/logs/$name.log" 2>&1 &
   echo $! > "$STACK_WORK/pids/$name")
}

stack_kill() {
  local name="$1" sig="${2:-KILL}" pid
  pid=$(cat "$STACK_WORK/pids/$name" 2>/dev/null) || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$STACK_WORK/pids/$name"
}

stack_wait_ready() {
  local http="$1"
  for _ in $(seq 1 240); do
    curl -sf "localhost:$http/q/health/ready" > /dev/null && return 0
    sleep 0.5
  done
  echo "the service on port $http is not ready; logs:" >&2
  tail -n 15 "$STACK_WORK"/logs/*.log >&2
  return 1
}

stack_metric() {
  curl -sf "localhost:$1/q/metrics" 2>/dev/null | awk -v m="$2" '$1 == m {v = $2} END {print (v == "" ? 0 : v) + 0}'
}

stack_peak_rss() {
  local pid
  pid=$(cat "$STACK_WORK/pids/$1" 2>/dev/null) || { echo "-"; return; }
  awk '/^VmHWM:/ {printf "%d\n", $2 / 1024}' "/proc/$pid/status" 2>/dev/null || echo "-"
}

stack_cleanup() {
  local f name
  for f in "$STACK_WORK"/pids/*; do
    name=$(basename "$f")
    case "$name" in broker|*.http) ;; *) [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true ;; esac
  done
  sleep 3
  [ -f "$STACK_WORK/pids/broker" ] && kill "$(cat "$STACK_WORK/pids/broker")" 2>/dev/null || true
  sleep 2
  for f in "$STACK_WORK"/pids/*; do
    case "$f" in *.http) ;; *) [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true ;; esac
  done
}
