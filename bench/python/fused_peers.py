#!/usr/bin/env python3
"""PyTorch peers of Solder's fused kernels, timed on the same shapes as
kernels/src/test/java/dev/solder/backend/cuda/FusedKernelBench.java, printing the same table.

    python3 bench/python/fused_peers.py

CUDA events around ITERS back-to-back calls after a warm-up, 7 repetitions, the median;
random inputs (never zeros). "bwd" rows are (forward+backward) − forward, as the Java bench
times the backward call alone; PyTorch's backward also includes autograd bookkeeping, and its
gradients go to fresh tensors (torch.autograd.grad), as the Java bench's do. Attention rows name
the SDPA backend in the path column. The bf16 LayerNorm rows are PyTorch's bf16 LayerNorm with
bf16 weights and dy; Solder's take float32 gamma, beta and dy as autocast hands them over, so
Solder's moves more bytes. Run it in the same device call as the Java bench so the two
tables come from one card.
"""
import math
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover
    print(f"fused_peers.py: PyTorch is not installed ({e}); nothing to time")
    sys.exit(0)

ITERS = 20
REPS = 7


def time_ms(fn):
    # warm-up: at least 10 calls and 0.2 s, so caches, allocator and autotuning are settled (the
    # Java bench warms its JIT the same way)
    t0 = time.perf_counter()
    n = 0
    while n < 10 or time.perf_counter() - t0 < 0.2:
        fn()
        n += 1
        if n % 10 == 0:
            torch.cuda.synchronize()
    torch.cuda.synchronize()
    e0 = torch.cuda.Event(enable_timing=True)
    e1 = torch.cuda.Event(enable_timing=True)
    t = []
    for _ in range(REPS):
        e0.record()
        for _ in range(ITERS):
            fn()
        e1.record()
        e1.synchronize()
        t.append(e0.elapsed_time(e1) / ITERS)
    return statistics.median(t)


