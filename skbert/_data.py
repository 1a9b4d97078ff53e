"""Input checks, label encoding, tokenisation and batching; knows no device.

Texts are tokenised once per ``fit`` into unpadded id arrays. Training batches group
texts of similar length (shuffled within and across groups) and each batch is padded
only to its longest text; inference batches are sorted by length and the caller
restores the original order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.utils.multiclass import check_classification_targets
from tqdm.auto import tqdm

# Training batches are sorted by length inside windows of this many batches, so
# batches stay random while padding shrinks (as in transformers' length grouping).
_GROUPING_WINDOW = 50


def check_texts(X: Any, name: str = "X") -> list[str]:
    """Return ``X`` as a list of str, or raise naming what is wrong and where."""
    if isinstance(X, (str, bytes)):
        raise TypeError(
            f"Expected an iterable of strings for {name}, got a single "
            f"{type(X).__name__}. Wrap it in a list: [{name}]."
        )
    if X is None:
        raise TypeError(f"Expected an iterable of strings for {name}, got None.")
    ndim = getattr(X, "ndim", 1)
    if ndim != 1:
        shape = getattr(X, "shape", None)
        raise ValueError(
            f"Expected a 1-D sequence of strings for {name}, got an array of shape "
            f"{shape}. Pass one text per sample (select a single column)."
        )
    if isinstance(X, (set, frozenset, dict)):
        raise TypeError(
            f"Expected an ordered sequence of strings for {name}, got a "
            f"{type(X).__name__}, whose order does not match any labels. Pass a list."
        )
    if not isinstance(X, Iterable):
        raise TypeError(
            f"Expected an iterable of strings for {name}, got {type(X).__name__}."
        )
    texts = list(X)
    for index, item in enumerate(texts):
        if not isinstance(item, str):
            raise TypeError(_describe_bad_item(item, index, name))
    if not texts:
        raise ValueError(f"{name} is empty; expected at least one text.")
    return [str(text) for text in texts]


def _describe_bad_item(item: Any, index: int, name: str) -> str:
    if item is None:
        what = "is None"
    elif isinstance(item, float) and math.isnan(item):
        what = "is NaN (a missing value)"
    elif type(item).__name__ in ("NAType", "NaTType"):
        what = f"is {item} (a missing value)"
    elif isinstance(item, (bytes, bytearray)):
        return (
            f"Item {index} of {name} is bytes, not str; decode it first, "
            "for example text.decode('utf-8')."
        )
    else:
        kind = type(item).__name__
        article = "an" if kind[0].lower() in "aeiou" else "a"
        what = f"is {article} {kind} ({item!r:.50}), not a str"
    return (
        f"Item {index} of {name} {what}; every item must be a string. "
        "Drop or fill missing texts before calling."
    )


def encode_labels(y: Any, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(classes, codes)``: the sorted original labels and an int index each."""
    if y is None:
        raise ValueError(
            "y is None; BertTextClassifier.fit needs one label per text in X."
        )
    if isinstance(y, str):
        raise TypeError("Expected an iterable of labels for y, got a single str.")
    values = y if hasattr(y, "__array__") else list(y)
    labels = np.asarray(values)
    if labels.ndim != 1:
        raise ValueError(
            f"y must be 1-D (one label per text), got an array of shape "
            f"{labels.shape}. Multi-label targets are not supported."
        )
    if labels.shape[0] != n_samples:
        raise ValueError(
            f"X has {n_samples} texts but y has {labels.shape[0]} labels; "
            "they must be the same length."
        )
    if labels.dtype == object or not hasattr(values, "__array__"):
        # np.asarray would silently turn [1, "a"] into strings.
        _check_one_kind(labels.tolist() if labels.dtype == object else values)
    check_classification_targets(labels)
    classes, codes = np.unique(labels, return_inverse=True)
    if classes.shape[0] < 2:
        raise ValueError(
            f"y has a single class ({classes.tolist()[0]!r}); a classifier needs "
            "at least two classes."
        )
    return classes, codes.astype(np.int64)


