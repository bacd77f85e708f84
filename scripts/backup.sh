#!/usr/bin/env bash
# A logical backup of the portal: the PostgreSQL database (pg_dump, custom format) and the
# private media (ID and face photos, evidence, export files) as one folder per run.
#
#   DATABASE_URL=postgres://user@host:5432/portal PRIVATE_MEDIA_ROOT=/srv/private \
#     scripts/backup.sh /srv/backups
#
# Writes /srv/backups/<UTC time>/{database.dump,private_media.tar.gz,SHA256SUMS,MANIFEST} and
# deletes backup folders older than BACKUP_RETENTION_DAYS (default 35): the erasure ledger is
# kept exactly that long, so a backup must never outlive it (docs/privacy.md, "Backups").
# The dump is taken in one snapshot of the database (pg_dump's own transaction); the media are
# archived after it, so every file a dumped row names is there (files deleted in between are
# simply absent, and re-erased on restore). For point-in-time recovery use WAL archiving with
# pg_basebackup (docs/privacy.md); this script is the logical, portable copy.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${1:-${BACKUP_DIR:-backups}}"
: "${DATABASE_URL:?DATABASE_URL must name the database to back up}"
MEDIA="${PRIVATE_MEDIA_ROOT:-private_media}"
KEEP_DAYS="${BACKUP_RETENTION_DAYS:-35}"
case "$DATABASE_URL" in
  postgres://*|postgresql://*) ;;
  *) echo "backup.sh: only PostgreSQL databases are backed up (DATABASE_URL=${DATABASE_URL%%:*}:...)" >&2; exit 2 ;;
esac
URL="${DATABASE_URL/#postgresql:/postgres:}"

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
target="$DEST/$stamp"
mkdir -p "$target"
chmod 700 "$target"
umask 077
pg_dump --format=custom --no-owner --no-privileges --file="$target/database.dump" "$URL"
if [ -d "$MEDIA" ]; then
  tar -C "$MEDIA" -czf "$target/private_media.tar.gz" .
else
  tar -czf "$target/private_media.tar.gz" --files-from /dev/null
fi
{
  echo "taken_at=$stamp"
  echo "database=${URL##*/}"
  echo "format=pg_dump custom + tar.gz of PRIVATE_MEDIA_ROOT"
  echo "pg_dump=$(pg_dump --version)"
} > "$target/MANIFEST"
(cd "$target" && sha256sum database.dump private_media.tar.gz MANIFEST > SHA256SUMS)

# Backups older than the ledger's retention could bring back people whose erasure the ledger
# no longer remembers: they go.
find "$DEST" -mindepth 1 -maxdepth 1 -type d -name '[0-9]*T*Z' -mtime +"$KEEP_DAYS" \
  -exec rm -rf {} + 2>/dev/null || true
echo "$target"
