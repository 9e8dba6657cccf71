"""``--candidates N``: a round scored by a model scores a seeded random N of the remaining pool."""

import numpy as np
import pytest

from alsel.errors import ConfigError
from alsel.io import read_jsonl
from alsel.loops import controller
from alsel.loops.config import LoopConfig
from alsel.run import run_loop


@pytest.fixture()
def options(synthetic_csv, tiny_training):
    return dict(
        tiny_training,
        dataset=str(synthetic_csv / "train.csv"),
        eval=str(synthetic_csv / "eval.csv"),
        epochs=1,
        budget=60,
        init="random",
        acq="margin",
        rounds=2,
    )


@pytest.fixture()
def scored(monkeypatch):
    """The candidates each scoring call saw."""
    seen = []
    real = controller.score_candidates

    def recording(spec, ctx, needs):
        seen.append(np.asarray(ctx.candidates).copy())
        return real(spec, ctx, needs)

    monkeypatch.setattr(controller, "score_candidates", recording)
    return seen


def test_only_n_candidates_are_scored_and_acquired_from_the_same_each_time(tmp_path, options, scored):
    run_loop(LoopConfig.from_options(candidates=50, **options), tmp_path / "a")
    assert [len(c) for c in scored] == [50, 50]
    selection = read_jsonl(tmp_path / "a" / "selection.jsonl")
    pool = controller.load_data(options["dataset"], eval_spec=options["eval"]).pool
    for round_, sample in zip((1, 2), scored):
        acquired = pool.positions([e["id"] for e in selection if e["round"] == round_])
        assert len(acquired) == 20 and set(acquired) <= set(sample.tolist())
    first_samples = [c.tolist() for c in scored]
    scored.clear()
    options["cache_dir"] = str(tmp_path / "other-cache")  # nothing cached: the same samples are drawn again
    run_loop(LoopConfig.from_options(candidates=50, **options), tmp_path / "b")
    assert [c.tolist() for c in scored] == first_samples
    assert (tmp_path / "a" / "selection.jsonl").read_bytes() == (tmp_path / "b" / "selection.jsonl").read_bytes()


def test_the_sample_is_in_the_round_cache_key(tmp_path, options, scored):
    run_loop(LoopConfig.from_options(candidates=50, **options), tmp_path / "a")
    run_loop(LoopConfig.from_options(candidates=50, **options), tmp_path / "again")
    assert [r["cached"] for r in read_jsonl(tmp_path / "again" / "rounds.jsonl")][:2] == [True, True]
    run_loop(LoopConfig.from_options(candidates=60, **options), tmp_path / "other")
    assert [r["cached"] for r in read_jsonl(tmp_path / "other" / "rounds.jsonl")][:2] == [False, False]
    run_loop(LoopConfig.from_options(**options), tmp_path / "whole")
    assert [r["cached"] for r in read_jsonl(tmp_path / "whole" / "rounds.jsonl")][:2] == [False, False]
    assert [len(c) for c in scored] == [50, 50, 60, 60, 280, 260]  # every candidate, without --candidates


def test_a_proxy_scorer_scores_the_whole_pool(tmp_path, options, scored):
    run_loop(LoopConfig.from_options(candidates=50, scorer="probe", **options), tmp_path / "probe")
    assert [len(c) for c in scored] == [280, 260]


def test_fewer_candidates_than_a_round_acquires_is_refused_before_training(tmp_path, options, scored):
    with pytest.raises(ConfigError, match="--candidates 10 is fewer than the 20 examples a round acquires"):
        run_loop(LoopConfig.from_options(candidates=10, **options), tmp_path / "a")
    assert scored == []
