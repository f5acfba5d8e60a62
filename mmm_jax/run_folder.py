"""Run folders that cannot be lost or mixed: staged writes, one writer, verified reads.

A run folder (``mmm-jax fit --out RUN``) holds one fit and what was derived
from it: ``fit.npz``, ``summary.json``, ``fit_holdout.npz`` (``--holdout``),
``alloc.json`` (``optimize``), ``alloc_per_geo.json`` (``optimize --per-geo``),
``report.html`` and ``figures/`` (``report``), and for ``mmm-jax demo`` its data, truth and notes. `RunFolder` gives three
guarantees.

**A run is replaced whole or not at all.** `RunFolder.replace` stages the new
run in a hidden sibling ``.RUN.tmp-PID-XXXXXXXX`` (every file flushed to disk
as it is written) and swaps it into place only when the caller's block ends
without an error. A crash, ``kill -9`` or a full disk before that leaves the
earlier run exactly as it was; a stage left by a killed writer is deleted by
the next writer. Files that commands add to an existing run (``alloc.json``,
``report.html``) are replaced one at a time, each atomically
(`mmm_jax._atomic.write_bytes`), and ``figures/`` as a folder, like a run.

*The swap.* POSIX ``rename`` cannot replace a non-empty folder. On Linux,
``renameat2(RENAME_EXCHANGE)`` exchanges the stage and ``RUN`` in one atomic
step, so ``RUN`` always exists and is always a complete run; the old run,
now under the stage's name, is then deleted. Where the exchange is not
available (other systems, some file systems) the swap takes two renames,
``RUN -> .RUN.old-ID`` then ``stage -> RUN``, and deletes the backup.
Between the two renames ``RUN`` is missing; a crash there is undone by
*recovery*, which every writer (and a reader that finds ``RUN`` missing)
runs first: with ``RUN`` missing and a backup present, the backup is renamed
back; every other leftover (stages, backups, temporary files) is deleted.
So after any interruption the folder is either the complete earlier run or
the complete new one. A symlink ``RUN -> RUN.<id>`` swapped with
`os.replace` would be atomic everywhere, but ``RUN`` would no longer be a
plain folder: ``cp -r``, archives and scripts that test ``is_dir()`` treat
it differently, and an existing folder cannot become a link atomically.

**One writer at a time.** Writers hold an exclusive ``flock`` on
``.RUN.lock`` beside the folder (it records the holder's pid and command and
is removed on release). A second writer fails at once with `RunLockedError`
naming the holder. The operating system drops the lock with the process, so
a killed writer never leaves a stale lock. Readers take no lock: a run in
place is always complete, and a fit swapped in while a reader is between
two files is caught by the checks below.

**Reads are verified.** ``fit.npz`` carries a checksum over its arrays and
metadata (`mmm_jax.inference.Fit.to_bytes`); ``summary.json`` records that
checksum, the hash of the data (`mmm_jax.data.MMMData.digest`) and the
hold-out refit's checksum under ``"provenance"``; ``alloc.json`` records the
fit's checksum likewise. `RunFiles.verify` refuses any pair that does not
belong together, with a message that says which files and what to do.

A fit replaces an existing folder only when every entry in it is a run file
(`RUN_FILES`): a folder holding anything else (a user's notes, the home
directory) is refused, never deleted.

Example::

    run = RunFolder("runs/beauty")
    with run.replace(command="fit") as stage:   # locks; RUN untouched so far
        stage.save_fit(fit)                      # staged
        stage.write_summary(summarize(fit))      # staged, provenance added
    # here RUN is the new run, complete
    verified = run.load()                        # fit, summary, checked as a pair

``mmm_jax._atomic.set_fault_hook`` lets tests stop or kill the process at
every named phase (``locked``, ``staged:NAME``, ``swap-start:NAME``,
``swap-moved-old:NAME``, ``swap-done:NAME``, ``temp:NAME``,
``replaced:NAME``).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import math
import os
import shutil
import stat
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmm_jax._atomic import (
    checkpoint,
    fsync_dir,
    parse_temp_name,
    temp_name,
    write_bytes,
)

if TYPE_CHECKING:  # the inference layer (JAX) loads only when a fit is read or written
    from mmm_jax.inference import Fit

__all__ = [
    "RUN_FILES",
    "LiveRun",
    "RunFiles",
    "RunFolder",
    "RunFolderError",
    "RunLockedError",
    "RunMismatchError",
    "StagedRun",
    "VerifiedRun",
    "to_json",
]

#: Every name a run folder may hold; a folder holding anything else is not replaced.
RUN_FILES: frozenset[str] = frozenset(
    {
        "fit.npz",
        "fit_holdout.npz",
        "summary.json",
        "alloc.json",
        "alloc_per_geo.json",
        "report.html",
        "figures",
        # mmm-jax demo
        "data.csv",
        "truth.json",
        "fit_uncalibrated.npz",
        "lift_tests.csv",
        "demo.json",
    }
)

#: How long a reader waits for a run that another process is swapping in.
_SWAP_WAIT_S = 2.0


class RunFolderError(ValueError):
    """A run folder that cannot be written or read as asked; the message says what to do."""


class RunLockedError(RunFolderError):
    """Another process is writing the run folder.

    Attributes:
      pid: The writer's process id, or ``None`` when it could not be read.
      command: The writer's command (``"fit"``, ``"optimize"``, ...), or ``None``.
    """

    def __init__(self, message: str, pid: int | None, command: str | None):
        super().__init__(message)
        self.pid = pid
        self.command = command


class RunMismatchError(RunFolderError):
    """Files of a run folder that do not belong together (another fit, other data)."""


def _finite_or_none(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite_or_none(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite_or_none(v) for v in x]
    return x


def to_json(obj: Any) -> str:
    """Strict JSON (NaN and infinities become ``null``), indented, for files other tools read."""
    return json.dumps(_finite_or_none(obj), indent=2, allow_nan=False)


# ------------------------------------------------------------------ swapping folders
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100
_renameat2: Any = None  # resolved on first use; False where unavailable


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchanges two existing paths (Linux ``renameat2``); False where unsupported."""
    global _renameat2
    if _renameat2 is None:
        _renameat2 = False
        if sys.platform.startswith("linux"):
            try:
                fn = ctypes.CDLL(None, use_errno=True).renameat2
            except (AttributeError, OSError):
                pass
            else:
                fn.argtypes = [ctypes.c_int, ctypes.c_char_p] * 2 + [ctypes.c_uint]
                fn.restype = ctypes.c_int
                _renameat2 = fn
    if not _renameat2:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False  # this file system cannot exchange: take the two-rename path
    raise OSError(err, os.strerror(err), str(b))


