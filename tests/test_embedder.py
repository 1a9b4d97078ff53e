"""BertTextEmbedder: sentence embeddings as a scikit-learn transformer."""

from __future__ import annotations

import inspect
import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils import estimator_checks
from sklearn.utils._param_validation import InvalidParameterError

from conftest import shared_data
from skbert import BertTextEmbedder

TEXTS = [
    "good film",
    "a great plot and very good acting",
    "bad film",
    "the worst plot",
    "",
    "it was not good but not bad",
]


@pytest.fixture(scope="module")
def embedder(tiny_model: str) -> BertTextEmbedder:
    return BertTextEmbedder(tiny_model, batch_size=2).fit()


def _manual(embedder: BertTextEmbedder, text: str, pooling: str) -> np.ndarray:
    """One text through the encoder alone, pooled by hand."""
    import torch

    ids = embedder.tokenizer_(text, return_tensors="pt")
    with torch.no_grad():
        hidden = embedder.model_(**ids).last_hidden_state[0].numpy()
    return hidden[0] if pooling == "cls" else hidden.mean(axis=0)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_embeddings_are_the_pooled_hidden_states(tiny_model, pooling):
    embedder = BertTextEmbedder(tiny_model, pooling=pooling, normalize=False).fit()
    found = embedder.transform(TEXTS)
    assert found.shape == (len(TEXTS), embedder.embedding_dim_) == (6, 32)
    assert found.dtype == np.float32
    for row, text in zip(found, TEXTS, strict=True):
        np.testing.assert_allclose(row, _manual(embedder, text, pooling), atol=1e-5)


def test_normalize_gives_unit_vectors_in_the_same_direction(tiny_model, embedder):
    raw = BertTextEmbedder(tiny_model, normalize=False).fit().transform(TEXTS)
    unit = embedder.transform(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-5)
    expected = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    np.testing.assert_allclose(unit, expected, atol=1e-6)


def test_batches_do_not_change_a_text_and_keep_the_order(tiny_model, embedder):
    one_by_one = np.vstack([embedder.transform([text]) for text in TEXTS])
    together = embedder.transform(TEXTS)
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    reversed_ = embedder.transform(TEXTS[::-1])
    np.testing.assert_allclose(reversed_[::-1], together, atol=1e-6)


def test_max_length_truncates(tiny_model):
    long = "good " * 50
    short = BertTextEmbedder(tiny_model, max_length=8).fit()
    assert short.max_length_ == 8
    np.testing.assert_allclose(
        short.transform([long]), short.transform([long + "bad " * 50]), atol=1e-6
    )


def test_max_length_none_is_the_models_limit_without_a_sentence_config(tiny_model):
    embedder = BertTextEmbedder(tiny_model).fit()
    assert embedder.max_length_ == embedder.model_.config.max_position_embeddings


def test_max_length_none_reads_the_sentence_transformers_setting(tiny_model, tmp_path):
    import json
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(tiny_model, copy)
    (copy / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 12}))
    assert BertTextEmbedder(copy).fit().max_length_ == 12
    assert BertTextEmbedder(copy, max_length=20).fit().max_length_ == 20


def test_feature_names(embedder):
    names = embedder.get_feature_names_out()
    assert names.shape == (32,)
    assert names[0] == "berttextembedder0" and names[-1] == "berttextembedder31"


def test_in_a_pipeline_with_a_linear_model(tiny_model):
    texts = ["good film", "great plot", "bad film", "awful plot"] * 4
    labels = [1, 1, 0, 0] * 4
    pipe = make_pipeline(BertTextEmbedder(tiny_model), LogisticRegression(C=100))
    pipe.fit(texts, labels)
    assert pipe.predict(texts).shape == (16,)
    assert pipe.score(texts, labels) >= 0.75  # the random tiny model still separates


def test_fit_transform_is_fit_then_transform(tiny_model, embedder):
    found = BertTextEmbedder(tiny_model, batch_size=2).fit_transform(TEXTS)
    np.testing.assert_array_equal(found, embedder.transform(TEXTS))


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_round_trips_keep_the_embeddings(embedder, dump, tmp_path):
    if dump == "pickle":
        copy = pickle.loads(pickle.dumps(embedder))
    else:
        joblib.dump(embedder, tmp_path / "e.joblib")
        copy = joblib.load(tmp_path / "e.joblib")
    np.testing.assert_array_equal(copy.transform(TEXTS), embedder.transform(TEXTS))
    assert copy.get_params() == embedder.get_params()
    assert copy.max_length_ == embedder.max_length_


