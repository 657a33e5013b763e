"""PyTorch CPU peer of the benchmark suite.

It runs the suite's shared cases (matmul, conv2d forward/backward, GroupNorm, the attention
core, the unet28 U-Net and the toy MLP; see bench/README.md) in plain PyTorch on the CPU, so
our backends can be compared against a mature native implementation. The networks mirror
nn/unet.ts and nn/mlp.ts layer for layer; the printed `unet28_params` must equal our
`unetParamCount` for the same configuration.

The suite (bench/peers/run_peers.ts) runs it as a subprocess with the system interpreter,
where Debian's python3-torch lives, and reads one JSON object from stdout:

    /usr/bin/python3 bench/peers/torch_peer.py [--cases a,b,...] [--reps N] [--threads T]

    -> {"peer": "pytorch-cpu", "torch": "1.13.1", "threads": 2, "unet28_params": n,
        "results": [{"name", "backend": "pytorch-cpu", "ms_median", "ms_min", "ms_max"}]}

Progress goes to stderr. Without an importable torch it prints
{"peer": "pytorch-cpu", "skipped": reason, "results": []} and exits with status 0, so a
missing peer never fails the suite.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

ALL_CASES = [
    "matmul.256",
    "matmul.512",
    "matmul.1024",
    "conv2d.3x3.64x64.28.b64.fwd",
    "conv2d.3x3.64x64.28.b64.bwd",
    "groupnorm",
    "attention.7x7",
    "unet28.forward",
    "unet28.train_step",
    "unet28.divergence",
    "mlp.train_step.b1024",
    "eval_nll.toy",
]

WARMUP = 2
BACKEND = "pytorch-cpu"

# unet28 as the suite benchmarks it (train/presets.ts's UNET28 with dropout 0).
UNET28 = dict(channels=1, resolution=28, base=32, mults=[1, 2, 2], res_blocks=1,
              attn_resolutions=[7], groups=8, time_features=64)
GROUP_NORM_EPS = 1e-6  # score_sde's GroupNorm eps, also nn/group_norm.ts's


def linked_blas(torch):
    """The BLAS library this process loaded (Debian's torch calls whichever libblas.so.3 the
    system's alternatives select: the netlib reference is ~20x slower than OpenBLAS)."""
    torch.ones(8, 8) @ torch.ones(8, 8)  # make sure the library is loaded
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.lower()}
    except OSError:
        return "unknown"
    return ", ".join(sorted(p for p in paths if p.startswith("/"))) or "unknown"


def log(msg):
    print(f"[torch-peer] {msg}", file=sys.stderr, flush=True)


def parse_args(argv):
    ap = argparse.ArgumentParser(description="PyTorch CPU peer of the benchmark suite")
    ap.add_argument("--cases", default=",".join(ALL_CASES),
                    help="comma-separated case names (default: all)")
    ap.add_argument("--reps", type=int, default=5, help="timed runs per case (default 5)")
    ap.add_argument("--steps-per-read", type=json.loads, default={},
                    help='JSON {case: training steps per timed run}, times per step (run_peers.ts '
                         'passes bench/steps_per_read.ts; default 1)')
    ap.add_argument("--nll-fixture", default=None,
                    help="eval_nll.toy's problem as JSON (bench/models.ts nllToyFixture)")
    ap.add_argument("--threads", type=int, default=None,
                    help="intra-op threads (default: every core this process may use)")
    args = ap.parse_args(argv)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in args.cases if c not in ALL_CASES]
    if unknown:
        ap.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(ALL_CASES)}")
    if args.reps < 1:
        ap.error("--reps must be a positive integer")
    if "eval_nll.toy" in args.cases and args.nll_fixture is None:
        ap.error("eval_nll.toy needs --nll-fixture (bench/main.ts writes one)")
    if args.threads is not None and args.threads < 1:
        ap.error("--threads must be a positive integer")
    return args


# ---------------------------------------------------------------------------------------------
# The networks. Defined inside a function because they subclass torch.nn.Module and torch is
# imported only once we know it is there (a missing torch must still give the "skipped" JSON).


