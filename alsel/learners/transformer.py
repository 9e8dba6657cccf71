"""The fine-tuner: a transformers sequence classifier trained to convergence in plain torch.

``fit`` trains a fresh model from the pretrained weights until a validation split of the
selection stops improving (AdamW, a larger rate for the freshly initialised classification head,
linear warm-up and decay over the maximum epochs, dynamic padding, length-grouped batches, bf16
autocast where the hardware has it) and keeps its best epoch. Without a validation split it
trains until it fits its training data (accuracy >= ``fit_accuracy``) or the maximum is reached.
A model that predicts one class on its own training data has collapsed: it is trained again with
the next seed, then at half the rates, up to ``max_retries`` times (the collapse guard).
``fit(..., warm_from=DIR)`` starts every training from a model ``save`` wrote (the loop's previous
round, ``--warm-start``) instead of the pretrained weights; the rest is the same.

Why not ``transformers.Trainer``: docs/benchmarks.md, "The fine-tuner's loop".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import ConfigError, first_line
from ..loops.learning import classification_metrics
from ..models import MODEL_CONFIG_FILE, TRAINING_DEFAULTS, hub_unreachable, quiet_transformers, resolve_model, torch_device, uses_bf16
from ..params import Flag, Integer, Range, Real
from ..progress import SILENT, Progress

__all__ = ["TransformerLearner", "length_grouped_batches", "collapse_reason"]


def length_grouped_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator, group: int = 50) -> list[np.ndarray]:
    """Shuffled batches of similar length: shuffle, sort within mega-batches of ``group``
    batches, cut, shuffle the batches. Padding shrinks while the order stays random."""
    order = rng.permutation(len(lengths))
    mega = batch_size * group
    batches: list[np.ndarray] = []
    for start in range(0, len(order), mega):
        chunk = order[start : start + mega]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def collapse_reason(labels: np.ndarray, predicted: np.ndarray) -> str | None:
    """Why a model's predictions on its own training data show a collapsed fine-tuning, or None:
    one class predicted for data of several, or an accuracy no better than the majority share."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    if len(np.unique(labels)) < 2:
        return None
    if len(np.unique(predicted)) == 1:
        return "it predicts one class for all its training data"
    majority = np.bincount(labels).max() / len(labels)
    accuracy = float(np.mean(labels == predicted))
    if accuracy <= majority:
        return f"its training accuracy {accuracy:.3f} is no better than the majority share {majority:.3f}"
    return None


@dataclass
class _Attempt:
    """One training of the model: its options and how it ended."""

    seed: int
    lr: float
    head_lr: float
    epochs: int = 0  # epochs run
    best_epoch: int = 0  # 1-based: the epoch whose weights were kept
    stopped: str = ""
    collapsed: str | None = None


