#!/usr/bin/env bash
# Generate blkcopy's own Rust bindings with exactly the bindgen flags the
# kernel used for its `kernel::bindings` (read back from the kernel build's
# saved command), restricted to the headers listed in the allowlist file.
#
# Usage (from Kbuild, current directory = the kernel build tree):
#   gen-bindings.sh <header.h> <allowlist> <out.rs>
set -euo pipefail
hdr=$1 allowlist=$2 out=$3
cmdfile=rust/bindings/.bindings_generated.rs.cmd
[[ -f $cmdfile ]] || { echo "gen-bindings: $PWD/$cmdfile missing (kernel not built with CONFIG_RUST?)" >&2; exit 1; }

line=$(sed -n '1s/^savedcmd_[^ ]* := //p' "$cmdfile")
line=${line%%; sed*}            # the kernel's post-processing is its own
eval "words=( $line )"

bindgen=${BINDGEN:-${words[0]}}
params=() cflags=() seen_sep=0 skip=0
for ((i = 2; i < ${#words[@]}; i++)); do   # [0] bindgen, [1] kernel's header
  w=${words[i]}
  if ((skip)); then skip=0; continue; fi
  if ((!seen_sep)); then
    case $w in
      --) seen_sep=1 ;;
      -o) skip=1 ;;
      *) params+=("$w") ;;
    esac
  else
    case $w in
      -Wp,-MMD,*|-DKBUILD_*|-D__KBUILD_MODNAME=*) ;;
      *) cflags+=("$w") ;;
    esac
  fi
done

allow=()
while read -r kind re; do
  [[ -z $kind || $kind == \#* ]] && continue
  case $kind in
    file|function|type|var) allow+=("--allowlist-$kind" "$re") ;;
    block-type) allow+=(--blocklist-type "$re") ;;
    *) echo "gen-bindings: bad allowlist line: $kind $re" >&2; exit 1 ;;
  esac
done < "$allowlist"

tmp=$out.tmp
"$bindgen" "$hdr" "${params[@]}" "${allow[@]}" --no-recursive-allowlist \
  -o "$tmp" -- "${cflags[@]}"
mv "$tmp" "$out"
