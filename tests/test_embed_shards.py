"""Embeddings in shards: written as they finish, resumed after a kill, read back memory-mapped,
and caches written before shards still read."""

from __future__ import annotations

import numpy as np
import pytest

from alsel import embed as embed_module
from alsel.embed import Embedder
from alsel.io import write_npy
from alsel.progress import SILENT

TEXTS = [f"sentence number {i} " + "word " * (i % 5) for i in range(10)]


class FakeEmbedder(Embedder):
    """Deterministic vectors; records the texts of each call and fails on the call ``fail_on``."""

    def __init__(self, cache_dir, fail_on: int | None = None):
        super().__init__(cache_dir=cache_dir)
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def _compute(self, texts, progress):
        if len(self.calls) == self.fail_on:
            raise KeyboardInterrupt("killed")
        self.calls.append(list(texts))
        return np.array([[len(t), t.count("o"), float(t.split()[2])] for t in texts], dtype=np.float32)


def expected() -> np.ndarray:
    return FakeEmbedder(cache_dir=None)._compute(TEXTS, None)


@pytest.fixture
def small_shards(monkeypatch):
    monkeypatch.setattr(embed_module, "SHARD_ROWS", 4)


def test_shards_are_merged_into_one_memory_mapped_read_only_entry(tmp_path, small_shards):
    embedder = FakeEmbedder(tmp_path)
    out = embedder.embed(TEXTS, "fp")
    assert [len(c) for c in embedder.calls] == [4, 4, 2]
    np.testing.assert_array_equal(out, expected())
    assert isinstance(out, np.memmap) and not out.flags.writeable
    path = embedder.cache_path("fp")
    assert path.exists() and not path.with_suffix(".shards").exists()
    assert embedder.used["fp"][1] is False
    again = FakeEmbedder(tmp_path)
    np.testing.assert_array_equal(again.embed(TEXTS, "fp"), expected())
    assert again.calls == [] and again.used["fp"][1] is True


def test_a_killed_embedding_resumes_at_the_next_shard_with_the_same_result(tmp_path, small_shards):
    killed = FakeEmbedder(tmp_path / "a", fail_on=2)
    with pytest.raises(KeyboardInterrupt):
        killed.embed(TEXTS, "fp")
    assert not killed.cache_path("fp").exists()
    assert sorted(p.name for p in killed.cache_path("fp").with_suffix(".shards").glob("*.npy")) == [
        "rows-000000000-000000004.npy",
        "rows-000000004-000000008.npy",
    ]
    resumed = FakeEmbedder(tmp_path / "a")
    out = resumed.embed(TEXTS, "fp")
    assert resumed.calls == [TEXTS[8:]]  # only the shard that was not finished
    fresh = FakeEmbedder(tmp_path / "b")
    fresh.embed(TEXTS, "fp")
    assert resumed.cache_path("fp").read_bytes() == fresh.cache_path("fp").read_bytes()
    np.testing.assert_array_equal(out, expected())


def test_shards_of_another_size_or_damaged_are_computed_again(tmp_path, monkeypatch, small_shards):
    with pytest.raises(KeyboardInterrupt):
        FakeEmbedder(tmp_path, fail_on=2).embed(TEXTS, "fp")
    folder = FakeEmbedder(tmp_path).cache_path("fp").with_suffix(".shards")
    (folder / "rows-000000004-000000008.npy").write_bytes(b"\x93NUMPY cut")
    resumed = FakeEmbedder(tmp_path)
    resumed.embed(TEXTS, "fp")
    assert resumed.calls == [TEXTS[4:8], TEXTS[8:]]

    monkeypatch.setattr(embed_module, "SHARD_ROWS", 3)
    with pytest.raises(KeyboardInterrupt):
        FakeEmbedder(tmp_path, fail_on=1).embed(TEXTS, "other")
    monkeypatch.setattr(embed_module, "SHARD_ROWS", 5)
    other = FakeEmbedder(tmp_path)
    np.testing.assert_array_equal(other.embed(TEXTS, "other"), expected())
    assert [len(c) for c in other.calls] == [5, 5]  # the 3-row shard of the earlier size is not used


