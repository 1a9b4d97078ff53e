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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

if TYPE_CHECKING:  # torch and scikit-learn are imported where they are used, so
    import torch  # that skbert.onnx can tokenise and batch without them

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


def holds_pairs(inputs: Inputs) -> bool:
    """Whether checked ``inputs`` are text pairs (an empty list holds none)."""
    return bool(len(inputs)) and isinstance(inputs[0], tuple)


def check_pairing(pairs: bool, pair_encoding: str, owner: str, name: str) -> None:
    """Refuse single texts (``pairs`` False) for a model that encodes the two
    texts of a pair apart (``pair_encoding`` "bi"): it cannot read one text."""
    if not pairs and pair_encoding == "bi":
        raise ValueError(
            f"{name} holds single texts, but this {owner} was fitted on text "
            "pairs with pair_encoding='bi': it predicts from the similarity of "
            "two texts. Pass text pairs."
        )


def check_texts(X: Any, name: str = "X") -> list[str]:
    """Return ``X`` as a list of str; text pairs are refused."""
    inputs = check_inputs(X, name)
    if holds_pairs(inputs):
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
    from sklearn.utils.multiclass import check_classification_targets

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
            f"{labels.shape}. For multi-label targets, pass a 0/1 indicator "
            "matrix of shape (n_samples, n_labels)."
        )
    _check_length(labels.shape[0], n_samples, "y", "labels")
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


def _check_length(found: int, n_samples: int, name: str, what: str) -> None:
    if found != n_samples:
        raise ValueError(
            f"X has {n_samples} texts but {name} has {found} {what}; "
            "they must be the same length."
        )


def label_matrix(y: Any, name: str = "y") -> np.ndarray | None:
    """``y`` as an array if it is 2-D (multi-label), None if it is 1-D.

    A list of label lists (``[["joy"], ["anger", "fear"]]``) is refused with a
    pointer to ``MultiLabelBinarizer``: its rows are sets of labels, not the
    indicator matrix that multi-label targets are.
    """
    if y is None or isinstance(y, str):
        return None
    if hasattr(y, "toarray"):  # a scipy sparse indicator matrix
        return np.asarray(y.toarray())
    if hasattr(y, "__array__"):
        values = np.asarray(y)
        if values.ndim == 1 and values.dtype == object and len(values):
            _refuse_label_lists(values.tolist(), name)
        return values if values.ndim == 2 else None
    items = list(y)
    _refuse_label_lists(items, name)
    if items and isinstance(items[0], (list, tuple, np.ndarray)):
        return np.asarray(items)
    return None


def _refuse_label_lists(items: list[Any], name: str) -> None:
    nested = [isinstance(item, (list, tuple, set, frozenset)) for item in items]
    if not any(nested):
        return
    lengths = {
        len(item) for item, is_list in zip(items, nested, strict=True) if is_list
    }
    if all(nested) and len(lengths) == 1:
        return  # a matrix written as lists; multilabel_targets checks its values
    raise ValueError(
        f"{name} is a list of label lists (item {nested.index(True)} is "
        f"{items[nested.index(True)]!r:.50}). Multi-label targets must be a 0/1 "
        "indicator matrix of shape (n_samples, n_labels): use "
        f"sklearn.preprocessing.MultiLabelBinarizer().fit_transform({name}), and "
        "its classes_ for the column names."
    )


