"""Materials as pieces: each builds ``bsdf(material_offset, p, n, wi, wo) -> vec3`` for the integrator.

Only the Lambertian ``diffuse`` material exists so far; a new material is a new module and a branch on the
surface's material kind, not an edit of the integrator's loops.
"""

from .diffuse import make as make_diffuse  # noqa: F401
