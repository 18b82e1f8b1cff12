"""The character's surroundings: key/fill lighting settings and the backdrop wall with the character's soft shadow.

The renderers have one directional light: it is the key (warm, from the upper left of the picture, in front of the
character); its ambient term is the fill. The wall is painted where the renderer drew nothing, and the key light's
shadow on it is the silhouette shifted away from the light and blurred (an image-space drop shadow): the cheap
version of a shadow map that keeps TinyRenderer within its frame budget (bench/body.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BGR = tuple[int, int, int]
BLOCK = 4  # pixels per side of a shadow cell; the rendered box of the frame starts on this grid
FAR_DEPTH = 0.99999  # depth-buffer values at or above this are the far plane: nothing drawn there


@dataclass(frozen=True)
class Lighting:
    """getCameraImage light settings: direction toward the key light (world), its colour, and the term weights."""

    direction: tuple[float, float, float] = (1.0, -0.75, 1.35)  # in front, to the picture's left, above
    color: tuple[float, float, float] = (1.0, 0.96, 0.9)
    ambient: float = 0.55  # the fill
    diffuse: float = 0.55
    specular: float = 0.08

    def kwargs(self) -> dict[str, object]:
        return {
            "lightDirection": list(self.direction),
            "lightColor": list(self.color),
            "lightAmbientCoeff": self.ambient,
            "lightDiffuseCoeff": self.diffuse,
            "lightSpecularCoeff": self.specular,
        }


@dataclass(frozen=True)
class Backdrop:
    """A warm wall: vertical gradient, a lamp glow behind the head, vignette; the character's shadow darkens it."""

    top: BGR = (196, 214, 226)
    bottom: BGR = (150, 168, 184)
    glow: float = 0.10  # brightening behind the head
    vignette: float = 0.22
    shadow_strength: float = 0.32
    shadow_offset: tuple[float, float] = (0.045, 0.035)  # fraction of the width/height, away from the key light
    shadow_blur: float = 0.035  # Gaussian sigma, fraction of the width

    def wall(self, width: int, height: int) -> np.ndarray:
        """The wall picture [H, W, 3] BGR uint8 at this size."""
        y = np.linspace(0.0, 1.0, height)[:, None, None]
        x = np.linspace(-1.0, 1.0, width)[None, :, None]
        top, bottom = np.asarray(self.top, float), np.asarray(self.bottom, float)
        img = top * (1.0 - y) + bottom * y
        yy = np.linspace(-1.0, 1.0, height)[:, None, None]
        glow = np.exp(-((x / 0.55) ** 2 + ((yy + 0.35) / 0.6) ** 2))
        img = img * (1.0 + self.glow * glow)
        img = img * (1.0 - self.vignette * (x**2 * 0.6 + yy**2 * 0.4))
        return np.clip(img, 0, 255).astype(np.uint8)


class Compositor:
    """Puts rendered frames in front of the backdrop at one frame size (the wall is painted once)."""

    def __init__(self, width: int, height: int, backdrop: Backdrop | None = None) -> None:
        import cv2

        self._cv2 = cv2
        self.backdrop = backdrop or Backdrop()
        self.width, self.height = width, height
        self._wall = self.backdrop.wall(width, height)
        self._small = (-(-width // BLOCK), -(-height // BLOCK))  # the shadow's grid: one cell per BLOCK x BLOCK pixels
        sw, sh = self._small
        dx, dy = self.backdrop.shadow_offset
        self._shift = np.float32([[1, 0, dx * sw], [0, 1, dy * sh]])
        self._sigma = max(0.5, self.backdrop.shadow_blur * sw)

    def shadow(self, drawn: np.ndarray, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
        """Per-pixel wall brightness in [1 - shadow_strength, 1] (uint8 scaled to 255) of the whole frame, from the
        silhouette `drawn` (uint8, non-zero where the character is) placed at pixel `origin` (x, y on the BLOCK
        grid)."""
        cv2 = self._cv2
        h, w = drawn.shape
        if h % BLOCK or w % BLOCK:  # a box at the frame's edge: pad to whole cells
            drawn = cv2.copyMakeBorder(drawn, 0, -h % BLOCK, 0, -w % BLOCK, cv2.BORDER_CONSTANT, value=0)
        cells = cv2.resize(drawn, (drawn.shape[1] // BLOCK, drawn.shape[0] // BLOCK), interpolation=cv2.INTER_AREA)
        small = np.zeros(self._small[::-1], dtype=np.float32)
        cx, cy = origin[0] // BLOCK, origin[1] // BLOCK
        small[cy : cy + cells.shape[0], cx : cx + cells.shape[1]][cells > 0] = self.backdrop.shadow_strength
        small = cv2.warpAffine(small, self._shift, self._small, borderValue=0)
        small = cv2.GaussianBlur(small, (0, 0), self._sigma)
        light = cv2.convertScaleAbs(small, alpha=-255.0, beta=255.0)
        return cv2.resize(light, (self.width, self.height), interpolation=cv2.INTER_LINEAR)

    def compose(self, rgba: np.ndarray, depth: np.ndarray, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
        """BGR frame: the renderer's RGBA where it drew, the wall (with the character's shadow) elsewhere. rgba and
        depth may be a box of the frame whose top-left pixel is `origin` (x, y on the BLOCK grid)."""
        cv2 = self._cv2
        drawn = cv2.compare(depth, FAR_DEPTH, cv2.CMP_LT)  # 255 where the renderer drew (depth below the far plane)
        out = cv2.multiply(self._wall, cv2.cvtColor(self.shadow(drawn, origin), cv2.COLOR_GRAY2BGR), scale=1.0 / 255.0)
        x, y = origin
        h, w = depth.shape
        cv2.copyTo(cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGR), drawn, out[y : y + h, x : x + w])
        return out
