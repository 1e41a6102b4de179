"""The local Kafka: Apache Kafka 4.x in single-node KRaft mode, run from Maven Central jars.

The classpath comes from ``deploy/kafka/pom.xml`` (``mvn dependency:build-classpath``) and is cached
under ``cache_dir`` so later starts need no Maven at all.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from string import Template

from touchline.errors import TouchlineError
from touchline.services import process
from touchline.settings import REPO_ROOT, Settings

DEPLOY = REPO_ROOT / "deploy" / "kafka"


@dataclass(frozen=True)
class KafkaPorts:
    port: int
    controller_port: int


def require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise TouchlineError(
            "Java 17+ is needed to run the local Kafka broker: install it "
            "(apt-get install openjdk-17-jre-headless) or set TOUCHLINE_KAFKA_BOOTSTRAP to a broker"
        )
    return java


def classpath(settings: Settings) -> str:
    """The broker's runtime classpath, resolved once with Maven and cached outside git."""
    cache = settings.cache_dir / f"kafka-{settings.kafka_version}.classpath"
    if cache.exists():
        cp = cache.read_text().strip()
        if cp and all(Path(jar).exists() for jar in cp.split(":")):
            return cp
    mvn = shutil.which("mvn")
    if mvn is None:
        raise TouchlineError(
            "Maven is needed once to fetch the Kafka jars: install it (apt-get install maven) "
            "or set TOUCHLINE_KAFKA_BOOTSTRAP to an existing broker"
        )
    cache.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(DEPLOY / "pom.xml"),
            f"-Dkafka.version={settings.kafka_version}",
            "dependency:build-classpath",
            f"-Dmdep.outputFile={cache}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not cache.exists():
        tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
        raise TouchlineError(
            f"could not resolve Kafka {settings.kafka_version} from Maven Central: "
            + " | ".join(tail)
        )
    return cache.read_text().strip()


def _cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def format_storage(jvm: list[str], config: Path, cluster_id: str) -> None:
    """Format the broker's storage. The id is passed as ``--cluster-id=ID``: a random id can
    begin with "-", and ``-t ID`` then reads it as an option (about one start in 64 failed)."""
    fmt = subprocess.run(
        [
            *jvm,
            "kafka.tools.StorageTool",
            "format",
            f"--cluster-id={cluster_id}",
            "-c",
            str(config),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if fmt.returncode != 0:
        raise TouchlineError(f"formatting Kafka storage failed: {fmt.stderr.strip()[-300:]}")


def start(settings: Settings, run_dir: Path, ports: KafkaPorts) -> None:
    java = require_java()
    cp = classpath(settings)
    data_dir = run_dir / "data"
    run_dir.mkdir(parents=True, exist_ok=True)
    config = run_dir / "server.properties"
    config.write_text(
        Template((DEPLOY / "server.properties.template").read_text()).substitute(
            port=ports.port,
            controller_port=ports.controller_port,
            data_dir=data_dir.resolve(),
            partitions=settings.topic_partitions,
        )
    )
    jvm = [
        java,
        f"-Xmx{settings.kafka_heap}",
        "-Xms128m",
        "-XX:+UseG1GC",
        "-XX:TieredStopAtLevel=1",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={DEPLOY / 'log4j2.properties'}",
        f"-Dkafka.logs.file={(run_dir / 'server.log').resolve()}",
        "-cp",
        cp,
    ]
    if not (data_dir / "meta.properties").exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        format_storage(jvm, config, _cluster_id())
    proc = process.start("kafka", [*jvm, "kafka.Kafka", str(config)], run_dir)

    def healthy() -> bool:
        return metadata_ok(f"127.0.0.1:{ports.port}")

    process.wait_until(
        healthy, 90, f"Kafka (log: {run_dir / 'server.log'})", lambda: proc.poll() is None
    )


def metadata_ok(bootstrap: str, timeout: float = 2.0) -> bool:
    """The broker answers a metadata request."""
    from confluent_kafka.admin import AdminClient

    try:
        admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
        meta = admin.list_topics(timeout=timeout)
    except Exception:
        return False
    return bool(meta.brokers)
