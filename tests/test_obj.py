"""Tests for raydiff.scene.obj.read_obj: the OBJ subset read, triangulation, and the errors it raises."""

from __future__ import annotations

import math
import os
import warnings
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raydiff.errors import SceneError
from raydiff.scene.obj import read_obj

SQUARE = """\
# a unit square in z = 0
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
f 1 2 3 4
"""

#: SQUARE's vertices without its face, and three texture coordinates and a normal (lines 6 to 9; a face
#: added is line 10).
BARE = SQUARE.replace("f 1 2 3 4\n", "")
ATTRIBUTES = BARE + "vt 0 0\nvt 1 0\nvt 1 1\nvn 0 0 1\n"


def write(tmp_path, text: str | bytes, name: str = "mesh.obj") -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def test_quad_is_fan_triangulated(tmp_path):
    vertices, faces = read_obj(write(tmp_path, SQUARE))
    assert vertices.dtype == np.float64 and vertices.shape == (4, 3)
    assert faces.dtype == np.int64
    assert faces.tolist() == [[0, 1, 2], [0, 2, 3]]
    assert vertices[2].tolist() == [1.0, 1.0, 0.0]


def test_pentagon_gives_three_triangles_around_the_first_vertex(tmp_path):
    text = "".join(f"v {i} {i * i} 0\n" for i in range(5)) + "f 1 2 3 4 5\n"
    _, faces = read_obj(write(tmp_path, text))
    assert faces.tolist() == [[0, 1, 2], [0, 2, 3], [0, 3, 4]]


@pytest.mark.parametrize(
    "face",
    ["f 1 2 3", "f 1/1 2/2 3/3", "f 1//1 2//2 3//3", "f 1/1/1 2/2/2 3/3/3", "f -3 -2 -1", "f -3/1/-3 2/2/2 3/-1/3"],
)
def test_index_forms(tmp_path, face):
    text = "v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nvn 0 0 1\nvn 0 0 1\nvn 0 0 1\n" + face + "\n"
    _, faces = read_obj(write(tmp_path, text))
    assert faces.tolist() == [[0, 1, 2]]


def test_texture_coordinates_and_normals_follow_the_corners(tmp_path):
    # A quad (fanned) with a vt and a vn per corner; the vt's third value and the vn's length are kept as read.
    text = BARE + "vt 0 0 7\nvt 1 0\nvt 1 1\nvt 0 1\nvn 0 0 2\nvn 0 1 1\nvn 1 0 1\nvn 1 1 1\nf 1/4/1 2/3/2 3/2/3 4/1/4\n"
    for reader in ("fast", "lines"):
        mesh = _read(write(tmp_path, text), reader)
        assert mesh.faces.tolist() == [[0, 1, 2], [0, 2, 3]]
        assert mesh.texcoords.tolist() == [[0, 0], [1, 0], [1, 1], [0, 1]]
        assert mesh.texcoord_faces.tolist() == [[3, 2, 1], [3, 1, 0]]
        assert mesh.normals.tolist() == [[0, 0, 2], [0, 1, 1], [1, 0, 1], [1, 1, 1]]
        assert mesh.normal_faces.tolist() == [[0, 1, 2], [0, 2, 3]]
        assert mesh.texcoords.dtype == mesh.normals.dtype == np.float64
        assert mesh.texcoord_faces.dtype == mesh.normal_faces.dtype == np.int64


def _read(path: str, reader: str):
    """``read_obj_mesh``'s answer by one of its readers."""
    from raydiff.scene import obj

    data = open(path, "rb").read()
    mesh = obj._read_fast(data) if reader == "fast" else obj._read_lines(path, data.decode())
    assert mesh is not None
    return mesh


