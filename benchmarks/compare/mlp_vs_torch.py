#!/usr/bin/env python
"""optbench's hand-written MLP backprop against PyTorch autograd, one thread each.

The net is ``problems.get("mlp", dataset="digits", hidden=[128, 128])``: a relu MLP
with layer widths [64, 128, 128, 10], softmax cross-entropy and the L2 penalty
``reg/2 sum_l |W_l|^2`` on the weights (not the biases).  One fixed minibatch of
``--batch`` training rows is drawn once; on it the script times, interleaved in rounds
(a, b, then b, a, ...) so that load on this shared machine hits both alike:

(a) optbench: ``oracle.grad(x)`` of the :class:`problems.mlp.MLPBatchOracle`, one
    forward pass with the loss and one backward pass into a fresh flat float64
    gradient (the loss is computed on the way; ``grad`` returns only the gradient);
(b) torch: ``nn.Sequential`` of ``nn.Linear`` and ``nn.ReLU`` layers,
    ``F.cross_entropy`` plus the same penalty ``reg/2 sum |W|^2`` inside the loss,
    ``loss.backward()`` and ``loss.item()``, with ``zero_grad(set_to_none=True)``
    before every repetition.

Both run on one thread: numpy's BLAS through ``threadpoolctl.threadpool_limits(1)``
and torch through ``torch.set_num_threads(1)``.  Before timing, optbench's flat
parameters are copied into the torch model (optbench stores ``W`` as (fan_in, fan_out)
so that a layer is ``A @ W + b``; ``nn.Linear.weight`` is (fan_out, fan_in), so it
receives ``W.T``) and the loss and the gradient of the two are compared in float64.

torch is NOT a dependency of optbench; it is imported inside :func:`main` only, and
the script exits with status 2 and a message when it is missing::

    pip install torch
    python benchmarks/compare/mlp_vs_torch.py [--repeats N] [--batch 256] [--dtype float64|float32]

``--dtype float32`` runs the torch side in float32; optbench has a float64 path only,
so its side stays float64 and the ratio then compares unequal work (the script says so).
The environment (``OPENBLAS_CORETYPE``, ``OPENBLAS_L2_SIZE``, ...) is left as it is
and reported.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
from typing import Any, Callable

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import problems

DATASET = "digits"
HIDDEN = (128, 128)
MIN_REPEATS = 200
ENV_VARS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "MKL_ENABLE_INSTRUCTIONS",
    "MKL_DEBUG_CPU_TYPE",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time optbench's MLP forward+backward against torch (one thread each)."
    )
    parser.add_argument(
        "--repeats", type=int, default=1000,
        help=f"timed rounds, each one call of (a) and one of (b); at least {MIN_REPEATS} "
        "(default 1000)",
    )
    parser.add_argument("--batch", type=int, default=256, help="rows in the fixed batch (256)")
    parser.add_argument(
        "--dtype", choices=("float64", "float32"), default="float64",
        help="dtype of the torch side (default float64; optbench is always float64)",
    )
    parser.add_argument("--warmup", type=int, default=50, help="untimed rounds first (50)")
    parser.add_argument(
        "--reg", type=float, default=1e-4,
        help="L2 penalty on the weights, on both sides (default 1e-4, MLP's default)",
    )
    parser.add_argument("--seed", type=int, default=0, help="batch and x0 seed (0)")
    parser.add_argument(
        "--tol", type=float, default=1e-10,
        help="float64 agreement required of loss and gradient, relative (1e-10)",
    )
    args = parser.parse_args(argv)
    if args.repeats < MIN_REPEATS:
        parser.error(f"--repeats must be at least {MIN_REPEATS} for stable medians")
    if args.batch < 1 or args.warmup < 0 or args.reg < 0:
        parser.error("--batch must be >= 1, --warmup and --reg >= 0")
    return args


# The two sides ---------------------------------------------------------------------


def build_problem(batch: int, reg: float, seed: int) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """The MLP problem, its oracle on one fixed batch, ``x0`` and the batch's rows."""
    problem = problems.get(
        "mlp", dataset=DATASET, hidden=list(HIDDEN), activation="relu",
        batch_size=batch, reg=reg, seed=seed,
    )
    oracle = problem.minibatch(np.random.default_rng(seed))
    # minibatch() returns the problem itself when batch == the training split's size
    rows = getattr(oracle, "indices", np.arange(problem.n_train))
    return problem, oracle, problem.x0(seed), rows


