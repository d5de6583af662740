"""The PyTorch + transformers peer of dev.solder.bench.BertTrainStep: one BERT fine-tuning
step as HF's Trainer runs it (forward, cross-entropy, backward, clip to norm 1, fused AdamW),
on the same shapes and token layout, timed with CUDA events (or a host clock on the CPU).

    python3 bench/python/bert_step.py [--device cuda] [--batch 8] [--seq 64] [--steps 20]
                                      [--warmup 5] [--layers 12] [--precision fp32|bf16|fp16]

bf16/fp16 use torch.autocast as Trainer(bf16=True / fp16=True) does; fp16 adds GradScaler.
Random weights (BertConfig() defaults = BERT-Base); the weights do not change the time.
"""
import argparse
import statistics
import time

import torch
from transformers import BertConfig, BertForSequenceClassification


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--labels", type=int, default=3)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.manual_seed(42)
    cfg = BertConfig(num_hidden_layers=a.layers, num_labels=a.labels, attn_implementation="sdpa")
    model = BertForSequenceClassification(cfg).to(dev).train()   # train(): dropout on, as in fine-tuning
    attn = getattr(model.config, "_attn_implementation", "?")
    # The same layout as BertTrainStep: the last quarter of the batch padded to half length.
    ids = torch.randint(1000, 30000, (a.batch, a.seq))
    mask = torch.ones(a.batch, a.seq, dtype=torch.long)
    for b in range(a.batch - a.batch // 4, a.batch):
        ids[b, a.seq // 2:] = 0
        mask[b, a.seq // 2:] = 0
    ids, mask = ids.to(dev), mask.to(dev)
    labels = torch.randint(0, a.labels, (a.batch,), device=dev)
    decay = [p for n, p in model.named_parameters() if not ("bias" in n or "LayerNorm.weight" in n)]
    no_decay = [p for n, p in model.named_parameters() if "bias" in n or "LayerNorm.weight" in n]
    # fused=True: PyTorch's one-kernel AdamW (the peer; Trainer's "adamw_torch_fused")
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.0}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=5e-5, eps=1e-8, fused=dev.type == "cuda")
    low = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[a.precision]
    scaler = torch.amp.GradScaler(dev.type) if low is torch.float16 else None

    def step():
        with torch.autocast(dev.type, dtype=low, enabled=low is not None):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        if scaler:
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
        else:
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if scaler:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(a.warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(a.steps):
        if dev.type == "cuda":
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            step()
            e.record()
            torch.cuda.synchronize()
            times.append(s.elapsed_time(e))
        else:
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1e3)
    med = statistics.median(times)
    mem = ""
    if dev.type == "cuda":
        mem = (f", peak {dev} memory {torch.cuda.max_memory_allocated() / 2**20:.1f} MiB allocated"
               f" ({torch.cuda.max_memory_reserved() / 2**20:.1f} MiB reserved)")
    print(f"torch {torch.__version__} BERT step ({attn} attention, fused AdamW): {a.layers} layers, batch {a.batch} x {a.seq}, {a.precision}, {dev}: "
          f"mean {statistics.mean(times):.2f} ms/step, median {med:.2f} ms/step, {a.batch / med * 1e3:.0f} samples/s{mem}")


if __name__ == "__main__":
    main()
