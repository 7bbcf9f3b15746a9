"""Mitsuba 3 as a test oracle: render a :class:`raydiff.scene.model.Scene` with Mitsuba's own path tracer.

raydiff follows Mitsuba 3's conventions (``perspective`` sensor with ``fov_axis='x'`` and ``look_at``, box
pixel filter, two-sided Lambertian surfaces, isotropic ``point`` lights in W/sr, ``directional`` lights in
W/m^2, direct light only), so the same scene rendered here is the reference a raydiff render must match
within Monte Carlo noise.

How a raydiff scene maps onto Mitsuba's:

* each :class:`~raydiff.scene.model.Camera` is a ``perspective`` sensor; a scene with several cameras
  (``Scene.cameras``) is rendered one view at a time, ``view`` being the index into ``scene.cameras``,
  all views sharing the scene's film;
* an object's surface is ``twosided``: ``diffuse`` with its ``albedo``, or its material (a
  :class:`~raydiff.scene.model.RoughConductor` is ``roughconductor`` with ``distribution: ggx`` and its
  alpha, specular_reflectance, eta and k as RGB values, a :class:`~raydiff.scene.model.Conductor` is
  ``conductor`` with its specular_reflectance, eta and k, a :class:`~raydiff.scene.model.RoughPlastic` is
  ``roughplastic`` with ``distribution: ggx`` and its alpha, colours and indices);
* the integrator is ``path`` with the scene's ``max_depth``. At 2 that is direct light only, raydiff's
  model. Above 2 Mitsuba's path tracer also follows diffuse and glossy bounces (it samples every BSDF),
  while raydiff follows only mirrors: they agree where no diffuse or glossy surface lights another one
  (the parity scene: diffuse objects that see only mirrors and the sky). At a mirror (a delta BSDF)
  Mitsuba samples no emitter, so it, too, sees lights only at the reflected ray's hit;
* a :class:`~raydiff.scene.model.Mesh` is an ``obj`` file written in world space: with ``face_normals``
  when it has no OBJ normals (raydiff shades it flat), else with its normals placed as Mitsuba places
  them (inverse transpose of the scale, then the rotation, unit length) and ``face_normals`` false, so
  that both shade it smooth; its texture coordinates are written as read (both flip v);
* a :class:`~raydiff.scene.model.PointLight` is a ``point`` emitter, ``intensity`` in W/sr;
* a :class:`~raydiff.scene.model.DirectionalLight` is a ``directional`` emitter: ``direction`` is the way
  the light *travels* (from the light towards the scene; Mitsuba's ``direction`` parameter, the +z axis of
  the emitter's ``to_world``), and ``irradiance`` (W/m^2) is what a surface facing the light receives.
  Mitsuba places the light at twice the scene's bounding radius, against ``direction``; every occluder
  lies within that, so its shadow rays see what raydiff's unbounded ones see.

Verified conventions (see tests/test_mitsuba_oracle.py):

* the returned image is (height, width, 3) float32 linear RGB with pixel (0, 0) the top-left one;
* a diffuse surface under a point light has radiance ``albedo / pi * I * cos(theta) / r**2``;
* a diffuse surface under a directional light has radiance ``albedo / pi * E * max(0, -direction . n)``
  (``n`` the normal on the viewer's side), independent of where the surface is; lit from the other side,
  a two-sided surface is black;
* ``view=i`` renders ``scene.cameras[i]``.

Only ``mitsuba_available`` imports Mitsuba lazily; nothing here imports it at module import time, so the
test suite collects without Mitsuba installed.
"""

from __future__ import annotations

import math
import os
import tempfile

import numpy as np

from raydiff.scene.model import (Camera, Conductor, DirectionalLight, Mesh, PointLight, Quad, RoughConductor,
                                 RoughPlastic, Scene, Sphere, Texture)

__all__ = ["mitsuba_available", "render_mitsuba", "scene_dict", "select_camera", "mesh_world_vertices",
           "mesh_world_normals"]


