"""The learner with tiny random models: the BERT and ModernBERT code paths, offline."""

import numpy as np
import pytest

from alsel.errors import ConfigError
from alsel.learners.transformer import TransformerLearner as Learner, _improves, length_grouped_batches
from alsel.loops.learning import classification_metrics
from alsel.models import resolve_model
from alsel.progress import SILENT
from conftest import Recorder, synthetic_frame


def _xy(n, seed):
    frame = synthetic_frame(n, seed=seed)
    return frame.text.tolist(), (frame.label == "pos").to_numpy().astype(np.int64)


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_modernbert"])
@pytest.mark.slow
def test_tiny_models_learn_the_synthetic_task(request, fixture):
    texts, labels = _xy(160, 0)
    eval_texts, eval_labels = _xy(60, 1)
    learner = Learner(model=request.getfixturevalue(fixture), epochs=4, lr=5e-3, batch_size=16).fit(texts, labels, 2)
    probs, features = learner.predict_proba(eval_texts, return_features=True)
    assert probs.shape == (60, 2) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert features.shape == (60, 32)
    metrics = learner.evaluate(eval_texts, eval_labels)
    assert metrics["accuracy"] >= 0.8, metrics
    same, eval_probs = learner.evaluate(eval_texts, eval_labels, return_probs=True)
    assert same == metrics and np.allclose(eval_probs, probs)


@pytest.mark.slow
def test_same_seed_same_model_other_seed_other_model(tiny_bert):
    texts, labels = _xy(64, 0)

    def fit(seed):
        return Learner(model=tiny_bert, epochs=1, lr=1e-3, seed=seed).fit(texts, labels, 2).predict_proba(texts[:8])

    a, b, c = fit(0), fit(0), fit(1)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.slow
def test_min_steps_adds_epochs_and_the_callback_sees_each(tiny_bert):
    texts, labels = _xy(32, 0)
    seen = []
    learner = Learner(model=tiny_bert, epochs=1, min_steps=5, batch_size=16, max_retries=0)  # 2 steps an epoch
    learner.fit(texts, labels, 2, on_epoch_end=lambda learner, epoch: seen.append(epoch))
    assert seen == [0, 1, 2] and learner.epochs_ == 3
    assert Learner(model=tiny_bert, epochs=2, min_steps=3, batch_size=16).fit(texts, labels, 2).epochs_ == 2


def test_length_grouped_batches_cover_every_row_once_with_similar_lengths():
    lengths = np.random.default_rng(0).integers(1, 60, size=1000)
    batches = length_grouped_batches(lengths, 32, np.random.default_rng(0), group=4)
    rows = np.concatenate(batches)
    assert sorted(rows) == list(range(1000))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 0.5 * np.mean([np.ptp(lengths[r]) for r in np.array_split(np.random.default_rng(1).permutation(1000), 32)])


