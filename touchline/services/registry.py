"""The local schema registry: Apicurio Registry 3.0.x, whose Confluent-compatible API
(``/apis/ccompat/v7``) confluent-kafka's registry client talks to.

Its distribution archive comes from Maven Central
(``io.apicurio:apicurio-registry-app:V:tar.gz:all``),
is unpacked once into ``cache_dir`` and runs on Java 17 with file-backed H2 storage under the state
directory, so schema ids survive restarts just like the Kafka data that refers to them.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import urllib.request
from pathlib import Path

from touchline.endpoints import local_registry_url
from touchline.errors import TouchlineError
from touchline.services import process
from touchline.services.kafka import require_java
from touchline.settings import Settings


def distribution(settings: Settings) -> Path:
    """The unpacked registry, fetched with Maven on first use."""
    version = settings.registry_version
    home = settings.cache_dir / f"apicurio-registry-{version}"
    jar = home / f"apicurio-registry-app-{version}-runner.jar"
    if jar.exists():
        return jar
    mvn = shutil.which("mvn")
    if mvn is None:
        raise TouchlineError(
            "Maven is needed once to fetch the schema registry: install it (apt-get install "
            "maven), or set TOUCHLINE_LOCAL_REGISTRY=false to use single-object encoding"
        )
    artifact = f"io.apicurio:apicurio-registry-app:{version}:tar.gz:all"
    result = subprocess.run(
        [mvn, "-q", "-B", "dependency:get", "-Dtransitive=false", f"-Dartifact={artifact}"],
        capture_output=True,
        text=True,
        check=False,
    )
    m2 = Path.home() / ".m2" / "repository" / "io" / "apicurio" / "apicurio-registry-app"
    archive = m2 / version / f"apicurio-registry-app-{version}-all.tar.gz"
    if result.returncode != 0 or not archive.exists():
        tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-2:])
        raise TouchlineError(f"could not fetch {artifact} from Maven Central: {tail}")
    staging = home.with_suffix(".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(staging, filter="data")
    staging.rename(home)
    return jar


def start(settings: Settings, run_dir: Path, port: int) -> None:
    java = require_java()
    jar = distribution(settings)
    run_dir.mkdir(parents=True, exist_ok=True)
    db = (run_dir / "data" / "registry").resolve()
    proc = process.start(
        "registry",
        [
            java,
            "-Xmx192m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Dquarkus.http.host=127.0.0.1",
            f"-Dquarkus.http.port={port}",
            f"-Dapicurio.datasource.url=jdbc:h2:file:{db}",
            "-jar",
            str(jar),
        ],
        run_dir,
    )
    process.wait_until(
        lambda: healthy(local_registry_url(port)),
        90,
        f"the schema registry (log: {run_dir / 'registry.log'})",
        lambda: proc.poll() is None,
    )


def healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/subjects", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False
