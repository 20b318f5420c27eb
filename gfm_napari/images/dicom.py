"""DICOM reading with pydicom: a series (folder or file list) -> 3D image, a single slice -> 2D image.

Array order and geometry
------------------------
- Series: array (slice, row, col). Slices are sorted by ImagePositionPatient projected on the slice normal
  ``n = cross(IOP[:3], IOP[3:])``, ascending. The affine maps (slice, row, col) to RAS+ mm::

      LPS = IPP_first + slice * step + row * PixelSpacing[0] * IOP[3:6] + col * PixelSpacing[1] * IOP[0:3]
      RAS = diag(-1, -1, 1) @ LPS

  where ``step`` is the median of the consecutive IPP differences (so one missing slice does not change it).
  For the usual axial series (IOP 1,0,0,0,1,0) the orientation code of (slice, row, col) is "SPL", i.e. the
  familiar "LPS" read in (col, row, slice) order.
- Single slice (one file, or a series of one): array (row, col); the same affine with index (row, col, 0), its
  third column = normal * (SliceThickness or SpacingBetweenSlices or 1 mm).
- Pixels: RescaleSlope / RescaleIntercept applied per slice (CT in HU). Result int16 when every value is a whole
  number that fits, else float32. Colour single slices (SamplesPerPixel 3) give (row, col, 3), modality "photo".

Folders are scanned without recursion; files pydicom cannot read, and DICOM files without pixels (DICOMDIR,
reports), are skipped. Files are grouped by SeriesInstanceUID ("" when absent); several series -> ImageReadError
listing them, unless ``series_uid=`` picks one. Gaps or irregular steps between slices give a warning (in
``Image.metadata.warnings`` and as :class:`ImageWarning`); duplicate positions, mixed orientations or sizes
give ImageReadError.

Enhanced multi-frame DICOM (Enhanced CT / MR, Legacy Converted Enhanced): each frame is a slice, placed by its
functional groups (PlanePositionSequence, PlaneOrientationSequence, PixelMeasuresSequence and
PixelValueTransformationSequence, per frame or shared) and sorted exactly like a series of files. A multi-frame file
without per-frame positions (e.g. a cine or a secondary capture) is refused. ``Image.metadata.frames`` records the
file and frame of every slice (in array order) so that a DICOM-SEG can reference them.

No patient-identifying tag is read into the result; only series UID / description, modality and pixel facts.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from gfm_napari.errors import ImageReadError
from gfm_napari.images._reading import check_finite, existing_file, native_byte_order, one_line
from gfm_napari.images.geometry import LPS_TO_RAS, Geometry
from gfm_napari.images.image import Image, ImageMetadata, ImageWarning

IRREGULAR_TOLERANCE = 0.1
"""A step between slices is irregular when it differs from the median step by more than this fraction."""


class SeriesChoiceError(ImageReadError):
    """A folder (or file list) with several series read without picking one, or with a ``requested`` UID it does
    not hold; ``series`` lists (UID, description, slices) of each. Front ends re-word it for their own way of
    picking (the CLI's ``--series-uid``)."""

    def __init__(self, message: str, *, source: str, series: list[tuple[str, str | None, int]],
                 requested: str | None = None):
        super().__init__(message)
        self.source, self.series, self.requested = source, series, requested


@dataclass(frozen=True)
class _Slice:
    """Header facts of one DICOM file (nothing patient-identifying)."""

    path: Path
    series_uid: str
    description: str | None
    modality: str | None
    rows: int
    cols: int
    samples: int
    frames: int
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, float] | None
    thickness: float | None
    frame: int | None = None
    rescale: tuple[float, float] | None = None
    """(slope, intercept) from the frame's functional groups (enhanced multi-frame); None: the file's own tags."""