def build_torch(torch: Any, problem: Any, x: np.ndarray, rows: np.ndarray, dtype: Any):
    """A torch copy of the net at ``x``, the batch as tensors and a step function."""
    nn = torch.nn
    F = torch.nn.functional
    widths = problem.widths
    mods: list[Any] = []
    linears: list[Any] = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        lin = nn.Linear(fan_in, fan_out, dtype=dtype)
        linears.append(lin)
        mods.append(lin)
        if i < len(widths) - 2:
            mods.append(nn.ReLU())
    model = nn.Sequential(*mods)
    with torch.no_grad():
        for lin, layer in zip(linears, problem.layers(x)):
            # optbench: W is (fan_in, fan_out), z = a @ W + b; torch: z = a @ weight.T + bias
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.W.T)))
            lin.bias.copy_(torch.from_numpy(layer.b))
    X = torch.from_numpy(np.ascontiguousarray(problem.X_train[rows])).to(dtype)
    y = torch.from_numpy(np.asarray(problem.y_train[rows], dtype=np.int64))
    weights = [lin.weight for lin in linears]
    half_reg = 0.5 * problem.reg

    def step() -> float:
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(X), y)
        if half_reg:
            loss = loss + half_reg * sum((w * w).sum() for w in weights)
        loss.backward()
        return loss.item()

    return model, linears, step


def torch_flat_grad(problem: Any, linears: list[Any]) -> np.ndarray:
    """The torch gradients in optbench's flat layout (W as (fan_in, fan_out), then b)."""
    g = np.empty(problem.dim)
    for blk in problem.layout:
        lin = linears[blk.layer]
        if blk.name == "W":
            part = lin.weight.grad.detach().double().numpy().T
        elif blk.name == "b":
            part = lin.bias.grad.detach().double().numpy()
        else:  # pragma: no cover - no batch norm here
            raise AssertionError(f"unexpected block {blk.name}")
        g[blk.start:blk.stop] = part.reshape(-1)
    return g


# Correctness -----------------------------------------------------------------------


def compare(problem: Any, oracle: Any, x: np.ndarray, step: Callable[[], float],
            linears: list[Any]) -> tuple[float, float, list[tuple[str, float]]]:
    """Relative loss difference, normwise gradient difference and per-block ones."""
    f_o = oracle.loss(x)
    g_o = oracle.grad(x)
    f_t = step()
    g_t = torch_flat_grad(problem, linears)
    loss_rel = abs(f_t - f_o) / abs(f_o)
    grad_rel = float(np.max(np.abs(g_t - g_o)) / np.max(np.abs(g_o)))
    blocks = []
    for blk in problem.layout:
        a, b = g_o[blk.start:blk.stop], g_t[blk.start:blk.stop]
        scale = np.max(np.abs(a))
        blocks.append((f"layer{blk.layer}.{blk.name}{blk.shape}",
                       float(np.max(np.abs(a - b)) / scale) if scale else float(np.max(np.abs(b)))))
    return loss_rel, grad_rel, blocks


# Timing ----------------------------------------------------------------------------


