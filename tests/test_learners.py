"""Learners as a protocol (transformer, logreg, module:Class), and a user learner and strategy in a loop
(strategies from user code on their own: tests/strategies/test_protocol.py)."""

import json
import shutil

import numpy as np
import pytest

from alsel.data import load_data
from alsel.embed import Embedder, EmbeddingLookup
from alsel.errors import ConfigError
from alsel.io import read_json, read_jsonl
from alsel.learners import Learner, LearnerContext, LogRegLearner, make_learner, resolve_learner
from alsel.loops.config import LoopConfig
from alsel.report import run_costs
from alsel.run import run_loop
from conftest import UNGUARDED, run_cli
from plugins_for_tests import CentroidLearner

USER_LEARNER = "plugins_for_tests:CentroidLearner"
USER_STRATEGY = "plugins_for_tests:LowestPositive"


@pytest.fixture()
def data(synthetic_csv, tmp_path):
    return dict(
        dataset=str(synthetic_csv / "train.csv"), eval=str(synthetic_csv / "eval.csv"), budget=60, cache_dir=str(tmp_path / "cache")
    )


# ------------------------------------------------------------------ the protocol and the factory
def test_registered_and_user_learners_follow_the_protocol():
    transformer, logreg, user = (resolve_learner(spec) for spec in ("transformer", "logreg", USER_LEARNER))
    assert (transformer.gives_features, transformer.records_dynamics) == (True, True)
    assert (logreg.gives_features, logreg.records_dynamics) == (True, False)
    assert (user.gives_features, user.records_dynamics) == (False, False)
    context = LearnerContext(seed=7, embed=lambda texts: np.zeros((len(texts), 2)), training={"model": "minilm", "epochs": 1})
    built = make_learner("transformer", context)
    assert isinstance(built, Learner) and (built.seed, built.epochs) == (7, 1)
    assert make_learner("logreg", context).seed == 7
    assert isinstance(make_learner(USER_LEARNER, context), CentroidLearner) and CentroidLearner.built_with[-1] == 7


