"""Crash-safe file writes: a file is either the old one or the complete new one.

`write_bytes` writes into a hidden temporary sibling (``.NAME.tmp-PID-XXXXXXXX``),
flushes it to disk (``fsync``), renames it over ``NAME`` with `os.replace`
(atomic on POSIX and Windows) and flushes the folder entry. A crash, a kill
or a full disk at any point leaves the earlier file untouched; at worst a
temporary sibling remains, which the next write of the same name removes once
the process that made it is gone.

`checkpoint` names the moments between these steps. It does nothing unless a
test installs `set_fault_hook` (the run-folder fault-injection tests kill the
process there); nothing in the package installs one.

This module imports nothing from the rest of the package, so every layer may
use it.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "checkpoint",
    "fsync_dir",
    "is_temp_name",
    "parse_temp_name",
    "pid_alive",
    "set_fault_hook",
    "temp_name",
    "write_bytes",
    "write_text",
]

_fault_hook: Callable[[str], None] | None = None
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)-[0-9a-f]{8}$")


def set_fault_hook(hook: Callable[[str], None] | None) -> None:
    """Installs ``hook(phase)``, called at every `checkpoint` (test hook; ``None`` removes it).

    The fault-injection tests install a hook that kills or stops the process
    at a named phase, to prove that no phase leaves a mixed or lost result.
    """
    global _fault_hook
    _fault_hook = hook


def checkpoint(phase: str) -> None:
    """Marks a phase of a write (``"temp:NAME"``, ``"replaced:NAME"``, ...) for the fault hook."""
    if _fault_hook is not None:
        _fault_hook(phase)


def temp_name(name: str, kind: str = "tmp") -> str:
    """A hidden sibling name ``.NAME.KIND-PID-XXXXXXXX`` unique to this process and call."""
    return f".{name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"


def parse_temp_name(entry: str) -> tuple[str, str, int] | None:
    """``(name, kind, pid)`` of a `temp_name`, or ``None`` for any other name."""
    m = _TEMP.match(entry)
    return None if m is None else (m["name"], m["kind"], int(m["pid"]))


def is_temp_name(entry: str, name: str | None = None) -> bool:
    """Whether ``entry`` is a `temp_name` (of ``name``, when given)."""
    parsed = parse_temp_name(entry)
    return parsed is not None and (name is None or parsed[0] == name)


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def fsync_dir(path: str | os.PathLike) -> None:
    """Flushes a folder's entries (renames, new files) to disk; a no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (and Windows) cannot fsync a folder
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    """Writes every byte of ``data`` to ``fd`` (the one place file content is written)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _remove_stale_temps(folder: Path, name: str) -> None:
    """Removes temporary siblings of ``name`` whose writing process is gone."""
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        m = _TEMP.match(entry)
        if m and m["name"] == name and m["kind"] == "tmp" and not pid_alive(int(m["pid"])):
            try:
                os.unlink(folder / entry)
            except OSError:
                pass


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Replaces the file at ``path`` with ``data`` atomically (temp sibling, fsync, rename).

    Args:
      path: Destination file; its folder must exist.
      data: The complete new content.

    Returns:
      ``path`` as a `Path`.

    Raises:
      OSError: The folder is missing or unwritable, the disk is full, ...
        (its ``filename`` is ``path``, not the temporary file's); the file
        at ``path`` is then exactly what it was before the call.
    """
    path = Path(path)
    try:
        return _write_bytes(path, data)
    except OSError as err:
        if err.errno is None:
            raise
        raise OSError(err.errno, err.strerror, str(path)) from err


def _write_bytes(path: Path, data: bytes) -> Path:
    folder = path.parent
    _remove_stale_temps(folder, path.name)
    temp = folder / temp_name(path.name)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        checkpoint(f"temp:{path.name}")
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    checkpoint(f"replaced:{path.name}")
    fsync_dir(folder)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """`write_bytes` of ``text`` encoded as UTF-8."""
    return write_bytes(path, text.encode("utf-8"))
