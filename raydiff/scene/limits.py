"""Every limit raydiff puts on its inputs, in one place, and the checks of numbers against the device's.

The device computes in float32 and counts in int32 (Taichi's defaults, ``raydiff.backend``), so a number
that Python holds without trouble (``1e39``, ``1e-50``, ``2**40``) can become infinity, zero or a wrapped
count there. The scene loader (:mod:`raydiff.scene.description`), :class:`raydiff.FitSettings` and the
commands' checks (:mod:`raydiff.run.budget`) test their numbers with the functions here, so that such a
value is refused where it is written, with the limit in the message. ``docs/scene-format.md`` ("Limits
and memory") lists every limit.

No Taichi here: the numbers are checked before a device exists.
"""

from __future__ import annotations

import math

import numpy as np

#: The largest finite float32 (about 3.4e38).
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: The smallest positive *normal* float32 (about 1.2e-38); GPUs flush smaller (subnormal) values to zero.
FLOAT32_TINY = float(np.finfo(np.float32).tiny)
#: The largest int32: every count and index on the device.
INT32_MAX = 2**31 - 1
#: The largest uint32: sample seeds are 32 bits.
UINT32_MAX = 2**32 - 1

# --- the scene file --------------------------------------------------------------------------------
#: Film width and height, in pixels.
MAX_FILM_SIZE = 16384
#: Lights: one bit each in the visibility pass's mask (:mod:`raydiff.device.hitrecord`).
MAX_LIGHTS = 31
#: Cameras of ``cameras:``.
MAX_CAMERAS = 64
#: A scene file's size in bytes, checked before it is parsed: PyYAML reads about 0.1 MB a second here,
#: so this bounds the parse to about 10 s. Meshes go in OBJ files, so a scene file is a few KB.
MAX_SCENE_BYTES = 1 << 20
#: YAML nodes (every scalar, list and mapping, keys included) in the document as written, counted while
#: it is composed: a few seconds of parsing (about 3 s here) and 25 MB; about 3000 objects.
MAX_YAML_NODES = 50_000
#: Values once aliases are expanded (``&a`` / ``*a``), counted while they are: guards against alias bombs
#: (1,000,000 took 5 s here); four times :data:`MAX_YAML_NODES`.
MAX_YAML_VALUES = 200_000
#: Lists and mappings inside each other (also through aliases): a scene needs about 5, and PyYAML's
#: composer recurses once per level, so ``[[[[...]]]]`` ten thousand deep would exhaust Python's stack.
MAX_YAML_DEPTH = 64
#: Samples per pixel (``film.spp``, ``--spp``): a sample's index is an int32 on the device.
MAX_SPP = INT32_MAX
#: The triangles of every mesh together: the hit record keeps a primitive's index in 28 bits
#: (:data:`raydiff.device.hitrecord.INDEX_BITS`).
MAX_TRIANGLES = (1 << 28) - 1
#: Views times film pixels: a pixel's index (over every view) is an int32 on the device.
MAX_PIXELS = INT32_MAX
#: The largest magnitude of a coordinate or a length (positions, centres, radii, edges, offsets, mesh
#: scales): squared distances (the sum of three squares of differences) stay finite in float32.
MAX_LENGTH = 1e18
#: The smallest magnitude of a nonzero coordinate or length: its square is still a normal float32.
MIN_LENGTH = 1e-18
#: The largest light intensity (W/sr) or irradiance (W/m^2): pixel values stay small enough that the
#: loss, which squares them, is finite in float32.
MAX_RADIANT = 1e18
#: A microfacet material's roughness (GGX ``alpha``), in the file and as a fit's bounds: below 0.01 a point
#: light's highlight is a few hundredths of a radian across (a pixel or less, all noise); above 1 GGX is no
#: longer a model of a real surface.
MIN_ALPHA, MAX_ALPHA = 0.01, 1.0
#: The largest component of a conductor's complex index of refraction (``eta``, ``k``): measured metals
#: stay below 10 in the visible range; squared and multiplied in the Fresnel term, 1e4 stays far from
#: float32's limits.
MAX_IOR = 1e4
#: A scene's ``max_depth`` (Mitsuba's: path segments from the camera to a light): 2 is direct light, each
#: more one more mirror bounce. Every bounce is one more int32 record per sample and one more recomputed
#: hit in the differentiated shading, unrolled; 4 (two bounces: a mirror seen in a mirror) bounds both.
MIN_DEPTH, MAX_DEPTH = 2, 4
#: A texture's largest side in texels (``albedo: {texture: ...}`` or ``resolution``): 8192 x 8192 x 3
#: scalars (201M) still fit the pool's 28-bit offsets (device/materials.py).
MAX_TEXTURE_SIDE = 8192

