"""The agent's character: smooth meshes generated here, dressed onto the humanoid's own joint tree, plus face joints.

`character_urdf()` writes (once, cached by the generator's source) a URDF whose joints are pybullet_data's
`humanoid.urdf` joints scaled to metres (so every gesture, BVH export and mocap clip drives it unchanged) and whose
links carry our OBJ meshes: torso, neck, head with hair, ears and nose, arms, hands and legs. The head link gets
child joints for the face: `left_eye`/`right_eye` (spherical: gaze), `left_upper_lid`/`right_upper_lid` (revolute:
blinks), `left_brow`/`right_brow` (prismatic: raise), `jaw` (prismatic: the lower lip slides down)
and `mouth` (prismatic: a dark interior moves forward through the skin between the parting lips, so the mouth opens).
The torso's meshes hang on two fixed links listed last (`upper_torso` on the chest, `lower_torso` on the root): see
DRAWN_LAST.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from fep_motion.body import meshes as M

SCALE = 0.25  # pybullet_data humanoid units -> metres (the body's GLOBAL_SCALING)
BOUNDS_FILE = "bounds.json"
RGBA = tuple[float, float, float, float]


@dataclass(frozen=True)
class Palette:
    """Materials of the character (RGBA): one consistent set used by every mesh."""

    skin: RGBA = (0.95, 0.76, 0.64, 1.0)
    lips: RGBA = (0.78, 0.42, 0.42, 1.0)
    mouth: RGBA = (0.28, 0.06, 0.08, 1.0)
    teeth: RGBA = (0.96, 0.95, 0.92, 1.0)
    hair: RGBA = (0.25, 0.16, 0.11, 1.0)
    sclera: RGBA = (0.97, 0.97, 0.95, 1.0)
    iris: RGBA = (0.22, 0.45, 0.55, 1.0)
    pupil: RGBA = (0.03, 0.03, 0.04, 1.0)
    sweater: RGBA = (0.24, 0.45, 0.60, 1.0)
    collar: RGBA = (0.93, 0.93, 0.90, 1.0)
    trousers: RGBA = (0.22, 0.23, 0.28, 1.0)
    shoes: RGBA = (0.15, 0.12, 0.10, 1.0)


PALETTE = Palette()

# Head geometry in the neck link frame (metres). The head is a tapered ellipsoid (see head_point).
HEAD_CENTER = np.array([0.0, 0.175, 0.0])
HEAD_RADII = np.array([0.100, 0.120, 0.086])  # depth (X), height (Y), half-width (Z)
EYE_RADIUS = 0.0165
EYE_Y = HEAD_CENTER[1] + 0.012
EYE_Z = 0.036  # +Z = the character's right eye
MOUTH_Y = HEAD_CENTER[1] - 0.062
LID_OPEN = 0.72  # rad above the eye's axis: the open upper lid's edge (just over the iris)
LID_CLOSED = -0.50  # rad: where the closed upper lid meets the lower lid
JAW_TRAVEL = 0.012  # m the lower lip slides down at a fully open mouth
MOUTH_TRAVEL = 0.0055  # m the mouth interior moves forward through the skin at a fully open mouth
BROW_TRAVEL = 0.008  # m the brows rise at full raise


def _taper(uy: np.ndarray) -> np.ndarray:
    """Head width/depth factor along the unit height: full at the cranium, narrower toward the chin."""
    return 1.0 - 0.28 * np.maximum(0.0, -uy) ** 1.6


def head_point(unit: np.ndarray) -> np.ndarray:
    """Map unit-sphere points to the head surface (neck link frame)."""
    t = _taper(unit[:, 1])
    return HEAD_CENTER + np.stack(
        [HEAD_RADII[0] * unit[:, 0] * t, HEAD_RADII[1] * unit[:, 1], HEAD_RADII[2] * unit[:, 2] * t], axis=1
    )


def head_front_x(y: np.ndarray | float, z: np.ndarray | float) -> np.ndarray:
    """X of the front head surface at height y and side z (neck link frame): places the face on the skin."""
    uy = (np.asarray(y, dtype=np.float64) - HEAD_CENTER[1]) / HEAD_RADII[1]
    t = _taper(uy)
    uz = np.asarray(z, dtype=np.float64) / (HEAD_RADII[2] * t)
    return HEAD_RADII[0] * t * np.sqrt(np.maximum(0.0, 1.0 - uy**2 - uz**2))


def eye_center(side: int) -> np.ndarray:
    """Eye center in the neck link frame; side +1 = the character's right (+Z), -1 = left."""
    x = float(head_front_x(EYE_Y, EYE_Z)) - 0.45 * EYE_RADIUS
    return np.array([x, EYE_Y, side * EYE_Z])


