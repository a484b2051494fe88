"""Compare panel: a per-segment metric table, false-positive/false-negative overlays and CSV export."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .comparison import COLUMN_TOOLTIPS, COLUMNS, Comparison, ComparisonError, compare
from .i18n import _
from .imaging import blend, busiest_slice, encode_png, outline, windowed_grey
from .qt_shim import collapsible_section, open_file_name, pixmap_from_png, prop, qt, save_file_name
from .ui import StatusLine, button, fill_table, readonly_table
from .workspace import FALSE_NEGATIVE_COLOR, FALSE_POSITIVE_COLOR, Segmentation

LABEL_FILTER = "Label maps (*.nii *.nii.gz *.nrrd *.seg.nrrd *.mha *.mhd);;All files (*)"
AGREEMENT_COLOR = (0.35, 0.80, 0.35)


def _html_swatch(color: tuple[float, float, float], text: str) -> str:
    hex_color = "#" + "".join(f"{round(255 * v):02x}" for v in color)
    return f'<span style="color:{hex_color}; font-size:14px;">■</span>&nbsp;{text}'


class ComparePanel(qt.QWidget):
    """Pick a reference and a prediction, compare, see the table and the error overlay, export."""

    def __init__(self, workspace, parent=None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.result: Comparison | None = None
        self.error_segmentations: list[str] = []
        self._background: np.ndarray | None = None
        self._build()
        workspace.subscribe(self.refresh)
        self.refresh()

    def _build(self) -> None:
        layout = qt.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        section, body = collapsible_section(_("Compare with a reference"))
        form = qt.QFormLayout(body)
        reference_row = qt.QHBoxLayout()
        self.reference = self.workspace.chooser("segmentation",
                                                _("The ground truth: a segmentation or a label map"))
        self.reference_file_button = button(_("File…"), _("Load a reference label map from a file"),
                                            self._choose_reference_file)
        reference_row.addWidget(self.reference.widget)
        reference_row.addWidget(self.reference_file_button)
        form.addRow(_("Reference:"), reference_row)
        self.prediction = self.workspace.chooser(
            "segmentation", _("The segmentation to evaluate (another prediction works too)"))
        form.addRow(_("Prediction:"), self.prediction.widget)
        self.overlays_check = qt.QCheckBox(_("Add false-positive / false-negative segmentations"))
        self.overlays_check.setChecked(True)
        self.overlays_check.setToolTip(_("FP: predicted but not in the reference (red); FN: in the reference "
                                         "but missed (blue)"))
        form.addRow(self.overlays_check)
        actions = qt.QHBoxLayout()
        self.compare_button = button(_("Compare"), _("Compute Dice, IoU, HD95, MSD, ARVD, sensitivity and "
                                                     "specificity per segment"), self.run_comparison)
        self.export_button = button(_("Export CSV…"), _("Save the metric table as CSV"), self._choose_csv)
        self.export_button.setEnabled(False)
        actions.addWidget(self.compare_button)
        actions.addWidget(self.export_button)
        form.addRow(actions)
        self.table = readonly_table(COLUMNS, COLUMN_TOOLTIPS)
        form.addRow(self.table)
        self.overlay = qt.QLabel()
        self.overlay.setAlignment(qt.Qt.AlignCenter)
        self.overlay.setMinimumHeight(200)
        self.overlay.setToolTip(_("Axial slice: agreement green, false positives red, false negatives blue"))
        form.addRow(self.overlay)
        slice_row = qt.QHBoxLayout()
        self.slice_slider = qt.QSlider(qt.Qt.Horizontal)
        self.slice_slider.setToolTip(_("Axial slice shown above"))
        self.slice_slider.valueChanged.connect(lambda *_args: self._draw_overlay())
        self.slice_label = qt.QLabel("–")
        slice_row.addWidget(self.slice_slider)
        slice_row.addWidget(self.slice_label)
        form.addRow(_("Slice:"), slice_row)
        self.legend = qt.QLabel(" &nbsp; ".join([_html_swatch(AGREEMENT_COLOR, _("agreement")),
                                                 _html_swatch(FALSE_POSITIVE_COLOR, _("false positive")),
                                                 _html_swatch(FALSE_NEGATIVE_COLOR, _("false negative"))]))
        self.legend.setAlignment(qt.Qt.AlignCenter)
        form.addRow(self.legend)
        self.status = StatusLine()
        form.addRow(self.status.label)
        layout.addWidget(section)

    # --------------------------------------------------------------- selection
    def refresh(self) -> None:
        """Follow the workspace's segmentation list."""
        self.reference.refresh()
        self.prediction.refresh()

    def select(self, reference: str | None = None, prediction: str | None = None) -> None:
        """Choose the reference and/or prediction by ID."""
        for chooser, item_id in ((self.reference, reference), (self.prediction, prediction)):
            if item_id:
                chooser.select(item_id)

    def _choose_reference_file(self) -> None:
        path = open_file_name(self, _("Reference label map"), LABEL_FILTER)
        if path:
            self.load_reference_file(path)

    def load_reference_file(self, path: str | Path) -> str | None:
        """Load a label map file as a reference, naming its values after the chosen prediction's segments."""
        try:
            from MedSegTrain.errors import MedSegError
            from MedSegTrain.io import read_image
        except ImportError as exc:
            self.status.show("error", _("Loading files needs the MedSegTrain backend: ") + str(exc))
            return None
        try:
            labelmap = read_image(path)
        except MedSegError as exc:
            self.status.show("error", str(exc))
            return None
        if not np.issubdtype(labelmap.array.dtype, np.integer):
            if not np.array_equal(labelmap.array, np.round(labelmap.array)):
                message = _("{path}: is not a label map (non-integer values)").format(path=path)
                self.status.show("error", message)
                return None
            labelmap = labelmap.with_array(labelmap.array.astype(np.int32))
        values = [int(v) for v in np.unique(labelmap.array) if v != 0]
        prediction = self.prediction.current_id()
        names_by_value = {}
        if prediction in self.workspace.segmentation_ids():
            names_by_value = {v: n for n, v in self.workspace.segmentation(prediction).labels.items()}
        labels = {names_by_value.get(v, str(v)): v for v in values}
        from .load_panel import image_name

        reference_volume = self.workspace.source_volume(prediction) if prediction else None
        item_id = self.workspace.add_segmentation(image_name(Path(path)), Segmentation(labelmap, labels),
                                                  reference_volume=reference_volume)
        self.select(reference=item_id)
        self.status.show("ok", _("Loaded reference {name}").format(name=self.workspace.display_name(item_id)))
        return item_id

    # --------------------------------------------------------------- comparison
    def run_comparison(self) -> Comparison | None:
        """Compare the chosen pair, fill the table, add the FP/FN segmentations, draw the overlay."""
        reference, prediction = self.reference.current_id(), self.prediction.current_id()
        if not reference or not prediction:
            self.status.show("error", _("Choose a reference and a prediction first."))
            return None
        if reference == prediction:
            self.status.show("error", _("Reference and prediction are the same segmentation."))
            return None
        try:
            reference_name = self.workspace.display_name(reference)
            prediction_name = self.workspace.display_name(prediction)
            grid = self.workspace.source_volume(reference) or self.workspace.source_volume(prediction)
            result = compare(self.workspace.segmentation(reference, grid),
                             self.workspace.segmentation(prediction, grid), reference_name, prediction_name)
        except (ComparisonError, ValueError) as exc:
            self.status.show("error", str(exc))
            return None
        except ImportError as exc:
            self.status.show("error", _("Metrics need the MedSegTrain backend: ") + str(exc))
            return None
        except Exception as exc:  # a metric failure must reach the panel, not a traceback dialog
            self.status.show("error", f"{type(exc).__name__}: {exc}")
            return None
        self.result = result
        fill_table(self.table, result.table_rows(), [result.colors.get(name) for name in result.metrics])
        self.workspace.add_table(f"{prediction_name} vs {reference_name}", COLUMNS, result.table_rows())
        if self.overlays_check.isChecked():
            self._add_error_segmentations(result, prediction, prediction_name)
        self._background = self._find_background(result)
        self.slice_slider.blockSignals(True)
        self.slice_slider.setRange(0, result.errors.shape[0] - 1)
        shown = result.errors if result.errors.any() else result.reference_any
        self.slice_slider.setValue(busiest_slice(shown))
        self.slice_slider.blockSignals(False)
        self._draw_overlay()
        self.export_button.setEnabled(True)
        mean_dice = np.nanmean([m["dice"] for m in result.metrics.values()])
        self.status.show("ok", _("{n} segment(s) compared; mean Dice {dice:.3f}").format(
            n=len(result.metrics), dice=mean_dice))
        return result

    def _add_error_segmentations(self, result: Comparison, prediction: str, prediction_name: str) -> None:
        """FP/FN segmentations of this prediction; the previous comparison's are replaced."""
        for item_id in self.error_segmentations:
            if item_id in self.workspace.segmentation_ids():
                self.workspace.remove(item_id)
        self.error_segmentations = []
        parent = self.workspace.source_volume(prediction)
        for suffix, segmentation in ((_("false positives"), result.false_positives),
                                     (_("false negatives"), result.false_negatives)):
            self.error_segmentations.append(self.workspace.add_segmentation(
                f"{prediction_name} {suffix}", segmentation, reference_volume=parent))

    def _find_background(self, result: Comparison) -> np.ndarray | None:
        grid = result.false_positives.grid.geometry
        for item_id in self.workspace.volume_ids():
            volume = self.workspace.volume(item_id)
            if volume.array.shape == result.errors.shape and volume.geometry.same_as(grid):
                return np.asarray(volume.array)
        return None

    def _draw_overlay(self) -> None:
        if self.result is None:
            return
        index = prop(self.slice_slider, "value")
        ref, pred = self.result.reference_any[index], self.result.prediction_any[index]
        wrong = self.result.errors[index]
        if self._background is not None:
            background = self._background[index]
            low, high = np.percentile(self._background, [1.0, 99.0])
            picture = windowed_grey(background, float(low), float(high))
        else:
            picture = np.full((*ref.shape, 3), 40, np.uint8)
        false_pos = np.any([m[index] for m in self.result.false_positives.masks.values()], axis=0)
        picture = blend(picture, ref & pred & ~wrong, AGREEMENT_COLOR, 0.35)
        picture = blend(picture, false_pos, FALSE_POSITIVE_COLOR, 0.75)
        picture = blend(picture, wrong & ~false_pos, FALSE_NEGATIVE_COLOR, 0.75)
        picture = blend(picture, outline(ref), AGREEMENT_COLOR, 1.0)
        scale = max(1, 260 // max(picture.shape[:2]))
        picture = np.repeat(np.repeat(picture, scale, axis=0), scale, axis=1)
        self.overlay.setPixmap(pixmap_from_png(encode_png(picture)))
        self.slice_label.setText(_("{index} / {last} ({errors} error voxels)").format(
            index=index, last=self.result.errors.shape[0] - 1, errors=int(np.count_nonzero(wrong))))

    # --------------------------------------------------------------- export
    def _choose_csv(self) -> None:
        path = save_file_name(self, _("Export metrics"), "CSV (*.csv)")
        if path:
            self.export_csv(path if path.lower().endswith(".csv") else path + ".csv")

    def export_csv(self, path: str | Path) -> Path | None:
        """Write the last comparison's metrics to ``path``; None (and a message) when that fails."""
        if self.result is None:
            self.status.show("error", _("Nothing to export yet: run a comparison first."))
            return None
        try:
            written = self.result.write_csv(path)
        except OSError as exc:
            self.status.show("error", _("{path}: cannot be written ({error})").format(path=path, error=exc))
            return None
        self.status.show("ok", _("Metrics written to {path}").format(path=written))
        return written