def test_metrics_binary_and_macro():
    assert classification_metrics([0, 1, 1, 1], [0, 1, 0, 1], 2) == {"accuracy": 0.75, "f1": pytest.approx(0.8)}
    macro = classification_metrics([0, 1, 2, 2], [0, 1, 2, 1], 3)
    assert macro["f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)


def test_model_resolution(tmp_path):
    assert resolve_model("modernbert-base") == "answerdotai/ModernBERT-base"
    assert resolve_model("minilm").endswith("model")
    assert resolve_model("org/some-model") == "org/some-model"
    with pytest.raises(ConfigError, match="unknown model"):
        resolve_model("bogus")
    with pytest.raises(ConfigError, match="cannot load model"):
        Learner(model=str(tmp_path)).fit(["a", "b"], [0, 1], 2)  # a directory without a model


def test_bf16_scores_keep_fp32_resolution(tiny_bert):
    """bf16 autocast runs the encoder; the classifier is re-applied in fp32, so probabilities are
    not rounded to bf16 (whose ties would decide score-based acquisition by pool position)."""
    import torch

    texts, labels = _xy(64, 0)
    learner = Learner(model=tiny_bert, epochs=1, lr=5e-3, precision="bf16").fit(texts, labels, 2)
    probs, features = learner.predict_proba(texts, return_features=True)
    head = [m for m in learner.model_.modules() if isinstance(m, torch.nn.Linear) and m.out_features == 2][-1]
    with torch.no_grad():
        expected = torch.softmax(head(torch.from_numpy(features)), dim=-1).numpy()
    assert np.allclose(probs, expected, atol=1e-6)
    assert len(np.unique(probs[:, 1])) > 0.9 * len(texts)


@pytest.mark.slow
def test_early_stopping_keeps_the_best_epoch_on_the_validation_split(tiny_bert):
    texts, labels = _xy(120, 0)
    held_texts, held_labels = _xy(40, 2)
    scores = []

    def score(learner, epoch):  # the validation score of each epoch's weights, as fit ranks them
        scores.append(learner._held_out_score((learner._encode(held_texts), held_labels), SILENT))

    learner = Learner(model=tiny_bert, epochs=12, patience=2, lr=5e-3, batch_size=16, max_retries=0)
    learner.fit(texts, labels, 2, validation=(held_texts, held_labels), on_epoch_end=score)
    report = learner.training_
    assert report["validation"] == 40 and report["epochs"] == len(scores) == learner.epochs_
    best = 0
    for i in range(1, len(scores)):
        best = i if _improves(scores[i], scores[best]) else best
    assert report["best_epoch"] == best + 1
    if report["stopped"] == "patience":
        assert report["epochs"] - report["best_epoch"] == 2
    else:
        assert report["stopped"] == "max_epochs" and report["epochs"] == 12
    # the weights kept are the best epoch's, not the last one's
    assert learner._held_out_score((learner._encode(held_texts), held_labels), SILENT) == scores[report["best_epoch"] - 1]


def test_without_a_validation_split_it_trains_until_it_fits(tiny_bert):
    texts, labels = _xy(64, 0)
    learner = Learner(model=tiny_bert, epochs=10, lr=5e-3, batch_size=16, fit_accuracy=0.5, max_retries=0).fit(texts, labels, 2)
    assert learner.training_["stopped"] == "fitted" and learner.training_["epochs"] < 10
    assert learner.training_["validation"] == 0 and learner.training_["best_epoch"] == learner.training_["epochs"]


def test_the_collapse_guard_retrains_with_the_next_seed_then_half_the_rates(tiny_bert):
    """Data built to collapse: one text with two labels, so every model predicts one class on
    its training data. Each training is retried and recorded; the last still collapsed."""
    texts, labels = ["the same words"] * 40, np.array([0] * 28 + [1] * 12)
    progress = Recorder()
    learner = Learner(model=tiny_bert, epochs=2, lr=1e-3, head_lr=4e-3, batch_size=16, seed=5, max_retries=2)
    learner.fit(texts, labels, 2, progress=progress)
    retries = learner.training_["retries"]
    assert [(r["seed"], r["lr"], r["head_lr"]) for r in retries] == [(5, 1e-3, 4e-3), (6, 1e-3, 4e-3)]
    assert all("one class" in r["reason"] for r in retries)
    assert "one class" in learner.training_["collapsed"]
    assert len([line for line in progress.lines if line.startswith("the fine-tuning collapsed")]) == 2
    assert len(np.unique(learner.predict_proba(texts[:3]).argmax(axis=1))) == 1


def test_the_collapse_guard_stops_once_a_training_does_not_collapse(tiny_bert, monkeypatch):
    from alsel.learners import transformer

    verdicts = iter(["it predicts one class for all its training data", None])
    monkeypatch.setattr(transformer, "collapse_reason", lambda labels, predicted: next(verdicts))
    texts, labels = _xy(32, 0)
    learner = Learner(model=tiny_bert, epochs=1, lr=5e-3, batch_size=16, seed=3).fit(texts, labels, 2)
    assert [r["seed"] for r in learner.training_["retries"]] == [3]
    assert "collapsed" not in learner.training_


def test_collapse_reason():
    from alsel.learners.transformer import collapse_reason

    assert collapse_reason([0, 1, 1, 0], [1, 1, 1, 1]) == "it predicts one class for all its training data"
    assert "majority share 0.750" in collapse_reason([0, 0, 0, 1], [0, 0, 1, 0])
    assert collapse_reason([0, 1, 1, 0], [0, 1, 1, 1]) is None
    assert collapse_reason([1, 1], [1, 1]) is None  # one class to learn: nothing collapsed


def test_a_validation_score_improves_by_accuracy_or_by_a_real_drop_in_loss():
    assert _improves((0.9, -0.5), (0.8, -0.1))
    assert _improves((0.9, -0.30), (0.9, -0.35)) and not _improves((0.9, -0.3499), (0.9, -0.35))
    assert not _improves((1.0, -0.00001), (1.0, -0.00003))  # an easy split: the loss creeping to 0 is no progress


def test_a_hub_model_that_cannot_be_reached_fails_at_once(monkeypatch):
    """Offline, a hub id that is not in the local cache is one line at once, not transformers'
    retries (about 49 s here); a name the hub does not know says so."""
    import huggingface_hub
    from huggingface_hub.errors import RepositoryNotFoundError

    def offline(*args, **kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(huggingface_hub, "model_info", offline)
    with pytest.raises(ConfigError, match=r"cannot load model 'models/x': the Hugging Face hub cannot be reached \(ConnectionError\)"):
        Learner(model="models/x").fit(["a", "b"], [0, 1], 2)

    def unknown(*args, **kwargs):
        raise RepositoryNotFoundError.__new__(RepositoryNotFoundError)  # as the hub's 404 (its constructor wants a response)

    monkeypatch.setattr(huggingface_hub, "model_info", unknown)
    with pytest.raises(ConfigError, match="no such model on the Hugging Face hub, and no such local directory"):
        Learner(model="models/x").fit(["a", "b"], [0, 1], 2)