def brow_center(side: int) -> np.ndarray:
    y = EYE_Y + 0.030
    z = side * (EYE_Z + 0.002)
    return np.array([float(head_front_x(y, z)) + 0.001, y, z])


def jaw_origin() -> np.ndarray:
    return np.array([float(head_front_x(MOUTH_Y, 0.0)), MOUTH_Y, 0.0])


def _rot(axis: str, angle: float) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler(axis, angle).as_matrix()


def _on_face(points_yz: np.ndarray, lift: float) -> np.ndarray:
    """(y, z) pairs -> points on the front head surface, `lift` metres out of it."""
    x = head_front_x(points_yz[:, 0], points_yz[:, 1]) + lift
    return np.stack([x, points_yz[:, 0], points_yz[:, 1]], axis=1)


def head_meshes() -> dict[str, list[tuple[trimesh.Trimesh, str]]]:
    """Meshes per link (neck link frame for 'neck', joint frames for the face links) with their material names."""
    head = M.ellipsoid(HEAD_CENTER, HEAD_RADII, subdivisions=3, deform=lambda u: head_point(u) - HEAD_CENTER)
    hair = M.ellipsoid(
        HEAD_CENTER + [-0.006, 0.008, 0.0], HEAD_RADII, subdivisions=3,
        deform=lambda u: (head_point(u) - HEAD_CENTER) * [1.07, 1.06, 1.09],
    )
    a, b = np.array([0.10, HEAD_CENTER[1] + 0.072, 0.0]), np.array([-0.12, HEAD_CENTER[1] - 0.05, 0.0])
    d = b - a
    normal = np.array([-d[1], d[0], 0.0])
    normal /= np.linalg.norm(normal)
    if normal[1] < 0:
        normal = -normal
    keep = ((hair.vertices - a) @ normal > 0.0)[hair.faces].any(axis=1)
    hair = hair.submesh([np.where(keep)[0]], append=True)
    neck = M.loft([(-0.04, 0.040, 0.038), (0.05, 0.036, 0.035), (0.12, 0.036, 0.035)], segments=20)
    ears = [
        M.ellipsoid([-0.006, HEAD_CENTER[1] - 0.004, s * 0.084], [0.017, 0.026, 0.010], subdivisions=1)
        for s in (-1, 1)
    ]
    ny = HEAD_CENTER[1] - 0.024
    nose = M.ellipsoid(
        [float(head_front_x(ny, 0.0)) - 0.003, ny, 0.0], [0.013, 0.021, 0.011], subdivisions=2,
        rotation=_rot("z", 0.25),
    )
    # The mouth: the lower lip rides the jaw link (down); the dark interior and the upper teeth ride the mouth link,
    # which pushes them forward through the skin as the jaw opens (closed, they sit just behind it).
    j = jaw_origin()
    interior = M.ellipsoid([-0.0100, -0.0045, 0.0], [0.0085, 0.0105, 0.022], subdivisions=1)
    teeth = M.ellipsoid([-0.0065, 0.0020, 0.0], [0.004, 0.0035, 0.015], subdivisions=1)
    zs = np.linspace(-0.025, 0.025, 13)
    upper = _on_face(np.stack([MOUTH_Y + 0.0035 + 0.0035 * (zs / 0.025) ** 2, zs], axis=1), 0.0005)
    upper_lip = M.tube(upper, 0.0042 * (1.0 - 0.55 * (zs / 0.025) ** 2), segments=10, flatten=0.55)
    lower = _on_face(np.stack([MOUTH_Y - 0.0040 + 0.0030 * (zs / 0.025) ** 2, zs], axis=1), 0.0008)
    lower_lip = M.tube(lower, 0.0048 * (1.0 - 0.55 * (zs / 0.025) ** 2), segments=10, flatten=0.6)
    lower_lip.apply_translation(-j)
    out: dict[str, list[tuple[trimesh.Trimesh, str]]] = {
        # Drawn in this order: what is in front first, so hidden pixels fail the depth test instead of being shaded.
        "neck": [(hair, "hair"), (nose, "skin"), (upper_lip, "lips"), (head, "skin"), (neck, "skin")]
        + [(e, "skin") for e in ears],
        "jaw": [(lower_lip, "lips")],
        "mouth": [(teeth, "teeth"), (interior, "mouth")],
    }
    for side, name in ((-1, "left"), (1, "right")):
        c = eye_center(side)
        iris = M.ellipsoid([EYE_RADIUS * 0.90, 0.0, 0.0], [0.0028, 0.0082, 0.0082], subdivisions=1)
        pupil = M.ellipsoid([EYE_RADIUS * 0.90 + 0.0016, 0.0, 0.0], [0.0016, 0.0040, 0.0040], subdivisions=1)
        glint = M.ellipsoid([EYE_RADIUS * 0.90 + 0.0020, 0.0026, -0.0022], [0.0005, 0.0010, 0.0010], subdivisions=0)
        out[f"{name}_eye"] = [
            (M.ellipsoid([0.0, 0.0, 0.0], [EYE_RADIUS] * 3, subdivisions=2), "sclera"),
            (iris, "iris"), (pupil, "pupil"), (glint, "sclera"),
        ]
        lid = M.lid_patch(EYE_RADIUS * 1.12, (LID_OPEN, LID_OPEN + 2.3), 1.25, rows=9, cols=9)
        out[f"{name}_upper_lid"] = [(lid, "skin")]
        lower_lid = M.lid_patch(EYE_RADIUS * 1.10, (-1.5, LID_CLOSED + 0.03), 1.25, rows=5, cols=9)
        lower_lid.apply_translation(c)
        out["neck"].append((lower_lid, "skin"))
        bc = brow_center(side)
        bz = np.linspace(-0.020, 0.020, 9)
        arch = 0.0045 * (1.0 - ((bz + side * 0.004) / 0.022) ** 2)
        pts = _on_face(np.stack([bc[1] + arch, bc[2] + bz], axis=1), 0.0015) - bc
        out[f"{name}_brow"] = [(M.tube(pts, 0.0032 * (1.0 - 0.4 * np.abs(bz / 0.02)), segments=8, flatten=0.5), "hair")]
    return out


