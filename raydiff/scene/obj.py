"""A small reader for the part of Wavefront OBJ that a triangle mesh needs: ``v``, ``vt``, ``vn`` and ``f`` lines.

Everything else (``o``, ``g``, ``s``, ``usemtl``, ``mtllib``, ``l``, ``p``, ``vp`` ...) is ignored, as are
comments and blank lines. Polygons are fan-triangulated around their first vertex. A face corner is
``v``, ``v/vt``, ``v//vn`` or ``v/vt/vn``; every corner of a file has the same form (the first corner's),
so that a mesh has texture coordinates and normals everywhere or nowhere. Negative indices count back
from the latest ``v``, ``vt`` or ``vn`` line. A ``v`` line's values after x, y, z (a ``w``, or a vertex
colour) are ignored, as is a ``vt`` line's third coordinate and anything after a ``vn`` line's three; a
normal must not be zero. ``vt`` and ``vn`` lines that no face refers to are read and dropped.

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
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..errors import Location, SceneError
from ..io.heap import return_large_blocks
from ..io.paths import Problem, read_regular_file
from ..io.text import decode_utf8


@dataclass(frozen=True, eq=False)
class ObjMesh:
    """What :func:`read_obj_mesh` reads from an OBJ file: a triangle mesh and its corners' attributes.

    Attributes
    ----------
    vertices : numpy.ndarray
        (V, 3) float64 positions.
    faces : numpy.ndarray
        (F, 3) int64 vertex indices, 0-based; polygons are fan-triangulated.
    texcoords, texcoord_faces : numpy.ndarray or None
        (T, 2) float64 ``vt`` values (u, v) as the file writes them, and (F, 3) int64 indices into them per
        triangle corner; None when the faces have no ``vt`` index.
    normals, normal_faces : numpy.ndarray or None
        (N, 3) float64 ``vn`` values (nonzero, not necessarily unit length) and (F, 3) int64 indices into
        them per triangle corner; None when the faces have no ``vn`` index.
    """

    vertices: np.ndarray
    faces: np.ndarray
    texcoords: np.ndarray | None = None
    texcoord_faces: np.ndarray | None = None
    normals: np.ndarray | None = None
    normal_faces: np.ndarray | None = None


def read_obj(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Read the vertices and triangles of a Wavefront OBJ file (:func:`read_obj_mesh` without the corners'
    texture coordinates and normals).

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
    mesh = read_obj_mesh(path)
    return mesh.vertices, mesh.faces


def read_obj_mesh(path: str) -> ObjMesh:
    """Read a Wavefront OBJ file: its triangles and, where its faces index them, texture coordinates and normals.

    Parameters
    ----------
    path : str
        The file to read (UTF-8 or plain ASCII text).

    Returns
    -------
    ObjMesh

    Raises
    ------
    SceneError
        As :func:`read_obj`, and if a ``vt`` line has fewer than 2 or a ``vn`` line fewer than 3 numeric,
        finite values, a normal is zero, a face corner is not one of the four forms or not of the first
        corner's form, or a texture coordinate or normal index is zero, malformed or out of range. The
        location names the file and the 1-based line.
    """
    return_large_blocks()  # a large mesh's temporaries go back to the system when freed
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

#: A file of more bytes than this has its faces read on a second thread (:func:`_read_fast`).
_PARALLEL_BYTES = 1 << 20

#: Held while the warnings' filters are changed to catch numpy stopping early (:func:`_parse`).
_WARNINGS = threading.Lock()


def _read_fast(data: bytes) -> ObjMesh | None:
    """:func:`read_obj_mesh`'s answer for the whole file at once, or None where the line-by-line reader must
    decide.

    The text is first brought to one form: line ends to LF, comments removed, words separated by one
    space, no space at a line's start or end. Then the ``v``, ``vt``, ``vn`` and ``f`` lines are found by
    their first bytes, their numbers parsed with numpy, and each face line's indices resolved against the
    number of ``v`` (``vt``, ``vn``) lines above it.
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    if b"\\" in data:  # a line may go on on the next
        return None
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if b"#" in data:
        data = _without_comments(data)
    if data.translate(None, _PLAIN):
        return None
    if b"\t" in data:
        data = data.replace(b"\t", b" ")
    if not data:
        return None
    chars = np.frombuffer(data, dtype=np.uint8)
    lines = _lines(chars)
    if _spaced(chars, *lines):  # (a file written by a program rarely is: numpy looks, bytes.replace copies)
        while b"  " in data:
            data = data.replace(b"  ", b" ")
        data = data.replace(b" \n", b"\n").replace(b"\n ", b"\n").strip(b" ")
        if not data:
            return None
        chars = np.frombuffer(data, dtype=np.uint8)
        lines = _lines(chars)

    # Which lines are 'v', 'vt', 'vn' and 'f' lines, in order: how many of each a face line may index.
    starts, ends, first = lines  # line i is data[starts[i]:ends[i]]
    second = chars[np.minimum(starts + 1, len(chars) - 1)]
    length = ends - starts
    is_attribute = (first == ord("v")) & ((second == ord("t")) | (second == ord("n")))
    if (((length == 1) & ((first == ord("v")) | (first == ord("f")))) | ((length == 2) & is_attribute)).any():
        return None  # a 'v', 'vt', 'vn' or 'f' with nothing after it: an error
    is_vertex = (first == ord("v")) & (second == ord(" ")) & (length > 2)
    is_face = (first == ord("f")) & (second == ord(" ")) & (length > 2)
    is_texcoord = is_normal = None
    if is_attribute.any():
        third = chars[np.minimum(starts + 2, len(chars) - 1)]
        long = (first == ord("v")) & (third == ord(" ")) & (ends - starts > 3)
        is_texcoord, is_normal = long & (second == ord("t")), long & (second == ord("n"))
        del third, long
    del chars, first, second, length, is_attribute

    def defined(lines: np.ndarray | None) -> np.ndarray:
        """The number of ``lines`` above each face line."""
        return np.zeros(int(is_face.sum()), np.int64) if lines is None else np.cumsum(lines)[is_face]

    def read_faces():
        return _face_block(_block(data, b"f", is_face, starts, ends), np.cumsum(is_vertex)[is_face],
                           lambda: (defined(is_texcoord), defined(is_normal)))

    # A large file's faces are read on a second thread while this one reads the values (numpy's parsing
    # lets the interpreter go, so that two cores work).
    with ThreadPoolExecutor(1) as pool:
        faces = pool.submit(read_faces) if len(data) > _PARALLEL_BYTES else None
        vertices = _read_values(data, starts, ends, is_vertex, is_texcoord, is_normal)
        faces = faces.result() if faces is not None else read_faces()
    if vertices is None or faces is None:
        return None
    vertices, texcoords, normals = vertices
    corners, texcoord_faces, normal_faces = faces
    return ObjMesh(vertices, corners,
                   None if texcoord_faces is None else texcoords, texcoord_faces,
                   None if normal_faces is None else normals, normal_faces)


