"""Rendering the body headless (p.DIRECT) or in the GUI, with one fixed camera framing the upper body like a video call.

Scene: the character lit by a warm key light from the upper left (the
renderer's one directional light: diffuse + a little specular) and a fill (its ambient term), in front of a backdrop
wall. The wall is composited per frame where nothing was drawn (depth at the far plane): a vertical warm gradient
with a vignette, darkened by a soft shadow of the character's silhouette cast by the key light (offset away from it
and blurred), so the character stands in a room rather than on white.

Only the character's pixels are rendered: each frame its links' mesh boxes are projected, and the renderer draws that
rectangle alone through an off-axis projection (the same pixels as the full frame, fewer of them: the renderers' clears,
copies and read-backs cost per pixel, bench/body.py); the rest of the frame is wall.

Backends: `egl` = PyBullet's EGL plugin (a GPU, or Mesa's llvmpipe without one); `tiny` = TinyRenderer (CPU);
`auto` = EGL when the plugin loads on a hardware GL device, TinyRenderer otherwise (on llvmpipe TinyRenderer is
measured faster at 320x240, bench/body.py); `gui` = the PyBullet window for live sessions.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from typing import Self

import numpy as np

from fep_motion.body.errors import BodyError
from fep_motion.body.face import FaceState
from fep_motion.body.humanoid import Humanoid, quiet_native_output
from fep_motion.body.scene import BLOCK, Compositor, Lighting

BACKENDS = ("auto", "egl", "tiny", "gui")
# GL renderers that rasterize on the CPU: there TinyRenderer is faster at the session's 320x240 (bench/body.py, 2 cores:
# EGL/Tiny 1.3-1.8 there; at 640x480 EGL is as fast or faster when its rasterizer threads get a free core).
SOFTWARE_GL = ("llvmpipe", "softpipe", "swrast", "lavapipe")


@dataclass(frozen=True)
class Camera:
    """A fixed camera at the human's seat, looking at the agent's head and upper body (video-call framing)."""

    eye: tuple[float, float, float] = (1.30, 0.10, 1.54)
    target: tuple[float, float, float] = (0.0, 0.0, 1.44)
    fov_deg: float = 34.0
    near: float = 0.05
    far: float = 10.0

    def matrices(self, width: int, height: int) -> tuple[list[float], list[float]]:
        import pybullet as p

        view = p.computeViewMatrix(self.eye, self.target, [0.0, 0.0, 1.0])
        proj = p.computeProjectionMatrixFOV(self.fov_deg, width / height, self.near, self.far)
        return view, proj

    def project(self, point: np.ndarray, width: int, height: int) -> tuple[float, float]:
        """Pixel (x, y) of a world point in this camera's image (for tests and overlays)."""
        view, proj = self.matrices(width, height)
        v = np.asarray(view).reshape(4, 4).T
        pr = np.asarray(proj).reshape(4, 4).T
        clip = pr @ v @ np.append(np.asarray(point, dtype=np.float64), 1.0)
        ndc = clip[:3] / clip[3]
        return (ndc[0] + 1.0) * 0.5 * width, (1.0 - ndc[1]) * 0.5 * height


