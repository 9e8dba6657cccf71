"""Typed run records: rounds.jsonl rows and the checkpoint round-trip through RunDir."""

import json

import pytest

from alsel.errors import RunFileError
from alsel.loops.records import Checkpoint, RoundRecord, SelectionEntry
from alsel.loops.rundir import RunDir

COMMON = dict(
    n_labeled=10,
    in_result=True,
    class_counts={"neg": 5, "pos": 5},
    epochs=3,
    accuracy=0.8,
    f1=0.75,
    train_seconds=1.5,
    score_seconds=0.25,
    cached=False,
)


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
    selection = [
        SelectionEntry(id=3, round=0, score=None, label="pos", label_index=1),
        SelectionEntry(id=0, round=1, score=0.25, label="neg", label_index=0),
    ]
    run.save(Checkpoint(rounds=[acquiring(0), final(1)], selection=selection, seed_pool_ids=None))
    assert run.read_checkpoint() == Checkpoint(rounds=[acquiring(0), final(1)], selection=selection)
    assert run.read_selection() == selection
    assert run.read_round_records() == [acquiring(0), final(1)]
    assert run.read_rounds() == [acquiring(0).to_json(), final(1).to_json()]  # the plain rows, for reports


def test_a_row_that_is_not_a_round_record_is_damage(tmp_path):
    run = RunDir(tmp_path)
    run.save(Checkpoint(rounds=[final(0)]))
    (tmp_path / RunDir.ROUNDS).write_text(json.dumps({"round": 0}) + "\n")
    with pytest.raises(RunFileError, match="not a round record"):
        run.read_checkpoint()


def test_a_selection_entry_is_one_line_of_selection_jsonl(tmp_path):
    entry = SelectionEntry(id=7, round=2, score=0.12345678, label="spam", label_index=1)
    run = RunDir(tmp_path)
    run.save(Checkpoint(selection=[entry]))
    # the line as the loop has always written it: every field, keys sorted, a null score kept
    assert (tmp_path / RunDir.SELECTION).read_text() == '{"id": 7, "label": "spam", "label_index": 1, "round": 2, "score": 0.12345678}\n'
    assert SelectionEntry(id=7, round=0, score=None, label=0, label_index=0).to_json()["score"] is None
    assert SelectionEntry.from_json({**entry.to_json(), "added_later": 1}) == entry
    older = {"id": 7, "label": 1, "round": 0, "score": None}  # written before label_index was recorded
    assert SelectionEntry.from_json(older).to_json() == older
    with pytest.raises(TypeError):
        SelectionEntry.from_json({"id": 7, "round": 2})


def test_a_row_that_is_not_a_selection_entry_is_damage(tmp_path):
    run = RunDir(tmp_path)
    run.save(Checkpoint(rounds=[final(0)], selection=[SelectionEntry(id=1, round=0, score=None, label=0, label_index=0)]))
    (tmp_path / RunDir.SELECTION).write_text(json.dumps({"id": 1}) + "\n")
    for read in (run.read_checkpoint, run.read_selection):
        with pytest.raises(RunFileError, match="not a selection entry"):
            read()