def body_meshes() -> dict[str, list[tuple[trimesh.Trimesh, str]]]:
    """Torso, arms, hands and legs per link (each in its joint frame, metres)."""
    # Upper torso on the chest link (origin at the chest joint); it reaches down into the lower torso's top so the
    # seam stays hidden when the chest bends.
    upper = M.loft(
        [(-0.05, 0.088, 0.124), (0.02, 0.094, 0.130), (0.10, 0.095, 0.136), (0.17, 0.090, 0.158),
         (0.205, 0.082, 0.176), (0.232, 0.070, 0.180), (0.252, 0.056, 0.150), (0.265, 0.044, 0.095),
         (0.272, 0.032, 0.040)],
        exponent=2.6, segments=32, center_x=lambda y: -0.012,
    )
    collar = M.tube(
        np.array([[0.041 * np.cos(a) - 0.004, 0.262, 0.041 * np.sin(a)] for a in np.linspace(0, 2 * np.pi, 15)]),
        0.006, segments=6,
    )
    lower = M.loft(
        [(-0.06, 0.085, 0.125), (0.0, 0.090, 0.128), (0.12, 0.086, 0.121), (0.236, 0.088, 0.124),
         (0.25, 0.080, 0.110)],
        exponent=2.6, segments=32, center_x=lambda y: -0.012,
    )
    out: dict[str, list[tuple[trimesh.Trimesh, str]]] = {
        "upper_torso": [(collar, "collar"), (upper, "sweater")],
        "lower_torso": [(lower, "sweater")],
    }
    elbow_y = -1.099152 * SCALE
    wrist_y = -1.035788 * SCALE
    for side in ("left", "right"):
        s = 1.0 if side == "right" else -1.0
        upper_arm = M.loft(
            [(-0.01, 0.046, 0.046), (-0.06, 0.046, 0.045), (-0.16, 0.042, 0.041), (elbow_y + 0.01, 0.038, 0.038)],
            segments=20, rings=2,
        )
        shoulder = M.ellipsoid([0.0, -0.030, -s * 0.010], [0.050, 0.050, 0.047], subdivisions=2)
        out[f"{side}_shoulder"] = [(shoulder, "sweater"), (upper_arm, "sweater")]
        forearm = M.loft(
            [(0.01, 0.037, 0.037), (-0.08, 0.036, 0.035), (wrist_y + 0.03, 0.029, 0.028), (wrist_y + 0.012, 0.030,
                                                                                          0.029)],
            segments=20, rings=2,
        )
        elbow = M.ellipsoid([0.0, 0.0, 0.0], [0.039, 0.039, 0.039], subdivisions=1)
        out[f"{side}_elbow"] = [(elbow, "sweater"), (forearm, "sweater")]
        palm = M.ellipsoid([0.0, -0.050, 0.0], [0.036, 0.052, 0.017], subdivisions=1)
        wrist = M.ellipsoid([0.0, -0.005, 0.0], [0.024, 0.02, 0.019], subdivisions=1)
        thumb = M.ellipsoid([0.030, -0.030, -s * 0.008], [0.010, 0.024, 0.010], subdivisions=1,
                            rotation=_rot("z", -0.5))
        out[f"{side}_wrist"] = [(palm, "skin"), (wrist, "skin"), (thumb, "skin")]
        thigh = M.loft([(0.03, 0.075, 0.072), (-0.2, 0.062, 0.060), (-0.42, 0.050, 0.048)], segments=20)
        out[f"{side}_hip"] = [(thigh, "trousers")]
        shin = M.loft([(0.02, 0.050, 0.048), (-0.2, 0.046, 0.044), (-0.40, 0.036, 0.036)], segments=20)
        out[f"{side}_knee"] = [(shin, "trousers")]
        shoe = M.ellipsoid([0.045, -0.03, 0.0], [0.095, 0.035, 0.048], subdivisions=1)
        out[f"{side}_ankle"] = [(shoe, "shoes")]
    return out


