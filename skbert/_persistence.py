"""Saving and loading fitted estimators: pickle state and a pickle-free directory.

Both forms hold the same files: the model as ``model.safetensors`` plus
``config.json`` (a standard Hugging Face model directory, ``id2label`` included) and
the tokenizer files. Pickling carries them as bytes inside the pickle (the weights
once); :func:`save_estimator` writes them next to ``skbert.json``, which records the
estimator's class, parameters and fitted attributes (typed, so numpy scalars and
int-keyed dicts come back as they went in), versions, the format version and the
sha256 of every file. Loading a directory runs no pickle and no remote code and
checks every file before use.

A regressor's saved ``model.safetensors`` has its target scaling folded into the
output layer, so the directory predicts in the units of ``y`` wherever it is
loaded; :func:`load_estimator` unfolds it again (float32 rounding: about 1e-7 of
the predictions). Pickles keep the weights exactly as they are.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from . import _hub
from ._warnings import warn
from .exceptions import CorruptModelError, DeviceFallbackWarning, SkbertVersionWarning

FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
META_FILE = "skbert.json"
WEIGHTS_FILE = "model.safetensors"


def export_files(
    model: Any, tokenizer: Any, scaling: tuple[np.ndarray, np.ndarray] | None = None
) -> dict[str, bytes]:
    """The model and tokenizer as ``{file name: bytes}`` of a model directory.

    With ``scaling`` = ``(scale, shift)``, the saved model's outputs are
    ``scale * outputs + shift`` (``model`` itself is left as it is). A model with
    an adapter gives the adapter's files (:func:`_hub.save_adapter`).
    """
    if scaling is not None:
        import copy

        from ._engine import scale_outputs

        model = copy.deepcopy(model)
        scale_outputs(model, *scaling)
    with tempfile.TemporaryDirectory(prefix="skbert-") as tmp:
        if _hub.adapter_of(model) is None:
            _hub.save_pretrained(model, tokenizer, tmp)
        else:
            _hub.save_adapter(model, tokenizer, tmp)
        return {
            entry.name: entry.read_bytes()
            for entry in sorted(Path(tmp).iterdir())
            if entry.is_file()
        }


def import_files(files: dict[str, bytes], encoder: bool = False) -> tuple[Any, Any]:
    """Rebuild ``(model, tokenizer)`` on the CPU from :func:`export_files` output.

    ``encoder``: the files hold a bare encoder (``AutoModel``), not a model with
    a head.
    """
    with tempfile.TemporaryDirectory(prefix="skbert-") as tmp:
        for name, content in files.items():
            (Path(tmp) / Path(name).name).write_bytes(content)
        return _hub.load_saved(tmp, encoder)


# Fitted attributes that every estimator's save() stores as JSON, besides the
# task's own (its ``_spec_attributes``).
FITTED_JSON = (
    "n_iter_",
    "loss_curve_",
    "max_length_",
    "precision_",
    "history_",
    "validation_loss_curve_",
    "validation_scores_",
    "best_validation_score_",
    "best_epoch_",
)
_TYPE = "__skbert_type__"


def to_json(value: Any, where: str) -> Any:
    """``value`` as JSON that :func:`from_json` turns back into an equal value.

    numpy scalars and arrays keep their dtype, tuples stay tuples, and dicts keep
    keys of any JSON-able type (``{0: 1.0}`` does not come back as ``{"0": 1.0}``).
    Anything else raises ``TypeError`` naming ``where``.
    """
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, np.generic):
        return {_TYPE: "scalar", "dtype": value.dtype.str, "value": value.item()}
    if isinstance(value, np.ndarray):
        return {_TYPE: "array", "dtype": value.dtype.str, "value": value.tolist()}
    if isinstance(value, list):
        return [to_json(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, tuple):
        items = [to_json(item, f"{where}[{i}]") for i, item in enumerate(value)]
        return {_TYPE: "tuple", "value": items}
    if isinstance(value, dict):
        items = [
            [to_json(key, f"{where} key"), to_json(item, f"{where}[{key!r}]")]
            for key, item in value.items()
        ]
        return {_TYPE: "dict", "value": items}
    raise TypeError(
        f"{where} is a {type(value).__name__} ({value!r:.60}), which save() cannot "
        "store without pickle."
    )


def from_json(value: Any) -> Any:
    """The inverse of :func:`to_json` (plain JSON comes back as it is)."""
    if isinstance(value, list):
        return [from_json(item) for item in value]
    if not isinstance(value, dict):
        return value
    kind = value.get(_TYPE)
    if kind == "scalar":
        return np.asarray(value["value"], dtype=np.dtype(value["dtype"]))[()]
    if kind == "array":
        return np.asarray(value["value"], dtype=np.dtype(value["dtype"]))
    if kind == "tuple":
        return tuple(from_json(item) for item in value["value"])
    if kind == "dict":
        return {from_json(key): from_json(item) for key, item in value["value"]}
    return {key: from_json(item) for key, item in value.items()}


def params_to_json(estimator: Any) -> dict[str, Any]:
    """The estimator's parameters as typed JSON, or a clear error.

    A path becomes a str, and a RandomState instance None (its state is not a
    parameter worth keeping); a callable ``scoring`` cannot be stored.
    """
    params = estimator.get_params(deep=False)
    name = type(estimator).__name__
    if callable(params.get("scoring")):
        raise TypeError(
            f"The 'scoring' parameter of {name} is a callable "
            f"({params['scoring']!r:.60}), which save() cannot store without "
            "pickle. Set a scorer name (set_params(scoring='...')) before saving, "
            "or save with joblib.dump, which pickles it."
        )
    params["model_name_or_path"] = os.fspath(params["model_name_or_path"])
    state = params["random_state"]
    if not (state is None or isinstance(state, (int, np.integer))):
        params["random_state"] = None
    return {
        key: to_json(value, f"The {key!r} parameter of {name}")
        for key, value in params.items()
    }


def save_estimator(
    estimator: Any, path: str | os.PathLike, merge: bool = False
) -> None:
    """Write a fitted estimator's directory (see :func:`save_directory`);
    ``merge``: an adapter folded into the weights, saved as a whole model."""
    import torch
    import transformers

    from . import __version__

    attributes = (*FITTED_JSON, *estimator._spec_attributes)
    meta = {
        "skbert_version": __version__,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "estimator": type(estimator).__name__,
        "params": params_to_json(estimator),
        "device": str(estimator.device_),
        "attributes": {
            name: to_json(getattr(estimator, name), name) for name in attributes
        },
    }
    scaling = estimator._saved_output_scaling()
    model = _hub.merged(estimator.model_) if merge else estimator.model_
    files = export_files(model, estimator.tokenizer_, scaling)
    save_directory(path, files, meta)


def load_estimator(path: str | os.PathLike, cls: type) -> Any:
    """The estimator saved at ``path``; it must be a ``cls`` (or a subclass).

    ``cls`` may be the common base, which loads any skbert estimator.
    """
    meta, model, tokenizer = load_directory(path)
    name = meta.get("estimator", "BertTextClassifier")  # format 1 had classifiers
    found = next((c for c in _subclasses(cls) if c.__name__ == name), None)
    if found is None:
        raise CorruptModelError(
            f"{path} holds a {name}, not a {cls.__name__}; load it with "
            f"skbert.load or {name}.load."
        )
    estimator = found(**from_json(meta["params"]))
    attributes = {k: from_json(v) for k, v in meta["attributes"].items()}
    attributes = {**estimator._spec_defaults, **attributes}
    if "classes" in meta:  # format 1
        attributes["classes_"] = classes_from_json(meta["classes"])
    for key, value in attributes.items():
        setattr(estimator, key, value)
    scaling = estimator._saved_output_scaling()
    if scaling is not None:
        from ._engine import scale_outputs

        scale, shift = scaling
        scale_outputs(model, 1.0 / scale, -shift / scale)
    attach(estimator, model, tokenizer, meta["device"])
    return estimator


ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"


def export_onnx(estimator: Any, path: str | os.PathLike, quantize: str | None) -> None:
    """Write ``estimator`` as an ONNX directory that :func:`skbert.onnx.load` serves.

    The directory holds ``model.onnx`` (logits, or standardised outputs of a
    regressor), the tokenizer's ``tokenizer.json`` and ``skbert.json`` with what
    prediction needs besides: the task, its spec (classes, thresholds, target
    scaling), ``max_length_``, the ``long_text`` settings and the batch size
    (texts and, on the CPU, padded tokens; see :func:`_engine.batch_tokens`).
    Written atomically with a sha256 per file, as :meth:`save` writes.
    """
    from . import __version__, _engine

    tokenizer = estimator.tokenizer_
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in tokenizer.model_input_names:
        names.append("token_type_ids")
    with tempfile.TemporaryDirectory(prefix="skbert-onnx-") as tmp:
        graph = Path(tmp) / ONNX_FILE
        _engine.export_onnx_graph(
            _hub.merged(estimator.model_), str(graph), names, estimator.max_length_
        )
        if quantize == "int8":
            _quantize_onnx(graph)
        _hub.save_pretrained_tokenizer(tokenizer, tmp)
        files = {
            ONNX_FILE: graph.read_bytes(),
            TOKENIZER_FILE: (Path(tmp) / TOKENIZER_FILE).read_bytes(),
        }
    spec = {name: getattr(estimator, name) for name in estimator._spec_attributes}
    params = estimator.get_params(deep=False)
    meta = {
        "kind": "onnx",
        "skbert_version": __version__,
        "estimator": type(estimator).__name__,
        "quantize": quantize,
        "input_names": names,
        "pad_token_id": _pad_id(tokenizer),
        "max_length": int(estimator.max_length_),
        "batch_size": 2 * int(params["batch_size"]),
        "max_tokens": _engine.batch_tokens(estimator.model_.config, "cpu"),
        "reading": {
            "long_text": str(params["long_text"]),
            "stride": int(params["stride"]),
            "head_ratio": float(params["head_ratio"]),
        },
        "threshold": to_json(params.get("threshold"), "threshold"),
        "calibrate": bool(params.get("calibrate", False)),
        "pair_encoding": _hub.pair_encoding_of(estimator.model_),
        "spec": {name: to_json(value, name) for name, value in spec.items()},
    }
    save_directory(path, files, meta)


def _pad_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id
    return int(pad) if pad is not None else 0


def _quantize_onnx(graph: Path) -> None:
    """Replace ``graph`` by onnxruntime's dynamic int8 quantisation of it."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantized = graph.with_name("int8.onnx")
    logging.disable(logging.WARNING)  # its advice goes to the root logger
    try:
        quantize_dynamic(
            graph, quantized, weight_type=QuantType.QInt8, per_channel=True
        )
    finally:
        logging.disable(logging.NOTSET)
    quantized.replace(graph)


