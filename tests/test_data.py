import gzip
import hashlib
import json
import re
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from alsel.data import TextDataset, load_data, quotas, stratified_sample
from alsel.errors import DataError


def _source_checksums():
    text = (resources.files("alsel") / "resources" / "sst2" / "SOURCE.md").read_text()
    return dict(re.findall(r"\| (\w+)\.tsv \|.*?\| `([0-9a-f]{64})` \|", text))


def test_bundled_sst2_is_byte_identical_to_the_verified_source():
    checksums = _source_checksums()
    assert set(checksums) == {"train", "dev", "test"}
    for split, expected in checksums.items():
        with resources.as_file(resources.files("alsel") / "resources" / "sst2" / f"{split}.tsv.gz") as path:
            assert hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest() == expected


def test_sst2_pool_and_dev_match_the_documented_counts():
    splits = load_data("sst2")
    assert len(splits.pool) == 67_349 and len(splits.eval) == 872
    assert splits.pool.class_counts() == {"negative": 29_780, "positive": 37_569}
    assert splits.eval.class_counts() == {"negative": 428, "positive": 444}
    assert splits.pool.ids[:3].tolist() == [0, 1, 2]
    assert splits.pool.texts[0] == "hide new secretions from the parental units "  # trailing space kept


def test_limit_is_a_seeded_stratified_sample_with_source_ids():
    a = load_data("sst2", limit=1000, eval_limit=200)
    b = load_data("sst2", limit=1000, eval_limit=200)
    assert np.array_equal(a.pool.ids, b.pool.ids)
    assert a.pool.class_counts() == {"negative": 442, "positive": 558}  # 44.22% / 55.78%
    assert len(a.eval) == 200 and a.eval.class_counts() == {"negative": 98, "positive": 102}
    full = load_data("sst2")
    assert [full.pool.texts[i] for i in a.pool.ids[:5]] == a.pool.texts[:5]
    c = load_data("sst2", limit=1000, data_seed=1)
    assert not np.array_equal(a.pool.ids, c.pool.ids)


def test_positions_follow_the_ids_given_and_refuse_unknown_ones():
    data = TextDataset(ids=np.array([40, 7, 13]), texts=["a", "b", "c"], labels=np.array([0, 1, 0]), label_names=("x", "y"))
    assert data.positions([13, 40, 7]).tolist() == [2, 0, 1]
    assert data.positions(np.array([], dtype=np.int64)).dtype == np.int64
    with pytest.raises(DataError, match=r"2 selected id\(s\) are not in the pool \(first: 8\)"):
        data.positions([7, 8, 41])


def test_quotas_are_exact_up_to_rounding():
    assert quotas([1, 1, 1], 10).tolist() == [4, 3, 3]
    assert quotas([90, 10], 7).sum() == 7
    counts = quotas([5, 3, 2], 100)
    assert counts.tolist() == [50, 30, 20]


def test_stratified_sample_respects_class_shares():
    labels = np.array([0] * 80 + [1] * 20)
    chosen = stratified_sample(labels, 10, np.random.default_rng(0))
    assert len(set(chosen)) == 10 and np.bincount(labels[chosen]).tolist() == [8, 2]


@pytest.mark.parametrize("suffix", ["csv", "tsv", "jsonl", "parquet"])
def test_local_files_with_string_labels(tmp_path, suffix):
    frame = pd.DataFrame({"review": [f"text {i}" for i in range(40)], "stars": ["good", "bad"] * 20})
    path = tmp_path / f"data.{suffix}"
    {
        "csv": lambda: frame.to_csv(path, index=False),
        "tsv": lambda: frame.to_csv(path, sep="\t", index=False),
        "jsonl": lambda: frame.to_json(path, orient="records", lines=True),
        "parquet": lambda: frame.to_parquet(path),
    }[suffix]()
    splits = load_data(str(path), label_column="stars", eval_spec="0.25")
    assert splits.pool.label_names == ("bad", "good")
    assert len(splits.pool) == 30 and len(splits.eval) == 10
    assert sorted(splits.pool.ids.tolist() + splits.eval.ids.tolist()) == list(range(40))
    assert splits.pool.texts[0] == f"text {splits.pool.ids[0]}"


