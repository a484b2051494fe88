"""Stand-in for Slicer's ``qt`` module: PythonQt's view of Qt, built on PySide6.

What differs from plain PySide6, each following PythonQt (MeVisLab/pythonqt, src/):

* every QtCore/QtGui/QtWidgets class lives in one namespace (``qt.QPushButton``, ``qt.Qt.AlignLeft``);
  there is no ``qt.Signal``/``qt.Slot``/``qt.Property`` (PythonQt gives Python code no way to declare
  Qt signals, slots or properties) and ``qt.QThread`` cannot be constructed;
* on every QObject a Q_PROPERTY name reads as the property's value and assigning to it writes the
  property (PythonQtClassInfo.cpp ``member``: property before method), so ``w.sizeHint()`` raises
  ``TypeError`` and ``combo.currentIndex`` is an ``int``; see ``_getattribute``/``_setattr``;
* signals pass only as many arguments as a Python function accepts (PythonQtSignalReceiver.cpp);
* modal dialogs never block: static dialogs and ``exec()`` take their answer from ``dialogs``, a queue
  tests fill, and every dialog shown is recorded there.
"""

from __future__ import annotations

import enum
import traceback
import types
from dataclasses import dataclass, field
from typing import Any

import shiboken6
from PySide6 import QtCore, QtGui, QtWidgets

for _module in (QtCore, QtGui, QtWidgets):
    for _name in dir(_module):
        if _name.startswith("Q") or _name == "Qt":
            globals()[_name] = getattr(_module, _name)
del _module, _name


# --------------------------------------------------------------------------------------------------
# C++-like classes written in Python for the stand-in (ctk, qMRML widgets)

_CPP_CLASSES: set[type] = set()


def cpp_class(cls: type) -> type:
    """Mark a stand-in class as a wrapped C++ class: instances refuse new attributes, as in PythonQt."""
    _CPP_CLASSES.add(cls)
    return cls


def _is_cpp_class(cls: type) -> bool:
    return cls in _CPP_CLASSES or cls.__module__.startswith(("PySide6.", "shiboken6"))


_orig_getattribute = QtCore.QObject.__getattribute__
# every PySide class has its own __setattr__ slot; Shiboken's root one stays callable once all are replaced
_orig_setattr = shiboken6.Object.__setattr__


def cpp_setattr(obj: QtCore.QObject, name: str, value: Any) -> None:
    """Set private state on a stand-in C++ object (its C++ side, which PythonQt code cannot reach)."""
    _orig_setattr(obj, name, value)


def cpp_signal(obj: QtCore.QObject, name: str) -> QtCore.SignalInstance:
    """The PySide signal itself (with overload indexing), for stand-in C++ code emitting it."""
    return _orig_getattribute(obj, name)


# --------------------------------------------------------------------------------------------------
# Per-class member tables (PythonQtClassInfo caches members per class the same way)


@dataclass
class _ClassInfo:
    properties: dict[str, QtCore.QMetaProperty]
    cpp_members: dict[str, str]  # name -> "Slot" | "Signal" | "EnumValue" | "Enum" | "Nested class"
    python_names: frozenset[str]  # attributes defined by Python subclasses
    python_subclass: bool


_CLASS_INFO: dict[type, _ClassInfo] = {}


def _member_kind(value: Any) -> str | None:
    if type(value) is QtCore.Signal:
        return "Signal"
    if isinstance(value, type):
        return "Enum" if issubclass(value, enum.Enum) else "Nested class"
    if isinstance(value, enum.Enum):
        return "EnumValue"
    if callable(value) or isinstance(value, (staticmethod, classmethod)):
        return "Slot"
    return None


def _class_info(obj: QtCore.QObject) -> _ClassInfo:
    cls = type(obj)
    info = _CLASS_INFO.get(cls)
    if info is not None:
        return info
    meta = QtCore.QObject.metaObject(obj)
    properties = {}
    for i in range(meta.propertyCount()):
        prop = meta.property(i)
        # PythonQtClassInfo::lookForPropertyAndCache: QTimer's singleShot property is skipped so that
        # the static QTimer.singleShot(msec, callable) stays reachable
        if prop.name() == "singleShot" and meta.inherits(QtCore.QTimer.staticMetaObject):
            continue
        properties[prop.name()] = prop
    if "name" not in properties:
        # PYTHONQT_SUPPORT_NAME_PROPERTY (Slicer's build): ``name`` maps to ``objectName``
        properties["name"] = properties["objectName"]
    cpp_members: dict[str, str] = {}
    python_names: set[str] = set()
    for klass in reversed(cls.__mro__):
        if klass is object or klass.__module__.startswith("shiboken6"):
            continue
        if _is_cpp_class(klass):
            for name, value in vars(klass).items():
                kind = _member_kind(value)
                if kind and not name.startswith("_") and name not in properties:
                    cpp_members[name] = kind
        else:
            python_names.update(n for n in vars(klass) if not n.startswith("__"))
    info = _ClassInfo(properties, cpp_members, frozenset(python_names), not _is_cpp_class(cls))
    _CLASS_INFO[cls] = info
    return info


