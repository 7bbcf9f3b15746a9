"""Every way a user can get the input of ``raydiff fit`` or ``raydiff render`` wrong, as data.

Each :class:`Case` says what the user did (``description``, shown in ``docs/errors.md``), how to do it
(``setup``: writes the input files into an empty folder and returns the command line) and what the one
error line must contain (``fragments``: the file, the key or line, and what was expected). The promise
that ``tests/test_bad_input.py`` checks for every case, and that ``docs/make_error_table.py`` documents:

* exit code 1 (or the case's ``exit_code``: Typer's own usage errors exit with 2);
* exactly one line on stderr, ``error: <file>[:<line>][: <key>]: <what was wrong; what was expected>``;
* no traceback;
* nothing written: no file or folder appears or changes in the folder the case was set up in.

Every command runs on the CPU backend (``--arch cpu``) with one iteration, and every case fails during
validation, before anything is rendered, so the whole table runs in seconds.

A case whose ``setup`` cannot make the situation here (a file made unreadable, when running as root;
CUDA missing, on a machine that has it) raises :class:`NotApplicable`. A case that exposes a bug still
open in a file this table's owner does not maintain carries ``bug``: the test marks it
``xfail(strict=True)`` with that reason, so fixing the bug turns the test red until the mark goes.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

import raydiff
import raydiff.backend
from raydiff.io.images import write_image

WIDTH, HEIGHT = 16, 12

# The good scene every case starts from. Block style, so that every key has its own line; the line numbers
# in the fragments below refer to it.
SCENE = """\
camera:
  position: [0, 1.2, 4]
  look_at: [0, 0.4, 0]
  fov: 45
film:
  width: 16
  height: 12
  spp: 1
objects:
  - name: floor
    type: quad
    origin: [-3, 0, 3]
    edge1: [6, 0, 0]
    edge2: [0, 0, -6]
    albedo: 0.7
  - name: ball
    type: sphere
    center: [0, 0.5, 0]
    radius: 0.5
    albedo: [0.8, 0.3, 0.2]
lights:
  - name: key
    type: point
    position: [1, 2, 1]
    intensity: 8
optimize:
  lights.key.position: {lr: 0.1}
"""

NO_OPTIMIZE = SCENE[: SCENE.index("optimize:")]  # good for render, nothing to fit

# Two views instead of one camera: the good scene with its first 4 lines (camera:) replaced by these 9, so
# that the line numbers of the rest move down by 5 (film: on line 10, optimize: on line 31).
CAMERAS = """\
cameras:
  - name: front
    position: [0, 1.2, 4]
    look_at: [0, 0.4, 0]
    fov: 45
    weight: 2
  - name: side
    position: [4, 1.2, 0]
    look_at: [0, 0.4, 0]
"""
VIEWS = CAMERAS + SCENE[SCENE.index("film:"):]

SUN = """\
  - name: sun
    type: directional
    direction: [0, -1, -0.5]
    irradiance: 3
"""  # inserted after the key light (it starts on line 26), so that optimize: moves to line 30

# "billion laughs": 8 levels of 10 aliases each, 10^8 strings once expanded
ALIAS_BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 8)
) + "camera: *a7\n"

MESH = """\
  - name: box
    type: mesh
    file: cube.obj
    translate: [0, 0.5, 0]
"""  # inserted after the ball (it starts on line 21); the file it names is written as CUBE

CUBE = """\
# a unit cube
v -0.5 -0.5 -0.5
v 0.5 -0.5 -0.5
v 0.5 0.5 -0.5
v -0.5 0.5 -0.5
v -0.5 -0.5 0.5
v 0.5 -0.5 0.5
v 0.5 0.5 0.5
v -0.5 0.5 0.5
f 1 2 3 4
f 5 6 7 8
f 1 2 6 5
f 4 3 7 8
f 1 4 8 5
f 2 3 7 6
"""


class NotApplicable(Exception):
    """Raised by a case's setup when the situation cannot be made on this machine (the reason is the text)."""


@dataclass(frozen=True)
class Case:
    """One way to get the input wrong.

    Parameters
    ----------
    id : str
        A short name, used as the test's id.
    description : str
        What the user did, in a few words, for the table in ``docs/errors.md``.
    setup : callable
        ``setup(folder)`` writes the case's input files into the empty ``folder`` and returns the
        command line after ``raydiff`` (``["fit", ...]`` or ``["render", ...]``); outputs go into
        ``folder`` too, so that anything written shows up there.
    fragments : sequence of str
        What the error line must contain, each as a plain substring.
    exit_code : int
        1 for raydiff's own errors; 2 for Typer's usage errors (an option value Typer itself refuses).
    bug : str, optional
        A known, still open bug this case exposes (the test expects it to fail, strictly).
    env : dict, optional
        Environment variables the command runs with (e.g. ``RAYDIFF_MEMORY``, so that a refusal for
        memory does not depend on the machine's).
    """

    id: str
    description: str
    setup: Callable[[Path], list[str]]
    fragments: Sequence[str]
    exit_code: int = 1
    bug: str | None = None
    env: dict[str, str] | None = None


# --------------------------------------------------------------------------------------------------------
# Building blocks for the setups
# --------------------------------------------------------------------------------------------------------


def edit(text: str, old: str, new: str) -> str:
    """``text`` with the one occurrence of ``old`` replaced by ``new`` (two or none is a mistake here)."""
    count = text.count(old)
    if count != 1:
        raise AssertionError(f"{old!r} occurs {count} times in the scene; expected once")
    return text.replace(old, new)


#: The ball as a rough conductor: its albedo line (20) replaced by these 4 (material: on line 20, type on
#: 21, alpha on 22, specular_reflectance on 23), so that the lines after it move down by 3.
GLOSSY_BALL = """\
    material:
      type: roughconductor
      alpha: 0.2
      specular_reflectance: [0.9, 0.8, 0.7]
"""


def glossy(old: str = "", new: str = "") -> str:
    """The scene with a rough-conductor ball (:data:`GLOSSY_BALL`), its text ``old`` replaced by ``new``."""
    text = edit(SCENE, "    albedo: [0.8, 0.3, 0.2]\n", GLOSSY_BALL)
    return edit(text, old, new) if old else text


#: The ball as a rough plastic: its albedo line (20) replaced by these 4 (material: on line 20, type on 21,
#: alpha on 22, diffuse_reflectance on 23), so that the lines after it move down by 3.
PLASTIC_BALL = """\
    material:
      type: roughplastic
      alpha: 0.2
      diffuse_reflectance: [0.8, 0.3, 0.2]
"""


def plastic(old: str = "", new: str = "") -> str:
    """The scene with a rough-plastic ball (:data:`PLASTIC_BALL`), its text ``old`` replaced by ``new``."""
    text = edit(SCENE, "    albedo: [0.8, 0.3, 0.2]\n", PLASTIC_BALL)
    return edit(text, old, new) if old else text


#: The ball as a mirror (a smooth conductor): its albedo line (20) replaced by these 3 (material: on line 20,
#: type on 21, specular_reflectance on 22), so that the lines after it move down by 2.
MIRROR_BALL = """\
    material:
      type: conductor
      specular_reflectance: [0.9, 0.8, 0.7]
"""


def mirror(old: str = "", new: str = "") -> str:
    """The scene with a mirror ball (:data:`MIRROR_BALL`), its text ``old`` replaced by ``new``."""
    text = edit(SCENE, "    albedo: [0.8, 0.3, 0.2]\n", MIRROR_BALL)
    return edit(text, old, new) if old else text


def with_depth(depth: str) -> str:
    """The scene with ``max_depth: <depth>`` on line 9 (before ``objects:``)."""
    return edit(SCENE, "objects:\n", f"max_depth: {depth}\nobjects:\n")


def with_mesh(text: str = SCENE, mesh: str = MESH) -> str:
    """The scene with a mesh object after the ball (its ``file:`` on line 23)."""
    return edit(text, "lights:\n", mesh + "lights:\n")


def with_sun(text: str = SCENE, sun: str = SUN) -> str:
    """The scene with a directional light after the key light (lines 26 to 29: name, type, direction,
    irradiance)."""
    return edit(text, "optimize:\n", sun + "optimize:\n")


def freeing(path: str, text: str = SCENE) -> str:
    """The scene whose one ``optimize`` entry frees ``path`` (with default options) instead."""
    return edit(text, "lights.key.position: {lr: 0.1}", f"{path}: {{}}")


def with_texture(albedo: str, images: dict[str, np.ndarray] | None = None,
                 files: dict[str, str | bytes] | None = None) -> Callable[[Path], list[str]]:
    """A fit of the scene with the floor's ``albedo: 0.7`` (line 15) replaced by ``albedo: <albedo>``, the
    ``images`` (name -> texels) written beside it as image files and ``files`` as they are."""
    fit = fit_scene(edit(SCENE, "    albedo: 0.7\n", f"    albedo: {albedo}\n"), files)

    def setup(folder: Path) -> list[str]:
        for name, texels in (images or {}).items():
            write_image(folder / name, texels)
        return fit(folder)

    return setup


def many(kind: str, count: int) -> str:
    """``count`` flow-style cameras or point lights, one a line, for a list that is too long."""
    if kind == "cameras":
        return "".join(f"  - {{name: c{i}, position: [0, 1.2, 4], look_at: [0, 0.4, 0]}}\n" for i in range(count))
    return "".join(f"  - {{name: l{i}, type: point, position: [1, 2, 1], intensity: 1}}\n" for i in range(count))


def write_reference(path: Path, width: int = WIDTH, height: int = HEIGHT) -> None:
    """A plain grey picture of the film's size (nothing needs rendering for the checks to pass)."""
    write_image(path, np.full((height, width, 3), 0.2, dtype=np.float32))


def fit_argv(folder: Path, scene: str | Path = "scene.yaml", ref: str | Path = "ref.png", *options: str) -> list[str]:
    """``raydiff fit`` on files in ``folder``, one iteration on the CPU, into ``folder/out``."""
    return ["fit", str(folder / scene), str(folder / ref), "--arch", "cpu", "--iterations", "1",
            "--out", str(folder / "out"), *options]


def render_argv(folder: Path, scene: str | Path = "scene.yaml", out: str = "out.png", *options: str) -> list[str]:
    """``raydiff render`` of a file in ``folder`` on the CPU, into ``folder/<out>``."""
    return ["render", str(folder / scene), "-o", str(folder / out), "--arch", "cpu", *options]


def fit_scene(text: str, files: dict[str, str | bytes] | None = None) -> Callable[[Path], list[str]]:
    """A setup: ``scene.yaml`` holding ``text`` (and any ``files`` beside it), a good reference, a fit."""

    def setup(folder: Path) -> list[str]:
        write(folder, "scene.yaml", text)
        for name, content in (files or {}).items():
            write(folder, name, content)
        write_reference(folder / "ref.png")
        return fit_argv(folder)

    return setup


def render_scene(text: str, files: dict[str, str | bytes] | None = None) -> Callable[[Path], list[str]]:
    """A setup: ``scene.yaml`` holding ``text`` (and any ``files`` beside it), rendered to out.png."""

    def setup(folder: Path) -> list[str]:
        write(folder, "scene.yaml", text)
        for name, content in (files or {}).items():
            write(folder, name, content)
        return render_argv(folder)

    return setup


