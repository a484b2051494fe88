"""Offscreen 3D surface renders of label maps with VTK (reference translucent, prediction solid)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from MedSegTrain.fileutil import atomic_output_file

LABEL_COLOURS = [(0.95, 0.35, 0.25), (0.25, 0.6, 0.95), (0.95, 0.8, 0.2), (0.55, 0.85, 0.35),
                 (0.8, 0.45, 0.9)]


def _surface_actor(mask: np.ndarray, spacing_zyx: tuple[float, float, float], colour: tuple[float, ...],
                   opacity: float):
    import vtk
    from vtk.util import numpy_support

    image = vtk.vtkImageData()
    nz, ny, nx = mask.shape
    image.SetDimensions(nx, ny, nz)
    image.SetSpacing(spacing_zyx[2], spacing_zyx[1], spacing_zyx[0])
    scalars = numpy_support.numpy_to_vtk(np.ascontiguousarray(mask, dtype=np.uint8).ravel(), deep=True)
    image.GetPointData().SetScalars(scalars)
    surface = vtk.vtkFlyingEdges3D()
    surface.SetInputData(image)
    surface.SetValue(0, 0.5)
    smooth = vtk.vtkWindowedSincPolyDataFilter()
    smooth.SetInputConnection(surface.GetOutputPort())
    smooth.SetNumberOfIterations(15)
    smooth.SetPassBand(0.1)
    smooth.NormalizeCoordinatesOn()
    normals = vtk.vtkPolyDataNormals()
    normals.SetInputConnection(smooth.GetOutputPort())
    mapper = vtk.vtkPolyDataMapper()
    mapper.SetInputConnection(normals.GetOutputPort())
    mapper.ScalarVisibilityOff()
    actor = vtk.vtkActor()
    actor.SetMapper(mapper)
    actor.GetProperty().SetColor(*colour)
    actor.GetProperty().SetOpacity(opacity)
    return actor


def render_label_surfaces(prediction: np.ndarray, spacing_zyx: tuple[float, float, float], path: Path,
                          reference: np.ndarray | None = None, size: tuple[int, int] = (480, 400)) -> Path:
    """Render each label of ``prediction`` as a coloured surface (``reference`` as grey glass) to PNG."""
    import vtk

    # The render-window factory tries X11 first and logs a warning before falling back to EGL.
    vtk.vtkLogger.SetStderrVerbosity(vtk.vtkLogger.VERBOSITY_ERROR)
    renderer = vtk.vtkRenderer()
    renderer.SetBackground(0.08, 0.09, 0.12)
    if reference is not None and (reference > 0).any():
        renderer.AddActor(_surface_actor(reference > 0, spacing_zyx, (0.85, 0.85, 0.85), 0.25))
    for index, value in enumerate(v for v in np.unique(prediction) if v > 0):
        colour = LABEL_COLOURS[index % len(LABEL_COLOURS)]
        renderer.AddActor(_surface_actor(prediction == value, spacing_zyx, colour, 1.0))
    window = vtk.vtkRenderWindow()
    window.SetOffScreenRendering(1)
    window.SetSize(*size)
    window.AddRenderer(renderer)
    camera = renderer.GetActiveCamera()
    camera.Elevation(-60)
    camera.Azimuth(30)
    renderer.ResetCamera()
    camera.Zoom(1.3)
    window.Render()
    grab = vtk.vtkWindowToImageFilter()
    grab.SetInput(window)
    grab.Update()
    with atomic_output_file(Path(path)) as tmp:
        writer = vtk.vtkPNGWriter()
        writer.SetFileName(str(tmp))
        writer.SetInputConnection(grab.GetOutputPort())
        writer.Write()
    window.Finalize()
    return Path(path)
