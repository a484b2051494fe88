"""``_()``: user-visible strings through Slicer's translation (context "MedSegMixup"), unchanged outside."""

from __future__ import annotations

from .qt_shim import IN_SLICER

CONTEXT = "MedSegMixup"

if IN_SLICER:
    from slicer.i18n import translate

    def _(text: str) -> str:
        """The translation of ``text`` in the module's context."""
        return translate(CONTEXT, text)
else:

    def _(text: str) -> str:
        """Outside Slicer there is no translation catalogue: the source text."""
        return text
