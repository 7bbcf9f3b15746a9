"""The plain scene description: dataclasses, YAML and OBJ in and out, and the parameter table. No Taichi."""

from .model import (  # noqa: F401
    Camera,
    Conductor,
    DirectionalLight,
    Film,
    FreeParameter,
    Light,
    Material,
    Mesh,
    Object,
    PointLight,
    Quad,
    RoughConductor,
    RoughPlastic,
    Rotation,
    Scene,
    Sphere,
    Vec3,
    material_type,
)
