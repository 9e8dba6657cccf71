"""Command line: ``alsel loop``, ``alsel show``, ``alsel export``, ``alsel study``, ``alsel report``,
``alsel compare``, ``alsel strategies``, and ``alsel label`` (:mod:`alsel.cli_label`).

Heavy imports (torch, transformers) happen inside the commands, so ``alsel --help`` is instant.
Every error a user can fix prints one line and exits with status 2.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from . import __version__
from .cli_label import label
from .cli_shared import key_values, loop_options, preset_option, rich_progress, strategy_options
from .decision_rule import RULE, DecisionRule
from .errors import AlselError
from .loops.presets import BASELINE, PRESETS, RECOMMENDED
from .ray_cluster import EXECUTOR_CHOICES


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="alsel")
def cli():
    """alsel: which part of a labelled training set is worth fine-tuning on?

    \b
    alsel loop                                            # the recommended loop (bundled SST-2 + model)
    alsel loop --init kmeans --acq low_conf --rounds 2   # a loop of your own
    alsel loop --preset kmeans                            # one of the study's strategies
    alsel show runs/<run>                                 # the per-round log
    alsel export runs/<run> --out subset.csv              # the selected rows as a data set
    alsel study configs/sst2-study-cpu.yaml               # strategies x budgets x seeds
    alsel report studies/<study>                          # its tables, tests and plots
    alsel compare studies/<a> studies/<b> --out compare/  # the same strategies across data sets
    alsel label init pool.csv --classes neg,pos --out project  # label a new pool, batch by batch
    """


cli.add_command(label)


@cli.command()
@preset_option
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML file of options, or a run's config.json to replay it (flags override it)",
)
@click.option("--out", type=click.Path(file_okay=False), default=None, help="run directory (default runs/<name>); rerun to resume")
@click.option(
    "--strategy-option", "strategy_option", multiple=True, metavar="KEY=VALUE", help="option for strategies that take it (repeatable)"
)
@click.option(
    "--learner-option",
    "learner_option",
    multiple=True,
    metavar="KEY=VALUE",
    help="option for learners that take it, e.g. max_retries=0 (repeatable)",
)
@click.option("--projection-dim", type=int, default=None, help="kmeans: random-projection size (0 = none; default 32)")
@click.option("--region", type=click.Choice(["easy", "hard", "ambiguous"]), default=None, help="ambiguous: dataset-cartography region")
@click.option("--quiet", "-q", is_flag=True, help="no progress bars or log lines (errors are still printed)")
@click.option("--json", "as_json", is_flag=True, help="print the final metrics as one JSON object on stdout")
@loop_options()
def loop(preset, config_file, out, strategy_option, learner_option, projection_dim, region, quiet, as_json, **overrides):
    """Run an active-learning loop (or one of the study's fixed strategies).

    Without a preset or any of --init, --acq and --rounds it runs the recommended loop,
    {recommended}: {description}. With any of those three, the defaults shown below fill the rest."""
    from .loops.config import LoopConfig
    from .progress import SILENT
    from .run import default_out_dir, run_loop

    overrides["strategy_options"] = strategy_options(strategy_option, projection_dim, region)
    overrides["learner_options"] = key_values(learner_option, "--learner-option") or None
    if config_file is not None and not Path(config_file).is_file():
        raise AlselError(f"{config_file}: no such config file")
    config = LoopConfig.from_options(preset=preset, config_file=config_file, **overrides)
    resolved = config.resolved()
    out_dir = Path(out) if out else default_out_dir(resolved)
    shown = None if quiet else rich_progress()
    metrics = run_loop(config, out_dir, progress=shown or SILENT)
    if as_json:
        click.echo(json.dumps(metrics, sort_keys=True))
    if shown is not None:
        shown.console.print(
            f"[bold]done[/]: accuracy {metrics['accuracy']:.4f}, f1 {metrics['f1']:.4f} on {metrics['n_eval']:,} eval examples, "
            f"trained on {metrics['n_train']:,} (majority class {metrics['majority_accuracy']:.4f}) -> {out_dir}"
        )
        shown.console.print(f"inspect with: alsel show {out_dir}")
    if metrics.get("failed"):
        click.echo(f"alsel: failed: {metrics['failed']}", err=True)
        raise SystemExit(1)


loop.help = (loop.help or "").format(recommended=RECOMMENDED, description=PRESETS[RECOMMENDED].description)


def _epochs_cell(record) -> str:
    """``4/7`` (the epoch kept of those run), with the collapse guard's retries; the bare count
    for a learner that reports no best epoch."""
    training = record.training or {}
    if "best_epoch" not in training:
        return "" if record.epochs is None else str(record.epochs)
    retries = len(training.get("retries", []))
    return f"{training['best_epoch']}/{training['epochs']}" + (f" +{retries} retries" if retries else "")


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
def show(run_dir):
    """Print a run's per-round log as a table."""
    from rich.console import Console
    from rich.table import Table

    from .loops.rundir import RunDir

    run = RunDir(run_dir)
    path = run.path
    config = run.read_config()  # every read first: a damaged file is one line, not half a table
    if config is None:
        raise AlselError(f"{run_dir}: not a run directory (no {RunDir.CONFIG})")
    records = run.read_checkpoint().rounds
    metrics = run.read_metrics()
    names = config["data"]["label_names"]
    title = (
        f"{path.name}: init {config['init']}, acq {config['acq']}, {config['rounds']} rounds, "
        f"budget {config['plan']['budget']:,} of {config['data']['n_pool']:,}, model {config['model']}, seed {config['seed']}"
    )
    if config.get("learner", "transformer") != "transformer" or config.get("final_learner"):  # older runs lack the keys
        title += f", learner {config['learner']}" + (f" (final: {config['final_learner']})" if config.get("final_learner") else "")
    caption = f"classes: {' / '.join(names)}; epochs: the one kept / run; added: acquired after the round; p_gold: their mean"
    table = Table(caption=caption, caption_justify="left")
    for column in ("round", "trained", "classes", "epochs", "accuracy", "f1", "added", "p_gold", "sec"):
        table.add_column(column, justify="right", no_wrap=True)
    for record in records:
        acquired = (record.scores or {}).get("acquired", {}).get("p_gold")
        table.add_row(
            str(record.round) + ("" if record.in_result else " seed"),
            f"{record.n_labeled:,}",
            "/".join(str(record.class_counts[name]) for name in names),
            _epochs_cell(record),
            f"{record.accuracy:.4f}",
            f"{record.f1:.4f}",
            f"{record.n_acquired:,}",
            "" if acquired is None else f"{acquired['mean']:.3f}",
            f"{record.seconds:.1f}",
        )
    console = Console()
    console.print(title, soft_wrap=True)
    console.print(table)
    if metrics:
        console.print(
            f"final: accuracy {metrics['accuracy']:.4f}, f1 {metrics['f1']:.4f}, trained on {metrics['n_train']:,}, {metrics['seconds']:.0f} s"
        )
        if metrics.get("failed"):
            console.print(f"[bold red]failed[/]: {metrics['failed']}")
    else:
        console.print(
            f"unfinished: {len(records)} of {config['rounds'] + 1} rounds done; rerun `alsel loop` with --out {run_dir} to resume"
        )


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--format",
    "format_",
    default=None,
    help="csv, tsv, jsonl, parquet or hf (a datasets.save_to_disk folder); default: --out's suffix, else csv",
)
@click.option("--out", default=None, help="where to write (default RUN_DIR/selected.<ext>, or complement.<ext>)")
@click.option("--complement", is_flag=True, help="write the rest of the pool instead: what the run did not select")
def export(run_dir, format_, out, complement):
    """Write a finished run's selected rows (id, text, label, round, score) as a data set."""
    from .export import export_run

    path, n_rows = export_run(run_dir, format=format_, out=out, complement=complement)
    click.echo(f"wrote {n_rows:,} {'unselected' if complement else 'selected'} examples to {path}")