@pytest.mark.parametrize("reader", ["fast", "lines"])
@pytest.mark.parametrize(
    ("face", "texcoords", "normals"),
    [("f 1 2 3", None, None), ("f 1/1 2/2 3/-1", [[0, 1, 2]], None), ("f 1//1 2//-1 3//1", None, [[0, 0, 0]]),
     ("f -4/-3/1 -3/2/1 3/3/-1", [[0, 1, 2]], [[0, 0, 0]])],
    ids=["plain", "vt", "vn", "both"],
)
def test_each_form_gives_its_attributes(tmp_path, reader, face, texcoords, normals):
    # vt and vn lines no face refers to are dropped: a mesh has the attributes its faces index.
    mesh = _read(write(tmp_path, ATTRIBUTES + face + "\n"), reader)
    assert mesh.faces.tolist() == [[0, 1, 2]]
    assert (None if mesh.texcoord_faces is None else mesh.texcoord_faces.tolist()) == texcoords
    assert (None if mesh.normal_faces is None else mesh.normal_faces.tolist()) == normals
    assert (mesh.texcoords is None) == (texcoords is None) and (mesh.normals is None) == (normals is None)


def test_negative_indices_count_back_from_the_latest_vertex(tmp_path):
    text = "v 0 0 0\nv 1 0 0\nv 0 1 0\nf -1 -2 -3\nv 5 5 5\nf -1 -2 -3\n"
    _, faces = read_obj(write(tmp_path, text))
    assert faces.tolist() == [[2, 1, 0], [3, 2, 1]]


def test_other_statements_comments_and_blank_lines_are_ignored(tmp_path):
    text = """\
mtllib cube.mtl
o thing
g group
s 1

usemtl red   # trailing comment
v 0 0 0 1.0
v 1 0 0   # with a comment
v 0 1 0 0.5 0.5 0.5
vt 0 0
vn 0 0 1
vp 0.5
l 1 2
p 1
   # an indented comment
f 1 2 3 # comment after a face
"""
    vertices, faces = read_obj(write(tmp_path, text))
    assert vertices.tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0]]
    assert faces.tolist() == [[0, 1, 2]]


