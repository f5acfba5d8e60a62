"""benchmarks/scale.py: the offsets' form it is asked for reaches the model of each child run."""

import argparse
import json
import subprocess
from pathlib import Path

import pytest

from mmm_jax.models import GeoPooling
from tests._paths import load_script

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scale():
    return load_script(ROOT / "benchmarks" / "scale.py", "bench_scale")


def test_centring_choices_map_to_geo_pooling(scale):
    assert scale._centred("default") is GeoPooling().centred
    assert scale._centred("auto") is None
    assert scale._centred("centred") is True and scale._centred("noncentred") is False
    assert set(scale.CENTRING) == {"default", "auto", "centred", "noncentred"}


def test_child_runs_with_the_centring_asked_for(scale, monkeypatch):
    seen = {}

    def fake_run(cmd, **kwargs):
        seen["cmd"] = cmd
        return subprocess.CompletedProcess(cmd, 0, stdout=json.dumps({"G": 5}) + "\n", stderr="")

    monkeypatch.setattr(scale.subprocess, "run", fake_run)
    args = argparse.Namespace(
        chains=2, warmup=10, draws=10, svi_steps=5, seed=1, guide="auto_normal",
        benchdata="x", centring="noncentred", chain_method=None, shard=False,
    )  # fmt: skip
    assert scale._child(args, 5, "nuts", timeout=10) == {"G": 5}
    cmd = seen["cmd"]
    assert cmd[cmd.index("--centring") + 1] == "noncentred"
    assert cmd[cmd.index("--one") + 1] == "5"
