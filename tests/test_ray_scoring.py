"""``--executor ray``: a model-scored round's ``predict_proba`` as Ray tasks over chunks of the
candidates (alsel.loops.ray_scoring)."""

import pickle
import threading
from contextlib import contextmanager, nullcontext

import numpy as np
import pytest

from alsel.errors import ConfigError
from alsel.io import read_jsonl
from alsel.loops import controller, ray_scoring
from alsel.loops.config import LoopConfig
from alsel.run import run_loop
from conftest import Recorder


class Numbered:
    """A learner whose probabilities and features come from the number in each text."""

    def fit(self, texts, labels, n_classes):
        return self

    def predict_proba(self, texts, return_features=False):
        values = np.array([float(t.split()[1]) for t in texts]) / 100
        probs = np.stack([values, 1 - values], axis=1)
        return (probs, np.stack([values, values**2], axis=1)) if return_features else probs


class Locked(Numbered):
    def __init__(self):
        self.lock = threading.Lock()


class _Ref:
    def __init__(self, value):
        self.value = value


class FakeRay:
    """The Ray calls predict_on_ray makes, run in this process: the learner travels through
    pickle as it would to a worker, and tasks finish in the reverse order of their submission."""

    def __init__(self):
        self.puts = 0
        self.task_rows: list[int] = []

    def cluster_resources(self):
        return {"CPU": 2.0}

    def put(self, value):
        self.puts += 1
        return pickle.dumps(value)

    def remote(self, *, max_retries, **resources):
        assert resources == {"num_cpus": 1}  # no GPUs here

        def task(function):
            ray = self

            class Task:
                @staticmethod
                def remote(shared, texts, return_features):
                    ray.task_rows.append(len(texts))
                    return _Ref(function(pickle.loads(shared), texts, return_features))

            return Task

        return task

    def wait(self, pending, num_returns):
        return pending[-num_returns:], pending[:-num_returns]

    def get(self, ref):
        return ref.value


@pytest.fixture()
def fake_ray(monkeypatch):
    ray = FakeRay()

    @contextmanager
    def session(address, progress):
        yield ray

    monkeypatch.setattr(ray_scoring, "ray_session", session)
    monkeypatch.setattr(ray_scoring, "SCORE_CHUNK_ROWS", 4)
    return ray


TEXTS = [f"text {i}" for i in range(10)]


def test_chunk_bounds_doctests():
    import doctest

    result = doctest.testmod(ray_scoring)
    assert result.attempted == 2 and result.failed == 0


def test_chunks_are_scored_once_each_and_put_back_in_candidate_order(fake_ray):
    probs, features = ray_scoring.predict_on_ray(Numbered(), TEXTS, return_features=True)
    local_probs, local_features = Numbered().predict_proba(TEXTS, return_features=True)
    assert fake_ray.task_rows == [4, 4, 2] and fake_ray.puts == 1
    np.testing.assert_array_equal(probs, local_probs)
    np.testing.assert_array_equal(features, local_features)
    np.testing.assert_array_equal(ray_scoring.predict_on_ray(Numbered(), TEXTS), local_probs)
    assert fake_ray.task_rows == [4, 4, 2] * 2 and fake_ray.puts == 2


def test_fewer_candidates_than_a_chunk_are_one_task(fake_ray):
    probs = ray_scoring.predict_on_ray(Numbered(), TEXTS[:3])
    assert fake_ray.task_rows == [3]
    np.testing.assert_array_equal(probs, Numbered().predict_proba(TEXTS[:3]))


def test_a_learner_that_does_not_pickle_is_one_line(fake_ray):
    message = r"^--executor ray: Locked cannot be sent to Ray workers \(cannot pickle '_thread.lock' object\)$"
    with pytest.raises(ConfigError, match=message):
        ray_scoring.predict_on_ray(Locked(), TEXTS)
    assert fake_ray.task_rows == []


def test_ray_scoring_without_ray_says_how_to_install(no_ray):
    with pytest.raises(ConfigError, match=r"^the ray executor needs `pip install 'alsel\[ray\]'`$"):
        ray_scoring.predict_on_ray(Numbered(), TEXTS)


def test_a_loop_with_the_ray_executor_and_no_ray_is_refused_before_any_work(no_ray):
    from alsel.loops.config import LoopConfig

    with pytest.raises(ConfigError, match=r"^the ray executor needs `pip install 'alsel\[ray\]'`$"):
        LoopConfig(init="random", budget=0.1, executor="ray").resolved()
    LoopConfig(init="random", budget=0.1).resolved()  # the local executor never imports Ray