def fit_reference(name: str, make: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    """A setup: the good scene, and a reference ``name`` made by ``make(path)``."""

    def setup(folder: Path) -> list[str]:
        write(folder, "scene.yaml", SCENE)
        make(folder / name)
        return fit_argv(folder, ref=name)

    return setup


def fit_options(*options: str) -> Callable[[Path], list[str]]:
    """A setup: good files, and a fit with extra (bad) options."""

    def setup(folder: Path) -> list[str]:
        write(folder, "scene.yaml", SCENE)
        write_reference(folder / "ref.png")
        return fit_argv(folder, "scene.yaml", "ref.png", *options)

    return setup


def write(folder: Path, name: str, content: str | bytes) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def random_bytes(n: int, seed: int = 1) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def _unreadable(path: Path) -> None:
    """Take every permission away from ``path``; NotApplicable if this user can read it anyway (root)."""
    path.chmod(0)
    if os.access(path, os.R_OK):
        path.chmod(0o644)  # leave the folder removable
        raise NotApplicable("running as root, which reads a file with mode 000 all the same")


# --------------------------------------------------------------------------------------------------------
# Setups that do not fit the patterns above
# --------------------------------------------------------------------------------------------------------


def _missing_scene(folder: Path) -> list[str]:
    write_reference(folder / "ref.png")
    return fit_argv(folder, scene="nothere.yaml")


def _unreadable_scene(folder: Path) -> list[str]:
    write(folder, "scene.yaml", SCENE)
    write_reference(folder / "ref.png")
    _unreadable(folder / "scene.yaml")
    return fit_argv(folder)


def _scene_is_a_folder(folder: Path) -> list[str]:
    (folder / "scene.yaml").mkdir()
    write_reference(folder / "ref.png")
    return fit_argv(folder)


def _missing_reference(folder: Path) -> list[str]:
    write(folder, "scene.yaml", SCENE)
    return fit_argv(folder, ref="nothere.png")


def _reference_is_a_folder(folder: Path) -> list[str]:
    write(folder, "scene.yaml", SCENE)
    (folder / "ref.png").mkdir()
    return fit_argv(folder)


def _unreadable_reference(folder: Path) -> list[str]:
    write(folder, "scene.yaml", SCENE)
    write_reference(folder / "ref.png")
    _unreadable(folder / "ref.png")
    return fit_argv(folder)


def _truncated_png(path: Path) -> None:
    whole = path.with_name("whole.png")
    write_image(whole, np.random.default_rng(2).uniform(0, 1, (HEIGHT, WIDTH, 3)).astype(np.float32))
    path.write_bytes(whole.read_bytes()[:80])
    whole.unlink()


def _truncated_exr(path: Path) -> None:
    write_image(path, np.random.default_rng(2).uniform(0, 5, (HEIGHT, WIDTH, 3)).astype(np.float32))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])


def _nan_exr(path: Path) -> None:
    pixels = np.full((HEIGHT, WIDTH, 3), 0.5, dtype=np.float32)
    pixels[3, 5, 0] = np.nan
    write_image(path, pixels)


def _renamed_bmp(path: Path) -> None:
    path.write_bytes(b"BM" + random_bytes(100))


def _swapped(folder: Path) -> list[str]:
    write(folder, "scene.yaml", SCENE)
    write_reference(folder / "ref.png")
    return fit_argv(folder, scene="ref.png", ref="scene.yaml")


def _truth(text: str) -> Callable[[Path], list[str]]:
    def setup(folder: Path) -> list[str]:
        write(folder, "scene.yaml", SCENE)
        write(folder, "truth.yaml", text)
        write_reference(folder / "ref.png")
        return fit_argv(folder, "scene.yaml", "ref.png", "--truth", str(folder / "truth.yaml"))

    return setup


_truth_without_key = _truth(edit(NO_OPTIMIZE, "name: key", "name: sun"))


def _resume_empty(folder: Path) -> list[str]:
    write(folder, "scene.yaml", SCENE)
    write_reference(folder / "ref.png")
    (folder / "old").mkdir()
    return fit_argv(folder, "scene.yaml", "ref.png", "--resume", str(folder / "old"))


def _no_cuda(folder: Path) -> list[str]:
    if raydiff.backend.available("cuda"):
        raise NotApplicable("this machine has CUDA")
    write(folder, "scene.yaml", SCENE)
    write_reference(folder / "ref.png")
    return fit_argv(folder, "scene.yaml", "ref.png", "--arch", "cuda")


def _no_cuda_render(folder: Path) -> list[str]:
    if raydiff.backend.available("cuda"):
        raise NotApplicable("this machine has CUDA")
    write(folder, "scene.yaml", SCENE)
    return render_argv(folder, "scene.yaml", "out.png", "--arch", "cuda")


def _out_not_empty(folder: Path) -> list[str]:
    write(folder, "scene.yaml", SCENE)
    write_reference(folder / "ref.png")
    write(folder, "out/notes.txt", "mine\n")
    return fit_argv(folder)


def _out_is_a_file(folder: Path) -> list[str]:
    write(folder, "scene.yaml", SCENE)
    write_reference(folder / "ref.png")
    write(folder, "out", "a file, not a folder\n")
    return fit_argv(folder)


def _fit_out(out: str) -> Callable[[Path], list[str]]:
    def setup(folder: Path) -> list[str]:
        write(folder, "scene.yaml", SCENE)
        write_reference(folder / "ref.png")
        argv = fit_argv(folder)
        argv[argv.index("--out") + 1] = out if not out else str(folder / out)
        return argv

    return setup


def _render_into(out: str, make_folder: bool = False) -> Callable[[Path], list[str]]:
    def setup(folder: Path) -> list[str]:
        write(folder, "scene.yaml", SCENE)
        if make_folder:
            (folder / out).mkdir()
        return render_argv(folder, "scene.yaml", out)

    return setup


def _render_options(*options: str) -> Callable[[Path], list[str]]:
    def setup(folder: Path) -> list[str]:
        write(folder, "scene.yaml", SCENE)
        return render_argv(folder, "scene.yaml", "out.png", *options)

    return setup


# --- issue 12: inputs that escaped as a traceback, were misread, or got a misleading message ---


def _alias_chain(links: int = 30, depth: int = 50) -> str:
    """Anchors each nesting the previous one ``depth`` lists deep: 50 levels as written, 1500 expanded."""
    text = "x0: &x0 " + "[" * depth + "1" + "]" * depth + "\n"
    for i in range(1, links):
        text += f"x{i}: &x{i} " + "[" * depth + f"*x{i - 1}" + "]" * depth + "\n"
    return text


def with_rotation(rotate: str) -> str:
    """The scene with the mesh, rotated by ``rotate`` (a flow mapping, on line 25)."""
    return with_mesh(mesh=MESH + f"    rotate: {rotate}\n")


def _not_a_file(kind: str) -> Callable[[Path], None]:
    """Make ``path`` a ``kind`` of thing that is not a regular file: folder, fifo, dangling link or link loop."""

    def make(path: Path) -> None:
        if kind == "folder":
            path.mkdir()
        elif kind == "fifo":
            if not hasattr(os, "mkfifo"):
                raise NotApplicable("this system has no named pipes")
            os.mkfifo(path)
        elif kind == "dangling":
            os.symlink("gone" + path.suffix, path)
        else:  # a loop of two links
            os.symlink(path.name + ".other", path)
            os.symlink(path.name, path.with_name(path.name + ".other"))

    return make


def _scene_not_a_file(kind: str) -> Callable[[Path], list[str]]:
    def setup(folder: Path) -> list[str]:
        _not_a_file(kind)(folder / "scene.yaml")
        write_reference(folder / "ref.png")
        return fit_argv(folder)

    return setup


def _truth_not_a_file(kind: str) -> Callable[[Path], list[str]]:
    def setup(folder: Path) -> list[str]:
        write(folder, "scene.yaml", SCENE)
        write_reference(folder / "ref.png")
        _not_a_file(kind)(folder / "truth.yaml")
        return fit_argv(folder, "scene.yaml", "ref.png", "--truth", str(folder / "truth.yaml"))

    return setup


def _mesh_not_a_file(kind: str) -> Callable[[Path], list[str]]:
    def setup(folder: Path) -> list[str]:
        argv = fit_scene(with_mesh())(folder)
        _not_a_file(kind)(folder / "cube.obj")
        return argv

    return setup


def _exif_turned(orientation: int) -> Callable[[Path], None]:
    """A JPEG of the film's size as stored, whose EXIF tag turns it for viewers (6: by 90 degrees)."""

    def make(path: Path) -> None:
        from PIL import Image

        exif = Image.Exif()
        exif[0x0112] = orientation
        Image.fromarray(np.full((HEIGHT, WIDTH, 3), 80, np.uint8)).save(path, exif=exif)

    return make


