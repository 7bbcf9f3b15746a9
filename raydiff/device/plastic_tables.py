"""The tables Mitsuba 3's ``roughplastic`` precomputes, computed the same way in numpy (host side, no Taichi).

Mitsuba's ``roughplastic`` (GGX, ``nonlinear: false``) scales its diffuse base by how much light the rough
dielectric coating lets through. When the material is built it tabulates, for a GGX roughness ``alpha``
and the relative index ``eta = int_ior / ext_ior``:

- the *external transmittance* ``T(mu)``: the fraction of light arriving at cosine ``mu`` from outside that
  the rough interface refracts into the plastic, at :data:`TABLE_SIZE` cosines ``max(1e-6, linspace(0, 1,
  64))``, looked up by linear interpolation (:func:`lookup`, Mitsuba's ``lerp_gather``);
- the *internal reflectance* ``R_i``: a scalar, how much diffuse light inside is reflected back by the
  interface, ``2 * mean(R(mu) * mu)`` over the same cosines, ``R(mu)`` being the rough interface's
  reflectance seen from inside (relative index ``1 / eta``).

Both are integrals over the GGX distribution of visible normals, which Mitsuba (``eval_transmittance`` and
``eval_reflectance`` in ``include/mitsuba/render/microfacet.h``) evaluates with a tensor-product
Gauss-Legendre rule over the square of sample points that its visible-normal sampler maps to normals:
32 x 32 nodes where the light goes into the denser medium (``eta > 1``), 128 x 128 otherwise. Each node's
value is the Smith masking of the scattered direction times the Fresnel term (reflected) or one minus it
(refracted), times the node weights and the rule's Jacobian 1/4. This module follows those steps one by
one: the visible-normal sampler (Heitz's, with Shirley's concentric disk), the dielectric Fresnel term,
refraction and reflection about the sampled normal. Mitsuba computes in float32 and this in float64;
tests/test_roughplastic.py checks the whole diffuse lobe they make against Mitsuba's to 1e-4 relative.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Mitsuba's ``MI_ROUGH_TRANSMITTANCE_RES``: the cosines of the transmittance table.
TABLE_SIZE = 64


def _safe_sqrt(x):
    return np.sqrt(np.maximum(x, 0.0))


def _concentric_disk(u, v):
    """Shirley's low-distortion map of the unit square onto the unit disk (Dave Cline's form, as Mitsuba)."""
    x, y = 2.0 * u - 1.0, 2.0 * v - 1.0
    swap = np.abs(x) < np.abs(y)
    r = np.where(swap, y, x)
    rp = np.where(swap, x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = 0.25 * np.pi * rp / r
    phi = np.where(swap, 0.5 * np.pi - phi, phi)
    phi = np.where((x == 0.0) & (y == 0.0), 0.0, phi)
    return r * np.cos(phi), r * np.sin(phi)


def _sample_visible_normal(alpha: float, wi: np.ndarray, u, v) -> np.ndarray:
    """GGX visible normals for the directions ``wi`` (..., 3), local frame, z the normal, from the square
    samples ``u, v`` (broadcast against ``wi[..., 0]``): Mitsuba's ``MicrofacetDistribution::sample`` with
    ``sample_visible``, for an isotropic ``alpha``."""
    stretched = np.stack([alpha * wi[..., 0], alpha * wi[..., 1], wi[..., 2]], axis=-1)
    stretched /= np.linalg.norm(stretched, axis=-1, keepdims=True)
    sin2 = 1.0 - stretched[..., 2] ** 2
    degenerate = np.abs(sin2) <= 4.0 * np.finfo(np.float32).eps
    inv_sin = 1.0 / np.sqrt(np.where(degenerate, 1.0, sin2))
    cos_phi = np.where(degenerate, 1.0, np.clip(stretched[..., 0] * inv_sin, -1.0, 1.0))
    sin_phi = np.where(degenerate, 0.0, np.clip(stretched[..., 1] * inv_sin, -1.0, 1.0))
    cos_theta = stretched[..., 2]
    # the slopes of the visible normals for alpha = 1 (sample_visible_11, GGX)
    px, py = _concentric_disk(u, v)
    s = 0.5 * (1.0 + cos_theta)
    py = (1.0 - s) * _safe_sqrt(1.0 - px * px) + s * py
    pz = _safe_sqrt(1.0 - px * px - py * py)
    sin_theta = _safe_sqrt(1.0 - cos_theta * cos_theta)
    norm = 1.0 / (sin_theta * py + cos_theta * pz)
    sx, sy = (cos_theta * py - sin_theta * pz) * norm, px * norm
    # rotate back and unstretch
    mx = (cos_phi * sx - sin_phi * sy) * alpha
    my = (sin_phi * sx + cos_phi * sy) * alpha
    m = np.stack(np.broadcast_arrays(-mx, -my, np.ones_like(mx)), axis=-1)
    return m / np.linalg.norm(m, axis=-1, keepdims=True)


def _smith_g1(alpha: float, v: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Smith's GGX masking of ``v`` by facets of normal ``m`` (local frame), as Mitsuba's ``smith_g1``."""
    xy = alpha * alpha * (v[..., 0] ** 2 + v[..., 1] ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = 2.0 / (1.0 + np.sqrt(1.0 + xy / v[..., 2] ** 2))
    g = np.where(xy == 0.0, 1.0, g)
    return np.where(np.sum(v * m, axis=-1) * v[..., 2] <= 0.0, 0.0, g)


def fresnel_dielectric(cos_i, eta: float):
    """Mitsuba's ``fresnel(cos_theta_i, eta)``: the unpolarised reflectance, the signed cosine of the
    refracted ray and its relative index ``eta_ti``, for incidence cosines ``cos_i`` of either sign."""
    outside = cos_i >= 0.0
    eta_it = np.where(outside, eta, 1.0 / eta)
    eta_ti = 1.0 / eta_it
    cos_t2 = 1.0 - (1.0 - cos_i * cos_i) * eta_ti * eta_ti
    ci, ct = np.abs(cos_i), _safe_sqrt(cos_t2)
    with np.errstate(divide="ignore", invalid="ignore"):
        a_s = (ci - eta_it * ct) / (ci + eta_it * ct)
        a_p = (ct - eta_it * ci) / (ct + eta_it * ci)
    r = 0.5 * (a_s * a_s + a_p * a_p)
    r = np.where(eta == 1.0, 0.0, np.where(ci == 0.0, 1.0, r))
    return r, np.where(cos_i >= 0.0, -ct, ct), eta_ti


def _directions() -> np.ndarray:
    """The table's directions (64, 3): cosines ``max(1e-6, linspace(0, 1, 64))`` in the xz plane."""
    mu = np.maximum(1e-6, np.linspace(0.0, 1.0, TABLE_SIZE))
    return np.stack([np.sqrt(1.0 - mu * mu), np.zeros_like(mu), mu], axis=-1)


def _quadrature(alpha: float, eta: float, reflect: bool) -> np.ndarray:
    """Mitsuba's ``eval_reflectance`` (``reflect``) or ``eval_transmittance`` at every table direction."""
    nodes, weights = np.polynomial.legendre.leggauss(32 if eta > 1.0 else 128)
    nx, ny = np.meshgrid(nodes, nodes)
    wx, wy = np.meshgrid(weights, weights)
    u, v, w = 0.5 * nx.ravel() + 0.5, 0.5 * ny.ravel() + 0.5, (wx * wy).ravel()
    alpha = max(alpha, 1e-4)  # as Mitsuba's MicrofacetDistribution
    wi = _directions()[:, None, :]  # (64, 1, 3) against the (nodes,) samples
    m = _sample_visible_normal(alpha, wi, u[None, :], v[None, :])
    cos_m = np.sum(wi * m, axis=-1)
    f, cos_t, eta_ti = fresnel_dielectric(cos_m, eta)
    if reflect:
        wo = 2.0 * cos_m[..., None] * m - wi
        value = _smith_g1(alpha, wo, m) * f
        value = np.where((wo[..., 2] <= 0.0) | (wi[..., 2] <= 0.0), 0.0, value)
    else:
        wo = m * (cos_m * eta_ti + cos_t)[..., None] - wi * eta_ti[..., None]
        value = _smith_g1(alpha, wo, m) * (1.0 - f)
        value = np.where(wo[..., 2] * wi[..., 2] >= 0.0, 0.0, value)
    return np.sum(value * w * 0.25, axis=-1)


@lru_cache(maxsize=64)
def tables(alpha: float, int_ior: float, ext_ior: float) -> tuple[np.ndarray, float]:
    """Mitsuba's ``m_external_transmittance`` (:data:`TABLE_SIZE` float64 values) and
    ``m_internal_reflectance`` for a ``roughplastic`` of GGX roughness ``alpha`` and the given indices.

    Parameters
    ----------
    alpha : float
        GGX roughness, > 0.
    int_ior, ext_ior : float
        The plastic's and the outside medium's indices of refraction, > 0 and different.
    """
    eta = float(np.float32(int_ior) / np.float32(ext_ior))  # Mitsuba's m_eta, in float32
    transmittance = _quadrature(alpha, eta, reflect=False)
    cosines = _directions()[:, 2]
    internal = 2.0 * float(np.mean(_quadrature(alpha, 1.0 / eta, reflect=True) * cosines))
    transmittance.setflags(write=False)
    return transmittance, internal


def lookup(table: np.ndarray, cosine):
    """Mitsuba's ``lerp_gather``: ``table`` linearly interpolated at ``cosine`` in [0, 1] (host side; the
    kernel of :mod:`raydiff.kernels.materials.roughplastic` does the same)."""
    x = np.asarray(cosine, dtype=np.float64) * (len(table) - 1)
    i = np.minimum(x.astype(np.int64), len(table) - 2)
    return table[i] + (table[i + 1] - table[i]) * (x - i)
