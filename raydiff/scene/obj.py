"""A small reader for the part of Wavefront OBJ that a triangle mesh needs: ``v`` and ``f`` lines.

Everything else (``vt``, ``vn``, ``o``, ``g``, ``s``, ``usemtl``, ``mtllib``, ``l``, ``p`` ...) is ignored, as
are comments and blank lines. Polygons are fan-triangulated around their first vertex. Texture and normal
indices in faces (``i/t``, ``i//n``, ``i/t/n``) are skipped: raydiff shades with flat face normals.
Negative indices count back from the latest vertex. A ``v`` line's values after x, y, z (a ``w``, or a
vertex colour) are ignored.

The text is UTF-8; a leading byte-order mark is dropped. Lines may end in LF, CRLF or CR, words may be
separated by spaces or tabs, and a line ending in a backslash goes on on the next line.

Two readers share these rules. :func:`_read_fast` does the whole file at once with numpy (a million
triangles in about a second): it takes the common case, plain ASCII outside comments, no continued lines,
and answers None for anything it cannot be sure of, a file with an error included. The line-by-line
reader then reads it and names the line at fault; it is the reference the tests hold the fast one to.
"""

from __future__ import annotations

import codecs
import math
import re
import warnings
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
    data = _read_bytes(path)
    text = None if data.isascii() else _decode(path, data)  # a file that is not UTF-8 is refused here
    fast = _read_fast(data)
    if fast is not None:
        return fast
    return _read_lines(path, _decode(path, data) if text is None else text)


def _read_bytes(path: str) -> bytes:
    """The file's bytes, or a SceneError saying why it cannot be had."""

    def error(problem: Problem) -> SceneError:
        expected = "; expected an OBJ file" if problem.wrong_kind else ""
        return SceneError(Location(file=path), f"cannot read mesh file: {problem.reason}{expected}")

    return read_regular_file(path, error)


def _decode(path: str, data: bytes) -> str:
    """The file's text (a UTF-8 byte-order mark dropped), or a SceneError naming the line that is not UTF-8."""
    return decode_utf8(data, lambda line, message: SceneError(Location(file=path, line=line), message))


# --------------------------------------------------------------------------------------------------------
# The fast reader: the whole file at once
# --------------------------------------------------------------------------------------------------------

#: The bytes the fast reader takes outside comments: printable ASCII, tab and the line ends. Anything else
#: (control characters, which ``str.split`` may treat as white space or line breaks; non-ASCII text) goes
#: to the line-by-line reader.
_PLAIN = bytes(range(32, 127)) + b"\t\n\r"
_COMMENT = re.compile(rb"#[^\n]*")
_NUMBER_BYTES = b"0123456789+-.eE \n"


