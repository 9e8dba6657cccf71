from pathlib import Path

import pytest
import yaml

from alsel.errors import ConfigError
from alsel.loops.config import LoopConfig, parse_size, plan_budget
from alsel.loops.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]


def plan(**options):
    config = LoopConfig.from_options(**options)
    return plan_budget(config, options.pop("n_pool", 10_000), 2)


def test_sizes_are_fractions_or_counts():
    assert parse_size(0.1, 67_349, "b") == 6735
    assert parse_size("0.1", 1000, "b") == 100
    assert parse_size("250", 1000, "b") == 250 and parse_size(250, 1000, "b") == 250
    assert parse_size(1.0, 1000, "b") == 1000
    for bad in ("0", "-3", "1.5", "abc", "2.5e3"):
        with pytest.raises(ConfigError):
            parse_size(bad, 1000, "--budget")


def test_budgets_in_labels_per_class_multiply_by_the_classes():
    assert parse_size("20/class", 10_000, "b", n_classes=77) == 1540
    assert parse_size(" 3 /class", 100, "b", n_classes=2) == 6
    p = plan(budget="20/class", rounds=2)  # a two-class pool: 40 examples, a third per stage
    assert (p.budget, p.init_size, p.round_sizes) == (40, 14, (13, 13))
    assert LoopConfig.from_options(budget="20/class").budget == "20/class"  # kept as written, like "1000"
    with pytest.raises(ConfigError, match="number of classes"):
        parse_size("20/class", 1000, "--budget")
    for bad in ("0/class", "2.5/class", "x/class", "/class"):
        with pytest.raises(ConfigError, match="budget"):
            plan(budget=bad)


def test_default_plan_splits_the_budget_over_init_and_rounds():
    p = plan(budget=0.1, rounds=2)
    assert (p.budget, p.init_size, p.round_sizes, p.keep_init) == (1000, 334, (333, 333), True)
    p = plan(budget=1000, rounds=3, init_size=100)
    assert p.round_sizes == (300, 300, 300)


def test_the_study_presets_plan_as_described():
    assert plan(preset="random").round_sizes == () and plan(preset="random").init_size == 1000
    high = plan(preset="high_conf")
    assert (high.init_size, high.round_sizes, high.keep_init) == (1000, (1000,), False)
    hybrid = plan(preset="hybrid")
    assert (hybrid.init_size, hybrid.round_sizes) == (500, (500,))
    assert plan(preset="full").budget == 10_000
    recommended = plan(preset="kmeans_margin")
    assert (recommended.init_size, recommended.round_sizes, recommended.keep_init) == (334, (333, 333), True)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"budget": 20_000}, "pool holds"),
        ({"budget": 1}, "fewer than the 2 classes"),
        ({"budget": 100, "init_size": 200}, "larger than the budget"),
        ({"budget": 100, "rounds": 0, "init_size": 50}, "whole budget"),
        ({"budget": 0.6, "preset": "low_conf"}, "exceed the pool"),
        ({"budget": 10, "rounds": 20, "init_size": 5}, "cannot be spread"),
    ],
)
def test_impossible_plans_are_rejected(options, message):
    with pytest.raises(ConfigError, match=message):
        plan(**options)


def test_precedence_defaults_preset_file_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("preset: hybrid\nbudget: 0.2\nseed: 3\n")
    config = LoopConfig.from_options(config_file=path, seed=7)
    assert (config.preset, config.acq, config.rounds, config.budget, config.seed) == ("hybrid", "low_conf", 1, 0.2, 7)
    with pytest.raises(ConfigError, match="unknown option"):
        LoopConfig.from_options(budgets=3)
    path.write_text("[1, 2")
    with pytest.raises(ConfigError, match="not valid YAML"):
        LoopConfig.from_options(config_file=path)


