"""raydiff/frontend.py: Taichi's helpers replaced by cheaper ones that give the same answers."""

import traceback

import taichi as ti

from raydiff import backend, frontend
from taichi.lang import impl, kernel_impl


def test_installed_on_the_pinned_taichi():
    assert tuple(ti.__version__) == frontend.TAICHI_VERSION
    assert frontend.install() and kernel_impl._inside_class is not None
    assert impl.get_traceback is frontend._traceback


def test_traceback_names_the_same_frames_as_taichis():
    def theirs(stacklevel=1):  # Taichi's get_traceback, as 1.7.4 writes it
        s = traceback.extract_stack()[: -1 - stacklevel]
        return "".join(traceback.format_list(s))

    def both():
        return frontend._traceback(1), theirs(1)

    ours, expected = both()
    assert ours == expected


def test_sources_are_remembered_per_code_object():
    calls = []

    def lookup(func):
        calls.append(func)
        return (["line\n"], 3)

    remembered = frontend._remembered(lookup)

    def make():
        def f():
            pass
        return f

    first, second = make(), make()
    a, b = remembered(first), remembered(second)
    assert a == b == (["line\n"], 3) and len(calls) == 1
    a[0].append("changed")  # a caller's change does not reach the next answer
    assert remembered(first) == (["line\n"], 3)


def test_kernels_compile_and_errors_still_name_file_and_line():
    backend.init("cpu")
    x = ti.field(ti.f32, shape=4)

    @ti.kernel
    def fill(v: ti.f32):
        for i in x:
            x[i] = v * i

    fill(2.0)
    assert list(x.to_numpy()) == [0.0, 2.0, 4.0, 6.0]

    @ti.kernel
    def broken():
        for i in x:
            x[i] = undefined_name  # noqa: F821

    try:
        broken()
    except ti.TaichiCompilationError as e:
        message = str(e)
    else:
        raise AssertionError("the kernel compiled")
    assert "test_frontend.py" in message and "undefined_name" in message and "line " in message



def test_remembered_textwrap_answers_as_textwrap():
    import textwrap

    ours = frontend._RememberedTextwrap()
    lines = ["    def f(x):\t# a tab", "        return x +  1   ", "", "\t\tmixed"]
    for line in lines * 2:  # the second time from the memory
        assert ours.fill(line, tabsize=4, width=9999) == textwrap.fill(line, tabsize=4, width=9999)
    source = "\n".join(lines[:2])
    assert ours.dedent(source) == textwrap.dedent(source) == ours.dedent(source)
    assert ours.TextWrapper is textwrap.TextWrapper


def test_kernel_impl_uses_the_remembered_textwrap_and_inlined_funcs_compute_the_same():
    assert frontend.install()
    assert isinstance(kernel_impl.textwrap, frontend._RememberedTextwrap)
    backend.init("cpu")
    x = ti.field(ti.f32, shape=5)

    @ti.func
    def twice(v):
        return 2.0 * v

    @ti.func
    def poly(v):  # inlined several times per kernel: the remembered source lines at each call site
        return twice(v) * twice(v) + twice(1.0) - v

    @ti.kernel
    def fill():
        for i in x:
            x[i] = poly(ti.cast(i, ti.f32)) + poly(0.5)

    fill()
    expected = [4.0 * i * i + 2.0 - i + (1.0 + 2.0 - 0.5) for i in range(5)]
    assert list(x.to_numpy()) == expected


# A kernel using every replaced vector operation, in a fresh process: the IR Taichi's front end writes
# (``print_preprocessed_ir``) with ``frontend.install()`` and without it.
_VECTOR_OPS_PROBE = """
import sys
import taichi as ti
if sys.argv[1] == "replaced":
    from raydiff import frontend
    assert frontend.install()
ti.init(arch=ti.cpu, print_preprocessed_ir=True, offline_cache=False, log_level=ti.ERROR)
f = ti.Vector.field(3, ti.f32, shape=4)
g = ti.field(ti.f32, shape=4)

@ti.func
def helper(a, b):
    return a.dot(b) + a.cross(b).norm() + a.normalized().sum() + b.norm_sqr() + a.norm(1e-3)

@ti.kernel
def k():
    for i in f:
        a = f[i]
        b = f[(i + 1) % 4]
        g[i] = helper(a, b) + ti.math.dot(a, b) + a.normalized(1e-6).dot(b) + ti.Vector([1.0, 2.0]).sum()
        h = ti.Matrix([[1.0, 2.0], [3.0, 4.0]])
        g[i] += h.sum() + h.norm()  # a matrix: Taichi's own functions

f.from_numpy(__import__("numpy").arange(12, dtype="float32").reshape(4, 3) / 7)
k()
print("VALUES", g.to_numpy().tobytes().hex())
"""


def test_vector_ops_build_the_same_ir_as_taichis_inlined_functions(tmp_path):
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    probe = tmp_path / "probe.py"  # a file: Taichi reads a kernel's source from it
    probe.write_text(_VECTOR_OPS_PROBE)
    runs = {}
    for mode in ("taichi", "replaced"):
        out = subprocess.run([sys.executable, str(probe), mode], capture_output=True, text=True,
                             cwd=root, env={**os.environ, "PYTHONPATH": root})
        assert out.returncode == 0, out.stderr[-2000:]
        runs[mode] = out.stdout
    assert "VALUES" in runs["taichi"] and "alloca" in runs["taichi"]
    assert runs["replaced"] == runs["taichi"]


def test_vector_ops_outside_kernels_and_on_matrices_are_taichis():
    assert frontend.install()
    from taichi.lang import matrix_ops

    assert {name: getattr(matrix_ops, name).taichi_original is not None for name in frontend.VECTOR_OPS}
    a, b = ti.Vector([1.0, 2.0, 3.0]), ti.Vector([-2.0, 0.5, 4.0])
    assert a.dot(b) == 11.0 and list(a.cross(b)) == [6.5, -10.0, 4.5] and a.norm_sqr() == 14.0
    assert abs(a.normalized().norm() - 1.0) < 1e-6 and ti.Matrix([[1.0, 2.0], [3.0, 4.0]]).sum() == 10.0


_BEFORE_IMPORT_PROBE = """
import sys
import raydiff
from taichi.lang import kernel_impl
assert kernel_impl._inside_class.__qualname__.startswith("_make_inside_class"), kernel_impl._inside_class
assert "urllib.request" not in sys.modules  # taichi._version_check's, while the check is off
raydiff.init("cpu")
assert "urllib.request" not in sys.modules
from taichi import _version_check
assert callable(_version_check.try_check_version)  # any other name: the real module's, loaded now
assert "urllib.request" in sys.modules
print("OK")
"""


def test_before_import_replaces_the_class_check_and_defers_the_version_check(tmp_path):
    """In a fresh process (this one imported Taichi before raydiff): ``import raydiff`` has Taichi's own
    functions decorated with the replaced class check, and does not load the version check's modules."""
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if k != "TI_SKIP_VERSION_CHECK"}
    out = subprocess.run([sys.executable, "-c", _BEFORE_IMPORT_PROBE], capture_output=True, text=True, cwd=root,
                         env={**env, "PYTHONPATH": root})
    assert out.returncode == 0 and out.stdout.strip().endswith("OK"), out.stderr[-2000:]
