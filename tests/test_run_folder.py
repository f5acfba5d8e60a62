"""Run folders under fault injection: kills at every write phase, a full disk, two writers.

Two small complete runs, A (with a hold-out refit) and B (other data), are
written once per module through `RunFolder` from random draws (no fitting).
Each fault test copies A to ``run``, lets a separate Python process (which
never imports JAX) write B or a file into it, and stops or kills that process
at a named phase through `mmm_jax._atomic.set_fault_hook`. It then asserts
that a reader finds one complete run, byte for byte A or B, that checks out
as a pair of fit and summary, and that the next writer is not locked out and
leaves no stage, backup, temporary file or lock behind.
"""

import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mmm_jax import _atomic, run_folder
from mmm_jax.data import from_frame
from mmm_jax.inference import Fit, FitFileError
from mmm_jax.models import ModelConfig
from mmm_jax.models.mmm import time_frame
from mmm_jax.run_folder import (
    RUN_FILES,
    RunFolder,
    RunFolderError,
    RunLockedError,
    RunMismatchError,
)
from tests.models.test_model import small_frame

needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

CONFIG = ModelConfig(yearly_order=1, weekly_order=0, max_lag=7)
EST = {"mean": 1.0, "median": 1.0, "hdi_low": 0.5, "hdi_high": 1.5}


def small_fit(seed: int, n: int = 60) -> Fit:
    """A loadable `Fit` of random draws: run folders store and check fits, never predict."""
    data = from_frame(small_frame(n=n, seed_=seed), controls=("traffic",))
    rng = np.random.default_rng(seed)
    draws = {
        "media/roas": rng.lognormal(0.0, 0.5, (1, 3, data.n_channel)),
        "sigma": rng.gamma(2.0, 0.05, (1, 3)),
    }
    return Fit("map", draws, data, CONFIG, time_frame(data.dates))


def small_summary(fit: Fit) -> dict:
    """The smallest summary.json of the results contract's shape."""
    channel = {
        "spend": 1.0,
        "contribution": EST,
        "roas": EST,
        "marginal_roas": EST,
        "saturation_spend": None,
        "wasteful": False,
    }
    return {
        "channels": {c: dict(channel) for c in fit.data.channels},
        "baseline": {"contribution": EST, "share": EST},
        "synergy": {},
        "fit": {"r2": 0.5, "mape": 0.1, "nrmse": 0.1},
        "diagnostics": {"method": "map", "seconds": 1.0},
    }


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included), path -> bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two complete run folders: A (fit, hold-out refit, summary) and B (other data)."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, seed, holdout in (("A", 1, True), ("B", 2, False)):
        fit = small_fit(seed)
        with RunFolder(root / name).replace(command="test") as stage:
            checksum = stage.save_fit(fit)
            if holdout:
                stage.save_fit(small_fit(seed + 10), "fit_holdout.npz")
            stage.write_summary(small_summary(fit))
        out[name] = {"path": root / name, "files": snapshot(root / name), "checksum": checksum}
    assert out["A"]["files"] != out["B"]["files"]
    return out


@pytest.fixture
def run(runs, tmp_path):
    """A fresh copy of run A, alone in its parent folder."""
    path = tmp_path / "parent" / "run"
    shutil.copytree(runs["A"]["path"], path)
    return path


# A writer in its own process (no JAX): writes B (or one file, or figures) into RUN and
# stops or kills itself at PHASE. MODE two-renames disables renameat2's exchange.
SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from mmm_jax import _atomic, run_folder

    what, phase, action, mode, run, source, fsize = sys.argv[1:8]
    if mode == "two-renames":
        run_folder._renameat2 = False
    if fsize != "-":  # a full disk: no file may grow beyond fsize bytes
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (int(fsize), int(fsize)))

    def hook(name):
        if name == phase:
            os.kill(os.getpid(), signal.SIGKILL if action == "kill" else signal.SIGSTOP)

    _atomic.set_fault_hook(hook)
    folder = run_folder.RunFolder(run)
    src = Path(source)
    if what == "run":
        with folder.replace(command="writer") as stage:
            for f in sorted(p for p in src.rglob("*") if p.is_file()):
                stage.write_bytes(str(f.relative_to(src)), f.read_bytes())
    elif what == "alloc":
        with folder.update(command="writer") as live:
            live.write_bytes("alloc.json", src.read_bytes())
    else:
        with folder.update(command="writer") as live:
            live.replace_dir("figures", {"a.png": src.read_bytes(), "b.png": b"b"})
    assert "jax" not in sys.modules
    """
)


def writer(what, run, source, *, phase="-", action="kill", mode="exchange", fsize="-", wait=True):
    argv = [sys.executable, "-c", SCRIPT, what, phase, action, mode, str(run), str(source)]
    proc = subprocess.Popen([*argv, str(fsize)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if wait:
        proc.err = proc.communicate(timeout=120)[1].decode()
    return proc


def rewrite_meta(path: Path, edit) -> None:
    """Edits a fit file's metadata and writes it back, keeping its stored checksum."""
    with np.load(path) as npz:
        contents = {k: npz[k] for k in npz.files}
    meta = json.loads(str(contents["__meta__"]))
    edit(meta)
    contents["__meta__"] = np.asarray(json.dumps(meta))
    buffer = io.BytesIO()
    np.savez(buffer, **contents)
    path.write_bytes(buffer.getvalue())


