#!/usr/bin/env bash
# blkcopy's demo command: set up the host, build the test kernel (cached)
# and the modules, boot the VM (and the storage array VM next to it) and
# run tests/vm/demo.sh in it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
scripts/setup-host.sh
kdir=$(scripts/build-kernel.sh)
make -s KDIR="$kdir" modules
build_guest_tools
run=$(run_dir demo)
rm -rf "$run"; mkdir -p "$run"
BLKCOPY_ARRAY=1 scripts/vm.sh "$kdir" "$run" demo | sed -n '/== blkcopy demo/,/^BLKCOPY-GUEST-EXIT/p' | grep -v '^BLKCOPY-GUEST-EXIT'
