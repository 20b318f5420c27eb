"""File ▸ Save Selected Layer(s) on a Labels layer writes a mask on the source image's exact grid."""

import nibabel as nib
import numpy as np
import pytest

from gfm_napari.errors import ExportError
from gfm_napari.ui.layers import labels_layer_data
from gfm_napari.ui.writer import write_labels

pytestmark = pytest.mark.gui


def _labels_layer(viewer, path, labels):
    viewer.open(str(path), plugin="gfm-napari")
    image = viewer.layers[-1].metadata["gfm_image"]
    data, kwargs, _ = labels_layer_data(labels.astype(np.uint16), image, "segmentation")
    layer = viewer.add_labels(data, **kwargs)
    viewer.layers.selection.active = layer
    return layer


def test_nifti_export_keeps_the_source_affine_and_header(make_napari_viewer, shared_data, ct_labels, tmp_path):
    source = shared_data / "ct_totalseg" / "example_ct_sm.nii.gz"
    viewer = make_napari_viewer()
    _labels_layer(viewer, source, np.where(ct_labels == 5, 1, 0))
    out = tmp_path / "liver.nii.gz"
    written = viewer.layers.save(str(out), selected=True)  # no plugin named: found by the .nii.gz extension
    assert written == [str(out)]
    saved, original = nib.load(out), nib.load(source)
    np.testing.assert_array_equal(saved.affine, original.affine)
    assert saved.header.get_sform(coded=True)[1] == original.header.get_sform(coded=True)[1]
    assert saved.header.get_qform(coded=True)[1] == original.header.get_qform(coded=True)[1]
    np.testing.assert_array_equal(np.asarray(saved.dataobj), ct_labels == 5)


def test_geotiff_and_png_exports_keep_the_scene_grid(make_napari_viewer, shared_data, satellite_labels, tmp_path):
    import rasterio
    from PIL import Image as PILImage

    source = shared_data / "sat_spacenet_atlanta_buildings" / "sample_geotiff.tif"
    viewer = make_napari_viewer()
    labels = (satellite_labels > 0).astype(np.uint16)
    _labels_layer(viewer, source, labels)
    viewer.layers.save(str(tmp_path / "buildings.tif"), selected=True, plugin="gfm-napari")
    with rasterio.open(tmp_path / "buildings.tif") as saved, rasterio.open(source) as original:
        assert saved.crs == original.crs and saved.transform == original.transform
        np.testing.assert_array_equal(saved.read(1), labels)
    viewer.layers.save(str(tmp_path / "buildings.png"), selected=True, plugin="gfm-napari")
    np.testing.assert_array_equal(np.asarray(PILImage.open(tmp_path / "buildings.png")), labels)


def test_labels_without_a_source_image_are_refused_clearly(tmp_path):
    with pytest.raises(ExportError, match="does not belong to an image opened with gfm-napari"):
        write_labels(str(tmp_path / "x.nii.gz"), np.zeros((4, 4), np.uint16), {"name": "x", "metadata": {}})
    assert not list(tmp_path.iterdir())


def test_polygon_exports_from_the_labels_layer(make_napari_viewer, shared_data, satellite_labels, tmp_path):
    from gfm_napari.images.vector import rasterize_polygons, read_polygons

    source = shared_data / "sat_spacenet_atlanta_buildings" / "sample_geotiff.tif"
    viewer = make_napari_viewer()
    layer = _labels_layer(viewer, source, satellite_labels)
    image = layer.metadata["gfm_image"]
    for suffix in (".geojson", ".gpkg"):
        out = tmp_path / f"buildings{suffix}"
        assert viewer.layers.save(str(out), selected=True) == [str(out)]
        back = rasterize_polygons(read_polygons(out, image.geometry.crs), image.spatial_shape, image.geometry)
        np.testing.assert_array_equal(back > 0, satellite_labels > 0)


def test_dicom_seg_export_from_a_labels_layer_of_a_series(shared_data, tmp_path):
    from gfm_napari.images import read_image
    from gfm_napari.images.dicom_seg import read_dicom_seg

    series = read_image(shared_data / "dicom_ct_series_totalseg" / "series")
    labels = np.zeros((20, 512, 512), np.uint16)
    labels[10, 200:260, 300:380] = 3
    out = tmp_path / "object.dcm"
    assert write_labels(str(out), labels, {"name": "segmentation", "metadata": {"gfm_image": series}}) == [str(out)]
    back, names = read_dicom_seg(out, series)
    np.testing.assert_array_equal(back, labels)
    assert names == {3: "object 3"}


def test_slicer_seg_nrrd_export_keeps_the_nrrd_grid(make_napari_viewer, shared_data, tmp_path):
    from gfm_napari.images import read_image
    from gfm_napari.images.align import labels_on_grid

    folder = shared_data / "radiomics_nrrd_manual"
    image = read_image(folder / "lung1_image_crop.nrrd")
    tumour = labels_on_grid(image, read_image(folder / "lung1_label_crop.nrrd"))
    viewer = make_napari_viewer()
    _labels_layer(viewer, folder / "lung1_image_crop.nrrd", tumour)
    out = tmp_path / "tumour.seg.nrrd"
    assert viewer.layers.save(str(out), selected=True) == [str(out)]  # found by the .seg.nrrd extension
    saved = read_image(out)
    np.testing.assert_array_equal(saved.array, tumour)
    np.testing.assert_array_equal(saved.geometry.affine, image.geometry.affine)
    assert saved.metadata.segment_names == ((1, "Segment_1"),)
