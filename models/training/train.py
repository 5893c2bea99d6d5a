"""Trains one ITN model on freshly generated data and saves a checkpoint.

    /usr/bin/python3 train.py --arch encoder-decoder --minutes 6 --out out/itn-seq2seq
    /usr/bin/python3 train.py --arch decoder-only    --minutes 6 --out out/itn-gpt

Every batch is new data from data.py (workers generate in parallel), so there is no epoch
and no dropout. Training runs for a time budget: after a short warm-up the step rate is
measured and the cosine schedule is fitted to the steps that fit the budget.
The checkpoint is `model.npz` (weights as numpy arrays, readable by any torch version) and
`config.json`; the test-split accuracy is printed at the end and written to `metrics.json`.

On a CPU, training runs in stages that each fit a time budget: `--total-steps` fixes the
schedule across all of them, every stage saves `model.npz`, `optimizer.pt` and `state.json`
(the step reached) every `--save-minutes` and at its end, and `--resume DIR` goes on from them:

    /usr/bin/python3 train.py --arch encoder-decoder --init-package ../itn-seq2seq \
        --total-steps 20000 --minutes 110 --batch-size 64 --workers 0 --out checkpoints/itn-seq2seq
    /usr/bin/python3 train.py --arch encoder-decoder --resume checkpoints/itn-seq2seq \
        --total-steps 20000 --minutes 110 --batch-size 64 --workers 0 --out checkpoints/itn-seq2seq

`--init-package` starts from a shipped package's weights (a version 1 package: its vocabulary
grows to this one's, the new rows drawn like fresh ones).
"""
import argparse
import json
import math
import os
import random
import time

import numpy as np
import torch

import data
import generate
import tokenizer as tk
from model import ModelConfig, Transformer

PRESETS = {
    "encoder-decoder": dict(n_encoder_layers=3, n_decoder_layers=3),
    "decoder-only": dict(n_encoder_layers=0, n_decoder_layers=6),
}


