"""Options of one loop run, their defaults, and the budget plan derived from them."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..errors import ConfigError
from ..io import read_yaml_mapping
from .presets import preset_options

__all__ = ["LoopConfig", "BudgetPlan", "parse_size", "plan_budget"]


@dataclass
class LoopConfig:
    """Every option of ``alsel loop``. ``None`` means "the default for this model/data".

    Precedence when building one: defaults < preset < config file < explicit overrides.
    """

    # data
    dataset: str = field(default="sst2", metadata={"help": "sst2 (bundled), a CSV/TSV/JSONL/parquet file, or hf:NAME[:CONFIG]"})
    text_column: str | None = field(default=None, metadata={"help": "text column (default: text or sentence)"})
    label_column: str = field(default="label", metadata={"help": "label column"})
    eval: str | None = field(default=None, metadata={"help": "evaluation file, split name, or a fraction of the pool to hold out"})
    limit: int | None = field(default=None, metadata={"help": "use a seeded, stratified sample of N pool examples"})
    eval_limit: int | None = field(default=None, metadata={"help": "use a stratified sample of N evaluation examples"})
    data_seed: int = field(default=0, metadata={"help": "seed of --limit/--eval-limit samples (kept apart from --seed)"})
    # selection
    preset: str | None = field(default=None, metadata={"help": "one of the study's strategies: random, high_conf, low_conf, kmeans, hybrid, full"})
    budget: float | int | str = field(default=0.1, metadata={"help": "examples to select: a fraction of the pool (0.1) or a count (1000)"})
    init: str = field(default="kmeans", metadata={"help": "strategy choosing the initial pool"})
    init_size: float | int | str | None = field(default=None, metadata={"help": "initial pool: fraction or count (default budget/(rounds+1))"})
    keep_init: bool = field(default=True, metadata={"help": "the initial pool is part of the result (false: a seed pool only for the first model)"})
    acq: str | None = field(default="low_conf", metadata={"help": "acquisition function of each round"})
    rounds: int = field(default=2, metadata={"help": "acquisition rounds after the initial pool"})
    scorer: str = field(default="model", metadata={"help": "model, cv:K (out-of-fold) or probe (logistic regression on embeddings)"})
    balance: bool = field(default=False, metadata={"help": "per-class quotas proportional to the pool's class shares"})
    dedup: float | None = field(default=None, metadata={"help": "drop candidates with embedding cosine >= this to another candidate or a selected example"})
    strategy_options: dict = field(default_factory=dict, metadata={"help": "options passed to every strategy that takes them (projection_dim, region, ...)"})
    embedder: str = field(default="minilm", metadata={"help": "sentence-transformers model for embeddings"})
    # learner
    model: str | None = field(default=None, metadata={"help": "minilm, modernbert-base, a local directory or a hub id (default: modernbert-base with CUDA, else minilm)"})
    epochs: int | None = field(default=None, metadata={"help": "training epochs (default per model)"})
    min_steps: int | None = field(default=None, metadata={"help": "train for at least this many optimizer steps (more epochs on small sets; default 200)"})
    batch_size: int | None = field(default=None, metadata={"help": "training batch size (default per model)"})
    lr: float | None = field(default=None, metadata={"help": "peak learning rate (default per model)"})
    max_length: int | None = field(default=None, metadata={"help": "max tokens per text (default per model)"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "fraction of steps with linear warm-up"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    precision: str = field(default="auto", metadata={"help": "auto (bf16 where supported), bf16 or fp32"})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda, cuda:1, ..."})
    seed: int = field(default=0, metadata={"help": "seed of selection and fine-tuning (same seed -> same subset)"})
    trust_remote_code: bool = field(default=False, metadata={"help": "allow model code from the hub (off by default)"})
    cache_dir: str | None = field(default=None, metadata={"help": "embedding and score cache (default ~/.cache/alsel or $ALSEL_CACHE)"})
    # output
    save_model: str | None = field(default=None, metadata={"help": "save the final model, tokenizer and label names here (loadable with from_pretrained / pipeline())"})

    # ------------------------------------------------------------------ building
    @classmethod
    def from_options(cls, *, preset: str | None = None, config_file: str | Path | None = None, **overrides) -> "LoopConfig":
        """Merge defaults < preset < config file < ``overrides`` (``None`` overrides are ignored)."""
        options: dict = {}
        file_options = read_yaml_mapping(config_file) if config_file else {}
        preset = overrides.get("preset") or preset or file_options.get("preset")
        if preset:
            options.update(preset_options(preset))
            options["preset"] = preset
        options.update(file_options)
        options.update({k: v for k, v in overrides.items() if v is not None})
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise ConfigError(f"unknown option {', '.join(unknown)}")
        return cls(**options)

    def resolved(self) -> "LoopConfig":
        """A copy with the model and its training defaults filled in, and names checked."""
        from ..learner import default_model, resolve_model, training_defaults
        from ..strategies import STRATEGIES

        model = self.model or default_model()
        resolve_model(model)  # raises on an unknown alias
        filled = {k: v if getattr(self, k) is None else getattr(self, k) for k, v in training_defaults(model).items()}
        config = dataclasses.replace(self, model=model, **filled)
        for option, name in (("--init", config.init), ("--acq", config.acq)):
            if name is not None and name not in STRATEGIES:
                raise ConfigError(f"unknown {option} strategy {name!r}; choose one of: {', '.join(sorted(STRATEGIES))}")
        if STRATEGIES[config.init].needs - {"embeddings"}:
            raise ConfigError(f"{config.init} needs model scores, so it cannot choose the initial pool; use it as --acq")
        if config.rounds < 0:
            raise ConfigError(f"--rounds must be >= 0, got {config.rounds}")
        if config.rounds > 0 and config.acq is None:
            raise ConfigError("--rounds > 0 needs an acquisition function (--acq)")
        if config.epochs <= 0 or config.batch_size <= 0 or config.lr <= 0 or config.min_steps < 0:
            raise ConfigError("--epochs, --batch-size and --lr must be positive, --min-steps at least 0")
        if config.dedup is not None and not 0 < config.dedup <= 1:
            raise ConfigError(f"--dedup takes a cosine similarity in (0, 1], got {config.dedup}")
        parse_scorer(config.scorer)
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


def parse_size(value, n_pool: int, what: str) -> int:
    """A fraction of the pool (a float in (0, 1], e.g. ``0.1`` or ``"0.1"``) or a count
    (an int, e.g. ``1000``) -> a count."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        raise ConfigError(f"{what} must be a fraction like 0.1 or a count like 1000, got {value!r}") from None
    is_fraction = isinstance(value, float) or any(c in text for c in ".eE")
    if number <= 0:
        raise ConfigError(f"{what} must be positive, got {value!r}")
    if is_fraction:
        if number > 1:
            raise ConfigError(f"{what} {value!r}: a fraction must be at most 1 (write a count without a decimal point)")
        return max(1, int(round(number * n_pool)))
    if number != int(number):
        raise ConfigError(f"{what} must be a whole count, got {value!r}")
    return int(number)