def define_networks(torch):
    nn, F = torch.nn, torch.nn.functional

    def sinusoidal(t, features, scale=1000.0):
        """[sin(s*w_j), cos(s*w_j)], s = scale*t, w_j = 10000^(-j/half): nn/time_embedding.ts."""
        half = features // 2
        j = torch.arange(half, dtype=torch.float32)
        omega = scale * torch.exp(-math.log(10000.0) * j / half)
        arg = t.reshape(-1, 1) * omega.reshape(1, half)
        return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)

    def conv3(in_c, out_c, stride=1):
        return nn.Conv2d(in_c, out_c, 3, stride=stride, padding=1)

    class ResBlock(nn.Module):
        """DDPM++ residual block (nn/res_block.ts): GN, SiLU, conv, + Dense(SiLU(temb)) per
        channel, GN, SiLU, conv; 1x1 skip only when the width changes; sum scaled by 1/sqrt 2."""

        def __init__(self, in_c, out_c, temb_dim, groups):
            super().__init__()
            self.norm0 = nn.GroupNorm(groups, in_c, eps=GROUP_NORM_EPS)
            self.conv0 = conv3(in_c, out_c)
            self.temb = nn.Linear(temb_dim, out_c)
            self.norm1 = nn.GroupNorm(groups, out_c, eps=GROUP_NORM_EPS)
            # dropout is 0 in every benchmark case, so there is no dropout layer at all
            self.conv1 = conv3(out_c, out_c)
            self.skip = nn.Conv2d(in_c, out_c, 1) if in_c != out_c else None

        def forward(self, x, temb_act):
            h = self.conv0(F.silu(self.norm0(x)))
            h = h + self.temb(temb_act)[:, :, None, None]
            h = self.conv1(F.silu(self.norm1(h)))
            skip = self.skip(x) if self.skip is not None else x
            return (skip + h) * math.sqrt(0.5)

    class AttnBlock(nn.Module):
        """Single-head self-attention over the H*W positions (nn/attention_block.ts): GN, then
        per-position dense q, k, v, softmax(q k^T / sqrt C) v, dense out; (x + h)/sqrt 2."""

        def __init__(self, ch, groups):
            super().__init__()
            self.norm = nn.GroupNorm(groups, ch, eps=GROUP_NORM_EPS)
            self.q, self.k, self.v, self.out = (nn.Linear(ch, ch) for _ in range(4))

        def forward(self, x):
            n, c, hh, ww = x.shape
            # positions-by-channels layout, as ours: the 1x1 projections become matmuls
            rows = self.norm(x).permute(0, 2, 3, 1).reshape(n, hh * ww, c)
            a = attention_core(self.q(rows), self.k(rows), self.v(rows))
            h = self.out(a).reshape(n, hh, ww, c).permute(0, 3, 1, 2)
            return (x + h) * math.sqrt(0.5)

    class Unet(nn.Module):
        """The DDPM++ U-Net of nn/unet.ts, built from the same plan as nn/unet_config.ts."""

        def __init__(self, channels, resolution, base, mults, res_blocks, attn_resolutions,
                     groups, time_features):
            super().__init__()
            self.time_features = time_features
            temb_dim = 4 * base
            self.time0 = nn.Linear(time_features, temb_dim)
            self.time1 = nn.Linear(temb_dim, temb_dim)
            self.input = conv3(channels, base)
            last = len(mults) - 1
            stored = [base]  # widths of the activations the up path will concatenate
            ch = base
            self.down = nn.ModuleList()
            for i, m in enumerate(mults):
                width, level = base * m, nn.Module()
                attn = resolution // 2 ** i in attn_resolutions
                level.blocks, level.attention = nn.ModuleList(), nn.ModuleList()
                for _ in range(res_blocks):
                    level.blocks.append(ResBlock(ch, width, temb_dim, groups))
                    if attn:  # one attention after every down block at this resolution
                        level.attention.append(AttnBlock(width, groups))
                    ch = width
                    stored.append(ch)
                # learnable stride-2 downsampling (DDPM++'s resamp_with_conv)
                level.downsample = conv3(width, width, stride=2) if i < last else None
                if i < last:
                    stored.append(ch)
                self.down.append(level)
            self.mid0 = ResBlock(ch, ch, temb_dim, groups)
            self.mid_attn = AttnBlock(ch, groups)
            self.mid1 = ResBlock(ch, ch, temb_dim, groups)
            ups = []
            for i in range(last, -1, -1):
                width, level = base * mults[i], nn.Module()
                level.blocks = nn.ModuleList()
                for _ in range(res_blocks + 1):
                    level.blocks.append(ResBlock(ch + stored.pop(), width, temb_dim, groups))
                    ch = width
                # a single attention after the level's up blocks (score_sde's placement)
                attn = resolution // 2 ** i in attn_resolutions
                level.attention = AttnBlock(width, groups) if attn else None
                level.upsample = conv3(width, width) if i > 0 else None
                ups.append(level)
            # stored in level order so up[i] serves level i, as in ours
            self.up = nn.ModuleList(reversed(ups))
            self.out_norm = nn.GroupNorm(groups, ch, eps=GROUP_NORM_EPS)
            self.output = conv3(ch, channels)

        def forward(self, x, t):
            temb = self.time1(F.silu(self.time0(sinusoidal(t, self.time_features))))
            act = F.silu(temb)  # every block applies the same SiLU: compute it once
            h = self.input(x)
            stored = [h]
            for level in self.down:
                for j, block in enumerate(level.blocks):
                    h = block(h, act)
                    if len(level.attention) > 0:
                        h = level.attention[j](h)
                    stored.append(h)
                if level.downsample is not None:
                    h = level.downsample(h)
                    stored.append(h)
            h = self.mid1(self.mid_attn(self.mid0(h, act)), act)
            for level in reversed(self.up):
                for block in level.blocks:
                    h = block(torch.cat([h, stored.pop()], dim=1), act)
                if level.attention is not None:
                    h = level.attention(h)
                if level.upsample is not None:
                    h = level.upsample(F.interpolate(h, scale_factor=2, mode="nearest"))
            return self.output(F.silu(self.out_norm(h)))

    class Mlp(nn.Module):
        """The toy MLP of nn/mlp.ts: [x, sinusoidal(t, 32)] -> 3 x (Linear, SiLU) -> Linear."""

        def __init__(self, dim=2, hidden=128, layers=3, time_features=32):
            super().__init__()
            self.time_features = time_features
            widths = [dim + time_features] + [hidden] * layers + [dim]
            self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))

        def forward(self, x, t):
            h = torch.cat([x, sinusoidal(t, self.time_features)], dim=1)
            for i, layer in enumerate(self.layers):
                h = layer(h)
                if i < len(self.layers) - 1:
                    h = F.silu(h)
            return h

    def attention_core(q, k, v):
        """softmax(q k^T / sqrt d) v over [batch, tokens, d]; torch 1.13 has no fused SDPA."""
        scores = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(q.shape[-1])
        return torch.bmm(torch.softmax(scores, dim=-1), v)

    return Unet, Mlp, attention_core


