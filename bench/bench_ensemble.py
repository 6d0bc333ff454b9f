"""Replicas against threads: what buys the flagship's error bar fastest; prints one JSON object.

    python bench/bench_ensemble.py [--duration "3 ns"] [--workers 1 2 4] [--replicas 4]

The flagship (scenarios/potassium.yaml) for ``--duration`` of simulated time:

- ``one_run_two_threads``: one run with NUMBA_NUM_THREADS=2 (``ionsim run``, a fresh
  process) against ``two_replicas_one_thread``: two replicas on a LocalCluster of two
  workers with one thread each (``ionsim run --replicas 2``); each with its wall time, the
  crossings after equilibration and the crossings per wall-second;
- ``workers``: ``--replicas`` replicas on LocalClusters of 1, 2 and 4 workers: wall time,
  pooled crossings, the pooled counting SE of V_m, (kT/e) sqrt(2/n) with n the crossings
  each way, and the figure of merit SE x sqrt(wall minutes) (smaller is better). Workers
  beyond the machine's cores are oversubscribed (``oversubscribed`` says so);
- ``per_replica``: crossings per wall-second of one replica on one core, and the estimate
  for a machine of 16 cores running 16 replicas (linear in the cores: independent
  processes; an estimate, not a measurement).

Wall times include each process's start-up and set-up (the Numba cache is warmed first).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _crossings_after_equilibration(run_dir: Path) -> int:
    from sim.io import RunData
    run = RunData(run_dir)
    t = run.crossings["time"]
    return int((t >= run.scenario.run.equilibration).sum())


def _counting_se_mV(n_crossings: int, temperature: float) -> float:
    """(kT/e) sqrt(2/n), n the K+ (z = 1) crossing each way (analysis.runs)."""
    from analysis.runs import counting_limit_mV
    return counting_limit_mV(temperature, n_crossings)


def _ionsim(args, threads: int) -> float:
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), CI="1")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sim", *args], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _rate(wall: float, crossings: int, simulated_ns: float) -> dict:
    """Crossings per wall-second (what the error bar needs; a count of a few is noisy) and
    simulated ns per wall-second (its expectation: crossings are proportional to it)."""
    return {"wall_s": wall, "crossings_after_equilibration": crossings,
            "crossings_per_wall_s": crossings / wall,
            "simulated_ns_per_wall_s": simulated_ns / wall}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", default="3 ns")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--replicas", type=int, default=4)
    a = p.parse_args(argv)
    from sim import library
    from sim.scenario import load_scenario
    from sim.units import PS_PER_NS, parse_quantity
    temperature = load_scenario(library.resolve("potassium")).temperature
    ns = parse_quantity(a.duration, "time") / PS_PER_NS
    cores = os.cpu_count() or 1
    out = {"scenario": "potassium", "duration": a.duration, "cores": cores}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _ionsim(["run", "potassium", "--steps", "200", "--out", str(tmp / "warm"),
                 "--quiet"], 1)  # the Numba cache, once
        one = tmp / "one"
        wall = _ionsim(["run", "potassium", "--duration", a.duration, "--out", str(one),
                        "--quiet"], 2)
        out["one_run_two_threads"] = _rate(wall, _crossings_after_equilibration(one), ns)
        two = tmp / "two"
        wall = _ionsim(["run", "potassium", "--duration", a.duration, "--replicas", "2",
                        "--workers", "2", "--out", str(two), "--quiet"], 1)
        n = sum(_crossings_after_equilibration(d) for d in two.glob("p*-r*"))
        out["two_replicas_one_thread"] = _rate(wall, n, 2 * ns)
        out["replicas_over_threads_simulated_ns"] = (
            out["two_replicas_one_thread"]["simulated_ns_per_wall_s"]
            / out["one_run_two_threads"]["simulated_ns_per_wall_s"])
        rows = []
        for w in a.workers:
            d = tmp / f"w{w}"
            wall = _ionsim(["run", "potassium", "--duration", a.duration, "--replicas",
                            str(a.replicas), "--workers", str(w), "--out", str(d),
                            "--quiet"], 1)
            n = sum(_crossings_after_equilibration(r) for r in d.glob("p*-r*"))
            se = _counting_se_mV(n, temperature)
            rows.append({"workers": w, "replicas": a.replicas, "oversubscribed": w > cores,
                         "wall_s": wall, "simulated_ns_per_wall_s": a.replicas * ns / wall,
                         "crossings_after_equilibration": n,
                         "pooled_counting_se_mV": se,
                         "se_x_sqrt_wall_min": se * math.sqrt(wall / 60.0)})
        out["workers"] = rows
        single = next((r for r in rows if r["workers"] == 1), None)
        if single is not None:
            per = single["crossings_after_equilibration"] / single["wall_s"]
            out["per_replica"] = {
                "crossings_per_wall_s_one_core": per,
                "simulated_ns_per_wall_s_one_core": single["simulated_ns_per_wall_s"],
                "estimate_16_cores_simulated_ns_per_wall_s":
                    16 * single["simulated_ns_per_wall_s"],
                "estimate_16_cores_crossings_per_wall_s": 16 * per,
                "estimate_16_cores_se_mV_per_wall_minute": _counting_se_mV(
                    16 * per * 60.0, temperature),
                "note": "an estimate: 16 independent replicas, one per core, assumed to "
                        "run at the one-core rate measured here"}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
