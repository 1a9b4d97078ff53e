"""Learning from a few texts: the step floor, the linear-probe head, pooling that
matches the checkpoint, and the embedder's contrastive fit (issue 21)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from conftest import round_trip
from skbert import (
    BertTextClassifier,
    BertTextEmbedder,
    BertTextRegressor,
    _engine,
    _hub,
)

TEXTS = ["good film", "great plot", "bad film", "awful plot", "fine acting"] * 2
LABELS = ["pos", "pos", "neg", "neg", "pos"] * 2


def small(model: str, **params: object) -> BertTextClassifier:
    settings: dict = {"epochs": 1, "batch_size": 4, "random_state": 0}
    settings.update(params)
    return BertTextClassifier(model, **settings)


@pytest.fixture(scope="module")
def mean_pooled_model(tiny_model: str, tmp_path_factory) -> str:
    """The tiny model as a sentence-transformers checkpoint that mean-pools."""
    folder = tmp_path_factory.mktemp("st") / "tiny-st"
    shutil.copytree(tiny_model, folder)
    modules = [
        {
            "idx": 0,
            "name": "0",
            "path": "",
            "type": "sentence_transformers.models.Transformer",
        },
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True})
    )
    return str(folder)


# ---------------------------------------------------------------- step floor


def test_auto_epochs_train_at_least_min_steps(tiny_model):
    # 10 texts in batches of 4: 3 steps an epoch, so 20 steps need 7 epochs.
    clf = small(tiny_model, epochs="auto", min_steps=20, contrastive=False)
    clf.fit(TEXTS, LABELS)
    assert clf.n_iter_ == 7
    assert len(clf.loss_curve_) == len(clf.history_) == 7


def test_auto_epochs_are_three_when_min_steps_are_reached(tiny_model):
    clf = small(tiny_model, epochs="auto", min_steps=3).fit(TEXTS, LABELS)
    assert clf.n_iter_ == 3  # 9 steps already


@pytest.mark.parametrize("epochs", [1, np.int64(2)])
def test_integer_epochs_are_exact_whatever_min_steps(tiny_model, epochs):
    # A grid or halving search over epochs must get the epochs it asks for.
    clf = small(tiny_model, epochs=epochs, min_steps=50).fit(TEXTS, LABELS)
    assert clf.n_iter_ == epochs


def test_epochs_is_validated(tiny_model):
    with pytest.raises(ValueError, match="'epochs' parameter of BertTextClassifier"):
        small(tiny_model, epochs="many").fit(TEXTS, LABELS)


def test_partial_fit_stays_one_epoch_whatever_min_steps(tiny_model):
    clf = small(tiny_model, epochs="auto", min_steps=50)
    clf.partial_fit(TEXTS, LABELS, classes=["neg", "pos"])
    assert clf.n_iter_ == 1


def test_the_learning_rate_decays_over_the_stretched_run(tiny_model):
    clf = small(tiny_model, epochs="auto", min_steps=20, warmup_ratio=0.0)
    clf.fit(TEXTS, LABELS)
    rates = [record["learning_rate"] for record in clf.history_]
    assert rates == sorted(rates, reverse=True)
    assert rates[-1] < 0.2 * rates[0]  # linear decay over all 21 steps


# ------------------------------------------------------------- linear head


def _features(model: str, texts: list[str]) -> np.ndarray:
    embedder = BertTextEmbedder(model, pooling="mean", normalize=False, max_length=128)
    return embedder.fit().transform(texts).astype(np.float64)


def test_linear_head_starts_where_logistic_regression_ends(tiny_model):
    # With a negligible learning rate the fitted model is its starting point.
    clf = small(tiny_model, pooling="mean", learning_rate=1e-12, min_steps=0).fit(
        TEXTS, LABELS
    )
    probe = LogisticRegression(C=1.0, max_iter=500).fit(
        _features(tiny_model, TEXTS), LABELS
    )
    features = _features(tiny_model, TEXTS)
    np.testing.assert_allclose(
        clf.predict_proba(TEXTS), probe.predict_proba(features), atol=1e-4
    )


def test_random_head_init_differs_from_the_linear_one(tiny_model):
    linear = small(tiny_model, learning_rate=1e-12, min_steps=0).fit(TEXTS, LABELS)
    random = small(
        tiny_model, learning_rate=1e-12, min_steps=0, head_init="random"
    ).fit(TEXTS, LABELS)
    assert not np.allclose(linear.predict_proba(TEXTS), random.predict_proba(TEXTS))


def test_linear_head_of_a_regressor_is_a_ridge_fit(tiny_model):
    from sklearn.linear_model import RidgeCV

    from skbert._regressor import RIDGE_ALPHAS

    y = np.linspace(0.0, 5.0, len(TEXTS))
    reg = BertTextRegressor(
        tiny_model,
        pooling="mean",
        head_init="linear",
        learning_rate=1e-12,
        min_steps=0,
        epochs=1,
        random_state=0,
    ).fit(TEXTS, y)
    standardised = (y - y.mean()) / y.std()
    ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(_features(tiny_model, TEXTS), standardised)
    expected = ridge.predict(_features(tiny_model, TEXTS)) * y.std() + y.mean()
    np.testing.assert_allclose(reg.predict(TEXTS), expected, atol=1e-3)


@pytest.mark.parametrize(
    ("estimator", "same_as"),
    [(BertTextClassifier, "linear"), (BertTextRegressor, "random")],
)
def test_auto_head_init_is_linear_for_classes_and_random_for_numbers(
    tiny_model, estimator, same_as
):
    y = LABELS if estimator is BertTextClassifier else np.linspace(0, 5, len(TEXTS))

    def fitted(head_init: str) -> np.ndarray:
        model = estimator(
            tiny_model,
            head_init=head_init,
            epochs=1,
            learning_rate=1e-12,
            random_state=0,
        )
        return model.fit(TEXTS, y).predict(TEXTS)

    np.testing.assert_array_equal(fitted("auto"), fitted(same_as))
    assert not np.array_equal(fitted("linear"), fitted("random"))


def test_linear_head_for_multilabel_and_a_label_without_positives(tiny_model):
    Y = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0], [1, 0, 0]] * 2)
    clf = small(tiny_model, learning_rate=1e-12, min_steps=0).fit(TEXTS, Y)
    proba = clf.predict_proba(TEXTS)
    assert proba.shape == (10, 3)
    assert np.all(proba[:, 2] < 0.5)  # never seen positive: starts unlikely
    # Label 0 is learnable from the features: the probe ranks its positives up.
    assert proba[Y[:, 0] == 1, 0].mean() > proba[Y[:, 0] == 0, 0].mean()


# ------------------------------------------------------------------ pooling


def test_auto_pooling_reads_the_checkpoint(tiny_model, mean_pooled_model):
    assert _hub.checkpoint_pooling(tiny_model) == "cls"
    assert _hub.checkpoint_pooling(mean_pooled_model) == "mean"
    clf = small(mean_pooled_model, min_steps=0).fit(TEXTS, LABELS)
    assert clf.model_.config.skbert_pooling == "mean"
    clf = small(tiny_model, min_steps=0).fit(TEXTS, LABELS)
    assert clf.model_.config.skbert_pooling == "cls"


def test_mean_pooling_changes_what_the_head_reads(tiny_model):
    cls = small(tiny_model, pooling="cls", min_steps=0).fit(TEXTS, LABELS)
    mean = small(tiny_model, pooling="mean", min_steps=0).fit(TEXTS, LABELS)
    assert not np.allclose(cls.predict_proba(TEXTS), mean.predict_proba(TEXTS))


def test_mean_pooling_ignores_padding(tiny_model):
    clf = small(tiny_model, pooling="mean", min_steps=0).fit(TEXTS, LABELS)
    alone = clf.predict_proba(["good film"])
    padded = clf.predict_proba(["good film", "a much longer text about the film plot"])
    np.testing.assert_allclose(alone[0], padded[0], atol=1e-5)


@pytest.mark.parametrize("how", ["save", "pickle", "joblib"])
def test_mean_pooling_survives_persistence(tiny_model, tmp_path, how):
    clf = small(tiny_model, pooling="mean", min_steps=0).fit(TEXTS, LABELS)
    back = round_trip(clf, how, tmp_path)
    assert back.model_.config.skbert_pooling == "mean"
    np.testing.assert_allclose(
        back.predict_proba(TEXTS), clf.predict_proba(TEXTS), atol=1e-6
    )


def test_mean_pooling_in_int8_and_onnx(tiny_model, tmp_path):
    import skbert.onnx

    clf = small(tiny_model, pooling="mean", min_steps=0).fit(TEXTS, LABELS)
    fp32 = clf.predict_proba(TEXTS)
    int8 = clf.set_params(quantize="int8").predict_proba(TEXTS)
    clf.set_params(quantize=None)
    np.testing.assert_allclose(int8, fp32, atol=0.05)
    clf.export_onnx(tmp_path / "onnx")
    np.testing.assert_allclose(
        skbert.onnx.load(tmp_path / "onnx").predict_proba(TEXTS), fp32, atol=1e-5
    )


def test_pooling_is_validated(tiny_model):
    with pytest.raises(ValueError, match="'pooling' parameter of BertTextClassifier"):
        small(tiny_model, pooling="max").fit(TEXTS, LABELS)


# ---------------------------------------------------- supervised embedder


def test_embedder_fit_with_labels_changes_the_embeddings(tiny_model):
    before = BertTextEmbedder(tiny_model).fit(TEXTS, LABELS).transform(TEXTS)
    tuned = BertTextEmbedder(
        tiny_model, epochs="auto", min_steps=10, learning_rate=1e-3, random_state=0
    ).fit(TEXTS, LABELS)
    after = tuned.transform(TEXTS)
    assert not np.allclose(before, after, atol=1e-4)
    assert tuned.n_iter_ == 10  # 10 texts in one batch of 64: 10 passes
    # Same-label texts end closer than different-label ones.
    labels = np.array(LABELS)
    similarity = after @ after.T
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    assert similarity[same & off_diagonal].mean() > similarity[~same].mean()


def test_embedder_fit_without_labels_or_epochs_stays_pretrained(tiny_model):
    plain = BertTextEmbedder(tiny_model).fit(TEXTS).transform(TEXTS)
    with_y = BertTextEmbedder(tiny_model).fit(TEXTS, LABELS).transform(TEXTS)
    no_y = BertTextEmbedder(tiny_model, epochs=1).fit(TEXTS).transform(TEXTS)
    np.testing.assert_array_equal(plain, with_y)
    np.testing.assert_array_equal(plain, no_y)


def test_embedder_fit_is_seeded(tiny_model):
    def tuned(seed: int) -> np.ndarray:
        embedder = BertTextEmbedder(
            tiny_model, epochs=3, learning_rate=1e-3, random_state=seed
        )
        return embedder.fit(TEXTS, LABELS).transform(TEXTS)

    np.testing.assert_array_equal(tuned(0), tuned(0))


def test_supervised_embedder_in_a_grid_search_and_round_trips(tiny_model, tmp_path):
    pipe = make_pipeline(
        BertTextEmbedder(tiny_model, epochs=2, random_state=0),
        LogisticRegression(),
    )
    grid = GridSearchCV(
        pipe,
        {"berttextembedder__learning_rate": [np.float64(1e-4), 1e-3]},
        cv=2,
    ).fit(TEXTS, LABELS)
    assert set(grid.cv_results_["param_berttextembedder__learning_rate"]) == {
        1e-4,
        1e-3,
    }
    best = grid.best_estimator_
    for how in ("pickle", "joblib"):
        back = round_trip(best, how, tmp_path)
        np.testing.assert_allclose(
            back.predict_proba(TEXTS), best.predict_proba(TEXTS), atol=1e-6
        )


@pytest.mark.parametrize(
    ("texts", "labels", "message"),
    [
        (["a", "b", "c"], ["x", "x", "y"], r"label\(s\) \['y'\] have one"),
        (["a", "b", "c"], ["x", "x", "x"], "single class"),
        (["a"], ["x"], "single class"),
        (["a", "b"], ["x"], "X has 2 texts but y has 1"),
    ],
)
def test_embedder_fit_rejects_labels_it_cannot_pair(tiny_model, texts, labels, message):
    with pytest.raises(ValueError, match=message):
        BertTextEmbedder(tiny_model, epochs=1).fit(texts, labels)


def test_embedder_fit_says_nothing(tiny_model, capsys):
    BertTextEmbedder(tiny_model, epochs=1, min_steps=2).fit(TEXTS, LABELS)
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""


# ---------------------------------------------------------- contrastive stage


@pytest.fixture
def trainings(monkeypatch) -> list[tuple[str, str, float]]:
    """Each ``_engine.train`` call of a fit: the model's class, the loss, the rate."""
    calls = []
    train = _engine.train

    def recording(model, batches, config, *args, **kwargs):
        calls.append((type(model).__name__, config.loss.kind, config.learning_rate))
        return train(model, batches, config, *args, **kwargs)

    monkeypatch.setattr(_engine, "train", recording)
    return calls


