"""The automatic pass on a file's image: the plane (or region) segmented by :func:`~.auto.segment_everything`,
on the image's whole grid, with each found object optionally propagated through a volume."""

from __future__ import annotations

import numpy as np

from ..images import Image, Plane
from ..images.bands import BandSelection
from ..images.windowed import Window
from ..jobs import Job, Progress, relay
from ..models import LoadedModel
from .auto import AutoResult, segment_everything
from .auto_window import AutoSettings
from .predictor import Predictor
from .propagate import PropagationSettings, propagate
from .segment_file import check_contrast


def auto_file_job(
    image: Image,
    model: LoadedModel,
    *,
    axis: int | None = None,
    index: int | None = None,
    region: Window | None = None,
    settings: AutoSettings | None = None,
    propagate_3d: bool = False,
    window: tuple[float, float] | None = None,
    bands: BandSelection | None = None,
) -> Job[tuple[np.ndarray, AutoResult]]:
    """Job: (int32 labels on ``image``'s spatial grid, the plane's :class:`~.auto.AutoResult`). A volume's labels
    are the chosen slice's, or with ``propagate_3d`` each object carried to the slices it reaches (an object never
    paints over an earlier one's voxels)."""
    from ..images import fit_normalization

    plane = Plane.of(image, axis, index)
    axis, index = plane.key
    check_contrast(image, axis, index)
    normalization = fit_normalization(image, ct_window=window, bands=bands)
    predictor = Predictor(model)
    result = yield from segment_everything(predictor, image, axis, index, normalization=normalization,
                                           settings=settings, region=region)
    if image.spatial_ndim == 2:
        return result.labels, result
    volume = image.zeros(np.int32)
    if not propagate_3d:
        plane.take(volume)[...] = result.labels
        return volume, result
    ids = sorted(result.scores)
    for number, object_id in enumerate(ids):
        reached = yield from relay(
            propagate(predictor, image, axis, index, result.labels == object_id, normalization=normalization,
                      settings=PropagationSettings.for_device(model.device)),
            lambda p, n=number: Progress(n, len(ids), f"propagating object {n + 1} of {len(ids)}: {p.message}"),
        )
        volume[reached & (volume == 0)] = object_id
    plane.take(volume)[...] = result.labels
    return volume, result