def test_grid_search_values_survive_pickling(tiny_model):
    embedder = BertTextEmbedder(tiny_model, max_length=np.int64(16), normalize=np.True_)
    copy = pickle.loads(pickle.dumps(embedder.fit()))
    assert copy.get_params()["max_length"] == np.int64(16)
    assert copy.max_length_ == 16


def test_unfitted_transform_raises(tiny_model):
    with pytest.raises(NotFittedError):
        BertTextEmbedder(tiny_model).transform(TEXTS)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pooling": "max"}, r"'pooling' parameter of BertTextEmbedder must be"),
        ({"max_length": 1}, r"'max_length' parameter of BertTextEmbedder must be"),
        ({"batch_size": 0}, r"'batch_size' parameter of BertTextEmbedder must be"),
        ({"device": "gpu"}, r"'device' parameter of BertTextEmbedder must be"),
    ],
)
def test_bad_parameters_are_named(tiny_model, params, message):
    with pytest.raises(InvalidParameterError, match=message):
        BertTextEmbedder(tiny_model, **params).fit()


def test_bad_texts_are_named(embedder):
    with pytest.raises(TypeError, match=r"^Item 1 of X is None"):
        embedder.transform(["fine", None])
    with pytest.raises(ValueError, match="only single texts are accepted"):
        embedder.transform([("a", "b")])
    with pytest.raises(TypeError, match="got a single str"):
        embedder.transform("one text")


@pytest.mark.parametrize(
    "check",
    [
        estimator_checks.check_no_attributes_set_in_init,
        estimator_checks.check_get_params_invariance,
        estimator_checks.check_set_params,
        estimator_checks.check_estimator_repr,
        estimator_checks.check_estimator_cloneable,
        estimator_checks.check_parameters_default_constructible,
        estimator_checks.check_do_not_raise_errors_in_init_or_set_params,
    ],
    ids=lambda check: check.__name__,
)
def test_sklearn_check(check, tiny_model):
    check("BertTextEmbedder", BertTextEmbedder(tiny_model))


def test_clone_is_unfitted(embedder):
    copy = clone(embedder)
    assert not hasattr(copy, "model_")
    assert copy.get_params() == embedder.get_params()


def test_every_parameter_and_attribute_is_documented(embedder):
    doc = inspect.getdoc(BertTextEmbedder)

    def section(name):
        body = doc.split(f"{name}\n{'-' * len(name)}\n", 1)[1].split("\n\n", 1)[0]
        return {
            name.strip()
            for line in body.splitlines()
            if " : " in line
            for name in line.split(" : ")[0].split(",")
        }

    assert section("Parameters") == set(inspect.signature(BertTextEmbedder).parameters)
    fitted = {name for name in vars(embedder) if name.endswith("_")}
    assert section("Attributes") == fitted


@pytest.mark.slow
def test_bundled_model_reproduces_sentence_transformers():
    """The default embedder is sentence-transformers' ``encode`` for the bundled model.

    Measured while writing this test (2026-12-02) on 200 SST-2 sentences and a few
    edge cases: smallest cosine 0.9999999, largest difference 1.8e-7.
    """
    from sentence_transformers import SentenceTransformer

    from skbert import _hub
    from skbert.datasets import load_sst2

    X, _ = load_sst2(
        "validation", data_home=shared_data("sst2/validation.csv.gz"), return_X_y=True
    )
    texts = [*X[:200], "word " * 400, "", "Ünïcödé ☃ text"]
    ours = BertTextEmbedder().fit().transform(texts)
    source, _ = _hub.resolve(_hub.DEFAULT_MODEL)
    theirs = SentenceTransformer(source, device="cpu").encode(
        texts, normalize_embeddings=True
    )
    cosine = (ours * theirs).sum(axis=1) / (
        np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1)
    )
    assert cosine.min() >= 0.9999
