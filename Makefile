# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
# `make test` on a fresh clone (as root): Debian tools, the venv, the lab's Glance + Keystone, pytest.
# The pytest harness (test/conftest.py) starts the lab when tests need it and stops it afterwards
# unless it was already running. `make help` lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.glancing-installed
CONSTRAINTS := test/lab/constraints.txt
LAB := $(PYTHON) test/lab/lab.py
PYTEST_ARGS ?=
# Debian package -> the command it provides; installed only when the command is missing.
DEB_TOOLS := qemu-utils:qemu-img openssl:openssl xmlsec1:xmlsec1 openssh-server:sshd e2fsprogs:mkfs.ext4 \
             libguestfs-tools:guestfish
# Packages that install no command: package:file (the quarantine's inspection; libguestfs needs a
# kernel for its appliance).
DEB_FILES := python3-guestfs:/usr/lib/python3/dist-packages/guestfs.py linux-image-amd64:/boot/vmlinuz-*

.PHONY: help venv deps lab-install lab-up lab-down lab-status test unit demo bench clean distclean

help:
	@echo "make test        deps + venv + lab, then the whole pytest suite (PYTEST_ARGS=... to narrow)"
	@echo "make unit        tests that need no Glance (-m 'not glance')"
	@echo "make demo        import a small image into the local lab Glance and show it"
	@echo "make bench       speed ratios on 1 GiB (needs the lab)"
	@echo "make lab-up | lab-down | lab-status | lab-install    the local Glance + Keystone"
	@echo "make clean       stop the lab, wipe its data and build litter (keeps venvs and caches)"
	@echo "make distclean   clean + remove .venv and .lab"

venv: $(STAMP)

$(STAMP): setup.py $(CONSTRAINTS)
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --disable-pip-version-check -q -e '.[test]' -c $(CONSTRAINTS)
	touch $@

deps:
	missing=""; \
	for pair in $(DEB_TOOLS); do \
	  command -v "$${pair#*:}" >/dev/null || missing="$$missing $${pair%%:*}"; \
	done; \
	for pair in $(DEB_FILES); do \
	  ls $${pair#*:} >/dev/null 2>&1 || missing="$$missing $${pair%%:*}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "make deps: need root to apt-get install$$missing" >&2; exit 1; fi; \
	  apt-get update -q; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

lab-install:
	$(LAB) install

lab-up: lab-install
	$(LAB) up

lab-down:
	$(LAB) down

# Exit 0 when the lab is healthy or fully stopped; non-zero when it is half up or unhealthy.
lab-status:
	$(LAB) status || [ $$? = 3 ]

# pytest exits 5 when it collected nothing: make fails on that like on any non-zero status.
test: deps venv lab-install
	$(VPY) -m pytest $(PYTEST_ARGS)

unit: venv
	$(VPY) -m pytest -m "not glance" $(PYTEST_ARGS)

demo: deps venv lab-install lab-up
	bash test/lab/demo.sh

bench: deps venv lab-install lab-up
	$(VPY) bench/run.py
	$(VPY) bench/manager.py
	$(VPY) bench/subs.py
	$(VPY) bench/publish.py
	$(VPY) bench/ova.py
	$(VPY) bench/scale.py

clean:
	$(LAB) reset
	rm -rf build dist .pytest_cache src/*.egg-info
	find src test -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .lab