@pytest.mark.slow
def test_a_learner_on_the_embeddings_scores_in_the_driver(tmp_path, synthetic_csv, monkeypatch):
    """logreg scores by reading the run's cached embeddings, which Ray workers lack, so its rounds
    are scored here with --executor ray too. Fake embeddings, cached by a first, local run, so the
    Ray run (another seed: no round cached) has nothing to embed either."""
    from alsel import embed

    def fake_vectors(self, texts, progress):
        return np.array([[len(t), t.count("o"), 1.0] for t in texts], dtype=np.float32)

    monkeypatch.setattr(embed.Embedder, "_compute", fake_vectors)
    options = dict(dataset=str(synthetic_csv / "train.csv"), eval=str(synthetic_csv / "eval.csv"), budget=60, init="random")
    options.update(acq="margin", rounds=2, learner="logreg", cache_dir=str(tmp_path / "cache"))
    run_loop(LoopConfig.from_options(**options), tmp_path / "local")

    def no_ray(address, progress):
        raise AssertionError("Ray was asked for")

    opened = []
    monkeypatch.setattr(ray_scoring, "ray_session", no_ray)
    monkeypatch.setattr(embed, "ray_session", no_ray)
    monkeypatch.setattr(controller, "ray_session", lambda address, progress: opened.append(address) or nullcontext())
    run_loop(LoopConfig.from_options(executor="ray", seed=1, **options), tmp_path / "ray")
    assert [r["cached"] for r in read_jsonl(tmp_path / "ray" / "rounds.jsonl")] == [False, False, False]
    assert opened == [None]  # the run's one session (a local Ray), which nothing used


@pytest.mark.slow
def test_a_pickled_fine_tuned_learner_predicts_the_same_on_the_device_where_it_lands(tiny_bert, monkeypatch):
    import torch

    from alsel.learners import transformer
    from alsel.learners.transformer import TransformerLearner
    from conftest import synthetic_frame

    frame = synthetic_frame(32)
    texts, labels = frame.text.tolist(), (frame.label == "pos").to_numpy()
    learner = TransformerLearner(model=tiny_bert, epochs=1, collapse_guard=False).fit(texts, labels, 2)
    copy = pickle.loads(pickle.dumps(learner))
    assert copy.device_ == learner.device_ and next(copy.model_.parameters()).device == learner.device_
    np.testing.assert_array_equal(copy.predict_proba(texts), learner.predict_proba(texts))
    monkeypatch.setattr(transformer, "torch_device", lambda device: torch.device("meta"))  # a process with another device
    elsewhere = pickle.loads(pickle.dumps(learner))
    assert elsewhere.device_.type == "meta" and {p.device.type for p in elsewhere.model_.parameters()} == {"meta"}


@pytest.mark.slow
def test_loops_scored_on_two_ray_workers_select_what_local_ones_do(tmp_path, synthetic_csv, tiny_training, monkeypatch):
    """Margin and badge (probabilities and features) on the tiny BERT in fp32, two rounds of 280
    and 260 candidates in chunks of 64: the same training in the driver both times, the scoring
    local or on a local Ray of two CPUs. Here every output came out equal but for badge's second
    round, whose probabilities moved by up to 6e-8 (features not at all); 1e-6 allows for other
    hardware (see alsel.loops.ray_scoring for bf16 autocast's larger moves)."""
    ray = pytest.importorskip("ray")
    monkeypatch.setattr(ray_scoring, "SCORE_CHUNK_ROWS", 64)
    scored = []
    real = controller.score_candidates

    def recording(spec, ctx, needs):
        probs, extras = real(spec, ctx, needs)
        scored.append((probs, extras.get("features")))
        return probs, extras

    monkeypatch.setattr(controller, "score_candidates", recording)
    options = dict(tiny_training, dataset=str(synthetic_csv / "train.csv"), eval=str(synthetic_csv / "eval.csv"))
    options.update(epochs=1, budget=60, init="random", rounds=2, precision="fp32")
    acquisitions = ("margin", "badge")
    for acq in acquisitions:
        run_loop(LoopConfig.from_options(acq=acq, **options), tmp_path / f"local-{acq}")
    options["cache_dir"] = str(tmp_path / "ray-cache")  # no round cached: the Ray runs score their own
    progress = Recorder()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        for acq in acquisitions:
            run_loop(LoopConfig.from_options(acq=acq, executor="ray", **options), tmp_path / f"ray-{acq}", progress=progress)
    finally:
        ray.shutdown()
    assert [line for line in progress.lines if "on Ray" in line] == [
        "scoring 280 candidates in 5 chunks on Ray (2 CPUs)",
        "scoring 260 candidates in 5 chunks on Ray (2 CPUs)",
    ] * 2
    assert [features is None for _, features in scored] == [True, True, False, False] * 2
    for (local_probs, local_features), (probs, features) in zip(scored[:4], scored[4:]):
        np.testing.assert_allclose(probs, local_probs, rtol=0, atol=1e-6)
        if features is not None:
            np.testing.assert_allclose(features, local_features, rtol=0, atol=1e-6)
    for acq in acquisitions:
        assert [e["id"] for e in read_jsonl(tmp_path / f"ray-{acq}" / "selection.jsonl")] == [
            e["id"] for e in read_jsonl(tmp_path / f"local-{acq}" / "selection.jsonl")
        ]