def sample_weights(
    sample_weight: Any,
    class_weight: Any,
    classes: np.ndarray,
    targets: np.ndarray,
    *,
    balanced_on: np.ndarray | None = None,
    name: str = "sample_weight",
) -> np.ndarray:
    """Per-text loss weights: ``sample_weight`` times the class's weight.

    ``class_weight`` is None, "balanced" (n_samples / (n_classes * count)) or a dict
    keyed by original labels, with scikit-learn's semantics and errors. "balanced"
    counts the classes in ``balanced_on`` (default ``targets``): validation texts
    take the weights of the training data. ``name`` is what messages call
    ``sample_weight``.
    """
    from sklearn.utils.class_weight import compute_class_weight
    from sklearn.utils.validation import _check_sample_weight

    n_samples = len(targets)
    shape = np.shape(sample_weight)
    if sample_weight is not None and shape not in ((), (n_samples,)):
        raise ValueError(
            f"{name} has shape {shape}; expected ({n_samples},), one weight per text."
        )
    try:
        weights = _check_sample_weight(
            sample_weight,
            np.empty((n_samples, 1)),
            dtype=np.float64,
            ensure_non_negative=True,
        )
    except ValueError as exc:
        if name == "sample_weight":
            raise
        raise ValueError(f"{name}: {exc}") from exc
    if class_weight is not None:
        counted = targets if balanced_on is None else balanced_on
        per_class = compute_class_weight(
            class_weight, classes=classes, y=classes[counted]
        )
        weights = weights * per_class[targets]
    if not weights.sum() > 0:
        raise ValueError(
            f"{name} and class_weight leave every text with weight 0; at "
            "least one text needs a positive weight."
        )
    return weights


