"""`harness`: the command-line entry point. Each command group lives in harness/commands/."""

from __future__ import annotations

import sys

import typer

from harness.commands import config as config_cmd
from harness.commands import data as data_cmd
from harness.commands import eval as eval_cmd
from harness.commands import report as report_cmd
from harness.commands import sweep as sweep_cmd
from harness.commands import train as train_cmd
from harness.commands import tune as tune_cmd
from harness.commands import weights as weights_cmd
from harness.errors import HarnessError

app = typer.Typer(
    name="harness",
    help="EchoMimicV2 ablation harness: train every ablation on Ray, tune with Optuna, "
    "evaluate with the paper's metrics, track in MLflow, generate reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(config_cmd.app, name="config")
app.add_typer(data_cmd.app, name="data")
app.command("train")(train_cmd.train_command)
app.command("sample")(train_cmd.sample_command)
app.command("eval")(eval_cmd.eval_command)
app.add_typer(weights_cmd.app, name="weights")
app.command("sweep")(sweep_cmd.sweep_command)
app.command("ui")(sweep_cmd.ui_command)
app.command("tune")(tune_cmd.tune_command)
app.command("report")(report_cmd.report_command)


def main() -> None:
    """Console-script entry: user mistakes end as one line on stderr and exit code 2."""
    try:
        app()
    except HarnessError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
