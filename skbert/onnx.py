"""Serve a model exported by ``export_onnx`` with onnxruntime, without torch.

Usage, where ``clf.export_onnx("exported/")`` wrote the directory::

    import skbert.onnx

    model = skbert.onnx.load("exported/")
    model.predict(["a new review"])

Importing this module imports neither torch nor transformers, and loading and
predicting import only onnxruntime, tokenizers (the Rust tokenizer that
transformers' fast tokenizers wrap) and NumPy. Texts are checked, tokenised,
read as ``long_text`` says and batched by length exactly as the estimator does,
with the same code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from . import _data, _outputs, _persistence
from .exceptions import CorruptModelError

__all__ = ["OnnxPredictor", "load"]

#: onnxruntime graph rewrites the predictor turns off. ``SkipLayerNormFusion``
#: merges each residual Add with its LayerNorm into one kernel, which in
#: onnxruntime 1.32 is slower on the CPU than the two it replaces: a forward pass
#: of MiniLM-L6 on 64 x 128 tokens (1 idle AVX-512 core) took 1.08x PyTorch's
#: time with it and 1.00x without, the same outputs.
DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]


def load(
    path: str | os.PathLike,
    *,
    providers: list[str] | None = None,
    session_options: Any = None,
) -> OnnxPredictor:
    """Load a directory written by an estimator's ``export_onnx``.

    Every file is checked against the sha256 recorded at export. Returns an
    :class:`OnnxPredictor`.

    Parameters
    ----------
    path : str or os.PathLike
        The exported directory.
    providers : list of str, default=None
        onnxruntime execution providers, in order of preference; None is
        ``["CPUExecutionProvider"]``.
    session_options : onnxruntime.SessionOptions, default=None
        The session's options, for example ``intra_op_num_threads``; None is
        onnxruntime's defaults. Either way the graph rewrites in
        :data:`DISABLED_OPTIMIZERS` stay off.

    Examples
    --------
    The example exports a classifier fitted on a tiny random test model.

    >>> import tempfile
    >>> import numpy as np
    >>> import skbert.onnx
    >>> from skbert import BertTextClassifier
    >>> texts = ["good film", "bad film", "great plot", "awful plot"]
    >>> clf = BertTextClassifier(tiny_model, epochs=1, random_state=0)
    >>> clf = clf.fit(texts, ["pos", "neg", "pos", "neg"])
    >>> path = tempfile.mkdtemp() + "/exported"
    >>> clf.export_onnx(path)
    >>> model = skbert.onnx.load(path)
    >>> model
    OnnxPredictor(BertTextClassifier, quantize=None)
    >>> model.classes_
    array(['neg', 'pos'], dtype='<U3')
    >>> np.allclose(model.predict_proba(texts), clf.predict_proba(texts), atol=1e-5)
    True
    """
    return OnnxPredictor(path, providers, session_options)


class OnnxPredictor:
    """An exported classifier or regressor, predicting with onnxruntime.

    Has the estimator's prediction methods: ``predict``, ``predict_proba`` and
    ``decision_function`` for a classifier (single- or multi-label), ``predict``
    for a regressor; and its fitted attributes ``classes_``, ``multilabel_``,
    ``thresholds_`` (classifier) or ``n_outputs_``, ``target_mean_``,
    ``target_scale_`` (regressor). ``threshold`` and ``calibrate`` are the
    estimator's at export and may be changed here.

    Parameters
    ----------
    path : str or os.PathLike
        A directory written by ``export_onnx``.
    providers : list of str, default=None
        onnxruntime execution providers; None is the CPU.
    session_options : onnxruntime.SessionOptions, default=None
        The session's options; None is onnxruntime's defaults.

    Attributes
    ----------
    estimator : str
        The exported estimator's class name.
    quantize : None or "int8"
        The ``quantize`` argument of the export.
    threshold : float or "auto"
        Multi-label only: the estimator's ``threshold`` at export; may be set.
    calibrate : bool
        Classifier only: the estimator's ``calibrate`` at export; may be set.
    classes_ : ndarray of shape (n_classes,)
        Classifier only: the labels ``predict`` returns.
    multilabel_ : bool
        Classifier only: whether the model is multi-label.
    thresholds_ : ndarray of shape (n_labels,) or None
        Classifier only: the tuned per-label thresholds, as the estimator's.
    temperature_ : float, ndarray of shape (n_labels,) or None
        Classifier only: the fitted temperature, as the estimator's.
    n_outputs_ : int
        Regressor only: the number of targets per input.
    target_mean_ : ndarray of shape (n_outputs,)
        Regressor only: the target scaling, as the estimator's.
    target_scale_ : ndarray of shape (n_outputs,)
        Regressor only: the target scaling, as the estimator's.

    See Also
    --------
    load : Load an exported directory, checking every file.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        providers: list[str] | None = None,
        session_options: Any = None,
    ) -> None:
        directory = Path(path).expanduser()
        meta = _persistence.read_meta(directory, "skbert.onnx.load")
        if meta.get("kind") != "onnx":
            raise CorruptModelError(
                f"{directory} was written by save(), not export_onnx(); load it "
                "with skbert.load, or export it with export_onnx."
            )
        _persistence.require_fields(directory, meta, _persistence.ONNX_FIELDS)
        _persistence.verify_files(directory, meta["files"])
        self.estimator = meta["estimator"]
        self.quantize = meta["quantize"]
        self.threshold = _persistence.from_json(meta["threshold"])
        self.calibrate = bool(meta.get("calibrate", False))  # older exports lack it
        for name, value in meta["spec"].items():
            setattr(self, name, _persistence.from_json(value))
        self._meta = meta
        self._input_names = list(meta["input_names"])
        self._tokenizer = _RustTokenizer(
            directory / _persistence.TOKENIZER_FILE,
            meta["pad_token_id"],
            self._input_names,
        )
        self._reading = _data.Reading(**meta["reading"])
        self._session = _session(
            directory / _persistence.ONNX_FILE, providers, session_options
        )

    def __repr__(self) -> str:
        return f"OnnxPredictor({self.estimator}, quantize={self.quantize!r})"

    @property
    def _classifier(self) -> bool:
        return hasattr(self, "classes_")

    def _outputs(self, X: Any) -> np.ndarray:
        """Raw outputs, one row per input (windows averaged), as the estimator's."""
        inputs = _data.check_inputs(X)
        _data.check_pairing(
            _data.holds_pairs(inputs),
            self._meta.get("pair_encoding", "cross"),  # older exports lack it
            f"{self.estimator} (exported)",
            "X",
        )
        encoded = _data.tokenize(
            self._tokenizer, inputs, self._meta["max_length"], 0, self._reading
        )
        out: np.ndarray | None = None
        for indices, batch in _data.inference_batches(
            encoded,
            self._meta["batch_size"],
            self._meta["pad_token_id"],
            self._meta.get("max_tokens"),  # absent from older exports: no limit
        ):
            feed = {name: batch.get(name) for name in self._input_names}
            if feed.get("token_type_ids") is None and "token_type_ids" in feed:
                feed["token_type_ids"] = np.zeros_like(batch["input_ids"])
            rows = self._session.run(["logits"], feed)[0]
            if out is None:
                out = np.empty((len(encoded), rows.shape[1]), dtype=np.float32)
            out[indices] = rows
        assert out is not None
        return encoded.pool(out)

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits, as the classifier's ``decision_function``."""
        self._need_classifier("decision_function")
        return _outputs.decision_scores(self._logits(X), self.multilabel_)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities, as the classifier's ``predict_proba``."""
        self._need_classifier("predict_proba")
        return _outputs.probabilities(self._logits(X), self.multilabel_)

    def predict(self, X: Any) -> np.ndarray:
        """Labels (or a multi-label 0/1 matrix), or a regressor's targets."""
        if not self._classifier:
            outputs = self._outputs(X)
            return _outputs.in_units(outputs, self.target_mean_, self.target_scale_)
        outputs = self._logits(X)
        thresholds: Any = 0.5
        if self.multilabel_:
            thresholds = _outputs.label_thresholds(
                self.threshold,
                self.thresholds_,
                "set a float threshold on this predictor.",
            )
        return _outputs.labels(outputs, self.classes_, self.multilabel_, thresholds)

    def _logits(self, X: Any) -> np.ndarray:
        """A classifier's logits, divided by its temperature with ``calibrate``."""
        temperature = _outputs.temperature_in_use(
            self.calibrate,
            getattr(self, "temperature_", None),  # older exports lack it
            "set calibrate=False on this predictor.",
        )
        return _outputs.calibrated(self._outputs(X), temperature)

    def _need_classifier(self, method: str) -> None:
        if not self._classifier:
            raise AttributeError(
                f"This {self.estimator} has no {method}; a regressor predicts "
                "with predict."
            )


