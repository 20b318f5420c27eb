"""Make docs/satellite.png: a SpaceNet scene in napari with a tiled mask and its exported polygons overlaid.

Run under an X server: ``xvfb-run -a -s "-screen 0 1400x900x24" python docs/make_satellite_screenshot.py``.
Eight buildings of the Atlanta scene are segmented from boxes (their reference footprints' boxes) with 256 px
native tiles; the mask is exported as GeoJSON (WGS84), read back, reprojected to the scene's CRS and drawn as a
Shapes layer (yellow outlines) over the Labels layer.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import napari
import numpy as np

from gfm_napari.engine.predictor import Predictor
from gfm_napari.engine.prompts import Prompts, box_from_mask
from gfm_napari.engine.tiles import TiledSegmenter
from gfm_napari.images import fit_normalization, read_image, write_mask
from gfm_napari.images.vector import read_polygons
from gfm_napari.images.windowed import RasterFile
from gfm_napari.models import load_model
from gfm_napari.ui.layers import labels_layer_data, object_colormap

OUT = Path(__file__).with_name("satellite.png")
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sat_spacenet_atlanta_buildings"


def main() -> None:
    source = DATA / "sample_geotiff.tif"
    image, reference = read_image(source), read_image(DATA / "buildings_instances_derived.tif").array
    segmenter = TiledSegmenter(Predictor(load_model("litemedsam_clicks")), RasterFile.open(source),
                               fit_normalization(image))
    labels = np.zeros(image.spatial_shape, np.uint16)
    for k in range(1, 9):
        window, mask = segmenter.segment(Prompts(box=box_from_mask(reference == k)))
        labels[window.slices][mask] = k
    geojson = write_mask(Path(tempfile.mkdtemp()) / "buildings.geojson", labels, image)
    outlines = []
    for _, geometry in read_polygons(geojson, image.geometry.crs):
        for polygon in geometry.geoms:
            x, y = np.asarray(polygon.exterior.coords).T
            outlines.append(np.stack([-y, x], axis=1))  # napari world = (-northing, easting): north up

    viewer = napari.Viewer(title="gfm-napari: satellite")
    viewer.window.resize(1400, 900)
    viewer.open(str(source), plugin="gfm-napari")
    data, kwargs, _ = labels_layer_data(labels, image, "buildings (tiled mask)")
    viewer.add_labels(data, opacity=0.5, colormap=object_colormap(), **kwargs)
    viewer.add_shapes(outlines, shape_type="polygon", edge_color="yellow", face_color="transparent",
                      edge_width=0.6, name="polygons (re-read GeoJSON)")
    viewer.reset_view()
    viewer.window.screenshot(str(OUT), canvas_only=False)
    print(f"wrote {OUT} ({len(outlines)} polygons, {int((labels > 0).sum())} mask pixels)")
    viewer.close()


if __name__ == "__main__":
    main()
