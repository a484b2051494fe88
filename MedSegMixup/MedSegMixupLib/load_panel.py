"""Load panel: volumes from files, DICOM folders or built-in phantom samples, and facts about them."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from .i18n import _
from .qt_shim import collapsible_section, existing_directory, open_file_name, prop, qt
from .ui import StatusLine, button, combo
from .volume_info import summarize
from .workspace import Segmentation

IMAGE_FILTER = "Images (*.nii *.nii.gz *.nrrd *.nhdr *.mha *.mhd);;All files (*)"

# Built-in phantoms of MedSegTrain.data.phantoms: kind -> (display name, tooltip).
SAMPLES = {
    "prostate-mri": ("Prostate MRI phantom", "T2-like MRI with central gland and peripheral zone labels"),
    "kidney-ct": ("Kidney CT phantom", "CT in Hounsfield units with kidney and tumour labels"),
    "brain-mri": ("Brain MRI phantom (4 channels)", "T1/T1ce/T2/FLAIR with BraTS-style tumour labels"),
}


def image_name(path: Path) -> str:
    """A volume name from a file name without its (compound) suffix: the backend's case id."""
    # imported here, not at the top: MedSegMixupLib loads without the backend (the panel says so)
    from MedSegTrain.io import case_id

    return case_id(path) or path.name


