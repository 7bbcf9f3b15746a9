"""A :class:`raydiff.scene.Scene` on the device: the pool of differentiable scalars, primitives, the BVH."""
