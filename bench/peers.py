"""alsel's ``kmeans_margin`` loop beside the same job in small-text 1.4.1 (docs/benchmarks.md, "Beside small-text").

The job: a budget of 10% of the pool, a KMeans-diverse first third, then two rounds that each
retrain a fresh MiniLM classifier and add a third by the smallest margin between the two most
probable classes, and a final model fine-tuned on the whole selection, scored on the evaluation
set. alsel runs it as its ``kmeans_margin`` preset (:func:`alsel.select`); small-text as
``EmbeddingKMeans`` for the first third, then a ``PoolBasedActiveLearner`` with ``BreakingTies``
and its ``TransformerBasedClassification`` (library defaults, as its examples use it) on the
same bundled all-MiniLM-L6-v2. Same pool, evaluation set, budget, round sizes (alsel's plan),
seeds and sentence embeddings (EmbeddingKMeans gets alsel's cached MiniLM embeddings of the pool).

A 2x2 splits the difference into selection and learner: each library's loop gives a selection
and a final model (the diagonal); then alsel's learner is trained on small-text's final
selection and small-text's classifier on alsel's, as each loop trains its final model (the
off-diagonal). "Selection" means the whole selecting loop, its round models included.

    python bench/peers.py            # sms_spam, seeds 0-2; writes docs/peers.json after each seed (rerun: resumes)
    python bench/peers.py --quick    # 500 pool / 300 evaluation examples, seed 0: checks it runs

Needs ``small-text==1.4.1`` (not one of alsel's dependencies). Its
``TransformersDataset.from_arrays`` calls ``tokenizer.encode_plus``, which transformers 5
removed; :func:`small_text_dataset` builds the same dataset with ``tokenizer(...)`` (the change
small-text made upstream after 1.4.1, commit 8661b6a). Nothing else of small-text is changed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

import alsel
from alsel.data import load_data
from alsel.embed import Embedder
from alsel.io import write_text
from alsel.loops.config import LoopConfig, options, plan_budget
from alsel.loops.learning import LearnerContext, classification_metrics, evaluate, fit, make_learner
from alsel.loops.validation import validation_split
from alsel.models import bundled_model_path, cpu_model, quiet_transformers, torch_device, uses_bf16

ROOT = Path(__file__).resolve().parents[1]
#: Where configs/converged/sms_spam.yaml reads the data from (a sibling of the repository).
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "sms_spam"
SMALL_TEXT_VERSION = "1.4.1"
PRESET = "kmeans_margin"
SELECTIONS = ("alsel", "small-text")
#: The sequence length both learners truncate to (alsel's default; small-text pads every example to it).
MAX_LENGTH = 128
QUICK = {"limit": 500, "eval_limit": 300, "seeds": [0]}
#: The options of :func:`loop_config` that the bench hands to :func:`alsel.select` (the data path goes as its first argument).
SELECT_OPTIONS = (
    "eval",
    "budget",
    "seed",
    "model",
    "embedder",
    "limit",
    "eval_limit",
    "data_seed",
    "cache_dir",
    "device",
    "precision",
    "max_length",
)


@dataclass
class Cell:
    """One (selection, learner) pair on one seed: the final model's scores and what it cost."""

    selection: str
    learner: str
    seed: int
    accuracy: float
    f1: float
    final_seconds: float  # fine-tuning the final model on the whole selection and scoring the evaluation set
    loop_seconds: float | None = None  # the whole loop (diagonal cells only)
    positions: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64), repr=False)


# ---------------------------------------------------------------- alsel
def loop_config(args, seed: int) -> LoopConfig:
    """The ``kmeans_margin`` run on the bench's data, resolved (training defaults filled in)."""
    return LoopConfig.from_options(
        preset=PRESET,
        dataset=str(args.data / "train.tsv"),
        eval=str(args.data / "test.tsv"),
        budget=args.budget,
        seed=seed,
        model="minilm",
        embedder="minilm",
        limit=args.limit,
        eval_limit=args.eval_limit,
        data_seed=0,
        cache_dir=str(args.cache_dir),
        device=args.device,
        precision=args.precision,
        max_length=MAX_LENGTH,
    ).resolved()


