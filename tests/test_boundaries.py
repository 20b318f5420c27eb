"""The core never imports napari or Qt, and importing the package pulls in neither torch nor Qt."""

import subprocess
import sys

CORE = ["gfm_napari.images", "gfm_napari.models", "gfm_napari.engine.predictor", "gfm_napari.engine.propagate",
        "gfm_napari.engine.session",
        "gfm_napari.evaluation.prompted", "gfm_napari.evaluation.interactive", "gfm_napari.evaluation.clicker",
        "gfm_napari.evaluation.bench", "gfm_napari.training.run_clicks", "gfm_napari.cli"]


def _modules_after(imports: list[str]) -> set[str]:
    code = "import sys\n" + "".join(f"import {m}\n" for m in imports) + "print('\\n'.join(sys.modules))"
    return set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())


def test_core_imports_neither_napari_nor_qt():
    loaded = _modules_after(CORE)
    assert not {m for m in loaded if m.split(".")[0] in {"napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6",
                                                          "magicgui", "gfm_napari.ui"}}
    assert not {m for m in loaded if m.startswith("gfm_napari.ui")}


def test_importing_the_package_is_light():
    loaded = _modules_after(["gfm_napari"])
    assert "torch" not in loaded and "napari" not in loaded and "qtpy" not in loaded
