"""Taichi's Python front end, made cheaper where it repeats work that cannot change within a process.

Taichi 1.7.4 runs its front end on every kernel at every start, even when the offline cache holds the
compiled kernel (the AST transform computes the key the cache is looked up by), and most of that time
is not the transform: it is source text looked up again and again (docs/performance.md, section 2,
has the profile). :func:`install` replaces five of Taichi's private helpers with equivalents that give
the same answers, or answers that differ only in the error messages' layout:

* ``kernel_impl._inside_class`` (asked at every ``@ti.kernel`` and ``@ti.func`` decoration: is it in a
  class body?) read the caller's source through ``inspect.getframeinfo``, which looks the module up
  among every module loaded; the same line comes from :mod:`linecache` directly.
* ``kernel_impl.getsourcefile`` and ``getsourcelines`` (asked every time a ``ti.func`` is inlined, once
  per call site) are remembered per code object: a function's source does not change while the process
  runs (:mod:`linecache` makes the same assumption).
* ``ASTTransformerContext.get_pos_info`` (asked for every AST node, for the source position Taichi
  attaches to each statement for its error messages) wrapped every line with ``textwrap``; it now
  writes the position, the line and a caret under the node without wrapping.
* ``get_traceback`` (asked for every field and SNode made, for the message of an error about it
  later) stat-ed every source file on the stack (``traceback.extract_stack`` checks each one for
  changes); it now formats the same frames from :mod:`linecache` without the checks.
* ``kernel_impl``'s ``textwrap`` (asked every time a ``ti.func`` is inlined, once per call site:
  ``_get_tree_and_ctx`` runs ``textwrap.fill`` over every source line and ``textwrap.dedent`` over the
  function) is a stand-in whose ``fill`` and ``dedent`` remember their answers (pure functions of their
  arguments); every other name is :mod:`textwrap`'s own. About a tenth of the visibility kernel's front
  end (docs/performance.md, section 12). The parse that follows is left alone: a remembered tree has
  to be copied for each call site (the transform writes into it), and unpickling a copy measured no
  faster than parsing again.

* ``matrix_ops``' ``dot``, ``sum``, ``norm_sqr``, ``norm``, ``normalized`` and ``cross`` (inlined at
  every call site like a ``ti.func``: source read, parsed and transformed; a ``.dot`` is three of them)
  are, in a kernel and on vector expressions, plain Python making the same calls into Taichi's IR
  builder that the transform of their source makes (:func:`_install_vector_ops`): the same IR, about
  half the inlined call sites of the primary cache's kernels gone (docs/performance.md, section 20).

Two more are armed by :func:`install_before_import`, before ``import taichi``: ``_inside_class`` is
replaced as soon as Taichi's ``kernel_impl`` has loaded, so that Taichi's own 122 decorations during
its import use the cheap one too; and while the version check is off, ``taichi._version_check`` (whose
imports of ``urllib.request`` and ``http.client`` only serve the check) is loaded only if asked for
more than its skipped thread.

None of these takes part in what a kernel computes or in its cache key's meaning: compiled code is the
same. Each is replaced only if Taichi is the version it was written against (:data:`TAICHI_VERSION`) and
the helper is there; otherwise Taichi is left as it is and only slower to start.
"""

import functools
import importlib.abc
import importlib.util
import linecache
import os
import re
import sys
import textwrap

#: The Taichi version whose private helpers :func:`install` replaces.
TAICHI_VERSION = (1, 7, 4)

_installed = False


def install_before_import() -> bool:
    """Have ``kernel_impl._inside_class`` replaced as soon as Taichi has loaded it, before the rest of
    ``import taichi`` decorates Taichi's own 122 functions and kernels (``matrix_ops``, ``_funcs``,
    ``_kernels``, ``math``): each decoration asks it, and its ``inspect.getframeinfo`` looks the module up
    among every module loaded, over a quarter of ``import taichi`` (docs/performance.md, section 20).
    While the version check is off, ``taichi._version_check`` is served without its network modules
    (:class:`_BeforeImport`). Call it before the first ``import taichi``; it does nothing if Taichi is
    loaded already or is not the pinned version (its ``dist-info`` folder), and :func:`install` replaces
    the rest afterwards. Returns whether the hook is armed."""
    if "taichi.lang.kernel_impl" in sys.modules or any(isinstance(f, _BeforeImport) for f in sys.meta_path):
        return False
    spec = importlib.util.find_spec("taichi")
    if spec is None or not spec.submodule_search_locations:
        return False
    folder = os.path.dirname(list(spec.submodule_search_locations)[0])
    if not os.path.isdir(os.path.join(folder, "taichi-" + ".".join(map(str, TAICHI_VERSION)) + ".dist-info")):
        return False
    sys.meta_path.insert(0, _BeforeImport())
    return True


