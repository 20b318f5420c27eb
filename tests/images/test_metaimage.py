"""MetaImage (.mha / .mhd): ITK's geometry in RAS, the stored (i, j, k) axis order, exact .mha mask round trips."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from gfm_napari.errors import ImageReadError
from gfm_napari.images import read_image, write_mask


@pytest.mark.parametrize("suffix", [".mha", ".mhd"])
def test_itk_conversion_of_a_slicer_nrrd_reads_as_the_nrrd(sample, lung1, tmp_path, suffix):
    """SimpleITK reads the NRRD by itself and writes it as MetaImage: both readers must agree exactly."""
    sitk.WriteImage(sitk.ReadImage(str(sample("lung1"))), str(tmp_path / f"lung{suffix}"), True)
    image = read_image(tmp_path / f"lung{suffix}")
    assert image.axis_names == ("i", "j", "k") and image.metadata.format == "metaimage"
    np.testing.assert_array_equal(image.array, lung1.array)
    np.testing.assert_array_equal(image.geometry.affine, lung1.geometry.affine)
    assert image.modality == "CT" and image.geometry.orientation == "LPS"


def test_a_mask_written_as_mha_reads_back_bit_for_bit(lung1, lung1_tumour, tmp_path):
    back = read_image(write_mask(tmp_path / "tumour.mha", lung1_tumour, lung1))
    assert back.array.dtype == np.uint8
    np.testing.assert_array_equal(back.array, lung1_tumour)
    np.testing.assert_array_equal(back.geometry.affine, lung1.geometry.affine)


def test_a_truncated_mha_gives_a_one_line_read_error(lung1, lung1_tumour, tmp_path):
    whole = write_mask(tmp_path / "whole.mha", lung1_tumour, lung1).read_bytes()
    broken = tmp_path / "broken.mha"
    broken.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ImageReadError, match="cannot read 'broken.mha' as MetaImage") as info:
        read_image(broken)
    assert "\n" not in str(info.value) and "0x" not in str(info.value) and str(tmp_path) not in str(info.value)


def test_a_2d_mha_gives_a_2d_image_in_its_plane(sample, lung1, tmp_path):
    sitk.WriteImage(sitk.ReadImage(str(sample("lung1")))[:, :, 0], str(tmp_path / "slice.mha"))
    image = read_image(tmp_path / "slice.mha")
    assert image.array.shape == (512, 512) and image.axis_names == ("i", "j")
    np.testing.assert_array_equal(image.array, lung1.array[:, :, 0])
    expected = lung1.geometry.affine @ np.diag([1.0, 1.0, 0.2, 1.0])
    expected[2, 3] = 0.0  # a 2D ITK image has no z origin
    np.testing.assert_array_equal(image.geometry.affine, expected)
