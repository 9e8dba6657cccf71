"""Options of one loop run, their defaults, and the budget plan derived from them."""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..io import read_yaml_mapping
from ..models import PRECISIONS
from ..params import PER_CLASS, Choice, Flag, Integer, Mapping, Numeric, Range, Real, Text, check
from ..ray_cluster import EXECUTOR_CHOICES, import_ray
from .presets import DEFAULTS, LEARNER_DEFAULTS, LOOP_SHAPE, OWN_LOOP_DEFAULTS, PRESETS, check_fixed, preset_options
from .rundir import RECORD_ONLY

if TYPE_CHECKING:
    from ..strategies import Strategy

__all__ = [
    "LoopConfig",
    "ResolvedConfig",
    "BudgetPlan",
    "OPTION_GROUPS",
    "build_strategy",
    "options",
    "option_constraints",
    "budget_label",
    "budget_order",
    "parse_budget",
    "parse_budget_label",
    "parse_size",
    "per_class",
    "plan_budget",
]


#: ``--warm-start``: none (every round trains from the pretrained weights), rounds (rounds 1..R-1
#: continue from the previous round's model, the final one trains fresh), all (the final too).
WARM_STARTS = ("none", "rounds", "all")

#: What every library a run seeds accepts (scikit-learn's random_state is below 2**32).
SEED_RANGE = Range(0, 2**32 - 1)


