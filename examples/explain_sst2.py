"""
Why this label? Word attributions on SST-2
==========================================

``explain`` tells, for each word of a text, how much it moved the predicted
class's log-odds, ``log(p / (1 - p))``: integrated gradients on the word
embeddings, with the word pieces of a word summed. This fine-tunes the bundled
MiniLM-L6 model on a seeded sample of SST-2 sentences, highlights a few
validation sentences (green toward the predicted class, red against it), and
then, over many validation sentences, finds the words that most often push
toward "positive" and toward "negative".
From the repository root::

    python examples/explain_sst2.py

Data comes from ``$SKBERT_DATA``, else ``../shared/data``.
``SKBERT_EXAMPLES_SMALL=1`` runs a small setting (200 training sentences, one
epoch, 40 validation sentences explained), as the documentation build does; its
attributions say little.
"""

import os
from collections import defaultdict

import matplotlib.pyplot as plt
import numpy as np

from skbert import BertTextClassifier
from skbert.datasets import load_sst2

data_home = os.environ.get("SKBERT_DATA", "../shared/data")
small = os.environ.get("SKBERT_EXAMPLES_SMALL") == "1"
n_train, n_explained, epochs = (200, 40, 1) if small else (2000, 400, 3)

X, y = load_sst2("train", data_home=data_home, return_X_y=True)
keep = np.random.default_rng(0).choice(len(X), n_train, replace=False)
X_train, y_train = [X[i] for i in keep], np.asarray(y)[keep]
X_val, y_val = load_sst2("validation", data_home=data_home, return_X_y=True)

clf = BertTextClassifier(epochs=epochs, random_state=0).fit(X_train, y_train)

# %%
# Explain a few sentences
# -----------------------
# Each explanation holds the words, their attributions (in units of log-odds; pass
# ``output="probability"`` for units of probability), the target and the
# prediction; ``print`` shows them, a notebook shows them
# coloured, and ``to_frame()`` gives a table with a row per word.
explanation = clf.explain(list(X_val[:n_explained]))
print(explanation[:3])
print("completeness error (median):", np.median(explanation.completeness_error))
frame = explanation.to_frame()
print(frame.head(8))


def highlight(ax, item, y_top):
    """Draw ``item``'s words left to right, each on its attribution's colour."""
    renderer = ax.figure.canvas.get_renderer()
    largest = np.abs(item.scores).max() or 1.0
    x, y_line = 0.01, y_top
    for word, score in zip(item.words, item.scores, strict=True):
        colour = (0.0, 0.6, 0.0) if score >= 0 else (0.85, 0.0, 0.0)
        text = ax.text(
            x,
            y_line,
            word,
            fontsize=11,
            transform=ax.transAxes,
            bbox={"facecolor": (*colour, 0.8 * abs(score) / largest), "pad": 1.5},
        )
        box = text.get_window_extent(renderer).transformed(ax.transAxes.inverted())
        x = box.x1 + 0.008
        if x > 0.92:
            x, y_line = 0.01, y_line - 0.07
    return y_line - 0.1


shown = sorted(range(len(explanation)), key=lambda i: len(explanation[i].words))
shown = [i for i in shown if 6 <= len(explanation[i].words) <= 18][:6]
fig, ax = plt.subplots(figsize=(10, 6))
ax.axis("off")
top = 0.95
for i in shown:
    item = explanation[i]
    p = 1 / (1 + np.exp(-item.output))  # the log-odds back to a probability
    label = f"predicted {item.prediction} (p={p:.2f}), true {y_val[i]}"
    ax.text(0.01, top, label, fontsize=9, color="0.3", transform=ax.transAxes)
    top = highlight(ax, item, top - 0.06)
ax.set_title("Words toward (green) and against (red) the predicted class")

# %%
# Words that push toward each class
# ---------------------------------
# Attributions toward "positive" for every sentence: for one predicted
# "negative", the scores toward "negative" are their negatives, since the
# log-odds of one class are minus the other's. Words seen at least three times
# are ranked by their mean attribution.
toward_positive = clf.explain(list(X_val[:n_explained]), target="positive")
seen = defaultdict(list)
for item in toward_positive:
    for word, score in zip(item.words, item.scores, strict=True):
        seen[word.lower()].append(score)
mean = {word: np.mean(s) for word, s in seen.items() if len(s) >= 3}
ranked = sorted(mean, key=mean.get)
negative_words, positive_words = ranked[:10], ranked[::-1][:10]

fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), layout="constrained")
for ax, words, colour, title in (
    (axes[0], negative_words, "tab:red", "toward negative"),
    (axes[1], positive_words, "tab:green", "toward positive"),
):
    ax.barh(words[::-1], [mean[w] for w in words[::-1]], color=colour)
    ax.set_title(f"Words pushing {title}")
    ax.set_xlabel("mean attribution to the log-odds of positive")
fig.suptitle(f"Over {len(toward_positive)} SST-2 validation sentences")
plt.show()