# ---------------------------------------------------------------------------------------------
# eval_nll.toy: score_sde's likelihood path (its likelihood.py): the network in PyTorch, the
# PF-ODE and the running divergence integrated by scipy's RK45 on the flattened batch, every
# evaluation crossing between NumPy and PyTorch. The divergence is exact (one autograd pass per
# dimension) as in our case.


def nll_toy_case(torch, Mlp, fixture):
    """Returns (run, report): run() solves once; report() gives its NFE and mean log p."""
    import numpy as np
    from scipy.integrate import solve_ivp

    dim, n_layers = fixture["dim"], len(fixture["layers"])
    net = Mlp(dim=dim, hidden=fixture["layers"][0]["out"], layers=n_layers - 1,
              time_features=fixture["time_features"])
    with torch.no_grad():
        for layer, spec in zip(net.layers, fixture["layers"]):
            w = torch.tensor(spec["w"], dtype=torch.float32).reshape(spec["in"], spec["out"])
            layer.weight.copy_(w.t())
            layer.bias.copy_(torch.tensor(spec["b"], dtype=torch.float32))
    net.eval()
    x0 = np.asarray(fixture["points"], dtype=np.float64).reshape(-1, dim)
    n = x0.shape[0]
    b0, b1 = fixture["beta0"], fixture["beta1"]
    state = {"nfe": 0, "mean_logp": float("nan")}

    def ode(t, y):
        state["nfe"] += 1
        x = torch.tensor(y[: n * dim].reshape(n, dim), dtype=torch.float32, requires_grad=True)
        beta = b0 + t * (b1 - b0)
        std = math.sqrt(1.0 - math.exp(-(b0 * t + 0.5 * (b1 - b0) * t * t)))
        eps = net(x, torch.full((n,), t, dtype=torch.float32))
        drift = -0.5 * beta * x + 0.5 * beta * eps / std  # f - g^2/2 * score, score = -eps/std
        div = torch.zeros(n)
        for i in range(dim):
            (gi,) = torch.autograd.grad(drift[:, i].sum(), x, retain_graph=i < dim - 1)
            div += gi[:, i]
        return np.concatenate([drift.detach().numpy().ravel(), div.numpy()]).astype(np.float64)

    def run():
        state["nfe"] = 0
        sol = solve_ivp(ode, (fixture["t_min"], fixture["t_max"]),
                        np.concatenate([x0.ravel(), np.zeros(n)]),
                        rtol=fixture["rtol"], atol=fixture["atol"], method="RK45")
        end = sol.y[:, -1]
        xt, delta = end[: n * dim].reshape(n, dim), end[n * dim:]
        prior = -0.5 * dim * math.log(2 * math.pi) - 0.5 * (xt ** 2).sum(axis=1)
        state["mean_logp"] = float((prior + delta).mean())

    return run, lambda: {"note": f"examples/s; NFE {state['nfe']}; "
                                 f"mean log p {state['mean_logp']:.4f}; scipy RK45",
                         "examples": n}