@dataclass
class LoopConfig:
    """Every option of ``alsel loop``. ``None`` means "the default for this model/data".

    Precedence when building one: defaults < preset < config file < explicit overrides. The
    selection options (budget, init, keep_init, acq, rounds) and the learners left unset
    (``None``) are filled at construction from ``preset``, else from
    :data:`~alsel.loops.presets.DEFAULTS`, the recommended loop, or, for a config that shapes
    its own loop (names init, acq or rounds), from :data:`~alsel.loops.presets.OWN_LOOP_DEFAULTS`
    (a learner named explicitly keeps the preset's learners out, see :mod:`~alsel.loops.presets`);
    so ``LoopConfig(preset="random")`` is the random preset, ``LoopConfig()`` is the recommended
    preset under no preset name and ``LoopConfig(init="random")`` a random sample.

    Each field is declared once: its annotation gives the type, its metadata the help text, its
    ``group`` (:data:`OPTION_GROUPS`; :func:`options` lists a group's names), whether it names a
    file or folder (``path``) and, where it has one, the ``range`` of a number or the ``choices``
    of a string (:func:`option_constraints` reads them; the CLI's flags come from the same).
    """

    dataset: str = field(
        default="sst2",
        metadata={"group": "data", "path": True, "help": "sst2 (bundled), a CSV/TSV/JSONL/parquet file, or hf:NAME[:CONFIG]"},
    )
    text_column: str | None = field(default=None, metadata={"group": "data", "help": "text column (default: text or sentence)"})
    label_column: str = field(default="label", metadata={"group": "data", "help": "label column"})
    eval: str | None = field(
        default=None, metadata={"group": "data", "path": True, "help": "evaluation file, split name, or a fraction of the pool to hold out"}
    )
    limit: int | None = field(
        default=None, metadata={"group": "data", "help": "use a seeded, stratified sample of N pool examples", "range": Range(1)}
    )
    eval_limit: int | None = field(
        default=None, metadata={"group": "data", "help": "use a stratified sample of N evaluation examples", "range": Range(1)}
    )
    data_seed: int = field(
        default=0, metadata={"group": "data", "help": "seed of --limit/--eval-limit samples (kept apart from --seed)", "range": SEED_RANGE}
    )
    preset: str | None = field(
        default=None,
        metadata={"group": "selection", "help": "a preset: " + "; ".join(f"{name}: {p.description}" for name, p in PRESETS.items())},
    )
    budget: float | int | str | None = field(
        default=None,
        metadata={
            "group": "selection",
            "help": "examples to select: a fraction of the pool (0.1), a count (1000) or labels per class (20/class)",
            "range": Range(0, closed="neither"),
        },
    )
    init: str | None = field(default=None, metadata={"group": "selection", "help": "strategy choosing the initial pool"})
    init_size: float | int | str | None = field(
        default=None,
        metadata={
            "group": "selection",
            "help": "initial pool: fraction or count (default budget/(rounds+1))",
            "range": Range(0, closed="neither"),
        },
    )
    keep_init: bool | None = field(
        default=None,
        metadata={"group": "selection", "help": "the initial pool is part of the result (false: a seed pool only for the first model)"},
    )
    acq: str | None = field(default=None, metadata={"group": "selection", "help": "acquisition function of each round"})
    rounds: int | None = field(
        default=None, metadata={"group": "selection", "help": "acquisition rounds after the initial pool", "range": Range(0)}
    )
    scorer: str = field(
        default="model", metadata={"group": "selection", "help": "model, cv:K (out-of-fold) or probe (logistic regression on embeddings)"}
    )
    balance: bool = field(
        default=False, metadata={"group": "selection", "help": "per-class quotas proportional to the pool's class shares"}
    )
    dedup: float | None = field(
        default=None,
        metadata={
            "group": "selection",
            "help": "drop candidates with embedding cosine >= this to another candidate or a selected example",
            "range": Range(0, 1, closed="right"),
        },
    )
    candidates: int | None = field(
        default=None,
        metadata={
            "group": "selection",
            "help": "score a seeded random N of the remaining pool in rounds a model scores (baal's max_sample; proxies score all)",
            "range": Range(1),
        },
    )
    strategy_options: dict = field(
        default_factory=dict,
        metadata={"group": "selection", "help": "options passed to every strategy that takes them (projection_dim, region, ...)"},
    )
    embedder: str = field(
        default="minilm", metadata={"group": "selection", "path": True, "help": "sentence-transformers model for embeddings"}
    )
    embed_precision: str = field(
        default="fp32",
        metadata={
            "group": "selection",
            "help": "precision of the embeddings: fp32, or bf16 (auto: where supported), 2.5x faster on a CPU with AMX "
            "but about one KMeans pick in eight differs (docs/benchmarks.md)",
            "choices": PRECISIONS,
        },
    )
    learner: str | None = field(
        default=None,
        metadata={
            "group": "learner",
            "help": "the model trained inside the rounds: transformer, logreg (logistic regression on the embeddings) or package.module:Class",
        },
    )
    final_learner: str | None = field(
        default=None, metadata={"group": "learner", "help": "the model trained on the final selection (default: the same as --learner)"}
    )
    learner_options: dict = field(
        default_factory=dict,
        metadata={"group": "learner", "help": "options passed to every learner of the run that takes them (max_retries, C, ...)"},
    )
    warm_start: str | None = field(
        default=None,
        metadata={
            "group": "learner",
            "choices": WARM_STARTS,
            "help": "none: each round from the pretrained weights; rounds: rounds 1..R-1 go on from the last one's model; all: the final too",
        },
    )
    model: str | None = field(
        default=None,
        metadata={
            "group": "training",
            "path": True,
            "help": "minilm, modernbert-base, a local directory or a hub id (default: modernbert-base with CUDA, else minilm)",
        },
    )
    epochs: int | None = field(
        default=None,
        metadata={
            "group": "training",
            "help": "the most epochs a fine-tuning runs; early stopping ends it sooner (default per model)",
            "range": Range(1),
        },
    )
    patience: int | None = field(
        default=None,
        metadata={
            "group": "training",
            "help": "stop after this many epochs without a better validation score (default per model)",
            "range": Range(1),
        },
    )
    validation_fraction: float = field(
        default=0.1,
        metadata={
            "group": "training",
            "help": "share of each class of the selection held out to choose the epoch (0: none; never the evaluation set)",
            "range": Range(0, 0.5, closed="left"),
        },
    )
    min_steps: int | None = field(
        default=None,
        metadata={
            "group": "training",
            "help": "raise the most epochs to give at least this many optimizer steps (default 0)",
            "range": Range(0),
        },
    )
    batch_size: int | None = field(
        default=None, metadata={"group": "training", "help": "training batch size (default per model)", "range": Range(1)}
    )
    lr: float | None = field(
        default=None,
        metadata={
            "group": "training",
            "help": "peak learning rate of the pretrained encoder (default per model)",
            "range": Range(0, closed="neither"),
        },
    )
    head_lr: float | None = field(
        default=None,
        metadata={
            "group": "training",
            "help": "peak learning rate of the new classification head (default per model)",
            "range": Range(0, closed="neither"),
        },
    )
    max_length: int | None = field(
        default=None, metadata={"group": "training", "help": "max tokens per text (default per model)", "range": Range(1)}
    )
    warmup_ratio: float = field(
        default=0.1, metadata={"group": "training", "help": "fraction of steps with linear warm-up", "range": Range(0, 1, closed="left")}
    )
    weight_decay: float = field(default=0.01, metadata={"group": "training", "help": "AdamW weight decay", "range": Range(0)})
    precision: str = field(
        default="auto", metadata={"group": "training", "help": "auto (bf16 where supported), bf16 or fp32", "choices": PRECISIONS}
    )
    device: str = field(default="auto", metadata={"group": "run", "help": "auto, cpu, cuda, cuda:1, ..."})
    executor: str = field(
        default="local",
        metadata={
            "group": "run",
            "help": "local, or ray: embed the pool's missing shards and score the candidates as Ray tasks (a local Ray, or the cluster at --address)",
            "choices": EXECUTOR_CHOICES,
        },
    )
    address: str | None = field(
        default=None, metadata={"group": "run", "help": "with --executor ray: the Ray cluster's address (default: start a local Ray)"}
    )
    seed: int = field(
        default=0,
        metadata={"group": "training", "help": "seed of selection and fine-tuning (same seed -> same subset)", "range": SEED_RANGE},
    )
    trust_remote_code: bool = field(default=False, metadata={"group": "training", "help": "allow model code from the hub (off by default)"})
    cache_dir: str | None = field(
        default=None, metadata={"group": "run", "path": True, "help": "embedding and score cache (default ~/.cache/alsel or $ALSEL_CACHE)"}
    )
    # output
    save_model: str | None = field(
        default=None,
        metadata={
            "group": "run",
            "path": True,
            "help": "save the final model, tokenizer and label names here (loadable with from_pretrained / pipeline())",
        },
    )

    def __post_init__(self):
        # Every way of building a config (flags, YAML, a study, dataclasses.replace) passes here.
        for name, constraints in option_constraints().items():
            setattr(self, name, check(name, getattr(self, name), constraints))
        # Only unset options are filled, so explicit values win and filling again changes
        # nothing: dataclasses.replace and a replayed config.json give the same config.
        check_fixed(self.preset, vars(self))
        # the recommended loop only as a whole: a preset, or a loop shaped here, fills the rest from the one-shot base
        recommended = self.preset is None and all(getattr(self, name) is None for name in LOOP_SHAPE)
        fill = {**DEFAULTS} if recommended else {**OWN_LOOP_DEFAULTS, **(preset_options(self.preset) if self.preset else {})}
        if any(getattr(self, name) is not None for name in LEARNER_DEFAULTS):
            # a learner named explicitly replaces the preset's pair: --learner X trains X throughout
            fill.update(LEARNER_DEFAULTS)
        for name, value in fill.items():
            if getattr(self, name) is None:
                setattr(self, name, value)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_options(cls, *, preset: str | None = None, config_file: str | Path | None = None, **overrides) -> LoopConfig:
        """Merge defaults < preset < config file < ``overrides`` (``None`` overrides are ignored).

        ``config_file`` may be a run's ``config.json``: its record-only keys (data, plan,
        versions) are skipped, so the run is replayed with its resolved options.
        """
        file_options = read_yaml_mapping(config_file) if config_file else {}
        options = {k: v for k, v in file_options.items() if k not in RECORD_ONLY}
        options.update({k: v for k, v in overrides.items() if v is not None})
        options["preset"] = overrides.get("preset") or preset or file_options.get("preset")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise ConfigError(f"unknown option {', '.join(unknown)}")
        return cls(**options)

    def resolved(self) -> ResolvedConfig:
        """A :class:`ResolvedConfig`: a copy with the model and its training defaults filled in,
        and names, paths, the device and the strategies' options checked. Cheap: it loads no model
        and no data."""
        from ..models import check_device, default_model, resolve_embedder, resolve_model, training_defaults
        from ..strategies import can_choose_initial_pool, initial_pool_refusal, resolve_strategy_class
        from .learning import resolve_learner

        model = self.model or default_model()
        resolve_model(model)  # raises on an unknown alias or a missing directory
        resolve_embedder(self.embedder)
        check_device(self.device)
        if self.executor == "ray":
            import_ray()  # a missing Ray is one line now, not after the first round's training
        filled = {k: v if getattr(self, k) is None else getattr(self, k) for k, v in training_defaults(model).items()}
        config = ResolvedConfig(**{**{f.name: getattr(self, f.name) for f in fields(self)}, "model": model, **filled})
        init = resolve_strategy_class(config.init, "--init")
        acq = resolve_strategy_class(config.acq, "--acq") if config.acq is not None else None
        if not can_choose_initial_pool(init):
            raise initial_pool_refusal(config.init, init.needs)
        round_learner = resolve_learner(config.learner, "--learner")
        final_learner = resolve_learner(config.final_learner, "--final-learner") if config.final_learner is not None else round_learner
        _check_learner_options(config.learner_options, [round_learner, final_learner])
        if config.save_model is not None:
            _check_can_save(final_learner, config.save_model, config.model)
        _check_warm_start(config, round_learner, final_learner)
        if config.rounds > 0 and config.acq is None:
            raise ConfigError("--rounds > 0 needs an acquisition function (--acq)")
        if config.rounds == 0 and config.acq is not None:
            # a loop of one's own has no rounds unless it says so: `--acq X` alone would be ignored without this
            raise ConfigError(f"--acq {config.acq} acts in rounds, and --rounds is 0; pass --rounds N (N >= 1) or leave --acq unset")
        if acq is not None and config.acq is not None:
            _check_learner_serves(round_learner, config.acq, acq.needs, config.scorer)
        parse_scorer(config.scorer)
        _check_strategy_options(config)
        return config

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def run_name(self) -> str:
        """A readable default run directory name."""
        if self.preset:
            head = self.preset
        else:
            head = f"{self.init}" + (f"-{self.acq}-r{self.rounds}" if self.rounds else "")
        size = f"n{self.limit}" if self.limit else "full"
        return f"{head}-b{self.budget}-{size}-s{self.seed}"