def _head_input(clf: BertTextClassifier, texts: list[str]) -> np.ndarray:
    """What the fitted classifier's output layer reads for ``texts``."""
    encoded = clf._tokenize(clf.tokenizer_, texts, clf.max_length_)
    return clf._head_features(clf.model_, clf.tokenizer_, encoded, clf.device_)


def test_the_stage_takes_batches_twice_batch_size(tiny_model, monkeypatch):
    sizes = []
    train = _engine.train

    def recording(model, batches, config, *args, **kwargs):
        sizes.append((config.loss.kind, batches.batch_size))
        return train(model, batches, config, *args, **kwargs)

    monkeypatch.setattr(_engine, "train", recording)
    small(tiny_model, batch_size=3).fit(TEXTS, LABELS)
    small(tiny_model, batch_size=3, contrastive=False).fit(TEXTS, LABELS)
    assert sizes == [("cosine_pairs", 6), ("cross_entropy", 3)]


def test_few_texts_train_the_encoder_on_pairs_then_fit_only_the_head(
    tiny_model, trainings
):
    before = _head_input(
        small(tiny_model, epochs=1, learning_rate=1e-12).fit(TEXTS, LABELS), TEXTS
    )
    trainings.clear()
    clf = small(tiny_model, epochs="auto", min_steps=5).fit(TEXTS, LABELS)
    assert trainings == [("HeadInput", "cosine_pairs", pytest.approx(1e-4))]
    assert clf.contrastive_ is True
    after = _head_input(clf, TEXTS)
    assert np.abs(after - before).max() > 1e-6  # the encoder moved
    # Nothing trained after the head: it is the probe of the trained features.
    probe = LogisticRegression(C=1.0, max_iter=500).fit(after, LABELS)
    np.testing.assert_allclose(
        clf.predict_proba(TEXTS), probe.predict_proba(after), atol=1e-4
    )