@cli.command()
@click.argument("config_path", type=click.Path(dir_okay=False))
@click.option("--limit", type=int, default=None, help="pool sample size for every run")
@click.option("--seeds", default=None, help="comma-separated seeds, e.g. 0,1")
@click.option("--strategies", default=None, help="comma-separated strategy names from the config")
@click.option("--budgets", default=None, help="comma-separated budgets, e.g. 0.05,0.1")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="study directory (default studies/<name>)")
@click.option("--executor", type=click.Choice(EXECUTOR_CHOICES), default=None, help="local (default) or ray: one Ray task per run")
@click.option("--address", default=None, help="ray: address of an existing cluster (default: start a local one)")
@click.option("--dry-run", is_flag=True, help="list the runs and which are done; run nothing")
@click.option("--json", "as_json", is_flag=True, help="print the summary table as JSON (a list of row objects) on stdout")
def study(config_path, limit, seeds, strategies, budgets, out, executor, address, dry_run, as_json):
    """Run a grid of strategies x budgets x seeds; rerunning resumes it."""
    from .study import run_study

    if not Path(config_path).is_file():
        raise AlselError(f"{config_path}: no such study config")
    progress = rich_progress()
    summary = run_study(
        config_path,
        limit=limit,
        seeds=seeds,
        strategies=strategies,
        budgets=budgets,
        out=out,
        executor=executor,
        address=address,
        dry_run=dry_run,
        progress=progress,
    )
    frame = summary.table()
    if as_json:
        click.echo(frame.to_json(orient="records"))
    else:
        _print_study_table(summary, frame)
    if not dry_run:
        progress.console.print(f"report with: alsel report {summary.study_dir}")
    if summary.exit_code:
        sys.exit(summary.exit_code)


