"""Token attributions of a fitted estimator: integrated gradients, words, display.

Integrated gradients (Sundararajan, Taly and Yan 2017) on the word embeddings:
the path runs in a straight line from a baseline (every text token replaced by
the padding token; special tokens, positions and segments kept) to the input, and
a token's attribution is its embedding's difference from the baseline times the
gradient averaged along the path. The average is a Gauss-Legendre rule of
``n_steps`` points, as captum's default: all points of an input go through the
model in one batch and one backward pass. The attributions then add up to the
change in the explained output between baseline and input (completeness), to
within the rule's error, which each explanation reports.

The output explained by default is a classifier's log-odds of the target,
``log p / (1 - p)`` of the class's softmax (a label's logit for a multi-label
model), after the temperature of ``calibrate=True``; ``output="probability"``
explains ``p`` itself; a regressor's is its prediction in the units of ``y``.
Log-odds by default because a probability saturates: near 0 or 1 its gradient
vanishes over most of the path, so the attributions crowd where the path leaves
the baseline and rank the words less well. On SST-2 (bench_explain, 200
validation sentences) comprehensiveness rose from 0.378 to 0.434 with the same
model and seconds. With ``long_text="chunk"`` the
windows of an input go through the model together and their logits are averaged
as prediction averages them, so the attributions of all windows add up to the
input's own output; a token that two windows share gets the sum of both.

Greedy deletion (``method="deletion"``) needs no gradient: round by round, each
remaining word is deleted on its own and the few whose deletion lowers the output
most go for good; the falls, made non-increasing along that order, are the scores,
and they add up exactly to the output minus the output with every word deleted.
On SST-2 and GoEmotions its top words were the ones whose removal lowered the
prediction most (comprehensiveness 0.544 and 0.548 against integrated gradients'
0.434 and 0.437, and above LIME's), at a cost that grows with the square of the
length.

Written here rather than taken from captum: the embeddings go in as
``inputs_embeds``, so no hook is put on the shared model and several threads can
explain with one estimator at once; and the windows of a document share one path.
The model is read, never written: no parameter gets a gradient.
"""

from __future__ import annotations

import functools
import html
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted

from . import _data, _engine
from ._device import threads

if TYPE_CHECKING:
    import torch

# explain's methods, each with its default n_steps: the points of integrated
# gradients' rule, the rounds of greedy deletion.
METHODS = {"integrated-gradients": 50, "deletion": 20}
# Candidate rows (an input with one word deleted, per window) built at a time by
# deletion: bounds the token ids held, whatever the size of X.
DELETION_ROWS = 4096

# (pooled logits of shape (n_points, n_inputs, n_outputs), the column explained
# of each input) -> the explained output, of shape (n_points, n_inputs)
Output = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]


@dataclass(frozen=True)
class TextExplanation:
    """The attributions of one input.

    Attributes
    ----------
    text : str or tuple of (str, str)
        The input, as passed (a text pair for pair models).
    tokens : list of str
        The tokens the model read, special tokens left out, in document order.
    token_scores : ndarray of shape (n_tokens,)
        The attribution of each token.
    words : list of str
        The words the tokens make up (the tokenizer's words: word pieces joined,
        punctuation apart), as they appear in the text.
    scores : ndarray of shape (n_words,)
        The attribution of each word: the sum of its tokens'.
    parts : ndarray of shape (n_words,)
        Which text each word comes from: 0, or 1 for the second text of a pair.
    spans : ndarray of shape (n_words, 2)
        Each word's start and end character in its text.
    target : object
        The class (or label, or output index) explained.
    prediction : object
        What the estimator predicts for the input: a label, the labels of a
        multi-label model (a tuple), or a regressor's value.
    output : float
        The explained output for the input (``explain``'s ``output``): the
        target's log-odds or probability, or the predicted value.
    baseline_output : float
        The same output for the baseline, the input with its text tokens padded.
    """

    text: str | tuple[str, str]
    tokens: list[str]
    token_scores: np.ndarray
    words: list[str]
    scores: np.ndarray
    parts: np.ndarray
    spans: np.ndarray
    target: Any
    prediction: Any
    output: float
    baseline_output: float

    @property
    def delta(self) -> float:
        """The attributions' sum minus the change they explain (``output -
        baseline_output``); 0 for exact integrated gradients."""
        return float(self.scores.sum() - (self.output - self.baseline_output))

    @property
    def completeness_error(self) -> float:
        """``|delta|`` as a share of ``|output - baseline_output|`` (NaN when the
        output did not change)."""
        change = abs(self.output - self.baseline_output)
        return abs(self.delta) / change if change > 0 else float("nan")