class Batches(torch.utils.data.IterableDataset):
    """Endless padded batches; each worker has its own seed, held-out sentences are skipped."""

    def __init__(self, arch, batch_size, seed, short_share=0.0, the_share=0.0, v1_share=0.0, prep_share=0.0):
        self.arch, self.batch_size, self.seed = arch, batch_size, seed
        self.short_share, self.the_share, self.v1_share = short_share, the_share, v1_share
        self.prep_share = prep_share

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid = info.id if info else 0
        words = data.load_words()
        held_out = data.held_out_sources(words=words)
        rng = random.Random(self.seed * 7919 + wid)
        filler, filler_v1 = data.Filler(words, rng), data.Filler(words, rng, v1=True)
        filler.the_share = filler_v1.the_share = self.the_share
        filler.prep_share = filler_v1.prep_share = self.prep_share
        while True:
            # a pool of 16 batches, sorted by length and cut into batches: little padding
            pool = []
            while len(pool) < 16 * self.batch_size:
                short = rng.random() < self.short_share
                v1 = rng.random() < self.v1_share
                s, w, _ = data.make_example(rng, filler_v1 if v1 else filler, max_chunk=2 if short else 7, v1=v1)
                if s not in held_out:
                    pool.append((s, w))
            pool.sort(key=lambda p: len(p[0]) + len(p[1]))
            batches = [pool[i:i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
            rng.shuffle(batches)
            for pairs in batches:
                yield self.collate(pairs)

    def collate(self, pairs):
        if self.arch == "encoder-decoder":
            src, src_mask = generate.pad([tk.encode(s) for s, _ in pairs], "cpu")
            seqs = [[tk.BOS] + tk.encode(w) + [tk.EOS] for _, w in pairs]
            n_prompt = [1] * len(pairs)
        else:
            src = src_mask = torch.zeros(0)
            prompts = [generate.prompt_ids(self.arch, s) for s, _ in pairs]
            seqs = [p + tk.encode(w) + [tk.EOS] for p, (_, w) in zip(prompts, pairs)]
            n_prompt = [len(p) for p in prompts]
        ids, mask = generate.pad(seqs, "cpu")
        tgt_in, tgt_mask = ids[:, :-1], mask[:, :-1]
        labels = ids[:, 1:].clone()
        labels[mask[:, 1:] == 0] = -100
        for i, n in enumerate(n_prompt):
            labels[i, :n - 1] = -100                            # no loss on the prompt
        return src, src_mask, tgt_in, tgt_mask, labels


def exact_match(model, pairs, batch_size=500):
    model.eval()
    outs = generate.greedy_text(model, [p[0] for p in pairs], max_new_tokens=data.MAX_CHARS + 1, batch_size=batch_size)
    model.train()
    return sum(o == p[1] for o, p in zip(outs, pairs)) / len(pairs), outs


def from_package(package, cfg):
    """A model of this configuration with a package's weights; a smaller vocabulary grows (new rows drawn fresh)."""
    import export
    old = export.load_from_package(package).state_dict()
    model = Transformer(cfg)
    state = model.state_dict()
    for k, v in old.items():
        if k not in state:
            raise ValueError(f"{package}: {k} is not a parameter of {cfg}")
        if state[k].shape != v.shape:
            if k != "tok.weight" or v.shape[1:] != state[k].shape[1:] or v.shape[0] > state[k].shape[0]:
                raise ValueError(f"{package}: {k} has shape {tuple(v.shape)}, the model {tuple(state[k].shape)}")
            v = torch.cat([v, state[k][v.shape[0]:]])
        state[k] = v
    model.load_state_dict(state)
    return model


def save(model, cfg, opt, out, step, total):
    os.makedirs(out, exist_ok=True)
    np.savez(os.path.join(out, "model.npz"), **{k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg.to_dict(), f, indent=1)
    torch.save(opt.state_dict(), os.path.join(out, "optimizer.pt"))
    with open(os.path.join(out, "state.json"), "w") as f:
        json.dump({"step": step, "total_steps": total}, f)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=PRESETS, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--minutes", type=float, default=6.0)
    p.add_argument("--max-steps", type=int, default=200_000)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--workers", type=int, default=6)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--test-size", type=int, default=2000)
    p.add_argument("--validation-size", type=int, default=500)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--short-share", type=float, default=0.0,
                   help="share of sentences with short filler chunks: more spans per token, cheaper steps on a CPU")
    p.add_argument("--the-share", type=float, default=0.0,
                   help="share of filler draws that are 'the' plus a word starting like a number word "
                        "(the film, the fine): teaches that only real ordinals follow 'the' as spans")
    p.add_argument("--prep-share", type=float, default=0.0,
                   help="share of spans right after a preposition (at, by, for, ...): 'at ten' is a time, "
                        "not an address, 'by seventy points' no money")
    p.add_argument("--v1-share", type=float, default=0.1,
                   help="share of sentences drawn from version 1's classes only (keeps them right)")
    p.add_argument("--init", help="start from this checkpoint folder (fine-tuning) instead of random weights")
    p.add_argument("--init-package", help="start from this package's weights (its vocabulary may be smaller)")
    p.add_argument("--resume", help="go on from this folder's model, optimizer and step (a stage of --total-steps)")
    p.add_argument("--total-steps", type=int,
                   help="the schedule's length across stages; without it, the steps that fit --minutes")
    p.add_argument("--bf16", action="store_true",
                   help="on a CPU, matrix products in bfloat16 (weights stay float32): about twice as fast where the "
                        "CPU has AVX512-BF16 or AMX, slower where it has not; on CUDA bfloat16 is always used")
    p.add_argument("--save-minutes", type=float, default=15.0, help="save a resumable checkpoint this often")
    a = p.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = ModelConfig(arch=a.arch, vocab_size=len(tk.VOCAB), **PRESETS[a.arch])
    model = from_package(a.init_package, cfg) if a.init_package else Transformer(cfg)
    if a.init or a.resume:
        weights = np.load(os.path.join(a.init or a.resume, "model.npz"))
        model.load_state_dict({k: torch.from_numpy(weights[k]) for k in weights.files})
    model = model.to(device)
    print(f"{a.arch}: {model.num_params():,} parameters on {device}", flush=True)

    validation = data.examples("validation", a.validation_size)
    test = data.examples("test", a.test_size) if a.test_size else []
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.98), weight_decay=0.01)
    first, warmup = 0, a.warmup
    if a.resume:
        with open(os.path.join(a.resume, "state.json")) as f:
            first = json.load(f)["step"]
        if os.path.exists(os.path.join(a.resume, "optimizer.pt")):
            opt.load_state_dict(torch.load(os.path.join(a.resume, "optimizer.pt")))
            warmup = 0
        else:
            warmup = first + a.warmup                           # fresh moments (a committed checkpoint has none): warm up again
        print(f"resuming at step {first} of {a.total_steps}", flush=True)
    seed = a.seed + first                                       # a resumed stage draws new sentences
    loader = torch.utils.data.DataLoader(Batches(a.arch, a.batch_size, seed, a.short_share, a.the_share, a.v1_share, a.prep_share), batch_size=None,
                                         num_workers=a.workers, pin_memory=device == "cuda",
                                         persistent_workers=a.workers > 0)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16)
    budget, total = a.minutes * 60, a.total_steps or a.max_steps
    start, saved = None, time.time()
    for step, batch in enumerate(loader, start=first):
        if step == first + 20:
            start = time.time()                                 # skip worker start-up
        if step == first + 300 and not a.total_steps:
            rate = 280 / (time.time() - start)
            total = min(a.max_steps, int(300 + rate * (budget - (time.time() - start))))
            print(f"{rate:.1f} steps/s: training {total} steps", flush=True)
        if step >= total or (start and time.time() - start > budget * (1.0 if a.total_steps else 1.05)):
            break
        if time.time() - saved > a.save_minutes * 60:
            save(model, cfg, opt, a.out, step, total)
            saved = time.time()
            print(f"step {step}: saved {a.out}", flush=True)
        lr = a.lr * min(1.0, (step + 1 - first) / max(1, warmup - first) if warmup > first else 1.0) * (0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, step / total))))
        for g in opt.param_groups:
            g["lr"] = lr
        src, src_mask, tgt_in, tgt_mask, labels = (t.to(device, non_blocking=True) for t in batch)
        with amp:
            logits = model(src if src.numel() else None, src_mask, tgt_in, tgt_mask)
            loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                                                     labels.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 200 == 0:
            print(f"step {step} loss {loss.item():.4f} lr {lr:.2e}", flush=True)
        if step and step % a.eval_every == 0:
            acc, _ = exact_match(model, validation)
            print(f"step {step} validation exact match {acc:.4f}", flush=True)

    save(model, cfg, opt, a.out, step, total)
    print(f"step {step}: saved {a.out}", flush=True)
    if a.test_size:
        acc, outs = exact_match(model, test)
        print(f"{a.arch}: test exact match {acc:.4f} on {len(test)} sentences", flush=True)
        with open(os.path.join(a.out, "metrics.json"), "w") as f:
            json.dump({"test_exact_match": acc, "test_sentences": len(test), "steps": step,
                       "batch_size": a.batch_size, "minutes": a.minutes, "parameters": model.num_params(),
                       "errors": [[t[0], t[1], o] for t, o in zip(test, outs) if o != t[1]][:50]}, f, indent=1)


if __name__ == "__main__":
    main()