def _print_study_table(summary, frame) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=summary.describe(), title_justify="left")
    show_notes = frame["error"].notna().any()
    for column in ("strategy", "budget", "seed", "status", "accuracy", "f1", "sec") + (("note",) if show_notes else ()):
        table.add_column(column, justify="left" if column in ("strategy", "status", "note") else "right")
    for row in frame.itertuples(index=False):
        cells = [
            row.strategy,
            str(row.budget),
            str(row.seed),
            row.status,
            _fmt(row.accuracy, ".4f"),
            _fmt(row.f1, ".4f"),
            _fmt(row.seconds, ".0f"),
        ]
        note = _fmt(row.error, "")  # NaN, a float rich cannot print, where a run has no note
        table.add_row(*cells, *((note,) if show_notes else ()))
    Console().print(table)


@cli.command()
@click.argument("study_dir", type=click.Path(file_okay=False))
def report(study_dir):
    """Write results.csv, report.md and plots for a study directory, and print the main table."""
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from .report import write_report

    if not Path(study_dir).is_dir():
        raise AlselError(f"{study_dir}: no such study directory")
    paths = write_report(study_dir, warn=_warn)
    summary = pd.read_csv(paths["summary"])
    table = Table(title=f"{study_dir}: accuracy (%) on the evaluation set against random, paired by seed", title_justify="left")
    for column in ("strategy", "budget", "seeds", "accuracy", "Δ points", "p (Holm)", "verdict", "% full"):
        table.add_column(column, justify="left" if column in ("strategy", "verdict") else "right", no_wrap=column != "strategy")
    short = {"no significant difference": "n.s."}
    for r in summary.itertuples(index=False):
        table.add_row(
            r.strategy,
            r.budget if isinstance(r.budget, str) else f"{r.budget:g}",
            str(r.n),
            f"{100 * r.accuracy_mean:.2f}",
            _fmt(100 * r.diff_mean, "+.2f"),
            _fmt(r.p_holm, ".3f"),
            "" if pd.isna(r.verdict) else short.get(r.verdict, str(r.verdict)),
            _fmt(r.pct_full, ".1f"),
        )
    console = Console()
    console.print(table)
    console.print(
        "p (Holm): the paired t-test over seeds and the sign-flip test over evaluation sentences must both "
        "reject, Holm-adjusted over the comparisons; n.s.: not significant. CIs and costs: report.md"
    )
    for name, path in paths.items():
        console.print(f"{name}: {path}")


