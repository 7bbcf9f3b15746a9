"""Files in and out: images (PNG, JPEG, EXR), atomic writes, history and JSON writers, checkpoints."""
