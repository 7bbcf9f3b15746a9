"""What every command prints on failure, and the shared command-line options.

Errors are one line on stderr, ``error: <message>``, and exit code 1; the message comes from the library
and already names the file, the key and the line. An interrupt (Ctrl-C) prints ``interrupted`` and exits
with 130, the shell's code for SIGINT.
"""

from __future__ import annotations

import contextlib
import signal
from enum import Enum
from typing import Iterator, NoReturn

import typer

from raydiff import RaydiffError
from raydiff.backend import ARCHS

from .startup import EXIT_INTERRUPTED

EXIT_ERROR = 1


def choices(name: str, values, doc: str) -> type[Enum]:
    """A ``str`` Enum of the library's ``values`` (its own tuple of names), for a Typer option's choices:
    the CLI never restates what the library accepts. Members are named and valued by the names."""
    enum = Enum(name, [(str(value), str(value)) for value in values], type=str, module=__name__)
    enum.__doc__ = doc
    return enum


#: The compute backends ``--arch`` accepts: :data:`raydiff.backend.ARCHS`.
Arch = choices("Arch", ARCHS, "The compute backends ``--arch`` accepts.")


def _and(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


ARCH_HELP = f"Compute backend; auto takes the first of {_and(a for a in ARCHS if a != 'auto')} that works here."


def one_line(message: object) -> str:
    """``message`` as a single line (any line breaks joined with '; ')."""
    return "; ".join(part.strip() for part in str(message).splitlines() if part.strip()) or "unknown error"


def error(message: object) -> None:
    """Print ``error: <message>`` as one line on stderr (``error:`` in red on a terminal)."""
    typer.echo(typer.style("error:", fg="red", bold=True) + " " + one_line(message), err=True)


def fail(message: object) -> NoReturn:
    """Print the error line and exit with code 1."""
    error(message)
    raise typer.Exit(EXIT_ERROR)


def interrupted() -> NoReturn:
    """Print ``interrupted`` on stderr and exit with code 130."""
    typer.echo("interrupted", err=True)
    raise typer.Exit(EXIT_INTERRUPTED)


class _InterruptWatch:
    """Remembers whether Ctrl-C was pressed, while still raising KeyboardInterrupt as Python does.

    Taichi's kernel compiler can swallow the KeyboardInterrupt and fail with another exception; knowing
    that an interrupt came lets the CLI still say ``interrupted`` instead of showing that traceback.
    """

    def __init__(self) -> None:
        self.seen = False
        self._previous = None

    def _handler(self, signum, frame) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def __enter__(self) -> "_InterruptWatch":
        try:
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                self._previous = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread: leave signals alone
            self._previous = None
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


@contextlib.contextmanager
def ctrl_c_even_if_ignored() -> Iterator[None]:
    """Let Ctrl-C (SIGINT) raise KeyboardInterrupt in the block even where the command started with it
    ignored, as ``fit``'s own handler and the start-up guard already do; the disposition is restored after.

    A process started in the background of a script or a non-interactive shell (``cmd &``, ``nohup``, a CI
    step, a test suite run so) inherits SIGINT ignored, and Python then leaves it ignored: ``raydiff
    recover`` would run all its trials through a ``kill -INT`` or a Ctrl-C meant for it.
    """
    try:
        previous = signal.getsignal(signal.SIGINT)
        if previous in (signal.SIG_IGN, signal.SIG_DFL):
            signal.signal(signal.SIGINT, signal.default_int_handler)
        else:
            previous = None
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def reported_errors() -> Iterator[None]:
    """Turn a :class:`raydiff.RaydiffError` into an error line and exit code 1, and Ctrl-C into
    ``interrupted`` and exit code 130 (instead of a traceback)."""
    with _InterruptWatch() as watch:
        try:
            yield
        except RaydiffError as err:
            if watch.seen:  # a worker the interrupt ended, say: what stopped the command was Ctrl-C
                interrupted()
            fail(err)
        except KeyboardInterrupt:
            interrupted()
        except OSError as err:  # the disk, not raydiff: full, read-only, permissions
            if watch.seen:
                interrupted()
            fail(f"{err.filename}: {err.strerror or err}" if err.filename else err)
        except Exception:
            if watch.seen:
                interrupted()
            raise