@pytest.mark.parametrize(("copies", "contrastive"), [(12, True), (13, False)])
def test_auto_is_contrastive_up_to_64_texts_per_class(
    tiny_model, trainings, copies, contrastive
):
    # 10 texts in 2 classes: 120 texts are 60 per class, 130 are 65.
    clf = small(tiny_model).fit(TEXTS * copies, LABELS * copies)
    assert clf.contrastive_ is contrastive
    kind = "cosine_pairs" if contrastive else "cross_entropy"
    assert [loss for _, loss, _ in trainings] == [kind]


def _pairs() -> list[tuple[str, str]]:
    return [(text, "a film") for text in TEXTS]


OBSTACLES = {
    "multi-label": ({}, "multi-label indicator matrix"),
    "early stopping": ({"early_stopping": True}, "early_stopping=True"),
    "random head": ({"head_init": "random"}, "head_init='random'"),
    "frozen encoder": ({"freeze_layers": "all"}, "freeze_layers='all'"),
}


def _fit_with(clf: BertTextClassifier, case: str) -> BertTextClassifier:
    # 40 texts: early stopping holds out 4, two of each class.
    if case == "multi-label":
        Y = np.array([[1, 0], [1, 1], [0, 1], [0, 1], [1, 0]] * 8)
        return clf.fit(TEXTS * 4, Y)
    return clf.fit(TEXTS * 4, LABELS * 4)


