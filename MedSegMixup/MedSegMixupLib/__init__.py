"""Slicer-independent parts of the MedSegMixup module: panels, process runner, dependency handling.

Everything here runs in real Qt outside Slicer (Qt.py over PySide6) and inside Slicer (PythonQt);
Qt names come only from :mod:`MedSegMixupLib.qt_shim`. Nothing heavy (torch, MedSegTrain) is
imported at load time.
"""
