# SPDX-License-Identifier: GPL-2.0
#
# Builds blkcopy's out-of-tree modules against a Rust-enabled kernel build.
#
#   make                 modules against the cached test kernel
#   make KDIR=/path      modules against another (fully built) kernel tree
#   BLKCOPY_KERNEL=debug make   modules against the debug variant
#   make clean
#   make install         modules under /lib/modules/<release>/extra (depmod
#                        run: modprobe blkcopy loads the providers too), the
#                        uAPI header, the udev rule for /dev/blkcopy
#                        (INSTALL_MOD_PATH, DESTDIR and PREFIX as usual)
#   make install-tools   the blkcopy command (cargo install --locked), its
#                        shell completions and manual page, generated from
#                        its own definition
#
# The test kernel itself is built by scripts/build-kernel.sh (scripts/test.sh
# and scripts/demo.sh do everything, setup included).

KDIR ?= $(shell scripts/build-kernel.sh --dir)
RUST_TOOLCHAIN := $(shell sed -n 's/^KRUST_TOOLCHAIN=//p' scripts/lib.sh)
# bindgen-cli 0.69 (scripts/setup-host.sh puts it in the cache), else the
# one on PATH (a DKMS build).
BINDGEN_CACHED := $(or $(BLKCOPY_CACHE),$(HOME)/.cache/blkcopy)/tools/bin/bindgen
BINDGEN ?= $(if $(wildcard $(BINDGEN_CACHED)),$(BINDGEN_CACHED),bindgen)
PREFIX ?= /usr

export RUSTUP_TOOLCHAIN := $(RUST_TOOLCHAIN)
# Modules are built with the kernel's compiler: LLVM=1 for a clang-built
# kernel (the debug variant).
KLLVM := $(if $(shell grep -sx 'CONFIG_CC_IS_CLANG=y' $(KDIR)/.config),LLVM=1)

modules:
	@grep -qx 'CONFIG_RUST=y' $(KDIR)/.config || { echo "blkcopy: $(KDIR) is not a Rust-enabled kernel build (CONFIG_RUST=y)" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) RUSTC=rustc BINDGEN=$(BINDGEN) $(KLLVM) modules

# The kernel's modules_install runs depmod (against $(INSTALL_MOD_PATH)).
install: modules
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_DIR=extra modules_install
	install -D -m 644 include/uapi/linux/blkcopy.h $(DESTDIR)$(PREFIX)/include/linux/blkcopy.h
	install -D -m 644 udev/60-blkcopy.rules $(DESTDIR)$(PREFIX)/lib/udev/rules.d/60-blkcopy.rules

# (With the modules' pinned toolchain; `cargo install --locked --path
# tools/blkcopy` alone takes any Rust from 1.83 on.)
install-tools:
	cargo install -q --locked $(CARGO_INSTALL_FLAGS) --path tools/blkcopy --root $(DESTDIR)$(PREFIX)
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d $(DESTDIR)$(PREFIX)/share/man/man1
	$(DESTDIR)$(PREFIX)/bin/blkcopy completions bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/blkcopy
	$(DESTDIR)$(PREFIX)/bin/blkcopy completions zsh > $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_blkcopy
	$(DESTDIR)$(PREFIX)/bin/blkcopy completions fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/blkcopy.fish
	$(DESTDIR)$(PREFIX)/bin/blkcopy manpage > $(DESTDIR)$(PREFIX)/share/man/man1/blkcopy.1

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -f rust/bindings/blkcopy_bindings_generated.rs

.PHONY: modules install install-tools clean