def validation_split(
    targets: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a stratified ``(train, validation)`` split, seeded."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(targets))
    try:
        train, validation = train_test_split(
            indices, test_size=fraction, stratify=targets, random_state=seed
        )
    except ValueError as exc:
        raise ValueError(
            f"early_stopping cannot hold out a stratified validation_fraction="
            f"{fraction} of {len(targets)} texts in {np.unique(targets).size} "
            f"classes: {exc} Use more texts, a larger validation_fraction, or "
            "early_stopping=False."
        ) from exc
    return np.sort(train), np.sort(validation)


def encode_with_classes(
    y: Any,
    n_samples: int,
    classes: np.ndarray,
    names: tuple[str, str, str] = ("X", "y", "classes_"),
) -> np.ndarray:
    """Codes of ``y`` in the known ``classes`` (partial_fit, warm starts, y_val).

    ``names`` are what the messages call the texts, the labels and the known
    classes.
    """
    x_name, y_name, known = names
    labels = np.asarray(y if hasattr(y, "__array__") else list(y))
    if labels.ndim != 1 or labels.shape[0] != n_samples:
        raise ValueError(
            f"{x_name} has {n_samples} texts but {y_name} has shape "
            f"{labels.shape}; pass one label per text."
        )
    unknown = np.setdiff1d(labels, classes)
    if unknown.size:
        raise ValueError(
            f"{y_name} has classes not in {known}: {unknown.tolist()}. {known} has "
            f"{classes.tolist()}."
        )
    return np.searchsorted(classes, labels).astype(np.int64)


def _check_one_kind(values: Iterable[Any]) -> None:
    kinds = {_label_kind(value) for value in values}
    if len(kinds) > 1 and not kinds <= {"int", "float"}:  # numbers mix, as in sklearn
        raise ValueError(
            f"y mixes label types ({', '.join(sorted(kinds))}); use labels of a "
            "single type, for example all str or all int."
        )


def _label_kind(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    return type(value).__name__


def tokenize(
    tokenizer: Any, texts: Sequence[str], max_length: int, verbose: int = 0
) -> list[np.ndarray]:
    """Token ids of each text, truncated to ``max_length`` and unpadded.

    Special-token strings in the text (a literal "[SEP]") are split as ordinary
    text, never turned into control tokens. A lone surrogate ("\\ud800": a valid
    Python str that UTF-8 cannot encode, which the Rust tokenizer rejects with a
    TypeError) becomes U+FFFD, which BERT's normaliser drops like a control
    character; a surrogate pair becomes the character it encodes.

    Texts go to the tokenizer in chunks, at the same speed: in one call its
    intermediate objects (every token string and offset, and the truncated-off
    tail of long texts) raised the peak memory of predicting 200,000 short texts
    by 774 MB; in chunks of 4,096, by 78 MB, most of it the returned arrays.
    ``verbose`` >= 1 shows a progress bar over the chunks.
    """
    chunk_size, utf16 = 4096, "utf-16-le"
    ids: list[np.ndarray] = []
    starts = range(0, len(texts), chunk_size)
    for start in tqdm(starts, desc="Tokenising", disable=verbose < 1, leave=False):
        chunk = [
            text
            if text.isascii()
            else text.encode(utf16, "surrogatepass").decode(utf16, "replace")
            for text in texts[start : start + chunk_size]
        ]
        encoded = tokenizer(
            chunk,
            add_special_tokens=True,
            truncation=True,
            max_length=max_length,
            padding=False,
            split_special_tokens=True,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        ids.extend(np.asarray(x, dtype=np.int64) for x in encoded)
    return ids


def pad_id_of(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id
    return int(pad) if pad is not None else 0


def collate(
    ids: Sequence[np.ndarray], indices: np.ndarray, pad_id: int
) -> dict[str, torch.Tensor]:
    """Stack the texts at ``indices``, padded to the longest of them."""
    width = max(len(ids[i]) for i in indices)
    input_ids = np.full((len(indices), width), pad_id, dtype=np.int64)
    attention = np.zeros((len(indices), width), dtype=np.int64)
    for row, i in enumerate(indices):
        length = len(ids[i])
        input_ids[row, :length] = ids[i]
        attention[row, :length] = 1
    return {
        "input_ids": torch.from_numpy(input_ids),
        "attention_mask": torch.from_numpy(attention),
    }


class TrainBatches:
    """Length-grouped, shuffled training batches; a fresh order each epoch.

    The order of epoch ``e`` depends only on ``seed`` and ``e``.
    """

    def __init__(
        self,
        ids: Sequence[np.ndarray],
        targets: np.ndarray,
        batch_size: int,
        pad_id: int,
        seed: int,
        weights: np.ndarray | None = None,
    ) -> None:
        self.ids = ids
        self.targets = torch.as_tensor(targets)
        self.weights = torch.as_tensor(
            np.ones(len(ids)) if weights is None else weights, dtype=torch.float32
        )
        self.batch_size = batch_size
        self.pad_id = pad_id
        self.seed = seed
        self.lengths = np.fromiter((len(x) for x in ids), dtype=np.int64)

    def __len__(self) -> int:
        return math.ceil(len(self.ids) / self.batch_size)

    @property
    def n_samples(self) -> int:
        return len(self.ids)

    def epoch(
        self, index: int
    ) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]]:
        """``(inputs, targets, sample weights)`` of each batch of epoch ``index``."""
        rng = np.random.default_rng([self.seed, index])
        for batch in grouped_batches(self.lengths, self.batch_size, rng):
            inputs = collate(self.ids, batch, self.pad_id)
            yield inputs, self.targets[batch], self.weights[batch]


def grouped_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Shuffle, sort by length inside windows of batches, then shuffle the batches."""
    order = rng.permutation(len(lengths))
    window = batch_size * _GROUPING_WINDOW
    batches = []
    for start in range(0, len(order), window):
        chunk = order[start : start + window]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches.extend(
            chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)
        )
    return [batches[i] for i in rng.permutation(len(batches))]


def sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Inference batches of texts sorted by length (longest first)."""
    order = np.argsort(-lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
