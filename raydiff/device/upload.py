"""Writing several small host arrays into their fields with one kernel, instead of one ``from_numpy`` each.

Every ``field.from_numpy`` of Taichi 1.7.4 launches a kernel instantiated for that field
(``ext_arr_to_tensor``, ``ext_arr_to_matrix``), so a device scene that fills a dozen small fields
compiles a dozen kernels before its first render: each costs tens of milliseconds on its first launch
even from the offline cache (its machine code is generated again from the cached LLVM IR), a few times
that uncached (docs/performance.md, section 12). :func:`upload` writes a group of small arrays with one
kernel: the arrays are joined into one float32 and one int32 buffer, and one loop over their elements
sends each to its field and element (the field, and where its elements start in the buffer, are
compile-time constants of the kernel). Arrays of more than :data:`SMALL` elements go through
``from_numpy`` as before: there the loop's branches would cost more than the kernel saved.

The values written are the arrays' own, converted to the field's type as ``from_numpy`` converts them.

:func:`together` goes further: within it, every flush waits, and its end writes what all of them held
with one kernel, so that a caller building several objects that upload (a ``Fitter``: the device scene,
the camera's frames, the loss's reference) launches one kernel for them all (docs/performance.md,
section 20).
"""

import contextlib

import numpy as np
import taichi as ti

#: The most elements (scalars) an array may have to be written by :func:`upload`'s joined kernel.
SMALL = 1 << 18

_FLOAT, _INT = ti.f32, ti.i32


def _element_width(field) -> int:
    """Scalars per element of ``field``: 1 for a scalar field, n for an n-vector field."""
    shape = getattr(field, "n", None)
    if shape is None:
        return 1
    if getattr(field, "m", 1) != 1:
        raise ValueError("upload writes scalar and vector fields, not matrix fields")
    return int(shape)


class Uploads:
    """Writes collected and made at once: :meth:`add` each field's values, then :meth:`flush` them.

    A small array waits for :meth:`flush`, which writes every waiting array with one kernel; a large one
    (more than :data:`SMALL` scalars) is written at once by ``from_numpy``, so that no large copy waits
    (a million-triangle mesh's fields are written one after the other, as before).
    """

    def __init__(self):
        self._waiting: list[tuple] = []

    def add(self, field, data) -> None:
        """Write ``data`` into ``field`` (now if it is large, else at the next :meth:`flush`).

        Parameters
        ----------
        field : ti.Field
            A scalar or vector field of ``ti.f32`` or ``ti.i32``, any shape; written once per flush.
        data : array-like
            The values for all of it: an array of the field's shape, followed by the vector's length for a
            vector field (as ``from_numpy`` takes them), converted to the field's type.

        Raises
        ------
        ValueError
            If the array's shape is not the field's, or the field's type is neither ``ti.f32`` nor ``ti.i32``.
        """
        width = _element_width(field)
        shape = tuple(field.shape) + ((width,) if getattr(field, "n", None) is not None else ())
        dtype = field.dtype
        if dtype not in (_FLOAT, _INT):
            raise ValueError(f"upload writes f32 and i32 fields, not {dtype}")
        values = np.ascontiguousarray(data, dtype=np.float32 if dtype == _FLOAT else np.int32)
        if values.shape != shape:
            raise ValueError(f"an array of shape {values.shape} for a field of shape {shape}")
        if values.size > SMALL:
            field.from_numpy(values)
        else:
            self._waiting.append((field, values))

    def flush(self) -> None:
        """Write every waiting array: one kernel launch (``from_numpy`` for a single one); inside
        :func:`together`, they wait for the end of it instead."""
        waiting, self._waiting = self._waiting, []
        if _together:
            _together[-1].extend(waiting)
            return
        _write(waiting)


#: The arrays waiting for the end of the innermost :func:`together` (one list per level), [] outside.
_together: list[list[tuple]] = []


