"""A small reader for the part of Wavefront OBJ that a triangle mesh needs: ``v`` and ``f`` lines.

Everything else (``vt``, ``vn``, ``o``, ``g``, ``s``, ``usemtl``, ``mtllib``, ``l``, ``p`` ...) is ignored, as
are comments and blank lines. Polygons are fan-triangulated around their first vertex. Texture and normal
indices in faces (``i/t``, ``i//n``, ``i/t/n``) are skipped: raydiff shades with flat face normals.
Negative indices count back from the latest vertex. A ``v`` line's values after x, y, z (a ``w``, or a
vertex colour) are ignored.

The text is UTF-8; a leading byte-order mark is dropped. Lines may end in LF, CRLF or CR, words may be
separated by spaces or tabs, and a line ending in a backslash goes on on the next line.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from ..errors import Location, SceneError
from ..io.paths import Problem, read_regular_file
from ..io.text import decode_utf8


def read_obj(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Read the vertices and triangles of a Wavefront OBJ file.

    Parameters
    ----------
    path : str
        The file to read (UTF-8 or plain ASCII text).

    Returns
    -------
    vertices : numpy.ndarray
        (V, 3) float64 positions; a ``w`` coordinate, if present, is ignored.
    faces : numpy.ndarray
        (F, 3) int64 vertex indices, 0-based; polygons are fan-triangulated.

    Raises
    ------
    SceneError
        If the file cannot be read, a ``v`` line has too few or non-numeric or non-finite values, a face
        has fewer than 3 vertices or an index that is zero, malformed or out of range, or there are no faces.
        The location names the file and, where it applies, the 1-based line.
    """
    text = _read_text(path)
    vertices: list[tuple[float, float, float]] = []
    faces: list[tuple[int, int, int]] = []
    for number, line in _logical_lines(text):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        where = Location(file=path, line=number)
        if words[0] == "v":
            vertices.append(_vertex(words[1:], where))
        elif words[0] == "f":
            corners = [_index(word, len(vertices), where) for word in words[1:]]
            if len(corners) < 3:
                raise SceneError(where, f"expected a face with at least 3 vertices, got {len(corners)}")
            faces.extend((corners[0], corners[i], corners[i + 1]) for i in range(1, len(corners) - 1))
    if not faces:
        raise SceneError(Location(file=path), "expected at least one face ('f' line), found none")
    return np.asarray(vertices, dtype=np.float64).reshape(-1, 3), np.asarray(faces, dtype=np.int64)


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """The 1-based number and text of each logical line: a line ending in a backslash goes on on the next.

    A continued line is numbered by its first physical line, where an editor shows its start.
    """
    pending: list[str] = []
    start = 1
    for number, line in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        yield start, " ".join(pending + [line])
        pending = []
    if pending:
        yield start, " ".join(pending)


def _read_text(path: str) -> str:
    """The file's text (a UTF-8 byte-order mark dropped), or a SceneError saying why it cannot be had."""

    def error(problem: Problem) -> SceneError:
        expected = "; expected an OBJ file" if problem.wrong_kind else ""
        return SceneError(Location(file=path), f"cannot read mesh file: {problem.reason}{expected}")

    data = read_regular_file(path, error)
    return decode_utf8(data, lambda line, message: SceneError(Location(file=path, line=line), message))


def _vertex(values: list[str], where: Location) -> tuple[float, float, float]:
    """The x, y, z of a ``v x y z [w]`` line (extra values, such as vertex colours, are ignored)."""
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        raise SceneError(where, f"expected a vertex 'v x y z', got 'v {' '.join(values)}'") from None
    if len(numbers) < 3:
        raise SceneError(where, f"expected a vertex 'v x y z' with 3 coordinates, got {len(numbers)}")
    if not all(math.isfinite(x) for x in numbers[:3]):
        raise SceneError(where, f"expected finite vertex coordinates, got 'v {' '.join(values)}'")
    return numbers[0], numbers[1], numbers[2]


def _index(word: str, count: int, where: Location) -> int:
    """The 0-based vertex index of one face corner (``i``, ``i/t``, ``i//n`` or ``i/t/n``).

    ``count`` is the number of vertices read so far: OBJ indices refer only to vertices defined above
    them, 1-based, or counting back from the latest with negative numbers (-1 is the latest).
    """
    try:
        index = int(word.split("/", 1)[0])
    except ValueError:
        raise SceneError(where, f"expected a vertex index in face corner '{word}'") from None
    if index == 0:
        raise SceneError(where, "expected a nonzero vertex index (OBJ indices start at 1), got 0")
    resolved = index - 1 if index > 0 else count + index
    if not 0 <= resolved < count:
        raise SceneError(where, f"vertex index {index} is out of range: {count} vertices defined so far")
    return resolved
