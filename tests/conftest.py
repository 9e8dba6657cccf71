"""Shared fixtures: tiny random transformers saved to disk (no network) and a synthetic
sentiment data set that they can learn in seconds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alsel.progress import Progress


def run_cli(capsys, *argv):
    """Run ``alsel *argv`` in this process: its exit code, stdout and stderr (each argument is
    passed as text, so a test may give paths and numbers). In-process, so a test can monkeypatch
    what the command calls; every command exits through SystemExit, whose code is the status."""
    from alsel.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Embedding and round caches go to a temporary folder, never the user's ~/.cache."""
    import os

    previous = os.environ.get("ALSEL_CACHE")
    os.environ["ALSEL_CACHE"] = str(tmp_path_factory.mktemp("alsel-cache"))
    yield
    if previous is None:
        os.environ.pop("ALSEL_CACHE", None)
    else:
        os.environ["ALSEL_CACHE"] = previous


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from threads, and oversubscribed OpenMP threads spin: a test
    that needs the cores (the end-to-end run) asks for them itself."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Recorder(Progress):
    """Keeps the log lines; interrupts like Ctrl-C once round ``stop_after`` has been saved."""

    def __init__(self, stop_after=None):
        self.lines = []
        self.stop_after = stop_after

    def log(self, message):
        self.lines.append(message)
        if self.stop_after is not None and message.startswith(f"round {self.stop_after}:"):
            raise KeyboardInterrupt


#: Tiny random models often predict one class after an epoch or two: tests of anything but the
#: collapse guard switch it off, so such a model is kept, unchecked, as before the guard.
UNGUARDED = {"collapse_guard": False}


@pytest.fixture()
def tiny_training(tiny_bert, tmp_path):
    """Loop options that train the tiny BERT in a second or so, unguarded, with a private cache:
    tests add the data, budget and selection options they are about."""
    return dict(model=tiny_bert, min_steps=0, lr=5e-3, batch_size=16, cache_dir=str(tmp_path / "cache"), learner_options=UNGUARDED)


POSITIVE = ["great", "lovely", "superb", "charming", "moving", "fine"]
NEGATIVE = ["awful", "boring", "dull", "bad", "tedious", "weak"]
FILLER = ["the", "film", "is", "a", "story", "with", "plot", "cast", "and", "really"]


def synthetic_frame(n: int, seed: int = 0, labels=("neg", "pos")) -> pd.DataFrame:
    """Texts whose sentiment words decide the label; string labels to exercise the mapping."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        y = int(rng.random() < 0.6)
        words = list(rng.choice(FILLER, size=rng.integers(3, 8)))
        cue = rng.choice(POSITIVE if y else NEGATIVE, size=rng.integers(1, 3))
        for word in cue:
            words.insert(int(rng.integers(0, len(words) + 1)), str(word))
        rows.append({"text": " ".join(words), "label": labels[y]})
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory):
    from transformers import AutoTokenizer

    from alsel.models import bundled_model_path

    path = tmp_path_factory.mktemp("tokenizer")
    AutoTokenizer.from_pretrained(bundled_model_path()).save_pretrained(path)
    return path


def _save_tiny(model_cls, config, tokenizer_dir, path):
    import torch
    from transformers import AutoTokenizer

    torch.manual_seed(0)
    model_cls(config).save_pretrained(path)
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory, tokenizer_dir):
    """A 2-layer, 32-wide random BERT classifier with the bundled BERT tokenizer."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=128
    )
    return _save_tiny(BertForSequenceClassification, config, tokenizer_dir, tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_modernbert(tmp_path_factory, tokenizer_dir):
    """A 2-layer random ModernBERT. Its default special-token ids point past a small vocabulary,
    so they are set to the BERT tokenizer's."""
    from transformers import ModernBertConfig, ModernBertForSequenceClassification

    config = ModernBertConfig(
        vocab_size=30522,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=128,
        local_attention=16,
        pad_token_id=0,
        cls_token_id=101,
        sep_token_id=102,
        bos_token_id=101,
        eos_token_id=102,
    )
    return _save_tiny(ModernBertForSequenceClassification, config, tokenizer_dir, tmp_path_factory.mktemp("tiny-modernbert"))


@pytest.fixture(scope="session")
def synthetic_csv(tmp_path_factory):
    """300 training rows and a 100-row evaluation file, labels 'neg'/'pos'."""
    folder = tmp_path_factory.mktemp("data")
    synthetic_frame(300, seed=0).to_csv(folder / "train.csv", index=False)
    synthetic_frame(100, seed=1).to_csv(folder / "eval.csv", index=False)
    return folder


@pytest.fixture()
def cache_dir(tmp_path):
    return str(tmp_path / "cache")


@pytest.fixture
def no_ray(monkeypatch):
    """Importing ``ray`` fails, as where it is not installed."""
    import builtins

    real_import = builtins.__import__

    def without_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_ray)