class _BeforeImport(importlib.abc.MetaPathFinder):
    """Finds ``taichi.lang.kernel_impl`` with a loader that runs the module as Python's own would, then
    replaces its ``_inside_class``; and, while the version check is off (``TI_SKIP_VERSION_CHECK=ON``,
    which raydiff/backend.py sets), ``taichi._version_check`` as a module that loads the real one only
    when asked for more than the check that is off (the real one imports ``urllib.request``,
    ``http.client`` and ``ssl`` for it: about 40 ms at a load of 7). Each once: after both, it leaves
    ``sys.meta_path``."""

    def __init__(self):
        self.waiting = {"taichi.lang.kernel_impl", "taichi._version_check"}

    def find_spec(self, name, path=None, target=None):
        if name not in self.waiting:
            return None
        self.waiting.discard(name)
        if not self.waiting:
            sys.meta_path.remove(self)
        if name == "taichi._version_check":
            skipped = os.environ.get("TI_SKIP_VERSION_CHECK") == "ON"
            return importlib.util.spec_from_loader(name, _SkippedVersionCheck()) if skipped else None
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _ReplacingLoader(spec.loader)
        return spec


class _SkippedVersionCheck(importlib.abc.Loader):
    """``taichi._version_check`` while the check is off: ``start_version_check_thread`` (all that ``ti.init``
    calls) does what the real one does then, nothing, unless the variable has changed since; any other
    name is the real module's, loaded on first use."""

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        real = []

        def load():
            if not real:
                folder = os.path.dirname(sys.modules["taichi"].__file__)
                path = os.path.join(folder, "_version_check.py")
                spec = importlib.util.spec_from_file_location(module.__name__, path)
                real.append(importlib.util.module_from_spec(spec))
                spec.loader.exec_module(real[0])
            return real[0]

        def start_version_check_thread():
            if os.environ.get("TI_SKIP_VERSION_CHECK") != "ON":
                load().start_version_check_thread()

        module.start_version_check_thread = start_version_check_thread
        module.__getattr__ = lambda name: getattr(load(), name)
        module.__all__ = []


class _ReplacingLoader(importlib.abc.Loader):
    """``loader`` (Python's source loader of ``kernel_impl``), and ``_inside_class`` replaced once the
    module has run, if it has the helper and the patterns it reads."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        patterns = getattr(module, "_KERNEL_CLASS_STACKFRAME_STMT_RES", None)
        if hasattr(module, "_inside_class") and patterns is not None:
            module._inside_class = _make_inside_class(list(patterns))

    def __getattr__(self, name):  # get_source, get_filename, ...: the source loader's own
        return getattr(self.loader, name)


def install() -> bool:
    """Replace Taichi's helpers (once per process). Returns whether they are replaced."""
    global _installed
    if _installed:
        return True
    import taichi as ti

    if tuple(ti.__version__) != TAICHI_VERSION:
        return False
    from taichi.lang import expr, impl, kernel_impl, matrix_ops, ops, snode
    from taichi.lang.ast import ast_transformer_utils

    needed = [(kernel_impl, "_inside_class"), (kernel_impl, "getsourcefile"), (kernel_impl, "getsourcelines"),
              (ast_transformer_utils.ASTTransformerContext, "get_pos_info"), (impl, "get_traceback"),
              (snode, "get_traceback"), (kernel_impl, "textwrap"), (impl, "expr_init_func"), (impl, "subscript"),
              (impl, "make_matrix"), (ops, "add"), (ops, "sqrt")] + [(matrix_ops, name) for name in VECTOR_OPS]
    if not all(hasattr(owner, name) for owner, name in needed):
        return False
    class_statement = list(kernel_impl._KERNEL_CLASS_STACKFRAME_STMT_RES)
    kernel_impl._inside_class = _make_inside_class(class_statement)
    kernel_impl.getsourcefile = _remembered(kernel_impl.getsourcefile)
    kernel_impl.getsourcelines = _remembered(kernel_impl.getsourcelines)
    ast_transformer_utils.ASTTransformerContext.get_pos_info = _pos_info
    impl.get_traceback = snode.get_traceback = _traceback
    if kernel_impl.textwrap is textwrap:
        kernel_impl.textwrap = _RememberedTextwrap()
    _install_vector_ops(matrix_ops, impl, expr, ops)
    _installed = True
    return True


