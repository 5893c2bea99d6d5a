"""Checks of `seqctl send` output against a reference, shared by loadtest/chaos.sh and
deploy/compose-check.sh.

  results.py diff REFERENCE.jsonl RESULTS.jsonl   prints how many results differ from the reference
                                                  (output, or error against none), in input order
  results.py events RESULTS.jsonl SEND.err        prints "EVENTS DUPLICATED BAD": the token events
                                                  `seqctl send --stream` printed, how many were
                                                  printed twice, and how many outputs are not
                                                  spelled by their events (indices 0..n-1, in order)
  results.py gateway URL MODEL INPUTS REFERENCE K prints how many of the first K inputs the gateway at
                                                  URL answers differently from the reference, once
                                                  with POST /v1/completions and once streamed (the
                                                  concatenated chunks), with the reason on stderr
"""
import json
import re
import sys
import urllib.request


def diff(reference, results):
    ref = [json.loads(l) for l in open(reference)]
    got = [json.loads(l) for l in open(results)]
    if len(ref) != len(got):
        return max(len(ref), len(got))
    return sum(1 for a, b in zip(ref, got)
               if (a.get("output"), a.get("error") is None) != (b.get("output"), b.get("error") is None))


def events(results, send_err):
    done = [json.loads(l) for l in open(results)]
    by_id = {}
    count = 0
    for line in open(send_err):
        m = re.match(r'^(\S+) #(\d+) (".*")$', line.rstrip("\n"))
        if m:
            count += 1
            by_id.setdefault(m.group(1), {}).setdefault(int(m.group(2)), []).append(json.loads(m.group(3)))
    dup = sum(len(v) - 1 for e in by_id.values() for v in e.values())
    bad = 0
    for r in done:
        if "output" not in r:
            continue
        e = by_id.get(r["id"], {})
        if sorted(e) != list(range(len(e))) or "".join(v[0] for _, v in sorted(e.items())) != r["output"]:
            bad += 1
    return count, dup, bad


def _post(url, body):
    req = urllib.request.Request(url + "/v1/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    return urllib.request.urlopen(req, timeout=120)


def gateway(url, model, inputs, reference, k):
    prompts = [l.rstrip("\n") for l in open(inputs)][:k]
    ref = [json.loads(l) for l in open(reference)][:k]
    wrong = 0
    for prompt, r in zip(prompts, ref):
        want = r.get("output")
        with _post(url, {"model": model, "prompt": prompt}) as resp:
            got = json.load(resp)["choices"][0]["text"]
        text, done = "", False
        with _post(url, {"model": model, "prompt": prompt, "stream": True}) as resp:
            for line in resp:
                line = line.decode().rstrip("\r\n")
                if line == "data: [DONE]":
                    done = True
                elif line.startswith("data: "):
                    text += "".join(c["text"] for c in json.loads(line[6:])["choices"])
        for how, value in (("completion", got), ("stream", text if done else None)):
            if value != want:
                wrong += 1
                print(f"gateway {how} of {prompt!r}: {value!r}, reference {want!r}", file=sys.stderr)
    return wrong


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "diff":
        print(diff(sys.argv[2], sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "events":
        print(*events(sys.argv[2], sys.argv[3]))
    elif len(sys.argv) == 7 and sys.argv[1] == "gateway":
        print(gateway(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])))
    else:
        sys.exit(__doc__)