def test_crlf_line_endings(tmp_path):
    vertices, faces = read_obj(write(tmp_path, SQUARE.replace("\n", "\r\n").encode()))
    assert vertices.shape == (4, 3) and faces.shape == (2, 3)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("v 0 0 abc\nf 1 1 1\n", 1, "expected a vertex 'v x y z'"),
        ("v 0 0\nf 1 1 1\n", 1, "3 coordinates, got 2"),
        ("v\n", 1, "3 coordinates, got 0"),
        ("v 0 0 nan\n", 1, "finite"),
        ("v 0 inf 0\n", 1, "finite"),
        (SQUARE + "f 1 2\n", 7, "at least 3 vertices, got 2"),
        (SQUARE + "f\n", 7, "at least 3 vertices, got 0"),
        (SQUARE + "f 1 2 0\n", 7, "nonzero vertex index"),
        (SQUARE + "f 1 2 5\n", 7, "vertex index 5 is out of range: 4 vertices"),
        (SQUARE + "f 1 2 -5\n", 7, "vertex index -5 is out of range"),
        ("f 1 2 3\nv 0 0 0\nv 1 0 0\nv 0 1 0\n", 1, "out of range: 0 vertices"),
        (SQUARE + "f 1 2 x/1\n", 7, "expected a vertex index"),
        (SQUARE + "f 1 2 /1\n", 7, "expected a vertex index"),
        (SQUARE + "f 1 2 1.5\n", 7, "expected a vertex index"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\n", None, "at least one face"),
        ("", None, "at least one face"),
        (b"v 0 0 0\n\xff\n", 2, "expected UTF-8 text, got byte 0xff"),
        ("v 0 0 0\n".encode("utf-16"), 1, "got UTF-16"),
        (SQUARE + "f 1 2 \\\n3 x\n", 7, "expected a vertex index in face corner 'x'"),
        (SQUARE + "f 1 2 99999999999999999999999\n", 7, "vertex index 99999999999999999999999 is out of range"),
        # texture coordinates and normals (issue 9)
        (SQUARE + "vt 0\n", 7, "expected a texture coordinate 'vt u v' with 2 coordinates, got 1"),
        (SQUARE + "vt\n", 7, "with 2 coordinates, got 0"),
        (SQUARE + "vt 0 a\n", 7, "expected a texture coordinate 'vt u v', got 'vt 0 a'"),
        (SQUARE + "vt 0 inf\n", 7, "expected finite coordinates in a texture coordinate"),
        (SQUARE + "vn 0 1\n", 7, "expected a normal 'vn x y z' with 3 coordinates, got 2"),
        (SQUARE + "vn\n", 7, "with 3 coordinates, got 0"),
        (SQUARE + "vn 0 nan 1\n", 7, "expected finite coordinates in a normal"),
        (SQUARE + "vn 0 0 -0.0\n", 7, "expected a nonzero normal, got 'vn 0 0 -0.0'"),
        (SQUARE + "f 1/1 2/1 3/1\n", 7, "texture coordinate index 1 is out of range: 0 texture coordinates ('vt' lines)"),
        (SQUARE + "f 1//1 2//1 3//1\n", 7, "normal index 1 is out of range: 0 normals ('vn' lines) defined so far"),
        (ATTRIBUTES + "f 1/4 2/1 3/1\n", 10, "texture coordinate index 4 is out of range: 3 texture coordinates"),
        (ATTRIBUTES + "f 1/1/1 2/1/1 3/1/-2\n", 10, "normal index -2 is out of range: 1 normals"),
        (ATTRIBUTES + "f 1/0 2/1 3/1\n", 10, "expected a nonzero texture coordinate index (OBJ indices start at 1)"),
        (ATTRIBUTES + "f 1//0 2//1 3//1\n", 10, "expected a nonzero normal index"),
        (ATTRIBUTES + "f 1/x 2/1 3/1\n", 10, "expected a texture coordinate index in face corner '1/x'"),
        (ATTRIBUTES + "f 1//1.0 2//1 3//1\n", 10, "expected a normal index in face corner '1//1.0'"),
        (ATTRIBUTES + "f 1/ 2/ 3/\n", 10, "expected a face corner 'v', 'v/vt', 'v//vn' or 'v/vt/vn', got '1/'"),
        (ATTRIBUTES + "f 1// 2// 3//\n", 10, "expected a face corner 'v', 'v/vt', 'v//vn' or 'v/vt/vn', got '1//'"),
        (ATTRIBUTES + "f 1/1/1/1 2 3\n", 10, "expected a face corner 'v', 'v/vt', 'v//vn' or 'v/vt/vn', got '1/1/1/1'"),
        (ATTRIBUTES + "f 1/1 2//1 3/1/1\n", 10, "expected every face corner in the form of the first, '1/1' (line 10"),
        (ATTRIBUTES + "f 1 2 3\nf 1//1 2//1 3//1\n", 11, "in the form of the first, '1' (line 10; 'v', 'v/vt'"),
    ],
)
def test_errors(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(SceneError) as info:
        read_obj(path)
    err = info.value
    assert err.location.file == path
    assert err.location.line == line
    assert message in err.message
    assert (f"{path}:{line}" if line else path) in str(err)


def test_missing_file(tmp_path):
    path = str(tmp_path / "nothere.obj")
    with pytest.raises(SceneError, match="cannot read mesh file: no such file") as info:
        read_obj(path)
    assert info.value.location.file == path and info.value.location.line is None


def test_directory_is_not_a_mesh(tmp_path):
    with pytest.raises(SceneError, match="cannot read mesh file: is a folder; expected an OBJ file"):
        read_obj(str(tmp_path))


def test_named_pipe_is_refused_without_waiting(tmp_path):
    path = tmp_path / "mesh.obj"
    os.mkfifo(path)
    with pytest.raises(SceneError, match="cannot read mesh file: is a named pipe"):
        read_obj(str(path))


# --------------------------------------------------------------------------------------------------------
# What editors and exporters write: each read as meant
# --------------------------------------------------------------------------------------------------------


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_vertex(tmp_path):
    vertices, faces = read_obj(write(tmp_path, b"\xef\xbb\xbf" + SQUARE.encode()))
    assert vertices.shape == (4, 3) and faces.tolist() == [[0, 1, 2], [0, 2, 3]]
    vertices, _ = read_obj(write(tmp_path, b"\xef\xbb\xbfv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"))
    assert vertices.tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0]]


def test_old_mac_line_endings(tmp_path):
    vertices, faces = read_obj(write(tmp_path, SQUARE.replace("\n", "\r").encode()))
    assert vertices.shape == (4, 3) and faces.shape == (2, 3)


