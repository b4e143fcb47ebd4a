"""Where the hand-written NumPyro model's time goes: warm-up against sampling leapfrog steps.

``backends.py``'s ``numpyro_hand`` rows take minutes on (a)-(c) while a single log density + gradient of
the same JAX model costs about as much as glmm_bayes' (0.2-0.3 ms on (a)). This script splits a
``numpyro_hand`` run (4 chains, sequential, float64, the same model via ``backends.hand_model``) into
NumPyro's warm-up (Stan's windowed adaptation, ``collect_warmup=True``) and its sampling, and prints
the leapfrog steps and seconds of each, next to the cost of one jitted value-and-gradient call::

    .venv/bin/python benchmarks/numpyro_warmup.py              # model (a), 500 + 500 per chain
    .venv/bin/python benchmarks/numpyro_warmup.py --model c --draws 2000

The two phases run as two ``MCMC`` calls (``warmup`` then ``run``), so each jit-compiles its own kernel:
the seconds include one compile each (``backends.py`` compiles once).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import backends  # noqa: E402


def gradient_ms(model, y, calls: int = 300) -> float:
    """Milliseconds per jitted value-and-gradient of the model's potential energy (called from Python)."""
    import jax
    from numpyro.infer.util import initialize_model

    info = initialize_model(jax.random.PRNGKey(0), model, model_kwargs={"y": y})
    value_and_grad = jax.jit(jax.value_and_grad(info.potential_fn))
    point = info.param_info.z
    jax.block_until_ready(value_and_grad(point))
    start = time.perf_counter()
    for _ in range(calls):
        out = value_and_grad(point)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / calls * 1e3


def phases(model, y, draws: int, tune: int) -> dict:
    """Seconds and leapfrog steps of NumPyro's warm-up and of its sampling, 4 chains in sequence."""
    import jax
    import numpy as np
    from numpyro.infer import MCMC, NUTS

    mcmc = MCMC(NUTS(model, target_accept_prob=0.8), num_warmup=tune, num_samples=draws,
                num_chains=backends.CHAINS, chain_method="sequential", progress_bar=False)
    start = time.perf_counter()
    mcmc.warmup(jax.random.PRNGKey(backends.SEED), y=y, collect_warmup=True, extra_fields=("num_steps",))
    jax.block_until_ready(mcmc.post_warmup_state)
    warmup_s = time.perf_counter() - start
    warmup_steps = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["num_steps"], dtype=float)
    start = time.perf_counter()
    mcmc.run(mcmc.post_warmup_state.rng_key, y=y, extra_fields=("num_steps",))
    jax.block_until_ready(mcmc.get_samples())
    sampling_s = time.perf_counter() - start
    steps = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["num_steps"], dtype=float)
    return {"warmup_s": warmup_s, "warmup_steps": warmup_steps.sum(), "warmup_steps_per_iter": warmup_steps.mean(),
            "sampling_s": sampling_s, "sampling_steps": steps.sum(), "sampling_steps_per_draw": steps.mean()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="a", choices=sorted(backends.MODELS))
    p.add_argument("--draws", type=int, default=backends.START_DRAWS)
    p.add_argument("--tune", type=int, default=backends.MIN_TUNE)
    args = p.parse_args(argv)
    spec = backends.MODELS[args.model]
    model, y = backends.hand_model(spec, backends.hand_inputs(spec, spec["load"]()))
    grad_ms = gradient_ms(model, y)
    r = phases(model, y, args.draws, args.tune)
    total_steps = r["warmup_steps"] + r["sampling_steps"]
    print(f"({args.model}) {spec['name']}: {backends.CHAINS} chains x ({args.tune} warm-up + {args.draws} draws), "
          f"sequential, float64")
    print(f"  one value+gradient call: {grad_ms:.3f} ms")
    print(f"  warm-up : {r['warmup_s']:7.1f} s, {r['warmup_steps']:9.0f} leapfrog steps "
          f"({r['warmup_steps_per_iter']:.1f} per iteration; {r['warmup_steps'] / total_steps:.0%} of all steps)")
    print(f"  sampling: {r['sampling_s']:7.1f} s, {r['sampling_steps']:9.0f} leapfrog steps "
          f"({r['sampling_steps_per_draw']:.1f} per draw)")
    print(f"  seconds per leapfrog step, both phases: "
          f"{(r['warmup_s'] + r['sampling_s']) / total_steps * 1e3:.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
