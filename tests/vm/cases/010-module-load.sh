# The blkcopy module loads, registers /dev/blkcopy as a misc device with the
# number sysfs reports, and unloads cleanly, twice.
[[ -f $BLKCOPY_KO ]] || fail "$BLKCOPY_KO not built"
for round in 1 2; do
  insmod "$BLKCOPY_KO" || fail "insmod (round $round)"
  grep -q '^blkcopy ' /proc/modules || fail "not in /proc/modules"
  [[ -c /dev/blkcopy ]] || fail "/dev/blkcopy missing"
  want=$(cat /sys/class/misc/blkcopy/dev)
  got=$(printf '%d:%d' "0x$(stat -c %t /dev/blkcopy)" "0x$(stat -c %T /dev/blkcopy)")
  [[ $want == "$got" ]] || fail "/dev/blkcopy is $got, sysfs says $want"
  [[ ${want%%:*} == 10 ]] || fail "not a misc device: $want"
  rmmod blkcopy || fail "rmmod (round $round)"
  [[ ! -e /dev/blkcopy && ! -e /sys/class/misc/blkcopy ]] || fail "/dev/blkcopy still there after rmmod"
done
dmesg | grep_q 'blkcopy: /dev/blkcopy registered' || fail "no registration message"
