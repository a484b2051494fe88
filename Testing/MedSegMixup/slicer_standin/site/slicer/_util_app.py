"""Application/GUI part of the slicer.util stand-in (Base/Python/slicer/util.py, commit 583e9b37), re-exported
by ``slicer.util``; parameters exactly as listed in /work/shared/slicer_util_api.txt.

Modal popups do not block: where Slicer would wait for the user (messageBox, delayDisplay with
``autoCloseMsec < 0``), the answer comes from ``qt.dialogs`` (answers queued by tests) and every popup is
recorded there; a popup with no queued answer raises ``qt.UnexpectedDialogError``. As in Slicer, in
testing mode (``slicer.app.testingEnabled()``) the *Display functions return their testing values without
a popup.
"""

import contextlib
import fnmatch
import logging
from warnings import warn

import qt

__all__ = [
    "EXIT_FAILURE",
    "EXIT_SUCCESS",
    "MessageDialog",
    "VTKObservationMixin",
    "WaitCursor",
    "confirmOkCancelDisplay",
    "confirmRetryCloseDisplay",
    "confirmYesNoDisplay",
    "createProgressDialog",
    "delayDisplay",
    "errorDisplay",
    "exit",
    "findChild",
    "findChildren",
    "getModule",
    "getModuleGui",
    "getModuleLogic",
    "getModuleWidget",
    "getNewModuleGui",
    "getNewModuleWidget",
    "infoDisplay",
    "lookupTopLevelWidget",
    "mainWindow",
    "messageBox",
    "moduleNames",
    "modulePath",
    "moduleSelector",
    "quit",
    "reloadScriptedModule",
    "restart",
    "selectModule",
    "selectedModule",
    "settingsValue",
    "showStatusMessage",
    "tempDirectory",
    "toBool",
    "toLatin1String",
    "toVTKString",
    "tryWithErrorDisplay",
    "warningDisplay",
]

EXIT_SUCCESS = 0
EXIT_FAILURE = 1


# --------------------------------------------------------------------------------------------------
# Application


def quit():
    exit(EXIT_SUCCESS)


def exit(status=EXIT_SUCCESS):
    """util.py exit: ``slicer.app.exit(status)`` (the stand-in's event loop is not running)."""
    import slicer

    slicer.app.exit(status)


def restart():
    import slicer

    slicer.app.restart()


# --------------------------------------------------------------------------------------------------
# UI


def lookupTopLevelWidget(objectName):
    """The top-level widget named ``objectName``; RuntimeError if there is none."""
    from slicer import app

    for widget in app.topLevelWidgets():
        if hasattr(widget, "objectName") and widget.objectName == objectName:
            return widget
    raise RuntimeError(f"Failed to obtain reference to '{objectName}'")


def mainWindow():
    """The qSlicerMainWindow, or None."""
    try:
        return lookupTopLevelWidget("qSlicerMainWindow")
    except RuntimeError:
        return None


def showStatusMessage(message, duration=0):
    mw = mainWindow()
    if not mw or not mw.statusBar():
        return False
    mw.statusBar().showMessage(message, duration)
    return True


def findChildren(widget=None, name="", text="", title="", className=""):
    """Descendants of ``widget`` (default: main window, itself included) matching all given fnmatch
    patterns on the name/text/title properties and className(); only string values match."""
    if not widget:
        widget = mainWindow()
    if not widget:
        return []
    criteria = {
        key: value
        for key, value in {"name": name, "text": text, "title": title, "className": className}.items()
        if value
    }
    found = []
    parents = [widget]
    while parents:
        candidate = parents.pop()
        if not candidate or not hasattr(candidate, "children"):
            continue
        parents += candidate.children()
        matched = 0
        for attribute, pattern in criteria.items():
            if hasattr(candidate, attribute):
                value = getattr(candidate, attribute)
                if attribute == "className":
                    value = value()
                if isinstance(value, str) and fnmatch.fnmatchcase(value, pattern):
                    matched += 1
        if matched == len(criteria):
            found.append(candidate)
    return found


def findChild(widget, name, properties=None):
    """The first of findChildren(widget, name) whose Qt properties match ``properties``, or RuntimeError."""
    candidates = findChildren(widget, name=name) if name else findChildren(widget)
    if properties is not None:
        candidates = [c for c in candidates if all(c.property(k) == v for k, v in properties.items())]
    if not candidates:
        parts = ([f"name={name!r}"] if name else []) + ([f"properties={properties}"] if properties else [])
        if parts:
            raise RuntimeError(f"Widget with {', '.join(parts)} does not exist.")
        raise RuntimeError("No child widget was found.")
    return candidates[0]


