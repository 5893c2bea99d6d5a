"""The Transformer of "Attention Is All You Need" (Vaswani et al., 2017), small and explicit.

Two models are built from the same blocks:
  * Seq2Seq: encoder (self-attention + MLP) and decoder (causal self-attention,
    cross-attention to the encoder, MLP), output head tied to the token embedding;
  * GPT: a decoder-only stack of the same causal blocks without cross-attention.

Differences from the paper, on purpose: layer norm before each sub-layer (pre-LN, as in
GPT-2) plus a final layer norm, which trains stably without warm-up tricks; no dropout,
since training data is generated fresh for every batch.

The forward functions are the ones exported to ONNX (export.py), so they take explicit
positions, key masks and a KV cache:
  * `embed(ids, positions)`                      -> (B, T, C)
  * `encode(emb, mask)`                          -> (B, S, C)
  * `cross_kv(enc)`                              -> per decoder layer (B, H, S, D) keys, values
  * `decode(emb, mask, past, cross, enc_mask)`   -> logits (B, T, V), present keys and values
`mask` covers past and new positions (B, P+T), 1 = attend, 0 = padding; padding may sit
anywhere, so sequences of different lengths share one batch.

`decode_ragged(emb, seqlens_k, total, past, cross, enc_mask)` is the same decoder with its
self-attention in ONNX Runtime's GroupQueryAttention (com.microsoft) form: every row's keys sit
at the front of its cache row and `seqlens_k` (B,) says how many (minus one, counting the new
token), so each row attends to its own length only and no mask is needed. With `cross_lens`
an encoder-decoder's cross-attention is GroupQueryAttention as well, over each row's own source
(one token per row per call; see `DecoderBlock.ragged_cross`).
"""
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

NEG_INF = -1e9  # additive mask value; finite so a fully masked row stays NaN-free


@dataclass
class ModelConfig:
    arch: str = "encoder-decoder"   # or "decoder-only"
    vocab_size: int = 48            # character vocabulary of tokenizer.py
    d_model: int = 128              # small enough for a few-MB package, large enough for ITN
    n_heads: int = 4                # head_dim 32
    n_encoder_layers: int = 3       # unused by decoder-only
    n_decoder_layers: int = 3
    d_ff: int = 512                 # 4 * d_model, as in the paper
    max_positions: int = 520        # a GPT context: <bos>, 256 source chars, <sep>, 256 target chars, <eos>

    @property
    def head_dim(self):
        return self.d_model // self.n_heads

    def to_dict(self):
        return asdict(self)


