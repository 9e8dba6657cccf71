"""alsel: offline active learning that decides which part of a labelled training set to fine-tune on.

Architecture, one direction of dependency::

    data -> embed / scores -> strategies -> loops -> learner -> report -> cli
"""

__version__ = "0.1.0"