def interleaved(fa: Callable[[], Any], fb: Callable[[], Any], repeats: int,
                warmup: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-call times in microseconds of ``fa`` and ``fb``, alternating which goes first."""
    clock = time.perf_counter_ns
    for _ in range(warmup):
        fa()
        fb()
    ta = np.empty(repeats)
    tb = np.empty(repeats)
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(repeats):
            if r % 2 == 0:
                t0 = clock(); fa(); t1 = clock(); fb(); t2 = clock()  # noqa: E702
                ta[r], tb[r] = t1 - t0, t2 - t1
            else:
                t0 = clock(); fb(); t1 = clock(); fa(); t2 = clock()  # noqa: E702
                tb[r], ta[r] = t1 - t0, t2 - t1
    finally:
        if gc_was_enabled:
            gc.enable()
    return ta / 1e3, tb / 1e3


def summary(t: np.ndarray) -> tuple[float, float, float, float]:
    q25, med, q75 = np.percentile(t, [25, 50, 75])
    return float(med), float(q25), float(q75), float(t.min())


def matmul_flops(widths: list[int], n: int) -> int:
    """Multiply-adds x 2 of the dense products: forward, dW for all, dA for layers > 0."""
    prods = [a * b for a, b in zip(widths[:-1], widths[1:])]
    return 2 * n * (2 * sum(prods) + sum(prods[1:]))


# Reporting -------------------------------------------------------------------------


def cpu_name() -> str:
    """The CPU model, as optbench records it with every run."""
    from optbench.environment import environment

    return str(environment()["cpu"])


def torch_blas(torch: Any) -> str:
    """What torch's build says about its BLAS (MKL is linked statically, so threadpoolctl
    does not list it)."""
    config = torch.__config__.show()
    blas = next((tok.split("=", 1)[1].rstrip(",") for tok in config.split()
                 if tok.startswith("BLAS_INFO=")), "unknown")
    mkl_line = next((ln.strip(" -") for ln in config.splitlines() if "Math Kernel" in ln), "")
    cap = next((ln.strip(" -") for ln in config.splitlines() if "CPU capability" in ln), "")
    return f"BLAS_INFO={blas}; {mkl_line}; {cap}".strip("; ")


def print_threadpools(label: str) -> None:
    print(f"threadpoolctl.threadpool_info() {label}:")
    for info in threadpool_info():
        keys = ("user_api", "internal_api", "prefix", "version", "num_threads",
                "threading_layer", "architecture")
        fields = ", ".join(f"{k}={info[k]}" for k in keys if info.get(k) is not None)
        print(f"  {fields}\n    {info.get('filepath')}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import torch  # not an optbench dependency: the comparison only
    except ImportError as exc:
        print(f"mlp_vs_torch: PyTorch is not installed ({exc}).\n"
              "This comparison needs it; it is not a dependency of optbench. "
              "Install it into this environment (e.g. `pip install torch`) and rerun.",
              file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    dtype = getattr(torch, args.dtype)

    problem, oracle, x, rows = build_problem(args.batch, args.reg, args.seed)
    n = len(rows)

    print("== optbench MLP forward+backward vs torch ==")
    print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
          f"{platform.machine()} {cpu_name()}, {os.cpu_count()} CPUs")
    env = ", ".join(f"{k}={os.environ[k]!r}" for k in ENV_VARS if k in os.environ)
    print(f"environment: {env or 'none of ' + ', '.join(ENV_VARS) + ' set'}")
    print(f"net: mlp dataset={DATASET!r} hidden={list(HIDDEN)} relu, widths={problem.widths}, "
          f"dim={problem.dim}, reg={problem.reg:g}, batch={n} rows (seed {args.seed})")
    print(f"torch: {torch_blas(torch)}")

    with threadpool_limits(limits=1):
        print_threadpools("inside threadpool_limits(1)")
        print(f"torch.get_num_threads()={torch.get_num_threads()}")

        # Correctness, float64 whatever --dtype says
        _, lin64, step64 = build_torch(torch, problem, x, rows, torch.float64)
        loss_rel, grad_rel, blocks = compare(problem, oracle, x, step64, lin64)
        print("\ncorrectness (float64, optbench vs torch at optbench's x0):")
        print(f"  loss: optbench {oracle.loss(x):.17g}, rel diff {loss_rel:.3e}")
        print(f"  grad: max|g_torch - g_optbench| / max|g_optbench| = {grad_rel:.3e}")
        for name, rel in blocks:
            print(f"    {name:<26s} {rel:.3e}")
        ok = loss_rel <= args.tol and grad_rel <= args.tol
        print(f"  {'PASS' if ok else 'FAIL'} (tolerance {args.tol:g} relative)")
        if not ok:
            print("mlp_vs_torch: optbench and torch disagree; timings not taken", file=sys.stderr)
            return 1

        if dtype is torch.float64:
            step = step64
        else:
            _, lin32, step = build_torch(torch, problem, x, rows, dtype)
            l32, g32, _ = compare(problem, oracle, x, step, lin32)
            print(f"  float32 torch vs float64 optbench (information): loss {l32:.2e}, "
                  f"grad {g32:.2e}")
            print("  NOTE: optbench has a float64 path only; the ratio below compares "
                  "float64 optbench with float32 torch, not the same work.")

        def optbench_step() -> np.ndarray:
            return oracle.grad(x)

        load0 = os.getloadavg()
        t0 = time.perf_counter()
        ta, tb = interleaved(optbench_step, step, args.repeats, args.warmup)
        wall = time.perf_counter() - t0
        load1 = os.getloadavg()

    flops = matmul_flops(problem.widths, n)
    print(f"\ntiming: {args.repeats} interleaved rounds after {args.warmup} warm-up rounds, "
          f"{wall:.1f} s; load average {load0[0]:.2f} -> {load1[0]:.2f}")
    print(f"  (dense products: {flops / 1e6:.1f} MFLOP per forward+backward)")
    print(f"  {'':34s} {'median':>9s} {'q25':>9s} {'q75':>9s} {'IQR':>8s} {'min':>9s} "
          f"{'GFLOP/s':>8s}")
    for label, t in (("(a) optbench oracle.grad  float64", ta),
                     (f"(b) torch fwd+bwd         {args.dtype}", tb)):
        med, q25, q75, low = summary(t)
        print(f"  {label:34s} {med:8.1f}us {q25:8.1f}us {q75:8.1f}us {q75 - q25:7.1f}us "
              f"{low:8.1f}us {flops / (med * 1e3):8.2f}")
    ma, mb = np.median(ta), np.median(tb)
    r = ta / tb
    rq25, rmed, rq75 = np.percentile(r, [25, 50, 75])
    print(f"  ratio optbench/torch: {ma / mb:.2f}x (of medians); per-round ratio median "
          f"{rmed:.2f}x, IQR [{rq25:.2f}, {rq75:.2f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
