"""Bad options fail in one line with exit status 2 before any work (issue 9 items 2, 6, 7), and
each option is declared once (issue 10 part 6; strategy parameters: tests/strategies/test_protocol.py)."""

from __future__ import annotations

import pytest

from alsel.errors import ConfigError
from alsel.loops.config import LoopConfig
from conftest import run_cli


@pytest.fixture
def no_work(monkeypatch, tmp_path):
    """Loading data, embedding or training raises: a check that passes these is too late."""

    def started(*args, **kwargs):
        raise AssertionError("work started before the options were checked")

    monkeypatch.setattr("alsel.loops.controller.load_data", started)
    monkeypatch.setattr("alsel.embed.Embedder.embed", started)
    monkeypatch.setattr("alsel.learners.transformer.TransformerLearner.fit", started)
    monkeypatch.chdir(tmp_path)


def fails_in_one_line(capsys, argv, message, out_dir):
    code, out, err = run_cli(capsys, *([*argv, "--out", out_dir] if argv[0] == "loop" else argv))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert "Traceback" not in out + err
    assert not out_dir.exists()


# ------------------------------------------------------------------ option values from YAML
@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ('rounds: "two"', "rounds must be an integer >= 0 or None, got 'two'"),
        ("rounds: 1.5", "rounds must be an integer >= 0 or None, got 1.5"),
        ("rounds: -1", "rounds must be an integer >= 0 or None, got -1"),
        ('epochs: "1"', "epochs must be an integer >= 1"),
        ("epochs: 0", "epochs must be an integer >= 1"),
        ('limit: "300"', "limit must be an integer >= 1"),
        ("seed: 1.5", "seed must be an integer in [0, 4294967295], got 1.5"),
        ("seed: true", "seed must be an integer in [0, 4294967295], got True"),
        ("seed: 4294967296", "seed must be an integer in [0, 4294967295], got 4294967296"),  # scikit-learn's range ends below
        ("seed: 18446744073709551616", "seed must be an integer in [0, 4294967295]"),
        ("data_seed: -2", "data_seed must be an integer in [0, 4294967295]"),
        ("patience: 0", "patience must be an integer >= 1"),
        ("head_lr: 0", "head_lr must be a number > 0"),
        ("validation_fraction: 0.5", "validation_fraction must be a number in [0, 0.5)"),
        ("learner_options: 5", "learner_options must be a mapping of option names to values, got 5"),
        ("strategy_options: 5", "strategy_options must be a mapping of option names to values, got 5"),
        ("strategy_options: {1: 2}", "strategy_options must be a mapping"),
        ("init: [random]", "init must be a string or None, got ['random']"),
        ("model: {name: minilm}", "model must be a string"),
        ('keep_init: "yes"', "keep_init must be true or false or None, got 'yes'"),
        ("balance: 1", "balance must be true or false, got 1"),
        ('lr: "abc"', "lr must be a number > 0"),
        ("lr: 0", "lr must be a number > 0"),
        ("max_length: 0", "max_length must be an integer >= 1"),
        ("warmup_ratio: -1", "warmup_ratio must be a number in [0, 1)"),
        ("warmup_ratio: 1", "warmup_ratio must be a number in [0, 1)"),
        ("weight_decay: -0.1", "weight_decay must be a number >= 0"),
        ("batch_size: 0", "batch_size must be an integer >= 1"),
        ("min_steps: -1", "min_steps must be an integer >= 0"),
        ("eval_limit: 0", "eval_limit must be an integer >= 1"),
        ("dedup: 0", "dedup must be a number in (0, 1]"),
        ("dedup: 1.5", "dedup must be a number in (0, 1]"),
        ("budget: abc", "budget must be a number > 0 (or N/class) or None, got 'abc'"),
        ("budget: [0.1]", "budget must be a number > 0"),
        ("init_size: -5", "init_size must be a number > 0"),
        ("precision: fp16", "precision must be one of auto, bf16, fp32, got 'fp16'"),
    ],
)
def test_wrong_type_or_range_in_a_config_file(capsys, tmp_path, no_work, yaml_text, message):
    config = tmp_path / "c.yaml"
    config.write_text(yaml_text + "\n")
    fails_in_one_line(capsys, ["loop", "--config", str(config)], message, tmp_path / "run")


