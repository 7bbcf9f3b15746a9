"""Writing a large mesh's fields (its triangles and its BVH's nodes) with one kernel, not one ``from_numpy`` each.

A field's ``from_numpy`` launches a copy kernel instantiated for that field, so a million-triangle mesh's
dozen fields compiled a dozen kernels while the scene loaded: about a second of its load
(docs/performance.md, section 14). :class:`BulkUploads` collects the arrays, as
:class:`raydiff.device.upload.Uploads` does for small ones, and writes them all with one kernel: they are
packed into one float32 and one int32 buffer, and for each length of field one parallel loop over the
elements writes every field of that length (a vector's components together), without the per-scalar
branches of ``Uploads``' joined kernel.

The values written are the arrays' own, converted to the field's type as ``from_numpy`` converts them.
"""

import numpy as np
import taichi as ti

_FLOAT, _INT = ti.f32, ti.i32


class BulkUploads:
    """Large arrays for one-dimensional fields, collected by :meth:`add` and written by :meth:`flush`.

    It has :class:`raydiff.device.upload.Uploads`' interface, so that a device scene sends its large
    fields through one or the other.
    """

    def __init__(self):
        self._waiting: list[tuple] = []

    def add(self, field, data) -> None:
        """Write ``data`` into ``field`` at the next :meth:`flush`.

        Parameters
        ----------
        field : ti.Field
            A one-dimensional scalar or vector field of ``ti.f32`` or ``ti.i32``.
        data : array-like
            Its values: (n,) for a scalar field, (n, k) for a k-vector field of n elements; converted to
            the field's type (a float32 or int32 copy is kept until the flush when ``data`` is of another type).

        Raises
        ------
        ValueError
            If the field is not one-dimensional, its type is neither ``ti.f32`` nor ``ti.i32``, or the
            array's shape is not the field's.
        """
        if field.dtype not in (_FLOAT, _INT):
            raise ValueError(f"bulk uploads write f32 and i32 fields, not {field.dtype}")
        if len(field.shape) != 1 or getattr(field, "m", 1) != 1:
            raise ValueError(f"bulk uploads write one-dimensional scalar and vector fields, not shape {field.shape}")
        width = getattr(field, "n", None)
        shape = (int(field.shape[0]),) + ((int(width),) if width is not None else ())
        values = np.ascontiguousarray(data, dtype=np.float32 if field.dtype == _FLOAT else np.int32)
        if values.shape != shape:
            raise ValueError(f"an array of shape {values.shape} for a field of shape {shape}")
        self._waiting.append((field, values))

    def flush(self) -> None:
        """Write every waiting array, with one kernel launch (nothing when none waits)."""
        waiting, self._waiting = self._waiting, []
        if waiting:
            _write(waiting)  # (which empties the list)


def _write(waiting: list[tuple]) -> None:
    """Pack ``waiting``'s arrays into two buffers and write them into their fields with one kernel. Each
    array is let go once copied (``waiting`` is emptied), so that the buffers replace the arrays in memory."""
    sizes = {True: 0, False: 0}  # float32 scalars, int32 scalars
    groups: dict[int, list[tuple]] = {}  # by length: (field, is float, start in its buffer, width)
    for field, values in waiting:
        is_float = values.dtype == np.float32
        width = 1 if values.ndim == 1 else values.shape[1]
        groups.setdefault(len(values), []).append((field, is_float, sizes[is_float], width))
        sizes[is_float] += values.size
    del field, values
    buffers = {kind: np.empty(max(size, 1), np.float32 if kind else np.int32) for kind, size in sizes.items()}
    at = {True: 0, False: 0}
    waiting.reverse()
    while waiting:
        _, values = waiting.pop()
        kind = values.dtype == np.float32
        buffers[kind][at[kind]:at[kind] + values.size] = values.ravel()
        at[kind] += values.size
        del values
    floats, ints = buffers[True], buffers[False]
    del buffers
    lengths = list(groups)
    fields = [[m[0] for m in groups[n]] for n in lengths]
    is_float = [[m[1] for m in groups[n]] for n in lengths]
    starts = [[m[2] for m in groups[n]] for n in lengths]
    widths = [[m[3] for m in groups[n]] for n in lengths]
    vector = [[getattr(m[0], "n", None) is not None for m in groups[n]] for n in lengths]

    @ti.kernel
    def write(floats: ti.types.ndarray(dtype=ti.f32, ndim=1), ints: ti.types.ndarray(dtype=ti.i32, ndim=1)):
        for g in ti.static(range(len(lengths))):
            for i in range(lengths[g]):
                for k in ti.static(range(len(fields[g]))):
                    source = ti.static(floats if is_float[g][k] else ints)
                    if ti.static(vector[g][k]):
                        for c in ti.static(range(widths[g][k])):
                            fields[g][k][i][c] = source[starts[g][k] + widths[g][k] * i + c]
                    else:
                        fields[g][k][i] = source[starts[g][k] + i]

    write(floats, ints)
    ti.sync()  # (the launch has read the buffers on every backend)
    # Taichi's compiler keeps the first launch's arguments in its context, which sits in a reference
    # cycle: the buffers (80 MB for a million triangles) would stay until the next full collection, so
    # they are given back now.
    floats.resize(0, refcheck=False)
    ints.resize(0, refcheck=False)
