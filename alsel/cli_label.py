"""``alsel label``: an annotation project on a pool without labels (:mod:`alsel.labelling`).

``init`` makes the project, ``next`` chooses a batch and writes its file, ``import`` takes the
labels back, ``batch`` writes what is pending again, ``push`` and ``pull`` do the same through
Label Studio's API, ``status`` shows the learning curve and the
stopping signal, ``export`` writes the labelled set (and the model). Errors are one line, exit 2.
"""

from __future__ import annotations

import json

import click

from .cli_shared import key_values, loop_options, preset_option, rich_progress, strategy_options
from .labelling.batches import BATCH_FORMATS
from .labelling.project import PROJECT_OPTIONS
from .loops.presets import RECOMMENDED

__all__ = ["label"]

_PROJECT = click.argument("project", type=click.Path(file_okay=False))
_DEVICE = click.option("--device", default="auto", show_default=True, help="where models train: auto, cpu, cuda, cuda:1, ...")
_FORMAT = click.option(
    "--format",
    "format_",
    type=click.Choice(list(BATCH_FORMATS)),
    default=None,
    help="csv or jsonl (a spreadsheet: fill in the label column) or labelstudio (tasks to import); default: --out's suffix, else csv",
)


def _open(project: str, device: str = "auto", quiet: bool = True):
    from .labelling import LabelProject
    from .progress import SILENT

    return LabelProject(project, device=device, progress=SILENT if quiet else rich_progress())


@click.group()
def label():
    """Label a new pool: alsel chooses each batch, people label it, alsel chooses the next.

    \b
    alsel label init pool.csv --classes neg,pos --out project   # the recommended strategy, {recommended}
    alsel label next project --batch 50                          # writes project/batches/batch-001.csv
    alsel label import project project/batches/batch-001.csv      # after filling in its label column
    alsel label push project --title reviews                      # or: into a Label Studio project
    alsel label pull project                                      # ... and its annotations back
    alsel label status project                                    # learning curve and stopping signal
    alsel label export project --out labelled.csv --save-model model/
    """


label.help = (label.help or "").format(recommended=RECOMMENDED)


@label.command()
@click.argument("pool", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="the project directory (new or empty)")
@click.option("--text-column", default=None, help="the pool's text column (default: text, sentence, content or review)")
@click.option("--classes", default=None, help="the classes annotators choose from, comma-separated (neg,pos)")
@click.option(
    "--classes-from", type=click.Path(dir_okay=False), default=None, help="or: a small labelled file whose label column holds the classes"
)
@click.option("--label-column", default="label", show_default=True, help="the label column of --classes-from")
@preset_option
@click.option(
    "--strategy-option", "strategy_option", multiple=True, metavar="KEY=VALUE", help="option for strategies that take it (repeatable)"
)
@click.option(
    "--learner-option", "learner_option", multiple=True, metavar="KEY=VALUE", help="option for learners that take it (repeatable)"
)
@_DEVICE
@loop_options([name for name in PROJECT_OPTIONS if name not in ("strategy_options", "learner_options")])
def init(pool, out, text_column, classes, classes_from, label_column, preset, strategy_option, learner_option, device, **options):
    """Make an annotation project on POOL (CSV, TSV, JSONL or parquet; any label column is not read).

    The strategy is any of alsel loop's: a --preset, or --init (the first batch, and every batch
    while the labels hold one class) and --acq (each later batch, on a model trained on all the
    labels so far). Default: the recommended one."""
    from .labelling import LabelProject

    options["strategy_options"] = strategy_options(strategy_option, None, None)
    options["learner_options"] = key_values(learner_option, "--learner-option") or None
    project = LabelProject.create(
        out,
        pool,
        text_column=text_column,
        classes=classes,
        classes_from=classes_from,
        label_column=label_column,
        preset=preset,
        device=device,
        **{k: v for k, v in options.items() if v is not None},
    )
    config = project.config
    how = f"{config.init}" + (f", then {config.acq} on a {config.learner} model" if config.acq else "")
    click.echo(f"made {out}: {project.pool_record.rows:,} texts, classes {', '.join(map(str, project.classes))}; batches by {how}")
    click.echo(f"next: alsel label next {out} --batch N")


@label.command("next")
@_PROJECT
@click.option("--batch", "size", type=click.IntRange(min=1), required=True, help="how many texts to choose")
@_FORMAT
@click.option("--out", default=None, help="where to write the batch (default PROJECT/batches/batch-NNN.<ext>)")
@_DEVICE
@click.option("--quiet", "-q", is_flag=True, help="no progress bars or log lines")
def next_(project, size, format_, out, device, quiet):
    """Choose the next batch and write it for the annotators (refused while a batch is pending)."""
    batch, path = _open(project, device, quiet).next_batch(size, format=format_, out=out)
    click.echo(f"batch {batch.number}: {len(batch.ids):,} texts chosen by {batch.strategy} -> {path}")
    click.echo(f"label them, then: alsel label import {project} FILE")