def test_resolution_fills_model_defaults_and_checks_names():
    from alsel.models import TRAINING_DEFAULTS

    config = LoopConfig.from_options(model="minilm").resolved()
    defaults = TRAINING_DEFAULTS["minilm"]
    assert (config.epochs, config.patience, config.lr, config.head_lr) == (
        defaults["epochs"],
        defaults["patience"],
        defaults["lr"],
        defaults["head_lr"],
    )
    assert LoopConfig.from_options(model="minilm", lr=1e-5, patience=7).resolved().lr == 1e-5  # an explicit value wins
    assert LoopConfig.from_options(model="modernbert-base").resolved().lr == 8e-5
    with pytest.raises(ConfigError, match="unknown --acq"):
        LoopConfig.from_options(acq="nope").resolved()
    with pytest.raises(ConfigError, match="unknown --scorer"):
        LoopConfig.from_options(scorer="cv:1").resolved()
    with pytest.raises(ConfigError, match="unknown model"):
        LoopConfig.from_options(model="bogus").resolved()


@pytest.mark.parametrize("preset", [None, *PRESETS])
def test_a_resolved_config_fills_every_option_it_declares_and_records_as_a_loop_config(preset, tmp_path):
    import dataclasses
    import typing

    from alsel.io import write_json
    from alsel.loops.config import ResolvedConfig

    config = LoopConfig.from_options(preset=preset, model="minilm")
    resolved = config.resolved()
    assert type(resolved) is ResolvedConfig and isinstance(resolved, LoopConfig)
    narrowed = [name for name in ResolvedConfig.__annotations__ if name in {f.name for f in dataclasses.fields(LoopConfig)}]
    assert narrowed and all(getattr(resolved, name) is not None for name in narrowed)
    for name in narrowed:  # the type says what resolving promises: no longer optional
        assert type(None) in typing.get_args(typing.get_type_hints(LoopConfig)[name])
        assert type(None) not in typing.get_args(typing.get_type_hints(ResolvedConfig)[name])
    assert list(resolved.to_dict()) == list(config.to_dict())  # config.json: the same keys in the same order
    assert resolved.resolved() == resolved and dataclasses.replace(resolved, seed=3).seed == 3
    write_json(tmp_path / "config.json", resolved.to_dict())
    assert LoopConfig.from_options(config_file=tmp_path / "config.json").resolved() == resolved  # a replay


def test_a_strategy_that_reads_training_dynamics_needs_the_model_scorer_before_any_work():
    with pytest.raises(ConfigError, match="ambiguous records training dynamics of the loop's model; use --scorer model"):
        LoopConfig.from_options(init="random", acq="ambiguous", rounds=1, scorer="probe", model="minilm").resolved()


def test_preset_yaml_files_equal_the_presets():
    files = sorted((ROOT / "configs" / "presets").glob("*.yaml"))
    assert {f.stem for f in files} == set(PRESETS)
    for f in files:
        loaded = yaml.safe_load(f.read_text())
        assert loaded == {"preset": f.stem, **PRESETS[f.stem].options}


def test_the_proxy_preset_is_the_grids_loop_and_its_learners_yield_to_a_named_one():
    import dataclasses

    proxy = LoopConfig(preset="kmeans_margin_proxy")
    # configs/*-study-cpu.yaml spell it as kmeans_margin with two learners (docs/results.md)
    spelled = LoopConfig.from_options(preset="kmeans_margin", learner="logreg", final_learner="transformer")
    assert dataclasses.replace(proxy, preset=None) == dataclasses.replace(spelled, preset=None)
    assert (proxy.learner, proxy.final_learner, proxy.acq, proxy.rounds) == ("logreg", "transformer", "margin", 2)
    # a learner named explicitly replaces the preset's pair, on its own or with a final learner
    own = LoopConfig(preset="kmeans_margin_proxy", learner="pkg.mod:Cls")
    assert (own.learner, own.final_learner, own.acq) == ("pkg.mod:Cls", None, "margin")
    final_only = LoopConfig.from_options(preset="kmeans_margin_proxy", final_learner="pkg.mod:Cls")
    assert (final_only.learner, final_only.final_learner) == ("transformer", "pkg.mod:Cls")
    shaped = LoopConfig(init="kmeans", acq="margin", rounds=2)  # a loop of one's own: the fine-tuner throughout
    assert (shaped.learner, shaped.final_learner) == ("transformer", None)
    assert dataclasses.replace(proxy) == proxy  # filling again changes nothing
