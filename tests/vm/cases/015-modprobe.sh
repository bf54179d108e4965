# The modules as `make install` put them (scripts/check-install.sh, into
# the run directory's modroot: lib/modules/<release>/extra, depmod's
# index) load with modprobe: `modprobe blkcopy` loads the core, then the
# NVMe and SCSI providers and the blkcopy-linear target (the core's soft
# dependencies), and a copy through them is offloaded; `modprobe
# blkcopy_nvme` loads the core first (a symbol dependency) and so the rest,
# and `modprobe -r` takes them out. The installed files are this build's.
root=$RUN/modroot
mods=$root/lib/modules/$(uname -r)
[[ -f $mods/modules.dep ]] || fail "no modules installed for $(uname -r) in $root (make install)"
unload_all() {
  local m
  for m in blkcopy_clone blkcopy_nvme blkcopy_scsi blkcopy_linear blkcopy; do
    if grep -q "^$m " /proc/modules; then rmmod "$m" || fail "rmmod $m"; fi
  done
}
loaded() { awk '$1 ~ /^blkcopy/ {print $1}' /proc/modules | sort | tr '\n' ' '; }
trap unload_all EXIT
unload_all

modprobe -d "$root" blkcopy || fail "modprobe blkcopy"
[[ $(loaded) == "blkcopy blkcopy_linear blkcopy_nvme blkcopy_scsi " ]] || fail "modprobe blkcopy loaded: $(loaded)"
for m in blkcopy blkcopy_nvme blkcopy_scsi blkcopy_linear; do
  cmp -s "$mods/extra/$m.ko" "$SRC/$m.ko" || fail "$m: the installed module is not this build's"
done
[[ -c /dev/blkcopy ]] || fail "no /dev/blkcopy"
a=$(role nvme-a)
blkcopy info "$a" --json | grep_q '"provider":"nvme"' || fail "NVMe provider not registered: $(blkcopy info "$a")"
copy_checked "$a" "$a" 0 $((700 << 20)) $((4 << 20)) $((4 << 20))
unload_all

# A provider first: the core comes with it, and the core's soft
# dependencies with the core.
modprobe -d "$root" blkcopy_nvme || fail "modprobe blkcopy_nvme"
[[ $(loaded) == "blkcopy blkcopy_linear blkcopy_nvme blkcopy_scsi " ]] || fail "modprobe blkcopy_nvme loaded: $(loaded)"
modprobe -d "$root" -r blkcopy_nvme blkcopy_scsi blkcopy_linear || fail "modprobe -r the providers and the target"
if [[ -n $(loaded) ]]; then modprobe -d "$root" -r blkcopy || fail "modprobe -r blkcopy"; fi
[[ -z $(loaded) ]] || fail "modprobe -r left: $(loaded)"
note "modprobe from $root: core, providers and target; a copy offloaded through them"