def _read_fast(data: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`read_obj`'s answer for the whole file at once, or None where the line-by-line reader must decide.

    The text is first brought to one form: line ends to LF, comments removed, words separated by one
    space, no space at a line's start or end. Then the ``v`` and ``f`` lines are found by their first two
    bytes, their numbers parsed with numpy, and each face line's indices resolved against the number of
    ``v`` lines above it.
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    if b"\\" in data:  # a line may go on on the next
        return None
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if b"#" in data:
        data = _COMMENT.sub(b"", data)
    if data.translate(None, _PLAIN):
        return None
    data = data.replace(b"\t", b" ")  # (each step copies only if it changes something)
    while b"  " in data:
        data = data.replace(b"  ", b" ")
    data = data.replace(b" \n", b"\n").replace(b"\n ", b"\n").strip(b" ")
    alone = (b"v", b"f")
    if (not data or data in alone or data.startswith((b"v\n", b"f\n")) or data.endswith((b"\nv", b"\nf"))
            or b"\nv\n" in data or b"\nf\n" in data):
        return None  # no text, or a 'v' or 'f' with nothing after it: an error

    # Which lines are 'v' and 'f' lines, in order: how many vertices each face line may index.
    chars = np.frombuffer(data, dtype=np.uint8)
    breaks = np.flatnonzero(chars == ord("\n"))
    starts = np.concatenate([[0], breaks + 1])  # line i is data[starts[i]:ends[i]]
    ends = np.append(breaks, len(data))
    first = chars[np.minimum(starts, len(chars) - 1)]
    second = chars[np.minimum(starts + 1, len(chars) - 1)]
    is_vertex = (first == ord("v")) & (second == ord(" ")) & (ends - starts > 2)
    is_face = (first == ord("f")) & (second == ord(" ")) & (ends - starts > 2)
    del chars, first, second

    vertices = _vertex_block(_block(data, b"v", is_vertex, starts, ends), int(is_vertex.sum()))
    faces = _face_block(_block(data, b"f", is_face, starts, ends), np.cumsum(is_vertex)[is_face])
    if vertices is None or faces is None:
        return None
    return vertices, faces


def _block(data: bytes, key: bytes, lines: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> bytes:
    """The words after ``key`` of the lines where ``lines`` is True, one line each, LF-separated.

    Such lines come in runs (all the vertices of an object, then its faces), each cut out of ``data`` in
    one slice, so that the work is in C whatever the number of lines.
    """
    edges = np.diff(lines.astype(np.int8), prepend=0, append=0)
    runs = zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1)
    block = b"\n".join(data[starts[a] + len(key) + 1 : ends[b]] for a, b in runs)
    return block.replace(b"\n" + key + b" ", b"\n")


def _words_per_line(block: bytes, lines: int) -> np.ndarray:
    """How many words each of the ``lines`` LF-separated lines of ``block`` has (one space between words)."""
    chars = np.frombuffer(block, dtype=np.uint8)
    spaces = np.flatnonzero(chars == ord(" "))
    ends = np.append(np.flatnonzero(chars == ord("\n")), len(chars))
    if len(ends) != lines:
        raise AssertionError("the lines picked out do not match the lines counted")
    return np.diff(np.searchsorted(spaces, ends), prepend=0) + 1


def _parse(block: bytes, dtype) -> np.ndarray | None:
    """The numbers of ``block`` (words separated by spaces and line ends), or None if numpy stops early.

    Words of digits, signs, points and exponents only: numpy then reads a word as one number exactly when
    ``float`` (``int``) does, except that a lone ``-`` reads as the integer 0, and a word it cannot read
    as one number ends the parse or makes two, so that a count that is not the number of words tells.
    (tests/test_obj.py checks this against ``float`` and ``int`` on random words of those characters, and
    holds the fast reader to the line-by-line one on random files of them.)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns, and will raise, when it stops before the end
        try:
            return np.fromstring(block, dtype=dtype, sep=" ")
        except (ValueError, DeprecationWarning):
            return None


def _vertex_block(block: bytes, lines: int) -> np.ndarray | None:
    """The (V, 3) positions of the ``v`` lines' values ``block``, or None if a line has an error."""
    if not lines:
        return np.zeros((0, 3))
    if block.translate(None, _NUMBER_BYTES):
        return None  # nan, inf, 1_0 ...: for the line-by-line reader
    words = _words_per_line(block, lines)
    values = _parse(block, np.float64)
    if values is None or len(values) != words.sum() or words.min() < 3:
        return None
    starts = np.cumsum(words) - words
    vertices = values[starts[:, None] + np.arange(3)]
    return vertices if np.isfinite(vertices).all() else None


def _face_block(block: bytes, defined: np.ndarray) -> np.ndarray | None:
    """The (F, 3) 0-based triangles of the ``f`` lines' corners ``block``, fans of the polygons, or None if
    a line has an error; ``defined[i]`` is the number of vertices above face line ``i``."""
    if not len(defined) or block.translate(None, b"0123456789-/ \n"):
        return None
    if b"/" in block:  # i/t, i//n, i/t/n: only the vertex index counts
        if block.startswith(b"/") or b" /" in block or b"\n/" in block:
            return None
        block = re.sub(rb"/[^ \n]*", b"", block)
    words = _words_per_line(block, len(defined))
    corners = _parse(block, np.int64)
    if corners is None or len(corners) != words.sum() or words.min() < 3:
        return None
    # The vertices a corner may index: the same number for every face when they all follow the vertices.
    count = int(defined[0]) if defined[0] == defined[-1] else np.repeat(defined, words)
    if corners.min() > 0:  # no index counts back from the latest vertex: no second array of a million
        corners -= 1
        resolved = corners
    else:
        if (corners == 0).any():
            return None
        resolved = np.where(corners > 0, corners - 1, count + corners)
    if resolved.min() < 0 or (resolved >= count).any():
        return None
    if (words == 3).all():
        return resolved.reshape(-1, 3)
    fans = words - 2  # a polygon of k corners is k - 2 triangles around its first corner
    line = np.repeat(np.arange(len(words)), fans)
    start = (np.cumsum(words) - words)[line]
    j = np.arange(len(line)) - np.repeat(np.cumsum(fans) - fans, fans) + 1
    return np.stack([resolved[start], resolved[start + j], resolved[start + j + 1]], axis=1)


# --------------------------------------------------------------------------------------------------------
# The line-by-line reader, which names the line of an error
# --------------------------------------------------------------------------------------------------------


def _read_lines(path: str, text: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`read_obj` line by line, raising the SceneError of the first line at fault."""
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
