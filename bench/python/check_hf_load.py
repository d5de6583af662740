#!/usr/bin/env python3
"""Check that model directories saved by Solder load in Hugging Face transformers unchanged.

Each directory holds what Solder's ``save(dir, tokenizer)`` writes (model.safetensors,
config.json, tokenizer files) plus ``expected.json`` with fixed inputs and Solder's outputs for
them. ``dev.solder.bert.ExportCheck`` writes three such directories (sequence-classification,
masked-lm, base):

    mvn -B -q -o -pl java-api,models -am -DskipTests install
    java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
        -cp "models/target/classes:java-api/target/classes:$(cat models/target/solder-classpath.txt)" \
        dev.solder.bert.ExportCheck /tmp/hf-check
    python bench/python/check_hf_load.py /tmp/hf-check/*

For every directory the script
  1. loads the model with the Auto class for its architecture and requires that no weight is
     missing, unexpected or mismatched (``output_loading_info=True``), that the class is the saved
     one, that id2label/label2id round-trip, and for the masked LM that the decoder is tied to the
     word embeddings and the decoder bias to ``cls.predictions.bias``;
  2. if tokenizer files are present, tokenizes ``expected.json``'s texts with AutoTokenizer
     (padding=True) and requires exactly Solder's input_ids / token_type_ids / attention_mask;
  3. runs the model in eval mode on those inputs (float32, CPU unless --device) and prints the
     maximum absolute difference from Solder's outputs.

Exit status 0 when every directory passes (difference <= --tol, default 1e-4), 1 otherwise.
Needs: torch, transformers (>= 4.30), safetensors.
"""
import argparse
import json
import pathlib
import sys

import torch
from transformers import (AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification,
                          AutoTokenizer)

AUTO = {
    "BertForSequenceClassification": AutoModelForSequenceClassification,
    "BertForMaskedLM": AutoModelForMaskedLM,
    "BertModel": AutoModel,
}


def check(d: pathlib.Path, tol: float, device: str) -> bool:
    exp = json.loads((d / "expected.json").read_text(encoding="utf-8"))
    arch = exp["architecture"]
    problems = []

    model, info = AUTO[arch].from_pretrained(d, output_loading_info=True, torch_dtype=torch.float32)
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        if info.get(key):
            problems.append(f"{key}: {info[key]}")
    if type(model).__name__ != arch:
        problems.append(f"loaded as {type(model).__name__}, saved as {arch}")
    if "id2label" in exp:
        got = {str(k): v for k, v in model.config.id2label.items()}
        if got != exp["id2label"]:
            problems.append(f"id2label {got} != {exp['id2label']}")
        want_l2i = {v: int(k) for k, v in exp["id2label"].items()}
        if dict(model.config.label2id) != want_l2i:
            problems.append(f"label2id {dict(model.config.label2id)} != {want_l2i}")
    if arch == "BertForMaskedLM":
        dec = model.cls.predictions.decoder
        if dec.weight.data_ptr() != model.bert.embeddings.word_embeddings.weight.data_ptr():
            problems.append("decoder weight is not tied to bert.embeddings.word_embeddings.weight")
        if dec.bias is not None and not torch.equal(dec.bias, model.cls.predictions.bias):
            problems.append("decoder bias differs from cls.predictions.bias")

    names = ("input_ids", "token_type_ids", "attention_mask")
    inputs = {k: torch.tensor(exp[k], dtype=torch.long) for k in names}
    if (d / "tokenizer.json").exists() or (d / "vocab.txt").exists():
        tok = AutoTokenizer.from_pretrained(d)
        firsts = [t[0] for t in exp["texts"]]
        seconds = [t[1] for t in exp["texts"]]
        # A batch mixing singles and pairs: tokenize one by one, then pad like Solder did.
        rows = [tok(a, b) if b is not None else tok(a) for a, b in zip(firsts, seconds)]
        enc = tok.pad(rows, padding=True, return_tensors="pt")
        for k in names:
            if not torch.equal(enc[k].long(), inputs[k]):
                problems.append(f"tokenizer {k} differs:\n  HF     {enc[k].tolist()}\n  Solder {inputs[k].tolist()}")

    model.to(device).eval()
    with torch.no_grad():
        out = model(**{k: v.to(device) for k, v in inputs.items()})
    got = getattr(out, exp["output_name"]).float().cpu()
    want = torch.tensor(exp["output"], dtype=torch.float32)
    if got.shape != want.shape:
        problems.append(f"{exp['output_name']} shape {tuple(got.shape)} != {tuple(want.shape)}")
        diff = float("inf")
    else:
        diff = (got - want).abs().max().item()
    if "pooler_output" in exp:
        p = (out.pooler_output.float().cpu() - torch.tensor(exp["pooler_output"])).abs().max().item()
        diff = max(diff, p)
    if not diff <= tol:
        problems.append(f"max |{exp['output_name']} - expected| = {diff:.3e} > {tol}")

    status = "OK" if not problems else "FAIL"
    print(f"{d}: {arch}: max |{exp['output_name']} - expected| = {diff:.3e} (tol {tol:g}) {status}")
    for p in problems:
        print(f"  - {p}")
    return not problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", type=pathlib.Path, help="directories with expected.json")
    ap.add_argument("--tol", type=float, default=1e-4, help="max abs difference allowed (default 1e-4)")
    ap.add_argument("--device", default="cpu", help="torch device (default cpu; cuda uses TF32 off)")
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dirs = [d for d in args.dirs if (d / "expected.json").exists()]
    if not dirs:
        print("no directory with expected.json given", file=sys.stderr)
        return 2
    ok = all([check(d, args.tol, args.device) for d in dirs])
    print("ALL OK" if ok else "SOME FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
