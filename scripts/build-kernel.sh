#!/usr/bin/env bash
# Build (or reuse) the blkcopy test kernel. Prints the build directory.
#
# The build lives under $CACHE_DIR/kernel-<version>-<key>, where <key> hashes
# the kernel package version, the config fragment and the pinned toolchain.
# Deleting the cache or changing any of those rebuilds; nothing else does.
#
# Usage: build-kernel.sh [--dir]   (--dir: only print where the build lives)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kdir=$(kernel_build_dir)
if [[ ${1:-} == --dir ]]; then echo "$kdir"; exit 0; fi
if [[ -f $kdir/.blkcopy-built ]]; then
  echo "$kdir"; exit 0
fi

[[ -f $KERNEL_TARBALL ]] || die "$KERNEL_TARBALL missing: run scripts/setup-host.sh"
log "building kernel in $kdir (first run, or the fragment/toolchain changed)"
start=$(date +%s)
rm -rf "$kdir"; mkdir -p "$kdir"
tar -xf "$KERNEL_TARBALL" -C "$kdir" --strip-components=1
cd "$kdir"
# Toolchain pin: rustc through rustup, our bindgen, and the kernel's own check.
kmake() { make -s ARCH=x86_64 "${KMAKE_FLAGS[@]}" "$@"; }
kmake tinyconfig >/dev/null
scripts/kconfig/merge_config.sh -m -O . .config "${KERNEL_FRAGMENTS[@]}" >/dev/null
kmake olddefconfig >/dev/null
# Like kunit.py: every option the fragment asks for must have survived.
bad=0
while IFS= read -r line; do
  case "$line" in
    CONFIG_*=*) grep -qxF "$line" .config || { log "config dropped: $line"; bad=1; } ;;
    "# CONFIG_"*" is not set")
      opt=${line#\# }; opt=${opt%% *}
      ! grep -q "^$opt=" .config || { log "config unexpectedly set: $opt"; bad=1; } ;;
  esac
done < <(cat "${KERNEL_FRAGMENTS[@]}")
((bad == 0)) || die "kernel config fragment did not apply (see above)"
kmake -j"$(($(nproc) + 1))" bzImage modules
rm -rf modroot
kmake INSTALL_MOD_PATH="$kdir/modroot" modules_install >/dev/null
touch .blkcopy-built
log "kernel built in $(($(date +%s) - start)) s"
echo "$kdir"