def _subclasses(cls: type) -> list[type]:
    found, todo = [], [cls]
    while todo:
        klass = todo.pop()
        found.append(klass)
        todo.extend(klass.__subclasses__())
    return found


def pickled_state(estimator: Any, state: dict[str, Any]) -> dict[str, Any]:
    """The pickle state: the model as files, the device by name, no optimizer.

    ``state`` may be the live ``__dict__`` (object.__getstate__): never mutate it.
    AdamW's state kept between ``partial_fit`` calls is not pickled; the next
    ``partial_fit`` after unpickling starts a fresh optimizer.
    """
    state = dict(state)
    state.pop("_optimizer_state", None)
    state.pop("_quantized", None)  # rebuilt from the weights on first use
    if "model_" in state:
        state["model_"] = export_files(state["model_"], state.pop("tokenizer_"))
        state["device_"] = str(state["device_"])
    return state


def unpickled_model(
    state: dict[str, Any], encoder: bool = False
) -> tuple[Any, Any, str] | None:
    """Pop the model files from a pickle state: ``(model, tokenizer, device)``."""
    files = state.pop("model_", None)
    device = state.pop("device_", None)
    if files is None:
        return None
    return (*import_files(files, encoder), device)


def attach(estimator: Any, model: Any, tokenizer: Any, device: str) -> None:
    """Place a loaded model on ``device``, or on the CPU if that is missing."""
    from ._device import resolve_device

    try:
        target = resolve_device(device)
    except ValueError:
        warn(
            f"This model was fitted on {device!r}, which is not available "
            "here; it was loaded on the CPU instead.",
            DeviceFallbackWarning,
        )
        target = resolve_device("cpu")
    estimator.model_ = model.to(target).eval()
    estimator.tokenizer_ = tokenizer
    estimator.device_ = target