def mitsuba_available(variant: str = "scalar_rgb") -> bool:
    """True when ``mitsuba`` imports and ``variant`` can be set (llvm_* variants need libLLVM)."""
    try:
        import mitsuba as mi

        mi.set_variant(variant)
    except Exception:  # ImportError, or the variant is not compiled in / its backend cannot start
        return False
    return True


def _rotation_matrix(axis, angle_deg: float) -> np.ndarray:
    """Right-handed rotation by ``angle_deg`` degrees about ``axis`` (Rodrigues' formula)."""
    a = np.asarray(axis, dtype=np.float64)
    norm = np.linalg.norm(a)
    if norm == 0.0 or angle_deg == 0.0:
        return np.eye(3)
    x, y, z = a / norm
    t = math.radians(angle_deg)
    c, s = math.cos(t), math.sin(t)
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + s * k + (1.0 - c) * (k @ k)


def mesh_world_vertices(mesh: Mesh) -> np.ndarray:
    """World-space (V, 3) float64 vertices: scale, then rotate, then translate."""
    v = np.asarray(mesh.vertices, dtype=np.float64) * np.asarray(mesh.scale, dtype=np.float64)
    v = v @ _rotation_matrix(mesh.rotate.axis, mesh.rotate.angle).T
    return v + np.asarray(mesh.translate, dtype=np.float64)


def _rgb(values) -> dict:
    return {"type": "rgb", "value": [float(c) for c in values]}


def _bsdf(obj) -> dict:
    """The two-sided Mitsuba BSDF of ``obj``'s surface: ``diffuse`` with its albedo, or its material."""
    material = getattr(obj, "material", None)
    if material is None and isinstance(obj.albedo, Texture):
        import mitsuba as mi  # the variant is set: scene_dict runs after mitsuba_available

        # Linear float texels (no sRGB curve); Mitsuba's bitmap, bilinear and repeating, as raydiff's
        texture = {"type": "bitmap", "bitmap": mi.Bitmap(np.ascontiguousarray(obj.albedo.texels, np.float32)),
                   "raw": True, "filter_type": "bilinear", "wrap_mode": "repeat"}
        inner = {"type": "diffuse", "reflectance": texture}
    elif material is None:
        inner = {"type": "diffuse", "reflectance": _rgb(obj.albedo)}
    elif isinstance(material, RoughConductor):
        inner = {
            "type": "roughconductor",
            "distribution": "ggx",
            "alpha": float(material.alpha),
            "specular_reflectance": _rgb(material.specular_reflectance),
            "eta": _rgb(material.eta),
            "k": _rgb(material.k),
        }
    elif isinstance(material, Conductor):
        inner = {
            "type": "conductor",
            "specular_reflectance": _rgb(material.specular_reflectance),
            "eta": _rgb(material.eta),
            "k": _rgb(material.k),
        }
    elif isinstance(material, RoughPlastic):
        inner = {
            "type": "roughplastic",
            "distribution": "ggx",
            "alpha": float(material.alpha),
            "diffuse_reflectance": _rgb(material.diffuse_reflectance),
            "specular_reflectance": _rgb(material.specular_reflectance),
            "int_ior": float(material.int_ior),
            "ext_ior": float(material.ext_ior),
        }
    else:
        raise TypeError(f"unsupported material: {type(material).__name__}")
    return {"type": "twosided", "material": inner}


def _quad_to_world(mi, quad: Quad):
    """Map Mitsuba's ``rectangle`` ([-1, 1]^2 in xy, normal +z) onto origin + u*edge1 + v*edge2."""
    o = np.asarray(quad.origin, dtype=np.float64)
    e1 = np.asarray(quad.edge1, dtype=np.float64)
    e2 = np.asarray(quad.edge2, dtype=np.float64)
    n = np.cross(e1, e2)
    n = n / np.linalg.norm(n)
    m = np.eye(4)
    m[:3, 0] = e1 / 2.0
    m[:3, 1] = e2 / 2.0
    m[:3, 2] = n
    m[:3, 3] = o + (e1 + e2) / 2.0
    return mi.ScalarTransform4f(m.tolist())


