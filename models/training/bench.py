"""PyTorch eager baseline of the generation benchmark (`./seqctl bench` runs it).

    /usr/bin/python3 bench.py --package ../itn-seq2seq --inputs ../eval/itn-test.tsv \\
        --sentences 64 --batch-sizes 1,32 --threads 2

The model is rebuilt from the package's own ONNX graphs, so it is the very model the Java
runtime serves. Greedy, KV-cached, batched generation (generate.py); prints one JSON line per
batch size: generated tokens and seconds for the timed round.
"""
import argparse
import json
import time

import torch

import data
import export
import generate


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--package", required=True)
    p.add_argument("--inputs", required=True)
    p.add_argument("--sentences", type=int, default=64)
    p.add_argument("--batch-sizes", default="1,32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = export.load_from_package(a.package)
    texts = [s for s, _ in data.read_split(a.inputs)][:a.sentences]
    for b in (int(x) for x in a.batch_sizes.split(",")):
        generate.greedy(model, texts[:b])                       # warm-up
        best = None
        for _ in range(a.rounds):
            start, tokens = time.perf_counter(), 0
            for i in range(0, len(texts), b):
                tokens += sum(len(o) for o in generate.greedy(model, texts[i:i + b]))
            seconds = time.perf_counter() - start
            best = seconds if best is None else min(best, seconds)
        print(json.dumps({"batch": b, "tokens": tokens, "seconds": best, "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
