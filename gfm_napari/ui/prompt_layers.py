"""Prompt layers — clicks (Points), boxes (Shapes) — and the preview (Labels) of the current object.

They are input devices and views, not state: a user's edit is reported as a plane-level prompt (``axis, index,
x, y`` in the image's data coordinates, see :meth:`~gfm_napari.images.Plane.to_plane`), and :meth:`show` redraws
them from the session. Clicks are positive unless the negative toggle is on or Shift/Alt is held (either flips it).
A click dragged in the layer's select mode is reported once, when the mouse is released, as a move.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from napari.layers import Labels, Points, Shapes
from napari.utils.colormaps import DirectLabelColormap

from ..engine.prompts import POSITIVE, Prompts
from ..images import Image
from ..images.plane import Plane, PlaneKey
from .layers import placement

POSITIVE_COLOUR, NEGATIVE_COLOUR, BOX_COLOUR = "#39ff14", "#ff2d95", "#ffd60a"
SIGNS = ("positive", "negative")
NEGATIVE_MODIFIERS = {"Shift", "Alt"}
CLICK_MARKER_PX = (6, 14)
"""On-screen size limits of a click's disc: zoomed in on a small object (a building of a 0.5 m scene), the disc
stays smaller than the object and its mask."""


@dataclass(frozen=True)
class PromptCallbacks:
    """What a user edit means for the session."""

    point: Callable[[int | None, int | None, float, float, bool], None]  # axis, index, x, y, positive
    point_removed: Callable[[int | None, int | None, float, float], None]
    point_moved: Callable[[int | None, int | None, tuple[float, float], tuple[float, float]], None]  # old, new x, y
    box: Callable[[int | None, int | None, tuple[float, float, float, float] | None], None]


class PromptLayers:
    """Clicks, boxes and preview layers placed like ``image`` (or by ``where``, layer keyword arguments);
    ``axis()`` gives the slice axis being viewed."""

    def __init__(
        self,
        viewer,
        image: Image,
        name: str,
        *,
        axis: Callable[[], int | None],
        negative: Callable[[], bool],
        callbacks: PromptCallbacks,
        where: dict | None = None,
    ) -> None:
        self.viewer = viewer
        self.image = image
        self._axis = axis
        self._negative = negative
        self._callbacks = callbacks
        self._rendering = False
        self._shown: tuple = ()
        self._preview_planes: list[PlaneKey] = []
        self._colour: tuple = ()
        where = placement(image) if where is None else where
        size = max(image.spatial_shape) / 25
        ndim = image.spatial_ndim
        self.preview = Labels(
            image.zeros(np.uint8), name=f"{name} preview", opacity=0.6, **where
        )
        self.boxes = Shapes(
            ndim=ndim, name=f"{name} boxes", edge_color=BOX_COLOUR, face_color="transparent",
            edge_width=max(round(size / 3), 1), **where,
        )
        self.clicks = Points(
            np.zeros((0, ndim)), ndim=ndim, name=f"{name} clicks", size=size, border_color="white",
            border_width=0.15, features=_signs([]), face_color="sign", canvas_size_limits=CLICK_MARKER_PX,
            face_color_cycle={"positive": POSITIVE_COLOUR, "negative": NEGATIVE_COLOUR}, **where,
        )
        self.clicks.events.data.connect(self._on_clicks)
        self.boxes.events.data.connect(self._on_boxes)
        self.clicks.mouse_drag_callbacks.insert(0, self._on_press)
        self.ensure()

    @property
    def layers(self) -> tuple:
        return self.preview, self.boxes, self.clicks

    def ensure(self) -> None:
        """(Re-)add any of the layers the user removed."""
        for layer in self.layers:
            if layer not in self.viewer.layers:
                self.viewer.layers.append(layer)

    def remove(self) -> None:
        for layer in self.layers:
            if layer in self.viewer.layers:
                self.viewer.layers.remove(layer)

    def use_clicks(self) -> None:
        self.ensure()
        self.viewer.layers.selection.active = self.clicks
        self.clicks.mode = "add"

    def use_boxes(self) -> None:
        self.ensure()
        self.viewer.layers.selection.active = self.boxes
        self.boxes.mode = "add_rectangle"

    # ---- views -----------------------------------------------------------------------------------------------------
    def show(
        self, prompts: Mapping[PlaneKey, Prompts], previews: Mapping[PlaneKey, np.ndarray], colour, *, force=False
    ) -> None:
        """Redraw from the session: clicks and boxes (when they changed, or ``force``), and the previews."""
        points, signs, boxes = [], [], []
        for (axis, index), plane in prompts.items():
            points += [Plane(axis, index).from_plane(x, y) for x, y in plane.points]
            signs += [SIGNS[0] if label == POSITIVE else SIGNS[1] for label in plane.labels]
            if plane.box is not None:
                x0, y0, x1, y1 = plane.box
                corners = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
                boxes.append(np.array([Plane(axis, index).from_plane(x, y) for x, y in corners]))
        shown = (
            np.reshape(points, (-1, self.image.spatial_ndim)),
            tuple(signs),
            tuple(tuple(box.ravel()) for box in boxes),
        )
        if force or not _same(shown, self._shown):
            self._rendering = True
            try:
                self.clicks.data = shown[0]
                self.clicks.features = _signs(signs)
                self.clicks.selected_data = set()
                self.boxes.data = []
                if boxes:
                    self.boxes.add_rectangles(boxes)
            finally:
                self._rendering = False
            self._shown = shown
        self._show_previews(previews, colour)

    def _show_previews(self, previews: Mapping[PlaneKey, np.ndarray], colour) -> None:
        data = self.preview.data
        for key in self._preview_planes:
            Plane(*key).take(data)[...] = 0
        for key, mask in previews.items():
            Plane(*key).take(data)[...] = mask
        self._preview_planes = list(previews)
        colour = tuple(np.asarray(colour, float).ravel())
        if colour != self._colour:
            self.preview.colormap = DirectLabelColormap(color_dict={None: (0, 0, 0, 0), 0: (0, 0, 0, 0), 1: colour})
            self._colour = colour
        self.preview.refresh()

    # ---- user edits ------------------------------------------------------------------------------------------------
    def _on_press(self, layer: Points, event):
        """Choose the sign of a click about to be added; after a drag, report the clicks that moved."""
        flipped = bool(NEGATIVE_MODIFIERS & set(event.modifiers))
        layer.feature_defaults["sign"] = SIGNS[1] if self._negative() != flipped else SIGNS[0]
        yield
        while event.type == "mouse_move":
            yield
        self._report_moves()

    def _report_moves(self) -> None:
        shown = self._shown[0] if self._shown else np.zeros((0, self.image.spatial_ndim))
        current = self.clicks.data
        if self._rendering or len(current) != len(shown):  # an add/remove is still on its way: the next redraw wins
            return
        axis = self._axis()
        for i in np.flatnonzero(np.any(current != shown, axis=1)):
            index, x, y = Plane.to_plane(current[i], axis)
            _, old_x, old_y = Plane.to_plane(shown[i], axis)
            self._callbacks.point_moved(axis, index, (old_x, old_y), (x, y))

    def _on_clicks(self, event) -> None:
        if self._rendering or event.action not in ("added", "removing"):
            return
        axis = self._axis()
        for i in event.data_indices:
            index, x, y = Plane.to_plane(self.clicks.data[i], axis)
            if event.action == "added":
                positive = self.clicks.features["sign"].iloc[i] == SIGNS[0]
                self._callbacks.point(axis, index, x, y, positive)
            else:
                self._callbacks.point_removed(axis, index, x, y)

    def _on_boxes(self, event) -> None:
        if self._rendering or event.action not in ("added", "changed", "removing"):
            return
        axis = self._axis()
        for i in event.data_indices:
            vertices = [Plane.to_plane(v, axis) for v in self.boxes.data[i]]
            index = vertices[0][0]
            xs, ys = [v[1] for v in vertices], [v[2] for v in vertices]
            box = None if event.action == "removing" else (min(xs), min(ys), max(xs), max(ys))
            self._callbacks.box(axis, index, box)


def _signs(values: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"sign": pd.Categorical(values, categories=SIGNS)})


def _same(a: tuple, b: tuple) -> bool:
    return bool(b) and np.array_equal(a[0], b[0]) and a[1:] == b[1:]