def _session(graph: Path, providers: list[str] | None, options: Any) -> Any:
    """An onnxruntime session of ``graph``; a graph it cannot read is named.

    The file's sha256 matched, so a graph that fails to load was written that
    way: by a newer exporter (an IR version or opset this onnxruntime lacks)
    or damaged before its digest was recorded.
    """
    import onnxruntime
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    unreadable = (state.Fail, state.InvalidGraph, state.InvalidProtobuf)
    try:
        return onnxruntime.InferenceSession(
            str(graph),
            options,
            providers=providers or ["CPUExecutionProvider"],
            disabled_optimizers=DISABLED_OPTIMIZERS,
        )
    except (*unreadable, state.NotImplemented) as exc:
        reason = str(exc).split("failed:", 1)[-1].strip()  # after its own path
        raise CorruptModelError(
            f"{graph} cannot be loaded by onnxruntime {onnxruntime.__version__}: "
            f"{reason.rstrip('.')}. It is damaged, or was exported for a newer "
            "onnxruntime: upgrade onnxruntime, or export the model again."
        ) from exc


class _RustTokenizer:
    """The part of a transformers fast tokenizer that ``_data.tokenize`` calls,
    on the Rust ``tokenizers.Tokenizer`` that it wraps."""

    def __init__(self, path: Path, pad_token_id: int, input_names: list[str]) -> None:
        from tokenizers import Tokenizer

        try:
            self._tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception
            reason = str(exc).rstrip(".")
            raise CorruptModelError(
                f"{path} cannot be read by tokenizers: {reason}. It is damaged, or "
                "was written by a newer tokenizers: export the model again."
            ) from exc
        self._tokenizer.no_padding()
        self._tokenizer.encode_special_tokens = True  # "[SEP]" in a text is text
        self.pad_token_id = pad_token_id
        self.model_input_names = input_names

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        processor = self._tokenizer.post_processor
        return 0 if processor is None else processor.num_special_tokens_to_add(pair)

    def __call__(
        self,
        text: Any,
        text_pair: Any = None,
        *,
        add_special_tokens: bool = True,
        truncation: Any = False,
        max_length: int | None = None,
        **ignored: Any,
    ) -> dict[str, Any]:
        single = isinstance(text, str)
        firsts = [text] if single else list(text)
        if text_pair is None:
            batch: list[Any] = firsts
        else:
            seconds = [text_pair] if single else list(text_pair)
            batch = list(zip(firsts, seconds, strict=True))
        if truncation and max_length is not None:
            self._tokenizer.enable_truncation(max_length, strategy="longest_first")
        else:
            self._tokenizer.no_truncation()
        encodings = self._tokenizer.encode_batch(
            batch, add_special_tokens=add_special_tokens
        )
        ids = [encoding.ids for encoding in encodings]
        types = [encoding.type_ids for encoding in encodings]
        if single:
            return {"input_ids": ids[0], "token_type_ids": types[0]}
        return {"input_ids": ids, "token_type_ids": types}
