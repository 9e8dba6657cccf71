#!/usr/bin/env bash
# Set up alsel in ./.venv: torch first and pinned (on a CPU-only machine pip takes the CPU
# wheel; an unpinned torch would pull a multi-GB CUDA build), then alsel with its test, Ray and
# docs extras (pytest; Ray; MkDocs Material and mkdocstrings, which build docs/ into a site).
# Offline-safe afterwards: the data set and the default model ship with the packages.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==${TORCH_VERSION}"
.venv/bin/python -m pip install -q -e ".[dev,ray,docs]"
.venv/bin/alsel --version
