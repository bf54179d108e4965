#!/usr/bin/env bash
# How a user installs blkcopy, checked on the host against a built kernel
# tree: `make install` into a staging root (the modules under
# lib/modules/<release>/extra with depmod's index naming them and the
# core's soft dependencies, the uAPI header, the udev rule), and a DKMS
# build of the same tree (dkms.conf) in a private DKMS tree, and `make
# install-tools` (the command, its completions and manual page). The staging
# root is left for the VM suite, which loads the modules from it with
# modprobe (tests/vm/cases/015-modprobe.sh).
#
# Usage: scripts/check-install.sh KDIR STAGING
# Prints a PASS/FAIL line per check; exits 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
kdir=$1 stage=$2
rel=$(make -s -C "$kdir" kernelrelease 2>/dev/null) || { echo "FAIL install-make (no kernel release from $kdir)"; exit 1; }
rc=0
fail() { echo "FAIL $1${2:+ ($2)}"; rc=1; }

rm -rf "$stage"
if ! out=$(make -s KDIR="$kdir" install INSTALL_MOD_PATH="$stage" DESTDIR="$stage" 2>&1); then
  fail install-make "make install failed"; echo "$out" | tail -n 20 | sed 's/^/    /'
else
  mods=$stage/lib/modules/$rel
  why=
  for m in blkcopy blkcopy_nvme blkcopy_scsi blkcopy_linear blkcopy_clone; do
    [[ -f $mods/extra/$m.ko ]] || why+=" no extra/$m.ko;"
    grep -q "^extra/$m.ko:" "$mods/modules.dep" 2>/dev/null || why+=" $m not in modules.dep;"
  done
  grep -q '^extra/blkcopy_nvme.ko: extra/blkcopy.ko' "$mods/modules.dep" || why+=" blkcopy_nvme does not depend on blkcopy;"
  grep -qx 'softdep blkcopy post: blkcopy_nvme blkcopy_scsi blkcopy_linear' "$mods/modules.softdep" 2>/dev/null ||
    why+=" no soft dependencies in modules.softdep;"
  cmp -s include/uapi/linux/blkcopy.h "$stage/usr/include/linux/blkcopy.h" || why+=" uAPI header not installed;"
  cmp -s udev/60-blkcopy.rules "$stage/usr/lib/udev/rules.d/60-blkcopy.rules" || why+=" udev rule not installed;"
  # The installed header is usable on its own (as /usr/include/linux/).
  printf '#include <linux/blkcopy.h>\nint main(void) { return sizeof(struct blkcopy_args) == 0; }\n' |
    cc -x c -I"$stage/usr/include" -o /dev/null - 2>/dev/null || why+=" the installed header does not compile;"
  if [[ -n $why ]]; then fail install-make "${why%;}"; else echo "PASS install-make (modules under $mods/extra, depmod'd)"; fi
fi

# The command, as README.md says (make install-tools: cargo install
# --locked, with the workspace's target directory and nothing downloaded),
# with its completions and manual page generated from its definition.
ok=1
if ! out=$(CARGO_TARGET_DIR=$PWD/target make -s install-tools DESTDIR="$stage" PREFIX=/usr CARGO_INSTALL_FLAGS=--offline 2>&1); then
  fail install-tools "make install-tools failed"; echo "$out" | tail -n 20 | sed 's/^/    /'; ok=0
elif ! [[ $("$stage/usr/bin/blkcopy" --version) =~ ^blkcopy\ [0-9.]+$ ]]; then
  fail install-tools "the installed blkcopy does not run"; ok=0
else
  for f in share/bash-completion/completions/blkcopy share/zsh/vendor-completions/_blkcopy \
    share/fish/vendor_completions.d/blkcopy.fish share/man/man1/blkcopy.1; do
    [[ -s $stage/usr/$f ]] || { fail install-tools "no $f"; ok=0; }
  done
  grep -q -- '--queue-depth' "$stage/usr/share/bash-completion/completions/blkcopy" || { fail install-tools "bash completion without --queue-depth"; ok=0; }
  grep -q '^\.TH blkcopy 1' "$stage/usr/share/man/man1/blkcopy.1" || { fail install-tools "no manual page"; ok=0; }
fi
((ok)) && echo "PASS install-tools ($("$stage/usr/bin/blkcopy" --version), completions and manual page in $stage/usr/share)"

# DKMS: the tree as dkms add takes it (what git tracks), built for the
# kernel tree given, in private source and DKMS trees.
if ! command -v dkms >/dev/null; then
  fail install-dkms "dkms missing (scripts/setup-host.sh installs it)"
else
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' dkms.conf)
  src=$tmp/src/blkcopy-$ver
  mkdir -p "$src" "$tmp/dkms"
  git ls-files -z | xargs -0 cp --parents -t "$src"
  opts=(--sourcetree "$tmp/src" --dkmstree "$tmp/dkms")
  if ! out=$(dkms add -m blkcopy -v "$ver" "${opts[@]}" 2>&1 &&
    dkms build -m blkcopy -v "$ver" -k "$rel" --kernelsourcedir "$kdir" "${opts[@]}" 2>&1); then
    fail install-dkms "dkms build failed"; echo "$out" | tail -n 20 | sed 's/^/    /'
    find "$tmp/dkms" -name make.log -exec tail -n 20 {} \; 2>/dev/null | sed 's/^/    /'
  else
    built=$(find "$tmp/dkms/blkcopy/$ver/$rel" -name '*.ko' -printf '%f\n' 2>/dev/null | sort | tr '\n' ' ')
    if [[ $built == "blkcopy.ko blkcopy_clone.ko blkcopy_linear.ko blkcopy_nvme.ko blkcopy_scsi.ko " ]]; then
      echo "PASS install-dkms (dkms build for $rel: $built)"
    else
      fail install-dkms "built: '$built'"
    fi
  fi
fi
exit $rc
