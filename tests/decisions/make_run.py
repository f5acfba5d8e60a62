"""Makes ``unconverged_run/``: a real fit whose review FAILs convergence, checked in for tests.

NUTS with 2 chains of 30 warmup steps and 30 draws on 90 simulated daily
periods (`mmm_jax.synthetic.simulate`, seed 3, as ``tests/test_cli.py``):
far too short, so the review FAILs ``r_hat`` and ``ess_bulk`` and calls at
least one channel's ROAS not identified. The fit takes a minute on two
cores, too long for the default test suite, so the run folder (``fit.npz``
and ``summary.json``, 90 KB) is checked in and ``tests/decisions/`` runs
``optimize``, ``simulate`` and ``report`` on copies of it in seconds.

Regenerate when the fit file or ``summary.json`` format changes::

    .venv/bin/python -m tests.decisions.make_run
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from tests._paths import TINY_RUN as RUN


def main() -> int:
    """Fits and writes ``unconverged_run/`` (replacing it)."""
    import tests.conftest  # noqa: F401  (CPU, four devices: as under pytest)
    from mmm_jax.cli import main as cli
    from mmm_jax.synthetic import SimulationConfig, simulate

    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "data.csv"
        simulate(replace(SimulationConfig(), n_periods=90), seed=3).frame.to_csv(csv, index=False)
        out = Path(tmp) / "run"
        argv = ["fit", str(csv), "--out", str(out), "--method", "nuts", "--chains", "2"]
        argv += ["--warmup", "30", "--draws", "30", "--controls", "organic_traffic", "--quiet"]
        if cli(argv) != 0:
            raise RuntimeError("mmm-jax fit failed")
        shutil.rmtree(RUN, ignore_errors=True)
        RUN.mkdir()
        for name in ("fit.npz", "summary.json"):
            shutil.copy2(out / name, RUN / name)
    print(f"wrote {RUN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