def _make_inside_class(patterns: list[re.Pattern]):
    """``_inside_class``: whether the statement running ``level`` frames up starts a class (or is
    ``@data_oriented``), read from :mod:`linecache`; False if it cannot be read."""

    def inside_class(level_of_class_stackframe):
        try:
            frame = sys._getframe(level_of_class_stackframe)
        except ValueError:
            return False
        line = linecache.getline(frame.f_code.co_filename, frame.f_lineno, frame.f_globals).strip()
        return any(pattern.match(line) for pattern in patterns)

    return inside_class


def _remembered(lookup):
    """``lookup(func)`` remembered per code object (a closure's every instance has the same source)."""
    answers = {}

    def remembered(func):
        code = getattr(func, "__code__", None)
        if code is None:
            return lookup(func)
        if code not in answers:
            answers[code] = lookup(func)
        answer = answers[code]
        return (list(answer[0]), answer[1]) if isinstance(answer, tuple) else answer

    return remembered


def _pos_info(self, node) -> str:
    """Where ``node`` is: ``File "...", line N, in name:``, its first source line and a caret under the
    node (Taichi's own says the same, wrapped at 80 columns and with every line of a multi-line node)."""
    lineno = node.lineno + self.lineno_offset
    msg = f'File "{self.file}", line {lineno}, in {self.func.func.__name__}:\n'
    code = self.src[node.lineno - 1]
    start = self.indent + node.col_offset
    end = self.indent + node.end_col_offset if node.end_lineno == node.lineno else len(code.rstrip())
    return msg + code + "\n" + " " * start + "^" * max(end - start, 1) + "\n"


def _traceback(stacklevel: int = 1) -> str:
    """The stack above the caller as ``traceback.format_list`` writes it, less its ``stacklevel``
    innermost frames (Taichi's ``get_traceback``), without checking the source files for changes."""
    frames = []
    frame = sys._getframe(1)
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    frames = frames[stacklevel:]  # Taichi's drops ``1 + stacklevel`` frames, its own among them
    parts = []
    for frame in reversed(frames):
        filename, lineno, name = frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name
        line = linecache.getline(filename, lineno, frame.f_globals).strip()
        parts.append(f'  File "{filename}", line {lineno}, in {name}\n' + (f"    {line}\n" if line else ""))
    return "".join(parts)


class _RememberedTextwrap:
    """:mod:`textwrap` with ``fill`` and ``dedent`` remembered per argument (a ``ti.func``'s source lines
    are the same at every call site); every other name is :mod:`textwrap`'s own."""

    def __init__(self):
        self._fill, self._dedent = {}, {}

    def fill(self, text, **options):
        key = (text, tuple(sorted(options.items())))
        answer = self._fill.get(key)
        if answer is None:
            answer = self._fill[key] = textwrap.fill(text, **options)
        return answer

    def dedent(self, text):
        answer = self._dedent.get(text)
        if answer is None:
            answer = self._dedent[text] = textwrap.dedent(text)
        return answer

    def __getattr__(self, name):
        return getattr(textwrap, name)



#: The ``matrix_ops`` functions :func:`_install_vector_ops` replaces in the Taichi scope.
VECTOR_OPS = ("dot", "sum", "norm_sqr", "norm", "normalized", "cross")


