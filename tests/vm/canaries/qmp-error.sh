# expect-fail: qmp .*no-such-command.*: \{"error"
# Canary: a monitor command QEMU refuses must fail the case (qmp_ok once
# took the reply to qmp_capabilities for the command's own and could not
# fail).
qmp_ok '{"execute":"no-such-command"}'
note "the case went on after QEMU refused the command"
