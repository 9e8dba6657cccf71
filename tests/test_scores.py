import numpy as np
import pytest

from alsel.scores import confidence, entropy, margin, p_gold, summarize

PROBS = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]])


def test_scores_by_hand():
    assert p_gold(PROBS, [0, 1, 0]).tolist() == [0.9, 0.5, 0.2]
    assert confidence(PROBS).tolist() == [0.9, 0.5, 0.8]
    assert np.allclose(margin(PROBS), [0.8, 0.0, 0.6])
    assert np.allclose(entropy(PROBS), [-(0.9 * np.log(0.9) + 0.1 * np.log(0.1)), np.log(2), -(0.2 * np.log(0.2) + 0.8 * np.log(0.8))])


def test_three_classes_margin_uses_the_top_two():
    assert np.allclose(margin([[0.5, 0.3, 0.2]]), [0.2])


def test_summarize_and_validation():
    summary = summarize(PROBS, [0, 1, 0])
    assert summary["p_gold"] == {"mean": round((0.9 + 0.5 + 0.2) / 3, 6), "min": 0.2, "max": 0.9}
    assert set(summarize(PROBS)) == {"confidence", "entropy", "margin"}
    with pytest.raises(ValueError):
        p_gold(PROBS, [0, 1])
    with pytest.raises(ValueError):
        entropy([0.5, 0.5])