@contextlib.contextmanager
def together():
    """Within this block, every :meth:`Uploads.flush` and :func:`upload` waits; the block's end writes
    all their small arrays with one kernel (large ones are written at once, as always). Nothing that
    runs inside may read the fields written this way: no kernel that reads them may be launched before
    the block ends. A field given twice has its earlier values written first (a kernel writes a field
    once). If the block raises, nothing waiting is written. Nested blocks write at the outermost's end.
    """
    _together.append([])
    try:
        yield
    except BaseException:
        _together.pop()
        raise
    waiting = _together.pop()
    if _together:
        _together[-1].extend(waiting)
        return
    while waiting:  # each field at most once per kernel: a repeated one starts the next kernel
        seen, batch = set(), []
        while waiting and id(waiting[0][0]) not in seen:
            seen.add(id(waiting[0][0]))
            batch.append(waiting.pop(0))
        _write(batch)


def _write(waiting: list[tuple]) -> None:
    """Write ``(field, array)`` pairs, each field once: one kernel launch (``from_numpy`` for one pair)."""
    if len(waiting) == 1:
        waiting[0][0].from_numpy(waiting[0][1])
    elif waiting:
        _joined_kernel([f for f, _ in waiting], [v for _, v in waiting])


def upload(pairs) -> None:
    """Write each ``(field, array)`` of ``pairs`` (see :meth:`Uploads.add`): the small arrays with one
    kernel, the large ones with ``from_numpy``."""
    uploads = Uploads()
    for field, data in pairs:
        uploads.add(field, data)
    uploads.flush()


def _joined_kernel(fields: list, arrays: list[np.ndarray]) -> None:
    """Write ``arrays`` (checked, of their fields' types) into ``fields`` with one kernel launch."""
    is_float = [f.dtype == _FLOAT for f in fields]
    floats = np.concatenate([a.ravel() for a, fl in zip(arrays, is_float) if fl] or [np.zeros(1, np.float32)])
    ints = np.concatenate([a.ravel() for a, fl in zip(arrays, is_float) if not fl] or [np.zeros(1, np.int32)])
    # Each array's range in the one loop's index, and where it starts in its own buffer.
    starts, at, buffer_start, in_buffer = [], 0, [], {True: 0, False: 0}
    for a, fl in zip(arrays, is_float):
        starts.append(at)
        buffer_start.append(in_buffer[fl])
        at += a.size
        in_buffer[fl] += a.size
    starts.append(at)
    widths = [_element_width(f) for f in fields]
    vector = [getattr(f, "n", None) is not None for f in fields]
    shapes = [tuple(int(d) for d in f.shape) for f in fields]
    # The field index of an element's flat number, per dimension: (divisor, extent).
    strides = [[(int(np.prod(s[d + 1:], dtype=np.int64)), s[d]) for d in range(len(s))] for s in shapes]
    total = at

    # Written out in the kernel, with no ti.func: each call of one costs the front end a parse of it, per
    # field. An element's field index is one int for a one-dimensional field, else a vector of them.
    @ti.kernel
    def write(floats: ti.types.ndarray(dtype=ti.f32, ndim=1), ints: ti.types.ndarray(dtype=ti.i32, ndim=1)):
        for i in range(total):
            for k in ti.static(range(len(fields))):
                if starts[k] <= i < starts[k + 1]:
                    s = i - starts[k]  # the scalar's place in its array (row-major, components last)
                    e = s // widths[k]  # its element's
                    where = e if ti.static(len(strides[k]) == 1) else ti.Vector(
                        [(e // strides[k][d][0]) % strides[k][d][1] for d in ti.static(range(len(strides[k])))])
                    source = ti.static(floats if is_float[k] else ints)
                    if ti.static(vector[k]):
                        fields[k][where][s % widths[k]] = source[s + buffer_start[k]]
                    else:
                        fields[k][where] = source[s + buffer_start[k]]

    write(floats, ints)