def alsel_loop(args, seed: int, pool) -> Cell:
    """alsel's ``kmeans_margin`` through :func:`alsel.select`, with no round-cache entry to reuse."""
    config = loop_config(args, seed)
    shutil.rmtree(args.cache_dir / "rounds", ignore_errors=True)
    start = time.perf_counter()
    result = alsel.select(config.dataset, preset=PRESET, progress=False, **{k: getattr(config, k) for k in SELECT_OPTIONS})
    seconds = time.perf_counter() - start
    if not np.array_equal(pool.ids[result.indices], result.ids):
        raise RuntimeError("alsel.select loaded another pool than the bench")
    m = result.metrics
    return Cell("alsel", "alsel", seed, m["accuracy"], m["f1"], result.rounds[-1].train_seconds, seconds, np.asarray(result.indices))


def alsel_final_model(args, seed: int, splits, positions: np.ndarray, selection: str) -> Cell:
    """alsel's learner trained on ``positions`` as the loop's last round trains it: the
    selection in pool order, a 10% validation split of it, the run's training options."""
    config = loop_config(args, seed)
    pool = splits.pool
    train = np.sort(positions)
    fit_rows, held_rows = validation_split(pool.labels[train], config.validation_fraction, seed)
    training = {k: getattr(config, k) for k in options("training") if k not in ("seed", "validation_fraction")} | {"device": config.device}
    texts, labels = [pool.texts[i] for i in train], pool.labels[train]
    start = time.perf_counter()
    learner = make_learner("transformer", LearnerContext(seed=seed, training=training))
    validation = ([texts[i] for i in held_rows], labels[held_rows]) if len(held_rows) else None
    fit(learner, [texts[i] for i in fit_rows], labels[fit_rows], pool.n_classes, validation=validation)
    metrics, _ = evaluate(learner, splits.eval.texts, splits.eval.labels, pool.n_classes)
    return Cell(selection, "alsel", seed, metrics["accuracy"], metrics["f1"], time.perf_counter() - start, positions=positions)


# ---------------------------------------------------------------- small-text
def small_text_dataset(texts, labels, tokenizer, n_classes: int):
    """``TransformersDataset.from_arrays(texts, labels, tokenizer, max_length=MAX_LENGTH)`` as
    small-text 1.4.1 builds it (every example padded to ``MAX_LENGTH``), through
    ``tokenizer(...)``: transformers 5 has no ``encode_plus``."""
    from small_text import TransformersDataset

    encoded = tokenizer(
        list(texts),
        add_special_tokens=True,
        padding="max_length",
        max_length=MAX_LENGTH,
        return_attention_mask=True,
        return_tensors="pt",
        truncation="longest_first",
    )
    rows = [(encoded["input_ids"][i : i + 1], encoded["attention_mask"][i : i + 1], int(y)) for i, y in enumerate(labels)]
    return TransformersDataset(rows, target_labels=np.arange(n_classes))