def multilabel_targets(
    matrix: np.ndarray, n_samples: int, name: str = "y"
) -> np.ndarray:
    """A 2-D ``y`` checked as a 0/1 indicator matrix, as float32."""
    _check_length(matrix.shape[0], n_samples, name, "rows")
    try:
        numbers = matrix.astype(np.float64)
    except (TypeError, ValueError):
        numbers = None
    if numbers is None or not np.isin(numbers, (0.0, 1.0)).all():
        bad = _first_bad_cell(matrix, numbers)
        raise ValueError(
            f"{name} is 2-D, so it is read as a multi-label indicator matrix, but "
            f"row {bad[0]}, column {bad[1]} holds {_plain(matrix[bad])!r}, not 0 "
            "or 1. "
            "Every cell must be 0 or 1; for label names or label lists, use "
            "sklearn.preprocessing.MultiLabelBinarizer."
        )
    if matrix.shape[1] < 2:
        raise ValueError(
            f"{name} has shape {matrix.shape}: a single column. Pass it as a 1-D "
            f"array ({name}.ravel()) for a single-label problem; a multi-label "
            "indicator matrix has a column per label, at least two."
        )
    return numbers.astype(np.float32)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, for messages."""
    return value.item() if isinstance(value, np.generic) else value


def _first_bad_cell(matrix: np.ndarray, numbers: np.ndarray | None) -> tuple[int, int]:
    if numbers is None:
        good = np.zeros(matrix.shape, dtype=bool)
        for index, value in np.ndenumerate(matrix):
            good[index] = isinstance(value, (int, float, np.number)) and value in (0, 1)
    else:
        good = np.isin(numbers, (0.0, 1.0))
    row, column = np.argwhere(~good)[0]
    return int(row), int(column)


def positive_weights(
    class_weight: Any, targets: np.ndarray, name: str = "class_weight"
) -> tuple[float, ...] | None:
    """One weight per label for the positive term of the multi-label loss.

    "balanced" gives ``n_negative / n_positive`` of each label in ``targets``
    (1 for a label without positives), as ``BCEWithLogitsLoss``'s documentation
    suggests; a dict maps column indices to weights (others 1).
    """
    if class_weight is None:
        return None
    n_labels = targets.shape[1]
    if isinstance(class_weight, str):  # "balanced"
        positives = targets.sum(axis=0)
        negatives = len(targets) - positives
        ratio = np.where(positives > 0, negatives / np.maximum(positives, 1), 1.0)
        return tuple(float(r) for r in ratio)
    weights = np.ones(n_labels)
    for key, value in class_weight.items():
        if not isinstance(key, (int, np.integer)) or not 0 <= key < n_labels:
            raise ValueError(
                f"{name} key {key!r} is not a column of the multi-label y; for "
                f"multi-label targets its keys are column indices, 0 to "
                f"{n_labels - 1}, and its values each label's positive-class weight."
            )
        weights[int(key)] = float(value)
    return tuple(float(w) for w in weights)


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
    """Indices of a seeded ``(train, validation)`` split, stratified by class,
    or by label for a multi-label indicator matrix (:func:`multilabel_split`)."""
    from sklearn.model_selection import train_test_split

    if stratify and targets.ndim == 2:
        return multilabel_split(targets, fraction, seed)
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


def multilabel_split(
    targets: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded ``(train, validation)`` split of a 0/1 label matrix that gives
    each label about ``fraction`` of its positives in validation.

    Iterative stratification (Sechidis, Tsoumakas and Vlahavas 2011): the rarest
    label still unplaced goes first, each of its rows to the side that most
    wants that label (then the side that wants more rows), so a label with two
    positives gets one held out where a random split of 10% would usually hold
    out none. Rows without labels fill the sides to their sizes.
    """
    positive = targets > 0.5
    n = len(targets)
    n_validation = math.ceil(fraction * n)  # as train_test_split rounds
    if not 0 < n_validation < n:
        raise ValueError(
            f"early_stopping cannot hold out a validation_fraction={fraction} of "
            f"{n} texts: it leaves {'no' if n_validation == 0 else 'all'} texts "
            "for validation. Use more texts, another validation_fraction, or "
            "early_stopping=False."
        )
    rng = np.random.default_rng(seed)
    rows_wanted = np.array([n - n_validation, n_validation], dtype=np.float64)
    counts = positive.sum(axis=0).astype(np.float64)
    # At least one held-out positive for a label that has two: tuning a
    # threshold needs one, and training keeps the other.
    held = np.maximum(fraction * counts, np.minimum(1.0, counts - 1))
    wanted = np.stack([counts - held, held])
    side = np.full(n, -1)
    left = positive.copy()
    while left.any():
        remaining = left.sum(axis=0)
        label = np.flatnonzero(remaining)[np.argmin(remaining[remaining > 0])]
        for row in rng.permutation(np.flatnonzero(left[:, label])):
            want = wanted[:, label]
            sides = np.flatnonzero(want == want.max())
            if sides.size > 1:
                sides = sides[rows_wanted[sides] == rows_wanted[sides].max()]
            chosen = int(rng.choice(sides))
            side[row] = chosen
            wanted[chosen] -= positive[row]
            rows_wanted[chosen] -= 1
            left[row] = False
    rest = rng.permutation(np.flatnonzero(side < 0))
    more = int(np.clip(rows_wanted[1], 0, rest.size))
    side[rest[:more]] = 1
    side[rest[more:]] = 0
    validation = np.flatnonzero(side == 1)
    if validation.size in (0, n):
        validation = np.sort(rng.permutation(n)[:n_validation])
    return np.setdiff1d(np.arange(n), validation), validation


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
    _check_length(values.shape[0], n_samples, name, "targets")
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
    """Unpadded token ids of each row, and segment ids for text pairs.

    A row is one input, except with ``long_text="chunk"``, where an input may
    span several rows (its windows): ``doc`` then gives each row's input, rows
    of an input next to each other and inputs in order. Indexing gives one row's
    ids; ``type_ids`` is None for single texts (the model's default, all zeros)
    and for models without segment embeddings. ``sources`` (only when
    :func:`tokenize` is asked for them) tells where each row's tokens come from:
    an ``(n_tokens, 5)`` int array of the text (0, or 1 for the second text of a
    pair), the token's position in that text's untruncated tokens, its word's
    index there (the tokenizer's ``word_ids``) and its character span; -1
    throughout for the special tokens.
    """

    def __init__(
        self,
        ids: list[np.ndarray],
        type_ids: list[np.ndarray] | None = None,
        doc: np.ndarray | None = None,
        sources: list[np.ndarray] | None = None,
    ) -> None:
        self.ids = ids
        self.type_ids = type_ids
        self.doc = doc
        self.sources = sources

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: Any) -> Any:
        return self.ids[index]

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(x) for x in self.ids), dtype=np.int64)

    @property
    def n_inputs(self) -> int:
        """Number of inputs (documents), whatever their number of rows."""
        return len(self.ids) if self.doc is None else int(self.doc[-1]) + 1

    def subset(self, indices: Iterable[int]) -> Encoded:
        """The rows of the inputs at ``indices``, in that order."""
        at = list(indices)
        doc = None
        if self.doc is not None:
            first = np.searchsorted(self.doc, at, side="left")
            end = np.searchsorted(self.doc, at, side="right")
            doc = np.repeat(np.arange(len(at)), end - first)
            at = [row for a, b in zip(first, end, strict=True) for row in range(a, b)]
        types = None if self.type_ids is None else [self.type_ids[i] for i in at]
        sources = None if self.sources is None else [self.sources[i] for i in at]
        return Encoded([self.ids[i] for i in at], types, doc, sources)

    def per_row(self, values: np.ndarray, share: bool = False) -> np.ndarray:
        """Per-input ``values`` repeated for each of the input's rows; ``share``
        divides them by the input's number of rows (weights: an input counts
        once, however many windows it has)."""
        if self.doc is None:
            return values
        rows = values[self.doc]
        if share:
            counts = np.bincount(self.doc)[self.doc].astype(np.float64)
            rows = rows / counts.reshape(-1, *([1] * (rows.ndim - 1)))
        return rows

    def pool(self, outputs: np.ndarray) -> np.ndarray:
        """Per-row ``outputs`` as one row per input: the mean over its rows."""
        if self.doc is None:
            return outputs
        sums = np.zeros((self.n_inputs, outputs.shape[1]), dtype=np.float64)
        np.add.at(sums, self.doc, outputs)
        counts = np.bincount(self.doc, minlength=self.n_inputs)
        return (sums / counts[:, None]).astype(outputs.dtype)


