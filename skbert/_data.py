"""Input checks, targets, tokenisation and batching; knows no device.

``X`` is either texts (an iterable of str) or text pairs (2-tuples, an ``(n, 2)``
array or a two-column DataFrame); a pair is encoded as one sequence with segment
ids, as transformers does for ``tokenizer(text, text_pair)``. Texts and pairs are
tokenised once per ``fit`` into unpadded id arrays. Training batches group
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


Inputs = list[str] | list[tuple[str, str]]


def check_inputs(X: Any, name: str = "X") -> Inputs:
    """Return ``X`` as a list of str or a list of ``(str, str)`` pairs.

    Pairs come as 2-tuples (or 2-lists), an ``(n, 2)`` array of str, or a
    DataFrame with two columns. Anything else raises naming what is wrong and
    where: the row, and which text of a pair.
    """
    _reject_non_sequences(X, name)
    shape = getattr(X, "shape", None)
    if getattr(X, "ndim", 1) == 2 and shape is not None:
        if shape[1] != 2:
            raise ValueError(
                f"Expected a 1-D sequence of strings for {name} (or two columns of "
                f"text pairs), got an array of shape {shape}. Pass one text per "
                "sample (select a single column), or one text pair per row."
            )
        rows = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
        return _check_pairs([tuple(row) for row in rows], name)
    if getattr(X, "ndim", 1) != 1:
        raise ValueError(
            f"Expected a 1-D sequence of strings for {name}, got an array of shape "
            f"{shape}. Pass one text per sample (select a single column)."
        )
    items = list(X)
    if not items:
        raise ValueError(f"{name} is empty; expected at least one text.")
    if isinstance(items[0], (tuple, list, np.ndarray)):
        return _check_pairs(items, name)
    for index, item in enumerate(items):
        if isinstance(item, (tuple, list, np.ndarray)):
            raise TypeError(
                f"Item {index} of {name} is a {type(item).__name__} (a text pair?) "
                f"but item 0 is a single text; {name} must hold only texts or only "
                "text pairs."
            )
        if not isinstance(item, str):
            raise TypeError(_describe_bad_item(item, index, name))
    return [str(text) for text in items]


def check_texts(X: Any, name: str = "X") -> list[str]:
    """Return ``X`` as a list of str; text pairs are refused."""
    inputs = check_inputs(X, name)
    if isinstance(inputs[0], tuple):
        raise ValueError(
            f"{name} holds text pairs, but only single texts are accepted here."
        )
    return inputs  # type: ignore[return-value]


def _reject_non_sequences(X: Any, name: str) -> None:
    if isinstance(X, (str, bytes)):
        raise TypeError(
            f"Expected an iterable of strings for {name}, got a single "
            f"{type(X).__name__}. Wrap it in a list: [{name}]."
        )
    if X is None:
        raise TypeError(f"Expected an iterable of strings for {name}, got None.")
    if isinstance(X, (set, frozenset, dict)):
        raise TypeError(
            f"Expected an ordered sequence of strings for {name}, got a "
            f"{type(X).__name__}, whose order does not match any labels. Pass a list."
        )
    if not isinstance(X, Iterable):
        raise TypeError(
            f"Expected an iterable of strings for {name}, got {type(X).__name__}."
        )


def _check_pairs(items: list[Any], name: str) -> list[tuple[str, str]]:
    if not items:
        raise ValueError(f"{name} is empty; expected at least one text pair.")
    pairs = []
    for index, item in enumerate(items):
        if not isinstance(item, (tuple, list, np.ndarray)):
            raise TypeError(
                f"Item {index} of {name} is a {type(item).__name__}, but item 0 is "
                f"a text pair; {name} must hold only texts or only text pairs."
            )
        if len(item) != 2:
            raise TypeError(
                f"Item {index} of {name} is a {type(item).__name__} ({item!r:.50}), "
                f"not a str or a text pair: it has {len(item)} part(s), a pair has "
                "exactly two texts (text, text_pair)."
            )
        for part, text in zip(("first", "second"), item, strict=True):
            if not isinstance(text, str):
                raise TypeError(
                    _describe_bad_item(text, index, name, f" ({part} text)")
                )
        pairs.append((str(item[0]), str(item[1])))
    return pairs


def _describe_bad_item(item: Any, index: int, name: str, part: str = "") -> str:
    if item is None:
        what = "is None"
    elif isinstance(item, float) and math.isnan(item):
        what = "is NaN (a missing value)"
    elif type(item).__name__ in ("NAType", "NaTType"):
        what = f"is {item} (a missing value)"
    elif isinstance(item, (bytes, bytearray)):
        return (
            f"Item {index} of {name}{part} is bytes, not str; decode it first, "
            "for example text.decode('utf-8')."
        )
    else:
        kind = type(item).__name__
        article = "an" if kind[0].lower() in "aeiou" else "a"
        what = f"is {article} {kind} ({item!r:.50}), not a str"
    return (
        f"Item {index} of {name}{part} {what}; every item must be a string. "
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
    targets: np.ndarray, fraction: float, seed: int, *, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a seeded ``(train, validation)`` split, stratified by class."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(targets))
    try:
        train, validation = train_test_split(
            indices,
            test_size=fraction,
            stratify=targets if stratify else None,
            random_state=seed,
        )
    except ValueError as exc:
        what = f" in {np.unique(targets).size} classes" if stratify else ""
        raise ValueError(
            f"early_stopping cannot hold out a {'stratified ' * stratify}"
            f"validation_fraction={fraction} of {len(targets)} texts{what}: {exc} "
            "Use more texts, a larger validation_fraction, or early_stopping=False."
        ) from exc
    return np.sort(train), np.sort(validation)


def regression_targets(y: Any, n_samples: int, name: str = "y") -> np.ndarray:
    """``y`` as float64 of shape (n,) or (n, k), finite, one row per text."""
    if y is None:
        raise ValueError(f"{name} is None; fit needs one target per text in X.")
    if isinstance(y, str):
        raise TypeError(f"Expected numeric targets for {name}, got a single str.")
    values = np.asarray(y if hasattr(y, "__array__") else list(y))
    if values.ndim not in (1, 2) or (values.ndim == 2 and values.shape[1] == 0):
        raise ValueError(
            f"{name} must have shape (n_samples,) or (n_samples, n_outputs), got "
            f"{values.shape}."
        )
    if values.shape[0] != n_samples:
        raise ValueError(
            f"X has {n_samples} texts but {name} has {values.shape[0]} targets; "
            "they must be the same length."
        )
    try:
        numbers = values.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be numeric for a regressor ({exc}). For labels, use "
            "BertTextClassifier."
        ) from exc
    bad = np.flatnonzero(~np.isfinite(numbers).reshape(n_samples, -1).all(axis=1))
    if bad.size:
        raise ValueError(
            f"{name} has a missing or infinite target at row {bad[0]} "
            f"({values[bad[0]]!r}); {bad.size} row(s) in all. Drop or fill them."
        )
    return numbers


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


class Encoded(Sequence[np.ndarray]):
    """Unpadded token ids of each input, and segment ids for text pairs.

    Indexing gives one input's ids; ``type_ids`` is None for single texts (the
    model's default, all zeros) and for models without segment embeddings.
    """

    def __init__(
        self, ids: list[np.ndarray], type_ids: list[np.ndarray] | None = None
    ) -> None:
        self.ids = ids
        self.type_ids = type_ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: Any) -> Any:
        return self.ids[index]

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(x) for x in self.ids), dtype=np.int64)

    def subset(self, indices: Iterable[int]) -> Encoded:
        at = list(indices)
        types = None if self.type_ids is None else [self.type_ids[i] for i in at]
        return Encoded([self.ids[i] for i in at], types)


def tokenize(
    tokenizer: Any, inputs: Sequence[Any], max_length: int, verbose: int = 0
) -> Encoded:
    """Token ids of each text or text pair, truncated to ``max_length``, unpadded.

    A pair is encoded as transformers' ``tokenizer(text, text_pair)`` does
    (``[CLS] a [SEP] b [SEP]`` for BERT, with segment ids), truncating the longer
    text first. Special-token strings in the text (a literal "[SEP]") are split
    as ordinary text, never turned into control tokens. A lone surrogate
    ("\\ud800": a valid Python str that UTF-8 cannot encode, which the Rust
    tokenizer rejects with a TypeError) becomes U+FFFD, which BERT's normaliser
    drops like a control character; a surrogate pair becomes the character it
    encodes.

    Inputs go to the tokenizer in chunks, at the same speed: in one call its
    intermediate objects (every token string and offset, and the truncated-off
    tail of long texts) raised the peak memory of predicting 200,000 short texts
    by 774 MB; in chunks of 4,096, by 78 MB, most of it the returned arrays.
    ``verbose`` >= 1 shows a progress bar over the chunks.
    """
    chunk_size = 4096
    pairs = bool(len(inputs)) and isinstance(inputs[0], tuple)
    specials = tokenizer.num_special_tokens_to_add(pair=pairs)
    if max_length <= specials:
        kind = "a text pair" if pairs else "a text"
        raise ValueError(
            f"max_length={max_length} leaves no room for {kind}: the model adds "
            f"{specials} special tokens to each. Use a max_length above {specials}."
        )
    types = pairs and "token_type_ids" in tokenizer.model_input_names
    ids: list[np.ndarray] = []
    type_ids: list[np.ndarray] = []
    starts = range(0, len(inputs), chunk_size)
    for start in tqdm(starts, desc="Tokenising", disable=verbose < 1, leave=False):
        chunk = inputs[start : start + chunk_size]
        columns = list(zip(*chunk, strict=True)) if pairs else [chunk]
        encoded = tokenizer(
            *([_encodable(text) for text in column] for column in columns),
            add_special_tokens=True,
            truncation="longest_first",
            max_length=max_length,
            padding=False,
            split_special_tokens=True,
            return_attention_mask=False,
            return_token_type_ids=types,
        )
        ids.extend(np.asarray(x, dtype=np.int64) for x in encoded["input_ids"])
        if types:
            type_ids.extend(np.asarray(x, np.uint8) for x in encoded["token_type_ids"])
    return Encoded(ids, type_ids if types else None)


def _encodable(text: str, utf16: str = "utf-16-le") -> str:
    if text.isascii():
        return text
    return text.encode(utf16, "surrogatepass").decode(utf16, "replace")


def pad_id_of(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id
    return int(pad) if pad is not None else 0


def collate(
    ids: Sequence[np.ndarray],
    indices: np.ndarray,
    pad_id: int,
    type_ids: Sequence[np.ndarray] | None = None,
) -> dict[str, torch.Tensor]:
    """Stack the inputs at ``indices``, padded to the longest of them."""
    width = max(len(ids[i]) for i in indices)
    input_ids = np.full((len(indices), width), pad_id, dtype=np.int64)
    attention = np.zeros((len(indices), width), dtype=np.int64)
    segments = None if type_ids is None else np.zeros_like(input_ids)
    for row, i in enumerate(indices):
        length = len(ids[i])
        input_ids[row, :length] = ids[i]
        attention[row, :length] = 1
        if segments is not None:
            segments[row, :length] = type_ids[i]  # type: ignore[index]
    batch = {
        "input_ids": torch.from_numpy(input_ids),
        "attention_mask": torch.from_numpy(attention),
    }
    if segments is not None:
        batch["token_type_ids"] = torch.from_numpy(segments)
    return batch


def inference_batches(
    encoded: Encoded, batch_size: int, pad_id: int
) -> list[tuple[np.ndarray, dict[str, torch.Tensor]]]:
    """Length-sorted ``(indices, inputs)`` batches, collated as they are consumed."""
    order = sorted_batches(encoded.lengths, batch_size)
    return _Lazy(
        order,
        lambda idx: (idx, collate(encoded.ids, idx, pad_id, encoded.type_ids)),
    )


class _Lazy(Sequence[Any]):
    """A sequence that builds item ``i`` from ``source[i]`` only when asked."""

    def __init__(self, source: Sequence[Any], build: Any) -> None:
        self.source, self.build = source, build

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: Any) -> Any:
        return self.build(self.source[index])


class TrainBatches:
    """Length-grouped, shuffled training batches; a fresh order each epoch.

    The order of epoch ``e`` depends only on ``seed`` and ``e``. ``ids`` may be
    an :class:`Encoded` (pairs carry their segment ids) or a list of id arrays.
    Float targets are sent as float32.
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
        self.type_ids = getattr(ids, "type_ids", None)
        self.targets = torch.as_tensor(targets)
        if self.targets.is_floating_point():
            self.targets = self.targets.float()
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
            inputs = collate(self.ids, batch, self.pad_id, self.type_ids)
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
