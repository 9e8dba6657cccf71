"""Fine-tuning learner: a transformers sequence classifier trained in plain torch.

``fit`` trains a fresh model from the pretrained weights (AdamW, linear warm-up and decay,
dynamic padding, length-grouped batches, bf16 autocast where the hardware supports it);
``predict_proba`` scores texts in length-sorted batches; ``evaluate`` gives accuracy and F1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .errors import ConfigError, first_line
from .loops.learning import classification_metrics
from .models import MODEL_CONFIG_FILE, TRAINING_DEFAULTS, quiet_transformers, resolve_model, torch_device, uses_bf16
from .progress import SILENT, Progress

__all__ = ["Learner"]


def length_grouped_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator, group: int = 50) -> list[np.ndarray]:
    """Shuffled batches of similar length: shuffle, sort within mega-batches of ``group``
    batches, cut, shuffle the batches. Padding shrinks while the order stays random."""
    order = rng.permutation(len(lengths))
    mega = batch_size * group
    batches = []
    for start in range(0, len(order), mega):
        chunk = order[start : start + mega]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


@dataclass
class Learner:
    """Fine-tunes ``AutoModelForSequenceClassification`` on texts and labels.

    Parameters
    ----------
    model : str
        Alias (``minilm``, ``modernbert-base``), local directory or hub id.
    epochs, batch_size, lr, max_length : training options.
    min_steps : int
        Train for more than ``epochs`` where that many epochs give fewer optimizer steps.
    warmup_ratio : float
        Fraction of steps with a linear warm-up; then linear decay to 0.
    weight_decay : float
    precision : {"auto", "bf16", "fp32"}
        ``auto`` uses bf16 autocast where the device supports it.
    device : str
        ``auto`` (CUDA if available), ``cpu``, ``cuda``...
    seed : int
        Seeds the classifier head, dropout and data order: the same seed gives the same model.
    trust_remote_code : bool
        Passed to ``from_pretrained``; off unless asked for.
    """

    model: str = "minilm"
    epochs: int = 3
    min_steps: int = 0
    batch_size: int = 32
    lr: float = TRAINING_DEFAULTS["minilm"]["lr"]
    max_length: int = 128
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    precision: str = "auto"
    device: str = "auto"
    seed: int = 0
    trust_remote_code: bool = False
    eval_batch_size: int = 256

    # ------------------------------------------------------------------ setup
    def _load(self, n_classes: int | None = None):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        quiet_transformers()
        source = resolve_model(self.model)
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=self.trust_remote_code)
            model = None
            if n_classes is not None:
                model = AutoModelForSequenceClassification.from_pretrained(
                    source, num_labels=n_classes, trust_remote_code=self.trust_remote_code
                )
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load model {self.model!r} ({source}): {first_line(exc)}") from None
        return tokenizer, model

    def _autocast(self):
        import torch

        return torch.autocast(device_type=self.device_.type, dtype=torch.bfloat16, enabled=uses_bf16(self.precision, self.device))

    def _encode(self, texts):
        return self.tokenizer_(list(texts), truncation=True, max_length=self.max_length)["input_ids"]

    def _batch(self, input_ids, rows, labels=None):
        import torch

        batch = self.tokenizer_.pad({"input_ids": [input_ids[i] for i in rows]}, return_tensors="pt")
        batch = {k: v.to(self.device_) for k, v in batch.items()}
        if labels is not None:
            batch["labels"] = torch.as_tensor(labels[rows], device=self.device_)
        return batch

    # ------------------------------------------------------------------ API
    def fit(
        self,
        texts,
        labels,
        n_classes: int,
        *,
        progress: Progress = SILENT,
        on_epoch_end: Callable[["Learner", int], None] | None = None,
    ) -> "Learner":
        """Train a fresh model on ``texts``/``labels``; ``on_epoch_end(self, epoch)`` runs after
        each epoch (for training-dynamics scores)."""
        import torch
        from transformers import get_linear_schedule_with_warmup

        labels = np.asarray(labels, dtype=np.int64)
        if len(texts) != len(labels) or len(texts) == 0:
            raise ConfigError(f"fit needs as many labels as texts (got {len(texts)} texts, {len(labels)} labels)")
        torch.manual_seed(self.seed)
        self.device_ = torch_device(self.device)
        self.tokenizer_, model = self._load(n_classes)
        self.n_classes_ = n_classes
        self.model_ = model.to(self.device_)
        input_ids = self._encode(texts)
        lengths = np.fromiter((len(x) for x in input_ids), dtype=np.int64, count=len(input_ids))
        no_decay = ("bias", "LayerNorm.weight", "norm.weight")
        groups = [
            {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)], "weight_decay": self.weight_decay},
            {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(groups, lr=self.lr)
        steps_per_epoch = math.ceil(len(texts) / self.batch_size)
        self.epochs_ = max(self.epochs, math.ceil(self.min_steps / steps_per_epoch))
        total = steps_per_epoch * self.epochs_
        scheduler = get_linear_schedule_with_warmup(optimizer, int(self.warmup_ratio * total), total)
        rng = np.random.default_rng(self.seed)
        with progress.task(f"training on {len(texts):,} x {self.epochs_} epochs", total=len(texts) * self.epochs_) as advance:
            for epoch in range(self.epochs_):
                self.model_.train()
                for rows in length_grouped_batches(lengths, self.batch_size, rng):
                    batch = self._batch(input_ids, rows, labels)
                    with self._autocast():
                        loss = self.model_(**batch).loss
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(self.model_.parameters(), 1.0)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    advance(len(rows))
                if on_epoch_end is not None:
                    on_epoch_end(self, epoch)
        self.model_.eval()
        return self

    def predict_proba(self, texts, *, progress: Progress = SILENT, return_features: bool = False):
        """Class probabilities, ndarray of shape (n, n_classes); with ``return_features`` also the
        classifier's input (the penultimate representation), ndarray of shape (n, hidden)."""
        import torch

        if not hasattr(self, "model_"):
            raise RuntimeError("call fit before predict_proba")
        input_ids = self._encode(texts)
        lengths = np.fromiter((len(x) for x in input_ids), dtype=np.int64, count=len(input_ids))
        order = np.argsort(-lengths, kind="stable")
        probs = np.zeros((len(texts), self.n_classes_), dtype=np.float32)
        features = None
        # The classifier layer is re-applied in fp32 to its (possibly bf16) input: bf16 logits
        # have 8 mantissa bits, which ties the p_gold of many confident examples and would leave
        # score-based acquisition to break the ties by pool position.
        head = _classifier_layer(self.model_, self.n_classes_)
        captured = {}
        hook = head.register_forward_hook(lambda module, inputs, output: captured.__setitem__("x", inputs[0]))
        was_training = self.model_.training
        self.model_.eval()
        try:
            with torch.inference_mode(), progress.task(f"scoring {len(texts):,}", total=len(texts)) as advance:
                for start in range(0, len(order), self.eval_batch_size):
                    rows = order[start : start + self.eval_batch_size]
                    with self._autocast():
                        self.model_(**self._batch(input_ids, rows))
                    x = captured["x"].float()
                    probs[rows] = torch.softmax(head(x), dim=-1).cpu().numpy()
                    if return_features:
                        if features is None:
                            features = np.zeros((len(texts), x.shape[1]), dtype=np.float32)
                        features[rows] = x.cpu().numpy()
                    advance(len(rows))
        finally:
            hook.remove()
            self.model_.train(was_training)
        return (probs, features) if return_features else probs

    def save(self, directory, label_names) -> None:
        """Save the fitted model and its tokenizer with ``save_pretrained``, the classes named
        ``label_names``: ``pipeline("text-classification", model=directory)`` then predicts the
        names. Atomic: an existing ``directory`` is replaced once the new one is complete."""
        from .io import write_dir

        if not hasattr(self, "model_"):
            raise RuntimeError("call fit before save")
        self.model_.config.id2label = dict(enumerate(label_names))
        self.model_.config.label2id = {name: i for i, name in enumerate(label_names)}
        # what truncation=True then cuts to: the length the model was trained and scored with
        self.tokenizer_.model_max_length = self.max_length

        def fill(tmp):
            self.model_.save_pretrained(tmp)
            self.tokenizer_.save_pretrained(tmp)

        write_dir(directory, fill, marker=MODEL_CONFIG_FILE)

    def evaluate(self, texts, labels, *, progress: Progress = SILENT, return_probs: bool = False):
        """Accuracy and F1 (:func:`~alsel.loops.learning.classification_metrics`); with ``return_probs`` also the
        class probabilities they were computed from, as ``(metrics, probs)``."""
        probs = self.predict_proba(texts, progress=progress)
        metrics = classification_metrics(np.asarray(labels), probs.argmax(axis=1), self.n_classes_)
        return (metrics, probs) if return_probs else metrics


def _classifier_layer(model, n_classes: int):
    """The last linear layer that outputs ``n_classes`` logits: its input is the representation
    the classifier sees (BADGE's gradient embeddings are formed from it)."""
    import torch

    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == n_classes]
    if not layers:
        raise RuntimeError("no classifier layer found")
    return layers[-1]
