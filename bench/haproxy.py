"""A load balancer image for the Swarm lab: Debian's haproxy package on the local base image.

Nothing can be pulled here and containers cannot reach the network, so the image is built
offline from .deb files that the host downloads: apt works out which packages the base
image lacks (its own dpkg status file stands in for the host's), `apt-get download` fetches
exactly those into a cache, and the build installs them with dpkg. The image runs the
config given at /usr/local/etc/haproxy/haproxy.cfg, where the official haproxy image reads it.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from uaipack import UserError, engine

REPOSITORY = "localhost/uaipack-lab/haproxy"
CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg"
CACHE = Path.home() / ".cache" / "uaipack" / "debs"
DOCKERFILE = f"""\
FROM {{base}}
COPY debs/ /tmp/debs/
RUN dpkg -i /tmp/debs/*.deb && rm -rf /tmp/debs && haproxy -v
USER haproxy
EXPOSE 8080
CMD ["haproxy", "-W", "-db", "-f", "{CONFIG_PATH}"]
"""
_INSTALL = re.compile(r"^Inst (\S+) \((\S+) ", re.M)


def haproxy_image(base_image: str, say=print) -> str:
    """The image's tag (built once per haproxy version and reused)."""
    packages = missing_packages(base_image)
    version = dict(packages)["haproxy"]
    tag = f"{REPOSITORY}:{re.sub(r'[^A-Za-z0-9_.-]', '_', version)}"
    if engine.image_exists(tag):
        return tag
    say(f"building {tag} from Debian's packages: {', '.join(name for name, _ in packages)}")
    debs = download(packages)
    with tempfile.TemporaryDirectory(prefix="uaipack-haproxy-") as context:
        (Path(context) / "debs").mkdir()
        for deb in debs:
            shutil.copyfile(deb, Path(context) / "debs" / deb.name)
        (Path(context) / "Dockerfile").write_text(DOCKERFILE.format(base=base_image))
        engine.client().images.build(path=context, tag=tag, network_mode="none", rm=True, forcerm=True)
    return tag


def missing_packages(base_image: str) -> list[tuple[str, str]]:
    """(package, version) pairs apt would install on the base image to get haproxy."""
    status = dpkg_status(base_image)
    with tempfile.NamedTemporaryFile("wb", suffix=".status") as copy:
        copy.write(status)
        copy.flush()
        result = subprocess.run(
            [
                "apt-get",
                "-s",
                "-o",
                f"Dir::State::status={copy.name}",
                "install",
                "--no-install-recommends",
                "haproxy",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    found = _INSTALL.findall(result.stdout)
    if result.returncode != 0 or not any(name == "haproxy" for name, _ in found):
        reason = (result.stderr.strip() or "no haproxy candidate").splitlines()[-1]
        raise UserError(
            f"apt cannot plan haproxy for the base image ({reason}); "
            "run `apt-get update` (scripts/bootstrap.sh does)."
        )
    return found


def dpkg_status(image: str) -> bytes:
    """The base image's /var/lib/dpkg/status, read from a container that is never started."""
    container = engine.client().containers.create(image, command=["true"])
    try:
        stream, _ = container.get_archive("/var/lib/dpkg/status")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            return archive.extractfile("status").read()
    finally:
        container.remove(force=True)


def download(packages: list[tuple[str, str]]) -> list[Path]:
    """The .deb files, from the cache or `apt-get download` (Debian's mirror, the host's apt)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    wanted = {name: version for name, version in packages}
    missing = [f"{name}={version}" for name, version in wanted.items() if not cached_deb(name, version)]
    if missing:
        result = subprocess.run(["apt-get", "download", *missing], cwd=CACHE, capture_output=True, text=True)
        if result.returncode != 0:
            raise UserError(f"apt-get download {' '.join(missing)} failed: {result.stderr.strip()[-300:]}")
    return [cached_deb(name, version) for name, version in wanted.items()]


def cached_deb(name: str, version: str) -> Path | None:
    """apt names a download `<name>_<version with : as %3a>_<arch>.deb`."""
    matches = sorted(CACHE.glob(f"{name}_{version.replace(':', '%3a')}_*.deb"))
    return matches[0] if matches else None