def test_wrong_type_as_a_keyword_override():
    with pytest.raises(ConfigError, match="rounds must be an integer >= 0 or None, got 'two'"):
        LoopConfig.from_options(rounds="two")
    with pytest.raises(ConfigError, match="strategy_options must be a mapping"):
        LoopConfig.from_options(strategy_options=[("projection_dim", 8)])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--max-length", "0"], "Invalid value for '--max-length'"),
        (["--warmup-ratio", "-1"], "Invalid value for '--warmup-ratio'"),
        (["--rounds", "-1"], "Invalid value for '--rounds'"),
        (["--lr", "0"], "Invalid value for '--lr'"),
        (["--dedup", "1.5"], "Invalid value for '--dedup'"),
        (["--precision", "fp16"], "Invalid value for '--precision'"),
        (["--budget", "abc"], "budget must be a number > 0 (or N/class) or None, got 'abc'"),
    ],
)
def test_out_of_range_flags(capsys, tmp_path, no_work, argv, message):
    fails_in_one_line(capsys, ["loop", *argv], message, tmp_path / "run")


def test_valid_values_are_accepted_and_converted(tmp_path):
    config = tmp_path / "c.yaml"
    # YAML 1.1 reads 5e-5 (no dot) as a string; 2.0 is a whole number; budget keeps its spelling.
    config.write_text(
        "lr: 5e-5\nrounds: 2.0\nacq: margin\nbudget: '0.1'\nwarmup_ratio: 0\neval: 0.2\nstrategy_options: {projection_dim: null}\n"
    )
    loaded = LoopConfig.from_options(config_file=config)
    assert (loaded.lr, loaded.rounds, loaded.budget, loaded.warmup_ratio, loaded.eval) == (5e-5, 2, "0.1", 0.0, 0.2)
    assert isinstance(loaded.rounds, int) and isinstance(loaded.warmup_ratio, float)
    resolved = loaded.resolved()
    assert resolved.strategy_options == {"projection_dim": None} and resolved.lr == 5e-5
    assert LoopConfig.from_options(budget=1000, init_size=0.5, rounds=2, acq="margin", dedup=1, device="cpu").resolved().dedup == 1.0


def test_valid_flags_reach_the_loop(capsys, tmp_path, monkeypatch):
    seen = {}

    def fake_run_loop(config, out_dir, progress=None):
        seen["config"] = config
        return {"accuracy": 0.9, "f1": 0.9, "n_eval": 10, "n_train": 5, "majority_accuracy": 0.5}

    monkeypatch.setattr("alsel.run.run_loop", fake_run_loop)
    argv = [
        "loop",
        "--budget",
        "0.1",
        "--projection-dim",
        "0",
        "--strategy-option",
        "n_iter=5",
        "--warmup-ratio",
        "0",
        "--device",
        "cpu",
        "--precision",
        "fp32",
        "--max-length",
        "64",
        "--out",
        str(tmp_path / "run"),
    ]
    code, _, err = run_cli(capsys, *argv)
    assert code == 0, err
    config = seen["config"]
    assert config.strategy_options == {"projection_dim": None, "n_iter": 5}
    assert (config.budget, config.warmup_ratio, config.max_length, config.precision) == ("0.1", 0.0, 64, "fp32")