@pytest.mark.parametrize("case", sorted(OBSTACLES))
def test_auto_fine_tunes_end_to_end_where_pairs_of_a_class_do_not_apply(
    tiny_model, trainings, case
):
    params, _ = OBSTACLES[case]
    clf = _fit_with(small(tiny_model, **params), case)
    assert clf.contrastive_ is False
    assert "cosine_pairs" not in [loss for _, loss, _ in trainings]


@pytest.mark.parametrize("case", sorted(OBSTACLES))
def test_contrastive_true_names_what_stands_in_its_way(tiny_model, case):
    params, message = OBSTACLES[case]
    clf = small(tiny_model, contrastive=True, **params)
    with pytest.raises(ValueError, match=f"contrastive=True .*{message}"):
        _fit_with(clf, case)


def test_continuing_a_fit_is_end_to_end(tiny_model, trainings):
    clf = small(tiny_model, warm_start=True).fit(TEXTS, LABELS)
    assert clf.contrastive_ is True
    clf.fit(TEXTS, LABELS)
    clf.partial_fit(TEXTS, LABELS)
    assert [loss for _, loss, _ in trainings] == [
        "cosine_pairs",
        "cross_entropy",
        "cross_entropy",
    ]
    assert clf.contrastive_ is False
    first = small(tiny_model).partial_fit(TEXTS, LABELS, classes=["neg", "pos"])
    assert first.contrastive_ is False
    with pytest.raises(ValueError, match=r"contrastive=True .* continues a fitted"):
        clf.set_params(contrastive=True).fit(TEXTS, LABELS)