# Visual-only links fixed to the torso's links, listed after every other link: renderers draw in link order (PyBullet's
# TinyRenderer and EGL renderer), so the torso comes after the arms and head in front of it and its hidden pixels fail
# the depth test instead of being shaded and painted over (painter's order front to back; bench/body.py).
DRAWN_LAST = {"upper_torso": "chest", "lower_torso": "root"}


# Face joints (child of the neck link): name -> (type, origin in the neck link frame, axis, lower, upper).
def face_joints() -> dict[str, tuple[str, np.ndarray, tuple[float, float, float], float, float]]:
    joints: dict[str, tuple[str, np.ndarray, tuple[float, float, float], float, float]] = {}
    for side, name in ((-1, "left"), (1, "right")):
        joints[f"{name}_eye"] = ("spherical", eye_center(side), (0.0, 0.0, 1.0), 0.0, 0.0)
        close = LID_OPEN - LID_CLOSED
        joints[f"{name}_upper_lid"] = ("revolute", eye_center(side), (0.0, 0.0, -1.0), -0.3, close)
        joints[f"{name}_brow"] = ("prismatic", brow_center(side), (0.0, 1.0, 0.0), -0.004, BROW_TRAVEL)
    joints["jaw"] = ("prismatic", jaw_origin(), (0.0, -1.0, 0.0), 0.0, JAW_TRAVEL)
    joints["mouth"] = ("prismatic", jaw_origin(), (1.0, 0.0, 0.0), 0.0, MOUTH_TRAVEL)
    return joints


