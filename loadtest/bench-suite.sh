#!/usr/bin/env bash
# The benchmark suite: one command, one report. In one run, on this machine:
#   1. PyTorch eager next to the Java in-process generator (seqctl bench; PyTorch if torch is installed),
#   2. the in-process generator at batch 1, 8, 32 and 64, and one request alone,
#   3. the pipeline at each concurrency with seqload run, on two stacks: `seqctl local` (broker
#      and four stages in one process; the ratios use this one) and the four service jars as
#      separate processes against a broker from `seqctl local --stages none`,
#   4. the peak resident memory of every process of the second,
# then writes report.md (tables, ratios against the targets) and chart.html.
#
#   loadtest/bench-suite.sh [--model NAME] [--concurrency 1,8,32,64] [--duration S] [--threads N] [--out DIR]
#                           [--warmup S] [--models-dir DIR] [--max-new-tokens N] [--requests N] [--batches-per-size K]
#                           [--single N] [--memory-budget MB] [--size-targets]
#
# --threads: ONNX Runtime intra-op threads per graph everywhere (in-process, seqctl local, the
# services' SEQ_ONNX_THREADS); default 1, which suits models this small on shared cores.
# --warmup: unmeasured seconds of load before each level (5); a level must last several times a
# request's end-to-end latency, or few requests fall inside it.
# --models-dir (a folder of packages other than models/; the PyTorch comparison is then left out),
# --max-new-tokens, --requests (in-process inputs per batch size), --batches-per-size (at batch
# size b only the first max(b, K x b) inputs), --single (requests timed alone), --memory-budget
# and --size-targets are what loadtest/bench-size.sh passes for the realistic-size packages.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib/stack.sh

model=itn-seq2seq
levels=1,8,32,64
duration=30
threads=1
out=""
models_dir=""
max_new=128
warmup=5
requests=256
per_size=0
single=""
budget=600
size_targets=""
args="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --concurrency) levels="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --models-dir) models_dir="$(cd "$2" && pwd)"; shift 2 ;;
    --max-new-tokens) max_new="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    --batches-per-size) per_size="$2"; shift 2 ;;
    --single) single="$2"; shift 2 ;;
    --memory-budget) budget="$2"; shift 2 ;;
    --size-targets) size_targets="--size-targets"; shift ;;
    -h|--help) sed -n 2,21p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
out="${out:-loadtest/reports/$model}"
mkdir -p "$out"
log() { echo "[$(date +%T)] $*" >&2; }

[ -f loadtest/target/seqload.jar ] && [ -f services/decoder/target/quarkus-app/quarkus-run.jar ] || {
  log "building..."; ./mvnw -q -B -DskipTests install >&2; }
seqload() { java -Dseq.repo.root="$root" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.log.ai.djl=error -jar loadtest/target/seqload.jar "$@"; }

dir_opt=()
[ -n "$models_dir" ] && dir_opt=(--models-dir "$models_dir")
if [ -z "$models_dir" ]; then
  log "1/4 PyTorch eager and Java in-process (seqctl bench)"
  ./seqctl bench --models "$model" --batch-sizes 1,64 --threads "$threads" 2>/dev/null > "$out/pytorch.md" || echo "(seqctl bench failed)" > "$out/pytorch.md"
else
  log "1/4 (PyTorch comparison left out: packages from $models_dir)"
  rm -f "$out/pytorch.md"
fi

log "2/4 in-process generator at batch $levels and one request alone"
seqload inprocess --model "$model" "${dir_opt[@]}" --batch-sizes "$levels" --threads "$threads" --max-new-tokens "$max_new" \
  --requests "$requests" --batches-per-size "$per_size" --single "${single:-$(( requests < 64 ? requests : 64 ))}" \
  --out "$out/inprocess.json"

work="$(mktemp -d /tmp/seq-bench-suite-XXXX)"
trap 'stack_cleanup 2>/dev/null; [ -n "${local_pid:-}" ] && kill "$local_pid" 2>/dev/null; rm -rf "$work"' EXIT
port="${SEQ_BENCH_PORT:-19700}"
log "3/4 pipeline (a): seqctl local on localhost:$((port + 1)), broker and stages in one process"
./seqctl local --port $((port + 1)) --threads "$threads" "${dir_opt[@]}" --data-dir "$work/local" > "$work/local.log" 2>&1 &
local_pid=$!
for _ in $(seq 1 240); do grep -q '^ready' "$work/local.log" && break; sleep 0.5; done
seqload run --bootstrap "localhost:$((port + 1))" --model "$model" --concurrency "$levels" --duration "$duration" \
  --max-new-tokens "$max_new" --warmup "$warmup" --prewarm "${SEQ_BENCH_PREWARM:-90}" --label "seqctl local (one process)" --out "$out/pipeline-local.json"
kill "$local_pid"; wait "$local_pid" 2>/dev/null || true; local_pid=""

stack_init "$work" "$port" 4
[ -n "$models_dir" ] && export STACK_MODELS_DIR="$models_dir"
export SEQ_ONNX_THREADS="$threads"
log "3/4 pipeline (b): broker on localhost:$STACK_PORT and the four service jars (JVM options: ${STACK_JAVA_OPTS-$(stack_java_opts tokenizer); decoder $(stack_java_opts decoder)})"
stack_broker_start
stack_start tokenizer tokenizer 18381
stack_start embedding embedding 18382
stack_start encoder encoder 18383
stack_start decoder decoder 18384
for p in 18381 18382 18383 18384; do stack_wait_ready "$p"; done
seqload run --bootstrap "localhost:$STACK_PORT" --model "$model" --concurrency "$levels" --duration "$duration" \
  --max-new-tokens "$max_new" --warmup "$warmup" --prewarm "${SEQ_BENCH_PREWARM:-90}" --label "service jars (separate processes)" --out "$out/pipeline-services.json"

log "4/4 peak memory and the report"
printf '{"tokenizer": %s, "embedding": %s, "encoder": %s, "decoder": %s, "broker": %s}\n' \
  "$(stack_peak_rss tokenizer)" "$(stack_peak_rss embedding)" "$(stack_peak_rss encoder)" "$(stack_peak_rss decoder)" \
  "$(stack_peak_rss broker)" > "$out/rss.json"
seqload report --inprocess "$out/inprocess.json" --pipeline "$out/pipeline-local.json" \
  --pipeline "$out/pipeline-services.json" --rss "$out/rss.json" \
  --pytorch "$out/pytorch.md" --out-dir "$out" --memory-budget "$budget" $size_targets \
  --machine "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GB, $(java -version 2>&1 | head -1)" \
  --command "loadtest/bench-suite.sh${args:+ $args}"
log "report: $out/report.md"
