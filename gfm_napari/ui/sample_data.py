"""File ▸ Open Sample ▸ gfm-napari: a real abdominal CT and a real satellite scene, each with its labels."""

from __future__ import annotations

import numpy as np

from ..images import read_image
from ..images.align import labels_on_grid
from ..samples import sample_path
from .layers import image_layer_data, labels_layer_data


def _with_labels(image_name: str, labels_name: str, layer_name: str) -> list[tuple]:
    image = read_image(sample_path(image_name))
    labels = labels_on_grid(image, read_image(sample_path(labels_name)))
    reference = labels_layer_data(labels.astype(np.uint8), image, f"{layer_name} reference labels")
    reference[1]["visible"] = False
    return [image_layer_data(image, layer_name), reference]


def ct_abdomen() -> list[tuple]:
    return _with_labels("ct", "ct_labels", "CT abdomen")


def satellite_buildings() -> list[tuple]:
    return _with_labels("satellite", "satellite_labels", "Atlanta buildings")
