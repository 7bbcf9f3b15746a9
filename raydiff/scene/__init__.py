"""The plain scene description: dataclasses, YAML and OBJ in and out, and the parameter table. No Taichi."""

from .model import (  # noqa: F401
    Camera,
    DirectionalLight,
    Film,
    FreeParameter,
    Light,
    Mesh,
    Object,
    PointLight,
    Quad,
    Rotation,
    Scene,
    Sphere,
    Vec3,
)