# --------------------------------------------------------------------------------------------------
# Modules


def moduleSelector():
    mw = mainWindow()
    if not mw:
        raise RuntimeError("Could not find main window")
    return mw.moduleSelector()


def selectModule(module):
    """Show ``module`` (name or module object) in the module panel."""
    moduleName = module if isinstance(module, str) else module.name
    if not moduleSelector():
        raise RuntimeError("Could not find moduleSelector in the main window")
    moduleSelector().selectModule(moduleName)


def selectedModule():
    selector = moduleSelector()
    if not selector:
        raise RuntimeError("Could not find moduleSelector in the main window")
    return selector.selectedModule


def moduleNames():
    from slicer import app

    return app.moduleManager().factoryManager().loadedModuleNames()


def getModule(moduleName):
    from slicer import app

    module = app.moduleManager().module(moduleName)
    if not module:
        raise RuntimeError(f"Could not find module with name '{moduleName}'")
    return module


def getModuleGui(module):
    return getModuleWidget(module)


def getNewModuleGui(module):
    return getNewModuleWidget(module)


def _pythonWidget(widgetRepr, module):
    import slicer

    if not widgetRepr:
        raise RuntimeError(f"Could not find module widget representation with name '{module.name}'")
    if isinstance(widgetRepr, slicer.qSlicerScriptedLoadableModuleWidget):
        return widgetRepr.self()  # scripted module: the Python class instance
    return widgetRepr


def getModuleWidget(module):
    """The module's widget (created and set up on first use); for scripted modules the Python object."""
    if isinstance(module, str):
        module = getModule(module)
    return _pythonWidget(module.widgetRepresentation(), module)


def getNewModuleWidget(module):
    if isinstance(module, str):
        module = getModule(module)
    return _pythonWidget(module.createNewWidgetRepresentation(), module)


def getModuleLogic(module):
    """Scripted modules: the ``logic`` attribute of the module widget (which creates the widget);
    C++ modules: ``module.logic()``. RuntimeError if there is none."""
    import slicer

    if isinstance(module, str):
        module = getModule(module)
    if isinstance(module, slicer.qSlicerScriptedLoadableModule):
        try:
            logic = getModuleGui(module).logic
        except AttributeError:
            logic = None
    else:
        logic = module.logic()
    if not logic:
        raise RuntimeError(f"Could not find module widget representation with name '{module.name}'")
    return logic


def modulePath(moduleName):
    """``slicer.modules.<lowercase name>.path``: AttributeError for an unknown module."""
    import slicer

    return getattr(slicer.modules, moduleName.lower()).path


def reloadScriptedModule(moduleName):
    """Not emulated: reloading replaces the module's Python objects while the test holds the old ones."""
    raise NotImplementedError(
        f"slicer.util.reloadScriptedModule({moduleName!r}) is not emulated by the stand-in"
    )


# --------------------------------------------------------------------------------------------------
# VTK observations


class VTKObservationMixin:
    """Keeps the VTK observations of an object: {obj: {event: {method: (group, tag, priority)}}}.
    Adding the same (obj, event, method) twice or removing a missing one only warns."""

    def __init__(self):
        super().__init__()
        self.__observations = {}

    @property
    def Observations(self):
        return [
            (obj, event, method, group, tag, priority)
            for obj, events in self.__observations.items()
            for event, methods in events.items()
            for method, (group, tag, priority) in methods.items()
        ]

    def removeObservers(self, method=None):
        if method is None:
            for obj, _event, _method, _group, tag, _priority in self.Observations:
                obj.RemoveObserver(tag)
            self.__observations.clear()
            return
        for obj, events in self.__observations.items():
            for methods in events.values():
                if method in methods:
                    obj.RemoveObserver(methods.pop(method)[1])

    def addObserver(self, obj, event, method, group="none", priority=0.0):
        methods = self.__observations.setdefault(obj, {}).setdefault(event, {})
        if method in methods:
            warn("already has observer", stacklevel=2)
            return
        methods[method] = group, obj.AddObserver(event, method, priority), priority

    def removeObserver(self, obj, event, method):
        try:
            _group, tag, _priority = self.__observations[obj][event].pop(method)
        except KeyError:
            warn("does not have observer", stacklevel=2)
            return
        obj.RemoveObserver(tag)

    def getObserver(self, obj, event, method, default=None):
        try:
            return self.__observations[obj][event][method]
        except KeyError:
            return default

    def hasObserver(self, obj, event, method):
        return self.getObserver(obj, event, method) is not None

    def observer(self, event, method, default=None):
        for obj in self.__observations:
            if self.hasObserver(obj, event, method):
                return obj
        return default