class Explanation(Sequence[TextExplanation]):
    """Token and word attributions of a fitted estimator, one item per input.

    Returned by the estimators' ``explain``. Indexing gives one input's
    explanation, with the fields ``text``, ``tokens``, ``token_scores``,
    ``words``, ``scores`` (word attributions), ``parts`` (0, or 1 for the
    second text of a pair), ``spans`` (each word's characters), ``target``,
    ``prediction``, ``output``, ``baseline_output``, ``delta`` and
    ``completeness_error``; the attributes below gather them over the inputs.
    In a notebook it shows as the texts with each word coloured by its
    attribution (green toward the target, red against); ``print`` shows the
    words with their scores; :meth:`to_frame` gives a table with a row per word.

    Attributes
    ----------
    output_name : str
        What was explained, such as "log-odds of the target class".
    n_steps : int
        Points of the integration rule, or rounds of deletion.
    method : str
        "integrated-gradients" or "deletion" (see ``explain``).
    tokens, words : list of list of str
        Each input's tokens and words.
    token_scores, scores : list of ndarray
        Each input's token and word attributions.
    target, prediction, output, baseline_output : ndarray of shape (n_inputs,)
        Each input's fields of the same name.
    completeness_error : ndarray of shape (n_inputs,)
        Each input's ``|sum of attributions - (output - baseline_output)|`` as a
        share of ``|output - baseline_output|``.

    See Also
    --------
    BertTextClassifier.explain : how the attributions are computed.

    Examples
    --------
    >>> from skbert import BertTextClassifier
    >>> clf = BertTextClassifier(tiny_model, epochs=1, random_state=0)
    >>> clf = clf.fit(["good film", "bad film"] * 4, ["pos", "neg"] * 4)
    >>> explanation = clf.explain(["good film", "bad plot"])
    >>> explanation.to_frame()[["text", "word"]].values.tolist()
    [[0, 'good'], [0, 'film'], [1, 'bad'], [1, 'plot']]
    >>> print(explanation[:1])  # doctest: +ELLIPSIS
    [0] target '...': ...
        good(...) film(...)
    """

    def __init__(
        self,
        items: list[TextExplanation],
        output_name: str,
        n_steps: int,
        method: str = "integrated-gradients",
    ) -> None:
        self._items = items
        self.output_name = output_name
        self.n_steps = n_steps
        self.method = method

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return Explanation(
                self._items[index], self.output_name, self.n_steps, self.method
            )
        return self._items[index]

    def __iter__(self) -> Iterator[TextExplanation]:
        return iter(self._items)

    def _gathered(self, name: str) -> np.ndarray:
        values = [getattr(item, name) for item in self._items]
        if all(np.ndim(value) == 0 for value in values):
            return np.asarray(values)
        gathered = np.empty(len(values), dtype=object)  # tuples of labels, lists
        for index, value in enumerate(values):
            gathered[index] = value
        return gathered

    tokens = property(lambda self: [item.tokens for item in self._items])
    token_scores = property(lambda self: [item.token_scores for item in self._items])
    words = property(lambda self: [item.words for item in self._items])
    scores = property(lambda self: [item.scores for item in self._items])
    target = property(lambda self: self._gathered("target"))
    prediction = property(lambda self: self._gathered("prediction"))
    output = property(lambda self: self._gathered("output"))
    baseline_output = property(lambda self: self._gathered("baseline_output"))
    completeness_error = property(lambda self: self._gathered("completeness_error"))

    def to_frame(self) -> Any:
        """A pandas DataFrame with one row per word of every input.

        Columns: ``text`` (the input's position in ``X``), ``part`` (0, or 1 for
        the second text of a pair), ``word``, ``start`` and ``end`` (its
        characters in its text), ``attribution``, ``target`` and ``prediction``.
        Needs pandas.
        """
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError(
                "Explanation.to_frame needs pandas: pip install pandas."
            ) from exc
        columns: dict[str, list[Any]] = {
            name: []
            for name in (
                "text",
                "part",
                "word",
                "start",
                "end",
                "attribution",
                "target",
                "prediction",
            )
        }
        for index, item in enumerate(self._items):
            n = len(item.words)
            columns["text"] += [index] * n
            columns["part"] += item.parts.tolist()
            columns["word"] += item.words
            columns["start"] += item.spans[:, 0].tolist()
            columns["end"] += item.spans[:, 1].tolist()
            columns["attribution"] += item.scores.tolist()
            columns["target"] += [item.target] * n
            columns["prediction"] += [item.prediction] * n
        return pd.DataFrame(columns)

    def __repr__(self) -> str:
        return (
            f"<Explanation of {len(self)} input(s): {self.output_name}, "
            f"{self.method}, n_steps={self.n_steps}>"
        )

    def __str__(self) -> str:
        return "\n".join(_plain(index, item) for index, item in enumerate(self._items))

    def _repr_html_(self) -> str:
        rows = "".join(_html(index, item) for index, item in enumerate(self._items))
        return (
            f'<div class="skbert-explanation"><p>{html.escape(repr(self))}</p>'
            f"{rows}</div>"
        )


