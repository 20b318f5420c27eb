"""Benchmark volumes built from a real CT series: more slices (interpolated) and, for memory, more pixels.

The shared data's largest CT is a 20-slice 512² DICOM series; the speed targets speak of a ~100-slice CT and a
~1 GB volume. Both are made from that series' real HU values: slices linearly interpolated along the series,
pixels repeated in-plane. Written as uncompressed NIfTI with the axial axis last (k), as scanners' NIfTI files
usually are, so an axial slice is one contiguous block of the file and the reader can memory-map it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..images import Image


def resampled_ct(
    series: Image, depth: int, out: Path, *, in_plane_repeat: int = 1, labels: np.ndarray | None = None
) -> tuple[Path, Path | None]:
    """Write ``series`` (a DICOM volume, (slice, row, col)) as ``depth`` axial slices to ``out`` (.nii), and its
    ``labels`` (same grid as the series) resampled the same way (nearest slice) to ``out``'s sibling
    ``*_labels.nii.gz``. Returns both paths. Peak memory is about one output slice, whatever the volume size."""
    import nibabel as nib

    n, rows, cols = series.spatial_shape
    r = in_plane_repeat
    positions = np.linspace(0.0, n - 1.0, depth)
    index_map = np.zeros((4, 4))  # new (col, row, slice) index -> series (slice, row, col) index
    index_map[0, 2] = (n - 1.0) / (depth - 1.0)
    index_map[1, 1] = 1.0 / r
    index_map[2, 0] = 1.0 / r
    index_map[3, 3] = 1.0
    affine = np.asarray(series.geometry.affine) @ index_map
    shape = (cols * r, rows * r, depth)
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.int16)
    header.set_sform(affine, code=1)
    header.set_qform(affine, code=1)
    header.set_xyzt_units("mm")
    header["vox_offset"] = offset = 352  # single-file NIfTI-1: header, 4 bytes of "no extensions", data
    out = Path(out)
    with open(out, "wb") as handle:
        header.write_to(handle)
        handle.write(b"\0" * (offset - handle.tell()))
    volume = np.memmap(out, dtype=np.int16, mode="r+", offset=offset, shape=shape, order="F")
    source = series.array
    for k, t in enumerate(positions):
        low = int(np.floor(t))
        high = min(low + 1, n - 1)
        weight = t - low
        plane = (1.0 - weight) * source[low].astype(np.float32) + weight * source[high].astype(np.float32)
        plane = np.round(plane).astype(np.int16).T  # (row, col) -> (col, row)
        volume[:, :, k] = np.repeat(np.repeat(plane, r, axis=0), r, axis=1)
    volume.flush()
    del volume
    if labels is None:
        return out, None
    nearest = np.rint(positions).astype(int)
    resampled = np.stack([labels[i].T for i in nearest], axis=-1).astype(np.uint8)
    resampled = np.repeat(np.repeat(resampled, r, axis=0), r, axis=1)
    label_path = out.with_name(out.name.replace(".nii", "_labels.nii.gz"))
    nib.save(nib.Nifti1Image(resampled, affine, header=_label_header(header)), label_path)
    return out, label_path


def _label_header(header):
    labels = header.copy()
    labels.set_data_dtype(np.uint8)
    return labels
