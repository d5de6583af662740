#!/usr/bin/env python3
"""Independent float64 numpy BERT encoder, to check Solder's hidden states.

Reads a directory written by ``dev.solder.bert.HiddenStateExport``:

* ``model.safetensors`` + ``config.json`` -- the encoder, Hugging Face ``BertModel`` names
  (``embeddings.word_embeddings.weight``, ``encoder.layer.N.attention.self.query.weight``, ...,
  ``pooler.dense.weight``); Linear weights are ``[out, in]``, so ``y = x @ W.T + b``;
* ``inputs.json`` -- ``input_ids``, ``token_type_ids``, ``attention_mask`` as ``[B][S]``;
* ``solder_hidden.safetensors`` -- Solder's float32 ``last_hidden_state [B, S, H]`` and
  ``pooled [B, H]``.

Recomputes the forward pass from the BERT paper / HF conventions, in float64 throughout:

    embeddings = LayerNorm(word[ids] + position[0..S-1] + token_type[types])
    per layer:  a   = softmax(Q K^T / sqrt(d_head) + (1 - mask) * finfo(float32).min) V
                h   = LayerNorm(h + a W_o^T + b_o)
                h   = LayerNorm(h + GELU(h W_i^T + b_i) W_out^T + b_out)     GELU exact (erf)
    pooled = tanh(h[:, 0] W_p^T + b_p)

and compares: ``last_hidden_state`` at the non-padding positions only (what a padded position
holds is not defined by the model), ``pooled`` for every row. Prints the max abs differences
and exits 1 when either is above the tolerance (default 1e-4).

    python bench/python/bert_reference.py /tmp/bert-ref [--tol 1e-4]

Needs numpy and safetensors; uses scipy.special.erf when scipy is installed, math.erf otherwise.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
from safetensors.numpy import load_file

try:
    from scipy.special import erf as _scipy_erf
except ImportError:  # pragma: no cover - depends on the environment
    _scipy_erf = None

_math_erf = np.vectorize(math.erf, otypes=[np.float64])


def erf(x):
    """erf in float64: scipy's ufunc when present, else math.erf element by element."""
    x = np.asarray(x, dtype=np.float64)
    if _scipy_erf is not None:
        return _scipy_erf(x)
    return _math_erf(x)


def gelu(x):
    """Exact GELU, x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) -- not the tanh approximation."""
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def layer_norm(x, gamma, beta, eps):
    """LayerNorm over the last axis with the biased variance, as BERT's TF code and torch do."""
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


def linear(x, w, b):
    """torch.nn.Linear: weight is [out, in]."""
    return x @ w.T + b


def softmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=axis, keepdims=True)