def crop_projection(proj: np.ndarray, width: int, height: int, box: tuple[int, int, int, int]) -> list[float]:
    """PyBullet (column-major) projection that renders only pixels box = (x, y, w, h) of a width x height image whose
    projection is `proj` (row-major 4x4; y counts rows from the top): NDC is scaled and shifted so the box fills the
    viewport, an off-axis frustum as in OpenGL's glFrustum (the OpenGL 2.1 reference pages)."""
    x, y, w, h = box
    bottom = height - (y + h)  # the box's first row counted from the bottom, as NDC y is
    fit = np.array(
        [
            [width / w, 0.0, 0.0, (width - w - 2.0 * x) / w],
            [0.0, height / h, 0.0, (height - h - 2.0 * bottom) / h],
            [0.0, 0.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )
    return (fit @ proj).T.reshape(-1).tolist()


def _span(pixels: np.ndarray, size: int) -> tuple[int, int]:
    """[start, end) of the pixel coordinates widened by one pixel, start on the BLOCK grid, end on it or at the frame's
    edge, at least BLOCK wide, inside [0, size)."""
    start = min(max(int(np.floor(pixels.min())) - 1, 0), size - BLOCK) // BLOCK * BLOCK
    end = -(-(int(np.ceil(pixels.max())) + 1) // BLOCK) * BLOCK
    return start, min(max(end, start + BLOCK), size)


def _gl_renderer(report: str) -> str:
    """The GL_RENDERER line the EGL plugin prints when it loads ('' if absent)."""
    for line in report.splitlines():
        if line.strip().startswith("GL_RENDERER="):
            return line.split("=", 1)[1].strip()
    return ""


def egl_plugin_path() -> str | None:
    """Path of PyBullet's eglRenderer plugin module, or None if it is not installed."""
    spec = importlib.util.find_spec("eglRenderer")
    return spec.origin if spec and spec.origin else None


class BodyRenderer:
    """A PyBullet client holding the humanoid and a camera; `render(pose)` returns a BGR uint8 frame."""

    def __init__(
        self, width: int = 320, height: int = 240, backend: str = "auto", camera: Camera | None = None
    ) -> None:
        with quiet_native_output():
            import pybullet as p

        if backend not in BACKENDS:
            raise BodyError(f"render backend '{backend}' unknown (choose one of {', '.join(BACKENDS)})")
        if not (16 <= width <= 4096 and 16 <= height <= 4096):
            raise BodyError(f"render size {width}x{height} out of range (16..4096 pixels per side)")
        self._p, self.width, self.height = p, int(width), int(height)
        self.camera = camera or Camera()
        self.plugin = -1
        self.gl_renderer = ""
        if backend == "gui":
            if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
                # PyBullet's X11 window exits the process when there is no display: refuse before that.
                raise BodyError("cannot open the PyBullet GUI: no DISPLAY; drop --gui and write a clip with --out")
            with quiet_native_output():
                self.client = p.connect(p.GUI)
            if self.client < 0:
                raise BodyError(
                    "cannot open the PyBullet GUI (no display?): drop --gui and write a clip with --out"
                )
            p.configureDebugVisualizer(p.COV_ENABLE_GUI, 0, physicsClientId=self.client)
            p.resetDebugVisualizerCamera(
                1.5, 90.0, -3.0, list(self.camera.target), physicsClientId=self.client
            )
            self.backend = "gui"
        else:
            self.client = p.connect(p.DIRECT)
            self.backend = "tiny"
            plugin = egl_plugin_path() if backend in ("auto", "egl") else None
            if plugin:
                report: list[str] = []
                with quiet_native_output(capture=report):
                    self.plugin = p.loadPlugin(plugin, "_eglRendererPlugin", physicsClientId=self.client)
                self.gl_renderer = _gl_renderer("".join(report))
                software = any(name in self.gl_renderer.lower() for name in SOFTWARE_GL)
                if self.plugin >= 0 and backend == "auto" and software:
                    # CPU rasterizer: TinyRenderer is faster. A fresh client, since unloading the plugin leaves
                    # TinyRenderer drawing black frames.
                    with quiet_native_output():
                        p.disconnect(self.client)
                    self.client = p.connect(p.DIRECT)
                    self.plugin = -1
                if self.plugin >= 0:
                    self.backend = "egl"
            if backend == "egl" and self.backend != "egl":
                p.disconnect(self.client)
                raise BodyError("the EGL renderer plugin did not load: use --backend tiny (or auto)")
        self.humanoid = Humanoid(self.client)
        self._view, self._proj = self.camera.matrices(self.width, self.height)
        self._proj_rows = np.asarray(self._proj, dtype=np.float64).reshape(4, 4).T
        self._clip = self._proj_rows @ np.asarray(self._view, dtype=np.float64).reshape(4, 4).T  # world -> clip
        self.lighting = Lighting()
        self._compositor = Compositor(self.width, self.height)
        self._renders = 0

    def render(self, pose: np.ndarray | None = None, face: FaceState | None = None) -> np.ndarray:
        """Set pose (semantic angles) and face (gaze, lids, jaw, brows); None keeps the current one. Returns the camera
        image [H, W, 3] BGR uint8: the lit character in front of the backdrop wall."""
        p = self._p
        if pose is not None:
            self.humanoid.set_pose(pose)
        if face is not None or (pose is not None and self.humanoid.face is not None):
            self.humanoid.set_face(face if face is not None else self.humanoid.face)  # eyes follow the head
        renderer = p.ER_BULLET_HARDWARE_OPENGL if self.backend in ("egl", "gui") else p.ER_TINY_RENDERER
        box = self.character_box()
        x, y, w, h = box
        with (
            quiet_native_output() if self._renders < 3 else contextlib.nullcontext()
        ):  # EGL chatter on first uses
            _, _, rgba, depth, _ = p.getCameraImage(
                w,
                h,
                self._view,
                crop_projection(self._proj_rows, self.width, self.height, box),
                renderer=renderer,
                shadow=0,
                flags=p.ER_NO_SEGMENTATION_MASK,
                physicsClientId=self.client,
                **self.lighting.kwargs(),
            )
        self._renders += 1
        rgba = np.asarray(rgba, dtype=np.uint8).reshape(h, w, 4)
        return self._compositor.compose(rgba, np.asarray(depth, dtype=np.float32).reshape(h, w), (x, y))

    def character_box(self) -> tuple[int, int, int, int]:
        """Pixel box (x, y, w, h) that holds all of the character at its current pose: its links' mesh boxes
        projected, widened by a pixel and to the compositor's BLOCK grid, clipped to the frame (the whole frame if a
        box reaches behind the camera)."""
        full = (0, 0, self.width, self.height)
        corners = self.humanoid.box_corners()
        if corners is None:
            return full
        clip = corners.reshape(-1, 3) @ self._clip[:, :3].T + self._clip[:, 3]
        if np.any(clip[:, 3] <= self.camera.near):
            return full
        x0, x1 = _span((clip[:, 0] / clip[:, 3] + 1.0) * 0.5 * self.width, self.width)
        y0, y1 = _span((1.0 - clip[:, 1] / clip[:, 3]) * 0.5 * self.height, self.height)
        return x0, y0, x1 - x0, y1 - y0

    def close(self) -> None:
        if self.client is not None and self._p.isConnected(self.client):
            with quiet_native_output():
                if self.plugin >= 0:
                    self._p.unloadPlugin(self.plugin, physicsClientId=self.client)
                self._p.disconnect(self.client)
        self.client = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def draw_label(frame: np.ndarray, text: str) -> np.ndarray:
    """Draw text in the frame's top-left corner (white on a dark band), in place; returns the frame."""
    import cv2

    scale = max(0.4, frame.shape[0] / 480.0)
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(frame, (0, 0), (w + 12, h + base + 10), (30, 30, 30), -1)
    cv2.putText(frame, text, (6, h + 5), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return frame
