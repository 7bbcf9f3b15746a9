"""raydiff/device/bulk.py: a large mesh's fields written by one kernel hold what ``from_numpy`` would write."""

import numpy as np
import pytest
import taichi as ti

from raydiff import backend
from raydiff.device.bulk import BulkUploads


@pytest.fixture(scope="module")
def cpu():
    backend.init("cpu")


def test_fields_of_two_lengths_are_written_by_one_kernel(cpu, kernels_launched):
    rng = np.random.default_rng(3)
    pairs = [
        (ti.Vector.field(3, ti.f32, shape=1000), rng.normal(size=(1000, 3))),  # float64, converted
        (ti.field(ti.i32, shape=1000), rng.integers(-2**31, 2**31 - 1, 1000)),
        (ti.Vector.field(3, ti.f32, shape=1000), rng.normal(size=(1000, 3)).astype(np.float32)),
        (ti.field(ti.f32, shape=37), rng.normal(size=37)),
        (ti.Vector.field(2, ti.f32, shape=37), rng.normal(size=(37, 2))),
        (ti.Vector.field(3, ti.i32, shape=37), rng.integers(0, 99, (37, 3))),
        (ti.field(ti.i32, shape=37), rng.integers(0, 99, 37)),
    ]
    launched = kernels_launched
    bulk = BulkUploads()
    for field, values in pairs:
        bulk.add(field, values)
    assert launched == []  # nothing is written before the flush
    bulk.flush()
    bulk.flush()  # nothing waits: nothing is launched
    assert launched == ["write"]
    for field, values in pairs:
        np.testing.assert_array_equal(field.to_numpy(), np.asarray(values).astype(field.to_numpy().dtype))


def test_what_it_cannot_write_is_refused_when_added(cpu):
    bulk = BulkUploads()
    with pytest.raises(ValueError, match="one-dimensional"):
        bulk.add(ti.field(ti.f32, shape=(2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="f32 and i32"):
        bulk.add(ti.field(ti.f64, shape=3), np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        bulk.add(ti.Vector.field(3, ti.f32, shape=4), np.zeros((4, 2)))


def test_the_kernel_runs_on_vulkan(vulkan):
    # Vulkan takes the two buffers as ndarray arguments as the CPU does (lavapipe in CI).
    rng = np.random.default_rng(4)
    vectors, scalars = ti.Vector.field(3, ti.f32, shape=100), ti.field(ti.i32, shape=7)
    values, ints = rng.normal(size=(100, 3)).astype(np.float32), rng.integers(0, 99, 7)
    bulk = BulkUploads()
    bulk.add(vectors, values)
    bulk.add(scalars, ints)
    bulk.flush()
    np.testing.assert_array_equal(vectors.to_numpy(), values)
    np.testing.assert_array_equal(scalars.to_numpy(), ints)
