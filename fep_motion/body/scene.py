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
        self._small = (max(8, width // 4), max(6, height // 4))
        sw, sh = self._small
        dx, dy = self.backdrop.shadow_offset
        self._shift = np.float32([[1, 0, dx * sw], [0, 1, dy * sh]])
        self._sigma = max(0.5, self.backdrop.shadow_blur * sw)

    def shadow(self, depth: np.ndarray) -> np.ndarray:
        """Per-pixel wall brightness in [1 - shadow_strength, 1] (uint8 scaled to 255) from the depth's silhouette."""
        cv2 = self._cv2
        small = cv2.resize(depth, self._small, interpolation=cv2.INTER_AREA)
        _, small = cv2.threshold(small, 0.99999, self.backdrop.shadow_strength, cv2.THRESH_BINARY_INV)
        small = cv2.warpAffine(small, self._shift, self._small, borderValue=0)
        small = cv2.GaussianBlur(small, (0, 0), self._sigma)
        full = cv2.resize(small, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        return cv2.convertScaleAbs(full, alpha=-255.0, beta=255.0)

    def compose(self, rgba: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """BGR frame: the renderer's RGBA where it drew, the wall (with the character's shadow) at the far plane."""
        cv2 = self._cv2
        light = self.shadow(depth)
        out = cv2.multiply(self._wall, cv2.cvtColor(light, cv2.COLOR_GRAY2BGR), scale=1.0 / 255.0)
        _, mask = cv2.threshold(depth, 0.99999, 255, cv2.THRESH_BINARY_INV)
        cv2.copyTo(cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGR), mask.astype(np.uint8), out)
        return out
