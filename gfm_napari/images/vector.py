"""Label masks on a georeferenced grid -> polygons: GeoJSON (RFC 7946, WGS84 lon/lat) and GeoPackage (scene CRS).

One feature per object (label id): the union of its pixels' outlines (``rasterio.features.shapes``, 4-connected),
simplified with a tolerance of half a pixel (topology kept), as a MultiPolygon. Attributes: ``label`` (the id),
``name`` (the object's name, or "object N") and ``area_m2`` — the area of the exported geometry in square metres:
planar in a projected CRS (scaled by its unit), geodesic on the WGS84 ellipsoid (pyproj ``Geod``) in a geographic
CRS.

Files are written by GDAL through pyogrio: GeoJSON with ``RFC7946=YES`` (reprojected to EPSG:4326 longitude /
latitude, counter-clockwise exterior rings, no ``crs`` member, 7 decimals), GeoPackage in the scene's own CRS.
:func:`read_polygons` and :func:`rasterize_polygons` bring an export back onto the scene grid (round-trip checks).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gfm_napari.errors import ExportError, GeometryError
from gfm_napari.images._reading import one_line
from gfm_napari.images._writing import label_mask
from gfm_napari.images.atomic import atomic_path
from gfm_napari.images.geometry import Geometry
from gfm_napari.images.image import Image

VECTOR_SUFFIXES = (".geojson", ".gpkg")
_DRIVERS = {".geojson": "GeoJSON", ".gpkg": "GPKG"}
WGS84 = "EPSG:4326"
SIMPLIFY_PIXELS = 0.5
"""Simplification tolerance in pixels: removes the staircase's redundant vertices, moves no edge by more."""


@dataclass(frozen=True, eq=False)
class ObjectPolygon:
    """One object of a mask as a (Multi)Polygon in the scene's CRS (a shapely geometry)."""

    label: int
    name: str
    geometry: object
    area_m2: float


def mask_polygons(
    labels: np.ndarray, geometry: Geometry, names: Mapping[int, str] | None = None
) -> list[ObjectPolygon]:
    """The objects of ``labels`` ((rows, cols) integer ids, 0 = background) as simplified polygons.

    Args:
        labels: label ids on the grid of ``geometry`` (its transform's pixel (0, 0) is ``labels[0, 0]``).
        geometry: a georeferenced geometry (CRS and transform).
        names: optional id -> object name.

    Raises:
        GeometryError: the geometry has no CRS / transform.
    """
    import shapely
    from rasterio.crs import CRS
    from rasterio.features import shapes
    from rasterio.transform import Affine

    if not geometry.is_georeferenced:
        raise GeometryError("polygons need a georeferenced image (a GeoTIFF with a CRS); export the mask as .tif/.png")
    labels = np.asarray(labels)
    data = labels.astype(np.int32) if labels.dtype not in (np.uint8, np.uint16, np.int16, np.int32) else labels
    transform = Affine(*geometry.transform)
    pieces: dict[int, list] = {}
    for shape, value in shapes(data, mask=data > 0, connectivity=4, transform=transform):
        pieces.setdefault(int(value), []).append(shapely.geometry.shape(shape))
    tolerance = SIMPLIFY_PIXELS * min(geometry.spacing)
    crs = CRS.from_wkt(geometry.crs)
    objects = []
    for label in sorted(pieces):
        merged = shapely.union_all(pieces[label]).simplify(tolerance, preserve_topology=True)
        name = (names or {}).get(label) or f"object {label}"
        objects.append(ObjectPolygon(label, name, shapely.multipolygons(shapely.get_parts(merged)), _area_m2(merged, crs)))
    return objects


