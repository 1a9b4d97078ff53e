"""Faithfulness of explain() against LIME, attention and chance; calibration.

Part "faithfulness": the bundled model fine-tuned on a seeded sample of SST-2
sentences explains its predicted class on a sample of SST-2 validation sentences
with skbert's integrated gradients (of the log-odds, the default, and of the
probability), LIME (``LimeTextExplainer`` with its defaults
on ``predict_proba``), the last layer's attention from ``[CLS]`` (mean over
heads) and a random ranking. Each method ranks the words of a text (skbert's
words: word pieces joined, punctuation apart; LIME's weight of a word goes to
every occurrence of it). ERASER's comprehensiveness (the drop in the predicted
class's probability when the top k% of words are removed) and sufficiency (its
drop when only they are kept; lower is better), DeYoung et al. (2020), are
averaged over k = 1, 5, 10, 20 and 50% (at least one word each) into AOPC.
Seconds per text count the explanation alone. LIME is slow and runs on the first
``--n-lime`` texts; its row gives skbert's figures on the same texts beside it.
The completeness error of integrated gradients is ``|sum of attributions -
(output - baseline output)| / |output - baseline output|`` per text.

Part "calibration": expected calibration error (15 equal-width bins of the top
probability), log-loss, Brier score and accuracy of ``predict_proba`` on SST-2
validation and on GoEmotions' single-label test comments of its 10 most frequent
labels (a 10-class task; the rarest of all 28 are too few for 5 folds), for the
fitted classifier as it is, after ``CalibratedClassifierCV(FrozenEstimator(clf),
method="temperature")`` on held-out training texts (``--n-calibration``, not
trained on), and for a classifier fitted with ``calibrate=True`` on the same
training texts (it holds out ``validation_fraction=0.1`` of them).
A last row, "shift check", is a diagnosis and not a way to calibrate: the
temperature fitted on one half of the evaluation texts and scored on the other,
both ways round, which tells whether held-out *training* texts are what keeps
the error up (SST-2 trains on treebank phrases and evaluates on sentences).

Run from the repository root::

    python benchmarks/bench_explain.py --json benchmarks/results/explain.json

LIME is not a dependency of skbert: ``pip install lime`` for this script.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import numpy as np
from _cli import benchmark_parser, sample
from _report import config_of, environment, machine, machine_line, write_json

BINS = (0.01, 0.05, 0.10, 0.20, 0.50)
# GoEmotions' most frequent single labels kept: the rarest of its 28 have too few
# comments for CalibratedClassifierCV's 5 folds in a held-out sample.
N_EMOTIONS = 10
LIME_SAMPLES = 5000  # LimeTextExplainer's default
DELETION = 'skbert, method="deletion"'


def parse_args(argv: list[str] | None = None) -> Any:
    parser = benchmark_parser(__doc__, "sst2/ and goemotions/")
    parser.set_defaults(epochs=3, learning_rate=1e-4)
    parser.add_argument(
        "--parts", default="faithfulness,goemotions-faithfulness,calibration"
    )
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-explain", type=int, default=200)
    parser.add_argument("--n-lime", type=int, default=20)
    parser.add_argument("--n-steps", type=int, default=50)
    parser.add_argument(
        "--n-rounds",
        type=int,
        default=None,
        help='n_steps of explain(method="deletion"); None: its default',
    )
    parser.add_argument("--n-calibration", type=int, default=1000)
    parser.add_argument("--n-eval", type=int, default=None, help="None: all")
    return parser.parse_args(argv)


def classifier(args: Any, **params: Any) -> Any:
    from skbert import BertTextClassifier

    return BertTextClassifier(
        args.model,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        random_state=args.seed,
        **params,
    )


# ------------------------------------------------------------------ faithfulness


def removed(text: str, spans: np.ndarray, drop: np.ndarray) -> str:
    """``text`` without the words at ``spans[drop]``."""
    pieces, at = [], 0
    for start, end in spans[np.sort(drop)]:
        pieces.append(text[at:start])
        at = end
    return " ".join(" ".join([*pieces, text[at:]]).split())


def kept(text: str, spans: np.ndarray, keep: np.ndarray) -> str:
    return " ".join(text[start:end] for start, end in spans[np.sort(keep)])


def aopc(clf: Any, items: list[Any], rankings: list[np.ndarray]) -> dict[str, float]:
    """Comprehensiveness and sufficiency AOPC of ``rankings`` (word indices, most
    important first) of the explained ``items``."""
    perturbed, columns = [], []
    for item, order in zip(items, rankings, strict=True):
        n = len(item.words)
        perturbed.append(item.text)  # the probability the drops are from
        for share in BINS:
            top = order[: max(1, math.ceil(share * n))]
            perturbed += [removed(item.text, item.spans, top)]
            perturbed += [kept(item.text, item.spans, top)]
        columns.append(list(clf.classes_).index(item.prediction))
    proba = clf.predict_proba([t if t.strip() else "." for t in perturbed])
    proba = proba.reshape(len(items), 1 + 2 * len(BINS), -1)
    picked = proba[np.arange(len(items)), :, np.array(columns)]  # (n, 1 + 2 bins)
    full, picked = picked[:, 0], picked[:, 1:].reshape(len(items), len(BINS), 2)
    drops = full[:, None, None] - picked
    return {
        "comprehensiveness": float(drops[:, :, 0].mean()),
        "comprehensiveness_per_text": drops[:, :, 0].mean(1).tolist(),
        "sufficiency": float(drops[:, :, 1].mean()),
    }


def lime_rankings(
    clf: Any, items: list[Any], num_samples: int = LIME_SAMPLES
) -> tuple[list[np.ndarray], float]:
    from lime.lime_text import LimeTextExplainer

    names = [str(c) for c in clf.classes_]
    explainer = LimeTextExplainer(class_names=names, random_state=0)
    rankings, started = [], time.perf_counter()
    for item in items:
        label = list(clf.classes_).index(item.prediction)
        found = explainer.explain_instance(
            item.text, clf.predict_proba, labels=(label,), num_samples=num_samples
        )
        weights = {word.lower(): w for word, w in found.as_list(label=label)}
        scores = np.array([weights.get(word.lower(), 0.0) for word in item.words])
        rankings.append(np.argsort(-scores, kind="stable"))
    return rankings, (time.perf_counter() - started) / len(items)


def attention_rankings(clf: Any, items: list[Any]) -> tuple[list[np.ndarray], float]:
    """Words ranked by the last layer's attention from [CLS], mean over heads."""
    import torch

    model = clf.model_
    model.set_attn_implementation("eager")
    rankings, started = [], time.perf_counter()
    with torch.inference_mode():
        for item in items:
            encoded = clf.tokenizer_(
                item.text,
                return_tensors="pt",
                return_offsets_mapping=True,
                truncation=True,
                max_length=clf.max_length_,
            )
            words = encoded.word_ids(0)
            encoded.pop("offset_mapping")
            attention = model(**encoded, output_attentions=True).attentions[-1]
            weights = attention[0, :, 0].mean(0).numpy()
            scores = np.zeros(len(item.words))
            for position, word in enumerate(words):
                if word is not None and word < len(scores):
                    scores[word] += weights[position]
            rankings.append(np.argsort(-scores, kind="stable"))
    model.set_attn_implementation("sdpa")
    return rankings, (time.perf_counter() - started) / len(items)