def test_only_learners_with_save_can_keep_a_model(tmp_path):
    from alsel.loops.learning import save

    assert resolve_learner("transformer").saves and resolve_learner("plugins_for_tests:SavingCentroidLearner").saves
    assert not resolve_learner("logreg").saves and not resolve_learner(USER_LEARNER).saves
    learner = CentroidLearner().fit(["good film", "bad film"], np.array([1, 0]), 2)
    for unsaveable in (learner, None):  # None: an outcome from the round cache, which holds no model
        with pytest.raises(TypeError, match="cannot save"):
            save(unsaveable, tmp_path / "model", ["neg", "pos"])
    with pytest.raises(ConfigError, match="--save-model: the final learner logreg cannot save its model"):
        LoopConfig.from_options(learner="logreg", save_model=str(tmp_path / "model"), model="minilm").resolved()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--learner", "plugins_for_tests:NotALearner"], "--learner plugins_for_tests:NotALearner: not a learner class"),
        (["--learner", "plugins_for_tests:NOT_A_CLASS"], "not a learner class"),
        (["--learner", "no_such_module_xyz:Thing"], "--learner no_such_module_xyz:Thing: cannot import module no_such_module_xyz"),
        (["--learner", "plugins_for_tests:Nope"], "--learner plugins_for_tests:Nope: module plugins_for_tests has no attribute Nope"),
        (["--learner", "sklearn"], "unknown --learner 'sklearn': use transformer, logreg or package.module:Class"),
        (
            ["--final-learner", "plugins_for_tests:Nope"],
            "--final-learner plugins_for_tests:Nope: module plugins_for_tests has no attribute Nope",
        ),
        (
            ["--acq", "plugins_for_tests:CentroidLearner"],
            "--acq plugins_for_tests:CentroidLearner is not a subclass of alsel.strategies.Strategy",
        ),
        (["--init", "no_such_module_xyz:Init"], "--init no_such_module_xyz:Init: cannot import module no_such_module_xyz"),
        (["--acq", "../evil"], "a strategy name cannot contain '/' or '..'"),
        (
            ["--learner", "logreg", "--acq", "ambiguous", "--rounds", "2"],
            "ambiguous needs training dynamics, which --learner logreg does not record",
        ),
        (
            ["--learner", USER_LEARNER, "--acq", "badge", "--rounds", "2"],
            f"badge needs model features, which --learner {USER_LEARNER} does not give",
        ),
        (
            ["--learner-option", "bogus=1"],
            # the recommended loop's two learners: the proxy in the rounds, the fine-tuner at the end
            "unknown learner option 'bogus' (logreg takes: C, max_iter; transformer takes: eval_batch_size, collapse_guard, max_retries, fit_accuracy)",
        ),
        (["--learner-option", "lr=1"], "unknown learner option 'lr'"),  # a run option has its own flag, declared once
        (["--learner-option", "max_retries=-1"], "--learner-option max_retries must be an integer >= 0, got -1"),
        (["--learner", "logreg", "--learner-option", "C=0"], "--learner-option C must be a number > 0"),
        (["--learner-option", "C"], "expected KEY=VALUE"),
    ],
)
def test_bad_learner_or_strategy_is_one_line_before_any_work(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("alsel.loops.controller.load_data", lambda *a, **k: pytest.fail("loaded data before checking the options"))
    code, out, err = run_cli(capsys, "loop", *argv)
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert "Traceback" not in out + err and not (tmp_path / "runs").exists()


def test_a_learner_whose_probabilities_hold_nan_fails_in_one_line(capsys, tmp_path, data):
    argv = [
        "loop",
        "--quiet",
        "--learner",
        "plugins_for_tests:NanLearner",
        "--init",
        "random",
        "--acq",
        "margin",
        "--rounds",
        "1",
        "--out",
        tmp_path / "run",
    ]
    argv += [f"--{k.replace('_', '-')}={v}" for k, v in data.items()]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and "NanLearner.predict_proba returned 2 values that are NaN or infinite" in err, err
    assert "Traceback" not in out + err and not (tmp_path / "run" / "rounds.jsonl").exists()


def test_a_learner_whose_constructor_raises_fails_in_one_line(capsys, tmp_path, data):
    argv = ["loop", "--quiet", "--learner", "plugins_for_tests:BrokenLearner", "--preset", "random", "--out", tmp_path / "run"]
    argv += [f"--{k.replace('_', '-')}={v}" for k, v in data.items()]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and err.count("\n") == 1, err
    assert "--learner plugins_for_tests:BrokenLearner: its constructor failed (ValueError: no GPU found)" in err
    assert "Traceback" not in out + err


def test_learner_options_reach_the_learners_that_take_them():
    context = LearnerContext(
        seed=1, embed=lambda texts: np.zeros((len(texts), 2)), training={"model": "minilm", "lr": 2e-5}, options={"max_retries": 0}
    )
    built = make_learner("transformer", context)
    assert (built.max_retries, built.lr, built.seed) == (0, 2e-5, 1)
    assert make_learner("logreg", LearnerContext(options={"C": "3"})).C == 3.0  # checked and converted
    with pytest.raises(ConfigError, match="max_retries must be an integer"):
        make_learner("transformer", LearnerContext(options={"max_retries": 1.5}))


def test_a_plug_in_learner_from_an_entry_point(monkeypatch):
    from alsel.loops import learning

    monkeypatch.setattr(learning, "_plugins", lambda: {"centroid": USER_LEARNER})
    assert resolve_learner("centroid").cls is CentroidLearner and "centroid" in learning.learner_names()
    assert resolve_learner("transformer").cls.__name__ == "TransformerLearner"  # a plug-in never shadows a built-in


# ------------------------------------------------------------------ user code in a loop
def test_a_user_learner_and_a_user_strategy_run_a_loop(capsys, tmp_path, data):
    CentroidLearner.built_with.clear()
    metrics = run_loop(
        LoopConfig.from_options(init="random", acq=USER_STRATEGY, rounds=2, learner=USER_LEARNER, seed=3, **data), tmp_path / "run"
    )
    rounds = read_jsonl(tmp_path / "run" / "rounds.jsonl")
    selection = read_jsonl(tmp_path / "run" / "selection.jsonl")
    config = read_json(tmp_path / "run" / "config.json")
    assert config["learner"] == USER_LEARNER and config["final_learner"] is None and config["acq"] == USER_STRATEGY
    assert CentroidLearner.built_with == [3, 3, 3] and [r["epochs"] for r in rounds] == [None, None, None]
    assert metrics["n_train"] == 60 and metrics["accuracy"] > 0.7  # above the majority class (0.6): it learned

    # round 1's picks are the candidates the round-0 centroids give the lowest p(class 1)
    pool = load_data(data["dataset"], eval_spec=data["eval"]).pool
    position = {int(i): p for p, i in enumerate(pool.ids)}
    first = np.sort([position[e["id"]] for e in selection if e["round"] == 0])
    candidates = np.setdiff1d(np.arange(len(pool)), first)
    learner = CentroidLearner().fit([pool.texts[i] for i in first], pool.labels[first], 2)
    p_positive = learner.predict_proba([pool.texts[i] for i in candidates])[:, 1]
    expected = pool.ids[candidates[np.argsort(p_positive, kind="stable")[:20]]]
    assert [e["id"] for e in selection if e["round"] == 1] == expected.tolist()
    code, table, _ = run_cli(capsys, "show", str(tmp_path / "run"))
    assert code == 0 and f"learner {USER_LEARNER}" in table


@pytest.mark.slow
def test_the_final_learner_trains_the_last_round_and_the_learner_is_part_of_the_cache_key(tmp_path, data, tiny_bert):
    tiny = dict(model=tiny_bert, epochs=1, min_steps=0, lr=5e-3, batch_size=16, learner_options=UNGUARDED)
    spec = dict(init="random", acq="margin", rounds=1, **tiny, **data)
    run_loop(LoopConfig.from_options(learner=USER_LEARNER, final_learner="transformer", **spec), tmp_path / "proxy")
    rounds = read_jsonl(tmp_path / "proxy" / "rounds.jsonl")
    assert rounds[0]["epochs"] is None and rounds[1]["epochs"] == 1  # the proxy scores; the transformer is the result
    assert read_json(tmp_path / "proxy" / "config.json")["final_learner"] == "transformer"

    run_loop(LoopConfig.from_options(learner="transformer", **spec), tmp_path / "same")
    rounds = read_jsonl(tmp_path / "same" / "rounds.jsonl")
    assert rounds[0]["cached"] is False and rounds[0]["epochs"] == 1  # not the proxy's cached round 0


# ------------------------------------------------------------------ logreg
def _embedding_table(n=120, d=16, seed=0):
    """Texts ``t0..tN`` with two separable blobs of embeddings, and the lookup over them."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    x = rng.normal(size=(n, d)) + 2.0 * labels[:, None]
    texts = [f"t{i}" for i in range(n)]
    table = dict(zip(texts, x))
    return texts, labels, x, lambda batch: np.stack([table[t] for t in batch])


def test_logreg_is_deterministic_and_gives_a_column_per_class():
    texts, labels, x, embed = _embedding_table()
    a = LogRegLearner(embed, seed=0).fit(texts[:80], labels[:80], 2).predict_proba(texts[80:])
    b = LogRegLearner(embed, seed=0).fit(texts[:80], labels[:80], 2).predict_proba(texts[80:])
    assert np.array_equal(a, b) and a.shape == (40, 2) and np.mean(a.argmax(axis=1) == labels[80:]) > 0.9

    three = 2 * labels  # classes 0 and 2 of 3: class 1 never seen
    probs, features = LogRegLearner(embed).fit(texts[:80], three[:80], 3).predict_proba(texts[80:], return_features=True)
    assert probs.shape == (40, 3) and np.all(probs[:, 1] == 0) and np.allclose(probs.sum(axis=1), 1, atol=1e-6)
    assert np.array_equal(features, x[80:])
    only = LogRegLearner(embed).fit(texts[:4], [1, 1, 1, 1], 2).predict_proba(texts[:3])
    assert only.tolist() == [[0.0, 1.0]] * 3


class CountingEmbedder(Embedder):
    """Deterministic fake vectors; counts how many texts it computed (the disk cache is real)."""

    computed: list = []

    def _compute(self, texts, progress):
        CountingEmbedder.computed.append(len(texts))
        return np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)


def test_the_embedding_lookup_serves_the_pool_from_its_matrix_and_caches_the_rest(tmp_path):
    pool = ["a cat", "a dog", "a bird"]
    pool_matrix = np.arange(9, dtype=np.float32).reshape(3, 3)
    lookup = EmbeddingLookup(CountingEmbedder(cache_dir=tmp_path), pool, lambda: pool_matrix)
    CountingEmbedder.computed.clear()
    assert np.array_equal(lookup(["a bird", "a cat"]), pool_matrix[[2, 0]]) and CountingEmbedder.computed == []
    mixed = lookup(["banana", "a dog", "banana", "kiwi"])
    assert np.array_equal(mixed[1], pool_matrix[1]) and mixed[0].tolist() == mixed[2].tolist() == [6, 3, 1]
    assert CountingEmbedder.computed == [2]  # banana and kiwi, once each
    again = EmbeddingLookup(CountingEmbedder(cache_dir=tmp_path), pool, lambda: pool_matrix)(["banana", "a dog", "banana", "kiwi"])
    assert np.array_equal(again, mixed) and CountingEmbedder.computed == [2]  # read from the disk cache


@pytest.mark.slow
def test_logreg_loop_on_a_real_sst2_slice_embeds_the_pool_once(tmp_path, monkeypatch):
    """The real bundled embedder; a few seconds beyond embedding 800 sentences."""
    computed = []
    compute = Embedder._compute
    monkeypatch.setattr(Embedder, "_compute", lambda self, texts, progress: computed.append(len(texts)) or compute(self, texts, progress))
    options = dict(
        dataset="sst2",
        limit=600,
        eval_limit=200,
        budget=60,
        init="kmeans",
        acq="margin",
        rounds=2,
        learner="logreg",
        cache_dir=str(tmp_path / "cache"),
    )
    metrics = run_loop(LoopConfig.from_options(**options), tmp_path / "a")
    assert computed == [600, 200]  # the pool once for three rounds, the evaluation set once
    rounds = read_jsonl(tmp_path / "a" / "rounds.jsonl")
    assert [r["n_labeled"] for r in rounds] == [20, 40, 60] and all(r["epochs"] is None for r in rounds)
    assert metrics["n_eval"] == 200 and metrics["accuracy"] > 0.6, metrics
    shutil.copytree(tmp_path / "cache" / "embeddings", tmp_path / "other" / "embeddings")  # rounds retrain, nothing re-embeds
    run_loop(LoopConfig.from_options(**{**options, "cache_dir": str(tmp_path / "other")}), tmp_path / "b")
    again = read_jsonl(tmp_path / "b" / "rounds.jsonl")
    assert computed == [600, 200] and not any(r["cached"] for r in again)
    # run b read both embeddings from the cache; its cost still counts them, at run a's time
    spent = rounds[0]["embed_seconds"]
    assert spent > 0 and rounds[0]["embed_cached_seconds"] == 0 and not any("embed_seconds" in r for r in rounds[1:])
    assert again[0]["embed_seconds"] == again[0]["embed_cached_seconds"] == spent
    assert run_costs(again)["embed_seconds"] == run_costs(rounds)["embed_seconds"] == spent
    assert (tmp_path / "b" / "selection.jsonl").read_bytes() == (tmp_path / "a" / "selection.jsonl").read_bytes()
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["accuracy"] == metrics["accuracy"]


@pytest.mark.slow
def test_the_transformer_learner_saves_a_pipeline_ready_model(tmp_path, tiny_bert):
    from transformers import pipeline

    from alsel.learners.transformer import TransformerLearner
    from conftest import synthetic_frame

    frame = synthetic_frame(64, seed=0)
    learner = TransformerLearner(model=tiny_bert, epochs=1).fit(frame.text.tolist(), (frame.label == "pos").astype(int).to_numpy(), 2)
    learner.save(tmp_path / "model", ("neg", "pos"))
    predicted = pipeline("text-classification", model=str(tmp_path / "model"), device="cpu")(["a great film", "a dull film"])
    assert {p["label"] for p in predicted} <= {"neg", "pos"}
    assert [p["label"] for p in predicted] == [
        ["neg", "pos"][i] for i in learner.predict_proba(["a great film", "a dull film"]).argmax(axis=1)
    ]