@dataclass(kw_only=True)
class ResolvedConfig(LoopConfig):
    """A :class:`LoopConfig` with every default filled in and every option checked: what
    :meth:`LoopConfig.resolved` returns, the one place that fills the model's training defaults
    (the selection options and learners are filled at construction), and what a run executes.

    The options it declares again are those no longer optional. Those still ``None`` mean none:
    ``acq`` (exactly when ``rounds`` is 0), ``final_learner`` (the round learner trains the final
    model too), ``limit``, ``eval_limit``, ``dedup``, ``save_model``, ``cache_dir`` (the default
    cache), ``text_column`` and ``eval`` (found in the data), ``preset``, ``init_size`` (the
    budget's share). It is a LoopConfig: ``dataclasses.replace``, ``to_dict`` and
    ``from_options`` treat it as one, and ``config.json`` records it field for field.
    """

    budget: float | int | str
    init: str
    keep_init: bool
    rounds: int
    learner: str
    warm_start: str
    model: str
    epochs: int
    patience: int
    min_steps: int
    batch_size: int
    lr: float
    head_lr: float
    max_length: int


def _check_strategy_options(config: ResolvedConfig) -> None:
    """Every strategy option must be taken by the initial-pool strategy or (with rounds) the
    acquisition strategy, and each that takes it must accept its value: building them checks."""
    from ..strategies import resolve_strategy_class

    names = list(dict.fromkeys([config.init] + ([config.acq] if config.acq is not None else [])))
    taken = {name: resolve_strategy_class(name).parameter_names() for name in names}
    if config.dedup is not None:
        taken["--dedup"] = list(_DEDUP_OPTIONS)
    unknown = sorted(set(config.strategy_options) - set().union(*taken.values()))
    if unknown:
        takes = "; ".join(f"{name} takes: {', '.join(sorted(params)) or 'none'}" for name, params in taken.items())
        raise ConfigError(f"unknown strategy option {', '.join(map(repr, unknown))} ({takes})")
    for name in names:
        build_strategy(name, config)


