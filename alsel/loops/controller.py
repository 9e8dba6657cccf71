"""The round-based loop controller.

One run: choose an initial pool, then for each round train the learner on the labelled pool,
evaluate it, score the rest of the pool and acquire a batch; when the budget is reached, train
the final model on the whole selection and evaluate it. The study's fixed strategies are the
same loop with zero or one round (see :mod:`alsel.loops.presets`). With ``--warm-start`` a round
continues from the previous round's model, which the run directory keeps until the run is done.

Every random choice draws from a generator derived from (seed, round, purpose), so a run resumed
after its last finished round makes the same choices as one that never stopped.

:class:`~alsel.loops.steps.LoopSteps` takes the same choices one batch at a time, for a pool
labelled as it goes (:mod:`alsel.labelling`).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import DataSplits, TextDataset, load_data
from ..embed import EmbeddingLookup, default_cache_dir
from ..errors import ConfigError, RunFileError
from ..models import machine_description
from ..progress import SILENT, Progress
from ..ray_cluster import ray_session
from ..scores import summarize
from ..strategies import LoopState, Selection, Strategy
from ..strategies.base import MODEL_NEEDS
from .config import BudgetPlan, LoopConfig, ResolvedConfig, build_strategy, options, plan_budget
from .learning import LearnerContext, LearnerFactory, evaluate, fit, predict_proba, resolve_learner, save
from .records import Checkpoint, RoundOutcome, RoundRecord, SelectionEntry
from .round_cache import load_outcome, round_key, save_outcome
from .run_embedding import RunEmbedding
from .rundir import MemoryRunDir, RunDir, RunStore, package_versions
from .scorers import ScoringContext, sample_candidates, score_candidates
from .validation import validation_split

__all__ = ["run_loop", "execute_loop", "LoopOutcome", "LoopRun"]

STREAMS = {"init": 0, "acq": 1, "candidates": 2}


def _rng(seed: int, round_: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([seed, round_, STREAMS[stream]])


def default_out_dir(config: LoopConfig) -> Path:
    return Path("runs") / config.run_name()


@dataclass(frozen=True)
class LoopOutcome:
    """What a finished loop leaves: the resolved config, the final metrics, the records of
    rounds.jsonl and the entries of selection.jsonl, and the data they index."""

    config: ResolvedConfig
    metrics: dict
    rounds: list[RoundRecord]
    selection: list[SelectionEntry]
    pool: TextDataset
    eval: TextDataset


def run_loop(config: LoopConfig, out_dir: str | Path | None = None, progress: Progress = SILENT, splits: DataSplits | None = None) -> dict:
    """Run (or resume, or return the finished) loop described by ``config`` in ``out_dir``.

    Returns the final metrics: ``accuracy``, ``f1``, ``n_train``, ``n_eval``, ``seconds``,
    ``majority_accuracy``. The arguments are :func:`execute_loop`'s.
    """
    return execute_loop(config, out_dir, progress, splits).metrics


def execute_loop(
    config: LoopConfig, out_dir: str | Path | None = None, progress: Progress = SILENT, splits: DataSplits | None = None
) -> LoopOutcome:
    """Run (or resume, or return the finished) loop and return everything it recorded.

    Parameters
    ----------
    out_dir : path, optional
        The run directory (resumed if it holds this run); ``None`` keeps the run in memory.
    splits : DataSplits, optional
        Data already loaded (default: ``load_data`` with the config's data options); its
        ``sources`` are kept in the run directory.
    """
    config = config.resolved()
    run_dir: RunStore = MemoryRunDir() if out_dir is None else RunDir(out_dir)
    # With --executor ray, one Ray session for the run's embedding and every round's scoring
    # (each of those reuses it), rather than a local Ray started and stopped for each.
    with ray_session(config.address, progress) if config.executor == "ray" else contextlib.nullcontext():
        return LoopRun(config, run_dir, progress, splits).execute()


class LoopRun:
    """One run of the loop: its data, embeddings, learners, rounds and run directory."""

    def __init__(self, config: ResolvedConfig, run_dir: RunStore, progress: Progress, splits: DataSplits | None = None):
        self.config = config
        self.run_dir = run_dir
        self.progress = progress
        self.splits = splits
        self.embedding = RunEmbedding(config, progress)
        self.init_seconds = 0.0
        self.round_learner = resolve_learner(config.learner, "--learner")
        self.final_learner = resolve_learner(config.final_learner, "--final-learner") if config.final_learner else self.round_learner

    # ---------------------------------------------------------------- pieces
    def _load(self) -> DataSplits:
        if self.splits is not None:
            return self.splits
        c = self.config
        return load_data(
            c.dataset,
            text_column=c.text_column,
            label_column=c.label_column,
            eval_spec=c.eval,
            limit=c.limit,
            eval_limit=c.eval_limit,
            data_seed=c.data_seed,
        )

    def embeddings(self) -> np.ndarray:
        """The pool's embedding matrix (made on first use)."""
        return self.embedding.matrix(self.pool)

    def learner_context(self) -> LearnerContext:
        """What learners are built from: the seed, the embedding lookup (pool texts from the
        run's matrix, so a learner on embeddings never embeds the pool again), training options."""
        c = self.config
        return LearnerContext(
            seed=c.seed,
            embed=EmbeddingLookup(self.embedding.embedder(), self.pool.texts, self.embeddings, self.progress),
            training={k: getattr(c, k) for k in options("training") if k not in ("seed", "validation_fraction")} | {"device": c.device},
            options=c.learner_options,
        )

    def _record(self, splits: DataSplits, plan: BudgetPlan) -> dict:
        record = self.config.to_dict()
        record.update(
            data=splits.description,
            plan={"budget": plan.budget, "init_size": plan.init_size, "round_sizes": list(plan.round_sizes), "keep_init": plan.keep_init},
            versions=package_versions(),
            machine=machine_description(),
        )
        return record

    def _state(self, candidates, labeled, round_, stream, strategy: Strategy) -> LoopState:
        return LoopState(
            labels=self.pool.labels,
            n_classes=self.pool.n_classes,
            candidates=candidates,
            labeled=labeled,
            random_state=_rng(self.config.seed, round_, stream),
            round=round_,
            embeddings=self.embeddings() if "embeddings" in strategy.needs else None,
        )

    def _entries(self, selection, round_: int) -> list[SelectionEntry]:
        scores = selection.scores if selection.scores is not None else [None] * len(selection.indices)
        return [
            SelectionEntry(
                id=int(self.pool.ids[i]),
                round=round_,
                score=_json_score(s),
                label=self.pool.label_value(i),
                label_index=int(self.pool.labels[i]),
            )
            for i, s in zip(selection.indices, scores)
        ]

    # ---------------------------------------------------------------- main
    def execute(self) -> LoopOutcome:
        splits, plan = self._splits_and_plan()
        for note in splits.description.get("notes", []):
            self.progress.log(note)
        with self.run_dir.lock(self.progress):
            finished = self._finished_metrics()
            done = self.run_dir.start(self._record(splits, plan), self.progress)  # refuses other options, finished or not
            if finished is not None:
                return LoopOutcome(self.config, finished, done.rounds, done.selection, self.pool, self.eval)
            self.run_dir.keep_sources(splits.sources)
            return self._continue(done, plan)

    def _finished_metrics(self) -> dict | None:
        """metrics.json of a finished run; None if unfinished, or if metrics.json is damaged:
        the checkpoint is the truth, and finishing from it rebuilds the same metrics."""
        try:
            return self.run_dir.read_metrics()
        except RunFileError:
            self.progress.log(f"{self.run_dir.path}: {RunDir.METRICS} is damaged; finishing the run again from its checkpoint")
            return None

    def _continue(self, done: Checkpoint, plan: BudgetPlan) -> LoopOutcome:
        """Run the rounds after those ``done`` and write the final metrics."""
        c = self.config
        learners = c.learner + (f" (final: {c.final_learner})" if c.final_learner else "")
        where = f" -> {self.run_dir.path}" if self.run_dir.path else ""
        self.progress.log(
            f"learner {learners}, model {c.model}, pool {len(self.pool):,}, eval {len(self.eval):,}, budget {plan.budget:,}{where}"
        )
        acq = build_strategy(c.acq, c) if c.acq is not None else None  # None exactly when there are no rounds
        if not done.rounds:  # choose the initial pool (cheap and deterministic: redone on resume)
            self._choose_initial_pool(done, plan)
        for round_ in range(len(done.rounds), c.rounds + 1):
            record = self._round(done, plan, round_, acq if round_ < c.rounds else None)
            done.rounds = done.rounds + [record]
            self.run_dir.save(done)
            self.progress.log(
                f"round {round_}: trained on {record.n_labeled:,}{_describe_training(record.training)}, "
                f"accuracy {record.accuracy:.4f}, f1 {record.f1:.4f}"
                + (f", acquired {record.n_acquired:,}" if round_ < c.rounds else " (final)")
            )
        last = done.rounds[-1]
        metrics: dict[str, float | int | str] = {
            "accuracy": last.accuracy,
            "f1": last.f1,
            "n_train": last.n_labeled,
            "n_eval": len(self.eval),
            "seconds": round(sum(r.seconds for r in done.rounds), 3),
            "majority_accuracy": round(float(np.bincount(self.eval.labels).max() / len(self.eval)), 6),
        }
        training = last.training or {}
        if training.get("collapsed"):
            # kept as the run's result, so a study pairs it, but never silently: the run says it failed
            metrics["failed"] = (
                f"the final fine-tuning collapsed after {len(training.get('retries', []))} retries ({training['collapsed']})"
            )
            self.progress.log(f"failed: {metrics['failed']}")
        self.run_dir.finish(metrics)
        return LoopOutcome(c, metrics, done.rounds, done.selection, self.pool, self.eval)

    def _choose_initial_pool(self, done: Checkpoint, plan: BudgetPlan) -> None:
        """The initial pool: the start of the selection, or a seed pool that is not kept."""
        all_positions = np.arange(len(self.pool))
        t0 = time.perf_counter()
        first = self._initial_selection(all_positions, all_positions[:0], 0, plan.init_size)
        self.init_seconds = time.perf_counter() - t0
        if plan.keep_init:
            done.selection = self._entries(first, 0)
        else:
            done.seed_pool_ids = [int(self.pool.ids[i]) for i in first.indices]

    def _initial_selection(self, candidates, labeled, round_: int, k: int) -> Selection:
        """``k`` of ``candidates`` chosen by the initial-pool strategy, which needs no model."""
        init = build_strategy(self.config.init, self.config)
        return init.select(self._state(candidates, labeled, round_, "init", init), k)

    def _round(self, done: Checkpoint, plan: BudgetPlan, round_: int, acq: Strategy | None) -> RoundRecord:
        """Train on the selection so far and, with ``acq`` (in every round but the last), acquire
        the next batch (added to ``done.selection``); the last round's model is the run's result."""
        c = self.config
        t0 = time.perf_counter()
        seed_pool = self.pool.positions(done.seed_pool_ids or [])
        result = self.pool.positions([e.id for e in done.selection])
        train = seed_pool if (round_ == 0 and not plan.keep_init) else result
        final = acq is None
        candidates = (
            None
            if acq is None
            else self._candidate_sample(np.setdiff1d(np.arange(len(self.pool)), np.union1d(result, seed_pool)), acq, round_)
        )
        learner = self.final_learner if final else self.round_learner
        keeps = self._keeps_model(round_)
        outcome = self._train_and_score(
            np.sort(train),
            candidates,
            acq,
            learner,
            keep_model=(final and bool(c.save_model)) or keeps,
            warm=self._warm_from(round_),
        )
        if keeps:
            self.run_dir.save_round_model(round_, outcome.learner, self.pool.label_names, outcome.key)
        select_seconds = scores = None
        if acq is None:
            self._keep_final_model(outcome)
        else:
            t1 = time.perf_counter()
            chosen = self._acquire(acq, outcome, candidates, result, round_, plan.round_sizes[round_])
            scores = self._score_summary(outcome, candidates, chosen)
            select_seconds = round(time.perf_counter() - t1, 3)
            done.selection = done.selection + self._entries(chosen, round_ + 1)
        return RoundRecord(
            round=round_,
            n_labeled=int(len(train)),
            in_result=bool(final or plan.keep_init or round_ > 0),
            class_counts=self.pool.class_counts(train),
            epochs=outcome.epochs,
            accuracy=outcome.accuracy,
            f1=outcome.f1,
            train_seconds=outcome.train_seconds,
            score_seconds=outcome.score_seconds,
            cached=outcome.cached,
            training=outcome.training,
            select_seconds=select_seconds,
            scores=scores,
            **self.embedding.cost_since_last_record(),
            n_acquired=0 if final else int(plan.round_sizes[round_]),
            seconds=round(time.perf_counter() - t0 + (self.init_seconds if round_ == 0 else 0.0), 3),
        )

    def _candidate_sample(self, candidates: np.ndarray, acq: Strategy, round_: int) -> np.ndarray:
        """The candidates round ``round_`` scores and acquires from: a seeded random
        ``--candidates`` of them where a model scores them (``acq`` needs its outputs, and neither
        ``--scorer probe`` nor a learner on the embeddings, a proxy, does the scoring), else all."""
        c = self.config
        scored = bool(acq.needs & MODEL_NEEDS.keys())
        if c.candidates is None or not scored or c.scorer == "probe" or self.round_learner.reads_embeddings:
            return candidates
        return sample_candidates(candidates, c.candidates, _rng(c.seed, round_, "candidates"))

    def _warm_source(self, round_: int) -> int | None:
        """The round whose model round ``round_`` continues from (``--warm-start``), or None:
        it trains from the pretrained weights."""
        c = self.config
        if c.warm_start == "none" or not 0 < round_ <= c.rounds or (round_ == c.rounds and c.warm_start == "rounds"):
            return None
        return round_ - 1

    def _keeps_model(self, round_: int) -> bool:
        """Whether the next round continues from this round's model: then it is trained even on a
        round-cache hit (the cache holds no model) and kept in the run directory."""
        return self._warm_source(round_ + 1) == round_

    def _warm_from(self, round_: int) -> tuple[Path, str] | None:
        """The saved model round ``round_`` continues from and its identity (the round cache key
        it was trained under), read back from the run directory whether this process saved it or
        an interrupted one did: a resumed run continues from the same model."""
        source = self._warm_source(round_)
        return None if source is None else self.run_dir.read_round_model(source)

    def _keep_final_model(self, outcome: RoundOutcome) -> None:
        """The final model's eval-set probabilities (for paired per-sentence comparisons) and,
        if asked, the model itself: before the round's commit point, so a resume redoes an
        unsaved model."""
        self.run_dir.save_eval_probs(outcome.eval_probs)
        predicted = np.unique(outcome.eval_probs.argmax(axis=1))
        if len(predicted) == 1 and self.pool.n_classes > 1:
            # it happens at MiniLM's default lr (docs/results.md) and would otherwise show only as a low accuracy
            self.progress.log(
                f"warning: the final model predicts {self.pool.label_names[predicted[0]]!r} for every evaluation example "
                "(the fine-tuning collapsed to one class); try a lower --lr or another --seed"
            )
        if self.config.save_model:
            save(outcome.learner, self.config.save_model, self.pool.label_names)
            self.progress.log(f"saved the final model to {self.config.save_model}")

    def _acquire(self, acq: Strategy, outcome: RoundOutcome, candidates, labeled, round_: int, k: int) -> Selection:
        """The next batch from ``candidates``, by ``acq`` on the scores of round ``round_``'s model."""
        state = self._state(candidates, labeled, round_ + 1, "acq", acq)
        state.probs, state.extras = outcome.probs, outcome.extras
        return acq.select(state, k)

    def _score_summary(self, outcome: RoundOutcome, candidates, chosen: Selection) -> dict | None:
        """The scores of the candidates and of the ``chosen`` ones (None where the strategy read none)."""
        if outcome.probs is None:
            return None
        chosen_rows = np.searchsorted(candidates, chosen.indices)
        return {
            "candidates": summarize(outcome.probs, self.pool.labels[candidates]),
            "acquired": summarize(outcome.probs[chosen_rows], self.pool.labels[chosen.indices]),
        }

    def _splits_and_plan(self):
        splits = self._load()
        self.pool, self.eval = splits.pool, splits.eval
        plan = plan_budget(self.config, len(self.pool), self.pool.n_classes)
        most = max(plan.round_sizes, default=0)
        if self.config.candidates is not None and self.config.candidates < most:
            raise ConfigError(
                f"--candidates {self.config.candidates} is fewer than the {most:,} examples a round acquires; pass at least {most:,}"
            )
        return splits, plan

    # ---------------------------------------------------------------- a round's model
    def _validation(self, train, factory: LearnerFactory) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``train`` to fit on and to validate on: a split of the selection for learners
        that stop on one (none for the others)."""
        fraction = self.config.validation_fraction if factory.takes_validation else 0.0
        return validation_split(self.pool.labels[train], fraction, self.config.seed)

    def _cache_key(self, train, held, candidates, needs, learner: str, warm_from: str | None = None) -> str:
        """The round cache's key (:func:`~alsel.loops.round_cache.round_key`) of this run's round."""
        return round_key(
            self.config,
            self.pool,
            self.eval,
            train=train,
            held=held,
            candidates=candidates,
            needs=needs,
            learner=learner,
            embedder_key=self.embedding.key(),
            warm_from=warm_from,
        )

    def _train_and_score(
        self,
        train,
        candidates,
        acq: Strategy | None,
        factory: LearnerFactory,
        keep_model: bool = False,
        warm: tuple[Path, str] | None = None,
    ) -> RoundOutcome:
        """Train on ``train`` (from the saved model and identity ``warm``, if given), evaluate,
        and score ``candidates`` for ``acq``; the outcome is cached so runs that train the same
        model on the same data (the study's high_conf and low_conf seed models) do it once. The
        model itself is not cached: ``keep_model`` trains even on a cache hit, and the outcome's
        ``learner`` holds it."""
        needs: frozenset[str] = acq.needs if (acq is not None and candidates is not None) else frozenset()
        wants_probs = bool(needs & MODEL_NEEDS.keys())  # the round's model scores the candidates
        fit_rows, held_rows = self._validation(train, factory)
        key = self._cache_key(train, train[held_rows], candidates if wants_probs else None, needs, factory.spec, warm[1] if warm else None)
        cache = Path(self.config.cache_dir or default_cache_dir()) / "rounds" / key
        cached = (
            None
            if keep_model
            else load_outcome(cache, n_eval=len(self.eval), n_candidates=len(candidates) if wants_probs else None, progress=self.progress)
        )
        if cached is not None:
            return cached

        context = self.learner_context()
        learner = factory.new(context)
        dynamics: list[np.ndarray] = []
        on_epoch_end = None
        if "dynamics" in needs:  # with the model scorer (LoopConfig.resolved refuses another)
            candidate_texts = [self.pool.texts[i] for i in candidates]
            gold = self.pool.labels[candidates]

            def on_epoch_end(model, epoch):
                if epoch == 0:  # a new training (the collapse guard retrains): its epochs alone
                    dynamics.clear()
                p = predict_proba(model, candidate_texts, progress=self.progress)
                dynamics.append(p[np.arange(len(gold)), gold])

        # Times leave out embeddings computed meanwhile (a learner on embeddings): the round's
        # embed_seconds counts them.
        t0, spent = time.perf_counter(), self.embedding.spent()
        train_texts = [self.pool.texts[i] for i in train]
        train_labels = self.pool.labels[train]
        validation = ([train_texts[i] for i in held_rows], train_labels[held_rows]) if len(held_rows) else None
        fit(
            learner,
            [train_texts[i] for i in fit_rows],
            train_labels[fit_rows],
            self.pool.n_classes,
            validation=validation,
            progress=self.progress,
            on_epoch_end=on_epoch_end,
            warm_from=warm[0] if warm else None,
        )
        metrics, eval_probs = evaluate(learner, self.eval.texts, self.eval.labels, self.pool.n_classes, progress=self.progress)
        train_seconds = time.perf_counter() - t0 - (self.embedding.spent() - spent)
        t1, spent = time.perf_counter(), self.embedding.spent()
        probs: np.ndarray | None = None
        extras: dict[str, np.ndarray] = {}
        if wants_probs:
            ctx = ScoringContext(
                pool=self.pool,
                train=train,
                candidates=candidates,
                learner=learner,
                make_learner=lambda: factory.new(context),
                embeddings=self.embeddings,
                seed=self.config.seed,
                progress=self.progress,
                # a learner on the run's embeddings scores by reading them, which Ray workers lack
                executor="local" if factory.reads_embeddings else self.config.executor,
                address=self.config.address,
            )
            probs, extras = score_candidates(self.config.scorer, ctx, needs)
            if dynamics:
                extras["dynamics"] = np.stack(dynamics, axis=1)
        outcome = RoundOutcome(
            epochs=getattr(learner, "epochs_", None),  # None: a learner without epochs
            accuracy=round(metrics["accuracy"], 6),
            f1=round(metrics["f1"], 6),
            training=getattr(learner, "training_", None) or None,  # None: a learner that reports nothing
            train_seconds=round(train_seconds, 3),
            score_seconds=round(time.perf_counter() - t1 - (self.embedding.spent() - spent), 3),
            eval_probs=eval_probs,
            probs=probs,
            extras=extras,
            key=key,
            learner=learner,
        )
        save_outcome(cache, outcome)
        return outcome


def _describe_training(training: dict | None) -> str:
    """`` (validation 33, best epoch 4 of 7)`` for a round's log line (``warm start, `` first
    for a warm start); empty where the learner reports nothing."""
    if not training:
        return ""
    held = ("warm start, " if training.get("warm_from") else "") + (
        f"validation {training['validation']:,}, " if training.get("validation") else ""
    )
    retries = f", {len(training['retries'])} retries" if training.get("retries") else ""
    return f" ({held}best epoch {training.get('best_epoch')} of {training.get('epochs')}{retries})"


def _json_score(score) -> float | None:
    """A score as JSON: rounded, and ``None`` where there is none or it is not finite (k-center's
    first pick from an empty labelled set is infinitely far from every centre)."""
    if score is None or not np.isfinite(score):
        return None
    return round(float(score), 8)
