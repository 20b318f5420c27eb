"""One-shot segmentation of an image file's plane (and optionally the whole volume) — the CLI's use case."""

from __future__ import annotations

import numpy as np

from ..errors import PromptError
from ..images import Image, fit_normalization
from ..images.bands import BandSelection
from ..jobs import run
from ..models import LoadedModel
from .predictor import Predictor
from .prompts import Prompts
from .propagate import PropagationSettings, propagate

DEFAULT_CT_WINDOW = (40.0, 400.0)


def axial_axis(image: Image) -> int:
    """The array axis of a volume that runs closest to the patient's head–foot (S) direction.

    Volumes without a world affine (or rasters) slice along their last spatial axis.
    """
    affine = image.geometry.affine
    if affine is None or image.spatial_ndim != 3:
        return image.spatial_ndim - 1
    return int(np.argmax(np.abs(np.asarray(affine)[2, :3])))


def resolve_plane(image: Image, axis: int | None, index: int | None) -> tuple[int | None, int | None]:
    """Fill in the default axis (axial) and slice (middle) of a volume; 2D images have neither."""
    if image.spatial_ndim == 2:
        if axis not in (None, 0) or index not in (None, 0):
            raise PromptError("a 2D image has no slices: drop --axis/--slice")
        return None, None
    axis = axial_axis(image) if axis is None else axis
    if not 0 <= axis < 3:
        raise PromptError(f"axis {axis} is out of range 0..2 for a 3D image")
    depth = image.spatial_shape[axis]
    index = depth // 2 if index is None else index
    if not 0 <= index < depth:
        raise PromptError(f"slice {index} is out of range 0..{depth - 1} along axis {axis}")
    return axis, index


def segment_image(
    image: Image,
    model: LoadedModel,
    *,
    points: np.ndarray,
    labels: np.ndarray,
    box: tuple[float, float, float, float] | None,
    axis: int | None = None,
    index: int | None = None,
    propagate_3d: bool = False,
    window: tuple[float, float] | None = None,
    bands: BandSelection | None = None,
) -> np.ndarray:
    """Bool mask on ``image``'s spatial grid: the prompted plane, or every slice reached by propagation."""
    axis, index = resolve_plane(image, axis, index)
    normalization = fit_normalization(image, ct_window=window or DEFAULT_CT_WINDOW, bands=bands)
    predictor = Predictor(model)
    embedding = predictor.embed(image, axis, index, normalization=normalization)
    prompts = Prompts(points, labels, box)
    prediction = predictor.predict_prompts(embedding, prompts)
    if image.spatial_ndim == 2:
        return prediction.mask
    if propagate_3d:
        settings = PropagationSettings(batch_size=1 if model.device.type == "cpu" else 4)
        job = propagate(
            predictor, image, axis, index, prediction.mask, normalization=normalization,
            start_logits=prediction.low_res_logits, settings=settings,
        )
        return run(job)
    volume = image.zeros(bool)
    view = [slice(None)] * 3
    view[axis] = index
    volume[tuple(view)] = prediction.mask
    return volume