def test_tabs_separate_words(tmp_path):
    vertices, faces = read_obj(write(tmp_path, SQUARE.replace(" ", "\t")))
    assert vertices[2].tolist() == [1.0, 1.0, 0.0] and faces.shape == (2, 3)


@pytest.mark.parametrize("extra", [" 1.0", " 0.2 0.4 0.6", " 1.0 0.2 0.4 0.6"], ids=["w", "colour", "w-and-colour"])
def test_values_after_xyz_are_ignored(tmp_path, extra):
    lines = [line + extra if line.startswith("v ") else line for line in SQUARE.splitlines()]
    vertices, _ = read_obj(write(tmp_path, "\n".join(lines) + "\n"))
    assert vertices.tolist() == [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]


def test_a_backslash_continues_a_line(tmp_path):
    text = "v 0 0 0\nv 1 \\\n  0 0\nv 1 1 0\nv 0 1 0\nf 1 2 \\\n3 4\nf 1 2 9\n"
    with pytest.raises(SceneError) as info:
        read_obj(write(tmp_path, text))
    assert info.value.location.line == 8  # numbered by the physical lines, as an editor shows them
    vertices, faces = read_obj(write(tmp_path, text.replace("f 1 2 9\n", "")))
    assert vertices.tolist() == [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]
    assert faces.tolist() == [[0, 1, 2], [0, 2, 3]]


def test_only_texture_coordinates_is_no_mesh(tmp_path):
    with pytest.raises(SceneError, match="expected at least one face"):
        read_obj(write(tmp_path, "vt 0 0\nvt 1 0\nvt 0 1\n"))


corner = st.tuples(st.integers(0, 7), st.booleans())


@settings(max_examples=50, deadline=None)
@given(polygons=st.lists(st.lists(corner, min_size=3, max_size=7), min_size=1, max_size=6),
       form=st.sampled_from(["{i}", "{i}/1", "{i}//1", "{i}/1/1"]))
def test_random_polygons_triangulate_to_their_fans(tmp_path_factory, polygons, form):
    lines = [f"v {i} {2 * i} {3 * i}" for i in range(8)] + ["vt 0 0", "vn 0 0 1"]
    expected = []
    for polygon in polygons:
        words = [form.format(i=i - 8 if negative else i + 1) for i, negative in polygon]
        lines.append("f " + " ".join(words))
        ids = [i for i, _ in polygon]
        expected += [[ids[0], ids[k], ids[k + 1]] for k in range(1, len(ids) - 1)]
    path = write(tmp_path_factory.mktemp("obj"), "\n".join(lines) + "\n")
    vertices, faces = read_obj(path)
    assert faces.tolist() == expected
    assert vertices.shape == (8, 3)


# --------------------------------------------------------------------------------------------------------
# The fast reader agrees with the line-by-line one, or leaves the file to it
# --------------------------------------------------------------------------------------------------------


def as_tuple(mesh) -> tuple:
    """An ObjMesh's six arrays (or Nones), in order."""
    return (mesh.vertices, mesh.faces, mesh.texcoords, mesh.texcoord_faces, mesh.normals, mesh.normal_faces)


def both_readers(data: bytes):
    """(fast answer or None, line-by-line answer or the SceneError's message), answers as :func:`as_tuple`.
    The fast reader reads the faces on this thread and, as it does for a large file, on a second one:
    the same answer both ways."""
    from raydiff.scene import obj

    fast = obj._read_fast(data)
    with mock.patch.object(obj, "_PARALLEL_BYTES", -1):
        threaded = obj._read_fast(data)
    assert (fast is None) == (threaded is None)
    if fast is not None:
        assert_same(as_tuple(threaded), as_tuple(fast))
    try:
        slow = as_tuple(obj._read_lines("m.obj", obj._decode("m.obj", data)))
    except SceneError as err:
        slow = err.message
    return (None if fast is None else as_tuple(fast)), slow


def assert_same(fast: tuple, slow: tuple) -> None:
    """The two readers' answers are equal, array by array, with the same dtypes and the same Nones."""
    for a, b in zip(fast, slow):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)


