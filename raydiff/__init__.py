"""raydiff: a differentiable ray tracer on Taichi, for recovering scene parameters from pictures.

The Python API in five names::

    import raydiff
    raydiff.init("cpu")                                   # or "auto", "cuda", "vulkan"
    scene = raydiff.load_scene("scenes/three_spheres.yaml")
    image = raydiff.render(scene)                         # (H, W, 3) linear RGB, the first camera
    ref = raydiff.read_reference("assets/three_spheres_ref.png", scene.film.width, scene.film.height)
    result = raydiff.fit(scene, ref, raydiff.FitSettings(iterations=100), callback=print)
    result.values["lights.key.position"]

and the renderer as a differentiable function, to chain with a model of one's own::

    obj = raydiff.Objective(scene, ref, free=["objects.bob.center"])
    loss, grads = obj.value_and_grad({"objects.bob.center": [0.0, 0.5, 0.0]})
"""

from .backend import init
from .errors import BackendError, ImageError, Location, RaydiffError, ResourceError, SceneError
from .io.images import read_image, read_reference, write_image
from .kernels.render import render, render_views
from .optim.fit import FitResult, FitSettings, Iteration, fit
from .optim.objective import Objective, frame_seed
from .scene.description import dump_scene, load_scene, load_scene_string

__version__ = "0.1.0"

__all__ = [
    "init",
    "load_scene",
    "load_scene_string",
    "dump_scene",
    "render",
    "render_views",
    "fit",
    "FitSettings",
    "FitResult",
    "Iteration",
    "Objective",
    "frame_seed",
    "read_image",
    "read_reference",
    "write_image",
    "RaydiffError",
    "SceneError",
    "ImageError",
    "BackendError",
    "ResourceError",
    "Location",
]