def read(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, series_uid: str | None = None) -> Image:
    """Read a DICOM series (folder or list of files) or a single DICOM file.

    Args:
        path: a folder, one file, or a sequence of files.
        series_uid: the SeriesInstanceUID to read when there are several series ("" picks files without one).

    Returns:
        3D Image (slice, row, col) for 2+ slices, 2D Image (row, col) for one slice; modality "CT" / "MR" (other
        DICOM modalities map to "MR" with ``metadata.source_modality`` set) or "photo" for colour.

    Raises:
        ImageReadError: nothing readable, several series, inconsistent slices, undecodable pixels, ...
    """
    source, headers = _read_headers(path)
    chosen = _choose_series(headers, series_uid, source)
    if len(chosen) == 1:
        return _read_single(chosen[0], source)
    return _read_series(chosen, source)


# -- headers ---------------------------------------------------------------------------------------------------


def _read_headers(path: Any) -> tuple[Path, list[_Slice]]:
    """(source path for the Image, headers of every readable DICOM image file)."""
    if isinstance(path, (str, os.PathLike)):
        p = Path(path)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file())
            headers = [h for f in files for h in _header(f, strict=False)]
            if not headers:
                raise ImageReadError(f"no DICOM images found in folder '{p.name}'{_other_images_hint(files)}")
            return p, headers
        paths = [p]
    else:
        paths = [Path(f) for f in path]
        if not paths:
            raise ImageReadError("no DICOM files given")
    return paths[0], [h for f in paths for h in _header(existing_file(f), strict=True)]


def _other_images_hint(files: list[Path]) -> str:
    """'; it holds a.tif: open that file instead' when a folder without DICOM holds images another reader opens
    (a user who picked the folder of a GeoTIFF or a NIfTI), else ''."""
    from gfm_napari.images._writing import full_suffix
    from gfm_napari.images.io import READABLE_SUFFIXES

    names = [f.name for f in files if full_suffix(f) in READABLE_SUFFIXES]
    if not names:
        return ""
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"; it holds {shown}: open {'that file' if len(names) == 1 else 'one of those files'} instead"


def _header(path: Path, *, strict: bool) -> list[_Slice]:
    """Header(s) of one file: one per frame for enhanced multi-frame files; [] for non-DICOM / pixel-less files
    when not ``strict`` (else ImageReadError)."""
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as exc:
        if strict:
            raise ImageReadError(f"cannot read '{path.name}' as DICOM: {one_line(exc)}") from exc
        return []
    if "Rows" not in ds or "Columns" not in ds:
        if strict:
            raise ImageReadError(f"DICOM file '{path.name}' holds no image")
        return []
    try:
        single = _file_header(path, ds)
        return _frame_headers(single, ds) if single.frames > 1 else [single]
    except (TypeError, ValueError) as exc:
        if strict:
            raise ImageReadError(f"DICOM file '{path.name}' has malformed image tags: {one_line(exc)}") from exc
        return []