def faithfulness(args: Any, clf: Any, texts: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    explanation = clf.explain(texts, n_steps=args.n_steps)
    skbert_s = (time.perf_counter() - started) / len(texts)
    items = list(explanation)
    for i, item in enumerate(items):  # word indices in skbert's words
        assert len(item.words) == len(item.spans), i
    ig = [np.argsort(-item.scores, kind="stable") for item in items]
    started = time.perf_counter()
    probability = clf.explain(texts, output="probability", n_steps=args.n_steps)
    probability_s = (time.perf_counter() - started) / len(texts)
    ig_p = [np.argsort(-item.scores, kind="stable") for item in probability]
    started = time.perf_counter()
    deleted = clf.explain(texts, method="deletion", n_steps=args.n_rounds)
    deletion_s = (time.perf_counter() - started) / len(texts)
    deletion = [np.argsort(-item.scores, kind="stable") for item in deleted]
    rng = np.random.default_rng(args.seed)
    chance = [rng.permutation(len(item.words)) for item in items]
    attention, attention_s = attention_rankings(clf, items)
    rows = {
        "skbert": {**aopc(clf, items, ig), "seconds_per_text": skbert_s},
        'skbert, output="probability"': {
            **aopc(clf, items, ig_p),
            "seconds_per_text": probability_s,
        },
        DELETION: {
            **aopc(clf, items, deletion),
            "seconds_per_text": deletion_s,
            "n_steps": deleted.n_steps,
        },
        "attention": {
            **aopc(clf, items, attention),
            "seconds_per_text": attention_s,
        },
        "random": {**aopc(clf, items, chance), "seconds_per_text": 0.0},
    }
    n_lime, gaps = min(args.n_lime, len(items)), {}
    if n_lime:
        lime, lime_s = lime_rankings(clf, items[:n_lime])
        rows["lime"] = {
            **aopc(clf, items[:n_lime], lime),
            "seconds_per_text": lime_s,
            "n_texts": n_lime,
        }
        tenth, tenth_s = lime_rankings(clf, items[:n_lime], LIME_SAMPLES // 10)
        rows[f"lime, {LIME_SAMPLES // 10} samples"] = {
            **aopc(clf, items[:n_lime], tenth),
            "seconds_per_text": tenth_s,
            "n_texts": n_lime,
        }
        rows["skbert on LIME's texts"] = aopc(clf, items[:n_lime], ig[:n_lime])
        rows['skbert, output="probability", on LIME\'s texts'] = aopc(
            clf, items[:n_lime], ig_p[:n_lime]
        )
        rows[f"{DELETION} on LIME's texts"] = aopc(
            clf, items[:n_lime], deletion[:n_lime]
        )
        rows["random on LIME's texts"] = aopc(clf, items[:n_lime], chance[:n_lime])
        for name in (
            "skbert on LIME's texts",
            f"{DELETION} on LIME's texts",
            f"lime, {LIME_SAMPLES // 10} samples",
        ):
            gap = np.subtract(
                rows["lime"]["comprehensiveness_per_text"],
                rows[name]["comprehensiveness_per_text"],
            )
            gaps[name] = {
                "mean": float(gap.mean()),
                "standard_error": float(gap.std(ddof=1) / np.sqrt(len(gap)))
                if len(gap) > 1
                else float("nan"),
            }
    return {
        "n_texts": len(items),
        "n_steps": args.n_steps,
        "methods": rows,
        "lime_comprehensiveness_minus": gaps,
        "completeness": {
            "log-odds": completeness(explanation),
            "probability": completeness(probability),
        },
    }


def completeness(explanation: Any) -> dict[str, float]:
    errors = explanation.completeness_error
    change = np.abs(explanation.output - explanation.baseline_output)
    deltas = np.abs([item.delta for item in explanation])
    return {
        "median_error": float(np.nanmedian(errors)),
        "mean_error": float(np.nanmean(errors)),
        "p90_error": float(np.nanpercentile(errors, 90)),
        "total_error": float(deltas.sum() / change.sum()),
    }


# ------------------------------------------------------------------ calibration


def expected_calibration_error(y: np.ndarray, proba: np.ndarray, classes) -> float:
    """ECE with 15 equal-width bins of the top probability."""
    confidence = proba.max(axis=1)
    correct = np.asarray(classes)[proba.argmax(axis=1)] == y
    bins = np.minimum((confidence * 15).astype(int), 14)
    return float(
        sum(
            abs(correct[bins == b].mean() - confidence[bins == b].mean())
            * (bins == b).mean()
            for b in np.unique(bins)
        )
    )


def scores_of(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> dict:
    from sklearn.metrics import brier_score_loss, log_loss

    proba = proba.astype(np.float64)
    proba /= proba.sum(axis=1, keepdims=True)  # float32 rows sum to 1 +- 1e-7
    return {
        "ece": expected_calibration_error(y, proba, classes),
        "log_loss": float(log_loss(y, proba, labels=classes)),
        "brier": float(brier_score_loss(y, proba, labels=classes)),
        "accuracy": float(np.mean(classes[proba.argmax(axis=1)] == y)),
    }


def calibration(args: Any, clf: Any, data: dict[str, Any]) -> dict[str, Any]:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import KFold

    known = np.isin(data["eval_y"], clf.classes_)  # a class fit never saw: left out
    x_eval = [x for x, k in zip(data["eval_x"], known, strict=True) if k]
    y_eval = np.asarray(data["eval_y"])[known]
    rows = {"uncalibrated": scores_of(y_eval, clf.predict_proba(x_eval), clf.classes_)}
    rows["uncalibrated"]["n_eval"] = len(y_eval)
    started = time.perf_counter()
    # Folds need not hold every class: the frozen model is not refitted in them.
    folds = KFold(5, shuffle=True, random_state=args.seed)
    cv = CalibratedClassifierCV(FrozenEstimator(clf), method="temperature", cv=folds)
    cv.fit(data["calibration_x"], data["calibration_y"])
    rows["CalibratedClassifierCV"] = {
        **scores_of(y_eval, cv.predict_proba(x_eval), cv.classes_),
        "calibration_s": time.perf_counter() - started,
    }
    calibrated = classifier(args, calibrate=True).fit(data["train_x"], data["train_y"])
    rows["calibrate=True"] = {
        **scores_of(y_eval, calibrated.predict_proba(x_eval), calibrated.classes_),
        "temperature": float(calibrated.temperature_),
    }
    rows["shift check"] = cross_fitted(args, clf, x_eval, y_eval)
    return rows


def cross_fitted(args: Any, clf: Any, x: list[str], y: np.ndarray) -> dict[str, Any]:
    """A diagnosis, not a way to calibrate: the temperature fitted on one half of
    the evaluation texts and applied to the other, both ways round. If this
    reaches a low ECE where held-out training texts do not, the training texts'
    distribution differs from the evaluation's (SST-2 trains on phrases of the
    treebank and evaluates on whole sentences). The temperature minimises the
    half's log-loss, as ``method="temperature"`` does; on log-probabilities,
    which are the logits up to a shift that softmax ignores."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax
    from sklearn.model_selection import KFold

    log_p = np.log(np.clip(clf.predict_proba(x).astype(np.float64), 1e-12, None))
    column = np.searchsorted(clf.classes_, y)
    proba = np.empty_like(log_p)
    halves = KFold(2, shuffle=True, random_state=args.seed).split(log_p)
    for fit_on, score_on in halves:

        def loss(log_t: float, rows: np.ndarray = fit_on) -> float:
            scaled = log_softmax(log_p[rows] / np.exp(log_t), axis=1)
            return -float(scaled[np.arange(len(rows)), column[rows]].mean())

        log_t = minimize_scalar(loss, bounds=(-4, 4), method="bounded").x
        proba[score_on] = np.exp(log_softmax(log_p[score_on] / np.exp(log_t), axis=1))
    return scores_of(y, proba, clf.classes_)


def goemotions(args: Any) -> dict[str, Any]:
    from skbert.datasets import load_goemotions

    rng = np.random.default_rng(args.seed)
    splits = {}
    for split in ("train", "test"):
        X, Y = load_goemotions(split, data_home=args.data_dir, return_X_y=True)
        keep = [i for i, labels in enumerate(Y) if len(labels) == 1]
        splits[split] = ([X[i] for i in keep], np.array([Y[i][0] for i in keep]))
    X, y = splits["train"]
    labels, counts = np.unique(y, return_counts=True)
    common = labels[np.argsort(-counts, kind="stable")[:N_EMOTIONS]]
    for split, (texts, found) in splits.items():
        keep = np.isin(found, common)
        kept_texts = [t for t, k in zip(texts, keep, strict=True) if k]
        splits[split] = (kept_texts, found[keep])
    X, y = splits["train"]
    order = rng.permutation(len(X))
    train, held = order[: args.n_train], order[args.n_train :][: args.n_calibration]
    X_test, y_test = splits["test"]
    n_eval = len(X_test) if args.n_eval is None else args.n_eval
    return {
        "train_x": [X[i] for i in train],
        "train_y": y[train],
        "calibration_x": [X[i] for i in held],
        "calibration_y": y[held],
        "eval_x": X_test[:n_eval],
        "eval_y": y_test[:n_eval],
    }


def sst2(args: Any) -> dict[str, Any]:
    from skbert.datasets import load_sst2

    n = args.n_train + args.n_calibration
    data = sample(load_sst2, ("train", "validation"), args.data_dir, n, None, args.seed)
    data["calibration_x"] = data["train_x"][args.n_train :]
    data["calibration_y"] = data["train_y"][args.n_train :]
    data["train_x"], data["train_y"] = (
        data["train_x"][: args.n_train],
        data["train_y"][: args.n_train],
    )
    return data


# ------------------------------------------------------------------ report


def explained_texts(args: Any, data: dict[str, Any]) -> list[str]:
    """``--n-explain`` texts drawn (seeded) from the evaluation split."""
    rng = np.random.default_rng(args.seed)
    n = min(args.n_explain, len(data["eval_x"]))
    return [
        data["eval_x"][i] for i in rng.choice(len(data["eval_x"]), n, replace=False)
    ]


def faithfulness_table(found: dict[str, Any] | None, texts: str) -> list[str]:
    if not found:
        return []
    lines = [
        f"Faithfulness on {found['n_texts']} {texts} (integrated gradients' "
        f"n_steps={found['n_steps']}); AOPC over k = 1, 5, 10, 20, 50%:",
        "",
        "| method | comprehensiveness (higher better) | sufficiency (lower "
        "better) | seconds per text |",
        "|---|---|---|---|",
    ]
    for name, row in found["methods"].items():
        seconds = row.get("seconds_per_text")
        lines.append(
            f"| {name} | {row['comprehensiveness']:.3f} | "
            f"{row['sufficiency']:.3f} | "
            f"{'' if seconds is None else f'{seconds:.3f}'} |"
        )
    lines.append("")
    for name, gap in found.get("lime_comprehensiveness_minus", {}).items():
        lines += [
            f"LIME's comprehensiveness minus that of {name}, per text: "
            f"mean {gap['mean']:.3f}, standard error "
            f"{gap['standard_error']:.3f}.",
            "",
        ]
    for output, c in found["completeness"].items():
        lines += [
            f"Completeness error of integrated gradients ({output}): median "
            f"{c['median_error']:.4f}, mean {c['mean_error']:.4f}, 90th "
            f"percentile {c['p90_error']:.4f}, "
            f"sum |delta| / sum |change| {c['total_error']:.4f}.",
            "",
        ]
    return lines


def tables(report: dict[str, Any]) -> list[str]:
    lines = []
    for key, texts in (
        ("faithfulness", "SST-2 validation sentences"),
        (
            "goemotions_faithfulness",
            f"GoEmotions test comments of its {N_EMOTIONS} most frequent classes",
        ),
    ):
        lines += faithfulness_table(report.get(key), texts)
    for dataset, rows in report.get("calibration", {}).items():
        lines += [
            f"Calibration on {dataset}:",
            "",
            "| probabilities | ECE (15 bins) | log-loss | Brier | accuracy |",
            "|---|---|---|---|---|",
        ]
        for name, row in rows.items():
            lines.append(
                f"| {name} | {row['ece']:.4f} | {row['log_loss']:.4f} | "
                f"{row['brier']:.4f} | {row['accuracy']:.4f} |"
            )
        lines.append("")
    return lines


def main(argv: list[str] | None = None) -> None:
    import torch

    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    parts = args.parts.split(",")
    host = machine(args.threads)
    print(machine_line(host))
    report: dict[str, Any] = {
        "machine": host,
        "environment": environment(("skbert", "torch", "transformers", "lime")),
        "config": config_of(args),
    }
    data = sst2(args)
    started = time.perf_counter()
    clf = classifier(args).fit(data["train_x"], data["train_y"])
    report["fit_s"] = time.perf_counter() - started
    print(f"fit {report['fit_s']:.0f} s", file=sys.stderr)
    if "faithfulness" in parts:
        report["faithfulness"] = faithfulness(args, clf, explained_texts(args, data))
    if "calibration" in parts:
        report["calibration"] = {"SST-2 validation": calibration(args, clf, data)}
        print("SST-2 calibration done", file=sys.stderr)
    if "goemotions-faithfulness" in parts or "calibration" in parts:
        many = goemotions(args)
        other = classifier(args).fit(many["train_x"], many["train_y"])
        if "goemotions-faithfulness" in parts:
            texts = explained_texts(args, many)
            report["goemotions_faithfulness"] = faithfulness(args, other, texts)
        if "calibration" in parts:
            name = f"GoEmotions single-label test, {N_EMOTIONS} most frequent classes"
            report["calibration"][name] = calibration(args, other, many)
    print("\n".join(tables(report)))
    if args.json:
        write_json(args.json, report)


if __name__ == "__main__":
    main()
