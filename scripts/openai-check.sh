#!/usr/bin/env bash
# The HTTP gateway checked with clients this project did not write: the official OpenAI client for
# Node (npm `openai`) and curl, against `seqctl local --http-port`. Completions, greedy and
# sampled with a seed, must equal `seqctl generate`; streamed chunks must add up to the same
# output; a stream dropped after 3 events and resumed with Last-Event-ID must yield exactly the
# events after them; bad requests must get their status and an OpenAI-format error.
#
#   scripts/openai-check.sh [--port 19970] [--http-port 18090]
# Needs node and npm (the client is installed from the npm registry into scripts/openai-check/).
set -euo pipefail
cd "$(dirname "$0")/.."
port=19970 http=18090
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --http-port) http="$2"; shift 2 ;;
    *) echo "usage: $0 [--port P] [--http-port P]" >&2; exit 2 ;;
  esac
done
command -v node > /dev/null && command -v npm > /dev/null || { echo "openai-check: needs node and npm" >&2; exit 2; }
work=$(mktemp -d /tmp/seq-openai-check-XXXX)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

echo "== installing the OpenAI client for Node"
(cd scripts/openai-check && npm install --no-audit --no-fund --loglevel=error > /dev/null)
echo "   openai $(node -p "require('./scripts/openai-check/node_modules/openai/package.json').version")"

echo "== seqctl local --port $port --http-port $http"
./seqctl local --port "$port" --http-port "$http" --data-dir "$work/local" > "$work/local.log" 2>&1 &
pid=$!
for _ in $(seq 1 240); do grep -q '^ready' "$work/local.log" && break; sleep 0.5; done
grep -q '^ready' "$work/local.log" || { tail -20 "$work/local.log" >&2; exit 1; }
base="http://127.0.0.1:$http/v1"

prompts=("one thousand two hundred dollars" "wake me at six fifteen a m please" "only seven percent replied"
  "the meeting is on march third at two thirty p m")
status=0
for model in itn-seq2seq itn-gpt; do
  printf '%s\n' "${prompts[@]}" > "$work/prompts.txt"
  ./seqctl generate --model "$model" --max-new-tokens 64 < "$work/prompts.txt" 2>/dev/null > "$work/greedy.jsonl"
  ./seqctl generate --model "$model" --max-new-tokens 64 --temperature 0.8 --top-p 0.9 --seed 7 < "$work/prompts.txt" 2>/dev/null > "$work/sampled.jsonl"
  node -e '
    const fs = require("fs");
    const lines = (f) => fs.readFileSync(f, "utf8").trim().split("\n").map(JSON.parse);
    const g = lines(process.argv[1]), s = lines(process.argv[2]);
    fs.writeFileSync(process.argv[3], JSON.stringify(g.map((x, i) => ({ prompt: x.input, greedy: x.output, sampled: s[i].output }))));
  ' "$work/greedy.jsonl" "$work/sampled.jsonl" "$work/cases-$model.json"
  echo "== OpenAI client for Node, $model"
  node scripts/openai-check/check.mjs "$base" "$model" "$work/cases-$model.json" || status=1
done

echo "== curl"
curl_case() {   # expected status, expected error code (or -), body
  local got code
  got=$(curl -s -o "$work/body" -w '%{http_code}' "$base/completions" -H 'Content-Type: application/json' --data-binary "@$3")
  code=$(node -e 'try { const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(j.error ? j.error.code : "-") } catch (e) { console.log("not-json") }' "$work/body")
  if [ "$got" = "$1" ] && [ "$code" = "$2" ]; then echo "ok   $1 $2 ($4)"; else echo "FAIL $4: got $got $code, expected $1 $2: $(head -c 200 "$work/body")"; status=1; fi
}
printf '{"model":"itn-gpt","prompt":"one thousand two hundred dollars"}' > "$work/ok.json"
printf '{"model":"itn-gpt","prompt":' > "$work/malformed.json"
printf '{"model":"no-such-model","prompt":"one"}' > "$work/unknown.json"
printf '{"model":"itn-gpt","prompt":"one","max_tokens":0}' > "$work/max0.json"
printf '{"model":"itn-gpt","prompt":""}' > "$work/empty.json"
node -e 'process.stdout.write(JSON.stringify({model: "itn-gpt", prompt: "one", pad: "x".repeat(10 << 20)}))' > "$work/big.json"
curl_case 200 - "$work/ok.json" "a good request"
curl_case 400 invalid_json "$work/malformed.json" "malformed JSON"
curl_case 404 model_not_found "$work/unknown.json" "unknown model"
curl_case 400 invalid_request "$work/max0.json" "max_tokens 0"
curl_case 400 empty_input "$work/empty.json" "an empty prompt"
curl_case 413 request_too_large "$work/big.json" "a 10 MB body"
curl_case 200 - "$work/ok.json" "a good request after them"
echo "== curl, streamed"
curl -sN "$base/completions" -H 'Content-Type: application/json' \
  -d '{"model":"itn-seq2seq","prompt":"one thousand two hundred dollars","stream":true}' | grep -E '^(id|data):' | tail -4
[ $status = 0 ] && echo "openai-check: all checks passed" || echo "openai-check: some checks FAILED"
exit $status
