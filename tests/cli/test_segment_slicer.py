"""`gfm-napari segment` on a 3D Slicer NRRD writes a .seg.nrrd Slicer opens on the same grid, with the name."""

import numpy as np

from gfm_napari.cli import main
from gfm_napari.evaluation.prompted import dice
from gfm_napari.images import read_image
from gfm_napari.images.align import labels_on_grid


def test_a_box_on_the_lung_tumour_writes_a_named_seg_nrrd_on_the_ct_grid(shared_data, tmp_path, capsys):
    folder = shared_data / "radiomics_nrrd_manual"
    image = read_image(folder / "lung1_image_crop.nrrd")
    tumour = labels_on_grid(image, read_image(folder / "lung1_label_crop.nrrd")) > 0
    index = int(np.argmax(tumour.sum(axis=(0, 1))))
    rows, cols = np.nonzero(tumour[:, :, index])
    box = f"{cols.min()},{rows.min()},{cols.max()},{rows.max()}"
    out = tmp_path / "tumour.seg.nrrd"
    code = main(["segment", str(folder / "lung1_image_crop.nrrd"), "--axis", "2", "--slice", str(index),
                 "--box", box, "--name", "tumour", "-o", str(out)])
    assert code == 0 and "wrote" in capsys.readouterr().out
    written = read_image(out)
    np.testing.assert_array_equal(written.geometry.affine, image.geometry.affine)
    assert written.metadata.segment_names == ((1, "tumour"),)
    assert dice(written.array[:, :, index] > 0, tumour[:, :, index]) >= 0.8
