"""Load a labelled text data set into a pool (what strategies choose from) and an evaluation set.

Sources: the bundled GLUE SST-2 copy (``sst2``, offline), local CSV/TSV/JSONL/parquet files,
``hf:NAME[:CONFIG]`` through :func:`datasets.load_dataset` for users with a network, and data
already in memory (:func:`splits_from_frames`, :func:`hf_frames`). Files and frames take one path:
every source becomes a frame, then a :class:`TextDataset`. Every example keeps a stable id: its
row index in the source's train split.
"""

from .dataset import DataSplits, TextDataset, fingerprint, quotas, stratified_sample
from .loading import load_configured_data, load_data, load_recorded_data, splits_from_frames
from .sources import HFFrames, class_values, hf_frames, label_key, pool_texts, read_frame, save_source

__all__ = [
    "TextDataset",
    "DataSplits",
    "fingerprint",
    "load_data",
    "load_configured_data",
    "load_recorded_data",
    "splits_from_frames",
    "hf_frames",
    "HFFrames",
    "read_frame",
    "save_source",
    "stratified_sample",
    "quotas",
    "label_key",
    "class_values",
    "pool_texts",
]
