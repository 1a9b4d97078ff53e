"""Saving and loading fitted estimators: pickle state and a pickle-free directory.

Both forms hold the same files: the model as ``model.safetensors`` plus
``config.json`` (a standard Hugging Face model directory, ``id2label`` included) and
the tokenizer files. Pickling carries them as bytes inside the pickle (the weights
once); :func:`save_directory` writes them next to ``skbert.json``, which records the
estimator's parameters, labels with their types, fitted attributes, versions, the
format version and the sha256 of every file. Loading a directory runs no pickle and
no remote code and checks every file before use.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from . import _hub
from .exceptions import CorruptModelError, SkbertVersionWarning

FORMAT_VERSION = 1
META_FILE = "skbert.json"
WEIGHTS_FILE = "model.safetensors"


def export_files(model: Any, tokenizer: Any) -> dict[str, bytes]:
    """The model and tokenizer as ``{file name: bytes}`` of a model directory."""
    with tempfile.TemporaryDirectory(prefix="skbert-") as tmp:
        _hub.save_pretrained(model, tokenizer, tmp)
        return {
            entry.name: entry.read_bytes()
            for entry in sorted(Path(tmp).iterdir())
            if entry.is_file()
        }


def import_files(files: dict[str, bytes]) -> tuple[Any, Any]:
    """Rebuild ``(model, tokenizer)`` on the CPU from :func:`export_files` output."""
    with tempfile.TemporaryDirectory(prefix="skbert-") as tmp:
        for name, content in files.items():
            (Path(tmp) / Path(name).name).write_bytes(content)
        return _hub.load_saved(tmp)


def classes_to_json(classes: np.ndarray) -> dict[str, Any]:
    """Labels with enough type information to rebuild them exactly."""
    return {"dtype": classes.dtype.str, "values": classes.tolist()}


def classes_from_json(data: dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(data["dtype"])
    return np.asarray(data["values"], dtype=dtype)


def save_directory(
    path: str | os.PathLike, files: dict[str, bytes], meta: dict[str, Any]
) -> Path:
    """Write ``files`` and ``meta`` to the directory ``path``, atomically.

    Everything goes to a temporary sibling first, is flushed to disk, and only then
    replaces ``path``; a save that fails midway leaves an earlier save intact.
    """
    target = Path(path).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not (target / META_FILE).is_file():
        if not target.is_dir() or any(target.iterdir()):
            raise FileExistsError(
                f"{target} exists and is not an skbert model directory; refusing to "
                "replace it. Choose a new path or remove it first."
            )
    meta = {**meta, "format_version": FORMAT_VERSION, "files": _digests(files)}
    staging = _new_sibling(target, "tmp")
    try:
        for name, content in files.items():
            _write_synced(staging / name, content)
        _write_synced(staging / META_FILE, json.dumps(meta, indent=2).encode())
        _replace_directory(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _digests(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def _new_sibling(target: Path, kind: str) -> Path:
    """A new empty directory ``.<name>.<kind>-<random>`` beside ``target``.

    Made with ``os.mkdir``, so it gets the user's umask like any directory they
    create (``tempfile.mkdtemp`` would make it private, 0o700, and the saved model
    unreadable to the service account that loads it).
    """
    while True:
        sibling = target.parent / f".{target.name}.{kind}-{secrets.token_hex(4)}"
        try:
            sibling.mkdir()
        except FileExistsError:
            continue
        return sibling


def _write_synced(path: Path, content: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _replace_directory(staging: Path, target: Path) -> None:
    """Swap ``staging`` into place; the old directory goes only after that."""
    if not target.exists():
        os.replace(staging, target)
        return
    backup = _new_sibling(target, "old")
    os.replace(target, backup / target.name)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(backup / target.name, target)
        raise
    finally:
        shutil.rmtree(backup, ignore_errors=True)


def load_directory(path: str | os.PathLike) -> tuple[dict[str, Any], Any, Any]:
    """Return ``(meta, model, tokenizer)`` from a directory written by skbert.

    Every file is checked against the sha256 recorded at save time before anything
    is parsed, so a truncated or corrupted file is named rather than failing deep
    inside torch or safetensors.
    """
    directory = Path(path).expanduser()
    meta = read_meta(directory)
    _verify_files(directory, meta["files"])
    model, tokenizer = _hub.load_saved(str(directory))
    return meta, model, tokenizer


def read_meta(directory: Path) -> dict[str, Any]:
    if not directory.is_dir():
        raise CorruptModelError(
            f"{directory} is not a directory; skbert.load expects a directory "
            "written by BertTextClassifier.save."
        )
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise CorruptModelError(
            f"{directory} has no {META_FILE}, so it was not written by "
            "BertTextClassifier.save (a plain Hugging Face model directory can be "
            "fine-tuned with BertTextClassifier(model_name_or_path=...) instead)."
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptModelError(f"{meta_path} is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict) or "format_version" not in meta:
        raise CorruptModelError(f"{meta_path} has no format_version field.")
    if meta["format_version"] != FORMAT_VERSION:
        raise CorruptModelError(
            f"{meta_path} has format version {meta['format_version']!r}; this "
            f"skbert reads format version {FORMAT_VERSION}. Load it with the skbert "
            f"version that wrote it ({meta.get('skbert_version', 'unknown')})."
        )
    _warn_on_version_change(meta_path, meta.get("skbert_version"))
    return meta


def _warn_on_version_change(meta_path: Path, saved: str | None) -> None:
    from . import __version__

    if saved != __version__:
        warnings.warn(
            f"{meta_path} was written by skbert {saved}; this is skbert "
            f"{__version__}. Check its predictions before relying on them.",
            SkbertVersionWarning,
            stacklevel=4,
        )


def _verify_files(directory: Path, digests: dict[str, str]) -> None:
    """Check each listed file against the sha256 recorded when it was saved."""
    for name, expected in digests.items():
        source = directory / Path(name).name
        if not source.is_file():
            raise CorruptModelError(f"{source} is missing.")
        digest = hashlib.sha256()
        with open(source, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != expected:
            raise CorruptModelError(
                f"{source} is corrupted or truncated: its sha256 is "
                f"{digest.hexdigest()}, but {expected} was recorded when it was "
                f"saved ({source.stat().st_size} bytes on disk)."
            )
