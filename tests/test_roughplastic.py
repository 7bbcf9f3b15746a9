"""Tests for the rough plastic (Mitsuba 3's ``roughplastic``, GGX): its tables and its BSDF against Mitsuba's.

raydiff/device/plastic_tables.py recomputes the tables Mitsuba's constructor integrates; the diffuse lobe
alone (Mitsuba's component 1) is ``diffuse / (1 - R_i) / (pi eta^2) T(cos_i) T(cos_o) cos_o``, so comparing
it with Mitsuba's ``eval`` checks both tables at once. Then the kernel's whole BSDF
(raydiff/kernels/materials/roughplastic.py, both lobes) is evaluated on the device for directions all
over the hemisphere and compared with Mitsuba's ``eval`` divided by the light's cosine. The images
(tests/test_parity.py), the gradients (tests/test_gradients.py) and the Vulkan backend
(tests/test_backends_rough.py) are checked with the other materials.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from raydiff.device.plastic_tables import TABLE_SIZE, lookup, tables
from raydiff.scene.description import load_scene_string
from raydiff.scene.model import Camera, Film, PointLight, RoughPlastic, Scene, Sphere

#: (alpha, int_ior, ext_ior): Mitsuba's default indices, a denser coating, and light leaving a denser medium.
CASES = [(0.05, 1.49, 1.000277), (0.3, 1.49, 1.000277), (0.7, 1.7, 1.0), (0.2, 1.2, 1.5)]


def _directions(n: int, seed: int) -> np.ndarray:
    """``n`` unit directions above the xy plane (cosines from 0.05 to 1), local frame (z the normal)."""
    rng = np.random.default_rng(seed)
    cos = rng.uniform(0.05, 1.0, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    sin = np.sqrt(1.0 - cos * cos)
    return np.stack([sin * np.cos(phi), sin * np.sin(phi), cos], axis=-1)


def _mitsuba_eval(mi, material: RoughPlastic, wi: np.ndarray, wo: np.ndarray, component=None) -> np.ndarray:
    """Mitsuba's ``roughplastic`` ``eval`` (BRDF times the cosine of ``wo``) per pair of local directions,
    ``wi`` towards the viewer and ``wo`` towards the light, (n, 3)."""
    from mitsuba_oracle import _bsdf

    bsdf = mi.load_dict(_bsdf(Sphere("s", (0.0, 0.0, 0.0), 1.0, material=material))["material"])
    ctx = mi.BSDFContext()
    if component is not None:
        ctx.component = component
    si = mi.SurfaceInteraction3f()
    si.sh_frame = mi.Frame3f(mi.Vector3f(0.0, 0.0, 1.0))
    out = []
    for a, b in zip(wi, wo):
        si.wi = mi.Vector3f(*a)
        out.append(np.array(bsdf.eval(ctx, si, mi.Vector3f(*b))))
    return np.array(out, dtype=np.float64)


@pytest.mark.parametrize("alpha, int_ior, ext_ior", CASES)
def test_the_tables_give_mitsubas_diffuse_lobe(mitsuba, alpha, int_ior, ext_ior):
    material = RoughPlastic(alpha=alpha, diffuse_reflectance=(0.8, 0.5, 0.2), int_ior=int_ior, ext_ior=ext_ior)
    wi, wo = _directions(40, 1), _directions(40, 2)
    theirs = _mitsuba_eval(mitsuba, material, wi, wo, component=1)
    transmittance, internal = tables(alpha, int_ior, ext_ior)
    assert transmittance.shape == (TABLE_SIZE,) and 0.0 < internal < 1.0
    eta = np.float32(int_ior) / np.float32(ext_ior)
    scale = lookup(transmittance, wi[:, 2]) * lookup(transmittance, wo[:, 2]) * wo[:, 2] / ((1.0 - internal) * np.pi * eta**2)
    ours = scale[:, None] * np.array(material.diffuse_reflectance)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)


@pytest.fixture(scope="module")
def device_bsdf(cpu_backend):
    """``evaluate(material, wi, wo) -> (n, 3)``: the kernel's BSDF of a sphere of ``material`` (one device
    scene and kernel for the module; each material is written into its pool and tables), for local
    directions (the normal +z) ``wi`` towards the viewer and ``wo`` towards the light."""
    import taichi as ti

    from raydiff.device.scene import DeviceScene, layout_scene
    from raydiff.kernels.materials import make_bsdf

    def scene_of(material):
        return Scene(camera=Camera((0.0, 0.0, 3.0), (0.0, 0.0, 0.0)), film=Film(4, 4, 1),
                     objects=(Sphere("s", (0.0, 0.0, 0.0), 1.0, material=material),),
                     lights=(PointLight("l", (0.0, 2.0, 2.0), (1.0, 1.0, 1.0)),))

    dev = DeviceScene(scene_of(RoughPlastic()))
    bsdf = make_bsdf(dev)
    n = 64
    view, light, out = (ti.Vector.field(3, ti.f32, shape=n) for _ in range(3))

    @ti.kernel
    def run():
        for i in range(n):
            out[i] = bsdf(dev.sphere_material[0], ti.Vector([0.0, 0.0, 0.0]), ti.Vector([0.0, 0.0, 1.0]),
                          light[i], view[i], ti.math.vec2(0.0, 0.0))

    def evaluate(material, wi, wo):
        scene = scene_of(material)
        dev.set_pool(np.array(layout_scene(scene).values, dtype=np.float32))
        dev.plastic.write(scene)
        view.from_numpy(np.resize(wi, (n, 3)).astype(np.float32))
        light.from_numpy(np.resize(wo, (n, 3)).astype(np.float32))
        run()
        return out.to_numpy()[: len(wi)].astype(np.float64)

    return evaluate


@pytest.mark.parametrize("alpha, int_ior, ext_ior", CASES)
def test_the_kernel_bsdf_is_mitsubas_eval_over_the_cosine(mitsuba, device_bsdf, alpha, int_ior, ext_ior):
    material = RoughPlastic(alpha=alpha, diffuse_reflectance=(0.6, 0.3, 0.1), specular_reflectance=(0.9, 0.8, 1.0),
                            int_ior=int_ior, ext_ior=ext_ior)
    wi = _directions(64, 3)
    # half the light directions near the mirror direction (in the highlight), half anywhere
    mirrored = wi * np.array([-1.0, -1.0, 1.0]) + 0.15 * alpha * _directions(64, 4)
    mirrored[:, 2] = np.maximum(mirrored[:, 2], 0.05)
    wo = np.where(np.arange(64)[:, None] % 2 == 0, mirrored / np.linalg.norm(mirrored, axis=-1, keepdims=True),
                  _directions(64, 5))
    theirs = _mitsuba_eval(mitsuba, material, wi, wo) / wo[:, 2:3]
    ours = device_bsdf(material, wi, wo)
    assert theirs.max() > 5.0 * np.median(theirs)  # the highlight is among the directions
    np.testing.assert_allclose(ours, theirs, rtol=2e-3, atol=1e-6 * theirs.max())


def test_the_scene_file_reads_mitsubas_keys_and_defaults():
    text = """\
camera: {position: [0, 0, 3], look_at: [0, 0, 0]}
film: {width: 4, height: 4}
objects:
  - {name: a, type: sphere, center: [0, 0, 0], radius: 1, material: {type: roughplastic}}
  - name: b
    type: sphere
    center: [2, 0, 0]
    radius: 1
    material: {type: roughplastic, distribution: ggx, nonlinear: false, alpha: 0.3, diffuse_reflectance: [0.1, 0.2, 0.3],
               specular_reflectance: 0.5, int_ior: 1.6, ext_ior: 1.0}
lights: [{type: point, position: [0, 2, 2], intensity: 1}]
"""
    scene = load_scene_string(text)
    assert scene.object("a").material == RoughPlastic(alpha=0.1, diffuse_reflectance=(0.5, 0.5, 0.5),
                                                      specular_reflectance=(1.0, 1.0, 1.0), int_ior=1.49, ext_ior=1.000277)
    assert scene.object("b").material == replace(RoughPlastic(), alpha=0.3, diffuse_reflectance=(0.1, 0.2, 0.3),
                                                 specular_reflectance=(0.5, 0.5, 0.5), int_ior=1.6, ext_ior=1.0)