def _check_learner_options(learner_options: dict, learners) -> None:
    """Every learner option must be taken by one of the run's learners, and each that takes it
    must accept its value (:meth:`~alsel.loops.learning.LearnerFactory.check_options`)."""
    run_options = (*options("training"), "device")
    taken = {factory.spec: factory.option_names(run_options) for factory in learners}
    unknown = sorted(set(learner_options) - set().union(*taken.values()))
    if unknown:
        takes = "; ".join(f"{spec} takes: {', '.join(names) or 'none'}" for spec, names in taken.items())
        raise ConfigError(f"unknown learner option {', '.join(map(repr, unknown))} ({takes})")
    for factory in learners:
        factory.check_options({k: v for k, v in learner_options.items() if k in taken[factory.spec]})


def _check_can_save(learner, directory: str, model: str) -> None:
    """Refuse --save-model before any training: a final learner without ``save``, or a path that
    saving would clobber (a file, or a folder of other things)."""
    from ..io import check_replaceable
    from ..models import MODEL_CONFIG_FILE, resolve_model

    if not learner.saves:
        raise ConfigError(f"--save-model: the final learner {learner.spec} cannot save its model (it has no save(directory, label_names))")
    source, target = Path(resolve_model(model)).resolve(), Path(directory).resolve()
    if Path(resolve_model(model)).is_dir() and (target == source or source in target.parents or target in source.parents):
        raise ConfigError(f"--save-model {directory}: that is where --model {model} is loaded from; pass another directory")
    check_replaceable(directory, marker=MODEL_CONFIG_FILE)


