"""Exports a trained checkpoint as a model package (see shared/ARCHITECTURE.md).

    /usr/bin/python3 export.py out/itn-seq2seq ../itn-seq2seq --name itn-seq2seq
    /usr/bin/python3 export.py --from-package ../itn-gpt /tmp/itn-gpt --name itn-gpt   # re-export a package

The package holds one ONNX graph per pipeline stage, all float32, batch and length axes dynamic:
  embedding.onnx  input_ids, position_ids (B, T) int64                 -> embeddings (B, T, C)
  encoder.onnx    embeddings (B, S, C), attention_mask (B, S) int64    -> encoder_hidden_states (B, S, C)
  cross_kv.onnx   encoder_hidden_states (B, S, C)                      -> cross_key_i, cross_value_i (B, H, S, D)
  decoder.onnx    embeddings (B, T, C), attention_mask (B, P+T) int64,
                  past_key_i, past_value_i (B, H, P, D)
                  [+ cross_key_i, cross_value_i (B, H, S, D), encoder_attention_mask (B, S)]
                                                                       -> logits (B, T, V), new_key_i, new_value_i (B, H, T, D)
                  (the default form differs: see below)
encoder.onnx and cross_kv.onnx exist for the encoder-decoder only. Cross-attention keys and
values are computed once per sequence by cross_kv.onnx, never at every decoding step.

The decoder's self-attention is ONNX Runtime's GroupQueryAttention (com.microsoft), the
default `--kv-cache ragged` form; its inputs replace attention_mask with
                  seqlens_k (B) int32, total_sequence_length (1) int32
its logits are those of each row's last position only (B, 1, V), and its key and value
outputs are present_key_i, present_value_i (B, H, max(P, total), D). Each
row's keys sit at the front of its cache row, seqlens_k counts them (minus one, with the new
token), and every row attends to its own length only; the runtime binds present to the memory
of past, so a step writes only the new positions. A step is one token per row; a prompt is
T == total_sequence_length tokens per row, right-padded, with an empty past.

An encoder-decoder's cross-attention is GroupQueryAttention too in that form (`--cross ragged`,
the default): encoder_attention_mask gives way to
                  cross_seqlens_k (B) int32 (each row's source length),
                  cross_total_sequence_length (1) int32 (the longest plus one)
and the decoder returns present_cross_key_i, present_cross_value_i (B, H, S, D) after each
layer's present_key_i, present_value_i. cross_key_i (B, H, S, D) holds a row's source keys at
the front and at least one free position after the longest (S > max cross_seqlens_k): the
operator writes a key there that takes no weight (see model.DecoderBlock.ragged_cross), so the
runtime binds the present cross outputs to the memory of the cross inputs. Each row attends to
its own source only. This decoder takes one token per row (T = 1): a longer prompt (a resumed
sequence's tokens) is prefilled one position at a time. `--cross masked` exports the earlier
cross-attention over the batch's longest source under encoder_attention_mask.

Two older forms are still exported on request and served: `--kv-cache append` returns the keys
and values of the T new positions only (new_key_i, new_value_i (B, H, T, D)), which the runtime
appends to its cache, and `--kv-cache concat` returns past and new together (present_key_i,
(B, H, P+T, D)); both take the attention_mask above and attend over the whole cache axis.

Besides the graphs: tokenizer.json (Hugging Face format), model.json (architecture, special
ids, limits, and for every file its sha256 and for every graph its input and output names
and shapes) and golden.json (PyTorch logits and greedy outputs the Java runtime must match).
"""
import argparse
import hashlib
import json
import os
import warnings

import numpy as np
import torch
import torch.nn as nn

import data
import generate
import tokenizer as tk
from model import ModelConfig, Transformer

OPSET = 17
MAX_SOURCE_CHARS = data.MAX_CHARS
MAX_NEW_TOKENS = data.MAX_CHARS  # written forms are never longer than their spoken form