def _header(index: int, item: TextExplanation) -> str:
    return (
        f"[{index}] target {item.target!r}: {item.output:.4g} "
        f"(baseline {item.baseline_output:.4g}), prediction {item.prediction!r}"
    )


def _plain(index: int, item: TextExplanation) -> str:
    words = " ".join(
        f"{word}({score:+.3f})"
        for word, score in zip(item.words, item.scores, strict=True)
    )
    body = textwrap.fill(words, 88, initial_indent="    ", subsequent_indent="    ")
    return f"{_header(index, item)}\n{body}"


def _html(index: int, item: TextExplanation) -> str:
    """The input's texts with every word on a background coloured by its score:
    green toward the target, red against, stronger for a larger share of the
    input's largest absolute score."""
    texts = item.text if isinstance(item.text, tuple) else (item.text,)
    largest = float(np.abs(item.scores).max()) if len(item.scores) else 0.0
    lines = []
    for part, text in enumerate(texts):
        pieces, at = [], 0
        for w in np.flatnonzero(item.parts == part):
            start, end = (int(v) for v in item.spans[w])
            score = float(item.scores[w])
            alpha = 0.0 if largest == 0 else 0.8 * abs(score) / largest
            colour = "0,150,0" if score >= 0 else "220,0,0"
            pieces.append(html.escape(text[at:start]))
            pieces.append(
                f'<span style="background-color:rgba({colour},{alpha:.2f})" '
                f'title="{score:+.4f}">{html.escape(text[start:end])}</span>'
            )
            at = end
        pieces.append(html.escape(text[at:]))
        lines.append(f'<p style="line-height:1.8">{"".join(pieces)}</p>')
    header = html.escape(_header(index, item))
    return f"<div><p><b>{header}</b></p>{''.join(lines)}</div>"


# ------------------------------------------------------------------ computing