def toVTKString(text):
    logging.warning("toVTKString is deprecated! Conversion is no longer necessary.")
    return text


def toLatin1String(text):
    return "".join(c.encode("latin1", "ignore").decode() for c in text)


# --------------------------------------------------------------------------------------------------
# Files


def tempDirectory(key="__SlicerTemp__", tempDir=None, includeDateTime=True):
    """Create and return ``<tempDir or slicer.app.temporaryPath>/<key><yyyy-MM-dd_hh+mm+ss.zzz>``."""
    import slicer

    if not tempDir:
        tempDir = qt.QDir(slicer.app.temporaryPath)
    name = key
    if includeDateTime:
        enUs = qt.QLocale(qt.QLocale.English, qt.QLocale.UnitedStates)
        name = key + enUs.toString(qt.QDateTime.currentDateTime(), "yyyy-MM-dd_hh+mm+ss.zzz")
    dirPath = qt.QFileInfo(qt.QDir(tempDir), name).absoluteFilePath()
    qt.QDir().mkpath(dirPath)
    return dirPath


# --------------------------------------------------------------------------------------------------
# Popups


def delayDisplay(message, autoCloseMsec=1000, parent=None, **kwargs):
    """Log ``message``; below 400 ms only process events; otherwise Slicer shows a popup for
    ``autoCloseMsec`` (recorded, not waited for); ``autoCloseMsec < 0`` waits for the user's OK."""
    import slicer

    logging.info(message)
    if 0 <= autoCloseMsec < 400:
        slicer.app.processEvents()
        return
    record = qt.DialogRecord("delayDisplay", "", message, {"autoCloseMsec": autoCloseMsec, **kwargs})
    if autoCloseMsec >= 0:
        qt.dialogs.shown.append(record)
    else:
        qt.dialogs.show(record)
    slicer.app.processEvents()


def _messageDisplay(
    logLevel, text, testingReturnValue, mainWindowNeeded=False, parent=None, windowTitle=None, **kwargs
):
    import slicer

    logging.log(logLevel, text)
    if not windowTitle:
        windowTitle = slicer.app.applicationName + " " + logging.getLevelName(logLevel).lower()
    if slicer.app.testingEnabled():
        logging.info(
            f"Testing mode is enabled: Returning {testingReturnValue} and skipping message box "
            f"[{windowTitle}]."
        )
        return testingReturnValue
    if mainWindowNeeded and mainWindow() is None:
        return None
    return messageBox(text, parent=parent, windowTitle=windowTitle, **kwargs)


def infoDisplay(text, windowTitle=None, parent=None, standardButtons=None, **kwargs):
    _messageDisplay(
        logging.INFO,
        text,
        None,
        parent=parent,
        windowTitle=windowTitle,
        mainWindowNeeded=True,
        icon=qt.QMessageBox.Information,
        standardButtons=standardButtons or qt.QMessageBox.Ok,
        **kwargs,
    )


def warningDisplay(text, windowTitle=None, parent=None, standardButtons=None, **kwargs):
    _messageDisplay(
        logging.WARNING,
        text,
        None,
        parent=parent,
        windowTitle=windowTitle,
        mainWindowNeeded=True,
        icon=qt.QMessageBox.Warning,
        standardButtons=standardButtons or qt.QMessageBox.Ok,
        **kwargs,
    )


def errorDisplay(text, windowTitle=None, parent=None, standardButtons=None, **kwargs):
    _messageDisplay(
        logging.ERROR,
        text,
        None,
        parent=parent,
        windowTitle=windowTitle,
        mainWindowNeeded=True,
        icon=qt.QMessageBox.Critical,
        standardButtons=standardButtons or qt.QMessageBox.Ok,
        **kwargs,
    )


def confirmOkCancelDisplay(text, windowTitle=None, parent=None, **kwargs):
    """True if the user pressed OK (testing mode: True without asking)."""
    import slicer

    result = _messageDisplay(
        logging.INFO,
        text,
        True,
        parent=parent,
        windowTitle=windowTitle or slicer.app.applicationName + " confirmation",
        icon=qt.QMessageBox.Question,
        standardButtons=qt.QMessageBox.Ok | qt.QMessageBox.Cancel,
        **kwargs,
    )
    return result == qt.QMessageBox.Ok


