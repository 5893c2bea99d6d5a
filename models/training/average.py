"""Averages the weights of checkpoints of one lineage (a "model soup").

    /usr/bin/python3 average.py out/itn-seq2seq-v3 out/itn-seq2seq-v4 --out out/itn-seq2seq-soup

Fine-tuning stages started from one another land in one basin; their average often beats
each of them (it did for the shipped encoder-decoder: see README.md).
"""
import argparse
import os
import shutil

import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+", help="folders with model.npz and config.json")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    weights = [np.load(os.path.join(c, "model.npz")) for c in a.checkpoints]
    os.makedirs(a.out, exist_ok=True)
    np.savez(os.path.join(a.out, "model.npz"),
             **{k: sum(w[k] for w in weights) / len(weights) for k in weights[0].files})
    shutil.copy(os.path.join(a.checkpoints[0], "config.json"), os.path.join(a.out, "config.json"))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