def mesh_world_normals(mesh: Mesh) -> np.ndarray:
    """World-space unit (N, 3) float64 OBJ normals of a smooth mesh: by the inverse transpose of the scale,
    then the rotation (how Mitsuba transforms normals with an object's ``to_world``)."""
    n = np.asarray(mesh.normals, dtype=np.float64) / np.asarray(mesh.scale, dtype=np.float64)
    n = n @ _rotation_matrix(mesh.rotate.axis, mesh.rotate.angle).T
    return n / np.linalg.norm(n, axis=1, keepdims=True)


def _write_obj(path: str, mesh: Mesh) -> None:
    """The mesh placed in world space as an OBJ: positions and triangles, and where the mesh has them its
    texture coordinates (as read: Mitsuba flips v as raydiff does) and its normals, placed too."""
    faces = [np.asarray(mesh.faces, dtype=np.int64) + 1]
    with open(path, "w", encoding="ascii") as f:
        for x, y, z in mesh_world_vertices(mesh):
            f.write(f"v {x:.9g} {y:.9g} {z:.9g}\n")
        if mesh.texcoord_faces is not None:
            for u, v in np.asarray(mesh.texcoords, dtype=np.float64):
                f.write(f"vt {u:.9g} {v:.9g}\n")
        faces.append(None if mesh.texcoord_faces is None else np.asarray(mesh.texcoord_faces) + 1)
        if mesh.smooth:
            for x, y, z in mesh_world_normals(mesh):
                f.write(f"vn {x:.9g} {y:.9g} {z:.9g}\n")
        faces.append(np.asarray(mesh.normal_faces) + 1 if mesh.smooth else None)
        for k in range(len(faces[0])):
            v, t, n = (None if a is None else a[k] for a in faces)
            corners = [str(v[j]) + ("" if t is None and n is None else "/")
                       + ("" if t is None else str(t[j])) + ("" if n is None else f"/{n[j]}") for j in range(3)]
            f.write("f " + " ".join(corners) + "\n")


def _vec(values) -> list[float]:
    return [float(c) for c in values]


def select_camera(scene: Scene, view: int = 0) -> Camera:
    """``scene.cameras[view]``; ``view`` must be a non-negative index in range.

    Raises
    ------
    IndexError
        When ``view`` is not one of ``0 .. len(scene.cameras) - 1``.
    """
    n = len(scene.cameras)
    if isinstance(view, bool) or not isinstance(view, (int, np.integer)) or not 0 <= int(view) < n:
        raise IndexError(f"view {view!r} is not a camera index of this scene (it has {n} camera(s))")
    return scene.cameras[int(view)]


def _emitter(light) -> dict:
    """The Mitsuba emitter dictionary of one raydiff light."""
    if isinstance(light, PointLight):
        return {
            "type": "point",
            "position": _vec(light.position),
            "intensity": {"type": "rgb", "value": _vec(light.intensity)},
        }
    if isinstance(light, DirectionalLight):
        direction = np.asarray(light.direction, dtype=np.float64)
        norm = float(np.linalg.norm(direction))
        if norm == 0.0:
            raise ValueError(f"directional light {light.name!r} has a zero direction")
        return {
            "type": "directional",
            "direction": _vec(direction / norm),
            "irradiance": {"type": "rgb", "value": _vec(light.irradiance)},
        }
    raise TypeError(f"unsupported light type: {type(light).__name__}")


