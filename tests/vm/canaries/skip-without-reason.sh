# expect-fail: without naming what this machine lacks
# Canary: a skip (exit 77) that does not say what this machine lacks must
# fail: only skip_machine skips.
exit 77