def _check_warm_start(config: ResolvedConfig, round_learner, final_learner) -> None:
    """Refuse a warm start before any work where it cannot happen: no round to continue from,
    a learner that cannot continue from (or save) a model, a final learner of another kind."""
    mode = config.warm_start
    if mode == "none":
        return
    if config.rounds == 0:
        raise ConfigError(
            f"--warm-start {mode} continues a round from the previous round's model, and --rounds is 0; pass --rounds N (N >= 1) or --warm-start none"
        )
    if mode == "rounds" and config.rounds == 1:
        raise ConfigError(
            "--warm-start rounds continues rounds 1 to R-1 and trains the final round fresh: with --rounds 1 nothing would; pass --warm-start all or --rounds N (N >= 2)"
        )
    if not round_learner.warm_starts:
        raise ConfigError(
            f"--warm-start {mode}: --learner {round_learner.spec} cannot continue from a saved model (its fit takes no warm_from); pass --warm-start none"
        )
    if not round_learner.saves:
        raise ConfigError(
            f"--warm-start {mode}: --learner {round_learner.spec} cannot save its model for the next round (it has no save(directory, label_names))"
        )
    if mode == "all" and final_learner.spec != round_learner.spec:
        raise ConfigError(
            f"--warm-start all continues the final model from the rounds' {round_learner.spec} model, which --final-learner {final_learner.spec} cannot; pass --warm-start rounds"
        )


def _check_learner_serves(learner, acq: str, needs: frozenset, scorer: str) -> None:
    """Refuse an acquisition function whose inputs the round learner (or ``scorer``) cannot give."""
    if "dynamics" in needs and scorer != "model":
        raise ConfigError(f"{acq} records training dynamics of the loop's model; use --scorer model")
    if "dynamics" in needs and not learner.records_dynamics:
        raise ConfigError(f"{acq} needs training dynamics, which --learner {learner.spec} does not record (its fit takes no on_epoch_end)")
    if "features" in needs and scorer == "model" and not learner.gives_features:
        raise ConfigError(
            f"{acq} needs model features, which --learner {learner.spec} does not give (its predict_proba takes no return_features)"
        )


#: What each group of options decides: the data a run sees, how it selects, which learners it
#: trains, how they are trained, and where and how it runs (nothing that changes the subset).
OPTION_GROUPS = ("data", "selection", "learner", "training", "run")


@functools.cache
def options(group: str | None = None, *, paths: bool = False) -> tuple[str, ...]:
    """Names of the :class:`LoopConfig` options in ``group`` (every group if None), in
    declaration order; with ``paths``, only those naming a file or folder."""
    if group is not None and group not in OPTION_GROUPS:
        raise ValueError(f"unknown option group {group!r}")
    return tuple(
        f.name
        for f in fields(LoopConfig)
        if (group is None or f.metadata["group"] == group) and (not paths or f.metadata.get("path", False))
    )


