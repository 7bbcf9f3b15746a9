"""The plain scene description: what a scene file says, validated, with no Taichi in sight.

``raydiff.description.load_scene`` makes a :class:`Scene` from a YAML file; ``raydiff.device`` builds the
Taichi fields from it; ``raydiff.description.dump_scene`` writes one back (fitted.yaml). All lengths are in
scene units (metres by convention), angles in degrees, colours in linear RGB.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Union

import numpy as np

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Camera:
    """A pinhole camera (Mitsuba's ``perspective`` sensor with ``look_at``): one view of the scene.

    ``fov`` is the horizontal field of view in degrees; the vertical one follows from the film's aspect.
    ``name`` is ``camera`` for a scene's single ``camera:``; each of ``cameras:`` has its own. ``weight``
    multiplies this view's term of a fit's loss.
    """

    position: Vec3
    look_at: Vec3
    up: Vec3 = (0.0, 1.0, 0.0)
    fov: float = 40.0
    name: str = "camera"
    weight: float = 1.0
    type: str = "perspective"


@dataclass(frozen=True)
class Film:
    """Image size in pixels and jittered samples per pixel (box filter)."""

    width: int
    height: int
    spp: int = 4


@dataclass(frozen=True)
class RoughConductor:
    """Mitsuba 3's ``roughconductor`` with ``distribution: ggx``: a rough metal (isotropic GGX microfacets).

    ``alpha`` is the GGX roughness; ``specular_reflectance`` (linear RGB) multiplies the Fresnel term;
    ``eta`` and ``k`` are the real and imaginary parts of the metal's index of refraction per RGB channel.
    The defaults are Mitsuba's ``material: none``: ``eta`` 0 and ``k`` 1, a perfect reflector (F = 1).
    """

    alpha: float = 0.1
    specular_reflectance: Vec3 = (1.0, 1.0, 1.0)
    eta: Vec3 = (0.0, 0.0, 0.0)
    k: Vec3 = (1.0, 1.0, 1.0)
    type: str = "roughconductor"


@dataclass(frozen=True)
class Conductor:
    """Mitsuba 3's smooth ``conductor``: a perfect mirror whose reflection is ``specular_reflectance`` times
    the conductor Fresnel term of the complex index ``eta + i k`` (per RGB channel).

    Light from point and directional lights reaches the viewer off a perfect mirror only along one
    direction, so a mirror shows only what its reflected ray sees: the scene's ``max_depth`` says how many
    such bounces are followed. The defaults are Mitsuba's ``material: none``, as for
    :class:`RoughConductor`.
    """

    specular_reflectance: Vec3 = (1.0, 1.0, 1.0)
    eta: Vec3 = (0.0, 0.0, 0.0)
    k: Vec3 = (1.0, 1.0, 1.0)
    type: str = "conductor"


@dataclass(frozen=True)
class RoughPlastic:
    """Mitsuba 3's ``roughplastic`` with ``distribution: ggx`` and ``nonlinear: false``: a diffuse base
    under a rough dielectric coating (isotropic GGX microfacets).

    ``diffuse_reflectance`` (linear RGB) is the base's colour, ``specular_reflectance`` multiplies the
    coating's reflection (Mitsuba's default leaves it out: 1); ``alpha`` is the coating's GGX roughness and
    ``int_ior`` / ``ext_ior`` the indices of refraction inside and outside (Mitsuba's defaults:
    polypropylene, 1.49, and air, 1.000277). The defaults are Mitsuba's.
    """

    alpha: float = 0.1
    diffuse_reflectance: Vec3 = (0.5, 0.5, 0.5)
    specular_reflectance: Vec3 = (1.0, 1.0, 1.0)
    int_ior: float = 1.49
    ext_ior: float = 1.000277
    type: str = "roughplastic"


@dataclass(frozen=True, eq=False)
class Texture:
    """An image painted on a surface (an object's ``albedo: {texture: file}``): Mitsuba 3's ``bitmap``
    texture, looked up bilinearly at the hit's uv with wrap mode ``repeat``.

    ``texels`` is (height, width, 3) float32 linear RGB, row 0 the image's top row (as the file stores
    it; Mitsuba's v = 0 reads row 0). ``file`` is the resolved path of the image it came from and
    ``file_as_written`` what the scene said; both are None for a flat start (``resolution`` and ``value``)
    or a fitted texture not yet written.
    """

    texels: np.ndarray
    file: str | None = None
    file_as_written: str | None = None

    @property
    def width(self) -> int:
        return int(self.texels.shape[1])

    @property
    def height(self) -> int:
        return int(self.texels.shape[0])


def is_texture(value) -> bool:
    """Whether an object's ``albedo`` (or another colour) is a :class:`Texture` rather than a flat RGB."""
    return isinstance(value, Texture)


#: The material types that are mirrors (a delta BSDF): their reflected ray is followed, up to ``max_depth``.
SPECULAR_MATERIALS = frozenset({"conductor"})

#: A surface's material other than the diffuse one (which an object's ``albedo`` describes).
Material = Union[RoughConductor, Conductor, RoughPlastic]


def material_type(obj) -> str:
    """The type of ``obj``'s material: ``"diffuse"`` (its ``albedo``) unless it has a ``material``."""
    material = getattr(obj, "material", None)
    return "diffuse" if material is None else material.type


@dataclass(frozen=True)
class Sphere:
    """A sphere. Its surface is diffuse with ``albedo`` unless ``material`` names another (see
    :func:`material_type`); the same holds for every object."""

    name: str
    center: Vec3
    radius: float
    albedo: Vec3 | Texture = (0.5, 0.5, 0.5)
    type: str = "sphere"
    material: Material | None = None


@dataclass(frozen=True)
class Quad:
    """The parallelogram ``origin + u * edge1 + v * edge2`` for u, v in [0, 1]; normal along edge1 x edge2."""

    name: str
    origin: Vec3
    edge1: Vec3
    edge2: Vec3
    albedo: Vec3 | Texture = (0.5, 0.5, 0.5)
    type: str = "quad"
    material: Material | None = None


@dataclass(frozen=True)
class Rotation:
    """A rotation by ``angle`` degrees about ``axis`` (right-handed)."""

    axis: Vec3 = (0.0, 1.0, 0.0)
    angle: float = 0.0


@dataclass(frozen=True, eq=False)
class Mesh:
    """A triangle mesh read from a Wavefront OBJ file, placed by scale, then rotate, then translate.

    ``vertices`` (V, 3) float64 and ``faces`` (F, 3) int64 are in object space, as read from ``file``
    (polygons fan-triangulated). ``file`` is the resolved path; ``file_as_written`` is what the scene said.

    Where the OBJ's faces index them, ``texcoords`` (T, 2) float64 are its ``vt`` values as written (u, v)
    and ``texcoord_faces`` (F, 3) int64 index them per triangle corner; ``normals`` (N, 3) float64 are its
    ``vn`` (object space, nonzero) and ``normal_faces`` (F, 3) int64 index them: such a mesh is shaded
    smooth (the corners' normals interpolated). Each pair is None, or both are set.
    """

    name: str
    file: str
    file_as_written: str
    vertices: np.ndarray
    faces: np.ndarray
    scale: Vec3 = (1.0, 1.0, 1.0)
    rotate: Rotation = Rotation()
    translate: Vec3 = (0.0, 0.0, 0.0)
    albedo: Vec3 | Texture = (0.5, 0.5, 0.5)
    type: str = "mesh"
    material: Material | None = None
    texcoords: np.ndarray | None = None
    texcoord_faces: np.ndarray | None = None
    normals: np.ndarray | None = None
    normal_faces: np.ndarray | None = None

    @property
    def smooth(self) -> bool:
        """True when the mesh has normals (``vn``): it is shaded with their interpolation."""
        return self.normal_faces is not None


Object = Union[Sphere, Quad, Mesh]


@dataclass(frozen=True)
class PointLight:
    """An isotropic point light; ``intensity`` is radiant intensity in W/sr per RGB channel."""

    name: str
    position: Vec3
    intensity: Vec3
    type: str = "point"


@dataclass(frozen=True)
class DirectionalLight:
    """A light from infinitely far away (Mitsuba 3's ``directional`` emitter).

    ``direction`` is the way the light travels (towards the scene; need not be unit length in a file, kept
    unit length inside); ``irradiance`` is the irradiance in W/m^2 per RGB channel on a surface facing it.
    """

    name: str
    direction: Vec3
    irradiance: Vec3
    type: str = "directional"


Light = Union[PointLight, DirectionalLight]


@dataclass(frozen=True)
class FreeParameter:
    """One entry under ``optimize``: a dotted path and its options (None takes the kind's default)."""

    path: str
    lr: float | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, eq=False)
