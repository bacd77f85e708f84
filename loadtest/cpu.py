"""CPU seconds used so far by each part of the stack under test, to a JSON file.

    python loadtest/cpu.py OUT.json gunicorn=PID celery=PID

Each ``name=PID`` counts that process and all its children (gunicorn's workers, Celery's
pool); ``postgres`` counts the PostgreSQL backends connected to the load database
(``DATABASE_URL``; they are persistent, ``CONN_MAX_AGE``). ``loadtest/report.py`` subtracts
two snapshots taken around the mixed phase: where the two cores went.
"""

import json
import os
import sys
import time

import psutil


def tree_cpu(pid: int) -> float:
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def connect():
    """A psycopg2 connection to the load test's database (``DATABASE_URL``)."""
    import environ
    import psycopg2

    config = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    return psycopg2.connect(
        dbname=config["NAME"],
        user=config["USER"],
        password=config["PASSWORD"],
        host=config["HOST"],
        port=config["PORT"] or 5432,
    )


def postgres_cpu() -> tuple[dict[str, float], dict[str, int]]:
    conn = connect()
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [conn.info.dbname],
            )
            pids = [row[0] for row in cursor.fetchall()]
            # The worker's share of a registration: photos cleaned up, and still waiting.
            cursor.execute(
                "SELECT photo_status, count(*) FROM subscribers_registration"
                " WHERE source = 'api' GROUP BY photo_status"
            )
            photos = dict(cursor.fetchall())
    finally:
        conn.close()
    # Per backend: one that ends between two snapshots must not count negative.
    used = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        used[str(pid)] = times.user + times.system
    return used, photos


def main() -> None:
    out, *parts = sys.argv[1:]
    snapshot: dict = {"at": time.time()}
    for part in parts:
        name, pid = part.split("=")
        snapshot[name] = tree_cpu(int(pid))
    snapshot["postgres"], snapshot["photos"] = postgres_cpu()
    with open(out, "w") as fh:
        json.dump(snapshot, fh)


if __name__ == "__main__":
    main()