# ---------------------------------------------------------------------------------------------
# Timing


def time_case(run, reps):
    """Median/min/max ms of `run` after WARMUP untimed calls. CPU ops are synchronous, but each
    run still ends on reading one scalar of its result, as the spec asks of every peer."""
    for _ in range(WARMUP):
        run()
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        ms.append((time.perf_counter() - t0) * 1000.0)
    return {"ms_median": statistics.median(ms), "ms_min": min(ms), "ms_max": max(ms)}


def read_scalar(*tensors):
    """Touch one element of every tensor: the readback that marks a run as finished."""
    return sum(float(t.reshape(-1)[0]) for t in tensors)


# ---------------------------------------------------------------------------------------------
# Cases: each builder returns a closure doing one timed run.


def build_cases(torch, Unet, Mlp, attention_core, steps_per_read):
    F = torch.nn.functional
    B = 64

    def matmul(n):
        a, b = torch.randn(n, n), torch.randn(n, n)

        def run():
            with torch.no_grad():
                read_scalar(a @ b)
        return run

    def conv_fwd():
        x, w = torch.randn(64, 64, 28, 28), torch.randn(64, 64, 3, 3)

        def run():
            with torch.no_grad():
                read_scalar(F.conv2d(x, w, padding=1))
        return run

    def conv_bwd():
        # forward is recomputed inside each run, as in ours (bench/kernels.ts)
        x = torch.randn(64, 64, 28, 28, requires_grad=True)
        w = torch.randn(64, 64, 3, 3, requires_grad=True)
        g = torch.randn(64, 64, 28, 28)

        def run():
            loss = (F.conv2d(x, w, padding=1) * g).sum()
            read_scalar(*torch.autograd.grad(loss, [x, w]))
        return run

    def groupnorm():
        x = torch.randn(64, 64, 28, 28, requires_grad=True)
        gamma = torch.randn(64, requires_grad=True)
        beta = torch.randn(64, requires_grad=True)
        g = torch.randn(64, 64, 28, 28)

        def run():
            loss = (F.group_norm(x, 8, gamma, beta, GROUP_NORM_EPS) * g).sum()
            read_scalar(*torch.autograd.grad(loss, [x, gamma, beta]))
        return run

    def attention():
        q, k, v = (torch.randn(64, 49, 64, requires_grad=True) for _ in range(3))
        g = torch.randn(64, 49, 64)

        def run():
            loss = (attention_core(q, k, v) * g).sum()
            read_scalar(*torch.autograd.grad(loss, [q, k, v]))
        return run

    # one network and one input set shared by the three unet28 cases, built on first use
    unet_state = {}

    def unet_inputs():
        if not unet_state:
            unet_state.update(net=Unet(**UNET28), x=torch.randn(B, 1, 28, 28),
                              t=torch.rand(B), y=torch.randn(B, 1, 28, 28),
                              v=torch.randn(B, 1, 28, 28))
        return unet_state

    def set_trainable(net, flag):
        for p in net.parameters():
            p.requires_grad_(flag)

    def unet_forward():
        s = unet_inputs()

        def run():
            net = s["net"].eval()
            with torch.no_grad():
                read_scalar(net(s["x"], s["t"]))
        return run

    def train_step(net, x, t, y, steps):
        """mean((net(x, t) - y)^2), backward to every parameter, one Adam update; `steps` of them
        per run, reading the last loss."""
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)

        def run():
            net.train()  # no dropout in these networks; train() only for form
            set_trainable(net, True)
            for _ in range(steps):
                opt.zero_grad(set_to_none=True)
                loss = ((net(x, t) - y) ** 2).mean()
                loss.backward()
                opt.step()
            read_scalar(loss.detach())
        return run

    def unet_train_step():
        s = unet_inputs()
        return train_step(s["net"], s["x"], s["t"], s["y"], steps_per_read.get("unet28.train_step", 1))

    def unet_divergence():
        # one Hutchinson probe: the VJP v^T d(net)/dx, with no parameter gradients at all
        s = unet_inputs()
        x = s["x"].clone().requires_grad_(True)

        def run():
            net = s["net"].eval()
            set_trainable(net, False)
            (gx,) = torch.autograd.grad((net(x, s["t"]) * s["v"]).sum(), x)
            read_scalar(gx)
        return run

    def mlp_train_step():
        n = 1024
        return train_step(Mlp(), torch.randn(n, 2), torch.rand(n), torch.randn(n, 2),
                          steps_per_read.get("mlp.train_step.b1024", 1))

    builders = {
        "matmul.256": lambda: matmul(256),
        "matmul.512": lambda: matmul(512),
        "matmul.1024": lambda: matmul(1024),
        "conv2d.3x3.64x64.28.b64.fwd": conv_fwd,
        "conv2d.3x3.64x64.28.b64.bwd": conv_bwd,
        "groupnorm": groupnorm,
        "attention.7x7": attention,
        "unet28.forward": unet_forward,
        "unet28.train_step": unet_train_step,
        "unet28.divergence": unet_divergence,
        "mlp.train_step.b1024": mlp_train_step,
    }
    assert list(builders) + ["eval_nll.toy"] == ALL_CASES  # the likelihood case is built apart
    return builders