# --------------------------------------------------------------------------------------------------
# Attribute access (PythonQtInstanceWrapper.cpp getattro / setattro)


_reading: set[tuple[int, str]] = set()


def _guarded(key: tuple[int, str], function: Any, *args: Any) -> Any:
    _reading.add(key)
    try:
        return function(*args)
    finally:
        _reading.discard(key)


def _getattribute(self: QtCore.QObject, name: str) -> Any:
    if name.startswith("__"):
        return _orig_getattribute(self, name)
    key = (id(self), name)
    if key in _reading:
        # Shiboken looks up Python overrides of a C++ virtual (e.g. sizeHint) with getattr while the
        # property is being read; answer with the plain binding method so that C++ runs its own code
        return _orig_getattribute(self, name)
    info = _class_info(self)
    # 1. Python-level lookup first: attributes of Python subclasses and of the instance dict
    if name in info.python_names:
        return _wrap_member(self, name, _orig_getattribute(self, name))
    instance_dict = _orig_getattribute(self, "__dict__")
    value = instance_dict.get(name)
    if value is not None and type(value) is not QtCore.SignalInstance:
        return value
    # 2. PythonQtClassInfo::member: Q_PROPERTY (read as its value) before methods, signals, enums
    prop = info.properties.get(name)
    if prop is not None:
        return _guarded(key, prop.read, self)
    try:
        return _wrap_member(self, name, _orig_getattribute(self, name))
    except AttributeError:
        pass
    # 3. dynamic properties, then children by objectName, then PythonQt's error message
    if name in {bytes(n).decode() for n in QtCore.QObject.dynamicPropertyNames(self)}:
        return _guarded(key, QtCore.QObject.property, self, name)  # property() does getattr first
    for child in QtCore.QObject.children(self):
        if QtCore.QObject.objectName(child) == name:
            return child
    raise AttributeError(f"{QtCore.QObject.metaObject(self).className()} has no attribute named '{name}'")


def _setattr(self: QtCore.QObject, name: str, value: Any) -> None:
    if name.startswith("__"):
        _orig_setattr(self, name, value)
        return
    info = _class_info(self)
    tp_name = type(self).__name__
    prop = info.properties.get(name)
    if prop is not None:
        if not prop.isWritable():
            raise AttributeError(f"Property '{name}' of {tp_name} object is not writable")
        if not _guarded((id(self), name), prop.write, self, value):
            raise AttributeError(
                f"Property '{name}' of type '{prop.typeName()}' does not accept an object of type "
                f"{type(value).__name__} ({value!r})"
            )
        return
    kind = info.cpp_members.get(name)
    if kind is not None:
        raise AttributeError(f"{kind} '{name}' can not be overwritten on {tp_name} object")
    if name in {bytes(n).decode() for n in QtCore.QObject.dynamicPropertyNames(self)}:
        QtCore.QObject.setProperty(self, name, value)
        return
    if info.python_subclass:
        _orig_setattr(self, name, value)
        return
    raise AttributeError(
        f"'{name}' does not exist on {tp_name} and creating new attributes on C++ objects is not allowed"
    )


for _module in (QtCore, QtGui, QtWidgets):
    for _cls in vars(_module).values():
        if isinstance(_cls, type) and issubclass(_cls, QtCore.QObject):
            if "__getattribute__" in vars(_cls):
                _cls.__getattribute__ = _getattribute
            if "__setattr__" in vars(_cls):
                _cls.__setattr__ = _setattr
del _module, _cls


# --------------------------------------------------------------------------------------------------
# Signals and connections (PythonQtSignal.cpp, PythonQtStdDecorators.cpp, PythonQtSignalReceiver.cpp)

slotErrors: list[str] = []
"""Tracebacks of exceptions raised by Python slots: PythonQt prints them and the emitter goes on."""


def _python_arg_count(callable_: Any) -> int | None:
    """PythonQtSignalTarget::call: how many signal arguments a Python callable receives (None: all)."""
    if isinstance(callable_, types.FunctionType):
        code = callable_.__code__
        return None if code.co_flags & 0x04 else code.co_argcount  # 0x04: CO_VARARGS
    if isinstance(callable_, types.MethodType) and isinstance(callable_.__func__, types.FunctionType):
        code = callable_.__func__.__code__
        return None if code.co_flags & 0x04 else code.co_argcount - 1
    return None


