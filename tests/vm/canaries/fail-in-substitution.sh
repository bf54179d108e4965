# expect-fail: no device for role no-such-role
# Canary: fail() inside a command substitution used as an argument (the
# shell would go on with an empty string) must fail the case.
echo "device: $(role no-such-role)" >&2
note "the case went on after the failure"
