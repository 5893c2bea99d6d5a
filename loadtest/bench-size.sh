#!/usr/bin/env bash
# The benchmark suite at realistic model sizes: packages with random weights at GPT-2-small size
# (decoder-only, 12 layers, width 768, 12 heads, vocabulary 32,000) and at t5-small size
# (encoder-decoder, 6 + 6 layers, width 512, 8 heads), written by models/training/random_package.py
# under loadtest/target/size-models/ (never committed; made once, then reused), then
# loadtest/bench-suite.sh on each: in-process batch 1..64, the pipeline at concurrency 1..64 on
# `seqctl local` and on the service jars, peak memory of every service, against the size targets.
#
#   loadtest/bench-size.sh [--size gpt2-small|t5-small|all] [--concurrency 1,8,32,64] [--duration S]
#                          [--warmup S] [--max-new-tokens N] [--out-root DIR]
#
# Each level runs --warmup (30) then --duration (90) seconds: at concurrency 64 a request takes
# 20-40 s end to end at these sizes on two cores, and a level must hold many of them.
#
# Reports go to loadtest/reports/<size>-random/ (or --out-root). Random weights never emit EOS:
# every request generates exactly --max-new-tokens tokens (128, a usual completion length; the
# prompts are the ITN test sentences, about 45 tokens). In process, batch size b decodes the
# first max(b, 8 x b) of the 64 inputs, and 8 requests are timed alone. Making the packages needs PyTorch
# and onnx for Python (installed with apt-get when missing); the benchmark itself does not.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

sizes="gpt2-small t5-small"
levels=1,8,32,64
duration=90
warmup=30
max_new=128
out_root=loadtest/reports
args="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --size) [ "$2" = all ] || sizes="$2"; shift 2 ;;
    --concurrency) levels="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --max-new-tokens) max_new="$2"; shift 2 ;;
    --out-root) out_root="$2"; shift 2 ;;
    -h|--help) sed -n 2,20p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
log() { echo "[$(date +%T)] $*" >&2; }

# The memory each service may use at this size (README, "Performance"), and the decoder's JVM:
# its KV cache lives in direct buffers, and its scheduler admits sequences while the cache, each
# sequence counted at its full length, stays within 80% of the direct-memory limit
# (DecodeBatch.cacheBytes: rows x (longest + 16) x layers x 2 x width x 4 bytes, a layer's share
# more while a buffer grows, the prefill's buffers, plus the cross-attention keys of an
# encoder-decoder). gpt2-small, 64 sequences of up to 256 + 128 positions (the longest test
# sentences): 2.3 GB, so 3 GB of direct memory; t5-small (decoder prompt <bos>, sources up to
# 254): 0.8 GB, so 1 GB.
budget() { case "$1" in gpt2-small) echo 4000 ;; t5-small) echo 1800 ;; esac; }
decoder_opts() { case "$1" in gpt2-small) echo "-Xmx256m -XX:MaxDirectMemorySize=3g -XX:+UseSerialGC" ;;
                              t5-small) echo "-Xmx256m -XX:MaxDirectMemorySize=1g -XX:+UseSerialGC" ;; esac; }

dir=loadtest/target/size-models
# Whether a package's GroupQueryAttention nodes take queries scaled beforehand (attribute scale = 1).
prescaled() {
  /usr/bin/python3 - "$1/decoder.onnx" <<'PY'
import sys, onnx
m = onnx.load(sys.argv[1], load_external_data=False)
nodes = [n for n in m.graph.node if n.op_type == "GroupQueryAttention"]
sys.exit(0 if nodes and all(any(a.name == "scale" and a.f == 1.0 for a in n.attribute) for n in nodes) else 1)
PY
}
for size in $sizes; do
  case "$size" in gpt2-small|t5-small) ;; *) echo "unknown size: $size (gpt2-small, t5-small or all)" >&2; exit 2 ;; esac
  pkg="$dir/$size-random"
  need_python() {
    if ! /usr/bin/python3 -c 'import torch, onnx' 2>/dev/null; then
      log "installing PyTorch and onnx for Python (apt-get)"
      apt-get update -qq >&2 && apt-get install -y -qq python3-torch python3-onnx libopenblas0-pthread >&2
    fi
  }
  if [ ! -f "$pkg/model.json" ]; then
    need_python
    log "writing $pkg (random weights)"
    rm -rf "$pkg"; mkdir -p "$dir"
    (cd models/training && /usr/bin/python3 random_package.py "$size" "$root/$pkg") >&2
  elif ! grep -q '"seqlens_k"' "$pkg/model.json" || { [ "$size" = t5-small ] && ! grep -q '"cross_seqlens_k"' "$pkg/model.json"; } \
       || { /usr/bin/python3 -c 'import onnx' 2>/dev/null && ! prescaled "$pkg"; }; then
    # made by an older version: its decoder is re-exported in today's form (GroupQueryAttention
    # for self- and cross-attention, queries scaled before the kernel)
    need_python
    log "re-exporting the decoder of $pkg (same weights)"
    (cd models/training && /usr/bin/python3 export.py --from-package "$root/$pkg" "$root/$pkg" --name "$size-random" --only decoder) >&2
  fi
  log "suite on $size-random"
  SEQ_BENCH_PREWARM=30 STACK_DECODER_JAVA_OPTS="$(decoder_opts "$size")" \
    loadtest/bench-suite.sh --model "$size-random" --models-dir "$dir" --max-new-tokens "$max_new" --requests 64 \
    --batches-per-size 8 --single 8 \
    --memory-budget "$(budget "$size")" --size-targets --concurrency "$levels" --duration "$duration" --warmup "$warmup" \
    --out "$out_root/$size-random"
  # the report names the command a user runs
  sed -i "s|^loadtest/bench-suite.sh --model $size-random.*|loadtest/bench-size.sh${args:+ $args}   # runs: &|" "$out_root/$size-random/report.md"
done