def _receiver(callable_: Any):
    count = _python_arg_count(callable_)

    def receive(*args: Any) -> None:
        try:
            callable_(*(args if count is None else args[:count]))
        except Exception:
            # PythonQt::handleError: the traceback is printed, the exception does not reach the emitter
            text = traceback.format_exc()
            slotErrors.append(text)
            print(text, end="")

    return receive


def _signal_signatures(obj: QtCore.QObject, name: str) -> list[str]:
    """Signatures of the signals named ``name``, most derived class first, in declaration order."""
    meta = QtCore.QObject.metaObject(obj)
    found: list[str] = []
    while meta is not None:
        for i in range(meta.methodOffset(), meta.methodCount()):
            method = meta.method(i)
            is_signal = method.methodType() == QtCore.QMetaMethod.MethodType.Signal
            if is_signal and bytes(method.name()).decode() == name:
                found.append(bytes(method.methodSignature()).decode())
        meta = meta.superClass()
    return found


def _find_signal(obj: QtCore.QObject, signature: str) -> str | None:
    """Resolve a PythonQt signature string; C++ pointer types of stand-in signals travel as PyObject."""
    signature = signature.replace(" ", "")
    name, _, args = signature.partition("(")
    candidates = _signal_signatures(obj, name)
    if signature in candidates:
        return signature
    as_pyobject = (
        name
        + "("
        + ",".join(
            "PyObject" if a.endswith("*") and a.startswith("vtk") else a
            for a in args.rstrip(")").split(",")
            if a
        )
        + ")"
    )
    return as_pyobject if as_pyobject in candidates else None


def _handlers(obj: QtCore.QObject) -> list[tuple[str, Any, Any]]:
    handlers = _orig_getattribute(obj, "__dict__").get("_pythonqtSignalHandlers")
    if handlers is None:
        handlers = []
        _orig_setattr(obj, "_pythonqtSignalHandlers", handlers)
    return handlers


def _add_handler(obj: QtCore.QObject, signature: str, callable_: Any) -> bool:
    resolved = _find_signal(obj, signature)
    if resolved is None:
        print(
            f"PythonQt: QObject::connect() signal '{signature}' does not exist on "
            f"{QtCore.QObject.metaObject(obj).className()}"
        )
        return False
    receiver = _receiver(callable_)
    QtCore.QObject.connect(obj, "2" + resolved, receiver)
    _handlers(obj).append((resolved, callable_, receiver))
    return True


def _remove_handler(obj: QtCore.QObject, signature: str, callable_: Any = None) -> bool:
    resolved = _find_signal(obj, signature)
    if resolved is None:
        return False
    handlers = _handlers(obj)
    removed = False
    for entry in list(handlers):
        if entry[0] == resolved and (callable_ is None or entry[1] == callable_):
            QtCore.QObject.disconnect(obj, "2" + resolved, entry[2])
            handlers.remove(entry)
            removed = True
    return removed


class _BoundSignal:
    """A PythonQt signal bound to its object: connects the first declared overload."""

    def __init__(self, obj: QtCore.QObject, name: str, instance: QtCore.SignalInstance):
        self._obj, self._name, self._instance = obj, name, instance
        self._signature = _signal_signatures(obj, name)[0]

    def connect(self, callable_: Any) -> bool:
        return _add_handler(self._obj, self._signature, callable_)

    def disconnect(self, callable_: Any = None) -> bool:
        return _remove_handler(self._obj, self._signature, callable_)

    def emit(self, *args: Any) -> None:
        self._instance.emit(*args)

    __call__ = emit

    def __repr__(self) -> str:
        return f"<signal {self._signature} of {QtCore.QObject.metaObject(self._obj).className()}>"


class _StdDecorator:
    """``obj.connect("signal(args)", callable)`` / ``obj.disconnect(...)`` (PythonQtStdDecorators.cpp);
    other argument lists go to PySide's own method (PySide itself calls it, e.g. in QTimer.singleShot)."""

    def __init__(self, obj: QtCore.QObject, binding: Any, handler: Any):
        self._obj, self._binding, self._handler = obj, binding, handler

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs and 1 <= len(args) <= 2 and isinstance(args[0], str) and all(map(callable, args[1:])):
            return self._handler(self._obj, args[0].lstrip("0123456789"), *args[1:])
        return self._binding(*args, **kwargs)


def _wrap_member(obj: QtCore.QObject, name: str, value: Any) -> Any:
    if type(value) is QtCore.SignalInstance:
        return _BoundSignal(obj, name, value)
    if name == "connect" and getattr(value, "__func__", None) is None:
        return _StdDecorator(obj, value, _add_handler)
    if name == "disconnect" and getattr(value, "__func__", None) is None:
        return _StdDecorator(obj, value, _remove_handler)
    return value