@dataclass
class TransformerLearner:
    """Fine-tunes ``AutoModelForSequenceClassification`` on texts and labels.

    Parameters
    ----------
    model : str
        Alias (``minilm``, ``modernbert-base``), local directory or hub id.
    epochs : int
        The most epochs a fine-tuning runs; early stopping usually ends it sooner.
    patience : int
        Epochs without a better validation score before training stops.
    min_steps : int
        Raise the maximum where ``epochs`` epochs give fewer optimizer steps.
    lr : float
        The encoder's learning rate.
    head_lr : float, optional
        The rate of the layers the checkpoint does not hold (the new classification head);
        ``None``: ``lr``.
    batch_size, max_length : training options.
    warmup_ratio : float
        Fraction of the maximum steps with a linear warm-up; then linear decay to 0.
    weight_decay : float
    precision : {"auto", "bf16", "fp32"}
        ``auto`` uses bf16 autocast where the device supports it.
    device : str
        ``auto`` (CUDA if available), ``cpu``, ``cuda``...
    seed : int
        Seeds the classifier head, dropout and data order: the same seed gives the same model.
    trust_remote_code : bool
        Passed to ``from_pretrained``; off unless asked for.
    collapse_guard : bool
        Check the model's predictions on its training data and retrain after a collapse; off:
        keep whatever the first training gives, unchecked.
    max_retries : int
        Trainings after a collapse: the next seed, then half the rates each time.
    fit_accuracy : float
        Without a validation split, stop once an epoch's training accuracy reaches this.

    Attributes
    ----------
    training_ : dict
        How the last ``fit`` went: ``validation`` (examples), ``epochs`` (run), ``best_epoch``,
        ``stopped`` (``patience``, ``max_epochs`` or ``fitted``), ``retries`` (one entry per
        collapsed training: seed, rates, reason), ``collapsed`` (the kept model's reason, or
        absent) and ``warm_from`` (true for a warm start, else absent).
    """

    model: str = "minilm"
    epochs: int = TRAINING_DEFAULTS["minilm"]["epochs"]
    patience: int = TRAINING_DEFAULTS["minilm"]["patience"]
    min_steps: int = 0
    batch_size: int = 32
    lr: float = TRAINING_DEFAULTS["minilm"]["lr"]
    head_lr: float | None = TRAINING_DEFAULTS["minilm"]["head_lr"]
    max_length: int = 128
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    precision: str = "auto"
    device: str = "auto"
    seed: int = 0
    trust_remote_code: bool = False
    eval_batch_size: int = 256
    collapse_guard: bool = True
    max_retries: int = 2
    fit_accuracy: float = 0.99
    training_: dict = field(default_factory=dict, init=False, repr=False)

    #: What ``--learner-option`` may set beyond the run's training options, and what each accepts.
    _parameter_constraints: ClassVar[dict] = {
        "eval_batch_size": Integer(Range(1)),
        "collapse_guard": Flag(),
        "max_retries": Integer(Range(0)),
        "fit_accuracy": Real(Range(0, 1, closed="right")),
    }

    # ------------------------------------------------------------------ setup
    def _load(self, load: Callable, warm_from=None):
        """``load(source, trust_remote_code=...)`` of the model's files (or of the saved model in
        ``warm_from``), failing in one line."""
        quiet_transformers()
        source = resolve_model(self.model) if warm_from is None else str(warm_from)
        what = f"model {self.model!r}" if warm_from is None else "the model to warm-start from"
        if Path(source).exists():
            reason = None
        else:  # a saved model is a directory; a hub id fails at once where the hub cannot serve it
            reason = hub_unreachable(source) if warm_from is None else "no such directory"
        if reason:
            raise ConfigError(f"cannot load {what}: {reason}")
        try:
            return load(source, trust_remote_code=self.trust_remote_code)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load {what} ({source}): {first_line(exc)}") from None

    def _fresh_classifier(self, warm_from=None):
        """A classifier of ``n_classes_`` from the pretrained weights, or from the model saved in
        ``warm_from`` (a classifier of as many classes), and the names of the parameters its
        source did not hold (the new head, trained at ``head_lr``: a warm start has none, its
        head has trained already)."""
        from transformers import AutoConfig, AutoModelForSequenceClassification

        if warm_from is not None:
            saved = self._load(AutoConfig.from_pretrained, warm_from).num_labels
            if saved != self.n_classes_:
                raise ConfigError(f"cannot warm-start from {warm_from}: a classifier of {saved} classes, not {self.n_classes_}")
        model, info = self._load(
            lambda source, **kw: AutoModelForSequenceClassification.from_pretrained(
                source, num_labels=self.n_classes_, output_loading_info=True, **kw
            ),
            warm_from,
        )
        mismatched = {key if isinstance(key, str) else key[0] for key in info.get("mismatched_keys", ())}
        return model, set(info["missing_keys"]) | mismatched

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

    def _optimizer(self, model, new: set[str], lr: float, head_lr: float):
        """AdamW with four groups: encoder and head, each with and without weight decay."""
        import torch

        no_decay = ("bias", "LayerNorm.weight", "norm.weight")
        groups: dict[tuple[bool, bool], list] = {}
        for name, param in model.named_parameters():
            groups.setdefault((name in new, name.endswith(no_decay)), []).append(param)
        return torch.optim.AdamW(
            [
                {"params": params, "lr": head_lr if is_head else lr, "weight_decay": 0.0 if exempt else self.weight_decay}
                for (is_head, exempt), params in sorted(groups.items())
            ]
        )

    # ------------------------------------------------------------------ API
    def fit(
        self,
        texts,
        labels,
        n_classes: int,
        *,
        validation: tuple | None = None,
        progress: Progress = SILENT,
        on_epoch_end: Callable[[TransformerLearner, int], None] | None = None,
        warm_from: str | Path | None = None,
    ) -> TransformerLearner:
        """Train a fresh model on ``texts``/``labels``, choosing its epoch on ``validation``
        (``(texts, labels)``, held out of the training data by the caller) where given, and
        retrain after a collapse. ``on_epoch_end(self, epoch)`` runs after each epoch of each
        training (epoch 0 starts a new one), for training-dynamics scores. ``warm_from``: a
        directory :meth:`save` wrote, whose weights every training (each retry too) starts from
        instead of the pretrained ones."""
        import torch

        labels = np.asarray(labels, dtype=np.int64)
        if len(texts) != len(labels) or len(texts) == 0:
            raise ConfigError(f"fit needs as many labels as texts (got {len(texts)} texts, {len(labels)} labels)")
        self.device_ = torch_device(self.device)
        from transformers import AutoTokenizer

        self.tokenizer_ = self._load(AutoTokenizer.from_pretrained)
        self.n_classes_ = n_classes
        train_ids = self._encode(texts)
        held = (
            (self._encode(validation[0]), np.asarray(validation[1], dtype=np.int64))
            if validation is not None and len(validation[0])
            else None
        )
        retries = []
        head_lr = self.head_lr if self.head_lr is not None else self.lr
        for attempt in range(self.max_retries + 1):
            # the next seed first; from the second retry on, half the rates each time as well
            scale = 0.5 ** max(0, attempt - 1)
            run = _Attempt(seed=self.seed + attempt, lr=self.lr * scale, head_lr=head_lr * scale)
            torch.manual_seed(run.seed)
            self._train(run, train_ids, labels, held, progress, on_epoch_end, warm_from)
            if self.collapse_guard:
                run.collapsed = collapse_reason(labels, self._predict_ids(train_ids, progress).argmax(axis=1))
            if run.collapsed is None or attempt == self.max_retries:
                break
            retries.append({"seed": run.seed, "lr": run.lr, "head_lr": run.head_lr, "reason": run.collapsed})
            progress.log(f"the fine-tuning collapsed ({run.collapsed}; seed {run.seed}, lr {run.lr:g}); training again")
        self.epochs_ = run.epochs
        self.training_ = {
            "validation": 0 if held is None else len(held[1]),
            "epochs": run.epochs,
            "best_epoch": run.best_epoch,
            "stopped": run.stopped,
            "retries": retries,
            **({"collapsed": run.collapsed} if run.collapsed else {}),
            **({"warm_from": True} if warm_from is not None else {}),
        }
        return self

    def _train(self, run: _Attempt, input_ids, labels, held, progress: Progress, on_epoch_end, warm_from=None) -> None:
        """One training from the pretrained weights (or ``warm_from``'s); leaves the kept model
        in ``model_``."""
        import torch
        from transformers import get_linear_schedule_with_warmup

        model, new = self._fresh_classifier(warm_from)
        self.model_ = model.to(self.device_)
        lengths = np.fromiter((len(x) for x in input_ids), dtype=np.int64, count=len(input_ids))
        optimizer = self._optimizer(self.model_, new, run.lr, run.head_lr)
        steps_per_epoch = math.ceil(len(input_ids) / self.batch_size)
        max_epochs = max(self.epochs, math.ceil(self.min_steps / steps_per_epoch))
        total = steps_per_epoch * max_epochs
        scheduler = get_linear_schedule_with_warmup(optimizer, int(self.warmup_ratio * total), total)
        rng = np.random.default_rng(run.seed)
        best_score, best_state, stale = None, None, 0
        run.stopped = "max_epochs"
        with progress.task(f"training on {len(input_ids):,}, at most {max_epochs} epochs", total=len(input_ids) * max_epochs) as advance:
            for epoch in range(max_epochs):
                self.model_.train()
                correct = 0
                for rows in length_grouped_batches(lengths, self.batch_size, rng):
                    batch = self._batch(input_ids, rows, labels)
                    with self._autocast():
                        out = self.model_(**batch)
                    out.loss.backward()
                    torch.nn.utils.clip_grad_norm_(self.model_.parameters(), 1.0)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    correct += int((out.logits.argmax(dim=-1) == batch["labels"]).sum())
                    advance(len(rows))
                run.epochs = epoch + 1
                if on_epoch_end is not None:
                    on_epoch_end(self, epoch)
                if held is None:
                    run.best_epoch = run.epochs
                    if correct / len(input_ids) >= self.fit_accuracy:
                        run.stopped = "fitted"
                        break
                    continue
                score = self._held_out_score(held, progress)
                if best_score is None or _improves(score, best_score):
                    best_score, best_state, stale, run.best_epoch = score, _copy_state(self.model_), 0, run.epochs
                else:
                    stale += 1
                    if stale >= self.patience:
                        run.stopped = "patience"
                        break
        if best_state is not None and run.best_epoch != run.epochs:
            self.model_.load_state_dict(best_state)
        self.model_.eval()

    def _held_out_score(self, held, progress: Progress) -> tuple[float, float]:
        """Accuracy on the validation split, ties broken by the lower mean log-loss."""
        probs = self._predict_ids(held[0], progress)
        gold = probs[np.arange(len(held[1])), held[1]]
        return float(np.mean(probs.argmax(axis=1) == held[1])), float(np.mean(np.log(np.maximum(gold, 1e-12))))

    def predict_proba(self, texts, *, progress: Progress = SILENT, return_features: bool = False):
        """Class probabilities, ndarray of shape (n, n_classes); with ``return_features`` also the
        classifier's input (the penultimate representation), ndarray of shape (n, hidden)."""
        if not hasattr(self, "model_"):
            raise RuntimeError("call fit before predict_proba")
        return self._predict_ids(self._encode(texts), progress, return_features)

    def _predict_ids(self, input_ids, progress: Progress, return_features: bool = False):
        import torch

        lengths = np.fromiter((len(x) for x in input_ids), dtype=np.int64, count=len(input_ids))
        order = np.argsort(-lengths, kind="stable")
        probs = np.zeros((len(input_ids), self.n_classes_), dtype=np.float32)
        features = None
        # The classifier layer is re-applied in fp32 to its (possibly bf16) input: bf16 logits
        # have 8 mantissa bits, which ties the p_gold of many confident examples and would leave
        # score-based acquisition to break the ties by pool position.
        head = _classifier_layer(self.model_, self.n_classes_)
        captured: dict[str, torch.Tensor] = {}
        hook = head.register_forward_hook(lambda module, inputs, output: captured.__setitem__("x", inputs[0]))
        was_training = self.model_.training
        self.model_.eval()
        try:
            with torch.inference_mode(), progress.task(f"scoring {len(input_ids):,}", total=len(input_ids)) as advance:
                for start in range(0, len(order), self.eval_batch_size):
                    rows = order[start : start + self.eval_batch_size]
                    with self._autocast():
                        self.model_(**self._batch(input_ids, rows))
                    x = captured["x"].float()
                    probs[rows] = torch.softmax(head(x), dim=-1).cpu().numpy()
                    if return_features:
                        if features is None:
                            features = np.zeros((len(input_ids), x.shape[1]), dtype=np.float32)
                        features[rows] = x.cpu().numpy()
                    advance(len(rows))
        finally:
            hook.remove()
            self.model_.train(was_training)
        return (probs, features) if return_features else probs

    def __getstate__(self) -> dict:
        """What pickling sends (Ray, to score on its workers): the fitted model in
        ``torch.save``'s format, without the device it sits on here."""
        import io

        import torch

        state = self.__dict__.copy()
        state.pop("device_", None)
        if "model_" in state:
            buffer = io.BytesIO()
            torch.save(state["model_"], buffer)
            state["model_"] = buffer.getvalue()
        return state

    def __setstate__(self, state: dict) -> None:
        """An unpickled learner puts its fitted model on ``device`` as this process resolves it
        (``auto``: its GPU if it has one), so a model trained on a GPU scores on a worker without
        one, and one trained on a CPU uses a worker's GPU."""
        import io

        import torch

        self.__dict__.update(state)
        if "model_" in state:
            self.device_ = torch_device(self.device)
            self.model_ = torch.load(io.BytesIO(state["model_"]), map_location=self.device_, weights_only=False)

    def save(self, directory, label_names) -> None:
        """Save the fitted model and its tokenizer with ``save_pretrained``, the classes named
        ``label_names``: ``pipeline("text-classification", model=directory)`` then predicts the
        names. Atomic: an existing ``directory`` is replaced once the new one is complete."""
        from ..io import write_dir

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


#: How much lower a validation log-loss must be to count as better at equal accuracy: on an easy
#: split accuracy reaches 1.0 early and the loss then creeps towards 0 by 1e-5 an epoch, which
#: would never let patience run out.
LOSS_MIN_DELTA = 1e-3


def _improves(score: tuple[float, float], best: tuple[float, float]) -> bool:
    """Whether ``(accuracy, mean log p_gold)`` beats ``best``: a higher accuracy, or the same
    accuracy with a log-loss lower by more than :data:`LOSS_MIN_DELTA`."""
    return score[0] > best[0] or (score[0] == best[0] and score[1] > best[1] + LOSS_MIN_DELTA)


def _copy_state(model) -> dict:
    """The model's weights, copied (to the CPU: a GPU keeps its memory for training)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _classifier_layer(model, n_classes: int):
    """The last linear layer that outputs ``n_classes`` logits: its input is the representation
    the classifier sees (BADGE's gradient embeddings are formed from it)."""
    import torch

    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == n_classes]
    if not layers:
        raise RuntimeError("no classifier layer found")
    return layers[-1]