def classes_from_json(data: dict[str, Any]) -> np.ndarray:
    """Labels as format 1 stored them."""
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
    if meta.get("kind") == "onnx":
        raise CorruptModelError(
            f"{directory} holds an ONNX export (export_onnx); load it with "
            "skbert.onnx.load, which serves it with onnxruntime."
        )
    require_fields(directory, meta, SAVED_FIELDS)
    verify_files(directory, meta["files"])
    model, tokenizer = _hub.load_saved(str(directory))
    return meta, model, tokenizer


def read_meta(directory: Path, loader: str = "skbert.load") -> dict[str, Any]:
    """The parsed ``skbert.json`` of ``directory``, in a format this skbert reads.

    ``loader`` names the function in the messages: ``skbert.load`` expects a
    directory written by ``save()``, ``skbert.onnx.load`` one by ``export_onnx()``.
    """
    writer = "export_onnx()" if loader == "skbert.onnx.load" else "save()"
    if not directory.is_dir():
        raise CorruptModelError(
            f"{directory} is not a directory; {loader} expects a directory "
            f"written by an skbert estimator's {writer}."
        )
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise CorruptModelError(
            f"{directory} has no {META_FILE}, so it was not written by "
            f"an skbert estimator's {writer} (a plain Hugging Face model directory "
            "can be fine-tuned with BertTextClassifier(model_name_or_path=...) "
            "instead)."
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptModelError(f"{meta_path} is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict) or "format_version" not in meta:
        raise CorruptModelError(f"{meta_path} has no format_version field.")
    if meta["format_version"] not in READABLE_FORMATS:
        raise CorruptModelError(
            f"{meta_path} has format version {meta['format_version']!r}; this "
            f"skbert reads format version {FORMAT_VERSION}. Load it with the skbert "
            f"version that wrote it ({meta.get('skbert_version', 'unknown')})."
        )
    _warn_on_version_change(meta_path, meta.get("skbert_version"))
    return meta


# The fields of skbert.json that loading reads, besides format_version.
SAVED_FIELDS = ("files", "params", "attributes", "device")
ONNX_FIELDS = (
    "files",
    "estimator",
    "quantize",
    "input_names",
    "pad_token_id",
    "max_length",
    "batch_size",
    "reading",
    "threshold",
    "spec",
)


def require_fields(
    directory: Path, meta: dict[str, Any], fields: tuple[str, ...]
) -> None:
    """Raise :class:`CorruptModelError` naming the file unless ``meta`` has
    every one of ``fields`` and its file list maps names to digests."""
    meta_path = directory / META_FILE
    missing = [name for name in fields if name not in meta]
    if missing:
        raise CorruptModelError(
            f"{meta_path} lacks the field{'s' * (len(missing) > 1)} "
            f"{', '.join(map(repr, missing))}; it was edited or damaged. Save or "
            "export the model again."
        )
    files = meta["files"]
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        raise CorruptModelError(
            f"{meta_path}: 'files' must map each file name to its sha256, got "
            f"{files!r:.80}; it was edited or damaged. Save or export the model "
            "again."
        )


def _warn_on_version_change(meta_path: Path, saved: str | None) -> None:
    from . import __version__

    if saved != __version__:
        warn(
            f"{meta_path} was written by skbert {saved}; this is skbert "
            f"{__version__}. Check its predictions before relying on them.",
            SkbertVersionWarning,
        )


def verify_files(directory: Path, digests: dict[str, str]) -> None:
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