# ------------------------------------------------------------------ device, model and embedder
def test_cuda_on_a_machine_without_cuda(capsys, tmp_path, no_work, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    fails_in_one_line(
        capsys, ["loop", "--device", "cuda", "--model", "minilm"], "--device cuda: CUDA is not available on this machine", tmp_path / "run"
    )


def test_a_cuda_device_this_machine_lacks(capsys, tmp_path, no_work, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.device_count", lambda: 1)
    fails_in_one_line(capsys, ["loop", "--device", "cuda:3", "--model", "minilm"], "--device cuda:3: no such CUDA device", tmp_path / "run")


@pytest.mark.parametrize("device", ["gpu0", "cuda:x", "meta"])
def test_invalid_device_strings(capsys, tmp_path, no_work, device):
    fails_in_one_line(capsys, ["loop", "--device", device, "--model", "minilm"], f"--device {device}: not a device", tmp_path / "run")


def test_model_paths_that_do_not_exist(capsys, tmp_path, no_work):
    (tmp_path / "models").mkdir()
    for name in ("models/mymodel", "./mymodel", str(tmp_path / "nothing" / "here")):
        fails_in_one_line(capsys, ["loop", "--model", name], f"--model {name}: no such directory", tmp_path / "run")


def test_hub_ids_stay_allowed_without_a_local_folder(tmp_path, monkeypatch):
    from alsel.models import resolve_embedder, resolve_model

    monkeypatch.chdir(tmp_path)
    assert resolve_model("org/some-model") == "org/some-model"
    assert resolve_embedder("sentence-transformers/all-mpnet-base-v2") == "sentence-transformers/all-mpnet-base-v2"
    (tmp_path / "org").mkdir()  # now org/... names a local folder that lacks the model
    with pytest.raises(ConfigError, match="--model org/some-model: no such directory"):
        resolve_model("org/some-model")


@pytest.mark.parametrize("name", ["./nope", "~/no-such-embedder-dir", "nope", "/no/such/dir"])
def test_embedder_that_does_not_exist(capsys, tmp_path, no_work, name):
    fails_in_one_line(capsys, ["loop", "--embedder", name, "--model", "minilm"], f"--embedder {name}: no such directory", tmp_path / "run")


def test_embedder_directory_without_a_model(capsys, tmp_path, no_work):
    empty = tmp_path / "empty-model"
    empty.mkdir()
    fails_in_one_line(
        capsys,
        ["loop", "--embedder", str(empty), "--model", "minilm"],
        f"--embedder {empty}: not a sentence-transformers model (no modules.json or config.json)",
        tmp_path / "run",
    )


def test_embedder_directory_with_a_model_is_accepted(tmp_path):
    from alsel.models import resolve_embedder

    for marker in ("modules.json", "config.json"):
        folder = tmp_path / marker.split(".")[0]
        folder.mkdir()
        (folder / marker).write_text("{}")
        assert resolve_embedder(str(folder)) == str(folder)
        assert LoopConfig.from_options(embedder=str(folder), model="minilm").resolved().embedder == str(folder)
    assert resolve_embedder("minilm").endswith("model")


# ------------------------------------------------------------------ strategy options
@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--init", "kmeans", "--rounds", "2", "--acq", "margin", "--strategy-option", "betta=0.2"],
            "unknown strategy option 'betta' (kmeans takes: approximate, n_iter, projection_dim; margin takes: none)",
        ),
        (
            ["--init", "random", "--rounds", "0", "--strategy-option", "region=hard"],
            "unknown strategy option 'region' (random takes: none)",
        ),
        (
            ["--init", "kmeans", "--strategy-option", "projection_dim=abc"],
            "strategy option projection_dim: must be an integer >= 1 or None, got 'abc' (kmeans)",
        ),
        (["--init", "kmeans", "--projection-dim", "-1"], "--projection-dim -1: give a projection size, or 0 for none"),
        (
            ["--init", "kmeans", "--rounds", "2", "--acq", "ccs", "--strategy-option", "score=loss"],
            "strategy option score: must be one of el2n, entropy, p_gold, got 'loss' (ccs)",
        ),
        (
            ["--init", "kmeans", "--rounds", "2", "--acq", "loss_sample", "--strategy-option", "temperature=-1"],
            "strategy option temperature: must be a number >= 0",
        ),
        (
            ["--init", "facility_location", "--strategy-option", "optimizer=magic"],
            "strategy option optimizer: must be one of lazy, naive, stochastic",
        ),
        (
            ["--init", "kmeans", "--rounds", "2", "--acq", "ambiguous", "--region", "hard", "--strategy-option", "n_iter=0"],
            "strategy option n_iter: must be an integer >= 1",
        ),
    ],
)
def test_bad_strategy_options_fail_before_any_work(capsys, tmp_path, no_work, argv, message):
    fails_in_one_line(capsys, ["loop", "--model", "minilm", *argv], message, tmp_path / "run")