def _remove(path: Path) -> None:
    """Deletes a file or folder tree; what cannot be deleted stays for the next recovery."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _swap_into_place(staged: Path, target: Path) -> None:
    """Puts the complete folder ``staged`` at ``target``, atomically, deleting the old one.

    ``staged`` must be a sibling of ``target``. See the module docstring for
    the scheme; on an error ``target`` is the old folder again.
    """
    name, parent = target.name, target.parent
    checkpoint(f"swap-start:{name}")
    fsync_dir(staged)
    if not os.path.lexists(target):
        os.rename(staged, target)
        checkpoint(f"swap-done:{name}")
    elif _is_empty_dir(target):
        os.replace(staged, target)  # rename(2) replaces an empty folder atomically
        checkpoint(f"swap-done:{name}")
    else:
        with contextlib.suppress(OSError):  # keep the old folder's permissions
            os.chmod(staged, stat.S_IMODE(os.stat(target).st_mode))
        if _exchange(staged, target):
            checkpoint(f"swap-done:{name}")
            _remove(staged)  # the old folder, now under the stage's name
        else:
            backup = parent / temp_name(name, "old")
            os.rename(target, backup)
            checkpoint(f"swap-moved-old:{name}")
            try:
                os.rename(staged, target)
            except BaseException:
                os.rename(backup, target)
                raise
            checkpoint(f"swap-done:{name}")
            _remove(backup)
    fsync_dir(parent)


def _is_empty_dir(path: Path) -> bool:
    if not path.is_dir() or path.is_symlink():
        return False
    with os.scandir(path) as entries:
        return next(entries, None) is None


def _leftovers(target: Path) -> list[tuple[str, str]]:
    """``(entry, kind)`` of the stages, backups and temporary files of ``target``."""
    try:
        entries = os.listdir(target.parent)
    except OSError:
        return []
    found = []
    for entry in entries:
        parsed = parse_temp_name(entry)
        if parsed is not None and parsed[0] == target.name:
            found.append((entry, parsed[1]))
    return found


def _recover(target: Path) -> bool:
    """Undoes an interrupted write of ``target`` (call it holding the lock).

    With ``target`` missing and a backup of it present, the backup goes back;
    every other leftover is deleted. Returns whether anything was done.
    """
    found = _leftovers(target)
    if not found:
        return False
    parent = target.parent
    if not os.path.lexists(target):
        backups = [e for e, kind in found if kind == "old"]
        if backups:
            newest = max(backups, key=lambda e: os.lstat(parent / e).st_mtime_ns)
            os.rename(parent / newest, target)
            found = [(e, k) for e, k in found if e != newest]
    for entry, _ in found:
        _remove(parent / entry)
    fsync_dir(parent)
    return True


def _recover_inside(root: Path) -> None:
    """Recovery of every file and subfolder of a run folder (interrupted updates)."""
    names = set()
    for entry in os.listdir(root):
        parsed = parse_temp_name(entry)
        if parsed is not None:
            names.add(parsed[0])
    for name in names:
        _recover(root / name)


# ------------------------------------------------------------------ the lock
class _Lock:
    """An exclusive, non-blocking lock on ``.NAME.lock`` beside a run folder."""

    def __init__(self, target: Path, label: str, command: str, hint: str):
        self.path = target.parent / f".{target.name}.lock"
        self.label, self.command, self.hint = label, command, hint
        self.fd: int | None = None

    def __enter__(self) -> _Lock:
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as err:
                raise RunFolderError(
                    f"cannot write into {self.path.parent} ({err.strerror}): a run folder "
                    "needs a folder it may create files in"
                ) from None
            if not _try_lock(fd):
                holder = _read_holder(fd)
                os.close(fd)
                pid, command = holder.get("pid"), holder.get("command")
                who = "pid unknown" if pid is None else f"pid {pid}"
                if command:
                    who += f", mmm-jax {command}"
                raise RunLockedError(
                    f"run folder {self.label} is being written by another mmm-jax process "
                    f"({who}); wait for it to finish{self.hint}",
                    pid if isinstance(pid, int) else None,
                    command if isinstance(command, str) else None,
                )
            # The file may have been removed by a holder releasing it between our
            # open and lock: then we hold a lock on a deleted file, so start again.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self.fd = fd
        holder = json.dumps(
            {
                "pid": os.getpid(),
                "command": self.command,
                "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
        ).encode()
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, holder)
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # while still holding it: see __enter__
        os.close(self.fd)  # releases the lock
        self.fd = None


def _try_lock(fd: int) -> bool:
    """Takes an exclusive lock on ``fd`` without waiting; False if another holder has it."""
    try:
        import fcntl
    except ImportError:  # Windows: lock the first byte instead
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        holder = json.loads(os.read(fd, 4096) or b"{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


# ------------------------------------------------------------------ reading
@dataclass(frozen=True)
class VerifiedRun:
    """The files of a run folder, checked to belong together.

    Attributes:
      path: The folder as the caller named it.
      fit: ``fit.npz``.
      fit_checksum: Its checksum (arrays and metadata).
      summary: ``summary.json`` (its shape checked), or ``None`` when the
        folder has none (a folder holding only a saved fit).
      holdout_fit: ``fit_holdout.npz`` when asked for and present, else ``None``.
      alloc: ``alloc.json`` when asked for and present, else ``alloc_per_geo.json``
        when present, else ``None``.
    """

    path: Path
    fit: Fit
    fit_checksum: str
    summary: dict[str, Any] | None
    holdout_fit: Fit | None
    alloc: dict[str, Any] | None


class RunFiles:
    """Reads the files of a run folder and checks that they belong together.

    The base of `RunFolder` (the folder in place) and of the writers'
    `StagedRun` and `LiveRun`, so the same checks serve a run being written.

    Args:
      root: The folder to read.
      label: How messages name the folder (the path the user gave).
    """

    def __init__(self, root: Path, label: str | os.PathLike):
        self._root = Path(root)
        self.label = str(label)

    @property
    def root(self) -> Path:
        """The folder the files are read from."""
        return self._root

    def file(self, name: str) -> Path:
        """Path of a file of the run (in `root`)."""
        return self.root / name

    def has(self, name: str) -> bool:
        """Whether the run holds a file ``name``."""
        return self.file(name).is_file()

    def _name(self, name: str) -> str:
        return f"{self.label}/{name}"

    def read_fit(self, name: str = "fit.npz") -> tuple[Fit, str]:
        """Loads a saved fit of the run and its verified checksum.

        Raises:
          RunFolderError: No such file.
          FitFileError: The file is corrupted, edited or of another format.
        """
        from mmm_jax.inference import Fit, FitFileError

        path = self.file(name)
        if not path.is_file():
            raise RunFolderError(
                f"no fit found at {self._name(name)}: run "
                f"`mmm-jax fit DATA.csv --out {self.label}` first"
            )
        try:
            return Fit.load_with_checksum(path)
        except FitFileError as err:  # name the file as the user named the folder
            raise FitFileError(str(err).replace(str(path), self._name(name))) from None

    def read_json(self, name: str, *, expect: type | None = dict) -> Any:
        """A JSON file of the run, or ``None`` when absent.

        Raises:
          RunFolderError: Not valid JSON, or not of type ``expect``.
        """
        path = self.file(name)
        if not path.is_file():
            return None
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise RunFolderError(f"{self._name(name)} is not valid JSON ({err})") from None
        if expect is not None and not isinstance(value, expect):
            kind = {dict: "a JSON object", list: "a JSON list"}.get(expect, expect.__name__)
            raise RunFolderError(f"{self._name(name)} must hold {kind}")
        return value

    def read_summary(self) -> dict[str, Any] | None:
        """``summary.json`` with its shape checked (`validate_summary`), or ``None``.

        Raises:
          RunFolderError: Not valid JSON, or a field of the wrong type (named).
        """
        from mmm_jax.diagnostics.summary import validate_summary

        summary = self.read_json("summary.json", expect=None)
        if summary is None:
            return None
        try:
            return validate_summary(summary, where=self._name("summary.json"))
        except ValueError as err:
            raise RunFolderError(str(err)) from None

    def verify(self, *, holdout: bool = True, alloc: bool = True) -> VerifiedRun:
        """Reads the fit and what describes it, refusing files of another fit or data.

        Checks ``summary.json``'s ``provenance`` against the fit (its
        checksum and the data's digest), and, when asked, ``fit_holdout.npz``
        against the summary's record of it, and the ``provenance.fit_checksum``
        of ``alloc.json`` and ``alloc_per_geo.json`` against the fit.

        Args:
          holdout: Also load and check ``fit_holdout.npz``.
          alloc: Also read and check ``alloc.json`` and ``alloc_per_geo.json``.

        Returns:
          The `VerifiedRun`.

        Raises:
          RunFolderError: A file is missing or unreadable.
          RunMismatchError: Files that come from different runs.
          FitFileError: A corrupted or edited fit file.
        """
        fit, checksum = self.read_fit()
        summary = self.read_summary()
        rerun = f"rerun `mmm-jax fit DATA.csv --out {self.label}`"
        prov: dict[str, Any] = {}
        if summary is not None:
            prov = summary.get("provenance") or {}
            if not prov.get("fit_checksum"):
                raise RunMismatchError(
                    f"{self._name('summary.json')} does not record which fit it describes (no "
                    f"provenance; an older mmm_jax or an edit wrote it): {rerun}, or delete "
                    "summary.json to have it recomputed"
                )
            if prov["fit_checksum"] != checksum:
                raise RunMismatchError(
                    f"{self._name('summary.json')} describes another fit than "
                    f"{self._name('fit.npz')} (checksum {prov['fit_checksum'][:12]}... against "
                    f"{checksum[:12]}...): the files come from different runs; {rerun}"
                )
            if prov.get("data_hash") != fit.data.digest():
                raise RunMismatchError(
                    f"{self._name('summary.json')} describes other data than "
                    f"{self._name('fit.npz')} was fitted on: {rerun}"
                )
        holdout_fit = None
        if holdout and summary is not None and self.has("fit_holdout.npz"):
            holdout_fit, hold_checksum = self.read_fit("fit_holdout.npz")
            if prov.get("holdout_fit_checksum") != hold_checksum:
                raise RunMismatchError(
                    f"{self._name('fit_holdout.npz')} is not the hold-out refit "
                    f"{self._name('summary.json')} describes: {rerun} with --holdout"
                )
        alloc_json = None
        for name, flag in (("alloc_per_geo.json", " --per-geo"), ("alloc.json", "")):
            if not (alloc and self.has(name)):
                continue
            alloc_json = self.read_json(name)  # the national plan, when both are there
            recorded = (alloc_json.get("provenance") or {}).get("fit_checksum")
            if recorded != checksum:
                raise RunMismatchError(
                    f"{self._name(name)} was not computed from {self._name('fit.npz')}"
                    f" (it records {'no fit' if not recorded else 'another fit'}): rerun "
                    f"`mmm-jax optimize {self.label}{flag}`"
                )
        return VerifiedRun(
            path=Path(self.label),
            fit=fit,
            fit_checksum=checksum,
            summary=summary,
            holdout_fit=holdout_fit,
            alloc=alloc_json,
        )


# ------------------------------------------------------------------ writing
class _Writer(RunFiles):
    """Atomic writes into `root` (shared by `StagedRun` and `LiveRun`)."""

    #: What a failed write leaves, for its message.
    _unchanged = "the earlier file is left as it was"

    def _ready(self) -> Path:
        return self.root

    def _failed(self, name: str, err: OSError) -> RunFolderError:
        return RunFolderError(
            f"could not write {self._name(name)} ({err.strerror or err}); {self._unchanged}"
        )

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Writes ``root/name`` atomically (subfolders are created) and returns its path.

        Raises:
          RunFolderError: The write failed (full disk, permissions, ...);
            nothing earlier was changed.
        """
        try:
            root = self._ready()
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            return write_bytes(path, data)
        except OSError as err:
            raise self._failed(name, err) from err

    def write_text(self, name: str, text: str) -> Path:
        """`write_bytes` of UTF-8 text."""
        return self.write_bytes(name, text.encode("utf-8"))

    def write_json(self, name: str, obj: Any) -> Path:
        """`write_text` of strict JSON (`to_json`)."""
        return self.write_text(name, to_json(obj))

    def replace_dir(self, name: str, files: Mapping[str, bytes]) -> Path:
        """Replaces the subfolder ``root/name`` by one holding exactly ``files``, atomically.

        Args:
          name: The subfolder, e.g. ``"figures"``.
          files: File name -> content.

        Returns:
          The subfolder's path.
        """
        try:
            root = self._ready()
            target = root / name
            staged = root / temp_name(name)
            os.mkdir(staged)
        except OSError as err:
            raise self._failed(name, err) from err
        try:
            for file_name, data in files.items():
                write_bytes(staged / file_name, data)
            _swap_into_place(staged, target)
        except BaseException as err:
            _remove(staged)
            if isinstance(err, OSError):
                raise self._failed(name, err) from err
            raise
        return target


