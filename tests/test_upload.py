"""raydiff/device/upload.py: several fields written by one kernel hold what ``from_numpy`` would write."""

import numpy as np
import pytest
import taichi as ti

from raydiff import backend
from raydiff.device import upload as upload_module
from raydiff.device.upload import SMALL, Uploads, together, upload


@pytest.fixture(scope="module")
def cpu():
    backend.init("cpu")


def _fields_and_values(rng):
    """Scalar and vector fields of both types, one- to three-dimensional, and values for each."""
    return [
        (ti.field(ti.f32, shape=5), rng.random(5)),
        (ti.field(ti.i32, shape=7), rng.integers(-9, 9, 7)),
        (ti.Vector.field(3, ti.f32, shape=4), rng.random((4, 3))),
        (ti.Vector.field(3, ti.f32, shape=(2, 4)), rng.random((2, 4, 3))),
        (ti.Vector.field(2, ti.i32, shape=3), rng.integers(0, 99, (3, 2))),
        (ti.field(ti.i32, shape=(3, 2, 2)), rng.integers(0, 99, (3, 2, 2))),
    ]


def test_small_fields_are_written_by_one_kernel(cpu, kernels_launched):
    pairs = _fields_and_values(np.random.default_rng(1))
    launched = kernels_launched
    upload(pairs)
    assert launched == ["write"]
    for field, values in pairs:
        np.testing.assert_array_equal(field.to_numpy(), np.asarray(values).astype(field.to_numpy().dtype))


def test_values_are_converted_as_from_numpy_converts_them(cpu):
    ours, theirs = ti.field(ti.f32, shape=3), ti.field(ti.f32, shape=3)
    ints, their_ints = ti.field(ti.i32, shape=3), ti.field(ti.i32, shape=3)
    floats = np.array([0.1, -2.5e38, 1.0 / 3.0], dtype=np.float64)
    upload([(ours, floats), (ints, np.array([1, -7, 2**31 - 1], dtype=np.int64))])
    theirs.from_numpy(floats.astype(np.float32))
    their_ints.from_numpy(np.array([1, -7, 2**31 - 1], dtype=np.int32))
    np.testing.assert_array_equal(ours.to_numpy(), theirs.to_numpy())
    np.testing.assert_array_equal(ints.to_numpy(), their_ints.to_numpy())


def test_a_large_array_is_written_at_once_and_the_small_ones_at_the_flush(cpu, kernels_launched):
    large, small = ti.field(ti.f32, shape=SMALL + 1), ti.field(ti.i32, shape=2)
    values = np.arange(SMALL + 1, dtype=np.float32)
    uploads = Uploads()
    launched = kernels_launched
    uploads.add(large, values)
    uploads.add(small, [4, 5])
    assert launched == ["ext_arr_to_tensor"]  # the large one, by from_numpy, now
    uploads.flush()
    np.testing.assert_array_equal(large.to_numpy(), values)
    np.testing.assert_array_equal(small.to_numpy(), [4, 5])
    uploads.flush()  # nothing waits any more: nothing is written again
    assert launched.count("ext_arr_to_tensor") == 2  # the single small one by from_numpy too


def test_together_writes_every_flush_in_it_with_one_kernel_at_its_end(cpu, kernels_launched):
    pairs = _fields_and_values(np.random.default_rng(2))
    launched = kernels_launched
    with together():
        upload(pairs[:2])
        uploads = Uploads()
        for field, values in pairs[2:]:
            uploads.add(field, values)
        uploads.flush()
        with together():  # an inner block waits for the outer one's end
            upload([(pairs[0][0], [9.0] * 5)])  # the same field again: written after the first values
        assert launched == []
    assert launched == ["write", "ext_arr_to_tensor"]
    np.testing.assert_array_equal(pairs[0][0].to_numpy(), [9.0] * 5)
    for field, values in pairs[1:]:
        np.testing.assert_array_equal(field.to_numpy(), np.asarray(values).astype(field.to_numpy().dtype))


def test_together_writes_nothing_when_its_block_raises(cpu, kernels_launched):
    field = ti.field(ti.i32, shape=2)
    launched = kernels_launched
    with pytest.raises(RuntimeError):
        with together():
            upload([(field, [1, 2]), (ti.field(ti.f32, shape=3), [0.5, 1.5, 2.5])])
            raise RuntimeError("built halfway")
    assert launched == []
    upload([(field, [3, 4])])  # afterwards, uploads are written at once again
    np.testing.assert_array_equal(field.to_numpy(), [3, 4])


def test_bad_shapes_and_types_are_refused(cpu):
    with pytest.raises(ValueError, match="shape"):
        upload([(ti.field(ti.f32, shape=3), np.zeros(4))])
    with pytest.raises(ValueError, match="shape"):
        upload([(ti.Vector.field(3, ti.f32, shape=2), np.zeros(6))])
    with pytest.raises(ValueError, match="f32 and i32"):
        upload([(ti.field(ti.f64, shape=2), np.zeros(2))])
    with pytest.raises(ValueError, match="matrix"):
        upload([(ti.Matrix.field(2, 2, ti.f32, shape=2), np.zeros((2, 2, 2)))])
    assert upload_module.SMALL >= 1 << 16  # a small film's reference is one of the small arrays