def load_from_package(package_dir):
    """The PyTorch model rebuilt from a package's ONNX graphs.

    Graphs are exported without constant folding, so every parameter keeps its state_dict name
    (prefixed "m.") as an ONNX initializer; ONNX Runtime folds the transposes when it loads them.
    """
    import onnx
    from onnx import numpy_helper
    with open(os.path.join(package_dir, "model.json")) as f:
        manifest = json.load(f)
    cfg = ModelConfig(arch=manifest["architecture"], vocab_size=manifest["vocab_size"],
                      d_model=manifest["d_model"], n_heads=manifest["n_heads"],
                      n_encoder_layers=manifest["n_encoder_layers"], n_decoder_layers=manifest["n_decoder_layers"],
                      d_ff=manifest.get("d_ff", 4 * manifest["d_model"]), max_positions=manifest["max_positions"])
    model = Transformer(cfg)
    wanted = set(model.state_dict())
    state = {}
    for g in manifest["graphs"].values():
        for init in onnx.load(os.path.join(package_dir, g["file"])).graph.initializer:
            name = init.name[2:] if init.name.startswith("m.") else None
            if name in wanted:
                state[name] = torch.from_numpy(numpy_helper.to_array(init).copy())
    missing = wanted - set(state)
    if missing:
        raise ValueError(f"{package_dir}: parameters not found in the graphs: {sorted(missing)[:5]}")
    model.load_state_dict(state)
    return model.eval()


def load(ckpt_dir):
    with open(os.path.join(ckpt_dir, "config.json")) as f:
        cfg = ModelConfig(**json.load(f))
    model = Transformer(cfg)
    weights = np.load(os.path.join(ckpt_dir, "model.npz"))
    model.load_state_dict({k: torch.from_numpy(weights[k]) for k in weights.files})
    return model.eval()


class EmbeddingGraph(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, position_ids):
        return self.m.embed(input_ids, position_ids)


class EncoderGraph(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, embeddings, attention_mask):
        return self.m.encode(embeddings, attention_mask)


class CrossKvGraph(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, encoder_hidden_states):
        return tuple(t for kv in self.m.cross_kv(encoder_hidden_states) for t in kv)


class DecoderGraph(nn.Module):
    """The decoder of one cache form: its inputs after the embeddings are the key layout
    (attention_mask, or seqlens_k and total_sequence_length for "ragged"), the past, and the
    cross inputs of encoder-decoder models."""

    def __init__(self, m, form, ragged_cross=False):
        super().__init__()
        self.m, self.n, self.form = m, m.cfg.n_decoder_layers, form
        self.layout = 2 if form == "ragged" else 1
        self.ragged_cross = ragged_cross

    def forward(self, embeddings, *rest):
        layout, rest = rest[:self.layout], rest[self.layout:]
        past = [(rest[2 * i], rest[2 * i + 1]) for i in range(self.n)]
        cross, enc_mask, cross_lens = None, None, None
        if self.m.cfg.arch == "encoder-decoder":
            c = rest[2 * self.n:4 * self.n]
            cross = [(c[2 * i], c[2 * i + 1]) for i in range(self.n)]
            if self.ragged_cross:
                cross_lens = (rest[4 * self.n], rest[4 * self.n + 1])
            else:
                enc_mask = rest[4 * self.n]
        if self.form == "ragged":
            logits, present = self.m.decode_ragged(embeddings, layout[0], layout[1], past, cross, enc_mask, cross_lens)
        else:
            logits, present = self.m.decode(embeddings, layout[0], past, cross, enc_mask, self.form == "append")
        return (logits,) + tuple(t for kv in present for t in kv)


def kv_names(prefix, n):
    return [f"{prefix}_{kind}_{i}" for i in range(n) for kind in ("key", "value")]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def spec(names, shapes, dtypes):
    return [{"name": n, "dtype": dtypes[n], "shape": shapes[n]} for n in names]


