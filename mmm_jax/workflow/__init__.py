"""The library's workflow: fit, analyse, decide, report, in a run folder or in memory.

What ``mmm-jax``, the demo, the experiments and the notebook call. Each step
is a plain function over library objects; the ``*_run`` variants read and
write a `mmm_jax.run_folder.RunFolder` (atomic, locked, checked to hold one
fit's files)::

    data = load_csv("data.csv", controls=("organic_traffic",))
    fitted = fit(data, ModelConfig(), method="svi", seed=0)
    analysis = analyse(fitted)                      # the numbers, computed once
    plan = allocate(analysis, bounds=(0.5, 2.0))    # alloc.json
    what_if = simulate(analysis, plan)              # revenue of any allocation

    with RunFolder("runs/x").replace() as stage:    # the same, as a run folder
        summary = fit_run(stage, data, method="svi", holdout=0.1)
    optimize_run("runs/x")
    report_run("runs/x")
"""

from mmm_jax.workflow.decisions import allocate, optimize_run, simulate, simulate_run
from mmm_jax.workflow.fitting import fit, fit_run
from mmm_jax.workflow.reporting import report_run

__all__ = ["allocate", "fit", "fit_run", "optimize_run", "report_run", "simulate", "simulate_run"]
