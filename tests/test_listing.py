"""``alsel strategies``: plain text, wrapped, grouped by what each strategy needs."""

import pytest

from alsel.loops.presets import PRESETS, RECOMMENDED
from alsel.strategies import STRATEGIES
from alsel.strategies.listing import GROUPS, describe_strategies
from conftest import run_cli


def sections(text: str) -> dict[str, str]:
    """Heading -> the text under it."""
    out, heading = {}, None
    for line in text.splitlines():
        if line in GROUPS.values():
            heading = line
            out[heading] = ""
        elif heading is not None:
            out[heading] += line + "\n"
    return out


@pytest.mark.parametrize("columns", [60, 100, 200])
def test_the_listing_is_plain_text_wrapped_to_the_terminal(capsys, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    code, out, _ = run_cli(capsys, "strategies")
    assert code == 0 and "``" not in out and ":class:" not in out
    assert max(len(line) for line in out.splitlines()) <= min(columns, 100)
    for name in STRATEGIES:
        assert f"  {name} " in out or out.count(f"  {name}\n") == 1
    text = " ".join(out.split())
    assert f"{RECOMMENDED} recommended: {PRESETS[RECOMMENDED].description}" in text and text.count("recommended:") == 1


def test_strategies_are_grouped_by_what_they_need_with_init_and_options():
    by_group = sections(describe_strategies(100))
    labels, model, embeddings, nothing = (by_group[GROUPS[g]] for g in ("labels", "model", "embeddings", "nothing"))
    for name in ("low_conf", "high_conf", "el2n", "ambiguous"):
        assert f"  {name} " in labels
    assert "  least_conf " in model and "  margin " in model and "  least_conf " not in labels
    assert "  kmeans (init) " in embeddings and "  random (init) " in nothing
    assert "(init)" not in labels + model  # what needs a trained model cannot choose the initial pool
    assert "options: projection_dim=32, n_iter=20" in embeddings
    assert "options: pool_factor=10, n_clusters=None, max_agglomerative=2000" in model


def test_low_conf_and_least_conf_say_what_they_rank_by():
    text = " ".join(describe_strategies(100).split())
    assert "low_conf The k candidates whose gold label the model finds least probable (lowest p_gold" in text
    assert (
        "least_conf The k candidates whose predicted class has the lowest probability (the model's confidence in its own prediction" in text
    )


def test_every_preset_is_listed_with_its_description_even_with_a_long_name(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    code, out, _ = run_cli(capsys, "strategies")
    presets = out[out.index("Presets (--preset):") :]
    for name, preset in PRESETS.items():
        assert f"  {name} " in presets or f"  {name}\n" in presets  # never run into its description
        assert preset.description.split()[-1] in presets
    assert "  cluster_margin_proxy\n" in presets