def _file_header(path: Path, ds: Any) -> _Slice:
    return _Slice(
            path=path,
            series_uid=str(ds.get("SeriesInstanceUID", "") or ""),
            description=_text(ds.get("SeriesDescription")),
            modality=_text(ds.get("Modality")),
            rows=int(ds.Rows),
            cols=int(ds.Columns),
            samples=int(ds.get("SamplesPerPixel", 1) or 1),
            frames=int(ds.get("NumberOfFrames", 1) or 1),
            position=_floats(ds.get("ImagePositionPatient"), 3),
            orientation=_floats(ds.get("ImageOrientationPatient"), 6),
            pixel_spacing=_floats(ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing"), 2),
            thickness=_positive(ds.get("SliceThickness")) or _positive(ds.get("SpacingBetweenSlices")),
        )


def _frame_headers(file: _Slice, ds: Any) -> list[_Slice]:
    """One header per frame of an enhanced multi-frame file, from its per-frame and shared functional groups."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if not per_frame or len(per_frame) != file.frames:
        raise ImageReadError(
            f"multi-frame DICOM '{file.path.name}' ({file.frames} frames) has no per-frame positions "
            "(PerFrameFunctionalGroupsSequence); only enhanced multi-frame CT/MR is supported"
        )
    shared = (ds.get("SharedFunctionalGroupsSequence") or [None])[0]

    def group(item: Any, sequence: str, keyword: str) -> Any:
        for source in (item, shared):
            if source is not None and sequence in source and len(source[sequence].value):
                value = source[sequence][0].get(keyword)
                if value is not None:
                    return value
        return None

    frames = []
    for k, item in enumerate(per_frame):
        slope, intercept = (group(item, "PixelValueTransformationSequence", key) for key in ("RescaleSlope", "RescaleIntercept"))
        frames.append(replace(
            file,
            frame=k,
            position=_floats(group(item, "PlanePositionSequence", "ImagePositionPatient"), 3),
            orientation=_floats(group(item, "PlaneOrientationSequence", "ImageOrientationPatient"), 6),
            pixel_spacing=_floats(group(item, "PixelMeasuresSequence", "PixelSpacing"), 2),
            thickness=_positive(group(item, "PixelMeasuresSequence", "SliceThickness"))
            or _positive(group(item, "PixelMeasuresSequence", "SpacingBetweenSlices")),
            rescale=None if slope is None and intercept is None else (float(slope or 1), float(intercept or 0)),
        ))
    if any(f.position is None for f in frames):
        raise ImageReadError(f"multi-frame DICOM '{file.path.name}' lacks a position for some frames")
    return frames


def _choose_series(headers: list[_Slice], series_uid: str | None, source: Path) -> list[_Slice]:
    groups: dict[str, list[_Slice]] = {}
    for h in headers:
        groups.setdefault(h.series_uid, []).append(h)
    series = [(uid, members[0].description, len(members)) for uid, members in sorted(groups.items())]
    if series_uid is not None:
        if series_uid not in groups:
            raise SeriesChoiceError(
                f"series_uid {series_uid!r} not found in '{source.name}'; found: {_describe(groups)}",
                source=source.name, series=series, requested=series_uid,
            )
        return groups[series_uid]
    if len(groups) > 1:
        raise SeriesChoiceError(
            f"found {len(groups)} DICOM series in '{source.name}': {_describe(groups)}; pick one with series_uid=",
            source=source.name, series=series,
        )
    return next(iter(groups.values()))


def _describe(groups: dict[str, list[_Slice]]) -> str:
    parts = []
    for uid, members in sorted(groups.items()):
        description = members[0].description
        label = uid or "<no SeriesInstanceUID>"
        text = f"{label} '{description}'" if description else label
        parts.append(f"{text} ({len(members)} slice{'s' if len(members) != 1 else ''})")
    return "; ".join(parts)


# -- geometry --------------------------------------------------------------------------------------------------


def _directions(s: _Slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row direction = along a row / increasing col, column direction = increasing row, slice normal), LPS."""
    iop = np.asarray(s.orientation if s.orientation is not None else (1, 0, 0, 0, 1, 0), dtype=np.float64)
    along_row, along_col = iop[:3], iop[3:]
    return along_row, along_col, np.cross(along_row, along_col)


def _series_geometry(slices: list[_Slice]) -> tuple[list[_Slice], np.ndarray, tuple[float, ...], list[str]]:
    """Sort slices along the normal; return (sorted slices, RAS affine, spacing, warnings)."""
    first = slices[0]
    name = first.path.parent.name or first.path.name
    if any(s.position is None or s.orientation is None for s in slices):
        raise ImageReadError(f"DICOM series in '{name}' lacks ImagePositionPatient/ImageOrientationPatient")
    if any((s.rows, s.cols) != (first.rows, first.cols) for s in slices):
        raise ImageReadError(f"DICOM series in '{name}' mixes image sizes")
    if any(s.samples != 1 for s in slices):
        raise ImageReadError(f"DICOM series in '{name}' is in colour; only grey-level series are supported")
    orientations = np.array([s.orientation for s in slices])
    if np.abs(orientations - orientations[0]).max() > 1e-3:
        raise ImageReadError(f"DICOM series in '{name}' mixes slice orientations")
    spacings = {s.pixel_spacing for s in slices}
    if len(spacings) > 1:
        raise ImageReadError(f"DICOM series in '{name}' mixes pixel spacings")

    along_row, along_col, normal = _directions(first)
    positions = np.array([s.position for s in slices], dtype=np.float64)
    order = np.argsort(positions @ normal, kind="stable")
    slices = [slices[i] for i in order]
    positions = positions[order]
    distance = positions @ normal
    steps = np.diff(distance)
    if np.any(steps < 1e-4):
        n_dup = int(np.sum(steps < 1e-4))
        raise ImageReadError(
            f"DICOM series in '{name}' has {n_dup} slice(s) at an already-used position (several acquisitions?)"
        )
    step_vector = np.median(np.diff(positions, axis=0), axis=0)
    messages = _gap_warnings(distance, float(np.median(steps)))

    warns: list[str] = []
    row_spacing, col_spacing = _pixel_spacing(first, warns)
    lps = np.eye(4)
    lps[:3, 0] = step_vector
    lps[:3, 1] = along_col * row_spacing
    lps[:3, 2] = along_row * col_spacing
    lps[:3, 3] = positions[0]
    affine = LPS_TO_RAS @ lps
    spacing = (float(np.linalg.norm(step_vector)), row_spacing, col_spacing)
    return slices, affine, spacing, warns + messages


def _gap_warnings(distance: np.ndarray, median_step: float) -> list[str]:
    """One message listing every step that differs from the median by more than IRREGULAR_TOLERANCE."""
    steps = np.diff(distance)
    bad = np.flatnonzero(np.abs(steps - median_step) > IRREGULAR_TOLERANCE * median_step)
    if bad.size == 0:
        return []
    parts = []
    for i in bad[:5]:
        missing = int(round(steps[i] / median_step)) - 1
        hint = f", about {missing} missing slice{'s' if missing != 1 else ''}" if missing >= 1 else ""
        parts.append(
            f"{steps[i]:.3g} mm between slices {i} and {i + 1} "
            f"(positions {distance[i]:.6g} and {distance[i + 1]:.6g} mm along the normal{hint})"
        )
    more = f" and {bad.size - 5} more" if bad.size > 5 else ""
    return [
        f"irregular slice spacing (expected {median_step:.3g} mm): {'; '.join(parts)}{more}; "
        f"the affine assumes a regular {median_step:.3g} mm step"
    ]


def _pixel_spacing(s: _Slice, warns: list[str]) -> tuple[float, float]:
    if s.pixel_spacing is None or min(s.pixel_spacing) <= 0:
        warns.append("no PixelSpacing; assuming 1 mm pixels")
        return 1.0, 1.0
    return float(s.pixel_spacing[0]), float(s.pixel_spacing[1])


# -- pixels ----------------------------------------------------------------------------------------------------


def _read_series(slices: list[_Slice], source: Path) -> Image:
    slices, affine, spacing, warns = _series_geometry(slices)
    array, stored = _rescaled_stack(slices)
    check_finite(array, source.name)
    for message in warns:
        warnings.warn(message, ImageWarning, stacklevel=3)
    first = slices[0]
    return Image(
        array=array,
        geometry=Geometry(spacing=spacing, affine=affine),
        modality=_modality(first),
        source=source,
        axis_names=("slice", "row", "col"),
        metadata=_metadata(slices, warns, stored),
    )


def _read_single(s: _Slice, source: Path) -> Image:
    warns: list[str] = []
    if s.position is None or s.orientation is None:
        warns.append("no ImagePositionPatient/ImageOrientationPatient; using an axial orientation at the origin")
    along_row, along_col, normal = _directions(s)
    row_spacing, col_spacing = _pixel_spacing(s, warns)
    lps = np.eye(4)
    lps[:3, 0] = along_col * row_spacing
    lps[:3, 1] = along_row * col_spacing
    lps[:3, 2] = normal * (s.thickness or 1.0)
    lps[:3, 3] = s.position if s.position is not None else (0.0, 0.0, 0.0)
    stack, stored = _rescaled_stack([s])
    array = stack[0]
    check_finite(array, s.path.name)
    for message in warns:
        warnings.warn(message, ImageWarning, stacklevel=3)
    colour = s.samples > 1
    return Image(
        array=array,
        geometry=Geometry(spacing=(row_spacing, col_spacing), affine=LPS_TO_RAS @ lps),
        modality="photo" if colour else _modality(s),
        source=source,
        channel_axis=2 if colour else None,
        axis_names=("row", "col", "channel") if colour else ("row", "col"),
        metadata=_metadata([s], warns, stored),
    )


def _rescaled_stack(slices: list[_Slice]) -> tuple[np.ndarray, str]:
    """Decode every slice, apply its rescale; int16 when all values are whole and fit, else float32.

    Returns (array (n, rows, cols[, samples]), stored dtype name of the decoded pixels).
    """
    raws, params, files = [], [], {}
    for s in slices:
        if s.path not in files:  # a multi-frame file is decoded once for all its frames
            files = {s.path: _decode(s)}
        pixels, slope, inter = files[s.path]
        raws.append(pixels if s.frame is None else pixels[s.frame])
        params.append(s.rescale or (slope, inter))
    stored = raws[0].dtype.name
    integral = all(r.dtype.kind in "biu" for r in raws) and all(
        float(a).is_integer() and float(b).is_integer() for a, b in params
    )
    if integral:
        ends = [(int(r.min()) * int(a) + int(b), int(r.max()) * int(a) + int(b)) for r, (a, b) in zip(raws, params)]
        info = np.iinfo(np.int16)
        if min(min(e) for e in ends) >= info.min and max(max(e) for e in ends) <= info.max:
            out = np.empty((len(raws),) + raws[0].shape, np.int16)
            for k, (r, (a, b)) in enumerate(zip(raws, params)):
                out[k] = r.astype(np.int64) * int(a) + int(b)
            return out, stored
    out32 = np.empty((len(raws),) + raws[0].shape, np.float32)
    for k, (r, (a, b)) in enumerate(zip(raws, params)):
        out32[k] = r.astype(np.float64) * a + b
    return out32, stored


def _decode(s: _Slice) -> tuple[np.ndarray, float, float]:
    """The file's pixels ((rows, cols[, samples]), or (frames, rows, cols) for multi-frame) and its rescale."""
    import pydicom

    try:
        ds = pydicom.dcmread(s.path)
    except Exception as exc:
        raise ImageReadError(f"cannot read '{s.path.name}' as DICOM: {one_line(exc)}") from exc
    try:
        raw = np.asarray(ds.pixel_array)
    except Exception as exc:
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        syntax_name = getattr(syntax, "name", None) or str(syntax)
        raise ImageReadError(
            f"cannot decode the pixels of '{s.path.name}' ({syntax_name}); for compressed DICOM install "
            f"pylibjpeg with pylibjpeg-openjpeg / pylibjpeg-libjpeg, or python-gdcm: {one_line(exc)}"
        ) from exc
    expected = (s.rows, s.cols) if s.frame is None else (s.frames, s.rows, s.cols)
    if raw.shape[: len(expected)] != expected:
        raise ImageReadError(f"'{s.path.name}' decoded to shape {raw.shape}, expected {expected}")
    slope = float(ds.get("RescaleSlope", 1) or 1)
    inter = float(ds.get("RescaleIntercept", 0) or 0)
    return native_byte_order(raw), slope, inter


# -- small helpers ---------------------------------------------------------------------------------------------


def _modality(s: _Slice) -> str:
    return s.modality if s.modality in ("CT", "MR") else "MR"


def _metadata(slices: list[_Slice], warns: list[str], stored_dtype: str) -> ImageMetadata:
    s = slices[0]
    return ImageMetadata(
        format="dicom",
        stored_dtype=stored_dtype,
        description=s.description,
        series_uid=s.series_uid,
        source_modality=s.modality if s.modality not in ("CT", "MR") else None,
        n_files=len({f.path for f in slices}),
        warnings=tuple(warns),
        frames=tuple((f.path, f.frame) for f in slices),
    )


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _floats(value: Any, n: int) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == n and all(np.isfinite(numbers)) else None


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) and number > 0 else None
