"""The Taichi kernels of rendering: sampling, the camera, intersection, the surface, lights, materials and the
integrator that orders them (visibility, then differentiated shading)."""
