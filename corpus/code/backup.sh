#!/usr/bin/env bash
#
# backup.sh - dated, space-efficient snapshots of a directory with rsync.
#
# Each run creates a new folder named after the current date and time. Files
# that have not changed since the previous snapshot are hard-linked to it
# instead of copied (rsync --link-dest), so every snapshot looks like a full
# copy but only changed files take up new space. Old snapshots beyond the
# number to keep are deleted.
#
# Usage:
#   backup.sh SOURCE_DIR DEST_DIR [KEEP]
#
# Example crontab line, every night at 02:30, keeping two weeks:
#   30 2 * * * /usr/local/bin/backup.sh /home/ana /mnt/backup/ana 14 >>/var/log/backup.log 2>&1
#
# Restoring is an ordinary copy:  rsync -a DEST_DIR/latest/ /restore/here/

set -euo pipefail   # stop on errors, unset variables and failed pipes

usage() {
    echo "usage: $(basename "$0") SOURCE_DIR DEST_DIR [KEEP]" >&2
    exit 2
}

[[ $# -ge 2 && $# -le 3 ]] || usage

src="${1%/}"          # strip a trailing slash; we add exactly one below
dest="${2%/}"
keep="${3:-7}"

[[ -d "$src" ]] || { echo "source '$src' is not a directory" >&2; exit 1; }
[[ "$keep" =~ ^[1-9][0-9]*$ ]] || { echo "KEEP must be a positive integer" >&2; exit 1; }
command -v rsync >/dev/null || { echo "rsync is not installed" >&2; exit 1; }

mkdir -p "$dest"

# Only one backup at a time: flock holds the lock until this script exits.
exec 9>"$dest/.backup.lock"
flock -n 9 || { echo "another backup is already running" >&2; exit 1; }

stamp="$(date +%Y-%m-%d_%H%M%S)"
target="$dest/$stamp"
partial="$target.partial"   # renamed only when rsync succeeds

link_opt=()
if [[ -d "$dest/latest" ]]; then
    link_opt=(--link-dest="$dest/latest")
fi

log() { printf '%s %s\n' "$(date '+%F %T')" "$*"; }

log "backing up $src -> $target"
rsync -a --delete --numeric-ids \
      --exclude='.cache/' --exclude='*.tmp' --exclude='node_modules/' \
      "${link_opt[@]}" \
      "$src/" "$partial/"

mv "$partial" "$target"
ln -sfn "$stamp" "$dest/latest"     # relative symlink to the newest snapshot
log "snapshot complete: $(du -sh "$target" | cut -f1) total"

# Rotate: list snapshots oldest first (names sort by date) and delete extras.
mapfile -t snapshots < <(find "$dest" -mindepth 1 -maxdepth 1 -type d \
                              -name '[0-9][0-9][0-9][0-9]-*' ! -name '*.partial' | sort)
excess=$(( ${#snapshots[@]} - keep ))
for (( i = 0; i < excess; i++ )); do
    log "removing old snapshot ${snapshots[i]}"
    rm -rf -- "${snapshots[i]}"
done

log "done; $(( ${#snapshots[@]} - (excess > 0 ? excess : 0) )) snapshot(s) kept"
