"""One way to run the CLI in-process, shared by the CLI tests."""

from typer.testing import CliRunner


def make_runner() -> CliRunner:
    """A CliRunner that keeps stderr apart from stdout (Click < 8.2 mixes them unless asked not to)."""
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:  # Click >= 8.2 always keeps them apart, and has no such argument
        return CliRunner()
