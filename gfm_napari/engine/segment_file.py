"""One-shot segmentation of an image file's plane (and optionally the whole volume) — the CLI's use case."""

from __future__ import annotations

import numpy as np

from ..errors import ImageReadError, PromptError
from ..images import Image, Plane, fit_normalization
from ..images.bands import BandSelection
from ..jobs import Job, Progress, run
from ..models import LoadedModel
from .predictor import Predictor
from .prompts import Prompts
from .proofread import object_mask
from .propagate import PropagationSettings, propagate
from .zoom import PlaneSegmenter


def no_contrast(pixels: np.ndarray, nodata: float | None = None, *, bands: bool | None = None) -> str | None:
    """Why ``pixels`` give a model nothing to segment, or None: "nodata everywhere" when every pixel is nodata, "no
    contrast (every pixel is V)" when the pixels that hold data are all alike. ``pixels``: a plane (rows, cols) or
    (rows, cols, bands), a raster's overview, or a volume; ``bands``: whether the last axis holds bands (default:
    when there are 3 axes)."""
    values = np.asarray(pixels)
    bands = values.ndim == 3 if bands is None else bands
    values = values.reshape(-1, values.shape[-1]) if bands else values.reshape(-1, 1)
    if nodata is not None:
        missing = np.isnan(values) if np.isnan(nodata) else values == nodata
        values = values[~missing.all(axis=1)]
        if values.shape[0] == 0:
            return f"nodata everywhere (nodata = {nodata:g})"
    if values.shape[0] and (values == values[:1]).all():
        shown = ", ".join(f"{v:g}" for v in values[0].tolist())
        return f"no contrast (every pixel is {shown})"
    return None


def check_contrast(image: Image, axis: int | None, index: int | None) -> None:
    """Raise a one-line error when the plane to prompt (the image, or slice ``index`` along ``axis`` of a volume)
    has no contrast or is nodata everywhere: a model segments nothing meaningful there.

    Raises:
        ImageReadError: a 2D image with nothing to segment. PromptError: such a slice of a volume.
    """
    plane = np.asarray(Plane.at(image, axis, index).take(image.array))
    problem = no_contrast(plane, image.geometry.nodata)
    if problem is None:
        return
    if axis is None:
        raise ImageReadError(f"the image has {problem}: nothing to segment")
    whole = no_contrast(np.asarray(image.array), image.geometry.nodata, bands=image.channel_axis is not None)
    if whole is not None:
        raise ImageReadError(f"the volume has {whole.replace('pixel', 'voxel')}: nothing to segment")
    raise PromptError(f"slice {index} along axis {axis} has {problem}: nothing to segment there")


def segment_job(
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
    candidate: int = 0,
) -> Job[np.ndarray]:
    """Job of :func:`segment_image`: yields Progress while encoding the plane and while propagating; ``candidate``:
    which of the model's masks for a lone click (:class:`~.prompts.Prompts`)."""
    plane = Plane.of(image, axis, index)
    axis, index = plane.key
    prompts = Prompts(points, labels, box, candidate)
    prompts.require_object()
    check_contrast(image, axis, index)
    normalization = fit_normalization(image, ct_window=window, bands=bands)
    predictor = Predictor(model)
    total = image.spatial_shape[axis] if propagate_3d and image.spatial_ndim == 3 else 1
    yield Progress(0, total, "encoding the image" if axis is None else f"encoding slice {index}")
    prediction = PlaneSegmenter(predictor, image, axis, index, normalization).predict(prompts)
    if image.spatial_ndim == 2:
        return prediction.mask
    if propagate_3d:
        settings = PropagationSettings.for_device(model.device)
        return (yield from propagate(
            predictor, image, axis, index, prediction.mask, normalization=normalization,
            start_logits=prediction.low_res_logits if prediction.window is None else None, settings=settings,
        ))
    volume = image.zeros(bool)
    plane.take(volume)[...] = prediction.mask
    return volume


def correct_object_job(
    image: Image,
    model: LoadedModel,
    labels: np.ndarray,
    object_id: int,
    *,
    points: np.ndarray,
    point_labels: np.ndarray,
    axis: int | None = None,
    index: int | None = None,
    window: tuple[float, float] | None = None,
    bands: BandSelection | None = None,
) -> Job[np.ndarray]:
    """Job correcting object ``object_id`` of ``labels`` (on ``image``'s grid) on one plane with clicks, as the
    dock does (:meth:`~.session.SegmentationSession.edit_object`); returns the whole label map (uint16), only that
    object changed, only on that plane."""
    from .session import SegmentationSession

    axis, index = Plane.of(image, axis, index).key
    check_contrast(image, axis, index)
    object_mask(labels, axis, index, object_id)
    normalization = fit_normalization(image, ct_window=window, bands=bands)
    session = SegmentationSession(Predictor(model), image, normalization, labels=labels.astype(np.uint16))
    session.edit_object(axis, index, object_id)
    for (x, y), sign in zip(points, point_labels):
        session.add_point(axis, index, float(x), float(y), positive=bool(sign))
    yield Progress(0, 1, "encoding the image" if axis is None else f"encoding slice {index}")
    session.accept()
    return session.labels


def segment_image(image: Image, model: LoadedModel, **options) -> np.ndarray:
    """Bool mask on ``image``'s spatial grid: the prompted plane, or every slice reached by propagation;
    ``options``: as for :func:`segment_job` (``points``, ``labels``, ``box``, ``axis``, ``index``, ...).

    Raises:
        PromptError: negative clicks alone (:meth:`Prompts.require_object`), prompts outside the plane, a slice
            without contrast. ImageReadError: a 2D image without contrast or nodata everywhere.
    """
    return run(segment_job(image, model, **options))
