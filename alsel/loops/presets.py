"""The seed study's five strategies, its upper bound and the recommended loop, as settings of the one
loop controller.

- ``random``: a random initial pool of the whole budget, no rounds.
- ``kmeans``: a KMeans-diversity initial pool of the whole budget, no rounds: alsel's
  recommendation until issue 27's reading (docs/results.md, "Beyond SST-2").
- ``high_conf`` / ``low_conf``: a seed model is trained on a random seed pool of the budget's
  size, which is neither part of the result nor a candidate; one round then acquires the whole
  budget from the rest by highest / lowest p_gold.
- ``hybrid``: half the budget at random (kept), a seed model trained on it, plus the other half
  from the rest by lowest p_gold.
- ``full``: the whole pool (the upper bound).

And two loops with acquisition rounds (docs/results.md):

- ``kmeans_margin``: a KMeans seed pool of a third of the budget, then two rounds that each
  retrain and add a third by smallest margin (the least certain examples); best on SST-2, and
  the recommendation until the cross-task study.
- ``kmeans_margin_proxy``: the same loop at about the cost of one fine-tuning: a logistic
  regression on the cached sentence embeddings scores the rounds, and only the final selection
  is fine-tuned. A preset's learners apply only when neither ``learner`` nor ``final_learner`` is
  given: naming a learner trains it throughout, unless ``final_learner`` is named too.

And, from issue 27, three more to measure:

- ``typiclust``: a TypiClust initial pool of the whole budget, no rounds (Hacohen et al., 2022:
  typical examples suit low budgets).
- ``cluster_margin_proxy`` / ``badge_proxy``: ``kmeans_margin_proxy`` with ``cluster_margin`` /
  ``badge`` acquisition; BADGE's gradient embeddings come from the logistic regression, whose
  features are the sentence embeddings. ``cluster_margin_proxy`` is **alsel's recommendation**
  (:data:`RECOMMENDED`), chosen by :data:`alsel.decision_rule.RULE` from studies on four tasks
  (docs/results.md, "The loop question again").
- ``cluster_margin_warm`` / ``badge_warm``: the same acquisition with the fine-tuner in the
  rounds, round 1 warm-started from round 0's model (``warm_start: rounds``); the final model
  is trained fresh from the pretrained weights, so it compares with a cold loop like for like.

A config that names no preset and shapes no loop of its own (no ``init``, ``acq`` or
``rounds``) runs the recommended loop: :data:`DEFAULTS` (the defaults of
:class:`~alsel.loops.config.LoopConfig`'s selection options and learners) are the options of
the :data:`RECOMMENDED` preset, so a bare ``alsel loop`` follows the evidence. One that names any
of those three fills the rest from :data:`OWN_LOOP_DEFAULTS` instead, a one-shot KMeans pool
with the fine-tuner throughout: ``--init random`` is a random sample, and ``--acq margin
--rounds 2`` fine-tunes in its rounds, whatever the recommendation is.
``configs/presets/<name>.yaml`` holds the same settings (a test keeps the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError

__all__ = [
    "Preset",
    "PRESETS",
    "RECOMMENDED",
    "BASELINE",
    "DEFAULTS",
    "OWN_LOOP_DEFAULTS",
    "LOOP_SHAPE",
    "LEARNER_DEFAULTS",
    "check_fixed",
    "preset_options",
]


@dataclass(frozen=True)
class Preset:
    """The loop options a preset sets, and one line saying what it trains on; ``fixed`` names
    those that define it, which no other value may replace (``full`` with a budget of 10% would
    be a random 10%, not the whole pool)."""

    options: dict = field(default_factory=dict)
    description: str = ""
    fixed: tuple[str, ...] = ()


PRESETS: dict[str, Preset] = {
    "random": Preset({"init": "random", "rounds": 0, "acq": None}, "a random sample of the budget"),
    "kmeans": Preset({"init": "kmeans", "rounds": 0, "acq": None}, "KMeans diversity on sentence embeddings, the whole budget at once"),
    "high_conf": Preset(
        {"init": "random", "keep_init": False, "rounds": 1, "acq": "high_conf"},
        "a seed model on a random seed pool (not kept) picks the highest p_gold",
    ),
    "low_conf": Preset(
        {"init": "random", "keep_init": False, "rounds": 1, "acq": "low_conf"},
        "a seed model on a random seed pool (not kept) picks the lowest p_gold",
    ),
    "hybrid": Preset(
        {"init": "random", "rounds": 1, "acq": "low_conf"}, "half at random, half by the lowest p_gold of a model trained on it"
    ),
    "full": Preset({"init": "random", "rounds": 0, "acq": None, "budget": 1.0}, "the whole pool (the upper bound)", fixed=("budget",)),
    "kmeans_margin": Preset(
        {"init": "kmeans", "rounds": 2, "acq": "margin"},
        "a KMeans third, then two rounds adding a third by smallest margin",
    ),
    "kmeans_margin_proxy": Preset(
        {"init": "kmeans", "rounds": 2, "acq": "margin", "learner": "logreg", "final_learner": "transformer"},
        "kmeans_margin whose rounds are scored by logistic regression on the embeddings; only the final model is fine-tuned",
    ),
    "typiclust": Preset(
        {"init": "typiclust", "rounds": 0, "acq": None},
        "TypiClust: the most typical example of each of the largest KMeans clusters of the embeddings, the whole budget at once",
    ),
    "cluster_margin_proxy": Preset(
        {"init": "kmeans", "rounds": 2, "acq": "cluster_margin", "learner": "logreg", "final_learner": "transformer"},
        "a KMeans third, then two rounds adding a third by cluster_margin (lowest margins, clustered) of a logistic regression "
        "on the embeddings; only the final model is fine-tuned",
    ),
    "badge_proxy": Preset(
        {"init": "kmeans", "rounds": 2, "acq": "badge", "learner": "logreg", "final_learner": "transformer"},
        "a KMeans third, then two rounds adding a third by BADGE on a logistic regression's gradient embeddings; "
        "only the final model is fine-tuned",
    ),
    "cluster_margin_warm": Preset(
        {"init": "kmeans", "rounds": 2, "acq": "cluster_margin", "warm_start": "rounds"},
        "a KMeans third, then two rounds adding a third by cluster_margin; round 1 continues round 0's model, the final model trains fresh",
    ),
    "badge_warm": Preset(
        {"init": "kmeans", "rounds": 2, "acq": "badge", "warm_start": "rounds"},
        "a KMeans third, then two rounds adding a third by BADGE; round 1 continues round 0's model, the final model trains fresh",
    ),
}

#: The loop the evidence recommends (docs/results.md); what a config without a preset runs.
RECOMMENDED = "cluster_margin_proxy"
#: The preset every other is compared with in studies and reports.
BASELINE = "random"


#: The learner pair of a config whose preset sets none, or that names a learner itself (then
#: ``--learner X`` trains X in the rounds and, unless ``final_learner`` is named, on the result).
LEARNER_DEFAULTS: dict = {"learner": "transformer", "final_learner": None}
#: The options that shape a loop: a config naming one of them (and no preset) builds its own.
LOOP_SHAPE = ("init", "acq", "rounds")
#: What a preset, or a config that builds its own loop, leaves unset: a one-shot KMeans pool of
#: 10%, the fine-tuner throughout.
OWN_LOOP_DEFAULTS: dict = {
    "budget": 0.1,
    "keep_init": True,
    "warm_start": "none",
    "init": "kmeans",
    "rounds": 0,
    "acq": None,
    **LEARNER_DEFAULTS,
}
#: The options of a config that leaves them unset and shapes no loop: the recommended preset's,
#: and the budget, keep_init, warm start and learners that it does not set.
DEFAULTS: dict = {**OWN_LOOP_DEFAULTS, **PRESETS[RECOMMENDED].options}


def check_fixed(name: str | None, values: dict) -> None:
    """Refuse ``values`` (options as given, ``None``: unset) that replace an option preset
    ``name`` is defined by."""
    preset = PRESETS.get(name) if name else None
    if preset is None:
        return
    for option in preset.fixed:
        if values.get(option) is not None and values[option] != preset.options[option]:
            flag = "--" + option.replace("_", "-")
            raise ConfigError(
                f"--preset {name} takes no {flag}: it sets {option} {preset.options[option]}, {preset.description}; got {values[option]}"
            )


def preset_options(name: str) -> dict:
    """The options preset ``name`` sets; unknown names raise :class:`ConfigError`."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return dict(PRESETS[name].options)
