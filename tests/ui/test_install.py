"""After a normal (non-editable) install from the wheel, napari's plugin manager finds the plugin and its files.

The editable install of the development environment is covered by test_manifest.py; here the project is built
into a wheel (hatchling, no network), installed into a fresh folder, and inspected in a child Python that sees
that folder first.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]

INSPECT = """
import json
from importlib.metadata import distribution
import npe2, gfm_napari
from gfm_napari.samples import sample_path
from gfm_napari.models.registry import get_spec
manager = npe2.PluginManager()
manager.discover()
contributions = manager.get_manifest("gfm-napari").contributions
print(json.dumps({
    "module": gfm_napari.__file__,
    "direct_url": distribution("gfm-napari").read_text("direct_url.json") or "",
    "samples": sorted(s.key for s in contributions.sample_data),
    "widgets": [w.display_name for w in contributions.widgets],
    "writer_extensions": contributions.writers[0].filename_extensions,
    "sample_files": [str(sample_path(k)) for k in ("ct", "satellite")],
    "click_weights": str(get_spec("litemedsam_clicks").overlay_weights()),
}))
"""


def test_a_wheel_install_is_found_by_napari_with_its_manifest_samples_and_weights(tmp_path):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", str(PROJECT), "-w", str(wheels)], check=True)
    (wheel,) = wheels.glob("gfm_napari-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True)

    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run([sys.executable, "-c", INSPECT], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(found["module"]).is_relative_to(target)
    assert "editable" not in found["direct_url"]
    assert found["samples"] == ["ct_abdomen", "satellite_buildings"] and found["widgets"] == ["Segment"]
    assert ".nii.gz" in found["writer_extensions"]
    for packaged in (*found["sample_files"], found["click_weights"]):
        assert Path(packaged).is_relative_to(target) and Path(packaged).is_file() and not Path(packaged).is_symlink()

    validate = subprocess.run([sys.executable, "-m", "npe2", "validate", "gfm-napari", "--imports"], cwd=tmp_path,
                              env=env, capture_output=True, text=True)
    assert validate.returncode == 0, validate.stdout + validate.stderr
