"""Where a large mesh's load goes: each step's CPU time, its peak resident memory, and a profile.

    python benchmarks/load_profile.py [--triangles 1000000] [--top 25] [--no-profile]

Writes the cube sphere OBJ of benchmarks/large_mesh.py (about N triangles, over a floor) and, in this
process, reads it (``read_obj``), loads the scene (``load_scene``, which reads it again and places it for
the scene's size), and builds the device scene (``DeviceScene``: placing, the BVH, the upload), printing
for each step its wall time, its CPU time (this process's, all threads: the machine's load barely moves
it) and the peak resident memory (VmHWM) while it ran, reset before each step through
``/proc/self/clear_refs`` (so that the first number is the step's own peak, not the process's so far).
The BVH build is timed inside ``DeviceScene`` too. Then, unless ``--no-profile``, a cProfile of
``load_scene`` + ``DeviceScene`` (CPU time), its ``--top`` functions by their own time.

Run it with another checkout first on ``PYTHONPATH`` to profile that one's code.
"""

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def _status(key: str) -> float:
    """A /proc/self/status memory line, in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")  # pragma: no cover (not Linux)


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


class Step:
    """A timed step: ``with Step("name"):`` prints its wall and CPU seconds and its peak memory."""

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        _reset_peak()
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        print(f"  {self.name:26s} {wall:6.2f} s wall {cpu:6.2f} s CPU   peak {_status('VmHWM'):5.0f} MB, "
              f"after {_status('VmRSS'):5.0f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triangles", type=int, default=1_000_000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()

    import large_mesh

    import raydiff
    from raydiff.device import meshes
    from raydiff.device.scene import DeviceScene
    from raydiff.scene.obj import read_obj
    from raydiff.scene.parameters import resolve_all

    raydiff.init("cpu")
    with tempfile.TemporaryDirectory() as folder:
        obj = os.path.join(folder, "sphere.obj")
        count = large_mesh.write_cube_sphere(obj, large_mesh.grid_for(args.triangles))
        scene_path = os.path.join(folder, "scene.yaml")
        with open(scene_path, "w") as f:
            f.write(large_mesh.SCENE.format(width=256, height=256, spp=4, obj=obj))
        print(f"a {count}-triangle OBJ, cpu; after import and ti.init {_status('VmRSS'):.0f} MB resident")

        build = meshes.build_bvh

        def timed_build(*a, **k):
            print(f"    (placed, before the BVH: {_status('VmRSS'):.0f} MB resident)")
            with Step("  build_bvh (in DeviceScene)"):
                return build(*a, **k)

        meshes.build_bvh = timed_build
        with Step("read_obj"):
            read_obj(obj)
        with Step("load_scene"):
            scene = raydiff.load_scene(scene_path)
        with Step("DeviceScene"):
            DeviceScene(scene, resolve_all(scene))
        meshes.build_bvh = build
        if args.no_profile:
            return
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        scene = raydiff.load_scene(scene_path)
        DeviceScene(scene, resolve_all(scene))
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
