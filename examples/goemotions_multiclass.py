"""
Many classes: GoEmotions' single-label comments, 28 emotions
============================================================

GoEmotions gives each Reddit comment one to five of 28 labels (27 emotions and
``neutral``); about 84% have exactly one. Keeping those makes a plain 28-class
task. This fine-tunes the bundled MiniLM-L6 model on a seeded sample of them and
reports accuracy, macro-F1 (every class counts the same, so the rare emotions weigh
as much as ``neutral``) and, for scale, the accuracy of always predicting the most
frequent training label. The confusion matrix has each row divided by the class's
test count, so its diagonal is each class's recall. From the repository root::

    python examples/goemotions_multiclass.py

Data comes from ``$SKBERT_DATA``, else ``../shared/data``.
``SKBERT_EXAMPLES_SMALL=1`` runs a small setting (300 comments, one epoch, 300 test
comments), as the documentation build does; its numbers say little.

The default run (3,000 training comments, 3 epochs, all 4,590 single-label test
comments) took 88 s on a 2-core machine with little other load (fit 75 s). It
scored accuracy 0.454 (always ``neutral``: 0.350) and macro-F1 0.093: 282
optimizer steps teach the model mostly the frequent classes, and each class it
never predicts adds F1 = 0 to the macro average. ``class_weight="balanced"`` trades
one for the other: accuracy 0.289, macro-F1 0.220.
"""

import os
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay, f1_score

from skbert import BertTextClassifier
from skbert.datasets import load_goemotions

data_home = os.environ.get("SKBERT_DATA", "../shared/data")
small = os.environ.get("SKBERT_EXAMPLES_SMALL") == "1"
n_train, n_test, epochs = (300, 300, 1) if small else (3000, 0, 3)  # 0: all


def single_label(split):
    """The comments of ``split`` with exactly one label, and that label."""
    X, Y = load_goemotions(split, data_home=data_home, return_X_y=True)
    keep = [i for i, labels in enumerate(Y) if len(labels) == 1]
    return [X[i] for i in keep], np.array([Y[i][0] for i in keep])


X, y = single_label("train")
keep = np.random.default_rng(0).choice(len(X), n_train, replace=False)
X_train, y_train = [X[i] for i in keep], y[keep]
X_test, y_test = single_label("test")
if n_test:
    X_test, y_test = X_test[:n_test], y_test[:n_test]

# %%
# Fine-tune and score
# -------------------
clf = BertTextClassifier(epochs=epochs, random_state=0).fit(X_train, y_train)
predicted = clf.predict(X_test)

labels = np.union1d(y_test, predicted)
accuracy = np.mean(predicted == y_test)
macro_f1 = f1_score(y_test, predicted, labels=labels, average="macro", zero_division=0)
majority = Counter(y_train).most_common(1)[0][0]
print(f"{len(clf.classes_)} classes, {len(X_train)} training comments")
baseline = np.mean(y_test == majority)
print(f"accuracy  {accuracy:.4f}  (always {majority!r}: {baseline:.4f})")
print(f"macro-F1  {macro_f1:.4f}")

# %%
# Confusion matrix
# ----------------
fig, ax = plt.subplots(figsize=(12, 11), layout="constrained")
ConfusionMatrixDisplay.from_predictions(
    y_test,
    predicted,
    labels=labels,
    normalize="true",
    include_values=False,
    xticks_rotation="vertical",
    cmap="Blues",
    ax=ax,
)
ax.set_title(
    f"GoEmotions, {len(X_test)} single-label test comments "
    "(rows divided by their true count)"
)
plt.show()
