"""Stand-in for Base/Python/slicer/i18n.py: ``translate(context, text)`` and ``tr(text)``.

The stand-in loads no translations, so both return the source text; ``tr`` still derives the context
from the caller's file (``getContext``) and rejects translations whose ``{placeholders}`` differ, as
Slicer does.
"""

import inspect
import logging
import os
import re

FILEPATH_TO_CONTEXT = {}


def translate(context, text):
    """``slicer.app.translate(context, text)``; the source text when there is no application."""
    try:
        from slicer import app
    except ImportError:
        return text
    return app.translate(context, text)


def getContext(sourceFile):
    """``<package>.<file>`` if the folder has an ``__init__.py``, else the file name without ``.py``."""
    if sourceFile in FILEPATH_TO_CONTEXT:
        return FILEPATH_TO_CONTEXT[sourceFile]
    if os.path.isfile(sourceFile):
        folder = os.path.dirname(sourceFile)
        name = os.path.basename(sourceFile).replace(".py", "")
        if os.path.isfile(os.path.join(folder, "__init__.py")):
            name = os.path.basename(folder) + "." + name
    else:
        name = os.path.basename(sourceFile)
    FILEPATH_TO_CONTEXT[sourceFile] = name
    return name


def _placeholders(text):
    return set(re.findall(r"(?<!\{)\{([^\{\}]+)\}(?!\})", text))


def tr(text):
    """Translate ``text`` in the context of the calling file (typically imported as ``_``)."""
    frame = inspect.currentframe().f_back
    contextName = getContext(inspect.getsourcefile(frame) or inspect.getfile(frame))
    translated = translate(contextName, text)
    if _placeholders(text) != _placeholders(translated):
        logging.warning(
            f"In context '{contextName}', translation of '{text}' to '{translated}' is incorrect: "
            "placeholders do not match"
        )
        return text
    return translated
