"""Plain napari (no plugin, no torch) doing what users of the Segment dock do to the layer list, for
``test_layer_swap.py``: an image with a labels layer holding data, a second labels layer, then a shapes and a points
layer (napari#8471's recipe); the image removed and another added; a second such set of layers; each step drawn
(``screenshot``). Prints ``OK`` at the end; a crash in the OpenGL driver ends the process before."""

import sys

import napari
import numpy as np
from qtpy.QtWidgets import QApplication


def main(ndim: int) -> None:
    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    shape = (30, 101, 122)[-ndim:]
    rng = np.random.default_rng(0)

    def draw(step: str) -> None:
        for _ in range(5):
            app.processEvents()
        viewer.screenshot(canvas_only=True)
        print(step, flush=True)

    def layer_set(name: str) -> None:
        labels = viewer.add_labels(np.zeros(shape, np.uint16), name=f"{name} segmentation")
        labels.data[..., 20:40, 20:40] = 1
        labels.refresh()
        draw("labels with data")
        viewer.add_labels(np.zeros(shape, np.uint8), name=f"{name} preview")
        boxes = viewer.add_shapes(ndim=ndim, name=f"{name} boxes")
        viewer.add_points(np.zeros((0, ndim)), ndim=ndim, name=f"{name} clicks")
        draw("preview, boxes, clicks")
        corners = np.array([[10, 10], [10, 40], [40, 40], [40, 10]], float)
        boxes.add_rectangles([np.c_[np.full(4, 5.0), corners] if ndim == 3 else corners])
        draw("a box")

    first = viewer.add_image(rng.random(shape, np.float32), name="first")
    layer_set("first")
    viewer.layers.remove(first)
    draw("image removed")
    viewer.add_image(rng.random(shape, np.float32), name="second")
    draw("another image added")
    layer_set("second")
    for name in ("second preview", "second boxes", "second clicks"):  # what the dock removes with its image
        viewer.layers.remove(name)
    draw("prompt layers removed")
    print("OK", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