class StagedRun(_Writer):
    """A new run being written, invisible until `RunFolder.replace` commits it.

    Reading methods (`RunFiles`) read what has been staged so far, so the
    whole pipeline (optimise, report) can run on the new run before it
    replaces the old one.
    """

    _unchanged = "the run folder is left as it was"

    def __init__(self, final: Path, label: str):
        super().__init__(final.parent / temp_name(final.name), label)
        self._final = final
        self._created = False
        self.checksums: dict[str, str] = {}
        self._data_hash: str | None = None

    def _ready(self) -> Path:
        if not self._created:
            os.mkdir(self.root)
            self._created = True
        return self.root

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Stages ``name`` (subfolders are created) and returns its staged path."""
        path = super().write_bytes(name, data)
        checkpoint(f"staged:{name}")
        return path

    def save_fit(self, fit: Fit, name: str = "fit.npz") -> str:
        """Stages a fit file and returns its checksum (recorded by `write_summary`)."""
        content, checksum = fit.to_bytes()
        self.write_bytes(name, content)
        self.checksums[name] = checksum
        if name == "fit.npz":
            self._data_hash = fit.data.digest()
        return checksum

    def write_summary(self, summary: dict[str, Any]) -> Path:
        """Stages ``summary.json`` with ``provenance`` naming the staged fits.

        ``provenance``: ``fit_checksum`` and ``data_hash`` of ``fit.npz``,
        ``holdout_fit_checksum`` of ``fit_holdout.npz`` (or ``None``),
        ``fit_format``, ``mmm_jax_version`` and ``written_at`` (UTC).

        Raises:
          RuntimeError: No ``fit.npz`` was staged first.
        """
        from mmm_jax._version import __version__
        from mmm_jax.inference.fit import FORMAT_VERSION

        if "fit.npz" not in self.checksums:
            raise RuntimeError("stage fit.npz (save_fit) before summary.json")
        summary = dict(summary)
        summary["provenance"] = {
            "fit_checksum": self.checksums["fit.npz"],
            "data_hash": self._data_hash,
            "holdout_fit_checksum": self.checksums.get("fit_holdout.npz"),
            "fit_format": FORMAT_VERSION,
            "mmm_jax_version": __version__,
            "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        return self.write_json("summary.json", summary)

    def _commit(self) -> None:
        if not self._created:
            return
        try:
            _swap_into_place(self.root, self._final)
        except OSError as err:
            raise RunFolderError(
                f"could not put the new run in place at {self.label} ({err.strerror or err}); "
                f"{self._unchanged}"
            ) from err

    def _discard(self) -> None:
        if self._created:
            _remove(self.root)


class LiveRun(_Writer):
    """An existing run folder held by this process: every write replaces one file atomically."""


class RunFolder(RunFiles):
    """A run folder: written whole under a lock, read back verified.

    Args:
      path: The folder (``mmm-jax fit --out RUN``). Its parent must be a
        folder this process may create files in (for the lock and the stage).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        super().__init__(self.path, self.path)

    @property
    def root(self) -> Path:
        """The real folder (symlinks resolved); writes replace it, not a link to it."""
        return Path(os.path.realpath(self.path))

    def exists(self) -> bool:
        """Whether the run folder is in place."""
        return self.root.is_dir()

    # -------------------------------------------------------------- reading
    def load(self, *, holdout: bool = True, alloc: bool = True) -> VerifiedRun:
        """`RunFiles.verify` of the run in place (see there).

        A run another process is swapping in (two-rename systems) is waited
        for briefly; one left half-swapped by a killed process is recovered.

        Raises:
          RunFolderError: No run folder (or no ``fit.npz``) at the path.
          RunLockedError: The run is missing while another process writes it.
          RunMismatchError, FitFileError: As `RunFiles.verify`.
        """
        self._await_swap()
        if self.root.is_file():
            raise RunFolderError(
                f"{self.label} is a file: give the run folder that holds fit.npz "
                "(`mmm-jax fit --out RUN`)"
            )
        if not self.exists():
            raise RunFolderError(
                f"no fit found at {self.label}: run `mmm-jax fit DATA.csv --out {self.label}` first"
            )
        return RunFiles(self.root, self.label).verify(holdout=holdout, alloc=alloc)

    def derive(
        self,
        out: str | os.PathLike | None,
        compute: Callable[[VerifiedRun], Any],
        *,
        command: str,
    ) -> tuple[Any, Path | None]:
        """Computes a result from the verified run and writes it as JSON to ``out``.

        A result written into the run folder (``out`` inside it, such as
        ``RUN/alloc.json``) is computed and written holding the run's lock, so
        the fit cannot be replaced meanwhile; any other ``out`` is written
        atomically without it; with ``out`` None nothing is written. The run
        is read without its hold-out refit and allocation.

        Args:
          out: Where to write the result, or ``None``.
          compute: ``VerifiedRun -> JSON-able result``.
          command: Recorded in the lock for another writer's message.

        Returns:
          ``(result, path written or None)``.

        Raises:
          RunFolderError, RunLockedError, RunMismatchError, FitFileError: As
          `load` and `update`.
        """
        real = None if out is None else Path(os.path.realpath(out))
        if real is not None and self.root in real.parents:
            with self.update(command=command) as live:
                result = compute(live.verify(holdout=False, alloc=False))
                live.write_json(str(real.relative_to(self.root)), result)
            return result, Path(out)
        result = compute(self.load(holdout=False, alloc=False))
        if out is None:
            return result, None
        write_bytes(out, to_json(result).encode("utf-8"))
        return result, Path(out)

    def _await_swap(self) -> None:
        root = self.root
        if os.path.lexists(root) or not any(k == "old" for _, k in _leftovers(root)):
            return
        deadline = time.monotonic() + _SWAP_WAIT_S
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if os.path.lexists(root):
                return
        with _Lock(root, self.label, "recover", ""):
            _recover(root)

    # -------------------------------------------------------------- writing
    def _prepare(self) -> Path:
        """The real target, checked to be replaceable, with its parent created."""
        root = self.root
        if root.parent == root:
            raise RunFolderError(f"{self.label} cannot be a run folder (the file system root)")
        cwd = Path(os.path.realpath(os.getcwd()))
        if cwd == root or root in cwd.parents:
            raise RunFolderError(
                f"run folder {self.label} is the current folder or holds it, and writing a run "
                "replaces the folder: run mmm-jax from elsewhere or choose another --out"
            )
        if os.path.lexists(root) and not root.is_dir():
            raise RunFolderError(f"run folder {self.label} exists and is a file, not a folder")
        try:
            root.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise RunFolderError(
                f"cannot create run folder {self.label}: a part of its path is a file"
            ) from None
        except OSError as err:
            raise RunFolderError(
                f"cannot create run folder {self.label} ({err.strerror})"
            ) from None
        if not os.access(root.parent, os.W_OK | os.X_OK):
            raise RunFolderError(
                f"cannot write run folder {self.label}: no permission to create files in "
                f"{root.parent}"
            )
        return root

    def _check_replaceable(self, root: Path) -> None:
        if not root.is_dir():
            return
        foreign = sorted(
            e for e in os.listdir(root) if e not in RUN_FILES and parse_temp_name(e) is None
        )
        if foreign:
            shown = ", ".join(foreign[:5]) + (f", ... ({len(foreign)} in all)" * (len(foreign) > 5))
            raise RunFolderError(
                f"{self.label} is not an mmm-jax run folder (it holds {shown}), and writing a "
                "run replaces the whole folder: choose a new or empty --out, or move those "
                "files out"
            )

    @contextlib.contextmanager
    def replace(self, *, command: str = "fit", hint: str = "") -> Iterator[StagedRun]:
        """Writes a complete new run that replaces this folder when the block ends.

        On entry: checks the path (not a file; parent creatable and writable;
        an existing folder must hold only run files), takes the lock and
        recovers from an interrupted earlier write. The block writes into the
        yielded `StagedRun`; when it ends without an exception the stage is
        swapped into place, and on an exception (or a kill) the folder stays
        as it was.

        Args:
          command: Recorded in the lock for another writer's message.
          hint: Appended to `RunLockedError`'s message (e.g.
            ``" or choose another --out"``).

        Yields:
          The `StagedRun`.

        Raises:
          RunFolderError: The path cannot hold a run.
          RunLockedError: Another process writes this run folder.
        """
        root = self._prepare()
        with _Lock(root, self.label, command, hint):
            _recover(root)
            self._check_replaceable(root)
            checkpoint("locked")
            stage = StagedRun(root, self.label)
            try:
                yield stage
                stage._commit()
            except BaseException:
                stage._discard()
                raise

    @contextlib.contextmanager
    def update(self, *, command: str, hint: str = "") -> Iterator[LiveRun]:
        """Holds the existing run folder for writing files into it (``alloc.json``, a report).

        Takes the lock and recovers from an interrupted earlier write (of the
        folder or of a file in it). Every write of the yielded `LiveRun` is
        atomic on its own.

        Args:
          command: Recorded in the lock for another writer's message.
          hint: Appended to `RunLockedError`'s message.

        Yields:
          The `LiveRun`.

        Raises:
          RunFolderError: No run folder at the path.
          RunLockedError: Another process writes this run folder.
        """
        root = self.root
        if not os.path.lexists(root) and not _leftovers(root):
            raise RunFolderError(
                f"no run folder at {self.label}: run `mmm-jax fit DATA.csv --out {self.label}` "
                "first"
            )
        with _Lock(root, self.label, command, hint):
            _recover(root)
            if os.path.lexists(root) and not root.is_dir():
                raise RunFolderError(f"{self.label} is a file, not a run folder")
            if not root.is_dir():
                raise RunFolderError(
                    f"no run folder at {self.label}: run "
                    f"`mmm-jax fit DATA.csv --out {self.label}` first"
                )
            _recover_inside(root)
            checkpoint("locked")
            yield LiveRun(root, self.label)
