"""Batched, KV-cached greedy generation with the PyTorch model: the reference the Java
runtime is checked against, and the eager baseline of the benchmark."""
import torch

import tokenizer as tk


def prompt_ids(arch, text):
    """Decoder prompt: <bos> for the encoder-decoder; <bos> source <sep> for the GPT."""
    if arch == "encoder-decoder":
        return [tk.BOS]
    return [tk.BOS] + tk.encode(text) + [tk.SEP]


def pad(rows, device):
    n = max(len(r) for r in rows)
    ids = torch.full((len(rows), n), tk.PAD, dtype=torch.long, device=device)
    mask = torch.zeros((len(rows), n), dtype=torch.long, device=device)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, :len(r)] = 1
    return ids, mask


@torch.no_grad()
def greedy(model, texts, max_new_tokens=128):
    """Generated ids per text (without <eos>), stopping at <eos> or max_new_tokens."""
    cfg, device = model.cfg, next(model.parameters()).device
    cross, enc_mask = None, None
    if cfg.arch == "encoder-decoder":
        src, enc_mask = pad([tk.encode(t) for t in texts], device)
        enc = model.encode(model.embed(src, model.positions(enc_mask)), enc_mask)
        cross = model.cross_kv(enc)
    ids, mask = pad([prompt_ids(cfg.arch, t) for t in texts], device)
    lengths = mask.sum(dim=1)                                   # real tokens per row
    past = model.empty_past(len(texts), device)
    logits, past = model.decode(model.embed(ids, model.positions(mask)), mask, past, cross, enc_mask)
    last = logits[torch.arange(len(texts), device=device), lengths - 1]  # (B, V)
    out = [[] for _ in texts]
    done = [False] * len(texts)
    for step in range(max_new_tokens):
        nxt = last.argmax(dim=-1)                               # (B,)
        for i, t in enumerate(nxt.tolist()):
            if not done[i]:
                if t == tk.EOS:
                    done[i] = True
                else:
                    out[i].append(t)
        if all(done) or step == max_new_tokens - 1:
            break
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        emb = model.embed(nxt[:, None], (lengths + step)[:, None])
        logits, past = model.decode(emb, mask, past, cross, enc_mask)
        last = logits[:, -1]
    return out


def greedy_text(model, texts, max_new_tokens=128, batch_size=256):
    res = []
    for i in range(0, len(texts), batch_size):
        res += [tk.decode(o) for o in greedy(model, texts[i:i + batch_size], max_new_tokens)]
    return res