def _source_key() -> str:
    h = hashlib.sha256()
    for mod in (M.__file__, __file__):
        h.update(Path(mod).read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/fep-motion (default ~/.cache/fep-motion), as for the brain's native kernels."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fep-motion"


def _fmt(v) -> str:
    return " ".join(f"{float(x):.6f}" for x in v)


def _write_urdf(folder: Path, source_urdf: str) -> Path:
    palette = PALETTE
    text = Path(source_urdf).read_bytes().decode("utf-8", errors="replace")
    robot = ET.fromstring(text[: text.index("</robot>") + len("</robot>")])  # the file has trailing bytes
    tree = ET.ElementTree(robot)
    robot.set("name", "fep_motion_character")
    for link in robot.findall("link"):
        for tag in ("visual", "collision"):
            for el in link.findall(tag):
                link.remove(el)
        for origin in link.iter("origin"):
            origin.set("xyz", _fmt(np.array(origin.get("xyz").split(), dtype=float) * SCALE))
    for joint in robot.findall("joint"):
        for origin in joint.iter("origin"):
            origin.set("xyz", _fmt(np.array(origin.get("xyz").split(), dtype=float) * SCALE))
    for name, rgba in vars(palette).items():
        mat = ET.SubElement(robot, "material", name=name)
        ET.SubElement(mat, "color", rgba=_fmt(rgba))
    links = {link.get("name"): link for link in robot.findall("link")}
    extra = {name: ("neck", *joint) for name, joint in face_joints().items()}
    extra.update({name: (parent, "fixed", np.zeros(3), None, 0.0, 0.0) for name, parent in DRAWN_LAST.items()})
    for name, (parent, kind, origin, axis, lo, hi) in extra.items():
        link = ET.SubElement(robot, "link", name=name)
        inertial = ET.SubElement(link, "inertial")
        ET.SubElement(inertial, "origin", rpy="0 0 0", xyz="0 0 0")
        ET.SubElement(inertial, "mass", value="0.001")
        ET.SubElement(inertial, "inertia", ixx="1e-7", ixy="0", ixz="0", iyy="1e-7", iyz="0", izz="1e-7")
        links[name] = link
        joint = ET.SubElement(robot, "joint", name=name, type=kind)
        ET.SubElement(joint, "parent", link=parent)
        ET.SubElement(joint, "child", link=name)
        ET.SubElement(joint, "origin", rpy="0 0 0", xyz=_fmt(origin))
        if kind in ("revolute", "prismatic"):
            ET.SubElement(joint, "axis", xyz=_fmt(axis))
            ET.SubElement(joint, "limit", effort="1", lower=f"{lo:.6f}", upper=f"{hi:.6f}", velocity="10")
    parts = {**body_meshes(), **head_meshes()}
    bounds = {}
    for link_name, items in parts.items():
        vertices = np.concatenate([mesh.vertices for mesh, _ in items])
        bounds[link_name] = [vertices.min(axis=0).tolist(), vertices.max(axis=0).tolist()]
        link = links[link_name]
        for k, (mesh, material) in enumerate(items):
            fname = f"{link_name}_{k}.obj"
            M.write_obj(mesh, folder / fname)
            vis = ET.SubElement(link, "visual")
            ET.SubElement(vis, "origin", rpy="0 0 0", xyz="0 0 0")
            geom = ET.SubElement(vis, "geometry")
            ET.SubElement(geom, "mesh", filename=fname, scale="1 1 1")
            ET.SubElement(vis, "material", name=material)
    (folder / BOUNDS_FILE).write_text(json.dumps(bounds))
    path = folder / "character.urdf"
    tree.write(path)
    return path


def link_bounds(urdf: Path) -> dict[str, np.ndarray]:
    """Per dressed link, the box [[min xyz], [max xyz]] (link frame, metres) holding all of its meshes (written beside
    the URDF): the renderer projects these to find the character's pixels."""
    bounds = json.loads((Path(urdf).parent / BOUNDS_FILE).read_text())
    return {name: np.asarray(box, dtype=np.float64) for name, box in bounds.items()}


def stock_humanoid_urdf() -> str:
    """Path of pybullet_data's stock humanoid URDF: the skeleton the character dresses (and the bare body)."""
    import pybullet_data

    return os.path.join(pybullet_data.getDataPath(), "humanoid", "humanoid.urdf")


def character_urdf(source_urdf: str | None = None) -> Path:
    """Path of the character URDF, generated into the cache on first use (keyed by this generator's source)."""
    if source_urdf is None:
        source_urdf = stock_humanoid_urdf()
    final = cache_dir() / f"character-{_source_key()}"
    if (final / "character.urdf").is_file():
        return final / "character.urdf"
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="character-tmp-", dir=final.parent))
    try:
        _write_urdf(tmp, source_urdf)
        try:
            os.rename(tmp, final)  # atomic: a concurrent builder's identical copy may already be there
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final / "character.urdf"
