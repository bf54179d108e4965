# expect-fail: kernel log during the case
# Canary: a warning in the kernel log while a case runs fails it, even when
# the case itself passes (the per-case verdict reads /dev/kmsg by sequence
# number). The line is marked blkcopy-canary; the host's whole-log check
# leaves it out.
echo '<4>blkcopy-canary: WARNING: CPU: 0 PID: 0 at canary (injected by the harness canary)' > /dev/kmsg
