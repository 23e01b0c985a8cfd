"""Files on a local disk or an object store: open a URL, tell which, write atomically.

The registry, the statistics cache and ``dreg predict`` all write files that
readers may look at while they are written.  On a local disk a file is written
under a hidden temporary name in its folder and renamed into place
(``os.replace`` is atomic), so a reader sees the old file or the whole new
one, never a truncated one.  Object stores (``s3://``, ``gs://``) have no
rename, but a single ``PUT`` is already all or nothing: there the file is
written directly.
"""

from __future__ import annotations

import os
import posixpath
import uuid
from collections.abc import Callable
from typing import IO, Any

__all__ = ["atomic_write", "fsync_dir", "is_local", "url_to_fs", "write_local"]

# what to write: bytes, text (UTF-8), or a function that writes to a binary file
Content = bytes | str | Callable[[IO[bytes]], None]


def url_to_fs(url: str, storage_options: dict[str, Any] | None = None) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path within it.

    Parameters
    ----------
    url : str
        A local path or a URL (``s3://bucket/key``, ``file:///tmp/x``).
    storage_options : dict, optional
        Options of the filesystem (credentials, endpoint).

    Returns
    -------
    fs : fsspec.AbstractFileSystem
    path : str
    """
    from fsspec.core import url_to_fs as _url_to_fs

    return _url_to_fs(url, **(storage_options or {}))


def is_local(fs: Any) -> bool:
    """Whether ``fs`` is the local disk (where ``rename`` is atomic)."""
    proto = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return proto in ("file", "local")


def _write(fh: IO[bytes], content: Content) -> None:
    if callable(content):
        content(fh)
    else:
        fh.write(content.encode("utf-8") if isinstance(content, str) else content)


def write_local(path: str, content: Content, *, fsync: bool = False) -> None:
    """Write ``content`` to the local file ``path``, flushed to disk first if ``fsync``."""
    with open(path, "wb") as fh:
        _write(fh, content)
        if fsync:
            fh.flush()
            os.fsync(fh.fileno())


def atomic_write(fs: Any, path: str, content: Content, *, fsync: bool = False, prefix: str = ".tmp-") -> None:
    """Write ``content`` to ``path`` so that readers never see a partial file.

    Parameters
    ----------
    fs : fsspec.AbstractFileSystem
        The filesystem of ``path`` (its folder must exist).
    path : str
        The file to (re)place.
    content : bytes, str or callable
        Bytes, text (written as UTF-8), or a function writing to a binary file.
    fsync : bool, default False
        On a local disk, flush the temporary file to disk before the rename
        (the caller syncs the folder when the rename itself must survive a crash).
    prefix : str, default ".tmp-"
        Start of the temporary file's name, ``<prefix><random>-<name>``, beside
        ``path``: whoever cleans up leftovers of killed writers looks for it.

    Notes
    -----
    On a local disk the temporary file is removed if writing fails.  On an
    object store the file is written directly (one upload).
    """
    if not is_local(fs):
        with fs.open(path, "wb") as fh:
            _write(fh, content)
        return
    folder, name = posixpath.split(path)
    tmp = posixpath.join(folder, f"{prefix}{uuid.uuid4().hex[:8]}-{name}")
    try:
        write_local(tmp, content, fsync=fsync)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def fsync_dir(path: str) -> None:
    """Flush a local folder's entries (new names, renames) to disk; best effort."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