def write_polygons(
    path: str | os.PathLike[str], labels: np.ndarray, geometry: Geometry, names: Mapping[int, str] | None = None,
    scores: Mapping[int, float] | None = None,
) -> Path:
    """Write the objects of ``labels`` as ``.geojson`` (RFC 7946, WGS84) or ``.gpkg`` (scene CRS), atomically;
    ``scores`` (label id -> the model's predicted IoU, e.g. of the automatic pass) add a ``score`` attribute.

    Raises:
        ExportError: another suffix, an empty mask, or a write failure. GeometryError: not georeferenced.
    """
    import shapely
    from pyogrio.raw import write

    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in _DRIVERS:
        raise ExportError(f"cannot write polygons as '{suffix}'; use one of {', '.join(VECTOR_SUFFIXES)}")
    objects = mask_polygons(labels, geometry, names)
    if not objects:
        raise ExportError("the mask is empty: there is no object to write as polygons")
    fields = {
        "label": np.array([o.label for o in objects], np.int32),
        "name": np.array([o.name for o in objects], object),
        "area_m2": np.array([o.area_m2 for o in objects], np.float64),
    }
    if scores is not None:
        fields["score"] = np.array([scores.get(o.label, np.nan) for o in objects], np.float64)
    options = {"RFC7946": "YES"} if suffix == ".geojson" else {}
    try:
        with atomic_path(out) as tmp:
            tmp.unlink()  # GDAL creates the file itself
            write(
                tmp, shapely.to_wkb(np.array([o.geometry for o in objects], object)), list(fields.values()),
                list(fields), driver=_DRIVERS[suffix], geometry_type="MultiPolygon", crs=geometry.crs,
                layer=out.stem, layer_options=options,
            )
    except Exception as exc:
        raise ExportError(f"cannot write '{out.name}': {one_line(exc)}") from exc
    return out


def write_mask(
    path: str | os.PathLike[str], mask: np.ndarray, source: Image, names: Mapping[int, str] | None = None,
    scores: Mapping[int, float] | None = None,
) -> Path:
    """:func:`write_polygons` for a mask on ``source``'s grid (the format dispatch's entry point)."""
    if source.spatial_ndim != 2:
        raise ExportError("polygon export needs a 2D raster; write a 3D mask as .nii.gz")
    return write_polygons(path, label_mask(mask, source), source.geometry, names, scores)


def read_polygons(path: str | os.PathLike[str], crs: str) -> list[tuple[int, object]]:
    """``(label, geometry)`` of every feature of a vector file, reprojected to ``crs`` (WKT or "EPSG:n"); the label is
    the ``label`` attribute, or the feature's number (1, 2, ... in file order) in a file without one."""
    import shapely
    from pyogrio.raw import read
    from rasterio.warp import transform_geom

    meta, _, wkb, field_data = read(path)
    fields = list(meta["fields"])
    labels = field_data[fields.index("label")] if "label" in fields else range(1, len(wkb) + 1)
    source_crs = meta["crs"] or WGS84
    geometries = [shapely.geometry.shape(transform_geom(source_crs, crs, shapely.geometry.mapping(g)))
                  for g in shapely.from_wkb(wkb)]
    return [(int(label), g) for label, g in zip(labels, geometries)]


def rasterize_polygons(polygons: list[tuple[int, object]], shape: tuple[int, int], geometry: Geometry) -> np.ndarray:
    """Burn ``(label, geometry)`` pairs onto a (rows, cols) uint16 grid (pixel centres inside; later ones win)."""
    from rasterio.features import rasterize
    from rasterio.transform import Affine

    if not polygons:
        return np.zeros(shape, np.uint16)
    return rasterize([(g, label) for label, g in polygons], out_shape=shape, transform=Affine(*geometry.transform), dtype=np.uint16)


def _area_m2(polygon, crs) -> float:
    """Area of a shapely geometry given in ``crs``: planar (projected, in metres) or geodesic (geographic)."""
    from pyproj import Geod
    from shapely.geometry import mapping, shape
    from rasterio.warp import transform_geom

    if crs.is_geographic:
        lonlat = shape(transform_geom(crs, WGS84, mapping(polygon)))
        return abs(float(Geod(ellps="WGS84").geometry_area_perimeter(lonlat)[0]))
    unit, factor = crs.linear_units_factor
    return float(polygon.area) * float(factor) ** 2