def sinusoidal_table(n_positions, d_model):
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...)."""
    pos = torch.arange(n_positions, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(n_positions, d_model)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


def key_bias(mask):
    """(B, S) 1/0 key mask -> (B, 1, 1, S) additive bias."""
    return (1.0 - mask.to(torch.float32))[:, None, None, :] * NEG_INF


def causal_bias(mask, t):
    """(B, P+T) key mask -> (B, 1, T, P+T) bias: query i (at P+i) sees keys j <= P+i."""
    s = mask.shape[1]
    q_pos = torch.arange(t, device=mask.device) + (s - t)        # (T,)
    k_pos = torch.arange(s, device=mask.device)                  # (S,)
    future = (k_pos[None, :] > q_pos[:, None]).to(torch.float32)  # (T, S)
    return key_bias(mask) + future[None, None] * NEG_INF


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.h, self.d = cfg.n_heads, cfg.head_dim
        self.q = nn.Linear(cfg.d_model, cfg.d_model)
        self.k = nn.Linear(cfg.d_model, cfg.d_model)
        self.v = nn.Linear(cfg.d_model, cfg.d_model)
        self.o = nn.Linear(cfg.d_model, cfg.d_model)

    def heads(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.h, self.d).transpose(1, 2)      # (B, H, T, D)

    def kv(self, x):
        return self.heads(self.k(x)), self.heads(self.v(x))

    def forward(self, x, k, v, bias):
        b, t, c = x.shape
        q = self.heads(self.q(x)) * (1.0 / math.sqrt(self.d))      # (B, H, T, D); scaled here, not the T x S scores
        att = q @ k.transpose(-2, -1) + bias                       # (B, H, T, S)
        att = F.softmax(att.float(), dim=-1).to(v.dtype)
        y = (att @ v).transpose(1, 2).reshape(b, t, c)            # (B, T, C)
        return self.o(y)

    def forward_appended(self, x, past_k, past_v, k, v, bias):
        """forward(x, past_k ++ k, past_v ++ v, bias) without concatenating the cache: the scores
        over the past and over the new keys are computed apart and joined (B x H x T x (P+T)
        numbers, not the cache's B x H x (P+T) x D), so the past is only read."""
        b, t, c = x.shape
        q = self.heads(self.q(x))
        scale = 1.0 / math.sqrt(self.d)
        p = past_k.shape[2]
        att = torch.cat([q @ past_k.transpose(-2, -1), q @ k.transpose(-2, -1)], dim=-1) * scale + bias
        att = F.softmax(att.float(), dim=-1).to(v.dtype)
        y = att[..., :p] @ past_v + att[..., p:] @ v
        return self.o(y.transpose(1, 2).reshape(b, t, c))


class GroupQueryAttention(torch.autograd.Function):
    """ONNX Runtime's com.microsoft GroupQueryAttention (CPU kernel), exported as that operator.

    q, k, v (B, T, C) are the projections of T new positions; past_k, past_v (B, H, P, D) the
    cache; seqlens_k (B,) int32 the keys of each row minus one (past plus new); total (1,) int32
    the longest row's key count. T == total is a prompt (rows right-padded, no past read); else
    T must be 1 and row b's new key goes to position seqlens_k[b]. Returns the attention output
    (B, T, C) and present keys and values (B, H, max(total, P), D): the past with the new
    positions written in. When the caller binds present to the memory of past, ONNX Runtime
    writes only the new positions. The forward below is a plain PyTorch reference of the same
    semantics (used when tracing); query rows beyond a prompt row's length come out as zeros.

    scale multiplies the scores (the operator's attribute). The decoders pass 1 with q already
    scaled by 1/sqrt(D): the CPU kernel computes q.K' of a one-token step by a matrix-vector
    product that reads K as it lies only when its multiplier is 1; any other copies and repacks
    every row's keys at every step.
    """

    @staticmethod
    def forward(ctx, q, k, v, past_k, past_v, seqlens_k, total, heads, scale=None):
        b, t, c = q.shape
        d = c // heads
        n_total = int(total.reshape(-1)[0])
        prompt = t == n_total
        width = max(n_total, past_k.shape[2])
        present_k = q.new_zeros(b, heads, width, d)
        present_v = q.new_zeros(b, heads, width, d)
        if not prompt:
            present_k[:, :, :past_k.shape[2]] = past_k
            present_v[:, :, :past_v.shape[2]] = past_v
        qh, kh, vh = (x.view(b, t, heads, d).transpose(1, 2) for x in (q, k, v))
        out = q.new_zeros(b, heads, t, d)
        for r in range(b):
            keys = int(seqlens_k[r]) + 1
            start = 0 if prompt else keys - t
            present_k[r, :, start:start + t] = kh[r]
            present_v[r, :, start:start + t] = vh[r]
            for i in range(min(t, keys - start)):
                seen = start + i + 1
                att = (qh[r, :, i:i + 1] @ present_k[r, :, :seen].transpose(-2, -1)) * (1.0 / math.sqrt(d) if scale is None else scale)
                out[r, :, i:i + 1] = F.softmax(att, dim=-1) @ present_v[r, :, :seen]
        return out.transpose(1, 2).reshape(b, t, c), present_k, present_v

    @staticmethod
    def symbolic(g, q, k, v, past_k, past_v, seqlens_k, total, heads, scale=None):
        extra = {} if scale is None else {"scale_f": scale}
        return g.op("com.microsoft::GroupQueryAttention", q, k, v, past_k, past_v, seqlens_k, total,
                    num_heads_i=heads, kv_num_heads_i=heads, outputs=3, **extra)


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.up = nn.Linear(cfg.d_model, cfg.d_ff)
        self.down = nn.Linear(cfg.d_ff, cfg.d_model)

    def forward(self, x):
        return self.down(F.gelu(self.up(x)))


class EncoderBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(cfg.d_model), Attention(cfg)
        self.ln2, self.mlp = nn.LayerNorm(cfg.d_model), MLP(cfg)

    def forward(self, x, bias):
        h = self.ln1(x)
        k, v = self.attn.kv(h)
        x = x + self.attn(h, k, v, bias)
        return x + self.mlp(self.ln2(x))


class DecoderBlock(nn.Module):
    """Causal self-attention with a KV cache, optional cross-attention, MLP."""

    def __init__(self, cfg, cross):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(cfg.d_model), Attention(cfg)
        if cross:
            self.ln_cross, self.cross = nn.LayerNorm(cfg.d_model), Attention(cfg)
        self.ln2, self.mlp = nn.LayerNorm(cfg.d_model), MLP(cfg)
        self.has_cross = cross

    def forward(self, x, bias, past_k, past_v, cross_k=None, cross_v=None, cross_bias=None, append=False):
        """Returns x and this layer's keys and values: past and new (B, H, P+T, D), or with
        append the new ones only (B, H, T, D), for a caller that keeps the cache itself."""
        h = self.ln1(x)
        k, v = self.attn.kv(h)
        if append:
            x = x + self.attn.forward_appended(h, past_k, past_v, k, v, bias)
        else:
            k = torch.cat([past_k, k], dim=2)                      # (B, H, P+T, D)
            v = torch.cat([past_v, v], dim=2)
            x = x + self.attn(h, k, v, bias)
        if self.has_cross:
            x = x + self.cross(self.ln_cross(x), cross_k, cross_v, cross_bias)
        return x + self.mlp(self.ln2(x)), k, v

    def forward_ragged(self, x, seqlens_k, total, past_k, past_v, cross_k=None, cross_v=None, cross_bias=None,
                       cross_lens=None):
        """forward() with the self-attention of GroupQueryAttention; returns x and the present
        keys and values (B, H, max(total, P), D). With cross_lens ((B,) int32 source lengths,
        (1,) int32 the longest plus one), the cross-attention is GroupQueryAttention too, over
        each row's own source (see ragged_cross); the present cross keys and values follow."""
        h = self.ln1(x)
        a = self.attn
        y, k, v = GroupQueryAttention.apply(a.q(h) * (1.0 / math.sqrt(a.d)), a.k(h), a.v(h), past_k, past_v,
                                            seqlens_k, total, a.h, 1.0)
        x = x + a.o(y)
        present = (k, v)
        if self.has_cross and cross_lens is not None:
            y, ck, cv = self.ragged_cross(self.ln_cross(x), cross_k, cross_v, *cross_lens)
            x = x + y
            present += (ck, cv)
        elif self.has_cross:
            x = x + self.cross(self.ln_cross(x), cross_k, cross_v, cross_bias)
        return (x + self.mlp(self.ln2(x)),) + present

    def ragged_cross(self, h, cross_k, cross_v, lens, total):
        """Cross-attention of a one-token step (T = 1) over each row's own source, by
        GroupQueryAttention: cross_k, cross_v (B, H, S, D) hold row b's source keys at
        [0, lens[b]) and one free position after them (S > max(lens)), where the operator writes
        the step's "new" key and value. That key is -1e4 q / |q|^2 per head and its value 0: its
        score q.k is -1e4, its weight exp(-1e4 - max) is 0 in float32, and the output is the
        attention over the source alone. The kernel reads lens[b] + 1 positions of row b instead
        of the batch's longest source, which a key mask makes every row read."""
        c = self.cross
        b, t, _ = h.shape
        q = c.q(h) * (1.0 / math.sqrt(c.d))
        qh = q.view(b, t, c.h, c.d)
        decoy = (qh * (-1e4 / ((qh * qh).sum(-1, keepdim=True) + 1e-30))).reshape(b, t, -1)
        y, ck, cv = GroupQueryAttention.apply(q, decoy, torch.zeros_like(q), cross_k, cross_v, lens, total, c.h, 1.0)
        return c.o(y), ck, cv


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.register_buffer("pe", sinusoidal_table(cfg.max_positions, cfg.d_model), persistent=False)
        seq2seq = cfg.arch == "encoder-decoder"
        if seq2seq:
            self.encoder = nn.ModuleList(EncoderBlock(cfg) for _ in range(cfg.n_encoder_layers))
            self.ln_enc = nn.LayerNorm(cfg.d_model)
        self.decoder = nn.ModuleList(DecoderBlock(cfg, seq2seq) for _ in range(cfg.n_decoder_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    # -- the exported pieces -------------------------------------------------

    def embed(self, ids, positions):
        """(B, T) ids and positions -> (B, T, C): token embedding * sqrt(C) + sinusoid."""
        return self.tok(ids) * math.sqrt(self.cfg.d_model) + self.pe[positions]

    def encode(self, emb, mask):
        bias = key_bias(mask)
        x = emb
        for block in self.encoder:
            x = block(x, bias)
        return self.ln_enc(x)                                      # (B, S, C)

    def cross_kv(self, enc):
        return [block.cross.kv(enc) for block in self.decoder]     # L x ((B, H, S, D), (B, H, S, D))

    def decode(self, emb, mask, past, cross=None, enc_mask=None, append=False):
        """past: L x (k, v) of (B, H, P, D); returns logits (B, T, V) and L x (k, v) of P+T
        (with append: of the T new positions only)."""
        bias = causal_bias(mask, emb.shape[1])
        cross_bias = key_bias(enc_mask) if cross is not None else None
        x, present = emb, []
        for i, block in enumerate(self.decoder):
            ck, cv = cross[i] if cross is not None else (None, None)
            x, k, v = block(x, bias, past[i][0], past[i][1], ck, cv, cross_bias, append)
            present.append((k, v))
        logits = self.ln_f(x) @ self.tok.weight.t()                # (B, T, V), tied head
        return logits, present

    def decode_ragged(self, emb, seqlens_k, total, past, cross=None, enc_mask=None, cross_lens=None):
        """decode() in the GroupQueryAttention form: no key mask; seqlens_k (B,) int32 and total
        (1,) int32 as GroupQueryAttention takes them. Returns the logits of each row's last
        position only (B, 1, V): of a prompt row its position seqlens_k, of a step its one token;
        nothing else is ever read, and at a large vocabulary the head over every prompt position
        is a fifth of a prefill's work. And L x present (k, v), or with cross_lens (an
        encoder-decoder whose cross-attention is ragged too: source lengths (B,) int32 and the
        longest plus one (1,) int32; enc_mask unused) L x (k, v, cross k, cross v). That form
        takes one token per row (T = 1) only."""
        cross_bias = key_bias(enc_mask) if cross is not None and cross_lens is None else None
        x, present = emb, []
        for i, block in enumerate(self.decoder):
            ck, cv = cross[i] if cross is not None else (None, None)
            x, *kv = block.forward_ragged(x, seqlens_k, total, past[i][0], past[i][1], ck, cv, cross_bias, cross_lens)
            present.append(tuple(kv))
        seq = seqlens_k.to(torch.long)
        last = torch.minimum(seq, torch.ones_like(seq) * (x.shape[1] - 1))      # (B,)
        x = x.gather(1, last.view(-1, 1, 1).expand(-1, 1, x.shape[2]))          # (B, 1, C)
        return self.ln_f(x) @ self.tok.weight.t(), present

    # -- helpers for training and reference generation -----------------------

    def empty_past(self, batch, device, dtype=torch.float32):
        z = torch.zeros(batch, self.cfg.n_heads, 0, self.cfg.head_dim, device=device, dtype=dtype)
        return [(z, z) for _ in self.decoder]

    def positions(self, mask):
        """Position of every token = number of real tokens before it (padding skipped)."""
        return (torch.cumsum(mask, dim=1) - 1).clamp(min=0)

    def forward(self, src, src_mask, tgt_in, tgt_mask):
        """Teacher-forced logits (B, T, V). For decoder-only, src is None."""
        cross, enc_mask = None, None
        if self.cfg.arch == "encoder-decoder":
            enc = self.encode(self.embed(src, self.positions(src_mask)), src_mask)
            cross, enc_mask = self.cross_kv(enc), src_mask
        emb = self.embed(tgt_in, self.positions(tgt_mask))
        logits, _ = self.decode(emb, tgt_mask, self.empty_past(tgt_in.shape[0], tgt_in.device, emb.dtype),
                                cross, enc_mask)
        return logits

    def num_params(self):
        return sum(p.numel() for p in self.parameters())
