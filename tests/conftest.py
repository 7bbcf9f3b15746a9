"""Shared fixtures: choosing the Taichi backend a test renders on.

Switching backends resets Taichi and invalidates every field and kernel made before, so a test must build
its scene *after* requesting its backend fixture, and the Vulkan tests all live in tests/test_backends.py
so that the switch happens rarely (pytest runs modules in file order). Neither fixture is autouse: tests
that never touch Taichi (scene files, OBJ parsing, image files) should not pay for initialising it.

Both fixtures are function-scoped and cheap when the backend is already the requested one
(``raydiff.init`` with unchanged settings returns at once). A module-scoped fixture that builds a scene
shared by several tests calls ``raydiff.init("cpu")`` itself (see ``cpu_backend``).
"""

from __future__ import annotations

import pytest

import raydiff
import raydiff.backend

#: After a test module, Taichi is reset if it holds more SNode trees than this (it allows 512 per process,
#: and every device scene, integrator and fit adds a few): a worker running many modules would crash.
SNODE_TREES_BEFORE_RESET = 200


@pytest.fixture(autouse=True, scope="module")
def _fresh_taichi_when_crowded():
    """Resets Taichi after a module that left it crowded with SNode trees (modules build their own scenes
    after requesting a backend fixture, so nothing built earlier is needed again)."""
    yield
    if raydiff.backend.snode_trees() > SNODE_TREES_BEFORE_RESET:
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
