"""The plain scene description: dataclasses, YAML and OBJ in and out, and the parameter table. No Taichi."""

from .model import (  # noqa: F401
    Camera,
    Film,
    FreeParameter,
    Mesh,
    Object,
    PointLight,
    Quad,
    Rotation,
    Scene,
    Sphere,
    Vec3,
)