def confirmYesNoDisplay(text, windowTitle=None, parent=None, **kwargs):
    """True if the user pressed Yes (testing mode: True without asking)."""
    import slicer

    result = _messageDisplay(
        logging.INFO,
        text,
        True,
        parent=parent,
        windowTitle=windowTitle or slicer.app.applicationName + " confirmation",
        icon=qt.QMessageBox.Question,
        standardButtons=qt.QMessageBox.Yes | qt.QMessageBox.No,
        **kwargs,
    )
    return result == qt.QMessageBox.Yes


def confirmRetryCloseDisplay(text, windowTitle=None, parent=None, **kwargs):
    """True if the user pressed Retry (testing mode: False, "Close")."""
    result = _messageDisplay(
        logging.ERROR,
        text,
        False,
        parent=parent,
        windowTitle=windowTitle,
        icon=qt.QMessageBox.Critical,
        standardButtons=qt.QMessageBox.Retry | qt.QMessageBox.Close,
        **kwargs,
    )
    return result == qt.QMessageBox.Retry


def messageBox(text, parent=None, **kwargs):
    """A modal ctkMessageBox: returns the button the user pressed (a scripted answer from ``qt.dialogs``);
    testing mode: an auto-closing delayDisplay and QMessageBox.Ok."""
    import slicer

    if slicer.app.testingEnabled():
        delayDisplay(text, autoCloseMsec=3000, parent=parent, **kwargs)
        return qt.QMessageBox.Ok
    title = kwargs.get("windowTitle", slicer.app.applicationName)
    details = {key: value for key, value in kwargs.items() if key != "windowTitle"}
    return qt.dialogs.show(qt.DialogRecord("messageBox", title, text, details))


def createProgressDialog(
    parent=None, value=0, maximum=100, labelText="", windowTitle="Processing...", **kwargs
):
    """A QProgressDialog (minimumDuration 0) with the given properties; kwargs set matching properties."""
    progress = qt.QProgressDialog(parent if parent else mainWindow())
    progress.minimumDuration = 0
    progress.maximum = maximum
    progress.value = value
    progress.windowTitle = windowTitle
    progress.labelText = labelText
    for key, argument in kwargs.items():
        if hasattr(progress, key):
            setattr(progress, key, argument)
    return progress


class WaitCursor:
    """Wait cursor while the block runs."""

    def __init__(self, show=True):
        self.show = show

    def __enter__(self):
        import slicer

        if self.show:
            qt.QApplication.setOverrideCursor(qt.Qt.WaitCursor)
            slicer.app.processEvents()

    def __exit__(self, type, value, traceback):
        if self.show:
            qt.QApplication.restoreOverrideCursor()


class MessageDialog:
    """Log ``message`` and show a button-less message box while the block runs (not in testing mode)."""

    def __init__(self, message, show=True, logLevel=None):
        import slicer

        logLevel = logging.INFO if logLevel is None else logLevel
        if not isinstance(logLevel, int):
            raise ValueError(f"Invalid log level: {logLevel}")
        self.message, self.logLevel = message, logLevel
        self.show = show and not slicer.app.testingEnabled()
        self.box = None

    def __enter__(self):
        logging.log(self.logLevel, self.message)
        if self.show:
            qt.dialogs.shown.append(qt.DialogRecord("MessageDialog", "", self.message))

    def __exit__(self, type, value, traceback):
        return None


@contextlib.contextmanager
def tryWithErrorDisplay(message=None, show=True, waitCursor=False):
    """Re-raise any exception of the block after an errorDisplay of "<message>\\n\\n<error>" (not in
    testing mode); the wait cursor, if asked, is restored either way."""
    import slicer

    try:
        if waitCursor:
            slicer.app.setOverrideCursor(qt.Qt.WaitCursor)
        yield
        if waitCursor:
            slicer.app.restoreOverrideCursor()
    except Exception as e:
        if waitCursor:
            slicer.app.restoreOverrideCursor()
        if show and not slicer.app.testingEnabled():
            import traceback

            errorDisplay(
                f"{message}\n\n{e}" if message is not None else str(e), detailedText=traceback.format_exc()
            )
        raise


def toBool(value):
    """int-convertible: bool(int(value)); str: equals "true" ignoring case; else bool(value)."""
    try:
        return bool(int(value))
    except (ValueError, TypeError):
        return value.lower() in ["true"] if isinstance(value, str) else bool(value)


def settingsValue(key, default, converter=lambda v: v, settings=None):
    """``converter(settings.value(key))`` if the key exists, else ``default`` (not converted)."""
    settings = qt.QSettings() if settings is None else settings
    return converter(settings.value(key)) if settings.contains(key) else default
