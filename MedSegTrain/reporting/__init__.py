"""Pictures and tables for people: slice overlays, 3D surface renders, Markdown tables."""