@dataclass(frozen=True)
class BudgetPlan:
    """How many examples each stage takes. ``round_sizes[r]`` is acquired after round ``r``."""

    budget: int
    init_size: int
    round_sizes: tuple[int, ...]
    keep_init: bool


def plan_budget(config: LoopConfig, n_pool: int, n_classes: int) -> BudgetPlan:
    """Turn budget, init size and rounds into counts, rejecting plans that cannot run."""
    budget = parse_size(config.budget, n_pool, "--budget")
    if budget > n_pool:
        raise ConfigError(f"--budget {config.budget} asks for {budget:,} examples but the pool holds {n_pool:,}")
    if budget < n_classes:
        raise ConfigError(f"--budget {config.budget} gives {budget} examples, fewer than the {n_classes} classes")
    rounds = config.rounds
    if config.keep_init:
        default_init = math.ceil(budget / (rounds + 1))
        init = parse_size(config.init_size, n_pool, "--init-size") if config.init_size is not None else default_init
        if init > budget:
            raise ConfigError(f"--init-size {config.init_size} ({init:,}) is larger than the budget ({budget:,})")
        if rounds == 0 and init != budget:
            raise ConfigError(f"with --rounds 0 the initial pool is the whole budget ({budget:,}), not {init:,}")
        rest = budget - init
    else:
        if rounds == 0:
            raise ConfigError("a seed pool that is not kept (keep_init: false) needs --rounds >= 1")
        init = parse_size(config.init_size, n_pool, "--init-size") if config.init_size is not None else budget
        rest = budget
        if init + budget > n_pool:
            raise ConfigError(f"the seed pool ({init:,}) and the budget ({budget:,}) together exceed the pool ({n_pool:,})")
    if rounds and rest < rounds:
        raise ConfigError(f"{rest} examples left after the initial pool cannot be spread over {rounds} rounds")
    sizes = tuple(rest // rounds + (1 if r < rest % rounds else 0) for r in range(rounds)) if rounds else ()
    return BudgetPlan(budget=budget, init_size=init, round_sizes=sizes, keep_init=config.keep_init)