def test_the_faces_thread_leaves_the_warnings_filters_as_they_were():
    # numpy warns where it stops parsing early; the reader turns that into "not mine" (None) under a
    # change of the process's warnings filters, which the faces' thread must not leave changed.
    from raydiff.scene import obj

    data = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf 1 -2- 3\n"  # (numpy stops at the second '-')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        filters = list(warnings.filters)
        with mock.patch.object(obj, "_PARALLEL_BYTES", -1):
            assert obj._read_fast(data) is None
            assert obj._read_fast(data.replace(b"-2-", b"-2")) is not None
        assert warnings.filters == filters and not caught


def test_the_fast_reader_takes_the_common_forms():
    text = "# made by hand, \u00e9t\u00e9 2026\r\nv 0 0 0\r\nv 1 0 0 1.0\r\n\tv 0 1 0\r\nvn 0 0 1\r\nf 1//1 2//1 3//1 # a face\r\n" \
           "v 1 1 0\r\nf -4//1 -3//1 -1//-1 -2//1\r\n"
    fast, slow = both_readers(text.encode())
    assert fast is not None
    assert_same(fast, slow)
    assert fast[1].dtype == np.int64 and fast[0].dtype == np.float64
    assert fast[4].tolist() == [[0, 0, 1]] and fast[5].tolist() == [[0, 0, 0], [0, 0, 0], [0, 0, 0]]


@pytest.mark.parametrize(
    "text",
    ["v 0 0 0\nv 1_0 0 0\nv 0 1 0\nf 1 2 3\n",
     "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 \\\n3\n", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 +3\n",
     "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\x0c\n", "v 0 0 0\nv 1 0 0\nv 0 1 0\u00a0\nf 1 2 3\n"],
    ids=["underscore", "continued", "plus", "form-feed", "no-break-space"],
)
def test_what_the_fast_reader_leaves_is_read_the_same(tmp_path, text):
    from raydiff.scene import obj

    assert obj._read_fast(text.encode()) is None
    path = write(tmp_path, text)
    vertices, faces = read_obj(path)
    expected = obj._read_lines(path, text)
    np.testing.assert_array_equal(vertices, expected.vertices)
    np.testing.assert_array_equal(faces, expected.faces)


word = st.text(alphabet="0123456789+-.eE/", min_size=1, max_size=5)
line = st.tuples(st.sampled_from(["v", "f", "vt", "vn", "#", "", "v", "f"]), st.lists(word, max_size=5),
                 st.sampled_from([" ", "\t", "  "]))


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(line, max_size=12), ending=st.sampled_from(["\n", "\r\n", "\r"]))
def test_the_fast_reader_never_disagrees_with_the_line_by_line_one(lines, ending):
    text = ending.join(key + sep + sep.join(words) for key, words, sep in lines) + ending
    text = "v 0 0 0\nv 1 0 0\nv 0 1 0\n" + text
    fast, slow = both_readers(text.encode())
    if fast is not None:  # else the line-by-line reader decides, which the tests above check
        assert not isinstance(slow, str), f"the fast reader accepted what the careful one refuses: {slow}"
        assert_same(fast, slow)


index = st.sampled_from(["1", "2", "3", "-1", "-3", "0", "4", "", "x", "+1"])
face_corner = st.lists(index, min_size=1, max_size=4).map("/".join)
attribute_line = st.one_of(
    st.lists(face_corner, min_size=2, max_size=4).map(lambda c: "f " + " ".join(c)),
    st.sampled_from(["v 0 0 1", "vt 0.5 1", "vn 0 1 0", "vt 1", "vn 0 0 0", "v 1 1 1"]),
)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(attribute_line, max_size=8), form=st.sampled_from(["{i}", "{i}/{i}", "{i}//{i}", "{i}/{i}/{i}"]))
def test_the_readers_agree_on_corners(lines, form):
    # Random corners among well-formed faces of one form: what the fast reader takes, the careful one
    # reads the same.
    good = "f " + " ".join(form.format(i=i) for i in (1, 2, 3))
    text = "v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nvn 0 0 1\nvn 0 1 0\nvn 1 0 0\n" + good + "\n" + "\n".join(lines) + "\n"
    fast, slow = both_readers(text.encode())
    if fast is not None:
        assert not isinstance(slow, str), f"the fast reader accepted what the careful one refuses: {slow}"
        assert_same(fast, slow)
    if not lines:
        assert fast is not None