def test_text_pairs_are_contrastive_only_when_asked(tiny_model, trainings):
    assert small(tiny_model).fit(_pairs(), LABELS).contrastive_ is False
    assert small(tiny_model, contrastive=True).fit(_pairs(), LABELS).contrastive_
    assert [loss for _, loss, _ in trainings] == ["cross_entropy", "cosine_pairs"]


def test_contrastive_false_fine_tunes_few_texts(tiny_model, trainings):
    clf = small(tiny_model, contrastive=np.False_).fit(TEXTS, LABELS)
    assert clf.contrastive_ is False
    assert trainings == [
        ("BertForSequenceClassification", "cross_entropy", pytest.approx(1e-4))
    ]


@pytest.fixture
def floors(monkeypatch) -> list[tuple[str, int, int]]:
    """Each ``_engine.train`` call of a fit: the loss, the epochs and the step
    floor of its config, and the steps it ran."""
    calls = []
    train = _engine.train

    def recording(model, batches, config, *args, **kwargs):
        result = train(model, batches, config, *args, **kwargs)
        steps = result.n_iter * len(batches)  # passes x batches a pass
        calls.append((config.loss.kind, config.min_steps, steps))
        return result

    monkeypatch.setattr(_engine, "train", recording)
    return calls


def test_min_steps_auto_is_20_for_the_stage_and_50_end_to_end(tiny_model, floors):
    # 10 texts: the stage's batches of 8 make 2 steps a pass, so 20 steps take
    # 10 passes; fine-tuning's batches of 4 make 3, so 50 steps take 17.
    stage = small(tiny_model, epochs="auto").fit(TEXTS, LABELS)
    whole = small(tiny_model, epochs="auto", contrastive=False).fit(TEXTS, LABELS)
    assert stage.get_params()["min_steps"] == whole.get_params()["min_steps"] == "auto"
    assert floors == [("cosine_pairs", 20, 20), ("cross_entropy", 50, 51)]
    assert (stage.n_iter_, whole.n_iter_) == (10, 17)