class SmallText:
    """small-text's side: its datasets of the pool and evaluation set, and a classifier factory."""

    def __init__(self, splits, device: str, cache_dir: Path):
        from small_text import TransformerBasedClassificationFactory, TransformerModelArguments
        from transformers import AutoTokenizer

        quiet_transformers()  # no weight-loading bars from small-text's from_pretrained
        start = time.perf_counter()
        model = bundled_model_path()
        tokenizer = AutoTokenizer.from_pretrained(model)
        self.n_classes = splits.pool.n_classes
        self.labels = splits.pool.labels
        self.eval_labels = splits.eval.labels
        self.pool = small_text_dataset(splits.pool.texts, self.labels, tokenizer, self.n_classes)
        self.eval = small_text_dataset(splits.eval.texts, self.eval_labels, tokenizer, self.n_classes)
        kwargs = {"device": str(torch_device(device)), "cache_dir": str(cache_dir / "small-text")}
        self.factory = TransformerBasedClassificationFactory(TransformerModelArguments(model), self.n_classes, kwargs=kwargs)
        self.prepare_seconds = time.perf_counter() - start  # tokenizing: part of small-text's loop, done once here

    def loop(self, seed: int, embeddings: np.ndarray, init_size: int, round_sizes) -> Cell:
        """EmbeddingKMeans on the pool's sentence embeddings, then one ``BreakingTies`` query and
        update (a fresh classifier trained on the labelled pool) per round."""
        from small_text import BreakingTies, EmbeddingKMeans, PoolBasedActiveLearner

        _seed_globals(seed)  # small-text draws from the global NumPy and torch generators
        start = time.perf_counter()
        everything, nothing = np.arange(len(self.labels)), np.empty(0, dtype=np.int64)
        first = EmbeddingKMeans().query(None, self.pool, everything, nothing, nothing, n=init_size, embeddings=embeddings)
        learner = PoolBasedActiveLearner(self.factory, BreakingTies(), self.pool)
        learner.initialize_data(first, self.labels[first])
        final_start = start
        for size in round_sizes:
            queried = learner.query(num_samples=size)
            final_start = time.perf_counter()  # the last update retrains on the whole selection: the final model
            learner.update(self.labels[queried])
        accuracy, f1 = self._scores(learner.classifier)
        end = time.perf_counter()
        loop_seconds = end - start + self.prepare_seconds
        return Cell("small-text", "small-text", seed, accuracy, f1, end - final_start, loop_seconds, np.asarray(learner.indices_labeled))

    def final_model(self, seed: int, positions: np.ndarray, selection: str) -> Cell:
        """small-text's classifier trained on ``positions`` as its active learner retrains it."""
        _seed_globals(seed)
        start = time.perf_counter()
        train = self.pool[positions].clone()  # as PoolBasedActiveLearner hands its labelled pool to fit
        train.y = self.labels[positions]
        classifier = self.factory.new()
        classifier.fit(train)
        accuracy, f1 = self._scores(classifier)
        return Cell(selection, "small-text", seed, accuracy, f1, time.perf_counter() - start, positions=positions)

    def _scores(self, classifier) -> tuple[float, float]:
        metrics = classification_metrics(self.eval_labels, classifier.predict_proba(self.eval).argmax(axis=1), self.n_classes)
        return metrics["accuracy"], metrics["f1"]