# ---------------------------------------------------------------------------------------------


def main(argv):
    args = parse_args(argv)
    try:
        import torch
    except Exception as e:  # ImportError, or a broken install failing while loading
        print(json.dumps({"peer": BACKEND, "skipped": f"torch not importable: {e}",
                          "results": []}))
        return 0

    # "All cores" by default, set explicitly: some builds (Debian's 1.13) start with one thread.
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    Unet, Mlp, attention_core = define_networks(torch)
    unet28_params = sum(p.numel() for p in Unet(**UNET28).parameters())
    blas = linked_blas(torch)
    log(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"unet28 {unet28_params} parameters, BLAS {blas}")
    if "openblas" not in blas and "mkl" not in blas:
        log("warning: reference BLAS; install libopenblas0-pthread for PyTorch's usual speed")

    builders = build_cases(torch, Unet, Mlp, attention_core, args.steps_per_read)
    results = []
    for name in args.cases:
        if name == "eval_nll.toy":
            with open(args.nll_fixture) as f:
                run, report = nll_toy_case(torch, Mlp, json.load(f))
            t0 = time.perf_counter()
            run()  # one solve, as ours (a solve takes seconds)
            ms = (time.perf_counter() - t0) * 1000.0
            extra = report()
            log(f"{name}: {ms:.0f} ms, {extra['note']}")
            results.append({"name": name, "backend": BACKEND, "ms_median": ms, "ms_min": ms,
                            "ms_max": ms, "note": extra["note"],
                            "examples_per_s": extra["examples"] / (ms / 1000.0)})
            continue
        steps = args.steps_per_read.get(name, 1)
        timing = {k: v / steps for k, v in time_case(builders[name](), args.reps).items()}
        log(f"{name}: median {timing['ms_median']:.2f} ms "
            f"(min {timing['ms_min']:.2f}, max {timing['ms_max']:.2f})")
        results.append({"name": name, "backend": BACKEND, **timing})

    print(json.dumps({"peer": BACKEND, "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "unet28_params": unet28_params,
                      "blas": blas,
                      "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
