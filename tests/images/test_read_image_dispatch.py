"""read_image: dispatch by folder / suffix / DICOM preamble, and one-line errors for bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from gfm_napari.errors import GfmError, ImageReadError
from gfm_napari.images import SUPPORTED_FORMATS, read_image


def test_missing_file_is_a_one_line_read_error(tmp_path):
    with pytest.raises(ImageReadError) as info:
        read_image(tmp_path / "nope.nii.gz")
    assert "no such file" in str(info.value) and "\n" not in str(info.value)


def test_unsupported_suffix_names_the_supported_formats(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert str(info.value) == f"unsupported format '.csv'; supported: {SUPPORTED_FORMATS}"


@pytest.mark.parametrize("name", ["empty.nii.gz", "empty.nii", "empty.dcm", "empty.tif", "empty.png", "empty.jpg"])
def test_empty_file_is_refused(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(ImageReadError, match=f"file is empty: '{name}'"):
        read_image(path)


def test_extensionless_dicom_file_is_detected(sample, tmp_path):
    path = tmp_path / "IM0001"
    shutil.copy(sample("ct_small"), path)
    image = read_image(path)
    assert image.metadata.format == "dicom" and image.array.shape == (128, 128)


def test_folder_dispatches_to_dicom(ct_series):
    assert ct_series.metadata.format == "dicom" and ct_series.metadata.n_files == 20


def test_option_that_does_not_apply_is_refused(sample):
    with pytest.raises(ImageReadError, match="option volume does not apply to TIFF images"):
        read_image(sample("atlanta"), volume=0)


def test_every_error_is_a_gfm_error_with_one_line(tmp_path):
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"\x1f\x8b" + b"junk\n" * 100)
    with pytest.raises(GfmError) as info:
        read_image(bad)
    assert "\n" not in str(info.value)


def test_image_to_dict_is_json(sample):
    for name in ("ct", "ct_small", "rgb_byte", "quicklook"):
        summary = json.loads(json.dumps(read_image(sample(name)).to_dict()))
        assert summary["shape"] == list(read_image(sample(name)).array.shape)


def test_reading_imports_no_torch_napari_or_qt(sample):
    code = (
        "import sys; from gfm_napari.images import read_image, fit_normalization, write_mask; "
        f"read_image({str(sample('ct'))!r}); read_image({str(sample('atlanta'))!r}); "
        "bad = [m for m in ('torch', 'napari', 'qtpy', 'PyQt5', 'PySide2', 'magicgui') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_readable_suffix_is_named_in_the_unsupported_format_message():
    from gfm_napari.images.io import READABLE_SUFFIXES

    assert all(suffix in SUPPORTED_FORMATS for suffix in READABLE_SUFFIXES)