# --------------------------------------------------------------------------------------------------
# Threads: Slicer's Python runs in the main thread only


class QThread(QtCore.QThread):
    """Refuses construction: Slicer's PythonQt does not run Python code in Qt worker threads."""

    def __init__(self, *args: Any, **kwargs: Any):
        raise RuntimeError(
            "qt.QThread cannot be used from Python in Slicer: PythonQt runs Python in the main thread only, "
            "so a QThread running Python code crashes or deadlocks the application. Run long work in a "
            "subprocess (slicer.util.launchConsoleProcess) or split it with qt.QTimer."
        )


# --------------------------------------------------------------------------------------------------
# Scripted dialogs


class UnexpectedDialogError(AssertionError):
    """A modal dialog was opened but the test scripted no answer: a real user would have to act here."""


@dataclass
class DialogRecord:
    """One dialog the user saw: its kind (e.g. ``QFileDialog.getOpenFileName``), title, text, details."""

    kind: str
    title: str = ""
    text: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class ScriptedDialogs:
    """Answers for modal dialogs, given in advance by tests, and the record of every dialog shown."""

    def __init__(self) -> None:
        self.shown: list[DialogRecord] = []
        self.unexpected: list[DialogRecord] = []
        self._answers: list[tuple[Any, str | None]] = []

    def answer(self, value: Any, kind: str | None = None) -> None:
        """Queue the answer of the next dialog; with ``kind`` the dialog must be of that kind."""
        self._answers.append((value, kind))

    def pending(self) -> int:
        """Number of queued answers not used yet."""
        return len(self._answers)

    def reset(self) -> None:
        self.shown.clear()
        self.unexpected.clear()
        self._answers.clear()

    def show(self, record: DialogRecord) -> Any:
        """Record ``record`` and return its scripted answer; fail loudly when there is none."""
        self.shown.append(record)
        if not self._answers:
            self.unexpected.append(record)
            raise UnexpectedDialogError(f"unexpected modal dialog with no scripted answer: {record}")
        value, kind = self._answers.pop(0)
        if kind is not None and kind != record.kind:
            self.unexpected.append(record)
            raise UnexpectedDialogError(f"expected a {kind} dialog, got {record}")
        return value


dialogs = ScriptedDialogs()


def _static_dialog(cls: type, method: str, title_arg: int, text_arg: int | None):
    kind = f"{cls.__name__}.{method}"

    def show(*args: Any, **kwargs: Any) -> Any:
        title = args[title_arg] if len(args) > title_arg else kwargs.get("caption", kwargs.get("title", ""))
        text = ""
        if text_arg is not None:
            text = args[text_arg] if len(args) > text_arg else kwargs.get("text", kwargs.get("label", ""))
        details = {"args": args[1:], **kwargs}
        return dialogs.show(DialogRecord(kind, str(title or ""), str(text or ""), details))

    show.__doc__ = f"{kind}: returns the scripted answer (PythonQt returns the value only, no tuple)."
    setattr(cls, method, staticmethod(show))


# PythonQt wraps these statics returning QString / QStringList / the value, never (value, filter/ok) tuples
for _method in ("getOpenFileName", "getOpenFileNames", "getSaveFileName", "getExistingDirectory"):
    _static_dialog(QtWidgets.QFileDialog, _method, 1, None)
for _method in ("information", "question", "warning", "critical"):
    _static_dialog(QtWidgets.QMessageBox, _method, 1, 2)
for _method in ("getText", "getInt", "getDouble", "getItem", "getMultiLineText"):
    _static_dialog(QtWidgets.QInputDialog, _method, 1, 2)
del _method


def _exec_dialog(self: QtWidgets.QDialog, *args: Any) -> Any:
    """QDialog::exec: the scripted answer (a QDialog.DialogCode or QMessageBox.StandardButton)."""
    text = QtWidgets.QMessageBox.text(self) if isinstance(self, QtWidgets.QMessageBox) else ""
    return dialogs.show(DialogRecord(f"{type(self).__name__}.exec", self.windowTitle, text))


for _cls in (
    QtWidgets.QDialog,
    QtWidgets.QMessageBox,
    QtWidgets.QFileDialog,
    QtWidgets.QInputDialog,
    QtWidgets.QColorDialog,
    QtWidgets.QFontDialog,
    QtWidgets.QProgressDialog,
    QtWidgets.QErrorMessage,
):
    _cls.exec = _exec_dialog
    _cls.exec_ = _exec_dialog
del _cls