def export(model, out_dir, name, kv_cache="ragged", n_greedy=50, logit_steps=MAX_NEW_TOKENS, only=None,
           cross="ragged"):
    """Writes the package of `model` into out_dir; with `only` (graph keys), just those graphs,
    and model.json's entries for them, replace what out_dir holds (golden.json is kept). cross:
    an encoder-decoder's cross-attention in the ragged form, "ragged" (GroupQueryAttention over
    each row's own source) or "masked" (over the batch's longest source under a key mask)."""
    cfg = model.cfg
    ragged_cross = cfg.arch == "encoder-decoder" and kv_cache == "ragged" and cross == "ragged"
    os.makedirs(out_dir, exist_ok=True)
    L, H, D, C, V = cfg.n_decoder_layers, cfg.n_heads, cfg.head_dim, cfg.d_model, cfg.vocab_size
    b, t, p, s = 2, 3, 4, 5  # example sizes for tracing; every one of them is a dynamic axis
    ids = torch.randint(5, V, (b, t))
    emb = torch.randn(b, t, C)
    past = [torch.randn(b, H, p, D) for _ in range(2 * L)]
    cross = [torch.randn(b, H, s, D) for _ in range(2 * L)]

    # Shapes use symbolic names for dynamic axes and numbers for fixed ones.
    shapes = {"input_ids": ["batch", "sequence"], "position_ids": ["batch", "sequence"],
              "embeddings": ["batch", "sequence", C],
              "encoder_hidden_states": ["batch", "source", C],
              "encoder_attention_mask": ["batch", "source"],
              "logits": ["batch", "sequence", V]}
    for n in kv_names("past", L):
        shapes[n] = ["batch", H, "past_sequence", D]
    for n in kv_names("present", L):
        shapes[n] = ["batch", H, "total_sequence", D]
    for n in kv_names("new", L):
        shapes[n] = ["batch", H, "sequence", D]
    for n in kv_names("cross", L):
        shapes[n] = ["batch", H, "source", D]
    for n in kv_names("present_cross", L):
        shapes[n] = ["batch", H, "source", D]
    shapes["seqlens_k"] = ["batch"]
    shapes["total_sequence_length"] = [1]
    shapes["cross_seqlens_k"] = ["batch"]
    shapes["cross_total_sequence_length"] = [1]
    dtypes = {n: "float32" for n in shapes}
    dtypes.update({"input_ids": "int64", "position_ids": "int64", "attention_mask": "int64",
                   "encoder_attention_mask": "int64", "seqlens_k": "int32", "total_sequence_length": "int32",
                   "cross_seqlens_k": "int32", "cross_total_sequence_length": "int32"})

    def axes_of(shape):
        return {i: a for i, a in enumerate(shape) if isinstance(a, str)}

    graphs = {}

    def do(key, module, args, inputs, outputs, local_shapes=None, contrib=False):
        if only is not None and key not in only:
            return
        sh = dict(shapes, **(local_shapes or {}))
        path = os.path.join(out_dir, f"{key}.onnx")
        with warnings.catch_warnings():
            # GroupQueryAttention's reference forward reads its lengths while tracing (the
            # operator replaces it), and the exporter has no shape inference for it
            # (declare_outputs writes the shapes)
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message=".*com.microsoft::GroupQueryAttention.*")
            warnings.filterwarnings("ignore", message=".*_graph_op.*is deprecated.*")
            torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs,
                              dynamic_axes={n: axes_of(sh[n]) for n in inputs + outputs},
                              opset_version=OPSET, do_constant_folding=False,
                              custom_opsets={"com.microsoft": 1} if contrib else None)
        declare_outputs(path, outputs, sh, dtypes)
        graphs[key] = {"file": f"{key}.onnx", "inputs": spec(inputs, sh, dtypes),
                       "outputs": spec(outputs, sh, dtypes)}

    with torch.no_grad():
        do("embedding", EmbeddingGraph(model), (ids, torch.arange(t).repeat(b, 1)), ["input_ids", "position_ids"], ["embeddings"])
        if kv_cache == "ragged":
            # traced as a prompt (T == total, no past read) of rows of lengths t and t - 1
            dec_inputs = ["embeddings", "seqlens_k", "total_sequence_length"] + kv_names("past", L)
            dec_args = [emb, torch.tensor([t - 1, t - 2], dtype=torch.int32), torch.tensor([t], dtype=torch.int32)]
            dec_args += [torch.zeros(b, H, 0, D) for _ in range(2 * L)]
        else:
            dec_inputs = ["embeddings", "attention_mask"] + kv_names("past", L)
            dec_args = [emb, torch.ones(b, p + t, dtype=torch.long)] + past
        if cfg.arch == "encoder-decoder":
            do("encoder", EncoderGraph(model), (torch.randn(b, s, C), torch.ones(b, s, dtype=torch.long)),
               ["embeddings", "attention_mask"], ["encoder_hidden_states"],
               {"embeddings": ["batch", "source", C], "attention_mask": ["batch", "source"]})
            do("cross_kv", CrossKvGraph(model), (torch.randn(b, s, C),), ["encoder_hidden_states"],
               kv_names("cross", L))
            dec_inputs += kv_names("cross", L)
            if ragged_cross:
                # sources of s - 1 and s - 2 keys and the free position after them (traced as a
                # prompt; the operator takes one token per row in this form)
                dec_inputs += ["cross_seqlens_k", "cross_total_sequence_length"]
                dec_args += cross + [torch.tensor([s - 1, s - 2], dtype=torch.int32), torch.tensor([s], dtype=torch.int32)]
            else:
                dec_inputs += ["encoder_attention_mask"]
                dec_args += cross + [torch.ones(b, s, dtype=torch.long)]
        local = {"attention_mask": ["batch", "total_sequence"]}
        if kv_cache == "ragged":
            local.update({n: ["batch", H, "present_sequence", D] for n in kv_names("present", L)})
            local["logits"] = ["batch", 1, V]
        dec_outputs = kv_names("new" if kv_cache == "append" else "present", L)
        if ragged_cross:
            dec_outputs = [n for i in range(L) for n in (f"present_key_{i}", f"present_value_{i}",
                                                         f"present_cross_key_{i}", f"present_cross_value_{i}")]
        do("decoder", DecoderGraph(model, kv_cache, ragged_cross), tuple(dec_args), dec_inputs,
           ["logits"] + dec_outputs, local, kv_cache == "ragged")

    files = {k: dict(v, sha256=sha256(os.path.join(out_dir, v["file"]))) for k, v in graphs.items()}
    if only is not None:
        path = os.path.join(out_dir, "model.json")
        with open(path) as f:
            manifest = json.load(f)
        manifest["graphs"].update(files)
        with open(path, "w") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
        check_rebuilds(model, out_dir)
        return
    tk.write(os.path.join(out_dir, "tokenizer.json"))
    write_golden(model, os.path.join(out_dir, "golden.json"), n_greedy, logit_steps)
    manifest = {
        "name": name,
        "format_version": 1,
        "architecture": cfg.arch,
        "d_model": C, "n_heads": H, "head_dim": D, "vocab_size": V, "d_ff": cfg.d_ff,
        "n_encoder_layers": cfg.n_encoder_layers if cfg.arch == "encoder-decoder" else 0,
        "n_decoder_layers": L,
        "max_positions": cfg.max_positions,
        "max_source_length": MAX_SOURCE_CHARS,
        "max_new_tokens": MAX_NEW_TOKENS,
        "special_tokens": {"pad": tk.PAD, "bos": tk.BOS, "eos": tk.EOS, "unk": tk.UNK, "sep": tk.SEP},
        "tokenizer": {"file": "tokenizer.json", "sha256": sha256(os.path.join(out_dir, "tokenizer.json"))},
        "golden": {"file": "golden.json", "sha256": sha256(os.path.join(out_dir, "golden.json"))},
        "graphs": files,
    }
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    check_rebuilds(model, out_dir)