def wait_stopped(proc, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        if fields[0] == "T":
            return
        assert proc.poll() is None, proc.communicate()[1].decode()
        time.sleep(0.02)
    raise AssertionError("the writer never reached its stop")


def assert_clean(run: Path):
    """Nothing but the run folder beside it, nothing but run files inside it."""
    assert os.listdir(run.parent) == [run.name]
    assert set(os.listdir(run)) <= RUN_FILES


# ------------------------------------------------------------------ a run, killed
REPLACE_PHASES = [
    ("locked", "exchange", "A"),
    ("staged:fit.npz", "exchange", "A"),
    ("staged:summary.json", "exchange", "A"),
    ("swap-start:run", "exchange", "A"),
    ("swap-done:run", "exchange", "B"),
    ("staged:fit.npz", "two-renames", "A"),
    ("swap-start:run", "two-renames", "A"),
    ("swap-moved-old:run", "two-renames", "A"),  # RUN missing until recovery
    ("swap-done:run", "two-renames", "B"),
]


@pytest.mark.parametrize("phase, mode, survivor", REPLACE_PHASES)
def test_kill_while_writing_a_run_leaves_one_complete_run(
    runs, run, monkeypatch, phase, mode, survivor
):
    proc = writer("run", run, runs["B"]["path"], phase=phase, mode=mode)
    assert proc.returncode == -signal.SIGKILL, proc.err
    # A reader finds a complete run that checks out: the earlier one until the swap.
    monkeypatch.setattr(run_folder, "_SWAP_WAIT_S", 0.05)
    verified = RunFolder(run).load()
    assert verified.fit_checksum == runs[survivor]["checksum"]
    assert snapshot(run) == runs[survivor]["files"]
    # The next writer is not locked out and cleans up what the killed one left.
    with RunFolder(run).replace(command="next") as stage:
        stage.write_bytes("fit.npz", runs["B"]["files"]["fit.npz"])
        stage.write_bytes("summary.json", runs["B"]["files"]["summary.json"])
    assert snapshot(run) == runs["B"]["files"]
    assert_clean(run)


def test_full_disk_while_writing_a_run_keeps_the_earlier_run(runs, run):
    """A size-limited write (RLIMIT_FSIZE): the first file larger than the limit fails."""
    limit = len(runs["B"]["files"]["fit.npz"]) // 2
    proc = writer("run", run, runs["B"]["path"], fsize=limit)
    err = proc.err
    assert proc.returncode == 1 and "could not write" in err and "File too large" in err, err
    assert "the run folder is left as it was" in err
    assert snapshot(run) == runs["A"]["files"]
    assert_clean(run)  # the stage is gone and the lock released
    assert RunFolder(run).load().fit_checksum == runs["A"]["checksum"]


def test_an_exception_in_the_block_discards_the_stage(runs, run):
    with pytest.raises(ZeroDivisionError):
        with RunFolder(run).replace() as stage:
            stage.write_bytes("fit.npz", runs["B"]["files"]["fit.npz"])
            1 / 0  # noqa: B018
    assert snapshot(run) == runs["A"]["files"]
    assert_clean(run)


# ------------------------------------------------------------------ files added to a run
def _alloc(run: Path, budget: float) -> bytes:
    checksum = RunFolder(run).load().fit_checksum
    return json.dumps({"budget": budget, "provenance": {"fit_checksum": checksum}}).encode()


@pytest.mark.parametrize("phase, new", [("temp:alloc.json", False), ("replaced:alloc.json", True)])
def test_kill_while_replacing_alloc_json_leaves_the_old_or_the_new(run, tmp_path, phase, new):
    with RunFolder(run).update(command="test") as live:
        live.write_bytes("alloc.json", _alloc(run, 1.0))
    source = tmp_path / "alloc.json"
    source.write_bytes(_alloc(run, 2.0))
    proc = writer("alloc", run, source, phase=phase)
    assert proc.returncode == -signal.SIGKILL
    assert RunFolder(run).load().alloc["budget"] == (2.0 if new else 1.0)
    with RunFolder(run).update(command="next"):
        pass  # recovery: the killed writer's temporary file goes
    assert_clean(run)


@pytest.mark.parametrize(
    "phase, mode, new",
    [
        ("swap-start:figures", "exchange", False),
        ("swap-done:figures", "exchange", True),
        ("swap-moved-old:figures", "two-renames", False),
        ("swap-done:figures", "two-renames", True),
    ],
)
def test_kill_while_replacing_figures_leaves_a_complete_folder(run, tmp_path, phase, mode, new):
    with RunFolder(run).update(command="test") as live:
        live.replace_dir("figures", {"old.png": b"old"})
    source = tmp_path / "a.png"
    source.write_bytes(b"new")
    proc = writer("figures", run, source, phase=phase, mode=mode)
    assert proc.returncode == -signal.SIGKILL
    with RunFolder(run).update(command="next"):
        pass  # recovery inside the run
    figures = snapshot(run / "figures")
    assert figures == ({"a.png": b"new", "b.png": b"b"} if new else {"old.png": b"old"})
    assert_clean(run)


# ------------------------------------------------------------------ two writers
@needs_proc
def test_a_second_writer_fails_at_once_and_the_first_completes(runs, run):
    first = writer("run", run, runs["B"]["path"], phase="locked", action="stop", wait=False)
    try:
        wait_stopped(first)
        start = time.monotonic()
        with pytest.raises(RunLockedError) as err:
            with RunFolder(run).replace(command="fit"):
                pytest.fail("the second writer got in")
        assert time.monotonic() - start < 1.0
        assert err.value.pid == first.pid and err.value.command == "writer"
        assert f"being written by another mmm-jax process (pid {first.pid}" in str(err.value)
        with pytest.raises(RunLockedError):  # files added to a run wait their turn too
            with RunFolder(run).update(command="optimize"):
                pass
        assert snapshot(run) == runs["A"]["files"]
    finally:
        first.send_signal(signal.SIGCONT)
    first.communicate(timeout=120)
    assert first.returncode == 0
    assert snapshot(run) == runs["B"]["files"]
    assert_clean(run)


@needs_proc
def test_a_killed_writer_leaves_no_lock(runs, run):
    first = writer("run", run, runs["B"]["path"], phase="locked", action="stop", wait=False)
    wait_stopped(first)
    first.kill()
    first.communicate(timeout=60)
    with RunFolder(run).replace(command="next") as stage:
        stage.write_bytes("fit.npz", runs["B"]["files"]["fit.npz"])
        stage.write_bytes("summary.json", runs["B"]["files"]["summary.json"])
    assert snapshot(run) == runs["B"]["files"]
    assert_clean(run)


def test_the_lock_holds_within_one_process_too(run):
    with RunFolder(run).replace(command="fit"):
        with pytest.raises(RunLockedError, match=rf"pid {os.getpid()}, mmm-jax fit"):
            with RunFolder(run).update(command="report"):
                pass
    assert_clean(run)


# ------------------------------------------------------------------ verified reads
def test_load_refuses_files_of_different_runs(runs, run):
    a, b = runs["A"]["files"], runs["B"]["files"]
    (run / "fit.npz").write_bytes(b["fit.npz"])
    with pytest.raises(RunMismatchError, match="summary.json describes another fit than"):
        RunFolder(run).load()
    (run / "fit.npz").write_bytes(a["fit.npz"])
    (run / "fit_holdout.npz").write_bytes(b["fit.npz"])
    with pytest.raises(RunMismatchError, match="fit_holdout.npz is not the hold-out refit"):
        RunFolder(run).load()
    assert RunFolder(run).load(holdout=False).holdout_fit is None
    (run / "fit_holdout.npz").write_bytes(a["fit_holdout.npz"])
    other = json.loads(b["summary.json"])["provenance"]["fit_checksum"]
    (run / "alloc.json").write_text(json.dumps({"provenance": {"fit_checksum": other}}))
    with pytest.raises(RunMismatchError, match="alloc.json was not computed from"):
        RunFolder(run).load()
    (run / "alloc.json").write_text(json.dumps({"budget": 1.0}))
    with pytest.raises(RunMismatchError, match="it records no fit"):
        RunFolder(run).load()
    summary = json.loads(a["summary.json"])
    del summary["provenance"]
    (run / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(RunMismatchError, match="does not record which fit it describes"):
        RunFolder(run).load(alloc=False)


def test_load_refuses_a_summary_of_other_data(runs, run):
    summary = json.loads(runs["A"]["files"]["summary.json"])
    summary["provenance"]["data_hash"] = "0" * 64
    (run / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(RunMismatchError, match="describes other data"):
        RunFolder(run).load()


def test_load_names_a_wrongly_typed_field(runs, run):
    summary = json.loads(runs["A"]["files"]["summary.json"])
    summary["channels"]["a"]["spend"] = "lots"
    (run / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(RunFolderError, match=r"run/summary.json: field channels.a.spend must be"):
        RunFolder(run).load()
    (run / "summary.json").write_text("{not json")
    with pytest.raises(RunFolderError, match="summary.json is not valid JSON"):
        RunFolder(run).load()


def test_load_refuses_an_edited_fit(run):
    def tenfold(meta):
        meta["data"]["scaler"]["target_scale"] *= 10

    rewrite_meta(run / "fit.npz", tenfold)
    with pytest.raises(FitFileError, match="corrupted or was edited"):
        RunFolder(run).load()


def test_missing_run_and_missing_fit_are_named(tmp_path):
    with pytest.raises(RunFolderError, match="no fit found at .*nowhere: run `mmm-jax fit"):
        RunFolder(tmp_path / "nowhere").load()
    with pytest.raises(RunFolderError, match="no run folder at"):
        with RunFolder(tmp_path / "nowhere").update(command="report"):
            pass
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunFolderError, match=r"no fit found at .*empty/fit.npz"):
        RunFolder(tmp_path / "empty").load()
    assert sorted(os.listdir(tmp_path)) == ["empty"]


# ------------------------------------------------------------------ where a run may go
def test_replace_refuses_what_is_not_a_run_folder(runs, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunFolderError, match="exists and is a file"):
        with RunFolder(tmp_path / "file").replace():
            pass
    with pytest.raises(RunFolderError, match="a part of its path is a file"):
        with RunFolder(tmp_path / "file" / "run").replace():
            pass
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    with pytest.raises(RunFolderError, match=r"not an mmm-jax run folder \(it holds thesis.tex\)"):
        with RunFolder(home).replace():
            pass
    assert (home / "thesis.tex").read_text() == "years of work"
    # a new folder, an empty one and a run folder are fine
    (tmp_path / "empty").mkdir()
    for target in (tmp_path / "new" / "run", tmp_path / "empty", tmp_path / "new" / "run"):
        with RunFolder(target).replace() as stage:
            stage.write_bytes("fit.npz", runs["B"]["files"]["fit.npz"])
        assert snapshot(target) == {"fit.npz": runs["B"]["files"]["fit.npz"]}


def test_replace_refuses_the_current_folder(tmp_path, monkeypatch):
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    with pytest.raises(RunFolderError, match="is the current folder or holds it"):
        with RunFolder(".").replace():
            pass


def test_replace_refuses_an_unwritable_parent(tmp_path):
    if os.geteuid() == 0:  # root writes anywhere but in /sys
        parent = Path("/sys")
    else:
        parent = tmp_path / "locked"
        parent.mkdir()
        parent.chmod(0o500)
    try:
        with pytest.raises(RunFolderError, match="cannot write"):
            with RunFolder(parent / "run").replace():
                pass
    finally:
        if parent != Path("/sys"):
            parent.chmod(0o700)


def test_a_symlinked_run_is_replaced_behind_the_link(runs, run):
    link = run.parent / "latest"
    link.symlink_to(run.name)
    with RunFolder(link).replace() as stage:
        stage.write_bytes("fit.npz", runs["B"]["files"]["fit.npz"])
    assert link.is_symlink() and snapshot(run) == {"fit.npz": runs["B"]["files"]["fit.npz"]}


# ------------------------------------------------------------------ atomic files
def test_atomic_write_under_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "fit.npz"
    path.write_bytes(b"old and good")

    def half_then_full(fd, data):
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_atomic, "_write_all", half_then_full)
    with pytest.raises(OSError, match="No space left"):
        _atomic.write_bytes(path, b"new" * 1000)
    assert path.read_bytes() == b"old and good"
    assert os.listdir(tmp_path) == ["fit.npz"]


def test_fit_save_under_a_full_disk_keeps_the_earlier_fit(runs, tmp_path, monkeypatch):
    path = tmp_path / "fit.npz"
    path.write_bytes(runs["A"]["files"]["fit.npz"])

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_atomic, "_write_all", full)
    with pytest.raises(OSError, match="No space left"):
        Fit.load(runs["B"]["path"] / "fit.npz").save(path)
    assert Fit.load_with_checksum(path)[1] == runs["A"]["checksum"]


def test_atomic_write_removes_temporary_files_of_dead_writers(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    pid = int(dead.stdout)
    stale = tmp_path / f".x.json.tmp-{pid}-0123abcd"
    stale.write_text("half")
    mine = tmp_path / f".x.json.tmp-{os.getpid()}-0123abcd"  # a live writer's: kept
    mine.write_text("busy")
    _atomic.write_text(tmp_path / "x.json", "{}")
    assert sorted(os.listdir(tmp_path)) == sorted([mine.name, "x.json"])