class LoadPanel(qt.QWidget):
    """Open images, pick a sample, and see size, spacing, intensity range and a modality guess."""

    def __init__(self, workspace, dicom_browser: Callable[[], None] | None = None, parent=None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.loaded_callbacks: list[Callable[[str], None]] = []
        self._sample_root: Path | None = None
        self._build(dicom_browser)
        workspace.subscribe(self.refresh)
        self.refresh()

    # --------------------------------------------------------------- layout
    def _build(self, dicom_browser: Callable[[], None] | None) -> None:
        layout = qt.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        section, body = collapsible_section(_("Load volumes"))
        form = qt.QFormLayout(body)
        files = qt.QHBoxLayout()
        self.open_file_button = button(_("Image file…"), _("Load a NIfTI, NRRD or MetaImage volume"),
                                       self._choose_file)
        self.open_dicom_button = button(_("DICOM folder…"), _("Load the DICOM series in a folder"),
                                        self._choose_dicom_folder)
        files.addWidget(self.open_file_button)
        files.addWidget(self.open_dicom_button)
        if dicom_browser is not None:
            browser = button(_("DICOM browser"), _("Open Slicer's DICOM database"), dicom_browser)
            files.addWidget(browser)
        form.addRow(_("From disk:"), files)
        samples = qt.QHBoxLayout()
        self.sample_combo = combo([title for title, _tip in SAMPLES.values()],
                                  _("Synthetic phantoms with reference segmentations, generated locally"))
        for index, (_title, tip) in enumerate(SAMPLES.values()):
            self.sample_combo.setItemData(index, tip, qt.Qt.ToolTipRole)
        self.load_sample_button = button(
            _("Load sample"), _("Generate the phantom and load it with its reference segmentation"),
            self._load_chosen_sample)
        samples.addWidget(self.sample_combo)
        samples.addWidget(self.load_sample_button)
        form.addRow(_("Sample data:"), samples)
        layout.addWidget(section)

        info_section, info_body = collapsible_section(_("Volume information"))
        info = qt.QFormLayout(info_body)
        self.volume = self.workspace.chooser("volume", _("The volume described below"))
        self.volume.on_changed(self._show_info)
        info.addRow(_("Volume:"), self.volume.widget)
        self.info_labels: dict[str, qt.QLabel] = {}
        for field_name in ("Size (voxels)", "Spacing (mm)", "Origin (mm)", "Intensity range", "Data type",
                           "Modality (guess)"):
            value = qt.QLabel("–")
            value.setTextInteractionFlags(qt.Qt.TextSelectableByMouse)
            self.info_labels[field_name] = value
            info.addRow(_(field_name) + ":", value)
        layout.addWidget(info_section)
        self.status = StatusLine()
        layout.addWidget(self.status.label)

    # --------------------------------------------------------------- actions
    def _choose_file(self) -> None:
        path = open_file_name(self, _("Load volume"), IMAGE_FILTER)
        if path:
            self.load_file(path)

    def _choose_dicom_folder(self) -> None:
        folder = existing_directory(self, _("DICOM series folder"))
        if folder:
            self.load_file(folder)

    def _load_chosen_sample(self) -> None:
        self.load_sample(list(SAMPLES)[max(prop(self.sample_combo, "currentIndex"), 0)])

    def load_file(self, path: str | Path) -> list[str]:
        """Load an image file (all channels of a 4D file) or a DICOM folder; returns the new names."""
        path = Path(path)
        native = getattr(self.workspace, "load_volume_file", None)  # Slicer's own reader, when offered
        if native is not None:
            try:
                names = native(path)
            except Exception as exc:  # a reader failure is reported here, not as a traceback dialog
                self.status.show("error", f"{path}: {exc}")
                return []
            if names:
                self._announce(names, _("Loaded ") + ", ".join(names))
                return names
        try:
            from MedSegTrain.errors import MedSegError
            from MedSegTrain.io import read_channels
        except ImportError as exc:
            self.status.show("error", _("The MedSegTrain backend is not installed: ") + str(exc))
            return []
        try:
            channels = read_channels(path)
        except MedSegError as exc:
            self.status.show("error", str(exc))
            return []
        except (OSError, RuntimeError) as exc:
            self.status.show("error", f"{path}: {exc}")
            return []
        stem = image_name(path)
        names = [self.workspace.add_volume(stem if len(channels) == 1 else f"{stem}_ch{i}", volume,
                                           path if len(channels) == 1 else None)
                 for i, volume in enumerate(channels)]
        self._announce(names, _("Loaded ") + ", ".join(names))
        return names

    def load_sample(self, kind: str) -> tuple[list[str], str | None]:
        """Generate one phantom case of ``kind`` and load its channels and reference segmentation."""
        try:
            from MedSegTrain.data import load_dataset
            from MedSegTrain.data.phantoms import generate_phantom_dataset
            from MedSegTrain.errors import MedSegError
            from MedSegTrain.io import read_image
        except ImportError as exc:
            self.status.show("error", _("Sample data needs the MedSegTrain backend: ") + str(exc))
            return [], None
        if self._sample_root is None:
            self._sample_root = Path(tempfile.mkdtemp(prefix="medsegmixup-samples-"))
        try:
            folder = self._sample_root / kind
            if not (folder / "dataset.json").exists():
                folder = Path(generate_phantom_dataset(kind, 1, folder, seed=0))
            dataset = load_dataset(folder)
            case = dataset.training[0]
            volumes = [read_image(p) for p in case.images]
            reference = read_image(case.label) if case.label is not None else None
        except MedSegError as exc:
            self.status.show("error", str(exc))
            return [], None
        title = kind.replace("-", "_")
        channel_names = dataset.channel_names if len(dataset.channel_names) == len(volumes) else []
        names = [self.workspace.add_volume(f"{title}_{channel_names[i]}" if len(volumes) > 1 and channel_names
                                           else f"{title}_{i}" if len(volumes) > 1 else title, volume, path)
                 for i, (volume, path) in enumerate(zip(volumes, case.images, strict=True))]
        segmentation_name = None
        if reference is not None:
            labels = {name: value for name, value in dataset.labels.items() if value != 0}
            segmentation_name = self.workspace.add_segmentation(
                f"{title}_reference", Segmentation(reference, labels), reference_volume=names[0])
        self._announce(names, _("Loaded sample ") + SAMPLES[kind][0]
                       + (_(" with its reference segmentation") if reference is not None else ""))
        return names, segmentation_name

    def _announce(self, names: list[str], message: str) -> None:
        if names:
            self.volume.refresh()
            self.volume.select(names[0])
            self._show_info()
            self.status.show("ok", message)
            for callback in self.loaded_callbacks:
                callback(names[0])

    # --------------------------------------------------------------- display
    def refresh(self) -> None:
        """Follow the workspace's volume list."""
        self.volume.refresh()
        self._show_info()

    def selected_volume(self) -> str:
        """The ID of the volume described in the information section."""
        return self.volume.current_id()

    def _show_info(self) -> None:
        name = self.selected_volume()
        if not name or name not in self.workspace.volume_ids():
            for label in self.info_labels.values():
                label.setText("–")
            return
        for field_name, value in summarize(self.workspace.volume(name)).rows():
            self.info_labels[field_name].setText(value)