def spin_up(seconds=1.0):
    """GEMMs for about a second before the first row, as FusedKernelBench does, so that the
    first rows are timed at the clocks the later ones see."""
    x = torch.randn(4096, 3072, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(3072, 3072, device="cuda", dtype=torch.bfloat16)
    e0 = torch.cuda.Event(enable_timing=True)
    e1 = torch.cuda.Event(enable_timing=True)
    e0.record()
    while True:
        for _ in range(20):
            F.linear(x, w)
        e1.record()
        e1.synchronize()
        if e0.elapsed_time(e1) >= seconds * 1e3:
            return


def report(op, shape, dtype, ms, bytes_=0.0, flops=0.0, path="torch"):
    rate = f"{flops / (ms * 1e-3) / 1e12:.1f} TFLOP/s" if flops else f"{bytes_ / (ms * 1e-3) / 1e9:.0f} GB/s"
    print(f"{op:<22} {shape:<22} {dtype:<9} {path:<7} {ms:10.4f} {rate:>12} {'':>9}")


def grads(y, inputs, dy=None):
    """The backward of y into fresh tensors, as the Java bench's backward calls write theirs:
    torch.autograd.grad, not .backward(), which would add each call's gradients into the
    leaves' .grad (an extra read-modify-write pass the Java side never does)."""
    return torch.autograd.grad(y, inputs, dy)


def name(dt):
    return {torch.bfloat16: "bfloat16", torch.float32: "float32"}[dt]


def layer_norm(rows, cols, dt):
    x = torch.randn(rows, cols, device="cuda", dtype=dt)
    res = torch.randn(rows, cols, device="cuda", dtype=dt)
    w = torch.randn(cols, device="cuda", dtype=dt)
    b = torch.randn(cols, device="cuda", dtype=dt)
    shape = f"[{rows},{cols}]+res"
    n = rows * cols
    es = x.element_size()
    ms = time_ms(lambda: F.layer_norm(x + res, (cols,), w, b, 1e-12))
    report("layerNorm fwd", shape, name(dt), ms, bytes_=4.0 * n * es)
    xr = x.clone().requires_grad_(True)
    wr = w.clone().requires_grad_(True)
    br = b.clone().requires_grad_(True)
    dy = torch.randn(rows, cols, device="cuda", dtype=dt)

    def fb():
        grads(F.layer_norm(xr + res, (cols,), wr, br, 1e-12), [xr, wr, br], dy)

    ms_fb = time_ms(fb)
    # the Java bench times the backward alone: report fwd+bwd minus fwd
    report("layerNorm bwd", shape, name(dt), max(ms_fb - ms, 1e-6), bytes_=n * (4.0 + es + 4.0))


def linear_gelu(rows, inf, outf, dt):
    x = torch.randn(rows, inf, device="cuda", dtype=dt)
    w = torch.randn(outf, inf, device="cuda", dtype=dt)
    b = torch.randn(outf, device="cuda", dtype=dt)
    shape = f"{rows}x{inf}->{outf}"
    mnk = 2.0 * rows * inf * outf
    ms = time_ms(lambda: F.gelu(F.linear(x, w, b)))
    report("linear+gelu fwd", shape, name(dt), ms, flops=mnk)
    xr = x.clone().requires_grad_(True)
    wr = w.clone().requires_grad_(True)
    br = b.clone().requires_grad_(True)
    dy = torch.randn(rows, outf, device="cuda", dtype=dt)

    def fb():
        grads(F.gelu(F.linear(xr, wr, br)), [xr, wr, br], dy)

    report("linear+gelu bwd", shape, name(dt), max(time_ms(fb) - ms, 1e-6), flops=2 * mnk)
    pre = torch.randn(rows, outf, device="cuda", dtype=dt)
    report("bias+gelu epilogue", f"[{rows},{outf}]", name(dt), time_ms(lambda: F.gelu(pre + b)),
           bytes_=3.0 * rows * outf * x.element_size())


def attention(batch, heads, d, seq, dt):
    """The Java bench's three attention rows (forward; forward+backward; the same with dropout
    0.1) for each of PyTorch's SDPA backends that takes the dtype: flash and cuDNN for bf16 (the
    issue's peers), memory-efficient for float32 (flash and cuDNN have no float32)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    q = torch.randn(batch, heads, seq, d, device="cuda", dtype=dt, requires_grad=True)
    k = torch.randn(batch, heads, seq, d, device="cuda", dtype=dt, requires_grad=True)
    v = torch.randn(batch, heads, seq, d, device="cuda", dtype=dt, requires_grad=True)
    do = torch.randn(batch, heads, seq, d, device="cuda", dtype=dt)
    shape = f"B{batch} H{heads} D{d} S{seq}"
    fwd_flops = 4.0 * batch * heads * seq * seq * d
    backends = ([("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)]
                if dt != torch.float32 else [("effic", SDPBackend.EFFICIENT_ATTENTION)])
    for label, backend in backends:
        try:
            with sdpa_kernel(backend):
                report("attention fwd", shape, name(dt),
                       time_ms(lambda: F.scaled_dot_product_attention(q.detach(), k.detach(), v.detach())),
                       flops=fwd_flops, path=label)
                for op, p in (("attention fwd+bwd", 0.0), ("attention fwd+bwd p.1", 0.1)):
                    def fb():
                        grads(F.scaled_dot_product_attention(q, k, v, dropout_p=p), [q, k, v], do)

                    report(op, shape, name(dt), time_ms(fb), flops=fwd_flops * 3.5, path=label)
        except RuntimeError as e:   # a backend that refuses the case: say so, keep going
            print(f"attention ({label}) {shape} {name(dt)}: not run: {str(e).splitlines()[0][:120]}")


def cross_entropy(n, classes):
    logits = torch.randn(n, classes, device="cuda", dtype=torch.float32, requires_grad=True)
    labels = torch.randint(0, classes, (n,), device="cuda")

    def fb():
        grads(F.cross_entropy(logits, labels), [logits])

    report("cross-entropy fwd+bwd", f"[{n},{classes}]", "float32", time_ms(fb), bytes_=3.0 * n * classes * 4)


def linear_bias(rows, inf, outf, dt):
    x = torch.randn(rows, inf, device="cuda", dtype=dt)
    w = torch.randn(outf, inf, device="cuda", dtype=dt)
    b = torch.randn(outf, device="cuda", dtype=dt)
    shape = f"{rows}x{inf}->{outf}"
    mnk = 2.0 * rows * inf * outf
    ms = time_ms(lambda: F.linear(x, w, b))
    report("linear+bias fwd", shape, name(dt), ms, flops=mnk)
    xr = x.clone().requires_grad_(True)
    wr = w.clone().requires_grad_(True)
    br = b.clone().requires_grad_(True)
    dy = torch.randn(rows, outf, device="cuda", dtype=dt)

    def fb():
        grads(F.linear(xr, wr, br), [xr, wr, br], dy)

    report("linear+bias bwd", shape, name(dt), max(time_ms(fb) - ms, 1e-6), flops=2 * mnk)


def dropout_layer_norm(rows, cols, xdt, dt):
    """HF's BertSelfOutput tail under autocast: dropout on the bf16 dense output, + residual, LayerNorm."""
    x = torch.randn(rows, cols, device="cuda", dtype=xdt)
    res = torch.randn(rows, cols, device="cuda", dtype=dt)
    w = torch.randn(cols, device="cuda", dtype=dt)
    b = torch.randn(cols, device="cuda", dtype=dt)
    n = rows * cols
    ms = time_ms(lambda: F.layer_norm(F.dropout(x, 0.1, True) + res, (cols,), w, b, 1e-12))
    report("dropout+res+LN fwd", f"[{rows},{cols}] x {name(xdt)}", name(dt), ms,
           bytes_=n * (x.element_size() + 3.0 * res.element_size()))


def embeddings(batch, seq, cols):
    """BertEmbeddings without its dropout: three gathers, two adds, LayerNorm (float32 tables)."""
    vocab = 30522
    word = torch.randn(vocab, cols, device="cuda", requires_grad=True)
    typ = torch.randn(2, cols, device="cuda", requires_grad=True)
    pos = torch.randn(512, cols, device="cuda", requires_grad=True)
    w = torch.randn(cols, device="cuda", requires_grad=True)
    b = torch.randn(cols, device="cuda", requires_grad=True)
    ids = torch.randint(0, vocab, (batch, seq), device="cuda")
    types = (torch.arange(seq, device="cuda") > seq // 2).long().expand(batch, seq)
    positions = torch.arange(seq, device="cuda")
    dy = torch.randn(batch, seq, cols, device="cuda")
    n = batch * seq * cols

    def fwd():
        return F.layer_norm(F.embedding(ids, word, padding_idx=0) + F.embedding(types, typ) + F.embedding(positions, pos),
                            (cols,), w, b, 1e-12)

    shape = f"B{batch} S{seq} H{cols}"
    ms = time_ms(fwd)
    report("embeddings+LN fwd", shape, "float32", ms, bytes_=n * 5.0 * 4)
    report("embeddings+LN bwd", shape, "float32", max(time_ms(lambda: grads(fwd(), [word, typ, pos, w, b], dy)) - ms, 1e-6),
           bytes_=(vocab * cols + n * 4) * 4.0)


def main():
    if not torch.cuda.is_available():
        print("fused_peers.py: no CUDA device visible to PyTorch")
        return
    torch.backends.cuda.matmul.allow_tf32 = False
    print(f"device: {torch.cuda.get_device_name()} torch {torch.__version__}")
    spin_up()
    # each row as soon as it is timed: a timeout keeps the rows before it
    print()
    print(f"{'op':<22} {'shape':<22} {'dtype':<9} {'path':<7} {'ms':>10} {'rate':>12} {'twin/fus':>9}")
    runs = []
    for dt in (torch.bfloat16, torch.float32):
        runs += [(layer_norm, (4096, 768, dt)), (linear_gelu, (4096, 768, 3072, dt)),
                 (linear_bias, (4096, 768, 768, dt))]
    runs += [(dropout_layer_norm, (4096, 768, torch.bfloat16, torch.float32)),
             (dropout_layer_norm, (4096, 768, torch.float32, torch.float32)), (embeddings, (32, 128, 768))]
    runs += [(attention, (32, 12, 64, s, torch.bfloat16)) for s in (128, 512)]
    runs += [(attention, (32, 12, 64, 128, torch.float32)), (cross_entropy, (4096, 30522))]
    for fn, args in runs:
        try:
            fn(*args)
        except Exception as e:  # one failing row must not cost the others (one device call)
            print(f"{fn.__name__}{args}: failed: {type(e).__name__}: {str(e).splitlines()[0][:120]}")


if __name__ == "__main__":
    main()
