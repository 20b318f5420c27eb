"""napari finds the plugin through npe2 and its manifest validates with every command importable."""

import subprocess
import sys


def test_npe2_validate_imports_every_command():
    result = subprocess.run(
        [sys.executable, "-m", "npe2", "validate", "gfm-napari", "--imports"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_napari_plugin_manager_discovers_every_contribution():
    from npe2 import PluginManager

    manager = PluginManager()
    manager.discover()
    contributions = manager.get_manifest("gfm-napari").contributions
    assert {s.key for s in contributions.sample_data} == {"ct_abdomen", "satellite_buildings"}
    assert contributions.readers[0].accepts_directories
    assert [w.display_name for w in contributions.widgets] == ["Segment"]
    (writer,) = contributions.writers
    assert writer.layer_types == ["labels"] and ".nii.gz" in writer.filename_extensions
    assert all(c.id.startswith("gfm-napari.") for c in contributions.commands)


def test_the_manifest_lists_exactly_the_suffixes_the_package_reads_and_writes():
    from npe2 import PluginManager

    from gfm_napari.images._writing import MASK_SUFFIXES
    from gfm_napari.images.io import READABLE_SUFFIXES

    manager = PluginManager()
    manager.discover()
    contributions = manager.get_manifest("gfm-napari").contributions
    (reader,) = contributions.readers
    (writer,) = contributions.writers
    assert reader.filename_patterns == [f"*{suffix}" for suffix in READABLE_SUFFIXES]
    assert tuple(writer.filename_extensions) == MASK_SUFFIXES
