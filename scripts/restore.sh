#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into a NEW database (never over the live one), with
# its private media, then re-apply every erasure made since (the erasure ledger).
#
#   DATABASE_URL=postgres://user@host:5432/portal \
#     scripts/restore.sh /srv/backups/20261207T010000Z portal_restored /srv/private_restored
#
# 1. checks the backup's SHA256SUMS;
# 2. saves the erasure ledger of the database in DATABASE_URL (the live one, if it is still
#    there): it knows of erasures made after the backup was taken;
# 3. creates TARGET_DB on the same server and pg_restores the dump into it;
# 4. unpacks the media into MEDIA_DIR (default: PRIVATE_MEDIA_ROOT);
# 5. migrates TARGET_DB (the backup may be older than the code) and runs
#    `manage.py reapply_erasures --ledger <saved ledger>`: whatever the backup brought back of
#    a person erased since is erased again, photos included.
# Then point DATABASE_URL and PRIVATE_MEDIA_ROOT at the restored copies. Needs the encryption
# and digest keys of the backup's time (docs/privacy.md, "Backups and the keys").
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ]; then PY="${PY:-.venv/bin/python}"; else PY="${PY:-python}"; fi
BACKUP="${1:?usage: restore.sh BACKUP_FOLDER TARGET_DB [MEDIA_DIR]}"
TARGET_DB="${2:?usage: restore.sh BACKUP_FOLDER TARGET_DB [MEDIA_DIR]}"
MEDIA="${3:-${PRIVATE_MEDIA_ROOT:-private_media}}"
: "${DATABASE_URL:?DATABASE_URL must name the live database (its server hosts the restore)}"
URL="${DATABASE_URL/#postgresql:/postgres:}"
QUERY=""  # connection options (?sslmode=require...) apply to every database on the server
case "$URL" in *\?*) QUERY="?${URL#*\?}" ;; esac
BASE="${URL%%\?*}"
SERVER="${BASE%/*}"
case "$TARGET_DB" in
  *[!A-Za-z0-9_]*) echo "restore.sh: TARGET_DB must be letters, digits and _" >&2; exit 2 ;;
esac
if [ "$TARGET_DB" = "${BASE##*/}" ]; then
  echo "restore.sh: restore into a new database, not over $TARGET_DB" >&2
  exit 2
fi

(cd "$BACKUP" && sha256sum --check --quiet SHA256SUMS)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
ledger="$work/ledger.json"
if ! "$PY" manage.py export_erasure_ledger --output "$ledger"; then
  echo "restore.sh: the live database's erasure ledger could not be read; restoring with the" \
       "backup's own ledger only (erasures made after the backup are NOT re-applied)" >&2
  echo "[]" > "$ledger"
fi

psql "$SERVER/postgres$QUERY" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$TARGET_DB\""
pg_restore --no-owner --no-privileges --exit-on-error --dbname="$SERVER/$TARGET_DB$QUERY" \
  "$BACKUP/database.dump"
mkdir -p "$MEDIA"
tar -C "$MEDIA" -xzf "$BACKUP/private_media.tar.gz"

export DATABASE_URL="$SERVER/$TARGET_DB$QUERY" PRIVATE_MEDIA_ROOT="$MEDIA"
"$PY" manage.py migrate --noinput
"$PY" manage.py reapply_erasures --ledger "$ledger"
echo "restored into $TARGET_DB (media in $MEDIA)"