class Reference:
    def __init__(self, weights, config):
        self.w = {k: v.astype(np.float64) for k, v in weights.items()}
        self.hidden = config["hidden_size"]
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        act = config.get("hidden_act", "gelu")
        if act != "gelu":
            raise SystemExit(f"this reference implements hidden_act 'gelu' (erf) only, config says {act!r}")
        pe = config.get("position_embedding_type", "absolute")
        if pe != "absolute":
            raise SystemExit(f"this reference implements absolute position embeddings only, config says {pe!r}")

    def p(self, name):
        return self.w[name]

    def embeddings(self, ids, types):
        b, s = ids.shape
        x = (self.p("embeddings.word_embeddings.weight")[ids]
             + self.p("embeddings.position_embeddings.weight")[np.arange(s)][None, :, :]
             + self.p("embeddings.token_type_embeddings.weight")[types])
        return layer_norm(x, self.p("embeddings.LayerNorm.weight"), self.p("embeddings.LayerNorm.bias"), self.eps)

    def attention(self, h, additive, pre):
        b, s, hid = h.shape
        d = hid // self.heads

        def split(t):  # [B, S, H] -> [B, heads, S, d]
            return t.reshape(b, s, self.heads, d).transpose(0, 2, 1, 3)

        q = split(linear(h, self.p(pre + "self.query.weight"), self.p(pre + "self.query.bias")))
        k = split(linear(h, self.p(pre + "self.key.weight"), self.p(pre + "self.key.bias")))
        v = split(linear(h, self.p(pre + "self.value.weight"), self.p(pre + "self.value.bias")))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + additive  # [B, heads, S, S]
        ctx = (softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(b, s, hid)
        out = linear(ctx, self.p(pre + "output.dense.weight"), self.p(pre + "output.dense.bias"))
        return layer_norm(h + out, self.p(pre + "output.LayerNorm.weight"), self.p(pre + "output.LayerNorm.bias"),
                          self.eps)

    def feed_forward(self, h, pre):
        inner = gelu(linear(h, self.p(pre + "intermediate.dense.weight"), self.p(pre + "intermediate.dense.bias")))
        out = linear(inner, self.p(pre + "output.dense.weight"), self.p(pre + "output.dense.bias"))
        return layer_norm(h + out, self.p(pre + "output.LayerNorm.weight"), self.p(pre + "output.LayerNorm.bias"),
                          self.eps)

    def forward(self, ids, types, mask):
        # HF's extended mask: 0 where attended, the most negative float32 where padding; broadcast
        # over heads and query positions.
        additive = (1.0 - mask.astype(np.float64))[:, None, None, :] * float(np.finfo(np.float32).min)
        h = self.embeddings(ids, types)
        for i in range(self.layers):
            pre = f"encoder.layer.{i}."
            h = self.attention(h, additive, pre + "attention.")
            h = self.feed_forward(h, pre)
        pooled = None
        if "pooler.dense.weight" in self.w:
            pooled = np.tanh(linear(h[:, 0], self.p("pooler.dense.weight"), self.p("pooler.dense.bias")))
        return h, pooled


def strip_prefix(weights):
    """Accept a task model's file too: drop the 'bert.' prefix of the encoder's tensors."""
    if any(k.startswith("bert.") for k in weights):
        return {k[len("bert."):]: v for k, v in weights.items() if k.startswith("bert.")}
    return weights


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", help="directory written by dev.solder.bert.HiddenStateExport")
    ap.add_argument("--tol", type=float, default=1e-4, help="max abs difference allowed (default 1e-4)")
    args = ap.parse_args()

    with open(os.path.join(args.dir, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(args.dir, "inputs.json")) as f:
        inputs = json.load(f)
    weights = strip_prefix(load_file(os.path.join(args.dir, "model.safetensors")))
    solder = load_file(os.path.join(args.dir, "solder_hidden.safetensors"))

    ids = np.asarray(inputs["input_ids"], dtype=np.int64)
    types = np.asarray(inputs["token_type_ids"], dtype=np.int64)
    mask = np.asarray(inputs["attention_mask"], dtype=np.int64)
    print(f"model: {config.get('_name_or_path', inputs.get('model', '?'))}, "
          f"{len(weights)} tensors, hidden {config['hidden_size']}, layers {config['num_hidden_layers']}, "
          f"heads {config['num_attention_heads']}, layer_norm_eps {config.get('layer_norm_eps', 1e-12)}, "
          f"act {config.get('hidden_act', 'gelu')}")
    print(f"batch {ids.shape[0]} x {ids.shape[1]}, {int(mask.sum())} real tokens, "
          f"{int(mask.size - mask.sum())} padding; erf from {'scipy' if _scipy_erf is not None else 'math'}")
    if _scipy_erf is not None:  # the two erf sources agree in float64
        probe = np.linspace(-6.0, 6.0, 2001)
        print(f"erf: scipy vs math.erf max abs diff {np.abs(_scipy_erf(probe) - _math_erf(probe)).max():.3e}")

    ref_h, ref_p = Reference(weights, config).forward(ids, types, mask)

    sol_h = solder["last_hidden_state"].astype(np.float64)
    if sol_h.shape != ref_h.shape:
        raise SystemExit(f"last_hidden_state shape: solder {sol_h.shape}, reference {ref_h.shape}")
    real = mask.astype(bool)
    diff_h = np.abs(sol_h - ref_h)[real]  # [real tokens, H]
    worst = np.unravel_index(np.argmax(np.abs(sol_h - ref_h) * real[:, :, None]), sol_h.shape)
    d_h = float(diff_h.max())
    print(f"last_hidden_state (non-padding positions): max abs diff {d_h:.3e} at {tuple(int(i) for i in worst)}, "
          f"mean abs diff {diff_h.mean():.3e}, max |ref| {np.abs(ref_h[real]).max():.3f}")
    if (~real).any():
        print(f"  (padding positions, not checked: max abs diff {np.abs(sol_h - ref_h)[~real].max():.3e})")
    for i in range(ids.shape[0]):
        print(f"  row {i}: {int(real[i].sum())} tokens, max abs diff {np.abs(sol_h[i] - ref_h[i])[real[i]].max():.3e}")

    ok = d_h <= args.tol
    if ref_p is None or "pooled" not in solder:
        print("pooled: not compared (no pooler in the model or no 'pooled' in solder_hidden.safetensors)")
        d_p = None
    else:
        sol_p = solder["pooled"].astype(np.float64)
        if sol_p.shape != ref_p.shape:
            raise SystemExit(f"pooled shape: solder {sol_p.shape}, reference {ref_p.shape}")
        d_p = float(np.abs(sol_p - ref_p).max())
        print(f"pooled: max abs diff {d_p:.3e}, mean abs diff {np.abs(sol_p - ref_p).mean():.3e}")
        ok = ok and d_p <= args.tol

    print(f"{'PASS' if ok else 'FAIL'}: tolerance {args.tol:g} (float64 reference vs Solder float32)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
