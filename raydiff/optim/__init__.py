"""From image to parameters: the image loss, Adam, and the fit loop that orders every step."""