def test_the_stages_auto_floor_is_10_steps_per_class(tiny_model, floors):
    # A batch of n classes holds about 1/n of its pairs in one class: more
    # classes, more steps, so that each task sees as many same-class pairs.
    labels = ["a", "b", "c", "d", "a"] * 2
    small(tiny_model, epochs="auto").fit(TEXTS, labels)
    BertTextEmbedder(tiny_model, epochs="auto", random_state=0).fit(TEXTS, labels)
    assert floors == [("cosine_pairs", 40, 40), ("cosine_pairs", 40, 40)]
    # An integer floor is the floor whatever the classes.
    small(tiny_model, epochs="auto", min_steps=6).fit(TEXTS, labels)
    assert floors[-1] == ("cosine_pairs", 6, 6)


@pytest.mark.parametrize("min_steps", [7, np.int64(7)])
def test_an_integer_min_steps_is_both_floors(tiny_model, floors, min_steps):
    small(tiny_model, epochs="auto", min_steps=min_steps).fit(TEXTS, LABELS)
    small(tiny_model, epochs="auto", min_steps=min_steps, contrastive=False).fit(
        TEXTS, LABELS
    )
    # Fine-tuning: 3 passes of 3 steps already exceed the floor of 7.
    assert floors == [("cosine_pairs", 7, 8), ("cross_entropy", 7, 9)]


def test_the_embedders_min_steps_auto_is_the_stages(tiny_model, floors):
    embedder = BertTextEmbedder(tiny_model, epochs="auto", random_state=0)
    embedder.fit(TEXTS, LABELS)
    assert floors == [("cosine_pairs", 20, 20)]  # one batch of 10 texts a pass
    assert embedder.n_iter_ == 20


@pytest.mark.parametrize("estimator", [BertTextClassifier, BertTextEmbedder])
def test_min_steps_is_validated(tiny_model, estimator):
    with pytest.raises(
        ValueError, match=f"'min_steps' parameter of {estimator.__name__}"
    ):
        estimator(tiny_model, epochs="auto", min_steps="many").fit(TEXTS, LABELS)


def test_the_stage_takes_a_given_learning_rate(tiny_model, trainings):
    small(tiny_model, learning_rate=3e-4).fit(TEXTS, LABELS)
    assert trainings == [("HeadInput", "cosine_pairs", pytest.approx(3e-4))]


@pytest.mark.parametrize("how", ["save", "pickle", "joblib"])
def test_contrastive_survives_persistence(tiny_model, tmp_path, how):
    clf = small(tiny_model, contrastive=np.True_).fit(TEXTS, LABELS)
    loaded = round_trip(clf, how, tmp_path)
    assert loaded.contrastive_ is True
    assert loaded.get_params()["contrastive"] == np.True_
    assert loaded.get_params()["min_steps"] == "auto"
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), clf.predict_proba(TEXTS))


def test_contrastive_is_validated(tiny_model):
    with pytest.raises(
        ValueError, match="'contrastive' parameter of BertTextClassifier"
    ):
        small(tiny_model, contrastive="always").fit(TEXTS, LABELS)
