"""docker-compose.yml is valid against the Compose specification (offline: the schema ships
with check-jsonschema) and runs the services production needs, with health checks."""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def test_compose_file_matches_the_compose_spec():
    tool = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    result = subprocess.run(
        [tool, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_web_worker_beat_postgres_redis_with_health_checks():
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert {"web", "worker", "beat", "db", "redis"} <= set(services)
    for name in ("web", "worker", "beat", "db", "redis"):
        assert "healthcheck" in services[name], name
    assert "gunicorn" in Path(ROOT / "Dockerfile").read_text()
    assert {"pgdata", "redisdata", "private_media"} <= set(spec["volumes"])
    # Nothing secret in the file: secrets come from .env.
    assert "SECRET_KEY" not in COMPOSE.read_text()
