#!/usr/bin/env python3
"""Measure, on one NVIDIA GPU, the kernels sramflow's GPU model (src/gpu/model.ts) prices for a
Llama-3-8B decode step, so that they can stand as measured calibration points for its H200
preset (src/gpu/calibrate.ts, docs/calibration.md).

What it measures (CUDA events, the median of many timed repeats after warm-up, random data):
  1. device-to-device copy bandwidth of a 4 GiB buffer (bytes read + bytes written);
  2. the decode-step GEMMs of Llama-3-8B in bf16, x[B,4096] @ W^T with W as nn.Linear stores it,
     at B = 1, 8, 64 (and 2048, a prefill-sized check of the compute side):
       q 4096->4096, k 4096->1024, v 4096->1024, o 4096->4096,
       gate 4096->14336, up 4096->14336, down 14336->4096,
     the fused qkv 4096->6144 and gate_up 4096->28672 that tuned stacks launch, and the 7 unfused
     in sequence (one layer's GEMMs). Every kernel cycles through 32 layers' worth of distinct
     weights (14 GiB in all), as a real decode step does, so no weight is read from L2 (60 MB).
     Each is timed inside a CUDA Graph (per-kernel time = the slope between a graph of 32 and a
     graph of 96 launches, so the graph launch itself drops out) and eagerly (32 launches back
     to back from Python, launch overhead included);
  3. fp16 decode attention with torch's scaled_dot_product_attention: B=1, 32 query heads,
     8 kv heads (GQA), head_dim 128, one new token over a cache of 2048 and 8192 positions, over
     32 layers' caches, per backend that runs, with the kernel names the profiler saw.

Writes $OUT/h200-measured.json (or ./h200-measured.json) and prints it.
Run: python3 bench/gpu/measure-h200.py
"""
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
import traceback

import torch
import torch.nn.functional as F

OUT = os.environ.get("OUT", ".")
RESULT = {
    "script": "bench/gpu/measure-h200.py",
    "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "method": "CUDA events; median of timed repeats after warm-up; random normal data; weights and KV caches rotated over 32 layers so nothing is served from L2",
    "errors": [],
}
T0 = time.time()


def log(*a):
    print(f"[{time.time() - T0:6.1f}s]", *a, flush=True)


def save():
    with open(os.path.join(OUT, "h200-measured.json"), "w") as f:
        json.dump(RESULT, f, indent=1)