@functools.cache
def option_constraints() -> dict[str, tuple]:
    """What each :class:`LoopConfig` option accepts (alternatives for :func:`alsel.params.check`),
    from its annotation and its metadata's ``range`` (numbers) or ``choices`` (strings)."""
    hints = typing.get_type_hints(LoopConfig)
    return {f.name: _field_constraints(hints[f.name], f.metadata) for f in fields(LoopConfig)}


def _field_constraints(annotation, metadata) -> tuple:
    members = typing.get_args(annotation) or (annotation,)
    number_range = metadata.get("range", Range())
    nullable = (None,) if type(None) in members else ()
    if str in members and {int, float} & set(members):
        # A size: a number that may be spelled as a string and is kept as written (see parse_size).
        return (Numeric(number_range),) + nullable
    by_type = {
        bool: Flag(),
        int: Integer(number_range),
        float: Real(number_range),
        str: Choice(metadata["choices"]) if "choices" in metadata else Text(),
        dict: Mapping(),
    }
    return tuple(by_type[m] for m in members if m is not type(None)) + nullable


#: Strategy options ``--dedup`` takes too (its search: all pairs or approximate).
_DEDUP_OPTIONS = ("approximate",)


def build_strategy(name: str, config: LoopConfig) -> Strategy:
    """The strategy ``name`` with the config's strategy options it takes, and the class-balance
    and de-duplication wrappers the config asks for."""
    from ..strategies import get_strategy, resolve_strategy_class

    taken = resolve_strategy_class(name).parameter_names()
    strategy = get_strategy(name, **{k: v for k, v in config.strategy_options.items() if k in taken})
    if config.dedup is not None or config.balance:
        from ..strategies.base import check_params
        from ..strategies.compose import Balanced, Deduplicated

        if config.dedup is not None:
            dedup_options = {k: v for k, v in config.strategy_options.items() if k in _DEDUP_OPTIONS}
            strategy = Deduplicated(
                strategy, threshold=config.dedup, **check_params("--dedup", Deduplicated._parameter_constraints, dedup_options)
            )
        if config.balance:
            strategy = Balanced(strategy)
    return strategy


def parse_scorer(spec: str) -> tuple[str, int | None]:
    """``model`` | ``probe`` | ``cv:K`` -> (kind, K)."""
    kind, _, folds = str(spec).partition(":")
    if kind in ("model", "probe") and not folds:
        return kind, None
    if kind == "cv":
        try:
            k = int(folds)
        except ValueError:
            k = 0
        if k >= 2:
            return kind, k
    raise ConfigError(f"unknown --scorer {spec!r}: use model, probe or cv:K with K >= 2")


# A budget in labels per class (PER_CLASS, "20/class") selects 20 × the number of classes in all
# (balanced only with --balance): the scale on which budgets compare across tasks.
#: How a run directory's name spells ``PER_CLASS`` (no slash in a file name).
_PER_CLASS_LABEL = "-per-class"


def parse_budget(value, what: str = "budget") -> float | int | str:
    """A budget as a fraction of the pool (float in (0, 1]), a count (int >= 1), or labels per
    class (``"N/class"``, kept as that string; :func:`parse_size` multiplies it out).

    A string with a decimal point or exponent is a fraction, one without a count; the one parser
    of budgets and pool sizes (:func:`parse_size`, studies' budget axes).

    >>> parse_budget("0.1"), parse_budget(500), parse_budget("1.0"), parse_budget(" 20/class")
    (0.1, 500, 1.0, '20/class')
    """
    if isinstance(value, bool):
        raise ConfigError(f"{what} {value!r}: use a fraction like 0.1, a count like 1000 or labels per class like 20/class")
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(PER_CLASS):
            count = text[: -len(PER_CLASS)].strip()
            if not count.isdigit() or int(count) < 1:
                raise ConfigError(f"{what} {text!r}: labels per class must be a whole number of at least 1, like 20/class")
            return f"{int(count)}{PER_CLASS}"
        try:
            value = float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            raise ConfigError(f"{what} {text!r}: use a fraction like 0.1, a count like 1000 or labels per class like 20/class") from None
    if isinstance(value, float):
        if not 0 < value <= 1:
            raise ConfigError(f"{what} {value!r}: a fraction must be in (0, 1] (write a count without a decimal point)")
        return value
    if isinstance(value, int):
        if value < 1:
            raise ConfigError(f"{what} {value!r}: a count must be at least 1")
        return value
    raise ConfigError(f"{what} {value!r}: use a fraction like 0.1, a count like 1000 or labels per class like 20/class")