# --- a fit ----------------------------------------------------------------------------------------
#: ``--iterations``: the iteration number is an int32 on the device.
MAX_ITERATIONS = INT32_MAX
#: ``--seed``: sample seeds are 32 bits, so seed and seed + 2^32 would give the same samples.
MAX_SEED = UINT32_MAX

# --- what the kernels allocate (copied here, without Taichi, for raydiff.run.budget; tests/test_budget.py
# checks them against the kernels' own) ------------------------------------------------------------
#: Samples whose hit records are kept at once (:data:`raydiff.kernels.integrator.DEFAULT_MAX_BATCH_SAMPLES`).
BATCH_SAMPLES = 1 << 23
#: Samples per batch up to which a fit's gradient keeps each hit's shading inputs, 40 bytes a sample (48 with
#: a texture) (:data:`raydiff.kernels.integrator.MAX_SHADING_RECORD_SAMPLES`).
SHADING_RECORD_SAMPLES = 1 << 21
#: The primary cache (:mod:`raydiff.kernels.primary`): bytes per sample and set (hit record, point, normal,
#: direction to the viewer, material; + uv with a texture), the most samples over all its sets (2^21:
#: 92 MB, eight sets of 256x256 at 4 spp), the fewest sets it runs with (four: the Levenberg-Marquardt
#: residual, its two Jacobians and its trials each need a set of their own) and the most a fit may ask for.
PRIMARY_RECORD_BYTES, PRIMARY_TEXTURED_RECORD_BYTES = 44, 52
PRIMARY_CACHE_SAMPLES = 1 << 21
MIN_PRIMARY_SETS, MAX_PRIMARY_SETS = 4, 64


def primary_sets_that_fit(requested: int, samples: int) -> int:
    """The sets a primary cache of ``requested`` sets of ``samples`` samples each gets: as many as fit in
    :data:`PRIMARY_CACHE_SAMPLES`, or 0 (no cache) if that is fewer than :data:`MIN_PRIMARY_SETS`."""
    sets = min(int(requested), PRIMARY_CACHE_SAMPLES // max(int(samples), 1))
    return sets if sets >= MIN_PRIMARY_SETS else 0
#: Boundary-pass samples in all, unless each candidate edge needs more than its minimum
#: (:data:`raydiff.kernels.boundary.MAX_SAMPLES`).
BOUNDARY_SAMPLES = 1 << 20


def _g(x: float) -> str:
    return f"{x:.3g}"


def float32_problem(x: float) -> str | None:
    """Why the finite number ``x`` does not survive as a float32, or None if it does.

    Parameters
    ----------
    x : float
        A finite number.

    Returns
    -------
    str or None
        ``"beyond float32's range (magnitude at most 3.4e+38)"``, ``"too small for float32 (...): it
        would be 0 on the device"``, or None.
    """
    magnitude = abs(x)
    if magnitude > FLOAT32_MAX:
        return f"beyond float32's range (magnitude at most {_g(FLOAT32_MAX)})"
    if 0.0 < magnitude < FLOAT32_TINY:
        return f"too small for float32 (a nonzero magnitude is at least {_g(FLOAT32_TINY)}): it would be 0 on the device"
    return None


def length_problem(x: float) -> str | None:
    """Why ``x`` cannot be a coordinate or a length (see :data:`MAX_LENGTH`, :data:`MIN_LENGTH`), or None."""
    magnitude = abs(x)
    if magnitude > MAX_LENGTH:
        return f"too large for a coordinate or length (magnitude at most {_g(MAX_LENGTH)}, so that squared distances stay finite in float32)"
    if 0.0 < magnitude < MIN_LENGTH:
        return f"too small for a coordinate or length (a nonzero magnitude is at least {_g(MIN_LENGTH)}, so that its square is not 0 in float32)"
    return None


def option_float_problem(value: float) -> str | None:
    """Why a command-line number (``--lr``, ``--eps`` ...) does not survive as a float32, or None.

    Non-finite values are the caller's to refuse (their messages say what the option means)."""
    if not math.isfinite(value):
        return None
    return float32_problem(value)


def int_range_problem(value: int, high: int, low: int = 0) -> str | None:
    """``"at most <high>"`` / ``"at least <low>"`` if the integer ``value`` is outside [low, high], else None."""
    if value > high:
        return f"at most {high}"
    if value < low:
        return f"at least {low}"
    return None
