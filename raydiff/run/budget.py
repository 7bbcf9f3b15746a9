"""What a command will need, known before it starts: memory for a scene and settings, against the machine's.

``raydiff fit``, ``render`` and ``gradcheck`` call :func:`check_fit`, :func:`check_render` or
:func:`check_gradcheck` in their check phase, after the scene and the options are read and before any
field is allocated or any output written. Each estimates the memory the command will need (:func:`estimate`,
a sum of :class:`Need` parts: the device's fields, the host's images, frames, animation and history),
compares it with the memory there is (:func:`available_memory`; the device's own on a GPU, where it can be
asked), and raises :class:`raydiff.errors.ResourceError` naming what it would need, what is available and
which option lowers it, in well under a second, where the command itself would have run for minutes and
then been killed by the system without a word.

The formula, its constants and how they were measured are in ``docs/scene-format.md`` ("Limits and
memory"); ``benchmarks/memory.py --sweep`` measures real peaks against :func:`estimate`. The estimate is
meant to be a little above the truth (the constants are rounded up), and only a request that does not
fit is refused: nothing is refused for being slow.

No Taichi here: the kernels' own allocation sizes that the formula needs are copied into
:mod:`raydiff.scene.limits` (and checked against the kernels by ``tests/test_budget.py``).
"""

from __future__ import annotations

import ctypes
import math
import os
import re
from dataclasses import dataclass

from ..errors import ResourceError
from ..scene.limits import (BATCH_SAMPLES, BOUNDARY_SAMPLES, MAX_SEED, MAX_SPP, PRIMARY_TEXTURED_RECORD_BYTES,
                             SHADING_RECORD_SAMPLES, primary_sets_that_fit,
                             int_range_problem, option_float_problem)
from ..scene.model import Mesh, Scene
from ..scene.parameters import resolve_all
from . import frames

#: An environment variable that sets the memory raydiff assumes it has (``8G``, ``512M``, bytes), in place of
#: what the machine reports: for a machine shared with others, or a job's own limit.
MEMORY_VARIABLE = "RAYDIFF_MEMORY"

# --- the formula's constants (bytes; see docs/scene-format.md, "Limits and memory") ---------------------
#: The process before any field: Python, numpy, Taichi, LLVM, compiled kernels, the command line's
#: packages (measured on the CPU backend: 172 MB for render, 247 MB for fit, with small films).
PROCESS_BASE = 256 << 20
#: Device bytes per film pixel and view: the image and its gradient (2 x 12).
IMAGE_BYTES = 24
#: Per pixel and image of Levenberg-Marquardt (a Jacobian column, the residual, ...): RGB float32.
LM_IMAGE_BYTES = 12
#: Device bytes per pixel and view of a reference in the loss (12).
REFERENCE_BYTES = 12
#: Device bytes per recorded sample: the hit record and the visibility mask (2 x 4), and one more hit
#: record (4) per mirror bounce (``Scene.mirror_bounces``).
RECORD_BYTES, BOUNCE_RECORD_BYTES = 8, 4
#: Device bytes per sample of the gradient's shading records (point, normal, direction to the viewer, material,
#: uv: 48 with a texture, 40 without), kept for batches of at most ``SHADING_RECORD_SAMPLES`` samples in a
#: scene without mirror bounces while no camera or geometry is free (counted whenever something is free).
SHADING_RECORD_BYTES = 48
#: Device bytes per boundary-pass sample (weight, normal, u, receiver, point) and per candidate curve.
BOUNDARY_SAMPLE_BYTES, BOUNDARY_CANDIDATE_BYTES = 28, 20
#: Device bytes per triangle: corners, edges, normal, material record and mesh indices, object-space corners, BVH nodes.
TRIANGLE_DEVICE_BYTES = 150
#: Host bytes per triangle while the scene is read and the BVH built (float64 copies, the OBJ's lists),
#: and for the boundary pass's table of shared edges.
TRIANGLE_HOST_BYTES, EDGE_TABLE_BYTES = 600, 1000
#: Host bytes per film pixel and view: the image read back (float32), a reference read and kept, writing
#: a picture (float64 copies, sRGB, the encoder's buffers) and composing a frame (float64 copies of the
#: render and the reference, the error map, the panels).
READBACK_BYTES, REFERENCE_HOST_BYTES, WRITE_BYTES, FRAME_WORK_BYTES = 12, 40, 100, 100
#: gradcheck's samples per pixel when a checked parameter moves an edge
#: (:data:`raydiff.optim.gradcheck.EDGE_SPP`): the most its default takes.
GRADCHECK_SPP = 1024
#: Host bytes per history cell (an iteration's loss or one free component): the float32 rows on the host,
#: the float64 result, history.csv and the plots' copies.
HISTORY_CELL_BYTES = 64


