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

None of these takes part in what a kernel computes or in its cache key's meaning: compiled code is the
same. Each is replaced only if Taichi is the version it was written against (:data:`TAICHI_VERSION`) and
the helper is there; otherwise Taichi is left as it is and only slower to start.
"""

import linecache
import re
import sys
import textwrap

import taichi as ti

#: The Taichi version whose private helpers :func:`install` replaces.
TAICHI_VERSION = (1, 7, 4)

_installed = False


def install() -> bool:
    """Replace Taichi's helpers (once per process). Returns whether they are replaced."""
    global _installed
    if _installed:
        return True
    if tuple(ti.__version__) != TAICHI_VERSION:
        return False
    from taichi.lang import impl, kernel_impl, snode
    from taichi.lang.ast import ast_transformer_utils

    needed = [(kernel_impl, "_inside_class"), (kernel_impl, "getsourcefile"), (kernel_impl, "getsourcelines"),
              (ast_transformer_utils.ASTTransformerContext, "get_pos_info"), (impl, "get_traceback"),
              (snode, "get_traceback"), (kernel_impl, "textwrap")]
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

