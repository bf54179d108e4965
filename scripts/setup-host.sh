#!/usr/bin/env bash
# Install everything blkcopy needs on a Debian 12 host. Idempotent: every
# step checks first and does nothing when its result is already present.
# Extra Debian packages a command needs on top (the benchmark's plotting)
# are given as arguments.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

APT_PACKAGES=(
  linux-source-6.12 qemu-system-x86
  clang libclang-dev lld llvm
  make gcc flex bison bc libelf-dev libssl-dev dwarves cpio xz-utils kmod
  busybox-static sg3-utils nvme-cli dmsetup fio fdisk coreutils socat python3 e2fsprogs
  "$@"
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Kernel Rust toolchain: pinned, with rust-src (the kernel builds core/alloc).
if ! rustup run "$KRUST_TOOLCHAIN" rustc --version >/dev/null 2>&1; then
  log "rustup: installing $KRUST_TOOLCHAIN"
  rustup toolchain install "$KRUST_TOOLCHAIN" --profile minimal
fi
# rust-src: the kernel builds core/alloc itself; rustfmt: bindgen formats with it.
for c in rust-src rustfmt; do
  if ! rustup component list --toolchain "$KRUST_TOOLCHAIN" --installed | grep -q "^$c"; then
    rustup component add "$c" --toolchain "$KRUST_TOOLCHAIN"
  fi
done

# bindgen for the kernel's and our own bindings.
if ! "$BINDGEN" --version 2>/dev/null | grep -q "bindgen $BINDGEN_VERSION"; then
  log "cargo: installing bindgen-cli $BINDGEN_VERSION"
  cargo install -q bindgen-cli --version "$BINDGEN_VERSION" --locked --root "$TOOLS_DIR" >/dev/null
fi
log "host setup complete"