def test_one_option_reaches_every_strategy_that_takes_it():
    from alsel.loops.config import build_strategy

    config = LoopConfig.from_options(
        init="kmeans", acq="cluster_margin", rounds=2, strategy_options={"projection_dim": 8.0, "n_clusters": 3}
    ).resolved()
    kmeans, cluster_margin = build_strategy(config.init, config), build_strategy(config.acq, config)
    assert kmeans.get_params() == {"projection_dim": 8, "n_iter": 20, "approximate": "auto"}
    assert isinstance(kmeans.projection_dim, int)  # converted to its declared type
    assert cluster_margin.n_clusters == 3


# ------------------------------------------------------------------ studies
BAD_STUDY = """
name: bad
dataset: sst2
limit: 200
model: minilm
strategies:
  random: {preset: random}
  kmeans8: {preset: kmeans, strategy_options: {projection_dim: 8}}
  typo: {init: kmeans, acq: margin, rounds: 1, strategy_options: {betta: 0.2}}
budgets: [0.1]
seeds: [0, 1]
"""


def test_a_study_with_a_bad_strategy_option_fails_before_its_first_run(capsys, tmp_path, no_work):
    from alsel.study import run_study
    from test_study import write_config

    config = write_config(tmp_path, BAD_STUDY, name="bad.yaml")
    fails_in_one_line(
        capsys,
        ["study", str(config), "--out", str(tmp_path / "study")],
        "strategy 'typo': unknown strategy option 'betta'",
        tmp_path / "study",
    )
    calls = []
    with pytest.raises(ConfigError, match="unknown strategy option 'betta'"):
        run_study(config, out=tmp_path / "study", run_fn=lambda *args, **kwargs: calls.append(args))
    assert calls == [] and not (tmp_path / "study").exists()


def test_a_study_with_a_bad_option_value_fails_before_its_first_run(capsys, tmp_path, no_work):
    from test_study import write_config

    config = write_config(tmp_path, BAD_STUDY.replace("{betta: 0.2}", "{projection_dim: abc}"), name="bad.yaml")
    fails_in_one_line(
        capsys,
        ["study", str(config), "--out", str(tmp_path / "study")],
        "strategy option projection_dim: must be an integer",
        tmp_path / "study",
    )
    config = write_config(tmp_path, BAD_STUDY.replace("limit: 200", "limit: 200\nepochs: '1'"), name="bad.yaml")
    fails_in_one_line(
        capsys, ["study", str(config), "--out", str(tmp_path / "study")], "epochs must be an integer >= 1", tmp_path / "study"
    )


def test_a_study_with_valid_strategy_options_plans_its_runs(capsys, tmp_path):
    from test_study import write_config

    config = write_config(tmp_path, BAD_STUDY.replace("{betta: 0.2}", "{projection_dim: null}"), name="ok.yaml")
    code, out, err = run_cli(capsys, "study", config, "--out", tmp_path / "study", "--dry-run")
    assert code == 0, err
    assert "6 runs (6 planned)" in out


def test_doc_examples():
    import doctest

    import alsel.params

    assert doctest.testmod(alsel.params).failed == 0


def test_constraint_messages_read_as_sentences():
    from alsel.params import Integer, Range, Real, check

    assert check("x", 3, Integer(Range(1, 5))) == 3
    with pytest.raises(ConfigError, match=r"^x must be an integer in \[1, 5\], got 6$"):
        check("x", 6, Integer(Range(1, 5)))
    with pytest.raises(ConfigError, match=r"^x must be a number < 1, got inf$"):
        check("x", float("inf"), Real(Range(high=1, closed="neither")))
    assert check("x", "1e-3", Real(Range(0, closed="neither"))) == 0.001