def _read_values(data: bytes, starts: np.ndarray, ends: np.ndarray, is_vertex: np.ndarray,
                 is_texcoord: np.ndarray | None, is_normal: np.ndarray | None) -> tuple | None:
    """The ``v``, ``vt`` and ``vn`` values of the lines ``data[starts[i]:ends[i]]`` that the masks mark, or
    None if a line has an error (a zero normal included); ``vt`` and ``vn`` are None when the masks are."""
    vertices = _value_block(_block(data, b"v", is_vertex, starts, ends), int(is_vertex.sum()), 3)
    texcoords = normals = None
    if is_texcoord is not None:
        texcoords = _value_block(_block(data, b"vt", is_texcoord, starts, ends), int(is_texcoord.sum()), 2)
        normals = _value_block(_block(data, b"vn", is_normal, starts, ends), int(is_normal.sum()), 3)
        if texcoords is None or normals is None or not (normals != 0.0).any(axis=1).all():
            return None  # a zero normal is an error
    return None if vertices is None else (vertices, texcoords, normals)


def _without_comments(data: bytes) -> bytes:
    """``data`` with every ``#`` and the rest of its line removed (the line end kept)."""
    if data.count(b"#") > 256:
        return _COMMENT.sub(b"", data)
    pieces, at = [], 0
    while (comment := data.find(b"#", at)) >= 0:
        pieces.append(data[at:comment])
        end = data.find(b"\n", comment)
        at = len(data) if end < 0 else end
    pieces.append(data[at:])
    pieces = [piece for piece in pieces if piece]
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)  # (a header's comment: one copy, not two)


