"""benchmarks/README.md's tables are generated from benchmarks/results/*.json.

After rerunning a benchmark, run ``python benchmarks/render_readme.py``; this
test fails while the README shows figures the JSON files no longer hold.
"""

import subprocess
import sys
from pathlib import Path

from tests._paths import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "render_readme.py"


def _module():
    return load_script(SCRIPT, "render_readme")


def test_readme_tables_match_results():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr


def test_check_catches_a_stale_table(tmp_path):
    render = _module()
    text = render.README.read_text()
    assert "<!-- table:fit_speed_cpu -->" in text
    stale = tmp_path / "README.md"
    stale.write_text(
        text.replace("<!-- table:fit_speed_cpu -->\n", "<!-- table:fit_speed_cpu -->\n9x\n", 1)
    )
    assert render.main(["--check", "--readme", str(stale)]) == 1
    assert render.main(["--readme", str(stale)]) == 0  # rewrites it
    assert stale.read_text() == text
    assert render.main(["--check", "--readme", str(stale)]) == 0


def test_every_table_has_a_marker_and_no_marker_is_unknown():
    render = _module()
    names = {m["name"] for m in render.MARKER.finditer(render.README.read_text())}
    assert names == set(render.TABLES)