def scene_dict(scene: Scene, spp: int, seed: int = 0, tmpdir: str | None = None, view: int = 0,
               sampler: str = "independent") -> dict:
    """The Mitsuba scene dictionary for ``scene`` seen from ``scene.cameras[view]``.

    The current Mitsuba variant must be set already.

    Parameters
    ----------
    scene : Scene
        The raydiff scene description.
    spp : int
        Samples per pixel of the sensor's sampler.
    seed : int, optional
        The sampler's seed.
    tmpdir : str, optional
        Where meshes are written as OBJ files; it must outlive ``mi.load_dict``. Needed only when the scene
        has meshes.
    view : int, optional
        Which camera (an index into ``scene.cameras``) becomes the dictionary's only sensor.
    sampler : str, optional
        Mitsuba's sampler plugin: ``independent`` (the default), or ``stratified`` (jittered strata; ``spp``
        a square), whose pixel footprint noise is far lower where the image varies within a pixel (a
        glossy highlight).

    Returns
    -------
    dict
        A dictionary for ``mi.load_dict``.
    """
    import mitsuba as mi

    cam = select_camera(scene, view)
    d: dict = {
        "type": "scene",
        "integrator": {"type": "path", "max_depth": int(scene.max_depth)},
        "sensor": {
            "type": "perspective",
            "fov": float(cam.fov),
            "fov_axis": "x",
            "near_clip": 1e-3,
            "far_clip": 1e5,
            "to_world": mi.ScalarTransform4f().look_at(
                origin=[float(c) for c in cam.position],
                target=[float(c) for c in cam.look_at],
                up=[float(c) for c in cam.up],
            ),
            "film": {
                "type": "hdrfilm",
                "width": int(scene.film.width),
                "height": int(scene.film.height),
                "pixel_format": "rgb",
                "rfilter": {"type": "box"},
            },
            "sampler": {"type": sampler, "sample_count": int(spp), "seed": int(seed)},
        },
    }
    used: set[str] = set(d)
    for i, obj in enumerate(scene.objects):
        key = obj.name if obj.name and obj.name not in used else f"object_{i}"
        used.add(key)
        if isinstance(obj, Sphere):
            d[key] = {
                "type": "sphere",
                "center": [float(c) for c in obj.center],
                "radius": float(obj.radius),
                "bsdf": _bsdf(obj),
            }
        elif isinstance(obj, Quad):
            d[key] = {"type": "rectangle", "to_world": _quad_to_world(mi, obj), "bsdf": _bsdf(obj)}
        elif isinstance(obj, Mesh):
            if tmpdir is None:
                raise ValueError("scene_dict needs a tmpdir for meshes")
            path = os.path.join(tmpdir, f"mesh_{i}.obj")
            _write_obj(path, obj)
            # Without OBJ normals raydiff shades a mesh flat (Mitsuba would compute vertex normals)
            d[key] = {"type": "obj", "filename": path, "face_normals": not obj.smooth, "bsdf": _bsdf(obj)}
        else:
            raise TypeError(f"unsupported object type: {type(obj).__name__}")
    for i, light in enumerate(scene.lights):
        emitter = _emitter(light)
        key = light.name if light.name and light.name not in used else f"light_{i}"
        used.add(key)
        d[key] = emitter
    return d


def render_mitsuba(scene: Scene, spp: int, variant: str = "scalar_rgb", seed: int = 0, view: int = 0,
                   sampler: str = "independent") -> np.ndarray:
    """Render ``scene`` with Mitsuba 3 from ``scene.cameras[view]``.

    Parameters
    ----------
    scene : Scene
        The raydiff scene description.
    spp : int
        Samples per pixel.
    variant : str, optional
        The Mitsuba variant (``scalar_rgb`` needs nothing but Mitsuba itself).
    seed : int, optional
        The sampler's seed.
    view : int, optional
        The index of the camera in ``scene.cameras`` (0, the default, is ``scene.camera``).
    sampler : str, optional
        Mitsuba's sampler plugin (see :func:`scene_dict`).

    Returns
    -------
    np.ndarray
        A (height, width, 3) float32 linear RGB image, row 0 at the top.
    """
    import mitsuba as mi

    select_camera(scene, view)  # fail before setting the variant or writing any file
    mi.set_variant(variant)
    with tempfile.TemporaryDirectory(prefix="raydiff_mitsuba_") as tmpdir:
        mi_scene = mi.load_dict(scene_dict(scene, spp, seed, tmpdir, view=view, sampler=sampler))
    image = np.array(mi.render(mi_scene, spp=int(spp), seed=int(seed)), dtype=np.float32)
    return image.reshape(scene.film.height, scene.film.width, 3)