class Scene:
    """A whole scene, validated.

    ``source`` is the scene file's path (or ``"<string>"``); ``document`` is the YAML document as parsed,
    kept so that fitted.yaml can be written with the user's own layout and key order.
    """

    camera: Camera | None
    film: Film
    objects: tuple[Object, ...]
    lights: tuple[Light, ...]
    optimize: tuple[FreeParameter, ...] = ()
    source: str = "<string>"
    document: dict = field(default_factory=dict)
    cameras: tuple[Camera, ...] = ()
    #: Mitsuba's ``max_depth``: the longest path, in segments, from the camera to a light. 2 is direct
    #: light only; each more follows one more specular (mirror) bounce.
    max_depth: int = 2

    def __post_init__(self):
        # One view (``camera``) or several (``cameras``); ``camera`` is always the first of ``cameras``.
        cameras = tuple(self.cameras) or ((self.camera,) if self.camera is not None else ())
        if not cameras:
            raise ValueError("a scene needs a camera")
        object.__setattr__(self, "cameras", cameras)
        object.__setattr__(self, "camera", cameras[0])

    @property
    def mirror_bounces(self) -> int:
        """The reflected rays followed per camera ray: ``max_depth - 2`` when an object is a mirror, else 0
        (the integrator records a hit for each, one int32 per sample)."""
        mirrors = any(material_type(o) in SPECULAR_MATERIALS for o in self.objects)
        return self.max_depth - 2 if mirrors else 0

    @property
    def several_views(self) -> bool:
        """True when the scene file lists ``cameras:`` (paths then read ``cameras.<name>.<field>``)."""
        return "cameras" in self.document or len(self.cameras) > 1

    @property
    def name(self) -> str:
        """The scene's name: its file's stem (``three_spheres`` for ``scenes/three_spheres.yaml``)."""
        import os

        stem = os.path.splitext(os.path.basename(self.source))[0]
        return stem if stem and not stem.startswith("<") else "scene"

    def object(self, name: str) -> Object:
        return next(o for o in self.objects if o.name == name)

    def light(self, name: str) -> Light:
        return next(light for light in self.lights if light.name == name)

    def with_cameras(self, cameras) -> "Scene":
        """A copy with other cameras (``camera`` follows the first)."""
        cameras = tuple(cameras)
        return replace(self, camera=cameras[0], cameras=cameras)

    def with_film(self, **changes) -> "Scene":
        """A copy with some film settings changed, e.g. ``scene.with_film(spp=64)``."""
        return replace(self, film=replace(self.film, **changes))
