#!/usr/bin/env bash
# Refresh the Indonesian catalogues and say what is left to translate.
#
#   scripts/translations.sh            # extract, compile, print the statistics
#   scripts/translations.sh --strict   # the same, but exit 1 while anything is untranslated or fuzzy
#
# 1. makemessages (django and djangojs domains) pulls every msgid from the code and templates into
#    locale/id/LC_MESSAGES/*.po — the one catalogue of the project. (No app may have a locale/
#    folder of its own: makemessages would move that app's msgids there.) Existing translations are kept; a msgid whose English changed a
#    little comes back as "fuzzy" with its old translation (check it, then remove the flag); a
#    msgid that is gone from the code is dropped (--no-obsolete).
# 2. compilemessages writes the .mo files, which are committed (a fresh machine may lack gettext).
#    Fuzzy and untranslated entries are left out of the .mo: those pages show the English.
# 3. msgfmt --statistics counts what is translated, fuzzy and untranslated; the untranslated and
#    fuzzy msgids are listed so they can be translated before the release.
# Needs gettext (apt-get install gettext) and the project's venv.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
LANG_CODE=id
DIR="locale/$LANG_CODE/LC_MESSAGES"
strict=0
[ "${1:-}" = "--strict" ] && strict=1

for tool in msgfmt msgattrib xgettext; do
  command -v "$tool" >/dev/null || { echo "translations.sh: $tool not found (apt-get install gettext)" >&2; exit 2; }
done

echo "== makemessages"
"$PY" manage.py makemessages -l "$LANG_CODE" --ignore=.venv --ignore=staticfiles --ignore=bench \
  --ignore=tests --no-obsolete
"$PY" manage.py makemessages -d djangojs -l "$LANG_CODE" --ignore=.venv --ignore=staticfiles \
  --ignore='static/vendor/*'

echo "== compilemessages"
"$PY" manage.py compilemessages -l "$LANG_CODE" --ignore=.venv

echo "== statistics"
left=0
found=0
for po in "$DIR"/django.po "$DIR"/djangojs.po; do
  if [ ! -f "$po" ]; then
    # makemessages writes no djangojs.po while no JavaScript file calls gettext().
    echo "$po: none (no msgids in that domain)"
    continue
  fi
  found=1
  stats=$(LC_ALL=C msgfmt --statistics -o /dev/null "$po" 2>&1)
  echo "$po: $stats"
  fuzzy=$(LC_ALL=C msgattrib --only-fuzzy --no-obsolete "$po" | grep -c '^msgid ' || true)
  untranslated=$(LC_ALL=C msgattrib --untranslated --no-obsolete "$po" | grep -c '^msgid ' || true)
  # msgattrib prints the header entry (msgid "") too whenever it prints anything.
  [ "$fuzzy" -gt 0 ] && fuzzy=$((fuzzy - 1))
  [ "$untranslated" -gt 0 ] && untranslated=$((untranslated - 1))
  echo "  untranslated: $untranslated  fuzzy: $fuzzy"
  if [ $((untranslated + fuzzy)) -gt 0 ]; then
    left=$((left + untranslated + fuzzy))
    {
      LC_ALL=C msgattrib --untranslated --no-obsolete --no-wrap "$po"
      LC_ALL=C msgattrib --only-fuzzy --no-obsolete --no-wrap "$po"
    } | awk '
      /^#: / { where = substr($0, 4) }
      /^msgstr/ { pending = 0 }
      pending && /^"/ { print "  - " $0 " ...   (" where ")"; pending = 0 }
      /^msgid "/ {
        if ($0 == "msgid \"\"") pending = 1
        else print "  - " substr($0, 7) "   (" where ")"
      }
    '
  fi
done
[ "$found" -eq 1 ] || { echo "translations.sh: no catalogue in $DIR" >&2; exit 2; }

if [ "$left" -gt 0 ]; then
  echo "$left msgid(s) still untranslated or fuzzy."
  if [ "$strict" -eq 1 ]; then exit 1; fi
else
  echo "Every msgid is translated."
fi
