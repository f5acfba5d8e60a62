"""Calibration sits below the model: it reads and validates lift tests and never imports models.

`mmm_jax.models` imports `mmm_jax.calibration` (the lift term takes `LiftTests`),
so an import the other way, even one inside a function, would be a cycle.
"""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "mmm_jax"


def _imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` statement anywhere in ``path`` names (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_calibration_module_imports_models_even_inside_a_function():
    files = sorted((PACKAGE / "calibration").glob("*.py"))
    assert files
    offending = {
        f.name: sorted(m for m in _imported_modules(f) if m.startswith("mmm_jax.models"))
        for f in files
    }
    assert not any(offending.values()), offending


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    # The AST walk must find what the earlier lift.py did: an import in a method body.
    f = tmp_path / "m.py"
    f.write_text("def g():\n    from mmm_jax.models.config import MediaPriors\n")
    assert "mmm_jax.models.config" in _imported_modules(f)


def test_importing_calibration_loads_only_the_data_layer():
    # What `import mmm_jax` loads (its public re-exports) is not calibration's doing.
    code = (
        "import sys, mmm_jax\n"
        "before = set(sys.modules)\n"
        "import mmm_jax.calibration\n"
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    added = {m for m in out.stdout.split() if m.split(".")[0] == "mmm_jax"}
    allowed = ("mmm_jax.calibration", "mmm_jax.data", "mmm_jax._dists")
    assert not sorted(m for m in added if not m.startswith(allowed)), added
