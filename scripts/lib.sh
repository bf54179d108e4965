# Shared settings for blkcopy's scripts (sourced, not run).
# shellcheck shell=bash
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${BLKCOPY_CACHE:-$HOME/.cache/blkcopy}
TOOLS_DIR=$CACHE_DIR/tools
# The one toolchain for the kernel and every module built against it.
KRUST_TOOLCHAIN=1.83.0
# QEMU the VM tests need (scripts/setup-host.sh installs it from bookworm-backports).
QEMU_MIN_MAJOR=10
BINDGEN_VERSION=0.69.5
BINDGEN=$TOOLS_DIR/bin/bindgen
KERNEL_TARBALL=/usr/src/linux-source-6.12.tar.xz
# The storage array VM boots Debian's own kernel package, the build of the
# same source the test kernel is built from (scripts/build-array.sh).
ARRAY_KERNEL_PKG=linux-image-6.12.117+deb12-amd64-unsigned
ARRAY_KERNEL_VERSION=6.12.117-1~deb12u1
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
  test) KERNEL_FRAGMENTS+=("$REPO_ROOT/kernel/blkcopy-net.config") ;;
  debug) KERNEL_FRAGMENTS+=("$REPO_ROOT/kernel/blkcopy-debug.config"); KMAKE_FLAGS+=(LLVM=1) ;;
  *) die "BLKCOPY_KERNEL=$BLKCOPY_KERNEL: want test or debug" ;;
esac
export RUSTUP_TOOLCHAIN=$KRUST_TOOLCHAIN

# Version of the kernel source package (the tarball's contents follow it).
kernel_pkg_version() { dpkg-query -W -f='${Version}' linux-source-6.12; }

# The cache key: kernel package version, fragments, the build script, and
# the versions the compilers report (rustc, bindgen, and GCC or clang/lld).
kernel_build_key() {
  { kernel_pkg_version; echo "$KRUST_TOOLCHAIN $BINDGEN_VERSION"
    rustc --version 2>&1; "$BINDGEN" --version 2>&1
    if [[ $BLKCOPY_KERNEL == debug ]]; then clang --version 2>&1 | head -n 1; ld.lld --version 2>&1
    else gcc --version 2>&1 | head -n 1; fi
    cat "${KERNEL_FRAGMENTS[@]}" "$REPO_ROOT/scripts/build-kernel.sh"
    [[ $BLKCOPY_KERNEL == test ]] || echo "variant $BLKCOPY_KERNEL ${KMAKE_FLAGS[*]}"; } |
    sha256sum | cut -c1-16
}
# The run directory of this checkout (two checkouts never share one).
run_dir() { echo "$CACHE_DIR/run-$(printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-8)-$1"; }
kernel_build_dir() { echo "$CACHE_DIR/kernel-$(kernel_pkg_version)-$(kernel_build_key)"; }

# The project's userspace tools the guest runs (tests/vm, the demo and the
# benchmark), built fresh from this tree: a failed build is fatal, so a
# stale binary from an earlier target/ never runs.
GUEST_TOOLS=(blkcopy blkcopy-bench blkcopy-uapi-check blkcopy-uring-check blkcopy-uapi-fuzz blkcopy-uapi-security blkcopy-bytes blkcopy-kmsg)
build_guest_tools() {
  local t
  (cd "$REPO_ROOT" && cargo build --release --workspace -q) || { log "cargo build of the userspace tools failed"; return 1; }
  # The C sample of the io_uring interface (liburing), as a user builds it.
  cc -O2 -Wall -Wextra -Werror -I "$REPO_ROOT/include/uapi" -o "$REPO_ROOT/target/release/blkcopy-uring-sample" \
    "$REPO_ROOT/samples/userspace/blkcopy_uring.c" -luring || { log "cc of samples/userspace/blkcopy_uring.c failed"; return 1; }
  GUEST_BINS=
  for t in "${GUEST_TOOLS[@]}" blkcopy-uring-sample; do
    [[ -x $REPO_ROOT/target/release/$t ]] || { log "target/release/$t was not built"; return 1; }
    GUEST_BINS+=" $REPO_ROOT/target/release/$t"
  done
  export GUEST_BINS
}