def test_a_polygon_mesh_is_read_fast(tmp_path):
    # Quads and pentagons, the common forms: the fast reader fans them as the line-by-line reader does.
    rng = np.random.default_rng(0)
    points = rng.normal(size=(50, 3))
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in points]
    lines += [f"vt {u:.6f} {v:.6f}" for u, v, _ in points] + [f"vn {x:.6f} {y:.6f} {z:.6f}" for x, y, z in points]
    for k in rng.integers(3, 7, size=40):
        corners = rng.choice(50, size=k, replace=False) + 1
        lines.append("f " + " ".join(f"{c}/{c}/{c}" for c in corners))
    data = ("\n".join(lines) + "\n").encode()
    fast, slow = both_readers(data)
    assert fast is not None and fast[3] is not None and fast[5] is not None
    assert_same(fast, slow)


@pytest.mark.parametrize(("alphabet", "read"), [("01+-.eE5", float), ("012-", int)], ids=["float", "int"])
def test_numpy_reads_a_word_as_python_does_or_tells(alphabet, read):
    # _parse's contract: for words of these characters, numpy's count equals the number of words exactly
    # when every word is one Python number, and then the values are Python's (a lone '-' reads as 0 in
    # numpy: the fast reader refuses index 0, so that case is left to the line-by-line reader as well).
    from raydiff.scene import obj

    rng = np.random.default_rng(3)
    for _ in range(3000):
        words = ["".join(rng.choice(list(alphabet), size=rng.integers(1, 6))) for _ in range(rng.integers(1, 4))]
        got = obj._parse(" ".join(words).encode(), np.float64 if read is float else np.int64)
        try:
            expected = [read(w) for w in words]
        except ValueError:
            expected = None
        taken = got is not None and len(got) == len(words) and (read is float or 0 not in got)
        if expected is not None and (read is float or 0 not in expected):
            assert taken and list(got) == expected, words
        else:
            assert not taken, words


def test_fixed_point_words_read_as_python_reads_them_or_are_left_to_numpy():
    # _fixed_point's contract: the values of float() for words [sign]digits.digits with k decimals in
    # every word (-0.0 included), or None; random words of digits, signs and points, most of that form.
    from raydiff.scene import obj

    rng = np.random.default_rng(8)
    taken = 0
    for _ in range(3000):
        k = int(rng.integers(1, 4))
        words = []
        for _ in range(rng.integers(1, 6)):
            sign = rng.choice(["", "-", "+"])
            word = f"{sign}{'0' * rng.integers(0, 2)}{rng.integers(0, 10**rng.integers(0, 5)) if rng.random() < 0.9 else ''}." \
                   f"{rng.integers(0, 10**k):0{k}d}"
            if rng.random() < 0.03:
                word = "".join(rng.choice(list("0123456789+-."), size=rng.integers(1, 6)))
            words.append(word)
        block = " ".join(words).encode()
        chars, separators = obj._separators(block)
        got = obj._fixed_point(block, chars, separators)
        try:
            expected = [float(w) for w in words]
        except ValueError:
            expected = None
        if got is not None:
            taken += 1
            assert expected is not None, words
            assert got.tolist() == expected and list(np.signbit(got)) == [math.copysign(1, x) < 0 for x in expected], words
    assert taken > 2000
    assert obj._fixed_point(b"0.5 1.25", *obj._separators(b"0.5 1.25")) is None  # decimals differ
    assert obj._fixed_point(b"1.5e3", *obj._separators(b"1.5e3")) is None
    assert obj._fixed_point(b"12345678901234567.0", *obj._separators(b"12345678901234567.0")) is None
    for block in (b"1.5 2.5.5", b"1.5 25", b"1.5 -2-.5", b"1.5 +-2.5", b"1.5 .", b"15. 2.5"):  # points, signs
        assert obj._fixed_point(block, *obj._separators(block)) is None, block
    assert obj._fixed_point(b"-.5 +.5 .5", *obj._separators(b"-.5 +.5 .5")).tolist() == [-0.5, 0.5, 0.5]
