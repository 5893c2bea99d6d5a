"""Exact match of a checkpoint (or a package) in PyTorch, overall and per class, on evaluation files.

    /usr/bin/python3 evaluate.py checkpoints/itn-seq2seq [--n 500] [--files ../eval/itn-test.tsv ...]
    /usr/bin/python3 evaluate.py --package ../itn-gpt

Files with a classes column (spoken<TAB>written<TAB>classes) are also counted per class, a
sentence in every class it holds. Greedy decoding as in generate.py. This judges stages of a
training; the packages' figures come from the Java runtime (`./seqctl accuracy`).
"""
import argparse
import collections
import os

import torch

import data
import export
import generate

DEFAULT_FILES = ["../eval/itn-test.tsv", "../eval/itn-test-v1.tsv", "../eval/heldout.tsv"]


def read(path):
    with open(path) as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    return [(r[0], r[1], r[2].split(",") if len(r) > 2 and r[2] else []) for r in rows]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", nargs="?", help="a folder with model.npz and config.json")
    p.add_argument("--package", help="a package folder instead of a checkpoint")
    p.add_argument("--files", nargs="+", default=DEFAULT_FILES)
    p.add_argument("--n", type=int, default=0, help="only the first N sentences of each file (0: all)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--errors", type=int, default=5, help="print this many mismatches per file")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = export.load_from_package(a.package) if a.package else export.load(a.checkpoint)
    model.eval()
    for path in a.files:
        rows = read(path)[:a.n or None]
        outs = generate.greedy_text(model, [r[0] for r in rows], max_new_tokens=data.MAX_CHARS + 1, batch_size=64)
        ok = [o == r[1] for o, r in zip(outs, rows)]
        per = collections.defaultdict(lambda: [0, 0])
        for good, r in zip(ok, rows):
            for c in r[2]:
                per[c][0] += 1
                per[c][1] += good
        print(f"{os.path.basename(path)}: exact match {sum(ok)}/{len(rows)} = {100 * sum(ok) / len(rows):.2f}%")
        for c in sorted(per):
            n, k = per[c]
            print(f"  {c:<10} {k:>5}/{n:<5} {100 * k / n:6.2f}%")
        shown = 0
        for good, o, r in zip(ok, outs, rows):
            if not good and shown < a.errors:
                shown += 1
                print(f"    {r[0]}\n      want {r[1]}\n      got  {o}")


if __name__ == "__main__":
    main()