def _lines(chars: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each LF-separated line of the text ``chars`` starts and ends (its end excluded), and its first
    character (the next line's LF for an empty line). The text must not be empty."""
    breaks = np.flatnonzero(chars == ord("\n"))
    starts = np.concatenate([[0], breaks + 1])
    ends = np.append(breaks, len(chars))
    return starts, ends, chars[np.minimum(starts, len(chars) - 1)]


def _spaced(chars: np.ndarray, starts: np.ndarray, ends: np.ndarray, first: np.ndarray) -> bool:
    """Whether the text ``chars`` (tabs already spaces; its :func:`_lines`) has two spaces in a row or a
    line that starts or ends with a space: words not yet separated by one space alone."""
    if not len(chars):
        return False
    if (first == ord(" ")).any() or (chars[np.maximum(ends - 1, 0)] == ord(" ")).any():
        return True
    # Two spaces in a row: the byte pairs at even and at odd offsets, read as 16-bit words (two passes
    # over half as many elements: twice as fast as comparing the bytes and their neighbours).
    pairs = (chars[j:j + ((len(chars) - j) & ~1)].view(np.uint16) for j in (0, 1))
    return any(bool((p == 0x2020).any()) for p in pairs)


def _block(data: bytes, key: bytes, lines: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> bytes:
    """The words after ``key`` of the lines where ``lines`` is True, one line each, LF-separated.

    Such lines come in runs (all the vertices of an object, then its faces), each cut out of ``data`` in
    one slice, so that the work is in C whatever the number of lines.
    """
    edges = np.diff(lines.astype(np.int8), prepend=0, append=0)
    runs = zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1)
    block = b"\n".join(data[starts[a] + len(key) + 1 : ends[b]] for a, b in runs)
    return block.replace(b"\n" + key + b" ", b"\n")


def _separators(block: bytes) -> tuple[np.ndarray, np.ndarray]:
    """``block``'s bytes and where its spaces and line ends are (the only bytes below ``!`` in a block)."""
    chars = np.frombuffer(block, dtype=np.uint8)
    return chars, np.flatnonzero(chars <= ord(" "))


def _words_per_line(chars: np.ndarray, separators: np.ndarray, lines: int) -> np.ndarray:
    """How many words each of the ``lines`` LF-separated lines of a block has (one space between words),
    from its :func:`_separators`: a line's words are its spaces and one more."""
    line_ends = np.flatnonzero(chars[separators] == ord("\n"))  # which separators end a line
    if len(line_ends) + 1 != lines:
        raise AssertionError("the lines picked out do not match the lines counted")
    return np.diff(np.concatenate([[-1], line_ends, [len(separators)]]))


def _fixed_point(block: bytes, chars: np.ndarray, separators: np.ndarray) -> np.ndarray | None:
    """The numbers of ``block`` when every word is ``[sign]digits.digits`` with the same number k of
    decimals and at most 15 digits (what a program writes with ``%.kf``), else None.

    Read as integers with the point taken out, then divided by 10^k: both numbers are exact in float64,
    so that the quotient, correctly rounded, is the decimal correctly rounded: ``float(word)`` (a zero
    with a minus sign is -0.0, as ``float`` has it). numpy reads integers in half the time of floats.
    """
    if b"e" in block or b"E" in block:
        return None
    starts = np.concatenate([[0], separators + 1])
    ends = np.append(separators, len(chars))
    point = block.find(b".")
    decimals = int(ends[0] - point - 1) if 0 <= point < ends[0] else 0  # the first word's
    if not 1 <= decimals <= 15 or np.count_nonzero(chars == ord(".")) != len(starts):
        return None
    length = ends - starts
    if (length > 16).any() or (length <= decimals).any():
        return None  # more than 15 digits (not exact in float64), or too short for k decimals and a point
    if (chars[ends - decimals - 1] != ord(".")).any():
        return None  # (as many points as words, each with one k digits from its end: one point a word)
    at_start = chars[starts]
    signs = np.count_nonzero(chars == ord("-")) + np.count_nonzero(chars == ord("+"))
    if signs != np.count_nonzero((at_start == ord("-")) | (at_start == ord("+"))):
        return None  # a sign inside a word (counts and the words' first bytes: no positions found)
    mantissas = _parse(block.replace(b".", b""), np.int64, digits_only=True)  # ([sign] digits, point, k digits)
    if mantissas is None or len(mantissas) != len(starts):
        return None
    values = mantissas / float(10**decimals)
    zeros = mantissas == 0
    if zeros.any():
        values[zeros & (at_start == ord("-"))] = -0.0
    return values


def _parse(block: bytes, dtype, digits_only: bool = False) -> np.ndarray | None:
    """The numbers of ``block`` (words separated by spaces and line ends), or None if numpy stops early.

    Words of digits, signs, points and exponents only: numpy then reads a word as one number exactly when
    ``float`` (``int``) does, except that a lone ``-`` reads as the integer 0, and a word it cannot read
    as one number ends the parse or makes two, so that a count that is not the number of words tells.
    (tests/test_obj.py checks this against ``float`` and ``int`` on random words of those characters, and
    holds the fast reader to the line-by-line one on random files of them.)

    ``digits_only``: the caller knows every word to be digits after at most a sign, which numpy reads to
    the end. The warnings' filters, which catch an early stop, are then left alone: they are the
    process's, and a large file's faces are parsed on a second thread (the two threads' changes would
    undo each other), so that their change is held under a lock, and only where numpy may stop early.
    """
    if digits_only:
        return np.fromstring(block, dtype=dtype, sep=" ")
    with _WARNINGS, warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns, and will raise, when it stops before the end
        try:
            return np.fromstring(block, dtype=dtype, sep=" ")
        except (ValueError, DeprecationWarning):
            return None


def _value_block(block: bytes, lines: int, size: int) -> np.ndarray | None:
    """The (lines, size) first values of the ``lines`` lines of ``block`` (the words after ``v``, ``vt`` or
    ``vn``), or None if a line has an error: fewer than ``size`` numbers, or one that is not finite."""
    if not lines:
        return np.zeros((0, size))
    if block.translate(None, _NUMBER_BYTES):
        return None  # nan, inf, 1_0 ...: for the line-by-line reader
    chars, separators = _separators(block)
    words = _words_per_line(chars, separators, lines)
    values = _fixed_point(block, chars, separators)
    if values is None:
        values = _parse(block, np.float64)
    del chars, separators
    if values is None or len(values) != words.sum() or words.min() < size:
        return None
    starts = np.cumsum(words) - words
    rows = values[starts[:, None] + np.arange(size)]
    return rows if np.isfinite(rows).all() else None


def _corner_form(block: bytes) -> tuple[bool, bool] | None:
    """Whether the first face corner of ``block`` has a texture coordinate and a normal index, or None."""
    end = len(block)
    for separator in (b" ", b"\n"):
        at = block.find(separator)
        end = min(end, at) if at >= 0 else end
    word = block[:end]
    slashes = word.count(b"/")
    if slashes > 2:
        return None
    return slashes >= 1 and b"//" not in word, slashes == 2


def _face_block(block: bytes, defined: np.ndarray, defined_attributes) -> \
        tuple[np.ndarray, np.ndarray | None, np.ndarray | None] | None:
    """The (F, 3) 0-based triangles of the ``f`` lines' corners ``block`` (fans of the polygons), and the
    same for their texture coordinate and normal indices (None where the corners have none), or None if a
    line has an error; ``defined[i]`` is the number of vertices above face line ``i``, and
    ``defined_attributes()`` gives the numbers of ``vt`` and ``vn`` lines above each face line."""
    if not len(defined) or block.translate(None, b"0123456789-/ \n"):
        return None
    form = _corner_form(block)
    if form is None:
        return None
    texcoord, normal = form
    per_corner = 1 + texcoord + normal
    words = _words_per_line(*_separators(block), len(defined))
    if per_corner == 1 and b"/" in block:
        return None  # corners of other forms than the first
    if per_corner > 1:  # every corner i/t, i//n or i/t/n, as the first: then their numbers, read together
        if normal and not texcoord:
            if block.count(b"//") != words.sum():
                return None
            block = block.replace(b"//", b"/")
        chars = np.frombuffer(block, dtype=np.uint8)
        separators = chars[(chars == ord("/")) | (chars == ord(" ")) | (chars == ord("\n"))]
        if len(separators) + 1 != per_corner * words.sum():
            return None
        separators = np.append(separators, ord("\n")).reshape(-1, per_corner)
        if (separators[:, :-1] != ord("/")).any() or (separators[:, -1] == ord("/")).any():
            return None  # each corner has its slashes, and no other
        block = block.replace(b"/", b" ")  # (an empty index then makes the count short)
    values = _parse(block, np.int64, digits_only=b"-" not in block)
    if values is None or len(values) != per_corner * words.sum() or words.min() < 3:
        return None
    values = values.reshape(-1, per_corner)
    limits = [defined]
    if per_corner > 1:
        texcoords_above, normals_above = defined_attributes()
        limits += ([texcoords_above] if texcoord else []) + ([normals_above] if normal else [])
    columns = []
    for j, limit in enumerate(limits):
        resolved = _resolve(values[:, j] if per_corner > 1 else values.reshape(-1), limit, words)
        if resolved is None:
            return None
        columns.append(_fan(resolved, words))
    columns += [None] * (3 - len(columns))
    if not texcoord:  # the columns in the order (vertex, texture coordinate, normal)
        columns = [columns[0], None, columns[1]]
    return columns[0], columns[1], columns[2]


def _resolve(corners: np.ndarray, defined: np.ndarray, words: np.ndarray) -> np.ndarray | None:
    """The 0-based indices of the 1-based or negative ``corners``, or None if one is zero or out of range;
    ``defined[i]`` is how many values face line ``i`` (of ``words[i]`` corners) may index."""
    # The values a corner may index: the same number for every face when they all follow the values.
    count = int(defined[0]) if defined[0] == defined[-1] else np.repeat(defined, words)
    if corners.min() > 0:  # no index counts back from the latest value: no second array of a million
        corners -= 1
        resolved = corners
    else:
        if (corners == 0).any():
            return None
        resolved = np.where(corners > 0, corners - 1, count + corners)
    if resolved.min() < 0 or (resolved >= count).any():
        return None
    return resolved


def _fan(resolved: np.ndarray, words: np.ndarray) -> np.ndarray:
    """The (F, 3) triangles of the polygons whose corners, ``words[i]`` for line ``i``, are ``resolved``: a
    polygon of k corners is k - 2 triangles around its first corner."""
    if (words == 3).all():
        return np.ascontiguousarray(resolved).reshape(-1, 3)
    fans = words - 2
    line = np.repeat(np.arange(len(words)), fans)
    start = (np.cumsum(words) - words)[line]
    j = np.arange(len(line)) - np.repeat(np.cumsum(fans) - fans, fans) + 1
    return np.stack([resolved[start], resolved[start + j], resolved[start + j + 1]], axis=1)


# --------------------------------------------------------------------------------------------------------
# The line-by-line reader, which names the line of an error
# --------------------------------------------------------------------------------------------------------

#: The forms of a face corner, for messages.
_FORMS = "'v', 'v/vt', 'v//vn' or 'v/vt/vn'"


def _read_lines(path: str, text: str) -> ObjMesh:
    """:func:`read_obj_mesh` line by line, raising the SceneError of the first line at fault."""
    vertices: list[tuple[float, float, float]] = []
    texcoords: list[tuple[float, float]] = []
    normals: list[tuple[float, float, float]] = []
    corners: list[list[tuple[int, int, int]]] = [[], [], []]  # vertex, texture coordinate, normal: fans
    first: tuple[str, int, tuple[bool, bool]] | None = None  # the first corner: its word, line and form
    for number, line in _logical_lines(text):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        where = Location(file=path, line=number)
        if words[0] == "v":
            vertices.append(_vertex(words[1:], where))
        elif words[0] == "vt":
            texcoords.append(_values(words[1:], where, "vt", "a texture coordinate 'vt u v'", 2))
        elif words[0] == "vn":
            normals.append(_normal(words[1:], where))
        elif words[0] == "f":
            counts = (len(vertices), len(texcoords), len(normals))
            face = [_corner(word, counts, where) for word in words[1:]]
            if len(face) < 3:
                raise SceneError(where, f"expected a face with at least 3 vertices, got {len(face)}")
            if first is None:
                first = (words[1], number, _form(face[0]))
            for word, corner in zip(words[1:], face):
                if _form(corner) != first[2]:
                    raise SceneError(where, f"expected every face corner in the form of the first, '{first[0]}' "
                                            f"(line {first[1]}; {_FORMS}), got '{word}'")
            for j, column in enumerate(corners):
                column.extend((face[0][j], face[i][j], face[i + 1][j]) for i in range(1, len(face) - 1))
    if first is None:
        raise SceneError(Location(file=path), "expected at least one face ('f' line), found none")
    texcoord, normal = first[2]

    def array(rows, columns, dtype):
        return np.asarray(rows, dtype=dtype).reshape(-1, columns)

    return ObjMesh(array(vertices, 3, np.float64), array(corners[0], 3, np.int64),
                   array(texcoords, 2, np.float64) if texcoord else None,
                   array(corners[1], 3, np.int64) if texcoord else None,
                   array(normals, 3, np.float64) if normal else None,
                   array(corners[2], 3, np.int64) if normal else None)


def _form(corner: tuple[int, int, int]) -> tuple[bool, bool]:
    """Whether a corner of :func:`_corner` has a texture coordinate index and a normal index."""
    return corner[1] >= 0, corner[2] >= 0


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


def _values(values: list[str], where: Location, key: str, what: str, size: int) -> tuple[float, ...]:
    """The first ``size`` numbers of a ``vt`` or ``vn`` line (``what`` names its form in messages)."""
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        raise SceneError(where, f"expected {what}, got '{key} {' '.join(values)}'") from None
    if len(numbers) < size:
        raise SceneError(where, f"expected {what} with {size} coordinates, got {len(numbers)}")
    if not all(math.isfinite(x) for x in numbers[:size]):
        raise SceneError(where, f"expected finite coordinates in {what}, got '{key} {' '.join(values)}'")
    return tuple(numbers[:size])


def _normal(values: list[str], where: Location) -> tuple[float, ...]:
    """The x, y, z of a ``vn x y z`` line, which must not be zero."""
    normal = _values(values, where, "vn", "a normal 'vn x y z'", 3)
    if not any(normal):
        raise SceneError(where, f"expected a nonzero normal, got 'vn {' '.join(values)}'")
    return normal


def _corner(word: str, counts: tuple[int, int, int], where: Location) -> tuple[int, int, int]:
    """The 0-based vertex, texture coordinate and normal indices of one face corner (``v``, ``v/vt``,
    ``v//vn`` or ``v/vt/vn``; -1 for an index the corner does not give).

    ``counts`` are the numbers of ``v``, ``vt`` and ``vn`` lines read so far: OBJ indices refer only to
    values defined above them, 1-based, or counting back from the latest with negative numbers.
    """
    parts = word.split("/")
    vertex = _index(parts[0], word, counts[0], where, "vertex", "vertex index", "vertices")
    if len(parts) > 3 or (len(parts) == 2 and not parts[1]) or (len(parts) == 3 and not parts[2]):
        raise SceneError(where, f"expected a face corner {_FORMS}, got '{word}'")
    texcoord = normal = -1
    if len(parts) >= 2 and parts[1]:
        texcoord = _index(parts[1], word, counts[1], where, "texture coordinate", "texture coordinate index",
                          "texture coordinates ('vt' lines)")
    if len(parts) == 3:
        normal = _index(parts[2], word, counts[2], where, "normal", "normal index", "normals ('vn' lines)")
    return vertex, texcoord, normal


def _index(text: str, word: str, count: int, where: Location, what: str, index_name: str, plural: str) -> int:
    """The 0-based index written ``text`` in face corner ``word``, of ``count`` values defined so far."""
    try:
        index = int(text)
    except ValueError:
        raise SceneError(where, f"expected a {index_name} in face corner '{word}'") from None
    if index == 0:
        raise SceneError(where, f"expected a nonzero {index_name} (OBJ indices start at 1), got 0")
    resolved = index - 1 if index > 0 else count + index
    if not 0 <= resolved < count:
        raise SceneError(where, f"{index_name} {index} is out of range: {count} {plural} defined so far")
    return resolved
