"""Typed run records: rounds.jsonl rows and the checkpoint round-trip through RunDir."""

import json

import pytest

from alsel.errors import RunFileError
from alsel.loops.records import Checkpoint, RoundRecord
from alsel.loops.rundir import RunDir

COMMON = dict(n_labeled=10, in_result=True, class_counts={"neg": 5, "pos": 5}, epochs=3, accuracy=0.8, f1=0.75,
              train_seconds=1.5, score_seconds=0.25, cached=False)


def acquiring(round_=0) -> RoundRecord:
    scores = {"candidates": {"p_gold": {"mean": 0.5}}, "acquired": {"p_gold": {"mean": 0.25}}}
    return RoundRecord(round=round_, **COMMON, select_seconds=0.125, scores=scores, n_acquired=4, seconds=2.0)


def final(round_=1) -> RoundRecord:
    return RoundRecord(round=round_, **COMMON, n_acquired=0, seconds=1.0)


def test_optional_fields_are_omitted_and_everything_round_trips():
    assert set(acquiring().to_json()) - set(final().to_json()) == {"select_seconds", "scores"}
    assert "epochs" in RoundRecord(round=0, **{**COMMON, "epochs": None}, n_acquired=0, seconds=1.0).to_json()
    for record in (acquiring(), final()):
        assert RoundRecord.from_json(json.loads(json.dumps(record.to_json()))) == record
    assert RoundRecord.from_json({**final().to_json(), "added_later": 1}) == final()


def test_run_dir_writes_and_reads_records(tmp_path):
    run = RunDir(tmp_path)
    run.save(Checkpoint(rounds=[acquiring(0), final(1)], selection=[{"id": 3, "round": 0}], seed_pool_ids=None))
    assert run.read_checkpoint() == Checkpoint(rounds=[acquiring(0), final(1)], selection=[{"id": 3, "round": 0}])
    assert run.read_round_records() == [acquiring(0), final(1)]
    assert run.read_rounds() == [acquiring(0).to_json(), final(1).to_json()]  # the plain rows, for reports


def test_a_row_that_is_not_a_round_record_is_damage(tmp_path):
    run = RunDir(tmp_path)
    run.save(Checkpoint(rounds=[final(0)]))
    (tmp_path / RunDir.ROUNDS).write_text(json.dumps({"round": 0}) + "\n")
    with pytest.raises(RunFileError, match="not a round record"):
        run.read_checkpoint()
