"""The Fresnel reflectance of a conductor, shared by the rough (``roughconductor``) and smooth
(``conductor``) metals, and of a dielectric seen from outside (the ``roughplastic``'s coating).

In Mitsuba 3's RGB variants the complex index ``eta + i k`` is given per RGB channel and used as it is;
so it is here. Straight-line code: the shading pass differentiates it.
"""

import taichi as ti

from .microfacet import safe_sqrt


@ti.func
def fresnel_conductor(c, eta, k):
    """The unpolarised Fresnel reflectance of a conductor of index ``eta + i k`` (vec3s: per channel) at
    incidence cosine ``c`` (> 0): the formula of Mitsuba 3's ``fresnel_conductor`` (after Moeller's
    *Optics*)."""
    c2 = c * c
    s2 = 1.0 - c2
    s4 = s2 * s2
    t1 = eta * eta - k * k - s2
    a2pb2 = safe_sqrt(t1 * t1 + 4.0 * k * k * eta * eta)
    a = safe_sqrt(0.5 * (a2pb2 + t1))
    term1 = a2pb2 + c2
    term2 = 2.0 * c * a
    rs = (term1 - term2) / (term1 + term2)
    term3 = a2pb2 * c2 + s4
    term4 = term2 * s2
    rp = rs * (term3 - term4) / (term3 + term4)
    return 0.5 * (rs + rp)


@ti.func
def fresnel_dielectric(c, eta):
    """The unpolarised Fresnel reflectance of a dielectric interface of relative index ``eta`` (inside over
    outside, a scalar) for light arriving from outside at incidence cosine ``c`` (> 0): Mitsuba 3's
    ``fresnel(cos_theta_i, eta)`` on the outside, total internal reflection (``eta < 1``) included."""
    inv = 1.0 / eta
    cos_t = safe_sqrt(1.0 - (1.0 - c * c) * inv * inv)
    a_s = (c - eta * cos_t) / (c + eta * cos_t)
    a_p = (cos_t - eta * c) / (cos_t + eta * c)
    return 0.5 * (a_s * a_s + a_p * a_p)
