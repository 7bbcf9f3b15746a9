"""Free scalars read at fixed pool offsets: their gradient summed per thread, not by atomics.

Taichi's reverse mode turns every read of ``pool`` in a differentiated kernel into an atomic add into
``pool.grad``. A light's position is read at offsets known when the kernel is compiled, so in the shading
gradient every sample adds 3 float atomics onto the same 3 addresses of ``pool.grad``: about half of that
kernel's time on the CPU (one thread, where a float atomic is a compare-and-swap loop) and more with two,
where the cache line travels between the cores (docs/performance.md, section 9). Taichi 1.7.4 sums an
atomic add into a *0-D* field (``x[None] += v``) in a per-thread accumulator instead, adding it once per
thread at the end (its thread-local-storage pass, which leaves fields with indices alone).

So each free scalar of the light groups gets a 0-D field of its own (its *copy*), and what
:meth:`raydiff.device.scene.DeviceScene.source` hands the kernels for a free group is a
:class:`PoolView`: subscripted in a kernel while :attr:`FixedReads.active` is set (only while the shading
gradient is compiled and run), it reads the copy for those offsets; otherwise, and for any offset known
only at run time, it reads the pool itself, exactly as the field would be read. The integrator loads the
copies from the pool before the shading gradient (:meth:`FixedReads.load`) and moves their gradients
into ``pool.grad`` after each band of it (:meth:`FixedReads.gather`): the same gradient, summed in
another order (float32 rounding).
"""

from contextlib import contextmanager

import taichi as ti
from taichi.lang import impl

#: The device groups whose pieces read the pool at offsets fixed at compile time (kernels/lights).
FIXED_GROUPS = ("light", "light_power")


class PoolView:
    """What kernels subscript instead of the pool for a free group (see the module's docstring).

    ``view[k]`` inside a kernel is ``pool[k]``, or, while ``fixed.active`` and ``k`` is a Python int with
    a copy, that copy's value: Taichi calls ``__getitem__`` while it compiles the kernel, with the index
    as an int when it is a compile-time constant and as an expression otherwise.
    """

    def __init__(self, pool, fixed: "FixedReads"):
        self.pool, self.fixed = pool, fixed

    def __getitem__(self, index):
        copy = self.fixed.fields.get(index) if self.fixed.active and isinstance(index, int) else None
        if copy is not None:
            return impl.subscript(None, copy, None)
        return impl.subscript(None, self.pool, index)


class FixedReads:
    """The 0-D copies of the free scalars at ``offsets`` of ``pool`` (see the module's docstring).

    Parameters
    ----------
    pool : ti.field (f32, needs_grad)
        The scene's pool.
    offsets : sequence of int
        The pool offsets to copy: free entries of the :data:`FIXED_GROUPS`. May be empty (then nothing
        is made and :attr:`any` is False).

    Attributes
    ----------
    fields : dict of int to ti.field (f32, shape (), needs_grad)
        The copy of each offset.
    active : bool
        Whether kernels compiled now read the copies (set by :meth:`reading`).
    """

    def __init__(self, pool, offsets):
        self.pool = pool
        self.fields: dict[int, object] = {}
        self.active = False
        offsets = sorted({int(k) for k in offsets})
        if not offsets:
            return
        builder = ti.FieldsBuilder()  # one SNode tree for all the copies
        for k in offsets:
            self.fields[k] = ti.field(ti.f32)
            builder.place(self.fields[k])
        builder.lazy_grad()
        builder.finalize()
        pairs = list(self.fields.items())

        @ti.kernel
        def copy(gather: ti.i32):  # one kernel for both directions: one compilation fewer at start-up
            for j in ti.static(range(len(pairs))):
                if gather == 0:
                    pairs[j][1][None] = pool[pairs[j][0]]
                else:
                    pool.grad[pairs[j][0]] += pairs[j][1].grad[None]
                    pairs[j][1].grad[None] = 0.0

        self._copy = copy

    @property
    def any(self) -> bool:
        """Whether there is any copy (else :meth:`load` and :meth:`gather` must not be called)."""
        return bool(self.fields)

    @contextmanager
    def reading(self):
        """Within: kernels compiled read the copies (wrap every call of a kernel compiled so)."""
        self.active = True
        try:
            yield
        finally:
            self.active = False

    def load(self) -> None:
        """Copy the pool's current values into the copies."""
        self._copy(0)

    def gather(self) -> None:
        """Add the copies' gradients into ``pool.grad`` and zero them."""
        self._copy(1)
