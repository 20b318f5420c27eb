"""`gfm-napari segment --start-mask LABELS --object ID --point ...`: one object of a label map corrected, the rest
written back as it was, on the image's grid; bad input is one line and exit 2 before the model loads."""

import nibabel as nib
import numpy as np
import pytest
import rasterio
from scipy import ndimage

from gfm_napari.cli import main
from gfm_napari.cli import models as cli_models
from gfm_napari.engine.propagate import dice
from gfm_napari.evaluation.clicker import next_click

LIVER = 5
CT = "ct_totalseg/example_ct_sm.nii.gz"
SEG = "ct_totalseg/example_seg.nii.gz"


@pytest.fixture
def no_model(monkeypatch):
    def load(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(cli_models, "load", load)


def _one_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err.strip()


def test_one_liver_slice_corrected_in_a_totalsegmentator_map(shared_data, tmp_path, capsys):
    seg = nib.load(shared_data / SEG)
    truth = np.asarray(seg.dataobj)
    index = int(np.argmax((truth == LIVER).sum(axis=(0, 1))))
    imperfect = truth.copy()
    plane = imperfect[:, :, index]
    liver = plane == LIVER
    plane[liver & ~ndimage.binary_erosion(liver, iterations=3)] = 0  # an outline 3 px too tight
    start = tmp_path / "imperfect.nii.gz"
    nib.save(nib.Nifti1Image(imperfect, seg.affine, seg.header), start)
    x, y, sign = next_click(imperfect[:, :, index] == LIVER, truth[:, :, index] == LIVER)
    out = tmp_path / "corrected.nii.gz"
    code = main(["segment", str(shared_data / CT), "--start-mask", str(start), "--object", str(LIVER),
                 "--slice", str(index), "--point", f"{x},{y},{'+' if sign else '-'}", "-o", str(out)])
    assert code == 0 and f"object {LIVER}:" in capsys.readouterr().out
    written = nib.load(out)
    np.testing.assert_array_equal(written.affine, seg.affine)
    corrected = np.asarray(written.dataobj)
    changed = corrected != imperfect
    assert changed.any() and not np.delete(changed, index, axis=2).any()
    assert set(np.unique(imperfect[changed])) | set(np.unique(corrected[changed])) <= {0, LIVER}
    reference = truth[:, :, index] == LIVER
    assert dice(corrected[:, :, index] == LIVER, reference) > dice(plane == LIVER, reference) + 0.03


def test_a_building_of_a_geojson_corrected_on_its_geotiff(shared_data, tmp_path):
    folder = shared_data / "sat_spacenet_atlanta_buildings"
    with rasterio.open(folder / "buildings_instances_derived.tif") as src:
        buildings = src.read(1)
    rows, cols = np.nonzero(buildings == 7)
    out = tmp_path / "corrected.tif"
    code = main(["segment", str(folder / "sample_geotiff.tif"), "--start-mask", str(folder / "geotiff_labels.geojson"),
                 "--object", "7", "--point", f"{cols.mean():.0f},{rows.mean():.0f}", "-o", str(out)])
    assert code == 0
    with rasterio.open(folder / "sample_geotiff.tif") as image, rasterio.open(out) as written:
        assert written.crs == image.crs and written.transform == image.transform
        corrected = written.read(1)
    changed = corrected != buildings
    assert set(np.unique(buildings[changed])) | set(np.unique(corrected[changed])) <= {0, 7}
    assert dice(corrected == 7, buildings == 7) > 0.7


def test_an_object_missing_from_the_slice_is_one_line(shared_data, tmp_path, capsys, no_model):
    code = main(["segment", str(shared_data / CT), "--start-mask", str(shared_data / SEG), "--object", "2",
                 "--slice", "25", "--point", "50,60", "-o", str(tmp_path / "out.nii.gz")])
    assert code == 2
    assert _one_error(capsys) == "error: object 2 is not on slice 25 along axis 2 (it is on slices 0..18)"
    assert not (tmp_path / "out.nii.gz").exists()


def test_a_label_map_of_another_grid_is_one_line(shared_data, tmp_path, capsys, no_model):
    mr_labels = shared_data / "mr_totalseg" / "example_seg_mr.nii.gz"
    code = main(["segment", str(shared_data / CT), "--start-mask", str(mr_labels), "--object", "5",
                 "--point", "50,60", "-o", str(tmp_path / "out.nii.gz")])
    assert code == 2
    assert _one_error(capsys) == ("error: --start-mask example_seg_mr.nii.gz: the label map is not on the image's "
                                  "voxel grid (up to axis order and flips); --resample-labels resamples it")


@pytest.mark.parametrize("extra, message", [
    (["--start-mask", SEG], "--start-mask and --object go together"),
    (["--start-mask", SEG, "--object", "5", "--box", "1,1,20,20"], "--box, --propagate and --tile do not apply"),
])
def test_start_mask_options_that_do_not_fit_are_one_line(shared_data, tmp_path, capsys, no_model, extra, message):
    extra = [str(shared_data / v) if v == SEG else v for v in extra]
    code = main(["segment", str(shared_data / CT), *extra, "--point", "50,60", "-o", str(tmp_path / "out.nii.gz")])
    assert code == 2 and message in _one_error(capsys)


def test_resample_labels_puts_a_coarser_map_on_the_grid(shared_data, tmp_path):
    from gfm_napari.images import read_image
    from gfm_napari.images.label_maps import read_labels

    seg = nib.load(shared_data / SEG)
    coarse = tmp_path / "coarse.nii.gz"  # every other voxel in-plane: refused without --resample-labels
    nib.save(nib.Nifti1Image(np.asarray(seg.dataobj)[::2, ::2], seg.affine @ np.diag([2, 2, 1, 1])), coarse)
    out = tmp_path / "out.nii.gz"
    assert main(["segment", str(shared_data / CT), "--start-mask", str(coarse), "--resample-labels", "--object", "5",
                 "--slice", "20", "--point", "50,60", "-o", str(out)]) == 0
    resampled = read_labels(coarse, read_image(shared_data / CT), resample=True)
    corrected = np.asarray(nib.load(out).dataobj)
    assert corrected.shape == seg.shape
    np.testing.assert_array_equal(np.delete(corrected, 20, axis=2), np.delete(resampled, 20, axis=2))


def test_a_lesion_drawn_in_3d_slicer_is_corrected_and_written_back_as_a_slicer_segmentation(shared_data, tmp_path):
    from gfm_napari.images import read_image
    from gfm_napari.images.align import labels_on_grid
    from gfm_napari.images.io import read_image as read_again

    data = shared_data / "radiomics_nrrd_manual"
    image = read_image(data / "lung1_image_crop.nrrd")
    drawn = labels_on_grid(image, read_image(data / "lung1_label_crop.nrrd"))
    x, y = next_click(np.zeros_like(drawn[:, :, 7], bool), drawn[:, :, 7] == 1)[:2]
    out = tmp_path / "lesion.seg.nrrd"
    assert main(["segment", str(data / "lung1_image_crop.nrrd"), "--start-mask", str(data / "lung1_label_crop.nrrd"),
                 "--object", "1", "--axis", "2", "--slice", "7", "--point", f"{x},{y}", "-q", "-o", str(out)]) == 0
    written = read_again(out)
    np.testing.assert_array_equal(written.geometry.affine, image.geometry.affine)
    corrected = labels_on_grid(image, written)
    assert np.array_equal(np.delete(corrected, 7, axis=2), np.delete(drawn, 7, axis=2))
    assert dice(corrected[:, :, 7] == 1, drawn[:, :, 7] == 1) >= 0.85  # measured 1.0 (kept as drawn)
