# expect-fail: 'ls /nonexistent-canary[^']*' exited 1
# Canary: a command that fails outside a condition must fail the case
# (strict mode and the ERR trap), naming the command.
ls /nonexistent-canary > /dev/null
note "the case went on after the failure"