def check_rebuilds(model, out_dir):
    """The package alone must rebuild the PyTorch model (the benchmark's eager baseline uses it)."""
    rebuilt = load_from_package(out_dir)
    for k, v in model.state_dict().items():
        assert torch.equal(v, rebuilt.state_dict()[k]), f"parameter {k} differs in the exported graphs"


def declare_outputs(path, names, shapes, dtypes):
    """Writes the declared element type and shape of every graph output into the ONNX file: the
    exporter cannot infer them through a com.microsoft operator, and the runtime checks them."""
    import onnx
    from onnx import TensorProto
    model = onnx.load(path)
    kinds = {"float32": TensorProto.FLOAT, "int64": TensorProto.INT64, "int32": TensorProto.INT32}
    for out in model.graph.output:
        if out.name not in names:
            continue
        tt = out.type.tensor_type
        tt.elem_type = kinds[dtypes[out.name]]
        tt.shape.Clear()
        for dim in shapes[out.name]:
            d = tt.shape.dim.add()
            if isinstance(dim, str):
                d.dim_param = dim
            else:
                d.dim_value = dim
    onnx.save(model, path)


GOLDEN_LOGIT_INPUTS = ["the rent is one thousand two hundred dollars",
                       "wake me at six fifteen a m please",
                       "our flight is on the fourth of july twenty twenty six",
                       "zero errors were found"]