@label.command("batch")
@_PROJECT
@_FORMAT
@click.option("--out", default=None, help="where to write it (default PROJECT/batches/batch-NNN.<ext>)")
def write_batch(project, format_, out):
    """Write what is still pending of the current batch again (another format, after a partial import)."""
    path = _open(project).write_batch(format=format_, out=out)
    click.echo(f"wrote the pending texts of the current batch to {path}")


@label.command("import")
@_PROJECT
@click.argument("file", type=click.Path(dir_okay=False))
def import_(project, file):
    """Take the labels of FILE: a filled-in batch (CSV/TSV/JSONL/parquet with id and label) or
    Label Studio's JSON export. Texts without a label stay pending; disagreeing labels are reported
    and none of them is taken."""
    _report_import(project, _open(project).import_labels(file))


def _report_import(project, report) -> None:
    click.echo(report.describe())
    if not report.pending:
        click.echo(f"next: alsel label next {project} --batch N, or alsel label status {project}")


_URL = click.option("--url", default=None, help="Label Studio's address (default: $LABEL_STUDIO_URL)")
_API_KEY = click.option("--api-key", default=None, help="a Label Studio API key (default: $LABEL_STUDIO_API_KEY)")


@label.command()
@_PROJECT
@_URL
@_API_KEY
@click.option("--ls-project", type=int, default=None, help="the id of the Label Studio project to push to")
@click.option("--title", default=None, help="or: its title (a project with this title is created if none has it)")
def push(project, url, api_key, ls_project, title):
    """Push the pending texts of the current batch into a Label Studio project, which is
    recorded, so later pushes and pulls need no --ls-project or --title."""
    ls_id, pushed = _open(project).push(url=url, api_key=api_key, ls_project=ls_project, title=title)
    click.echo(f"pushed the {pushed:,} pending texts to Label Studio project {ls_id} (texts it held already are not added again)")
    click.echo(f"label them there, then: alsel label pull {project}")


@label.command()
@_PROJECT
@_URL
@_API_KEY
def pull(project, url, api_key):
    """Import the annotations of the Label Studio project the batches were pushed to, as
    alsel label import imports Label Studio's JSON export."""
    _report_import(project, _open(project).pull(url=url, api_key=api_key))


@label.command()
@_PROJECT
@click.option(
    "--learner",
    default="logreg",
    show_default=True,
    help="the model the curve and the signal train (logreg: seconds; transformer: a fine-tuning per fold and batch)",
)
@_DEVICE
@click.option("--json", "as_json", is_flag=True, help="print the status as one JSON object on stdout")
def status(project, learner, device, as_json):
    """Labelled count, labels per class, and per batch the cross-validated accuracy on the labels
    so far and the agreement of successive models (the stopping signal)."""
    from rich.console import Console
    from rich.table import Table

    state = _open(project, device).status(learner)
    if as_json:
        curve = json.loads(state.curve.to_json(orient="records"))
        click.echo(
            json.dumps(
                {
                    "pool": state.pool,
                    "labelled": state.labelled,
                    "pending": state.pending,
                    "class_counts": state.class_counts,
                    "curve": curve,
                    "kappas": state.stability.kappas,
                    "stable": state.stability.stable,
                    "learner": state.learner,
                }
            )
        )
        return
    out = Console()
    classes = ", ".join(f"{name} {n:,}" for name, n in state.class_counts.items())
    out.print(f"{project}: {state.labelled:,} of {state.pool:,} texts labelled ({classes}); {state.pending:,} pending", soft_wrap=True)
    table = Table()
    for column in ("batch", "labelled", "accuracy", "folds", "agreement"):
        table.add_column(column, justify="right")
    for row in state.curve.itertuples(index=False):
        table.add_row(str(row.batch), f"{row.labelled:,}", _cell(row.accuracy, ".3f"), str(row.folds or ""), _cell(row.agreement, ".3f"))
    out.print(table)
    out.print(
        f"accuracy: {state.learner}, cross-validated on the labels so far; agreement: Cohen's kappa with the previous batch's model",
        soft_wrap=True,
    )
    out.print(state.stability.describe(), soft_wrap=True)


def _cell(value: float, spec: str) -> str:
    return "" if value != value else format(value, spec)


@label.command()
@_PROJECT
@click.option(
    "--format",
    "format_",
    default=None,
    help="csv, tsv, jsonl, parquet or hf (a datasets.save_to_disk folder); default: --out's suffix, else csv",
)
@click.option("--out", default=None, help="where to write (default PROJECT/labelled.<ext>)")
@click.option(
    "--save-model", type=click.Path(file_okay=False), default=None, help="also train the final model on every label and save it here"
)
@_DEVICE
def export(project, format_, out, save_model, device):
    """Write the labelled set (id, text, label, batch, score) in the order the batches chose it."""
    labelling = _open(project, device, quiet=save_model is None)
    path, n_rows = labelling.export(out, format_)
    click.echo(f"wrote {n_rows:,} labelled texts to {path}")
    if save_model is not None:
        click.echo(f"saved the final model to {labelling.save_model(save_model)}")
