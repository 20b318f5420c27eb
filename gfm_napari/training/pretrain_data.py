"""Unlabelled planes for continual pretraining: every slice of the volumes and every 2D image or tile found under
the given paths, normalised the way the model sees them, and random crops of them as model input.

A path is a file (NIfTI, DICOM, GeoTIFF, PNG/JPEG) or a folder: a folder of DICOM files is one series, any other
folder is searched recursively for image files (and DICOM series folders). Each image is normalised by its
modality's default (:func:`~gfm_napari.images.fit_normalization`: CT window, MR percentiles, band stretch), cut
into planes along its axial axis, and kept as uint8 (a 512² slice is 256 KB). A raster too large to hold (read by
windows) gives 32 random full-resolution windows of 1024² instead. Planes that are nearly constant (air above a
scan, a raster's nodata) are skipped.

A sample is a random resized crop (area 35–100 %, aspect 3/4–4/3) with a random horizontal flip, resized to the
model's S×S input and preprocessed as the model expects (per-crop min-max to [0, 1], or ImageNet mean/std).
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import GfmError, ImageReadError
from ..images import Image, Normalization, axial_axis, fit_normalization, read_image
from ..images.io import LABEL_MAP_SUFFIXES, READABLE_SUFFIXES, full_suffix, looks_like_dicom
from ..images.windowed import Window, raster_of
from ..models import ModelSpec

IMAGE_SUFFIXES = tuple(s for s in READABLE_SUFFIXES if s not in LABEL_MAP_SUFFIXES)
MIN_PLANE_STD = 0.02  # of the normalised [0, 1] plane: below this a plane holds nothing to learn from
RASTER_TILES, RASTER_TILE = 32, 1024  # random windows read from a raster too large to hold (100 MB as RGB uint8)


@dataclass(frozen=True)
class CropSettings:
    scale: tuple[float, float] = (0.35, 1.0)  # crop area as a fraction of the plane
    ratio: tuple[float, float] = (3 / 4, 4 / 3)  # crop aspect (width / height)
    flip: bool = True


class UnlabelledPlanes:
    """The planes of a set of images, as uint8 (rows, cols) or (rows, cols, 3) arrays."""

    def __init__(self, planes: Sequence[np.ndarray], sources: Sequence[str]) -> None:
        if not planes:
            raise GfmError("no image planes to pretrain on: give folders or files of NIfTI, DICOM, GeoTIFF or PNG")
        self.planes = list(planes)
        self.sources = list(sources)

    @classmethod
    def from_paths(cls, paths: Sequence[Path], *, log=print) -> UnlabelledPlanes:
        """Read every image under ``paths``; a file that cannot be read is reported with ``log`` and skipped."""
        planes, sources = [], []
        for item in image_sources(paths):
            try:
                image = read_image(item)
            except ImageReadError as error:
                log(f"skipped {item.name}: {error}")
                continue
            found = list(raster_tiles(image, rng=np.random.default_rng(0)) if image.is_lazy else normalised_planes(image))
            planes += found
            sources.append(f"{item} ({len(found)} planes)")
        return cls(planes, sources)

    def __len__(self) -> int:
        return len(self.planes)

    @functools.cached_property
    def digest(self) -> str:
        """SHA-256 over the planes (what was trained on, for the encoder's sidecar)."""
        h = hashlib.sha256()
        for plane in self.planes:
            h.update(str(plane.shape).encode())
            h.update(plane.tobytes())
        return h.hexdigest()

    def sample(
        self, rng: np.random.Generator, batch: int, spec: ModelSpec, *, crops: CropSettings = CropSettings()
    ) -> torch.Tensor:
        """``batch`` random crops as ``spec``'s model input [batch, 3, S, S] float32."""
        size = spec.input_size
        out = torch.empty(batch, 3, size, size)
        for i in range(batch):
            plane = self.planes[int(rng.integers(len(self.planes)))]
            out[i] = _random_crop(plane, rng, size, crops)
        return spec.scale_input(out)


def image_sources(paths: Sequence[Path]) -> list[Path]:
    """The images under ``paths``: files as given, DICOM series folders, image files found in other folders."""
    found: list[Path] = []
    for path in paths:
        path = Path(path).expanduser()
        if not path.exists():
            raise GfmError(f"no such file or folder: '{path}'")
        if path.is_file():
            found.append(path)
            continue
        for folder in sorted([path, *(p for p in path.rglob("*") if p.is_dir())]):
            files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
            dicom = [p for p in files if full_suffix(p) in (".dcm", ".dicom") or looks_like_dicom(p)]
            if dicom:
                found.append(folder)
            found += [p for p in files if full_suffix(p) in IMAGE_SUFFIXES and p not in dicom]
    return found


def normalised_planes(image: Image) -> Iterator[np.ndarray]:
    """The image's planes along its axial axis (the image itself when 2D), normalised to uint8, constant ones
    skipped."""
    normalization = fit_normalization(image)
    if image.spatial_ndim == 2:
        planes = [image.array]
    else:
        axis = axial_axis(image)
        planes = (np.take(image.array, i, axis=axis) for i in range(image.array.shape[axis]))
    for plane in planes:
        values = _as_uint8(normalization, plane)
        if values is not None:
            yield values


def raster_tiles(
    image: Image, *, rng: np.random.Generator, count: int = RASTER_TILES, side: int = RASTER_TILE
) -> Iterator[np.ndarray]:
    """``count`` random full-resolution windows of ``side``² pixels of a raster read by windows (a scene too
    large to hold), normalised to uint8 by the stretch fitted on its overview; nodata-only windows skipped."""
    raster = raster_of(image)
    normalization = fit_normalization(image)
    rows, cols = raster.shape
    for _ in range(count):
        height, width = min(side, rows), min(side, cols)
        window = Window(int(rng.integers(rows - height + 1)), int(rng.integers(cols - width + 1)), height, width)
        values = _as_uint8(normalization, raster.read(window))
        if values is not None:
            yield values


def _as_uint8(normalization: Normalization, plane: np.ndarray) -> np.ndarray | None:
    """The plane normalised to uint8 (3 bands or one), or None when it is nearly constant."""
    values = normalization.apply(plane)
    if values.ndim == 3:
        values = values[..., :3] if values.shape[-1] >= 3 else values[..., 0]
    return np.round(values * 255).astype(np.uint8) if float(values.std()) >= MIN_PLANE_STD else None


def _random_crop(plane: np.ndarray, rng: np.random.Generator, size: int, crops: CropSettings) -> torch.Tensor:
    rows, cols = plane.shape[:2]
    area = rows * cols * rng.uniform(*crops.scale)
    aspect = math.exp(rng.uniform(math.log(crops.ratio[0]), math.log(crops.ratio[1])))
    height = int(np.clip(round(math.sqrt(area / aspect)), 1, rows))
    width = int(np.clip(round(math.sqrt(area * aspect)), 1, cols))
    top, left = int(rng.integers(rows - height + 1)), int(rng.integers(cols - width + 1))
    crop = torch.from_numpy(np.ascontiguousarray(plane[top : top + height, left : left + width])).float() / 255.0
    crop = crop[None].expand(3, -1, -1) if crop.ndim == 2 else crop.permute(2, 0, 1)
    if crops.flip and rng.random() < 0.5:
        crop = crop.flip(-1)
    return F.interpolate(crop[None], size=(size, size), mode="bilinear", align_corners=False, antialias=True)[0]
