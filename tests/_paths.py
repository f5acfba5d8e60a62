"""Where the tests find data outside the package: one definition for every test module.

``TINY_RUN`` is the checked-in tiny posterior (the ``tiny_run`` fixture copies
it). ``BENCHDATA`` is ``../shared/benchdata`` beside the checkout (datasets with known
truth and their generator), or ``$MMM_BENCHDATA``; tests that need it skip when it
is absent (a bare clone).
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHDATA = Path(os.environ.get("MMM_BENCHDATA", ROOT.parent / "shared" / "benchdata"))

#: The checked-in tiny posterior: a real NUTS run folder (``tests/decisions/make_run.py``).
TINY_RUN = ROOT / "tests" / "decisions" / "unconverged_run"


def load_script(path: Path, name: str):
    """The module of a script outside the package (a benchmark, an experiment), freshly run.

    Registered in ``sys.modules`` under ``name`` first, as dataclasses defined in
    it look their module up there.
    """
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
