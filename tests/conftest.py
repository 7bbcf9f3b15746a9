"""Shared fixtures: choosing the Taichi backend a test renders on.

Switching backends resets Taichi and invalidates every field and kernel made before, so a test must build
its scene *after* requesting its backend fixture, and the Vulkan tests all live in tests/test_backends*.py
(three modules, by scene family, sharing tests/vulkan_parity.py) so that the switch happens rarely. Neither fixture is autouse: tests
that never touch Taichi (scene files, OBJ parsing, image files) should not pay for initialising it.

Both fixtures are function-scoped and cheap when the backend is already the requested one
(``raydiff.init`` with unchanged settings returns at once). A module-scoped fixture that builds a scene
shared by several tests calls ``raydiff.init("cpu")`` itself (see ``cpu_backend``).
"""

from __future__ import annotations

import os

import pytest

import raydiff
import raydiff.backend

#: The bytes Taichi's offline cache of compiled kernels may hold before it evicts its oldest quarter (set
#: for the test session through Taichi's own ``TI_OFFLINE_CACHE_MAX_SIZE_OF_FILES``, unless already set).
#: Taichi's default, 100 MiB, is less than one fresh suite's kernels (118 MB): the kernels of a change evicted others.
OFFLINE_CACHE_BYTES = 1 << 30
os.environ.setdefault("TI_OFFLINE_CACHE_MAX_SIZE_OF_FILES", str(OFFLINE_CACHE_BYTES))

#: The longest test modules, longest first (their seconds in a suite run with a fresh Taichi cache on two
#: cores, compiles included), run before all others. pytest-xdist (``--dist loadfile``, with
#: ``--no-loadscope-reorder`` so that it keeps this order) hands a worker the next module when it is done
#: with one: the long ones first, the short ones fill in at the end, and no worker starts a 4-minute
#: module when the other is nearly done. A module missing from the list runs after these, in file order.
LONGEST_FIRST = (
    "test_gradients.py",
    "test_boundary.py",
    "test_backends.py",
    "test_recovery.py",
    "test_backends_rough.py",
    "test_backends_mirror_textures.py",
    "test_cli_recover.py",
    "test_parity.py",
    "test_cli_views.py",
    "test_pendulum.py",
    "test_levenberg.py",
    "test_fit.py",
    "test_gradcheck.py",
    "test_objective.py",
    "test_mirrors.py",
    "test_bad_input.py",
    "test_cli.py",
    "test_cli_gradcheck.py",
    "test_textures.py",
    "test_examples.py",
    "test_converge.py",
)


def pytest_collection_modifyitems(items):
    """Moves the modules of :data:`LONGEST_FIRST` to the front, in its order (the rest keep theirs)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a module's tests keep their order


@pytest.fixture(autouse=True, scope="module")
def _fresh_taichi_per_module():
    """Resets Taichi after every module (modules build their own scenes after requesting a backend
    fixture, so nothing built earlier is needed again).

    Taichi allows 512 SNode trees per process and every device scene, integrator and fit adds a few, so a
    worker running many modules would crash without it. And the offline cache finds a compiled kernel by
    its code, which names the fields it reads by their number, given in the order the process made them:
    a module that starts on a fresh Taichi numbers its fields the same way in every run, whatever its
    worker ran before it, so that a second run (or a module building the same scenes first) takes its
    kernels from the cache instead of compiling them again."""
    yield
    raydiff.backend.release()


VULKAN_SKIP_REASON = (
    "Taichi's Vulkan backend is not available here (CI installs Mesa's lavapipe: libvulkan1 mesa-vulkan-drivers)"
)


@pytest.fixture
def cpu():
    """Taichi on the CPU backend; returns the :class:`raydiff.backend.Backend`."""
    return raydiff.init("cpu")


@pytest.fixture(scope="module")
def cpu_backend():
    """The same as ``cpu``, for module-scoped fixtures that build a scene shared by a module's tests."""
    return raydiff.init("cpu")


@pytest.fixture(scope="session")
def mitsuba():
    """The ``mitsuba`` module in its ``scalar_rgb`` variant (the parity oracle), or the test is skipped."""
    mi = pytest.importorskip(
        "mitsuba", reason="Mitsuba 3 is not installed (pip install -e '.[parity]'): no oracle to compare with"
    )
    from mitsuba_oracle import mitsuba_available

    if not mitsuba_available("scalar_rgb"):
        pytest.skip("Mitsuba 3 is installed but its scalar_rgb variant cannot be set")
    return mi


@pytest.fixture
def vulkan():
    """Taichi on the Vulkan backend, or the test is skipped."""
    if not raydiff.backend.available("vulkan"):
        pytest.skip(VULKAN_SKIP_REASON)
    return raydiff.backend.current()


@pytest.fixture
def kernels_launched(monkeypatch) -> list[str]:
    """The names of the Taichi kernels launched from now on, in order (Taichi's copy kernels included:
    ``ext_arr_to_tensor`` for a ``from_numpy``, ``tensor_to_ext_arr`` for a ``to_numpy``, ...)."""
    from taichi.lang import kernel_impl

    names = []
    launch = kernel_impl.Kernel.launch_kernel

    def noted(self, t_kernel, *args):
        names.append(self.func.__name__)
        return launch(self, t_kernel, *args)

    monkeypatch.setattr(kernel_impl.Kernel, "launch_kernel", noted)
    return names