def explain(
    estimator: Any,
    X: Any,
    target: Any,
    output: str | None,
    n_steps: int | None,
    method: str = "integrated-gradients",
) -> Explanation:
    """``estimator.explain``: see its docstring."""
    check_is_fitted(estimator)
    choices = estimator._explained_outputs()
    validate_parameter_constraints(
        {
            "n_steps": [Interval(Integral, 1, None, closed="left"), None],
            "output": [StrOptions(set(choices)), None],
            "method": [StrOptions(set(METHODS))],
        },
        {"n_steps": n_steps, "output": output, "method": method},
        caller_name=f"{type(estimator).__name__}.explain",
    )
    output = next(iter(choices)) if output is None else output
    n_steps = METHODS[method] if n_steps is None else int(n_steps)
    inputs = estimator._checked_inputs(X)
    encoded = estimator._tokenize(
        estimator.tokenizer_, inputs, estimator.max_length_, sources=True
    )
    _check_not_empty(encoded, inputs)
    outputs = estimator._outputs_of(encoded)
    targets, columns = estimator._explained_targets(target, outputs)
    targets = np.asarray(targets).tolist()  # labels as Python values
    predictions = estimator._explained_predictions(outputs)
    attribute = _integrate_all if method == "integrated-gradients" else _delete_all
    with threads(estimator.n_jobs):
        scores, ends = attribute(
            functools.partial(estimator._explained_output, output),
            estimator,
            encoded,
            columns,
            n_steps,
        )
    items = [
        _assemble(
            estimator.tokenizer_,
            inputs[d],
            encoded,
            rows,
            scores,
            (targets[d], predictions[d], *ends[d]),
        )
        for d, rows in enumerate(_rows_of(encoded))
    ]
    return Explanation(items, choices[output], n_steps, method)


def _check_not_empty(encoded: _data.Encoded, inputs: _data.Inputs) -> None:
    for index, rows in enumerate(_rows_of(encoded)):
        if not any((encoded.sources[r][:, 0] >= 0).any() for r in rows):
            raise ValueError(
                f"Item {index} of X ({inputs[index]!r:.50}) has no tokens to "
                "explain: it is empty, or only spaces. Leave it out of X."
            )


def _rows_of(encoded: _data.Encoded) -> list[np.ndarray]:
    """The rows of each input (its windows with ``long_text="chunk"``)."""
    if encoded.doc is None:
        return [np.array([r]) for r in range(len(encoded))]
    ends = np.cumsum(np.bincount(encoded.doc))
    return np.split(np.arange(len(encoded)), ends[:-1])


