#!/usr/bin/env bash
# Downloads MovieLens zips from files.grouplens.org into data/, verifies them, and unpacks them to
# data/ml-100k, data/ml-1m, data/ml-10m, data/ml-20m, data/ml-25m (git-ignored: the MovieLens
# licence forbids redistribution, so these files never go into the repository).
#
#   data/download.sh ml-1m            # one data set
#   data/download.sh ml-100k ml-1m    # several
#   data/download.sh all
#
# Offline: put the zip at data/<name>.zip yourself and rerun; the script then only verifies and
# unpacks it.
#
# Checksums, and how far each one is a verified fact:
#   - No SHA-256 for these zips was found in a source we could check, so the script does NOT
#     verify a SHA-256: it prints the SHA-256 it computes (record it when you first download) and
#     verifies the MD5 below. If you have a trusted SHA-256, pass it as EXPECTED_SHA256=<hex> and
#     it is checked too (only sensible when downloading one data set).
#   - ml-100k 0e33842e24a9c977be4e0107933c0723 and ml-1m c4d9eecfca2ab87c1945afe126590906 are the
#     MD5s GroupLens publishes (given to us as such; also found in third-party download code).
#   - ml-10m, ml-20m, ml-25m: MD5s taken from third-party download code on GitHub (e.g.
#     eli-osherovich/papers_with_code, datasets/movielens/dl_config.py, whose ml-100k and ml-1m
#     values match the published ones above; the ml-20m value also appears in an unrelated
#     script). They were NOT checked against GroupLens here (no network when this was written):
#     GroupLens serves <zip>.md5 files beside the zips; compare with those if in doubt.
# A mismatch always stops the script and deletes nothing: inspect data/<name>.zip yourself.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
base_url="https://files.grouplens.org/datasets/movielens"

known_md5() {
  case "$1" in
    ml-100k) echo 0e33842e24a9c977be4e0107933c0723 ;;  # published by GroupLens
    ml-1m)   echo c4d9eecfca2ab87c1945afe126590906 ;;  # published by GroupLens
    ml-10m)  echo ce571fd55effeba0271552578f2648bd ;;  # third-party, unverified here
    ml-20m)  echo cd245b17a1ae2cc31bb14903e1204af3 ;;  # third-party, unverified here
    ml-25m)  echo 6b51fb2759a8657d3bfcbfc42b592ada ;;  # third-party, unverified here
    *) return 1 ;;
  esac
}

# Directory name inside each zip (ml-10m.zip unpacks to ml-10M100K).
zip_dir() {
  case "$1" in
    ml-10m) echo ml-10M100K ;;
    *) echo "$1" ;;
  esac
}

die() { echo "download.sh: $*" >&2; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "needs '$1' ($2)"; }

fetch() {
  local name="$1" zip="$here/$1.zip"
  if [[ -f "$zip" ]]; then
    echo "$name: using existing $zip"
    return
  fi
  local url="$base_url/$name.zip"
  echo "$name: downloading $url"
  if command -v curl >/dev/null 2>&1; then
    curl --fail --location --connect-timeout 20 --retry 2 --output "$zip.part" "$url" ||
      { rm -f "$zip.part"; die "$name: download failed (offline, or the URL moved?). Fetch $url by other means, save it as $zip and rerun."; }
  elif command -v wget >/dev/null 2>&1; then
    wget --timeout=20 --tries=2 --output-document="$zip.part" "$url" ||
      { rm -f "$zip.part"; die "$name: download failed (offline, or the URL moved?). Fetch $url by other means, save it as $zip and rerun."; }
  else
    die "needs curl or wget to download (or place $zip by hand)"
  fi
  mv "$zip.part" "$zip"
}

verify() {
  local name="$1" zip="$here/$1.zip"
  need md5sum "coreutils"
  need sha256sum "coreutils"
  local md5 sha
  md5="$(md5sum "$zip" | cut -d' ' -f1)"
  sha="$(sha256sum "$zip" | cut -d' ' -f1)"
  echo "$name: sha256 $sha"
  echo "$name: md5    $md5"
  local want
  want="$(known_md5 "$name")" || die "$name: no known checksum; refusing to unpack"
  [[ "$md5" == "$want" ]] ||
    die "$name: MD5 mismatch: expected $want, got $md5. The file may be corrupt or a different release; refusing to unpack $zip"
  if [[ -n "${EXPECTED_SHA256:-}" ]]; then
    [[ "$sha" == "$EXPECTED_SHA256" ]] ||
      die "$name: SHA-256 mismatch: expected $EXPECTED_SHA256, got $sha; refusing to unpack"
    echo "$name: SHA-256 matches EXPECTED_SHA256"
  fi
  echo "$name: MD5 matches the known checksum"
}

unpack() {
  local name="$1" zip="$here/$1.zip" inner
  inner="$(zip_dir "$name")"
  if [[ -d "$here/$name" ]]; then
    echo "$name: $here/$name already exists; not unpacking again (remove it to refresh)"
    return
  fi
  local tmp
  tmp="$(mktemp -d "$here/.unpack.XXXXXX")"
  if command -v unzip >/dev/null 2>&1; then
    unzip -q "$zip" -d "$tmp" || { rm -rf "$tmp"; die "$name: unzip failed"; }
  elif command -v python3 >/dev/null 2>&1; then
    python3 -m zipfile -e "$zip" "$tmp" || { rm -rf "$tmp"; die "$name: unpacking failed"; }
  else
    rm -rf "$tmp"
    die "needs unzip or python3 to unpack $zip"
  fi
  [[ -d "$tmp/$inner" ]] || { rm -rf "$tmp"; die "$name: expected $inner/ inside $zip"; }
  mv "$tmp/$inner" "$here/$name"
  rm -rf "$tmp"
  echo "$name: unpacked to $here/$name"
}

main() {
  [[ $# -gt 0 ]] || { sed -n '2,12p' "${BASH_SOURCE[0]}"; exit 2; }
  local names=()
  for a in "$@"; do
    if [[ "$a" == all ]]; then
      names+=(ml-100k ml-1m ml-10m ml-20m ml-25m)
    else
      known_md5 "$a" >/dev/null || die "unknown data set '$a'; expected ml-100k, ml-1m, ml-10m, ml-20m, ml-25m or all"
      names+=("$a")
    fi
  done
  for n in "${names[@]}"; do
    fetch "$n"
    verify "$n"
    unpack "$n"
  done
}

main "$@"
