# Shared settings for blkcopy's scripts (sourced, not run).
# shellcheck shell=bash
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${BLKCOPY_CACHE:-$HOME/.cache/blkcopy}
TOOLS_DIR=$CACHE_DIR/tools
# The one toolchain for the kernel and every module built against it.
KRUST_TOOLCHAIN=1.83.0
BINDGEN_VERSION=0.69.5
BINDGEN=$TOOLS_DIR/bin/bindgen
KERNEL_TARBALL=/usr/src/linux-source-6.12.tar.xz
export PATH=$TOOLS_DIR/bin:$HOME/.cargo/bin:$PATH

log() { printf '[blkcopy] %s\n' "$*" >&2; }
die() { printf 'blkcopy: %s\n' "$*" >&2; exit 1; }

# The kernel variant: "test" (the default), or "debug" (BLKCOPY_KERNEL=debug:
# KASAN, lockdep, kmemleak, atomic-sleep checks; built with LLVM=1, which
# KASAN needs with Rust), whose fragment is merged over the test one.
BLKCOPY_KERNEL=${BLKCOPY_KERNEL:-test}
KERNEL_FRAGMENTS=("$REPO_ROOT/kernel/blkcopy-test.config")
# Flags every make invocation against the test kernel uses (kernel and modules).
KMAKE_FLAGS=(RUSTC="rustc" BINDGEN="$BINDGEN")
case $BLKCOPY_KERNEL in
  test) ;;
  debug) KERNEL_FRAGMENTS+=("$REPO_ROOT/kernel/blkcopy-debug.config"); KMAKE_FLAGS+=(LLVM=1) ;;
  *) die "BLKCOPY_KERNEL=$BLKCOPY_KERNEL: want test or debug" ;;
esac
export RUSTUP_TOOLCHAIN=$KRUST_TOOLCHAIN

# Version of the kernel source package (the tarball's contents follow it).
kernel_pkg_version() { dpkg-query -W -f='${Version}' linux-source-6.12; }

# The cache key: kernel package version + fragment + toolchain pins.
kernel_build_key() {
  { kernel_pkg_version; echo "$KRUST_TOOLCHAIN $BINDGEN_VERSION"; cat "${KERNEL_FRAGMENTS[@]}"
    [[ $BLKCOPY_KERNEL == test ]] || echo "variant $BLKCOPY_KERNEL ${KMAKE_FLAGS[*]}"; } |
    sha256sum | cut -c1-16
}
kernel_build_dir() { echo "$CACHE_DIR/kernel-$(kernel_pkg_version)-$(kernel_build_key)"; }
