"""The errors raydiff raises.

The library never prints and never exits: it raises one of these, and the CLI turns each into one line on
stderr and a non-zero exit code. Every error carries enough to point at the cause: the file, the key (as a
dotted path) and, where the YAML parser knew it, the line.
"""

from __future__ import annotations

from dataclasses import dataclass


class RaydiffError(Exception):
    """Base class of every error raydiff raises on purpose."""


@dataclass
class Location:
    """Where in an input file something went wrong.

    Parameters
    ----------
    file : str
        The file's path as the user gave it (or as resolved from the scene file).
    key : str, optional
        The dotted path of the offending key, e.g. ``objects[2].radius`` or ``lights.key.position``.
    line : int, optional
        1-based line number in the file, when known.
    """

    file: str
    key: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return where if not self.key else f"{where}: {self.key}"


class SceneError(RaydiffError):
    """A scene file (or a file it refers to, such as a mesh) is malformed or inconsistent."""

    def __init__(self, location: Location, message: str):
        self.location = location
        self.message = message
        super().__init__(f"{location}: {message}")


class FileError(RaydiffError):
    """A file (not a scene) that could not be read or written.

    Parameters
    ----------
    file : str
        The file or folder concerned, as the user gave it.
    message : str
        What went wrong, and what was expected.
    """

    def __init__(self, file: str, message: str):
        self.file = file
        self.message = message
        super().__init__(f"{file}: {message}")

    @property
    def path(self) -> str:
        return self.file


class ImageError(FileError):
    """An image could not be read or written, or does not fit the film."""


class OutputError(FileError):
    """An output file or folder could not be written, or the output folder is not usable."""


class BackendError(RaydiffError):
    """The requested compute backend is not available on this machine."""


class ResourceError(RaydiffError):
    """A command would need more than there is: more memory than the machine has, or a number beyond what
    the device's float32 and int32 hold. Raised in a command's check phase, before anything is allocated or
    written.

    Parameters
    ----------
    where : str
        What to change: the scene file, or the option (``--spp``).
    message : str
        What it would need, what there is, and what lowers it.
    """

    def __init__(self, where: str, message: str):
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")