@torch.no_grad()
def write_golden(model, path, n_greedy=50, logit_steps=MAX_NEW_TOKENS):
    """Greedy outputs for test sentences, and full teacher-forced logits for a few inputs.

    The logits are those of the decoder at every step of the greedy output (prompt plus
    generated tokens in one pass), so a KV-cached step-by-step run must reproduce each row.
    """
    test = data.examples("test", n_greedy)
    texts = [t[0] for t in test]
    outs = generate.greedy(model, texts, MAX_NEW_TOKENS + 1)
    greedy = [{"input": s, "output": tk.decode(o), "ids": o} for s, o in zip(texts, outs)]
    logits = []
    for text, out in zip(GOLDEN_LOGIT_INPUTS, generate.greedy(model, GOLDEN_LOGIT_INPUTS, logit_steps)):
        prompt = generate.prompt_ids(model.cfg.arch, text)
        seq = torch.tensor([prompt + out])
        mask = torch.ones_like(seq)
        cross, enc_mask = None, None
        if model.cfg.arch == "encoder-decoder":
            src = torch.tensor([tk.encode(text)])
            enc_mask = torch.ones_like(src)
            cross = model.cross_kv(model.encode(model.embed(src, model.positions(enc_mask)), enc_mask))
        lg, _ = model.decode(model.embed(seq, model.positions(mask)), mask, model.empty_past(1, "cpu"),
                             cross, enc_mask)
        # Rows from the last prompt position on: each one predicts the next generated token.
        rows = lg[0, len(prompt) - 1:]
        logits.append({"input": text, "ids": out, "logits": [[round(float(x), 6) for x in r] for r in rows]})
    with open(path, "w") as f:
        json.dump({"greedy": greedy, "logits": logits}, f)
        f.write("\n")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", nargs="?", help="folder with model.npz and config.json (train.py --out)")
    p.add_argument("package", help="package folder to write, e.g. ../itn-seq2seq")
    p.add_argument("--name", required=True)
    p.add_argument("--from-package", metavar="DIR", help="take the weights from this package instead of a checkpoint")
    p.add_argument("--kv-cache", choices=["ragged", "append", "concat"], default="ragged",
                   help="decoder form: GroupQueryAttention over each row's own length (default), "
                        "the new positions' keys and values only, or past and new together")
    p.add_argument("--cross", choices=["ragged", "masked"], default="ragged",
                   help="an encoder-decoder's cross-attention in the default decoder form: GroupQueryAttention "
                        "over each row's own source (default), or over the batch's longest source under a key mask")
    p.add_argument("--only", metavar="GRAPH", action="append",
                   help="write only this graph (repeatable) into an existing package and update its "
                        "entry in model.json; the other files, golden.json included, stay")
    a = p.parse_args()
    if (a.checkpoint is None) == (a.from_package is None):
        p.error("give either a checkpoint or --from-package")
    torch.set_num_threads(2)
    export(load(a.checkpoint) if a.checkpoint else load_from_package(a.from_package), a.package, a.name, a.kv_cache,
           only=a.only, cross=a.cross)
    print(f"wrote {a.package}")
