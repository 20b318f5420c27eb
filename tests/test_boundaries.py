"""The core never imports napari or Qt, and importing the package pulls in neither torch nor Qt."""

import pkgutil
import subprocess
import sys

import gfm_napari

GUI_PACKAGES = {"napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "vispy", "superqt"}


def _core_modules() -> list[str]:
    """Every module of the package outside ``gfm_napari.ui`` (a ``__main__`` runs the CLI, so those are left out)."""
    names = [info.name for info in pkgutil.walk_packages(gfm_napari.__path__, "gfm_napari.")]
    return sorted(n for n in names if not n.startswith("gfm_napari.ui") and not n.endswith(".__main__"))


def _modules_after(imports: list[str]) -> set[str]:
    code = "import sys\n" + "".join(f"import {m}\n" for m in imports) + "print('\\n'.join(sys.modules))"
    return set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())


def test_the_walk_finds_every_core_package():
    found = _core_modules()
    for package in ("images", "models", "engine", "evaluation", "training", "cli"):
        assert any(name.startswith(f"gfm_napari.{package}") for name in found), package
    assert len(found) > 60


def test_core_imports_neither_napari_nor_qt():
    loaded = _modules_after(_core_modules())
    assert not {m for m in loaded if m.split(".")[0] in GUI_PACKAGES}
    assert not {m for m in loaded if m.startswith("gfm_napari.ui")}


def test_importing_the_package_is_light():
    loaded = _modules_after(["gfm_napari"])
    assert "torch" not in loaded and "napari" not in loaded and "qtpy" not in loaded
