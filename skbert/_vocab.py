"""How much of the training text a model's vocabulary can represent.

A WordPiece or SentencePiece vocabulary spells any word written in a script it
knows, so on such text the unknown token is rare: an emoji or an unusual symbol,
well under 1% of the tokens. Text in a script the vocabulary lacks (Chinese on an
English model) becomes mostly unknown tokens, which the model cannot tell apart:
it then learns from the few tokens left. ``fit`` warns when that happens.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._warnings import warn
from .exceptions import VocabularyCoverageWarning

# More than a quarter of the word pieces unknown means a large part of the text is
# in a script the vocabulary lacks. Text in a known script stays far below (well
# under 1%), and so does mixed text such as English with emoji or a few foreign
# names, which must not warn; Chinese on an English vocabulary is close to 100%.
UNKNOWN_SHARE_THRESHOLD = 0.25

SUGGESTION = (
    "Use a model whose vocabulary covers the language of your texts, for example "
    "a multilingual one such as 'bert-base-multilingual-cased' or "
    "'xlm-roberta-base'."
)


def unknown_counts(
    tokenizer: Any, ids: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Per text: the number of unknown tokens and of non-special tokens.

    Special tokens other than the unknown token ([CLS], [SEP], ...) are left out
    of both counts. A tokenizer without an unknown token (byte-level BPE) never
    has unknown tokens.
    """
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    flat = np.concatenate(ids) if len(ids) else np.empty(0, dtype=np.int64)
    owner = np.repeat(np.arange(len(ids)), lengths)
    unk = tokenizer.unk_token_id
    special = [i for i in tokenizer.all_special_ids if i != unk]
    ordinary = ~np.isin(flat, special)
    is_unknown = flat == unk if unk is not None else np.zeros_like(ordinary)
    n_unknown = np.bincount(owner, weights=is_unknown, minlength=len(ids))
    n_ordinary = np.bincount(owner, weights=ordinary, minlength=len(ids))
    return n_unknown.astype(np.int64), n_ordinary.astype(np.int64)


def unknown_share(tokenizer: Any, ids: Sequence[np.ndarray]) -> float:
    """Share of all non-special tokens in ``ids`` that are the unknown token.

    0.0 when there are no non-special tokens at all (only empty texts).
    """
    return _share(*unknown_counts(tokenizer, ids))


def _share(n_unknown: np.ndarray, n_ordinary: np.ndarray) -> float:
    total = int(n_ordinary.sum())
    return float(n_unknown.sum() / total) if total else 0.0


def warn_if_poorly_covered(
    tokenizer: Any,
    ids: Sequence[np.ndarray],
    model_name_or_path: str | os.PathLike,
    threshold: float = UNKNOWN_SHARE_THRESHOLD,
) -> None:
    """Warn with a ``VocabularyCoverageWarning`` if over ``threshold`` is unknown.

    The message gives the share, the index of the text with the most unknown
    tokens as an example, and a suggestion of models to use instead.
    """
    n_unknown, n_ordinary = unknown_counts(tokenizer, ids)
    share = _share(n_unknown, n_ordinary)
    if share <= threshold:
        return
    example = int(np.argmax(n_unknown))
    warn(
        f"{share:.0%} of the tokens in X are unknown to the vocabulary of model "
        f"{os.fspath(model_name_or_path)!r} ({tokenizer.unk_token}), for example "
        f"{n_unknown[example]} of the {n_ordinary[example]} tokens of text "
        f"{example}. The model cannot tell unknown tokens apart, so it learns "
        f"from the rest of the text only. {SUGGESTION}",
        VocabularyCoverageWarning,
    )