def _integrate_all(
    output: Output,
    estimator: Any,
    encoded: _data.Encoded,
    columns: np.ndarray,
    n_steps: int,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Each row's token attributions, and each input's ``(output, baseline
    output)``; inputs in length-sorted batches of whole inputs."""
    import torch

    model, device = estimator.model_, estimator.device_
    rows_of = _rows_of(encoded)
    lengths = encoded.lengths
    cost = np.array([len(rows) * lengths[rows].max() for rows in rows_of])
    budget = _engine.batch_tokens(model.config, device)
    batches = _data.sorted_batches(
        cost,
        max(1, 2 * estimator.batch_size // n_steps),
        None if budget is None else max(1, budget // n_steps),
    )
    special = torch.as_tensor(sorted(estimator.tokenizer_.all_special_ids))
    pad_id = _data.pad_id_of(estimator.tokenizer_)
    scores: list[np.ndarray] = [np.empty(0)] * len(encoded)
    ends = np.empty((len(rows_of), 2))
    for docs in batches:
        rows = np.concatenate([rows_of[d] for d in docs])
        pool = np.zeros((len(docs), len(rows)), dtype=np.float32)
        at = 0
        for i, d in enumerate(docs):
            pool[i, at : at + len(rows_of[d])] = 1.0 / len(rows_of[d])
            at += len(rows_of[d])
        inputs = _data.collate(encoded.ids, rows, pad_id, encoded.type_ids)
        found, ends[docs] = integrated_gradients(
            model,
            {key: value.to(device) for key, value in inputs.items()},
            torch.as_tensor(pool, device=device),
            torch.as_tensor(columns[docs], device=device),
            output,
            n_steps,
            (special.to(device), pad_id),
        )
        for r, row in enumerate(rows):
            scores[row] = found[r, : lengths[row]]
    return scores, ends


def _delete_all(
    output: Output,
    estimator: Any,
    encoded: _data.Encoded,
    columns: np.ndarray,
    n_rounds: int,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Each row's token attributions by greedy deletion, and each input's
    ``(output, output with every word deleted)``.

    Round by round, each remaining word of an input is deleted on its own (its
    tokens taken out of every window of the input; special tokens stay), all
    candidates of a round in length-sorted batches, and the ``ceil(n_words /
    n_rounds)`` words whose deletion lowered the output most are deleted for
    good. A word's fall is what its own deletion took off the output in its
    round, plus an equal share of what the round's words took off together
    beyond the sum of theirs, so an input's falls add up exactly to its output
    minus the output with all its words deleted. The scores are the falls made
    non-increasing along the deletion order (:func:`_non_increasing`): a word
    can matter more once others are gone (a confident output hardly moves for
    any single word), and ranking by the raw falls would then put it before the
    words whose deletion opened the way, which removes less. A word's tokens
    share its score.
    """
    rows_of = _rows_of(encoded)
    words = [_word_indices(encoded, rows) for rows in rows_of]
    n_words = np.array([max(int(w.max()) for w in rows) + 1 for rows in words])
    scores: list[np.ndarray] = [np.empty(0)] * len(encoded)
    ends = np.empty((len(rows_of), 2))
    costs = (n_words + 1) * np.array([len(rows) for rows in rows_of])
    for group in _groups(costs, DELETION_ROWS):
        found = _delete_group(
            output, estimator, encoded, columns, n_rounds, group, words
        )
        for d, (word_scores, ends[d]) in zip(group, found, strict=True):
            shares = _shares(word_scores, words[d])
            for w, r in zip(words[d], rows_of[d], strict=True):
                scores[r] = shares[w]
    return scores, ends


def _word_indices(encoded: _data.Encoded, rows: np.ndarray) -> list[np.ndarray]:
    """Each row's tokens' word, numbered over the input's words in order (text,
    then word); -1 for special tokens."""
    keys = sorted(
        {
            (part, word)
            for r in rows
            for part, word in encoded.sources[r][:, [0, 2]].tolist()
            if part >= 0
        }
    )
    index = {key: i for i, key in enumerate(keys)}
    return [
        np.array(
            [index.get((p, w), -1) for p, w in encoded.sources[r][:, [0, 2]].tolist()],
            dtype=np.int64,
        )
        for r in rows
    ]


def _groups(costs: np.ndarray, limit: int) -> list[list[int]]:
    """Indices of ``costs``, largest first, in consecutive groups whose costs add
    up to at most ``limit`` (a costlier index alone)."""
    groups: list[list[int]] = [[]]
    size = 0
    for d in np.argsort(-costs, kind="stable").tolist():
        if groups[-1] and size + costs[d] > limit:
            groups.append([])
            size = 0
        groups[-1].append(d)
        size += int(costs[d])
    return groups


def _shares(word_scores: np.ndarray, words: list[np.ndarray]) -> np.ndarray:
    """Each word's score split evenly over its tokens in all rows, indexed by
    word (-1, special tokens: 0)."""
    counts = np.bincount(np.concatenate([w[w >= 0] for w in words]))
    return np.append(word_scores / np.maximum(counts, 1), 0.0)


def _delete_group(
    output: Output,
    estimator: Any,
    encoded: _data.Encoded,
    columns: np.ndarray,
    n_rounds: int,
    group: list[int],
    words: list[list[np.ndarray]],
) -> list[tuple[np.ndarray, tuple[float, float]]]:
    """:func:`_delete_all` for the inputs ``group``, in lockstep rounds: each
    one's word scores and ``(output, output with every word deleted)``."""
    n_of = {d: max(int(w.max()) for w in words[d]) + 1 for d in group}
    deleted = {d: np.zeros(n_of[d] + 1, dtype=bool) for d in group}  # last: specials
    falls = {d: np.zeros(n_of[d]) for d in group}
    order: dict[int, list[int]] = {d: [] for d in group}
    pending: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
    ends: dict[int, list[float]] = {}
    active = list(group)
    while active:
        left = {d: np.flatnonzero(~deleted[d][:-1]) for d in active}
        owner = [(d, j) for d in active for j in [-1, *left[d].tolist()]]
        values = _outputs_of_rows(
            output, estimator, *_deleted_rows(encoded, words, deleted, owner), columns
        )
        at, still = 0, []
        for d in active:
            current = float(values[at])
            own = current - values[at + 1 : at + 1 + len(left[d])]
            at += 1 + len(left[d])
            ends.setdefault(d, [current, current])[1] = current
            if d in pending:  # the last round's words: what they took off together
                chunk, alone, before = pending.pop(d)
                falls[d][chunk] = alone + (before - current - alone.sum()) / len(chunk)
            if len(left[d]):
                best = np.argsort(-own, kind="stable")[: -(-n_of[d] // n_rounds)]
                pending[d] = left[d][best], own[best], current
                order[d] += left[d][best].tolist()
                deleted[d][left[d][best]] = True
                still.append(d)
        active = still
    for d in group:
        falls[d][order[d]] = _non_increasing(falls[d][order[d]])
    return [(falls[d], (ends[d][0], ends[d][1])) for d in group]


def _deleted_rows(
    encoded: _data.Encoded,
    words: list[list[np.ndarray]],
    deleted: dict[int, np.ndarray],
    owner: list[tuple[int, int]],
) -> tuple[list[np.ndarray], list[np.ndarray] | None, np.ndarray, list[int]]:
    """The rows of each candidate ``(input, word)``: the input's rows without
    its deleted words' tokens and the word's (-1: none more); the token ids,
    segment ids (None without), each row's candidate, and each candidate's
    input."""
    rows_of = _rows_of(encoded)
    ids: list[np.ndarray] = []
    type_ids: list[np.ndarray] | None = None if encoded.type_ids is None else []
    row_candidate: list[int] = []
    for c, (d, j) in enumerate(owner):
        gone = deleted[d].copy()
        if j >= 0:
            gone[j] = True
        for w, r in zip(words[d], rows_of[d], strict=True):
            keep = ~gone[w]
            ids.append(encoded.ids[r][keep])
            if type_ids is not None:
                type_ids.append(encoded.type_ids[r][keep])
            row_candidate.append(c)
    return ids, type_ids, np.array(row_candidate), [d for d, _ in owner]


def _non_increasing(values: np.ndarray) -> np.ndarray:
    """The closest non-increasing sequence to ``values`` in least squares, with
    the same sum: runs that do not fall are pooled to their mean (pool adjacent
    violators). Then the values of a pool fall by a negligible step (1e-9 of
    their mean) around it, so that sorting the result gives the original order;
    the sum is kept."""
    blocks: list[list[float]] = []  # [sum, count]
    for value in values.tolist():
        blocks.append([value, 1.0])
        while len(blocks) > 1 and (
            blocks[-2][0] / blocks[-2][1] <= blocks[-1][0] / blocks[-1][1]
        ):
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    pieces = []
    for total, count in blocks:
        mean, n = total / count, int(count)
        step = 1e-9 * max(abs(mean), 1e-12)
        pieces.append(mean + step * ((n - 1) / 2 - np.arange(n)))
    return np.concatenate(pieces) if pieces else values.copy()


def _outputs_of_rows(
    output: Output,
    estimator: Any,
    ids: list[np.ndarray],
    type_ids: list[np.ndarray] | None,
    row_candidate: np.ndarray,
    inputs: list[int],
    columns: np.ndarray,
) -> np.ndarray:
    """The explained output of each candidate: its rows' logits averaged, as
    prediction averages a document's windows, then ``output``."""
    import torch

    model, device = estimator.model_, estimator.device_
    pad_id = _data.pad_id_of(estimator.tokenizer_)
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    batches = _data.sorted_batches(
        lengths,
        2 * estimator.batch_size,
        _engine.batch_tokens(model.config, device),
    )
    logits: Any = None
    model.eval()
    with torch.inference_mode():
        for rows in batches:
            batch = _data.collate(ids, rows, pad_id, type_ids)
            found = model(**{k: v.to(device) for k, v in batch.items()}).logits
            if logits is None:
                logits = torch.empty(
                    (len(ids), found.shape[-1]), dtype=torch.float32, device=device
                )
            logits[torch.as_tensor(rows, device=device)] = found.float()
        index = torch.as_tensor(row_candidate, device=device)
        pooled = torch.zeros(
            (len(inputs), logits.shape[-1]), dtype=torch.float32, device=device
        ).index_add_(0, index, logits)
        pooled /= torch.bincount(index, minlength=len(inputs)).unsqueeze(-1)
        picked = torch.as_tensor(columns[inputs], device=device)
        return output(pooled.unsqueeze(0), picked)[0].double().cpu().numpy()


def integrated_gradients(
    model: Any,
    inputs: dict[str, torch.Tensor],
    pool: torch.Tensor,
    columns: torch.Tensor,
    output: Output,
    n_steps: int,
    baseline: tuple[torch.Tensor, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Attributions of the rows of one padded batch, and ``(output, baseline
    output)`` of each input.

    ``pool`` (n_inputs, n_rows) averages the rows' logits into the inputs';
    ``baseline`` is ``(special token ids, padding id)``: the baseline keeps the
    special tokens (and the padding) and pads every other token.
    """
    import torch

    ids = inputs.pop("input_ids")
    special, pad_id = baseline
    kept = torch.isin(ids, special) | (inputs["attention_mask"] == 0)
    embeddings = model.get_input_embeddings()
    nodes, weights = np.polynomial.legendre.leggauss(n_steps)
    model.eval()
    with torch.no_grad():
        x = embeddings(ids).float()
        x0 = embeddings(torch.where(kept, ids, pad_id)).float()
    alphas = torch.as_tensor((nodes + 1) / 2, dtype=x.dtype, device=x.device)
    weights_t = torch.as_tensor(weights / 2, dtype=x.dtype, device=x.device)
    n_rows, length, width = x.shape

    def explained(points: torch.Tensor) -> torch.Tensor:
        n = len(points) // n_rows
        repeated = {key: value.repeat(n, 1) for key, value in inputs.items()}
        logits = model(inputs_embeds=points, **repeated).logits.float()
        pooled = torch.einsum("dr,srk->sdk", pool, logits.view(n, n_rows, -1))
        return output(pooled, columns)

    with torch.enable_grad():
        path = x0 + alphas.view(-1, 1, 1, 1) * (x - x0)
        path = path.view(-1, length, width).requires_grad_(True)
        (grads,) = torch.autograd.grad(explained(path).sum(), path)
    mean_grad = torch.einsum("s,srlh->rlh", weights_t, grads.view(n_steps, *x.shape))
    attributions = (mean_grad * (x - x0)).sum(-1)
    with torch.no_grad():
        ends = explained(torch.cat([x, x0]))
    return attributions.cpu().numpy(), ends.T.double().cpu().numpy()


def _assemble(
    tokenizer: Any,
    text: str | tuple[str, str],
    encoded: _data.Encoded,
    rows: np.ndarray,
    scores: list[np.ndarray],
    about: tuple[Any, Any, float, float],
) -> TextExplanation:
    """One input's explanation from its rows' token scores: tokens in document
    order (a token two windows share once, with both scores), then words."""
    tokens: dict[tuple[int, int], list[Any]] = {}
    for row in rows:
        sources = encoded.sources[row]
        names = tokenizer.convert_ids_to_tokens(encoded.ids[row].tolist())
        for (part, position, word, start, end), name, score in zip(
            sources.tolist(), names, scores[row].tolist(), strict=True
        ):
            if part < 0:
                continue
            entry = tokens.setdefault((part, position), [name, word, start, end, 0.0])
            entry[4] += score
    order = sorted(tokens)
    names = [tokens[key][0] for key in order]
    token_scores = np.array([tokens[key][4] for key in order])
    words: dict[tuple[int, int], list[Any]] = {}
    for (part, _), (_, word, start, end, score) in zip(
        order, (tokens[key] for key in order), strict=True
    ):
        entry = words.setdefault((part, word), [start, end, 0.0])
        entry[0], entry[1] = min(entry[0], start), max(entry[1], end)
        entry[2] += score
    keys = sorted(words)
    parts = np.array([part for part, _ in keys], dtype=np.int64)
    spans = np.array([words[key][:2] for key in keys], dtype=np.int64).reshape(-1, 2)
    texts = text if isinstance(text, tuple) else (text,)
    target, prediction, output, baseline_output = about
    return TextExplanation(
        text=text,
        tokens=names,
        token_scores=token_scores,
        words=[texts[p][s:e] for p, (s, e) in zip(parts, spans, strict=True)],
        scores=np.array([words[key][2] for key in keys]),
        parts=parts,
        spans=spans,
        target=target,
        prediction=prediction,
        output=float(output),
        baseline_output=float(baseline_output),
    )
