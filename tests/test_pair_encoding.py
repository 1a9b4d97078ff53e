"""``BertTextRegressor(pair_encoding="bi")``: text pairs read by a bi-encoder.

Each text of a pair is encoded alone, pooled, and the head maps the two
embeddings' cosine similarity; the model still takes the joint
``[CLS] a [SEP] b [SEP]`` rows that every other path feeds it, and splits them
in a forward pre-hook. The reference below encodes each text with its own
tokenizer call, so a wrong split (positions, segment ids, masks) shows up as a
different prediction. Everything runs on conftest's tiny random BERT.
"""

from __future__ import annotations

import copy
import json
import pickle
import shutil

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from test_pairs import PAIRS, SCORES, small

import skbert
import skbert.onnx
from skbert import BertTextRegressor, _hub

PROBE = [("the film", "good"), ("a story about a good film", "bad"), ("x", "y z")]
TEXTS = [first for first, _ in PAIRS]


def bi(model: str, **params: object) -> BertTextRegressor:
    settings: dict = {"pair_encoding": "bi", "pooling": "mean", **params}
    return small(model, BertTextRegressor, **settings)


@pytest.fixture(scope="module")
def fitted(tiny_model: str) -> BertTextRegressor:
    return bi(tiny_model).fit(PAIRS, SCORES)


def embedding(model, tokenizer, text: str, pooling: str) -> torch.Tensor:
    """``text`` encoded alone by the body of ``model``, pooled."""
    encoded = tokenizer([text], return_tensors="pt")
    with torch.no_grad():
        hidden = model.base_model(**encoded).last_hidden_state
    return skbert._engine.pool(hidden, encoded["attention_mask"], pooling)[0]


def reference(estimator: BertTextRegressor, pairs) -> np.ndarray:
    """Predictions of ``estimator`` computed the long way: each text tokenised
    and encoded on its own by a hook-free copy of its body, the cosine of the
    two pooled embeddings through the output layer, in the units of ``y``."""
    model = copy.deepcopy(_hub.merged(estimator.model_)).eval()
    pooling = model.config.skbert_pooling
    _hub.use_pooling(model, "cls", "cross")  # no hooks left: the raw body
    cosines = torch.stack(
        [
            torch.nn.functional.cosine_similarity(
                embedding(model, estimator.tokenizer_, a, pooling),
                embedding(model, estimator.tokenizer_, b, pooling),
                dim=0,
            )
            for a, b in pairs
        ]
    )
    features = cosines[:, None].expand(-1, model.config.hidden_size)
    with torch.no_grad():
        outputs = skbert._engine.output_layer(model)(features).numpy()
    return estimator._in_units(estimator._spec(), outputs)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_bi_predicts_from_each_text_encoded_alone(tiny_model, pooling):
    estimator = bi(tiny_model, pooling=pooling).fit(PAIRS, SCORES)
    np.testing.assert_allclose(
        estimator.predict(PAIRS + PROBE), reference(estimator, PAIRS + PROBE), atol=1e-5
    )


def test_the_texts_of_a_pair_are_read_symmetrically(fitted):
    swapped = [(b, a) for a, b in PROBE]
    np.testing.assert_allclose(
        fitted.predict(swapped), fitted.predict(PROBE), atol=1e-5
    )


def test_a_prediction_does_not_depend_on_its_batch(fitted):
    """Rows padded to a longer neighbour's length predict as alone."""
    alone = np.concatenate([fitted.predict([pair]) for pair in PROBE])
    np.testing.assert_allclose(fitted.predict(PROBE), alone, atol=1e-5)


def sentence_transformer(tiny_model: str, tmp_path) -> str:
    """A copy of the tiny model with a sentence-transformers ``modules.json``."""
    directory = tmp_path / "st"
    shutil.copytree(tiny_model, directory)
    (directory / "modules.json").write_text(
        json.dumps([{"idx": 0, "name": "0", "path": "", "type": "x.Transformer"}])
    )
    return str(directory)


def test_auto_is_bi_for_pairs_with_a_sentence_transformers_checkpoint(
    tiny_model, tmp_path
):
    checkpoint = sentence_transformer(tiny_model, tmp_path)
    for model, pairs, expected in [
        (checkpoint, True, "bi"),
        (checkpoint, False, "cross"),  # single texts: nothing to pair
        (tiny_model, True, "cross"),  # not a sentence-transformers model
    ]:
        X = PAIRS if pairs else TEXTS
        estimator = small(model, BertTextRegressor, epochs=1).fit(X, SCORES)
        assert _hub.pair_encoding_of(estimator.model_) == expected, (model, pairs)
        assert estimator.pair_encoding == "auto"


