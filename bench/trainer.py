"""alsel's fine-tuning loop against ``transformers.Trainer`` doing the same job (docs/benchmarks.md).

Both fine-tune the bundled MiniLM on the same SST-2 sample with the same model, optimizer
(AdamW, encoder and head rates, weight decay), schedule (linear warm-up and decay), batch size,
precision and number of epochs, evaluate a validation split after every epoch and keep the best
epoch: alsel's :class:`~alsel.learners.transformer.TransformerLearner` copies the best weights in
memory; ``Trainer`` (``eval_strategy="epoch"``, ``load_best_model_at_end`` with
``EarlyStoppingCallback``) saves a checkpoint each epoch and reloads the best. Patience is set
past the epochs, so both run every epoch and the times compare the loops, not where they stop.
Each runs ``--repeats`` times, alternating; the table gives the median wall time, the dev
accuracy of the kept model and the bytes Trainer wrote.

    python bench/trainer.py               # ~6 minutes on a 2-core CPU

Needs ``accelerate`` (Trainer's requirement; not one of alsel's). Writes docs/trainer.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from alsel.data import load_data
from alsel.io import write_text
from alsel.learners.transformer import TransformerLearner
from alsel.loops.validation import validation_split
from alsel.models import cpu_model, uses_bf16

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = dict(model="minilm", epochs=4, patience=99, lr=5e-5, head_lr=5e-3, batch_size=32, max_length=128, seed=0)


def _data(n: int):
    splits = load_data("sst2", limit=n, data_seed=0)
    fit_rows, held_rows = validation_split(splits.pool.labels, 0.1, seed=0)
    texts = splits.pool.texts
    return (
        [texts[i] for i in fit_rows],
        splits.pool.labels[fit_rows],
        [texts[i] for i in held_rows],
        splits.pool.labels[held_rows],
        splits.eval.texts,
        splits.eval.labels,
    )


def run_alsel(data) -> tuple[float, float, int]:
    fit_texts, fit_labels, held_texts, held_labels, dev_texts, dev_labels = data
    start = time.perf_counter()
    learner = TransformerLearner(**SETTINGS, collapse_guard=False)
    learner.fit(fit_texts, fit_labels, 2, validation=(held_texts, held_labels))
    seconds = time.perf_counter() - start
    return seconds, learner.evaluate(dev_texts, dev_labels)["accuracy"], 0


def run_trainer(data) -> tuple[float, float, int]:
    import datasets
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, Trainer, TrainingArguments

    fit_texts, fit_labels, held_texts, held_labels, dev_texts, dev_labels = data
    start = time.perf_counter()
    learner = TransformerLearner(**SETTINGS)  # the same model, tokenizer and optimizer groups
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup

    learner.tokenizer_ = learner._load(AutoTokenizer.from_pretrained)
    learner.n_classes_ = 2
    model, new = learner._fresh_classifier()
    learner.device_ = model.device
    optimizer = learner._optimizer(model, new, SETTINGS["lr"], SETTINGS["head_lr"])
    steps = -(-len(fit_texts) // SETTINGS["batch_size"]) * SETTINGS["epochs"]
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)

    def encode(texts, labels):
        ids = learner._encode(texts)
        return datasets.Dataset.from_dict({"input_ids": ids, "labels": [int(y) for y in labels]})

    def accuracy(prediction):
        return {"accuracy": float(np.mean(prediction.predictions.argmax(axis=1) == prediction.label_ids))}

    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            num_train_epochs=SETTINGS["epochs"],
            per_device_train_batch_size=SETTINGS["batch_size"],
            per_device_eval_batch_size=256,
            eval_strategy="epoch",
            save_strategy="epoch",
            load_best_model_at_end=True,
            metric_for_best_model="accuracy",
            save_total_limit=1,
            report_to=[],
            seed=SETTINGS["seed"],
            use_cpu=True,
            bf16=uses_bf16(),
            train_sampling_strategy="group_by_length",
            disable_tqdm=True,
            logging_strategy="no",
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=encode(fit_texts, fit_labels),
            eval_dataset=encode(held_texts, held_labels),
            data_collator=DataCollatorWithPadding(learner.tokenizer_),
            compute_metrics=accuracy,
            optimizers=(optimizer, scheduler),
            callbacks=[EarlyStoppingCallback(early_stopping_patience=SETTINGS["patience"])],
        )
        trainer.train()
        written = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
        seconds = time.perf_counter() - start
    learner.model_ = trainer.model.eval()
    return seconds, learner.evaluate(dev_texts, dev_labels)["accuracy"], written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="SST-2 sample (10%% becomes the validation split)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    data = _data(args.n)
    times = {"alsel": [], "trainer": []}
    accuracy, written = {}, 0
    for _ in range(args.repeats):
        for name, run in (("alsel", run_alsel), ("trainer", run_trainer)):
            seconds, accuracy[name], bytes_ = run(data)
            times[name].append(round(seconds, 2))
            written = max(written, bytes_)
            print(f"{name}: {seconds:.1f} s, dev accuracy {accuracy[name]:.4f}", flush=True)
    result = {
        "cpu": cpu_model(),
        "settings": SETTINGS,
        "n_fit": len(data[0]),
        "n_validation": len(data[2]),
        "seconds": times,
        "median_seconds": {k: statistics.median(v) for k, v in times.items()},
        "dev_accuracy": accuracy,
        "trainer_bytes_written": written,
    }
    result["trainer_over_alsel"] = round(result["median_seconds"]["trainer"] / result["median_seconds"]["alsel"], 3)
    write_text(ROOT / "docs" / "trainer.json", json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
