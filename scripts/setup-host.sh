#!/usr/bin/env bash
# Install everything blkcopy needs on a Debian 12 host. Idempotent: every
# step checks first and does nothing when its result is already present.
# Extra Debian packages a command needs on top (the benchmark's plotting)
# are given as arguments.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

APT_PACKAGES=(
  linux-source-6.12
  clang libclang-dev lld llvm
  make gcc flex bison bc libelf-dev libssl-dev dwarves cpio xz-utils kmod
  busybox-static sg3-utils nvme-cli dmsetup fio fdisk coreutils socat python3 e2fsprogs
  open-iscsi iproute2 liburing-dev dkms
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

# QEMU 10.0 from bookworm-backports: Debian 12's QEMU 7.2 has no NVMe
# cross-namespace Copy (descriptor formats 2h/3h), cannot hot-plug nvme-ns,
# and its NVMe subsystems lack what the multipath tests need. The suite is
# added as Debian documents it (https://backports.debian.org/Instructions/:
# its packages are never installed unless asked for), and only QEMU is
# taken from it (with the backported packages its version depends on).
QEMU_BACKPORTS_SOURCES=/etc/apt/sources.list.d/bookworm-backports.sources
qemu_major() { qemu-system-x86_64 --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9]*\).*/\1/p'; }
if (($(qemu_major || echo 0) < QEMU_MIN_MAJOR)); then
  if ! grep -qs '^Suites:.*bookworm-backports' /etc/apt/sources.list.d/*.sources &&
     ! grep -qs '^deb .* bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/*.list; then
    log "apt: adding bookworm-backports ($QEMU_BACKPORTS_SOURCES)"
    cat > "$QEMU_BACKPORTS_SOURCES" <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  fi
  log "apt: installing qemu-system-x86 from bookworm-backports"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 >/dev/null
  (($(qemu_major || echo 0) >= QEMU_MIN_MAJOR)) || die "QEMU $QEMU_MIN_MAJOR or later needed, have: $(qemu-system-x86_64 --version | head -1)"
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