def test_auto_head_init_starts_a_bi_head_from_least_squares(tiny_model):
    """head_init="auto" is "linear" for a bi-encoder (a random head would start
    with a random slope on the cosine), "random" for a cross-encoder."""

    def predictions(**params: object) -> np.ndarray:
        return bi(tiny_model, epochs=1, learning_rate=1e-9, **params).fit(PAIRS, SCORES)

    auto = predictions().predict(PAIRS)
    np.testing.assert_array_equal(auto, predictions(head_init="linear").predict(PAIRS))
    assert not np.allclose(auto, predictions(head_init="random").predict(PAIRS))
    # Started from the least-squares fit, it beats predicting the mean.
    assert predictions().score(PAIRS, SCORES) > 0


def test_bi_trains_the_encoder(tiny_model):
    """Fine-tuning moves the body, not only the affine map of the cosine."""
    estimator = bi(tiny_model, epochs=3)
    before = _hub.load_model(tiny_model, True, ["target_0"], pooling="mean")
    estimator.fit(PAIRS, SCORES)
    name = "bert.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(
        before.state_dict()[name], estimator.model_.state_dict()[name]
    )


def test_bi_needs_pairs_to_fit(tiny_model):
    with pytest.raises(ValueError, match="pair_encoding='bi' encodes the two texts"):
        bi(tiny_model).fit(TEXTS, SCORES)


@pytest.mark.parametrize("method", ["predict", "score", "explain", "warm_start"])
def test_a_bi_model_refuses_single_texts(fitted, method):
    message = "X holds single texts, but this BertTextRegressor was fitted on text"
    with pytest.raises(ValueError, match=message):
        if method == "predict":
            fitted.predict(TEXTS)
        elif method == "score":
            fitted.score(TEXTS, SCORES)
        elif method == "explain":
            fitted.explain(TEXTS[:2])
        else:
            continued = copy.deepcopy(fitted).set_params(warm_start=True)
            continued.fit(TEXTS, SCORES)


def test_bi_works_for_a_model_without_a_pooler(tiny_distilbert):
    """DistilBERT's head reads the first token's state, which then holds the
    cosine; a bi-encoder reads the texts of a pair symmetrically."""
    estimator = bi(tiny_distilbert).fit(PAIRS, SCORES)
    swapped = [(b, a) for a, b in PROBE]
    np.testing.assert_allclose(
        estimator.predict(swapped), estimator.predict(PROBE), atol=1e-5
    )


def test_bi_needs_token_type_ids(tiny_model, tmp_path):
    directory = tmp_path / "untyped"
    shutil.copytree(tiny_model, directory)
    config = json.loads((directory / "tokenizer_config.json").read_text())
    config["model_input_names"] = ["input_ids", "attention_mask"]
    (directory / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"gives none\. Use pair_encoding='cross'"):
        bi(str(directory)).fit(PAIRS, SCORES)


def test_bad_pair_encoding_is_named(tiny_model):
    with pytest.raises(ValueError, match="'pair_encoding' parameter of BertTextReg"):
        bi(tiny_model, pair_encoding="siamese").fit(PAIRS, SCORES)


@pytest.mark.parametrize("dumper", [pickle, joblib])
def test_pickle_keeps_the_bi_encoder(fitted, tmp_path, dumper):
    path = tmp_path / "model.pkl"
    dumper.dump(fitted, path) if dumper is joblib else path.write_bytes(
        pickle.dumps(fitted)
    )
    loaded = joblib.load(path) if dumper is joblib else pickle.loads(path.read_bytes())
    assert _hub.pair_encoding_of(loaded.model_) == "bi"
    np.testing.assert_array_equal(loaded.predict(PROBE), fitted.predict(PROBE))


def test_save_and_load_keep_the_bi_encoder_with_a_grid_value(tiny_model, tmp_path):
    """A numpy string, as GridSearchCV hands out, survives save and load."""
    estimator = bi(tiny_model, pair_encoding=np.str_("bi")).fit(PAIRS, SCORES)
    estimator.save(tmp_path / "saved")
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert config["skbert_pair_encoding"] == "bi"
    loaded = skbert.load(tmp_path / "saved")
    assert loaded.pair_encoding == "bi"
    np.testing.assert_allclose(
        loaded.predict(PROBE), estimator.predict(PROBE), atol=1e-6
    )
    with pytest.raises(ValueError, match="X holds single texts"):
        loaded.predict(TEXTS)