def test_eval_file_shares_the_label_mapping(tmp_path):
    pd.DataFrame({"text": ["a", "b", "c", "d"], "label": ["x", "y", "x", "y"]}).to_csv(tmp_path / "t.csv", index=False)
    pd.DataFrame({"text": ["e", "f"], "label": ["y", "x"]}).to_csv(tmp_path / "e.csv", index=False)
    splits = load_data(str(tmp_path / "t.csv"), eval_spec=str(tmp_path / "e.csv"))
    assert splits.eval.labels.tolist() == [1, 0]
    pd.DataFrame({"text": ["e"], "label": ["z"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match="not among the training labels"):
        load_data(str(tmp_path / "t.csv"), eval_spec=str(tmp_path / "bad.csv"))


@pytest.mark.parametrize(
    "content, kwargs, message",
    [
        ("text,label\n", {}, "no rows"),
        ("words,label\na,1\nb,0\n", {}, "no text column found"),
        ("text,target\na,1\nb,0\n", {}, "no label column 'label'"),
        ("text,label\na,1\nb,\n", {}, "no label"),
        ("text,label\na,1\nb,1\n", {}, "need at least 2"),
        # issue 26
        ("text,label\n  ,1\nb,0\nc,1\n", {}, r"1 rows have an empty text in column 'text' \(the first is row 0\)"),
        ("text,label\na,1\nb,01\nc,0\n", {}, r"labels '01' and '1' spell the same number; write one class one way"),
        (
            "text,label\na,x\nb,y\nc,z\n",
            {"eval_spec": "0.1"},
            r"not two classes \(3 of 3 classes have one example, which the evaluation set takes\)",
        ),
    ],
)
def test_bad_files_raise_one_clear_error(tmp_path, content, kwargs, message):
    path = tmp_path / "d.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_data(str(path), **kwargs)


def test_missing_and_unknown_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_data(str(tmp_path / "nope.tsv"))
    (tmp_path / "x.xlsx").write_text("")
    with pytest.raises(DataError, match="unknown file type"):
        load_data(str(tmp_path / "x.xlsx"))
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="cannot read"):
        load_data(str(tmp_path / "broken.parquet"))


# --------------------------------------------------------------------------- issue 26: labels and texts by meaning


def _jsonl(path, *rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_one_class_spelled_as_integer_float_and_string(tmp_path):
    """0, "0" and 0.0 are one class (they used to be three)."""
    rows = [{"text": f"t{i}", "label": value} for i, value in enumerate([0, "0", 0.0, 1, "1", 1.0, 0, 1])]
    path = _jsonl(tmp_path / "d.jsonl", *rows)
    evalset = _jsonl(tmp_path / "e.jsonl", {"text": "a", "label": "1.0"}, {"text": "b", "label": 0})
    splits = load_data(path, eval_spec=evalset)
    assert splits.pool.label_names == ("0", "1") and splits.pool.label_values == (0, 1)
    assert splits.pool.labels.tolist() == [0, 0, 0, 1, 1, 1, 0, 1] and splits.eval.labels.tolist() == [1, 0]


@pytest.mark.parametrize("values, names", [((False, True), ("False", "True")), ((0.5, 1.5), ("0.5", "1.5")), ((0.0, 1.0), ("0.0", "1.0"))])
def test_label_values_keep_the_files_own_type(tmp_path, values, names):
    path = _jsonl(tmp_path / "d.jsonl", *({"text": f"t{i}", "label": values[i % 2]} for i in range(6)))
    pool = load_data(path, eval_spec=path).pool
    assert pool.label_names == names and pool.label_values == values
    assert [type(v) for v in pool.label_values] == [type(v) for v in values]


def test_a_class_named_na_is_a_label_and_says_so(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\na,NA\nb,EU\nc,NA\nd,EU\n")
    splits = load_data(str(path), eval_spec=str(path))
    assert splits.pool.label_names == ("EU", "NA") and splits.pool.labels.tolist() == [1, 0, 1, 0]
    assert any("class 'NA' is read as a label, not as a missing one" in note for note in splits.description["notes"])


def test_a_jsonl_text_that_is_an_object_is_refused(tmp_path):
    path = _jsonl(tmp_path / "d.jsonl", {"text": "a", "label": 0}, {"text": {"body": "b"}, "label": 1})
    with pytest.raises(DataError, match=r"1 rows hold a JSON object or list, not a text, in column 'text' \(the first is row 1\)"):
        load_data(path)


def test_a_bad_jsonl_line_is_named_by_its_number(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": 0}\n\n{"text": "b", label: 1}\n')
    with pytest.raises(DataError, match=r"d.jsonl: cannot read as jsonl: line 3: not valid JSON \(Expecting property name"):
        load_data(str(path))
