"""The one download path: fetch, verify, convert, and cache as reproducible gzip CSV."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import http.client
import io
import os
import struct
import tempfile
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ._convert import Rows
from ._registry import Dataset, RemoteFile

_TIMEOUT_S = 30.0  # a download gives up after this long without data
_CHUNK = 1 << 20


def fetch(dataset: Dataset, wanted: Path) -> None:
    """Download, verify and convert ``dataset``; cache every missing split.

    ``wanted`` is the CSV that the caller looked for; errors name it.
    """
    folder = wanted.parent
    folder.mkdir(parents=True, exist_ok=True)
    downloaded: dict[str, Path] = {}
    try:
        for remote in dataset.remote:
            downloaded[remote.filename] = _download(dataset, remote, wanted)
        for split, rows in dataset.convert(downloaded).items():
            target = folder / f"{split}.csv.gz"
            if not target.is_file():
                _write_csv(target, dataset.columns, rows)
    finally:
        for path in downloaded.values():
            path.unlink(missing_ok=True)


def _download(dataset: Dataset, remote: RemoteFile, wanted: Path) -> Path:
    """Stream ``remote`` into a temporary file beside ``wanted``, verify, rename."""
    digest = hashlib.sha256()
    size = 0
    with _temporary(wanted.parent, remote.filename) as (handle, path):
        try:
            with urllib.request.urlopen(remote.url, timeout=_TIMEOUT_S) as response:
                while chunk := response.read(_CHUNK):
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        except (OSError, http.client.HTTPException) as exc:
            raise OSError(
                f"{dataset.name}: {wanted} not found, and downloading "
                f"{remote.filename} from {remote.url} failed: {exc}. "
                f"{dataset.how_to_provide(wanted)}"
            ) from exc
        if (size, digest.hexdigest()) != (remote.size, remote.sha256):
            raise OSError(
                f"{remote.filename} downloaded from {remote.url} does not match its "
                f"published checksum: expected sha256 {remote.sha256} "
                f"({remote.size} bytes), got sha256 {digest.hexdigest()} ({size} "
                f"bytes). The download was deleted and {wanted} was not written. "
                f"{dataset.how_to_provide(wanted)}"
            )
        handle.close()
        final = wanted.parent / remote.filename
        os.replace(path, final)
    return final


@contextlib.contextmanager
def _temporary(folder: Path, name: str) -> Iterator[tuple[IO[bytes], Path]]:
    """A binary temporary file in ``folder``, deleted on exit unless moved away."""
    handle = tempfile.NamedTemporaryFile(
        dir=folder, prefix=f".{name}.", suffix=".part", delete=False
    )
    path = Path(handle.name)
    try:
        yield handle, path
    finally:
        handle.close()
        path.unlink(missing_ok=True)


def _write_csv(path: Path, columns: tuple[str, ...], rows: Rows) -> None:
    """Write ``rows`` as a gzip CSV with ``\\n`` line ends, atomically."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    with _temporary(path.parent, path.name) as (handle, temporary):
        handle.write(_gzip(text.getvalue().encode("utf-8")))
        handle.close()
        os.replace(temporary, path)


# deflate, no file name, mtime 0, best compression, OS unknown: what GzipFile writes.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"


def _gzip(data: bytes) -> bytes:
    """Gzip ``data`` in one deflate call, so that equal data gives equal bytes.

    The shipped files were written this way; how the gzip module splits its input
    between deflate calls (which changes the output) varies between versions.
    """
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(data) + deflate.flush()
    return (
        _GZIP_HEADER
        + body
        + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    )
