#!/usr/bin/env python3
"""GPU check of the FitPrune CUDA backend, run by benchmarks/gpu/check.sh.

Drives our library through ctypes (fplib.py) on torch-allocated memory, so our kernels, the CPU
backend of the same library, a float64 reference and PyTorch's SDPA (flash backend) run in one
process on the same inputs:

  correctness  attention out + LSE (fp32 vs float64; fp16/bf16 by the FlashAttention rule: our max
               error at most 2x PyTorch's own low-precision error against the reference), scores
               (float64 reference and CPU backend), select (identical to the CPU on the same
               scores, ties, -0, NaN, the >4096 many-CTA path), gather (exact, in place);
               the stream forms on a torch stream with a status word checked once (no
               read-back per call), against the synchronous calls;
  timings      CUDA events, medians, inputs rotated over several sets: attention vs SDPA flash,
               score pass alone, attention + scores, gather vs a device-to-device copy.

Writes results.json and prints a summary table last. Exit status 1 when a check fails.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fplib import Lib, FitPruneError, FP_ERR_INDEX, FP_ERR_VALUE, status_word  # noqa: E402

TORCH_DT = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
LN2 = math.log(2.0)

FAILURES = []
ROWS = []  # summary rows


def log(*a):
    print(*a, flush=True)


def record(name, ok, detail):
    log(f"  [{'PASS' if ok else 'FAIL'}] {name}: {detail}")
    if not ok:
        FAILURES.append(f"{name}: {detail}")


def ptr(t):
    return t.data_ptr() if t is not None else None


# ---------------------------------------------------------------- references (float64, torch)

def ref_attention(q, k, v, scale=None):
    """q [n,H,d], k/v [n,G,d] any dtype -> out [n,H,d] f64, lse [H,n] f64 (natural log), causal;
    logits q.k * scale (None: 1/sqrt(d))."""
    n, H, d = q.shape
    scale = 1 / math.sqrt(d) if scale is None else scale
    G = k.shape[1]
    qd = q.double().permute(1, 0, 2)                     # H n d
    kd = k.double().permute(1, 0, 2).repeat_interleave(H // G, 0)
    vd = v.double().permute(1, 0, 2).repeat_interleave(H // G, 0)
    out = torch.empty(H, n, d, dtype=torch.float64, device=q.device)
    lse = torch.empty(H, n, dtype=torch.float64, device=q.device)
    mask = torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1)
    for h0 in range(0, H, 8):
        s = qd[h0:h0 + 8] @ kd[h0:h0 + 8].transpose(1, 2) * scale
        s.masked_fill_(mask, float("-inf"))
        lse[h0:h0 + 8] = torch.logsumexp(s, -1)
        out[h0:h0 + 8] = torch.softmax(s, -1) @ vd[h0:h0 + 8]
    return out.permute(1, 0, 2).contiguous(), lse


def ref_scores(q, k, lse, P, V, scale=None):
    """FitPrune self/cross (docs/design.md) in float64 from q, k and a given LSE [H,n] of attention
    with the same scale (None: 1/sqrt(d))."""
    n, H, d = q.shape
    scale = 1 / math.sqrt(d) if scale is None else scale
    G = k.shape[1]
    t = n - P - V
    kd = k.double()[P:P + V].permute(1, 0, 2).repeat_interleave(H // G, 0)  # H V d
    lse = lse.double()

    def headmax(r0, r1):
        qd = q.double()[r0:r1].permute(1, 0, 2)  # H rows d
        best = None
        for h0 in range(0, H, 8):
            s = qd[h0:h0 + 8] @ kd[h0:h0 + 8].transpose(1, 2) * scale - lse[h0:h0 + 8, r0:r1, None]
            m = s.max(0).values
            best = m if best is None else torch.maximum(best, m)
        return torch.exp(best)  # rows x V

    a = headmax(P, P + V)
    a = a * torch.ones(V, V, dtype=torch.float64, device=q.device).tril()  # key j visible iff j <= i
    self_s = a.sum(0) / V
    cross = headmax(P + V, n).sum(0) / t if t > 0 else torch.zeros(V, dtype=torch.float64, device=q.device)
    return self_s, cross


def rel(a, b):
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


def maxabs(a, b):
    return (a.double() - b.double()).abs().max().item()


# ---------------------------------------------------------------- torch baselines

def sdpa_flash(qt, kt, vt):
    """torch SDPA, flash backend, on [n,H,d] tensors; returns out [n,H,d] (and lse [H,n] when the
    private flash op is there, else None)."""
    H, G = qt.shape[1], kt.shape[1]
    q4 = qt.permute(1, 0, 2).unsqueeze(0)
    k4 = kt.permute(1, 0, 2).unsqueeze(0).repeat_interleave(H // G, 1)
    v4 = vt.permute(1, 0, 2).unsqueeze(0).repeat_interleave(H // G, 1)
    lse = None
    try:
        res = torch.ops.aten._scaled_dot_product_flash_attention(q4, k4, v4, 0.0, True, False)
        out4, lse = res[0], res[1][0]
    except Exception:  # noqa: BLE001 - fall back to the public API
        from torch.nn.attention import sdpa_kernel, SDPBackend
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            out4 = F.scaled_dot_product_attention(q4, k4, v4, is_causal=True)
    return out4[0].permute(1, 0, 2).contiguous(), lse


def sdpa_timed_fn(q4, k4, v4, gqa):
    from torch.nn.attention import sdpa_kernel, SDPBackend

    def run():
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            return F.scaled_dot_product_attention(q4, k4, v4, is_causal=True, enable_gqa=gqa)
    return run


# ---------------------------------------------------------------- timing

def median_ms(fn, sets, warmup=5, iters=30):
    """fn(set) on rotating input sets, one CUDA event pair per call; median in ms."""
    for i in range(warmup):
        fn(sets[i % len(sets)])
    torch.cuda.synchronize()
    times = []
    for i in range(iters):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn(sets[i % len(sets)])
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


# ---------------------------------------------------------------- checks

def make_inputs(n, H, G, d, dtype, seed, scale=1.0):
    g = torch.Generator(device="cuda").manual_seed(seed)
    q = (torch.randn(n, H, d, device="cuda", generator=g) * scale).to(TORCH_DT[dtype]).contiguous()
    k = (torch.randn(n, G, d, device="cuda", generator=g) * scale).to(TORCH_DT[dtype]).contiguous()
    v = torch.randn(n, G, d, device="cuda", generator=g).to(TORCH_DT[dtype]).contiguous()
    return q, k, v


def ours_attention(lib, q, k, v, dtype, scale=None):
    n, H, d = q.shape
    G = k.shape[1]
    out = torch.full_like(q, float("nan"))                      # poisoned: every element must be written
    lse = torch.full((H, n), float("nan"), device="cuda", dtype=torch.float32)
    lib.cuda_attention(ptr(q), ptr(k), ptr(v), n, H, G, d, dtype, ptr(out), ptr(lse), scale=scale)
    torch.cuda.synchronize()
    return out, lse


def ours_scores(lib, q, k, lse, P, V, dtype, scale=None):
    n, H, d = q.shape
    G = k.shape[1]
    s = torch.full((V,), float("nan"), device="cuda")
    c = torch.full((V,), float("nan"), device="cuda")
    lib.cuda_scores(ptr(q), ptr(k), ptr(lse), n, H, G, d, dtype, P, V, ptr(s), ptr(c), scale=scale)
    torch.cuda.synchronize()
    return s, c


def cpu_backend(lib, q, k, v, P, V):
    """The CPU backend of the same library on the (upcast) inputs: out, lse, self, cross."""
    n, H, d = q.shape
    G = k.shape[1]
    qc, kc, vc = (x.float().cpu().contiguous() for x in (q, k, v))
    out = torch.empty(n, H, d)
    lse = torch.empty(H, n)
    lib.cpu_attention(ptr(qc), ptr(kc), ptr(vc), n, H, G, d, ptr(out), ptr(lse))
    s, c = torch.empty(V), torch.empty(V)
    if V > 0:
        lib.cpu_scores(ptr(qc), ptr(kc), ptr(lse), n, H, G, d, P, V, ptr(s), ptr(c))
    return out, lse, s, c


def check_case(lib, case, dtype, seed, with_cpu):
    n, H, G, d, P, V = case
    tag = f"{dtype} n={n} H={H} G={G} d={d} P={P} V={V}"
    log(f"-- correctness {tag}")
    q, k, v = make_inputs(n, H, G, d, dtype, seed)
    out, lse = ours_attention(lib, q, k, v, dtype)
    record(f"{tag} all written", not (torch.isnan(out).any() or torch.isnan(lse).any()).item(),
           "no NaN left in poisoned out/lse")
    ref_out, ref_lse = ref_attention(q, k, v)
    e_out, e_lse = maxabs(out, ref_out), maxabs(lse, ref_lse)
    r_out = rel(out, ref_out)
    res = {"case": tag, "out_maxabs": e_out, "out_rel": r_out, "lse_maxabs": e_lse}
    if dtype == "fp32":
        record(f"{tag} out vs float64", r_out < 1e-5 and e_out < 1e-4, f"rel {r_out:.2e}, maxabs {e_out:.2e}")
        record(f"{tag} lse vs float64", e_lse < 1e-4, f"maxabs {e_lse:.2e}")
    else:
        t_out, t_lse = sdpa_flash(q, k, v)
        pt_out = maxabs(t_out, ref_out)
        res["torch_out_maxabs"] = pt_out
        record(f"{tag} out (FA rule)", e_out <= 2 * pt_out + 1e-6,
               f"ours maxabs {e_out:.2e} vs 2x torch {2 * pt_out:.2e} (ours rel {r_out:.2e})")
        if t_lse is not None:
            pt_lse = maxabs(t_lse, ref_lse)
            res["torch_lse_maxabs"] = pt_lse
            record(f"{tag} lse (FA rule)", e_lse <= 2 * pt_lse + 1e-5, f"ours {e_lse:.2e} vs 2x torch {2 * pt_lse:.2e}")
        else:
            record(f"{tag} lse vs float64", e_lse < 1e-3, f"maxabs {e_lse:.2e} (torch flash LSE unavailable)")
    if V > 0:
        s, c = ours_scores(lib, q, k, lse, P, V, dtype)
        rs, rc = ref_scores(q, k, lse, P, V)  # our LSE, float64 arithmetic: isolates the score pass
        tol = 1e-5 if dtype == "fp32" else 1e-4
        res["self_rel"], res["cross_rel"] = rel(s, rs), rel(c, rc)
        record(f"{tag} scores vs float64", res["self_rel"] < tol and (res["cross_rel"] < tol or n == P + V),
               f"self rel {res['self_rel']:.2e}, cross rel {res['cross_rel']:.2e}")
        rs2, rc2 = ref_scores(q, k, ref_lse, P, V)  # end to end against the exact LSE
        res["self_rel_e2e"], res["cross_rel_e2e"] = rel(s, rs2), rel(c, rc2)
        log(f"     end-to-end vs exact LSE: self rel {res['self_rel_e2e']:.2e}, cross rel {res['cross_rel_e2e']:.2e}")
        s2, c2 = ours_scores(lib, q, k, lse, P, V, dtype)
        record(f"{tag} scores deterministic", torch.equal(s, s2) and torch.equal(c, c2), "bitwise equal on rerun")
        check_select(lib, n, P, V, s, c, tag)
    if with_cpu:
        t0 = time.time()
        co, cl, cs, cc = cpu_backend(lib, q, k, v, P, V)
        res["cpu_out_rel"] = rel(out.cpu(), co)
        res["cpu_lse_maxabs"] = maxabs(lse.cpu(), cl)
        ok = res["cpu_out_rel"] < (1e-5 if dtype == "fp32" else 2e-2)
        msg = f"out rel {res['cpu_out_rel']:.2e}, lse maxabs {res['cpu_lse_maxabs']:.2e}"
        if V > 0:
            res["cpu_self_rel"], res["cpu_cross_rel"] = rel(s.cpu(), cs), rel(c.cpu(), cc)
            msg += f", self rel {res['cpu_self_rel']:.2e}, cross rel {res['cpu_cross_rel']:.2e}"
            ok = ok and res["cpu_self_rel"] < (1e-4 if dtype == "fp32" else 2e-2)
        record(f"{tag} vs CPU backend", ok, msg + f" ({time.time() - t0:.1f} s on the CPU)")
    return res


def check_select(lib, n, P, V, s, c, tag):
    """Device select vs the CPU rule on the same scores; also ties and -0."""
    for name, (ss, cc) in {
        "scores": (s, c),
        "ties": ((s * 8).round() / 8, torch.ones_like(c)),  # many exact ties
        "signed zeros": (torch.where(torch.arange(V, device="cuda") % 3 == 0, torch.tensor(-0.0, device="cuda"),
                                     torch.tensor(0.0, device="cuda")), torch.ones_like(c)),
    }.items():
        ss, cc = ss.float().contiguous(), cc.float().contiguous()
        for drop in sorted({0, V // 2, V}):
            keep_d = torch.full((n - drop,), -1, dtype=torch.int32, device="cuda")
            if n - drop > 0:
                lib.cuda_select(ptr(ss), ptr(cc), n, P, V, drop, ptr(keep_d))
            hs, hc = ss.cpu(), cc.cpu()
            keep_h = torch.empty(n - drop, dtype=torch.int32)
            lib.cpu_select(ptr(hs), ptr(hc), n, P, V, drop, ptr(keep_h))
            if not torch.equal(keep_d.cpu(), keep_h):
                record(f"{tag} select {name} drop={drop}", False, "device and CPU keep indices differ")
                return
    record(f"{tag} select", True, "identical to the CPU on scores, ties and signed zeros, drop in {0, V/2, V}")


def check_select_edges(lib):
    log("-- select edge cases")
    g = torch.Generator(device="cuda").manual_seed(7)
    for V in (1, 4096, 4500, 20000):  # above 4096: the many-CTA rank path
        n, P = V + 50, 10
        s = torch.rand(V, device="cuda", generator=g)
        c = torch.rand(V, device="cuda", generator=g)
        drop = V // 3
        kd = torch.empty(n - drop, dtype=torch.int32, device="cuda")
        lib.cuda_select(ptr(s), ptr(c), n, P, V, drop, ptr(kd))
        kh = torch.empty(n - drop, dtype=torch.int32)
        hs, hc = s.cpu(), c.cpu()
        lib.cpu_select(ptr(hs), ptr(hc), n, P, V, drop, ptr(kh))
        record(f"select V={V}", torch.equal(kd.cpu(), kh), "identical to the CPU")
    V, n, P = 300, 400, 20
    s = torch.rand(V, device="cuda", generator=g)
    s[123] = float("nan")
    c = torch.ones(V, device="cuda")
    kd = torch.empty(n - 10, dtype=torch.int32, device="cuda")
    try:
        lib.cuda_select(ptr(s), ptr(c), n, P, V, 10, ptr(kd))
        record("select NaN", False, "no error raised")
    except FitPruneError as e:
        record("select NaN", e.status == FP_ERR_VALUE and "123" in str(e), str(e))
    for V in (300, 5000):  # the stream form records NaNs in the status word: the smallest token wins
        n, P = V + 100, 20
        s = torch.rand(V, device="cuda", generator=g)
        s[V - 7] = float("nan")
        s[123] = float("nan")
        c = torch.ones(V, device="cuda")
        kd = torch.empty(n - 10, dtype=torch.int32, device="cuda")
        status = torch.zeros(1, dtype=torch.int32, device="cuda")
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())  # inputs and the zeroed word were made there
        lib.cuda_select_async(ptr(s), ptr(c), n, P, V, 10, ptr(kd), ptr(status), stream.cuda_stream)
        stream.synchronize()
        word = status.item()
        try:
            lib.cuda_status_check(ptr(status), stream.cuda_stream)
            record(f"select NaN status V={V}", False, "no error raised")
        except FitPruneError as e:
            ok = word == status_word(FP_ERR_VALUE, 123) and e.status == FP_ERR_VALUE and "123" in str(e)
            stream.synchronize()  # the check clears the word on the stream
            record(f"select NaN status V={V}", ok and status.item() == 0, f"word {word:#x}, {e}; cleared")


def check_gather(lib):
    log("-- gather correctness")
    g = torch.Generator(device="cuda").manual_seed(3)
    for rows, width, dt in ((2900, 4096, torch.float16), (650, 8 * 128, torch.bfloat16), (2900, 1, torch.int32),
                            (777, 4099, torch.float32)):
        src = torch.randint(-1000, 1000, (rows, width), device="cuda", generator=g).to(dt)
        idx = torch.sort(torch.randperm(rows, device="cuda", generator=g)[: rows * 2 // 3]).values.to(torch.int32)
        dst = torch.empty(idx.numel(), width, dtype=dt, device="cuda")
        bad = torch.zeros(1, dtype=torch.int32, device="cuda")
        lib.cuda_gather(ptr(src), rows, width * src.element_size(), ptr(idx), idx.numel(), ptr(dst), ptr(bad))
        torch.cuda.synchronize()
        ok = torch.equal(dst, src.index_select(0, idx.long())) and bad.item() == 0
        record(f"gather {rows}x{width} {dt}", ok, "equal to index_select")
    src = torch.randn(10, 8, device="cuda")
    idx = torch.tensor([0, 10, -1, 3], dtype=torch.int32, device="cuda")
    dst = torch.full((4, 8), 7.0, device="cuda")
    bad = torch.zeros(1, dtype=torch.int32, device="cuda")
    lib.cuda_gather(ptr(src), 10, 32, ptr(idx), 4, ptr(dst), ptr(bad))
    torch.cuda.synchronize()
    record("gather bad index", bad.item() == status_word(FP_ERR_INDEX, 1) and dst[1].abs().sum().item() == 0
           and dst[2].abs().sum().item() == 0 and torch.equal(dst[3], src[3]),
           f"recorded as {bad.item():#x} (first bad output row 1), zero-filled, no out-of-bounds read")
    # In place (dst == src): ascending compaction and an arbitrary permutation with repeats.
    for name, make in (("ascending", lambda r: torch.sort(torch.randperm(r, device="cuda", generator=g)[: r // 2]).values),
                       ("any order", lambda r: torch.randint(0, r, (r * 3 // 4,), device="cuda", generator=g))):
        rows, width = 2900, 4096
        buf = torch.randn(rows, width, device="cuda", generator=g).to(torch.bfloat16)
        orig = buf.clone()
        idx = make(rows).to(torch.int32)
        status = torch.zeros(1, dtype=torch.int32, device="cuda")
        lib.cuda_gather(ptr(buf), rows, width * 2, ptr(idx), idx.numel(), ptr(buf), ptr(status))
        lib.cuda_status_check(ptr(status))
        cnt = idx.numel()
        ok = torch.equal(buf[:cnt], orig.index_select(0, idx.long())) and torch.equal(buf[cnt:], orig[cnt:])
        record(f"gather in place, {name}", ok, "equal to index_select, rows past count untouched")


def check_stream_forms(lib):
    """Attention, scores, select and an in-place gather of torch tensors on a torch stream, with one
    status check at the end: identical to the synchronous calls."""
    log("-- stream forms on torch memory and a torch stream")
    n, H, G, d, P, V = 650, 32, 8, 128, 35, 576
    for dtype in ("fp16", "bf16"):
        q, k, v = make_inputs(n, H, G, d, dtype, 31)
        out_ref, lse_ref = ours_attention(lib, q, k, v, dtype)
        s_ref, c_ref = ours_scores(lib, q, k, lse_ref, P, V, dtype)
        drop = V // 2
        keep_ref = torch.empty(n - drop, dtype=torch.int32, device="cuda")
        lib.cuda_select(ptr(s_ref), ptr(c_ref), n, P, V, drop, ptr(keep_ref))
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            out = torch.empty_like(q)
            lse = torch.empty(H, n, device="cuda")
            s = torch.empty(V, device="cuda")
            c = torch.empty(V, device="cuda")
            keep = torch.empty(n - drop, dtype=torch.int32, device="cuda")
            status = torch.zeros(1, dtype=torch.int32, device="cuda")
        h = stream.cuda_stream
        lib.cuda_attention(ptr(q), ptr(k), ptr(v), n, H, G, d, dtype, ptr(out), ptr(lse), h)
        lib.cuda_scores(ptr(q), ptr(k), ptr(lse), n, H, G, d, dtype, P, V, ptr(s), ptr(c), h)
        lib.cuda_select_async(ptr(s), ptr(c), n, P, V, drop, ptr(keep), ptr(status), h)
        lib.cuda_gather(ptr(out), n, H * d * out.element_size(), ptr(keep), n - drop, ptr(out), ptr(status), h)
        lib.cuda_status_check(ptr(status), h)
        ok = (torch.equal(lse, lse_ref) and torch.equal(s, s_ref) and torch.equal(keep, keep_ref)
              and torch.equal(out[: n - drop], out_ref.index_select(0, keep_ref.long())))
        record(f"stream forms {dtype}", ok, "attention, scores, select, in-place gather equal the synchronous calls")


# ---------------------------------------------------------------- timings

def check_scale(lib):
    """softmax_scale other than 1/sqrt(d) (0.05, 1, Gemma-2 27B's 144^-0.5 at d = 128): attention and
    scores against float64 with the same scale (fp32 to 1e-5; fp16/bf16 out within twice SDPA's error
    with that scale, scores to 1e-4), and the packed calls bitwise equal to each sequence alone."""
    for (n, H, G, d, P, V), scale in (((97, 8, 2, 64, 7, 60), 0.05), ((97, 8, 2, 64, 7, 60), 1.0),
                                      ((300, 16, 8, 128, 20, 200), 144 ** -0.5)):
        for dtype in ("fp32", "fp16", "bf16"):
            tag = f"scale {scale:.4f} {dtype} n={n} H={H} G={G} d={d}"
            log(f"-- {tag}")
            q, k, v = make_inputs(n, H, G, d, dtype, 900 + n + d)
            out, lse = ours_attention(lib, q, k, v, dtype, scale=scale)
            ref_out, ref_lse = ref_attention(q, k, v, scale)
            e_out, e_lse = maxabs(out, ref_out), maxabs(lse, ref_lse)
            if dtype == "fp32":
                record(f"{tag} out, lse vs float64", rel(out, ref_out) < 1e-5 and e_lse < 1e-4,
                       f"out rel {rel(out, ref_out):.2e}, lse maxabs {e_lse:.2e}")
            else:
                q4, k4, v4 = (x.permute(1, 0, 2).unsqueeze(0) for x in (q, k, v))
                t_out = F.scaled_dot_product_attention(q4, k4, v4, is_causal=True, scale=scale,
                                                       enable_gqa=G != H)[0].permute(1, 0, 2)
                pt = maxabs(t_out, ref_out)
                record(f"{tag} out (FA rule), lse", e_out <= 2 * pt + 1e-6 and e_lse < 1e-3,
                       f"ours maxabs {e_out:.2e} vs 2x SDPA {2 * pt:.2e}, lse maxabs {e_lse:.2e}")
            s, c = ours_scores(lib, q, k, lse, P, V, dtype, scale=scale)
            rs, rc = ref_scores(q, k, lse, P, V, scale)
            tol = 1e-5 if dtype == "fp32" else 1e-4
            record(f"{tag} scores vs float64", rel(s, rs) < tol and rel(c, rc) < tol,
                   f"self rel {rel(s, rs):.2e}, cross rel {rel(c, rc):.2e}")
            if dtype != "fp32":  # packed: two copies of the sequence, each as the call on it alone
                q2, k2, v2 = (torch.cat([x, x]).contiguous() for x in (q, k, v))
                cu = [0, n, 2 * n]
                o2 = torch.full_like(q2, float("nan"))
                l2 = torch.full((H, 2 * n), float("nan"), device="cuda")
                s2 = torch.full((2 * V,), float("nan"), device="cuda")
                c2 = torch.full_like(s2, float("nan"))
                lib.cuda_attention_varlen(ptr(q2), ptr(k2), ptr(v2), cu, H, G, d, dtype, ptr(o2), ptr(l2), scale=scale)
                lib.cuda_scores_varlen(ptr(q2), ptr(k2), ptr(l2), cu, H, G, d, dtype, [(P, V), (P, V)], ptr(s2),
                                       ptr(c2), scale=scale)
                torch.cuda.synchronize()
                same = all(torch.equal(o2[i * n:(i + 1) * n], out) and torch.equal(l2[:, i * n:(i + 1) * n], lse)
                           and torch.equal(s2[i * V:(i + 1) * V], s) and torch.equal(c2[i * V:(i + 1) * V], c)
                           for i in range(2))
                record(f"{tag} packed = alone", same, "out, lse, self, cross bitwise equal")


def time_case(lib, case, dtype, rotate=3):
    n, H, G, d, P, V = case
    flops = 2.0 * n * n * d * H  # causal: half of 4*n^2*d*H
    sets = [make_inputs(n, H, G, d, dtype, 1000 + i) for i in range(rotate)]
    outs = [(torch.empty_like(q), torch.empty(H, n, device="cuda")) for q, _, _ in sets]
    sc = [(torch.empty(V, device="cuda"), torch.empty(V, device="cuda")) for _ in sets]

    def attn(i):
        q, k, v = sets[i]
        lib.cuda_attention(ptr(q), ptr(k), ptr(v), n, H, G, d, dtype, ptr(outs[i][0]), ptr(outs[i][1]))

    def scores(i):
        q, k, _ = sets[i]
        lib.cuda_scores(ptr(q), ptr(k), ptr(outs[i][1]), n, H, G, d, dtype, P, V, ptr(sc[i][0]), ptr(sc[i][1]))

    def both(i):
        attn(i)
        scores(i)

    idx = list(range(rotate))
    for i in idx:
        attn(i)  # LSEs for the score pass
    torch.cuda.synchronize()
    # Tile variants (fp_cuda_set_option): query rows per CTA of attention and of the score pass.
    variants = {}
    if dtype != "fp32":
        for rows in (64, 128):
            lib.cuda_set_option("attention_rows", rows)
            variants[f"attn_rows{rows}_ms"] = median_ms(attn, idx)
            lib.cuda_set_option("score_rows", rows)
            variants[f"score_rows{rows}_ms"] = median_ms(scores, idx)
        lib.cuda_set_option("attention_rows", 128)  # the defaults
        lib.cuda_set_option("score_rows", 64)
    t_attn = median_ms(attn, idx)
    t_scores = median_ms(scores, idx)
    t_both = median_ms(both, idx)
    row = {"case": f"{dtype} n={n} H={H} G={G} d={d} V={V}", "attn_ms": t_attn, "attn_tflops": flops / t_attn / 1e9,
           "scores_ms": t_scores, "attn_plus_scores_ms": t_both, "ratio_both_over_attn": t_both / t_attn}
    row.update(variants)
    if variants:  # the best tile choices, and what attention + scores would cost with them
        best_a = min(variants["attn_rows64_ms"], variants["attn_rows128_ms"])
        best_s = min(variants["score_rows64_ms"], variants["score_rows128_ms"])
        row["best_attn_tflops"] = flops / best_a / 1e9
        row["best_ratio_both_over_attn"] = (best_a + best_s) / best_a
    if dtype != "fp32":
        # [1,H,n,d] views of the token-major tensors (flash reads them strided); GQA K/V expanded
        # once outside the timing so SDPA sees plain multi-head attention.
        t4 = [(q.permute(1, 0, 2).unsqueeze(0), k.repeat_interleave(H // G, 1).permute(1, 0, 2).unsqueeze(0),
               v.repeat_interleave(H // G, 1).permute(1, 0, 2).unsqueeze(0)) for q, k, v in sets]
        try:
            fns = [sdpa_timed_fn(*x, False) for x in t4]
            t_sdpa = median_ms(lambda i: fns[i](), idx)
            row["sdpa_flash_ms"] = t_sdpa
            row["sdpa_tflops"] = flops / t_sdpa / 1e9
            row["ours_over_sdpa_throughput"] = t_sdpa / t_attn
            if variants:
                row["best_ours_over_sdpa_throughput"] = t_sdpa / min(variants["attn_rows64_ms"],
                                                                    variants["attn_rows128_ms"])
        except Exception as e:  # noqa: BLE001
            row["sdpa_error"] = repr(e)
    log("  " + json.dumps(row))
    ROWS.append(row)
    return row


def time_gather(lib):
    out = []
    for name, rows, width, dt, keep_frac in (("hidden fp16 [n,4096]", 2900, 4096, torch.float16, 0.5),
                                             ("hidden fp32 [n,4096]", 2900, 4096, torch.float32, 0.5),
                                             ("kv fp16 [n,8*128]", 2900, 1024, torch.float16, 0.5),
                                             ("big fp16 [32768,4096]", 32768, 4096, torch.float16, 0.5)):
        src = torch.randn(rows, width, device="cuda").to(dt)
        cnt = int(rows * keep_frac)
        idx = torch.sort(torch.randperm(rows, device="cuda")[:cnt]).values.to(torch.int32)
        dst = torch.empty(cnt, width, dtype=dt, device="cuda")
        rb = width * src.element_size()
        cp_src = src[:cnt].clone()
        cp_dst = torch.empty_like(cp_src)
        t_g = median_ms(lambda _: lib.cuda_gather(ptr(src), rows, rb, ptr(idx), cnt, ptr(dst)), [0], 5, 50)
        t_c = median_ms(lambda _: cp_dst.copy_(cp_src), [0], 5, 50)
        moved = 2.0 * cnt * rb  # bytes read + written
        r = {"gather": name, "gather_ms": t_g, "gather_GBps": moved / t_g / 1e6, "copy_ms": t_c,
             "copy_GBps": moved / t_c / 1e6, "gather_over_copy": t_c / t_g}
        log("  " + json.dumps(r))
        out.append(r)
    return out


# ---------------------------------------------------------------- main

def check_batch(lib):
    """Packed batches and ragged decode: every sequence as if alone (attention and scores vs the
    single-sequence kernels, bitwise where the tiles are the same), decode vs the last rows of a
    full prefill; n = 1, V = 0, no text rows and an empty sequence in one batch."""
    H, G, d = 8, 2, 128
    lens = [1, 0, 300, 97, 650, 64]
    spans = [(0, 1), (0, 0), (5, 200), (3, 0), (35, 576), (0, 64)]
    cu = [0]
    for n in lens:
        cu.append(cu[-1] + n)
    N = cu[-1]
    for dtype in ("fp16", "bf16"):
        q, k, v = make_inputs(N, H, G, d, dtype, 77)
        out = torch.full_like(q, float("nan"))
        lse = torch.full((H, N), float("nan"), device="cuda")
        lib.cuda_attention_varlen(ptr(q), ptr(k), ptr(v), cu, H, G, d, dtype, ptr(out), ptr(lse))
        Vt = sum(V for _, V in spans)
        s = torch.full((Vt,), float("nan"), device="cuda")
        c = torch.full((Vt,), float("nan"), device="cuda")
        lib.cuda_scores_varlen(ptr(q), ptr(k), ptr(lse), cu, H, G, d, dtype, spans, ptr(s), ptr(c))
        torch.cuda.synchronize()
        record(f"batch {dtype} all written", not (torch.isnan(out).any() or torch.isnan(lse).any()
                                                   or torch.isnan(s).any() or torch.isnan(c).any()).item(), "no NaN left")
        same, v0 = True, 0
        for b, n in enumerate(lens):
            P, V = spans[b]
            if n == 0:
                continue
            r = slice(cu[b], cu[b + 1])
            o1, l1 = ours_attention(lib, q[r].contiguous(), k[r].contiguous(), v[r].contiguous(), dtype)
            same = same and torch.equal(o1, out[r]) and torch.equal(l1, lse[:, r])
            if V > 0:
                s1, c1 = ours_scores(lib, q[r].contiguous(), k[r].contiguous(), l1.contiguous(), P, V, dtype)
                same = same and torch.equal(s1, s[v0:v0 + V]) and torch.equal(c1, c[v0:v0 + V])
            v0 += V
        record(f"batch {dtype} = sequences alone", same, "attention, LSE, self, cross bitwise equal")

    # decode: ragged caches, 1 or a few new tokens, against the last rows of the full prefill
    kv = [1, 40, 700, 129]
    qn = [1, 1, 3, 4]
    for dtype in ("fp32", "fp16", "bf16"):
        Hd, Gd, dd = 8, 2, 64
        caches = [make_inputs(n, Hd, Gd, dd, dtype, 90 + i) for i, n in enumerate(kv)]
        cu_q = [0]
        for x in qn:
            cu_q.append(cu_q[-1] + x)
        qs = torch.cat([caches[i][0][kv[i] - qn[i]:] for i in range(len(kv))]).contiguous()
        out = torch.full_like(qs, float("nan"))
        lse = torch.full((Hd, cu_q[-1]), float("nan"), device="cuda")
        lib.cuda_decode(ptr(qs), cu_q, Hd, Gd, dd, dtype, [ptr(x[1]) for x in caches], [ptr(x[2]) for x in caches], kv,
                        ptr(out), ptr(lse))
        torch.cuda.synchronize()
        worst = 0.0
        for i, n in enumerate(kv):
            ref_out, ref_lse = ref_attention(*caches[i])
            r = slice(cu_q[i], cu_q[i + 1])
            worst = max(worst, rel(out[r], ref_out[n - qn[i]:]), maxabs(lse[:, r], ref_lse[:, n - qn[i]:]))
        tol = 1e-5 if dtype == "fp32" else 1e-2
        record(f"decode {dtype} vs float64", worst < tol and not torch.isnan(out).any().item(), f"worst {worst:.2e}")

        # paged: the same rows appended by slots into one pool of shuffled 16-row blocks (spare blocks NaN, never
        # read), then read through a block table; the same bits as the contiguous call, at another softmax scale too
        bs, row = 16, Gd * dd
        counts = [(n + bs - 1) // bs for n in kv]
        max_blocks, num_blocks = max(counts), sum(counts) + 3
        ids = torch.randperm(num_blocks, generator=torch.Generator().manual_seed(7)).tolist()
        table, slots, next_id = [0] * (len(kv) * max_blocks), [], 0
        for i, n in enumerate(kv):
            for b in range(counts[i]):
                table[i * max_blocks + b] = ids[next_id]
                next_id += 1
            slots.append([table[i * max_blocks + r // bs] * bs + r % bs for r in range(n)])
        k_pool = torch.full((num_blocks, bs, Gd, dd), float("nan"), device="cuda").to(caches[0][1].dtype)
        v_pool = torch.full_like(k_pool, float("nan"))
        for i, n in enumerate(kv):
            lib.cuda_kv_append_paged(ptr(caches[i][1]), ptr(caches[i][2]), n, Gd, dd, dtype, ptr(k_pool), ptr(v_pool),
                                     num_blocks, bs, slots[i])
        for scale in (1.0 / math.sqrt(dd), 0.37):
            want = torch.full_like(qs, float("nan"))
            got = torch.full_like(qs, float("nan"))
            lse2 = torch.full_like(lse, float("nan"))
            lib.cuda_decode(ptr(qs), cu_q, Hd, Gd, dd, dtype, [ptr(x[1]) for x in caches], [ptr(x[2]) for x in caches],
                            kv, ptr(want), ptr(lse), scale=scale)
            lib.cuda_paged_decode(ptr(qs), cu_q, Hd, Gd, dd, dtype, scale, ptr(k_pool), ptr(v_pool), num_blocks, bs,
                                  table, max_blocks, kv, ptr(got), ptr(lse2))
            torch.cuda.synchronize()
            record(f"paged decode {dtype} = contiguous (scale {scale:.3f})",
                   torch.equal(want, got) and torch.equal(lse, lse2), "output and LSE bitwise equal")


def check_cached_prefix(lib):
    """Prefill over a cached prefix (the decode kernel with per-sequence key offsets) against the
    last rows of a float64 full prefill, with a one-query, an empty, an unprefixed and a long-prefix
    sequence in one batch; and the contiguous append, bitwise, against torch's copy."""
    H, G, d = 8, 2, 128
    k_len = [1, 40, 5, 700, 300]
    q_len = [1, 0, 5, 130, 17]
    cu_q, cu_k = [0], [0]
    for a, b in zip(q_len, k_len):
        cu_q.append(cu_q[-1] + a)
        cu_k.append(cu_k[-1] + b)
    for dtype in ("fp32", "fp16", "bf16"):
        seqs = [make_inputs(n, H, G, d, dtype, 300 + i) for i, n in enumerate(k_len)]
        q = torch.cat([s[0][n - m:] for s, n, m in zip(seqs, k_len, q_len)]).contiguous()
        k = torch.cat([s[1] for s in seqs]).contiguous()
        v = torch.cat([s[2] for s in seqs]).contiguous()
        out = torch.full_like(q, float("nan"))
        lse = torch.full((H, cu_q[-1]), float("nan"), device="cuda")
        lib.cuda_attention_varlen_kv(ptr(q), ptr(k), ptr(v), cu_q, cu_k, H, G, d, dtype, 1.0 / math.sqrt(d),
                                     ptr(out), ptr(lse))
        torch.cuda.synchronize()
        worst = 0.0
        for i, (n, m) in enumerate(zip(k_len, q_len)):
            if m == 0:
                continue
            ref_out, ref_lse = ref_attention(*seqs[i])
            r = slice(cu_q[i], cu_q[i + 1])
            worst = max(worst, rel(out[r], ref_out[n - m:]), maxabs(lse[:, r], ref_lse[:, n - m:]))
        tol = 1e-5 if dtype == "fp32" else 1e-2
        record(f"cached-prefix prefill {dtype} vs float64", worst < tol and not torch.isnan(out).any().item(),
               f"worst {worst:.2e}")

        # contiguous append: each sequence's new rows after kv_len rows of a cache with spare capacity
        kv_len = [n - m for n, m in zip(k_len, q_len)]
        kc = [torch.full((n + 3, G, d), float("nan"), device="cuda").to(k.dtype) for n in k_len]
        vc = [torch.full_like(c, float("nan")) for c in kc]
        kn = torch.cat([s[1][n - m:] for s, n, m in zip(seqs, k_len, q_len)]).contiguous()
        vn = torch.cat([s[2][n - m:] for s, n, m in zip(seqs, k_len, q_len)]).contiguous()
        lib.cuda_kv_append(ptr(kn), ptr(vn), cu_q, G, d, dtype, [ptr(c) for c in kc], [ptr(c) for c in vc],
                           [n + 3 for n in k_len], kv_len)
        torch.cuda.synchronize()
        same = all(torch.equal(kc[i][kv_len[i]:k_len[i]], seqs[i][1][kv_len[i]:]) and
                   torch.equal(vc[i][kv_len[i]:k_len[i]], seqs[i][2][kv_len[i]:]) and
                   torch.isnan(kc[i][:kv_len[i]].float()).all().item() and torch.isnan(kc[i][k_len[i]:].float()).all().item()
                   for i in range(len(k_len)))
        record(f"kv append {dtype}", same, "new rows bitwise at kv_len, nothing else written")

    # its cost: chunks of m queries after a 4096-row prefix (LLaVA-1.5-7B's H = G = 32, d = 128), against the
    # tensor-core prefill of the whole 4096 + m rows, which the cached-prefix call saves an engine from redoing
    H, G, d, P = 32, 32, 128, 4096
    for dtype in ("fp16", "bf16"):
        for m in (1, 16, 128, 512):
            q, k, v = make_inputs(P + m, H, G, d, dtype, 9)
            qc = q[P:].contiguous()
            out = torch.empty_like(qc)
            lse = torch.empty((H, m), device="cuda")
            full_out, full_lse = torch.empty_like(q), torch.empty((H, P + m), device="cuda")
            chunk = median_ms(lambda _: lib.cuda_attention_varlen_kv(ptr(qc), ptr(k), ptr(v), [0, m], [0, P + m], H, G, d,
                                                                     dtype, 1.0 / math.sqrt(d), ptr(out), ptr(lse)), [0])
            full = median_ms(lambda _: lib.cuda_attention_varlen(ptr(q), ptr(k), ptr(v), [0, P + m], H, G, d, dtype,
                                                                 ptr(full_out), ptr(full_lse)), [0])
            log(f"  cached-prefix {dtype} m={m} after {P}: {chunk:.3f} ms; full prefill of {P + m} rows {full:.3f} ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--out", default=".")
    ap.add_argument("--quick", action="store_true", help="small cases only")
    ap.add_argument("--profile", action="store_true", help="one attention + score call per dtype at n=2900 (for ncu)")
    args = ap.parse_args()
    lib = Lib(args.lib)
    if args.profile:
        n, H, G, d, P, V = 2900, 32, 32, 128, 35, 2816
        for dtype in ("fp16", "bf16"):
            q, k, v = make_inputs(n, H, G, d, dtype, 5)
            out, lse = ours_attention(lib, q, k, v, dtype)
            ours_scores(lib, q, k, lse, P, V, dtype)
        torch.cuda.synchronize()
        return 0
    log("library", lib.version(), "|", lib.cuda_describe())
    log("torch", torch.__version__, "| device", torch.cuda.get_device_name(), "| cpu threads", lib.L.fp_cpu_threads())
    torch.backends.cuda.matmul.allow_tf32 = False

    shapes = [(650, 32, 32, 128, 35, 576), (1200, 32, 32, 128, 35, 1024), (2900, 32, 32, 128, 35, 2816)]
    extra = [(650, 32, 32, 64, 35, 576), (650, 28, 4, 128, 35, 576), (97, 4, 2, 64, 7, 60), (200, 8, 8, 128, 0, 200)]
    if args.quick:
        shapes = shapes[:1]
    results = {"correctness": [], "timing": [], "gather": []}
    seed = 1
    for case in shapes + extra:
        for dtype in ("fp32", "fp16", "bf16"):
            seed += 1
            try:
                results["correctness"].append(check_case(lib, case, dtype, seed, with_cpu=case[0] <= 1200 or dtype == "fp32"))
            except Exception as e:  # noqa: BLE001 - one failing case must not hide the others
                record(f"{dtype} {case}", False, f"exception {e!r}")
    # The non-default tile variants, on a LLaVA-HR-like and a GQA shape.
    for a_rows, s_rows in ((64, 128),):
        lib.cuda_set_option("attention_rows", a_rows)
        lib.cuda_set_option("score_rows", s_rows)
        log(f"-- tile variant attention_rows={a_rows} score_rows={s_rows}")
        for case in ((1200, 32, 32, 128, 35, 1024), (650, 28, 4, 64, 35, 576), (97, 4, 2, 64, 7, 60)):
            for dtype in ("fp16", "bf16"):
                seed += 1
                try:
                    check_case(lib, case, dtype, seed, with_cpu=False)
                except Exception as e:  # noqa: BLE001
                    record(f"variant {dtype} {case}", False, f"exception {e!r}")
        lib.cuda_set_option("attention_rows", 128)
        lib.cuda_set_option("score_rows", 64)
    for section in (check_select_edges, check_gather, check_stream_forms, check_batch, check_scale, check_cached_prefix):
        try:
            section(lib)
        except Exception as e:  # noqa: BLE001
            record(section.__name__, False, f"exception {e!r}")

    log("-- timings (CUDA events, medians, 3 rotating input sets)")
    for case in shapes + extra[:2]:
        for dtype in ("fp16", "bf16"):
            try:
                results["timing"].append(time_case(lib, case, dtype))
            except Exception as e:  # noqa: BLE001
                record(f"timing {dtype} {case}", False, f"exception {e!r}")
    try:
        results["timing"].append(time_case(lib, shapes[-1], "fp32"))
    except Exception as e:  # noqa: BLE001
        record("timing fp32", False, f"exception {e!r}")
    try:
        results["gather"] = time_gather(lib)
    except Exception as e:  # noqa: BLE001
        record("timing gather", False, f"exception {e!r}")

    results["failures"] = FAILURES
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)

    log("\n==== summary")
    log(f"{'case':44s} {'ours ms':>8s} {'TFLOP/s':>8s} {'sdpa ms':>8s} {'TFLOP/s':>8s} {'ours/sdpa':>9s} "
        f"{'scores':>8s} {'(a+s)/a':>8s}")
    for r in results["timing"]:
        log(f"{r['case']:44s} {r['attn_ms']:8.3f} {r['attn_tflops']:8.1f} {r.get('sdpa_flash_ms', float('nan')):8.3f} "
            f"{r.get('sdpa_tflops', float('nan')):8.1f} {r.get('ours_over_sdpa_throughput', float('nan')):9.2f} "
            f"{r['scores_ms']:8.3f} {r['ratio_both_over_attn']:8.2f}")
    for r in results["timing"]:
        if "best_attn_tflops" in r:
            log(f"  {r['case']:42s} tiles: attention rows 128 {r['attn_rows128_ms']:.3f} ms / 64 {r['attn_rows64_ms']:.3f} ms;"
                f" score rows 64 {r['score_rows64_ms']:.3f} ms / 128 {r['score_rows128_ms']:.3f} ms;"
                f" best (a+s)/a {r['best_ratio_both_over_attn']:.2f}")
    for r in results["gather"]:
        log(f"gather {r['gather']:28s} {r['gather_GBps']:8.0f} GB/s vs copy {r['copy_GBps']:8.0f} GB/s "
            f"= {r['gather_over_copy']:.2f}")
    # The project's speed goals (H100, same run): reported, not counted as check failures.
    for r in results["timing"]:
        if r["case"].startswith(("fp16 n=2900", "bf16 n=2900")) and "ours_over_sdpa_throughput" in r:
            x = r["ours_over_sdpa_throughput"]
            log(f"goal attention >= 50% of SDPA (stretch 80%) [{r['case'][:4]}]: {100 * x:.0f}% "
                f"{'MET' if x >= 0.5 else 'MISSED'}")
            y = r["ratio_both_over_attn"]
            log(f"goal attention+scores <= 1.6x attention [{r['case'][:4]}]: {y:.2f}x {'MET' if y <= 1.6 else 'MISSED'}")
            if "best_ours_over_sdpa_throughput" in r:
                log(f"     with the best tile variants: attention {100 * r['best_ours_over_sdpa_throughput']:.0f}% of SDPA,"
                    f" (a+s)/a {r['best_ratio_both_over_attn']:.2f}x")
    big = [r for r in results["gather"] if r["gather"].startswith("big")]
    if big:
        z = big[0]["gather_over_copy"]
        log(f"goal gather >= 70% of copy bandwidth (32768-row case): {100 * z:.0f}% {'MET' if z >= 0.7 else 'MISSED'}")
    log(f"checks failed: {len(FAILURES)}")
    for f_ in FAILURES:
        log("  FAIL " + f_)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
