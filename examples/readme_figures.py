"""Make the pictures the README shows: a frame and the parameter plot of the example fit.

    python examples/readme_figures.py

Runs `raydiff fit scenes/three_spheres.yaml assets/three_spheres_ref.png --truth scenes/truth/three_spheres.yaml`
on the CPU into a temporary folder and copies its frame of iteration 20 and its parameters.png to docs/images/.
"""

import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run")
        subprocess.run(
            [sys.executable, "-c", "from raydiff_cli.main import app; app()", "fit",
             "scenes/three_spheres.yaml", "assets/three_spheres_ref.png", "--truth", "scenes/truth/three_spheres.yaml",
             "--arch", "cpu", "--out", out, "--quiet"],
            cwd=ROOT, check=True,
        )
        images = os.path.join(ROOT, "docs", "images")
        os.makedirs(images, exist_ok=True)
        shutil.copy(os.path.join(out, "frames", "00020.png"), os.path.join(images, "three_spheres_frame.png"))
        shutil.copy(os.path.join(out, "parameters.png"), os.path.join(images, "three_spheres_parameters.png"))
        shutil.copy(os.path.join(out, "loss.png"), os.path.join(images, "three_spheres_loss.png"))
    print("wrote docs/images/three_spheres_{frame,parameters,loss}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
