"""Writes the small packages the runtime's tests decode with: for each architecture, one model
with random weights exported in every decoder form (GroupQueryAttention over each row's own
length, the decoder returning only the new keys and values, and the oldest one returning past
and new together), so that the tests can check that the forms generate the same tokens.

    /usr/bin/python3 test_packages.py ../../services/runtime/src/test/resources/packages

The weights are drawn with a fixed seed and scaled up from the training initialisation, so that
the greedy outputs are long, varied and never decided by a near tie; biases and layer norms
are perturbed too.
"""
import argparse
import os

import torch

import export
from model import ModelConfig, Transformer


def tiny(arch, seed):
    torch.manual_seed(seed)
    cfg = ModelConfig(arch=arch, d_model=32, n_heads=2, n_encoder_layers=1, n_decoder_layers=2, d_ff=64)
    m = Transformer(cfg)
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() > 1:
                p.mul_(4.0)
            else:  # biases and layer norms too: identical initial values would be exported as one
                p.add_(0.1 * torch.randn_like(p))
    return m.eval()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", help="folder to write the packages into")
    a = p.parse_args()
    torch.set_num_threads(2)
    for arch, short, seed in (("encoder-decoder", "seq2seq", 1), ("decoder-only", "gpt", 2)):
        model = tiny(arch, seed)
        for form in ("ragged", "append", "concat"):
            name = f"tiny-{short}-{form}"
            export.export(model, os.path.join(a.out, name), name, form, n_greedy=8, logit_steps=16)
            print(f"wrote {name}")