@dataclass(frozen=True)
class Need:
    """One part of what a command needs.

    Attributes
    ----------
    what : str
        What it is, for the message (``"the film's image and gradient (1 view of 4096x4096)"``).
    bytes : int
    place : {"device", "host"}
        Where it lives (on the CPU backend the device's fields are in host memory too).
    lever : str
        What lowers it, for the message (``"a smaller film"``, ``"--frame-every 0"``).
    """

    what: str
    bytes: int
    place: str
    lever: str


def format_bytes(n: float) -> str:
    """``n`` bytes as ``"512 MB"``, ``"3.2 GB"`` (powers of 1024)."""
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit in ("bytes", "KB", "MB") else f"{n:.1f} {unit}"
        n /= 1024.0
    return f"{n:.1f} PB"  # pragma: no cover


# =========================================================================================================
# The machine
# =========================================================================================================


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except (OSError, ValueError):
        return None


def parse_size(text: str) -> int | None:
    """``"8G"``, ``"512M"``, ``"1.5T"``, ``"123456"`` as bytes (powers of 1024), or None if it is not one."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([kmgtKMGT]?)(?:i?[bB])?\s*", text or "")
    if not match:
        return None
    power = " KMGT".index(match.group(2).upper() or " ")
    return int(float(match.group(1)) * 1024**power)


def available_memory() -> int | None:
    """The host memory a command may use now, in bytes, or None if nothing says.

    ``RAYDIFF_MEMORY`` where it is set; otherwise the least of the kernel's estimate of what is available
    (``MemAvailable`` in ``/proc/meminfo``, else free pages from ``os.sysconf``) and what this process's
    control group (a container's or a job's memory limit) has left.
    """
    override = os.environ.get(MEMORY_VARIABLE)
    if override is not None and parse_size(override) is not None:
        return parse_size(override)
    known = []
    meminfo = _read("/proc/meminfo") or ""
    match = re.search(r"^MemAvailable:\s+(\d+)\s+kB", meminfo, re.MULTILINE)
    if match:
        known.append(int(match.group(1)) * 1024)
    else:
        try:
            known.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, ValueError, OSError):
            pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read(limit_file), _read(usage_file)
        if limit and usage and limit.isdigit() and usage.isdigit() and int(limit) < 1 << 60:
            known.append(max(0, int(limit) - int(usage)))
            break
    return min(known) if known else None


def gpu_memory() -> int | None:
    """The first CUDA device's free memory (its total where free cannot be asked), in bytes, or None.

    Asked of the CUDA driver (``libcuda``) through ctypes, so no package is needed; None where there is no
    driver or the call fails.
    """
    try:
        cuda = ctypes.CDLL("libcuda.so.1") if os.name != "nt" else ctypes.WinDLL("nvcuda.dll")
        if cuda.cuInit(0) != 0:
            return None
        free, total = ctypes.c_size_t(), ctypes.c_size_t()
        if cuda.cuMemGetInfo_v2(ctypes.byref(free), ctypes.byref(total)) == 0:  # needs a current context
            return int(free.value)
        device = ctypes.c_int()
        if cuda.cuDeviceGet(ctypes.byref(device), 0) != 0:
            return None
        if cuda.cuDeviceTotalMem_v2(ctypes.byref(total), device) != 0:
            return None
        return int(total.value)
    except (OSError, AttributeError):
        return None


def device_memory(backend: str) -> int | None:
    """Memory for the device's fields on ``backend`` when it is not the host's: a CUDA GPU's (see
    :func:`gpu_memory`); None for the CPU (the host's memory, counted there) and for Vulkan (which cannot
    be asked without a package; not checked)."""
    if os.environ.get(MEMORY_VARIABLE) is not None and backend == "cuda":
        return parse_size(os.environ[MEMORY_VARIABLE])
    return gpu_memory() if backend == "cuda" else None


# =========================================================================================================
# The estimate
# =========================================================================================================


def _film(scene: Scene) -> tuple[int, int, int, str]:
    views = len(scene.cameras)
    film = scene.film
    shown = f"{views} view{'s' if views != 1 else ''} of {film.width}x{film.height}"
    return views, film.width, film.height, shown


def _triangles(scene: Scene) -> int:
    return sum(len(obj.faces) for obj in scene.objects if isinstance(obj, Mesh))


def _boundary_samples(scene: Scene, precise: bool) -> tuple[int, int]:
    """An upper bound on the boundary pass's ``(candidates, samples)`` (as :class:`raydiff.kernels.boundary.
    Boundary` plans them, counting every light and every edge as able to move)."""
    views, width, height, _ = _film(scene)
    spheres = sum(obj.type == "sphere" for obj in scene.objects)
    quads = sum(obj.type == "quad" for obj in scene.objects)
    candidates = views * (1 + len(scene.lights)) * (spheres + 4 * quads + 3 * _triangles(scene))
    if not candidates:
        return 0, 0
    share = BOUNDARY_SAMPLES // candidates
    per_edge = max(8, min(2 * (width + height), share))
    if precise:
        per_edge = max(per_edge, share)
    return candidates, candidates * per_edge


def estimate(scene: Scene, spp: int, command: str = "fit", *, boundary: bool = True, iterations: int = 0,
             frame_every: int = 0, animation_every: int = 1, references: int | None = None,
             jacobian: int = 0, primary_sets: int = 0) -> list[Need]:
    """The memory a command will need for ``scene``, part by part.

    Parameters
    ----------
    scene : Scene
    spp : int
        Samples per pixel the command renders with.
    command : {"fit", "render", "gradcheck"}
    boundary : bool
        Whether the boundary terms are computed (fit, gradcheck); counted only where something is free.
    iterations, frame_every, animation_every : int
        A fit's iterations, frame interval (0: no frames) and the animation's thinning.
    references : int, optional
        Reference pictures read (default: one per camera for fit, none for render and gradcheck).
    jacobian : int
        A fit by Levenberg-Marquardt: its number of free scalars (the Jacobian's columns, two estimates
        of each, and its images on the device); 0 for Adam.
    primary_sets : int
        A fit's sets of the primary cache asked for (``FitSettings.primary_sets``): counted, as many as
        fit (:func:`raydiff.scene.limits.primary_sets_that_fit`), at the textured scene's bytes a sample,
        wherever something is free and no mirror is followed (where the cache may apply).

    Returns
    -------
    list of Need
    """
    views, width, height, shown = _film(scene)
    pixels = views * width * height
    smaller_film = "a smaller film (film.width, film.height)" + (" or fewer cameras" if views > 1 else "")
    batch = max(1, min(int(spp), BATCH_SAMPLES // max(1, pixels)))
    records = (RECORD_BYTES + BOUNCE_RECORD_BYTES * scene.mirror_bounces) * pixels * batch
    record_lever = smaller_film if batch == 1 else "--spp"  # at most BATCH_SAMPLES samples, or a sample a pixel
    needs = [
        Need("Python, Taichi and the compiled kernels", PROCESS_BASE, "host", "nothing"),
        Need(f"the image and its gradient ({shown})", IMAGE_BYTES * pixels, "device", smaller_film),
        Need(f"per-sample records ({batch} of {spp} spp at a time)", records, "device", record_lever),
        Need("the image read back and written", (READBACK_BYTES + WRITE_BYTES) * pixels, "host", smaller_film),
    ]
    if command == "gradcheck" and not references:  # the references are rendered first, by an integrator of their own
        needs.append(Need(f"rendering the references ({shown})", IMAGE_BYTES * pixels + records, "device",
                          "reference pictures (REF...)"))
    triangles = _triangles(scene)
    if triangles:
        needs.append(Need(f"{triangles} mesh triangles and their BVH", TRIANGLE_DEVICE_BYTES * triangles, "device",
                          "meshes with fewer triangles"))
        needs.append(Need(f"reading {triangles} mesh triangles", TRIANGLE_HOST_BYTES * triangles, "host",
                          "meshes with fewer triangles"))
    if command in ("fit", "gradcheck"):
        needs.append(Need(f"the references in the loss ({shown})", REFERENCE_BYTES * pixels, "device", smaller_film))
        read = views if references is None and command == "fit" else (references or 0)
        if command == "gradcheck" and not references:
            read = views  # rendered references, kept on the host
        needs.append(Need("the references on the host", REFERENCE_HOST_BYTES * read * width * height, "host", smaller_film))
        if boundary and scene.optimize:
            candidates, samples = _boundary_samples(scene, precise=command == "gradcheck")
            lever = "--no-boundary" + (" or meshes with fewer triangles" if triangles else "")
            needs.append(Need(f"the boundary pass ({samples} samples on {candidates} curves)",
                              BOUNDARY_SAMPLE_BYTES * samples + BOUNDARY_CANDIDATE_BYTES * candidates, "device", lever))
            if triangles:
                needs.append(Need("the boundary pass's table of mesh edges", EDGE_TABLE_BYTES * triangles, "host", lever))
        if scene.optimize and not scene.mirror_bounces and pixels * batch <= SHADING_RECORD_SAMPLES:
            needs.append(Need(f"the gradient's shading records ({batch} of {spp} spp at a time)",
                              SHADING_RECORD_BYTES * pixels * batch, "device", record_lever))
    if command == "fit" and scene.optimize and not scene.mirror_bounces and batch == spp:
        sets = primary_sets_that_fit(primary_sets, pixels * int(spp))
        if sets:
            needs.append(Need(f"the primary cache ({sets} sets of {spp} spp)",
                              PRIMARY_TEXTURED_RECORD_BYTES * sets * pixels * int(spp), "device",
                              "--primary-sets 0 (or fewer sets)"))
    if command == "fit":
        columns = 2 + sum(len(r.component_names()) for r in resolve_all(scene))  # a texture: its summary
        needs.append(Need(f"the history ({iterations} iterations x {columns} columns)",
                          HISTORY_CELL_BYTES * int(iterations) * columns, "host", "fewer --iterations"))
        if jacobian:
            needs.append(Need(f"Levenberg-Marquardt's Jacobian (2 x {jacobian} columns, {shown})",
                              LM_IMAGE_BYTES * (2 * jacobian + 5) * pixels, "device", f"--optimizer adam or {smaller_film}"))
        if frame_every > 0:
            needs += _frame_needs(scene, iterations, frame_every, animation_every)
    return needs


def _frame_needs(scene: Scene, iterations: int, frame_every: int, animation_every: int) -> list[Need]:
    """Composing one frame, and the GIF writer's hold on every frame it animates (one byte a pixel)."""
    views, width, height, _ = _film(scene)
    up, down = frames.panel_scale(height, width, views)
    panel_w, panel_h = math.ceil(width / down) * up, math.ceil(height / down) * up
    frame_pixels = (3 * panel_w + 400) * (views * (panel_h + 16) + 120)  # + captions and padding
    saved = (int(iterations) - 1) // frame_every + 2 if iterations else 0  # every K-th, and the last
    animated = math.ceil(saved / max(1, animation_every)) + 1
    bigger = max(frame_every * 10, (int(iterations) // 200) or 1)
    return [
        Need("composing a frame", FRAME_WORK_BYTES * views * width * height + 12 * frame_pixels, "host",
             "--frame-every 0"),
        Need(f"the animation ({animated} frames of {frame_pixels // 1000} thousand pixels)", animated * frame_pixels,
             "host", f"--frame-every {bigger}, --animation-every, or --frame-every 0"),
    ]


# =========================================================================================================
# The checks
# =========================================================================================================


def check_memory(scene: Scene, needs: list[Need], backend: str, command: str) -> None:
    """Refuse ``needs`` that do not fit in the memory there is.

    Parameters
    ----------
    scene : Scene
        Named in the message.
    needs : list of Need
        From :func:`estimate`.
    backend : str
        The backend's name (``cpu``, ``cuda``, ``vulkan``): on the CPU the device's fields are host memory.
    command : str
        Named in the message.

    Raises
    ------
    ResourceError
        If the host's part (or, on a GPU whose memory is known, the device's) is more than is available.
    """
    on_host = [n for n in needs if n.place == "host" or backend == "cpu"]
    on_device = [n for n in needs if n.place == "device" and backend != "cpu"]
    for place, parts, available in (("memory", on_host, available_memory()),
                                    (f"{backend} device memory", on_device, device_memory(backend))):
        total = sum(n.bytes for n in parts)
        if available is None or total <= available:
            continue
        largest = sorted((n for n in parts if n.lever != "nothing"), key=lambda n: -n.bytes)[:3]
        parts_text = ", ".join(f"{n.what}: {format_bytes(n.bytes)}" for n in largest)
        levers = []
        for n in largest:  # what lowers the large parts, and any part too large on its own
            if (n.bytes >= 0.1 * total or n.bytes > available) and n.lever not in levers:
                levers.append(n.lever)
        where = f" ({MEMORY_VARIABLE})" if os.environ.get(MEMORY_VARIABLE) else ""
        raise ResourceError(
            scene.source,
            f"this {command} needs about {format_bytes(total)} of {place} but {format_bytes(available)} is "
            f"available{where} ({parts_text}); lower it with {' or '.join(levers) or 'a smaller film'}",
        )


def _check_int(option: str, value: int | None, high: int, low: int = 0, why: str = "the device counts in int32") -> None:
    if value is not None:
        problem = int_range_problem(int(value), high, low)
        if problem:
            raise ResourceError(option, f"must be {problem} ({why}), got {value}")


def _spp_and_seed(spp: int | None, seed: int | None) -> None:
    _check_int("--spp", spp, MAX_SPP, 1, "a sample's index is an int32 on the device")
    _check_int("--seed", seed, MAX_SEED, 0, "sample seeds are 32 bits")


def check_render(scene: Scene, backend: str, spp: int | None = None, seed: int | None = None) -> None:
    """``raydiff render``'s check: ``--spp`` and ``--seed`` in the device's integer range, and the memory.

    Raises
    ------
    ResourceError
    """
    _spp_and_seed(spp, seed)
    check_memory(scene, estimate(scene, spp or scene.film.spp, "render"), backend, "render")


def check_gradcheck(scene: Scene, backend: str, spp: int | None = None, seed: int | None = None, eps: float | None = None,
                    boundary: bool = True, references: int = 0) -> None:
    """``raydiff gradcheck``'s check: ``--spp``, ``--seed`` and ``--eps`` in the device's ranges, and the
    memory (at ``spp``; by default at :data:`GRADCHECK_SPP`, the most its own default takes).

    Raises
    ------
    ResourceError
    """
    _spp_and_seed(spp, seed)
    if eps is not None and option_float_problem(eps):
        raise ResourceError("--eps", f"must be a number the device can hold, got {eps:g}: {option_float_problem(eps)}")
    spp = spp or max(GRADCHECK_SPP, scene.film.spp)  # its default when an edge moves; the most it takes
    needs = estimate(scene, spp, "gradcheck", boundary=boundary, references=references)
    check_memory(scene, needs, backend, "gradcheck")


def check_fit(scene: Scene, settings, backend: str, frame_every: int = 0, animation_every: int = 1,
              checkpoint_every: int = 0, jacobian: int = 0) -> None:
    """``raydiff fit``'s check: the frame and checkpoint intervals in range, and the memory of the fit,
    its frames and its animation (``settings`` are :class:`raydiff.FitSettings`, already checked;
    ``jacobian``: the free scalars of a fit by Levenberg-Marquardt, 0 for Adam).

    Raises
    ------
    ResourceError
    """
    for option, value in (("--frame-every", frame_every), ("--checkpoint-every", checkpoint_every),
                          ("--animation-every", animation_every)):
        _check_int(option, value, 2**31 - 1, 1 if option == "--animation-every" else 0)
    needs = estimate(scene, settings.spp or scene.film.spp, "fit", boundary=settings.boundary,
                     iterations=settings.iterations, frame_every=frame_every, animation_every=animation_every,
                     jacobian=jacobian, primary_sets=settings.primary_sets)
    check_memory(scene, needs, backend, "fit")
