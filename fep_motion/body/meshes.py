"""Mesh shapes for the character, generated with trimesh: lofts, deformed spheres, spherical shell patches, tubes.

Every builder returns a watertight-or-open `trimesh.Trimesh` in link coordinates (metres; URDF axes: +X forward,
+Y up, +Z the character's right) with smooth vertex normals; `write_obj` stores it as OBJ with normals for PyBullet.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import trimesh


def _grid_faces(rows: int, cols: int, wrap: bool) -> np.ndarray:
    """Quad grid (rows x cols vertices) as triangles, counter-clockwise seen from outside; wrap closes the columns."""
    faces = []
    last = cols if wrap else cols - 1
    for i in range(rows - 1):
        for j in range(last):
            a, b = i * cols + j, i * cols + (j + 1) % cols
            c, d = a + cols, b + cols
            faces.append((a, c, b))
            faces.append((b, c, d))
    return np.asarray(faces, dtype=np.int64)


def _finish(vertices: np.ndarray, faces: np.ndarray, outward_from: np.ndarray | None = None) -> trimesh.Trimesh:
    """A mesh with smooth normals; with `outward_from`, faces are flipped so normals point away from that point."""
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=True)
    if outward_from is not None:
        centers = mesh.triangles_center - outward_from
        if np.mean(np.einsum("ij,ij->i", centers, mesh.face_normals)) < 0:
            mesh.invert()
    return mesh


def loft(
    sections: Sequence[tuple[float, float, float]],
    exponent: float = 2.0,
    segments: int = 28,
    center_x: Callable[[float], float] | None = None,
    rings: int = 1,
) -> trimesh.Trimesh:
    """A closed body swept along +Y through superellipse sections (y, half-depth along X, half-width along Z).

    |x/a|^e + |z/b|^e = 1 (Lamé curve); e = 2 is an ellipse, larger is boxier. Ends are closed with fans. `rings` > 1
    splits each band between sections into that many (the same surface, shorter triangles: PyBullet's TinyRenderer
    tests every pixel of a triangle's bounding box, examples/TinyRenderer/our_gl.cpp triangle(), so long thin
    triangles on a limb held diagonally cost far more than their area).
    """
    sections = [
        tuple(np.asarray(a) + (np.asarray(b) - np.asarray(a)) * k / rings)
        for a, b in itertools.pairwise(sections)
        for k in range(rings)
    ] + [sections[-1]]
    theta = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    c, s = np.cos(theta), np.sin(theta)
    ux = np.sign(c) * np.abs(c) ** (2.0 / exponent)
    uz = np.sign(s) * np.abs(s) ** (2.0 / exponent)
    rings = []
    for y, a, b in sections:
        cx = center_x(y) if center_x is not None else 0.0
        rings.append(np.stack([cx + a * ux, np.full_like(ux, y), b * uz], axis=1))
    verts = np.concatenate(rings)
    faces = list(_grid_faces(len(sections), segments, wrap=True))
    n = len(verts)
    y0, y1 = sections[0][0], sections[-1][0]
    cx0 = center_x(y0) if center_x is not None else 0.0
    cx1 = center_x(y1) if center_x is not None else 0.0
    verts = np.concatenate([verts, [[cx0, y0, 0.0], [cx1, y1, 0.0]]])
    return _capped(verts, faces, n, (len(sections) - 1) * segments, segments)


def ellipsoid(
    center: Sequence[float],
    radii: Sequence[float],
    subdivisions: int = 2,
    deform: Callable[[np.ndarray], np.ndarray] | None = None,
    rotation: np.ndarray | None = None,
) -> trimesh.Trimesh:
    """An icosphere scaled to `radii` (x, y, z) or deformed (unit-sphere points -> offsets), rotated, then moved to
    center."""
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions)
    unit = np.asarray(sphere.vertices)
    pts = deform(unit) if deform is not None else unit * np.asarray(radii)
    if rotation is not None:
        pts = pts @ np.asarray(rotation).T
    return _finish(pts + np.asarray(center), sphere.faces, outward_from=np.asarray(center))


def lid_patch(
    radius: float, pitch: tuple[float, float], half_width: float, rows: int = 8, cols: int = 10
) -> trimesh.Trimesh:
    """A patch of a sphere around the origin swept about +Z: elevation from +X toward +Y over `pitch` (radians),
    latitude toward +-Z within `half_width`. Turning it about Z moves its edge up or down: an eyelid."""
    el = np.linspace(pitch[0], pitch[1], rows)
    lat = np.linspace(-half_width, half_width, cols)
    E, L = np.meshgrid(el, lat, indexing="ij")
    unit = np.stack([np.cos(L) * np.cos(E), np.cos(L) * np.sin(E), np.sin(L)], axis=-1).reshape(-1, 3)
    return _finish(unit * radius, _grid_faces(rows, cols, wrap=False), outward_from=np.zeros(3))


def tube(path: np.ndarray, radii: np.ndarray | float, segments: int = 10, flatten: float = 1.0) -> trimesh.Trimesh:
    """A closed tube along a polyline (N x 3) with per-point radii; `flatten` < 1 squashes it along the path's
    normal."""
    path = np.asarray(path, dtype=np.float64)
    r = np.broadcast_to(np.asarray(radii, dtype=np.float64), (len(path),))
    tangent = np.gradient(path, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    ref = np.array([1.0, 0.0, 0.0])
    theta = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    rings = []
    for p, t, radius in zip(path, tangent, r):
        u = np.cross(t, ref)
        if np.linalg.norm(u) < 1e-6:
            u = np.cross(t, [0.0, 1.0, 0.0])
        u /= np.linalg.norm(u)
        v = np.cross(t, u)
        rings.append(p + radius * (np.cos(theta)[:, None] * u + flatten * np.sin(theta)[:, None] * v))
    verts = np.concatenate(rings + [path[:1], path[-1:]])
    faces = list(_grid_faces(len(path), segments, wrap=True))
    return _capped(verts, faces, len(path) * segments, (len(path) - 1) * segments, segments)


def _capped(verts: np.ndarray, faces: list, n: int, last: int, segments: int) -> trimesh.Trimesh:
    """Close a tube of rings with two fans to its end-centre vertices (indices n and n + 1; the first ring starts at
    0, the last at `last`) and build the mesh with outward normals."""
    for j in range(segments):
        k = (j + 1) % segments
        faces.append((n, j, k))
        faces.append((n + 1, last + k, last + j))
    mesh = trimesh.Trimesh(vertices=verts, faces=np.asarray(faces), process=True)
    trimesh.repair.fix_normals(mesh)
    return mesh


def write_obj(mesh: trimesh.Trimesh, path: Path) -> Path:
    """Write the mesh as OBJ with vertex normals (smooth shading in PyBullet's renderers); returns the path."""
    text = trimesh.exchange.obj.export_obj(
        mesh, include_normals=True, include_texture=False, write_texture=False, include_color=False, mtl_name=None,
    )
    path.write_text(text if isinstance(text, str) else text[0])
    return path