def test_onnx_export_predicts_as_the_bi_encoder(fitted, tmp_path):
    fitted.export_onnx(tmp_path / "onnx")
    predictor = skbert.onnx.load(tmp_path / "onnx")
    np.testing.assert_allclose(
        predictor.predict(PAIRS + PROBE), fitted.predict(PAIRS + PROBE), atol=1e-5
    )
    with pytest.raises(ValueError, match=r"BertTextRegressor \(exported\) was fitted"):
        predictor.predict(TEXTS)


def test_int8_prediction_follows_the_bi_encoder(fitted):
    int8 = copy.deepcopy(fitted).set_params(quantize="int8")
    quantized, full = int8.predict(PAIRS), fitted.predict(PAIRS)
    assert not np.array_equal(quantized, full)
    assert np.corrcoef(quantized, full)[0, 1] > 0.99


@pytest.mark.parametrize("method", ["integrated-gradients", "deletion"])
def test_explain_shares_out_a_bi_prediction_over_both_texts(fitted, method):
    explanation = fitted.explain(PROBE[:2], method=method, n_steps=64)
    np.testing.assert_allclose(
        [row.prediction for row in explanation], fitted.predict(PROBE[:2]), atol=1e-5
    )
    assert (explanation.completeness_error < 1e-2).all()
    words = explanation[0].words
    assert "film" in words and "good" in words  # both texts are explained


def test_chunked_pairs_average_bi_windows(tiny_model):
    short = bi(tiny_model, long_text="chunk", max_length=16, stride=2)
    short.fit(PAIRS, SCORES)
    truncated = clone(short).set_params(long_text="truncate").fit(PAIRS, SCORES)
    np.testing.assert_allclose(
        short.predict(PROBE[:1]), truncated.predict(PROBE[:1]), atol=1e-5
    )
    long_pair = [("the film", " ".join(["a good story"] * 12))]
    encoded = short._tokenize(short.tokenizer_, long_pair, short.max_length_)
    assert len(encoded) > 1  # several windows
    assert np.isfinite(short.predict(long_pair)).all()


def test_partial_fit_and_warm_start_continue_the_bi_encoder(fitted):
    for continued in (
        copy.deepcopy(fitted).partial_fit(PAIRS, SCORES),
        copy.deepcopy(fitted).set_params(warm_start=True).fit(PAIRS, SCORES),
    ):
        assert _hub.pair_encoding_of(continued.model_) == "bi"
        assert not np.allclose(continued.predict(PROBE), fitted.predict(PROBE))
        np.testing.assert_allclose(
            continued.predict(PROBE), reference(continued, PROBE), atol=1e-5
        )


def test_early_stopping_scores_the_bi_encoder(tiny_model):
    estimator = bi(
        tiny_model, early_stopping=True, scoring="r2", epochs=4, n_iter_no_change=4
    ).fit(PAIRS * 2, np.concatenate([SCORES, SCORES]))
    assert len(estimator.validation_scores_) == 4
    assert estimator.best_validation_score_ == max(estimator.validation_scores_)


def test_lora_adapters_train_a_bi_encoder(tiny_model, tmp_path):
    pytest.importorskip("peft")
    estimator = bi(tiny_model, adapter="lora", adapter_rank=4).fit(PAIRS, SCORES)
    np.testing.assert_allclose(
        estimator.predict(PROBE), reference(estimator, PROBE), atol=1e-5
    )
    estimator.save(tmp_path / "adapter")
    loaded = skbert.load(tmp_path / "adapter")
    np.testing.assert_allclose(
        loaded.predict(PROBE), estimator.predict(PROBE), atol=1e-6
    )


def test_several_outputs_map_one_cosine(tiny_model):
    y = np.column_stack([SCORES, 1 - 2 * SCORES])
    predictions = bi(tiny_model).fit(PAIRS, y).predict(PAIRS)
    assert predictions.shape == (len(PAIRS), 2)
    assert abs(np.corrcoef(predictions.T)[0, 1]) > 1 - 1e-6


def test_grid_search_over_pair_encoding(tiny_model):
    search = GridSearchCV(
        bi(tiny_model, epochs=1), {"pair_encoding": ["cross", "bi"]}, cv=2
    ).fit(PAIRS, SCORES)
    assert set(search.cv_results_["param_pair_encoding"]) == {"cross", "bi"}
    expected = search.best_params_["pair_encoding"]
    assert _hub.pair_encoding_of(search.best_estimator_.model_) == expected
