"""The heartbeat: a line every interval on a stream that is not a terminal, nothing on one that is."""

import io
import re
import time

import pytest

from mmm_jax import cli
from mmm_jax._heartbeat import Heartbeat
from mmm_jax.run_folder import RunFolder
from tests._paths import TINY_RUN as RUN


class _Tty(io.StringIO):
    def isatty(self):
        return True


class _Clock:
    """Each reading is 15 s after the previous one."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        self.t += 15.0
        return self.t


def _wait_for_lines(stream, n, timeout=5.0):
    deadline = time.monotonic() + timeout
    while stream.getvalue().count("\n") < n and time.monotonic() < deadline:
        time.sleep(0.005)


def test_beats_on_a_log_with_the_elapsed_time_and_the_current_phase():
    log = io.StringIO()
    with Heartbeat("fit: nuts", stream=log, every=0.01, clock=_Clock()) as beat:
        assert beat.running
        _wait_for_lines(log, 2)
        beat.phase("fit: hold-out refit")
        _wait_for_lines(log, 4)
    assert not beat.running
    lines = log.getvalue().splitlines()
    assert lines[0] == "fit: nuts, 15 s" and lines[1] == "fit: nuts, 30 s"
    assert lines[-1].startswith("fit: hold-out refit, ")
    assert all(re.fullmatch(r"fit: (nuts|hold-out refit), \d+ s", line) for line in lines)
    n = len(lines)
    time.sleep(0.05)
    assert len(log.getvalue().splitlines()) == n  # stopped with the block


def test_silent_at_a_terminal_and_when_disabled():
    tty = _Tty()
    with Heartbeat("fit", stream=tty, every=0.01) as beat:
        time.sleep(0.05)
        assert not beat.running
    assert tty.getvalue() == ""
    log = io.StringIO()
    with Heartbeat("fit", stream=log, every=0.01, enabled=False):
        time.sleep(0.05)
    assert log.getvalue() == ""
    with pytest.raises(ValueError, match="every must be positive"):
        Heartbeat("fit", every=0)


def test_mmm_jax_fit_beats_on_stderr_unless_quiet(monkeypatch, capsys, tmp_path):
    """``mmm-jax fit`` with a stand-in fit that takes 0.3 s and a 0.05 s heartbeat."""
    saved = RunFolder(RUN).load()

    def fit_into(stage, args):
        time.sleep(0.3)
        stage.save_fit(saved.fit)
        return stage.write_summary(saved.summary) and saved.summary

    monkeypatch.setattr(cli, "_fit_into", fit_into)
    monkeypatch.setattr(cli, "HEARTBEAT_S", 0.05)
    argv = ["fit", "data.csv", "--out", str(tmp_path / "run"), "--chains", "2", "--warmup", "30"]
    assert cli.main([*argv, "--draws", "30"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) >= 2
    assert all(
        re.fullmatch(r"fit: nuts, 2 chains x \(30 warmup \+ 30 draws\), \d+ s", e) for e in err
    )
    assert cli.main([*argv, "--draws", "30", "--quiet", "--method", "svi"]) == 0
    assert capsys.readouterr().err == ""