def test_a_cache_written_before_shards_is_still_read(tmp_path):
    embedder = FakeEmbedder(tmp_path)
    old = np.random.default_rng(0).standard_normal((len(TEXTS), 8)).astype(np.float32)
    write_npy(embedder.cache_path("fp"), old)  # what alsel wrote before shards: one .npy per entry
    out = embedder.embed(TEXTS, "fp")
    np.testing.assert_array_equal(out, old)
    assert embedder.calls == [] and isinstance(out, np.memmap)


def test_a_pool_within_one_shard_is_embedded_in_one_call_as_before(tmp_path):
    embedder = FakeEmbedder(tmp_path)
    embedder.embed(TEXTS, "fp")
    assert embedder.calls == [TEXTS]


def test_an_unknown_executor_is_refused_up_front(tmp_path):
    with pytest.raises(ValueError, match="unknown executor 'spark'; choose one of: local, ray"):
        Embedder(cache_dir=tmp_path, executor="spark")


def test_the_ray_executor_without_ray_says_how_to_install(tmp_path, no_ray, small_shards):
    from alsel.errors import ConfigError

    with pytest.raises(ConfigError, match=r"pip install 'alsel\[ray\]'"):
        Embedder(cache_dir=tmp_path, executor="ray").embed(TEXTS, "fp")
    assert not Embedder(cache_dir=tmp_path).cache_path("fp").exists()


@pytest.mark.slow
def test_ray_with_two_workers_writes_the_same_bytes_as_a_local_embedding(tmp_path, monkeypatch):
    """The bundled MiniLM on 22 real sentences in 4 shards: two Ray worker processes (one CPU
    each) against this process on one torch thread; then a Ray embedding resumes a local one."""
    ray = pytest.importorskip("ray")
    import torch

    from alsel.data import load_data

    monkeypatch.setattr(embed_module, "SHARD_ROWS", 6)
    texts = list(load_data("sst2").pool.texts[:22])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local = Embedder(cache_dir=tmp_path / "local")
        local.embed(texts, "fp")
        interrupted = Embedder(cache_dir=tmp_path / "resumed")
        interrupted_compute = interrupted._compute
        calls = []

        def killed_after_two_shards(shard_texts, progress):
            if len(calls) == 2:
                raise KeyboardInterrupt("killed")
            calls.append(len(shard_texts))
            return interrupted_compute(shard_texts, progress)

        monkeypatch.setattr(interrupted, "_compute", killed_after_two_shards)
        with pytest.raises(KeyboardInterrupt):
            interrupted.embed(texts, "fp")
    finally:
        torch.set_num_threads(threads)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        on_ray = Embedder(cache_dir=tmp_path / "ray", executor="ray")
        out = on_ray.embed(texts, "fp")
        resumed = Embedder(cache_dir=tmp_path / "resumed", executor="ray")
        resumed.embed(texts, "fp")
    finally:
        ray.shutdown()
    assert out.shape == (22, 384) and on_ray.used["fp"][1] is False
    assert on_ray.cache_path("fp").read_bytes() == local.cache_path("fp").read_bytes()
    assert resumed.cache_path("fp").read_bytes() == local.cache_path("fp").read_bytes()
    assert calls == [6, 6]


def test_a_loop_embeds_in_the_precision_it_is_given_under_its_own_cache_key(tmp_path):
    from alsel.loops.config import LoopConfig
    from alsel.loops.controller import LoopRun
    from alsel.loops.rundir import MemoryRunDir

    def embedder(**options):
        config = LoopConfig(init="random", budget=0.1, cache_dir=str(tmp_path), **options).resolved()
        return LoopRun(config, MemoryRunDir(), progress=SILENT).embedding.embedder()

    fp32, bf16 = embedder(), embedder(embed_precision="bf16")
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    assert fp32.cache_path("fp") != bf16.cache_path("fp")
