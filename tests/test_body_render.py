"""Headless rendering (EGL / TinyRenderer), the video-call framing, and the gallery/show clips read back by OpenCV."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from video_helpers import read_video

from cli import main
from fep_motion.body.clip import frame_times, gallery_timeline
from fep_motion.body.errors import BodyError
from fep_motion.body.render import BodyRenderer
from sampling.primitives import REST_POSE, get_primitive


def head_box(renderer, size):
    """Pixel box around the projected head sphere."""
    cx, cy = renderer.camera.project(renderer.humanoid.head_center(), *size)
    r = 0.16 * size[1]
    return int(cy - r), int(cy + r), int(cx - r), int(cx + r)


def open_renderer(size, backend):
    try:
        return BodyRenderer(*size, backend=backend)
    except BodyError as exc:  # the EGL plugin needs libEGL (Mesa or a GPU driver)
        pytest.skip(str(exc))


@pytest.mark.parametrize("backend", ["tiny", "egl"])
def test_nod_peak_differs_visibly_from_rest_in_the_head_region(backend):
    size = (160, 120)
    with open_renderer(size, backend) as r:
        assert r.backend == backend
        rest = r.render(REST_POSE).astype(np.float32)
        y0, y1, x0, x1 = head_box(r, size)
        nod = get_primitive("nod")
        peak = REST_POSE + nod.offsets(np.array([0.5 / nod.defaults()["tempo"]]))[0]
        down = r.render(peak).astype(np.float32)
    assert rest.shape == (120, 160, 3)
    assert rest.std() > 10  # a body on a background, not a blank frame
    diff = np.abs(down - rest).mean(axis=2)
    head = diff[max(y0, 0) : y1, max(x0, 0) : x1]
    assert head.mean() > 4.0  # visibly different around the head
    lower = diff[int(0.75 * size[1]) :, :]
    assert lower.mean() < 0.5  # ... and only there


def test_egl_and_tiny_frame_the_same_body():
    size = (160, 120)
    with BodyRenderer(*size, backend="tiny") as t:
        a = t.render(REST_POSE)
    with open_renderer(size, "egl") as e:
        b = e.render(REST_POSE)
    # Same camera and scene: the body silhouettes overlap (background differs between renderers).
    bg_a, bg_b = a[0, 0].astype(int), b[0, 0].astype(int)
    mask_a = np.abs(a.astype(int) - bg_a).sum(axis=2) > 30
    mask_b = np.abs(b.astype(int) - bg_b).sum(axis=2) > 30
    iou = (mask_a & mask_b).sum() / (mask_a | mask_b).sum()
    assert iou > 0.8


@pytest.mark.parametrize("backend,size", [("tiny", (320, 240)), ("tiny", (162, 122)), ("egl", (320, 240))])
def test_rendering_only_the_characters_box_gives_the_whole_frames_pixels(backend, size):
    from fep_motion.body.stills import STILLS, still_pose

    with open_renderer(size, backend) as r:
        for still in STILLS[:3]:  # idle, nod, wave (a hand raised high)
            boxed = r.render(still_pose(still), still.face).astype(np.int16)
            _x, _y, w, h = r.character_box()
            assert w * h < 0.8 * size[0] * size[1]  # a box, not the frame
            r.character_box = lambda: (0, 0, *size)
            whole = r.render(still_pose(still), still.face).astype(np.int16)
            del r.character_box
            diff = np.abs(boxed - whole).max(axis=2)
            assert (diff > 2).mean() < 1e-3 and diff.mean() < 0.05, (still.name, diff.max(), (diff > 2).sum())


def test_auto_prefers_tinyrenderer_on_a_software_gl_device():
    with BodyRenderer(160, 120, backend="auto") as r:
        frame = r.render(REST_POSE)
        software = any(name in r.gl_renderer.lower() for name in ("llvmpipe", "softpipe", "swrast"))
        assert r.backend == ("tiny" if software or not r.gl_renderer else "egl")
    assert frame.shape == (120, 160, 3) and frame.std() > 10


def test_renderer_rejects_bad_backend_and_size():
    with pytest.raises(BodyError, match="backend"):
        BodyRenderer(backend="vulkan")
    with pytest.raises(BodyError, match="size"):
        BodyRenderer(8, 8)


def test_gallery_writes_a_video_opencv_reads_back(tmp_path, capsys):
    out = tmp_path / "gallery.mp4"
    rc = main(
        ["body", "gallery", "--out", str(out), "--only", "nod", "wave", "--size", "160x120", "--fps", "15"]
    )
    assert rc == 0
    _, _, end = gallery_timeline(["nod", "wave"])
    frames = read_video(out)
    assert len(frames) == len(frame_times(0.0, end, 15.0))
    assert frames[0].shape == (120, 160, 3)
    assert "wrote" in capsys.readouterr().out


def test_show_runs_headless_without_a_display(tmp_path):
    out = tmp_path / "nod.mp4"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "body",
            "show",
            "nod",
            "--param",
            "cycles=1",
            "--out",
            str(out),
            "--size",
            "96x72",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    frames = read_video(out)
    assert len(frames) > 20 and frames[0].shape == (72, 96, 3)


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["body", "show", "moonwalk", "--out", "x.mp4"], "unknown primitive 'moonwalk'"),
        (["body", "show", "nod", "--param", "amplitude", "--out", "x.mp4"], "KEY=NUMBER"),
        (["body", "show", "nod", "--param", "amplitude=3", "--out", "x.mp4"], "outside"),
        (["body", "show", "nod"], "--out"),
        (["body", "show", "nod", "--out", "/no/such/dir/x.mp4"], "does not exist"),
        (["body", "gallery", "--out", "g.mp4", "--size", "big"], "--size"),
        (["body", "mocap", "moonwalk", "--out", "m.mp4"], "no mocap clip"),
        (["body", "export-bvh", "nod@soon", "--out", "a.bvh"], "seconds"),
    (["body", "show", "nod", "--gui"], "DISPLAY"),
    ],
)
def test_cli_errors_are_one_line_exit_2(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISPLAY", raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_list_shows_every_primitive_and_its_ranges(capsys):
    from sampling.primitives import all_primitives

    assert main(["body", "list"]) == 0
    out = capsys.readouterr().out
    for prim in all_primitives():
        assert prim.name in out
    assert "amplitude  float [0.05, 0.3] default 0.18 rad" in out
