"""Where the tests find data outside the package: one definition for every test module.

``BENCHDATA`` is ``../shared/benchdata`` beside the checkout (datasets with known
truth and their generator), or ``$MMM_BENCHDATA``; tests that need it skip when it
is absent (a bare clone).
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHDATA = Path(os.environ.get("MMM_BENCHDATA", ROOT.parent / "shared" / "benchdata"))