def per_class(budget) -> int | None:
    """The labels per class a budget names (``"20/class"`` -> 20); None for a fraction or count."""
    return int(budget[: -len(PER_CLASS)]) if isinstance(budget, str) and budget.endswith(PER_CLASS) else None


def budget_label(budget: float | int | str) -> str:
    """The budget as written in run directory names: ``0.1`` -> ``"0.1"``, ``1.0`` -> ``"1.0"``,
    ``500`` -> ``"500"`` (a fraction keeps its decimal point, so it never reads as a count),
    ``"20/class"`` -> ``"20-per-class"``; :func:`parse_budget_label` reads it back.

    >>> budget_label(0.1), budget_label(1.0), budget_label(500), budget_label("20/class")
    ('0.1', '1.0', '500', '20-per-class')
    """
    count = per_class(budget)
    if count is not None:
        return f"{count}{_PER_CLASS_LABEL}"
    return repr(float(budget)) if isinstance(budget, float) else str(int(budget))


def parse_budget_label(label: str) -> float | int | str:
    """The budget a run directory name spells (:func:`budget_label`'s inverse)."""
    if label.endswith(_PER_CLASS_LABEL):
        label = label[: -len(_PER_CLASS_LABEL)] + PER_CLASS
    return parse_budget(label)


def budget_order(budget) -> tuple:
    """A sort key for budgets of every kind: fractions and counts by size, then budgets per class."""
    count = per_class(budget)
    return (1, count) if count is not None else (0, float(budget))


def parse_size(value, n_pool: int, what: str, n_classes: int | None = None) -> int:
    """A budget or pool size (:func:`parse_budget`) as a count of examples of an ``n_pool``
    pool of ``n_classes`` classes."""
    size = parse_budget(value, what)
    count = per_class(size)
    if count is not None:
        if n_classes is None:
            raise ConfigError(f"{what} {size}: labels per class need the number of classes, which is not known here")
        return count * n_classes
    assert not isinstance(size, str)
    return max(1, int(round(size * n_pool))) if isinstance(size, float) else size


@dataclass(frozen=True)
class BudgetPlan:
    """How many examples each stage takes. ``round_sizes[r]`` is acquired after round ``r``."""

    budget: int
    init_size: int
    round_sizes: tuple[int, ...]
    keep_init: bool


def plan_budget(config: ResolvedConfig, n_pool: int, n_classes: int) -> BudgetPlan:
    """Turn budget, init size and rounds into counts, rejecting plans that cannot run."""
    budget = parse_size(config.budget, n_pool, "--budget", n_classes)
    if budget > n_pool:
        raise ConfigError(f"--budget {config.budget} asks for {budget:,} examples but the pool holds {n_pool:,}")
    if budget < n_classes:
        raise ConfigError(f"--budget {config.budget} gives {budget} examples, fewer than the {n_classes} classes")
    rounds = config.rounds
    if config.keep_init:
        default_init = math.ceil(budget / (rounds + 1))
        init = parse_size(config.init_size, n_pool, "--init-size", n_classes) if config.init_size is not None else default_init
        if init > budget:
            raise ConfigError(f"--init-size {config.init_size} ({init:,}) is larger than the budget ({budget:,})")
        if rounds == 0 and init != budget:
            raise ConfigError(f"with --rounds 0 the initial pool is the whole budget ({budget:,}), not {init:,}")
        rest = budget - init
    else:
        if rounds == 0:
            raise ConfigError("a seed pool that is not kept (keep_init: false) needs --rounds >= 1")
        init = parse_size(config.init_size, n_pool, "--init-size", n_classes) if config.init_size is not None else budget
        rest = budget
        if init + budget > n_pool:
            raise ConfigError(f"the seed pool ({init:,}) and the budget ({budget:,}) together exceed the pool ({n_pool:,})")
    if rounds and rest < rounds:
        raise ConfigError(f"{rest} examples left after the initial pool cannot be spread over {rounds} rounds")
    sizes = tuple(rest // rounds + (1 if r < rest % rounds else 0) for r in range(rounds)) if rounds else ()
    return BudgetPlan(budget=budget, init_size=init, round_sizes=sizes, keep_init=config.keep_init)
