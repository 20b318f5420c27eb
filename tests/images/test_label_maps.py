"""Label maps made elsewhere, opened on an image's grid for proofreading (real files from shared/data)."""

import numpy as np
import pytest

from gfm_napari.errors import GeometryError
from gfm_napari.images import ImageWarning, read_image, write_mask
from gfm_napari.images.label_maps import read_labels

LIVER = 5


def test_a_totalsegmentator_map_keeps_its_geometry_on_the_ct(sample):
    ct = read_image(sample("ct"))
    labels = read_labels(sample("ct_seg"), ct)
    raw = np.asarray(read_image(sample("ct_seg")).array)  # same RAS grid: voxel for voxel
    assert labels.dtype == np.uint16 and labels.shape == ct.spatial_shape
    np.testing.assert_array_equal(labels, raw)


def test_a_las_map_of_an_lps_series_is_flipped_onto_it_not_shifted(ct_series, sample):
    labels = read_labels(sample("series_seg"), ct_series)
    hu = np.asarray(ct_series.array)
    assert 60 < hu[labels == LIVER].mean() < 120  # measured 89 HU; flipped the wrong way it is mostly fat / air


def test_polygons_are_burnt_on_the_image_grid(sample):
    tile = read_image(sample("atlanta"))
    polygons = read_labels(sample("atlanta_labels").with_name("geotiff_labels.geojson"), tile)
    np.testing.assert_array_equal(polygons, read_labels(sample("atlanta_labels"), tile))  # feature n = label n
    assert polygons.max() == 43


def test_a_dicom_seg_opens_on_its_series(ct_series, sample, tmp_path):
    labels = read_labels(sample("series_seg"), ct_series)
    kept = np.where(np.isin(labels, (1, LIVER)), labels, 0)  # two segments keep the SEG small
    seg = write_mask(tmp_path / "seg.dcm", kept, ct_series)
    np.testing.assert_array_equal(read_labels(seg, ct_series), kept)


def test_a_no_data_class_below_zero_is_background_with_a_warning(shared_data):
    folder = shared_data / "sat_sen1floods11_water_manual"
    chip = read_image(folder / "Spain_7370579_S2Hand.tif")
    with pytest.warns(ImageWarning, match="negative values"):
        labels = read_labels(folder / "Spain_7370579_LabelHand.tif", chip)
    assert set(np.unique(labels)) == {0, 1}


def test_a_map_of_another_grid_is_refused(sample):
    ct = read_image(sample("ct"))
    with pytest.raises(GeometryError, match="not on the image's voxel grid"):
        read_labels(sample("mr_seg"), ct)
    with pytest.raises(GeometryError, match="georeferenced 2D image"):
        read_labels(sample("atlanta_labels").with_name("geotiff_labels.geojson"), ct)


def test_a_map_on_a_coarser_grid_is_resampled_only_on_request(sample, tmp_path):
    import nibabel as nib

    from gfm_napari.engine.propagate import dice

    ct = read_image(sample("ct"))
    seg = nib.load(sample("ct_seg"))
    coarse = tmp_path / "coarse.nii.gz"  # every other voxel in-plane, 6 mm: the same body, another grid
    nib.save(nib.Nifti1Image(np.asarray(seg.dataobj)[::2, ::2], seg.affine @ np.diag([2, 2, 1, 1])), coarse)
    with pytest.raises(GeometryError):
        read_labels(coarse, ct)
    resampled = read_labels(coarse, ct, resample=True)
    full = read_labels(sample("ct_seg"), ct)
    assert resampled.shape == ct.spatial_shape
    assert dice(resampled == LIVER, full == LIVER) > 0.9  # only the outline moves, by up to one 3 mm voxel
