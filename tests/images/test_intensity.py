"""Intensity normalisation: CT window, MR non-zero percentiles, per-band stretch, describe()."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gfm_napari.images import Geometry, Image, Normalization, Plane, fit_normalization, read_image


def _volume(array: np.ndarray, modality: str = "MR") -> Image:
    return Image(array=array, geometry=Geometry(spacing=(1.0, 1.0, 1.0), affine=np.eye(4)), modality=modality,
                 source=Path("synthetic.nii"))  # fmt: skip


def test_default_ct_window_maps_known_hu_exactly():
    norm = Normalization.ct_window()
    hu = np.array([[-1000, -160, 0, 40, 240, 1000]], np.int16)
    out = norm.apply(hu)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([[0.0, 0.0, 0.4, 0.5, 1.0, 1.0]], np.float32))


def test_ct_window_is_the_default_for_ct_and_user_changeable(sample):
    ct = read_image(sample("ct"))
    assert fit_normalization(ct) == Normalization.ct_window(40.0, 400.0)
    bone = fit_normalization(ct, ct_window=(400.0, 1800.0))
    assert (bone.low, bone.high) == ((-500.0,), (1300.0,))
    assert (bone.level, bone.width) == (400.0, 1800.0)


def test_describe_is_stable_and_changes_with_the_window():
    assert Normalization.ct_window().describe() == "ct_window(level=40.0,width=400.0)"
    assert Normalization.ct_window(50, 350).describe() == "ct_window(level=50.0,width=350.0)"
    assert Normalization.ct_window().describe() != Normalization.ct_window(40, 401).describe()


def test_mr_percentiles_ignore_zero_voxels():
    values = np.zeros(1000, np.int16)
    values[:100] = np.arange(1, 101)
    norm = fit_normalization(_volume(values.reshape(10, 10, 10)))
    assert norm.kind == "mr_percentile" and norm.nonzero_only
    assert norm.low == (float(np.percentile(np.arange(1, 101), 0.5)),)
    assert norm.high == (float(np.percentile(np.arange(1, 101), 99.5)),)
    assert norm.describe() == "mr_percentile(p=0.5-99.5,nonzero,low=1.495,high=99.505)"


def test_a_z_scored_mr_volumes_constant_background_is_left_out_like_zeros(shared_data):
    flair = read_image(shared_data / "mr_brats_tumour_manual" / "Flair_subtrMeanDivStd.nii.gz")
    voxels = np.asarray(flair.array)
    floor = voxels.min()  # -3.62: 83 % of the voxels, the background of a volume stored mean-subtracted / std-divided
    brain = voxels[(voxels != floor) & (voxels != 0)]
    norm = fit_normalization(flair)
    assert norm.low == (float(np.percentile(brain, 0.5)),)
    assert norm.high == (float(np.percentile(brain, 99.5)),)  # 5.16; with the background counted 3.36, and the
    assert norm.apply(np.array([floor]))[0] == 0.0            # brightest oedema and tumour were clipped


def test_mr_normalisation_uses_the_whole_volume(sample):
    mr = read_image(sample("mr"))
    norm = fit_normalization(mr)
    nonzero = mr.array[mr.array != 0]
    assert norm.low == (float(np.percentile(nonzero, 0.5)),)
    assert norm.high == (float(np.percentile(nonzero, 99.5)),)
    top, bottom = norm.apply(Plane(2, 19).take(mr.array)), norm.apply(Plane(2, 0).take(mr.array))
    for plane in (top, bottom):
        assert plane.dtype == np.float32 and plane.min() >= 0.0 and plane.max() <= 1.0


def test_band_stretch_is_per_band_and_ignores_nodata(sample):
    rgb = read_image(sample("rgb_byte"))
    norm = fit_normalization(rgb)
    assert norm.kind == "band_percentile" and norm.nodata == 0.0
    for band in range(3):
        values = rgb.array[..., band]
        low, high = np.percentile(values[values != 0], [2, 98])
        assert (norm.low[band], norm.high[band]) == (float(low), float(high))
    out = norm.apply(rgb.array)
    assert out.shape == (718, 791, 3) and out.dtype == np.float32
    assert out.min() == 0.0 and out.max() == 1.0
    assert np.all(out[rgb.array == 0] == 0.0)


def test_single_band_raster_stretch(sample):
    pan = read_image(sample("vegas"))
    norm = fit_normalization(pan)
    assert norm.low == (float(np.percentile(pan.array, 2)),) and norm.nodata is None
    out = norm.apply(pan.array)
    assert out.dtype == np.float32 and (out.min(), out.max()) == (0.0, 1.0)


def test_kind_can_be_overridden(sample):
    ct = read_image(sample("ct"))
    assert fit_normalization(ct, kind="mr_percentile").kind == "mr_percentile"


def test_constant_image_maps_to_zero():
    norm = Normalization("mr_percentile", (5.0,), (5.0,))
    np.testing.assert_array_equal(norm.apply(np.full((2, 2), 5.0)), np.zeros((2, 2), np.float32))


def test_to_dict_round_trips_through_json(sample):
    norm = fit_normalization(read_image(sample("rgb_byte")))
    again = Normalization.from_dict(json.loads(json.dumps(norm.to_dict())))
    assert again == norm and again.describe() == norm.describe()
