# Curate: the two commands a new user needs.
#   make demo   installs missing system packages, builds in release, runs the main job
#   make test   installs missing system packages, runs the whole test suite
SWIFT ?= swift
# Debian packages the build needs (libjpeg-dev is libjpeg-turbo; GRDB links libsqlite3), and
# Fashion-MNIST, the real dataset the tests and the demo import.
APT_PACKAGES := libpng-dev libjpeg-dev zlib1g-dev libsqlite3-dev pkg-config dataset-fashion-mnist
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test deps build bench-decode bench-train bench-features bench-robust clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y $$missing; \
	fi

build: deps
	$(SWIFT) build -c release

demo: build
	.build/release/curate demo

test: deps
	$(SWIFT) test

# Decode speed beside Pillow and OpenCV (needs ../peers-venv; see ../shared/peers/README.md).
bench-decode: deps
	bench/decode.sh

# cnn-small beside the PyTorch reference on Fashion-MNIST (needs torch in ../peers-venv).
bench-train: deps
	bench/train.sh

# A linear probe on 1M x 768 features beside scikit-learn (needs ../peers-venv; makes 3.2 GB of data).
bench-features: deps
	bench/features.sh

# PGD evaluation and adversarial training beside PyTorch (needs torch in ../peers-venv).
bench-robust: deps
	bench/robust.sh

clean:
	rm -rf .build