def smi(fields):
    try:
        r = subprocess.run(
            ["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20,
        )
        vals = [v.strip() for v in r.stdout.strip().split("\n")[0].split(",")]
        return dict(zip(fields.split(","), vals))
    except Exception as e:  # noqa: BLE001
        return {"error": repr(e)}


SMI_FIELDS = "name,driver_version,clocks.sm,clocks.mem,clocks.max.sm,clocks.max.mem,power.draw,power.limit,temperature.gpu,memory.total,pstate"

dev = torch.device("cuda")
props = torch.cuda.get_device_properties(0)
RESULT["device"] = {
    "name": props.name,
    "multiprocessors": props.multi_processor_count,
    "memory_bytes": props.total_memory,
    "l2_bytes": getattr(props, "L2_cache_size", None),
    "capability": f"{props.major}.{props.minor}",
}
RESULT["versions"] = {
    "torch": torch.__version__,
    "cuda": torch.version.cuda,
    "cudnn": torch.backends.cudnn.version(),
    "python": sys.version.split()[0],
}
RESULT["nvidia_smi_before"] = smi(SMI_FIELDS)
log("device", RESULT["device"], RESULT["versions"])
save()


def events_median(fn, reps, warm=3):
    """Median milliseconds of fn() over reps, each bracketed by CUDA events."""
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    for i in range(reps):
        starts[i].record()
        fn()
        ends[i].record()
    torch.cuda.synchronize()
    ts = sorted(s.elapsed_time(e) for s, e in zip(starts, ends))
    return {"median_ms": statistics.median(ts), "min_ms": ts[0], "max_ms": ts[-1], "reps": reps}


def graph_of(body, calls):
    """A CUDA Graph that runs body(i) for i in range(calls)."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for i in range(min(calls, 3)):
            body(i)
    torch.cuda.current_stream().wait_stream(s)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for i in range(calls):
            body(i)
    torch.cuda.synchronize()
    return g


def timed_graph(body, layers, reps=30):
    """Per-call microseconds in a graph: slope between graphs of 1x and 3x `layers` calls."""
    g1 = graph_of(body, layers)
    g3 = graph_of(body, 3 * layers)
    t1 = events_median(g1.replay, reps)
    t3 = events_median(g3.replay, reps)
    del g1, g3
    slope_us = (t3["median_ms"] - t1["median_ms"]) * 1e3 / (2 * layers)
    return {
        "per_call_us": slope_us,
        "per_call_us_simple": t1["median_ms"] * 1e3 / layers,
        "graph_calls": [layers, 3 * layers],
        "graph_ms": [t1["median_ms"], t3["median_ms"]],
        "graph_ms_min_max": [[t1["min_ms"], t1["max_ms"]], [t3["min_ms"], t3["max_ms"]]],
    }


def timed_eager(body, layers, reps=20):
    def run():
        for i in range(layers):
            body(i)
    t = events_median(run, reps)
    return {"per_call_us": t["median_ms"] * 1e3 / layers, "loop_ms": t["median_ms"], "calls": layers}


def kernel_names(fn):
    try:
        from torch.profiler import ProfilerActivity, profile
        fn()
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fn()
            torch.cuda.synchronize()
        names = []
        for e in prof.events():
            if getattr(e, "device_type", None) is not None and str(e.device_type).endswith("CUDA"):
                if e.name not in names:
                    names.append(e.name)
        return names[:8]
    except Exception as e:  # noqa: BLE001
        return [f"profiler failed: {e!r}"]


# ---------------------------------------------------------------- 1. copy bandwidth
try:
    n = 4 * 1024**3 // 2
    src = torch.randn(n, device=dev, dtype=torch.bfloat16)
    dst = torch.empty_like(src)
    t = events_median(lambda: dst.copy_(src), reps=20, warm=3)
    nbytes = 2 * src.numel() * src.element_size()
    RESULT["copy"] = {
        "buffer_bytes": src.numel() * src.element_size(),
        "bytes_moved": nbytes,
        "median_ms": t["median_ms"],
        "GBps_read_plus_write": nbytes / (t["median_ms"] * 1e-3) / 1e9,
        "min_ms": t["min_ms"],
        "max_ms": t["max_ms"],
        "reps": t["reps"],
    }
    assert torch.equal(dst[:1000], src[:1000])
    del src, dst
    torch.cuda.empty_cache()
    log("copy", RESULT["copy"])
except Exception:  # noqa: BLE001
    RESULT["errors"].append("copy: " + traceback.format_exc(limit=2))
save()

# ---------------------------------------------------------------- 2. decode GEMMs
H, I, KVD = 4096, 14336, 1024
SHAPES = {  # name: (in_features, out_features)
    "q_proj": (H, H), "k_proj": (H, KVD), "v_proj": (H, KVD), "o_proj": (H, H),
    "gate_proj": (H, I), "up_proj": (H, I), "down_proj": (I, H),
    "qkv_proj": (H, H + 2 * KVD), "gate_up_proj": (H, 2 * I),
}
LAYER7 = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
LAYERS = 32
BATCHES = [1, 8, 64, 2048]
try:
    torch.manual_seed(0)
    W = {}
    for name in LAYER7:
        k, nout = SHAPES[name]
        W[name] = [torch.randn(nout, k, device=dev, dtype=torch.bfloat16) * 0.02 for _ in range(LAYERS)]
    # Fused weights in their own buffers, as a stack that fuses holds them.
    W["qkv_proj"] = [torch.cat([W["q_proj"][l], W["k_proj"][l], W["v_proj"][l]], 0) for l in range(LAYERS)]
    W["gate_up_proj"] = [torch.cat([W["gate_proj"][l], W["up_proj"][l]], 0) for l in range(LAYERS)]
    wbytes = sum(w.numel() * 2 for ws in W.values() for w in ws)
    RESULT["gemm_weight_bytes_allocated"] = wbytes
    log("weights allocated", wbytes / 1e9, "GB")

    # Correctness spot check: bf16 linear against fp64 on a slice.
    xc = torch.randn(8, H, device=dev, dtype=torch.bfloat16)
    ref = (xc.double() @ W["gate_up_proj"][0].double().t())
    got = F.linear(xc, W["gate_up_proj"][0]).double()
    RESULT["gemm_check_rel_err"] = float((got - ref).norm() / ref.norm())

    gemm = {}
    for B in BATCHES:
        xs = {k: torch.randn(B, SHAPES[k][0], device=dev, dtype=torch.bfloat16) for k in ("q_proj", "down_proj")}
        outs = {name: torch.empty(B, SHAPES[name][1], device=dev, dtype=torch.bfloat16) for name in SHAPES}
        names = list(SHAPES) if B <= 64 else ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
        for name in names:
            k, nout = SHAPES[name]
            x = xs["down_proj"] if k == I else xs["q_proj"]
            ws = W[name]
            o = outs[name]
            body = lambda i, x=x, ws=ws, o=o: torch.matmul(x, ws[i % LAYERS].t(), out=o)
            entry = {
                "batch": B, "in": k, "out": nout,
                "weight_bytes": k * nout * 2,
                "flops": 2 * B * k * nout,
                "graph": timed_graph(body, LAYERS),
                "eager": timed_eager(body, LAYERS),
            }
            if B in (1, 64):
                entry["kernels"] = kernel_names(lambda: body(0))
            us = entry["graph"]["per_call_us"]
            entry["graph"]["GBps_weights"] = entry["weight_bytes"] / (us * 1e-6) / 1e9
            entry["graph"]["TFLOPs"] = entry["flops"] / (us * 1e-6) / 1e12
            gemm[f"{name}@B{B}"] = entry
            log(f"{name:13s} B={B:4d} graph {us:8.2f} us  eager {entry['eager']['per_call_us']:8.2f} us  {entry['graph']['GBps_weights']:7.0f} GB/s  {entry['graph']['TFLOPs']:6.1f} TFLOP/s")
            RESULT["gemm"] = gemm
            save()
        if B <= 64:
            # One layer's 7 unfused GEMMs in sequence, per layer.
            seq = []
            for name in LAYER7:
                k = SHAPES[name][0]
                seq.append((xs["down_proj"] if k == I else xs["q_proj"], W[name], outs[name]))

            def layer_body(i, seq=seq):
                for x, ws, o in seq:
                    torch.matmul(x, ws[i % LAYERS].t(), out=o)

            entry = {
                "batch": B, "kernels_per_layer": 7,
                "weight_bytes": sum(SHAPES[n][0] * SHAPES[n][1] * 2 for n in LAYER7),
                "graph": timed_graph(layer_body, LAYERS),
                "eager": timed_eager(layer_body, LAYERS),
            }
            entry["graph"]["GBps_weights"] = entry["weight_bytes"] / (entry["graph"]["per_call_us"] * 1e-6) / 1e9
            gemm[f"layer7@B{B}"] = entry
            log(f"layer7        B={B:4d} graph {entry['graph']['per_call_us']:8.2f} us/layer  eager {entry['eager']['per_call_us']:8.2f} us/layer")
            RESULT["gemm"] = gemm
            save()
        del xs, outs
    RESULT["nvidia_smi_after_gemm"] = smi(SMI_FIELDS)
    del W
    torch.cuda.empty_cache()
except Exception:  # noqa: BLE001
    RESULT["errors"].append("gemm: " + traceback.format_exc(limit=3))
save()

# ---------------------------------------------------------------- 3. decode attention
try:
    from torch.nn.attention import SDPBackend, sdpa_kernel
    backends = {"default": None, "flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
                "cudnn": SDPBackend.CUDNN_ATTENTION, "math": SDPBackend.MATH}
    att = {}
    HQ, HKV, D = 32, 8, 128
    for ctx in (2048, 8192):
        q = torch.randn(1, HQ, 1, D, device=dev, dtype=torch.float16)
        ks = [torch.randn(1, HKV, ctx, D, device=dev, dtype=torch.float16) for _ in range(LAYERS)]
        vs = [torch.randn(1, HKV, ctx, D, device=dev, dtype=torch.float16) for _ in range(LAYERS)]
        ref = F.scaled_dot_product_attention(q.double(), ks[0].double().repeat_interleave(HQ // HKV, 1),
                                             vs[0].double().repeat_interleave(HQ // HKV, 1))
        kv_bytes = 2 * HKV * ctx * D * 2
        for bname, be in backends.items():
            if bname == "math" and ctx == 8192:
                continue
            try:
                def body(i, be=be):
                    k, v = ks[i % LAYERS], vs[i % LAYERS]
                    if be is None:
                        return F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
                    with sdpa_kernel([be]):
                        return F.scaled_dot_product_attention(q, k, v, enable_gqa=True)

                out = body(0)
                rel = float((out.double() - ref).norm() / ref.norm())
                entry = {"context": ctx, "batch": 1, "q_heads": HQ, "kv_heads": HKV, "head_dim": D, "dtype": "fp16",
                         "kv_bytes": kv_bytes, "rel_err_vs_fp64": rel}
                try:
                    entry["graph"] = timed_graph(body, LAYERS)
                    entry["graph"]["GBps_kv"] = kv_bytes / (entry["graph"]["per_call_us"] * 1e-6) / 1e9
                except Exception as e:  # noqa: BLE001
                    entry["graph_error"] = repr(e)[:300]
                entry["eager"] = timed_eager(body, LAYERS)
                entry["kernels"] = kernel_names(lambda: body(0))
                att[f"{bname}@ctx{ctx}"] = entry
                g = entry.get("graph", {}).get("per_call_us", float("nan"))
                log(f"attention {bname:9s} ctx={ctx:5d} graph {g:8.2f} us  eager {entry['eager']['per_call_us']:8.2f} us  err {rel:.1e}  {entry['kernels'][:2]}")
            except Exception as e:  # noqa: BLE001
                att[f"{bname}@ctx{ctx}"] = {"error": repr(e)[:300]}
                log(f"attention {bname} ctx={ctx}: {e!r}"[:200])
            RESULT["attention"] = att
            save()
        del ks, vs
        torch.cuda.empty_cache()
except Exception:  # noqa: BLE001
    RESULT["errors"].append("attention: " + traceback.format_exc(limit=3))

RESULT["nvidia_smi_after"] = smi(SMI_FIELDS)
RESULT["elapsed_s"] = time.time() - T0
save()
log("done")
print(json.dumps(RESULT))
