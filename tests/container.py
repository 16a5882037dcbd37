"""Podman for the container image test, on a base image made locally.

Registries for base images are out of reach where the tests run, Debian's package
mirror is not: the base is a minimal Debian bookworm with Python made by ``debootstrap``,
kept as a tarball under ``build/container/`` (ignored by git) so a checkout makes it
once, and imported into a podman store of its own beside it. A store of its own means
the test never touches other images on the machine and can prune what it leaves.

Two settings make podman run on hosts like CI's and are harmless elsewhere: ``runc``
(crun refuses a host whose cgroup v2 hierarchy has controllers beside cgroup v1's), and
explicit ``--ulimit`` values no higher than this process's own (podman otherwise asks
for 1,048,576 open files, which needs CAP_SYS_RESOURCE).
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "container"
SUITE = "bookworm"
# python-is-python3 gives `python`, which the Dockerfile and its health check call.
PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
# Trimmed from the base: the image needs none of it, and it is a third of the size.
TRIM = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
        "usr/share/locale")
# The host's trust store, given to the build so that pip trusts what the host trusts
# (a TLS-inspecting proxy's certificate, for one). Debian's pip reads this path.
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def _recipe() -> str:
    return hashlib.sha256(repr((SUITE, PACKAGES, TRIM)).encode()).hexdigest()[:12]


class Podman:
    """``podman`` on a store under ``build/container/``; its run and tmp directories are
    named after that store so every call (and a later session) finds the same ones."""

    def __init__(self, store: Path = CACHE / "storage") -> None:
        self.store = store
        state = Path(tempfile.gettempdir()) / ("pyconvex-podman-" + hashlib.sha256(
            str(store).encode()).hexdigest()[:12])
        self.argv = ["podman", "--root", str(store), "--runroot", str(state / "run"),
                     "--tmpdir", str(state / "tmp"), "--runtime", "runc",
                     "--cgroup-manager", "cgroupfs", "--events-backend", "file"]

    def __call__(self, *args: str, check: bool = True, timeout: float = 120
                 ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*self.argv, *args], capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} exited {done.returncode}:\n"
                                 f"{done.stdout}\n{done.stderr}")
        return done

    @staticmethod
    def ulimits() -> list[str]:
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
        # podman lowers its own process limit to 32,768 before it starts the runtime.
        limits = {"nofile": min(nofile, 65_536), "nproc": min(nproc, 32_768)}
        return [f"--ulimit={name}={n}:{n}" for name, n in limits.items()]


def base_image(podman: Podman) -> str:
    """The debootstrapped base, imported into ``podman``'s store (made if missing)."""
    tag = f"localhost/pyconvex-base:{SUITE}-{_recipe()}"
    if podman("image", "exists", tag, check=False).returncode == 0:
        return tag
    tarball = CACHE / f"base-{SUITE}-{_recipe()}.tar"
    if not tarball.exists():
        _debootstrap(tarball)
    podman("import", "--change", 'CMD ["python"]', str(tarball), tag, timeout=300)
    return tag


def _debootstrap(tarball: Path) -> None:
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tarball.parent) as work:
        rootfs = Path(work) / "rootfs"
        done = subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES), SUITE, str(rootfs)],
            capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise AssertionError(f"debootstrap exited {done.returncode}:\n{done.stdout[-4000:]}\n"
                                 f"{done.stderr[-4000:]}")
        for part in TRIM:
            for child in (rootfs / part).iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."],
                       check=True, timeout=300)
        os.replace(partial, tarball)


def build_image(podman: Podman, base: str, tag: str) -> None:
    """The repository's Dockerfile built on ``base``: Docker's format, which keeps
    HEALTHCHECK (the OCI format has no place for it). No layer cache: the source is
    copied before the install, so any change rebuilds it all anyway, and committing
    every step's layer cost a fifth of the build's time."""
    mounts = [f"--volume={CA_BUNDLE}:{CA_BUNDLE}:ro"] if CA_BUNDLE.exists() else []
    podman("build", "--format", "docker", "--layers=false", "--network", "host", *podman.ulimits(), *mounts,
           "--build-arg", f"BASE={base}", "--tag", tag, str(ROOT), timeout=900)
    # The image the tag pointed at before: dangling, and in this store alone.
    podman("image", "prune", "--force")