@cli.command()
@click.argument("study_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="compare",
    show_default=True,
    help="folder for compare.csv, compare.md and the figures",
)
@click.option("--budget", default="0.1", show_default=True, help="the budget the pooled, efficiency and cost tables are at")
@click.option(
    "--baseline",
    default=BASELINE,
    show_default=True,
    help="the strategy every other is paired with (for example the expensive loop a cheaper one should keep up with)",
)
@click.option(
    "--max-cost",
    type=click.FloatRange(min=0, min_open=True),
    default=RULE.max_cost_ratio,
    show_default=True,
    help="decision rule: highest median cost of a run as a multiple of random's, on any set (embeddings cached)",
)
@click.option(
    "--tie",
    type=click.FloatRange(min=0),
    default=100 * RULE.tie,
    show_default=True,
    help="decision rule: pooled differences within this many points of the best are a tie, won by the cheaper loop",
)
@click.option(
    "--keep-gain-of",
    default=RULE.keep_gain_of or "none",
    show_default=True,
    help="decision rule: the loop whose gain the chosen one must keep (paired with it: worse on no set, pooled CI reaching 0); 'none': no such filter",
)
@click.option(
    "--strategies",
    default=None,
    help="comma-separated: compare only these (the baseline and the rule's --keep-gain-of loop are read too), "
    "as if the studies held no others; default: every strategy the studies ran",
)
@click.option(
    "--budgets",
    default=None,
    help="comma-separated: read only the runs at these budgets, as if the studies held no others (a reading made "
    "at 10% stays the same when budget curves are added: the Holm correction counts only these); default: every budget",
)
def compare(study_dirs, out, budget, baseline, max_cost, tie, keep_gain_of, strategies, budgets):
    """Compare the strategies of several studies (one per data set) with a baseline, random by
    default: per-set differences, a random-effects pooled difference, label efficiency and cost;
    against random, the decision rule's choice (docs/results.md, The loop question again)."""
    from .loops.config import parse_budget
    from .report import write_comparison

    missing = [d for d in study_dirs if not Path(d).is_dir()]
    if missing:
        raise AlselError(f"{missing[0]}: no such study directory")
    rule = DecisionRule(max_cost, tie / 100, None if keep_gain_of.lower() == "none" else keep_gain_of)
    read = None if budgets is None else [parse_budget(b, "--budgets") for b in budgets.split(",")]
    paths = write_comparison(
        study_dirs, out, budget=parse_budget(budget), baseline=baseline, rule=rule, strategies=strategies, budgets=read, warn=_warn
    )
    for name, path in paths.items():
        click.echo(f"{name}: {path}")
    if "decision" in paths:
        import pandas as pd

        chosen = pd.read_csv(paths["decision"]).query("chosen")["strategy"].tolist()
        click.echo(f"the decision rule chooses: {chosen[0] if chosen else 'none (no strategy passes every filter; see compare.md)'}")


def _warn(line: str) -> None:
    click.echo(f"warning: {line}", err=True)


def _fmt(value, spec: str) -> str:
    """A value for a table cell (a number as ``spec`` says); empty for a missing one."""
    return "" if value is None or value != value else format(value, spec)


@cli.command("strategies")
def list_strategies():
    """List the acquisition functions (built-in and plug-ins), presets and learners."""
    import shutil
    import textwrap

    from .loops.learning import learner_names
    from .strategies.listing import describe_strategies, entry_lines

    width = min(shutil.get_terminal_size().columns, 100)
    click.echo(describe_strategies(width))
    click.echo("\nPresets (--preset):")
    for name, preset in PRESETS.items():
        description = f"recommended: {preset.description}" if name == RECOMMENDED else preset.description
        click.echo("\n".join(entry_lines(name, description, width)))
    click.echo("\n" + textwrap.fill("Learners (--learner): " + ", ".join(learner_names()) + ", or package.module:Class", width))


def main(argv=None) -> None:
    """Entry point: one-line errors with exit status 2, never a traceback for bad input."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        code = cli.main(args=argv, prog_name="alsel", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted; rerun the same command to resume", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted; rerun the same command to resume", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(2)
    except AlselError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"error: {where}{exc.strerror or exc}", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
