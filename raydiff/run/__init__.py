"""A fit's output folder and what a person looks at: frames, plots, the animation, the report. No Taichi."""