def _seed_globals(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ---------------------------------------------------------------- the bench
def run_seed(args, seed: int, splits, embeddings: np.ndarray, small_text: SmallText, plan) -> Iterator[Cell]:
    """The four cells of one seed, each as it finishes: both loops, then each final learner on
    the other's selection."""
    ours = alsel_loop(args, seed, splits.pool)
    yield ours
    theirs = small_text.loop(seed, embeddings, plan.init_size, plan.round_sizes)
    yield theirs
    yield alsel_final_model(args, seed, splits, theirs.positions, "small-text")
    yield small_text.final_model(seed, ours.positions, "alsel")


def differences(cells: list[Cell]) -> dict[str, float]:
    """Mean accuracy differences in points: the loops', and their split into selection and learner
    (``A - B = (A - C) + (C - B) = (A - D) + (D - B)``, A and B the loops, C small-text's selection
    with alsel's learner, D alsel's selection with small-text's learner)."""
    mean = {
        (s, lr): statistics.mean(c.accuracy for c in cells if (c.selection, c.learner) == (s, lr)) for s in SELECTIONS for lr in SELECTIONS
    }
    a, b = mean["alsel", "alsel"], mean["small-text", "small-text"]
    c, d = mean["small-text", "alsel"], mean["alsel", "small-text"]
    points = {
        "alsel's loop - small-text's loop (A - B)": a - b,
        "selection, with alsel's learner (A - C)": a - c,
        "learner, on small-text's selection (C - B)": c - b,
        "learner, on alsel's selection (A - D)": a - d,
        "selection, with small-text's learner (D - B)": d - b,
    }
    return {k: round(100 * v, 2) for k, v in points.items()}


def markdown(cells: list[Cell], seeds: list[int]) -> str:
    """The table of docs/benchmarks.md: one row per (selection, learner), then the differences."""
    names = {"alsel": "alsel `kmeans_margin`", "small-text": "small-text EmbeddingKMeans + BreakingTies"}
    loops = {"alsel": "A", "small-text": "B"}
    lines = [
        f"| selection | final learner | accuracy, mean | accuracy, seeds {', '.join(map(str, seeds))} | F1, mean | loop wall s, mean | final model wall s, mean |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for letter, (selection, learner) in zip(
        "ABCD", (("alsel", "alsel"), ("small-text", "small-text"), ("small-text", "alsel"), ("alsel", "small-text"))
    ):
        rows = [c for c in cells if (c.selection, c.learner) == (selection, learner)]
        loop = (
            f"{statistics.mean(c.loop_seconds for c in rows):.1f}" if rows[0].loop_seconds is not None else f"({loops[selection]}'s loop)"
        )
        lines.append(
            f"| {letter}: {names[selection]} | {learner} | {statistics.mean(c.accuracy for c in rows):.4f} | {', '.join(f'{c.accuracy:.4f}' for c in rows)} | "
            f"{statistics.mean(c.f1 for c in rows):.4f} | {loop} | {statistics.mean(c.final_seconds for c in rows):.1f} |"
        )
    lines += ["", "| accuracy difference (points, mean over seeds) | |", "| --- | ---: |"]
    lines += [f"| {name} | {value:+.2f} |" for name, value in differences(cells).items()]
    return "\n".join(lines)


def selection_facts(cells: list[Cell], labels: np.ndarray, n_classes: int) -> list[dict]:
    """Per seed: how many examples the two selections share, and each one's class counts."""
    facts = []
    for seed in sorted({c.seed for c in cells}):
        loops = {c.selection: c.positions for c in cells if c.seed == seed and c.selection == c.learner}
        facts.append(
            {
                "seed": seed,
                "shared": int(len(np.intersect1d(loops["alsel"], loops["small-text"]))),
                "class_counts": {name: np.bincount(labels[p], minlength=n_classes).tolist() for name, p in loops.items()},
            }
        )
    return facts


def _versions() -> dict[str, str]:
    names = ("alsel", "small-text", "torch", "transformers", "sentence-transformers", "scikit-learn", "numpy")
    return {name: metadata.version(name) for name in names} | {"python": sys.version.split()[0]}


def _check_small_text() -> None:
    try:
        found = metadata.version("small-text")
    except metadata.PackageNotFoundError:
        found = None
    if found != SMALL_TEXT_VERSION:
        sys.exit(
            f"bench/peers.py needs small-text {SMALL_TEXT_VERSION} (found {found or 'none'}): pip install small-text=={SMALL_TEXT_VERSION}"
        )


#: What a results file must share with this invocation for its seeds to be kept (resuming).
SETTINGS = ("data", "n_pool", "n_eval", "budget", "init_size", "round_sizes", "device", "alsel_bf16", "max_length")


def kept_cells(out: Path | None, settings: dict, fresh: bool) -> tuple[list[Cell], dict]:
    """The cells of the seeds ``out`` already holds and the CPU each ran on, so an interrupted
    bench resumes after its last finished seed; none with ``fresh``. Results of other settings
    are not mixed in: the bench stops and says which differ (a ValueError)."""
    if out is None or fresh or not out.is_file():
        return [], {}
    kept = json.loads(out.read_text())
    differ = [k for k in SETTINGS if kept.get(k) != settings[k]]
    if differ:
        raise ValueError(f"{out} holds seeds run with other {', '.join(differ)}: pass --fresh to replace them, or --json another file")
    positions = kept["positions"]
    cells = [Cell(**c, positions=np.asarray(positions[str(c["seed"])][c["selection"]], dtype=np.int64)) for c in kept["cells"]]
    return cells, kept["machines"]


def results(settings: dict, cells: list[Cell], labels: np.ndarray, n_classes: int, machines: dict, embed_seconds: float) -> dict:
    """docs/peers.json: the settings, every cell of the finished seeds, the selections (for a resume) and the tables."""
    seeds = sorted({c.seed for c in cells})
    return settings | {
        "seeds": seeds,
        "machines": machines,
        "versions": _versions(),
        "embed_seconds": round(embed_seconds, 2),
        "cells": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in vars(c).items() if k != "positions"} for c in cells],
        "selections": selection_facts(cells, labels, n_classes),
        "positions": {
            str(seed): {c.selection: np.sort(c.positions).tolist() for c in cells if c.seed == seed and c.selection == c.learner}
            for seed in seeds
        },
        "differences_points": differences(cells),
        "table": markdown(cells, seeds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="a folder with train.tsv (the pool) and test.tsv (the evaluation set)"
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated (default 0,1,2)")
    parser.add_argument("--budget", type=float, default=0.1, help="share of the pool (default 0.1)")
    parser.add_argument("--limit", type=int, help="a stratified sample of N pool examples (alsel's --limit)")
    parser.add_argument("--eval-limit", type=int, help="a stratified sample of N evaluation examples")
    parser.add_argument("--device", default="auto", help="both learners' device (auto: CUDA where available)")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "fp32"),
        help="alsel's training precision (auto: bf16 where the CPU or GPU has it); small-text trains in fp32",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK['limit']} pool and {QUICK['eval_limit']} evaluation examples, seed 0; writes no JSON unless --json is given",
    )
    parser.add_argument(
        "--json", type=Path, help="where to write the results, after every seed (default docs/peers.json; none with --quick)"
    )
    parser.add_argument("--fresh", action="store_true", help="run every seed again (default: keep the seeds the results file holds)")
    args = parser.parse_args()
    _check_small_text()
    missing = [name for name in ("train.tsv", "test.tsv") if not (args.data / name).is_file()]
    if missing:
        parser.error(f"--data {args.data}: no {' or '.join(missing)} there")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds {args.seeds}: give integers separated by commas, like 0,1,2")
    if args.quick:
        args.limit, args.eval_limit, seeds = args.limit or QUICK["limit"], args.eval_limit or QUICK["eval_limit"], QUICK["seeds"]
    out = args.json or (None if args.quick else ROOT / "docs" / "peers.json")

    with tempfile.TemporaryDirectory(prefix="alsel-peers-") as cache:
        args.cache_dir = Path(cache)  # embeddings and round outcomes of this bench only
        splits = load_data(
            str(args.data / "train.tsv"), eval_spec=str(args.data / "test.tsv"), limit=args.limit, eval_limit=args.eval_limit, data_seed=0
        )
        config = loop_config(args, seeds[0])
        plan = plan_budget(config, len(splits.pool), splits.pool.n_classes)
        settings = {
            "data": str(args.data.name),
            "n_pool": len(splits.pool),
            "n_eval": len(splits.eval),
            "budget": plan.budget,
            "init_size": plan.init_size,
            "round_sizes": list(plan.round_sizes),
            "device": str(torch_device(args.device)),
            "alsel_bf16": uses_bf16(args.precision, args.device),
            "max_length": MAX_LENGTH,
        }
        try:
            cells, machines = kept_cells(out, settings, args.fresh)
        except ValueError as error:
            parser.error(str(error))
        todo = [seed for seed in seeds if seed not in {c.seed for c in cells}]
        print(
            f"pool {len(splits.pool):,}, evaluation set {len(splits.eval):,}, budget {plan.budget:,}: {plan.init_size} + {' + '.join(map(str, plan.round_sizes))}"
            + (f"; seeds {', '.join(str(s) for s in sorted(machines))} kept from {out}" if cells else ""),
            flush=True,
        )
        if not todo:
            print(markdown(cells, sorted({c.seed for c in cells})))
            return
        start = time.perf_counter()
        embeddings = Embedder("minilm", cache_dir=args.cache_dir, device=args.device).embed(splits.pool.texts, splits.pool.fingerprint())
        embed_seconds = time.perf_counter() - start
        print(f"embedding the pool (shared by both loops, not in their times): {embed_seconds:.1f} s", flush=True)
        small_text = SmallText(splits, args.device, args.cache_dir)
        for seed in todo:
            for cell in run_seed(args, seed, splits, embeddings, small_text, plan):
                cells.append(cell)
                loop = f", loop {cell.loop_seconds:.1f} s" if cell.loop_seconds is not None else ""
                print(
                    f"seed {seed}: {cell.selection} selection, {cell.learner} learner: accuracy {cell.accuracy:.4f}, f1 {cell.f1:.4f}, final model {cell.final_seconds:.1f} s{loop}",
                    flush=True,
                )
            machines[str(seed)] = cpu_model()
            if out is not None:  # after every seed: an interrupted bench keeps what it finished
                write_text(
                    out,
                    json.dumps(results(settings, cells, splits.pool.labels, splits.pool.n_classes, machines, embed_seconds), indent=1)
                    + "\n",
                )
                print(f"wrote {out} (seeds {', '.join(sorted(machines))})", flush=True)

    print(markdown(cells, sorted({c.seed for c in cells})))


if __name__ == "__main__":
    main()
