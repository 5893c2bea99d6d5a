"""Writes a model package with random weights at a realistic size, for benchmarks only.

    /usr/bin/python3 random_package.py gpt2-small ../../loadtest/target/size-models/gpt2-small-random
    /usr/bin/python3 random_package.py t5-small   ../../loadtest/target/size-models/t5-small-random

Sizes (the architecture of model.py; only the dimensions are those of the well-known models):
  gpt2-small  decoder-only,    12 layers,   width 768, 12 heads, d_ff 3072, vocabulary 32,000
  t5-small    encoder-decoder, 6 + 6 layers, width 512,  8 heads, d_ff 2048, vocabulary 32,000

The package is complete (graphs, model.json, tokenizer.json, golden.json) and served like any
other. Its tokenizer keeps the character ids of the shipped models and adds one token per
remaining id (" t48" ... " t31999"), so every id decodes. Random weights would end a sequence
on an EOS only by chance: the rows of the special tokens in the tied output head are zero, so
their logits are 0 and never the largest, and every request runs to its max_new_tokens.
Sources may be 512 characters long. Packages are several hundred MB: never commit them
(loadtest/bench-size.sh writes them under loadtest/target/).
"""
import argparse
import time

import torch

import export
import tokenizer as tk
from model import ModelConfig, Transformer

SIZES = {
    "gpt2-small": ModelConfig(arch="decoder-only", vocab_size=32000, d_model=768, n_heads=12,
                              n_encoder_layers=0, n_decoder_layers=12, d_ff=3072, max_positions=1024),
    "t5-small": ModelConfig(arch="encoder-decoder", vocab_size=32000, d_model=512, n_heads=8,
                            n_encoder_layers=6, n_decoder_layers=6, d_ff=2048, max_positions=1024),
}
MAX_SOURCE = 512


def widen_vocabulary(size):
    """The character vocabulary of tokenizer.py, extended to `size` ids that all decode."""
    base = list(tk.VOCAB)
    tk.VOCAB[:] = base + [f" t{i}" for i in range(len(base), size)]
    tk.ID.clear()
    tk.ID.update({t: i for i, t in enumerate(tk.VOCAB)})


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("size", choices=sorted(SIZES))
    p.add_argument("package", help="package folder to write")
    p.add_argument("--name", help="package name (default: SIZE-random)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    cfg = SIZES[a.size]
    widen_vocabulary(cfg.vocab_size)
    export.MAX_SOURCE_CHARS = MAX_SOURCE
    start = time.time()
    model = Transformer(cfg).eval()
    with torch.no_grad():
        # Constant tensors (zero biases, unit LayerNorm scales) are perturbed: the exporter would
        # share identical initializers between graphs' parameters, and the package must keep each.
        for t in model.parameters():
            if t.numel() > 1 and float(t.std()) == 0:
                t.add_(torch.randn_like(t) * 0.02)
        model.tok.weight[:len(tk.SPECIALS)] = 0
    params = sum(t.numel() for t in model.parameters())
    print(f"{a.size}: {params / 1e6:.1f}M parameters, exporting to {a.package}", flush=True)
    # a few golden rows only: PyTorch eager is slow at this size, and they only prove the export
    export.export(model, a.package, a.name or f"{a.size}-random", n_greedy=2, logit_steps=4)
    print(f"wrote {a.package} in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
