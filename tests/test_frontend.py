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