def _animation(image_format: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        from PIL import Image

        frames = [Image.fromarray(np.full((HEIGHT, WIDTH, 3), grey, np.uint8)) for grey in (40, 120)]
        frames[0].save(path, format=image_format, save_all=True, append_images=frames[1:])

    return make


def _exr_channels(*names: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        import OpenEXR

        plane = np.full((HEIGHT, WIDTH), 0.5, np.float32)
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        with OpenEXR.File(header, {name: plane for name in names}) as exr:
            exr.write(str(path))

    return make



# --------------------------------------------------------------------------------------------------------
# Setups for the output folder, resuming and start-up (issue 12): a folder another fit holds, checkpoints
# written here by hand (no fit needed: every case fails before the checkpoint's arrays are used)
# --------------------------------------------------------------------------------------------------------

_HELD: list[int] = []  # lock files this process holds, standing for a fit that runs in the folder


def _hold(out: Path) -> None:
    """Lock ``out/.raydiff.lock`` as a running fit does (flock: a second open file conflicts even in this
    process); the lock of the previous case is let go first."""
    import fcntl

    from raydiff.io.claim import lock_path

    while _HELD:
        os.close(_HELD.pop())
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(out), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, f"{os.getpid()}\n".encode())
    _HELD.append(fd)


def _digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _checkpoint(folder: Path, iteration: int = 1, drop: Sequence[str] = (), finished: bool = False,
                meta_drop: Sequence[str] = (), **settings) -> Path:
    """The good scene and reference, and ``out/checkpoint.npz`` as a fit of them at ``iteration`` of 3 would
    leave it (``settings`` override the fit's settings; ``drop`` leaves arrays out, ``meta_drop`` keys of
    its record; ``finished``: with the results written, report.html last). Returns ``out``."""
    from dataclasses import asdict

    from raydiff.io.checkpoint import save_checkpoint
    from raydiff.optim.fit import CHECKPOINT_ARRAYS

    write(folder, "scene.yaml", SCENE)
    write_reference(folder / "ref.png")
    out = folder / "out"
    out.mkdir()
    arrays = {name: np.zeros(3, dtype=np.float32) for name in CHECKPOINT_ARRAYS if name not in drop}
    if "iteration" in arrays:
        arrays["iteration"] = np.array(iteration, dtype=np.int64)
    meta = {"scene": str(folder / "scene.yaml"), "scene_sha256": _digest(folder / "scene.yaml"),
            "references": [str(folder / "ref.png")], "references_sha256": [_digest(folder / "ref.png")],
            "reference_space": None, "frame_every": 10, "backend": {"name": "cpu"},
            "settings": asdict(raydiff.FitSettings(**{"iterations": 3, **settings}))}
    save_checkpoint(out / "checkpoint.npz", arrays, {k: v for k, v in meta.items() if k not in meta_drop})
    if finished:
        write(out, "report.html", "<html></html>\n")
    return out


def _resume(*options: str, iteration: int = 1, drop: Sequence[str] = (), finished: bool = False,
            meta_drop: Sequence[str] = (), **settings) -> Callable[[Path], list[str]]:
    """A setup: a checkpoint (see :func:`_checkpoint`) and ``raydiff fit --resume out`` with ``options``."""

    def setup(folder: Path) -> list[str]:
        out = _checkpoint(folder, iteration, drop, finished, meta_drop, **settings)
        return ["fit", str(folder / "scene.yaml"), str(folder / "ref.png"), "--arch", "cpu", "--resume", str(out),
                *options]

    return setup


def _resume_broken(make: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    """A setup: a good checkpoint that ``make(path)`` then spoils, and ``raydiff fit --resume out``."""

    def setup(folder: Path) -> list[str]:
        argv = _resume()(folder)
        make(folder / "out" / "checkpoint.npz")
        return argv

    return setup


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _pickled(path: Path) -> None:
    np.savez(path, meta=np.array(["a", {"python": "object"}], dtype=object))


def _resume_at(target: Callable[[Path], str]) -> Callable[[Path], list[str]]:
    """A setup: a good checkpoint, and ``--resume`` of ``target(folder)`` instead of its folder."""

    def setup(folder: Path) -> list[str]:
        argv = _resume()(folder)
        argv[argv.index("--resume") + 1] = target(folder)
        return argv

    return setup


def _out_busy(folder: Path) -> list[str]:
    write(folder, "scene.yaml", SCENE)
    write_reference(folder / "ref.png")
    write(folder, "out/frames/00000.png", b"a frame")
    _hold(folder / "out")
    return fit_argv(folder)


def _resume_busy(folder: Path) -> list[str]:
    argv = _resume()(folder)
    _hold(folder / "out")
    return argv


def _out_holds_a_fit(folder: Path) -> list[str]:
    _checkpoint(folder, finished=True)
    return fit_argv(folder)


def _resume_before_first_checkpoint(folder: Path) -> list[str]:
    write(folder, "scene.yaml", SCENE)
    write_reference(folder / "ref.png")
    write(folder, "out/.raydiff.lock", "12345\n")  # a fit killed between its claim and its first checkpoint
    return ["fit", str(folder / "scene.yaml"), str(folder / "ref.png"), "--arch", "cpu", "--resume", str(folder / "out")]


def _recover(*options: str, text: str = SCENE, out: str | None = "out") -> Callable[[Path], list[str]]:
    """A setup: ``scene.yaml`` holding ``text``, and ``raydiff recover`` of it (one trial of one iteration
    on the CPU, into ``folder/out``) with extra (bad) options."""

    def setup(folder: Path) -> list[str]:
        write(folder, "scene.yaml", text)
        argv = ["recover", str(folder / "scene.yaml"), "--arch", "cpu", "--iterations", "1", "--trials", "1"]
        return argv + (["--out", str(folder / out)] if out else []) + list(options)

    return setup


def _recover_out_not_empty(folder: Path) -> list[str]:
    write(folder, "out/notes.txt", "mine\n")
    return _recover()(folder)


def _resume_read_only(folder: Path) -> list[str]:
    argv = _resume()(folder)
    out = folder / "out"
    out.chmod(0o555)
    if os.access(out, os.W_OK):
        out.chmod(0o755)
        raise NotApplicable("running as root, which writes into a folder with mode 555 all the same")
    return argv


# --------------------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------------------

CASES: list[Case] = [
    # --- the scene file as a file ---
    Case("scene-missing", "named a scene file that does not exist", _missing_scene,
         ["nothere.yaml", "cannot read scene file: no such file"]),
    Case("scene-unreadable", "named a scene file they may not read (mode 000)", _unreadable_scene,
         ["scene.yaml", "cannot read scene file: permission denied"]),
    Case("scene-is-a-folder", "named a folder as the scene", _scene_is_a_folder,
         ["scene.yaml", "cannot read scene file: is a folder; expected a scene file"]),
    Case("scene-empty-file", "gave an empty scene file", fit_scene(""),
         ["scene.yaml", "empty document", "expected a mapping with camera (or cameras), film, objects and lights"]),
    Case("scene-only-comments", "gave a scene file with only comments in it", fit_scene("# to do\n"),
         ["scene.yaml", "empty document", "expected a mapping"]),
    Case("scene-not-utf8", "saved the scene in Latin-1 with an accented name",
         fit_scene(edit(SCENE, "name: ball", "name: balle_été").encode("latin-1")),
         ["scene.yaml:16", "expected UTF-8 text", "0xe9"]),
    Case("scene-not-a-mapping", "wrote a list where the scene's mapping goes", fit_scene("- camera\n- film\n"),
         ["scene.yaml:1", "expected a scene: a mapping with camera (or cameras), film, objects and lights",
          "got ['camera', 'film']"]),
    # --- YAML syntax ---
    Case("yaml-malformed", "left a bracket open", fit_scene(edit(SCENE, "look_at: [0, 0.4, 0]", "look_at: [0, 0.4, 0")),
         ["scene.yaml:4", "malformed YAML", "expected ',' or ']'"]),
    Case("yaml-bad-indent", "indented a key wrongly", fit_scene(edit(SCENE, "  fov: 45", "   fov: 45")),
         ["scene.yaml:4", "malformed YAML"]),
    Case("yaml-tab", "indented with a tab", fit_scene(edit(SCENE, "  fov: 45", "\tfov: 45")),
         ["scene.yaml:4", "malformed YAML", "found character '\\t' that cannot start any token"]),
    Case("yaml-duplicate-key", "gave the same key twice", fit_scene(edit(SCENE, "  fov: 45\n", "  fov: 45\n  fov: 50\n")),
         ["scene.yaml:5", "camera.fov", "duplicate key 'fov' (first given on line 4)"]),
    Case("yaml-python-tag", "used a YAML tag that builds a Python object",
         fit_scene(edit(SCENE, "fov: 45", "fov: !!python/object:os.system 45")),
         ["scene.yaml:4", "camera.fov", "unsupported YAML tag '!!python/object:os.system'"]),
    Case("yaml-merge-key", "used a YAML merge key ('<<')",
         fit_scene(edit(SCENE, "film:\n", "base: &b {spp: 1}\nfilm:\n  <<: *b\n")),
         ["scene.yaml:7", "film", "merge keys ('<<') are not supported"]),
    Case("yaml-alias-bomb", "gave a scene of nested YAML aliases that expands to 10^8 values", fit_scene(ALIAS_BOMB),
         ["scene.yaml:1", "document too large: aliases (*name) expand its 99 YAML values to more than 200000"]),
    # --- keys ---
    Case("key-unknown", "added a top-level key the format does not have", fit_scene(SCENE + "colour: red\n"),
         ["scene.yaml:28", "colour", "unknown key 'colour'", "valid keys: camera, cameras, film, max_depth, objects, lights, optimize"]),
    Case("key-misspelt", "misspelt a key", fit_scene(edit(SCENE, "    position: [1, 2, 1]", "    positon: [1, 2, 1]")),
         ["scene.yaml:24", "lights[0].positon", "unknown key 'positon' (did you mean 'position'?)"]),
    Case("key-misspelt-section", "misspelt a section", fit_scene(edit(SCENE, "camera:", "camra:")),
         ["scene.yaml:1", "camra", "unknown key 'camra' (did you mean 'camera'?)"]),
    Case("key-missing", "left out a required key", fit_scene(edit(SCENE, "    radius: 0.5\n", "")),
         ["scene.yaml:16", "objects[1].radius", "missing required key 'radius'"]),
    Case("key-section-missing", "left out the camera", fit_scene(SCENE[SCENE.index("film:"):]),
         ["scene.yaml:1", "camera", "missing required key 'camera' (or 'cameras', for several views)"]),
    Case("key-wrong-for-type", "gave a sphere a quad's key", fit_scene(edit(SCENE, "    radius: 0.5\n", "    radius: 0.5\n    edge1: [1, 0, 0]\n")),
         ["scene.yaml:20", "objects[1].edge1", "unknown key 'edge1'", "valid keys for a sphere: name, type, albedo, material, center, radius"]),
    # --- values ---
    Case("value-wrong-type", "wrote text where numbers go", fit_scene(edit(SCENE, "position: [0, 1.2, 4]", "position: here")),
         ["scene.yaml:2", "camera.position", "expected 3 numbers, got 'here'"]),
    Case("value-wrong-shape", "gave 2 numbers for a vector", fit_scene(edit(SCENE, "position: [1, 2, 1]", "position: [1, 2]")),
         ["scene.yaml:24", "lights[0].position", "expected 3 numbers, got [1, 2]"]),
    Case("value-nan", "wrote .nan for a number", fit_scene(edit(SCENE, "radius: 0.5", "radius: .nan")),
         ["scene.yaml:19", "objects[1].radius", "expected a number, got nan (not finite)"]),
    Case("value-inf-in-vector", "wrote .inf in a vector", fit_scene(edit(SCENE, "center: [0, 0.5, 0]", "center: [0, .inf, 0]")),
         ["scene.yaml:18", "objects[1].center", "expected 3 numbers", "(not finite)"]),
    Case("value-boolean", "wrote yes for a number", fit_scene(edit(SCENE, "fov: 45", "fov: yes")),
         ["scene.yaml:4", "camera.fov", "expected a number, got true"]),
    Case("value-float-for-int", "gave a width with a decimal point", fit_scene(edit(SCENE, "width: 16", "width: 16.0")),
         ["scene.yaml:6", "film.width", "expected a positive integer, got 16.0"]),
    Case("value-zero-int", "asked for 0 samples per pixel", fit_scene(edit(SCENE, "spp: 1", "spp: 0")),
         ["scene.yaml:8", "film.spp", "expected a positive integer, got 0"]),
    Case("value-film-too-large", "asked for a film wider than 16384 pixels", fit_scene(edit(SCENE, "width: 16", "width: 100000")),
         ["scene.yaml:6", "film.width", "expected a positive integer up to 16384, got 100000"]),
    Case("value-out-of-range", "gave a field of view of 190 degrees", fit_scene(edit(SCENE, "fov: 45", "fov: 190")),
         ["scene.yaml:4", "camera.fov", "between 0 and 180 degrees", "got 190"]),
    Case("value-negative-radius", "gave a sphere a negative radius", fit_scene(edit(SCENE, "radius: 0.5", "radius: -0.5")),
         ["scene.yaml:19", "objects[1].radius", "expected a positive radius, got -0.5"]),
    Case("value-albedo-above-one", "gave an albedo above 1", fit_scene(edit(SCENE, "albedo: [0.8, 0.3, 0.2]", "albedo: [1.5, 0.3, 0.2]")),
         ["scene.yaml:20", "objects[1].albedo", "expected albedo values in [0, 1]"]),
    Case("value-negative-intensity", "gave a light a negative intensity", fit_scene(edit(SCENE, "intensity: 8", "intensity: -8")),
         ["scene.yaml:25", "lights[0].intensity", "expected intensities >= 0"]),
    Case("value-camera-degenerate", "put look_at where the camera is", fit_scene(edit(SCENE, "look_at: [0, 0.4, 0]", "look_at: [0, 1.2, 4]")),
         ["scene.yaml:3", "camera.look_at", "expected look_at to differ from position"]),
    Case("value-parallel-edges", "gave a quad two parallel edges", fit_scene(edit(SCENE, "edge2: [0, 0, -6]", "edge2: [-2, 0, 0]")),
         ["scene.yaml:14", "objects[0].edge2", "expected edge2 not parallel to edge1"]),
    # --- the lists of objects and lights ---
    Case("objects-none", "wrote objects: with nothing under it", fit_scene(SCENE.replace(SCENE[SCENE.index("  - name: floor"):SCENE.index("lights:")], "")),
         ["scene.yaml:9", "objects", "expected a list of objects, got null"]),
    Case("lights-empty", "gave an empty list of lights", fit_scene(SCENE[: SCENE.index("lights:")] + "lights: []\n"),
         ["scene.yaml:21", "lights", "expected at least one light, got an empty list"]),
    Case("names-duplicate", "gave two objects the same name", fit_scene(edit(SCENE, "name: ball", "name: floor")),
         ["scene.yaml:16", "objects[1].name", "duplicate object name 'floor' (also objects[0])", "expected unique names"]),
    Case("object-type-unknown", "misspelt an object type", fit_scene(edit(SCENE, "type: sphere", "type: sphree")),
         ["scene.yaml:17", "objects[1].type", "unknown object type 'sphree' (did you mean 'sphere'?)", "expected one of quad, sphere, mesh"]),
    Case("light-type-unknown", "asked for an area light", fit_scene(edit(SCENE, "type: point", "type: area")),
         ["scene.yaml:23", "lights[0].type", "unknown light type 'area'", "expected one of point, directional"]),
    Case("lights-too-many", "gave 32 lights (at most 31)", fit_scene(edit(SCENE, "optimize:\n", many("lights", 31) + "optimize:\n")),
         ["scene.yaml:21", "lights", "expected at most 31 lights, got 32"]),
    # --- several cameras ---
    Case("cameras-and-camera", "gave both camera: and cameras:", fit_scene(edit(SCENE, "film:", CAMERAS + "film:")),
         ["scene.yaml:5", "cameras", "give either 'camera' (one view) or 'cameras' (several), not both"]),
    Case("cameras-empty", "gave an empty list of cameras", fit_scene(edit(VIEWS, CAMERAS, "cameras: []\n")),
         ["scene.yaml:1", "cameras", "expected at least one camera, got an empty list"]),
    Case("cameras-not-a-list", "gave cameras: a mapping of views by name",
         fit_scene(edit(VIEWS, CAMERAS, "cameras:\n  front: {position: [0, 1.2, 4], look_at: [0, 0.4, 0]}\n")),
         ["scene.yaml:1", "cameras", "expected a list of cameras, got a mapping"]),
    Case("cameras-duplicate-name", "gave two cameras the same name", fit_scene(edit(VIEWS, "name: side", "name: front")),
         ["scene.yaml:7", "cameras[1].name", "duplicate camera name 'front' (also cameras[0])", "expected unique names"]),
    Case("cameras-weight-zero", "gave a view the weight 0", fit_scene(edit(VIEWS, "weight: 2", "weight: 0")),
         ["scene.yaml:6", "cameras[0].weight", "expected a positive weight, got 0"]),
    Case("cameras-weight-negative", "gave a view a negative weight", fit_scene(edit(VIEWS, "weight: 2", "weight: -1")),
         ["scene.yaml:6", "cameras[0].weight", "expected a positive weight, got -1"]),
    Case("cameras-weight-text", "wrote text for a view's weight", fit_scene(edit(VIEWS, "weight: 2", "weight: heavy")),
         ["scene.yaml:6", "cameras[0].weight", "expected a number, got 'heavy'"]),
    Case("cameras-unknown-key", "gave a camera a key cameras do not have",
         fit_scene(edit(VIEWS, "    weight: 2\n", "    weight: 2\n    zoom: 2\n")),
         ["scene.yaml:7", "cameras[0].zoom", "unknown key 'zoom'", "valid keys: position, look_at, up, fov, name, weight"]),
    Case("cameras-too-many", "gave 65 cameras (at most 64)", fit_scene(edit(VIEWS, CAMERAS, "cameras:\n" + many("cameras", 65))),
         ["scene.yaml:1", "cameras", "expected at most 64 cameras, got 65"]),
    Case("camera-single-weight", "gave the single camera: a weight", fit_scene(edit(SCENE, "  fov: 45\n", "  fov: 45\n  weight: 2\n")),
         ["scene.yaml:5", "camera.weight", "a single camera has no name or weight", "list the views under 'cameras:'"]),
    # --- directional lights ---
    Case("directional-no-direction", "left out a directional light's direction",
         fit_scene(with_sun(SCENE, edit(SUN, "    direction: [0, -1, -0.5]\n", ""))),
         ["scene.yaml:26", "lights[1].direction", "missing required key 'direction'"]),
    Case("directional-zero-direction", "gave a directional light the direction [0, 0, 0]",
         fit_scene(with_sun(SCENE, edit(SUN, "direction: [0, -1, -0.5]", "direction: [0, 0, 0]"))),
         ["scene.yaml:28", "lights[1].direction", "expected a nonzero vector, got [0, 0, 0]"]),
    Case("directional-negative-irradiance", "gave a directional light a negative irradiance",
         fit_scene(with_sun(SCENE, edit(SUN, "irradiance: 3", "irradiance: [3, -1, 3]"))),
         ["scene.yaml:29", "lights[1].irradiance", "expected irradiance values >= 0, got [3, -1, 3]"]),
    Case("directional-irradiance-text", "wrote text for a directional light's irradiance",
         fit_scene(with_sun(SCENE, edit(SUN, "irradiance: 3", "irradiance: bright"))),
         ["scene.yaml:29", "lights[1].irradiance", "expected a number or 3 numbers, got 'bright'"]),
    Case("directional-position", "gave a directional light a position",
         fit_scene(with_sun(SCENE, SUN + "    position: [0, 5, 0]\n")),
         ["scene.yaml:30", "lights[1].position", "unknown key 'position'",
          "valid keys for a directional light: name, type, direction, irradiance"]),
    Case("directional-intensity", "gave a directional light an intensity, not an irradiance",
         fit_scene(with_sun(SCENE, edit(SUN, "irradiance: 3", "intensity: 3"))),
         ["scene.yaml:29", "lights[1].intensity", "unknown key 'intensity'", "valid keys for a directional light"]),
    Case("point-direction", "gave a point light a direction",
         fit_scene(edit(SCENE, "    intensity: 8\n", "    intensity: 8\n    direction: [0, -1, 0]\n")),
         ["scene.yaml:26", "lights[0].direction", "unknown key 'direction'",
          "valid keys for a point light: name, type, position, intensity"]),
    # --- meshes ---
    Case("mesh-missing", "named a mesh file that does not exist", fit_scene(with_mesh()),
         ["scene.yaml:23", "objects[2].file", "cannot read mesh file 'cube.obj': no such file"]),
    Case("mesh-bad-line", "gave an OBJ file with a broken vertex line",
         fit_scene(with_mesh(), {"cube.obj": edit(CUBE, "v 0.5 0.5 -0.5", "v 0.5 zero -0.5")}),
         ["cube.obj:4", "expected a vertex 'v x y z', got 'v 0.5 zero -0.5'"]),
    Case("mesh-bad-index", "gave an OBJ face a vertex that is not there",
         fit_scene(with_mesh(), {"cube.obj": edit(CUBE, "f 2 3 7 6", "f 2 3 7 9")}),
         ["cube.obj:15", "vertex index 9 is out of range: 8 vertices defined so far"]),
    Case("mesh-no-faces", "gave an OBJ file with no faces", fit_scene(with_mesh(), {"cube.obj": CUBE[: CUBE.index("f ")]}),
         ["cube.obj", "expected at least one face"]),
    Case("mesh-binary", "named a binary file as the mesh", fit_scene(with_mesh(), {"cube.obj": b"\x00\xff" + random_bytes(200)}),
         ["cube.obj", "expected UTF-8 text"]),
    # --- materials (issue 9) ---
    Case("material-unknown-type", "named a material raydiff does not have", fit_scene(glossy("type: roughconductor", "type: plastic")),
         ["scene.yaml:21", "objects[1].material.type", "unknown material type 'plastic'", "expected one of roughconductor"]),
    Case("material-diffuse", "wrote a diffuse material instead of an albedo", fit_scene(glossy("type: roughconductor", "type: diffuse")),
         ["scene.yaml:21", "objects[1].material.type", "a diffuse surface has no 'material': give the object's 'albedo'"]),
    Case("material-unknown-key", "gave a rough conductor a key it does not have",
         fit_scene(glossy("      alpha: 0.2\n", "      alpha: 0.2\n      roughness: 0.3\n")),
         ["scene.yaml:23", "objects[1].material.roughness", "unknown key 'roughness'",
          "valid keys for a roughconductor: type, distribution, alpha, specular_reflectance, eta, k"]),
    Case("material-not-a-mapping", "wrote a word for a material", fit_scene(edit(SCENE, "    albedo: [0.8, 0.3, 0.2]\n", "    material: shiny\n")),
         ["scene.yaml:20", "objects[1].material", "expected a mapping with a type (roughconductor, conductor, roughplastic) and its keys, got 'shiny'"]),
    Case("material-with-albedo", "gave a rough conductor an albedo as well",
         fit_scene(glossy("    radius: 0.5\n", "    radius: 0.5\n    albedo: 0.5\n")),
         ["scene.yaml:20", "objects[1].albedo", "a roughconductor surface has no albedo", "not both"]),
    Case("material-distribution", "asked for the Beckmann distribution",
         fit_scene(glossy("      alpha: 0.2\n", "      alpha: 0.2\n      distribution: beckmann\n")),
         ["scene.yaml:23", "objects[1].material.distribution", "unknown microfacet distribution 'beckmann'", "expected one of ggx"]),
    Case("material-alpha-zero", "gave a roughness of 0", fit_scene(glossy("alpha: 0.2", "alpha: 0")),
         ["scene.yaml:22", "objects[1].material.alpha", "expected a roughness in [0.01, 1], got 0"]),
    Case("material-alpha-large", "gave a roughness above 1", fit_scene(glossy("alpha: 0.2", "alpha: 1.5")),
         ["scene.yaml:22", "objects[1].material.alpha", "expected a roughness in [0.01, 1], got 1.5"]),
    Case("material-specular-range", "gave a specular colour above 1",
         fit_scene(glossy("specular_reflectance: [0.9, 0.8, 0.7]", "specular_reflectance: [1.2, 0.8, 0.7]")),
         ["scene.yaml:23", "objects[1].material.specular_reflectance", "expected values in [0, 1], got [1.2, 0.8, 0.7]"]),
    Case("material-eta-negative", "gave a negative index of refraction",
         fit_scene(glossy("      alpha: 0.2\n", "      alpha: 0.2\n      eta: [-0.2, 0.4, 1.4]\n")),
         ["scene.yaml:23", "objects[1].material.eta", "expected values in [0, 10000], got [-0.2, 0.4, 1.4]"]),
    Case("material-ior-zero", "gave eta and k both 0",
         fit_scene(glossy("      alpha: 0.2\n", "      alpha: 0.2\n      eta: 0\n      k: [1, 0, 1]\n")),
         ["scene.yaml:24", "objects[1].material.k", "expected eta or k above 0 in every channel, got both 0 in channel 1"]),
    Case("optimize-albedo-of-glossy", "freed the albedo of a rough conductor",
         fit_scene(freeing("objects.ball.albedo", glossy())),
         ["scene.yaml:30", "optimize.objects.ball.albedo", "'albedo' of a roughconductor sphere cannot be optimised",
          "free fields: material.alpha, material.specular_reflectance, center, radius"]),
    Case("optimize-ior", "freed a rough conductor's eta, which cannot be fitted",
         fit_scene(freeing("objects.ball.material.eta", glossy())),
         ["scene.yaml:30", "optimize.objects.ball.material.eta", "'material.eta' of a roughconductor sphere cannot be optimised"]),
    Case("optimize-alpha-of-diffuse", "freed the roughness of a diffuse sphere", fit_scene(freeing("objects.ball.material.alpha")),
         ["scene.yaml:27", "optimize.objects.ball.material.alpha", "'material.alpha' of a sphere cannot be optimised",
          "free fields: albedo, center, radius"]),
    # --- rough plastics (issue 9) ---
    Case("plastic-unknown-key", "gave a rough plastic a conductor's index",
         fit_scene(plastic("      alpha: 0.2\n", "      alpha: 0.2\n      eta: 1.5\n")),
         ["scene.yaml:23", "objects[1].material.eta", "unknown key 'eta'",
          "valid keys for a roughplastic: type, distribution, nonlinear, alpha, diffuse_reflectance, specular_reflectance, "
          "int_ior, ext_ior"]),
    Case("plastic-alpha-zero", "gave a rough plastic a roughness of 0", fit_scene(plastic("alpha: 0.2", "alpha: 0")),
         ["scene.yaml:22", "objects[1].material.alpha", "expected a roughness in [0.01, 1], got 0"]),
    Case("plastic-diffuse-range", "gave a rough plastic a diffuse colour above 1",
         fit_scene(plastic("diffuse_reflectance: [0.8, 0.3, 0.2]", "diffuse_reflectance: [1.2, 0.3, 0.2]")),
         ["scene.yaml:23", "objects[1].material.diffuse_reflectance", "expected values in [0, 1], got [1.2, 0.3, 0.2]"]),
    Case("plastic-ior-zero", "gave a rough plastic an index of refraction of 0",
         fit_scene(plastic("      alpha: 0.2\n", "      alpha: 0.2\n      int_ior: 0\n")),
         ["scene.yaml:23", "objects[1].material.int_ior", "expected an index of refraction in (0, 10000], got 0"]),
    Case("plastic-ior-named", "named the index of refraction (Mitsuba's names are not read)",
         fit_scene(plastic("      alpha: 0.2\n", "      alpha: 0.2\n      ext_ior: air\n")),
         ["scene.yaml:23", "objects[1].material.ext_ior", "got 'air'"]),
    Case("plastic-ior-equal", "gave the coating the outside's index (no interface)",
         fit_scene(plastic("      alpha: 0.2\n", "      alpha: 0.2\n      int_ior: 1.5\n      ext_ior: 1.5\n")),
         ["scene.yaml:23", "objects[1].material.int_ior", "expected int_ior to differ from ext_ior (both 1.5)"]),
    Case("plastic-nonlinear", "asked for Mitsuba's nonlinear diffuse base",
         fit_scene(plastic("      alpha: 0.2\n", "      alpha: 0.2\n      nonlinear: true\n")),
         ["scene.yaml:23", "objects[1].material.nonlinear", "expected false", "got true"]),
    Case("optimize-alpha-of-plastic", "freed a rough plastic's roughness, on which its tables depend",
         fit_scene(freeing("objects.ball.material.alpha", plastic())),
         ["scene.yaml:30", "optimize.objects.ball.material.alpha", "'material.alpha' of a roughplastic sphere cannot be optimised",
          "free fields: material.specular_reflectance, material.diffuse_reflectance, center, radius"]),
    # --- mirrors and max_depth (issue 9) ---
    Case("conductor-unknown-key", "gave a mirror a roughness (a smooth conductor has none)",
         fit_scene(mirror("      specular_reflectance: [0.9, 0.8, 0.7]\n",
                          "      specular_reflectance: [0.9, 0.8, 0.7]\n      alpha: 0.1\n")),
         ["scene.yaml:23", "objects[1].material.alpha", "unknown key 'alpha'",
          "valid keys for a conductor: type, specular_reflectance, eta, k"]),
    Case("conductor-specular-range", "gave a mirror a colour above 1",
         fit_scene(mirror("specular_reflectance: [0.9, 0.8, 0.7]", "specular_reflectance: [0.9, 1.5, 0.7]")),
         ["scene.yaml:22", "objects[1].material.specular_reflectance", "expected values in [0, 1], got [0.9, 1.5, 0.7]"]),
    Case("optimize-alpha-of-mirror", "freed the roughness of a mirror",
         fit_scene(freeing("objects.ball.material.alpha", mirror())),
         ["scene.yaml:29", "optimize.objects.ball.material.alpha", "'material.alpha' of a conductor sphere cannot be optimised",
          "free fields: material.specular_reflectance, center, radius"]),
    Case("max-depth-large", "asked for more bounces than raydiff follows", fit_scene(with_depth("5")),
         ["scene.yaml:9", "max_depth", "expected an integer from 2 (direct light only) to 4, got 5"]),
    Case("max-depth-one", "gave max_depth 1 (lights seen directly only: raydiff's lights cannot be)",
         fit_scene(with_depth("1")),
         ["scene.yaml:9", "max_depth", "expected an integer from 2 (direct light only) to 4, got 1"]),
    Case("max-depth-infinite", "gave Mitsuba's -1 (unbounded) as max_depth", fit_scene(with_depth("-1")),
         ["scene.yaml:9", "max_depth", "expected an integer from 2 (direct light only) to 4, got -1"]),
    Case("max-depth-float", "wrote max_depth as a decimal", fit_scene(with_depth("3.0")),
         ["scene.yaml:9", "max_depth", "expected an integer from 2 (direct light only) to 4, got 3.0"]),
    Case("max-depth-text", "wrote max_depth as a word", fit_scene(with_depth("deep")),
         ["scene.yaml:9", "max_depth", "expected an integer from 2 (direct light only) to 4, got 'deep'"]),
    # --- textures (issue 9) ---
    Case("texture-missing", "named a texture file that is not there", with_texture("{texture: wood.png}"),
         ["scene.yaml:15", "objects[0].albedo.texture", "cannot read texture file 'wood.png'", "looked for"]),
    Case("texture-not-an-image", "named a file that is no image as a texture",
         with_texture("{texture: wood.png}", files={"wood.png": b"not a picture"}),
         ["scene.yaml:15", "objects[0].albedo.texture", "texture file 'wood.png'", "cannot read the image"]),
    Case("texture-above-one", "gave a linear EXR texture with values above 1",
         with_texture("{texture: wood.exr}", images={"wood.exr": np.full((4, 4, 3), 2.0, np.float32)}),
         ["scene.yaml:15", "objects[0].albedo.texture", "texture file 'wood.exr' has values outside [0, 1]"]),
    Case("texture-unknown-key", "gave a texture a key it does not have", with_texture("{texture: wood.png, tiling: 2}"),
         ["scene.yaml:15", "objects[0].albedo.tiling", "unknown key 'tiling'", "valid keys for a texture: texture, resolution, value"]),
    Case("texture-and-resolution", "gave a texture file and a resolution",
         with_texture("{texture: wood.png, resolution: [4, 4]}", images={"wood.png": np.full((4, 4, 3), 0.5, np.float32)}),
         ["scene.yaml:15", "objects[0].albedo.resolution", "give either 'texture' or 'resolution'", "not both"]),
    Case("texture-bad-resolution", "gave a texture a resolution of 0", with_texture("{resolution: [0, 4]}"),
         ["scene.yaml:15", "objects[0].albedo.resolution", "expected [width, height], two integers from 1 to 8192, got [0, 4]"]),
    Case("texture-value-above-one", "gave a flat texture a value above 1", with_texture("{resolution: [4, 4], value: 1.5}"),
         ["scene.yaml:15", "objects[0].albedo.value", "expected albedo values in [0, 1]"]),
    Case("texture-empty", "gave a texture neither a file nor a resolution", with_texture("{}"),
         ["scene.yaml:15", "objects[0].albedo.resolution", "missing required key 'resolution'"]),
    # --- optimize ---
    Case("fit-no-optimize", "fitted a scene with no optimize section", fit_scene(NO_OPTIMIZE),
         ["scene.yaml", "optimize", "nothing to fit", "lights.key.position: {}"]),
    Case("optimize-unknown-name", "freed a light that does not exist", fit_scene(edit(SCENE, "lights.key.position", "lights.kye.position")),
         ["scene.yaml:27", "optimize.lights.kye.position", "no light named 'kye' (did you mean 'key'?)"]),
    Case("optimize-unfreeable-field", "freed the camera's up, which cannot be fitted", fit_scene(freeing("camera.up")),
         ["scene.yaml:27", "optimize.camera.up", "'up' of a camera cannot be optimised", "free fields: position, look_at, fov"]),
    Case("optimize-field-of-another-type", "freed a quad's field on a sphere", fit_scene(freeing("objects.ball.origin")),
         ["scene.yaml:27", "optimize.objects.ball.origin", "'origin' of a sphere cannot be optimised",
          "free fields: albedo, center, radius"]),
    Case("optimize-light-field-of-another-type", "freed the position of a directional light",
         fit_scene(freeing("lights.sun.position", with_sun())),
         ["scene.yaml:31", "optimize.lights.sun.position", "'position' of a directional", "cannot be optimised",
          "free fields: direction, irradiance"]),
    Case("optimize-camera-with-several", "freed camera.fov in a scene with cameras:", fit_scene(freeing("camera.fov", VIEWS)),
         ["scene.yaml:32", "optimize.camera.fov", "this scene lists several cameras (front, side)", "'cameras.<name>.fov'"]),
    Case("optimize-cameras-with-one", "freed cameras.<name>.fov in a scene with one camera:",
         fit_scene(freeing("cameras.x.fov")),
         ["scene.yaml:27", "optimize.cameras.x.fov", "this scene has one camera: write 'camera.fov'"]),
    Case("optimize-unknown-camera", "freed a camera that does not exist", fit_scene(freeing("cameras.frnt.fov", VIEWS)),
         ["scene.yaml:32", "optimize.cameras.frnt.fov", "no camera named 'frnt' (did you mean 'front'?)"]),
    Case("optimize-malformed-path", "wrote a path without its group", fit_scene(edit(SCENE, "lights.key.position", "key.position")),
         ["scene.yaml:27", "optimize.key.position",
          "expected a path 'lights.<name>.<field>', 'objects.<name>.<field>', 'camera.<field>' or 'cameras.<name>.<field>'"]),
    Case("optimize-unknown-option", "misspelt an option of a free parameter", fit_scene(edit(SCENE, "{lr: 0.1}", "{rate: 0.1}")),
         ["scene.yaml:27", "optimize.lights.key.position.rate", "unknown key 'rate'"]),
    Case("optimize-bad-lr", "gave a free parameter a negative learning rate", fit_scene(edit(SCENE, "{lr: 0.1}", "{lr: -0.1}")),
         ["scene.yaml:27", "optimize.lights.key.position", "lr must be a positive number, got -0.1"]),
    Case("optimize-min-above-max", "gave bounds the wrong way round", fit_scene(edit(SCENE, "{lr: 0.1}", "{min: 2, max: 1}")),
         ["scene.yaml:27", "optimize.lights.key.position", "min (2) is above max (1)"]),
    Case("optimize-bound-outside-range", "gave a field of view a lower bound above 179 degrees",
         fit_scene(edit(SCENE, "lights.key.position: {lr: 0.1}", "camera.fov: {min: 200}")),
         ["scene.yaml:27", "optimize.camera.fov", "min (200) is above max (179)"]),
    Case("optimize-render-too", "rendered a scene whose optimize section names no light",
         render_scene(edit(SCENE, "lights.key.position", "lights.kye.position")),
         ["scene.yaml:27", "optimize.lights.kye.position", "no light named 'kye'"]),
    # --- the reference ---
    Case("ref-missing", "named a reference that does not exist", _missing_reference,
         ["nothere.png", "no such file"]),
    Case("ref-is-a-folder", "named a folder as the reference", _reference_is_a_folder,
         ["ref.png", "is a folder", "expected an image file"]),
    Case("ref-unreadable", "named a reference they may not read (mode 000)", _unreadable_reference,
         ["ref.png", "permission denied"]),
    Case("ref-corrupt", "gave random bytes named .png", fit_reference("ref.png", lambda p: p.write_bytes(random_bytes(500))),
         ["ref.png", "cannot read the image: corrupt or not a PNG file"]),
    Case("ref-truncated", "gave a PNG cut short", fit_reference("ref.png", _truncated_png),
         ["ref.png", "cannot read the image: corrupt or not a PNG file"]),
    Case("ref-bmp", "gave a BMP reference", fit_reference("ref.bmp", _renamed_bmp),
         ["ref.bmp", "unsupported image type '.bmp'", "expected one of .png, .jpg, .jpeg, .exr"]),
    Case("ref-tif", "gave a TIFF reference", fit_reference("ref.tif", lambda p: p.write_bytes(b"II*\x00" + random_bytes(60))),
         ["ref.tif", "unsupported image type '.tif'"]),
    Case("ref-wrong-size", "gave a reference of another size than the film",
         fit_reference("ref.png", lambda p: write_reference(p, 32, 24)),
         ["ref.png", "image is 32x24 but the scene's film is 16x12", "change film.width/height"]),
    Case("ref-exr-corrupt", "gave an EXR cut short", fit_reference("ref.exr", _truncated_exr),
         ["ref.exr", "cannot read the image: corrupt or not an EXR file"]),
    Case("ref-exr-random", "gave random bytes named .exr", fit_reference("ref.exr", lambda p: p.write_bytes(random_bytes(500))),
         ["ref.exr", "not an EXR file"]),
    Case("ref-exr-nan", "gave an EXR with a NaN pixel", fit_reference("ref.exr", _nan_exr),
         ["ref.exr", "contains NaN or infinite pixels", "x=5, y=3", "expected finite values"]),
    Case("ref-swapped", "gave the reference first and the scene second", _swapped,
         ["ref.png:1", "expected UTF-8 text, got byte 0x89"]),
    Case("option-reference-space-unknown", "gave --reference-space a value it does not know",
         fit_options("--reference-space", "rgb"),
         ["Invalid value for '--reference-space'", "'rgb' is not one of"], exit_code=2),
    # --- the true scene (--truth) and resuming (--resume) ---
    Case("truth-missing", "named a --truth scene that does not exist", fit_options("--truth", "nothere.yaml"),
         ["nothere.yaml", "cannot read scene file"]),
    Case("truth-other-names", "gave --truth a scene without the freed light", _truth_without_key,
         ["truth.yaml", "lights", "--truth has no light named 'key'"]),
    Case("truth-malformed", "gave --truth a scene with a misspelt key",
         _truth(edit(SCENE, "    radius: 0.5", "    radus: 0.5")),
         ["truth.yaml:19", "objects[1].radus", "unknown key 'radus' (did you mean 'radius'?)"]),
    Case("resume-missing", "resumed from a folder that does not exist", fit_options("--resume", "nowhere"),
         ["nowhere", "checkpoint"]),
    Case("resume-not-a-run", "resumed from a folder with no checkpoint in it", _resume_empty,
         ["old", "checkpoint"]),
    # --- the backend ---
    Case("backend-unavailable", "asked for CUDA on a machine without it", _no_cuda,
         ["cuda", "not available on this machine", "try --arch auto or cpu"]),
    Case("backend-unavailable-render", "asked render for CUDA on a machine without it", _no_cuda_render,
         ["cuda", "not available on this machine"]),
    Case("backend-unknown", "asked for a backend that does not exist (--arch gpu)", fit_options("--arch", "gpu"),
         ["Invalid value for '--arch'", "'gpu' is not one of"], exit_code=2),
    Case("backend-deterministic-gpu", "asked for a deterministic fit on Vulkan",
         fit_options("--arch", "vulkan", "--deterministic"),
         ["deterministic fit runs on the CPU backend, not vulkan", "--arch cpu"]),
    # --- the fit's options ---
    Case("option-iterations-negative", "asked for -1 iterations", fit_options("--iterations", "-1"),
         ["--iterations must be >= 0"]),
    Case("option-lr-zero", "set the learning rate to 0", fit_options("--lr", "0"), ["--lr must be a finite positive number"]),
    Case("option-lr-infinite", "set the learning rate to infinity", fit_options("--lr", "inf"),
         ["--lr", "finite"]),
    Case("option-lr-decay-above-one", "set the decay above 1", fit_options("--lr-decay", "2"),
         ["--lr-decay must be in (0, 1]"]),
    Case("option-lr-decay-nan", "set the decay to nan", fit_options("--lr-decay", "nan"),
         ["--lr-decay must be in (0, 1]"]),
    Case("option-optimizer-unknown", "asked for an optimiser raydiff does not have", fit_options("--optimizer", "newton"),
         ["Invalid value for '--optimizer'", "'newton' is not one of"], exit_code=2),
    Case("option-optimizer-lm-l1", "asked for Levenberg-Marquardt on the L1 loss",
         fit_options("--optimizer", "lm", "--loss", "l1"),
         ["--optimizer lm fits the mse loss, not l1", "choose adam"]),
    Case("option-tol-negative", "set the stop criterion's tolerance below 0", fit_options("--tol", "-0.01"),
         ["--tol must be a number in [0, 1)", "0: no stop criterion", "got -0.01"]),
    Case("option-tol-one", "set the stop criterion's tolerance to 1", fit_options("--tol", "1"),
         ["--tol must be a number in [0, 1)", "got 1.0"]),
    Case("option-tol-nan", "set the stop criterion's tolerance to nan", fit_options("--tol", "nan"),
         ["--tol must be a number in [0, 1)", "got nan"]),
    Case("option-primary-sets-too-few", "asked for a primary cache of fewer than four sample sets",
         fit_options("--primary-sets", "2"), ["--primary-sets must be 0 (no primary cache)", "[4, 64]", "got 2"]),
    Case("option-primary-sets-word", "gave --primary-sets a word", fit_options("--primary-sets", "many"),
         ["Invalid value for '--primary-sets'", "unable to parse string as an integer"], exit_code=2),
    Case("option-primary-refresh-negative", "asked for a rolling cache's refresh every -1 iterations",
         fit_options("--primary-refresh", "-1"),
         ["--primary-refresh must be a whole number of iterations", "0: the primary cache's sets stay fixed", "got -1"]),
    Case("option-spp-zero", "asked the fit for 0 samples per pixel", fit_options("--spp", "0"),
         ["--spp must be at least 1"]),
    Case("option-loss-unknown", "asked for a loss that does not exist", fit_options("--loss", "huber"),
         ["Invalid value for '--loss'", "'huber' is not one of"], exit_code=2),
    Case("option-frame-every-negative", "asked for a frame every -1 iterations", fit_options("--frame-every", "-1"),
         ["Invalid value for '--frame-every'"], exit_code=2),
    Case("option-render-spp-zero", "asked render for 0 samples per pixel", _render_options("--spp", "0"),
         ["Invalid value for '--spp'"], exit_code=2),
    # --- where the outputs go ---
    Case("out-not-empty", "fitted into a folder that already holds files", _out_not_empty,
         ["out", "folder is not empty (1 entry)", "expected a new or empty folder"]),
    Case("out-is-a-file", "fitted into a path that is a file", _out_is_a_file,
         ["out", "exists and is not a folder", "expected a new or empty folder"]),
    Case("out-empty-name", "gave an empty --out", _fit_out(""),
         ["--out", "expected a folder"]),
    Case("out-under-a-file", "fitted into a folder under a file (--out ref.png/run)", _fit_out("ref.png/run"),
         ["ref.png/run", "Not a directory"]),
    Case("render-bad-extension", "asked render for a .bmp", _render_into("out.bmp"),
         ["out.bmp", "cannot write '.bmp' images", "use one of .png, .jpg, .jpeg, .exr"]),
    Case("render-no-extension", "asked render for a file without an extension", _render_into("picture"),
         ["picture", "cannot write '' images"]),
    Case("render-into-a-folder", "asked render to write over a folder", _render_into("out.png", make_folder=True),
         ["out.png", "is a folder; expected the name of an image file"]),
    Case("render-missing-folder", "asked render to write into a folder that does not exist", _render_into("renders/out.png"),
         ["renders/out.png", "the folder", "does not exist"]),
    # --- issue 12: the output folder, resume, start-up ---
    Case("out-busy", "fitted into a folder another fit is running in", _out_busy,
         ["out", "another fit (pid ", "is running in this folder", "wait for it to end, or choose another --out"]),
    Case("resume-busy", "resumed the fit in a folder while another fit runs in it", _resume_busy,
         ["out", "another fit (pid ", "is running in this folder", "wait for it to end"]),
    Case("out-holds-a-fit", "started a new fit into the folder of an earlier one", _out_holds_a_fit,
         ["out", "folder is not empty (2 entries)", "holds a raydiff fit", "continue it with --resume", "choose another --out"]),
    Case("resume-is-a-file", "gave --resume a file instead of a fit's folder", _resume_at(lambda f: str(f / "ref.png")),
         ["ref.png", "is a file, not a folder", "--resume takes the output folder of an earlier `raydiff fit`"]),
    Case("resume-names-the-checkpoint", "gave --resume the checkpoint file instead of its folder",
         _resume_at(lambda f: str(f / "out" / "checkpoint.npz")),
         ["checkpoint.npz", "--resume takes the folder that holds the checkpoint", "out"]),
    Case("resume-before-first-checkpoint", "resumed a fit killed before it saved a checkpoint",
         _resume_before_first_checkpoint, ["out", "no checkpoint here", "stopped before it saved one", "--out"]),
    Case("resume-read-only", "resumed a fit in a folder they may not write to (mode 555)", _resume_read_only,
         ["out", "cannot write in the folder", "Permission denied"]),
    Case("resume-finished", "resumed a fit that had finished, without asking for more iterations",
         _resume(iteration=3, finished=True),
         ["out", "the fit there has finished (3 of 3 iterations)", "give --iterations N above 3"]),
    Case("resume-iterations-below", "resumed a fit with --iterations below what it has run",
         _resume("--iterations", "3", iteration=5, iterations=9),
         ["out", "--iterations 3 is below the 5 iterations the fit there has run", "give at least 5"]),
    Case("resume-with-out", "gave --out another folder with --resume", _resume("--out", "elsewhere"),
         ["out", "--out elsewhere cannot go with --resume", "drop --out"]),
    Case("resume-with-lr", "gave --resume a learning rate other than the fit's", _resume("--lr", "0.5", lr=0.1),
         ["out", "--lr 0.5 differs from the fit there (--lr 0.1)", "keeps the settings it started with", "drop --lr"]),
    Case("resume-with-lr-decay", "gave --resume another --lr-decay", _resume("--lr-decay", "0.9", lr_decay=1.0),
         ["out", "--lr-decay 0.9 differs from the fit there (--lr-decay 1.0)", "drop --lr-decay"]),
    Case("resume-with-spp", "gave --resume another --spp", _resume("--spp", "4"),
         ["out", "--spp 4 differs from the fit there (no --spp)", "drop --spp"]),
    Case("resume-with-loss", "gave --resume another loss", _resume("--loss", "l1"),
         ["out", "--loss l1 differs from the fit there (--loss mse)", "drop --loss"]),
    Case("resume-with-optimizer", "gave --resume another optimiser", _resume("--optimizer", "lm", optimizer="adam"),
         ["out", "--optimizer lm differs from the fit there (--optimizer adam)", "drop --optimizer"]),
    Case("resume-with-seed", "gave --resume another seed", _resume("--seed", "3", seed=7),
         ["out", "--seed 3 differs from the fit there (--seed 7)", "drop --seed"]),
    Case("resume-with-frame-every", "gave --resume another --frame-every", _resume("--frame-every", "5"),
         ["out", "--frame-every 5 differs from the fit there (--frame-every 10)", "drop --frame-every"]),
    Case("resume-with-reference-space", "gave --resume another --reference-space", _resume("--reference-space", "linear"),
         ["out", "--reference-space linear differs from the fit there (no --reference-space)", "drop --reference-space"]),
    Case("resume-with-correlated", "gave --resume --correlated, which the fit did not start with", _resume("--correlated"),
         ["out", "--correlated differs from the fit there (no --correlated)", "drop --correlated"]),
    Case("resume-with-no-boundary", "gave --resume --no-boundary, which the fit did not start with",
         _resume("--no-boundary"), ["out", "--no-boundary differs from the fit there (no --no-boundary)", "drop --no-boundary"]),
    Case("resume-with-primary-sets", "gave --resume another --primary-sets", _resume("--primary-sets", "4"),
         ["out", "--primary-sets 4 differs from the fit there (--primary-sets 8)", "drop --primary-sets"]),
    Case("resume-with-primary-refresh", "gave --resume another --primary-refresh", _resume("--primary-refresh", "7"),
         ["out", "--primary-refresh 7 differs from the fit there (--primary-refresh 1)", "drop --primary-refresh"]),
    Case("resume-checkpoint-corrupt", "resumed from a checkpoint of random bytes",
         _resume_broken(lambda p: p.write_bytes(random_bytes(300))),
         ["checkpoint.npz", "not a readable checkpoint (a corrupt or truncated .npz file)"]),
    Case("resume-checkpoint-truncated", "resumed from a checkpoint cut short", _resume_broken(_truncate),
         ["checkpoint.npz", "not a readable checkpoint (a corrupt or truncated .npz file)"]),
    Case("resume-checkpoint-pickled", "resumed from a checkpoint holding a Python object", _resume_broken(_pickled),
         ["checkpoint.npz", "not a readable checkpoint", "it holds Python objects, which raydiff never loads"]),
    Case("resume-checkpoint-missing-array", "resumed from a checkpoint that lacks an array", _resume(drop=["pool"]),
         ["checkpoint.npz", "the checkpoint lacks the array 'pool'"]),
    Case("resume-checkpoint-no-record", "resumed from an .npz with arrays but no record of the fit",
         _resume_broken(lambda p: np.savez(p, pool=np.zeros(3))),
         ["checkpoint.npz", "not a raydiff checkpoint", "no 'meta' record"]),
    Case("resume-checkpoint-record-incomplete", "resumed from a checkpoint whose record lacks the settings",
         _resume(meta_drop=["settings"]), ["checkpoint.npz", "its record of the fit lacks settings"]),
    Case("option-fps-infinite", "asked for an animation at infinitely many frames per second", fit_options("--fps", "inf"),
         ["--fps must be a finite number of frames per second", "got inf"]),
    Case("option-fps-nan", "asked for an animation at nan frames per second", fit_options("--fps", "nan"),
         ["Invalid value for '--fps'"], exit_code=2),
    # --- issue 12: misread input and misleading messages ---
    Case("yaml-nested-too-deep", "nested lists 10,000 deep", fit_scene("camera: " + "[" * 10_000 + "]" * 10_000 + "\n"),
         ["scene.yaml:1", "lists and mappings nested more than 64 levels deep", "expected at most 64"]),
    Case("yaml-nested-mappings-too-deep", "nested mappings 100,000 deep", fit_scene("camera: " + "{a: " * 100_000 + "\n"),
         ["scene.yaml:1", "nested more than 64 levels deep"]),
    Case("yaml-nested-block-too-deep", "indented mappings 1,000 deep", fit_scene("".join("  " * i + "a:\n" for i in range(1000))),
         ["scene.yaml:65", "nested more than 64 levels deep"]),
    Case("yaml-nested-through-aliases", "nested aliases of nested lists, 1500 deep once expanded", fit_scene(_alias_chain()),
         ["scene.yaml:1", "nested more than 64 levels deep (through aliases)"]),
    Case("key-invisible-character", "pasted a key with a zero-width space inside it",
         fit_scene(edit(SCENE, "  fov: 45", "  f\u200bov: 45")),
         ["scene.yaml:4", "unknown key 'f\\u200bov', which holds an invisible U+200B ZERO WIDTH SPACE", "did you mean 'fov'"]),
    Case("scene-utf16", "saved the scene as UTF-16 (Notepad's 'Unicode')", fit_scene(SCENE.encode("utf-16")),
         ["scene.yaml:1", "expected UTF-8 text, got UTF-16", "save the file as UTF-8"]),
    Case("scene-fifo", "named a named pipe as the scene", _scene_not_a_file("fifo"),
         ["scene.yaml", "cannot read scene file: is a named pipe (FIFO), not a file"]),
    Case("scene-dangling-link", "named a symbolic link to a file that is gone as the scene", _scene_not_a_file("dangling"),
         ["scene.yaml", "cannot read scene file: broken symbolic link to 'gone.yaml'"]),
    Case("scene-link-loop", "named a symbolic link loop as the scene", _scene_not_a_file("loop"),
         ["scene.yaml", "cannot read scene file: symbolic link loop"]),
    Case("camera-look-at-position-float32", "put look_at 1e-10 from the camera, equal once in float32",
         fit_scene(edit(SCENE, "look_at: [0, 0.4, 0]", "look_at: [0, 1.2, 4.0000000001]")),
         ["scene.yaml:3", "camera.look_at", "expected look_at to differ from position in float32"]),
    Case("camera-up-parallel", "gave an up along the view direction",
         fit_scene(edit(SCENE, "  fov: 45\n", "  fov: 45\n  up: [0, -0.8, -4]\n")),
         ["scene.yaml:5", "camera.up", "expected up not parallel to look_at - position"]),
    Case("camera-fov-zero", "gave a field of view of 0 degrees", fit_scene(edit(SCENE, "fov: 45", "fov: 0")),
         ["scene.yaml:4", "camera.fov", "between 0 and 180 degrees (exclusive), got 0"]),
    Case("camera-fov-180", "gave a field of view of 180 degrees", fit_scene(edit(SCENE, "fov: 45", "fov: 180")),
         ["scene.yaml:4", "camera.fov", "got 180"]),
    Case("sphere-radius-zero", "gave a sphere the radius 0", fit_scene(edit(SCENE, "radius: 0.5", "radius: 0")),
         ["scene.yaml:19", "objects[1].radius", "expected a positive radius, got 0"]),
    Case("mesh-rotate-axis-zero", "rotated a mesh about the axis [0, 0, 0]",
         fit_scene(with_rotation("{axis: [0, 0, 0], angle: 30}"), {"cube.obj": CUBE}),
         ["scene.yaml:25", "objects[2].rotate.axis", "expected a nonzero vector, got [0, 0, 0]"]),
    Case("mesh-rotate-axis-nan", "rotated a mesh about an axis with a NaN in it",
         fit_scene(with_rotation("{axis: [.nan, 1, 0], angle: 30}"), {"cube.obj": CUBE}),
         ["scene.yaml:25", "objects[2].rotate.axis", "not finite"]),
    Case("mesh-is-a-folder", "named a folder as the mesh (a folder called cube.obj)", _mesh_not_a_file("folder"),
         ["scene.yaml:23", "objects[2].file", "cannot read mesh file 'cube.obj': is a folder; expected a mesh file"]),
    Case("mesh-fifo", "named a named pipe as the mesh", _mesh_not_a_file("fifo"),
         ["scene.yaml:23", "objects[2].file", "cannot read mesh file 'cube.obj': is a named pipe (FIFO), not a file"]),
    Case("mesh-dangling-link", "named a symbolic link to a mesh that is gone", _mesh_not_a_file("dangling"),
         ["scene.yaml:23", "objects[2].file", "broken symbolic link to 'gone.obj'"]),
    Case("mesh-link-loop", "named a symbolic link loop as the mesh", _mesh_not_a_file("loop"),
         ["scene.yaml:23", "objects[2].file", "cannot read mesh file 'cube.obj': symbolic link loop"]),
    Case("mesh-no-area", "gave an OBJ whose every face has its corners on a line",
         fit_scene(with_mesh(), {"cube.obj": "v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\nf 1 1 2\n"}),
         ["scene.yaml:23", "objects[2].file", "no face of mesh file 'cube.obj' has an area (2 faces"]),
    Case("mesh-only-texture-coordinates", "gave an OBJ with only 'vt' lines",
         fit_scene(with_mesh(), {"cube.obj": "vt 0 0\nvt 1 0\nvt 0 1\n"}),
         ["cube.obj", "expected at least one face ('f' line), found none"]),
    Case("mesh-nan-vertex", "gave an OBJ with a NaN coordinate",
         fit_scene(with_mesh(), {"cube.obj": edit(CUBE, "v 0.5 0.5 0.5", "v nan 0.5 0.5")}),
         ["cube.obj:8", "expected finite vertex coordinates, got 'v nan 0.5 0.5'"]),
    Case("mesh-huge-index", "gave an OBJ face an index with 23 digits",
         fit_scene(with_mesh(), {"cube.obj": CUBE + "f 1 2 99999999999999999999999\n"}),
         ["cube.obj:16", "vertex index 99999999999999999999999 is out of range: 8 vertices defined so far"]),
    Case("mesh-negative-index-beyond", "gave an OBJ face a relative index before the first vertex",
         fit_scene(with_mesh(), {"cube.obj": CUBE + "f -1 -2 -9\n"}),
         ["cube.obj:16", "vertex index -9 is out of range: 8 vertices defined so far"]),
    Case("mesh-utf16", "saved the OBJ as UTF-16", fit_scene(with_mesh(), {"cube.obj": CUBE.encode("utf-16")}),
         ["cube.obj:1", "expected UTF-8 text, got UTF-16"]),
    Case("ref-fifo", "named a named pipe as the reference", fit_reference("ref.png", _not_a_file("fifo")),
         ["ref.png", "is a named pipe (FIFO), not a file; expected an image file"]),
    Case("ref-dangling-link", "named a symbolic link to a picture that is gone", fit_reference("ref.png", _not_a_file("dangling")),
         ["ref.png", "cannot read the image: broken symbolic link to 'gone.png'"]),
    Case("ref-link-loop", "named a symbolic link loop as the reference", fit_reference("ref.png", _not_a_file("loop")),
         ["ref.png", "cannot read the image: symbolic link loop"]),
    Case("ref-exif-turned", "gave a JPEG of the film's size whose EXIF orientation turns it by 90 degrees",
         fit_reference("ref.jpg", _exif_turned(6)),
         ["ref.jpg", "image is 12x16 as viewers show it (stored 16x12, turned by its EXIF orientation 6)",
          "the scene's film is 16x12"]),
    Case("ref-animated-png", "gave an animated PNG", fit_reference("ref.png", _animation("PNG")),
         ["ref.png", "is an animation of 2 frames; expected a single picture"]),
    Case("ref-animated-gif", "gave an animated GIF renamed .png", fit_reference("ref.png", _animation("GIF")),
         ["ref.png", "is an animation of 2 frames"]),
    Case("ref-exr-red-green", "gave an EXR with R and G channels but no B", fit_reference("ref.exr", _exr_channels("R", "G")),
         ["ref.exr", "has channels R and G but no B", "expected all of R, G and B, or Y for a grey image"]),
    Case("truth-fifo", "named a named pipe as --truth", _truth_not_a_file("fifo"),
         ["truth.yaml", "cannot read scene file: is a named pipe (FIFO), not a file"]),
    Case("truth-is-a-folder", "named a folder as --truth", _truth_not_a_file("folder"),
         ["truth.yaml", "cannot read scene file: is a folder"]),
    Case("truth-too-many-lights", "gave --truth a scene with 32 lights",
         _truth(edit(NO_OPTIMIZE, "    intensity: 8\n", "    intensity: 8\n" + many("lights", 31))),
         ["truth.yaml:21", "lights", "expected at most 31 lights, got 32"]),
    Case("truth-nested-too-deep", "gave --truth a scene nested 10,000 deep", _truth("camera: " + "[" * 10_000 + "\n"),
         ["truth.yaml:1", "nested more than 64 levels deep"]),
    # --- issue 12: limits: memory, sizes, ranges ---
    Case("limit-scene-file-too-large", "gave a scene file of more than 1 MiB (a huge comment)",
         fit_scene(SCENE + "#" + "x" * (1 << 20) + "\n"),
         ["scene.yaml", "the scene file is 1049027 bytes, over the limit of 1048576 bytes"]),
    Case("limit-yaml-too-many-values", "gave a scene with a list of 60000 numbers in it",
         fit_scene(edit(SCENE, "optimize:", "junk: [" + ", ".join(["1"] * 60000) + "]\noptimize:")),
         ["scene.yaml:26", "document too large: more than 50000 YAML values"]),
    Case("limit-value-beyond-float32", "gave a light an intensity of 1e39, beyond float32",
         fit_scene(edit(SCENE, "intensity: 8", "intensity: 1.0e+39")),
         ["scene.yaml:25", "lights[0].intensity", "1e+39 is beyond float32's range (magnitude at most 3.4e+38)"]),
    Case("limit-value-flushes-to-zero", "gave a sphere a radius of 1e-50, which is 0 in float32",
         fit_scene(edit(SCENE, "radius: 0.5", "radius: 1.0e-50")),
         ["scene.yaml:19", "objects[1].radius", "too small for float32", "it would be 0 on the device"]),
    Case("limit-coordinate-too-large", "put the camera at 1e30, where squared distances overflow float32",
         fit_scene(edit(SCENE, "position: [0, 1.2, 4]", "position: [0, 1.2, 1.0e+30]")),
         ["scene.yaml:2", "camera.position", "too large for a coordinate or length (magnitude at most 1e+18"]),
    Case("limit-intensity-too-large", "gave a light an intensity of 1e20, whose squared pixels overflow",
         fit_scene(edit(SCENE, "intensity: 8", "intensity: 1.0e+20")),
         ["scene.yaml:25", "lights[0].intensity", "expected intensities up to 1e+18"]),
    Case("limit-scene-lr-beyond-float32", "gave a free parameter a learning rate of 1e39",
         fit_scene(edit(SCENE, "{lr: 0.1}", "{lr: 1.0e+39}")),
         ["scene.yaml:27", "optimize.lights.key.position.lr", "beyond float32's range"]),
    Case("limit-film-spp-beyond-int32", "asked the film for 3 billion samples per pixel",
         fit_scene(edit(SCENE, "spp: 1", "spp: 3000000000")),
         ["scene.yaml:8", "film.spp", "expected a positive integer up to 2147483647, got 3000000000"]),
    Case("limit-pixels-beyond-int32", "gave 9 cameras a 16384x16384 film: more pixels than an int32 indexes",
         fit_scene(edit(edit(VIEWS, CAMERAS, "cameras:\n" + many("cameras", 9)), "width: 16\n  height: 12",
                        "width: 16384\n  height: 16384")),
         ["scene.yaml", "cameras", "more than the 2147483647 the device can index (int32)"]),
    Case("limit-mesh-too-far", "gave a mesh whose OBJ has a vertex at 1e30",
         fit_scene(with_mesh(), {"cube.obj": "v 0 0 0\nv 1e30 0 0\nv 0 1 0\nf 1 2 3\n"}),
         ["scene.yaml:23", "objects[2].file", "reaches coordinates of magnitude", "beyond the 1e+18"]),
    Case("limit-option-spp-beyond-int32", "asked the fit for 3 billion samples per pixel",
         fit_options("--spp", "3000000000"), ["--spp must be at most 2147483647", "got 3000000000"]),
    Case("limit-option-iterations-beyond-int32", "asked for 3 billion iterations", fit_options("--iterations", "3000000000"),
         ["--iterations must be at most 2147483647"]),
    Case("limit-option-seed-beyond-32-bits", "gave a seed of 2^40", fit_options("--seed", str(2**40)),
         ["--seed must be in [0, 4294967295] (sample seeds are 32 bits)"]),
    Case("limit-option-lr-beyond-float32", "set the learning rate to 1e39", fit_options("--lr", "1e39"),
         ["--lr must be a number the device can hold", "beyond float32's range"]),
    Case("limit-option-frame-every-beyond-int32", "asked for a frame every 2^40 iterations",
         fit_options("--frame-every", str(2**40)), ["--frame-every", "must be at most 2147483647"]),
    Case("limit-render-seed-beyond-32-bits", "asked render for a seed of 2^40", _render_options("--seed", str(2**40)),
         ["--seed", "must be at most 4294967295 (sample seeds are 32 bits)"]),
    Case("limit-gradcheck-eps-flushes-to-zero", "asked gradcheck for a step of 1e-50, which is 0 in float32",
         lambda folder: ["gradcheck", fit_scene(SCENE)(folder)[1], "--arch", "cpu", "--eps", "1e-50"],
         ["--eps", "would be 0 on the device"]),
    Case("limit-fit-history-memory", "asked for 2 billion iterations, whose history cannot be held",
         fit_options("--iterations", "2000000000", "--frame-every", "0"),
         ["scene.yaml", "this fit needs about", "the history (2000000000 iterations x 5 columns)", "fewer --iterations"]),
    Case("limit-fit-animation-memory", "asked for a frame of every one of 100 million iterations",
         fit_options("--iterations", "100000000", "--frame-every", "1"),
         ["scene.yaml", "this fit needs about", "the animation (100000002 frames", "--frame-every 0"]),
    Case("limit-render-memory", "rendered a 16384x16384 film with 2 GB of memory (RAYDIFF_MEMORY=2G)",
         render_scene(edit(NO_OPTIMIZE, "width: 16\n  height: 12", "width: 16384\n  height: 16384")),
         ["scene.yaml", "this render needs about", "but 2.0 GB is available (RAYDIFF_MEMORY)",
          "the image and its gradient (1 view of 16384x16384): 6.0 GB", "a smaller film"], env={"RAYDIFF_MEMORY": "2G"}),
    Case("limit-gradcheck-memory", "ran gradcheck on a 16384x16384 film with 2 GB of memory (RAYDIFF_MEMORY=2G)",
         lambda folder: ["gradcheck", fit_scene(edit(SCENE, "width: 16\n  height: 12", "width: 16384\n  height: 16384"))(folder)[1],
                         "--arch", "cpu"],
         ["scene.yaml", "this gradcheck needs about", "but 2.0 GB is available", "a smaller film"],
         env={"RAYDIFF_MEMORY": "2G"}),
    # --- gradcheck: the scene and reference files of fit_scene, then ``raydiff gradcheck SCENE [REF]`` ---
    Case("gradcheck-param-unknown", "asked gradcheck for a parameter of a light the scene does not have",
         lambda folder: ["gradcheck", fit_scene(SCENE)(folder)[1], "--arch", "cpu", "--param", "lights.kye.position"],
         ["scene.yaml", "--param lights.kye.position", "no light named 'kye'", "did you mean 'key'"]),
    Case("gradcheck-param-not-free", "asked gradcheck for a camera's up, which cannot be freed",
         lambda folder: ["gradcheck", fit_scene(SCENE)(folder)[1], "--arch", "cpu", "--param", "camera.up"],
         ["scene.yaml", "--param camera.up", "'up' of a camera cannot be optimised"]),
    Case("gradcheck-nothing-free", "ran gradcheck on a scene that frees nothing, without --param",
         lambda folder: ["gradcheck", fit_scene(NO_OPTIMIZE)(folder)[1], "--arch", "cpu"],
         ["scene.yaml", "optimize", "nothing to check", "--param"]),
    Case("gradcheck-two-references", "gave gradcheck two references for a scene with one camera",
         lambda folder: ["gradcheck", *fit_scene(SCENE)(folder)[1:3], str(folder / "ref.png"), "--arch", "cpu"],
         ["scene.yaml", "camera", "the scene has 1 camera but 2 references were given"]),
    Case("gradcheck-reference-size", "gave gradcheck a reference of another size than the film",
         lambda folder: ["gradcheck", *fit_reference("small.png", lambda path: write_reference(path, 10, 10))(folder)[1:3],
                         "--arch", "cpu"],
         ["small.png", "image is 10x10 but the scene's film is 16x12"]),
    Case("gradcheck-eps-negative", "asked gradcheck for a negative finite-difference step",
         lambda folder: ["gradcheck", fit_scene(SCENE)(folder)[1], "--arch", "cpu", "--eps", "-0.1"],
         ["--eps must be a finite positive number, got -0.1"]),
    # --- recover: ``raydiff recover scene.yaml --trials 1 --iterations 1 --out out`` and a bad option -----
    Case("recover-scene-missing", "asked recover for a scene file that does not exist",
         lambda folder: ["recover", str(folder / "nothere.yaml"), "--arch", "cpu", "--out", str(folder / "out")],
         ["nothere.yaml", "cannot read scene file: no such file"]),
    Case("recover-nothing-free", "ran recover on a scene that frees nothing", _recover(text=NO_OPTIMIZE),
         ["scene.yaml", "optimize", "nothing to fit"]),
    Case("recover-trials-zero", "asked recover for 0 trials", _recover("--trials", "0"),
         ["Invalid value for '--trials'"], exit_code=2),
    Case("recover-trials-too-many", "asked recover for a million trials", _recover("--trials", "1000000"),
         ["--trials must be at most 100000", "got 1000000"]),
    Case("recover-perturb-zero", "asked recover for starts perturbed by 0", _recover("--perturb", "0"),
         ["--perturb must be a relative size in (0, 1]", "got 0"]),
    Case("recover-perturb-too-big", "asked recover for starts perturbed by 300%", _recover("--perturb", "3"),
         ["--perturb must be a relative size in (0, 1]", "got 3"]),
    Case("recover-perturb-nan", "asked recover for starts perturbed by nan", _recover("--perturb", "nan"),
         ["--perturb must be a relative size in (0, 1]", "got nan"]),
    Case("recover-seed-negative", "gave recover a negative seed", _recover("--seed", "-1"),
         ["Invalid value for '--seed'"], exit_code=2),
    Case("recover-seed-too-big", "gave recover a seed of 2^32", _recover("--seed", str(2**32)),
         ["--seed must be in [0, 4294967295]", "got 4294967296"]),
    Case("recover-workers-zero", "asked recover for 0 worker processes", _recover("--workers", "0"),
         ["Invalid value for '--workers'"], exit_code=2),
    Case("recover-ray-empty", "gave recover an empty Ray address", _recover("--ray", ""),
         ["--ray expects 'local', 'auto' or a cluster's address", "got an empty one"]),
    Case("recover-iterations-negative", "asked recover for -1 iterations per trial", _recover("--iterations", "-1"),
         ["--iterations must be >= 0"]),
    Case("recover-spp-zero", "asked recover for fits at 0 samples per pixel", _recover("--spp", "0"),
         ["--spp must be at least 1"]),
    Case("recover-arch-unknown", "asked recover for a backend that does not exist", _recover("--arch", "gpu"),
         ["Invalid value for '--arch'", "'gpu' is not one of"], exit_code=2),
    Case("recover-out-not-empty", "gave recover an --out folder that holds a file", _recover_out_not_empty,
         ["out", "folder is not empty (1 entry)", "expected a new or empty folder"]),
]


def case(case_id: str) -> Case:
    """The case named ``case_id``."""
    return next(c for c in CASES if c.id == case_id)


# --------------------------------------------------------------------------------------------------------
# Running a case
# --------------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What running a case's command gave."""

    argv: list[str]
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None
    traceback: str

    @property
    def error_lines(self) -> list[str]:
        """The non-empty lines on stderr."""
        return [line for line in self.stderr.splitlines() if line.strip()]

    @property
    def usage_message(self) -> str:
        """Typer's framed usage error (exit code 2) as one line: the text inside the frame."""
        inside = [line.strip().strip("│").strip() for line in self.stderr.splitlines() if line.strip().startswith("│")]
        return " ".join(inside) if inside else " ".join(self.stderr.split())


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every file and folder under ``folder`` (hidden ones too): relative path -> (kind, size, mtime)."""
    tree = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            kind = "dir" if os.path.isdir(path) and not os.path.islink(path) else "file"
            tree[os.path.relpath(path, folder)] = (kind, info.st_size if kind == "file" else 0, info.st_mtime_ns)
    return tree


def run(argv: Sequence[str], cwd: str | os.PathLike, env: dict[str, str] | None = None) -> Outcome:
    """Run ``raydiff <argv>`` in this process with Typer's test runner, in the folder ``cwd`` (so that
    anything written to the current folder lands where the snapshot sees it), with ``env`` set."""
    import traceback

    from raydiff_cli.main import app
    from cli_runner import make_runner

    runner = make_runner()
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        result = runner.invoke(app, list(argv), env=env)
    finally:
        os.chdir(previous)
    exception = result.exception
    trace = ""
    if exception is not None and not isinstance(exception, SystemExit) and result.exc_info:
        trace = "".join(traceback.format_exception(*result.exc_info))
    return Outcome(list(argv), result.exit_code, result.stdout, result.stderr, exception, trace)


def clean_up(folder: Path) -> None:
    """Give back every permission a setup took away, so that ``folder`` can be removed."""
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)
    shutil.rmtree(folder, ignore_errors=True)