def _install_vector_ops(matrix_ops, impl, expr, ops) -> None:
    """Taichi's ``matrix_ops.dot``, ``sum``, ``norm_sqr``, ``norm``, ``normalized`` and ``cross``, in a
    kernel and on vector expressions, built by plain Python calls instead of inlined as ``ti.func``\\ s.

    Taichi inlines these (``@pyfunc``) at every call site the way it inlines a ``ti.func``: it reads the
    function's source, parses it and runs its AST transform, and a ``.dot`` is three of them (``dot``,
    ``sum``, ``_reduce``): 106 of the visibility kernel's 208 inlined call sites (docs/performance.md,
    section 15). The replacements make the same calls into Taichi's IR builder that the transform of
    those sources makes, in the same order: each argument copied into a local (``expr_init_func``, as
    Taichi passes a ``ti.func``'s arguments by value), the products, the sum in a local assigned element
    by element from the first (each assignment through a temporary, as the transform builds one),
    ``sqrt``, the reciprocal, the cross product's six products. So the IR, and the compiled code, are
    what they were (tests/test_frontend.py compares the IR Taichi prints;
    benchmarks/fit_fingerprint.py hashes fits). Anything else (a Python-scope matrix, a matrix rather
    than a vector, shapes that do not match) goes to Taichi's own function, with its checks and errors.
    """
    original = {name: getattr(matrix_ops, name) for name in VECTOR_OPS}
    copy = impl.expr_init_func

    def vectors(*values) -> int:
        """The length of the vectors ``values`` if all are vector expressions of one length in a kernel, else 0."""
        if not impl.inside_kernel():
            return 0
        shapes = {v.get_shape() if isinstance(v, expr.Expr) and v.is_tensor() else None for v in values}
        shape = shapes.pop() if len(shapes) == 1 else None
        return shape[0] if shape is not None and len(shape) == 1 else 0

    def element(vector, i):
        return impl.subscript(None, vector, i)

    def assigned(value, var=None):
        """``var = value`` as the transform builds an assignment: the value into a temporary local first,
        then a new local made from it (a name not yet bound) or the temporary assigned to ``var``."""
        value = impl.expr_init(value)
        if var is None:
            return impl.expr_init(value)
        var._assign(value)
        return var

    def summed(vector, n):
        """``sum(vector)``: its argument copied, then ``_reduce(mat, ops.add)``'s: copied again, the first
        element into a local, each next one added to it."""
        vector = copy(copy(vector))
        result = assigned(element(vector, 0))
        for i in range(1, n):
            assigned(ops.add(result, element(vector, i)), result)
        return result

    def vector_sum(mat):
        n = vectors(mat)
        return summed(mat, n) if n else original["sum"](mat)

    def dot(vec_x, vec_y):
        n = vectors(vec_x, vec_y)
        if not n:
            return original["dot"](vec_x, vec_y)
        vec_x, vec_y = copy(vec_x), copy(vec_y)
        return summed(vec_x * vec_y, n)

    def squared_norm(mat, n):
        mat = copy(mat)
        return summed(mat * mat, n)

    def norm_sqr(mat):
        n = vectors(mat)
        return squared_norm(mat, n) if n else original["norm_sqr"](mat)

    def length(mat, eps, n):
        mat, eps = copy(mat), copy(eps)
        return ops.sqrt(squared_norm(mat, n) + eps)

    def norm(mat, eps=0.0):
        n = vectors(mat)
        return length(mat, eps, n) if n else original["norm"](mat, eps)

    def normalized(vec, eps=0.0):
        n = vectors(vec)
        if not n:
            return original["normalized"](vec, eps)
        vec, eps = copy(vec), copy(eps)
        invlen = assigned(1 / (length(vec, 0.0, n) + eps))
        return invlen * vec

    def cross(vec_x, vec_y):
        if vectors(vec_x, vec_y) != 3:
            return original["cross"](vec_x, vec_y)
        x, y = copy(vec_x), copy(vec_y)
        return impl.make_matrix([element(x, 1) * element(y, 2) - element(x, 2) * element(y, 1),
                                 element(x, 2) * element(y, 0) - element(x, 0) * element(y, 2),
                                 element(x, 0) * element(y, 1) - element(x, 1) * element(y, 0)])

    replacements = {"dot": dot, "sum": vector_sum, "norm_sqr": norm_sqr, "norm": norm, "normalized": normalized,
                    "cross": cross}
    for name, replacement in replacements.items():
        # Taichi's name, module and docstring: the transform takes a function of taichi's own modules for
        # one of its own (no "non-taichi function" warning when Taichi's other functions call these)
        functools.update_wrapper(replacement, original[name], assigned=("__module__", "__name__", "__qualname__",
                                                                        "__doc__"), updated=())
        replacement.taichi_original = original[name]
        setattr(matrix_ops, name, replacement)
