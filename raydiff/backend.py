"""The one place that calls ``ti.init``: choosing the compute backend, with fallback.

``auto`` tries CUDA, then Vulkan, then the CPU, and reports which it took and which it skipped, so that
the CLI can say so. Asking for a specific backend that is not there is an error, never a silent fallback.
Initialising again with the same settings is free; with other settings it resets Taichi, which
invalidates every field and kernel made before (build scenes after choosing the backend).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from dataclasses import dataclass, field

os.environ.setdefault("ENABLE_TAICHI_HEADER_PRINT", "false")  # Taichi prints a banner on import otherwise
# ti.init starts a thread that asks taichi.graphics for a newer version at every start (a network request;
# its Python competes with the start's for the interpreter: about 50 ms of CPU, docs/performance.md section 15)
os.environ.setdefault("TI_SKIP_VERSION_CHECK", "ON")

from . import frontend  # noqa: E402

frontend.install_before_import()  # Taichi's own functions decorated without its slow class check (frontend.py)

import taichi as ti  # noqa: E402

from .errors import BackendError  # noqa: E402

frontend.install()  # Taichi's front end without its repeated source look-ups (raydiff/frontend.py)

ARCHS = ("auto", "cuda", "vulkan", "cpu")
_AUTO_ORDER = ("cuda", "vulkan", "cpu")
_TI_ARCH = {"cuda": ti.cuda, "vulkan": ti.vulkan, "cpu": ti.cpu}


@dataclass(frozen=True)
class Backend:
    """The backend in use.

    Parameters
    ----------
    name : str
        ``"cuda"``, ``"vulkan"`` or ``"cpu"``.
    requested : str
        What was asked for (``"auto"`` or one of the names).
    skipped : tuple of str
        Backends that ``auto`` tried and found missing, in order.
    debug : bool
        Whether Taichi runs with bounds checks (``ti.init(debug=True)``).
    deterministic : bool
        Whether results are bit-for-bit reproducible: the CPU backend on one thread.
    """

    name: str
    requested: str
    skipped: tuple[str, ...] = field(default=())
    debug: bool = False
    deterministic: bool = False

    def describe(self) -> str:
        """One line for the user, e.g. ``"vulkan (auto; no cuda)"`` or ``"cpu (deterministic: 1 thread)"``."""
        if self.deterministic:
            return f"{self.name} (deterministic: 1 thread)"
        if self.requested != "auto":
            return self.name
        return f"{self.name} (auto" + (f"; no {', no '.join(self.skipped)})" if self.skipped else ")")


_current: Backend | None = None


def _arch_name(arch) -> str:
    if arch == ti.cuda:
        return "cuda"
    if arch == ti.vulkan:
        return "vulkan"
    if arch in (ti.x64, ti.arm64):
        return "cpu"
    return str(arch)


@contextlib.contextmanager
def _silenced():
    """Silence Python's and the C++ runtime's output (file descriptors 1 and 2): ti.init prints
    "[Taichi] Starting on arch=...", and a missing driver prints e.g. "RHI Error: Can not create Vulkan
    instance" while Taichi falls back. Whether it worked is checked afterwards, so nothing is lost."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(io.StringIO()):
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def _try(name: str, debug: bool, deterministic: bool = False) -> bool:
    """Initialise Taichi on ``name``; True if Taichi really runs there (it falls back silently if not)."""
    ti.reset()
    threads = {"cpu_max_num_threads": 1} if deterministic else {}
    with _silenced():
        ti.init(arch=_TI_ARCH[name], debug=debug, log_level=ti.ERROR, default_fp=ti.f32, default_ip=ti.i32, **threads)
    return _arch_name(ti.lang.impl.current_cfg().arch) == name


def init(arch: str = "auto", debug: bool = False, deterministic: bool = False) -> Backend:
    """Initialise Taichi on the requested backend.

    Parameters
    ----------
    arch : {"auto", "cuda", "vulkan", "cpu"}
        ``auto`` takes the first of CUDA, Vulkan and the CPU that works here.
    debug : bool
        Taichi's debug mode (bounds checks; slow).
    deterministic : bool
        Bit-for-bit reproducible results. Parallel threads add into pixels, the loss and the gradients in
        an order the scheduler decides, and float addition is not associative, so runs otherwise differ
        in their last bits (relative 1e-7). Determinism takes the CPU backend on one thread (``auto``
        means the CPU then); a GPU backend cannot promise it.

    Returns
    -------
    Backend
        What was taken.

    Raises
    ------
    BackendError
        For an unknown name, a named backend that is not available on this machine, or a GPU backend
        asked to be deterministic.
    """
    global _current
    if arch not in ARCHS:
        raise BackendError(f"unknown backend '{arch}'; choose one of {', '.join(ARCHS)}")
    if deterministic:
        if arch not in ("auto", "cpu"):
            raise BackendError(f"a deterministic fit runs on the CPU backend, not {arch} (use --arch cpu or auto)")
        arch = "cpu"
    if _current is not None and (_current.debug, _current.deterministic) == (debug, deterministic):
        if _current.requested == arch:
            return _current
        if arch == _current.name:
            _current = Backend(_current.name, arch, (), debug, deterministic)
            return _current
    if arch != "auto":
        if not _try(arch, debug, deterministic):
            _current = None
            ti.reset()
            raise BackendError(f"the {arch} backend is not available on this machine (try --arch auto or cpu)")
        _current = Backend(arch, arch, (), debug, deterministic)
        return _current
    skipped = []
    for name in _AUTO_ORDER:
        if _try(name, debug):
            _current = Backend(name, "auto", tuple(skipped), debug)
            return _current
        skipped.append(name)
    raise BackendError("no Taichi backend works on this machine")  # pragma: no cover (the CPU always does)


def available(name: str) -> bool:
    """Whether backend ``name`` works here. Leaves Taichi initialised on it if it does (else reset)."""
    global _current
    try:
        init(name)
        return True
    except BackendError:
        return False


def snode_trees() -> int:
    """How many SNode trees (groups of fields) Taichi holds now; 0 before any ``init``. Taichi allows at
    most 512 in one process, and every device scene, integrator and fit adds some."""
    if _current is None:
        return 0
    return int(ti.lang.impl.get_runtime().prog.get_snode_tree_size())


def release() -> None:
    """Drop Taichi's state: every field and kernel made so far is invalid afterwards, and the next
    :func:`init` starts afresh (for test suites and long-running hosts that build many scenes)."""
    global _current
    if _current is not None:
        ti.reset()
        _current = None


def current() -> Backend:
    """The backend in use, initialising ``auto`` if nothing was chosen yet."""
    return _current if _current is not None else init("auto")