@dataclass(frozen=True)
class Reading:
    """How inputs longer than ``max_length`` are read: the ``long_text``,
    ``stride`` and ``head_ratio`` parameters of the estimators."""

    long_text: str = "truncate"
    stride: int = 32
    head_ratio: float = 0.25


def tokenize(
    tokenizer: Any,
    inputs: Sequence[Any],
    max_length: int,
    verbose: int = 0,
    reading: Reading = Reading(),
    sources: bool = False,
) -> Encoded:
    """Token ids of each text or text pair, at most ``max_length``, unpadded.

    A pair is encoded as transformers' ``tokenizer(text, text_pair)`` does
    (``[CLS] a [SEP] b [SEP]`` for BERT, with segment ids). An input longer than
    ``max_length`` is read as ``reading`` says:

    - "truncate": its first tokens (for a pair, the longer text is cut first);
    - "head_tail": its first ``head_ratio`` share of the room and its last tokens
      (a pair's texts get their room as with "truncate", then each keeps its
      head and tail);
    - "chunk": windows of ``max_length`` tokens that overlap by ``stride``
      tokens, one row each (``Encoded.doc``); for a pair, the windows run over
      the second text, and the first text keeps its head, at most half the room.

    Special-token strings in the text (a literal "[SEP]") are split as ordinary
    text, never turned into control tokens. A lone surrogate ("\\ud800": a
    valid Python str that UTF-8 cannot encode, which the Rust tokenizer rejects
    with a TypeError) becomes U+FFFD, which BERT's normaliser drops like a
    control character; a surrogate pair becomes the character it encodes.

    ``sources`` records where each token comes from (``Encoded.sources``), for
    explanations; it needs a fast tokenizer (character offsets), and reads every
    input, also with "truncate", from its untruncated tokens.

    Inputs go to the tokenizer in chunks, at the same speed: in one call its
    intermediate objects (every token string and offset, and the truncated-off
    tail of long texts) raised the peak memory of predicting 200,000 short texts
    by 774 MB; in chunks of 4,096, by 78 MB, most of it the returned arrays. A
    chunk also holds at most about a million characters: 2,000 documents of
    5,000 words in one chunk raised the peak of a ``long_text="chunk"``
    prediction by 1.1 GB. ``verbose`` >= 1 shows a progress bar over the chunks.
    """
    pairs = holds_pairs(inputs)
    specials = tokenizer.num_special_tokens_to_add(pair=pairs)
    if max_length <= specials:
        kind = "a text pair" if pairs else "a text"
        raise ValueError(
            f"max_length={max_length} leaves no room for {kind}: the model adds "
            f"{specials} special tokens to each. Use a max_length above {specials}."
        )
    room = max_length - specials
    if reading.long_text == "chunk":
        _check_stride(reading.stride, room - room // 2 if pairs else room, pairs)
    types = pairs and "token_type_ids" in tokenizer.model_input_names
    build = None
    if reading.long_text != "truncate" or sources:
        build = _RowBuilder(tokenizer, pairs, types, room, reading)
    rows = _Rows(types, sources)
    bounds = _chunk_bounds(inputs, pairs)
    for start, stop in tqdm(
        bounds, desc="Tokenising", disable=verbose < 1, leave=False
    ):
        chunk = inputs[start:stop]
        columns = list(zip(*chunk, strict=True)) if pairs else [chunk]
        texts = [[_encodable(text) for text in column] for column in columns]
        if build is None:
            encoded = tokenizer(
                *texts,
                add_special_tokens=True,
                truncation="longest_first",
                max_length=max_length,
                padding=False,
                split_special_tokens=True,
                return_attention_mask=False,
                return_token_type_ids=types,
            )
            types_of = encoded["token_type_ids"] if types else None
            rows.add_truncated(encoded["input_ids"], types_of)
        else:
            build(texts, rows)
    return rows.encoded()


def _chunk_bounds(
    inputs: Sequence[Any],
    pairs: bool,
    most: int = 4096,
    characters: int = 1_000_000,
) -> list[tuple[int, int]]:
    """``(start, stop)`` of the chunks that :func:`tokenize` sends to the
    tokenizer: at most ``most`` inputs each, and no more inputs than about
    ``characters`` characters hold (always at least one input)."""
    sizes = (sum(map(len, item)) if pairs else len(item) for item in inputs)
    bounds, start, total = [], 0, 0
    for index, size in enumerate(sizes):
        if index > start and (index - start == most or total + size > characters):
            bounds.append((start, index))
            start, total = index, 0
        total += size
    if start < len(inputs):
        bounds.append((start, len(inputs)))
    return bounds


def _check_stride(stride: int, room: int, pairs: bool) -> None:
    if stride >= room:
        where = " of the second text of a pair" if pairs else ""
        raise ValueError(
            f"stride={stride} must be smaller than the tokens a window{where} "
            f"holds ({room} at this max_length), or windows would not advance. "
            "Lower stride or raise max_length."
        )


class _Rows:
    """The rows of :func:`tokenize` as they are built."""

    def __init__(self, types: bool, sources: bool = False) -> None:
        self.ids: list[np.ndarray] = []
        self.type_ids: list[np.ndarray] | None = [] if types else None
        self.sources: list[np.ndarray] | None = [] if sources else None
        self.doc: list[int] = []
        self.n_inputs = 0

    def add_truncated(self, ids: list[list[int]], type_ids: Any) -> None:
        self.ids.extend(np.asarray(x, dtype=np.int64) for x in ids)
        if self.type_ids is not None:
            self.type_ids.extend(np.asarray(x, np.uint8) for x in type_ids)
        self.doc.extend(range(self.n_inputs, self.n_inputs + len(ids)))
        self.n_inputs += len(ids)

    def add_input(self, windows: list[tuple[np.ndarray, ...]]) -> None:
        for ids, type_ids, *sources in windows:
            self.ids.append(ids)
            if self.type_ids is not None:
                self.type_ids.append(type_ids)
            if self.sources is not None:
                self.sources.append(sources[0])
            self.doc.append(self.n_inputs)
        self.n_inputs += 1

    def encoded(self) -> Encoded:
        several = len(self.doc) != self.n_inputs
        doc = np.asarray(self.doc, dtype=np.int64) if several else None
        return Encoded(self.ids, self.type_ids, doc, self.sources)


class _RowBuilder:
    """Rows of ``long_text="head_tail"`` or ``"chunk"`` from untruncated tokens
    (and of "truncate" when the rows' sources are wanted).

    The special tokens come from a template: where the tokenizer puts its own
    around one sentinel text (or a sentinel pair), with their segment ids, so
    any model's layout (BERT's ``[CLS] a [SEP] b [SEP]``, RoBERTa's
    ``<s> a </s></s> b </s>``) is kept.
    """

    def __init__(
        self, tokenizer: Any, pairs: bool, types: bool, room: int, reading: Reading
    ) -> None:
        self.tokenizer = tokenizer
        self.pairs = pairs
        self.room = room
        self.reading = reading
        self.template = _template(tokenizer, pairs)

    def __call__(self, texts: list[list[str]], rows: _Rows) -> None:
        sources = rows.sources is not None
        columns = [
            self.tokenizer(
                column,
                add_special_tokens=False,
                truncation=False,
                padding=False,
                split_special_tokens=True,
                return_attention_mask=False,
                return_token_type_ids=False,
                verbose=False,
                **({"return_offsets_mapping": True} if sources else {}),
            )
            for column in texts
        ]
        for index in range(len(texts[0])):
            parts = [np.asarray(c["input_ids"][index], np.int64) for c in columns]
            found = [_token_sources(c, index) for c in columns] if sources else None
            kept = self._kept([len(part) for part in parts])
            rows.add_input([self._row(parts, window, found) for window in kept])

    def _kept(self, lengths: list[int]) -> list[list[np.ndarray]]:
        """For each window, the positions of each text's tokens that it holds."""
        if self.reading.long_text != "chunk":
            budgets = _budgets(lengths, self.room)
            sizes = zip(lengths, budgets, strict=True)
            return [[self._head_tail(length, budget) for length, budget in sizes]]
        if not self.pairs:
            windows = _windows(np.arange(lengths[0]), self.room, self.reading)
            return [[window] for window in windows]
        first, second = lengths
        first = min(first, max(self.room - second, self.room // 2))
        windows = _windows(np.arange(second), self.room - first, self.reading)
        return [[np.arange(first), w] for w in windows]

    def _head_tail(self, length: int, budget: int) -> np.ndarray:
        """Positions kept of a text of ``length`` tokens that may keep ``budget``:
        its head, all of the budget with "truncate", and its tail."""
        if length <= budget:
            return np.arange(length)
        ratio = 1.0 if self.reading.long_text == "truncate" else self.reading.head_ratio
        head = round(budget * ratio)
        return np.r_[0:head, length - (budget - head) : length]

    def _row(
        self,
        parts: list[np.ndarray],
        window: list[np.ndarray],
        sources: list[np.ndarray] | None,
    ) -> tuple[np.ndarray, ...]:
        """``(ids, segment ids)`` of one row, and its sources if ``sources``."""
        traced = sources is not None
        pieces = [self._fixed(0, traced)]
        for index, kept in enumerate(window):
            part_type = self.template.part_types[index]
            piece = [parts[index][kept], np.full(len(kept), part_type, np.uint8)]
            if sources is not None:
                piece.append(np.c_[np.full(len(kept), index), sources[index][kept]])
            pieces += [piece, self._fixed(index + 1, traced)]
        return tuple(np.concatenate(column) for column in zip(*pieces, strict=True))

    def _fixed(self, index: int, traced: bool) -> list[np.ndarray]:
        """The template's special tokens before text ``index`` (after the last)."""
        ids, types = self.template.fixed[index]
        piece = [np.asarray(ids, np.int64), np.asarray(types, np.uint8)]
        if traced:
            piece.append(np.full((len(ids), 5), -1, np.int64))
        return piece


def _token_sources(encoding: Any, index: int) -> np.ndarray:
    """``(position, word index, start, end)`` of each token of input ``index`` of
    a fast tokenizer's ``encoding`` (made with ``return_offsets_mapping``)."""
    words = [-1 if w is None else w for w in encoding.word_ids(index)]
    spans = np.asarray(encoding["offset_mapping"][index], np.int64).reshape(-1, 2)
    return np.c_[np.arange(len(words)), np.asarray(words, np.int64), spans]


def _windows(ids: np.ndarray, room: int, reading: Reading) -> list[np.ndarray]:
    """Windows of ``room`` tokens over ``ids``, overlapping by ``reading.stride``.

    Ids that fit are one window, whatever the stride (the second text of a pair
    may get less room than the stride when it is short).
    """
    if len(ids) <= room:
        return [ids]
    step = room - reading.stride
    return [
        ids[start : start + room]
        for start in range(0, max(len(ids) - reading.stride, 1), step)
    ]


def _budgets(lengths: list[int], room: int) -> list[int]:
    """Tokens each text keeps, as ``truncation="longest_first"`` shares ``room``."""
    if sum(lengths) <= room:
        return lengths
    if len(lengths) == 1:
        return [room]
    first, second = lengths
    if first <= room // 2:
        return [first, room - first]
    if second <= room // 2:
        return [room - second, second]
    # Both too long: the longer text (the second, on a tie) gets the odd token,
    # as the Rust tokenizers' LongestFirst strategy gives it.
    if first > second:
        return [room - room // 2, room // 2]
    return [room // 2, room - room // 2]


@dataclass(frozen=True)
class _Template:
    """The tokenizer's special tokens before, between and after the texts."""

    fixed: list[tuple[list[int], list[int]]]  # (ids, segment ids), one more than parts
    part_types: list[int]  # the segment id of each text


def _template(tokenizer: Any, pairs: bool) -> _Template:
    sentinels = ["a", "b"] if pairs else ["a"]
    full = tokenizer(*sentinels, add_special_tokens=True, return_token_type_ids=True)
    ids, types = full["input_ids"], full["token_type_ids"]
    fixed, part_types, at = [], [], 0
    for sentinel in sentinels:
        part = tokenizer(sentinel, add_special_tokens=False)["input_ids"]
        start = _find(ids, part, at)
        fixed.append((ids[at:start], types[at:start]))
        part_types.append(types[start])
        at = start + len(part)
    fixed.append((ids[at:], types[at:]))
    return _Template(fixed, part_types)


def _find(ids: list[int], part: list[int], start: int) -> int:
    for position in range(start, len(ids) - len(part) + 1):
        if ids[position : position + len(part)] == part:
            return position
    raise ValueError(
        "long_text='head_tail' and 'chunk' need a tokenizer that keeps a text's "
        "tokens intact when it adds its special tokens; this one does not."
    )


def _encodable(text: str, utf16: str = "utf-16-le") -> str:
    if text.isascii():
        return text
    return text.encode(utf16, "surrogatepass").decode(utf16, "replace")


def pad_id_of(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id
    return int(pad) if pad is not None else 0


def collate_arrays(
    ids: Sequence[np.ndarray],
    indices: np.ndarray,
    pad_id: int,
    type_ids: Sequence[np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Stack the inputs at ``indices``, padded to the longest of them (int64)."""
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
    batch = {"input_ids": input_ids, "attention_mask": attention}
    if segments is not None:
        batch["token_type_ids"] = segments
    return batch


def collate(
    ids: Sequence[np.ndarray],
    indices: np.ndarray,
    pad_id: int,
    type_ids: Sequence[np.ndarray] | None = None,
) -> dict[str, torch.Tensor]:
    """:func:`collate_arrays` as torch tensors (sharing their memory)."""
    import torch

    arrays = collate_arrays(ids, indices, pad_id, type_ids)
    return {key: torch.from_numpy(value) for key, value in arrays.items()}


def inference_batches(
    encoded: Encoded, batch_size: int, pad_id: int, max_tokens: int | None = None
) -> Sequence[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """Length-sorted ``(indices, inputs)`` batches of NumPy arrays, collated as
    they are consumed; see :func:`sorted_batches` for ``max_tokens``."""
    order = sorted_batches(encoded.lengths, batch_size, max_tokens)
    return _Lazy(
        order,
        lambda idx: (idx, collate_arrays(encoded.ids, idx, pad_id, encoded.type_ids)),
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
        import torch

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
        self.rank, self.world_size = 0, 1

    def __len__(self) -> int:
        return math.ceil(math.ceil(len(self.ids) / self.batch_size) / self.world_size)

    def shard(self, rank: int, world_size: int) -> TrainBatches:
        """Rank ``rank``'s share of each epoch: batches ``rank``, ``rank +
        world_size``, ... of the plan every rank draws alike from ``seed``. The
        plan is padded by wrapping around to a multiple of ``world_size`` (as
        ``DistributedSampler`` pads), so every rank takes as many steps."""
        import copy

        part = copy.copy(self)
        part.rank, part.world_size = rank, world_size
        return part

    @property
    def n_samples(self) -> int:
        return len(self.ids)

    def epoch(
        self, index: int
    ) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]]:
        """``(inputs, targets, sample weights)`` of each batch of epoch ``index``."""
        rng = np.random.default_rng([self.seed, index])
        plan = grouped_batches(self.lengths, self.batch_size, rng)
        if self.world_size > 1:
            mine = range(self.rank, len(self) * self.world_size, self.world_size)
            plan = [plan[i % len(plan)] for i in mine]
        for batch in plan:
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


def sorted_batches(
    lengths: np.ndarray, batch_size: int, max_tokens: int | None = None
) -> list[np.ndarray]:
    """Inference batches of texts sorted by length (longest first).

    Each batch holds at most ``batch_size`` texts and, with ``max_tokens``, at
    most that many padded tokens (texts x its longest text's length), but always
    at least one text.
    """
    order = np.argsort(-lengths, kind="stable")
    if max_tokens is None:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    batches, start = [], 0
    while start < len(order):
        longest = max(int(lengths[order[start]]), 1)
        size = min(batch_size, max(1, max_tokens // longest))
        batches.append(order[start : start + size])
        start += size
    return batches
